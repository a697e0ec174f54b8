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

import type { Keyspace } from '../state/keyspace.js'
import { decodeWord, HEAD_TAGS, PREV_TAGS, TAIL_TAGS } from '../storage/cdb.js'
import {
  decodeHeaderCopy, FORMAT_VERSION, FORMAT_VERSION_V1, HEAD_WORD_OFFSET, HEAD_WORD_OFFSETS,
  HEADER_BYTES, HEADER_OFFSETS, LOG_OFFSET, poolSeed, PREV_WORD_OFFSETS, sameHeader,
  TAIL_WORD_OFFSET, TAIL_WORD_OFFSETS, type HeaderCopyResult, type PoolHeader,
} from '../storage/layout.js'
import { MIN_RECORD_BYTES } from '../storage/record-codec.js'
import { walkLog, type WalkFailure, type WalkStart } from './walk.js'

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
  /** The pool's format version (1: upgraded in place by Store.open). */
  formatVersion: number
  /**
   * Redundant metadata copies that are damaged (recovery used the other copy) or that differ from
   * the copy used (a crash between the two stores): what, file offset, reason. Reported by
   * startup and capykv-check; a root word copy is rewritten by Store.open, a header copy by
   * capykv-check --repair.
   */
  metaDamage: MetaDamage[]
  /** False when some copy of a root word is damaged or differs from the copy used. */
  rootsInSync: boolean
  /**
   * BEGIN lsn of the newest checkpoint whose END is committed (the head's, or a later one when
   * a crash came between its commit and the head move: Store.open then moves the head to it).
   */
  newestCheckpointLsn: number
  /** The prev word's lsn (format 3; = headLsn when no fallback is kept, and in formats 1, 2). */
  prevLsn: number
  /** The txn sequence of the last record walked (record-codec.ts; 0 in formats 1 and 2). */
  seq: number
  /**
   * Set when the state was rebuilt from the previous checkpoint (the walk started at prevLsn)
   * because a record of the head's checkpoint is damaged (docs/checkpoint-fallback.md): the
   * damage the walk from the head met, and the damaged ranges the fallback walk skipped.
   * Store.open then writes a fresh checkpoint before anything else.
   */
  fallback: FallbackInfo | null
  /**
   * [from, to) lsn ranges of damaged records the walk skipped, each proven free of transactions
   * by the txn sequence (recovery/walk.ts): inside the head's checkpoint (with a fallback) or
   * after its END (either walk). Store.open then writes a fresh checkpoint.
   */
  skipped: [number, number][]
}

export interface FallbackInfo {
  what: string
  reason: string
  offset: number
  lsn: number
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
  /**
   * Tests (the crash simulator's fallback invariant): when a previous checkpoint is kept, walk
   * from it instead of the head, as the fallback would.
   */
  fromPrev?: boolean
}

export interface MetaDamage {
  what: string
  /** File offset of the damaged copy. */
  offset: number
  reason: string
  /** False for a copy that verifies but lags the one used (a crash between the two stores). */
  damaged: boolean
}

type Metadata =
  | {
    kind: 'ok'; header: PoolHeader; formatVersion: number; tailPhys: number; headPhys: number
    prevPhys: number; damage: MetaDamage[]; rootsInSync: boolean; proofTailPhys: number
  }
  | { kind: 'corrupt'; what: string; reason: string; offset: number; header?: PoolHeader }
  | { kind: 'format'; reason: string }

/** What a pool file of the wrong length would take to use (recover's 'pool file length'). */
export function lengthAdvice(fileBytes: number, poolBytes: number): string {
  if (fileBytes > poolBytes) {
    return `the file is ${fileBytes} bytes, ${fileBytes - poolBytes} more than the pool's ` +
      `${poolBytes} (bytes appended, or the file extended by hand: a pool does not grow that ` +
      `way); the extra bytes hold no pool data: \`capykv-check --repair\` truncates the file to ` +
      `${poolBytes} bytes`
  }
  return `the file is ${fileBytes} bytes, ${poolBytes - fileBytes} fewer than the pool's ` +
    `${poolBytes} (a truncated copy?): restore the whole file; extending it with zeros ` +
    `(truncate -s ${poolBytes}) makes it readable, and capykv-check then reports any committed ` +
    'data the missing bytes held'
}

/** The header copy to use (copy 0 when it verifies); damage to the other is noted in `damage`. */
function chooseHeader(
  region: RegionReader, damage: MetaDamage[],
): (HeaderCopyResult & { kind: 'ok' }) | (Metadata & { kind: 'corrupt' | 'format' }) {
  const first = decodeHeaderCopy(Buffer.from(region.read(HEADER_OFFSETS[0] as number, HEADER_BYTES)), 0)
  let chosen: HeaderCopyResult = first
  if (first.kind === 'ok' && first.version === FORMAT_VERSION_V1) {
    // Format version 1: one header, one copy of each root word.
  } else {
    const second = decodeHeaderCopy(
      Buffer.from(region.read(HEADER_OFFSETS[1] as number, HEADER_BYTES)), 1)
    if (first.kind === 'ok') {
      if (second.kind === 'bad') {
        damage.push({ what: 'pool header copy 1', offset: HEADER_OFFSETS[1] as number,
          reason: second.reason, damaged: true })
      } else if (!sameHeader(first.header, second.header) || second.version !== first.version) {
        damage.push({ what: 'pool header copy 1', offset: HEADER_OFFSETS[1] as number,
          reason: 'verifies but differs from copy 0', damaged: true })
      }
    } else if (second.kind === 'ok' && second.version !== FORMAT_VERSION_V1) {
      damage.push({ what: 'pool header copy 0', offset: 0, reason: first.reason, damaged: true })
      chosen = second
    } else if (!first.corrupt && !(second.kind === 'bad' && second.corrupt)) {
      return { kind: 'format', reason: first.reason }
    }
  }
  if (chosen.kind === 'bad') {
    return chosen.corrupt || first.kind === 'bad' && first.corrupt
      ? { kind: 'corrupt', what: 'pool header', reason: `every copy is damaged (copy 0: ${
        first.kind === 'bad' ? first.reason : 'ok'})`, offset: 0 }
      : { kind: 'format', reason: chosen.reason }
  }
  return chosen
}

/**
 * The header and the two root words, each from the first of its copies that verifies
 * (layout.ts, "Redundancy"); the copies that do not, or that differ, are listed in `damage`.
 */
function readMetadata(region: RegionReader): Metadata {
  const damage: MetaDamage[] = []
  const chosen = chooseHeader(region, damage)
  if (chosen.kind !== 'ok') return chosen
  const header = chosen.header
  if (header.poolBytes !== region.sizeBytes) {
    return { kind: 'corrupt', what: 'pool file length', header,
      offset: Math.min(header.poolBytes, region.sizeBytes),
      reason: lengthAdvice(region.sizeBytes, header.poolBytes) }
  }
  const ring = header.ringBytes
  const seed = poolSeed(header.poolId)
  const copies = chosen.version === FORMAT_VERSION_V1 ? 1 : 2
  let rootsInSync = true
  const word = (name: string, offsets: readonly number[], tags: readonly number[]): number | null => {
    const values: (number | null)[] = []
    for (let c = 0; c < copies; c++) {
      const v = decodeWord(Buffer.from(region.read(offsets[c] as number, 8)), 0, tags[c] as number, seed)
      values.push(v !== null && v < ring ? v : null)
    }
    const used = values.find((v) => v !== null) ?? null
    if (used === null) return null
    for (let c = 0; c < copies; c++) {
      const v = values[c] as number | null
      if (v === used) continue
      rootsInSync = false
      damage.push({
        what: `${name} word copy ${c}`, offset: offsets[c] as number, damaged: v === null,
        reason: v === null ? 'check failed' : `names ring offset ${v}, copy 0 names ${used} ` +
          '(a crash between the stores of the two copies; copy 0 is used)',
      })
    }
    return used
  }
  const tailPhys = word('tail', TAIL_WORD_OFFSETS, TAIL_TAGS)
  if (tailPhys === null) {
    return { kind: 'corrupt', what: 'tail word', reason: copies > 1 ? 'check failed in every copy'
      : 'check failed', offset: TAIL_WORD_OFFSET }
  }
  const headPhys = word('head', HEAD_WORD_OFFSETS, HEAD_TAGS)
  if (headPhys === null) {
    return { kind: 'corrupt', what: 'head word', reason: copies > 1 ? 'check failed in every copy'
      : 'check failed', offset: HEAD_WORD_OFFSET }
  }
  // The prev word (format 3) only serves the fallback: with both copies damaged the pool still
  // starts from the head (reported; Store.open rewrites it as the head, no fallback kept).
  let prevPhys = headPhys
  if (chosen.version === FORMAT_VERSION) {
    const prev = word('prev', PREV_WORD_OFFSETS, PREV_TAGS)
    if (prev !== null) prevPhys = prev
    else {
      rootsInSync = false
      for (let c = 0; c < PREV_WORD_OFFSETS.length; c++) {
        damage.push({ what: `prev word copy ${c}`, offset: PREV_WORD_OFFSETS[c] as number,
          damaged: true, reason: 'check failed in every copy (no fallback: the head is used)' })
      }
    }
  }
  // Skipping a damaged record trusts the tail (walk.ts): copy 1's when it verifies (stored after
  // copy 0's, so it names a tail that copy 0 named too), else the used one.
  const copy1 = copies > 1 ? decodeWord(Buffer.from(region.read(TAIL_WORD_OFFSETS[1] as number, 8)),
    0, TAIL_TAGS[1] as number, seed) : null
  const proofTailPhys = copy1 !== null && copy1 < ring ? copy1 : tailPhys
  return { kind: 'ok', header, formatVersion: chosen.version, tailPhys, headPhys, prevPhys, damage,
    rootsInSync, proofTailPhys }
}

export { YIELD_EVERY_BYTES } from './walk.js'

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
  const meta = readMetadata(region)
  if (meta.kind === 'format') return meta
  if (meta.kind === 'corrupt') {
    return meta.header === undefined
      ? { kind: 'corrupt', what: meta.what, reason: meta.reason, offset: meta.offset }
      : { kind: 'corrupt', what: meta.what, reason: meta.reason, offset: meta.offset,
        partial: { header: meta.header } }
  }
  const { tailPhys, headPhys, prevPhys } = meta
  const ring = meta.header.ringBytes
  const distance = (tailPhys - headPhys + ring) % ring
  if (distance === 0) {
    return { kind: 'corrupt', what: 'root words', reason: 'tail equals head', offset: TAIL_WORD_OFFSET }
  }
  if (ring - headPhys < MIN_RECORD_BYTES) {
    return { kind: 'corrupt', what: 'head word', reason: 'names no record', offset: HEAD_WORD_OFFSET }
  }
  const start: WalkStart = {
    region, header: meta.header, seed: poolSeed(meta.header.poolId), formatVersion:
      meta.formatVersion, metaDamage: meta.damage, rootsInSync: meta.rootsInSync,
    startPhys: headPhys, headPhys, tailPhys, prevPhys, proofTailPhys: meta.proofTailPhys,
  }
  // The fallback (docs/checkpoint-fallback.md): when the damage lies before the END of the
  // head's checkpoint and a previous checkpoint is kept (prev before head), walk again from it,
  // skipping damaged records after its END only where the txn sequence proves they held no
  // transaction (walk.ts). options.fromPrev (tests) makes every walk start there.
  const prevDistance = (tailPhys - prevPhys + ring) % ring
  const fallbackKept = prevDistance > distance && ring - prevPhys >= MIN_RECORD_BYTES
  const fromPrev = { ...start, startPhys: prevPhys }
  if (options.fromPrev === true && fallbackKept) {
    const only = yield* walkLog(fromPrev, { ...options, deferIndex: false })
    return only.result
  }
  const first = yield* walkLog(start, options)
  if (first.kind === 'ok') {
    first.result.log.skipped = first.skipped
    return first.result
  }
  if (first.failure === null) return first.result
  if (!fallbackKept || !first.failure.beforeHeadEnd) return first.result
  const second = yield* walkLog(fromPrev, { ...options, deferIndex: false, prefix: false })
  if (second.kind === 'ok') {
    const f = first.failure
    second.result.log.fallback = { what: f.what, reason: f.reason, offset: f.offset, lsn: f.lsn }
    second.result.log.skipped = second.skipped
    return second.result
  }
  return withFallbackFailure(first.result, second.failure)
}

/** The head walk's corruption, saying why the fallback could not replace it. */
function withFallbackFailure(result: RecoveryResult, second: WalkFailure | null): RecoveryResult {
  if (result.kind !== 'corrupt' || second === null) return result
  return { ...result, reason: `${result.reason}; the fallback to the previous checkpoint ` +
    `failed too: ${second.what} at pool offset ${second.offset} (lsn ${second.lsn}): ` +
    second.reason }
}
