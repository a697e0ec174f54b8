// PFSELFTEST, as Redis 7.0.15's pfselftestCommand: (1) dense register access — random 6-bit
// values written to every register of a dense HLL read back unchanged and leave their
// neighbours alone, 1000 times; (2) approximation error — 10,000,000 distinct 8-byte elements
// added to a dense register array and to a sparse HLL at once, checked at 1, 10, 100 … 10^7:
// the sparse one stays sparse while it is small (under hll-sparse-max-bytes / 2), both count
// the same, and the count is within 6 standard errors (1 at cardinality 10). Replies OK or
// Redis's TESTFAILED texts. It blocks the server while it runs (Redis's does too; several times
// longer here: the MurmurHash64A is done in 32-bit halves).
// Invariants: reads and writes nothing of the keyspace; the elements are Redis's (j ^ seed, as
// little-endian 64-bit words).

import {
  HLL_DENSE_SIZE, HLL_HDR, HLL_REGISTERS, HLL_SPARSE, denseGet, denseSetRaw, hllBytes,
  hllCount, hllCountRaw, hllCreate, hllEncoding, hllHashOf, hllSetRegister,
} from './hll-format.js'
import { sparseMaxBytes } from './hyperloglog.js'
import { commandSpec } from './list.js'
import { randomIndex } from './random.js'
import type { CommandContext, CommandSpec, Handler } from './spec.js'

/** HLL_TEST_CYCLES. */
const TEST_CYCLES = 1000
const ELEMENTS = 10_000_000

/** Test 1: an error text, or null. */
function registerAccess(): string | null {
  const dense = Buffer.alloc(HLL_DENSE_SIZE)
  const bytes = new Uint8Array(HLL_REGISTERS)
  // xorshift32 seeded from the server's generator: 16 million values, cheaply.
  let x = randomIndex(2 ** 31) | 1
  for (let j = 0; j < TEST_CYCLES; j++) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      const r = x & 63
      bytes[i] = r
      denseSetRaw(dense, HLL_HDR, i, r)
    }
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const val = denseGet(dense, HLL_HDR, i)
      if (val !== bytes[i]) {
        return `TESTFAILED Register ${i} should be ${bytes[i] ?? 0} but is ${val}`
      }
    }
  }
  return null
}

/** Test 2: an error text, or null. */
function approximation(ctx: CommandContext): string | null {
  const maxBytes = sparseMaxBytes(ctx)
  const registers = new Uint8Array(HLL_REGISTERS)
  const sparse = hllCreate()
  const relerr = 1.04 / Math.sqrt(HLL_REGISTERS)
  const seedLo = randomIndex(2 ** 31)
  const seedHi = randomIndex(2 ** 31)
  const ele = Buffer.alloc(8)
  let checkpoint = 1
  for (let j = 1; j <= ELEMENTS; j++) {
    ele.writeUInt32LE((j % 2 ** 32 ^ seedLo) >>> 0, 0)
    ele.writeUInt32LE((Math.floor(j / 2 ** 32) ^ seedHi) >>> 0, 4)
    // One hash for both: hllAdd is hllPatLen then the set (hllSparseAdd / hllDenseAdd).
    const { index, count } = hllHashOf(ele)
    if (count > (registers[index] as number)) registers[index] = count
    hllSetRegister(sparse, index, count, maxBytes)
    if (j !== checkpoint) continue
    if (j < maxBytes / 2 && hllEncoding(sparse) !== HLL_SPARSE) {
      return 'TESTFAILED sparse encoding not used'
    }
    const card = hllCountRaw(registers)
    if (card !== hllCount(hllBytes(sparse))) return 'TESTFAILED dense/sparse disagree'
    const abserr = Math.abs(checkpoint - Number(card))
    const maxerr = j === 10 ? 1 : Math.ceil(relerr * 6 * checkpoint)
    if (abserr > maxerr) {
      return `TESTFAILED Too big error. card:${checkpoint} abserr:${abserr}`
    }
    checkpoint *= 10
  }
  return null
}

const pfselftestCommand: Handler = (ctx) => {
  const failed = registerAccess() ?? approximation(ctx)
  if (failed === null) ctx.reply.simple('OK')
  else ctx.reply.error(failed)
}

export const hllSelftestCommands: CommandSpec[] = [
  commandSpec('pfselftest', 1, ['admin'], 0, 0, 0, ['hyperloglog', 'admin', 'slow', 'dangerous'],
    pfselftestCommand),
]
