// recover(): one pure function of the pool's bytes (DESIGN rule 7). It reads through a
// RegionReader (so pools over 4 GiB work), takes no clock, writes nothing, and returns a tagged
// result. Used by Store.open, by capykv-check and by the crash simulator alike.
//
// Decision table (every read is checked before it is trusted):
//   header CRC / magic / geometry bad ............ corrupt (or 'format' when it is no pool)
//   tail word or head word fails its check ....... corrupt (a flipped word, never a short log)
//   head record not a valid CHECKPOINT_BEGIN ..... corrupt
//   record in [head, tail) fails CRC or lsn ...... corrupt, naming offset and lsn
//   events of a verified record fail to decode ... corrupt
//   walk steps over the tail without landing ..... corrupt (tail names no record boundary)
//   bytes at and past the tail ................... never read: a torn, unacknowledged append
//   otherwise ..................................... ok: the state after the last commit
// With `prefix: true`, a corrupt result also carries the state of the longest consistent
// committed prefix, if one exists (capykv-check --repair): consistent means the walk got past
// the END of the checkpoint the head names, so every live key of that snapshot was loaded.

import { DecodeError } from '../state/bytes.js'
import { applyEvents, decodeEvents, replayEventsDeferred } from '../state/event.js'
import { Keyspace } from '../state/keyspace.js'
import { decodeWord, HEAD_TAG, TAIL_TAG } from '../storage/cdb.js'
import {
  decodeHeader, HEAD_WORD_OFFSET, HEADER_BYTES, LOG_OFFSET, poolSeed, TAIL_WORD_OFFSET,
  type PoolHeader,
} from '../storage/layout.js'
import {
  checkRecord, CKPT_FLAG_EMPTY, claimedPayloadBytes, decodeCheckpointBegin, decodeCheckpointEnd,
  MIN_RECORD_BYTES, normalizeLsn, REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_CKPT_END, REC_PAD, REC_TXN,
  recordBytes, RECORD_HEADER_BYTES,
} from '../storage/record-codec.js'

export interface RegionReader {
  readonly sizeBytes: number
  read(offset: number, length: number): Buffer
}


export interface RecoveredLog {
  header: PoolHeader
  seed: bigint
  headLsn: number
  /** The committed tail: where the next record goes. */
  tailLsn: number
  records: number
  txns: number
  chunks: number
  checkpointEnds: number
  /** LSN of the END record of the checkpoint the head names, -1 for the creation checkpoint. */
  headCheckpointEndLsn: number
  /**
   * BEGIN lsn of the newest checkpoint whose END is committed (the head's, or a later one when
   * a crash came between its commit and the head move: Store.open then moves the head to it).
   */
  newestCheckpointLsn: number
}

export interface RecoveryProgress {
  records: number
  bytesDone: number
  bytesTotal: number
}

export type RecoveryResult =
  | { kind: 'ok'; keyspace: Keyspace; log: RecoveredLog }
  | {
    kind: 'corrupt'; what: string; reason: string; offset: number; lsn?: number
    /** Longest consistent committed prefix (only with options.prefix). */
    prefix?: { keyspace: Keyspace; log: RecoveredLog } | null | undefined
    /** Log facts known before the damage (for reports). */
    partial?: Partial<RecoveredLog>
  }
  | { kind: 'format'; reason: string }

export interface RecoverOptions {
  prefix?: boolean
  /** Yield progress after this many records (generator form). */
  yieldEveryRecords?: number
  /**
   * ...or after this many bytes of records, whichever comes first (generator form; default
   * YIELD_EVERY_BYTES when yieldEveryRecords is set). A record's replay costs about its size:
   * counting records alone let 256 checkpoint chunks of 64 KiB (~130k keys, hundreds of ms)
   * run between two yields, and startup must yield at least every 10 ms.
   */
  yieldEveryBytes?: number
  /**
   * Build the keyspace with the deferred index (state/keyspace.ts): whole-key string writes
   * are checked and filed by key hash, not applied, so startup costs a walk of the log rather
   * than a Map insert, a key string and a value copy per key. The keyspace then points into
   * the region's bytes: only for a caller that keeps the region open and unchanged under them
   * until it has applied them (Store). Ignored with `prefix` (a prefix must not hold a partly
   * applied record).
   */
  deferIndex?: boolean
}

/** Default byte budget between two yields of recoverSteps (about 0.1-0.5 ms of replay). */
export const YIELD_EVERY_BYTES = 16 * 1024

export function recover(region: RegionReader, options: RecoverOptions = {}): RecoveryResult {
  const steps = recoverSteps(region, options)
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
  }
}

/** recover(), yielding to the caller between batches of records (startup serves -LOADING). */
export async function recoverAsync(
  region: RegionReader, options: RecoverOptions & { sliceMs?: number } = {},
  onProgress?: (p: RecoveryProgress) => void,
): Promise<RecoveryResult> {
  const sliceMs = options.sliceMs ?? 5
  const steps = recoverSteps(region, { yieldEveryRecords: 256, ...options })
  let sliceStart = performance.now()
  for (;;) {
    const r = steps.next()
    if (r.done === true) return r.value
    if (onProgress !== undefined) onProgress(r.value)
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      sliceStart = performance.now()
    }
  }
}

export function* recoverSteps(
  region: RegionReader, options: RecoverOptions = {},
): Generator<RecoveryProgress, RecoveryResult> {
  if (region.sizeBytes < LOG_OFFSET + MIN_RECORD_BYTES) {
    return { kind: 'format', reason: `file of ${region.sizeBytes} bytes is too small for a pool` }
  }
  const h = decodeHeader(region.read(0, HEADER_BYTES), region.sizeBytes)
  if (h.kind === 'bad') {
    return h.corrupt ? { kind: 'corrupt', what: 'pool header', reason: h.reason, offset: 0 }
      : { kind: 'format', reason: h.reason }
  }
  const header = h.header
  const ring = header.ringBytes
  const seed = poolSeed(header.poolId)
  const roots = Buffer.from(region.read(TAIL_WORD_OFFSET, 16))
  const tailPhys = decodeWord(roots, 0, TAIL_TAG, seed)
  const headPhys = decodeWord(roots, 8, HEAD_TAG, seed)
  if (tailPhys === null || tailPhys >= ring) {
    return { kind: 'corrupt', what: 'tail word', reason: 'check failed', offset: TAIL_WORD_OFFSET }
  }
  if (headPhys === null || headPhys >= ring) {
    return { kind: 'corrupt', what: 'head word', reason: 'check failed', offset: HEAD_WORD_OFFSET }
  }
  const distance = (tailPhys - headPhys + ring) % ring
  if (distance === 0) {
    return { kind: 'corrupt', what: 'root words', reason: 'tail equals head', offset: TAIL_WORD_OFFSET }
  }
  // The head record's lsn is read from its own header, then confirmed by its CRC.
  const headSpace = ring - headPhys
  if (headSpace < MIN_RECORD_BYTES) {
    return { kind: 'corrupt', what: 'head word', reason: 'names no record', offset: HEAD_WORD_OFFSET }
  }
  const headBytes = region.read(LOG_OFFSET + headPhys, RECORD_HEADER_BYTES)
  const headLsn = headBytes.readUInt32LE(8) + headBytes.readUInt32LE(12) * 2 ** 32
  const log: RecoveredLog = {
    header, seed, headLsn, tailLsn: headLsn + distance, records: 0, txns: 0, chunks: 0,
    checkpointEnds: 0, headCheckpointEndLsn: -2, newestCheckpointLsn: headLsn,
  }
  let lastBeginLsn = -1
  const keyspace = new Keyspace()
  const fail = (what: string, reason: string, offset: number, lsn: number): RecoveryResult => {
    const consistent = log.headCheckpointEndLsn !== -2
    return {
      kind: 'corrupt', what, reason, offset, lsn, partial: { ...log },
      prefix: options.prefix === true
        ? (consistent ? { keyspace, log: { ...log, tailLsn: lsn } } : null) : undefined,
    }
  }
  if (headLsn % ring !== headPhys) {
    return fail('checkpoint record at head', 'stale or misdirected record', LOG_OFFSET + headPhys,
      headLsn)
  }
  const deferIndex = options.deferIndex === true && options.prefix !== true
  const every = options.yieldEveryRecords ?? 0
  const everyBytes = every > 0 ? options.yieldEveryBytes ?? YIELD_EVERY_BYTES : 0
  let yieldedAtLsn = headLsn
  let lsn = headLsn
  while (lsn < log.tailLsn) {
    const phys = lsn % ring
    const space = ring - phys
    const offset = LOG_OFFSET + phys
    const claimed = claimedPayloadBytes(region.read(offset, RECORD_HEADER_BYTES))
    const total = recordBytes(claimed)
    if (total > space || lsn + total > log.tailLsn) {
      return fail('log record', `length ${claimed} runs past the ${total > space ? 'ring end' :
        'committed tail'}`, offset, lsn)
    }
    const bytes = region.read(offset, total)
    const check = checkRecord(bytes, lsn, seed, space)
    if (!check.ok) return fail('log record', check.reason, offset, lsn)
    const payloadEnd = RECORD_HEADER_BYTES + check.payloadBytes
    if (lsn === headLsn && check.kind !== REC_CKPT_BEGIN) {
      return fail('checkpoint record at head', 'head names a record that begins no checkpoint',
        offset, lsn)
    }
    try {
      switch (check.kind) {
        case REC_TXN:
        case REC_CKPT_CHUNK:
          if (deferIndex) replayEventsDeferred(keyspace, bytes, RECORD_HEADER_BYTES, payloadEnd)
          else applyEvents(keyspace, decodeEvents(bytes, RECORD_HEADER_BYTES, payloadEnd))
          if (check.kind === REC_TXN) log.txns++
          else log.chunks++
          break
        case REC_CKPT_BEGIN: {
          lastBeginLsn = lsn
          const { flags } = decodeCheckpointBegin(bytes, RECORD_HEADER_BYTES, payloadEnd)
          if (lsn === headLsn && (flags & CKPT_FLAG_EMPTY) !== 0) log.headCheckpointEndLsn = -1
          break
        }
        case REC_CKPT_END: {
          const { beginLsn } = decodeCheckpointEnd(bytes, RECORD_HEADER_BYTES, payloadEnd)
          log.checkpointEnds++
          if (beginLsn === headLsn && log.headCheckpointEndLsn === -2) log.headCheckpointEndLsn = lsn
          if (beginLsn === lastBeginLsn) log.newestCheckpointLsn = beginLsn
          break
        }
        case REC_PAD:
          break
      }
    } catch (e) {
      if (e instanceof DecodeError) return fail('log record', `undecodable: ${e.message}`, offset, lsn)
      throw e
    }
    log.records++
    lsn = check.kind === REC_PAD ? lsn + space : normalizeLsn(lsn + total, ring)
    if (every > 0 && (log.records % every === 0 || lsn - yieldedAtLsn >= everyBytes)) {
      yieldedAtLsn = lsn
      yield { records: log.records, bytesDone: lsn - headLsn, bytesTotal: distance }
    }
  }
  if (lsn !== log.tailLsn) {
    return fail('tail word', 'names no record boundary', TAIL_WORD_OFFSET, lsn)
  }
  if (log.headCheckpointEndLsn === -2) {
    return fail('checkpoint at head', 'its END record is not in the committed log',
      LOG_OFFSET + headPhys, headLsn)
  }
  return { kind: 'ok', keyspace, log }
}
