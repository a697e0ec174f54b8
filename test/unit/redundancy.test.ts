// Redundant pool metadata (src/storage/layout.ts, "Redundancy"; format version 3):
// - every single-bit flip in any ONE copy of the header (both copies, all 1024 bits each) or of
//   the root words (tail, head and prev, both copies, 64 bits each) leaves a pool that recovers to the
//   exact state, names the damaged copy (offset), and metadataPatches (what capykv-check --repair
//   writes in place) restores the pool byte for byte; the same for two flips in one copy;
// - a flip in every copy of one structure is reported as corruption, never served;
// - a root-word copy that lags (a crash between the two stores) is used only when copy 0 fails,
//   and Store.open rewrites it before anything is appended;
// - a format version 1 pool (one header, one copy of each word) and a version 2 pool (no prev
//   words, no txn sequences) are read, and Store.open upgrades them in place, checked in PoWER mode by the crash simulator at every write and flush of the
//   upgrade; a pool of a format this build does not read is refused naming both versions;
// - on files through capykv-check: one damaged copy is reported (exit 1), --repair --yes rewrites
//   it in place (exit 4) and the file is byte-identical to the undamaged one; a file that grew is
//   reported with its length and what it takes, refused by startup, and --repair truncates it; a
//   short file is reported with what it would take and not touched.
// Invariants: pools on /dev/shm (or the temp dir), removed at teardown; the expected state is
// the model's, from the harness that built the pool (never recomputed by the code under test).

import t from 'tap'
import { createHash } from 'node:crypto'
import {
  appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkPool, EXIT_DAMAGED, EXIT_REPAIRED, metadataPatches, runCli } from '../../src/recovery/check.js'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { canonical } from '../../src/state/canonical.js'
import { encodeWord, PREV_TAGS, TAIL_TAGS } from '../../src/storage/cdb.js'
import { crc64Seal } from '../../src/storage/crc.js'
import {
  decodeHeaderCopy, encodeHeader, FORMAT_VERSION, FORMAT_VERSION_V1, FORMAT_VERSION_V2,
  HEAD_WORD_OFFSETS, HEADER_BYTES, HEADER_OFFSETS, LOG_OFFSET, poolSeed, PREV_WORD_OFFSETS,
  TAIL_WORD_OFFSETS,
} from '../../src/storage/layout.js'
import {
  checkRecord, claimedPayloadBytes, normalizeLsn, REC_PAD, REC_TXN, recordBytes,
} from '../../src/storage/record-codec.js'
import { syncMetadata } from '../../src/storage/setup.js'
import { Store } from '../../src/txn/engine.js'
import { Harness } from '../sim/harness.js'
import { Prng } from '../sim/prng.js'
import { SimRegion, Verifier, DEFAULT_POLICY } from '../sim/sim-region.js'
import { poolRecords } from '../sim/pool-records.js'
import { del, poolBytesFor, put, randomTxn } from '../sim/workload.js'

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-redundancy-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let serial = 0
const fresh = (name: string): string => {
  const d = join(dir, `${serial++}`)
  mkdirSync(d)
  return join(d, name)
}
const readerOf = (bytes: Buffer): RegionReader =>
  ({ sizeBytes: bytes.length, read: (o, l) => bytes.subarray(o, o + l) })
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

/** A committed pool with a moved head (a checkpoint) and history after it: bytes and state. */
function buildPool(seed: number, ringBytes = 16384): { bytes: Buffer; state: string; older: Buffer } {
  const rng = new Prng(seed)
  const h = Harness.fresh({ poolBytes: poolBytesFor(ringBytes), poolId: rng.bytes(16), rng: rng.fork(),
    verifier: null })
  for (let i = 0; i < 20; i++) {
    h.txn(randomTxn(rng))
    h.flush()
  }
  h.checkpointNow()
  // The durable bytes (what a crash right after the acknowledgement keeps), not the current
  // ones: a root-word copy stored but never flushed must not count as a copy.
  const older = Buffer.from(h.sim.durable)
  for (let i = 0; i < 10; i++) {
    h.txn(randomTxn(rng))
    h.flush()
  }
  return { bytes: Buffer.from(h.sim.durable), state: h.state, older }
}

interface Span { name: string; offset: number; bytes: number }
const SPANS: Span[] = [
  { name: 'pool header copy 0', offset: HEADER_OFFSETS[0] as number, bytes: HEADER_BYTES },
  { name: 'pool header copy 1', offset: HEADER_OFFSETS[1] as number, bytes: HEADER_BYTES },
  { name: 'tail word copy 0', offset: TAIL_WORD_OFFSETS[0] as number, bytes: 8 },
  { name: 'tail word copy 1', offset: TAIL_WORD_OFFSETS[1] as number, bytes: 8 },
  { name: 'head word copy 0', offset: HEAD_WORD_OFFSETS[0] as number, bytes: 8 },
  { name: 'head word copy 1', offset: HEAD_WORD_OFFSETS[1] as number, bytes: 8 },
  { name: 'prev word copy 0', offset: PREV_WORD_OFFSETS[0] as number, bytes: 8 },
  { name: 'prev word copy 1', offset: PREV_WORD_OFFSETS[1] as number, bytes: 8 },
]

t.test('every single-bit flip in one copy: the exact state, the copy named, repaired byte for byte', (t) => {
  const pool = buildPool(0x5eed1)
  const clean = recover(readerOf(pool.bytes))
  t.equal(clean.kind, 'ok')
  if (clean.kind !== 'ok') return t.end()
  t.equal(canonical(clean.keyspace), pool.state, 'the clean pool recovers to the model state')
  t.same(clean.log.metaDamage, [], 'and reports no damaged copy')
  t.equal(clean.log.formatVersion, FORMAT_VERSION)
  t.not(clean.log.headLsn, 0, 'the head has moved (a checkpoint), so the head words are not trivial')
  const work = Buffer.from(pool.bytes)
  const reader = readerOf(work)
  const failures: string[] = []
  let flips = 0
  const judge = (span: Span, what: string): void => {
    flips++
    const r = recover(reader, { deferIndex: flips % 2 === 0 })
    if (r.kind !== 'ok') {
      failures.push(`${span.name} ${what}: ${r.kind} ${r.kind === 'corrupt' ? `${r.what}: ${r.reason}` : r.reason}`)
      return
    }
    if (canonical(r.keyspace) !== pool.state) failures.push(`${span.name} ${what}: another state`)
    const named = r.log.metaDamage.filter((d) => d.damaged).map((d) => d.offset)
    if (named.length !== 1 || named[0] !== span.offset) {
      failures.push(`${span.name} ${what}: damage reported at ${JSON.stringify(named)}`)
    }
    const repaired = Buffer.from(work)
    for (const p of metadataPatches(r.log)) p.bytes.copy(repaired, p.offset)
    if (!repaired.equals(pool.bytes)) failures.push(`${span.name} ${what}: the repair differs`)
  }
  for (const span of SPANS) {
    for (let bit = 0; bit < span.bytes * 8; bit++) {
      const at = span.offset + (bit >> 3)
      work[at] = (work[at] as number) ^ (1 << (bit & 7))
      judge(span, `bit ${bit}`)
      work[at] = (work[at] as number) ^ (1 << (bit & 7))
    }
    // Two flips in the same copy (a burst inside it), a sample.
    for (let bit = 0; bit + 9 < span.bytes * 8; bit += 7) {
      const a = span.offset + (bit >> 3)
      const b = span.offset + ((bit + 9) >> 3)
      work[a] = (work[a] as number) ^ (1 << (bit & 7))
      work[b] = (work[b] as number) ^ (1 << ((bit + 9) & 7))
      judge(span, `bits ${bit} and ${bit + 9}`)
      work[b] = (work[b] as number) ^ (1 << ((bit + 9) & 7))
      work[a] = (work[a] as number) ^ (1 << (bit & 7))
    }
  }
  t.ok(work.equals(pool.bytes), 'every fault was undone')
  t.same(failures.slice(0, 10), [], `${flips} faults in one copy: exact state, copy named, repaired`)
  t.ok(flips > 2 * 1024 + 6 * 64, `${flips} faults`)
  t.end()
})

t.test('a flip in every copy of one structure is corruption, never served', (t) => {
  const pool = buildPool(0x5eed2)
  const cases: [string, number[], RegExp][] = [
    ['header', [20, (HEADER_OFFSETS[1] as number) + 33], /pool header/],
    ['tail word', [(TAIL_WORD_OFFSETS[0] as number) + 1, (TAIL_WORD_OFFSETS[1] as number) + 6], /tail word/],
    ['head word', [(HEAD_WORD_OFFSETS[0] as number) + 7, (HEAD_WORD_OFFSETS[1] as number)], /head word/],
  ]
  // Every copy of the prev word: no fallback, the pool starts from the head (the damage named).
  const noPrev = Buffer.from(pool.bytes)
  for (const o of PREV_WORD_OFFSETS) noPrev[o + 2] = (noPrev[o + 2] as number) ^ 0x04
  const p = recover(readerOf(noPrev))
  t.equal(p.kind === 'ok' ? canonical(p.keyspace) : p.kind, pool.state, 'prev word: the state')
  if (p.kind === 'ok') {
    t.equal(p.log.prevLsn, p.log.headLsn, 'no fallback kept')
    t.same(p.log.metaDamage.map((d) => d.offset), [...PREV_WORD_OFFSETS], 'both copies named')
  }
  for (const [name, offsets, what] of cases) {
    const work = Buffer.from(pool.bytes)
    for (const o of offsets) work[o] = (work[o] as number) ^ 0x10
    const r = recover(readerOf(work))
    t.equal(r.kind, 'corrupt', `${name}: corrupt`)
    if (r.kind === 'corrupt') t.match(r.what, what)
  }
  t.end()
})

t.test('a lagging root-word copy: copy 0 wins, open rewrites copy 1 before appending', (t) => {
  const pool = buildPool(0x5eed3)
  const work = Buffer.from(pool.bytes)
  // Copy 1 of the tail word from an older, valid state (what a crash between the stores leaves).
  const at = TAIL_WORD_OFFSETS[1] as number
  pool.older.copy(work, at, at, at + 8)
  t.notOk(work.subarray(at, at + 8).equals(pool.bytes.subarray(at, at + 8)), 'copy 1 differs')
  const r = recover(readerOf(work))
  t.equal(r.kind, 'ok')
  if (r.kind !== 'ok') return t.end()
  t.equal(canonical(r.keyspace), pool.state, 'copy 0 is used')
  t.equal(r.log.rootsInSync, false)
  t.same(r.log.metaDamage.map((d) => [d.offset, d.damaged]), [[at, false]], 'reported as lagging, not damage')
  // Open over the simulated PM in PoWER mode: the rewrite is checked like any blanket write.
  const verifier = new Verifier()
  const sim = new SimRegion(work, DEFAULT_POLICY, new Prng(1))
  sim.enablePower(verifier, pool.state)
  const store = Store.openRegionSync(sim, { groupCommit: 'manual', autoCheckpoint: false })
  t.equal(store.rootCopiesRewritten, 1, 'one copy rewritten')
  t.equal(sim.violation, null, 'every crash image of the rewrite recovers the state')
  t.ok(sim.durable.subarray(at, at + 8).equals(pool.bytes.subarray(at, at + 8)), 'copy 1 is current again')
  // Copy 0 damaged afterwards: copy 1 now gives the same state.
  const after = Buffer.from(sim.durable)
  after[(TAIL_WORD_OFFSETS[0] as number) + 3] = (after[(TAIL_WORD_OFFSETS[0] as number) + 3] as number) ^ 1
  const again = recover(readerOf(after))
  t.equal(again.kind === 'ok' ? canonical(again.keyspace) : again.kind, pool.state)
  t.end()
})

/**
 * The same pool in an older format: its records from the head on resealed with txn sequence 0
 * (their u32 kind), no prev words; version 1 also has one header (no copy index) and words at
 * 4096 and 4104 only. Returns it and what the upgrade must make of it: those records, the
 * header and root words of version 3, and both prev word copies naming the head.
 */
function toOlder(bytes: Buffer, version: 1 | 2): { old: Buffer; upgraded: Buffer } {
  const old = Buffer.from(bytes)
  const h = decodeHeaderCopy(bytes.subarray(0, HEADER_BYTES), 0)
  const r = recover(readerOf(bytes))
  if (h.kind !== 'ok' || r.kind !== 'ok') throw new Error('not a pool')
  const ring = h.header.ringBytes
  for (let lsn = r.log.headLsn; lsn < r.log.tailLsn;) {
    const phys = lsn % ring
    const at = LOG_OFFSET + phys
    const total = recordBytes(claimedPayloadBytes(old.subarray(at, at + 16)))
    const c = checkRecord(old.subarray(at, at + total), lsn, r.log.seed, ring - phys)
    if (!c.ok) throw new Error(c.reason)
    old.writeUInt32LE(c.kind, at)
    crc64Seal(old, at, total - 8, r.log.seed, at + total - 8)
    lsn = c.kind === REC_PAD ? lsn + ring - phys : normalizeLsn(lsn + total, ring)
  }
  const upgraded = Buffer.from(old)
  for (const [c, at] of PREV_WORD_OFFSETS.entries()) {
    const w = encodeWord(PREV_TAGS[c] as number, r.log.headLsn % ring, r.log.seed)
    upgraded.writeUInt32LE(w.lo, at)
    upgraded.writeUInt32LE(w.hi, at + 4)
    old.fill(0, at, at + 8)
  }
  for (const [c, at] of HEADER_OFFSETS.entries()) encodeHeader(h.header, c, version).copy(old, at)
  if (version === FORMAT_VERSION_V1) {
    old.fill(0, HEADER_OFFSETS[1] as number, (HEADER_OFFSETS[1] as number) + HEADER_BYTES)
    old.fill(0, TAIL_WORD_OFFSETS[1] as number, (TAIL_WORD_OFFSETS[1] as number) + 8)
    old.fill(0, HEAD_WORD_OFFSETS[1] as number, (HEAD_WORD_OFFSETS[1] as number) + 8)
  }
  return { old, upgraded }
}

for (const version of [FORMAT_VERSION_V1, FORMAT_VERSION_V2] as const) t.test(`format version ${version}: read, upgraded in place at open, every crash image of the upgrade checked`, (t) => {
  const pool = buildPool(0x5eed4)
  const { old: v1, upgraded } = toOlder(pool.bytes, version)
  const r = recover(readerOf(v1))
  t.equal(r.kind, 'ok')
  if (r.kind !== 'ok') return t.end()
  t.equal(r.log.formatVersion, version)
  t.equal(r.log.seq, 0, 'its records carry no txn sequence')
  t.equal(canonical(r.keyspace), pool.state, `a version ${version} pool reads to its state`)
  const verifier = new Verifier()
  const sim = new SimRegion(v1, DEFAULT_POLICY, new Prng(2))
  sim.enablePower(verifier, pool.state)
  const before = verifier.distinct
  syncMetadata(sim, r.log)
  t.equal(sim.violation, null, 'every crash image during the upgrade recovers the state')
  // The upgrade writes words and 2 header copies with 3 flushes: a handful of distinct images.
  t.ok(verifier.distinct - before >= 4, `${verifier.distinct - before} distinct crash images of the upgrade`)
  t.ok(Buffer.from(sim.durable).equals(upgraded), 'the upgraded pool is byte for byte the version 3 pool')
  // Through Store.open on a file, and capykv-check before and after.
  const path = fresh('v1.pool')
  writeFileSync(path, v1)
  const { report } = checkPool(path)
  t.equal(report.status, 'clean')
  t.equal(report.formatVersion, version)
  t.match(report.notes.join('\n'), new RegExp(`format version ${version}: the next start of this build upgrades it in place to version 3`))
  return Store.open(path, { create: false }).then(async (store) => {
    t.equal(store.upgradedFromVersion, version)
    t.equal(canonical(store.keyspace), pool.state)
    // Writes go on after the upgrade, through two checkpoints: the second keeps the first (written
    // under format 3) as the fallback.
    const txn = store.begin()
    txn.apply(put(0, 'after-upgrade', 'v'))
    await txn.commit()
    t.ok(store.checkpointNow() && store.checkpointNow())
    t.equal(store.log.hasFallback, true, 'a fallback once two checkpoints were written')
    const state = canonical(store.keyspace)
    store.close()
    const after = checkPool(path).report
    t.equal(after.formatVersion, FORMAT_VERSION)
    t.equal(after.status, 'clean')
    const again = recover(readerOf(readFileSync(path)))
    t.equal(again.kind === 'ok' ? canonical(again.keyspace) : again.kind, state)
  })
})

/**
 * A pool whose ring wrapped several times, and the durable image after every group commit. Each
 * transaction puts a new key and deletes the one before (every TXN record has the same length),
 * so a TXN record replayed where another lap's belongs resurrects a deleted key: another state.
 */
function lappedPool(seed: number): { images: Buffer[]; state: string } {
  const rng = new Prng(seed)
  const h = Harness.fresh({ poolBytes: poolBytesFor(8192), poolId: rng.bytes(16), rng: rng.fork(),
    verifier: null })
  const key = (i: number): string => `k${String(i).padStart(5, '0')}`
  const images: Buffer[] = []
  // About 130 transactions a lap; the last image keeps the 90 after its checkpoint.
  for (let i = 1; i <= 490; i++) {
    h.txn([put(0, key(i), 'v'), del(0, key(i - 1))])
    h.flush()
    if (i % 100 === 0) h.checkpointNow()
    images.push(Buffer.from(h.sim.durable))
  }
  return { images, state: h.state }
}

t.test('a record reverted to the one an earlier lap wrote there is refused as stale (format 2 and 3)', (t) => {
  // A lost write, or a page of the file that reverted to older contents: a record's place holds
  // the record an earlier lap of the ring wrote there, whose CRC verifies for its own lsn (the
  // seed is the pool's, not the position's). Format 3 has two defences, the lsn check and the
  // txn sequence chain; a format 1 or 2 pool (and the records a just-upgraded pool kept) carry
  // sequence 0, so there the lsn check alone refuses it (mutant record-lsn-unchecked).
  const { images, state } = lappedPool(0x57a1e)
  const last = images[images.length - 1] as Buffer
  for (const version of [FORMAT_VERSION_V2, FORMAT_VERSION] as const) {
    const convert = (b: Buffer): Buffer => version === FORMAT_VERSION ? b : toOlder(b, version).old
    const pool = convert(last)
    const clean = recover(readerOf(pool))
    t.equal(clean.kind === 'ok' ? canonical(clean.keyspace) : clean.kind, state, `format ${version}: the clean pool`)
    const live = poolRecords(pool)
    // Every TXN record an earlier image holds at a live TXN record's place, with its length.
    const older = new Map<string, Buffer>()
    const liveAt = new Map(live.recs.slice(1).filter((r) => r.kind === REC_TXN).map((r) => [r.offset, r]))
    for (const image of images) {
      const b = convert(image)
      for (const r of poolRecords(b).recs) {
        const now = liveAt.get(r.offset)
        if (r.kind !== REC_TXN || now === undefined || now.bytes !== r.bytes || r.lsn >= now.lsn) continue
        older.set(`${r.offset}@${r.lsn}`, Buffer.from(b.subarray(r.offset, r.offset + r.bytes)))
      }
    }
    const failures: string[] = []
    for (const [where, bytes] of older) {
      const offset = Number(where.split('@')[0])
      const work = Buffer.from(pool)
      bytes.copy(work, offset)
      const r = recover(readerOf(work), { deferIndex: failures.length % 2 === 1 })
      if (r.kind !== 'corrupt' || r.offset !== offset || !/stale or misdirected/.test(r.reason)) {
        failures.push(`${where}: ${r.kind === 'ok' ? (canonical(r.keyspace) === state ? 'accepted, the same state'
          : 'accepted, another state') : r.kind === 'corrupt' ? `${r.reason} at ${r.offset}` : r.reason}`)
      }
    }
    t.ok(older.size >= 20, `format ${version}: ${older.size} stale records of earlier laps, each at a live record's place with its length`)
    t.same(failures.slice(0, 5), [], `format ${version}: each refused as stale, at its offset`)
  }
  t.end()
})

t.test('a format this build does not read is refused naming both versions', async (t) => {
  const pool = buildPool(0x5eed5)
  const v4 = Buffer.from(pool.bytes)
  for (const [copy, at] of HEADER_OFFSETS.entries()) {
    const h = decodeHeaderCopy(pool.bytes.subarray(at, at + HEADER_BYTES), copy)
    if (h.kind !== 'ok') throw new Error('bad header')
    encodeHeader(h.header, copy, 4).copy(v4, at)
  }
  const r = recover(readerOf(v4))
  t.equal(r.kind, 'format')
  if (r.kind === 'format') t.match(r.reason, /format version 4, this build reads 3 \(and 2, 1\).*carry its data over/)
  const path = fresh('v4.pool')
  writeFileSync(path, v4)
  await t.rejects(Store.open(path, { create: false }), /format version 4, this build reads 3/)
})

t.test('capykv-check on files: one damaged copy reported, --repair rewrites it in place', async (t) => {
  const pool = buildPool(0x5eed6)
  for (const span of SPANS) {
    const path = fresh('copy.pool')
    const damaged = Buffer.from(pool.bytes)
    damaged[span.offset + 5] = (damaged[span.offset + 5] as number) ^ 0x40
    writeFileSync(path, damaged)
    const out: string[] = []
    const io = { out: (s: string) => { out.push(s) }, err: (s: string) => { out.push(s) },
      interactive: false, confirm: async () => false }
    t.equal(await runCli([path], io), EXIT_DAMAGED, `${span.name}: exit 1`)
    t.match(out.join(''), new RegExp(`DAMAGE\\s+${span.name} at offset ${span.offset}: .*the other copy is intact and used`))
    t.match(out.join(''), /rewrites the damaged copy in place \(nothing lost\)/)
    // Startup serves the whole state meanwhile.
    const store = await Store.open(path, { create: false, groupCommit: 'manual', autoCheckpoint: false })
    t.equal(canonical(store.keyspace), pool.state, `${span.name}: startup serves the state`)
    store.close()
    if (span.name.startsWith('pool header')) {
      t.equal(sha(readFileSync(path)), sha(damaged), 'startup leaves a header copy for --repair')
    } else {
      t.ok(readFileSync(path).equals(pool.bytes), 'startup rewrote the root-word copy')
      continue
    }
    out.length = 0
    t.equal(await runCli(['--repair', '--yes', path], io), EXIT_REPAIRED, `${span.name}: repaired, exit 4`)
    t.match(out.join(''), /repaired in place: .* is clean again; nothing lost/)
    t.ok(readFileSync(path).equals(pool.bytes), `${span.name}: the file is the undamaged pool again`)
    t.notOk(existsSync(`${path}.repaired`), 'no new pool written')
  }
})

t.test('a file of the wrong length: reported with what it takes; a grown file is truncated by --repair', async (t) => {
  const pool = buildPool(0x5eed7)
  const grown = fresh('grown.pool')
  writeFileSync(grown, pool.bytes)
  appendFileSync(grown, Buffer.alloc(4096, 0xab))
  const { report } = checkPool(grown)
  t.equal(report.status, 'damaged')
  t.equal(report.inPlace, 'truncate')
  t.equal(report.keys !== null && report.keys >= 0, true, 'the pool inside is checked too')
  t.match(report.damage[0]?.reason, new RegExp(`${pool.bytes.length + 4096} bytes, 4096 more than the pool's ${pool.bytes.length}.*truncates the file to ${pool.bytes.length} bytes`))
  await t.rejects(Store.open(grown, { create: false }), /pool file length: the file is \d+ bytes, 4096 more/)
  const io = { out: () => {}, err: () => {}, interactive: false, confirm: async () => false }
  t.equal(await runCli(['--repair', grown], io), EXIT_DAMAGED, 'not without --yes off a terminal')
  t.equal(await runCli(['--repair', '--yes', grown], io), EXIT_REPAIRED)
  t.ok(readFileSync(grown).equals(pool.bytes), 'truncated back to the pool')
  const store = await Store.open(grown, { create: false })
  t.equal(canonical(store.keyspace), pool.state)
  store.close()

  const short = fresh('short.pool')
  writeFileSync(short, pool.bytes)
  truncateSync(short, pool.bytes.length - 4096)
  const s = checkPool(short).report
  t.equal(s.status, 'damaged')
  t.equal(s.inPlace, null)
  t.match(s.unrepairableReason, /4096 fewer than the pool's \d+ .*restore the whole file; extending it with zeros \(truncate -s \d+\)/)
  const before = sha(readFileSync(short))
  t.equal(await runCli(['--repair', '--yes', short], io), EXIT_DAMAGED, 'nothing to salvage')
  t.equal(sha(readFileSync(short)), before, 'a short file is not touched')
})

t.test('the word of one copy is not accepted in the other slot', (t) => {
  const pool = buildPool(0x5eed8)
  const h = decodeHeaderCopy(pool.bytes.subarray(0, HEADER_BYTES), 0)
  if (h.kind !== 'ok') throw new Error('bad header')
  const seed = poolSeed(h.header.poolId)
  const work = Buffer.from(pool.bytes)
  // Copy 0's tail word bytes written into copy 1's slot: copy 1 fails its check (its tag).
  work.copy(work, TAIL_WORD_OFFSETS[1] as number, TAIL_WORD_OFFSETS[0] as number, (TAIL_WORD_OFFSETS[0] as number) + 8)
  const r = recover(readerOf(work))
  t.equal(r.kind === 'ok' && r.log.metaDamage[0]?.offset, TAIL_WORD_OFFSETS[1])
  t.equal(r.kind === 'ok' && r.log.metaDamage[0]?.damaged, true)
  t.not(encodeWord(TAIL_TAGS[0] as number, 8, seed).hi, encodeWord(TAIL_TAGS[1] as number, 8, seed).hi)
  // Header copy 0 written into copy 1's slot: its copy index is inside the CRC.
  const w2 = Buffer.from(pool.bytes)
  w2.copy(w2, HEADER_OFFSETS[1] as number, 0, HEADER_BYTES)
  const r2 = recover(readerOf(w2))
  t.equal(r2.kind === 'ok' && r2.log.metaDamage[0]?.reason, 'header copy 0 found in the slot of copy 1')
  t.end()
})

