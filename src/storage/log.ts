// The event log writer: appends records to the ring and commits them in groups.
// Invariants (lsn = position in the unbounded log; ring offset = lsn % ringBytes):
//   headLsn <= committedLsn <= tailLsn,  tailLsn - headLsn < ringBytes
//   [headLsn, committedLsn)  durable: what recovery replays (named by the head and tail words)
//   [committedLsn, tailLsn)  appended, not yet durable state: written into the ring with blanket
//                            permission (recovery never reads past the committed tail)
// commit(): flush the appended range, then ONE aligned store of the tail word (the commit point,
// commit permission), then flush it. moveHead(): one store of the head word after the checkpoint
// it names is committed (blanket: recovery from either head yields the same state), then flush;
// only after that may the ring reuse the space before the new head.

import { assert } from '../assert.js'
import { ByteWriter } from '../state/bytes.js'
import { encodeWord, HEAD_TAG, TAIL_TAG } from './cdb.js'
import { HEAD_WORD_OFFSET, LOG_OFFSET, TAIL_WORD_OFFSET } from './layout.js'
import type { PmRegion } from './pm-region.js'
import {
  beginRecord, finishRecord, MIN_RECORD_BYTES, normalizeLsn, padRecord, recordBytes,
} from './record-codec.js'

export interface LogPosition {
  headLsn: number
  tailLsn: number
}

export interface LogTestHooks {
  /** Mutation for the PoWER checker's own test: store the tail word before flushing records. */
  commitBeforeFlush?: boolean
}

export class Log {
  headLsn: number
  committedLsn: number
  tailLsn: number
  readonly ringBytes: number
  /** Scratch writer for the record being built (payload written by the caller). */
  readonly writer = new ByteWriter(64 * 1024)
  appendedRecords = 0
  appendedBytes = 0
  commits = 0

  constructor(
    readonly region: PmRegion,
    readonly seed: bigint,
    ringBytes: number,
    position: LogPosition,
    readonly hooks: LogTestHooks = {},
  ) {
    this.ringBytes = ringBytes
    this.headLsn = position.headLsn
    this.committedLsn = position.tailLsn
    this.tailLsn = position.tailLsn
    assert(this.tailLsn - this.headLsn < ringBytes, 'log longer than its ring')
  }

  /** Bytes in use, counting appended but uncommitted records. */
  get usedBytes(): number {
    return this.tailLsn - this.headLsn
  }

  get hasUncommitted(): boolean {
    return this.tailLsn !== this.committedLsn
  }

  /** The bytes a record of this payload would consume at the current tail (with any pad). */
  costOf(payloadBytes: number): number {
    const total = recordBytes(payloadBytes)
    const left = this.ringBytes - (this.tailLsn % this.ringBytes)
    const padding = total > left ? left : 0
    return padding + normalizeLsn(this.tailLsn + padding + total, this.ringBytes) -
      (this.tailLsn + padding)
  }

  /** True when a record of this payload fits with `reserveBytes` left over. */
  fits(payloadBytes: number, reserveBytes: number): boolean {
    if (recordBytes(payloadBytes) > this.ringBytes - MIN_RECORD_BYTES) return false
    return this.usedBytes + this.costOf(payloadBytes) + reserveBytes < this.ringBytes
  }

  /**
   * Append the record built in `writer` (beginRecord + payload) at the tail; returns its lsn.
   * The caller checked fits(); this asserts it.
   */
  append(kind: number): number {
    const payloadBytes = this.writer.length - 16
    assert(this.fits(payloadBytes, 0), 'append without room')
    const total = recordBytes(payloadBytes)
    const left = this.ringBytes - (this.tailLsn % this.ringBytes)
    if (total > left) {
      this.region.write(LOG_OFFSET + (this.tailLsn % this.ringBytes),
        padRecord(this.tailLsn, this.seed), 'blanket')
      this.tailLsn += left
    }
    const lsn = this.tailLsn
    const bytes = finishRecord(this.writer, kind, lsn, this.seed)
    this.region.write(LOG_OFFSET + (lsn % this.ringBytes), bytes, 'blanket')
    this.tailLsn = normalizeLsn(lsn + total, this.ringBytes)
    this.appendedRecords++
    this.appendedBytes += total
    return lsn
  }

  /** Forget the appended, uncommitted records from `lsn` on (a checkpoint that ran out of room). */
  truncate(lsn: number): void {
    assert(lsn >= this.committedLsn && lsn <= this.tailLsn, 'truncate only uncommitted records')
    this.tailLsn = lsn
  }

  /** Start building a record: returns the writer to put the payload into. */
  begin(): ByteWriter {
    beginRecord(this.writer)
    return this.writer
  }

  /** Make every appended record durable state: flush, one commit store, flush. */
  commit(): void {
    if (!this.hasUncommitted) return
    const from = this.committedLsn % this.ringBytes
    const to = this.tailLsn % this.ringBytes
    const word = encodeWord(TAIL_TAG, to, this.seed)
    if (this.hooks.commitBeforeFlush === true) {
      this.region.store64(TAIL_WORD_OFFSET, word.lo, word.hi, 'commit')
    }
    if (from < to) {
      this.region.flush(LOG_OFFSET + from, to - from)
    } else {
      this.region.flush(LOG_OFFSET + from, this.ringBytes - from)
      if (to > 0) this.region.flush(LOG_OFFSET, to)
    }
    if (this.hooks.commitBeforeFlush !== true) {
      this.region.store64(TAIL_WORD_OFFSET, word.lo, word.hi, 'commit')
    }
    this.region.flush(TAIL_WORD_OFFSET, 8)
    this.committedLsn = this.tailLsn
    this.commits++
  }

  /** Point the head at a committed checkpoint's BEGIN record; frees the space before it. */
  moveHead(lsn: number): void {
    assert(lsn >= this.headLsn && lsn < this.committedLsn, 'head must move forward, within commits')
    const word = encodeWord(HEAD_TAG, lsn % this.ringBytes, this.seed)
    this.region.store64(HEAD_WORD_OFFSET, word.lo, word.hi, 'blanket')
    this.region.flush(HEAD_WORD_OFFSET, 8)
    this.headLsn = lsn
  }
}
