// Crash simulation, part 1: every sequence of up to 3 operations over a small alphabet (2 keys,
// 2 values, 2 databases, FLUSHDB/FLUSHALL/SWAPDB, multi-event transactions, a checkpoint) on a
// fresh small pool, in PoWER check mode: at every write and flush the sim recovers the crash
// images of the outstanding chunks (all of them when the choices multiply to <= 4096) and each
// must recover to the model's durable state, or to the in-flight group's state once the commit
// word may have landed. Each sequence runs twice: one group commit per operation, and all of its
// transactions in one group. Also the checker's own tests: deliberately broken protocols (the
// commit word stored before the records are flushed; a flush that skips part of the log) must
// be caught. Prints "crash images checked: N (distinct)".

import t from 'tap'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { Harness } from './harness.js'
import { Prng, simScale } from './prng.js'
import { DEFAULT_POLICY, PowerViolation, Verifier } from './sim-region.js'
import { alphabet, poolBytesFor, put, del, type Op } from './workload.js'

const verifier = new Verifier()
const RING_BYTES = 4096
const started = performance.now()

function fresh(seed: number, context: () => string, hooks = {}): Harness {
  const rng = new Prng(seed)
  return Harness.fresh({
    poolBytes: poolBytesFor(RING_BYTES), poolId: Buffer.from('capykv-sim-seq-0'), rng,
    verifier, policy: DEFAULT_POLICY, hooks, context,
  })
}

function runOp(h: Harness, op: Op, grouped: boolean): void {
  if (op.checkpoint === true) {
    h.checkpointNow()
    return
  }
  h.txn(op.events ?? [])
  if (!grouped) h.flush()
}

t.test('every sequence of up to 3 operations, crash images at every write and flush', (t) => {
  const ops = alphabet()
  const length = 3
  const total = ops.length ** length
  // At scale < 1 a seeded sample of the sequences runs (the prefixes are always covered).
  const stride = Math.max(1, Math.round(1 / Math.min(1, simScale())))
  let sequences = 0
  for (let n = 0; n < total; n += stride) {
    const seq: Op[] = []
    for (let i = 0, x = n; i < length; i++, x = Math.floor(x / ops.length)) {
      seq.push(ops[x % ops.length] as Op)
    }
    for (const grouped of [false, true]) {
      const context = (): string => `sequence [${seq.map((o) => o.name).join('; ')}]` +
        `${grouped ? ' grouped' : ''}`
      const h = fresh(n, context)
      for (const op of seq) runOp(h, op, grouped)
      h.flush()
      sequences++
    }
  }
  t.ok(sequences >= total / stride, `${sequences} sequences ran`)
  t.comment(`sequences: ${sequences} of ${ops.length} ops, ` +
    `${(performance.now() - started) / 1000} s`)
  t.end()
})

t.test('the PoWER checker catches a commit word stored before the records are flushed', (t) => {
  for (const events of [[put(0, 'a', 'x')], [put(0, 'a', 'x'), del(0, 'b'), put(1, 'c', 'zz')]]) {
    const h = fresh(1, () => 'commitBeforeFlush mutation', { commitBeforeFlush: true })
    h.txn(events)
    t.throws(() => h.flush(), PowerViolation, 'flush with the mutation is a PoWER violation')
    t.match(h.sim.violation?.message ?? '', /recovers to a state the permission does not allow/)
  }
  t.end()
})

t.test('the PoWER checker catches a flush that skips part of the log', (t) => {
  // Mutations of the PM primitives rather than the engine (the flushes the addon issues, replayed
  // by the sim): the flushes of the ring lose their last chunk, or are dropped entirely.
  const mutations: [string, (off: number, len: number) => [number, number] | null][] = [
    ['last chunk of each log flush skipped',
      (off, len) => off >= LOG_OFFSET ? [off, len - 8] : [off, len]],
    ['log flushes dropped', (off, len) => off >= LOG_OFFSET ? null : [off, len]],
  ]
  for (const [name, mutate] of mutations) {
    const h = fresh(2, () => name)
    h.sim.flushHook = mutate
    h.txn([put(0, 'a', 'x')])
    h.txn([put(0, 'b', 'a longer value that spans several chunks')])
    t.throws(() => h.flush(), PowerViolation, name)
  }
  t.end()
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
