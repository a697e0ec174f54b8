// Workloads for the crash simulator: event constructors, the small alphabet of the exhaustive
// short sequences, and the seeded long random run (also `npm run sim -- --seed N`). All
// randomness comes from the Prng given; a run is a pure function of its options.
// A random run: groups of 1–6 transactions (put, del, expire, whole values of every type via
// RESTORE, multi-event transactions, and rarely FLUSHDB / FLUSHALL / SWAPDB, which abandon a
// running checkpoint), each group committed by one flush; checkpoint slices with small budgets
// between transactions; now and then a whole checkpoint, and a crash: reopen from a random
// image of the current state, or from an image captured mid-protocol (mid-commit, mid-head-move),
// and go on from the recovered state.

import {
  EV_DEL, EV_EXPIRE, EV_FLUSHALL, EV_FLUSHDB, EV_PUT, EV_RESTORE, EV_SWAPDB,
} from '../../src/state/core-events.js'
import { Deque } from '../../src/state/deque.js'
import type { Event } from '../../src/state/event.js'
import { TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING } from '../../src/state/keyspace.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { Harness, HarnessError } from './harness.js'
import { Prng } from './prng.js'
import { DEFAULT_POLICY, type CrashPolicy, type Verifier } from './sim-region.js'

export const put = (db: number, key: string, value: string | Buffer, expireAtMs = 0): Event =>
  ({ code: EV_PUT, db, key, value: Buffer.isBuffer(value) ? value : Buffer.from(value),
    expireAtMs } as Event)
export const del = (db: number, key: string): Event => ({ code: EV_DEL, db, key } as Event)
export const expire = (db: number, key: string, expireAtMs: number): Event =>
  ({ code: EV_EXPIRE, db, key, expireAtMs } as Event)
export const flushdb = (db: number): Event => ({ code: EV_FLUSHDB, db } as Event)
export const flushall = (): Event => ({ code: EV_FLUSHALL })
export const swapdb = (a: number, b: number): Event => ({ code: EV_SWAPDB, a, b } as Event)
export const restore = (db: number, key: string, type: number, value: unknown, expireAtMs = 0):
  Event => ({ code: EV_RESTORE, db, key, type, expireAtMs, value } as Event)

/** A pool id made from the run's generator (pool ids are random in production). */
export function poolIdFrom(rng: Prng): Buffer {
  return rng.bytes(16)
}

export function poolBytesFor(ringBytes: number): number {
  return LOG_OFFSET + ringBytes
}

// ---------------------------------------------------------------------------------------------
// The alphabet of the exhaustive short sequences: 2 keys, 2 values, 2 databases.

export interface Op {
  name: string
  /** A transaction's events, or a checkpoint. */
  events?: Event[]
  checkpoint?: boolean
}

export function alphabet(): Op[] {
  const ops: Op[] = []
  for (const db of [0, 1]) {
    for (const key of ['a', 'b']) {
      for (const value of ['x', 'yy']) {
        ops.push({ name: `put ${db} ${key} ${value}`, events: [put(db, key, value)] })
      }
      ops.push({ name: `del ${db} ${key}`, events: [del(db, key)] })
      ops.push({ name: `expire ${db} ${key}`, events: [expire(db, key, 1_700_000_000_000 + db)] })
    }
    ops.push({ name: `flushdb ${db}`, events: [flushdb(db)] })
  }
  ops.push({ name: 'swapdb 0 1', events: [swapdb(0, 1)] })
  ops.push({ name: 'flushall', events: [flushall()] })
  ops.push({ name: 'txn put a, del b, put 1 b', events: [put(0, 'a', 'yy', 1_800_000_000_000),
    del(0, 'b'), put(1, 'b', 'x')] })
  ops.push({ name: 'txn del a, swapdb, put a',
    events: [del(0, 'a'), swapdb(0, 1), put(0, 'a', 'x')] })
  ops.push({ name: 'checkpoint', checkpoint: true })
  return ops
}

// ---------------------------------------------------------------------------------------------
// Random transactions.

/** Big values: raised by RunOptions.pressure to fill the pool. */
const shape = { bigBytesMax: 700, bigRate: 0.15 }
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'key:1', '\u0000\u00ff']
const DBS = [0, 0, 0, 1, 1, 2, 15]

function randomBytes(rng: Prng, big: boolean): Buffer {
  const n = big ? rng.range(64, shape.bigBytesMax) : rng.pick([0, 1, 3, 8, 17, 40])
  return rng.bytes(n)
}

function randomValue(rng: Prng, type: number): unknown {
  const n = rng.range(0, 5)
  switch (type) {
    case TYPE_LIST: {
      const d = new Deque<Buffer>()
      for (let i = 0; i < n; i++) d.pushBack(randomBytes(rng, false))
      return d
    }
    case TYPE_HASH: {
      const m = new Map<string, Buffer>()
      for (let i = 0; i < n; i++) m.set(rng.pick(KEYS), randomBytes(rng, false))
      return m
    }
    case TYPE_SET: {
      const s = new Set<string>()
      for (let i = 0; i < n; i++) s.add(rng.pick(KEYS) + String(rng.int(3)))
      return s
    }
    default:
      return randomBytes(rng, rng.bool(0.1))
  }
}

export function randomEvent(rng: Prng, rare: boolean): Event {
  const db = rng.pick(DBS)
  const key = rng.pick(KEYS)
  const r = rng.float()
  if (rare && r < 0.04) return flushdb(rng.pick(DBS))
  if (rare && r < 0.06) return flushall()
  if (rare && r < 0.10) return swapdb(rng.pick(DBS), rng.pick(DBS))
  if (r < 0.50) {
    const value = randomBytes(rng, rng.bool(shape.bigRate))
    return put(db, key, value, rng.bool(0.2) ? 1e12 + rng.int(1e6) : 0)
  }
  if (r < 0.68) return del(db, key)
  if (r < 0.78) return expire(db, key, rng.bool(0.3) ? 0 : 1e12 + rng.int(1e6))
  const type = rng.pick([TYPE_STRING, TYPE_LIST, TYPE_HASH, TYPE_SET])
  return restore(db, key, type, randomValue(rng, type), rng.bool(0.2) ? 2e12 : 0)
}

export function randomTxn(rng: Prng): Event[] {
  const n = rng.bool(0.7) ? 1 : rng.range(2, 6)
  const events: Event[] = []
  for (let i = 0; i < n; i++) events.push(randomEvent(rng, true))
  return events
}

// ---------------------------------------------------------------------------------------------
// The long random run.

export interface RunOptions {
  seed: number
  steps: number
  ringBytes: number
  verifier: Verifier | null
  policy?: CrashPolicy
  /** Probability per step of a crash and reopen. */
  crashRate?: number | undefined
  /** Probability per crash point of keeping an image to reopen from. */
  captureRate?: number | undefined
  /** Large values (up to this many bytes) that fill the pool: refusals, deletes, reclaim. */
  pressure?: number | undefined
}

export interface RunStats {
  seed: number
  steps: number
  accepted: number
  refused: number
  refusedShrinking: number
  groups: number
  checkpoints: number
  abandoned: number
  crashes: number
  reopenedMidProtocol: number
  wraps: number
}

export function randomRun(options: RunOptions): RunStats {
  const rng = new Prng(options.seed)
  shape.bigBytesMax = options.pressure ?? 700
  shape.bigRate = options.pressure === undefined ? 0.15 : 0.5
  const opsRng = rng.fork()
  const simRng = rng.fork()
  const poolId = poolIdFrom(rng)
  let step = 0
  const extra = `${options.pressure === undefined ? '' : ` --pressure ${options.pressure}`}` +
    `${options.crashRate === undefined ? '' : ` --crash-rate ${options.crashRate}`}` +
    `${options.captureRate === undefined ? '' : ` --capture-rate ${options.captureRate}`}`
  const context = (): string => `seed ${options.seed} step ${step} (npm run sim -- --seed ` +
    `${options.seed} --steps ${options.steps} --ring ${options.ringBytes}${extra})`
  const harnessOptions = {
    poolBytes: poolBytesFor(options.ringBytes), poolId, rng: simRng, verifier: options.verifier,
    policy: options.policy ?? DEFAULT_POLICY, context,
  }
  let h = Harness.fresh(harnessOptions)
  const stats: RunStats = { seed: options.seed, steps: options.steps, accepted: 0, refused: 0,
    refusedShrinking: 0,
    groups: 0, checkpoints: 0, abandoned: 0, crashes: 0, reopenedMidProtocol: 0, wraps: 0 }
  const captureRate = options.captureRate ?? 0.002
  const arm = (x: Harness): void => { x.sim.capture = { rate: captureRate, keep: 4 } }
  arm(h)
  const tally = (x: Harness): void => {
    stats.accepted += x.accepted
    stats.refused += x.refused
    stats.refusedShrinking += x.refusedShrinking
    stats.checkpoints += x.store.checkpointer.completed
    stats.abandoned += x.store.checkpointer.abandoned
    stats.wraps += Math.floor(x.store.log.tailLsn / options.ringBytes) -
      Math.floor(x.store.recoveredLog.tailLsn / options.ringBytes)
  }
  for (step = 0; step < options.steps; step++) {
    const group = opsRng.range(1, 6)
    for (let i = 0; i < group; i++) {
      h.txn(randomTxn(opsRng))
      if (opsRng.bool(0.25)) h.checkpointSlice(opsRng.pick([16, 64, 200, 1000, 5000]))
    }
    h.flush()
    stats.groups++
    if (opsRng.bool(0.02)) h.checkpointNow()
    if (opsRng.bool(options.crashRate ?? 0.01)) {
      tally(h)
      h = reopen(h, opsRng, harnessOptions, stats)
      arm(h)
    }
  }
  tally(h)
  return stats
}

/** Crash now (or at a captured mid-protocol point) and reopen from the image. */
function reopen(
  h: Harness, rng: Prng, options: Parameters<typeof Harness.fresh>[0], stats: RunStats,
): Harness {
  stats.crashes++
  const captured = h.sim.captured
  if (captured.length > 0 && rng.bool(0.5)) {
    const c = captured[rng.int(captured.length)] as (typeof captured)[number]
    const next = Harness.fromImage(c.image, options)
    if (!c.allowed.includes(next.state)) {
      throw new HarnessError(`image captured at ${c.what} recovers to a state not allowed ` +
        `[${h.sim.context()}]`)
    }
    stats.reopenedMidProtocol++
    return next
  }
  const expected = h.sim.powerEnabled ? h.sim.durableState : null
  const next = Harness.fromImage(h.crashImage(rng), options)
  if (expected !== null) {
    next.expectEqual(next.state, expected, 'state after a crash between operations')
  }
  return next
}
