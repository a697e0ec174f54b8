// The two root words: self-checking 8-byte values, each written by one aligned atomic store
// (CapybaraKV's CDB idea, widened to carry an offset). Layout of a word (little-endian u64):
//   low 32 bits:  ring offset / 8 of the position it names
//   high 32 bits: low 32 bits of CRC-64(tag u32 || value u32, seed = pool seed)
// The tag differs for the tail word ('tail'), the head word ('head') and the previous-head word
// ('prev', pool format 3), and for each copy of them (copy 1: 'TAIL', 'HEAD', 'PREV'; layout.ts), so a word written to the wrong slot, or copied from
// another pool, fails its check. A flipped bit anywhere in the
// word is detected (CRC-64 truncated to 32 bits keeps distance >= 4 on 64-bit messages); it is
// reported as corruption, never read as a torn or shorter log.
// The tail word is the commit point: storing it makes every record before it durable state.

// The check is computed here with 32-bit numbers (the CRC of 8 bytes, table-driven) rather than
// with crc.ts: it runs at every commit, where a native call returning a BigInt costs ten times
// the CRC itself. test/unit/cdb.test.ts checks it against crc.ts.

import { VERIFY, assert } from '../assert.js'

export const TAIL_TAG = 0x6c696174 // 'tail'
export const HEAD_TAG = 0x64616568 // 'head'
/** The tag of each copy of the tail word and of the head word (layout.ts: *_WORD_OFFSETS). */
export const TAIL_TAGS: readonly number[] = [TAIL_TAG, 0x4c494154] // 'tail', 'TAIL'
export const HEAD_TAGS: readonly number[] = [HEAD_TAG, 0x44414548] // 'head', 'HEAD'
export const PREV_TAGS: readonly number[] = [0x76657270, 0x56455250] // 'prev', 'PREV'

// CRC-64/XZ's byte table (reflected polynomial 0xc96c5795d7870f42), as low and high halves.
const TABLE_LO = new Int32Array(256)
const TABLE_HI = new Int32Array(256)
for (let i = 0; i < 256; i++) {
  let lo = i
  let hi = 0
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1
    lo = (lo >>> 1) | (hi << 31)
    hi >>>= 1
    if (carry !== 0) {
      lo ^= 0xd7870f42
      hi ^= 0xc96c5795
    }
  }
  TABLE_LO[i] = lo
  TABLE_HI[i] = hi
}

// The pool seed as halves, for the seed seen last (a process uses one pool, or a few in tests).
let halvesOf = -1n
let seedLo = 0
let seedHi = 0

/** Low 32 bits of CRC-64/XZ(tag u32 LE || value u32 LE), continuing from `seed`. */
function checkOf(tag: number, value: number, seed: bigint): number {
  if (seed !== halvesOf) {
    seedLo = Number(seed & 0xffffffffn)
    seedHi = Number((seed >> 32n) & 0xffffffffn)
    halvesOf = seed
  }
  let lo = ~seedLo
  let hi = ~seedHi
  for (let i = 0; i < 8; i++) {
    const byte = (i < 4 ? tag >>> (8 * i) : value >>> (8 * (i - 4))) & 0xff
    const at = (lo ^ byte) & 0xff
    lo = ((lo >>> 8) | (hi << 24)) ^ (TABLE_LO[at] as number)
    hi = (hi >>> 8) ^ (TABLE_HI[at] as number)
  }
  return ~lo >>> 0
}

export function encodeWord(tag: number, ringOffset: number, seed: bigint): { lo: number; hi: number } {
  const value = ringOffset / 8
  const word = { lo: value, hi: checkOf(tag, value, seed) }
  if (VERIFY) {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, 'a word names an 8-byte aligned offset')
    const bytes = Buffer.alloc(8)
    bytes.writeUInt32LE(word.lo, 0)
    bytes.writeUInt32LE(word.hi, 4)
    assert(decodeWord(bytes, 0, tag, seed) === ringOffset, 'a root word decodes to its offset')
  }
  return word
}

/** The ring offset a word names, or null when its check fails. */
export function decodeWord(bytes: Buffer, offset: number, tag: number, seed: bigint): number | null {
  const value = bytes.readUInt32LE(offset)
  const check = bytes.readUInt32LE(offset + 4)
  return checkOf(tag, value, seed) === check ? value * 8 : null
}
