// The background scrub (src/storage/scrub.ts, src/txn/scrub-driver.ts), in process over a real
// pool file:
// - a clean pool: a pass verifies exactly the committed log [head, tail), finds nothing, and a
//   rate of R bytes per second verifies no more than R per second plus one record;
// - a byte flipped in a committed record (the pool's mapping written behind the store's back,
//   as media damage would be): found once, named by offset and lsn; the driver asks for a
//   checkpoint, the head moves past the record (healed), and the pool then recovers to exactly
//   the state in memory; without the heal, recovery refuses the same pool (so the heal is what
//   saves the next start);
// - a checkpoint moving the head past the scrub's cursor mid-pass: no false damage;
// - the scrub waits while deferred events still point into the pool (startup index).
// Invariants: pools in a temp dir on /dev/shm, removed at teardown; the expected states are the
// test's own writes (never read back from the code under test alone).

import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { recover } from '../../src/recovery/recover.js'
import { canonical } from '../../src/state/canonical.js'
import { EV_DEL, EV_PUT } from '../../src/state/core-events.js'
import type { Event } from '../../src/state/event.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { REC_TXN } from '../../src/storage/record-codec.js'
import { Store } from '../../src/txn/engine.js'
import type { ScrubDamage } from '../../src/storage/scrub.js'
import { ScrubDriver } from '../../src/txn/scrub-driver.js'
import { poolRecords } from '../sim/pool-records.js'

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-scrub-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let serial = 0
const POOL_BYTES = 4 * 1024 * 1024

const put = (key: string, value: string): Event =>
  ({ code: EV_PUT, db: 0, key, value: Buffer.from(value), expireAtMs: 0 } as Event)

async function storeWith(keys: number, deferIndex = false): Promise<{ store: Store; path: string }> {
  const path = join(dir, `${serial++}.pool`)
  const store = await Store.open(path, { sizeBytes: POOL_BYTES, groupCommit: 'manual', autoCheckpoint: false })
  for (let i = 0; i < keys; i++) {
    const txn = store.begin()
    txn.apply(put(`key:${i}`, `value-${i}-${'x'.repeat(i % 50)}`))
    txn.commitNoWait()
    store.flush()
  }
  if (!deferIndex) return { store, path }
  store.close()
  return { store: await Store.open(path, { groupCommit: 'manual', autoCheckpoint: false, deferIndex: true }), path }
}

/**
 * Ticks 100 ms apart at an unbounded rate until `done` (each tick stops after STEP_MAX_MS of
 * wall time, so a loaded machine may need several); returns the damage found and healed.
 */
function tickUntil(driver: ScrubDriver, start: number, done: () => boolean): { now: number; found: ScrubDamage[]; healed: ScrubDamage[] } {
  const found: ScrubDamage[] = []
  const healed: ScrubDamage[] = []
  let now = start
  for (let i = 0; i < 1000 && !done(); i++) {
    now += 100
    const r = driver.tick(1e12, now)
    found.push(...r.found)
    healed.push(...r.healed)
  }
  return { now, found, healed }
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

t.test('a clean pool: one pass verifies the committed log, at the rate asked', async (t) => {
  const { store } = await storeWith(300)
  const committed = store.log.committedLsn - store.log.headLsn
  const fast = new ScrubDriver(store, 0)
  const r = tickUntil(fast, 0, () => fast.scrubber.stats.passes > 0)
  t.same(r.found, [])
  const s = fast.scrubber.stats
  t.equal(s.passes, 1, 'one pass')
  t.equal(s.lastCompletedMs, r.now)
  t.equal(s.bytesVerified, committed, `every committed byte (${committed}) verified, none beyond`)
  t.equal(s.corruptionFound, 0)

  // A rate of 1000 bytes/s over 10 s of 100 ms ticks: at most the rate plus one record.
  const slow = new ScrubDriver(store, 0)
  let now = 0
  for (let i = 0; i < 100; i++) {
    now += 100
    slow.tick(1000, now)
  }
  const verified = slow.scrubber.stats.bytesVerified
  t.ok(verified <= 10_000 + 200, `${verified} bytes in 10 s at 1000 bytes/s`)
  t.ok(verified >= 10_000 - 200, 'and about the rate')
  t.equal(new ScrubDriver(store, 0).tick(0, 100).found.length, 0, 'rate 0: off')
  store.close()
})

t.test('a flipped byte in a committed record: found once, named, healed by a checkpoint', async (t) => {
  const { store, path } = await storeWith(200)
  const state = canonical(store.keyspace)
  // Media damage: one byte in the middle of the committed log, behind the store's back.
  const lsn = Math.floor((store.log.committedLsn - store.log.headLsn) / 2)
  const at = LOG_OFFSET + lsn
  const original = store.region.read(at, 1)[0] as number
  store.region.write(at, Buffer.from([original ^ 0x20]), 'blanket')
  t.equal(recover(store.region).kind, 'corrupt', 'the next start would refuse this pool')

  const driver = new ScrubDriver(store, 0)
  const first = tickUntil(driver, 0, () => driver.scrubber.stats.corruptionFound > 0)
  t.equal(first.found.length, 1, 'found')
  const d = first.found[0]
  t.ok(d !== undefined && d.offset <= at && at < d.offset + 4096, `named at offset ${d?.offset} (lsn ${d?.lsn})`)
  t.match(d?.reason, /checksum mismatch|runs past|stale/)
  t.equal(driver.scrubber.stats.passes, 0, 'a pass that meets damage does not complete')
  t.equal(driver.healCheckpoints, 1, 'a checkpoint is asked for')
  t.equal(driver.tick(1e12, first.now + 100).found.length, 0, 'the same damage is not reported twice')
  t.equal(driver.scrubber.stats.corruptionFound, 1)
  await turns(20)
  t.ok(store.log.headLsn > (d?.lsn ?? Infinity), 'the checkpoint moved the head past the record')
  const after = tickUntil(driver, first.now + 200, () => driver.scrubber.stats.passes > 0)
  t.equal(after.healed.length, 1, 'reported healed')
  t.equal(after.found.length, 0)
  t.equal(driver.scrubber.unhealed().length, 0)
  t.equal(driver.scrubber.stats.passes, 1, 'the next pass completes')
  t.equal(canonical(store.keyspace), state, 'the state in memory is untouched')
  store.close()
  const reopened = await Store.open(path, { create: false })
  t.equal(canonical(reopened.keyspace), state, 'the pool recovers to the exact state')
  reopened.close()
})

t.test('a record reverted to the one an earlier lap wrote there (a lost write): found as stale', async (t) => {
  // The record's CRC verifies (the seed is the pool's, not the position's) but for its own lsn,
  // one lap back: only the lsn check tells it from the record committed there. The scrub walks
  // without recovery's txn sequence chain, so the lsn check is its only defence (mutant
  // record-lsn-unchecked). Each transaction puts a new key and deletes the one before, so every
  // TXN record has the same length and a stale one would resurrect a deleted key.
  const path = join(dir, `${serial++}.pool`)
  const store = await Store.open(path, { sizeBytes: LOG_OFFSET + 8192, groupCommit: 'manual', autoCheckpoint: false })
  const key = (i: number): string => `k${String(i).padStart(5, '0')}`
  const images: Buffer[] = []
  for (let i = 1; i <= 490; i++) {
    const txn = store.begin()
    txn.apply(put(key(i), 'v'))
    txn.apply({ code: EV_DEL, db: 0, key: key(i - 1) } as Event)
    txn.commitNoWait()
    store.flush()
    if (i % 100 === 0) store.checkpointNow()
    images.push(Buffer.from(store.region.read(0, store.region.sizeBytes)))
  }
  const state = canonical(store.keyspace)
  const live = poolRecords(images[images.length - 1] as Buffer)
  t.ok(live.tailLsn > 2 * live.ring, 'the ring wrapped twice')
  // A live TXN record (not the last, whose successor would be the tail) and the record an
  // earlier lap wrote at its place with its length.
  let stale: { lsn: number; offset: number; bytes: Buffer } | null = null
  for (const image of images) {
    for (const r of poolRecords(image).recs) {
      const now = live.recs.slice(1, -1).find((l) => l.offset === r.offset)
      if (stale !== null || now === undefined || r.kind !== REC_TXN || now.kind !== REC_TXN ||
          now.bytes !== r.bytes || r.lsn >= now.lsn) continue
      stale = { lsn: now.lsn, offset: r.offset, bytes: Buffer.from(image.subarray(r.offset, r.offset + r.bytes)) }
    }
  }
  if (stale === null) return t.fail('no live record with an earlier lap\'s record of its length at its place')
  store.region.write(stale.offset, stale.bytes, 'blanket')
  t.equal(recover(store.region).kind, 'corrupt', 'the next start would refuse this pool')
  const driver = new ScrubDriver(store, 0)
  const first = tickUntil(driver, 0, () => driver.scrubber.stats.corruptionFound > 0 || driver.scrubber.stats.passes > 0)
  t.same(first.found.map((d) => [d.lsn, d.offset]), [[stale.lsn, stale.offset]], `found at lsn ${stale.lsn}`)
  t.match(first.found[0]?.reason, /stale or misdirected record \(lsn \d+\)/)
  t.equal(driver.scrubber.stats.passes, 0, 'the pass does not complete')
  await turns(20)
  t.ok(store.log.headLsn > stale.lsn, 'the heal checkpoint moved the head past the record')
  t.equal(canonical(store.keyspace), state, 'the state in memory is untouched')
  store.close()
  const reopened = await Store.open(path, { create: false })
  t.equal(canonical(reopened.keyspace), state, 'the pool recovers to the exact state')
  reopened.close()
})

t.test('the head moving past the cursor mid-pass: no false damage', async (t) => {
  const { store } = await storeWith(400)
  const driver = new ScrubDriver(store, 0)
  let now = 0
  const found: unknown[] = []
  // Small steps, with checkpoints and writes between them.
  for (let i = 0; i < 60; i++) {
    now += 100
    found.push(...driver.tick(20_000, now).found)
    if (i % 10 === 5) store.checkpointNow()
    const txn = store.begin()
    txn.apply(put(`late:${i}`, 'y'.repeat(300)))
    txn.commitNoWait()
    store.flush()
  }
  t.same(found, [], 'nothing reported')
  t.ok(driver.scrubber.stats.passes >= 2, `${driver.scrubber.stats.passes} passes`)
  store.close()
})

t.test('the scrub waits while deferred events point into the pool', async (t) => {
  const { store } = await storeWith(100, true)
  t.ok(store.keyspace.pendingEvents > 0, 'deferred events pending after open')
  const driver = new ScrubDriver(store, 0)
  driver.tick(1e12, 100)
  t.equal(driver.scrubber.stats.bytesVerified, 0, 'nothing verified while the index is pending')
  store.keyspace.materializeAll()
  tickUntil(driver, 100, () => driver.scrubber.stats.passes > 0)
  t.equal(driver.scrubber.stats.passes, 1, 'then a pass')
  store.close()
})
