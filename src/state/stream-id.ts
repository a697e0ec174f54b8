// A stream id's two 64-bit parts as numbers, without BigInt arithmetic on XADD's path.
// An id is one bigint, ms * 2^64 + seq (stream.ts); every `id >> 64n` or `id & U64` allocates a
// new bigint (measured under load on this machine: 120–280 ns each, about a dozen per XADD
// before this file: resolving the id, the node's listpack size, the log event, the reply).
// XADD knows the parts of the id it makes as numbers: it records them here (rememberId), and
// the later splits of that id in the same command, and of the stream's last id in the next
// XADD, find them in a two-slot memo keyed by the id's value (bigint === compares values).
// Invariants:
// - splitId(id) returns true only when both parts are safe integers, and then splitMs and
//   splitSeq hold exactly id >> 64n and id & (2^64 - 1); a memo slot holds only such a triple.
// - Callers fall back to bigint arithmetic when splitId returns false (parts up to 2^64 - 1),
//   so ids beyond 2^53 keep their exact value.

import { type ByteReader, type ByteWriter, DecodeError } from './bytes.js'

const U64 = (1n << 64n) - 1n
const SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER)
/** 2^64 as a number: ms * TWO_64 is exact for a safe ms (a power of two only moves the exponent). */
const TWO_64 = 2 ** 64

/** The parts found by the last splitId that returned true (module state: no tuple per split). */
export let splitMs = 0
export let splitSeq = 0

let slotId0 = -1n
let slotMs0 = 0
let slotSeq0 = 0
let slotId1 = -1n
let slotMs1 = 0
let slotSeq1 = 0
let nextSlot = 0

/** Record that `id` is ms * 2^64 + seq, both safe integers (the caller made it from them). */
export function rememberId(id: bigint, ms: number, seq: number): void {
  if (nextSlot === 0) {
    slotId0 = id
    slotMs0 = ms
    slotSeq0 = seq
  } else {
    slotId1 = id
    slotMs1 = ms
    slotSeq1 = seq
  }
  nextSlot ^= 1
}

/** Split `id` into splitMs and splitSeq; false (and nothing set) when a part is not a safe integer. */
export function splitId(id: bigint): boolean {
  if (id === slotId0) {
    splitMs = slotMs0
    splitSeq = slotSeq0
    return true
  }
  if (id === slotId1) {
    splitMs = slotMs1
    splitSeq = slotSeq1
    return true
  }
  const msBig = id >> 64n
  const seqBig = id & U64
  if (msBig > SAFE_BIG || seqBig > SAFE_BIG) return false
  splitMs = Number(msBig)
  splitSeq = Number(seqBig)
  rememberId(id, splitMs, splitSeq)
  return true
}

/** The id ms-0 for a safe `ms` (one bigint made, exactly). */
export function idOfMs(ms: number): bigint {
  return BigInt(ms * TWO_64)
}

// ---- codec: an id is 4 × u32, most significant first (stream.ts's codec layout) -------------

const TWO_32 = 2 ** 32

/** Two u32 of a 64-bit part, most significant first (numbers when the part is a safe integer). */
function writeU64(w: ByteWriter, v: bigint): void {
  if (v <= SAFE_BIG) {
    const n = Number(v)
    w.u32(Math.floor(n / TWO_32))
    w.u32(n % TWO_32)
    return
  }
  w.u32(Number(v >> 32n))
  w.u32(Number(v & 0xffffffffn))
}

function readU64(r: ByteReader): bigint {
  const hi = r.u32()
  const lo = r.u32()
  if (hi < 0x200000) return BigInt(hi * TWO_32 + lo)
  return (BigInt(hi) << 32n) | BigInt(lo)
}

export function writeId(w: ByteWriter, id: bigint): void {
  if (splitId(id)) {
    const ms = splitMs
    const seq = splitSeq
    w.u32(Math.floor(ms / TWO_32))
    w.u32(ms % TWO_32)
    w.u32(Math.floor(seq / TWO_32))
    w.u32(seq % TWO_32)
    return
  }
  writeU64(w, id >> 64n)
  writeU64(w, id & U64)
}

export function readId(r: ByteReader): bigint {
  const ms = readU64(r)
  const seq = readU64(r)
  return ms === 0n ? seq : (ms << 64n) | seq
}

export function writeI64(w: ByteWriter, v: bigint): void {
  writeId(w, BigInt.asUintN(64, v))
}

export function readI64(r: ByteReader): bigint {
  const v = readId(r)
  if (v > U64) throw new DecodeError('64-bit count out of range')
  return BigInt.asIntN(64, v)
}
