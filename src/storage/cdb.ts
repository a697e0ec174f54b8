// The two root words: self-checking 8-byte values, each written by one aligned atomic store
// (CapybaraKV's CDB idea, widened to carry an offset). Layout of a word (little-endian u64):
//   low 32 bits:  ring offset / 8 of the position it names
//   high 32 bits: low 32 bits of CRC-64(tag u32 || value u32, seed = pool seed)
// The tag differs for the tail word ('tail') and the head word ('head'), so a word written to
// the wrong slot, or copied from another pool, fails its check. A flipped bit anywhere in the
// word is detected (CRC-64 truncated to 32 bits keeps distance >= 4 on 64-bit messages); it is
// reported as corruption, never read as a torn or shorter log.
// The tail word is the commit point: storing it makes every record before it durable state.

import { crc64 } from './crc.js'

export const TAIL_TAG = 0x6c696174 // 'tail'
export const HEAD_TAG = 0x64616568 // 'head'

const scratch = Buffer.alloc(8)

function checkOf(tag: number, value: number, seed: bigint): number {
  scratch.writeUInt32LE(tag, 0)
  scratch.writeUInt32LE(value, 4)
  return Number(crc64(scratch, 0, 8, seed) & 0xffffffffn)
}

export function encodeWord(tag: number, ringOffset: number, seed: bigint): { lo: number; hi: number } {
  const value = ringOffset / 8
  return { lo: value, hi: checkOf(tag, value, seed) }
}

/** The ring offset a word names, or null when its check fails. */
export function decodeWord(bytes: Buffer, offset: number, tag: number, seed: bigint): number | null {
  const value = bytes.readUInt32LE(offset)
  const check = bytes.readUInt32LE(offset + 4)
  return checkOf(tag, value, seed) === check ? value * 8 : null
}
