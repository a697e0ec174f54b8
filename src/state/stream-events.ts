// Stream events (codes 70–79). A stream is a Stream (stream.ts). Every command logs the resolved
// effect, never its arguments (DESIGN rule 1): XADD its generated id and the node decision, a trim
// how many nodes and entries it removed, a consumer-group read the NACKs it created with their
// absolute delivery times. Payload layouts, after the u8 event code and `u8 db, key`
// (coll-common.ts); an ID is stream.ts's 16 bytes, i64 two u32 high first, times i53:
//   70 XADD      id, u8 newNode, pair count, pairs (bytes)  — creates the stream when missing;
//                ignored unless id > the stream's last id
//   71 XTRIM     varuint nodes, varuint marks  — drop `nodes` head nodes, then mark the first
//                `marks` live entries of the new head node deleted (Redis's exact trim)
//   72 XDEL      count, ids  — delete those present (a node left empty is dropped)
//   73 XSETID    lastId, i64 entriesAdded, maxDeletedId  — absolute values
//   74 XGROUPNEW group (str), lastId, i64 entriesRead, u8 mkstream  — creates the stream when
//                missing and mkstream; nothing when the group exists
//   75 XGROUPSET group, lastId, i64 entriesRead
//   76 XGROUPDEL group
//   77 XCONSUMER group, consumer, i53 seenTime, u8 delete  — create (seen time) or delete (its
//                NACKs leave the group PEL)
//   78 XCLAIM    group, consumer, i53 seenTime, u8 hasLast [lastId, i64 entriesRead], count,
//                count × (id, i53 deliveryTime, i53 deliveryCount)  — creates the consumer when
//                missing, sets its seen time (-1: unchanged), sets each NACK to those values and
//                owned by the consumer (XREADGROUP, XCLAIM, XAUTOCLAIM)
//   79 XACK      group, count, ids  — removes those NACKs
// Totality (event.ts): a key of another type, a missing stream or group is left alone; every
// event returns null when it changes nothing. Undo closures restore the exact previous state,
// and the stream's `bytes` moves with the entry's (ks.adjustBytes).

import type { ByteReader, ByteWriter } from './bytes.js'
import { entryOfType, readArray, readDb, writeDbKey } from './coll-common.js'
import type { EventType, Undo } from './event.js'
import type { UndoRecord } from './undo-log.js'
import { Entry, type Keyspace } from './keyspace.js'
import {
  Consumer, ConsumerGroup, consumerBytes, entryEstimate, groupBytes, NACK_BYTES, Nack, readI64,
  readId, Stream, type StreamNode, TYPE_STREAM, writeI64, writeId,
} from './stream.js'

export const EV_XADD = 70
export const EV_XTRIM = 71
export const EV_XDEL = 72
export const EV_XSETID = 73
export const EV_XGROUPNEW = 74
export const EV_XGROUPSET = 75
export const EV_XGROUPDEL = 76
export const EV_XCONSUMER = 77
export const EV_XCLAIM = 78
export const EV_XACK = 79

interface KeyPart { db: number; key: string }
export interface XAddEvent extends KeyPart { readonly code: typeof EV_XADD; id: bigint; newNode: boolean; pairs: Buffer[] }
export interface XTrimEvent extends KeyPart { readonly code: typeof EV_XTRIM; nodes: number; marks: number }
export interface XDelEvent extends KeyPart { readonly code: typeof EV_XDEL; ids: bigint[] }
export interface XSetIdEvent extends KeyPart {
  readonly code: typeof EV_XSETID; lastId: bigint; entriesAdded: bigint; maxDeletedId: bigint
}
export interface XGroupNewEvent extends KeyPart {
  readonly code: typeof EV_XGROUPNEW; group: string; lastId: bigint; entriesRead: bigint; mkstream: boolean
}
export interface XGroupSetEvent extends KeyPart {
  readonly code: typeof EV_XGROUPSET; group: string; lastId: bigint; entriesRead: bigint
}
export interface XGroupDelEvent extends KeyPart { readonly code: typeof EV_XGROUPDEL; group: string }
export interface XConsumerEvent extends KeyPart {
  readonly code: typeof EV_XCONSUMER; group: string; consumer: string; seenTime: number; del: boolean
}
export interface XClaimEvent extends KeyPart {
  readonly code: typeof EV_XCLAIM; group: string; consumer: string; seenTime: number
  last: [bigint, bigint] | null; nacks: [bigint, number, number][]
}
export interface XAckEvent extends KeyPart { readonly code: typeof EV_XACK; group: string; ids: bigint[] }

export const xaddEv = (db: number, key: string, id: bigint, newNode: boolean, pairs: Buffer[]): XAddEvent =>
  ({ code: EV_XADD, db, key, id, newNode, pairs })
export const xtrimEv = (db: number, key: string, nodes: number, marks: number): XTrimEvent =>
  ({ code: EV_XTRIM, db, key, nodes, marks })
export const xdelEv = (db: number, key: string, ids: bigint[]): XDelEvent => ({ code: EV_XDEL, db, key, ids })
export const xsetidEv = (db: number, key: string, lastId: bigint, entriesAdded: bigint,
  maxDeletedId: bigint): XSetIdEvent => ({ code: EV_XSETID, db, key, lastId, entriesAdded, maxDeletedId })
export const xgroupNewEv = (db: number, key: string, group: string, lastId: bigint, entriesRead: bigint,
  mkstream: boolean): XGroupNewEvent => ({ code: EV_XGROUPNEW, db, key, group, lastId, entriesRead, mkstream })
export const xgroupSetEv = (db: number, key: string, group: string, lastId: bigint,
  entriesRead: bigint): XGroupSetEvent => ({ code: EV_XGROUPSET, db, key, group, lastId, entriesRead })
export const xgroupDelEv = (db: number, key: string, group: string): XGroupDelEvent =>
  ({ code: EV_XGROUPDEL, db, key, group })
export const xconsumerEv = (db: number, key: string, group: string, consumer: string, seenTime: number,
  del: boolean): XConsumerEvent => ({ code: EV_XCONSUMER, db, key, group, consumer, seenTime, del })
export const xclaimEv = (db: number, key: string, group: string, consumer: string, seenTime: number,
  last: [bigint, bigint] | null, nacks: [bigint, number, number][]): XClaimEvent =>
  ({ code: EV_XCLAIM, db, key, group, consumer, seenTime, last, nacks })
export const xackEv = (db: number, key: string, group: string, ids: bigint[]): XAckEvent =>
  ({ code: EV_XACK, db, key, group, ids })

function streamAt(ks: Keyspace, db: number, key: string): [Entry, Stream] | null {
  const entry = entryOfType(ks, db, key, TYPE_STREAM)
  return entry === undefined ? null : [entry, entry.value as Stream]
}

/** Run a change of `s`, keeping the entry's byte estimate in step; the undo does the same. */
function sized(ks: Keyspace, db: number, key: string, entry: Entry, s: Stream, change: () => Undo | null): Undo | null {
  const before = s.bytes
  const undo = change()
  if (undo === null) return null
  const delta = s.bytes - before
  ks.adjustBytes(entry, delta)
  ks.touch(db, key)
  return () => {
    undo()
    ks.adjustBytes(entry, -delta)
    ks.touch(db, key)
  }
}

function undoAll(undos: Undo[]): Undo | null {
  if (undos.length === 0) return null
  return () => { for (let i = undos.length - 1; i >= 0; i--) (undos[i] as Undo)() }
}

const keyed = (code: number, name: string, shrinks: boolean) => ({ code, name, shrinks })

export const xaddEvent: EventType<XAddEvent> = {
  ...keyed(EV_XADD, 'xadd', false),
  encode(w: ByteWriter, e) {
    writeDbKey(w, e.db, e.key)
    writeId(w, e.id)
    w.u8(e.newNode ? 1 : 0)
    w.varuint(e.pairs.length / 2)
    for (const b of e.pairs) w.bytes(b)
  },
  decode: (r: ByteReader) => {
    const db = readDb(r)
    const key = r.str()
    const id = readId(r)
    const newNode = r.u8() === 1
    const n = r.varuint()
    const pairs: Buffer[] = []
    for (let i = 0; i < n * 2; i++) pairs.push(r.bytes())
    return xaddEv(db, key, id, newNode, pairs)
  },
  apply(ks, e) {
    const existing = ks.get(e.db, e.key)
    if (existing !== undefined && existing.type !== TYPE_STREAM) return null
    if (e.pairs.length === 0 || e.pairs.length % 2 !== 0) return null
    if (existing === undefined) {
      if (e.id === 0n) return null
      createStream(ks, e)
      return () => { ks.delete(e.db, e.key) }
    }
    const s = existing.value as Stream
    if (e.id <= s.lastId) return null
    const undo = appendTo(ks, e, existing, s)
    return () => undo.undoIn(ks, e.db, e.key, existing)
  },
  // The same change with its undo as data: one XaddUndo, no closure (issue 18, XADD's garbage).
  applyLogged(ks, e, log) {
    const existing = ks.get(e.db, e.key)
    if (existing !== undefined && existing.type !== TYPE_STREAM) return false
    if (e.pairs.length === 0 || e.pairs.length % 2 !== 0) return false
    if (existing === undefined) {
      if (e.id === 0n) return false
      createStream(ks, e)
      log.entry(e.db, e.key, undefined)
      return true
    }
    const s = existing.value as Stream
    if (e.id <= s.lastId) return false
    log.record(appendTo(ks, e, existing, s), e.db, e.key, existing)
    return true
  },
}

/** XADD to a missing key: a stream of one entry. */
function createStream(ks: Keyspace, e: XAddEvent): void {
  const s = new Stream()
  s.append(e.id, e.pairs, true)
  ks.set(e.db, e.key, new Entry(TYPE_STREAM, s, 0, s.bytes))
}

/** What undoes an XADD to an existing stream: the append, and the entry's bytes and version. */
class XaddUndo implements UndoRecord {
  constructor(private readonly size: number, private readonly estimate: number,
    private readonly lastBefore: bigint, private readonly firstBefore: bigint) {}

  undoIn(ks: Keyspace, db: number, key: string, entry: Entry): void {
    (entry.value as Stream).unappend(this.size, this.estimate, this.lastBefore, this.firstBefore)
    ks.adjustBytes(entry, -this.estimate)
    ks.touch(db, key)
  }
}

/** XADD to the existing stream `s` (entry `entry`), as sized() would account it. */
function appendTo(ks: Keyspace, e: XAddEvent, entry: Entry, s: Stream): XaddUndo {
  const estimate = entryEstimate(e.pairs)
  const { lastId, firstId } = s
  const size = s.append(e.id, e.pairs, e.newNode, estimate)
  ks.adjustBytes(entry, estimate)
  ks.touch(e.db, e.key)
  return new XaddUndo(size, estimate, lastId, firstId)
}

/** Mark the first `marks` live entries of the head node deleted (no node dropped). */
function markHead(s: Stream, marks: number): Undo[] {
  const undos: Undo[] = []
  const node = s.nodes[0] as StreamNode | undefined
  if (node === undefined) return undos
  for (let i = 0; i < node.ids.length && undos.length < marks; i++) {
    if (node.dead[i] === false) undos.push(s.markDeleted(0, i, false))
  }
  return undos
}

export const xtrimEvent: EventType<XTrimEvent> = {
  ...keyed(EV_XTRIM, 'xtrim', true),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.nodes)
    w.varuint(e.marks)
  },
  decode: (r) => xtrimEv(readDb(r), r.str(), r.varuint(), r.varuint()),
  apply(ks, e) {
    const at = streamAt(ks, e.db, e.key)
    if (at === null) return null
    const [entry, s] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      const firstId = s.firstId
      const undos: Undo[] = []
      const nodes = Math.min(e.nodes, s.nodes.length)
      if (nodes > 0) undos.push(s.dropHeadNodes(nodes))
      undos.push(...markHead(s, e.marks))
      if (undos.length === 0) return null
      s.refreshFirstId()
      const undo = undoAll(undos) as Undo
      return () => {
        undo()
        s.firstId = firstId
      }
    })
  },
}

export const xdelEvent: EventType<XDelEvent> = {
  ...keyed(EV_XDEL, 'xdel', true),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.ids.length)
    for (const id of e.ids) writeId(w, id)
  },
  decode: (r) => xdelEv(readDb(r), r.str(), readArray(r, readId)),
  apply(ks, e) {
    const at = streamAt(ks, e.db, e.key)
    if (at === null) return null
    const [entry, s] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      const { firstId, maxDeletedId } = s
      const undos: Undo[] = []
      let firstEntry = false
      for (const id of e.ids) {
        const found = s.find(id)
        if (found === null) continue
        undos.push(s.markDeleted(found[0], found[1], true))
        if (id === s.firstId) firstEntry = true
        if (id > s.maxDeletedId) s.maxDeletedId = id
      }
      if (undos.length === 0) return null
      if (s.length === 0) s.firstId = 0n
      else if (firstEntry) s.refreshFirstId()
      const undo = undoAll(undos) as Undo
      return () => {
        undo()
        s.firstId = firstId
        s.maxDeletedId = maxDeletedId
      }
    })
  },
}

export const xsetidEvent: EventType<XSetIdEvent> = {
  ...keyed(EV_XSETID, 'xsetid', false),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    writeId(w, e.lastId)
    writeI64(w, e.entriesAdded)
    writeId(w, e.maxDeletedId)
  },
  decode: (r) => xsetidEv(readDb(r), r.str(), readId(r), readI64(r), readId(r)),
  apply(ks, e) {
    const at = streamAt(ks, e.db, e.key)
    if (at === null) return null
    const [entry, s] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      const { lastId, entriesAdded, maxDeletedId } = s
      s.lastId = e.lastId
      s.entriesAdded = e.entriesAdded
      s.maxDeletedId = e.maxDeletedId
      return () => {
        s.lastId = lastId
        s.entriesAdded = entriesAdded
        s.maxDeletedId = maxDeletedId
      }
    })
  },
}

export const xgroupNewEvent: EventType<XGroupNewEvent> = {
  ...keyed(EV_XGROUPNEW, 'xgroupnew', false),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.str(e.group)
    writeId(w, e.lastId)
    writeI64(w, e.entriesRead)
    w.u8(e.mkstream ? 1 : 0)
  },
  decode: (r) => xgroupNewEv(readDb(r), r.str(), r.str(), readId(r), readI64(r), r.u8() === 1),
  apply(ks, e) {
    const existing = ks.get(e.db, e.key)
    if (existing !== undefined && existing.type !== TYPE_STREAM) return null
    if (existing === undefined) {
      if (!e.mkstream) return null
      const s = new Stream()
      s.groups.set(e.group, new ConsumerGroup(e.lastId, e.entriesRead))
      s.bytes += groupBytes(e.group)
      ks.set(e.db, e.key, new Entry(TYPE_STREAM, s, 0, s.bytes))
      return () => { ks.delete(e.db, e.key) }
    }
    const s = existing.value as Stream
    if (s.groups.has(e.group)) return null
    return sized(ks, e.db, e.key, existing, s, () => {
      s.groups.set(e.group, new ConsumerGroup(e.lastId, e.entriesRead))
      s.bytes += groupBytes(e.group)
      return () => {
        s.groups.delete(e.group)
        s.bytes -= groupBytes(e.group)
      }
    })
  },
}

/** The stream and group an event names, or null (totality). */
function groupAt(ks: Keyspace, e: KeyPart & { group: string }): [Entry, Stream, ConsumerGroup] | null {
  const at = streamAt(ks, e.db, e.key)
  if (at === null) return null
  const g = at[1].groups.get(e.group)
  return g === undefined ? null : [at[0], at[1], g]
}

export const xgroupSetEvent: EventType<XGroupSetEvent> = {
  ...keyed(EV_XGROUPSET, 'xgroupset', false),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.str(e.group)
    writeId(w, e.lastId)
    writeI64(w, e.entriesRead)
  },
  decode: (r) => xgroupSetEv(readDb(r), r.str(), r.str(), readId(r), readI64(r)),
  apply(ks, e) {
    const at = groupAt(ks, e)
    if (at === null) return null
    const [entry, s, g] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      const { lastId, entriesRead } = g
      g.lastId = e.lastId
      g.entriesRead = e.entriesRead
      return () => {
        g.lastId = lastId
        g.entriesRead = entriesRead
      }
    })
  },
}

export const xgroupDelEvent: EventType<XGroupDelEvent> = {
  ...keyed(EV_XGROUPDEL, 'xgroupdel', true),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.str(e.group)
  },
  decode: (r) => xgroupDelEv(readDb(r), r.str(), r.str()),
  apply(ks, e) {
    const at = groupAt(ks, e)
    if (at === null) return null
    const [entry, s, g] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      let est = groupBytes(e.group) + g.pel.size * NACK_BYTES
      for (const c of g.consumers.values()) est += consumerBytes(c.name)
      s.groups.delete(e.group)
      s.bytes -= est
      return () => {
        s.groups.set(e.group, g)
        s.bytes += est
      }
    })
  },
}

/** Remove a consumer and its NACKs from the group; returns the undo. */
function deleteConsumer(s: Stream, g: ConsumerGroup, c: Consumer): Undo {
  const ids = c.pel.keyList()
  const nacks = ids.map((_, i) => c.pel.valAt(i))
  for (const id of ids) g.pel.delete(id)
  g.consumers.delete(c.name)
  const est = consumerBytes(c.name) + ids.length * NACK_BYTES
  s.bytes -= est
  return () => {
    g.consumers.set(c.name, c)
    ids.forEach((id, i) => g.pel.set(id, nacks[i] as Nack))
    s.bytes += est
  }
}

function createConsumer(s: Stream, g: ConsumerGroup, name: string, seenTime: number): [Consumer, Undo] {
  const c = new Consumer(name, seenTime)
  g.consumers.set(name, c)
  s.bytes += consumerBytes(name)
  return [c, () => {
    g.consumers.delete(name)
    s.bytes -= consumerBytes(name)
  }]
}

export const xconsumerEvent: EventType<XConsumerEvent> = {
  ...keyed(EV_XCONSUMER, 'xconsumer', false),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.str(e.group)
    w.str(e.consumer)
    w.i53(e.seenTime)
    w.u8(e.del ? 1 : 0)
  },
  decode: (r) => xconsumerEv(readDb(r), r.str(), r.str(), r.str(), r.i53(), r.u8() === 1),
  apply(ks, e) {
    const at = groupAt(ks, e)
    if (at === null) return null
    const [entry, s, g] = at
    const c = g.consumers.get(e.consumer)
    if (e.del) {
      if (c === undefined) return null
      return sized(ks, e.db, e.key, entry, s, () => deleteConsumer(s, g, c))
    }
    if (c !== undefined) return null
    return sized(ks, e.db, e.key, entry, s, () => createConsumer(s, g, e.consumer, e.seenTime)[1])
  },
}

/** Set one NACK to (consumer, time, count); returns the undo. */
function setNack(s: Stream, g: ConsumerGroup, c: Consumer, id: bigint, time: number, count: number): Undo {
  const nack = g.pel.get(id)
  if (nack === undefined) {
    const fresh = new Nack(c, time, count)
    g.pel.set(id, fresh)
    c.pel.set(id, fresh)
    s.bytes += NACK_BYTES
    return () => {
      g.pel.delete(id)
      c.pel.delete(id)
      s.bytes -= NACK_BYTES
    }
  }
  const { consumer, deliveryTime, deliveryCount } = nack
  if (consumer !== c) {
    consumer.pel.delete(id)
    c.pel.set(id, nack)
    nack.consumer = c
  }
  nack.deliveryTime = time
  nack.deliveryCount = count
  return () => {
    if (consumer !== c) {
      c.pel.delete(id)
      consumer.pel.set(id, nack)
      nack.consumer = consumer
    }
    nack.deliveryTime = deliveryTime
    nack.deliveryCount = deliveryCount
  }
}

export const xclaimEvent: EventType<XClaimEvent> = {
  ...keyed(EV_XCLAIM, 'xclaim', false),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.str(e.group)
    w.str(e.consumer)
    w.i53(e.seenTime)
    w.u8(e.last === null ? 0 : 1)
    if (e.last !== null) {
      writeId(w, e.last[0])
      writeI64(w, e.last[1])
    }
    w.varuint(e.nacks.length)
    for (const [id, time, count] of e.nacks) {
      writeId(w, id)
      w.i53(time)
      w.i53(count)
    }
  },
  decode: (r) => {
    const db = readDb(r)
    const key = r.str()
    const group = r.str()
    const consumer = r.str()
    const seenTime = r.i53()
    const last: [bigint, bigint] | null = r.u8() === 1 ? [readId(r), readI64(r)] : null
    const nacks = readArray(r, (x): [bigint, number, number] => [readId(x), x.i53(), x.i53()])
    return xclaimEv(db, key, group, consumer, seenTime, last, nacks)
  },
  apply(ks, e) {
    const at = groupAt(ks, e)
    if (at === null) return null
    const [entry, s, g] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      const undos: Undo[] = []
      let c = g.consumers.get(e.consumer)
      if (c === undefined) {
        const [made, undo] = createConsumer(s, g, e.consumer, e.seenTime)
        c = made
        undos.push(undo)
      } else if (e.seenTime >= 0 && c.seenTime !== e.seenTime) {
        const consumer = c
        const seen = c.seenTime
        c.seenTime = e.seenTime
        undos.push(() => { consumer.seenTime = seen })
      }
      if (e.last !== null && (g.lastId !== e.last[0] || g.entriesRead !== e.last[1])) {
        const { lastId, entriesRead } = g
        g.lastId = e.last[0]
        g.entriesRead = e.last[1]
        undos.push(() => {
          g.lastId = lastId
          g.entriesRead = entriesRead
        })
      }
      for (const [id, time, count] of e.nacks) undos.push(setNack(s, g, c, id, time, count))
      return undoAll(undos)
    })
  },
}

export const xackEvent: EventType<XAckEvent> = {
  ...keyed(EV_XACK, 'xack', true),
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.str(e.group)
    w.varuint(e.ids.length)
    for (const id of e.ids) writeId(w, id)
  },
  decode: (r) => xackEv(readDb(r), r.str(), r.str(), readArray(r, readId)),
  apply(ks, e) {
    const at = groupAt(ks, e)
    if (at === null) return null
    const [entry, s, g] = at
    return sized(ks, e.db, e.key, entry, s, () => {
      const removed: [bigint, Nack][] = []
      for (const id of e.ids) {
        const nack = g.pel.delete(id)
        if (nack === undefined) continue
        nack.consumer.pel.delete(id)
        removed.push([id, nack])
      }
      if (removed.length === 0) return null
      s.bytes -= removed.length * NACK_BYTES
      return () => {
        for (const [id, nack] of removed) {
          g.pel.set(id, nack)
          nack.consumer.pel.set(id, nack)
        }
        s.bytes += removed.length * NACK_BYTES
      }
    })
  },
}

