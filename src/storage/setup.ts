// Formatting a region as an empty pool: the creation checkpoint (a CHECKPOINT_BEGIN record
// flagged EMPTY: a complete, empty snapshot by itself, txn sequence 1) at lsn 0, both copies of
// the head word and of the prev word naming it and of the tail word after it, one flush; then both header copies, one flush. The
// header comes last so that a file with a verifying header copy is a complete pool: Store.create
// deletes a leftover temporary file only when no header copy verifies. Formatting is not
// crash-atomic by itself: Store.create formats under a temporary file name and renames the file.

import { ByteWriter } from '../state/bytes.js'
import { encodeWord, HEAD_TAGS, PREV_TAGS, TAIL_TAGS } from './cdb.js'
import {
  encodeHeader, FORMAT_VERSION, FORMAT_VERSION_V1, HEAD_WORD_OFFSETS, HEADER_BYTES,
  HEADER_OFFSETS, LOG_OFFSET, MAX_RING_BYTES, MIN_POOL_BYTES, poolSeed, PREV_WORD_OFFSETS,
  ringBytesFor, TAIL_WORD_OFFSETS, type PoolHeader,
} from './layout.js'
import type { PmRegion } from './pm-region.js'
import {
  beginRecord, CKPT_FLAG_EMPTY, encodeCheckpointBegin, finishRecord, normalizeLsn, REC_CKPT_BEGIN,
} from './record-codec.js'

/** `version` 1 or 2 builds a pool of an older format (tests of the upgrade). */
export function formatRegion(
  region: PmRegion, poolId: Buffer, createdAtMs: number, version = FORMAT_VERSION,
): void {
  if (region.sizeBytes < MIN_POOL_BYTES) {
    throw new RangeError(`a pool needs at least ${MIN_POOL_BYTES} bytes`)
  }
  const ringBytes = ringBytesFor(region.sizeBytes)
  if (ringBytes > MAX_RING_BYTES) throw new RangeError('pool too large (32 GiB at most)')
  const copies = version === FORMAT_VERSION_V1 ? 1 : 2
  const seed = poolSeed(poolId)
  const w = new ByteWriter(64)
  beginRecord(w)
  encodeCheckpointBegin(w, { flags: CKPT_FLAG_EMPTY, keyCountEstimate: 0 })
  const record = finishRecord(w, REC_CKPT_BEGIN, 0, seed, version === FORMAT_VERSION ? 1 : 0)
  region.write(LOG_OFFSET, record, 'blanket')
  const tail = normalizeLsn(record.length, ringBytes) % ringBytes
  for (let c = 0; c < copies; c++) {
    const head = encodeWord(HEAD_TAGS[c] as number, 0, seed)
    const commit = encodeWord(TAIL_TAGS[c] as number, tail, seed)
    region.store64(HEAD_WORD_OFFSETS[c] as number, head.lo, head.hi, 'blanket')
    region.store64(TAIL_WORD_OFFSETS[c] as number, commit.lo, commit.hi, 'blanket')
    if (version === FORMAT_VERSION) {
      const prev = encodeWord(PREV_TAGS[c] as number, 0, seed)
      region.store64(PREV_WORD_OFFSETS[c] as number, prev.lo, prev.hi, 'blanket')
    }
  }
  region.flush(HEADER_OFFSETS[0] as number, LOG_OFFSET + record.length)
  const header = { poolId, poolBytes: region.sizeBytes, logOffset: LOG_OFFSET, ringBytes, createdAtMs }
  for (let c = 0; c < copies; c++) {
    region.write(HEADER_OFFSETS[c] as number, encodeHeader(header, c, version), 'blanket')
  }
  region.flush(0, (HEADER_OFFSETS[copies - 1] as number) + HEADER_BYTES)
}

/** What syncMetadata needs of a recovered log (recover.ts RecoveredLog). */
export interface RecoveredMetadata {
  header: PoolHeader
  formatVersion: number
  tailLsn: number
  headLsn: number
  /** The prev word's value recovery used (= headLsn for formats 1 and 2). */
  prevLsn: number
  rootsInSync: boolean
}

/**
 * Store.open's metadata upkeep (a damaged header copy is only reported: the server logs it and
 * shows it in INFO, and capykv-check --repair rewrites it), before anything is appended (layout.ts, "Redundancy"):
 * - a format version 1 pool is upgraded in place: copy 1 of the tail and head words, both copies
 *   of the prev word (= head: no fallback yet) and header copy 1 (version 3) are written and
 *   flushed, then header copy 0 is rewritten as version 3 and flushed. A crash before the second
 *   flush leaves copy 0 of version 1 (read as version 1: the next open upgrades again) or torn
 *   (copy 1, complete, is used);
 * - a format version 2 pool likewise: both prev word copies (= head), flushed, then header copy
 *   1 and copy 0 (version 3), each flushed. Until copy 0 says 3 the pool reads as version 2 (the
 *   prev words are not read); its records carry txn sequence 0, so the fallback needs a
 *   previous checkpoint written after the upgrade (docs/checkpoint-fallback.md);
 * - a root word copy that is damaged or lags the copy recovery used is rewritten with the used
 *   value (copy 0 first), each store flushed: a later flip in the other copy must not bring back
 *   a value recovery did not use, once new records overwrite what it named.
 * Each write is blanket: recovery of any crash image yields the same state. Returns how many
 * root-word copies it rewrote (the upgrade counts its two).
 */
export function syncMetadata(region: PmRegion, log: RecoveredMetadata): number {
  const { header, formatVersion, rootsInSync: inSync } = log
  const tailPhys = log.tailLsn % header.ringBytes
  const headPhys = log.headLsn % header.ringBytes
  const prevPhys = log.prevLsn % header.ringBytes
  const seed = poolSeed(header.poolId)
  const words: [readonly number[], readonly number[], number][] =
    [[TAIL_WORD_OFFSETS, TAIL_TAGS, tailPhys], [HEAD_WORD_OFFSETS, HEAD_TAGS, headPhys],
      [PREV_WORD_OFFSETS, PREV_TAGS, prevPhys]]
  if (formatVersion !== FORMAT_VERSION) {
    if (formatVersion === FORMAT_VERSION_V1) {
      for (const [offsets, tags, value] of words.slice(0, 2)) {
        const w = encodeWord(tags[1] as number, value, seed)
        region.store64(offsets[1] as number, w.lo, w.hi, 'blanket')
      }
    }
    for (let c = 0; c < PREV_WORD_OFFSETS.length; c++) {
      const w = encodeWord(PREV_TAGS[c] as number, headPhys, seed)
      region.store64(PREV_WORD_OFFSETS[c] as number, w.lo, w.hi, 'blanket')
    }
    region.flush(TAIL_WORD_OFFSETS[0] as number, LOG_OFFSET - (TAIL_WORD_OFFSETS[0] as number))
    region.write(HEADER_OFFSETS[1] as number, encodeHeader(header, 1), 'blanket')
    region.flush(HEADER_OFFSETS[1] as number, HEADER_BYTES)
    region.write(HEADER_OFFSETS[0] as number, encodeHeader(header, 0), 'blanket')
    region.flush(HEADER_OFFSETS[0] as number, HEADER_BYTES)
    return 2
  }
  if (inSync) return 0
  let rewritten = 0
  for (const [offsets, tags, value] of words) {
    for (let c = 0; c < offsets.length; c++) {
      const at = offsets[c] as number
      const w = encodeWord(tags[c] as number, value, seed)
      const now = region.read(at, 8)
      if (now.readUInt32LE(0) === w.lo && now.readUInt32LE(4) === w.hi) continue
      region.store64(at, w.lo, w.hi, 'blanket')
      region.flush(at, 8)
      rewritten++
    }
  }
  return rewritten
}
