// Verify before apply (state/keyspace.ts; DESIGN rule 5, issue 12): the deferred index applies a
// pending whole-key write from the pool's bytes after startup, so damage that lands after
// recovery verified the record must be caught then. Checked on a real pool file (the native
// mapping, whose views the pending events hold): a byte of a checkpoint chunk's value changed
// under an open Store; every key either answers its exact value or throws CORRUPTION naming the
// damaged record's pool offset and lsn (never other data); keys the damaged record wrote but a
// later record overwrote are served; a checkpoint is refused while keys are marked (it would drop
// them silently); FLUSHDB clears the marks. Without damage nothing is marked.
// Invariants: pools on /dev/shm (or the temp dir), removed at teardown; the expected values are
// the test's own, never read back from the code under test.

import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StoreError } from '../../src/errors.js'
import { KeyMap } from '../../src/state/keyspace.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { openNativeRegion } from '../../src/storage/pm-region.js'
import { Store } from '../../src/txn/engine.js'
import { put } from '../sim/workload.js'

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-verify-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const KEYS = 40
const valueOf = (k: number, round: number): Buffer =>
  Buffer.from(`value-of-k${k}-round-${round}-${'x'.repeat(k)}`)

/** A pool whose checkpoint holds k0..k39 (round 0) and whose later log overwrites k3 and k30. */
async function buildPool(path: string): Promise<Map<string, Buffer>> {
  const store = await Store.open(path, { sizeBytes: 1024 * 1024, groupCommit: 'manual',
    autoCheckpoint: false })
  const expected = new Map<string, Buffer>()
  for (let k = 0; k < KEYS; k++) {
    const txn = store.begin()
    txn.apply(put(0, `k${k}`, valueOf(k, 0)))
    txn.commitNoWait()
    expected.set(`k${k}`, valueOf(k, 0))
  }
  store.flush()
  t.ok(store.checkpointNow(), 'checkpoint written')
  for (const k of [3, 30]) {
    const txn = store.begin()
    txn.apply(put(0, `k${k}`, valueOf(k, 1)))
    txn.commitNoWait()
    expected.set(`k${k}`, valueOf(k, 1))
  }
  store.flush()
  store.close()
  return expected
}

/** Change one byte of every copy of `needle` in the region's log (the live one among them). */
function damage(region: ReturnType<typeof openNativeRegion>, needle: Buffer): number {
  const bytes = region.read(LOG_OFFSET, region.sizeBytes - LOG_OFFSET)
  let n = 0
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + 1)) {
    const offset = LOG_OFFSET + at + needle.length - 1
    region.write(offset, Buffer.from([(bytes[at + needle.length - 1] as number) ^ 0x20]), 'blanket')
    n++
  }
  return n
}

type Outcome = { kind: 'value'; value: Buffer } | { kind: 'corrupt'; error: StoreError }

function lookup(store: Store, key: string): Outcome {
  try {
    const e = store.keyspace.get(0, key)
    return { kind: 'value', value: e === undefined ? Buffer.alloc(0) : e.value as Buffer }
  } catch (e) {
    if (e instanceof StoreError && e.code === 'CORRUPTION') return { kind: 'corrupt', error: e }
    throw e
  }
}

t.test('a value damaged after startup: its key answers CORRUPTION, never other data', async (t) => {
  const path = join(dir, 'damaged.pool')
  const expected = await buildPool(path)
  const region = openNativeRegion(path)
  const store = Store.openRegionSync(region, { groupCommit: 'manual', autoCheckpoint: false })
  t.teardown(() => store.close())
  t.ok(store.keyspace.pendingEvents > 0, 'the checkpoint\'s writes are pending (deferred index)')
  t.ok(damage(region, valueOf(7, 0)) >= 1, 'a byte of k7\'s value changed in the pool')
  const k7 = lookup(store, 'k7')
  t.equal(k7.kind, 'corrupt', 'k7 answers a corruption error')
  const place = k7.kind === 'corrupt' ? k7.error : null
  t.ok(place !== null && Number.isInteger(place.offset) && (place.offset as number) >= LOG_OFFSET &&
    Number.isInteger(place.lsn), 'naming the pool offset and lsn of the damaged record')
  t.match(place?.detail ?? '', /record checksum mismatch/, 'and why')
  let served = 0
  let refused = 0
  for (const [key, value] of expected) {
    const got = lookup(store, key)
    if (got.kind === 'value') {
      t.same(got.value, value, `${key}: the exact value`)
      served++
    } else {
      t.equal(got.error.offset, place?.offset, `${key}: the same damaged record`)
      refused++
    }
  }
  t.equal(lookup(store, 'k3').kind, 'value', 'k3, overwritten by a later record, is served')
  t.equal(lookup(store, 'k30').kind, 'value', 'so is k30')
  t.ok(served >= 2 && refused >= 1, `${served} keys served, ${refused} refused`)
  t.equal(store.keyspace.corruptKeyCount, refused, 'each refused key is counted')
  t.notOk(store.checkpointNow(), 'no checkpoint while keys are marked (it would drop them)')
  store.keyspace.replaceDb(0, new KeyMap())
  t.equal(store.keyspace.corruptKeyCount, 0, 'FLUSHDB clears the marks')
  t.ok(store.checkpointNow(), 'and checkpoints run again')
})

t.test('without damage every pending write applies and nothing is marked', async (t) => {
  const path = join(dir, 'clean.pool')
  const expected = await buildPool(path)
  const store = Store.openRegionSync(openNativeRegion(path), { groupCommit: 'manual',
    autoCheckpoint: false })
  t.teardown(() => store.close())
  for (const [key, value] of expected) t.same(lookup(store, key), { kind: 'value', value }, key)
  t.equal(store.keyspace.corruptKeyCount, 0, 'no key marked')
})
