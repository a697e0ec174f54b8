// Fault injection on committed pools (DESIGN rule 5): the outcome of recover() on a damaged pool
// must be the exact committed state, or a reported corruption ('corrupt' with an offset inside
// the pool) — never other data. Faults, anywhere (header, roots, records, padding, free space):
// single and multiple bit flips (scattered, within one record, bursts of up to 64 bits), zeroed
// ranges, garbage ranges, misdirected records (a valid record copied to another offset), stale
// records (an older lap's bytes where a newer record is), a record of another pool at the same
// place (the same workload with other values, so a foreign record has this pool's lengths and
// positions and differs in content and pool id), root words rolled back or forward, and a root
// word copy written into another copy's slot (misdirected: one copy damaged, so the exact state
// is required, not just a reported corruption). Also exhaustively: every single bit of the
// header, the roots and the first and last committed records, and every 1-, 2- and 3-bit flip
// of the tail and head words. Invariants checked besides: clean pools report no corruption;
// a flip past the committed tail yields the exact state. Out of the corruption model, tested
// apart: a tail word rolled back to an older valid value is a lost write, which a single commit
// word cannot detect; it must yield a state some committed prefix of the log had.
// Every fault is a pure function of the run's seed (printed on failure).
// Prints "faults injected: N".

import t from 'tap'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { canonical } from '../../src/state/canonical.js'
import { decodeWord, encodeWord, HEAD_TAG, TAIL_TAG } from '../../src/storage/cdb.js'
import {
  decodeHeader, HEAD_WORD_OFFSET, HEAD_WORD_OFFSETS, HEADER_BYTES, HEADER_OFFSETS, LOG_OFFSET,
  poolSeed, PREV_WORD_OFFSETS, TAIL_WORD_OFFSET, TAIL_WORD_OFFSETS,
} from '../../src/storage/layout.js'
import {
  checkRecord, claimedPayloadBytes, normalizeLsn, REC_PAD, recordBytes,
} from '../../src/storage/record-codec.js'
import type { Event } from '../../src/state/event.js'
import { Harness } from './harness.js'
import { Prng, seedFromEnv, simScale } from './prng.js'
import { poolBytesFor, randomTxn } from './workload.js'

const started = performance.now()
const scale = simScale()
const SEED = seedFromEnv(0xfa017)

// ---------------------------------------------------------------------------------------------
// Committed pools to damage.

const readerOf = (bytes: Buffer): RegionReader =>
  ({ sizeBytes: bytes.length, read: (o, l) => bytes.subarray(o, o + l) })

interface Snapshot { bytes: Buffer; state: string }
interface Rec { offset: number; bytes: number; lsn: number; kind: number }
interface Pool {
  name: string
  bytes: Buffer
  expected: string
  snapshots: Snapshot[]
  foreign: Buffer
  ring: number
  seed: bigint
  records: Rec[]
  /** Pool offsets of the ring's free space: [start, end) pairs. */
  free: [number, number][]
  tailPhys: number
  headPhys: number
}

/** Every string value of the transaction, bytes inverted (same lengths: same record layout). */
function alterValues(events: Event[]): Event[] {
  for (const e of events) {
    const v = (e as { value?: unknown }).value
    if (Buffer.isBuffer(v)) (e as unknown as { value: Buffer }).value = Buffer.from(v.map((b) => b ^ 0xa5))
  }
  return events
}

/**
 * A committed pool made by the engine from a seeded workload. `foreign`: the same workload with
 * every string value's bytes changed (the records keep their lengths, so each lands at the same
 * position with other content): the pool whose records play "a record of another pool".
 */
function buildBytes(seed: number, ringBytes: number, steps: number, poolId: Buffer,
  foreign = false): { bytes: Buffer; state: string; snapshots: Snapshot[] } {
  const txn = (rng: Prng): Event[] => foreign ? alterValues(randomTxn(rng)) : randomTxn(rng)
  const rng = new Prng(seed)
  const h = Harness.fresh({
    poolBytes: poolBytesFor(ringBytes), poolId, rng: rng.fork(), verifier: null,
  })
  const snapshots: Snapshot[] = []
  for (let step = 0; step < steps; step++) {
    for (let i = rng.range(1, 4); i > 0; i--) h.txn(txn(rng))
    if (rng.bool(0.3)) h.checkpointSlice(rng.pick([64, 512, 4096]))
    h.flush()
    if (rng.bool(0.03)) h.checkpointNow()
    if (step % 10 === 9) snapshots.push({ bytes: Buffer.from(h.sim.durable), state: h.state })
  }
  // Then history without checkpoints, so the committed log holds many records (and pads).
  for (let i = 0; i < 200 && h.store.log.usedBytes < ringBytes * 0.55; i++) {
    h.txn(txn(rng))
    if (rng.bool(0.5) || i % 10 === 9) h.flush()
    if (i % 10 === 9) snapshots.push({ bytes: Buffer.from(h.sim.durable), state: h.state })
  }
  h.flush()
  return { bytes: Buffer.from(h.sim.durable), state: h.state, snapshots }
}

function buildPool(name: string, seed: number, ringBytes: number, steps: number): Pool {
  const idRng = new Prng(seed ^ 0x1d)
  const main = buildBytes(seed, ringBytes, steps, idRng.bytes(16))
  const other = buildBytes(seed, ringBytes, steps, idRng.bytes(16), true)
  const header = decodeHeader(main.bytes.subarray(0, HEADER_BYTES), main.bytes.length)
  if (header.kind !== 'ok') throw new Error(`${name}: ${header.reason}`)
  const ring = header.header.ringBytes
  const pseed = poolSeed(header.header.poolId)
  const tailPhys = decodeWord(main.bytes, TAIL_WORD_OFFSET, TAIL_TAG, pseed) as number
  const headPhys = decodeWord(main.bytes, HEAD_WORD_OFFSET, HEAD_TAG, pseed) as number
  const records: Rec[] = []
  let lsn = main.bytes.readUInt32LE(LOG_OFFSET + headPhys + 8) +
    main.bytes.readUInt32LE(LOG_OFFSET + headPhys + 12) * 2 ** 32
  const tailLsn = lsn + (tailPhys - headPhys + ring) % ring
  while (lsn < tailLsn) {
    const phys = lsn % ring
    const offset = LOG_OFFSET + phys
    const total = recordBytes(claimedPayloadBytes(main.bytes.subarray(offset, offset + 16)))
    const check = checkRecord(main.bytes.subarray(offset, offset + total), lsn, pseed, ring - phys)
    if (!check.ok) throw new Error(`${name}: clean pool fails at ${offset}: ${check.reason}`)
    records.push({ offset, bytes: total, lsn, kind: check.kind })
    lsn = check.kind === REC_PAD ? lsn + ring - phys : normalizeLsn(lsn + total, ring)
  }
  const free: [number, number][] = tailPhys < headPhys
    ? [[LOG_OFFSET + tailPhys, LOG_OFFSET + headPhys]]
    : [[LOG_OFFSET + tailPhys, LOG_OFFSET + ring], [LOG_OFFSET, LOG_OFFSET + headPhys]]
  return { name, bytes: main.bytes, expected: main.state, snapshots: main.snapshots,
    foreign: other.bytes, ring, seed: pseed, records, free, tailPhys, headPhys }
}

// ---------------------------------------------------------------------------------------------
// Injection and judgement: faults are applied in place to one working copy and undone after.

type Outcome = 'exact' | 'corrupt' | 'format'

class Injector {
  readonly work: Buffer
  readonly reader: RegionReader
  private saved: [number, Buffer][] = []
  /** Bytes [0, 8) (the magic) touched by the current fault: 'format' is then acceptable. */
  private touchedMagic = false
  readonly counts: Record<string, number> = {}
  /** Faults by where they land: root words, header, committed log (and mixed), free space. */
  readonly classes: Record<string, number> = {}
  readonly outcomes: Record<Outcome, number> = { exact: 0, corrupt: 0, format: 0 }
  readonly failures: string[] = []
  total = 0

  constructor(readonly pool: Pool) {
    this.work = Buffer.from(pool.bytes)
    this.reader = { sizeBytes: this.work.length, read: (o, l) => this.work.subarray(o, o + l) }
  }

  private save(offset: number, length: number): void {
    this.saved.push([offset, Buffer.from(this.work.subarray(offset, offset + length))])
    if (offset < 8) this.touchedMagic = true
  }
  flip(bit: number): void {
    const at = bit >>> 3
    this.save(at, 1)
    this.work[at] = (this.work[at] as number) ^ (1 << (bit & 7))
  }
  put(offset: number, data: Buffer): void {
    const n = Math.min(data.length, this.work.length - offset)
    this.save(offset, n)
    data.copy(this.work, offset, 0, n)
  }
  fill(offset: number, length: number, value: number): void {
    const n = Math.min(length, this.work.length - offset)
    this.save(offset, n)
    this.work.fill(value, offset, offset + n)
  }

  /** Where the current fault landed (every changed byte in one class, else 'committed log'). */
  private where(): string {
    // Every changed byte inside one of the spans [start, end).
    const within = (spans: readonly (readonly [number, number])[]): boolean =>
      this.saved.every(([o, bytes]) => spans.some(([a, b]) => o >= a && o + bytes.length <= b))
    if (within([...TAIL_WORD_OFFSETS, ...HEAD_WORD_OFFSETS, ...PREV_WORD_OFFSETS]
      .map((w) => [w, w + 8]))) {
      return 'root words'
    }
    if (within(HEADER_OFFSETS.map((h) => [h, h + HEADER_BYTES]))) return 'header'
    if (within(this.pool.free)) return 'free space'
    return 'committed log'
  }

  /** Recover the damaged pool, judge the outcome, undo the fault. */
  judge(kind: string, describe: () => string, allowed?: Set<string>): Outcome | 'wrong' {
    // Every other fault is judged by a recovery with the deferred index (what Store.open does):
    // it must detect exactly the same damage.
    const r = recover(this.reader, { deferIndex: this.total % 2 === 1 })
    let outcome: Outcome | 'wrong'
    if (r.kind === 'ok') {
      const state = canonical(r.keyspace)
      outcome = state === this.pool.expected || allowed?.has(state) === true ? 'exact' : 'wrong'
    } else if (r.kind === 'corrupt') {
      outcome = Number.isInteger(r.offset) && r.offset >= 0 && r.offset < this.work.length
        ? 'corrupt' : 'wrong'
    } else {
      outcome = this.touchedMagic ? 'format' : 'wrong'
    }
    if (outcome === 'wrong' && this.failures.length < 10) {
      this.failures.push(`${this.pool.name}: ${kind}: ${describe()} -> ${r.kind === 'ok'
        ? `a different state (skipped ${JSON.stringify(r.log.skipped)}, fallback ${
          JSON.stringify(r.log.fallback)}, tail ${r.log.tailLsn})` : r.kind === 'corrupt' ? `corrupt at ${r.offset}` : r.reason} ` +
        `(CAPYKV_SIM_SEED=${SEED})`)
    } else if (outcome !== 'wrong') {
      this.outcomes[outcome]++
    }
    this.counts[kind] = (this.counts[kind] ?? 0) + 1
    const where = this.where()
    this.classes[where] = (this.classes[where] ?? 0) + 1
    this.total++
    for (let i = this.saved.length - 1; i >= 0; i--) {
      const [offset, bytes] = this.saved[i] as [number, Buffer]
      bytes.copy(this.work, offset)
    }
    this.saved = []
    this.touchedMagic = false
    return outcome
  }
}

// ---------------------------------------------------------------------------------------------
// The fault kinds.

function pickRecord(rng: Prng, pool: Pool): Rec {
  return rng.pick(pool.records)
}

/** A random byte offset: anywhere, or inside the structures (header, roots, committed log). */
function pickOffset(rng: Prng, pool: Pool, where: 'anywhere' | 'structure' | 'free'): number {
  if (where === 'anywhere') return rng.int(pool.bytes.length)
  if (where === 'free') {
    const [a, b] = rng.pick(pool.free)
    return b > a ? a + rng.int(b - a) : a
  }
  const r = rng.int(10)
  if (r === 0) return rng.int(HEADER_BYTES)
  if (r === 1) return TAIL_WORD_OFFSET + rng.int(16)
  const rec = pickRecord(rng, pool)
  return rec.offset + rng.int(rec.bytes)
}

function bitFlips(inj: Injector, rng: Prng, n: number): void {
  const pool = inj.pool
  for (let i = 0; i < n; i++) {
    const where = rng.pick(['anywhere', 'structure', 'structure'] as const)
    const bit = pickOffset(rng, pool, where) * 8 + rng.int(8)
    inj.flip(bit)
    inj.judge(`single bit flip (${where})`, () => `bit ${bit}`)
  }
  for (let i = 0; i < n / 4; i++) {
    const bit = pickOffset(rng, pool, 'free') * 8 + rng.int(8)
    inj.flip(bit)
    if (inj.judge('bit flip in free space', () => `bit ${bit}`) !== 'exact') {
      inj.failures.push(`${pool.name}: a flip in free space (bit ${bit}) did not give the state`)
    }
  }
  for (let i = 0; i < n; i++) {
    const k = rng.range(2, 8)
    const rec = pickRecord(rng, pool)
    const burst = rng.bool(0.5)
    const start = rec.offset * 8 + rng.int(rec.bytes * 8)
    const bits: number[] = []
    for (let j = 0; j < k; j++) {
      const bit = burst ? start + rng.int(64) : rec.offset * 8 + rng.int(rec.bytes * 8)
      if (!bits.includes(bit) && bit < pool.bytes.length * 8) bits.push(bit)
    }
    for (const bit of bits) inj.flip(bit)
    inj.judge(burst ? 'burst of flips' : 'flips within one record', () => `bits ${bits.join(',')}`)
  }
  for (let i = 0; i < n / 2; i++) {
    const bits: number[] = []
    for (let j = rng.range(2, 16); j > 0; j--) {
      const where = rng.pick(['anywhere', 'structure'] as const)
      const bit = pickOffset(rng, pool, where) * 8 + rng.int(8)
      if (!bits.includes(bit)) bits.push(bit)
    }
    for (const bit of bits) inj.flip(bit)
    inj.judge('scattered flips', () => `bits ${bits.join(',')}`)
  }
}

function ranges(inj: Injector, rng: Prng, n: number): void {
  const pool = inj.pool
  for (let i = 0; i < n; i++) {
    const garbage = rng.bool(0.5)
    const aligned = rng.bool(0.3)
    const start = aligned ? pickRecord(rng, pool).offset
      : pickOffset(rng, pool, rng.pick(['anywhere', 'structure'] as const))
    const length = rng.pick([1, 7, 8, 16, 64, 256, 512, rng.range(1, 1024)])
    if (garbage) inj.put(start, rng.bytes(length))
    else inj.fill(start, length, 0)
    inj.judge(garbage ? 'garbage range' : 'zeroed range', () => `[${start}, +${length})`)
  }
}

function misplaced(inj: Injector, rng: Prng, n: number): void {
  const pool = inj.pool
  for (let i = 0; i < n; i++) {
    const rec = pickRecord(rng, pool)
    const bytes = pool.bytes.subarray(rec.offset, rec.offset + rec.bytes)
    const mode = rng.int(3)
    const target = mode === 0 ? pickRecord(rng, pool).offset
      : mode === 1 ? LOG_OFFSET + rng.int(pool.ring / 8) * 8
        : pickOffset(rng, pool, 'free') & ~7
    if (target === rec.offset || target + bytes.length > pool.bytes.length) continue
    inj.put(target, bytes)
    inj.judge('misdirected record', () => `record at ${rec.offset} copied to ${target}`)
  }
  for (let i = 0; i < n; i++) {
    const rec = pickRecord(rng, pool)
    const source = rng.bool(0.3) ? pool.foreign : rng.pick(pool.snapshots).bytes
    const length = rng.bool(0.7) ? rec.bytes : rng.range(8, 512)
    const old = source.subarray(rec.offset, Math.min(rec.offset + length, source.length))
    if (old.equals(pool.bytes.subarray(rec.offset, rec.offset + old.length))) continue
    inj.put(rec.offset, old)
    inj.judge(source === pool.foreign ? 'record of another pool' : 'stale record',
      () => `[${rec.offset}, +${old.length})`)
  }
}

function rootWords(inj: Injector, rng: Prng): void {
  const pool = inj.pool
  const word = (tag: number, phys: number): Buffer => {
    const w = encodeWord(tag, phys, pool.seed)
    const b = Buffer.alloc(8)
    b.writeUInt32LE(w.lo, 0)
    b.writeUInt32LE(w.hi, 4)
    return b
  }
  for (const s of pool.snapshots) {
    inj.put(HEAD_WORD_OFFSET, s.bytes.subarray(HEAD_WORD_OFFSET, HEAD_WORD_OFFSET + 8))
    inj.judge('head word rolled back', () => 'an older head word')
  }
  const positions = new Set<number>()
  for (const r of pool.records) positions.add(r.offset - LOG_OFFSET)
  for (let i = 0; i < 64; i++) positions.add(rng.int(pool.ring / 8) * 8)
  for (const [a, b] of pool.free) {
    for (let x = a; x < b; x += 8 * rng.range(1, 64)) positions.add(x - LOG_OFFSET)
  }
  for (const phys of positions) {
    if (phys !== pool.headPhys) {
      inj.put(HEAD_WORD_OFFSET, word(HEAD_TAG, phys))
      inj.judge('head word moved', () => `head names ring offset ${phys}`)
    }
    const inCommitted = pool.records.some((r) => r.offset - LOG_OFFSET === phys)
    if (phys !== pool.tailPhys && !inCommitted) {
      inj.put(TAIL_WORD_OFFSET, word(TAIL_TAG, phys))
      inj.judge('tail word rolled forward', () => `tail names ring offset ${phys}`)
    }
  }
}

/**
 * Each root word copy written into each other copy's slot (a misdirected store: tail into head,
 * copy 0 into copy 1, …). Only one copy is damaged, so the other copy must serve the exact state
 * (each copy's check binds its slot's tag: cdb.ts).
 */
function misdirectedWords(inj: Injector): void {
  const slots: [string, number][] = [
    ...TAIL_WORD_OFFSETS.map((o, c): [string, number] => [`tail word copy ${c}`, o]),
    ...HEAD_WORD_OFFSETS.map((o, c): [string, number] => [`head word copy ${c}`, o]),
  ]
  for (const [from, a] of slots) {
    for (const [to, b] of slots) {
      if (a === b) continue
      const bytes = Buffer.from(inj.pool.bytes.subarray(a, a + 8))
      if (bytes.equals(inj.pool.bytes.subarray(b, b + 8))) continue
      inj.put(b, bytes)
      const got = inj.judge('root word copy misdirected', () => `${from} written at ${to}`)
      if (got !== 'exact' && got !== 'wrong') {
        inj.failures.push(`${inj.pool.name}: ${from} written at ${to}: ${got}, not the exact ` +
          'state from the other copy')
      }
    }
  }
}

/** Every 1-, 2- and 3-bit flip of a root word. */
function wordFlips(inj: Injector, offset: number, name: string): void {
  const base = offset * 8
  const one = (bits: number[]): void => {
    for (const bit of bits) inj.flip(base + bit)
    inj.judge(`${bits.length}-bit flip of the ${name} word`, () => `bits ${bits.join(',')}`)
  }
  for (let a = 0; a < 64; a++) {
    one([a])
    for (let b = a + 1; b < 64; b++) {
      one([a, b])
      for (let c = b + 1; c < 64; c++) one([a, b, c])
    }
  }
}

/** Every single bit of the header, the roots and the first and last committed records. */
function exhaustiveFlips(inj: Injector): void {
  const pool = inj.pool
  const first = pool.records[0] as Rec
  const last = pool.records[pool.records.length - 1] as Rec
  const spans: [number, number][] = [[0, HEADER_BYTES], [TAIL_WORD_OFFSET, 24],
    [first.offset, first.bytes], [last.offset, last.bytes]]
  for (const [start, length] of spans) {
    for (let bit = start * 8; bit < (start + length) * 8; bit++) {
      inj.flip(bit)
      inj.judge('every single bit of a structure', () => `bit ${bit}`)
    }
  }
}

/** The states of the committed prefixes of the log (what a rolled-back tail word may name). */
function prefixStates(pool: Pool): Set<string> {
  const inj = new Injector(pool)
  const states = new Set<string>()
  for (const r of pool.records) {
    const w = encodeWord(TAIL_TAG, (r.offset - LOG_OFFSET + r.bytes) % pool.ring, pool.seed)
    inj.work.writeUInt32LE(w.lo, TAIL_WORD_OFFSET)
    inj.work.writeUInt32LE(w.hi, TAIL_WORD_OFFSET + 4)
    const res = recover(inj.reader)
    if (res.kind === 'ok') states.add(canonical(res.keyspace))
  }
  return states
}

// ---------------------------------------------------------------------------------------------

const poolSpecs: [string, number, number, number][] = [
  ['small, no wrap', 11, 16384, 20],
  ['16 KiB ring, wrapped many times', 12, 16384, 400],
  ['32 KiB ring, wrapped', 13, 32768, 300],
  ['64 KiB ring', 14, 65536, 150],
]
let injected = 0
const classes: Record<string, number> = {}
const addClasses = (inj: Injector): void => {
  for (const [k, v] of Object.entries(inj.classes)) classes[k] = (classes[k] ?? 0) + v
}
const perPool = Math.max(50, Math.round(5000 * scale))

for (const [name, seed, ring, steps] of poolSpecs) {
  t.test(`faults in a committed pool: ${name}`, (t) => {
    const pool = buildPool(name, SEED ^ seed, ring, steps)
    const clean = recover(readerOf(pool.bytes))
    t.equal(clean.kind, 'ok', 'the clean pool recovers without corruption')
    t.equal(clean.kind === 'ok' ? canonical(clean.keyspace) : '', pool.expected, 'to the state')
    for (const s of pool.snapshots) {
      const r = recover(readerOf(s.bytes))
      t.equal(r.kind === 'ok' ? canonical(r.keyspace) : r.kind, s.state, 'older snapshots too')
    }
    const inj = new Injector(pool)
    const rng = new Prng(SEED ^ (seed * 7919))
    bitFlips(inj, rng, perPool)
    ranges(inj, rng, perPool)
    misplaced(inj, rng, perPool)
    rootWords(inj, rng)
    misdirectedWords(inj)
    exhaustiveFlips(inj)
    if (seed === 12) {
      wordFlips(inj, TAIL_WORD_OFFSET, 'tail')
      wordFlips(inj, HEAD_WORD_OFFSET, 'head')
    }
    t.same(inj.failures, [], 'every fault gave the exact state or a reported corruption')
    t.ok(inj.outcomes.corrupt > 0 && inj.outcomes.exact > 0, 'both outcomes occur')
    const pads = pool.records.filter((r) => r.kind === REC_PAD).length
    t.comment(`${pool.records.length} records (${pads} pads); ${inj.total} faults: ` +
      JSON.stringify(inj.outcomes))
    t.comment(JSON.stringify(inj.counts))
    injected += inj.total
    addClasses(inj)
    t.end()
  })
}

t.test('a rolled-back tail word (a lost write): a committed prefix state, never other', (t) => {
  const pool = buildPool('tail rollback', SEED ^ 21, 16384, 200)
  const allowed = prefixStates(pool)
  t.ok(allowed.has(pool.expected), 'the full log is one of the prefixes')
  const inj = new Injector(pool)
  for (const s of pool.snapshots) {
    inj.put(TAIL_WORD_OFFSET, s.bytes.subarray(TAIL_WORD_OFFSET, TAIL_WORD_OFFSET + 8))
    inj.judge('tail word rolled back', () => 'an older tail word', allowed)
  }
  for (const r of pool.records) {
    const w = encodeWord(TAIL_TAG, (r.offset - LOG_OFFSET) % pool.ring, pool.seed)
    const b = Buffer.alloc(8)
    b.writeUInt32LE(w.lo, 0)
    b.writeUInt32LE(w.hi, 4)
    inj.put(TAIL_WORD_OFFSET, b)
    inj.judge('tail word rolled back', () => `tail names record at ${r.offset}`, allowed)
  }
  t.same(inj.failures, [], 'an earlier committed state or a reported corruption')
  injected += inj.total
  addClasses(inj)
  t.end()
})

t.test('counts', (t) => {
  t.ok(injected > 0, 'faults were injected')
  t.comment(`faults injected: ${injected}`)
  const outside = injected - (classes['root words'] ?? 0)
  t.comment(`faults by class: ${Object.entries(classes).sort().map(([k, v]) => `${k} ${v}`)
    .join(', ')}; faults outside the root words: ${outside}`)
  t.comment(`seed ${SEED}, ${(performance.now() - started) / 1000} s`)
  t.end()
})
