// Issue 14: the HDR histogram behind LATENCY HISTOGRAM and INFO latencystats
// (src/commands/latency-histogram.ts) against the geometry of Redis 7.0.15's (1 ns .. 1 s,
// 2 significant figures) and against figures a redis-server 7.0.15 printed: INFO latencystats
// `latency_percentiles_usec_debug:p0=148.480,p50=225.279,p99=17694.719` and LATENCY HISTOGRAM
// keys 264, 2113, 16908, 33816 (seven DEBUG SLEEPs, 19:58 UTC). The live side-by-side check is
// in test/server/introspection-differential.test.ts.

import t from 'tap'
import {
  COUNTS_LENGTH, LatencyHistogram, highestEquivalent, lowestEquivalent, valueAtIndex,
} from '../../src/commands/latency-histogram.js'

t.test('the equivalence ranges tile 1 ns .. 1 s in index order, 1 % wide at most', (t) => {
  let failures = 0
  for (let i = 1; i < COUNTS_LENGTH - 1 && failures < 5; i++) {
    const v = valueAtIndex(i)
    const next = valueAtIndex(i + 1)
    if (lowestEquivalent(v) !== v || highestEquivalent(v) !== next - 1 ||
      highestEquivalent(next - 1) !== next - 1 || (next - v) / v > 0.01 && v >= 256) {
      failures++
      t.fail(`index ${i}: value ${v}, next ${next}, highest ${highestEquivalent(v)}`)
    }
  }
  t.ok(valueAtIndex(COUNTS_LENGTH - 1) > 1_000_000_000, 'the last index is past 1 s')
  t.equal(failures, 0)
  t.end()
})

t.test('figures a redis-server printed are range ends here', (t) => {
  t.equal(lowestEquivalent(148_480), 148_480, 'p0=148.480 is a lowest equivalent value')
  t.equal(highestEquivalent(225_279), 225_279, 'p50=225.279 is a highest equivalent value')
  t.equal(highestEquivalent(17_694_719), 17_694_719, 'p99=17694.719 likewise')
  t.not(highestEquivalent(225_000), 225_000, 'an arbitrary value is not')
  t.end()
})

t.test('LATENCY HISTOGRAM buckets: levels from 1024 ns doubling, named in whole µs', (t) => {
  const h = new LatencyHistogram()
  const levels: number[] = []
  for (let ns = 1024; ns <= 1_000_000_000; ns *= 2) {
    h.record(ns)
    levels.push(Math.trunc(highestEquivalent(ns) / 1000))
  }
  const keys = h.buckets().map(([usec]) => usec)
  t.same(keys, levels)
  t.same(keys.slice(0, 16), [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454,
    16908, 33816], 'the keys Redis printed (264, 2113, 16908, 33816) are among them')
  t.same(h.buckets().map(([, n]) => n), levels.map((_, i) => i + 1), 'cumulative counts')
  t.end()
})

t.test('buckets: empty steps are left out, a value counts at the first level above it', (t) => {
  const h = new LatencyHistogram()
  for (const us of [0, 1, 3, 5, 20, 100, 1000, 10000, 10050]) h.record(us * 1000)
  t.same(h.buckets(), [[1, 2], [4, 3], [8, 4], [33, 5], [132, 6], [1056, 7], [16908, 9]])
  t.equal(h.total, 9)
  const one = new LatencyHistogram()
  one.record(1000)
  t.same(one.buckets(), [[1, 1]])
  t.same(new LatencyHistogram().buckets(), [], 'no calls, no buckets')
  t.end()
})

t.test('percentiles: hdr_value_at_percentile (rounded count, highest equivalent; p0 lowest)', (t) => {
  const h = new LatencyHistogram()
  for (let us = 1; us <= 100; us++) h.record(us * 1000)
  // The 50th of 100 values is 50 µs: 50000 >> 8 = 195, so [49920, 50175].
  t.equal(h.valueAtPercentile(50), 50_175)
  t.equal(h.valueAtPercentile(0), 1000, 'p0: the lowest equivalent of the smallest value')
  t.equal(h.valueAtPercentile(100), highestEquivalent(100_000))
  t.equal(h.valueAtPercentile(99.9), highestEquivalent(100_000), '99.9 % of 100 rounds to 100')
  t.equal(h.valueAtPercentile(150), highestEquivalent(100_000), 'past 100 is 100')
  const zero = new LatencyHistogram()
  zero.record(0)
  t.equal(zero.valueAtPercentile(50), 1, 'a 0 µs call is clamped to 1 ns (p50=0.001)')
  const long = new LatencyHistogram()
  long.record(5e9)
  t.equal(long.valueAtPercentile(50), highestEquivalent(1e9), 'clamped to 1 s')
  t.end()
})
