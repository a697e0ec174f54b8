// Durable encoding of a whole value, by type: used by the RESTORE event (checkpoint chunks,
// RENAME, COPY, MOVE) and by the canonical form the tests compare. Each value type registers
// {encode, decode, bytes, canonical}; this file holds the registry and the layouts of the
// built-in types. Layouts (all integers LEB128 varuints, byte strings varuint length + bytes):
//   string (type 0): bytes
//   list   (type 1): count, then count × bytes (head to tail)
//   hash   (type 2): count, then count × (field bytes, value bytes)
//   set    (type 3): count, then count × member bytes
//   zset   (type 4): registered by the sorted-set module.
// `canonical` must not depend on insertion order (hash/set members sorted), so two keyspaces
// holding equal values compare equal whatever history built them.

import { type ByteReader, type ByteWriter, DecodeError } from './bytes.js'
import { Deque } from './deque.js'
import { TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING } from './keyspace.js'
import { RandomMap, RandomSet } from './random-access.js'

export interface ValueType {
  readonly type: number
  readonly name: string
  encode(w: ByteWriter, value: unknown): void
  decode(r: ByteReader): unknown
  /** Estimated encoded size (the liveBytes estimate). */
  bytes(value: unknown): number
  canonical(value: unknown): string
}

const registry: (ValueType | undefined)[] = []

export function registerValueType(vt: ValueType): void {
  if (registry[vt.type] !== undefined) throw new Error(`value type ${vt.type} registered twice`)
  registry[vt.type] = vt
}

export function valueType(type: number): ValueType {
  const vt = registry[type]
  if (vt === undefined) throw new DecodeError(`unknown value type ${type}`)
  return vt
}

const hex = (b: Buffer): string => b.toString('hex')
const latin1Hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex')

registerValueType({
  type: TYPE_STRING,
  name: 'string',
  encode: (w, v) => w.bytes(v as Buffer),
  decode: (r) => r.bytes(),
  bytes: (v) => (v as Buffer).length + 2,
  canonical: (v) => hex(v as Buffer),
})

registerValueType({
  type: TYPE_LIST,
  name: 'list',
  encode: (w, v) => {
    const list = v as Deque<Buffer>
    w.varuint(list.length)
    for (const item of list) w.bytes(item)
  },
  decode: (r) => {
    const n = r.varuint()
    const list = new Deque<Buffer>()
    for (let i = 0; i < n; i++) list.pushBack(r.bytes())
    return list
  },
  bytes: (v) => {
    let n = 4
    for (const item of v as Deque<Buffer>) n += item.length + 2
    return n
  },
  canonical: (v) => [...(v as Deque<Buffer>)].map(hex).join(','),
})

registerValueType({
  type: TYPE_HASH,
  name: 'hash',
  encode: (w, v) => {
    const hash = v as Map<string, Buffer>
    w.varuint(hash.size)
    for (const [field, value] of hash) {
      w.str(field)
      w.bytes(value)
    }
  },
  decode: (r) => {
    const n = r.varuint()
    const hash = new RandomMap<Buffer>()
    for (let i = 0; i < n; i++) hash.set(r.str(), r.bytes())
    return hash
  },
  bytes: (v) => {
    let n = 4
    for (const [field, value] of v as Map<string, Buffer>) n += field.length + value.length + 4
    return n
  },
  canonical: (v) => [...(v as Map<string, Buffer>)]
    .map(([f, x]) => `${latin1Hex(f)}=${hex(x)}`).sort().join(','),
})

registerValueType({
  type: TYPE_SET,
  name: 'set',
  encode: (w, v) => {
    const set = v as Set<string>
    w.varuint(set.size)
    for (const member of set) w.str(member)
  },
  decode: (r) => {
    const n = r.varuint()
    const set = new RandomSet()
    for (let i = 0; i < n; i++) set.add(r.str())
    return set
  },
  bytes: (v) => {
    let n = 4
    for (const member of v as Set<string>) n += member.length + 2
    return n
  },
  canonical: (v) => [...(v as Set<string>)].map(latin1Hex).sort().join(','),
})
