// The stream value (type 5, Redis 7.0.15 t_stream.c): entries in ID order, grouped in nodes as
// Redis groups them in listpacks (a node's boundaries decide what MAXLEN ~ / MINID ~ may trim and
// XINFO's radix-tree-keys), plus consumer groups with their pending entries lists (PELs).
// This file also registers the stream's whole-value codec. Invariants:
// - An ID is one bigint, ms * 2^64 + seq (both parts unsigned 64-bit), so ID order is bigint order.
// - Entries are never moved between nodes: XDEL and exact trimming mark an entry deleted in place
//   (a tombstone, kept with its fields, as Redis keeps it in its listpack); a node whose last live
//   entry XDEL removes is dropped, whole-node trimming drops nodes from the head. Within a node
//   and across nodes, ids are strictly increasing. `length` counts live entries.
// - Which node an appended entry goes to is decided by the command (stream-node-max-* at that
//   time) and logged (stream-events.ts XADD newNode), so replay never reads configuration.
// - A NACK is shared by its group's PEL and its consumer's PEL: group.pel has every NACK of the
//   group, consumer.pel those whose `consumer` is it.
// - `bytes` is the liveBytes estimate (value-codec.ts): maintained by every mutating method
//   below, additively, so building a value by decode gives the same figure as its history did.
// - The stream never sets a time or reads a clock: times (seen, delivery) come from events.
// Codec layout (all integers varuint unless said; an ID is 4 × u32, most significant first;
// a signed 64-bit count as two u32, high first, in two's complement):
//   lastId, firstId, maxDeletedId, entriesAdded (i64), node count, per node:
//     master field count, fields (bytes), entry count, per entry: u8 deleted, id, pair count,
//     pairs (field bytes, value bytes)
//   group count, per group: name (str), lastId, entriesRead (i64),
//     consumer count, per consumer: name (str), seenTime (i53),
//     nack count, per nack: id, consumer index (varuint), deliveryTime (i53), deliveryCount (i53)

import { assert } from '../assert.js'
import { type ByteReader, type ByteWriter, DecodeError } from './bytes.js'
import { registerValueType } from './value-codec.js'
import { readI64, readId, splitId, splitMs, splitSeq, writeI64, writeId } from './stream-id.js'
import { STREAM_BASE_BYTES, StreamNode } from './stream-node.js'

export { STREAM_BASE_BYTES, StreamNode }
export { readI64, readId, writeI64, writeId }

export const TYPE_STREAM = 5

export const U64 = (1n << 64n) - 1n
export const ID_MAX = (1n << 128n) - 1n

export const idOf = (ms: bigint, seq: bigint): bigint => (ms << 64n) | seq
export const idMs = (id: bigint): bigint => id >> 64n
export const idSeq = (id: bigint): bigint => id & U64
/** "ms-seq" (numbers when both parts are safe: stream-id.ts). */
export const idString = (id: bigint): string =>
  splitId(id) ? `${splitMs}-${splitSeq}` : `${id >> 64n}-${id & U64}`

export class Nack {
  constructor(public consumer: Consumer, public deliveryTime: number, public deliveryCount: number) {}
}

/**
 * A sorted map from IDs (the PELs). Binary search (O(log n)) for lookups; the entries sit in
 * keys/vals[start, length), so an append and a removal at either end are O(1) and a removal or
 * insertion inside moves the shorter side (a work queue acknowledges near the front). The gap
 * before `start` is compacted once it outgrows the live part (amortized O(1)).
 */
export class IdMap<V> {
  private keys: bigint[] = []
  private vals: (V | undefined)[] = []
  private start = 0
  get size(): number {
    return this.keys.length - this.start
  }
  keyAt(i: number): bigint {
    return this.keys[this.start + i] as bigint
  }
  valAt(i: number): V {
    return this.vals[this.start + i] as V
  }
  /** The ids in order (a copy). */
  keyList(): bigint[] {
    return this.keys.slice(this.start)
  }
  /** Index (from 0) of the first id >= `id` (size when none). */
  lowerBound(id: bigint): number {
    const k = this.keys
    if (k.length === this.start || (k[k.length - 1] as bigint) < id) return k.length - this.start
    let lo = this.start
    let hi = k.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((k[mid] as bigint) < id) lo = mid + 1
      else hi = mid
    }
    return lo - this.start
  }
  get(id: bigint): V | undefined {
    const i = this.lowerBound(id)
    return this.keys[this.start + i] === id ? this.vals[this.start + i] : undefined
  }
  set(id: bigint, v: V): void {
    const i = this.lowerBound(id)
    const p = this.start + i
    if (this.keys[p] === id) {
      this.vals[p] = v
      return
    }
    if (p === this.keys.length) {
      this.keys.push(id)
      this.vals.push(v)
    } else if (this.start > 0 && i < this.size / 2) {
      // Move the i entries before the slot one step into the gap.
      this.start--
      for (let j = this.start; j < p - 1; j++) {
        this.keys[j] = this.keys[j + 1] as bigint
        this.vals[j] = this.vals[j + 1]
      }
      this.keys[p - 1] = id
      this.vals[p - 1] = v
    } else {
      this.keys.splice(p, 0, id)
      this.vals.splice(p, 0, v)
    }
  }
  delete(id: bigint): V | undefined {
    const i = this.lowerBound(id)
    const p = this.start + i
    if (this.keys[p] !== id) return undefined
    const v = this.vals[p]
    if (i < this.size / 2) {
      // Move the i entries before it one step right and grow the gap.
      for (let j = p; j > this.start; j--) {
        this.keys[j] = this.keys[j - 1] as bigint
        this.vals[j] = this.vals[j - 1]
      }
      this.keys[this.start] = 0n
      this.vals[this.start] = undefined
      this.start++
      if (this.start === this.keys.length) this.clear()
      else if (this.start > 64 && this.start > this.size) this.compact()
    } else {
      this.keys.splice(p, 1)
      this.vals.splice(p, 1)
    }
    return v
  }
  private clear(): void {
    this.keys = []
    this.vals = []
    this.start = 0
  }
  private compact(): void {
    this.keys = this.keys.slice(this.start)
    this.vals = this.vals.slice(this.start)
    this.start = 0
  }
}

export class Consumer {
  readonly pel = new IdMap<Nack>()
  constructor(readonly name: string, public seenTime: number) {}
}

/** entriesRead when unknown (Redis's SCG_INVALID_ENTRIES_READ). */
export const INVALID_ENTRIES_READ = -1n

export class ConsumerGroup {
  readonly pel = new IdMap<Nack>()
  readonly consumers = new Map<string, Consumer>()
  constructor(public lastId: bigint, public entriesRead: bigint) {}
}

// liveBytes estimate, additive (see the invariants).
export const entryEstimate = (fv: readonly Buffer[]): number => {
  let n = 20
  for (const b of fv) n += b.length + 2
  return n
}
export const groupBytes = (name: string): number => name.length + 40
export const consumerBytes = (name: string): number => name.length + 16
export const NACK_BYTES = 32

export class Stream {
  readonly nodes: StreamNode[] = []
  length = 0
  lastId = 0n
  firstId = 0n
  maxDeletedId = 0n
  entriesAdded = 0n
  readonly groups = new Map<string, ConsumerGroup>()
  bytes = STREAM_BASE_BYTES
  /** Over the nodes: entries stored (deleted ones included), their packed bytes and their
   *  liveBytes estimates (stream-memory.ts's inputs, kept so it is O(1)). */
  stored = 0
  packedBytes = 0
  storedEstimate = 0

  /**
   * Append (the caller checked id > lastId); returns the entry's listpack size. What undoes it
   * is unappend() with that size, `estimate` and the lastId and firstId from before the call.
   */
  append(id: bigint, fv: Buffer[], newNode: boolean, estimate = entryEstimate(fv)): number {
    let node = this.nodes[this.nodes.length - 1]
    if (node === undefined || newNode) {
      node?.seal()
      node = new StreamNode(id, fv.filter((_, i) => i % 2 === 0))
      this.nodes.push(node)
    }
    const packedBefore = node.packedBytes
    const size = node.push(id, fv, estimate)
    this.stored++
    this.packedBytes += node.packedBytes - packedBefore
    this.storedEstimate += estimate
    this.length++
    this.entriesAdded++
    this.lastId = id
    if (this.length === 1) this.firstId = id
    this.bytes += estimate
    return size
  }

  /**
   * Undo the newest append (undos run newest first, so its entry is the last node's last one);
   * `size` is what append returned, `estimate` what it used, lastBefore and firstBefore the ids
   * before it. A node the append made (it holds that entry alone) goes with it.
   */
  unappend(size: number, estimate: number, lastBefore: bigint, firstBefore: bigint): void {
    const node = this.nodes[this.nodes.length - 1]
    assert(node !== undefined && node.last === this.lastId, 'unappend of the newest entry')
    const packedBefore = node.packedBytes
    node.pop(size, estimate)
    this.stored--
    this.packedBytes -= packedBefore - node.packedBytes
    this.storedEstimate -= estimate
    if (node.ids.length === 0) this.nodes.pop()
    this.length--
    this.entriesAdded--
    this.lastId = lastBefore
    this.firstId = firstBefore
    this.bytes -= estimate
  }

  /** Index of the node that may hold `id`: the last whose first id <= id (-1 when none). */
  nodeFor(id: bigint): number {
    let lo = 0
    let hi = this.nodes.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.nodes[mid] as StreamNode).first <= id) lo = mid + 1
      else hi = mid
    }
    return lo - 1
  }

  /** The live entry `id`: [node index, entry index], or null. */
  find(id: bigint): [number, number] | null {
    const ni = this.nodeFor(id)
    const node = this.nodes[ni]
    if (node === undefined) return null
    const ei = node.lowerBound(id)
    return node.ids[ei] === id && node.dead[ei] === false ? [ni, ei] : null
  }

  fields(id: bigint): Buffer[] | null {
    const at = this.find(id)
    return at === null ? null : (this.nodes[at[0]] as StreamNode).pairsAt(at[1])
  }

  /**
   * Mark a live entry deleted; with `dropEmpty` a node left without live entries is removed
   * (XDEL). Returns the undo.
   */
  markDeleted(ni: number, ei: number, dropEmpty: boolean): () => void {
    const node = this.nodes[ni] as StreamNode
    node.dead[ei] = true
    node.live--
    node.deleted++
    this.length--
    const dropped = dropEmpty && node.live === 0
    let est = 0
    if (dropped) {
      this.nodes.splice(ni, 1)
      est = node.estimate
      this.bytes -= est
      this.dropStored(node, -1)
    }
    return () => {
      if (dropped) {
        this.nodes.splice(ni, 0, node)
        this.dropStored(node, 1)
      }
      this.bytes += est
      node.dead[ei] = false
      node.live++
      node.deleted--
      this.length++
    }
  }

  /** Remove the first `count` nodes whole; returns the undo. */
  dropHeadNodes(count: number): () => void {
    const removed = this.nodes.splice(0, count)
    let live = 0
    let est = 0
    for (const node of removed) {
      live += node.live
      est += node.estimate
      this.dropStored(node, -1)
    }
    this.length -= live
    this.bytes -= est
    return () => {
      this.nodes.unshift(...removed)
      for (const node of removed) this.dropStored(node, 1)
      this.length += live
      this.bytes += est
    }
  }

  /** Count a node's entries out of (sign -1) or back into (1) the stored totals. */
  private dropStored(node: StreamNode, sign: number): void {
    this.stored += sign * node.ids.length
    this.packedBytes += sign * node.packedBytes
    this.storedEstimate += sign * node.estimate
  }

  /** The first (or last) live entry's id, or null when empty. */
  edgeId(first: boolean): bigint | null {
    if (first) {
      for (const node of this.nodes) {
        for (let i = 0; i < node.ids.length; i++) if (node.dead[i] === false) return node.ids[i] as bigint
      }
    } else {
      for (let n = this.nodes.length - 1; n >= 0; n--) {
        const node = this.nodes[n] as StreamNode
        for (let i = node.ids.length - 1; i >= 0; i--) {
          if (node.dead[i] === false) return node.ids[i] as bigint
        }
      }
    }
    return null
  }

  /** After removals: Redis's first_id (0-0 when empty). */
  refreshFirstId(): void {
    this.firstId = this.length === 0 ? 0n : this.edgeId(true) ?? 0n
  }

  /**
   * Live entries with start <= id <= end, in order (rev: from end down), at most `count`
   * (0 = all): visit(id, pairs) for each; stops early when visit returns false.
   */
  range(start: bigint, end: bigint, rev: boolean, count: number,
    visit: (id: bigint, pairs: Buffer[]) => boolean | void): number {
    let n = 0
    if (start > end || this.nodes.length === 0) return 0
    if (!rev) {
      let ni = Math.max(0, this.nodeFor(start))
      for (; ni < this.nodes.length; ni++) {
        const node = this.nodes[ni] as StreamNode
        if (node.first > end) break
        for (let i = node.lowerBound(start); i < node.ids.length; i++) {
          const id = node.ids[i] as bigint
          if (id > end) return n
          if (node.dead[i] === true) continue
          n++
          if (visit(id, node.pairsAt(i)) === false) return n
          if (count !== 0 && n >= count) return n
        }
      }
      return n
    }
    for (let ni = this.nodeFor(end); ni >= 0; ni--) {
      const node = this.nodes[ni] as StreamNode
      if (node.last < start) break
      let i = node.lowerBound(end)
      if (i === node.ids.length || (node.ids[i] as bigint) > end) i--
      for (; i >= 0; i--) {
        const id = node.ids[i] as bigint
        if (id < start) return n
        if (node.dead[i] === true) continue
        n++
        if (visit(id, node.pairsAt(i)) === false) return n
        if (count !== 0 && n >= count) return n
      }
    }
    return n
  }

  // ---- consumer groups --------------------------------------------------------------------

  /** Redis's streamRangeHasTombstones (start..end inclusive; end default max). */
  rangeHasTombstones(start: bigint, end: bigint = ID_MAX): boolean {
    if (this.length === 0 || this.maxDeletedId === 0n) return false
    if (this.firstId > this.maxDeletedId) return false
    return start <= this.maxDeletedId && this.maxDeletedId <= end
  }

  /** streamEstimateDistanceFromFirstEverEntry; INVALID_ENTRIES_READ when unknown. */
  estimateDistance(id: bigint): bigint {
    if (this.entriesAdded === 0n) return 0n
    if (this.length === 0 && id <= this.lastId) return this.entriesAdded
    if (id === this.lastId) return this.entriesAdded
    if (id > this.lastId) return INVALID_ENTRIES_READ
    if (this.maxDeletedId === 0n || this.maxDeletedId < this.firstId) {
      if (id < this.firstId) return this.entriesAdded - BigInt(this.length)
      if (id === this.firstId) return this.entriesAdded - BigInt(this.length) + 1n
    }
    return INVALID_ENTRIES_READ
  }

  /** A group's lag (streamReplyWithCGLag): null when it cannot be known. */
  lag(g: ConsumerGroup): bigint | null {
    if (this.entriesAdded === 0n) return 0n
    if (g.entriesRead !== INVALID_ENTRIES_READ && !this.rangeHasTombstones(g.lastId)) {
      return this.entriesAdded - g.entriesRead
    }
    const read = this.estimateDistance(g.lastId)
    return read === INVALID_ENTRIES_READ ? null : this.entriesAdded - read
  }
}

// ---- codec --------------------------------------------------------------------------------


function encodeStream(w: ByteWriter, s: Stream): void {
  writeId(w, s.lastId)
  writeId(w, s.firstId)
  writeId(w, s.maxDeletedId)
  writeI64(w, s.entriesAdded)
  w.varuint(s.nodes.length)
  for (const node of s.nodes) {
    w.varuint(node.masterFields.length)
    for (const f of node.masterFields) w.bytes(f)
    w.varuint(node.ids.length)
    for (let i = 0; i < node.ids.length; i++) {
      w.u8(node.dead[i] === true ? 1 : 0)
      writeId(w, node.ids[i] as bigint)
      const fv = node.pairsAt(i)
      w.varuint(fv.length / 2)
      for (const b of fv) w.bytes(b)
    }
  }
  w.varuint(s.groups.size)
  for (const [name, g] of s.groups) {
    w.str(name)
    writeId(w, g.lastId)
    writeI64(w, g.entriesRead)
    const index = new Map<Consumer, number>()
    w.varuint(g.consumers.size)
    for (const c of g.consumers.values()) {
      index.set(c, index.size)
      w.str(c.name)
      w.i53(c.seenTime)
    }
    w.varuint(g.pel.size)
    for (let i = 0; i < g.pel.size; i++) {
      const nack = g.pel.valAt(i)
      writeId(w, g.pel.keyAt(i))
      w.varuint(index.get(nack.consumer) ?? 0)
      w.i53(nack.deliveryTime)
      w.i53(nack.deliveryCount)
    }
  }
}

function decodeStream(r: ByteReader): Stream {
  const s = new Stream()
  const lastId = readId(r)
  const firstId = readId(r)
  const maxDeletedId = readId(r)
  const entriesAdded = readI64(r)
  const nodeCount = r.varuint()
  for (let n = 0; n < nodeCount; n++) {
    const masterCount = r.varuint()
    const master: Buffer[] = []
    for (let i = 0; i < masterCount; i++) master.push(r.bytes())
    const count = r.varuint()
    if (count === 0) throw new DecodeError('empty stream node')
    for (let i = 0; i < count; i++) {
      const dead = r.u8() === 1
      const id = readId(r)
      const pairs = r.varuint()
      const fv: Buffer[] = []
      for (let j = 0; j < pairs * 2; j++) fv.push(r.bytes())
      if (id <= (s.nodes.length === 0 && i === 0 ? -1n : (s.nodes[s.nodes.length - 1] as StreamNode).last)) {
        throw new DecodeError('stream ids out of order')
      }
      s.append(id, i === 0 ? withFields(master, fv) : fv, i === 0)
      if (dead) {
        const ni = s.nodes.length - 1
        s.markDeleted(ni, (s.nodes[ni] as StreamNode).ids.length - 1, false)
      }
    }
  }
  s.lastId = lastId
  s.firstId = firstId
  s.maxDeletedId = maxDeletedId
  s.entriesAdded = entriesAdded
  const groupCount = r.varuint()
  for (let gi = 0; gi < groupCount; gi++) {
    const name = r.str()
    const g = new ConsumerGroup(readId(r), readI64(r))
    s.groups.set(name, g)
    s.bytes += groupBytes(name)
    const consumers: Consumer[] = []
    const cc = r.varuint()
    for (let i = 0; i < cc; i++) {
      const c = new Consumer(r.str(), r.i53())
      consumers.push(c)
      g.consumers.set(c.name, c)
      s.bytes += consumerBytes(c.name)
    }
    const nc = r.varuint()
    for (let i = 0; i < nc; i++) {
      const id = readId(r)
      const c = consumers[r.varuint()]
      if (c === undefined) throw new DecodeError('stream NACK of no consumer')
      const nack = new Nack(c, r.i53(), r.i53())
      g.pel.set(id, nack)
      c.pel.set(id, nack)
      s.bytes += NACK_BYTES
    }
  }
  return s
}

/** The first entry of a node carries the master fields (a check: they must match). */
function withFields(master: Buffer[], fv: Buffer[]): Buffer[] {
  const own = fv.filter((_, i) => i % 2 === 0)
  if (own.length !== master.length || own.some((f, i) => !f.equals(master[i] as Buffer))) {
    throw new DecodeError('stream node master fields differ from its first entry')
  }
  return fv
}

function canonicalStream(s: Stream): string {
  const parts = [idString(s.lastId), idString(s.firstId), idString(s.maxDeletedId),
    String(s.entriesAdded), String(s.length)]
  for (const node of s.nodes) {
    const entries: string[] = []
    for (let i = 0; i < node.ids.length; i++) {
      entries.push(`${node.dead[i] === true ? 'x' : ''}${idString(node.ids[i] as bigint)}:` +
        node.pairsAt(i).map((b) => b.toString('hex')).join('.'))
    }
    parts.push(`[${entries.join(' ')}]`)
  }
  for (const name of [...s.groups.keys()].sort()) {
    const g = s.groups.get(name) as ConsumerGroup
    const consumers = [...g.consumers.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((c) => `${Buffer.from(c.name, 'latin1').toString('hex')}@${c.seenTime}`)
    const pel = g.pel.keyList().map((id, i) => {
      const n = g.pel.valAt(i)
      return `${idString(id)}>${Buffer.from(n.consumer.name, 'latin1').toString('hex')}@${n.deliveryTime}#${n.deliveryCount}`
    })
    parts.push(`{${Buffer.from(name, 'latin1').toString('hex')} ${idString(g.lastId)} ${g.entriesRead} ` +
      `${consumers.join(',')} ${pel.join(',')}}`)
  }
  return parts.join(' ')
}

registerValueType({
  type: TYPE_STREAM,
  name: 'stream',
  encode: (w, v) => encodeStream(w, v as Stream),
  decode: (r) => decodeStream(r),
  bytes: (v) => (v as Stream).bytes,
  canonical: (v) => canonicalStream(v as Stream),
})
