// Function libraries as engine state (src/state/function-events.ts): FUNCTION_PUT / DEL / FLUSH
// apply and undo exactly, survive a reopen (log replay) and a checkpoint (the first chunk carries
// every library), count toward liveBytes, and appear in the canonical state the crash tests use.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { canonical } from '../../src/state/canonical.js'
import { EV_PUT } from '../../src/state/core-events.js'
import type { Event } from '../../src/state/event.js'
import { applyEvent } from '../../src/state/event.js'
import { EV_FUNCTION_DEL, EV_FUNCTION_FLUSH, EV_FUNCTION_PUT } from '../../src/state/function-events.js'
import { Keyspace } from '../../src/state/keyspace.js'
import { Store } from '../../src/txn/engine.js'

const lib = (name: string, code: string): Event =>
  ({ code: EV_FUNCTION_PUT, name, payload: Buffer.from(`#!lua name=${name}\n${code}`) } as Event)
const del = (name: string): Event => ({ code: EV_FUNCTION_DEL, name } as Event)
const flush = (): Event => ({ code: EV_FUNCTION_FLUSH })

function names(ks: Keyspace): string[] {
  return [...ks.functionLibraries.keys()].sort()
}

t.test('apply and undo are exact; liveBytes follows', async (t) => {
  const ks = new Keyspace()
  const u1 = applyEvent(ks, lib('a', 'x'))
  const u2 = applyEvent(ks, lib('b', 'y'))
  const bytes = ks.liveBytes
  t.ok(bytes > 0)
  const before = canonical(ks)
  t.match(before, /function 61 /, 'the canonical form lists libraries')
  const u3 = applyEvent(ks, lib('a', 'replaced'))
  t.equal(ks.functionLibraries.get('a')?.toString(), '#!lua name=a\nreplaced')
  u3?.()
  t.equal(canonical(ks), before, 'undo of a replace restores the old code')
  t.equal(applyEvent(ks, del('nosuch')), null, 'deleting a missing library changes nothing')
  const u4 = applyEvent(ks, flush())
  t.same(names(ks), [])
  t.equal(ks.liveBytes, 0)
  u4?.()
  t.same(names(ks), ['a', 'b'])
  t.equal(ks.liveBytes, bytes)
  u2?.(); u1?.()
  t.same(names(ks), [])
  t.equal(ks.liveBytes, 0)
})

t.test('libraries survive reopen and checkpoints; FLUSHALL leaves them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-fn-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'pool')
  let store = await Store.open(path, { sizeBytes: 1 << 20 })
  const commit = async (...events: Event[]): Promise<void> => {
    const txn = store.begin()
    for (const e of events) txn.apply(e)
    await txn.commit()
  }
  await commit(lib('a', 'one'), lib('b', 'two'), { code: EV_PUT, db: 0, key: 'k',
    value: Buffer.from('v'), expireAtMs: 0 } as Event)
  await commit(del('b'), lib('c', 'three'))
  await commit({ code: 5 } as Event) // FLUSHALL: keys only
  const expected = canonical(store.keyspace)
  t.same(names(store.keyspace), ['a', 'c'])
  store.close()
  store = await Store.open(path, { create: false })
  t.equal(canonical(store.keyspace), expected, 'replay rebuilds the libraries')
  t.ok(store.checkpointNow(), 'a checkpoint completes')
  await commit(lib('d', 'four'))
  store.close()
  store = await Store.open(path, { create: false })
  t.same(names(store.keyspace), ['a', 'c', 'd'], 'checkpoint + log after it')
  // Fill the log past the ring so that the head moves beyond the libraries' own records.
  for (let i = 0; i < 3; i++) t.ok(store.checkpointNow())
  await commit(flush(), lib('e', 'five'))
  t.ok(store.checkpointNow())
  store.close()
  store = await Store.open(path, { create: false })
  t.same(names(store.keyspace), ['e'])
  t.equal(store.keyspace.functionLibraries.get('e')?.toString(), '#!lua name=e\nfive')
  store.close()
})
