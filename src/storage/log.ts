// The event log writer: appends records to the ring and commits them in groups.
// Invariants (lsn = position in the unbounded log; ring offset = lsn % ringBytes):
//   prevLsn <= headLsn <= committedLsn <= tailLsn,  tailLsn - prevLsn < ringBytes
//   [prevLsn, headLsn)       the previous checkpoint and the log after it, kept for the fallback
//                            (docs/checkpoint-fallback.md): never overwritten while the prev
//                            words name it; dropped (prev := head) before an append would need
//                            its space, so it never makes anything refuse (appendFitting)
//   [headLsn, committedLsn)  durable: what recovery replays (named by the head and tail words)
//   [committedLsn, tailLsn)  appended, not yet durable state: written into the ring with blanket
//                            permission (recovery never reads past the committed tail)
// commit(): flush the appended range, then ONE aligned store of the tail word's copy 0 (the
// commit point, commit permission), then flush it (PmRegion.commit: the three in order, one
// native call); then the same value into copy 1 (blanket: recovery prefers copy 0 while it
// verifies) and its flush, before commit() returns and any reply depends on it (layout.ts,
// "Redundancy").
// moveHead(): the prev word's copies := the old head, then the head word's copy 0, then copy 1,
// each stored and flushed, after the checkpoint it names is committed (blanket: recovery from
// either head yields the same state, and prev <= head at every crash point); only after that
// may the ring reuse the space before the new prev.
// Every record carries the txn sequence (record-codec.ts): `seq` is the one the last appended
// record carries; a TXN record takes nextSeq(seq).
// Every commit ends with a TXN or a MARK (sealGroup): a group whose last record is a checkpoint
// record (an incremental checkpoint's BEGIN or chunks, a crash before its END; or its END) gets
// a MARK after it, so that a damaged checkpoint record is never the last committed record — the
// MARK after it proves it held no transaction (recovery/walk.ts), while a damaged last record of
// more than MIN_RECORD_BYTES is a transaction. Best effort: a MARK that does not fit the ring is
// left out (a full ring; recovery then refuses such damage, as a damaged transaction).

import { assert } from '../assert.js'
import { ByteWriter } from '../state/bytes.js'
import { encodeWord, HEAD_TAGS, PREV_TAGS, TAIL_TAGS } from './cdb.js'
import { HEAD_WORD_OFFSETS, LOG_OFFSET, PREV_WORD_OFFSETS, TAIL_WORD_OFFSETS } from './layout.js'
import type { PmRegion } from './pm-region.js'
import {
  beginRecord, frameRecord, MIN_RECORD_BYTES, padRecord, REC_MARK, REC_TXN, RECORD_HEADER_BYTES,
  recordBytes, seqAfter,
} from './record-codec.js'

export interface LogPosition {
  headLsn: number
  tailLsn: number
  /** The previous head kept for the fallback (default: headLsn, none kept). */
  prevLsn?: number
  /** The txn sequence of the last record before tailLsn (default 1: none yet). */
  seq?: number
}

export interface LogTestHooks {
  /** Mutation for the PoWER checker's own test: store the tail word before flushing records. */
  commitBeforeFlush?: boolean
}

/** The record scratch's size, and the most it keeps between records. */
const WRITER_BYTES = 64 * 1024
const WRITER_KEEP_BYTES = 4 * 1024 * 1024
const TAIL_COPY0 = TAIL_WORD_OFFSETS[0] as number
const TAIL_COPY1 = TAIL_WORD_OFFSETS[1] as number

export class Log {
  headLsn: number
  prevLsn: number
  committedLsn: number
  tailLsn: number
  /** The txn sequence the last appended record carries. */
  seq: number
  /** The lsn of the last TXN record appended (-1: none since open). */
  private lastTxnLsn = -1
  /** The kind of the last record appended (-1: unknown, after a truncate). */
  private lastKind = -1
  /** MARKs appended by sealGroup (a commit that would have ended with a checkpoint record). */
  sealMarks = 0
  /** Times the fallback was dropped because an append needed its space. */
  fallbackDrops = 0
  readonly ringBytes: number
  /** Scratch writer for the record being built (payload written by the caller). */
  readonly writer = new ByteWriter(WRITER_BYTES)
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
    this.prevLsn = position.prevLsn ?? position.headLsn
    this.committedLsn = position.tailLsn
    this.tailLsn = position.tailLsn
    this.seq = position.seq === undefined || position.seq === 0 ? 1 : position.seq
    assert(this.prevLsn <= this.headLsn, 'prev after head')
    assert(this.tailLsn - this.prevLsn < ringBytes, 'log longer than its ring')
  }

  /**
   * Bytes in use since the head, counting appended but uncommitted records: what admission and
   * the checkpoint trigger count (the fallback's space is not in it: it is dropped when needed).
   */
  get usedBytes(): number {
    return this.tailLsn - this.headLsn
  }

  /** Bytes the ring may not reuse: usedBytes plus the fallback's [prevLsn, headLsn). */
  get heldBytes(): number {
    return this.tailLsn - this.prevLsn
  }

  /** True while the previous checkpoint is kept for the fallback. */
  get hasFallback(): boolean {
    return this.prevLsn < this.headLsn
  }

  get hasUncommitted(): boolean {
    return this.tailLsn !== this.committedLsn
  }

  /**
   * The log bytes a record of `total` (<= ringBytes) bytes consumes when the tail is at ring
   * offset `at`: a pad to the ring's end if it does not fit before it, the record, and the gap
   * after it when that is too small for a record (normalizeLsn). Takes the offset so that a
   * caller computes the tail's `%` once: lsns are doubles, and a double `%` is a call to fmod.
   */
  private costAt(total: number, at: number): number {
    const left = this.ringBytes - at
    if (total > left) {
      return left + (this.ringBytes - total < MIN_RECORD_BYTES ? this.ringBytes : total)
    }
    return left - total < MIN_RECORD_BYTES ? left : total
  }

  /** True when a record of this payload fits with `reserveBytes` left over. */
  fits(payloadBytes: number, reserveBytes: number): boolean {
    const total = recordBytes(payloadBytes)
    if (total > this.ringBytes - MIN_RECORD_BYTES) return false
    return this.usedBytes + this.costAt(total, this.tailLsn % this.ringBytes) + reserveBytes <
      this.ringBytes
  }

  /**
   * The log bytes a record of `writerBytes` (the writer's length: header and payload) lacks to
   * fit with `reserveBytes` left over (fits() is shortfallBytes(...) <= 0, for records the ring
   * can hold at all).
   */
  shortfallBytes(writerBytes: number, reserveBytes: number): number {
    const total = recordBytes(writerBytes - RECORD_HEADER_BYTES)
    return this.usedBytes + this.costAt(total, this.tailLsn % this.ringBytes) + reserveBytes -
      this.ringBytes + 1
  }

  /**
   * Append the record built in `writer` (beginRecord + payload) at the tail; returns its lsn.
   * The caller checked fits(); this asserts it.
   */
  append(kind: number): number {
    assert(this.fits(this.writer.length - RECORD_HEADER_BYTES, 0), 'append without room')
    return this.appendFitting(kind)
  }

  /**
   * append() when the record fits with `reserveBytes` left over, as one check (the engine's
   * admission of a transaction); returns its lsn, or -1 (nothing written) when it does not fit.
   */
  tryAppend(kind: number, reserveBytes: number): number {
    if (!this.fits(this.writer.length - RECORD_HEADER_BYTES, reserveBytes)) return -1
    return this.appendFitting(kind)
  }

  private appendFitting(kind: number): number {
    let at = this.tailLsn % this.ringBytes
    const left = this.ringBytes - at
    const size = recordBytes(this.writer.length - RECORD_HEADER_BYTES)
    this.keepRing(this.costAt(size, at))
    if (size > left) {
      this.writePad(at, left)
      at = 0
    }
    const lsn = this.tailLsn
    if (kind === REC_TXN) {
      // A TXN is longer than a bare record (recovery/walk.ts tells a damaged last record of
      // MIN_RECORD_BYTES from a transaction by this).
      assert(size > MIN_RECORD_BYTES, 'a transaction record holds its event count')
      this.seq = seqAfter(this.seq, kind)
      this.lastTxnLsn = lsn
    }
    const total = frameRecord(this.writer, kind, lsn, this.seq)
    this.region.writeSealed(LOG_OFFSET + at, this.writer.buf, total, this.seed, 'blanket')
    this.keepWriterSmall()
    // = normalizeLsn(lsn + total): the record fits before the ring's end, so costAt is the
    // record and the gap after it.
    this.tailLsn = lsn + this.costAt(total, at)
    this.lastKind = kind
    this.appendedRecords++
    this.appendedBytes += total
    return lsn
  }

  /**
   * Fill the ring from the tail to its end with a PAD record, as an append that does not fit
   * before the end writes first, so that the next record starts at the ring's start
   * (txn/make-room.ts: a checkpoint written there moves the head past the pad, and the longest
   * run of free ring follows it). A blanket write past the committed tail, like any pad. False,
   * nothing written, when the tail is at the ring's start or the pad would leave less than
   * `reserveBytes` free.
   */
  padToRingEnd(reserveBytes: number): boolean {
    const at = this.tailLsn % this.ringBytes
    const left = this.ringBytes - at
    if (at === 0 || this.usedBytes + left + reserveBytes >= this.ringBytes) return false
    this.keepRing(left)
    this.writePad(at, left)
    return true
  }

  /**
   * Before `bytes` more are appended: the fallback is best effort, its space is given up before
   * the ring reuses it.
   */
  private keepRing(bytes: number): void {
    if (this.prevLsn < this.headLsn && this.heldBytes + bytes >= this.ringBytes) {
      this.dropFallback()
    }
  }

  /**
   * A PAD record at ring offset `at` (the tail's), `left` bytes to the ring's end. Neither a TXN
   * nor a MARK: a commit right after it is sealed by a MARK (sealGroup).
   */
  private writePad(at: number, left: number): void {
    this.region.write(LOG_OFFSET + at, padRecord(this.tailLsn, this.seed, this.seq), 'blanket')
    this.tailLsn += left
    this.lastKind = -1
  }

  /**
   * A record of a big value grew the scratch to its size: give that memory back once the record
   * is written or given up (issue 19: after a 512 MiB SET and its DEL the scratch held 1 GiB).
   */
  private keepWriterSmall(): void {
    if (this.writer.buf.length > WRITER_KEEP_BYTES) this.writer.buf = Buffer.alloc(WRITER_BYTES)
  }

  /** Forget the appended, uncommitted records from `lsn` on (a checkpoint that ran out of room). */
  truncate(lsn: number): void {
    assert(lsn >= this.committedLsn && lsn <= this.tailLsn, 'truncate only uncommitted records')
    // Only checkpoint records are truncated (engine.ts checkpointNow): no TXN, so `seq` stands.
    assert(this.lastTxnLsn < lsn, 'truncate would drop a transaction (its txn sequence)')
    this.tailLsn = lsn
    this.lastKind = -1
  }

  /** Start building a record: returns the writer to put the payload into. */
  begin(): ByteWriter {
    this.keepWriterSmall()
    beginRecord(this.writer)
    return this.writer
  }

  /**
   * End the group with a TXN or a MARK (the header's "Every commit ends"): a MARK after a last
   * record that is neither. Clobbers the writer (commit() is never called while a record is
   * being built in it).
   */
  private sealGroup(): void {
    if (this.lastKind === REC_TXN || this.lastKind === REC_MARK) return
    this.begin()
    if (!this.fits(0, 0)) return
    this.appendFitting(REC_MARK)
    this.sealMarks++
  }

  /** Make every appended record durable state: flush, one commit store, flush. */
  commit(): void {
    if (!this.hasUncommitted) return
    this.sealGroup()
    const from = this.committedLsn % this.ringBytes
    const to = this.tailLsn % this.ringBytes
    const word = encodeWord(TAIL_TAGS[0] as number, to, this.seed)
    if (this.hooks.commitBeforeFlush === true) {
      this.commitBeforeFlush(from, to, word.lo, word.hi)
    } else if (from < to) {
      // The usual case, one range: region.commit flushes it, stores the word, flushes the word.
      this.region.commit(LOG_OFFSET + from, to - from, TAIL_COPY0, word.lo, word.hi)
    } else {
      // The appended range wraps: flush its second part first, then commit with the first.
      if (to > 0) this.region.flush(LOG_OFFSET, to)
      this.region.commit(LOG_OFFSET + from, this.ringBytes - from, TAIL_COPY0, word.lo,
        word.hi)
    }
    // Copy 1, once copy 0 is durable.
    const copy = encodeWord(TAIL_TAGS[1] as number, to, this.seed)
    this.region.store64(TAIL_COPY1, copy.lo, copy.hi, 'blanket')
    this.region.flush(TAIL_COPY1, 8)
    this.committedLsn = this.tailLsn
    this.commits++
  }

  /** The broken protocol the PoWER checker must catch (hooks.commitBeforeFlush). */
  private commitBeforeFlush(from: number, to: number, lo: number, hi: number): void {
    this.region.store64(TAIL_COPY0, lo, hi, 'commit')
    if (from < to) {
      this.region.flush(LOG_OFFSET + from, to - from)
    } else {
      this.region.flush(LOG_OFFSET + from, this.ringBytes - from)
      if (to > 0) this.region.flush(LOG_OFFSET, to)
    }
    this.region.flush(TAIL_COPY0, 8)
  }

  /**
   * Point the head at a committed checkpoint's BEGIN record, keeping the old head's checkpoint
   * as the fallback (prev := old head, stored first); frees the space before the new prev.
   */
  moveHead(lsn: number): void {
    assert(lsn >= this.headLsn && lsn < this.committedLsn, 'head must move forward, within commits')
    this.storeWords(PREV_WORD_OFFSETS, PREV_TAGS, this.headLsn)
    this.prevLsn = this.headLsn
    this.storeWords(HEAD_WORD_OFFSETS, HEAD_TAGS, lsn)
    this.headLsn = lsn
  }

  /** Give up the fallback (prev := head), before the ring reuses its space. */
  dropFallback(): void {
    if (this.prevLsn === this.headLsn) return
    this.storeWords(PREV_WORD_OFFSETS, PREV_TAGS, this.headLsn)
    this.prevLsn = this.headLsn
    this.fallbackDrops++
  }

  /** Store and flush every copy of a root word, copy 0 first (blanket writes). */
  private storeWords(offsets: readonly number[], tags: readonly number[], lsn: number): void {
    for (let c = 0; c < offsets.length; c++) {
      const word = encodeWord(tags[c] as number, lsn % this.ringBytes, this.seed)
      this.region.store64(offsets[c] as number, word.lo, word.hi, 'blanket')
      this.region.flush(offsets[c] as number, 8)
    }
  }
}
