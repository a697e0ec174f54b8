// CRC-64/XZ (ECMA-182 polynomial, reflected, init and xorout all ones; check value of
// "123456789" is 0x995dc9bbdf1939fa), as CapybaraKV uses. Any 64-bit CRC detects every burst of
// up to 64 bits and, for the record lengths we write (under a few KiB), every pattern of up to 7
// flipped bits (Hamming distance 8, Koopman's tables as CapybaraKV assumes); longer records keep
// a distance of at least 4. Random garbage passes with probability 2^-64.
// The fast path is native (native/crc64.rs); `crc64Js` is an independent implementation in
// TypeScript that the tests use to check the native one.

import * as native from './native.js'

/** CRC of buf[offset, offset+length) continuing from `seed` (0n starts a fresh CRC). */
export function crc64(buf: Buffer, offset: number, length: number, seed: bigint): bigint {
  return native.crc64(buf, offset, length, seed)
}

/** Write the CRC of buf[offset, offset+length) as a little-endian u64 at buf[dstOffset]. */
export function crc64Seal(
  buf: Buffer, offset: number, length: number, seed: bigint, dstOffset: number,
): void {
  native.crc64Seal(buf, offset, length, seed, dstOffset)
}

/** True iff the little-endian u64 at buf[dstOffset] is the CRC of buf[offset, offset+length). */
export function crc64Verify(
  buf: Buffer, offset: number, length: number, seed: bigint, dstOffset: number,
): boolean {
  return native.crc64Verify(buf, offset, length, seed, dstOffset)
}

const POLY = 0xc96c5795d7870f42n
const TABLE: bigint[] = []
for (let i = 0n; i < 256n; i++) {
  let c = i
  for (let k = 0; k < 8; k++) c = (c & 1n) === 1n ? (c >> 1n) ^ POLY : c >> 1n
  TABLE.push(c)
}
const MASK = 0xffffffffffffffffn

/** Reference implementation (slow; tests only). */
export function crc64Js(buf: Buffer, seed = 0n): bigint {
  let c = seed ^ MASK
  for (const b of buf) c = (TABLE[Number((c ^ BigInt(b)) & 0xffn)] as bigint) ^ (c >> 8n)
  return c ^ MASK
}
