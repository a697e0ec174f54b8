// Crash simulation, part 3: crashes during checkpoints and during recovery, and what comes after.
// - At every write of a checkpoint (whole or in slices between transactions, BEGIN, chunks, END,
//   commit, head move) a crash image is kept; each is reopened (recovery must write nothing and
//   give the same state twice, Harness), must hold an allowed state, and the reopened store
//   goes on: transactions, group commits and a fresh checkpoint, all in PoWER check mode.
// - A crash between a checkpoint's commit and its head move: opening moves the head (one checked
//   blanket store), so the log space of the old history is reclaimed.
// - Chains of crashes: reopen, work, crash mid-protocol, reopen again, several times over.
// A crash during recovery leaves the image as it was (recovery is pure), so recovering it again
// is the same test; the store's one possible write at open (the head move) is PoWER-checked.
// Prints "crash images checked: N (distinct)".

import t from 'tap'
import { HEAD_WORD_OFFSET } from '../../src/storage/layout.js'
import { Harness, type HarnessOptions } from './harness.js'
import { Prng, simScale } from './prng.js'
import { DEFAULT_POLICY, SimRegion, Verifier, type CapturedCrash } from './sim-region.js'
import { del, poolBytesFor, put, randomTxn, swapdb } from './workload.js'

const verifier = new Verifier()
const started = performance.now()
const scale = simScale()
const RING_BYTES = 16384

function options(seed: number, what: string): HarnessOptions {
  const rng = new Prng(seed)
  return {
    poolBytes: poolBytesFor(RING_BYTES), poolId: rng.bytes(16), rng, verifier,
    policy: DEFAULT_POLICY, context: () => `seed ${seed}: ${what}`,
  }
}

/** A store holding some keys across databases, with history to compact. */
function populated(seed: number, what: string): Harness {
  const h = Harness.fresh(options(seed, what))
  const rng = new Prng(seed ^ 0x5eed)
  for (let i = 0; i < 40; i++) {
    h.txn([put(rng.int(3), `k${rng.int(12)}`, rng.bytes(rng.range(0, 90)))])
    if (i % 3 === 2) h.flush()
  }
  h.txn([del(0, 'k1'), del(1, 'k2')])
  h.flush()
  return h
}

/** Keep one random crash image at every write and flush while `action` runs. */
function captureDuring(h: Harness, action: () => void): CapturedCrash[] {
  h.sim.capture = { rate: 1, keep: 1 << 20 }
  action()
  h.sim.capture = null
  const images = h.sim.captured
  h.sim.captured = []
  return images
}

/**
 * Reopen from each image, check its state, and keep working on the reopened store. Returns the
 * crash points whose image recovered to a state not allowed (none, or the test fails).
 */
function reopenAndContinue(images: CapturedCrash[], seed: number, what: string): string[] {
  const bad: string[] = []
  for (const [i, c] of images.entries()) {
    const h = Harness.fromImage(c.image, options(seed + i, `${what}, reopened after ${c.what}`))
    if (!c.allowed.includes(h.state)) {
      bad.push(c.what)
      continue
    }
    const rng = new Prng(seed * 31 + i)
    for (let k = 0; k < 4; k++) h.txn(randomTxn(rng))
    h.flush()
    h.checkpointNow()
    h.txn([put(0, 'after', 'crash')])
    h.flush()
  }
  return bad
}

const rounds = Math.max(1, Math.round(18 * scale)) // x3 for issue 12's floors

t.test('a crash at any write of a whole checkpoint, then recovery and more work', (t) => {
  let n = 0
  for (let r = 0; r < rounds; r++) {
    const h = populated(1000 + r, 'checkpointNow')
    const images = captureDuring(h, () => { h.checkpointNow() })
    t.ok(images.length > 3, `round ${r}: ${images.length} crash points`)
    t.same(reopenAndContinue(images, 2000 + r * 1000, 'checkpointNow'), [], 'allowed states')
    n += images.length
  }
  t.comment(`${n} stores reopened`)
  t.end()
})

t.test('a crash at any write of a checkpoint in slices between transactions', (t) => {
  let n = 0
  for (let r = 0; r < rounds; r++) {
    const h = populated(3000 + r, 'checkpoint slices')
    const rng = new Prng(r)
    const images = captureDuring(h, () => {
      let finished = false
      for (let i = 0; i < 60 && !finished; i++) {
        finished = h.checkpointSlice(rng.pick([16, 64, 256]))
        h.txn(i === 7 && r % 3 === 0 ? [swapdb(0, 1)] : randomTxn(rng))
        if (rng.bool(0.5)) h.flush()
      }
      h.flush()
    })
    t.ok(images.length > 3, `round ${r}: ${images.length} crash points`)
    t.same(reopenAndContinue(images, 4000 + r * 1000, 'checkpoint slices'), [], 'allowed states')
    n += images.length
  }
  t.comment(`${n} stores reopened`)
  t.end()
})

t.test('a crash between a checkpoint commit and its head move: open moves the head', (t) => {
  const h = populated(5000, 'head move at open')
  let image: Buffer | null = null
  const sim = h.sim
  sim.store64 = (offset, lo, hi, permission): void => {
    if (offset === HEAD_WORD_OFFSET && image === null) image = Buffer.from(sim.durable)
    SimRegion.prototype.store64.call(sim, offset, lo, hi, permission)
  }
  const usedBefore = h.store.log.usedBytes
  t.ok(h.checkpointNow(), 'the checkpoint completed')
  t.ok(image !== null, 'the image before the head move was kept')
  const reopened = Harness.fromImage(image as unknown as Buffer, options(5001, 'head move at open'))
  t.equal(reopened.state, h.state, 'the reopened store holds the committed state')
  t.equal(reopened.headMovesAtOpen, 1, 'open moved the head to the completed checkpoint')
  t.equal(reopened.store.log.headLsn, h.store.log.headLsn, 'to the same checkpoint')
  t.ok(reopened.store.log.usedBytes < usedBefore, 'the old history is reclaimed')
  // And a crash during that head move at open: both images recover to the same state.
  const again = Harness.fromImage(image as unknown as Buffer, options(5002, 'head move at open'))
  t.equal(again.state, h.state, 'reopening the same image again gives the same state')
  t.end()
})

t.test('chains of crashes: reopen, work, crash mid-protocol, again and again', (t) => {
  const chains = Math.max(2, Math.round(36 * scale)) // x3 for issue 12's floors
  let depthTotal = 0
  for (let c = 0; c < chains; c++) {
    const rng = new Prng(7000 + c)
    let h = populated(7000 + c, `chain ${c}`)
    for (let depth = 0; depth < 6; depth++) {
      h.sim.capture = { rate: 0.05, keep: 8 }
      for (let i = 0; i < 12; i++) {
        h.txn(randomTxn(rng))
        if (rng.bool(0.3)) h.checkpointSlice(rng.pick([32, 128, 4096]))
        if (rng.bool(0.4)) h.flush()
      }
      h.flush()
      if (rng.bool(0.3)) h.checkpointNow()
      const captured = h.sim.captured
      const c0 = captured.length > 0 ? captured[rng.int(captured.length)] : undefined
      const image = c0?.image ?? h.crashImage(rng)
      const allowed = c0?.allowed ?? [h.state]
      h = Harness.fromImage(image, options(rng.u32(), `chain ${c} depth ${depth}`))
      t.ok(allowed.includes(h.state), `chain ${c} depth ${depth}: allowed state`)
      depthTotal++
    }
  }
  t.comment(`${depthTotal} reopenings in ${chains} chains`)
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
