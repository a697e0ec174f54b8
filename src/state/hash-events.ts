// Hash events (codes 40–49). A hash is a Map<string, Buffer> (field as latin1 string → value).
// Payload layouts, after the u8 event code and the common header `u8 db, key` (coll-common.ts):
//   40 HSET  count, count × (field as varuint length + bytes, value as varuint length + bytes)
//            — sets each field in turn; creates the hash when the key is missing
//   41 HDEL  count, count × field   — removes the fields present; an emptied hash is deleted
// HSETNX, HMSET, HINCRBY and HINCRBYFLOAT log HSET with the resulting value (DESIGN rule 1), so
// both events are idempotent per field.
// Totality (event.ts): a key of another type is left alone; HDEL on a missing key does nothing;
// an HSET with no fields does nothing (a hash is never empty).
// liveBytes: 4 + Σ(field length + value length + 4), as value-codec.ts's hash `bytes`.

import type { ByteReader, ByteWriter } from './bytes.js'
import {
  COLLECTION_BASE_BYTES, entryOfType, hashFieldBytes, readArray, readDb, writeDbKey,
} from './coll-common.js'
import type { EventType } from './event.js'
import { Entry, TYPE_HASH } from './keyspace.js'
import { RandomMap } from './random-access.js'

export const EV_HSET = 40
export const EV_HDEL = 41

export interface HashSetEvent {
  readonly code: typeof EV_HSET; db: number; key: string; fields: [string, Buffer][]
}
export interface HashDelEvent { readonly code: typeof EV_HDEL; db: number; key: string; fields: string[] }

export const hsetEv = (db: number, key: string, fields: [string, Buffer][]): HashSetEvent =>
  ({ code: EV_HSET, db, key, fields })
export const hdelEv = (db: number, key: string, fields: string[]): HashDelEvent =>
  ({ code: EV_HDEL, db, key, fields })

type Hash = Map<string, Buffer>

export const hsetEvent: EventType<HashSetEvent> = {
  code: EV_HSET, name: 'hset', shrinks: false,
  encode(w: ByteWriter, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.fields.length)
    for (const [field, value] of e.fields) {
      w.str(field)
      w.bytes(value)
    }
  },
  decode: (r: ByteReader) => ({
    code: EV_HSET, db: readDb(r), key: r.str(),
    fields: readArray(r, (x): [string, Buffer] => [x.str(), x.bytes()]),
  }),
  apply(ks, e) {
    if (e.fields.length === 0) return null
    const { db, key } = e
    const existing = ks.get(db, key)
    if (existing !== undefined && existing.type !== TYPE_HASH) return null
    const hash: Hash = existing === undefined ? new RandomMap<Buffer>() : existing.value as Hash
    // Previous values in application order, so undo restores them in reverse.
    const previous: (Buffer | undefined)[] = []
    let delta = 0
    for (const [field, value] of e.fields) {
      const old = hash.get(field)
      previous.push(old)
      hash.set(field, value)
      delta += hashFieldBytes(field, value) - (old === undefined ? 0 : hashFieldBytes(field, old))
    }
    if (existing === undefined) {
      ks.set(db, key, new Entry(TYPE_HASH, hash, 0, COLLECTION_BASE_BYTES + delta))
      return () => { ks.delete(db, key) }
    }
    ks.adjustBytes(existing, delta)
    ks.touch(db, key)
    return () => {
      for (let i = e.fields.length - 1; i >= 0; i--) {
        const field = (e.fields[i] as [string, Buffer])[0]
        const old = previous[i]
        if (old === undefined) hash.delete(field)
        else hash.set(field, old)
      }
      ks.adjustBytes(existing, -delta)
      ks.touch(db, key)
    }
  },
}

export const hdelEvent: EventType<HashDelEvent> = {
  code: EV_HDEL, name: 'hdel', shrinks: true,
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.fields.length)
    for (const field of e.fields) w.str(field)
  },
  decode: (r) =>
    ({ code: EV_HDEL, db: readDb(r), key: r.str(), fields: readArray(r, (x) => x.str()) }),
  apply(ks, e) {
    const { db, key } = e
    const entry = entryOfType(ks, db, key, TYPE_HASH)
    if (entry === undefined) return null
    const hash = entry.value as Hash
    const removed: [string, Buffer][] = []
    let bytes = 0
    for (const field of e.fields) {
      const old = hash.get(field)
      if (old === undefined) continue
      hash.delete(field)
      removed.push([field, old])
      bytes += hashFieldBytes(field, old)
    }
    if (removed.length === 0) return null
    ks.adjustBytes(entry, -bytes)
    const deleted = hash.size === 0
    if (deleted) ks.delete(db, key)
    else ks.touch(db, key)
    return () => {
      if (deleted) ks.set(db, key, entry)
      for (const [field, value] of removed) hash.set(field, value)
      ks.adjustBytes(entry, bytes)
      if (!deleted) ks.touch(db, key)
    }
  },
}
