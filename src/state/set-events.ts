// Set events (codes 50–59). A set is a Set<string> of latin1 members. Payload layouts, after the
// u8 event code and the common header `u8 db, key` (coll-common.ts):
//   50 SADD  count, count × member (varuint length + bytes)  — creates the set when missing
//   51 SREM  count, count × member                            — an emptied set is deleted
// SPOP logs SREM of the members it removed and SMOVE logs SREM + SADD (DESIGN rule 1); the STORE
// forms log a whole value (core RESTORE) or DEL. Both events are idempotent per member.
// Totality (event.ts): a key of another type is left alone; SREM on a missing key does nothing;
// SADD with no members does nothing (a set is never empty).
// liveBytes: 4 + Σ(member length + 2), as value-codec.ts's set `bytes`.

import type { ByteReader, ByteWriter } from './bytes.js'
import {
  COLLECTION_BASE_BYTES, entryOfType, readArray, readDb, setMemberBytes, writeDbKey,
} from './coll-common.js'
import type { EventType } from './event.js'
import { Entry, TYPE_SET } from './keyspace.js'
import { RandomSet } from './random-access.js'

export const EV_SADD = 50
export const EV_SREM = 51

export interface SetMembersEvent {
  readonly code: typeof EV_SADD | typeof EV_SREM; db: number; key: string; members: string[]
}

export const saddEv = (db: number, key: string, members: string[]): SetMembersEvent =>
  ({ code: EV_SADD, db, key, members })
export const sremEv = (db: number, key: string, members: string[]): SetMembersEvent =>
  ({ code: EV_SREM, db, key, members })

const encode = (w: ByteWriter, e: SetMembersEvent): void => {
  writeDbKey(w, e.db, e.key)
  w.varuint(e.members.length)
  for (const m of e.members) w.str(m)
}
const decode = (code: SetMembersEvent['code']) => (r: ByteReader): SetMembersEvent =>
  ({ code, db: readDb(r), key: r.str(), members: readArray(r, (x) => x.str()) })

export const saddEvent: EventType<SetMembersEvent> = {
  code: EV_SADD, name: 'sadd', shrinks: false, encode, decode: decode(EV_SADD),
  apply(ks, e) {
    if (e.members.length === 0) return null
    const { db, key } = e
    const existing = ks.get(db, key)
    if (existing !== undefined && existing.type !== TYPE_SET) return null
    const set: Set<string> = existing === undefined ? new RandomSet() : existing.value as Set<string>
    const added: string[] = []
    let bytes = 0
    for (const m of e.members) {
      if (set.has(m)) continue
      set.add(m)
      added.push(m)
      bytes += setMemberBytes(m)
    }
    if (existing === undefined) {
      ks.set(db, key, new Entry(TYPE_SET, set, 0, COLLECTION_BASE_BYTES + bytes))
      return () => { ks.delete(db, key) }
    }
    if (added.length === 0) return null
    ks.adjustBytes(existing, bytes)
    ks.touch(db, key)
    return () => {
      for (const m of added) set.delete(m)
      ks.adjustBytes(existing, -bytes)
      ks.touch(db, key)
    }
  },
}

export const sremEvent: EventType<SetMembersEvent> = {
  code: EV_SREM, name: 'srem', shrinks: true, encode, decode: decode(EV_SREM),
  apply(ks, e) {
    const { db, key } = e
    const entry = entryOfType(ks, db, key, TYPE_SET)
    if (entry === undefined) return null
    const set = entry.value as Set<string>
    const removed: string[] = []
    let bytes = 0
    for (const m of e.members) {
      if (!set.delete(m)) continue
      removed.push(m)
      bytes += setMemberBytes(m)
    }
    if (removed.length === 0) return null
    ks.adjustBytes(entry, -bytes)
    const deleted = set.size === 0
    if (deleted) ks.delete(db, key)
    else ks.touch(db, key)
    return () => {
      if (deleted) ks.set(db, key, entry)
      for (const m of removed) set.add(m)
      ks.adjustBytes(entry, bytes)
      if (!deleted) ks.touch(db, key)
    }
  },
}
