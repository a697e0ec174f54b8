// The log walk of recover(): from a checkpoint's BEGIN record to the committed tail, verifying
// every record before it is trusted and replaying transactions and checkpoint chunks into a
// fresh keyspace. recover.ts runs it from the head, and — when a record of the head's checkpoint
// is damaged and the previous checkpoint is kept — again from the prev word, with skipping
// allowed (docs/checkpoint-fallback.md).
// Invariants:
// - Nothing at or past the committed tail is read (a torn, unacknowledged append).
// - A record is used only after its CRC (pool-seeded), its lsn (= the position the walk
//   expects) and its kind check; a verified record whose events do not decode is corruption.
// - The txn sequence (record-codec.ts) of every verified record follows the one before it
//   (seqAfter) once the walk has seen a non-zero one: a broken chain is corruption.
// - Skipping (past the END of the checkpoint the walk started from, whose snapshot is then
//   whole, and only before the tail that tail word copy 1 names (stored after copy 0, so a tail
//   both named; a stale copy 0 naming the middle of a record stays a reported corruption):
//   a damaged record at d is skipped to
//   the first position p > d (8-aligned, before the tail, within MAX_SKIP_BYTES) holding a
//   record that verifies at lsn p; the skip stands only when that record's sequence is the one
//   the record before d implies (seqAfter(seq before d, its kind)), which proves [d, p) held
//   no TXN record: whatever it held (the head checkpoint's BEGIN, chunks or END, a pad, a mark,
//   a later checkpoint's records) changes no state replayed from a complete checkpoint before
//   it. A damaged record with no verifiable record after it is proven no TXN only when it spans
//   MIN_RECORD_BYTES to copy 1's tail (a MARK, the last of its commit: a TXN holds at least its
//   event count, so it is longer; log.ts asserts it when appending): so every commit ends with a
//   TXN or a MARK (log.ts sealGroup), and a damaged last record longer than that is refused as
//   a damaged transaction. A checkpoint with a skipped record never counts as complete
//   (newestCheckpointLsn).

import { DecodeError } from '../state/bytes.js'
import { applyEvents, decodeEvents, replayEventsDeferred } from '../state/event.js'
import { Keyspace } from '../state/keyspace.js'
import { LOG_OFFSET, TAIL_WORD_OFFSET, type PoolHeader } from '../storage/layout.js'
import {
  checkRecord, CKPT_FLAG_EMPTY, claimedPayloadBytes, decodeCheckpointBegin, decodeCheckpointEnd,
  MAX_SKIP_BYTES, MIN_RECORD_BYTES, normalizeLsn, REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_CKPT_END,
  REC_PAD, REC_TXN, RECORD_HEADER_BYTES, RECORD_KIND_NAMES, recordBytes, seqAfter,
  type RecordCheck,
} from '../storage/record-codec.js'
import type {
  MetaDamage, RecoveredLog, RecoveryProgress, RecoveryResult, RecoverOptions, RegionReader,
} from './recover.js'

export interface WalkStart {
  region: RegionReader
  header: PoolHeader
  seed: bigint
  formatVersion: number
  metaDamage: MetaDamage[]
  rootsInSync: boolean
  /**
   * The tail that vouches for a skip: tail word copy 1's (when it verifies), else the used
   * copy's. A crash between the two copies' stores leaves copy 1 at the previous commit's tail.
   */
  proofTailPhys: number
  /** Where the walk starts: the head's ring offset, or the prev word's. */
  startPhys: number
  headPhys: number
  tailPhys: number
  prevPhys: number
}

export interface WalkFailure {
  what: string
  reason: string
  offset: number
  lsn: number
  /** The walk had not reached the END of the checkpoint it started from. */
  beforeHeadEnd: boolean
}

export type WalkOutcome =
  | { kind: 'ok'; result: RecoveryResult & { kind: 'ok' }; skipped: [number, number][] }
  | { kind: 'corrupt'; result: RecoveryResult; failure: WalkFailure | null }

function lsnAt(head: Buffer): number {
  return head.readUInt32LE(8) + head.readUInt32LE(12) * 2 ** 32
}

type Verified = { ok: true; check: RecordCheck & { ok: true }; bytes: Buffer } |
  { ok: false; reason: string }

/** The record at `lsn`, verified, or why not. */
function readVerified(s: WalkStart, lsn: number, tailLsn: number): Verified {
  const ring = s.header.ringBytes
  const phys = lsn % ring
  const space = ring - phys
  const offset = LOG_OFFSET + phys
  const claimed = claimedPayloadBytes(s.region.read(offset, RECORD_HEADER_BYTES))
  const total = recordBytes(claimed)
  if (total > space || lsn + total > tailLsn) {
    return { ok: false, reason: `length ${claimed} runs past the ${total > space ? 'ring end' :
      'committed tail'}` }
  }
  const bytes = s.region.read(offset, total)
  const check = checkRecord(bytes, lsn, s.seed, space)
  return check.ok ? { ok: true, check, bytes } : { ok: false, reason: check.reason }
}

/** The first position after `from` holding a record that verifies there, or null. */
function scanForward(s: WalkStart, from: number, tailLsn: number): number | null {
  const ring = s.header.ringBytes
  let p = from + 8
  while (p < tailLsn && p - from < MAX_SKIP_BYTES) {
    const space = ring - (p % ring)
    if (space < MIN_RECORD_BYTES) {
      p += space
      continue
    }
    const head = s.region.read(LOG_OFFSET + (p % ring), RECORD_HEADER_BYTES)
    // Cheap filters first: a record names its own lsn and a known kind.
    if (lsnAt(head) === p && RECORD_KIND_NAMES[head[0] as number] !== undefined &&
        readVerified(s, p, tailLsn).ok) return p
    p += 8
  }
  return null
}

/** What replayRecord needs and keeps between records. */
interface Replay {
  keyspace: Keyspace
  log: RecoveredLog
  startLsn: number
  /** The last CKPT_BEGIN walked (-1 after a skip: that checkpoint is not complete). */
  lastBeginLsn: number
  deferIndex: boolean
  /** One closure for every deferred record. */
  verifyAgain: (record: Buffer, at: number) => string | null
}

/** Apply one verified record; throws DecodeError when its payload does not decode. */
function replayRecord(
  r: Replay, kind: number, bytes: Buffer, lsn: number, offset: number, payloadEnd: number,
): void {
  const log = r.log
  switch (kind) {
    case REC_TXN:
    case REC_CKPT_CHUNK:
      if (r.deferIndex) {
        // Deferred events are applied later from the region's bytes: their record is verified
        // again then (keyspace.ts, "Verify before apply"), by the same check as here.
        r.keyspace.deferFrom(lsn, offset, r.verifyAgain)
        replayEventsDeferred(r.keyspace, bytes, RECORD_HEADER_BYTES, payloadEnd)
      } else applyEvents(r.keyspace, decodeEvents(bytes, RECORD_HEADER_BYTES, payloadEnd))
      if (kind === REC_TXN) log.txns++
      else log.chunks++
      break
    case REC_CKPT_BEGIN: {
      r.lastBeginLsn = lsn
      const { flags } = decodeCheckpointBegin(bytes, RECORD_HEADER_BYTES, payloadEnd)
      if (lsn === r.startLsn && (flags & CKPT_FLAG_EMPTY) !== 0) log.headCheckpointEndLsn = -1
      break
    }
    case REC_CKPT_END: {
      const { beginLsn } = decodeCheckpointEnd(bytes, RECORD_HEADER_BYTES, payloadEnd)
      log.checkpointEnds++
      if (beginLsn === r.startLsn && log.headCheckpointEndLsn === -2) log.headCheckpointEndLsn = lsn
      if (beginLsn === r.lastBeginLsn) log.newestCheckpointLsn = beginLsn
      break
    }
    default: // PAD, MARK: nothing
  }
}

export function* walkLog(
  s: WalkStart, options: RecoverOptions,
): Generator<RecoveryProgress, WalkOutcome> {
  const ring = s.header.ringBytes
  const startLsn = lsnAt(s.region.read(LOG_OFFSET + s.startPhys, RECORD_HEADER_BYTES))
  const tailLsn = startLsn + ((s.tailPhys - s.startPhys + ring) % ring)
  const lsnOf = (phys: number): number => tailLsn - ((s.tailPhys - phys + ring) % ring)
  const headLsn = lsnOf(s.headPhys)
  const proofTailLsn = startLsn + ((s.proofTailPhys - s.startPhys + ring) % ring)
  const prevBeforeHead = (s.tailPhys - s.prevPhys + ring) % ring > (s.tailPhys - s.headPhys + ring) % ring
  const log: RecoveredLog = {
    header: s.header, seed: s.seed, headLsn, tailLsn, records: 0, txns: 0, chunks: 0,
    checkpointEnds: 0, headCheckpointEndLsn: -2, newestCheckpointLsn: startLsn,
    formatVersion: s.formatVersion, metaDamage: s.metaDamage, rootsInSync: s.rootsInSync,
    prevLsn: prevBeforeHead ? lsnOf(s.prevPhys) : headLsn, seq: 0, fallback: null, skipped: [],
  }
  const keyspace = new Keyspace()
  const startName = s.startPhys === s.headPhys ? 'head' : 'prev'
  const fail = (what: string, reason: string, offset: number, lsn: number): WalkOutcome => {
    const consistent = log.headCheckpointEndLsn !== -2
    const result: RecoveryResult = {
      kind: 'corrupt', what, reason, offset, lsn, partial: { ...log },
      prefix: options.prefix === true
        ? (consistent ? { keyspace, log: { ...log, tailLsn: lsn } } : null) : undefined,
    }
    return { kind: 'corrupt', result, failure: { what, reason, offset, lsn, beforeHeadEnd: !consistent } }
  }
  if (startLsn % ring !== s.startPhys) {
    return fail(`checkpoint record at ${startName}`, 'stale or misdirected record',
      LOG_OFFSET + s.startPhys, startLsn)
  }
  const replay: Replay = { keyspace, log, startLsn, lastBeginLsn: -1,
    deferIndex: options.deferIndex === true && options.prefix !== true,
    verifyAgain: (record: Buffer, at: number): string | null => {
      const c = checkRecord(record, at, s.seed, record.length)
      return c.ok ? null : c.reason
    } }
  const every = options.yieldEveryRecords ?? 0
  const everyBytes = every > 0 ? options.yieldEveryBytes ?? YIELD_EVERY_BYTES : 0
  const skipped: [number, number][] = []
  let skipFrom = -1
  let skipReason = ''
  let seqBefore = 0
  let yieldedAtLsn = startLsn
  let lsn = startLsn
  while (lsn < tailLsn) {
    const offset = LOG_OFFSET + (lsn % ring)
    const rec = readVerified(s, lsn, tailLsn)
    if (!rec.ok) {
      // Past the END of the checkpoint the walk started from, only transactions change state.
      if (log.headCheckpointEndLsn === -2 || lsn >= proofTailLsn) {
        return fail('log record', rec.reason, offset, lsn)
      }
      // Unless the skip is proven, the damage is reported as it was found. Nothing verifiable
      // after it: the last committed record, proven no TXN only by its size (below).
      const next = scanForward(s, lsn, tailLsn)
      if (next === null) {
        if (normalizeLsn(lsn + MIN_RECORD_BYTES, ring) !== proofTailLsn) {
          return fail('log record', rec.reason, offset, lsn)
        }
        skipped.push([lsn, proofTailLsn])
        replay.lastBeginLsn = -1
        lsn = proofTailLsn
        continue
      }
      skipFrom = lsn
      skipReason = rec.reason
      lsn = next
      continue
    }
    const { check, bytes } = rec
    if (skipFrom >= 0) {
      // The skip [skipFrom, lsn) stands only when the sequence proves it held no TXN record.
      const expected = seqAfter(seqBefore, check.kind)
      if (seqBefore === 0 || check.seq !== expected) {
        return fail('log record', skipReason, LOG_OFFSET + (skipFrom % ring), skipFrom)
      }
      skipped.push([skipFrom, lsn])
      skipFrom = -1
      replay.lastBeginLsn = -1 // a checkpoint with a skipped record is no checkpoint
    } else if (seqBefore !== 0 && check.seq !== seqAfter(seqBefore, check.kind)) {
      return fail('log record', `txn sequence ${check.seq} after ${seqBefore}`, offset, lsn)
    }
    seqBefore = check.seq
    const payloadEnd = RECORD_HEADER_BYTES + check.payloadBytes
    if (lsn === startLsn && check.kind !== REC_CKPT_BEGIN) {
      return fail(`checkpoint record at ${startName}`,
        `${startName} names a record that begins no checkpoint`, offset, lsn)
    }
    try {
      replayRecord(replay, check.kind, bytes, lsn, offset, payloadEnd)
    } catch (e) {
      if (e instanceof DecodeError) return fail('log record', `undecodable: ${e.message}`, offset, lsn)
      throw e
    }
    log.records++
    lsn = check.kind === REC_PAD ? lsn + (ring - (lsn % ring))
      : normalizeLsn(lsn + check.totalBytes, ring)
    if (every > 0 && (log.records % every === 0 || lsn - yieldedAtLsn >= everyBytes)) {
      yieldedAtLsn = lsn
      yield { records: log.records, bytesDone: lsn - startLsn, bytesTotal: tailLsn - startLsn }
    }
  }
  log.seq = seqBefore
  if (lsn !== tailLsn) {
    return fail('tail word', 'names no record boundary', TAIL_WORD_OFFSET, lsn)
  }
  if (log.headCheckpointEndLsn === -2) {
    return fail(`checkpoint at ${startName}`, 'its END record is not in the committed log',
      LOG_OFFSET + s.startPhys, startLsn)
  }
  return { kind: 'ok', result: { kind: 'ok', keyspace, log }, skipped }
}

/** Default byte budget between two yields of recoverSteps (about 0.1-0.5 ms of replay). */
export const YIELD_EVERY_BYTES = 16 * 1024
