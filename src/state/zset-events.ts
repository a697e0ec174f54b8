// Sorted-set events (codes 60–69). A sorted set is a ZSet (zset.ts). Payload layouts, after the
// u8 event code and the common header `u8 db, key` (coll-common.ts):
//   60 ZADD  count, count × (f64 score, member as varuint length + bytes) — ABSOLUTE scores, set
//            in turn; creates the sorted set when the key is missing
//   61 ZREM  count, count × member   — removes the members present; an emptied set is deleted
// ZINCRBY / ZADD INCR log the resulting score; ZPOP*, ZREMRANGEBY* and ZMPOP log ZREM of the
// members they removed; the STORE forms log a whole value (core RESTORE) or DEL. Both events are
// idempotent per member.
// Totality (event.ts): a key of another type is left alone; ZREM on a missing key does nothing;
// a NaN score (never logged by a command) is skipped; a ZADD with nothing to add does nothing.
// liveBytes: 4 + Σ(member length + 10), as zset.ts's codec `bytes`.

import type { ByteReader, ByteWriter } from './bytes.js'
import { COLLECTION_BASE_BYTES, entryOfType, readArray, readDb, writeDbKey } from './coll-common.js'
import type { EventType } from './event.js'
import { Entry, TYPE_ZSET } from './keyspace.js'
import { ZSet, zsetMemberBytes } from './zset.js'

export const EV_ZADD = 60
export const EV_ZREM = 61

export interface ZAddEvent {
  readonly code: typeof EV_ZADD; db: number; key: string; entries: [number, string][]
}
export interface ZRemEvent { readonly code: typeof EV_ZREM; db: number; key: string; members: string[] }

export const zaddEv = (db: number, key: string, entries: [number, string][]): ZAddEvent =>
  ({ code: EV_ZADD, db, key, entries })
export const zremEv = (db: number, key: string, members: string[]): ZRemEvent =>
  ({ code: EV_ZREM, db, key, members })

export const zaddEvent: EventType<ZAddEvent> = {
  code: EV_ZADD, name: 'zadd', shrinks: false,
  encode(w: ByteWriter, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.entries.length)
    for (const [score, member] of e.entries) {
      w.f64(score)
      w.str(member)
    }
  },
  decode: (r: ByteReader) => ({
    code: EV_ZADD, db: readDb(r), key: r.str(),
    entries: readArray(r, (x): [number, string] => [x.f64(), x.str()]),
  }),
  apply(ks, e) {
    const { db, key } = e
    const existing = ks.get(db, key)
    if (existing !== undefined && existing.type !== TYPE_ZSET) return null
    const z: ZSet = existing === undefined ? new ZSet() : existing.value as ZSet
    const previous: (number | undefined)[] = []
    const applied: string[] = []
    let bytes = 0
    for (const [score, member] of e.entries) {
      if (Number.isNaN(score)) continue
      const old = z.add(member, score)
      if (old === score) continue // unchanged (-0 == 0 keeps the stored sign, as Redis)
      previous.push(old)
      applied.push(member)
      if (old === undefined) bytes += zsetMemberBytes(member)
    }
    if (applied.length === 0) return null
    if (existing === undefined) {
      ks.set(db, key, new Entry(TYPE_ZSET, z, 0, COLLECTION_BASE_BYTES + bytes))
      return () => { ks.delete(db, key) }
    }
    ks.adjustBytes(existing, bytes)
    ks.touch(db, key)
    return () => {
      for (let i = applied.length - 1; i >= 0; i--) {
        const member = applied[i] as string
        const old = previous[i]
        if (old === undefined) z.delete(member)
        else z.add(member, old)
      }
      ks.adjustBytes(existing, -bytes)
      ks.touch(db, key)
    }
  },
}

export const zremEvent: EventType<ZRemEvent> = {
  code: EV_ZREM, name: 'zrem', shrinks: true,
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.members.length)
    for (const m of e.members) w.str(m)
  },
  decode: (r) =>
    ({ code: EV_ZREM, db: readDb(r), key: r.str(), members: readArray(r, (x) => x.str()) }),
  apply(ks, e) {
    const { db, key } = e
    const entry = entryOfType(ks, db, key, TYPE_ZSET)
    if (entry === undefined) return null
    const z = entry.value as ZSet
    const removed: [string, number][] = []
    let bytes = 0
    for (const m of e.members) {
      const old = z.delete(m)
      if (old === undefined) continue
      removed.push([m, old])
      bytes += zsetMemberBytes(m)
    }
    if (removed.length === 0) return null
    ks.adjustBytes(entry, -bytes)
    const deleted = z.length === 0
    if (deleted) ks.delete(db, key)
    else ks.touch(db, key)
    return () => {
      if (deleted) ks.set(db, key, entry)
      for (const [m, s] of removed) z.add(m, s)
      ks.adjustBytes(entry, bytes)
      if (!deleted) ks.touch(db, key)
    }
  },
}
