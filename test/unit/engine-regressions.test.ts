// Regression tests for the engine bugs the crash simulator and the fault injector found (issue 3,
// tests 1–3), each reproduced at its smallest. Run over the simulated region (test/sim), so
// they are deterministic and fast. The crash-recovery suite covers the head move at open.

import t from 'tap'
import { recover } from '../../src/recovery/recover.js'
import { Entry, TYPE_STRING } from '../../src/state/keyspace.js'
import { decodeHeader, HEADER_BYTES, LOG_OFFSET } from '../../src/storage/layout.js'
import { Harness } from '../sim/harness.js'
import { Prng } from '../sim/prng.js'
import { del, flushdb, poolBytesFor, put, randomRun, swapdb } from '../sim/workload.js'

function fresh(ringBytes: number, seed = 1): Harness {
  const rng = new Prng(seed)
  return Harness.fresh({ poolBytes: poolBytesFor(ringBytes), poolId: rng.bytes(16), rng,
    verifier: null })
}

t.test('a small pool accepts writes (the reserves scale with the ring)', (t) => {
  // Fixed reserves of 64 KiB + 4 KiB made every pool under ~68 KiB refuse every write.
  for (const ring of [4096, 16384, 65536]) {
    const h = fresh(ring)
    t.ok(h.txn([put(0, 'a', 'x')]), `a ${ring}-byte ring accepts a write`)
    h.flush()
    t.ok(h.checkpointNow(), 'and checkpoints')
  }
  t.end()
})

t.test('a full pool never refuses a delete (it can always compact)', (t) => {
  // Each was bricked: every transaction refused, deletes included, with the log full of
  // abandoned checkpoints' records (failed checkpointNow attempts; FLUSHDB applied then undone;
  // incremental checkpoints whose space a crash or a later transaction left unaccounted).
  const runs: [number, number, number, number][] = [
    [1, 16384, 1200, 0], [12, 16384, 1200, 0.05], [18, 32768, 2000, 0], [10, 16384, 1200, 0.05],
  ]
  for (const [seed, ringBytes, pressure, crashRate] of runs) {
    const stats = randomRun({ seed, steps: 300, ringBytes, pressure, crashRate, verifier: null })
    t.equal(stats.refusedShrinking, 0, `seed ${seed}: no delete refused (${stats.refused} ` +
      `writes refused, ${stats.accepted} accepted)`)
    t.ok(stats.accepted > stats.refused, 'most writes accepted')
  }
  t.end()
})

t.test('an undone FLUSHDB or SWAPDB does not abandon a running checkpoint', (t) => {
  const h = fresh(65536)
  for (let i = 0; i < 30; i++) h.txn([put(i % 3, `k${i}`, Buffer.alloc(200, i))])
  h.flush()
  t.notOk(h.checkpointSlice(16), 'a checkpoint is running')
  for (const events of [[flushdb(0)], [swapdb(0, 1), del(1, 'k1')]]) {
    const txn = h.store.begin()
    for (const e of events) txn.apply(e)
    txn.abort()
  }
  let result = false
  for (let i = 0; i < 100 && !result; i++) result = h.checkpointSlice(64)
  t.ok(result, 'it ran to its end')
  t.equal(h.store.checkpointer.abandoned, 0, 'without being abandoned')
  t.equal(h.store.checkpointer.completed, 1)
  t.end()
})

t.test('a checkpoint that cannot complete costs no log space', (t) => {
  const h = fresh(16384)
  h.txn([put(0, 'a', 'x')])
  h.flush()
  const ks = h.store.keyspace
  // An entry larger than the ring (only possible by hand): no checkpoint can hold it.
  ks.set(0, 'huge', new Entry(TYPE_STRING, Buffer.alloc(20000), 0, 20002))
  const tail = h.store.log.tailLsn
  for (let i = 0; i < 50; i++) t.equal(h.store.checkpointNow(), false)
  t.equal(h.store.log.tailLsn, tail, 'repeated failed attempts appended nothing')
  ks.delete(0, 'huge')
  t.ok(h.store.checkpointNow(), 'once it fits, the checkpoint completes')
  t.end()
})

t.test('a record whose length field is damaged is reported, never a thrown error', (t) => {
  // pad8 used 32-bit bit operations: a length >= 2^31 became a negative record size and
  // recover() threw a RangeError instead of reporting the corruption.
  const h = fresh(16384)
  h.txn([put(0, 'a', 'x')])
  h.flush()
  const bytes = Buffer.from(h.sim.durable)
  const at = LOG_OFFSET + 32 // the first record after the creation checkpoint
  for (const length of [0xfffffff9, 0x80000000, 0x7ffffffd]) {
    bytes.writeUInt32LE(length, at + 4)
    const r = recover({ sizeBytes: bytes.length, read: (o, l) => bytes.subarray(o, o + l) })
    t.equal(r.kind, 'corrupt', `length ${length.toString(16)}: reported`)
    t.equal(r.kind === 'corrupt' ? r.offset : -1, at, 'at the record')
  }
  t.end()
})

t.test('a flipped bit in the magic is corruption, not "not a capykv pool"', (t) => {
  const h = fresh(16384)
  const header = Buffer.from(h.sim.durable.subarray(0, HEADER_BYTES))
  header[3] = (header[3] as number) ^ 0x04
  const r = decodeHeader(header, h.sim.sizeBytes)
  t.equal(r.kind, 'bad')
  t.equal(r.kind === 'bad' ? r.corrupt : false, true, 'reported as corruption')
  const foreign = Buffer.alloc(HEADER_BYTES, 0x41)
  const f = decodeHeader(foreign, h.sim.sizeBytes)
  t.equal(f.kind === 'bad' ? f.corrupt : true, false, 'a foreign file is still no pool')
  t.end()
})
