// Helpers shared by the events (core-, list-, hash-, set- and zset-events.ts): the common
// payload header (u8 db, key as varuint length + latin1 bytes) and the liveBytes estimate per
// element, which must equal what value-codec.ts's `bytes` computes for a whole value, so that
// in-place changes (ks.adjustBytes) and whole-value RESTOREs agree exactly.

import { type ByteReader, type ByteWriter, DecodeError } from './bytes.js'
import { DB_COUNT, type Entry, type Keyspace } from './keyspace.js'

/** Size estimate of an empty collection (the count field). */
export const COLLECTION_BASE_BYTES = 4

export const listItemBytes = (item: Buffer): number => item.length + 2
export const hashFieldBytes = (field: string, value: Buffer): number =>
  field.length + value.length + 4
export const setMemberBytes = (member: string): number => member.length + 2

export function writeDbKey(w: ByteWriter, db: number, key: string): void {
  w.u8(db)
  w.str(key)
}

/**
 * The db byte of every event payload. Out of range it is corruption (or an encoder's bug that
 * passed the CRC): a DecodeError, which recovery reports with the record's offset and LSN —
 * never a silent write into another database.
 */
export function readDb(r: ByteReader): number {
  const at = r.pos
  const db = r.u8()
  if (db >= DB_COUNT) throw new DecodeError(`database number ${db} out of range at byte ${at}`)
  return db
}

/** The entry at (db, key) when it holds `type`; undefined when missing or of another type. */
export function entryOfType(ks: Keyspace, db: number, key: string,
  type: number): Entry | undefined {
  const entry = ks.get(db, key)
  return entry !== undefined && entry.type === type ? entry : undefined
}

/** Decode `count` then count × item. */
export function readArray<T>(r: ByteReader, item: (r: ByteReader) => T): T[] {
  const n = r.varuint()
  const out: T[] = []
  for (let i = 0; i < n; i++) out.push(item(r))
  return out
}
