// The shared transaction and its undo log (issue 15 stage 2: the request path allocates no
// Transaction and no undo closure): Store.beginShared hands out one object again and again;
// after a commit, an abort or a refused commit the next use starts empty; abort undoes PUTs
// and DELs recorded as data together with closure-undone events (EXPIRE, FLUSHDB) in reverse
// order, exactly (the canonical state and liveBytes as before); `events` is exactly the events
// of the current transaction even when the reused slots held more. On a pool in /dev/shm.

import { existsSync, rmSync } from 'node:fs'
import t from 'tap'
import { canonical } from '../../src/state/canonical.js'
import { delEv, expireEv, flushDbEv, putEv } from '../../src/state/core-events.js'
import { Store } from '../../src/txn/engine.js'

const dir = existsSync('/dev/shm') ? '/dev/shm' : '/tmp'
let counter = 0
async function openStore(t: { teardown: (fn: () => void) => void }, sizeBytes = 1 << 20):
  Promise<Store> {
  const path = `${dir}/capykv-txn-test-${process.pid}-${counter++}.pool`
  rmSync(path, { force: true })
  const store = await Store.open(path, { sizeBytes, groupCommit: 'manual', autoCheckpoint: false })
  t.teardown(() => {
    store.close()
    rmSync(path, { force: true })
  })
  return store
}

const b = (s: string): Buffer => Buffer.from(s)

function valueOf(store: Store, key: string, db = 0): string | undefined {
  const e = store.keyspace.get(db, key)
  return e === undefined ? undefined : (e.value as Buffer).toString()
}

t.test('beginShared returns one object; each use starts with no events', async (t) => {
  const store = await openStore(t)
  const first = store.beginShared()
  first.apply(putEv(0, 'a', b('1'), 0))
  first.apply(putEv(0, 'b', b('2'), 0))
  t.equal(first.eventCount, 2)
  first.commitNoWait()
  const second = store.beginShared()
  t.equal(second, first, 'the same object')
  t.equal(second.eventCount, 0, 'no events carried over')
  t.same(second.events, [], 'events is empty although the slots hold two')
  second.apply(delEv(0, 'a'))
  t.equal(second.events.length, 1, 'events has exactly the current transaction\'s events')
  t.equal(second.eventAt(0).code, delEv(0, 'a').code)
  second.commitNoWait()
  store.flush()
  t.equal(valueOf(store, 'a'), undefined)
  t.equal(valueOf(store, 'b'), '2')
  t.throws(() => second.apply(putEv(0, 'c', b('3'), 0)), 'a closed transaction refuses events')
})

t.test('abort undoes data records and closures in reverse order, exactly', async (t) => {
  const store = await openStore(t)
  const setup = store.beginShared()
  setup.apply(putEv(0, 'k', b('old'), 0))
  setup.apply(putEv(0, 'gone', b('x'), 0))
  setup.apply(putEv(1, 'other', b('y'), 5000))
  setup.commitNoWait()
  store.flush()
  const before = canonical(store.keyspace)
  const liveBefore = store.keyspace.liveBytes
  const txn = store.beginShared()
  txn.apply(putEv(0, 'k', b('new'), 0)) // overwrite: undone by putting 'old' back
  txn.apply(putEv(0, 'fresh', b('1'), 0)) // insert: undone by a delete
  txn.apply(delEv(0, 'gone')) // delete: undone by putting it back
  txn.apply(expireEv(1, 'other', 9000)) // a closure undo between data records
  txn.apply(putEv(0, 'k', b('newer'), 0)) // the same key twice
  txn.apply(flushDbEv(1)) // a closure that replaces a database
  txn.apply(putEv(1, 'other', b('z'), 0)) // into the replaced database
  t.equal(valueOf(store, 'k'), 'newer')
  t.equal(valueOf(store, 'other', 1), 'z')
  txn.abort()
  t.same(canonical(store.keyspace), before, 'the state as before the transaction')
  t.equal(store.keyspace.liveBytes, liveBefore, 'liveBytes as before')
  t.equal(store.keyspace.get(1, 'other')?.expireAtMs, 5000, 'the expiry as before')
  const next = store.beginShared()
  t.equal(next.eventCount, 0, 'the next use starts empty')
  next.abort()
  t.same(canonical(store.keyspace), before, 'an empty abort changes nothing')
})

t.test('a refused commit undoes everything and leaves the shared transaction reusable',
  async (t) => {
    const store = await openStore(t, 256 * 1024)
    const setup = store.beginShared()
    setup.apply(putEv(0, 'keep', b('v'), 0))
    setup.commitNoWait()
    store.flush()
    const before = canonical(store.keyspace)
    const txn = store.beginShared()
    txn.apply(putEv(0, 'keep', b('w'), 0))
    txn.apply(putEv(0, 'huge', Buffer.alloc(200 * 1024, 1), 0))
    t.throws(() => txn.commitNoWait(), { code: 'OUT_OF_SPACE' }, 'the pool refuses it')
    t.same(canonical(store.keyspace), before, 'nothing of it applied')
    const next = store.beginShared()
    t.equal(next, txn, 'the same object again')
    t.equal(next.eventCount, 0, 'with no events')
    next.apply(putEv(0, 'small', b('s'), 0))
    next.commitNoWait()
    store.flush()
    t.equal(valueOf(store, 'small'), 's')
    t.equal(valueOf(store, 'keep'), 'v')
  })

// Issue 13: a script's attempt on the main thread (commands/script-fast.ts) is rolled back to a
// savepoint when it runs past its budget; what the transaction did before it stays.
t.test('rollbackTo a savepoint undoes only what came after it, exactly', async (t) => {
  const store = await openStore(t)
  const setup = store.beginShared()
  setup.apply(putEv(0, 'k', b('old'), 0))
  setup.apply(putEv(0, 'other', b('x'), 0))
  setup.commitNoWait()
  const txn = store.beginShared()
  txn.put(0, 'before', b('1'), 0)
  const afterFirst = canonical(store.keyspace)
  const sp = txn.savepoint()
  txn.put(0, 'k', b('new'), 0)
  txn.apply(delEv(0, 'other'))
  txn.apply(expireEv(0, 'before', 4_000_000_000_000))
  txn.apply(flushDbEv(0))
  txn.put(0, 'late', b('2'), 0)
  t.equal(txn.eventCount, 6)
  txn.rollbackTo(sp)
  t.equal(txn.eventCount, 1, 'the event before the savepoint stays')
  t.same(canonical(store.keyspace), afterFirst, 'the keyspace is as at the savepoint')
  txn.put(0, 'again', b('3'), 0)
  t.equal(txn.eventCount, 2, 'the transaction goes on after the rollback')
  txn.commitNoWait()
  store.flush()
  t.equal(valueOf(store, 'before'), '1')
  t.equal(valueOf(store, 'again'), '3')
  t.equal(valueOf(store, 'k'), 'old')
  t.equal(valueOf(store, 'other'), 'x')
  t.equal(valueOf(store, 'late'), undefined)
  const empty = store.beginShared()
  const sp0 = empty.savepoint()
  empty.put(0, 'z', b('z'), 0)
  empty.rollbackTo(sp0)
  t.equal(empty.eventCount, 0, 'a savepoint at begin undoes everything')
  t.equal(valueOf(store, 'z'), undefined)
  empty.commitNoWait()
})
