// `npm run sim -- --seed N [--steps S] [--ring BYTES] [--pressure BYTES] [--crash-rate P]
// [--capture-rate P]`:
// one seeded random run of the crash simulator in PoWER check mode (workload.ts), the same
// run crash-random.test.ts makes, so a failing seed printed by the suite reproduces here.
// Prints the run's statistics and the number of distinct crash images checked; exits 1 on a
// violation, printing it.

import { Verifier } from './sim-region.js'
import { seedFromEnv } from './prng.js'
import { randomRun } from './workload.js'

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

function numberFlag(name: string): number | undefined {
  const v = flag(name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n)) throw new Error(`--${name} wants a number, got ${v}`)
  return n
}

const seed = numberFlag('seed') ?? seedFromEnv()
const options = {
  seed: seed >>> 0,
  steps: numberFlag('steps') ?? 300,
  ringBytes: numberFlag('ring') ?? 16384,
  pressure: numberFlag('pressure'),
  crashRate: numberFlag('crash-rate'),
  captureRate: numberFlag('capture-rate'),
}
const verifier = new Verifier()
const started = performance.now()
console.log(`sim: ${JSON.stringify(options)}`)
try {
  const stats = randomRun({ ...options, verifier })
  console.log(`sim: ${JSON.stringify(stats)}`)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  for (const line of verifier.report()) console.log(line)
  console.log(`${seconds} s`)
} catch (e) {
  console.error(`sim: seed ${options.seed} FAILED after ${verifier.distinct} images`)
  console.error(e instanceof Error ? e.stack ?? e.message : e)
  process.exitCode = 1
}
