// Issue 10: the blocking commands' timeout in seconds, as Redis 7.0.15's
// getTimeoutFromObjectOrReply(UNIT_SECONDS) computes it: (long long)ceill(seconds * 1000.0) in
// x87 long double. The expected values were computed by that very C expression (strtold, the
// long double product, ceill, the cast) with gcc on x86-64; the product is rounded to 64
// significant bits before ceill, so 0.007 s is 7 ms, not 8 (the decimal 0.007 is stored a hair
// above it, and the rounding of the product takes the hair away).

import t from 'tap'
import { blockingTimeoutMs } from '../../src/commands/coll-util.js'

const NEGATIVE = 'ERR timeout is negative'
const NOT_FLOAT = 'ERR timeout is not a float or out of range'

const CASES: [string, bigint | string][] = [
  // under a millisecond: rounded up to 1 ms, never 0 ("forever")
  ['0.001', 1n], ['0.0001', 1n], ['1e-9', 1n], ['0x1p-30', 1n],
  ['0.0000000000000000000000001', 1n],
  // fractions of a millisecond above a whole one round up
  ['0.9999', 1000n], ['1.0000001', 1001n], ['2.5', 2500n], ['0.1', 100n], ['1', 1000n],
  // the product is rounded once (64-bit significand) before ceill
  ['0.007', 7n], ['0.009', 9n], ['0.011', 11n], ['0.025', 25n],
  // zero and what rounds up to zero: forever
  ['0', 0n], ['-0', 0n], ['-0.0009', 0n],
  // negative after rounding up
  ['-0.0011', NEGATIVE], ['-0.9999', NEGATIVE], ['-1', NEGATIVE],
  // the int64 range: the largest that fits, then the conversion's INT64_MIN ("negative")
  ['1e15', 1000000000000000000n], ['9223372036854775.807', 9223372036854775807n],
  ['9223372036854775.808', NEGATIVE], ['1e16', NEGATIVE], ['-1e16', NEGATIVE],
  ['1e400', NEGATIVE], ['inf', NEGATIVE], ['-inf', NEGATIVE], ['+Infinity', NEGATIVE],
  // string2ld refuses these (1e5000 overflows even a long double)
  ['nan', NOT_FLOAT], ['x', NOT_FLOAT], ['', NOT_FLOAT], ['1e5000', NOT_FLOAT],
  ['1e-5000', NOT_FLOAT], [' 1', NOT_FLOAT], ['1 ', NOT_FLOAT], ['0.5\x00', NOT_FLOAT],
]

t.test('blockingTimeoutMs is (long long)ceill(seconds * 1000.0) of Redis 7.0.15', async (t) => {
  for (const [input, expected] of CASES) {
    t.equal(blockingTimeoutMs(Buffer.from(input, 'latin1')), expected, JSON.stringify(input))
  }
})
