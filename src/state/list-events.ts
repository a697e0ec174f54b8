// List events (codes 20–39). A list is a Deque<Buffer>, head = index 0. Payload layouts, after
// the u8 event code and the common header `u8 db, key` (coll-common.ts); integers are varuints,
// items are varuint length + bytes:
//   20 LPUSH   count, count × item   — each item pushed at the head in turn (LPUSH a b c → c b a);
//                                      creates the list when the key is missing
//   21 RPUSH   count, count × item   — each item appended at the tail in turn; creates the list
//   22 LPOP    count                 — removes min(count, length) items from the head
//   23 RPOP    count                 — removes min(count, length) items from the tail
//   24 LSET    index, item           — replaces the item at index (0-based from the head)
//   25 LINSERT index, item           — inserts so that the item ends at index (0 ≤ index ≤ length)
//   26 LREM    f64 count, item       — Redis's LREM: count > 0 first |count| matches from the head,
//                                      < 0 from the tail, 0 all of them
//   27 LTRIM   left, right           — removes `left` items from the head and `right` from the tail
// Every effect is resolved by the command (positions and counts, never a relative range), so
// replay needs no clock and no randomness. Removing the last item deletes the key (as Redis).
// Totality (event.ts): a delta meeting a missing key (other than a push) or a key of another
// type changes nothing; an index out of range changes nothing; counts are clamped.
// liveBytes: a list's estimate is 4 + Σ(item length + 2), as value-codec.ts's list `bytes`.

import type { ByteReader, ByteWriter } from './bytes.js'
import {
  COLLECTION_BASE_BYTES, entryOfType, listItemBytes, readArray, readDb, writeDbKey,
} from './coll-common.js'
import { Deque } from './deque.js'
import type { EventType, Undo } from './event.js'
import { Entry, TYPE_LIST, type Keyspace } from './keyspace.js'

export const EV_LPUSH = 20
export const EV_RPUSH = 21
export const EV_LPOP = 22
export const EV_RPOP = 23
export const EV_LSET = 24
export const EV_LINSERT = 25
export const EV_LREM = 26
export const EV_LTRIM = 27

type PushCode = typeof EV_LPUSH | typeof EV_RPUSH
type PopCode = typeof EV_LPOP | typeof EV_RPOP
type SetCode = typeof EV_LSET | typeof EV_LINSERT
export interface ListPushEvent { readonly code: PushCode; db: number; key: string; items: Buffer[] }
export interface ListPopEvent { readonly code: PopCode; db: number; key: string; count: number }
export interface ListSetEvent {
  readonly code: SetCode; db: number; key: string; index: number; item: Buffer
}
export interface ListRemEvent {
  readonly code: typeof EV_LREM; db: number; key: string; count: number; item: Buffer
}
export interface ListTrimEvent {
  readonly code: typeof EV_LTRIM; db: number; key: string; left: number; right: number
}

// The constructors: `head` picks the LPUSH/LPOP form, else RPUSH/RPOP.
export const pushEv = (head: boolean, db: number, key: string, items: Buffer[]): ListPushEvent =>
  ({ code: head ? EV_LPUSH : EV_RPUSH, db, key, items })
export const popEv = (head: boolean, db: number, key: string, count: number): ListPopEvent =>
  ({ code: head ? EV_LPOP : EV_RPOP, db, key, count })
export const lsetEv = (db: number, key: string, index: number, item: Buffer): ListSetEvent =>
  ({ code: EV_LSET, db, key, index, item })
export const linsertEv = (db: number, key: string, index: number, item: Buffer): ListSetEvent =>
  ({ code: EV_LINSERT, db, key, index, item })
export const lremEv = (db: number, key: string, count: number, item: Buffer): ListRemEvent =>
  ({ code: EV_LREM, db, key, count, item })
export const ltrimEv = (db: number, key: string, left: number, right: number): ListTrimEvent =>
  ({ code: EV_LTRIM, db, key, left, right })

type List = Deque<Buffer>

function itemsBytes(items: readonly Buffer[]): number {
  let n = 0
  for (const item of items) n += listItemBytes(item)
  return n
}

/** Delete the key when the list became empty; returns whether it did. */
function deleteIfEmpty(ks: Keyspace, db: number, key: string, entry: Entry): boolean {
  if ((entry.value as List).length !== 0) return false
  ks.delete(db, key)
  return true
}

function applyPush(ks: Keyspace, e: ListPushEvent, atHead: boolean): Undo | null {
  if (e.items.length === 0) return null
  const { db, key, items } = e
  const existing = ks.get(db, key)
  if (existing !== undefined && existing.type !== TYPE_LIST) return null
  const list: List = existing === undefined ? new Deque<Buffer>() : existing.value as List
  for (const item of items) {
    if (atHead) list.pushFront(item)
    else list.pushBack(item)
  }
  const added = itemsBytes(items)
  if (existing === undefined) {
    ks.set(db, key, new Entry(TYPE_LIST, list, 0, COLLECTION_BASE_BYTES + added))
    return () => { ks.delete(db, key) }
  }
  ks.adjustBytes(existing, added)
  ks.touch(db, key)
  return () => {
    for (let i = 0; i < items.length; i++) {
      if (atHead) list.popFront()
      else list.popBack()
    }
    ks.adjustBytes(existing, -added)
    ks.touch(db, key)
  }
}

function applyPop(ks: Keyspace, e: ListPopEvent, atHead: boolean): Undo | null {
  const { db, key } = e
  const entry = entryOfType(ks, db, key, TYPE_LIST)
  if (entry === undefined) return null
  const list = entry.value as List
  const n = Math.min(Math.max(0, Math.floor(e.count)), list.length)
  if (!(n > 0)) return null
  const removed: Buffer[] = []
  for (let i = 0; i < n; i++) removed.push((atHead ? list.popFront() : list.popBack()) as Buffer)
  const bytes = itemsBytes(removed)
  ks.adjustBytes(entry, -bytes)
  const deleted = deleteIfEmpty(ks, db, key, entry)
  if (!deleted) ks.touch(db, key)
  return () => {
    if (deleted) ks.set(db, key, entry)
    for (let i = removed.length - 1; i >= 0; i--) {
      if (atHead) list.pushFront(removed[i] as Buffer)
      else list.pushBack(removed[i] as Buffer)
    }
    ks.adjustBytes(entry, bytes)
    if (!deleted) ks.touch(db, key)
  }
}

const encodePush = (w: ByteWriter, e: ListPushEvent): void => {
  writeDbKey(w, e.db, e.key)
  w.varuint(e.items.length)
  for (const item of e.items) w.bytes(item)
}
const decodePush = (code: PushCode) => (r: ByteReader): ListPushEvent =>
  ({ code, db: readDb(r), key: r.str(), items: readArray(r, (x) => x.bytes()) })

export const lpushEvent: EventType<ListPushEvent> = {
  code: EV_LPUSH, name: 'lpush', shrinks: false,
  encode: encodePush, decode: decodePush(EV_LPUSH), apply: (ks, e) => applyPush(ks, e, true),
}

export const rpushEvent: EventType<ListPushEvent> = {
  code: EV_RPUSH, name: 'rpush', shrinks: false,
  encode: encodePush, decode: decodePush(EV_RPUSH), apply: (ks, e) => applyPush(ks, e, false),
}

const encodePop = (w: ByteWriter, e: ListPopEvent): void => {
  writeDbKey(w, e.db, e.key)
  w.varuint(e.count)
}
const decodePop = (code: PopCode) => (r: ByteReader): ListPopEvent =>
  ({ code, db: readDb(r), key: r.str(), count: r.varuint() })

export const lpopEvent: EventType<ListPopEvent> = {
  code: EV_LPOP, name: 'lpop', shrinks: true,
  encode: encodePop, decode: decodePop(EV_LPOP), apply: (ks, e) => applyPop(ks, e, true),
}

export const rpopEvent: EventType<ListPopEvent> = {
  code: EV_RPOP, name: 'rpop', shrinks: true,
  encode: encodePop, decode: decodePop(EV_RPOP), apply: (ks, e) => applyPop(ks, e, false),
}

export const lsetEvent: EventType<ListSetEvent> = {
  code: EV_LSET, name: 'lset', shrinks: false,
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.index)
    w.bytes(e.item)
  },
  decode: (r) =>
    ({ code: EV_LSET, db: readDb(r), key: r.str(), index: r.varuint(), item: r.bytes() }),
  apply(ks, e) {
    const entry = entryOfType(ks, e.db, e.key, TYPE_LIST)
    if (entry === undefined) return null
    const list = entry.value as List
    const old = list.get(e.index)
    if (old === undefined) return null
    list.set(e.index, e.item)
    const delta = listItemBytes(e.item) - listItemBytes(old)
    ks.adjustBytes(entry, delta)
    ks.touch(e.db, e.key)
    return () => {
      list.set(e.index, old)
      ks.adjustBytes(entry, -delta)
      ks.touch(e.db, e.key)
    }
  },
}

export const linsertEvent: EventType<ListSetEvent> = {
  code: EV_LINSERT, name: 'linsert', shrinks: false,
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.index)
    w.bytes(e.item)
  },
  decode: (r) =>
    ({ code: EV_LINSERT, db: readDb(r), key: r.str(), index: r.varuint(), item: r.bytes() }),
  apply(ks, e) {
    const entry = entryOfType(ks, e.db, e.key, TYPE_LIST)
    if (entry === undefined) return null
    const list = entry.value as List
    if (!(e.index >= 0 && e.index <= list.length)) return null
    const index = e.index
    if (index === 0) list.pushFront(e.item)
    else if (index === list.length) list.pushBack(e.item)
    else list.splice(index, 0, e.item)
    const delta = listItemBytes(e.item)
    ks.adjustBytes(entry, delta)
    ks.touch(e.db, e.key)
    return () => {
      if (index === 0) list.popFront()
      else if (index === list.length - 1) list.popBack()
      else list.splice(index, 1)
      ks.adjustBytes(entry, -delta)
      ks.touch(e.db, e.key)
    }
  },
}

/** Replace the entry's deque by `next`; returns the undo (the old deque object comes back). */
function replaceList(ks: Keyspace, db: number, key: string, entry: Entry, next: List,
  removedBytes: number): Undo {
  const old = entry.value as List
  entry.value = next
  ks.adjustBytes(entry, -removedBytes)
  const deleted = deleteIfEmpty(ks, db, key, entry)
  if (!deleted) ks.touch(db, key)
  return () => {
    if (deleted) ks.set(db, key, entry)
    entry.value = old
    ks.adjustBytes(entry, removedBytes)
    if (!deleted) ks.touch(db, key)
  }
}

export const lremEvent: EventType<ListRemEvent> = {
  code: EV_LREM, name: 'lrem', shrinks: true,
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.f64(e.count)
    w.bytes(e.item)
  },
  decode: (r) => ({ code: EV_LREM, db: readDb(r), key: r.str(), count: r.f64(), item: r.bytes() }),
  apply(ks, e) {
    const entry = entryOfType(ks, e.db, e.key, TYPE_LIST)
    if (entry === undefined || Number.isNaN(e.count)) return null
    const items = (entry.value as List).toArray()
    const keep = new Array<boolean>(items.length).fill(true)
    let budget = e.count === 0 ? Infinity : Math.abs(e.count)
    let removed = 0
    if (e.count >= 0) {
      for (let i = 0; i < items.length && budget > 0; i++) {
        if ((items[i] as Buffer).equals(e.item)) { keep[i] = false; budget--; removed++ }
      }
    } else {
      for (let i = items.length - 1; i >= 0 && budget > 0; i--) {
        if ((items[i] as Buffer).equals(e.item)) { keep[i] = false; budget--; removed++ }
      }
    }
    if (removed === 0) return null
    const next = new Deque<Buffer>()
    for (let i = 0; i < items.length; i++) if (keep[i] === true) next.pushBack(items[i] as Buffer)
    return replaceList(ks, e.db, e.key, entry, next, removed * listItemBytes(e.item))
  },
}

export const ltrimEvent: EventType<ListTrimEvent> = {
  code: EV_LTRIM, name: 'ltrim', shrinks: true,
  encode(w, e) {
    writeDbKey(w, e.db, e.key)
    w.varuint(e.left)
    w.varuint(e.right)
  },
  decode: (r) =>
    ({ code: EV_LTRIM, db: readDb(r), key: r.str(), left: r.varuint(), right: r.varuint() }),
  apply(ks, e) {
    const entry = entryOfType(ks, e.db, e.key, TYPE_LIST)
    if (entry === undefined) return null
    const list = entry.value as List
    const left = Math.min(e.left, list.length)
    const right = Math.min(e.right, list.length - left)
    if (left === 0 && right === 0) return null
    const head: Buffer[] = []
    const tail: Buffer[] = []
    for (let i = 0; i < left; i++) head.push(list.popFront() as Buffer)
    for (let i = 0; i < right; i++) tail.push(list.popBack() as Buffer)
    const bytes = itemsBytes(head) + itemsBytes(tail)
    ks.adjustBytes(entry, -bytes)
    const deleted = deleteIfEmpty(ks, e.db, e.key, entry)
    if (!deleted) ks.touch(e.db, e.key)
    return () => {
      if (deleted) ks.set(e.db, e.key, entry)
      for (let i = head.length - 1; i >= 0; i--) list.pushFront(head[i] as Buffer)
      for (let i = tail.length - 1; i >= 0; i--) list.pushBack(tail[i] as Buffer)
      ks.adjustBytes(entry, bytes)
      if (!deleted) ks.touch(e.db, e.key)
    }
  },
}
