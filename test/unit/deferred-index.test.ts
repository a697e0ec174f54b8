// The deferred index (state/keyspace.ts): recovery files whole-key string writes by key hash
// instead of applying them, and applies a shard's events on first access, in the background, or
// before a checkpoint iterates the database. Its promise: whatever the order of accesses and
// background slices, the keyspace is exactly the one an eager replay builds — same canonical
// state and the same liveBytes. Checked here on seeded random pools (every core event type,
// collections, FLUSHDB/FLUSHALL/SWAPDB, checkpoints in the log), in lockstep with an eager
// replay under random further events, and through Store (checkpoint, SWAPDB, close right after
// open). A failure prints the seed; rerun one with DEFERRED_SEED.

import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { recover } from '../../src/recovery/recover.js'
import { ByteWriter, DecodeError } from '../../src/state/bytes.js'
import { canonical, canonicalDiff } from '../../src/state/canonical.js'
import { EV_PUT } from '../../src/state/core-events.js'
import { applyEvent, encodeEvents, replayEventsDeferred, type Event } from '../../src/state/event.js'
import { Entry, KeyMap, Keyspace } from '../../src/state/keyspace.js'
import { openNativeRegion } from '../../src/storage/pm-region.js'
import { Store } from '../../src/txn/engine.js'
import { Prng } from '../sim/prng.js'
import { put, randomEvent, randomTxn, swapdb } from '../sim/workload.js'

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-deferred-test-'))
t.teardown(() => { if (process.env.DEFERRED_KEEP === undefined) rmSync(dir, { recursive: true, force: true }) })

const POOL_BYTES = 8 * 1024 * 1024
const seeds = process.env.DEFERRED_SEED !== undefined ? [Number(process.env.DEFERRED_SEED)]
  : Array.from({ length: 12 }, (_, i) => 1000 + i)

/** A pool written by `txns` random transactions, with a checkpoint somewhere in its log. */
async function randomPool(path: string, rng: Prng, txns: number): Promise<string> {
  const store = await Store.open(path, { sizeBytes: POOL_BYTES, groupCommit: 'manual', autoCheckpoint: false })
  const checkpointAt = rng.int(txns)
  for (let i = 0; i < txns; i++) {
    const txn = store.begin()
    // Mostly many-key transactions of PUTs (what the deferred index files), mixed with the rest.
    const events = rng.bool(0.3)
      ? Array.from({ length: rng.range(5, 40) }, () => put(rng.int(3), `k${rng.int(300)}`, rng.bytes(rng.int(40))))
      : randomTxn(rng)
    for (const e of events) txn.apply(e)
    txn.commitNoWait()
    store.flush()
    if (i === checkpointAt) t.ok(store.checkpointNow(), 'checkpoint written')
  }
  const expected = canonical(store.keyspace)
  store.close()
  return expected
}

for (const seed of seeds) {
  t.test(`seed ${seed}: deferred recovery = eager recovery, in lockstep under random access`, async (t) => {
    const rng = new Prng(seed)
    const path = join(dir, `random-${seed}.pool`)
    const expected = await randomPool(path, rng, 150)
    const region = openNativeRegion(path)
    t.teardown(() => region.close())
    const eager = recover(region)
    const deferred = recover(region, { deferIndex: true })
    if (eager.kind !== 'ok' || deferred.kind !== 'ok') {
      t.fail(`recovery failed (seed ${seed}): ${eager.kind} / ${deferred.kind}`)
      return
    }
    const e = eager.keyspace
    const d = deferred.keyspace
    t.equal(canonical(e), expected, 'eager recovery = the state written')
    t.ok(d.pendingEvents > 0, `${d.pendingEvents} events deferred (not applied at open)`)
    t.ok(d.liveBytes >= e.liveBytes, 'pending estimates never under-count liveBytes')

    // Lockstep: random events (which materialize the shards they touch), random reads and random
    // background slices on the deferred keyspace; the same events on the eager one.
    for (let step = 0; step < 400; step++) {
      const r = rng.float()
      if (r < 0.4) {
        const ev = randomEvent(rng, rng.bool(0.05))
        applyEvent(e, ev)
        applyEvent(d, ev)
      } else if (r < 0.8) {
        const db = rng.int(3)
        const key = `k${rng.int(300)}`
        const a = e.get(db, key)
        const b = d.get(db, key)
        if ((a === undefined) !== (b === undefined) || (a !== undefined && b !== undefined &&
            (a.type !== b.type || a.expireAtMs !== b.expireAtMs))) {
          t.fail(`seed ${seed} step ${step}: get(${db}, ${key}) differs`)
          return
        }
      } else {
        d.materializeSome(rng.int(50))
      }
    }
    const actual = canonical(d)
    t.equal(d.pendingEvents, 0, 'canonical() applied every deferred event')
    t.equal(actual, canonical(e), `same state (seed ${seed}): ${canonicalDiff(canonical(e), actual)}`)
    t.equal(d.liveBytes, e.liveBytes, 'same liveBytes once applied')
  })
}

t.test('liveBytes: exact after background indexing; estimate while pending ≥ exact', async (t) => {
  const rng = new Prng(7)
  const path = join(dir, 'bytes.pool')
  await randomPool(path, rng, 100)
  const region = openNativeRegion(path)
  t.teardown(() => region.close())
  const eager = recover(region)
  const deferred = recover(region, { deferIndex: true })
  if (eager.kind !== 'ok' || deferred.kind !== 'ok') return t.fail('recovery failed')
  const d = deferred.keyspace
  t.ok(d.pendingEvents > 0)
  t.ok(d.liveBytes >= eager.keyspace.liveBytes, 'a pending estimate never under-counts (space accounting)')
  t.ok(d.keyCountEstimate() >= eager.keyspace.keyCount(), 'keyCountEstimate never under-counts')
  let slices = 0
  while (d.materializeSome(10) > 0) slices++
  t.ok(slices > 1, `${slices} background slices`)
  t.equal(d.liveBytes, eager.keyspace.liveBytes)
  t.equal(d.keyCount(), eager.keyspace.keyCount())
})

t.test('Store: checkpoint, SWAPDB and writes right after a deferred open; close applies the rest', async (t) => {
  const path = join(dir, 'store.pool')
  const store = await Store.open(path, { sizeBytes: 32 * 1024 * 1024, groupCommit: 'manual', autoCheckpoint: false })
  for (let db = 0; db < 2; db++) {
    for (let b = 0; b < 20; b++) {
      const txn = store.begin()
      for (let k = 0; k < 500; k++) txn.apply(put(db, `key:${b * 500 + k}`, `v${db}:${k}`))
      txn.commitNoWait()
      store.flush()
    }
  }
  store.close()

  // Open (deferred), then at once: a write, a SWAPDB, an incremental checkpoint with writes in
  // between its slices, then more writes. The same on an eager store gives the expected state.
  const run = async (deferIndex: boolean): Promise<{ state: string; pendingAtOpen: number }> => {
    const copy = join(dir, `store-${deferIndex ? 'deferred' : 'eager'}.pool`)
    rmSync(copy, { force: true })
    const { copyFileSync } = await import('node:fs')
    copyFileSync(path, copy)
    const s = await Store.open(copy, { create: false, groupCommit: 'manual', autoCheckpoint: false, deferIndex })
    const pendingAtOpen = s.keyspace.pendingEvents
    const commit = (events: Event[]): void => {
      const txn = s.begin()
      for (const e of events) txn.apply(e)
      txn.commitNoWait()
      s.flush()
    }
    commit([put(0, 'key:7', 'changed'), put(1, 'new', 'x')])
    commit([swapdb(0, 1)])
    t.ok(s.checkpointer.start(), 'checkpoint started')
    // The same 50 writes either way: one after each slice while the checkpoint runs (the
    // deferred store takes more slices, applying its events first), the rest after it.
    const write = (w: number): void => commit([put(w % 2, `key:${w * 37 % 10000}`, `during ${w}`)])
    let slices = 0
    while (s.checkpointSlice(4096) === false) {
      if (slices < 50) write(slices)
      slices++
    }
    for (let w = slices; w < 50; w++) write(w)
    t.ok(slices > 3, `${slices} checkpoint slices with writes between them`)
    commit([put(1, 'after', 'y')])
    s.close()
    const again = await Store.open(copy, { create: false, groupCommit: 'manual', autoCheckpoint: false, deferIndex: false })
    const state = canonical(again.keyspace)
    again.close()
    return { state, pendingAtOpen }
  }
  const eager = await run(false)
  const deferred = await run(true)
  t.equal(eager.pendingAtOpen, 0)
  t.equal(deferred.pendingAtOpen, 20_000, 'every PUT deferred at open')
  t.equal(deferred.state, eager.state, 'same state after checkpoint, SWAPDB and writes')

  // Close right after open: the deferred events are applied before the mapping goes away.
  const s = await Store.open(path, { create: false, autoCheckpoint: false })
  t.ok(s.keyspace.pendingEvents > 0)
  const ks = s.keyspace
  s.close()
  t.equal(ks.pendingEvents, 0, 'applied at close')
  t.equal(ks.keyCount(), 20_000, 'and readable after the pool is unmapped')
})

t.test('an undecodable deferred event is refused at replay, not later', async (t) => {
  const w = new ByteWriter(64)
  encodeEvents(w, [{ code: EV_PUT, db: 0, key: 'k', value: Buffer.from('value'), expireAtMs: 0 } as Event])
  const whole = Buffer.from(w.view())
  t.doesNotThrow(() => replayEventsDeferred(new Keyspace(), whole, 0, whole.length))
  for (let cut = 1; cut < whole.length; cut++) {
    t.throws(() => replayEventsDeferred(new Keyspace(), whole, 0, cut), DecodeError, `cut at ${cut}`)
  }
})

t.test('KeyMap (a database map in 64 parts) behaves as a Map', async (t) => {
  const rng = new Prng(99)
  const km = new KeyMap()
  const model = new Map<string, Entry>()
  let mismatches = 0
  for (let step = 0; step < 20_000; step++) {
    const key = rng.bool(0.5) ? `k${rng.int(500)}` : `user:${rng.int(50)}:profile`
    if (rng.bool(0.6)) {
      const e = new Entry(0, Buffer.from('v'), 0, 3)
      km.set(key, e)
      model.set(key, e)
    } else if (km.delete(key) !== model.delete(key)) mismatches++
    if (km.size !== model.size || km.get(key) !== model.get(key) || km.has(key) !== model.has(key)) mismatches++
  }
  t.equal(mismatches, 0, 'same size, get, has and delete results at every step')
  t.same([...km.keys()].sort(), [...model.keys()].sort(), 'keys() visits every key once')
  t.same(new Map(km.entries()), model, 'entries() = the model')
  t.equal([...km.values()].length, model.size)
  t.same(new Map(new KeyMap(model)), model, 'built from entries')
})
