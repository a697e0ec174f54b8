// A stream in Redis 7.0.15's DUMP serialization (rdb.c, RDB_TYPE_STREAM_LISTPACKS_2 = 19 written,
// 19 and the 6.2 form 15 read), over rdb-format.ts's primitives. Layout after the type byte:
//   node count, per node: a string of 16 bytes (the master ID: ms u64 BE, seq u64 BE) and a
//     string holding the node's listpack (below);
//   length (live entries), last ID (ms, seq lengths); type 19 only: first ID, max deleted ID,
//     entries added (lengths);
//   group count, per group: name (string), last ID (ms, seq), type 19 only: entries read (a
//     length; -1 unknown is written as 2^64 - 1), PEL count, per NACK: ID (16 bytes BE),
//     delivery time (i64 LE ms), delivery count (length); consumer count, per consumer: name
//     (string), seen time (i64 LE ms), PEL count, IDs (16 bytes BE each, all in the group PEL).
// A node's listpack (t_stream.c): the master entry — live count, deleted count, master field
// count, the master fields, 0 — then per entry: flags (1 deleted, 2 same fields as the master),
// ms and seq as differences from the master ID, [field count, fields] unless same fields, the
// values, and the entry's element count (values + 3, + fields + 1 without same fields).
// capykv's Stream (stream.ts) keeps exactly these nodes, tombstones included, so a node maps to
// a listpack one to one. Invariants of what is read: IDs strictly increase across nodes, a
// node's master ID is its first entry's and its master fields are that entry's, counts agree
// with the flags, every NACK has one consumer; anything else throws RdbError.

import { RdbError, type RdbReader, type RdbWriter, buildListpack, canonicalInt, listpackElement, readListpack } from './rdb-format.js'
import {
  Consumer, ConsumerGroup, NACK_BYTES, Nack, Stream, type StreamNode, consumerBytes, groupBytes, idMs,
  idOf, idSeq,
} from './stream.js'

const FLAG_DELETED = 1
const FLAG_SAMEFIELDS = 2
const U64 = (1n << 64n) - 1n

function fail(what: string): never {
  throw new RdbError(what)
}

function idBytes(id: bigint): Buffer {
  const b = Buffer.alloc(16)
  b.writeBigUInt64BE(idMs(id), 0)
  b.writeBigUInt64BE(idSeq(id), 8)
  return b
}

function writeIdLen(w: RdbWriter, id: bigint): void {
  w.len(idMs(id))
  w.len(idSeq(id))
}

function sameAsMaster(master: readonly Buffer[], fv: readonly Buffer[]): boolean {
  if (master.length * 2 !== fv.length) return false
  return master.every((f, i) => f.equals(fv[i * 2] as Buffer))
}

function nodeListpack(node: StreamNode): Buffer {
  const el = listpackElement
  const els: Buffer[] = [el(node.live), el(node.deleted), el(node.masterFields.length)]
  for (const f of node.masterFields) els.push(el(f))
  els.push(el(0))
  for (let i = 0; i < node.ids.length; i++) {
    const id = node.ids[i] as bigint
    const fv = node.pairsAt(i)
    const same = sameAsMaster(node.masterFields, fv)
    const pairs = fv.length / 2
    els.push(el((node.dead[i] === true ? FLAG_DELETED : 0) | (same ? FLAG_SAMEFIELDS : 0)))
    els.push(el(BigInt.asIntN(64, idMs(id) - idMs(node.master))))
    els.push(el(BigInt.asIntN(64, idSeq(id) - idSeq(node.master))))
    if (!same) {
      els.push(el(pairs))
      for (let j = 0; j < pairs; j++) els.push(el(fv[j * 2] as Buffer))
    }
    for (let j = 0; j < pairs; j++) els.push(el(fv[j * 2 + 1] as Buffer))
    els.push(el(pairs + 3 + (same ? 0 : pairs + 1)))
  }
  return buildListpack(els)
}

/** The stream's value after its RDB type byte. */
export function writeStreamValue(w: RdbWriter, s: Stream): void {
  w.len(s.nodes.length)
  for (const node of s.nodes) {
    w.string(idBytes(node.master))
    w.string(nodeListpack(node))
  }
  w.len(s.length)
  writeIdLen(w, s.lastId)
  writeIdLen(w, s.firstId)
  writeIdLen(w, s.maxDeletedId)
  w.len(BigInt.asUintN(64, s.entriesAdded))
  w.len(s.groups.size)
  for (const [name, g] of s.groups) {
    w.string(Buffer.from(name, 'latin1'))
    writeIdLen(w, g.lastId)
    w.len(BigInt.asUintN(64, g.entriesRead))
    w.len(g.pel.size)
    for (let i = 0; i < g.pel.size; i++) {
      const nack = g.pel.valAt(i)
      w.raw(idBytes(g.pel.keyAt(i)))
      w.i64le(nack.deliveryTime)
      w.len(nack.deliveryCount)
    }
    w.len(g.consumers.size)
    for (const c of g.consumers.values()) {
      w.string(Buffer.from(c.name, 'latin1'))
      w.i64le(c.seenTime)
      w.len(c.pel.size)
      for (const id of c.pel.keyList()) w.raw(idBytes(id))
    }
  }
}

// ---- reading ------------------------------------------------------------------------------

/** Cursor over a node's listpack elements. */
class Elements {
  i = 0
  constructor(readonly els: readonly Buffer[]) {}
  next(): Buffer {
    const e = this.els[this.i++]
    if (e === undefined) fail('stream listpack too short')
    return e
  }
  int(): bigint {
    return canonicalInt(this.next()) ?? fail('stream listpack integer')
  }
  count(): number {
    const v = this.int()
    if (v < 0n || v > BigInt(this.els.length)) fail('stream listpack count')
    return Number(v)
  }
}

function readNode(s: Stream, key: Buffer, lp: Buffer): void {
  if (key.length !== 16) fail('stream node key is not an ID')
  const master = idOf(key.readBigUInt64BE(0), key.readBigUInt64BE(8))
  const e = new Elements(readListpack(lp))
  const live = e.count()
  const deleted = e.count()
  const masterFields: Buffer[] = []
  for (let n = e.count(), j = 0; j < n; j++) masterFields.push(e.next())
  if (e.int() !== 0n) fail('stream master entry terminator')
  if (live + deleted === 0) fail('empty stream node')
  let seenDeleted = 0
  for (let k = 0; k < live + deleted; k++) {
    const flags = e.int()
    const ms = BigInt.asUintN(64, idMs(master) + e.int())
    const seq = BigInt.asUintN(64, idSeq(master) + e.int())
    const id = idOf(ms, seq)
    const same = (flags & BigInt(FLAG_SAMEFIELDS)) !== 0n
    const fields = same ? masterFields : Array.from({ length: e.count() }, () => e.next())
    const fv: Buffer[] = []
    for (const f of fields) fv.push(f, e.next())
    if (e.int() !== BigInt(fields.length + 3 + (same ? 0 : fields.length + 1))) fail('stream lp-count')
    const last = s.nodes[s.nodes.length - 1]
    if (last !== undefined && last.ids.length > 0 && id <= last.last) fail('stream IDs out of order')
    if (k === 0 && (id !== master || !sameAsMaster(masterFields, fv))) fail('stream node master')
    s.append(id, fv, k === 0)
    if ((flags & BigInt(FLAG_DELETED)) !== 0n) {
      const ni = s.nodes.length - 1
      s.markDeleted(ni, (s.nodes[ni] as StreamNode).ids.length - 1, false)
      seenDeleted++
    }
  }
  if (seenDeleted !== deleted || e.i !== e.els.length) fail('stream node counts')
}

function readIdLen(r: RdbReader): bigint {
  const ms = r.lenBig()
  const seq = r.lenBig()
  if (ms > U64 || seq > U64) fail('stream ID out of range')
  return idOf(ms, seq)
}

function rawId(r: RdbReader): bigint {
  const b = r.take(16)
  return idOf(b.readBigUInt64BE(0), b.readBigUInt64BE(8))
}

function readGroup(r: RdbReader, s: Stream, v2: boolean): void {
  const name = r.string().toString('latin1')
  if (s.groups.has(name)) fail('duplicate consumer group')
  const lastId = readIdLen(r)
  const entriesRead = v2 ? BigInt.asIntN(64, r.lenBig()) : s.estimateDistance(lastId)
  const g = new ConsumerGroup(lastId, entriesRead)
  s.groups.set(name, g)
  s.bytes += groupBytes(name)
  const pending = new Map<bigint, { time: number; count: number; owner: Consumer | null }>()
  const pelSize = r.count(25)
  for (let i = 0; i < pelSize; i++) {
    const id = rawId(r)
    if (pending.has(id)) fail('duplicate PEL entry')
    pending.set(id, { time: Number(r.i64le()), count: r.len(), owner: null })
  }
  const consumers = r.count(10)
  const claimed: [bigint, Consumer][] = []
  for (let i = 0; i < consumers; i++) {
    const cname = r.string().toString('latin1')
    if (g.consumers.has(cname)) fail('duplicate consumer')
    const c = new Consumer(cname, Number(r.i64le()))
    g.consumers.set(cname, c)
    s.bytes += consumerBytes(cname)
    const n = r.count(16)
    for (let j = 0; j < n; j++) {
      const id = rawId(r)
      const p = pending.get(id)
      if (p === undefined || p.owner !== null) fail('consumer PEL entry not in the group PEL')
      p.owner = c
      claimed.push([id, c])
    }
  }
  for (const [id, p] of [...pending].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (p.owner === null) fail('PEL entry without consumer')
    const nack = new Nack(p.owner, p.time, p.count)
    g.pel.set(id, nack)
    p.owner.pel.set(id, nack)
    s.bytes += NACK_BYTES
  }
  if (claimed.length !== pending.size) fail('PEL ownership')
}

/** A stream from its value after the RDB type byte (v2: type 19, else the 6.2 type 15). */
export function readStreamValue(r: RdbReader, v2: boolean): Stream {
  const s = new Stream()
  const nodes = r.count(2)
  for (let i = 0; i < nodes; i++) {
    const key = r.string()
    readNode(s, key, r.string())
  }
  if (r.len() !== s.length) fail('stream length differs from its entries')
  const lastEntry = s.nodes.length === 0 ? 0n : (s.nodes[s.nodes.length - 1] as StreamNode).last
  const lastId = readIdLen(r)
  if (lastId < lastEntry) fail('stream last ID behind its entries')
  s.lastId = lastId
  if (v2) {
    s.firstId = readIdLen(r)
    s.maxDeletedId = readIdLen(r)
    s.entriesAdded = BigInt.asIntN(64, r.lenBig())
  } else {
    s.maxDeletedId = 0n
    s.entriesAdded = BigInt(s.length)
    s.refreshFirstId()
  }
  const groups = r.count(4)
  for (let i = 0; i < groups; i++) readGroup(r, s, v2)
  return s
}
