// Formatting a region as an empty pool: the header, the creation checkpoint (a CHECKPOINT_BEGIN
// record flagged EMPTY: a complete, empty snapshot by itself) at lsn 0, the head word naming it
// and the tail word after it; then one flush of everything. Formatting is not crash-atomic by
// itself: Store.create formats under a temporary file name and renames the file afterwards.

import { ByteWriter } from '../state/bytes.js'
import { encodeWord, HEAD_TAG, TAIL_TAG } from './cdb.js'
import {
  encodeHeader, HEAD_WORD_OFFSET, LOG_OFFSET, MAX_RING_BYTES, MIN_POOL_BYTES, poolSeed,
  ringBytesFor, TAIL_WORD_OFFSET,
} from './layout.js'
import type { PmRegion } from './pm-region.js'
import {
  beginRecord, CKPT_FLAG_EMPTY, encodeCheckpointBegin, finishRecord, normalizeLsn, REC_CKPT_BEGIN,
} from './record-codec.js'

export function formatRegion(region: PmRegion, poolId: Buffer, createdAtMs: number): void {
  if (region.sizeBytes < MIN_POOL_BYTES) {
    throw new RangeError(`a pool needs at least ${MIN_POOL_BYTES} bytes`)
  }
  const ringBytes = ringBytesFor(region.sizeBytes)
  if (ringBytes > MAX_RING_BYTES) throw new RangeError('pool too large (32 GiB at most)')
  region.write(0, encodeHeader({
    poolId, poolBytes: region.sizeBytes, logOffset: LOG_OFFSET, ringBytes, createdAtMs,
  }), 'blanket')
  const seed = poolSeed(poolId)
  const w = new ByteWriter(64)
  beginRecord(w)
  encodeCheckpointBegin(w, { flags: CKPT_FLAG_EMPTY, keyCountEstimate: 0 })
  const record = finishRecord(w, REC_CKPT_BEGIN, 0, seed)
  region.write(LOG_OFFSET, record, 'blanket')
  const tail = normalizeLsn(record.length, ringBytes) % ringBytes
  const head = encodeWord(HEAD_TAG, 0, seed)
  const commit = encodeWord(TAIL_TAG, tail, seed)
  region.store64(HEAD_WORD_OFFSET, head.lo, head.hi, 'blanket')
  region.store64(TAIL_WORD_OFFSET, commit.lo, commit.hi, 'blanket')
  region.flush(0, LOG_OFFSET + record.length)
}
