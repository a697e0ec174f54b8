// The committed records of a clean pool image, from the head to the committed tail, read with
// copy 0 of the words and checkRecord (test helper: a damaged image throws, it is not a walk that
// tolerates anything). For tests that build faults out of real records: a record's bytes from an
// earlier image of the same pool (a stale record), another pool's, or a misplaced one.

import { decodeWord, HEAD_TAG, TAIL_TAG } from '../../src/storage/cdb.js'
import {
  decodeHeader, HEAD_WORD_OFFSET, HEADER_BYTES, LOG_OFFSET, poolSeed, TAIL_WORD_OFFSET,
} from '../../src/storage/layout.js'
import {
  checkRecord, claimedPayloadBytes, normalizeLsn, REC_PAD, recordBytes,
} from '../../src/storage/record-codec.js'

export interface PoolRecord {
  /** File offset of the record. */
  offset: number
  /** Its total bytes (header, payload, padding, CRC). */
  bytes: number
  lsn: number
  kind: number
}

export interface PoolRecords {
  recs: PoolRecord[]
  seed: bigint
  ring: number
  headLsn: number
  tailLsn: number
}

export function poolRecords(bytes: Buffer): PoolRecords {
  const h = decodeHeader(bytes.subarray(0, HEADER_BYTES), bytes.length)
  if (h.kind !== 'ok') throw new Error(h.reason)
  const ring = h.header.ringBytes
  const seed = poolSeed(h.header.poolId)
  const tail = decodeWord(bytes, TAIL_WORD_OFFSET, TAIL_TAG, seed)
  const head = decodeWord(bytes, HEAD_WORD_OFFSET, HEAD_TAG, seed)
  if (tail === null || head === null) throw new Error('a root word copy 0 does not verify')
  const headLsn = bytes.readUInt32LE(LOG_OFFSET + head + 8) +
    bytes.readUInt32LE(LOG_OFFSET + head + 12) * 2 ** 32
  const tailLsn = headLsn + (tail - head + ring) % ring
  const recs: PoolRecord[] = []
  for (let lsn = headLsn; lsn < tailLsn;) {
    const phys = lsn % ring
    const offset = LOG_OFFSET + phys
    const total = recordBytes(claimedPayloadBytes(bytes.subarray(offset, offset + 16)))
    const c = checkRecord(bytes.subarray(offset, offset + total), lsn, seed, ring - phys)
    if (!c.ok) throw new Error(`clean pool, record at lsn ${lsn}: ${c.reason}`)
    recs.push({ offset, bytes: total, lsn, kind: c.kind })
    lsn = c.kind === REC_PAD ? lsn + ring - phys : normalizeLsn(lsn + total, ring)
  }
  return { recs, seed, ring, headLsn, tailLsn }
}
