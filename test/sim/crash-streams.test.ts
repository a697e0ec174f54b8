// Crash simulation of the stream events (issue 18, "Must show" 3): seeded random runs over the
// simulated PM in PoWER check mode (harness.ts) of a work queue: producers XADD (growing ids,
// new nodes now and then), consumers of a group read new entries (XREADGROUP's logged effect:
// the group's last id and entries-read, NACKs with their delivery times) and XACK them, with
// XDEL, XTRIM, XCLAIM, consumer and group changes mixed in; checkpoint slices (fuzzy
// checkpoints: deltas replayed before a key's RESTORE through the stream codec), whole
// checkpoints and crashes. Every crash image of every write must recover to the model's durable
// state (the harness compares canonical forms, which cover entries, tombstones, node boundaries,
// groups, consumers and PELs), and after each crash the work-queue invariants hold:
// - no id is reused: a new XADD id is above every id ever acknowledged (the last id is durable);
// - every entry delivered to the group (id <= its last delivered id) that is still in the
//   stream is either acknowledged or pending — never delivered twice as new.
// Fixed seeds plus one fresh seed (printed; CAPYKV_SIM_SEED reproduces it). Stream events are not
// in plain-model.ts, so this file makes no claim about the independent model.

import t from 'tap'
import type { Event } from '../../src/state/event.js'
import type { Keyspace } from '../../src/state/keyspace.js'
import { type Stream, TYPE_STREAM } from '../../src/state/stream.js'
import {
  xackEv, xaddEv, xclaimEv, xconsumerEv, xdelEv, xgroupNewEv, xsetidEv, xtrimEv,
} from '../../src/state/stream-events.js'
import { Harness } from './harness.js'
import { Prng, seedFromEnv, simScale } from './prng.js'
import { DEFAULT_POLICY, Verifier } from './sim-region.js'
import { poolBytesFor } from './workload.js'

const KEY = 'q'
const GROUP = 'g'
const CONSUMERS = ['c1', 'c2', 'c3']

function streamOf(ks: Keyspace): Stream | null {
  const e = ks.get(0, KEY)
  return e !== undefined && e.type === TYPE_STREAM ? e.value as Stream : null
}

/** One transaction of the work queue, resolved against the current state as a command would. */
function randomTxn(rng: Prng, ks: Keyspace, now: number): Event[] {
  const s = streamOf(ks)
  if (s === null || !s.groups.has(GROUP)) return [xgroupNewEv(0, KEY, GROUP, 0n, 0n, true)]
  const g = s.groups.get(GROUP)
  if (g === undefined) return []
  const consumer = rng.pick(CONSUMERS)
  const pending = g.pel.keyList()
  switch (rng.int(10)) {
    case 0: case 1: case 2: {
      const id = s.lastId + BigInt(rng.range(1, 3)) + (rng.bool(0.3) ? 1n << 64n : 0n)
      const pairs = [Buffer.from('job'), Buffer.from(String(rng.int(1000)))]
      return [xaddEv(0, KEY, id, rng.bool(0.2), pairs)]
    }
    case 3: case 4: {
      // XREADGROUP >: up to 3 entries after the group's last id.
      const found: bigint[] = []
      s.range(g.lastId + 1n, (1n << 128n) - 1n, false, 3, (id) => { found.push(id) })
      if (found.length === 0) return []
      const last = found[found.length - 1] as bigint
      return [xclaimEv(0, KEY, GROUP, consumer, now, [last, g.entriesRead + BigInt(found.length)],
        found.map((id) => [id, now, 1]))]
    }
    case 5: case 6:
      return pending.length === 0 ? [] : [xackEv(0, KEY, GROUP, [rng.pick(pending), rng.pick(pending)])]
    case 7: {
      const id = pending.length > 0 && rng.bool(0.5) ? rng.pick(pending) : s.edgeId(true)
      return id === null ? [] : [xdelEv(0, KEY, [id])]
    }
    case 8:
      return rng.bool(0.5) ? [xtrimEv(0, KEY, rng.int(2), rng.int(3))]
        : pending.length === 0 ? [xconsumerEv(0, KEY, GROUP, consumer, now, rng.bool(0.3))]
          : [xclaimEv(0, KEY, GROUP, consumer, now, null, [[rng.pick(pending), now, rng.range(2, 5)]])]
    default:
      return [xsetidEv(0, KEY, s.lastId + BigInt(rng.int(2)), s.entriesAdded, s.maxDeletedId)]
  }
}

/** The work-queue invariants; null when they hold. */
function invariants(ks: Keyspace, ackedBelow: bigint): string | null {
  const s = streamOf(ks)
  if (s === null) return null
  if (s.lastId < ackedBelow) return `last id ${s.lastId} went below an acknowledged ${ackedBelow}`
  const g = s.groups.get(GROUP)
  if (g === undefined) return null
  for (const id of g.pel.keyList()) {
    if (id > g.lastId) return `pending ${id} beyond the group's last delivered id ${g.lastId}`
    const owner = g.pel.get(id)?.consumer
    if (owner === undefined || owner.pel.get(id) === undefined) return `NACK ${id} not in its consumer's PEL`
  }
  return null
}

interface Config { name: string; seed: number; steps: number; ringBytes: number; crashRate: number }

const scale = simScale()
const steps = (n: number): number => Math.max(10, Math.round(2 * n * scale))
const fresh = seedFromEnv()
const configs: Config[] = [
  { name: '16 KiB ring', seed: 1801, steps: steps(150), ringBytes: 16384, crashRate: 0.05 },
  { name: '32 KiB ring, many crashes', seed: 1802, steps: steps(120), ringBytes: 32768, crashRate: 0.2 },
  { name: `fresh seed ${fresh}`, seed: fresh, steps: steps(100), ringBytes: 24576, crashRate: 0.05 },
]
const verifier = new Verifier()

for (const c of configs) {
  t.test(`stream events survive every crash image: ${c.name} (seed ${c.seed})`, (t) => {
    const rng = new Prng(c.seed)
    const opsRng = rng.fork()
    const simRng = rng.fork()
    let step = 0
    const options = {
      poolBytes: poolBytesFor(c.ringBytes), poolId: rng.bytes(16), rng: simRng, verifier,
      policy: DEFAULT_POLICY,
      context: () => `seed ${c.seed} step ${step} (CAPYKV_SIM_SEED=${c.seed})`,
    }
    let h = Harness.fresh(options)
    let crashes = 0
    let accepted = 0
    /** The highest id an acknowledged (flushed) XADD gave. */
    let acknowledged = 0n
    let checkpoints = 0
    const crash = (): boolean => {
      const expected = h.sim.powerEnabled ? h.sim.durableState : null
      h = Harness.fromImage(h.crashImage(opsRng), options)
      if (expected !== null) h.expectEqual(h.state, expected, 'state after a crash')
      const why = invariants(h.store.keyspace, acknowledged)
      if (why !== null) t.fail(`seed ${c.seed} step ${step}: ${why}`)
      crashes++
      return why === null
    }
    for (step = 0; step < c.steps; step++) {
      const group = opsRng.range(1, 5)
      for (let i = 0; i < group; i++) {
        const events = randomTxn(opsRng, h.store.keyspace, 1_000_000 + step)
        if (events.length > 0 && h.txn(events)) accepted++
        if (opsRng.bool(0.3) && h.checkpointSlice(opsRng.pick([16, 64, 200, 1000]))) checkpoints++
      }
      h.flush()
      acknowledged = streamOf(h.store.keyspace)?.lastId ?? acknowledged
      if (opsRng.bool(0.02) && h.checkpointNow()) checkpoints++
      if (opsRng.bool(c.crashRate) && !crash()) break
    }
    if (step === c.steps) crash()
    t.equal(invariants(h.store.keyspace, acknowledged), null, 'invariants at the end')
    t.ok(crashes > 0 && accepted > 0 && checkpoints > 0,
      `${crashes} crashes, ${accepted} transactions, ${checkpoints} checkpoints completed`)
    t.end()
  })
}

t.test('counts', (t) => {
  t.ok(verifier.distinct > 0, `${verifier.distinct} distinct crash images verified`)
  t.end()
})
