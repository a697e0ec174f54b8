// Pool layout and the pool header's durable format (one encoder/decoder pair, here).
//
// Format version 3 (versions 1 and 2, below, are read and upgraded in place at open):
//   [0, 4096)        header block: header copy 0 at 0 and header copy 1 at 2048 (different
//                    512-byte sectors and cache lines). Each copy is 128 bytes, written once at
//                    creation (and by capykv-check --repair over a damaged copy), never else:
//                      0  magic "CAPYKV01" (8)      8  u32 format version (3)
//                     12  u32 header bytes (128)   16  pool id (16 random bytes)
//                     32  u64 pool bytes           40  u64 log offset (8192)
//                     48  u64 ring bytes           56  u64 creation time, ms (informational)
//                     64  u32 copy index (0, 1)    68  zero to 120
//                    120  u64 CRC-64 of [0, 120), seed 0
//                    The copy index is inside the CRC, so a copy found in the other copy's slot
//                    (a misdirected write) fails its check; the pool id binds it to the pool.
//   [4096, 8192)     roots block: copy 0 of the tail word at 4096, of the head word at 4104 and
//                    of the previous-head word at 4112; copy 1 of them at 6144, 6152 and 6160
//                    (cdb.ts; each copy has its own tag, so a word in the wrong slot fails its
//                    check). The previous-head word ("prev", format 3) names the BEGIN of the
//                    checkpoint before the head's, or the head itself when no fallback is kept:
//                    prev <= head, and the ring never reuses space at or after prev
//                    (docs/checkpoint-fallback.md; recover.ts walks from prev when a record of
//                    the head's checkpoint is damaged).
//   [8192, end)      the log ring (ring bytes = pool bytes - 8192, rounded down to 8); records
//                    in record-codec.ts (format 3 adds the txn sequence to every record header)
// Redundancy (which copy is used, and the write order that keeps one valid at every crash point):
// - Reading: copy 0 when it verifies, else copy 1 (header, tail word and head word decided each
//   on its own). Copy 1 of a root word is written after copy 0 and flushed before anything
//   depends on it, so two valid copies that differ mean a crash between the two stores (copy 0
//   is then the newer one, and either state is legal: that commit was never acknowledged).
//   Store.open rewrites a root-word copy that is damaged or differs before anything is appended.
// - Writing (log.ts): commit = flush the records, store tail copy 0 (the commit point), flush
//   it, store tail copy 1, flush it; a head move stores and flushes the prev words (copy 0, then
//   copy 1) := the old head, then the head words the same way: every crash point keeps
//   prev <= head, both naming complete checkpoints. Formatting
//   writes the log and both root copies, flushes, then both header copies, flushes: a file
//   with no verifying header copy was never a complete pool (Store.create may delete it).
// - A single flipped bit anywhere in one copy is detected by that copy's CRC (the header's
//   CRC-64 over 120 bytes, the words' 32-bit check over 8), so the other copy is used.
// Format version 2 (2026-12-07): as 3 without the prev words (zero) and with zero txn sequences
// (the records' u32 kind). recover() reads it (prev = head: no fallback); Store.open upgrades it
// in place (setup.ts syncMetadata: prev words := head, flushed, then the header copies).
// Format version 1 (until 2026-12): one header at 0 (bytes 64..120 zero), root words at 4096 and
// 4104 only. recover() reads it (copy 0 only); Store.open upgrades it in place to version 3.
// Pools are created whole (blocks allocated), initialised under a temporary name and renamed,
// so a crash during creation leaves no half-made pool under the real name.

import { VERIFY, assert } from '../assert.js'
import { crc64 } from './crc.js'

export const MAGIC = Buffer.from('CAPYKV01', 'latin1')
export const FORMAT_VERSION = 3
/** The older formats this build still reads (and upgrades in place at open). */
export const FORMAT_VERSION_V1 = 1
export const FORMAT_VERSION_V2 = 2
export const HEADER_BYTES = 128
export const HEADER_CRC_OFFSET = 120
export const HEADER_COPY_INDEX_OFFSET = 64
/** Where each header copy lives (copy 0 is format version 1's only header). */
export const HEADER_OFFSETS: readonly number[] = [0, 2048]
/** Copy 0 of each root word (format version 1's only copy). */
export const TAIL_WORD_OFFSET = 4096
export const HEAD_WORD_OFFSET = 4104
/** Every copy of the tail word and of the head word, copy 0 first. */
export const TAIL_WORD_OFFSETS: readonly number[] = [4096, 6144]
export const HEAD_WORD_OFFSETS: readonly number[] = [4104, 6152]
/** Every copy of the previous-head word (format 3). */
export const PREV_WORD_OFFSETS: readonly number[] = [4112, 6160]
export const LOG_OFFSET = 8192
export const MIN_RING_BYTES = 1024
/** The words store ring offsets in 8-byte units in 32 bits. */
export const MAX_RING_BYTES = 2 ** 32 * 8 - 8
export const MIN_POOL_BYTES = LOG_OFFSET + MIN_RING_BYTES

export interface PoolHeader {
  poolId: Buffer
  poolBytes: number
  logOffset: number
  ringBytes: number
  createdAtMs: number
}

export function ringBytesFor(poolBytes: number): number {
  return Math.floor((poolBytes - LOG_OFFSET) / 8) * 8
}

function writeU64(buf: Buffer, offset: number, v: number): void {
  buf.writeUInt32LE(v % 2 ** 32, offset)
  buf.writeUInt32LE(Math.floor(v / 2 ** 32), offset + 4)
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * 2 ** 32
}

/** Header copy `copy` (0 or 1) of the current format; `version` 1 only to build old pools (tests). */
export function encodeHeader(h: PoolHeader, copy = 0, version = FORMAT_VERSION): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(buf, 0)
  buf.writeUInt32LE(version, 8)
  buf.writeUInt32LE(HEADER_BYTES, 12)
  h.poolId.copy(buf, 16, 0, 16)
  writeU64(buf, 32, h.poolBytes)
  writeU64(buf, 40, h.logOffset)
  writeU64(buf, 48, h.ringBytes)
  writeU64(buf, 56, h.createdAtMs)
  if (version !== FORMAT_VERSION_V1) buf.writeUInt32LE(copy, HEADER_COPY_INDEX_OFFSET)
  const crc = crc64(buf, 0, HEADER_CRC_OFFSET, 0n)
  buf.writeBigUInt64LE(crc, HEADER_CRC_OFFSET)
  // Old versions are built only by tests (upgrade paths, a future version refused): the round
  // trip holds for the format this build writes.
  if (VERIFY && version === FORMAT_VERSION) {
    const back = decodeHeaderCopy(buf, copy)
    assert(back.kind === 'ok' && back.version === version, 'a header decodes as written')
    assert(back.kind === 'ok' && back.header.poolBytes === h.poolBytes &&
      back.header.logOffset === h.logOffset && back.header.ringBytes === h.ringBytes &&
      back.header.createdAtMs === h.createdAtMs && back.header.poolId.equals(h.poolId.subarray(0, 16)),
    'a header decodes to its fields')
  }
  return buf
}

export type HeaderCopyResult =
  | { kind: 'ok'; header: PoolHeader; version: number }
  | { kind: 'bad'; reason: string; corrupt: boolean }

/**
 * Decode and validate one header copy (`copy` = the slot it was read from), without comparing
 * its pool size with the file's (recover() does that, to say what a wrong length would take).
 */
export function decodeHeaderCopy(bytes: Buffer, copy: number): HeaderCopyResult {
  if (bytes.length < HEADER_BYTES) return { kind: 'bad', reason: 'file too small', corrupt: false }
  const crcOk = crc64(bytes, 0, HEADER_CRC_OFFSET, 0n) === bytes.readBigUInt64LE(HEADER_CRC_OFFSET)
  if (!bytes.subarray(0, 8).equals(MAGIC)) {
    // A damaged magic in an otherwise intact header (its CRC verifies once the magic is put
    // back) is corruption, reported as such; a foreign file has neither.
    const repaired = Buffer.from(bytes.subarray(0, HEADER_BYTES))
    MAGIC.copy(repaired, 0)
    const ours = crc64(repaired, 0, HEADER_CRC_OFFSET, 0n) ===
      repaired.readBigUInt64LE(HEADER_CRC_OFFSET)
    return crcOk || ours ? { kind: 'bad', reason: 'bad magic', corrupt: true }
      : { kind: 'bad', reason: 'not a capykv pool (no magic)', corrupt: false }
  }
  if (!crcOk) return { kind: 'bad', reason: 'header checksum mismatch', corrupt: true }
  const version = bytes.readUInt32LE(8)
  if (version !== FORMAT_VERSION && version !== FORMAT_VERSION_V2 && version !== FORMAT_VERSION_V1) {
    return {
      kind: 'bad', corrupt: false,
      reason: `format version ${version}, this build reads ${FORMAT_VERSION} (and ` +
        `${FORMAT_VERSION_V2}, ${FORMAT_VERSION_V1}): open it with a capykv build that reads version ${version}, or ` +
        'carry its data over through a client (e.g. redis-cli --scan piped into MIGRATE/DUMP-RESTORE)',
    }
  }
  const index = bytes.readUInt32LE(HEADER_COPY_INDEX_OFFSET)
  if (version !== FORMAT_VERSION_V1 && index !== copy) {
    return { kind: 'bad', reason: `header copy ${index} found in the slot of copy ${copy}`,
      corrupt: true }
  }
  if (version === FORMAT_VERSION_V1 && copy !== 0) {
    return { kind: 'bad', reason: 'a format version 1 header in the slot of copy 1', corrupt: true }
  }
  const header: PoolHeader = {
    poolId: Buffer.from(bytes.subarray(16, 32)),
    poolBytes: readU64(bytes, 32),
    logOffset: readU64(bytes, 40),
    ringBytes: readU64(bytes, 48),
    createdAtMs: readU64(bytes, 56),
  }
  if (header.logOffset !== LOG_OFFSET || header.ringBytes !== ringBytesFor(header.poolBytes) ||
      header.ringBytes < MIN_RING_BYTES || header.ringBytes > MAX_RING_BYTES) {
    return { kind: 'bad', reason: 'header geometry inconsistent', corrupt: true }
  }
  return { kind: 'ok', header, version }
}

export function sameHeader(a: PoolHeader, b: PoolHeader): boolean {
  return a.poolId.equals(b.poolId) && a.poolBytes === b.poolBytes && a.logOffset === b.logOffset &&
    a.ringBytes === b.ringBytes && a.createdAtMs === b.createdAtMs
}

export type HeaderResult =
  | { kind: 'ok'; header: PoolHeader }
  | { kind: 'bad'; reason: string; corrupt: boolean }

/** Decode copy 0 and validate it against the region's size (tests and tools). */
export function decodeHeader(bytes: Buffer, regionBytes: number): HeaderResult {
  const r = decodeHeaderCopy(bytes, 0)
  if (r.kind === 'bad') return r
  if (r.header.poolBytes !== regionBytes) {
    return { kind: 'bad', reason: `header says ${r.header.poolBytes} bytes, file has ${regionBytes}`,
      corrupt: true }
  }
  return { kind: 'ok', header: r.header }
}

/** The seed that binds every record and word CRC to this pool's identity. */
export function poolSeed(poolId: Buffer): bigint {
  return crc64(poolId, 0, poolId.length, 0n)
}
