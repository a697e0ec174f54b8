// A whole value in Redis 7.0.15's DUMP serialization (rdb.c rdbSaveObject / rdbLoadObject, RDB
// version 10), built on the primitives of rdb-format.ts; streams are in rdb-stream.ts. Layouts,
// after the u8 RDB type (written ones marked *):
//   0  STRING*          string
//   1  LIST             count, count × string
//   2  SET*             count, count × string                      (hashtable sets)
//   3  ZSET             count, count × (string, text double)
//   4  HASH*            count, count × (field string, value string) (hashtable hashes)
//   5  ZSET_2*          count, count × (string, f64 LE), highest score first (skiplist zsets)
//   10 LIST_ZIPLIST     string holding a ziplist
//   11 SET_INTSET*      string holding an intset
//   12 ZSET_ZIPLIST, 13 HASH_ZIPLIST: string holding a ziplist of pairs
//   14 LIST_QUICKLIST   count, count × string holding a ziplist
//   15, 19 STREAM_LISTPACKS(_2)*: rdb-stream.ts
//   16 HASH_LISTPACK*, 17 ZSET_LISTPACK*: string holding a listpack of pairs (member, score)
//   18 LIST_QUICKLIST_2* count, count × (container 1 plain | 2 packed, string holding the
//                        element (plain) or a listpack (packed))
// Not read: 6/7 modules, 9 zipmap (Redis 2.4); they answer RdbError as unknown types do.
// Which encoding DUMP writes follows what OBJECT ENCODING reports (the caller passes it), so a
// value keeps its encoding through DUMP/RESTORE as in Redis. Invariants: decode returns a fresh
// value owned by nobody, never empty (Redis refuses an empty value: "Bad data format"), with no
// duplicate member or field; any malformed input throws RdbError.

import { Deque } from './deque.js'
import { TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET } from './keyspace.js'
import { RandomMap, RandomSet } from './random-access.js'
import {
  RdbError, RdbReader, RdbWriter, buildIntset, buildListpack, canonicalInt, listpackElement,
  parseScore, readIntset, readListpack, readZiplist, sealPayload,
} from './rdb-format.js'
import { readStreamValue, writeStreamValue } from './rdb-stream.js'
import { TYPE_STREAM, type Stream } from './stream.js'
import { ZSet } from './zset.js'

export const RDB_TYPE = {
  STRING: 0, LIST: 1, SET: 2, ZSET: 3, HASH: 4, ZSET_2: 5, LIST_ZIPLIST: 10, SET_INTSET: 11,
  ZSET_ZIPLIST: 12, HASH_ZIPLIST: 13, LIST_QUICKLIST: 14, STREAM_LISTPACKS: 15,
  HASH_LISTPACK: 16, ZSET_LISTPACK: 17, LIST_QUICKLIST_2: 18, STREAM_LISTPACKS_2: 19,
} as const

/**
 * list-max-listpack-size -2 (the default): an element joins the tail node while the node's
 * listpack bytes + the element's length + 8 stay within 8 KB (quicklist.c
 * _quicklistNodeAllowInsert), so a list built by RPUSH dumps as Redis's does.
 */
const LIST_NODE_BYTES = 8192
const LIST_INSERT_OVERHEAD = 8
const CONTAINER_PLAIN = 1
const CONTAINER_PACKED = 2

export interface RdbValue {
  /** The keyspace's type (TYPE_STRING…). */
  readonly type: number
  readonly value: unknown
}

function fail(what: string): never {
  throw new RdbError(what)
}

/** Redis's d2string: the text a score takes inside a listpack. */
function scoreText(x: number): Buffer {
  if (Number.isNaN(x)) return Buffer.from('nan')
  if (x === Infinity) return Buffer.from('inf')
  if (x === -Infinity) return Buffer.from('-inf')
  if (x === 0) return Buffer.from(Object.is(x, -0) ? '-0' : '0')
  if (Number.isInteger(x) && Math.abs(x) < 2 ** 63) return Buffer.from(BigInt(x).toString())
  let s = x.toPrecision(17)
  if (s.includes('e')) s = s.replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2')
  else if (s.includes('.')) s = s.replace(/\.?0+$/, '')
  return Buffer.from(s)
}

const latin1 = (b: Buffer): string => b.toString('latin1')
const keyBytes = (s: string): Buffer => Buffer.from(s, 'latin1')

// ---- DUMP ---------------------------------------------------------------------------------

function writeList(w: RdbWriter, list: Deque<Buffer>): void {
  const nodes: Buffer[][] = []
  let node: Buffer[] = []
  let bytes = 7
  for (const item of list) {
    const el = listpackElement(item)
    if (node.length > 0 && bytes + item.length + LIST_INSERT_OVERHEAD > LIST_NODE_BYTES) {
      nodes.push(node)
      node = []
      bytes = 7
    }
    node.push(el)
    bytes += el.length
  }
  if (node.length > 0) nodes.push(node)
  w.len(nodes.length)
  for (const n of nodes) {
    w.len(CONTAINER_PACKED)
    w.string(buildListpack(n))
  }
}

/**
 * The DUMP payload of a value. `encoding` is OBJECT ENCODING's answer for it (intset, listpack
 * or hashtable/skiplist), which picks the RDB type as Redis's rdbSaveObjectType does.
 */
export function dumpValue(type: number, value: unknown, encoding: string | null): Buffer {
  const w = new RdbWriter()
  switch (type) {
    case TYPE_STRING:
      w.byte(RDB_TYPE.STRING)
      w.string(value as Buffer)
      break
    case TYPE_LIST:
      w.byte(RDB_TYPE.LIST_QUICKLIST_2)
      writeList(w, value as Deque<Buffer>)
      break
    case TYPE_SET: {
      const set = value as Set<string>
      if (encoding === 'intset') {
        w.byte(RDB_TYPE.SET_INTSET)
        w.string(buildIntset([...set].map((m) => canonicalInt(keyBytes(m)) ?? fail('intset member'))))
      } else {
        w.byte(RDB_TYPE.SET)
        w.len(set.size)
        for (const m of set) w.string(keyBytes(m))
      }
      break
    }
    case TYPE_HASH: {
      const hash = value as Map<string, Buffer>
      if (encoding === 'listpack') {
        w.byte(RDB_TYPE.HASH_LISTPACK)
        const els: Buffer[] = []
        for (const [f, v] of hash) els.push(listpackElement(keyBytes(f)), listpackElement(v))
        w.string(buildListpack(els))
      } else {
        w.byte(RDB_TYPE.HASH)
        w.len(hash.size)
        for (const [f, v] of hash) {
          w.string(keyBytes(f))
          w.string(v)
        }
      }
      break
    }
    case TYPE_ZSET: {
      const z = value as ZSet
      if (encoding === 'listpack') {
        w.byte(RDB_TYPE.ZSET_LISTPACK)
        const els: Buffer[] = []
        for (const [m, s] of z) els.push(listpackElement(keyBytes(m)), listpackElement(scoreText(s)))
        w.string(buildListpack(els))
      } else {
        w.byte(RDB_TYPE.ZSET_2)
        w.len(z.length)
        const pairs = [...z]
        for (let i = pairs.length - 1; i >= 0; i--) {
          const [m, s] = pairs[i] as [string, number]
          w.string(keyBytes(m))
          w.f64le(s)
        }
      }
      break
    }
    case TYPE_STREAM:
      w.byte(RDB_TYPE.STREAM_LISTPACKS_2)
      writeStreamValue(w, value as Stream)
      break
    default:
      return fail(`no DUMP form for value type ${type}`)
  }
  return sealPayload(w.finish())
}

// ---- RESTORE ------------------------------------------------------------------------------

function setOf(members: readonly Buffer[]): RandomSet {
  if (members.length === 0) fail('empty set')
  const set = new RandomSet()
  for (const m of members) {
    const s = latin1(m)
    if (set.has(s)) fail('duplicate set member')
    set.add(s)
  }
  return set
}

function hashOf(flat: readonly Buffer[]): RandomMap<Buffer> {
  if (flat.length === 0 || flat.length % 2 !== 0) fail('hash pairs')
  const hash = new RandomMap<Buffer>()
  for (let i = 0; i < flat.length; i += 2) {
    const f = latin1(flat[i] as Buffer)
    if (hash.has(f)) fail('duplicate hash field')
    hash.set(f, flat[i + 1] as Buffer)
  }
  return hash
}

function zsetOf(members: readonly Buffer[], scores: readonly number[]): ZSet {
  if (members.length === 0) fail('empty zset')
  const z = new ZSet()
  for (let i = 0; i < members.length; i++) {
    const s = scores[i] as number
    if (Number.isNaN(s)) fail('zset NaN score')
    const m = latin1(members[i] as Buffer)
    if (z.has(m)) fail('duplicate zset member')
    z.add(m, s)
  }
  return z
}

function zsetOfPairs(flat: readonly Buffer[]): ZSet {
  if (flat.length % 2 !== 0) fail('zset pairs')
  const members: Buffer[] = []
  const scores: number[] = []
  for (let i = 0; i < flat.length; i += 2) {
    members.push(flat[i] as Buffer)
    scores.push(parseScore(flat[i + 1] as Buffer))
  }
  return zsetOf(members, scores)
}

function listOf(items: Buffer[]): Deque<Buffer> {
  if (items.length === 0) fail('empty list')
  return new Deque<Buffer>(items)
}

function readQuicklist(r: RdbReader, rdbType: number): Deque<Buffer> {
  const nodes = r.count()
  const items: Buffer[] = []
  for (let i = 0; i < nodes; i++) {
    let container = CONTAINER_PACKED
    if (rdbType === RDB_TYPE.LIST_QUICKLIST_2) {
      container = r.len()
      if (container !== CONTAINER_PACKED && container !== CONTAINER_PLAIN) fail('quicklist container')
    }
    const data = r.string()
    if (data.length === 0) fail('empty quicklist node')
    if (container === CONTAINER_PLAIN) items.push(data)
    else if (rdbType === RDB_TYPE.LIST_QUICKLIST_2) items.push(...readListpack(data))
    else items.push(...readZiplist(data))
  }
  return listOf(items)
}

function readPlain(r: RdbReader, rdbType: number): RdbValue | null {
  switch (rdbType) {
    case RDB_TYPE.STRING: return { type: TYPE_STRING, value: r.string() }
    case RDB_TYPE.LIST: {
      const n = r.count()
      const items: Buffer[] = []
      for (let i = 0; i < n; i++) items.push(r.string())
      return { type: TYPE_LIST, value: listOf(items) }
    }
    case RDB_TYPE.SET: {
      const n = r.count()
      const members: Buffer[] = []
      for (let i = 0; i < n; i++) members.push(r.string())
      return { type: TYPE_SET, value: setOf(members) }
    }
    case RDB_TYPE.ZSET: case RDB_TYPE.ZSET_2: {
      const n = r.count(2)
      const members: Buffer[] = []
      const scores: number[] = []
      for (let i = 0; i < n; i++) {
        members.push(r.string())
        scores.push(rdbType === RDB_TYPE.ZSET_2 ? r.f64le() : r.doubleText())
      }
      return { type: TYPE_ZSET, value: zsetOf(members, scores) }
    }
    case RDB_TYPE.HASH: {
      const n = r.count(2)
      const flat: Buffer[] = []
      for (let i = 0; i < n * 2; i++) flat.push(r.string())
      return { type: TYPE_HASH, value: hashOf(flat) }
    }
    default: return null
  }
}

function readEncoded(r: RdbReader, rdbType: number): RdbValue | null {
  switch (rdbType) {
    case RDB_TYPE.LIST_ZIPLIST: return { type: TYPE_LIST, value: listOf(readZiplist(r.string())) }
    case RDB_TYPE.SET_INTSET: return { type: TYPE_SET, value: setOf(readIntset(r.string())) }
    case RDB_TYPE.ZSET_ZIPLIST: return { type: TYPE_ZSET, value: zsetOfPairs(readZiplist(r.string())) }
    case RDB_TYPE.HASH_ZIPLIST: return { type: TYPE_HASH, value: hashOf(readZiplist(r.string())) }
    case RDB_TYPE.ZSET_LISTPACK:
      return { type: TYPE_ZSET, value: zsetOfPairs(readListpack(r.string())) }
    case RDB_TYPE.HASH_LISTPACK: return { type: TYPE_HASH, value: hashOf(readListpack(r.string())) }
    case RDB_TYPE.LIST_QUICKLIST: case RDB_TYPE.LIST_QUICKLIST_2:
      return { type: TYPE_LIST, value: readQuicklist(r, rdbType) }
    case RDB_TYPE.STREAM_LISTPACKS: case RDB_TYPE.STREAM_LISTPACKS_2:
      return { type: TYPE_STREAM, value: readStreamValue(r, rdbType === RDB_TYPE.STREAM_LISTPACKS_2) }
    default: return null
  }
}

/**
 * The value a DUMP payload holds (its footer already verified by verifyPayload): what RESTORE
 * stores. Throws RdbError on anything Redis's rdbLoadObject refuses, and on what it would
 * accept but capykv cannot hold (modules, zipmaps, NaN scores).
 */
export function restoreValue(payload: Buffer): RdbValue {
  const r = new RdbReader(payload, payload.length - 10)
  const rdbType = r.byte()
  const v = readPlain(r, rdbType) ?? readEncoded(r, rdbType)
  if (v === null) return fail(`unknown RDB type ${rdbType}`)
  return v
}
