// OBJECT ENCODING for the collection types, with Redis 7.0.15's thresholds (defaults below, set
// by CONFIG through applyEncodingConfig): what encoding Redis would be using for the same value
// built by the same commands under the same configuration.
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
// has its own `everBig`). It lives in memory only: after a restart the encoding is derived from
// the size, as Redis's does after loading an RDB. Commands call note*() after they grew a value.
// A threshold changed by CONFIG SET: a value that already converted stays converted, as in Redis;
// one over the new threshold is reported converted at once (Redis converts it on its next write).

import {
  TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, type Entry,
} from '../state/keyspace.js'
import type { ZSet } from '../state/zset.js'
import { TYPE_STREAM } from '../state/stream.js'
import { encodingLimits } from '../state/encoding-limits.js'
import { isConverted, markConverted } from '../state/encoding-hints.js'
import { parseInt64 } from './numeric.js'

const LIMIT_OF_CONFIG: Record<string, keyof typeof encodingLimits> = {
  'hash-max-listpack-entries': 'hashMaxListpackEntries',
  'hash-max-listpack-value': 'hashMaxListpackValue',
  'set-max-intset-entries': 'setMaxIntsetEntries',
  'zset-max-listpack-entries': 'zsetMaxListpackEntries',
  'zset-max-listpack-value': 'zsetMaxListpackValue',
  'stream-node-max-bytes': 'streamNodeMaxBytes',
  'stream-node-max-entries': 'streamNodeMaxEntries',
}

/** The server's config listener: a threshold parameter's new (canonical) value. */
export function applyEncodingConfig(name: string, value: string): void {
  const field = LIMIT_OF_CONFIG[name]
  if (field !== undefined) encodingLimits[field] = Number(value)
}

/** Every threshold parameter's config name (the server applies them all at startup). */
export const ENCODING_CONFIG_NAMES = Object.keys(LIMIT_OF_CONFIG)


/** After HSET-like writes: mark the hash when it outgrew listpack. */
export function noteHashWrite(hash: Map<string, Buffer>,
  fields: readonly [string, Buffer][]): void {
  if (isConverted(hash)) return
  if (hash.size > encodingLimits.hashMaxListpackEntries) {
    markConverted(hash)
    return
  }
  for (const [f, v] of fields) {
    const max = encodingLimits.hashMaxListpackValue
    if (f.length > max || v.length > max) {
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
  if (set.size > encodingLimits.setMaxIntsetEntries) {
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
  if (hash.size > encodingLimits.hashMaxListpackEntries) return false
  for (const [f, v] of hash) {
    const max = encodingLimits.hashMaxListpackValue
    if (f.length > max || v.length > max) return false
  }
  return true
}

export function setIsIntset(set: Set<string>): boolean {
  if (isConverted(set)) return false
  if (set.size > encodingLimits.setMaxIntsetEntries) return false
  for (const m of set) if (!isIntegerMember(m)) return false
  return true
}

export function zsetIsListpack(z: ZSet): boolean {
  if (z.everBig || z.length > encodingLimits.zsetMaxListpackEntries) return false
  for (const m of z.map.keys()) if (m.length > encodingLimits.zsetMaxListpackValue) return false
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
    case TYPE_STREAM: return 'stream'
    case TYPE_STRING: return null
    default: return null
  }
}
