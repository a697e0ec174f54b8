// Redis's listpack sizes, emulated (Redis 7.0.15 listpack.c lpEncodeBacklen, lpStringToInt64,
// t_stream.c streamAppendItem): only to decide where a stream's nodes end (stream-node-max-bytes)
// and what MEMORY USAGE compares with Redis. Pure functions of the bytes; number arithmetic where
// the values are safe integers, bigint beyond (the same thresholds either way).

import { LONG_STR_SIZE, string2ll } from '../int64.js'

function intEncodedSize(v: bigint): number {
  if (v >= 0n && v <= 127n) return 1
  if (v >= -4096n && v <= 4095n) return 2
  if (v >= -32768n && v <= 32767n) return 3
  if (v >= -8388608n && v <= 8388607n) return 4
  if (v >= -2147483648n && v <= 2147483647n) return 5
  return 9
}

export function backlenSize(n: number): number {
  if (n <= 127) return 1
  if (n < 16383) return 2
  if (n < 2097151) return 3
  if (n < 268435455) return 4
  return 5
}

/** intEncodedSize of a safe integer (the same thresholds, without BigInt). */
export function intEncodedSizeNum(v: number): number {
  if (v >= 0 && v <= 127) return 1
  if (v >= -4096 && v <= 4095) return 2
  if (v >= -32768 && v <= 32767) return 3
  if (v >= -8388608 && v <= 8388607) return 4
  if (v >= -2147483648 && v <= 2147483647) return 5
  return 9
}

/** The string's listpack size when it cannot be an integer (the common field or value). */
function lpTextSize(length: number): number {
  const enc = length < 64 ? 1 + length : length < 4096 ? 2 + length : 5 + length
  return enc + backlenSize(enc)
}

/** Bytes a listpack entry of this string takes (lpAppend stores integer-looking text as int). */
export function lpStringSize(b: Buffer): number {
  // lpStringToInt64 is string2ll: the one parser in src/int64.ts.
  const v = b.length === 0 || b.length >= LONG_STR_SIZE ? null : string2ll(b)
  if (v === null) return lpTextSize(b.length)
  return (typeof v === 'number' ? intEncodedSizeNum(v) : intEncodedSize(v)) + 1
}

export const lpIntSize = (v: bigint | number): number => intEncodedSize(BigInt(v)) + 1
const toI64 = (v: bigint): bigint => BigInt.asIntN(64, v)

/** Byte equality; a JS loop for short buffers (a native equals costs more than it compares). */
function sameBytes(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false
  if (a.length > 32) return a.equals(b)
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function sameFields(master: readonly Buffer[], fv: readonly Buffer[]): boolean {
  if (master.length * 2 !== fv.length) return false
  for (let i = 0; i < master.length; i++) if (!sameBytes(master[i] as Buffer, fv[i * 2] as Buffer)) return false
  return true
}

/** lpIntSize of a 64-bit two's-complement delta held as a bigint (numbers when they are safe). */
export function lpDeltaSize(delta: bigint): number {
  const n = Number(delta)
  if (Number.isSafeInteger(n)) return intEncodedSizeNum(n) + 1
  return lpIntSize(toI64(delta))
}
