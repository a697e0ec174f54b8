// Boundaries the random runs reach only by chance, tested on purpose (issue 12: a ring-wrap
// off-by-one and a record checksum not bound to the pool were each caught by one seed of one
// file, or not at all):
// - The ring's end in every alignment: a tiny ring wrapped hundreds of times in PoWER check mode
//   by transactions whose sizes sweep every 8-byte step, so the tail lands at every distance
//   from the ring's end (including exactly one minimal record's room, and less than that); the
//   run asserts each distance occurred.
// - A log filled to the last byte the writer allows, from every alignment: the tail never meets
//   the head, and the pool recovers to the last record.
// - Identity: a record another pool wrote at the same position, with the same length and other
//   content, is corruption; so are root words in each other's slots; a damaged committed record
//   in the middle of the log is corruption, never the end of a shorter log.
// Deterministic (fixed seeds). Prints the simulator's counts like the other crash files.

import t from 'tap'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { canonical } from '../../src/state/canonical.js'
import type { Event } from '../../src/state/event.js'
import { encodeEvents } from '../../src/state/event.js'
import { decodeWord, HEAD_TAG, TAIL_TAG } from '../../src/storage/cdb.js'
import {
  decodeHeader, HEAD_WORD_OFFSET, HEAD_WORD_OFFSETS, HEADER_BYTES, LOG_OFFSET, poolSeed,
  TAIL_WORD_OFFSET, TAIL_WORD_OFFSETS,
} from '../../src/storage/layout.js'
import {
  checkRecord, claimedPayloadBytes, MIN_RECORD_BYTES, normalizeLsn, REC_PAD, REC_TXN, recordBytes,
} from '../../src/storage/record-codec.js'
import { Harness } from './harness.js'
import { Prng, simScale } from './prng.js'
import { DEFAULT_POLICY, Verifier } from './sim-region.js'
import { del, poolBytesFor, put } from './workload.js'

const verifier = new Verifier()
const scale = simScale()
const readerOf = (bytes: Buffer): RegionReader =>
  ({ sizeBytes: bytes.length, read: (o, l) => bytes.subarray(o, o + l) })

t.test('the ring\'s end in every alignment, wrapped many times, PoWER-checked', (t) => {
  const ring = 4096
  const rng = new Prng(1201)
  const h = Harness.fresh({
    poolBytes: poolBytesFor(ring), poolId: rng.bytes(16), rng: rng.fork(), verifier,
    policy: DEFAULT_POLICY, context: () => 'boundaries: ring end sweep',
  })
  const distances = new Set<number>()
  let wraps = 0
  let lastLap = 0
  let size = 0
  const rounds = Math.max(1500, Math.round(5000 * scale))
  // Every distance to the ring's end from 24 to 64 bytes must occur: past `rounds`, go on (at
  // most as long again) until each has (the layout shifts with the record formats).
  const covered = (): boolean => [24, 32, 40, 48, 56, 64].every((d) => distances.has(d))
  for (let i = 0; i < rounds || (i < 2 * rounds && !covered()); i++) {
    // Value sizes sweep 0..200 bytes one by one: record sizes take every multiple of 8.
    size = (size + 1) % 201
    const key = `k${i % 5}`
    if (!h.txn([put(0, key, Buffer.alloc(size, i & 0xff))])) {
      h.txn([del(0, key)])
      h.checkpointNow()
    }
    if (i % 3 !== 2) {
      const before = h.store.log.tailLsn % ring
      if (ring - before <= 64) distances.add(ring - before)
      continue
    }
    h.flush()
    const tail = h.store.log.tailLsn
    const left = ring - (tail % ring)
    if (left <= 64) distances.add(left)
    if (Math.floor(tail / ring) !== lastLap) {
      wraps++
      lastLap = Math.floor(tail / ring)
    }
    if (i % 40 === 39) h.checkpointNow()
  }
  h.flush()
  t.ok(wraps >= rounds / 40, `the ring wrapped ${wraps} times`)
  for (let d = MIN_RECORD_BYTES; d <= 64; d += 8) {
    t.ok(distances.has(d), `a record ended ${d} bytes before the ring's end`)
  }
  // And the pool recovers to the model after all of it.
  const r = recover(readerOf(h.sim.durable))
  t.equal(r.kind === 'ok' ? canonical(r.keyspace) : r.kind, h.state, 'recovers to the model')
  t.end()
})

t.test('a log filled to the last byte the writer allows, from every alignment', (t) => {
  const ring = 2048
  for (let shift = 0; shift < 16; shift++) {
    const rng = new Prng(1300 + shift)
    const h = Harness.fresh({ poolBytes: poolBytesFor(ring), poolId: rng.bytes(16), rng,
      verifier: null })
    const log = h.store.log
    // A first record shifts the alignment; then records of decreasing size while any fits.
    const append = (events: Event[]): boolean => {
      const w = log.begin()
      encodeEvents(w, events)
      if (!log.fits(w.length - 16, 0)) return false
      log.append(REC_TXN)
      log.commit()
      return true
    }
    append([put(0, 'shift', Buffer.alloc(shift * 8))])
    let last = ''
    let appended = 0
    for (let n = 400; n >= 0; n--) {
      while (append([put(0, 'fill', Buffer.alloc(n, n & 0xff))])) {
        last = String(n)
        appended++
        if (log.usedBytes >= ring) break
      }
    }
    t.ok(log.usedBytes < ring, `alignment ${shift}: the tail never meets the head (${log.usedBytes} of ${ring} used)`)
    const r = recover(readerOf(h.sim.durable))
    const value = r.kind === 'ok' ? r.keyspace.get(0, 'fill')?.value as Buffer | undefined : undefined
    t.equal(r.kind === 'ok' ? String(value?.length) : `${r.kind}: ${r.kind === 'corrupt' ? r.reason : ''}`,
      last, `alignment ${shift}: ${appended} records; the full pool recovers to the last one`)
  }
  t.end()
})

// ---------------------------------------------------------------------------------------------
// Identity.

interface Rec { offset: number; bytes: number; lsn: number; kind: number }

/** The committed records of a clean pool, walked from the head. */
function records(bytes: Buffer): { recs: Rec[]; seed: bigint } {
  const h = decodeHeader(bytes.subarray(0, HEADER_BYTES), bytes.length)
  if (h.kind !== 'ok') throw new Error(h.reason)
  const ring = h.header.ringBytes
  const seed = poolSeed(h.header.poolId)
  const tail = decodeWord(bytes, TAIL_WORD_OFFSET, TAIL_TAG, seed) as number
  const head = decodeWord(bytes, HEAD_WORD_OFFSET, HEAD_TAG, seed) as number
  let lsn = bytes.readUInt32LE(LOG_OFFSET + head + 8) + bytes.readUInt32LE(LOG_OFFSET + head + 12) * 2 ** 32
  const end = lsn + (tail - head + ring) % ring
  const recs: Rec[] = []
  while (lsn < end) {
    const phys = lsn % ring
    const offset = LOG_OFFSET + phys
    const total = recordBytes(claimedPayloadBytes(bytes.subarray(offset, offset + 16)))
    const c = checkRecord(bytes.subarray(offset, offset + total), lsn, seed, ring - phys)
    if (!c.ok) throw new Error(`clean pool: ${c.reason}`)
    recs.push({ offset, bytes: total, lsn, kind: c.kind })
    lsn = c.kind === REC_PAD ? lsn + ring - phys : normalizeLsn(lsn + total, ring)
  }
  return { recs, seed }
}

/** A committed pool from a seeded workload; `other` changes every value's bytes (same lengths). */
function pool(poolId: Buffer, other: boolean): { bytes: Buffer; state: string } {
  const rng = new Prng(1400)
  const h = Harness.fresh({ poolBytes: poolBytesFor(8192), poolId, rng: rng.fork(), verifier: null })
  for (let i = 0; i < 60; i++) {
    const v = rng.bytes(rng.range(1, 60))
    h.txn([put(rng.int(2), `k${rng.int(8)}`, other ? Buffer.from(v.map((x) => x ^ 0x3c)) : v)])
    if (i % 3 === 2) h.flush()
    if (i === 30) h.checkpointNow()
  }
  h.flush()
  return { bytes: Buffer.from(h.sim.durable), state: h.state }
}

t.test('identity: another pool\'s records, swapped root words, damage inside the log', (t) => {
  const idRng = new Prng(1500)
  const a = pool(idRng.bytes(16), false)
  const b = pool(idRng.bytes(16), true)
  const { recs } = records(a.bytes)
  const outcome = (bytes: Buffer): string => {
    const r = recover(readerOf(bytes))
    if (r.kind !== 'ok') return r.kind
    if (canonical(r.keyspace) !== a.state) return 'other state'
    // The damage went around (the checkpoint fallback, or a skip the txn sequence proves).
    return r.log.fallback !== null || r.log.skipped.length > 0 ? 'fallback' : 'exact'
  }
  t.equal(outcome(a.bytes), 'exact', 'the clean pool recovers')
  let foreign = 0
  let corrupt = 0
  for (const rec of recs) {
    const theirs = b.bytes.subarray(rec.offset, rec.offset + rec.bytes)
    if (theirs.equals(a.bytes.subarray(rec.offset, rec.offset + rec.bytes))) continue
    const work = Buffer.from(a.bytes)
    theirs.copy(work, rec.offset)
    foreign++
    const got = outcome(work)
    // A record of the head's checkpoint may be gone around (the previous one is kept, format 3).
    if (got === 'corrupt') corrupt++
    else if (got !== 'fallback') t.fail(`another pool's record at ${rec.offset} (lsn ${rec.lsn}): ${got}`)
  }
  const txns = recs.filter((r) => r.kind === REC_TXN).length
  t.ok(foreign >= 10 && corrupt >= txns - 2, `${foreign} records of another pool, same ` +
    `position and length: ${corrupt} corrupt (of ${txns} transactions), the others (the head's ` +
    'checkpoint) gone around')
  // Pool format 2 keeps two copies of the root words: head and tail swapped in one copy leave
  // that copy invalid and the other serves the exact state; swapped in both, the pool is corrupt.
  const swap = (bytes: Buffer, copies: readonly number[]): Buffer => {
    const out = Buffer.from(bytes)
    for (const c of copies) {
      const tw = TAIL_WORD_OFFSETS[c] as number
      const hw = HEAD_WORD_OFFSETS[c] as number
      bytes.copy(out, tw, hw, hw + 8)
      bytes.copy(out, hw, tw, tw + 8)
    }
    return out
  }
  for (const c of [0, 1]) {
    t.equal(outcome(swap(a.bytes, [c])), 'exact',
      `head and tail words in each other's slots in copy ${c}: the other copy serves`)
  }
  t.equal(outcome(swap(a.bytes, [0, 1])), 'corrupt',
    'head and tail words in each other\'s slots in both copies: corrupt')
  // Transaction records (one in the head's checkpoint is gone around: the fallback).
  const txnRecs = recs.filter((r) => r.kind === REC_TXN)
  for (const i of [0, Math.floor(txnRecs.length / 2), txnRecs.length - 2]) {
    const rec = txnRecs[i] as Rec
    const work = Buffer.from(a.bytes)
    work[rec.offset + rec.bytes - 9] = (work[rec.offset + rec.bytes - 9] as number) ^ 0x10
    t.equal(outcome(work), 'corrupt', `a flipped bit in transaction ${i} of ${txnRecs.length}: ` +
      'corruption, not a shorter log')
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
  t.end()
})
