// Incremental ("fuzzy") checkpoints that compact the log while serving (DESIGN rule 6).
// A checkpoint is: a CHECKPOINT_BEGIN record at lsn c0, then CHECKPOINT_CHUNK records holding a
// RESTORE event (the whole current value) for every key (the first chunk also holds one
// FUNCTION_PUT per function library, state/function-events.ts), written a few hundred at a time
// between client requests, then a CHECKPOINT_END record naming c0 (and at its commit a MARK,
// log.ts sealGroup).
// Ordinary transactions interleave. Once END is committed, the prev word moves to the old head
// and the head word to c0 (log.ts moveHead), and the space before the old head is reused: the
// previous checkpoint and the log after it stay, for the fallback (docs/checkpoint-fallback.md).
// Why recovery from c0 (starting empty) rebuilds exactly the live state:
// - a key that exists at the end was either visited by the iteration (a RESTORE after every
//   earlier change of it, and later changes replay on top), or was created after c0 — at a hash
//   position of its database's KeyMap the iteration had passed — and then every event that made
//   it, from absent on, is in the log after c0;
// - deltas replayed before a key's RESTORE act on a missing or partial key; apply is total and
//   the RESTORE overwrites whatever they made (state/event.ts);
// - a key deleted before its visit is never restored and its DEL is in the log after c0.
// Replacing a database map (FLUSHDB, FLUSHALL, SWAPDB) invalidates the iterators: the keyspace
// epoch changes and the checkpoint is abandoned (its records are harmless) and started anew.
// Chunk records change no recovered state, so they ride along with any group commit.

import { assert } from '../assert.js'
import { encodeEvents, type Event } from '../state/event.js'
import { restoreOf } from '../state/core-events.js'
import { librarySnapshot } from '../state/function-events.js'
import { DB_COUNT, entryBytes, type Entry, type Keyspace } from '../state/keyspace.js'
import type { Log } from './log.js'
import {
  encodeCheckpointBegin, encodeCheckpointEnd, REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_CKPT_END,
} from './record-codec.js'

/** Budget a checkpoint slice counts per deferred event it applies (about a RESTORE's cost). */
const DEFERRED_EVENT_BYTES = 128
/** Aim for chunk records of about this size. */
export const CHUNK_TARGET_BYTES = 64 * 1024
/** Space kept free so deletes and FLUSH can always be logged, even in a full pool. */
export const SMALL_RESERVE_BYTES = 4096

// Space accounting (what keeps a full pool from being bricked):
//   INV  free log space >= liveBytes + writeReserveBytes(ring)
//                          + (a checkpoint running ? liveBytes : 0)
// after every admitted transaction, shrinking ones included (engine.ts tryAppend). A checkpoint
// of the live state costs at most liveBytes (the estimate exceeds each RESTORE's encoding) plus
// BEGIN, END, chunk framing and one pad at the ring's end (at most a chunk record: the chunk
// target plus one entry): writeReserveBytes covers that for entries up to about three chunk
// targets. So a checkpoint started under INV completes without a reserve of its own; while one
// runs, the second liveBytes keeps room for the NEXT checkpoint, which is what compacts the
// transactions written during this one — and what must run when this one is lost to a crash or
// abandoned (its records are then garbage until a later checkpoint completes). Non-shrinking
// transactions also keep smallReserveBytes free, room only deletes and FLUSH may use. A
// transaction refused while a checkpoint runs makes the engine finish it and take a fresh one
// (checkpointNow), after which it fits again. So an incremental checkpoint (whose records are
// committed with the transactions around it) starts only with room for two (incrementalReserve);
// otherwise compaction runs synchronously in checkpointNow, whose records stay uncommitted,
// hence no garbage after a crash, until its END commits. Small pools (a ring may be as small as
// MIN_RING_BYTES): the sizes scale down with the ring, or the fixed ones would refuse every write.
//   CAP  liveBytes <= liveCapacityBytes(ring) after every non-shrinking transaction.
// INV alone lets liveBytes approach (ring - writeReserve - smallReserve) / 2, where a compaction
// (a checkpoint costs up to liveBytes + writeReserveBytes) cannot restore INV: a delete that
// frees less than its record (or nothing: a DEL of a missing key in a raw transaction) was then
// refused in a full pool for good (crash-random seed 1000954761). Under CAP, after a compaction
// free >= ring - liveBytes - writeReserve >= liveBytes + writeReserve + smallReserve: deletes
// fit, after at most one compaction.
export function chunkTargetBytes(ringBytes: number): number {
  return Math.min(CHUNK_TARGET_BYTES, Math.floor(ringBytes / 256) * 8)
}
export function writeReserveBytes(ringBytes: number): number {
  return 4 * chunkTargetBytes(ringBytes)
}
/** Free space an incremental checkpoint needs at its start to keep INV (see above). */
export function incrementalReserveBytes(ringBytes: number, liveBytes: number): number {
  return 2 * liveBytes + writeReserveBytes(ringBytes)
}
export function smallReserveBytes(ringBytes: number): number {
  return Math.min(SMALL_RESERVE_BYTES, Math.floor(ringBytes / 128) * 8)
}
/**
 * The live bytes a non-shrinking transaction may leave (CAP above): a compaction leaves at most
 * liveBytes + writeReserveBytes in the log, and the rest of the ring must still hold INV's
 * liveBytes + writeReserveBytes plus smallReserveBytes for deletes.
 */
export function liveCapacityBytes(ringBytes: number): number {
  return Math.floor((ringBytes - 2 * writeReserveBytes(ringBytes) - smallReserveBytes(ringBytes)) / 2)
}
/** The free log bytes a transaction must leave: INV, and smallReserve unless it only shrinks. */
export function admissionReserveBytes(ringBytes: number, liveBytes: number, shrinksOnly: boolean,
  checkpointRunning: boolean): number {
  return liveBytes + writeReserveBytes(ringBytes) + (shrinksOnly ? 0 : smallReserveBytes(ringBytes)) +
    (checkpointRunning ? liveBytes : 0)
}
/** Live bytes over CAP a transaction leaves (<= 0: within it; shrinking ones are exempt). */
export function overCapacityBytes(ringBytes: number, liveBytes: number, shrinksOnly: boolean):
  number {
  return shrinksOnly ? 0 : liveBytes - liveCapacityBytes(ringBytes)
}

export type StepResult = 'more' | 'done' | 'abandoned'

interface Active {
  beginLsn: number
  epoch: number
  db: number
  /** Over the current database; null until its deferred events are all applied. */
  iterator: Iterator<[string, Entry]> | null
  keys: number
  chunks: number
  /** The function libraries are written (first, in the first chunk). */
  librariesWritten: boolean
}

export class Checkpointer {
  active: Active | null = null
  completed = 0
  abandoned = 0
  lastCompletedBeginLsn = -1

  constructor(private readonly log: Log, private readonly keyspace: () => Keyspace) {}

  /** Append the BEGIN record; false unless `reserveBytes` stay free after it. */
  start(reserveBytes = 0): boolean {
    assert(this.active === null, 'checkpoint already running')
    const ks = this.keyspace()
    // Keys marked corrupt (keyspace.ts, "Verify before apply") are absent from the maps: a
    // checkpoint would drop them silently and move the head past the damaged record that a
    // restart must report. None starts while any is marked; none completes if one appears.
    if (ks.corruptKeyCount > 0) return false
    const w = this.log.begin()
    encodeCheckpointBegin(w, { flags: 0, keyCountEstimate: ks.keyCountEstimate() })
    if (!this.log.fits(w.length - 16, reserveBytes)) return false
    const beginLsn = this.log.append(REC_CKPT_BEGIN)
    this.active = { beginLsn, epoch: ks.epoch, db: 0, iterator: null, keys: 0, chunks: 0,
      librariesWritten: false }
    return true
  }

  abandon(): void {
    if (this.active === null) return
    this.active = null
    this.abandoned++
  }

  /**
   * Write up to `maxBytes` of snapshot. 'done' means the END record is appended: the caller
   * commits and then moves the head to `beginLsn` (finish()).
   */
  step(maxBytes: number): StepResult {
    const a = this.active
    assert(a !== null, 'no checkpoint running')
    const ks = this.keyspace()
    if (ks.epoch !== a.epoch) {
      this.abandon()
      return 'abandoned'
    }
    let budget = maxBytes
    let waiting = false // for deferred events of the next database to be applied
    while (budget > 0 && !waiting) {
      const events: Event[] = []
      let bytes = 0
      if (!a.librariesWritten) {
        // Each library whole (a FUNCTION_PUT), like a key's RESTORE: see function-events.ts.
        for (const e of librarySnapshot(ks)) {
          events.push(e)
          bytes += e.name.length + e.payload.length + 16
        }
        a.librariesWritten = true
      }
      while (bytes < chunkTargetBytes(this.log.ringBytes)) {
        if (a.iterator === null) {
          // A database still holding deferred events (just after startup) is applied first, a
          // budget at a time: its iteration must see every key (keyspace.ts, deferred index).
          if (ks.pendingIn(a.db) > 0) {
            const before = ks.pendingIn(a.db)
            ks.materializeSome(Math.max(1, Math.floor(budget / DEFERRED_EVENT_BYTES)), a.db)
            budget -= (before - ks.pendingIn(a.db)) * DEFERRED_EVENT_BYTES
            if (ks.pendingIn(a.db) > 0) {
              waiting = true
              break
            }
          }
          a.iterator = ks.db(a.db).entries()
        }
        const next = a.iterator.next()
        if (next.done === true) {
          a.db++
          a.iterator = null
          if (a.db >= DB_COUNT) break
          continue
        }
        const [key, entry] = next.value
        events.push(restoreOf(a.db, key, entry))
        bytes += entryBytes(key, entry)
      }
      if (events.length > 0) {
        const w = this.log.begin()
        encodeEvents(w, events)
        if (!this.log.fits(w.length - 16, 0)) {
          this.abandon()
          return 'abandoned'
        }
        this.log.append(REC_CKPT_CHUNK)
        a.keys += events.length
        a.chunks++
        budget -= bytes
      }
      if (a.db >= DB_COUNT) {
        if (ks.corruptKeyCount > 0) {
          this.abandon()
          return 'abandoned'
        }
        const w = this.log.begin()
        encodeCheckpointEnd(w, { beginLsn: a.beginLsn, keys: a.keys })
        if (!this.log.fits(w.length - 16, 0)) {
          this.abandon()
          return 'abandoned'
        }
        // Its commit puts a MARK after it (log.ts sealGroup): a damaged END is never the last
        // committed record.
        this.log.append(REC_CKPT_END)
        return 'done'
      }
    }
    return 'more'
  }

  /** After the END record is committed: move the head, reclaiming the space before it. */
  finish(): void {
    const a = this.active
    assert(a !== null, 'no checkpoint running')
    assert(!this.log.hasUncommitted, 'END must be committed before the head moves')
    this.log.moveHead(a.beginLsn)
    this.lastCompletedBeginLsn = a.beginLsn
    this.active = null
    this.completed++
  }
}
