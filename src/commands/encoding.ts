// OBJECT ENCODING for the collection types, with Redis 7.0.15's default thresholds: what
// encoding Redis would be using for the same value built by the same commands.
// - list: always "quicklist" (7.0 has no listpack lists; they came in 7.2).
// - hash: "listpack" while ≤ 512 fields (hash-max-listpack-entries: 512 in this 7.0.15 build's
//   defaults) and every field and value ≤ 64 bytes (hash-max-listpack-value), else
//   "hashtable"; Redis never converts back.
// - set: "intset" while every member is an integer string2ll accepts and ≤ 512 members
//   (set-max-intset-entries), else "hashtable" (7.0 has no listpack sets); never back.
// - zset: "listpack" while ≤ 128 members (zset-max-listpack-entries) and every member ≤ 64 bytes
//   (zset-max-listpack-value), else "skiplist"; never back, except that the STORE commands build
//   their result afresh (zsetConvertToListpackIfNeeded).
// The "never back" half is a sticky mark kept beside the value (state/encoding-hints.ts; ZSet
// has its own `everBig`). It lives in memory only: after a restart the encoding is derived from the size,
// as Redis's does after loading an RDB. Commands call note*() after they grew a value.
// Documented difference: CONFIG SET of these thresholds is not followed (defaults only).

import {
  TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, type Entry,
} from '../state/keyspace.js'
import { ZSET_MAX_LISTPACK_ENTRIES, ZSET_MAX_LISTPACK_VALUE, type ZSet } from '../state/zset.js'
import { isConverted, markConverted } from '../state/encoding-hints.js'
import { parseInt64 } from './numeric.js'

export const HASH_MAX_LISTPACK_ENTRIES = 512
export const HASH_MAX_LISTPACK_VALUE = 64
export const SET_MAX_INTSET_ENTRIES = 512


/** After HSET-like writes: mark the hash when it outgrew listpack. */
export function noteHashWrite(hash: Map<string, Buffer>,
  fields: readonly [string, Buffer][]): void {
  if (isConverted(hash)) return
  if (hash.size > HASH_MAX_LISTPACK_ENTRIES) {
    markConverted(hash)
    return
  }
  for (const [f, v] of fields) {
    if (f.length > HASH_MAX_LISTPACK_VALUE || v.length > HASH_MAX_LISTPACK_VALUE) {
      markConverted(hash)
      return
    }
  }
}

/** isSdsRepresentableAsLongLong. */
export function isIntegerMember(member: string): boolean {
  if (member.length === 0 || member.length > 20) return false
  return parseInt64(Buffer.from(member, 'latin1')) !== null
}

/** After SADD-like writes: mark the set when it left intset. */
export function noteSetWrite(set: Set<string>, added: readonly string[]): void {
  if (isConverted(set)) return
  if (set.size > SET_MAX_INTSET_ENTRIES) {
    markConverted(set)
    return
  }
  for (const m of added) {
    if (!isIntegerMember(m)) {
      markConverted(set)
      return
    }
  }
}

export function hashIsListpack(hash: Map<string, Buffer>): boolean {
  if (isConverted(hash)) return false
  if (hash.size > HASH_MAX_LISTPACK_ENTRIES) return false
  for (const [f, v] of hash) {
    if (f.length > HASH_MAX_LISTPACK_VALUE || v.length > HASH_MAX_LISTPACK_VALUE) return false
  }
  return true
}

export function setIsIntset(set: Set<string>): boolean {
  if (isConverted(set)) return false
  if (set.size > SET_MAX_INTSET_ENTRIES) return false
  for (const m of set) if (!isIntegerMember(m)) return false
  return true
}

export function zsetIsListpack(z: ZSet): boolean {
  if (z.everBig || z.length > ZSET_MAX_LISTPACK_ENTRIES) return false
  for (const m of z.map.keys()) if (m.length > ZSET_MAX_LISTPACK_VALUE) return false
  return true
}

/**
 * OBJECT ENCODING's answer for a collection entry; null for strings (the keys/strings module
 * answers those: int / embstr / raw).
 */
export function encodingOf(entry: Entry): string | null {
  switch (entry.type) {
    case TYPE_LIST: return 'quicklist'
    case TYPE_HASH:
      return hashIsListpack(entry.value as Map<string, Buffer>) ? 'listpack' : 'hashtable'
    case TYPE_SET: return setIsIntset(entry.value as Set<string>) ? 'intset' : 'hashtable'
    case TYPE_ZSET: return zsetIsListpack(entry.value as ZSet) ? 'listpack' : 'skiplist'
    case TYPE_STRING: return null
    default: return null
  }
}
