// Crash simulation of the server's own events, made by the real command handlers (issue 4,
// "Must show" 4): seeded random runs over the simulated PM in PoWER check mode (harness.ts) whose
// transactions are produced by the handlers of SET (EX/PX/KEEPTTL/NX/XX/GET), GET/EXISTS/TTL
// (lazy expiry: a DEL in the reader's transaction), EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT/PERSIST,
// RENAME/RENAMENX, COPY (DB, REPLACE), MOVE — which log DEL + RESTORE of whole values of every
// type — SWAPDB, FLUSHDB, FLUSHALL, DEL, INCR, APPEND, LPUSH/RPUSH/LPOP, HSET/HDEL, SADD/SREM,
// ZADD/ZREM, by MULTI/EXEC-shaped groups of commands in one transaction, and by the server's
// active expire cycle (activeExpireCycle), all under a fake clock (src/clock.ts setClock) so that
// TTLs run out between commands. Every write the engine issues has its crash images recovered
// and checked against its permission; after every group commit the durable state equals the
// model (the harness's Keyspace fed a codec copy of each committed transaction's events); and
// crashes reopen from a random image, whose recovery must equal the model at the last durable
// commit, also when recovered with the clock a day later (replay must not read the clock). Each
// of those states (live after every group commit, recovered, recovered a day later) must also
// equal an independent model of the commands' effects (plain-model.ts: no engine code). The
// run asserts that every kind of event above was made and went through the sim.
// Fixed seeds plus one fresh seed (printed; CAPYKV_SIM_SEED reproduces it).
// Prints "crash images checked: N (distinct)".

import t from 'tap'
import { nowMs, setClock } from '../../src/clock.js'
import { recover } from '../../src/recovery/recover.js'
import { lookupCommand } from '../../src/commands/dispatch.js'
import { activeExpireCycle } from '../../src/commands/expire.js'
import type { CommandTable } from '../../src/commands/services.js'
import type { ClientState, ReplySink } from '../../src/commands/spec.js'
import { loadCommandTable } from '../../src/commands/table.js'
import { StoreError } from '../../src/errors.js'
import { canonical, canonicalDiff } from '../../src/state/canonical.js'
import {
  EV_DEL, EV_EXPIRE, EV_FLUSHALL, EV_FLUSHDB, EV_PUT, EV_RESTORE, EV_SWAPDB,
} from '../../src/state/core-events.js'
import type { Event } from '../../src/state/event.js'
import type { Keyspace } from '../../src/state/keyspace.js'
import type { Transaction } from '../../src/txn/engine.js'
import { Harness, HarnessError, type HarnessOptions } from './harness.js'
import { PlainModel, snapshot } from './plain-model.js'
import { Prng, seedFromEnv, simScale } from './prng.js'
import { DEFAULT_POLICY, Verifier } from './sim-region.js'
import { poolBytesFor } from './workload.js'

const T0 = 1_700_000_000_000
const KEYS = ['a', 'b', 'c', 'd', 'k:\u00ff']
const DBS = [0, 0, 0, 1, 1, 2, 3, 15]

/** Replies are not checked here (the differential tests do that): only errors are counted. */
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

interface Stats {
  commands: number
  groups: number
  crashes: number
  refused: number
  /** Per event kind (and origin, for DELs): how many committed events of that kind. */
  events: Record<string, number>
  /** Per command: the sequences of event kinds its runs logged (e.g. RENAME: RESTORE,DEL). */
  shapes: Record<string, Set<string>>
  /** States compared with the independent model (after group commits and crashes). */
  modelChecks: number
}

const NAMES: Record<number, string> = {
  [EV_PUT]: 'PUT', [EV_DEL]: 'DEL', [EV_EXPIRE]: 'EXPIRE', [EV_RESTORE]: 'RESTORE',
  [EV_SWAPDB]: 'SWAPDB', [EV_FLUSHDB]: 'FLUSHDB', [EV_FLUSHALL]: 'FLUSHALL',
}
const READS = new Set(['GET', 'EXISTS', 'TTL', 'PTTL', 'TYPE', 'STRLEN', 'LLEN', 'HGETALL',
  'SCARD', 'ZCARD'])

/** A random command, as a client would send it (the client's db is `db`). */
function randomCommand(rng: Prng, now: number, db: number): string[] {
  const k = rng.pick(KEYS)
  const k2 = rng.pick(KEYS)
  const v = (): string => rng.bool(0.1) ? 'w'.repeat(rng.range(40, 300)) : `v${rng.int(100)}`
  const ttl = (): string => String(rng.range(1, 120))
  const otherDb = (): string => String((db + 1 + rng.int(15)) % 16)
  switch (rng.int(30)) {
    case 0: case 1: return ['SET', k, v()]
    case 2: return ['SET', k, v(), 'PX', ttl()]
    case 3: return ['SET', k, v(), rng.pick(['NX', 'XX', 'KEEPTTL', 'GET'])]
    case 4: return ['SET', k, v(), 'EX', '1', ...(rng.bool(0.5) ? ['GET'] : [])]
    case 5: return ['GET', k]
    case 6: return ['EXISTS', k, k2]
    case 7: return [rng.pick(['TTL', 'PTTL', 'TYPE', 'STRLEN']), k]
    case 8: return ['PEXPIRE', k, ttl(),
      ...(rng.bool(0.3) ? [rng.pick(['NX', 'XX', 'GT', 'LT'])] : [])]
    case 9: return ['EXPIRE', k, rng.pick(['1', '0', '-1', '100'])]
    case 10: return ['PEXPIREAT', k, String(now + rng.range(-50, 120))]
    case 11: return ['EXPIREAT', k, String(Math.floor(now / 1000) + rng.range(-1, 2))]
    case 12: return ['PERSIST', k]
    case 13: return ['DEL', k, ...(rng.bool(0.3) ? [k2] : [])]
    case 14: case 15: return [rng.bool(0.7) ? 'RENAME' : 'RENAMENX', k, k2]
    case 16: case 17: {
      const argv = ['COPY', k, k2]
      if (rng.bool(0.6)) argv.push('DB', otherDb())
      if (rng.bool(0.5)) argv.push('REPLACE')
      return argv
    }
    case 18: case 19: return ['MOVE', k, otherDb()]
    case 20: return ['SWAPDB', String(rng.pick(DBS)), String(rng.pick(DBS))]
    case 21: return rng.bool(0.5) ? ['FLUSHDB', ...(rng.bool(0.5) ? ['ASYNC'] : [])]
      : ['INCR', k]
    case 22: return rng.bool(0.15) ? ['FLUSHALL', ...(rng.bool(0.5) ? ['SYNC'] : [])]
      : ['APPEND', k, v()]
    case 23: return [rng.pick(['LPUSH', 'RPUSH']), k, v(), v()]
    case 24: return rng.bool(0.7) ? ['HSET', k, `f${rng.int(4)}`, v()]
      : ['HDEL', k, `f${rng.int(4)}`]
    case 25: return rng.bool(0.7) ? ['SADD', k, `m${rng.int(6)}`, `m${rng.int(6)}`]
      : ['SREM', k, `m${rng.int(6)}`]
    case 26: return rng.bool(0.7) ? ['ZADD', k, String(rng.int(9)), `m${rng.int(6)}`]
      : ['ZREM', k, `m${rng.int(6)}`]
    case 27: return ['LPOP', k]
    case 28: return ['HGETALL', k]
    default: return ['SELECT', String(rng.pick(DBS))]
  }
}

class Runner {
  h: Harness
  readonly client: ClientState = {
    id: 1, name: null, db: 0, proto: 2, authenticated: true, multi: null, watchDirty: false,
    watched: new Map(),
  }
  readonly sink = new CountingSink()
  readonly stats: Stats = { commands: 0, groups: 0, crashes: 0, refused: 0, events: {},
    shapes: {}, modelChecks: 0 }
  /** The independent model (plain-model.ts): each command's effect, no engine code. */
  readonly plain = new PlainModel()

  constructor(readonly table: CommandTable, readonly options: HarnessOptions) {
    this.h = Harness.fresh(options)
  }

  /** Run commands (one, or a MULTI/EXEC-shaped group) in ONE transaction, as dispatch does. */
  group(commands: string[][], now: number): void {
    const h = this.h
    const txn = h.store.begin()
    const logged: string[] = []
    const sent: [string[], number][] = []
    for (const argv of commands) {
      sent.push([argv, this.client.db])
      if (argv[0] === 'SELECT') {
        this.client.db = Number(argv[1])
        continue
      }
      const args = argv.map((a) => Buffer.from(a, 'latin1'))
      const found = lookupCommand(this.table, args)
      if (found.kind !== 'ok') throw new Error(`no command ${argv[0]}`)
      const before = txn.events.length
      found.spec.handler({ store: h.store, keyspace: h.store.keyspace, txn, client: this.client,
        reply: this.sink, nowMs: now, server: undefined }, args)
      this.stats.commands++
      const made = txn.events.slice(before)
      if (made.length > 0) {
        const name = argv[0] as string
        const kinds = made.map((e) => e.code === EV_DEL && READS.has(name) ? 'DEL by lazy expiry'
          : NAMES[e.code] ?? 'collection')
        logged.push(...kinds)
        ;(this.stats.shapes[name] ??= new Set()).add(kinds.join(','))
      }
    }
    if (this.commit(txn, logged)) {
      for (const [argv, db] of sent) this.plain.command(argv, db, now)
    }
  }

  /** The server's active expire cycle at `now` (its own transaction). */
  activeExpire(now: number): void {
    const store = this.h.store
    let captured: Transaction | null = null
    const begin = store.begin
    store.begin = (): Transaction => (captured = begin.call(store))
    let n: number
    try {
      n = activeExpireCycle(store, now, 20)
    } finally {
      store.begin = begin
    }
    this.h.raise()
    const txn = captured as Transaction | null
    if (n === 0 || txn === null) return
    this.committed(txn.events, txn.events.map(() => 'DEL by active expiry'))
  }

  /** Commit the group's transaction: false when refused for space (nothing applied). */
  private commit(txn: Transaction, logged: string[]): boolean {
    const h = this.h
    const events = txn.events.slice()
    try {
      txn.commitNoWait()
    } catch (e) {
      h.raise()
      if (!(e instanceof StoreError) || e.code !== 'OUT_OF_SPACE') throw e
      this.stats.refused++
      h.expectEqual(canonical(h.store.keyspace), h.state, 'refused transaction left')
      return false
    }
    h.raise()
    if (events.length > 0) this.committed(events, logged)
    return true
  }

  /** A state of the engine (live, or recovered) against the independent model at now. */
  checkModel(ks: Keyspace, what: string): void {
    const now = nowMs()
    const expected = this.plain.snapshot(now)
    const actual = snapshot(ks, now)
    this.stats.modelChecks++
    if (actual !== expected) {
      throw new HarnessError(`${what} differs from the independent model at ${now}: ` +
        `${canonicalDiff(expected, actual)} [${this.h.sim.context()}]`)
    }
  }

  /** The transaction was appended: the model takes a codec copy, the sim its tentative state. */
  private committed(events: readonly Event[], logged: string[]): void {
    const h = this.h
    h.record(events)
    h.sim.expect(h.state)
    for (const name of logged) this.stats.events[name] = (this.stats.events[name] ?? 0) + 1
  }

  flush(): void {
    this.h.flush()
    this.checkModel(this.h.store.keyspace, 'the state after the group commit')
  }

  /** Crash now (between operations: only the last durable commit may come back) and reopen. */
  crash(rng: Prng): void {
    const expected = this.h.sim.durableState
    const image = this.h.crashImage(rng)
    // Replay needs no clock (DESIGN rule 1): the image recovers to the same state a day later
    // (an event whose effect depends on when it is replayed, like a TTL logged as a delta,
    // would move).
    const dayLater = nowMs() + 86_400_000
    const previous = setClock({ nowMs: () => dayLater })
    let replayedLater: string
    let later: Keyspace | null = null
    try {
      const r = recover({ sizeBytes: image.length, read: (o, l) => image.subarray(o, o + l) })
      replayedLater = r.kind === 'ok' ? canonical(r.keyspace) : `recovery: ${r.kind}`
      if (r.kind === 'ok') later = r.keyspace
    } finally {
      setClock(previous)
    }
    this.h = Harness.fromImage(image, this.options)
    this.h.expectEqual(this.h.state, expected, 'state after a crash')
    this.h.expectEqual(replayedLater, expected, 'state after a crash, recovered a day later,')
    this.checkModel(this.h.store.keyspace, 'the state recovered after a crash')
    if (later !== null) this.checkModel(later, 'the state recovered a day later')
    this.stats.crashes++
  }
}

/**
 * A fixed opening that makes every kind of server event at least once (the random run then makes
 * many more, in random interleavings): lazy and active expiry, RENAME, COPY to another db, MOVE,
 * SWAPDB, FLUSHDB, EXPIRE, FLUSHALL — each through the sim, checked like the rest.
 */
function opening(runner: Runner, clock: { now: number }): void {
  const run = (...commands: string[][]): void => runner.group(commands, clock.now)
  // INCR of a key with a TTL, then a crash: recovered now and a day later, the TTL is the same.
  run(['SET', 'n', '41', 'PX', '100000'])
  run(['INCR', 'n'])
  runner.flush()
  runner.crash(new Prng(1))
  run(['SELECT', '0'], ['SET', 'a', '1', 'PX', '5'])
  run(['SET', 'b', '2', 'PX', '5'])
  run(['SET', 'c', 'x'], ['RPUSH', 'd', 'p', 'q'], ['HSET', 'k:\u00ff', 'f', 'v'])
  run(['SADD', 'e', 'm'], ['ZADD', 'e2', '1', 'm'])
  runner.flush()
  clock.now += 10
  run(['GET', 'a'])
  runner.activeExpire(clock.now)
  run(['RENAME', 'c', 'a'])
  run(['COPY', 'd', 'c', 'DB', '1'])
  run(['MOVE', 'k:\u00ff', '2'])
  runner.flush()
  run(['SWAPDB', '1', '2'])
  run(['SELECT', '1'], ['FLUSHDB'])
  run(['SELECT', '0'], ['EXPIRE', 'a', '100'], ['RENAME', 'e', 'b'])
  runner.flush()
  run(['FLUSHALL'])
  runner.flush()
}

interface Config { name: string; seed: number; steps: number; ringBytes: number; crashRate: number }

const scale = simScale()
// issue 12: sized so that CI's informative-image floors hold (.ci/run), the ring wrapping many
// times; CAPYKV_SIM_SCALE multiplies it.
const steps = (n: number): number => Math.max(20, Math.round(4 * n * scale))
const fresh = seedFromEnv()
const configs: Config[] = [
  { name: '16 KiB ring', seed: 801, steps: steps(200), ringBytes: 16384, crashRate: 0.04 },
  { name: '32 KiB ring', seed: 802, steps: steps(160), ringBytes: 32768, crashRate: 0.03 },
  { name: '16 KiB ring, many crashes', seed: 803, steps: steps(160), ringBytes: 16384,
    crashRate: 0.15 },
  { name: `fresh seed ${fresh}`, seed: fresh, steps: steps(150), ringBytes: 24576,
    crashRate: 0.05 },
]
const verifier = new Verifier()
const started = performance.now()
const MUST = ['PUT', 'DEL', 'EXPIRE', 'RESTORE', 'SWAPDB', 'FLUSHDB', 'FLUSHALL',
  'DEL by lazy expiry', 'DEL by active expiry', 'collection']

t.test('server events from the command handlers, crash images at every write', async (t) => {
  const table = await loadCommandTable()
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
      })
      const t0 = performance.now()
      opening(runner, clock)
      for (step = 0; step < c.steps; step++) {
        const group = opsRng.range(1, 5)
        for (let i = 0; i < group; i++) {
          clock.now += opsRng.pick([0, 0, 1, 5, 20, 60])
          const size = opsRng.bool(0.2) ? opsRng.range(2, 4) : 1
          const commands: string[][] = []
          for (let j = 0; j < size; j++) {
            commands.push(randomCommand(opsRng, clock.now, runner.client.db))
          }
          runner.group(commands, clock.now)
          if (opsRng.bool(0.15)) runner.activeExpire(clock.now)
          if (opsRng.bool(0.2)) runner.h.checkpointSlice(opsRng.pick([16, 64, 200, 1000]))
        }
        runner.flush()
        runner.stats.groups++
        if (opsRng.bool(0.02)) runner.h.checkpointNow()
        if (opsRng.bool(c.crashRate)) runner.crash(opsRng)
      }
      runner.crash(opsRng) // and always at the end
      const s = runner.stats
      t.ok(s.crashes > 0, `${s.crashes} crashes`)
      t.equal(s.refused, 0, 'no transaction refused for space')
      t.ok(s.modelChecks > s.crashes, `${s.modelChecks} states equal the independent model`)
      for (const name of MUST) t.ok((s.events[name] ?? 0) > 0, `${name} events were logged`)
      for (const [cmd, shape] of [['RENAME', 'RESTORE,DEL'], ['COPY', 'RESTORE'],
        ['MOVE', 'RESTORE,DEL']] as const) {
        t.ok(s.shapes[cmd]?.has(shape), `${cmd} logged ${shape}`)
      }
      t.comment(`${s.commands} commands, ${s.groups} group commits, ${s.crashes} crashes, ` +
        `${runner.h.store.checkpointer.completed} checkpoints (last store); events ` +
        `${JSON.stringify(s.events)}; ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      t.end()
    })
  }
})

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
