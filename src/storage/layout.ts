// Pool layout and the pool header's durable format (one encoder/decoder pair, here).
//
//   [0, 4096)        header block; the header occupies its first 128 bytes, written once at
//                    creation and never again:
//                      0  magic "CAPYKV01" (8)      8  u32 format version (1)
//                     12  u32 header bytes (128)   16  pool id (16 random bytes)
//                     32  u64 pool bytes           40  u64 log offset (8192)
//                     48  u64 ring bytes           56  u64 creation time, ms (informational)
//                     64  zero to 120             120  u64 CRC-64 of [0, 120), seed 0
//   [4096, 8192)     roots block: the tail word at 4096 (the commit word: where the committed
//                    log ends) and the head word at 4104 (where the newest complete checkpoint
//                    begins); see cdb.ts
//   [8192, end)      the log ring (ring bytes = pool bytes - 8192, rounded down to 8); records
//                    in record-codec.ts
// Pools are created whole (blocks allocated), initialised under a temporary name and renamed,
// so a crash during creation leaves no half-made pool under the real name.

import { crc64 } from './crc.js'

export const MAGIC = Buffer.from('CAPYKV01', 'latin1')
export const FORMAT_VERSION = 1
export const HEADER_BYTES = 128
export const HEADER_CRC_OFFSET = 120
export const TAIL_WORD_OFFSET = 4096
export const HEAD_WORD_OFFSET = 4104
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

export function encodeHeader(h: PoolHeader): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES)
  MAGIC.copy(buf, 0)
  buf.writeUInt32LE(FORMAT_VERSION, 8)
  buf.writeUInt32LE(HEADER_BYTES, 12)
  h.poolId.copy(buf, 16, 0, 16)
  writeU64(buf, 32, h.poolBytes)
  writeU64(buf, 40, h.logOffset)
  writeU64(buf, 48, h.ringBytes)
  writeU64(buf, 56, h.createdAtMs)
  const crc = crc64(buf, 0, HEADER_CRC_OFFSET, 0n)
  buf.writeBigUInt64LE(crc, HEADER_CRC_OFFSET)
  return buf
}

export type HeaderResult =
  | { kind: 'ok'; header: PoolHeader }
  | { kind: 'bad'; reason: string; corrupt: boolean }

/** Decode and validate the header against the region's size. */
export function decodeHeader(bytes: Buffer, regionBytes: number): HeaderResult {
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
  if (version !== FORMAT_VERSION) {
    return { kind: 'bad', reason: `format version ${version}, this build reads ${FORMAT_VERSION}`,
      corrupt: false }
  }
  const header: PoolHeader = {
    poolId: Buffer.from(bytes.subarray(16, 32)),
    poolBytes: readU64(bytes, 32),
    logOffset: readU64(bytes, 40),
    ringBytes: readU64(bytes, 48),
    createdAtMs: readU64(bytes, 56),
  }
  if (header.poolBytes !== regionBytes) {
    return { kind: 'bad', reason: `header says ${header.poolBytes} bytes, file has ${regionBytes}`,
      corrupt: true }
  }
  if (header.logOffset !== LOG_OFFSET || header.ringBytes !== ringBytesFor(header.poolBytes) ||
      header.ringBytes < MIN_RING_BYTES || header.ringBytes > MAX_RING_BYTES) {
    return { kind: 'bad', reason: 'header geometry inconsistent', corrupt: true }
  }
  return { kind: 'ok', header }
}

/** The seed that binds every record and word CRC to this pool's identity. */
export function poolSeed(poolId: Buffer): bigint {
  return crc64(poolId, 0, poolId.length, 0n)
}
