// Crash simulation of evictions (issue 17, "Must show" 3): the real Evictor (commands/evict.ts,
// allkeys-lru / allkeys-random / volatile-ttl) over a Store on the simulated PM in PoWER check
// mode (harness.ts), with a ring so small that the pool is the limit. Transactions are
// MULTI/EXEC-shaped groups of SET/RPUSH/INCR/EXPIRE and EVAL scripts writing several keys, run by
// the real handlers. Evictions happen three ways, and all are events the harness records:
// - inside the transaction: a group that does not fit in the pool even after compaction gets
//   DELs of other keys appended to its own events by Store.roomMaker (txn/make-room.ts
//   evictToFit), so they are in its record and reach the pool at its commit point. The harness's
//   model takes the committed events (the command's and the evictions), so every crash image of
//   every write must recover to the state before the group or after it with its evictions: a
//   crash that kept the evictions without the writes that caused them (or the reverse) fails;
// - made first by a group too large for that (make-room.ts evictFirst): DELs in a transaction of
//   their own, appended while the group is undone and committed by the compaction that follows,
//   then the group again. The runner's RoomMaker records that transaction the moment it is
//   appended, so the compaction's crash images may recover it and nothing else new; a refused
//   group leaves it (and counts it), nothing else;
// - before the command, as dispatch runs it (Evictor.perform, while the live bytes exceed
//   pool_evict_limit_bytes): a transaction of DELs of its own, appended before the command's in
//   the same group commit, recorded the same way.
// A refused group (larger than the pool can hold beside its compacted state) leaves nothing of
// its own, the evictions in its record included. After each group commit the durable state equals the model; crashes
// reopen from a random image whose recovery must equal the model at the last durable commit.
// The run asserts that both kinds of eviction happened inside MULTI-shaped groups and inside
// scripts. Fixed seeds plus one fresh seed (printed; CAPYKV_SIM_SEED reproduces it).
// Prints "crash images checked: N (distinct)".

import t from 'tap'
import { setClock } from '../../src/clock.js'
import { lookupCommand } from '../../src/commands/dispatch.js'
import { Evictor } from '../../src/commands/evict.js'
import { setRandomSeed } from '../../src/commands/random.js'
import type { CommandTable, ServerServices } from '../../src/commands/services.js'
import type { ClientState, ReplySink } from '../../src/commands/spec.js'
import { loadCommandTable } from '../../src/commands/table.js'
import { StoreError } from '../../src/errors.js'
import { canonical } from '../../src/state/canonical.js'
import { accessTick } from '../../src/state/lru.js'
import type { RoomMaker, Store, Transaction } from '../../src/txn/engine.js'
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

/** A script setting each KEYS[i] to ARGV[1] (with an expiry when ARGV[2] is not 0). */
const SET_ALL = `
for i, k in ipairs(KEYS) do
  redis.call('set', k, ARGV[1])
  if ARGV[2] ~= '0' then redis.call('pexpire', k, ARGV[2]) end
end
redis.call('incr', 'scripts')
return #KEYS`

type Kind = 'multi' | 'script'

class Runner {
  h: Harness
  readonly client: ClientState = {
    id: 1, name: null, db: 0, proto: 2, authenticated: true, multi: null, watchDirty: false,
    watched: new Map(),
  }
  readonly sink = new CountingSink()
  readonly stats = { evictedKeys: 0 }
  readonly evictor: Evictor
  /** Evictions inside a group's own transaction, by kind; before a group, by kind. */
  readonly inside = { multi: 0, script: 0 }
  readonly before = { multi: 0, script: 0 }
  /** Evictions a group made first, in a transaction of their own (make-room.ts evictFirst). */
  readonly first = { multi: 0, script: 0 }
  /** The group being committed, and the evictions made first for it so far. */
  private groupTxn: Transaction | null = null
  private firstEvicted = 0
  /** The transaction the RoomMaker last evicted into. */
  private into: Transaction | null = null
  /**
   * The Evictor as the store's RoomMaker, recording a transaction of evictions appended before
   * the group (evictFirst) as soon as it is appended: before the compaction that commits it, the
   * sim must know it as the tentative state a commit may make durable.
   */
  readonly maker: RoomMaker = {
    evictInto: (txn, bytes, named) => {
      this.into = txn
      return this.evictor.evictInto(txn, bytes, named)
    },
    canEvict: () => this.evictor.canEvict(),
    settled: (appended) => {
      const before = this.stats.evictedKeys
      this.evictor.settled(appended)
      const txn = this.into
      this.into = null
      if (!appended || txn === null || txn === this.groupTxn) return
      this.h.record(txn.events)
      this.h.sim.expect(this.h.state)
      this.firstEvicted += this.stats.evictedKeys - before
    },
  }
  refused = 0
  crashes = 0
  /** The transaction the evictor began before a command (to record its events). */
  private began: Transaction | null = null

  constructor(readonly table: CommandTable, readonly options: HarnessOptions, policy: string,
    readonly server: object) {
    this.h = Harness.fresh(options)
    const config = {
      get: (name: string): string => name === 'maxmemory-policy' ? policy : '',
      getNumber: (name: string): number =>
        ({ maxmemory: 0, 'maxmemory-samples': 5, 'maxmemory-eviction-tenacity': 100 })[name] ?? 0,
    }
    // What Evictor reads of the server: a store whose begin() this runner sees.
    const current = (): Store => this.h.store
    const store = {
      get keyspace() { return current().keyspace },
      get log() { return current().log },
      begin: (): Transaction => {
        this.began = this.h.store.begin()
        return this.began
      },
    }
    const services = {
      config, stats: this.stats, store, tracking: { release: (): void => {} },
      pubsub: { keyspaceFlags: 0 },
    }
    this.evictor = new Evictor({ services: services as unknown as ServerServices,
      clientsMemory: () => 0 })
    this.evictor.configure()
    this.h.store.roomMaker = this.maker
  }

  /** Dispatch's eviction before a command: its transaction of DELs, recorded. */
  evictBefore(kind: Kind): void {
    const evicted = this.stats.evictedKeys
    this.began = null
    this.evictor.perform()
    this.h.raise()
    const txn = this.began as Transaction | null
    if (txn !== null && txn.eventCount > 0) {
      this.h.record(txn.events)
      this.h.sim.expect(this.h.state)
    }
    this.before[kind] += this.stats.evictedKeys - evicted
  }

  /** Commands (a MULTI/EXEC-shaped group, or one EVAL) in ONE transaction, as dispatch runs them. */
  group(kind: Kind, commands: string[][], now: number): void {
    const h = this.h
    const evicted = this.stats.evictedKeys
    const txn = h.store.begin()
    this.groupTxn = txn
    this.firstEvicted = 0
    for (const argv of commands) {
      const args = argv.map((a) => Buffer.from(a, 'latin1'))
      const found = lookupCommand(this.table, args)
      if (found.kind !== 'ok') throw new Error(`no command ${argv[0]}`)
      found.spec.handler({ store: h.store, keyspace: h.store.keyspace, txn, client: this.client,
        reply: this.sink, nowMs: now, server: this.server }, args)
    }
    try {
      txn.commitNoWait()
    } catch (e) {
      h.raise()
      if (!(e instanceof StoreError) || e.code !== 'OUT_OF_SPACE') throw e
      // Evictions made first stay (durable before the group, recorded): the rest is undone.
      h.expectEqual(canonical(h.store.keyspace), h.state, 'refused group (and its evictions) left')
      if (this.stats.evictedKeys !== evicted + this.firstEvicted) {
        throw new Error('a refused group counted evictions of its own transaction')
      }
      this.first[kind] += this.firstEvicted
      this.refused++
      return
    }
    h.raise()
    // The committed events: the commands' and, after them, the evictions that made room.
    if (txn.eventCount > 0) {
      h.record(txn.events)
      h.sim.expect(h.state)
    }
    this.first[kind] += this.firstEvicted
    this.inside[kind] += this.stats.evictedKeys - evicted - this.firstEvicted
  }

  crash(rng: Prng): void {
    const expected = this.h.sim.durableState
    this.h = Harness.fromImage(this.h.crashImage(rng), this.options)
    this.h.expectEqual(this.h.state, expected, 'state after a crash')
    this.h.store.roomMaker = this.maker
    this.crashes++
  }
}

/** A group of `size` new keys, as a MULTI-shaped group or one script; values of 40-700 bytes. */
function randomGroup(rng: Prng, next: () => string, volatile: boolean):
  { kind: Kind; commands: string[][] } {
  const size = rng.range(2, 12)
  const value = `v${rng.int(1000)}:`.padEnd(rng.range(40, 500), 'x')
  const ttl = volatile || rng.bool(0.5) ? String(rng.range(100_000, 900_000)) : '0'
  const keys = Array.from({ length: size }, next)
  if (rng.bool(0.4)) {
    return { kind: 'script', commands: [['EVAL', SET_ALL, String(size), ...keys, value, ttl]] }
  }
  const commands: string[][] = []
  for (const k of keys) {
    commands.push(['SET', k, value])
    if (ttl !== '0') commands.push(['PEXPIRE', k, ttl])
  }
  if (rng.bool(0.3)) commands.push(['RPUSH', `list${rng.int(3)}`, value.slice(0, 30)])
  commands.push(['INCR', 'groups'])
  // volatile-ttl evicts only keys with an expiry: the list and the counter get one too.
  if (volatile) commands.push(['PEXPIRE', 'groups', '1000000'])
  return { kind: 'multi', commands }
}

interface Config {
  name: string; seed: number; steps: number; ringBytes: number; crashRate: number; policy: string
}
const scale = simScale()
const steps = (n: number): number => Math.max(30, Math.round(n * scale))
const fresh = seedFromEnv()
const configs: Config[] = [
  { name: 'allkeys-lru, 24 KiB ring', seed: 1701, steps: steps(100), ringBytes: 24576,
    crashRate: 0.06, policy: 'allkeys-lru' },
  { name: 'allkeys-random, 32 KiB ring, many crashes', seed: 1702, steps: steps(80),
    ringBytes: 32768, crashRate: 0.15, policy: 'allkeys-random' },
  { name: 'volatile-ttl, 24 KiB ring', seed: 1703, steps: steps(80), ringBytes: 24576,
    crashRate: 0.06, policy: 'volatile-ttl' },
  { name: `allkeys-lru, fresh seed ${fresh}`, seed: fresh, steps: steps(60), ringBytes: 32768,
    crashRate: 0.08, policy: 'allkeys-lru' },
]
const verifier = new Verifier()
const totals = { inside: { multi: 0, script: 0 }, before: { multi: 0, script: 0 }, first: 0 }

t.test('evictions inside MULTI-shaped groups and scripts, crash images at every write', async (t) => {
  const table = await loadCommandTable()
  const server = { table }
  const clock = { now: T0 }
  const previous = setClock({ nowMs: () => clock.now })
  t.teardown(() => { setClock(previous) })
  for (const c of configs) {
    t.test(`${c.name} (seed ${c.seed}, CAPYKV_SIM_SEED=${c.seed})`, (t) => {
      const rng = new Prng(c.seed)
      const opsRng = rng.fork()
      setRandomSeed(BigInt(c.seed))
      clock.now = T0
      accessTick(clock.now)
      let step = 0
      let n = 0
      const runner = new Runner(table, {
        poolBytes: poolBytesFor(c.ringBytes), poolId: rng.bytes(16), rng: rng.fork(), verifier,
        policy: DEFAULT_POLICY,
        context: () => `seed ${c.seed} step ${step} (CAPYKV_SIM_SEED=${c.seed})`,
      }, c.policy, server)
      for (step = 0; step < c.steps; step++) {
        const groups = opsRng.range(1, 4)
        for (let i = 0; i < groups; i++) {
          clock.now += opsRng.pick([0, 1000, 5000])
          accessTick(clock.now)
          const g = randomGroup(opsRng, () => `k${n++}`, c.policy.startsWith('volatile'))
          // Dispatch evicts before a command; half the time leave it out, so that the pool
          // fills and the group itself must make room.
          if (opsRng.bool(0.5)) runner.evictBefore(g.kind)
          runner.group(g.kind, g.commands, clock.now)
          if (opsRng.bool(0.15)) runner.h.checkpointSlice(opsRng.pick([64, 400, 4000]))
        }
        runner.h.flush()
        if (opsRng.bool(0.03)) runner.h.checkpointNow()
        if (opsRng.bool(c.crashRate)) runner.crash(opsRng)
      }
      runner.crash(opsRng)
      t.ok(runner.crashes > 0, `${runner.crashes} crashes`)
      const inside = `evictions inside groups: ${runner.inside.multi} in MULTI-shaped ones, ` +
        `${runner.inside.script} in scripts; ` +
        `${runner.before.multi + runner.before.script} before a group; ` +
        `${runner.first.multi + runner.first.script} made first by a group`
      // A fresh seed may miss a kind by chance; the fixed seeds must make every kind at full
      // scale (at CAPYKV_SIM_SCALE < 1 their shorter runs may miss one: 'counts' asserts every
      // kind over all of them; seed 1702 at 0.1 makes no eviction inside a script).
      if (c.seed === fresh || scale < 1) t.comment(inside)
      else {
        t.ok(runner.inside.multi > 0 && runner.inside.script > 0 &&
          runner.before.multi + runner.before.script > 0, inside)
      }
      t.comment(`${runner.refused} groups refused (too large beside the compacted state)`)
      for (const k of ['multi', 'script'] as const) {
        totals.inside[k] += runner.inside[k]
        totals.before[k] += runner.before[k]
        totals.first += runner.first[k]
      }
      t.end()
    })
  }
})

t.test('counts', (t) => {
  t.ok(verifier.distinct > 0, 'images were checked')
  t.ok(totals.inside.multi > 0 && totals.inside.script > 0 &&
    totals.before.multi + totals.before.script > 0, 'evictions of every kind')
  t.comment(`crash images checked: ${verifier.distinct} (distinct); evictions inside ` +
    `MULTI-shaped groups ${totals.inside.multi}, inside scripts ${totals.inside.script}, ` +
    `before a group ${totals.before.multi + totals.before.script}`)
  t.end()
})
