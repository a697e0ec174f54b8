// The root words' check bits (src/storage/cdb.ts) are a CRC computed with 32-bit numbers; this
// checks them, bit for bit, against the CRC of crc.ts (native, and the TypeScript reference) over
// seeds and values that exercise every byte of the table, and checks that a word decodes only
// under its own tag and seed.

import t from 'tap'
import { crc64, crc64Js } from '../../src/storage/crc.js'
import { decodeWord, encodeWord, HEAD_TAG, TAIL_TAG } from '../../src/storage/cdb.js'

function expectedCheck(tag: number, value: number, seed: bigint): number {
  const b = Buffer.alloc(8)
  b.writeUInt32LE(tag, 0)
  b.writeUInt32LE(value, 4)
  return Number(crc64(b, 0, 8, seed) & 0xffffffffn)
}

t.test('the check is the low half of CRC-64/XZ(tag || value, seed)', async (t) => {
  let state = 0x9e3779b97f4a7c15n
  const next = (): bigint => {
    state = (state * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn
    return state
  }
  const seeds = [0n, 1n, 0xffffffffffffffffn, 0x8000000000000000n, 0xffffffffn]
  for (let i = 0; i < 40; i++) seeds.push(next())
  const values = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]
  for (let i = 0; i < 40; i++) values.push(Number(next() >> 32n))
  let mismatches = 0
  for (const seed of seeds) {
    for (const value of values) {
      for (const tag of [TAIL_TAG, HEAD_TAG]) {
        const w = encodeWord(tag, value * 8, seed)
        if (w.lo !== value || w.hi !== expectedCheck(tag, value, seed)) mismatches++
      }
    }
  }
  t.equal(mismatches, 0, 'every (seed, value, tag) agrees with the native CRC')
  const b = Buffer.alloc(8)
  b.writeUInt32LE(TAIL_TAG, 0)
  b.writeUInt32LE(12345, 4)
  t.equal(encodeWord(TAIL_TAG, 12345 * 8, 77n).hi, Number(crc64Js(b, 77n) & 0xffffffffn),
    'and with the TypeScript reference')
})

t.test('a word decodes only in its own slot and pool', async (t) => {
  const seed = 0x0123456789abcdefn
  const w = encodeWord(TAIL_TAG, 4096, seed)
  const bytes = Buffer.alloc(8)
  bytes.writeUInt32LE(w.lo, 0)
  bytes.writeUInt32LE(w.hi, 4)
  t.equal(decodeWord(bytes, 0, TAIL_TAG, seed), 4096)
  t.equal(decodeWord(bytes, 0, HEAD_TAG, seed), null, 'the other tag fails')
  t.equal(decodeWord(bytes, 0, TAIL_TAG, seed + 1n), null, 'another seed fails')
  let undetected = 0
  for (let bit = 0; bit < 64; bit++) {
    const flipped = Buffer.from(bytes)
    flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7))
    if (decodeWord(flipped, 0, TAIL_TAG, seed) !== null) undetected++
  }
  t.equal(undetected, 0, 'every single flipped bit is detected')
})
