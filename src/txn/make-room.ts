// The pool as a second limit (issue 17): what Store.appendTransaction does, under an eviction
// policy (a RoomMaker: the server's Evictor, commands/evict.ts), for a transaction that does not
// fit in the log even after compaction. Two ways, cheapest first:
// 1. evictToFit: DELs of other keys appended to the transaction's own events, in its record, so
//    they share its commit point (both durable or neither). Each evicted key frees its live bytes
//    in the reserve (storage/checkpoint.ts INV) but not in the checkpoint already written, which
//    still holds it: enough for transactions up to about a fifth of the ring (measured on a 2 MiB
//    pool after a fill: a SET of 0.3 ring refused; 0.25 taken).
// 2. evictFirst, when 1 fails: evict first, then append. With the transaction undone, the
//    evictions are a transaction of their own (DELs only), appended, then compacted away by a
//    fresh checkpoint (checkpointNow, whose group commit makes them durable BEFORE the
//    transaction, which may still be refused: the evictions stay, as Redis's do when the command
//    after them meets -OOM); then the transaction is applied again on top and appended. Each
//    round evicts about half of what is missing: a key frees its bytes twice (the reserve and
//    the checkpoint). Only a transaction the pool cannot hold with every other key evicted is
//    refused.
// Invariants, and why:
// - An eviction is never durable after the write it made room for, and never revealed before it
//   is durable: in 1 it is in the write's record; in 2 it is in an earlier record, committed by
//   the compaction's group commit before the write is appended; its `evicted` notification and
//   tracking invalidation leave with the held output (commands/evict.ts settled).
// - Evicting first reorders it before the transaction's events, which were made against the
//   state with those keys. Every event names one key or a whole database (state/event-registry),
//   and applies as a function of that key's state alone, so excluding every key the transaction
//   names (RoomMaker.evictInto's `named`) makes the reapplied events change exactly what they
//   changed before (a database-wide FLUSH/SWAPDB commutes with a DEL of a key of it, the key
//   renamed by the swap). What the transaction READ of an evicted key is as if the eviction came
//   after it: the keyspace reached is the same.
// - A refused transaction leaves nothing of its own (commitNoWait's abort); a refused side
//   transaction of evictions is undone before the transaction is applied again.

import { overCapacityBytes, smallReserveBytes, writeReserveBytes } from '../storage/checkpoint.js'
import { RECORD_HEADER_BYTES, recordBytes } from '../storage/record-codec.js'
import type { Store } from './engine.js'
import { Transaction } from './transaction.js'

/** Eviction rounds for one transaction that does not fit (each evicts what is still missing). */
const EVICT_ROUNDS_MAX = 8

/**
 * What makes room in a full pool under an eviction policy (the server's Evictor,
 * commands/evict.ts): the pool as a second limit.
 */
export interface RoomMaker {
  /**
   * Apply DEL events into `txn` (after its own events) of keys none of `named`'s events names
   * (`named` is `txn` itself, or the transaction the evictions make room for), until the live
   * bytes fell by about `bytes`; false when nothing could be evicted.
   */
  evictInto(txn: Transaction, bytes: number, named?: Transaction): boolean
  /** The transaction evictInto evicted into was appended (true) or refused (false). */
  settled(appended: boolean): void
  /** False when evictInto never evicts (noeviction): refusals skip futile compactions. */
  canEvict(): boolean
}

/** Make room for `txn` (applied, not appended) by evictions; true when it is appended. */
export function makeRoom(store: Store, txn: Transaction, maker: RoomMaker): boolean {
  // Nothing is evicted for a transaction no eviction can make room for.
  if (hopeless(store, txn)) return false
  const sp = txn.savepoint()
  if (evictToFit(store, txn, maker)) return true
  txn.rollbackTo(sp) // its evictions, given up
  return evictFirst(store, txn, maker)
}

/** Log bytes `txn`'s record lacks to fit with its reserve (> 0: it does not fit). */
function missingFor(store: Store, txn: Transaction): number {
  const w = store.log.begin()
  txn.encodeInto(w)
  return Math.max(store.log.shortfallBytes(w.length, store.reserveFor(txn)),
    store.overCapacity(txn))
}

/** 1 above: evictions appended to `txn`'s own events, in its record. */
function evictToFit(store: Store, txn: Transaction, maker: RoomMaker): boolean {
  let appended = false
  for (let round = 0; round < EVICT_ROUNDS_MAX && !appended; round++) {
    const missing = missingFor(store, txn)
    // Each evicted key frees its live bytes twice: in the log's reserve and in the next
    // checkpoint; and costs a DEL of its key in the record.
    if (!maker.evictInto(txn, missing + (missing >> 3) + 64)) break
    appended = store.tryAppend(txn)
  }
  maker.settled(appended)
  return appended
}

/**
 * Whether `txn` (applied) could not fit even in a pool holding nothing else: its record without a
 * pad, what it adds to the live bytes and the reserves reach the ring (Log.fits with no bytes
 * used).
 */
function hopeless(store: Store, txn: Transaction): boolean {
  const w = store.log.begin()
  txn.encodeInto(w)
  const recordTotal = recordBytes(w.length - RECORD_HEADER_BYTES)
  const liveWith = store.keyspace.liveBytes
  txn.undoAll()
  const added = liveWith - store.keyspace.liveBytes
  txn.reapply()
  const ring = store.log.ringBytes
  return recordTotal + Math.max(0, added) + writeReserveBytes(ring) +
    (txn.shrinksOnly() ? 0 : smallReserveBytes(ring)) >= ring ||
    overCapacityBytes(ring, Math.max(0, added), txn.shrinksOnly()) > 0
}

/**
 * The compaction of evictFirst (when `evicted`, or when it pads): a checkpoint, after a pad to
 * the ring's end when the checkpoint and a record of `recordTotal` bytes after it would not fit
 * before the end (the record would need a pad of its own, up to its size again, after the
 * checkpoint; this pad is behind the head once the checkpoint completes). True when it padded.
 */
function compactBefore(store: Store, recordTotal: number, evicted: boolean): boolean {
  const log = store.log
  const reserve = store.keyspace.liveBytes + writeReserveBytes(log.ringBytes)
  const padded = log.ringBytes - log.tailLsn % log.ringBytes < reserve + recordTotal &&
    log.padToRingEnd(reserve)
  if (padded || evicted) store.checkpointNow()
  return padded
}

/** 2 above: evictions as a transaction of their own, compacted away, then `txn` again. */
function evictFirst(store: Store, txn: Transaction, maker: RoomMaker): boolean {
  for (let round = 0; round < EVICT_ROUNDS_MAX; round++) {
    const w = store.log.begin()
    txn.encodeInto(w)
    const missing = store.log.shortfallBytes(w.length, store.reserveFor(txn))
    // Over CAP (storage/checkpoint.ts) an evicted key counts once, not twice.
    const overCap = store.overCapacity(txn)
    const recordTotal = recordBytes(w.length - RECORD_HEADER_BYTES)
    txn.undoAll()
    const side = new Transaction(store)
    let appended = false
    const bytes = Math.max((missing >> 1) + (missing >> 4), overCap + (overCap >> 3)) + 64
    if (maker.evictInto(side, bytes, txn)) {
      appended = store.appendSide(side)
    }
    side.closeSide(appended)
    maker.settled(appended)
    // With nothing (more) to evict, the pad may still be what is missing: the record must not
    // wrap around the ring's end.
    const padded = compactBefore(store, recordTotal, appended)
    txn.reapply()
    if (!appended && !padded) return false
    if (store.tryAppend(txn)) return true
    if (!appended) return false
  }
  return false
}
