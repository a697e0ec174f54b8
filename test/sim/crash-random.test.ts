// Crash simulation, part 2: long seeded random runs in PoWER check mode (workload.ts): groups
// of several transactions per commit, rings of 16–64 KiB that wrap many times, checkpoint slices
// with small budgets between transactions (FLUSHDB / FLUSHALL / SWAPDB abandon them), whole
// checkpoints, pools driven full (refusals, then deletes and compaction), and crashes: reopen
// from a random image, or from one captured mid-protocol, and go on. Every crash image of every
// write and flush must recover to the model's durable state, or to the in-flight group's state
// once the commit word may have landed. A deleting transaction is never refused (a full pool is
// never bricked). Fixed seeds, plus one fresh seed per run (printed: `npm run sim -- --seed N`).
// Prints "crash images checked: N (distinct)".

import t from 'tap'
import { seedFromEnv, simScale } from './prng.js'
import { Verifier } from './sim-region.js'
import { Harness } from './harness.js'
import { randomRun, type RunOptions } from './workload.js'

const verifier = new Verifier()
const started = performance.now()
const scale = simScale()
const freshSeed = seedFromEnv()

interface Config { name: string; options: Omit<RunOptions, 'verifier'> }

// issue 12: sized so that CI's informative-image floors hold (.ci/run) with a margin of about a
// quarter on the images informative beyond the copy-1 root words, the ring wrapping many
// times; CAPYKV_SIM_SCALE multiplies it.
const steps = (n: number): number => Math.max(10, Math.round(20 * n * scale))
const configs: Config[] = [
  { name: '16 KiB ring, full pool', options: { seed: 101, steps: steps(120), ringBytes: 16384,
    pressure: 1200, crashRate: 0.05 } },
  // A fresh seed of CI (2026-12-07) that refused a DEL of a missing key at a full pool after a
  // compaction (fixed by CAP in storage/checkpoint.ts); it takes 2,000-3,000 steps to get there.
  { name: '16 KiB ring, full pool, regression', options: { seed: 1000954761, steps: steps(150),
    ringBytes: 16384, pressure: 1200, crashRate: 0.05 } },
  { name: '24 KiB ring', options: { seed: 202, steps: steps(220), ringBytes: 24576,
    crashRate: 0.03 } },
  { name: '32 KiB ring, full pool', options: { seed: 303, steps: steps(200), ringBytes: 32768,
    pressure: 2000, crashRate: 0.05 } },
  { name: '64 KiB ring', options: { seed: 404, steps: steps(160), ringBytes: 65536,
    crashRate: 0.02 } },
  { name: '16 KiB ring, many crashes', options: { seed: 505, steps: steps(200), ringBytes: 16384,
    crashRate: 0.2, captureRate: 0.01 } },
  { name: `fresh seed ${freshSeed}, 16 KiB ring, full pool`, options: { seed: freshSeed,
    steps: steps(200), ringBytes: 16384, pressure: 1200, crashRate: 0.05 } },
]

for (const config of configs) {
  t.test(`random run: ${config.name} (seed ${config.options.seed})`, (t) => {
    const t0 = performance.now()
    const before = verifier.distinct
    const stats = randomRun({ ...config.options, verifier })
    t.equal(stats.refusedShrinking, 0, 'no deleting transaction was refused')
    t.ok(stats.accepted > stats.refused, 'most transactions were accepted')
    t.ok(stats.checkpoints > 0, 'checkpoints completed')
    if (config.options.ringBytes <= 32768 && scale >= 1) t.ok(stats.wraps > 2, 'the ring wrapped')
    t.comment(`${JSON.stringify(stats)}; ${verifier.distinct - before} images, ` +
      `${(performance.now() - t0) / 1000} s`)
    t.end()
  })
}

t.test('counts', (t) => {
  t.ok(verifier.distinct > 0, 'images were checked')
  for (const line of verifier.report()) t.comment(line)
  const plain = Harness.plainTotals
  const roots = Harness.rootFaultTotals
  t.ok(roots.faults > 0, `acknowledged points with a flipped root-word copy 0 recovering the ` +
    `acknowledged state from copy 1: ${roots.faults} faults at ${roots.points} points`)
  t.ok(plain.compared > 0 && plain.notModelled === 0, `group commits equal to the independent ` +
    `model: ${plain.compared} (not modelled: ${plain.notModelled})`)
  t.comment(`crash images visited: ${verifier.visits}, ${(performance.now() - started) / 1000} s`)
  t.end()
})
