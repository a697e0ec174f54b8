// The embedded store's API (DESIGN rule 8) on a real pool file in /dev/shm, through the native
// addon: create and reopen; begin / tentative writes / commit promise / abort; reads see the
// transaction's own writes; group commit (every commit of one event-loop turn shares one commit
// point); a full pool refuses writes with OUT_OF_SPACE and applies nothing, while deletes and
// FLUSHALL still succeed and checkpoints reclaim the space (write, delete and rewrite many
// times the pool's size); checkpointNow; reload; corruption found at open is refused with its
// place. Each test removes its pool file.

import { existsSync, openSync, readSync, rmSync, statSync, writeSync, closeSync } from 'node:fs'
import t from 'tap'
import { StoreError } from '../../src/errors.js'
import { canonical } from '../../src/state/canonical.js'
import { EV_DEL, EV_FLUSHALL, EV_PUT, EV_SWAPDB } from '../../src/state/core-events.js'
import { ByteWriter, DecodeError } from '../../src/state/bytes.js'
import { decodeEvents, eventType, type Event } from '../../src/state/event.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { REC_TXN } from '../../src/storage/record-codec.js'
import { Store } from '../../src/txn/engine.js'
import { WatchIndex, type Watcher } from '../../src/txn/watch.js'

const dir = existsSync('/dev/shm') ? '/dev/shm' : '/tmp'
let counter = 0
function poolPath(t: { teardown: (fn: () => void) => void }): string {
  const path = `${dir}/capykv-engine-test-${process.pid}-${counter++}.pool`
  rmSync(path, { force: true })
  t.teardown(() => {
    rmSync(path, { force: true })
    rmSync(`${path}.creating`, { force: true })
  })
  return path
}

const put = (key: string, value: string | Buffer, db = 0): Event =>
  ({ code: EV_PUT, db, key, value: Buffer.isBuffer(value) ? value : Buffer.from(value),
    expireAtMs: 0 } as Event)
const del = (key: string, db = 0): Event => ({ code: EV_DEL, db, key } as Event)
const flushall = (): Event => ({ code: EV_FLUSHALL })

function value(store: Store, key: string, db = 0): string | undefined {
  const e = store.keyspace.get(db, key)
  return e === undefined ? undefined : (e.value as Buffer).toString()
}

async function commit(store: Store, ...events: Event[]): Promise<void> {
  const txn = store.begin()
  for (const e of events) txn.apply(e)
  await txn.commit()
}

t.test('open creates a pool with its blocks, and reopening sees committed data', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 1 << 20 })
  t.equal(statSync(path).size, 1 << 20, 'the pool has its size')
  t.ok(!existsSync(`${path}.creating`), 'no temporary file left')
  t.match(store.stats().backend, /libpmem|mmap/)
  await commit(store, put('a', '1'), put('b', '2', 3))
  store.close()
  const again = await Store.open(path, { create: false })
  t.equal(value(again, 'a'), '1')
  t.equal(value(again, 'b', 3), '2', 'other databases too')
  again.close()
  await t.rejects(Store.open(`${path}.missing`, { create: false }), { code: 'POOL_FORMAT' })
})

t.test('transactions: tentative reads, commit promise, abort leaves the state', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 1 << 20 })
  const txn = store.begin()
  txn.apply(put('k', 'v1'))
  t.equal(value(store, 'k'), 'v1', 'the transaction reads its own write')
  t.throws(() => store.begin(), 'one writer: a second begin is refused')
  const durable = txn.commit()
  t.equal(store.log.hasUncommitted, true, 'appended, not yet durable')
  await durable
  t.equal(store.log.hasUncommitted, false, 'durable when the promise resolves')
  const records = store.stats().recordsAppended
  const aborted = store.begin()
  aborted.apply(put('k', 'v2'))
  aborted.apply(del('k'))
  t.equal(value(store, 'k'), undefined, 'tentatively deleted')
  aborted.abort()
  t.equal(value(store, 'k'), 'v1', 'abort restores the state')
  t.equal(store.stats().recordsAppended, records, 'abort does no PM I/O')
  const empty = store.begin()
  await empty.commit()
  t.equal(store.stats().recordsAppended, records, 'an empty transaction logs nothing')
  store.close()
  const again = await Store.open(path)
  t.equal(value(again, 'k'), 'v1', 'the aborted writes never reached the pool')
  again.close()
})

t.test('group commit: every commit of one turn shares one commit point', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 1 << 20 })
  const before = store.stats().groupCommits
  const promises: Promise<void>[] = []
  for (let i = 0; i < 50; i++) {
    const txn = store.begin()
    txn.apply(put(`k${i}`, `v${i}`))
    promises.push(txn.commit())
  }
  let resolved = 0
  for (const p of promises) void p.then(() => { resolved++ })
  await Promise.resolve()
  t.equal(resolved, 0, 'nothing is durable within the turn')
  await Promise.all(promises)
  t.equal(store.stats().groupCommits - before, 1, 'one group commit for 50 transactions')
  t.equal(store.stats().transactionsCommitted, 50)
  store.close()
})

/** Commit or report the refusal, synchronously (commit() throws before it returns a promise). */
function tryCommit(store: Store, ...events: Event[]): Promise<void> | StoreError {
  const txn = store.begin()
  for (const e of events) txn.apply(e)
  try {
    return txn.commit()
  } catch (e) {
    if (e instanceof StoreError) return e
    throw e
  }
}

t.test('a full pool: OUT_OF_SPACE applies nothing; deletes, FLUSHALL and compaction work',
  async (t) => {
    const path = poolPath(t)
    const poolBytes = 256 * 1024
    const store = await Store.open(path, { sizeBytes: poolBytes })
    const big = Buffer.alloc(4000, 7)
    let n = 0
    let refusal: StoreError | null = null
    while (refusal === null && n < 1000) {
      const r = tryCommit(store, put(`k${n}`, big))
      if (r instanceof StoreError) refusal = r
      else await r
      n++
    }
    t.equal(refusal?.code, 'OUT_OF_SPACE', `refused after ${n - 1} values of 4000 bytes`)
    const state = canonical(store.keyspace)
    // Two values in and one out: it grows the live data (a swap of one for one may fit).
    const r2 = tryCommit(store, put('extra', big), put('extra2', big), del('k0'))
    t.equal(r2 instanceof StoreError ? r2.code : 'accepted', 'OUT_OF_SPACE', 'refused again')
    t.equal(canonical(store.keyspace), state, 'a refused transaction applies nothing at all')
    const deleted = tryCommit(store, del('k1'))
    t.notOk(deleted instanceof StoreError, 'a delete is accepted in a full pool')
    await deleted
    t.equal(value(store, 'k1'), undefined)
    const flushed = tryCommit(store, flushall())
    t.notOk(flushed instanceof StoreError, 'FLUSHALL is accepted in a full pool')
    await flushed
    t.equal(store.keyspace.keyCount(), 0)
    // Write, delete and rewrite many times the pool's size: checkpoints reclaim the log.
    let written = 0
    for (let round = 0; written < 12 * poolBytes; round++) {
      for (let i = 0; i < 20; i++) {
        const r = tryCommit(store, put(`r${i}`, Buffer.alloc(4000, round & 0xff)))
        if (r instanceof StoreError) throw r
        await r
        written += 4000
      }
      for (let i = 0; i < 20; i += 2) await commit(store, del(`r${i}`))
    }
    const checkpoints = store.stats().checkpointsCompleted
    t.ok(checkpoints > 3, `${checkpoints} checkpoints reclaimed the log`)
    const final = canonical(store.keyspace)
    store.close()
    const again = await Store.open(path)
    t.equal(canonical(again.keyspace), final, 'the reopened pool holds the final state')
    again.close()
  })

t.test('at a full pool a refusal checkpoints once, then refuses at once until a commit frees enough',
  async (t) => {
    const path = poolPath(t)
    const store = await Store.open(path, { sizeBytes: 256 * 1024 })
    const big = Buffer.alloc(4000, 7)
    let refusal: StoreError | null = null
    for (let n = 0; refusal === null && n < 1000; n++) {
      const r = tryCommit(store, put(`k${n}`, big))
      if (r instanceof StoreError) refusal = r
      else await r
    }
    t.equal(refusal?.code, 'OUT_OF_SPACE')
    const before = store.stats().checkpointsCompleted
    for (let i = 0; i < 20; i++) {
      const r = tryCommit(store, put(`x${i}`, big))
      t.equal(r instanceof StoreError ? r.code : 'accepted', 'OUT_OF_SPACE', `refusal ${i}`)
    }
    t.equal(store.stats().checkpointsCompleted, before,
      'no checkpoint for refusals while nothing committed since the futile one')
    // One 4000-byte value deleted cannot make room for 6000 bytes (and their reserve): only a pad
    // or framing difference could, not worth a checkpoint (txn/compaction-memo.ts).
    await commit(store, del('k0'))
    const small = tryCommit(store, put('y', Buffer.alloc(6000, 1)))
    t.equal(small instanceof StoreError ? small.code : 'accepted', 'OUT_OF_SPACE',
      'a delete freeing less than the write needs: refused')
    t.equal(store.stats().checkpointsCompleted, before, '...without a checkpoint')
    await commit(store, del('k1'), del('k2'), del('k3'))
    const r = tryCommit(store, put('y', Buffer.alloc(6000, 1)))
    t.ok(r instanceof StoreError ? store.stats().checkpointsCompleted > before : true,
      'after deletes that could free what is missing, a refusal compacts again (or the write fits)')
    if (!(r instanceof StoreError)) await r
    store.close()
  })

t.test('at a full pool a write too large for any compaction is refused without one', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 256 * 1024, autoCheckpoint: false })
  const big = Buffer.alloc(4000, 7)
  let refusal: StoreError | null = null
  for (let n = 0; refusal === null && n < 1000; n++) {
    const r = tryCommit(store, put(`k${n}`, big))
    if (r instanceof StoreError) refusal = r
    else await r
  }
  t.equal(refusal?.code, 'OUT_OF_SPACE', 'full (the refusal ran a compaction)')
  await commit(store, del('k0'), del('k1'), del('k2'))
  const before = store.stats().checkpointsCompleted
  for (let i = 0; i < 10; i++) {
    await commit(store, put('counter', String(i)))
    const r = tryCommit(store, put(`huge${i}`, Buffer.alloc(80_000, 1)))
    t.equal(r instanceof StoreError ? r.code : 'accepted', 'OUT_OF_SPACE', `refusal ${i}`)
  }
  t.equal(store.stats().checkpointsCompleted, before,
    'small commits between the refusals: no compaction (it could not free 80 KB)')
  const state = canonical(store.keyspace)
  t.ok(store.checkpointNow(), 'a compaction now...')
  const r = tryCommit(store, put('huge', Buffer.alloc(80_000, 1)))
  t.equal(r instanceof StoreError ? r.code : 'accepted', 'OUT_OF_SPACE',
    '...does not make it fit either: the refusals were what compacting gives')
  t.equal(canonical(store.keyspace), state, 'nothing of them applied')
  await commit(store, del('k3'), del('k4'), del('k5'), del('k6'))
  const fits = tryCommit(store, put('medium', big))
  t.notOk(fits instanceof StoreError, 'after deletes a write that fits is accepted')
  if (!(fits instanceof StoreError)) await fits
  store.close()
})

t.test('checkpointNow compacts the log; reload rebuilds the keyspace from the pool', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 1 << 20, autoCheckpoint: false })
  for (let i = 0; i < 200; i++) await commit(store, put(`k${i % 10}`, `v${i}`))
  const used = store.stats().logUsedBytes
  t.ok(store.checkpointNow(), 'the checkpoint completed')
  t.ok(store.stats().logUsedBytes < used / 4, `log ${used} -> ${store.stats().logUsedBytes} bytes`)
  t.equal(store.stats().checkpointsCompleted, 1)
  const state = canonical(store.keyspace)
  const txn = store.begin()
  txn.apply(put('pending', 'x'))
  txn.commitNoWait()
  const before = store.keyspace
  store.reload()
  t.not(store.keyspace, before, 'a new keyspace')
  t.equal(value(store, 'pending'), 'x', 'reload commits first')
  t.equal(canonical(store.keyspace), canonical(before), 'and rebuilds the same state')
  const final = canonical(store.keyspace)
  t.not(final, state, 'the pending transaction is part of it')
  store.close()
  const again = await Store.open(path)
  t.equal(canonical(again.keyspace), final, 'reopened after a checkpoint and more commits')
  t.equal(value(again, 'k9'), 'v199')
  again.close()
})

t.test('corruption in the committed log: open refuses, naming the place', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 1 << 20 })
  await commit(store, put('a', 'hello'))
  store.close()
  const at = LOG_OFFSET + 32 + 20 // inside the first transaction record (after the creation one)
  const fd = openSync(path, 'r+')
  const b = Buffer.alloc(1)
  readSync(fd, b, 0, 1, at)
  b[0] = (b[0] as number) ^ 0x10
  writeSync(fd, b, 0, 1, at)
  closeSync(fd)
  const err = await Store.open(path).then(() => null, (e: unknown) => e)
  t.ok(err instanceof StoreError, 'a StoreError')
  t.equal((err as StoreError).code, 'CORRUPTION')
  t.equal((err as StoreError).offset, LOG_OFFSET + 32, 'at the damaged record')
  t.match((err as StoreError).message, /checksum/)
})

t.test('WATCH follows the keyspace the store holds across reloads (the observer moves)', async (t) => {
  const path = poolPath(t)
  const store = await Store.open(path, { sizeBytes: 1 << 20 })
  t.teardown(() => store.close())
  const index = new WatchIndex(() => 1000)
  store.observe(index)
  const watcher = (): Watcher => ({ watchDirty: false, watched: new Map() })
  await commit(store, put('first', '1'))
  const first = store.keyspace
  store.reload()
  t.not(store.keyspace, first, 'a reload installs a new keyspace')
  t.equal(store.keyspace.observer, index, 'the observer moved to it')
  t.equal(first.observer, null, 'and left the old one (which nothing may keep alive)')
  // A key only in the new keyspace's db 2, swapped into db 0 under a watcher: judged against
  // the keyspace the store holds now (the old hooks read the first keyspace: EXEC ran).
  await commit(store, put('k', 'v', 2))
  const a = watcher()
  index.watch(a, store.keyspace, 0, 'k')
  await commit(store, { code: EV_SWAPDB, a: 0, b: 2 } as Event)
  t.ok(a.watchDirty, 'SWAPDB after a reload brings the watched key in')
  // A reload empties every database first (Redis's DEBUG RELOAD): a watched key that existed
  // makes EXEC fail; a missing one does not.
  const b = watcher()
  const c = watcher()
  index.watch(b, store.keyspace, 0, 'k')
  index.watch(c, store.keyspace, 0, 'missing')
  store.reload()
  t.ok(b.watchDirty, 'a reload touches the keys it empties')
  t.notOk(c.watchDirty, 'but not a key in neither keyspace')
  t.equal(index.size, 1, 'only the untouched watcher still watches')
})

t.test('a database number out of range is corruption named by offset and LSN, not db 0', async (t) => {
  const bad = [put('k', 'v', 16)]
  // Encoded by each event type's own encoder: encodeEvents under VERIFY (npm test) refuses to
  // write an event that does not decode, which is what this record must be.
  const encodeBad = (w: ByteWriter): void => {
    w.varuint(bad.length)
    for (const e of bad) { w.u8(e.code); eventType(e.code).encode(w, e) }
  }
  const record = (store: Store): number => {
    const w = store.log.begin()
    encodeBad(w)
    const lsn = store.log.append(REC_TXN)
    store.log.commit()
    return lsn
  }
  const w = new ByteWriter(64)
  encodeBad(w)
  const bytes = Buffer.from(w.view())
  t.throws(() => decodeEvents(bytes, 0, bytes.length), DecodeError, 'decode refuses it')
  for (const deferIndex of [true, false]) {
    const path = poolPath(t)
    const store = await Store.open(path, { sizeBytes: 1 << 20, autoCheckpoint: false })
    await commit(store, put('good', '1'))
    const lsn = record(store)
    const reloadErr = (() => { try { store.reload() } catch (e) { return e } return null })()
    t.match(reloadErr, { code: 'CORRUPTION', lsn }, 'DEBUG RELOAD reports it with its place')
    store.close()
    const err = await Store.open(path, { deferIndex }).then(() => null, (e: unknown) => e)
    t.ok(err instanceof StoreError, `deferIndex ${deferIndex}: refused at open`)
    t.equal((err as StoreError).code, 'CORRUPTION')
    t.equal((err as StoreError).lsn, lsn, 'names the record\'s LSN')
    t.equal((err as StoreError).offset, LOG_OFFSET + (lsn % store.log.ringBytes), 'and its offset')
    t.match((err as StoreError).message, /database number 16 out of range/)
  }
})

t.test('a big value: its record is written whole, and the log keeps no big scratch after it',
  async (t) => {
    const path = poolPath(t)
    const store = await Store.open(path, { sizeBytes: 64 << 20, autoCheckpoint: false })
    const big = Buffer.alloc(5 << 20)
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff
    const w = new ByteWriter(64 * 1024)
    w.bytes(big)
    t.ok(w.buf.length < big.length + (256 << 10),
      `a 5 MiB value grows the writer to its size (${w.buf.length}), not to a power of two`)
    t.ok(w.buf.subarray(w.length - big.length, w.length).equals(big), 'and holds it')
    await commit(store, put('big', big), put('small', 'x'))
    t.ok(store.log.writer.buf.length <= 64 * 1024,
      `the log's scratch gave its memory back (${store.log.writer.buf.length} bytes)`)
    await commit(store, put('after', 'y'))
    store.close()
    const again = await Store.open(path, { create: false })
    t.ok(again.keyspace.get(0, 'big')?.value instanceof Buffer &&
      (again.keyspace.get(0, 'big')?.value as Buffer).equals(big), 'the big value reopens intact')
    t.equal(value(again, 'small'), 'x')
    t.equal(value(again, 'after'), 'y')
    again.close()
  })
