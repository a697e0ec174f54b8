// Crash simulation of scripts (issue 13, "Must show" 3): EVAL scripts and FCALL functions that
// write several keys of several types (strings, lists, hashes, sets, sorted sets, deletes,
// expiries) through redis.call, FUNCTION LOAD / DELETE / FLUSH, scripts that raise after some
// writes, all run by the real handlers (src/commands/scripting.ts) over the simulated PM in
// PoWER check mode (harness.ts). Every write's crash images are recovered and checked against
// its permission; after each group commit the durable state equals the model; crashes reopen from
// a random image whose recovery must equal the model at the last durable commit — so a script's
// writes are all there or none (one transaction, one record), and the libraries survive crashes
// and checkpoints. Fixed seeds plus one fresh seed (printed; CAPYKV_SIM_SEED reproduces it).
// Prints "crash images checked: N (distinct)".

import t from 'tap'
import { setClock } from '../../src/clock.js'
import { lookupCommand } from '../../src/commands/dispatch.js'
import type { CommandTable } from '../../src/commands/services.js'
import type { ClientState, ReplySink } from '../../src/commands/spec.js'
import { loadCommandTable } from '../../src/commands/table.js'
import { StoreError } from '../../src/errors.js'
import { canonical } from '../../src/state/canonical.js'
import { Harness, type HarnessOptions } from './harness.js'
import { Prng, seedFromEnv, simScale } from './prng.js'
import { DEFAULT_POLICY, Verifier } from './sim-region.js'
import { poolBytesFor } from './workload.js'

const T0 = 1_700_000_000_000

class CountingSink implements ReplySink {
  proto: 2 | 3 = 2
  errors = 0
  simple(): void {}
  error(): void { this.errors++ }
  integer(): void {}
  bulk(): void {}
  nullBulk(): void {}
  nullArray(): void {}
  arrayHeader(): void {}
  mapHeader(): void {}
  setHeader(): void {}
  double(): void {}
  boolean(): void {}
  verbatim(): void {}
}

/** A script writing keys of every type; it raises at the end when ARGV[2] is 'fail'. */
const MULTI_TYPE = `
redis.call('set', KEYS[1], ARGV[1])
redis.call('rpush', KEYS[2], ARGV[1], 'x')
redis.call('hset', KEYS[3], 'f', ARGV[1], 'g', 'y')
redis.call('sadd', KEYS[4], ARGV[1], 'm')
redis.call('zadd', KEYS[5], 1, ARGV[1])
redis.call('pexpire', KEYS[1], 50)
redis.call('incr', 'counter')
if ARGV[2] == 'fail' then error('after the writes') end
return redis.call('del', KEYS[6])`

const LIBRARY = (n: number): string => `#!lua name=lib${n}
redis.register_function('move${n}', function(keys, args)
  local v = redis.call('lpop', keys[1])
  if v then redis.call('rpush', keys[2], v) end
  redis.call('hincrby', keys[3], 'moves', 1)
  return v
end)`

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']

function randomCommand(rng: Prng): string[] {
  const k = (): string => rng.pick(KEYS)
  switch (rng.int(10)) {
    case 0: case 1: case 2:
      return ['EVAL', MULTI_TYPE, '6', k(), k(), k(), k(), k(), k(), `v${rng.int(50)}`,
        rng.bool(0.2) ? 'fail' : 'ok']
    case 3: return ['FUNCTION', 'LOAD', 'REPLACE', LIBRARY(rng.int(3))]
    case 4: return rng.bool(0.5) ? ['FUNCTION', 'DELETE', `lib${rng.int(3)}`]
      : ['FUNCTION', 'FLUSH']
    case 5: case 6: return ['FCALL', `move${rng.int(3)}`, '3', k(), k(), k()]
    case 7: return ['RPUSH', k(), `p${rng.int(9)}`, `q${rng.int(9)}`]
    case 8: return ['EVAL', "return redis.call('get', KEYS[1])", '1', k()]
    default: return ['DEL', k()]
  }
}

class Runner {
  h: Harness
  readonly client: ClientState = {
    id: 1, name: null, db: 0, proto: 2, authenticated: true, multi: null, watchDirty: false,
    watched: new Map(),
  }
  readonly sink = new CountingSink()
  scripts = 0
  functions = 0
  crashes = 0
  libraryEvents = 0

  constructor(readonly table: CommandTable, readonly options: HarnessOptions,
    readonly server: object) {
    this.h = Harness.fresh(options)
  }

  /** Commands (one, or a MULTI/EXEC-shaped group) in ONE transaction, as dispatch runs them. */
  group(commands: string[][], now: number): void {
    const h = this.h
    const txn = h.store.begin()
    for (const argv of commands) {
      const args = argv.map((a) => Buffer.from(a, 'latin1'))
      const found = lookupCommand(this.table, args)
      if (found.kind !== 'ok') throw new Error(`no command ${argv[0]}`)
      found.spec.handler({ store: h.store, keyspace: h.store.keyspace, txn, client: this.client,
        reply: this.sink, nowMs: now, server: this.server }, args)
      if (argv[0] === 'EVAL') this.scripts++
      if (argv[0] === 'FCALL') this.functions++
    }
    const events = txn.events.slice()
    try {
      txn.commitNoWait()
    } catch (e) {
      h.raise()
      if (!(e instanceof StoreError) || e.code !== 'OUT_OF_SPACE') throw e
      h.expectEqual(canonical(h.store.keyspace), h.state, 'refused transaction left')
      return
    }
    h.raise()
    if (events.length === 0) return
    this.libraryEvents += events.filter((e) => e.code >= 110 && e.code <= 112).length
    h.record(events)
    h.sim.expect(h.state)
  }

  crash(rng: Prng): void {
    const expected = this.h.sim.durableState
    this.h = Harness.fromImage(this.h.crashImage(rng), this.options)
    this.h.expectEqual(this.h.state, expected, 'state after a crash')
    this.crashes++
  }
}

interface Config { name: string; seed: number; steps: number; ringBytes: number; crashRate: number }
const scale = simScale()
const steps = (n: number): number => Math.max(20, Math.round(n * scale))
const fresh = seedFromEnv()
const configs: Config[] = [
  { name: '24 KiB ring', seed: 1301, steps: steps(120), ringBytes: 24576, crashRate: 0.06 },
  { name: '48 KiB ring, many crashes', seed: 1302, steps: steps(100), ringBytes: 49152,
    crashRate: 0.15 },
  { name: `fresh seed ${fresh}`, seed: fresh, steps: steps(80), ringBytes: 32768,
    crashRate: 0.06 },
]
const verifier = new Verifier()

t.test('scripts and function libraries, crash images at every write', async (t) => {
  const table = await loadCommandTable()
  // A server's config as handlers read it: every parameter at its default (lazyfree's yes/no
  // are off; busy-reply-threshold is Redis's 5000 ms, the scripts' fast path reads it).
  const server = { table, config: { get: (): undefined => undefined, getNumber: (): number => 5000 } }
  const clock = { now: T0 }
  const previous = setClock({ nowMs: () => clock.now })
  t.teardown(() => { setClock(previous) })
  for (const c of configs) {
    t.test(`${c.name} (seed ${c.seed}, CAPYKV_SIM_SEED=${c.seed})`, (t) => {
      const rng = new Prng(c.seed)
      const opsRng = rng.fork()
      let step = 0
      const runner = new Runner(table, {
        poolBytes: poolBytesFor(c.ringBytes), poolId: rng.bytes(16), rng: rng.fork(), verifier,
        policy: DEFAULT_POLICY,
        context: () => `seed ${c.seed} step ${step} (CAPYKV_SIM_SEED=${c.seed})`,
      }, server)
      runner.group([['FUNCTION', 'LOAD', LIBRARY(0)], ['RPUSH', 'a', '1', '2']], clock.now)
      for (step = 0; step < c.steps; step++) {
        const group = opsRng.range(1, 4)
        for (let i = 0; i < group; i++) {
          clock.now += opsRng.pick([0, 1, 20, 60])
          const size = opsRng.bool(0.2) ? opsRng.range(2, 4) : 1
          const commands: string[][] = []
          for (let j = 0; j < size; j++) commands.push(randomCommand(opsRng))
          runner.group(commands, clock.now)
          if (opsRng.bool(0.2)) runner.h.checkpointSlice(opsRng.pick([64, 400, 4000]))
        }
        runner.h.flush()
        if (opsRng.bool(0.03)) runner.h.checkpointNow()
        if (opsRng.bool(c.crashRate)) runner.crash(opsRng)
      }
      runner.crash(opsRng)
      t.ok(runner.crashes > 0, `${runner.crashes} crashes`)
      t.ok(runner.scripts > 0 && runner.functions > 0, `${runner.scripts} EVAL, ` +
        `${runner.functions} FCALL`)
      t.ok(runner.libraryEvents > 0, `${runner.libraryEvents} library events committed`)
      t.end()
    })
  }
})

t.test('counts', (t) => {
  t.ok(verifier.distinct > 0, 'images were checked')
  t.comment(`crash images checked: ${verifier.distinct} (distinct)`)
  t.end()
})
