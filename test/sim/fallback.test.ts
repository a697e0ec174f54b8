// The checkpoint fallback (docs/checkpoint-fallback.md) under fault injection. Pools are made by
// the engine from seeded workloads whose incremental checkpoints interleave with transactions,
// and end with the previous checkpoint kept (prev < head). Invariants checked:
// - every single-bit flip in every record of the newest checkpoint (its BEGIN, chunks, END, and
//   the MARK after END) gives the exact state, rebuilt from the previous checkpoint (or, for a
//   flip past END, by skipping the record), with the damage named (RecoveredLog.fallback);
// - the outcome is a reported corruption, never other data, when what the fallback needs is
//   damaged too: a transaction inside the newest checkpoint's span, a record of the previous
//   checkpoint, a transaction between the two checkpoints; or when no fallback is kept;
// - Store.open on such a pool serves the exact state, writes a fresh checkpoint (PoWER-checked:
//   every crash image of that open recovers the same state) after which recovery needs no
//   fallback; capykv-check reports the damage, and --repair's in-place rewrite does the same.
// Prints "faults injected: N" (CI sums them).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { checkPool, repairInPlace } from '../../src/recovery/check.js'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { canonical } from '../../src/state/canonical.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import {
  checkRecord, claimedPayloadBytes, normalizeLsn, REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_CKPT_END,
  REC_MARK, REC_PAD, REC_TXN, recordBytes,
} from '../../src/storage/record-codec.js'
import { Harness } from './harness.js'
import { Prng, seedFromEnv, simScale } from './prng.js'
import { Verifier } from './sim-region.js'
import { poolRecords } from './pool-records.js'
import { poolBytesFor, put, randomTxn } from './workload.js'

const SEED = seedFromEnv(0xfa11)
const scale = simScale()
let injected = 0

const readerOf = (bytes: Buffer): RegionReader =>
  ({ sizeBytes: bytes.length, read: (o, l) => bytes.subarray(o, o + l) })

interface Rec { offset: number; bytes: number; lsn: number; kind: number }
interface Pool {
  bytes: Buffer
  state: string
  ring: number
  prevLsn: number
  headLsn: number
  /** Every committed record from prev to the tail. */
  records: Rec[]
  poolId: Buffer
}

/**
 * A pool whose log holds, from prev: the previous checkpoint, transactions, the newest
 * checkpoint (incremental, transactions interleaved), END and MARK, then more transactions.
 */
function buildPool(seed: number, ringBytes: number, idle = false): Pool {
  const rng = new Prng(seed)
  const poolId = rng.bytes(16)
  const h = Harness.fresh({ poolBytes: poolBytesFor(ringBytes), poolId, rng: rng.fork(), verifier: null })
  let completed = 0
  for (let step = 0; step < 2000; step++) {
    for (let i = rng.range(1, 3); i > 0; i--) h.txn(randomTxn(rng))
    const before = h.store.checkpointer.completed
    if (h.store.checkpointer.active !== null || rng.bool(0.2)) h.checkpointSlice(rng.pick([128, 512]))
    h.flush()
    completed += h.store.checkpointer.completed - before
    if (completed >= 3 && h.store.log.hasFallback && h.store.checkpointer.active === null &&
        h.store.checkpointer.completed > before) break
  }
  for (let i = 0; i < 4; i++) h.txn(randomTxn(rng))
  h.flush()
  // An idle server right after a checkpoint: its END (and MARK) are the last committed records.
  if (idle) h.checkpointNow()
  const log = h.store.log
  if (!log.hasFallback) throw new Error(`seed ${seed}: no fallback kept`)
  const bytes = Buffer.from(h.sim.durable)
  const ok = recover(readerOf(bytes))
  if (ok.kind !== 'ok') throw new Error(`seed ${seed}: the clean pool does not recover`)
  const records: Rec[] = []
  const ring = ok.log.header.ringBytes
  for (let lsn = log.prevLsn; lsn < log.committedLsn;) {
    const phys = lsn % ring
    const offset = LOG_OFFSET + phys
    const total = recordBytes(claimedPayloadBytes(bytes.subarray(offset, offset + 16)))
    const c = checkRecord(bytes.subarray(offset, offset + total), lsn, ok.log.seed, ring - phys)
    if (!c.ok) throw new Error(`seed ${seed}: record at ${lsn}: ${c.reason}`)
    records.push({ offset, bytes: total, lsn, kind: c.kind })
    lsn = c.kind === REC_PAD ? lsn + ring - phys : normalizeLsn(lsn + total, ring)
  }
  return { bytes, state: h.state, ring, prevLsn: log.prevLsn, headLsn: log.headLsn, records, poolId }
}

/** The newest checkpoint's records (BEGIN at head to its END, and the MARK after END). */
function newestCheckpoint(p: Pool): { own: Rec[]; txnsInside: Rec[]; end: Rec } {
  const from = p.records.findIndex((r) => r.lsn === p.headLsn)
  const own: Rec[] = []
  const txnsInside: Rec[] = []
  let end: Rec | null = null
  for (let i = from; i < p.records.length && end === null; i++) {
    const r = p.records[i] as Rec
    if (r.kind === REC_TXN) txnsInside.push(r)
    else own.push(r)
    if (r.kind === REC_CKPT_END) {
      end = r
      const mark = p.records[i + 1]
      if (mark?.kind === REC_MARK) own.push(mark)
    }
  }
  if (end === null) throw new Error('the head checkpoint has no END')
  return { own, txnsInside, end }
}

type Outcome = 'exact' | 'fallback' | 'corrupt' | 'wrong'

function judge(p: Pool, work: Buffer, deferIndex: boolean): Outcome {
  injected++
  const r = recover(readerOf(work), { deferIndex })
  if (r.kind === 'corrupt') return r.offset >= 0 && r.offset < work.length ? 'corrupt' : 'wrong'
  if (r.kind !== 'ok' || canonical(r.keyspace) !== p.state) return 'wrong'
  return r.log.fallback !== null || r.log.skipped.length > 0 ? 'fallback' : 'exact'
}

const flipIn = (work: Buffer, bit: number): void => {
  work[bit >>> 3] = (work[bit >>> 3] as number) ^ (1 << (bit & 7))
}

const specs: [string, number, number, boolean][] = [
  ['16 KiB ring', 1, 16384, false],
  ['32 KiB ring', 2, 32768, false],
  ['16 KiB ring, the checkpoint last in the log', 3, 16384, true],
]

for (const [name, n, ring, idle] of specs) {
  t.test(`every single-bit flip in the newest checkpoint: ${name}`, (t) => {
    const p = buildPool(SEED ^ (n * 0x9e37), ring, idle)
    const { own, txnsInside } = newestCheckpoint(p)
    t.ok(own.some((r) => r.kind === REC_CKPT_CHUNK), 'the checkpoint has chunks')
    t.ok(own.some((r) => r.kind === REC_CKPT_BEGIN) && own.some((r) => r.kind === REC_MARK))
    const work = Buffer.from(p.bytes)
    const tally: Record<Outcome, number> = { exact: 0, fallback: 0, corrupt: 0, wrong: 0 }
    const failures: string[] = []
    // Every bit at scale 1; a seeded stride below it (every bit of BEGIN, END and MARK always).
    const stride = scale >= 1 ? 1 : Math.max(1, Math.round(1 / scale))
    const rng = new Prng(SEED ^ n)
    for (const r of own) {
      const whole = r.kind !== REC_CKPT_CHUNK
      for (let bit = r.offset * 8 + (whole ? 0 : rng.int(stride)); bit < (r.offset + r.bytes) * 8;
        bit += whole ? 1 : stride) {
        flipIn(work, bit)
        const got = judge(p, work, bit % 2 === 1)
        flipIn(work, bit)
        tally[got]++
        if (got !== 'fallback' && failures.length < 5) {
          failures.push(`bit ${bit} of the ${r.kind} record at lsn ${r.lsn}: ${got} (seed ${SEED})`)
        }
      }
    }
    t.same(failures, [], 'every flip: the exact state, with the damage named')
    t.comment(`${name}: ${own.length} checkpoint records, ${txnsInside.length} transactions ` +
      `inside its span; ${JSON.stringify(tally)}`)
    t.end()
  })
}

t.test('what the fallback needs is damaged too: a reported corruption, never other data', (t) => {
  const p = buildPool(SEED ^ 0x51, 16384)
  const { own, txnsInside } = newestCheckpoint(p)
  const chunk = own.find((r) => r.kind === REC_CKPT_CHUNK) as Rec
  const before = p.records.filter((r) => r.lsn < p.headLsn)
  const prevOwn = before.filter((r) => r.kind === REC_CKPT_CHUNK)
  const between = before.filter((r) => r.kind === REC_TXN)
  const cases: [string, Rec[]][] = [
    ['a transaction inside the newest checkpoint', txnsInside],
    ['a chunk of the newest and one of the previous checkpoint', prevOwn.map((r) => r)],
    ['a chunk of the newest and a transaction between the two', between],
  ]
  let checked = 0
  for (const [what, recs] of cases) {
    for (const r of recs.slice(0, 8)) {
      const work = Buffer.from(p.bytes)
      flipIn(work, (r.offset + 20) * 8 + 3)
      if (what !== cases[0]?.[0]) flipIn(work, (chunk.offset + 24) * 8 + 1)
      const got = judge(p, work, false)
      t.equal(got, 'corrupt', `${what} (lsn ${r.lsn}): corrupt`)
      checked++
    }
  }
  t.ok(checked >= 3, 'cases were checked')
  t.ok(txnsInside.length > 0, 'the newest checkpoint interleaves transactions')
  t.end()
})

t.test('no fallback kept (prev = head): a damaged newest checkpoint is a reported corruption', (t) => {
  const rng = new Prng(SEED ^ 0x77)
  const h = Harness.fresh({ poolBytes: poolBytesFor(16384), poolId: rng.bytes(16), rng: rng.fork(),
    verifier: null })
  for (let i = 0; i < 40; i++) h.txn(randomTxn(rng))
  h.flush()
  h.checkpointNow()
  h.checkpointNow()
  h.store.log.dropFallback()
  t.equal(h.store.log.hasFallback, false)
  const bytes = Buffer.from(h.sim.durable)
  const head = h.store.log.headLsn % 16384
  flipIn(bytes, (LOG_OFFSET + head + 17) * 8)
  const r = recover(readerOf(bytes))
  t.equal(r.kind, 'corrupt')
  injected++
  t.end()
})

t.test('Store.open after a fallback: fresh checkpoint (every crash image checked), then no fallback', (t) => {
  const p = buildPool(SEED ^ 0x3, 16384)
  const { own } = newestCheckpoint(p)
  for (const r of own.filter((x) => x.kind !== REC_MARK).slice(0, 4)) {
    const work = Buffer.from(p.bytes)
    flipIn(work, (r.offset + 9) * 8 + 2)
    const rng = new Prng(SEED ^ r.lsn)
    // PoWER mode: every write of the open (the fresh checkpoint, the head and prev moves) is
    // checked by recovering its crash images, which must all give the state.
    const h = Harness.fromImage(work, { poolBytes: work.length, poolId: p.poolId, rng,
      verifier: new Verifier() })
    t.equal(h.state, p.state, `kind ${r.kind} at lsn ${r.lsn}: the store opens on the state`)
    t.ok(h.store.stats().recoveredFromFallback !== null, 'INFO names the fallback')
    t.equal(h.store.log.hasFallback, true, 'the walk\'s start is kept as the fallback')
    const fromPrev = recover(readerOf(Buffer.from(h.sim.durable)), { fromPrev: true })
    t.equal(fromPrev.kind === 'ok' ? canonical(fromPrev.keyspace) : fromPrev.kind, p.state,
      'and a walk from it, skipping the damage, gives the state')
    const again = recover(readerOf(Buffer.from(h.sim.durable)))
    t.ok(again.kind === 'ok' && again.log.fallback === null && again.log.skipped.length === 0,
      'after the open, recovery needs no fallback')
    t.equal(again.kind === 'ok' ? canonical(again.keyspace) : again.kind, p.state)
    injected++
  }
  t.end()
})

t.test('capykv-check reports the damage; --repair writes the fresh checkpoint in place', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-fallback-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const p = buildPool(SEED ^ 0x4, 16384)
  const { own } = newestCheckpoint(p)
  const chunk = own.find((r) => r.kind === REC_CKPT_CHUNK) as Rec
  const work = Buffer.from(p.bytes)
  flipIn(work, (chunk.offset + 30) * 8 + 5)
  const path = join(dir, 'pool')
  writeFileSync(path, work)
  const checked = checkPool(path)
  t.equal(checked.report.status, 'damaged')
  t.equal(checked.report.inPlace, 'fallback')
  t.match(checked.report.damage[0]?.reason ?? '', /rebuilt from the previous checkpoint/)
  t.match(repairInPlace(path, checked), /fresh checkpoint/)
  const after = checkPool(path)
  t.equal(after.report.status, 'clean', 'clean after the repair')
  t.end()
})

/**
 * A pool whose last commit is an incremental checkpoint's slice: a crash came before its END,
 * so its BEGIN and one chunk (and the MARK sealing the commit, log.ts) end the committed log.
 */
function interruptedCheckpoint(
  seed: number, thenTxn = false,
): { bytes: Buffer; state: string; recs: Rec[] } {
  const rng = new Prng(seed)
  const h = Harness.fresh({ poolBytes: poolBytesFor(65536), poolId: rng.bytes(16), rng: rng.fork(),
    verifier: null })
  for (let i = 0; i < 40; i++) h.txn([put(0, `key${i}`, rng.bytes(40))])
  h.flush()
  h.checkpointNow()
  for (let i = 0; i < 30; i++) h.txn([put(0, `key${i * 3}`, rng.bytes(50))])
  h.flush()
  h.checkpointSlice(128)
  h.flush()
  if (h.store.checkpointer.active === null) throw new Error(`seed ${seed}: the checkpoint ended`)
  if (thenTxn) {
    h.txn([put(0, 'after', rng.bytes(60))])
    h.flush()
  }
  const bytes = Buffer.from(h.sim.durable)
  return { bytes, state: h.state, recs: poolRecords(bytes).recs }
}

t.test('a crash inside a checkpoint: a flip in its last records gives the exact state', (t) => {
  // Issue 12: the last committed record was a chunk of more than 24 bytes, so its damage could
  // not be proven free of a transaction and startup refused; the MARK sealing each commit
  // (log.ts sealGroup) proves it now.
  const p = interruptedCheckpoint(SEED ^ 0x1a57)
  const kinds = p.recs.slice(-3).map((r) => r.kind)
  t.same(kinds, [REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_MARK], 'BEGIN, a chunk, the sealing MARK')
  const chunk = p.recs.at(-2) as Rec
  t.ok(chunk.bytes > 24 * 8, 'the chunk is far longer than a MARK')
  // Every 4th bit of the chunk at scale 1 (a seeded stride below it); every bit of the others.
  const stride = Math.max(1, Math.round(4 / scale))
  const rng = new Prng(SEED ^ 0x1a58)
  const failures: string[] = []
  let flips = 0
  for (const r of p.recs.slice(-3)) {
    const whole = r.kind !== REC_CKPT_CHUNK
    const work = Buffer.from(p.bytes)
    for (let bit = r.offset * 8 + (whole ? 0 : rng.int(stride)); bit < (r.offset + r.bytes) * 8;
      bit += whole ? 1 : stride) {
      flipIn(work, bit)
      const got = recover(readerOf(work), { deferIndex: bit % 2 === 1 })
      flipIn(work, bit)
      flips++
      injected++
      const state = got.kind === 'ok' ? canonical(got.keyspace) : got.kind
      const named = got.kind === 'ok' && got.log.skipped.length === 1
      if ((state !== p.state || !named) && failures.length < 5) {
        failures.push(`bit ${bit} of the ${r.kind} record at lsn ${r.lsn}: ${state.slice(0, 80)}`)
      }
    }
  }
  t.same(failures, [], `${flips} flips: the exact state, the damaged record skipped and named`)
  t.end()
})

t.test('a damaged last transaction is refused, naming it: never skipped', (t) => {
  const p = interruptedCheckpoint(SEED ^ 0x1a59, true)
  const last = p.recs.at(-1) as Rec
  t.equal(last.kind, REC_TXN, 'a transaction ends the committed log')
  const failures: string[] = []
  const work = Buffer.from(p.bytes)
  for (let bit = last.offset * 8; bit < (last.offset + last.bytes) * 8; bit++) {
    flipIn(work, bit)
    const got = recover(readerOf(work))
    flipIn(work, bit)
    injected++
    if ((got.kind !== 'corrupt' || got.lsn !== last.lsn || got.offset !== last.offset) &&
        failures.length < 5) failures.push(`bit ${bit}: ${got.kind}`)
  }
  t.same(failures, [], `every flip of its ${last.bytes * 8} bits: corrupt, at its offset and lsn`)
  t.end()
})

t.test('counts', (t) => {
  t.ok(injected > 0)
  t.comment(`faults injected: ${injected}`)
  t.end()
})
