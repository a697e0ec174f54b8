// While a large pool is recovered the server already listens: data commands (and PING, which
// Redis 7.0.15 does not flag `loading`) get Redis's -LOADING error, INFO answers with loading:1
// and the progress, and once recovery ends every key is served.

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EV_PUT, type PutEvent } from '../../src/state/core-events.js'
import { Store } from '../../src/txn/engine.js'
import { RawClient, startCapykv } from '../helpers/servers.js'

const RECORDS = 600_000
const LOADING = '-LOADING Redis is loading the dataset in memory\r\n'

/** A pool whose log holds RECORDS transactions and no checkpoint after them: a long replay. */
async function makeBigPool(path: string): Promise<void> {
  const store = await Store.open(path, {
    sizeBytes: 512 * 1024 * 1024, autoCheckpoint: false, groupCommit: 'manual',
  })
  for (let i = 0; i < RECORDS; i++) {
    const txn = store.begin()
    const e: PutEvent = {
      code: EV_PUT, db: 0, key: `key:${i}`, value: Buffer.from(`value:${i}`), expireAtMs: 0,
    }
    txn.apply(e)
    txn.commitNoWait()
    if (i % 10_000 === 9_999) store.flush()
  }
  store.flush()
  store.close()
}

t.test('-LOADING while the pool is recovered; INFO answers with progress', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-loading-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await makeBigPool(join(dir, 'capykv.pool'))
  const server = await startCapykv({ dir, waitFor: 'listening', timeoutMs: 60_000 })
  t.teardown(() => server.stop())
  const raw = await RawClient.connect(server.port)
  t.teardown(() => raw.close())
  const first = await raw.command(['GET', 'key:1'], 20)
  if (first !== LOADING) {
    t.fail(`recovery ended before the first request (${JSON.stringify(first)}): ` +
      'raise RECORDS so that recovery lasts long enough to be observed')
  } else {
    t.pass('GET answers -LOADING')
    t.equal(await raw.command(['PING'], 20), LOADING, 'PING too, as Redis 7.0.15')
    const info = await raw.command(['INFO', 'persistence'], 20)
    t.match(info, /loading:1\r\n/)
    t.match(info, /loading_loaded_perc:\d+\.\d\d\r\n/)
    t.match(info, /loading_total_bytes:\d+\r\n/)
    t.match(await raw.command(['CONFIG', 'GET', 'port'], 20), /^\*2\r\n\$4\r\nport\r\n/,
      'CONFIG answers while loading')
    t.equal(await raw.command(['MULTI'], 20), '+OK\r\n')
    t.equal(await raw.command(['SET', 'x', '1'], 20), LOADING)
    const exec = await raw.command(['EXEC'], 20)
    t.ok(exec === '-EXECABORT Transaction discarded because of previous errors.\r\n', exec)
  }
  let value = ''
  for (let i = 0; i < 600; i++) {
    value = await raw.command(['GET', 'key:1'], 20)
    if (value !== LOADING) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(value, '$7\r\nvalue:1\r\n', 'served once recovered')
  // DBSIZE waits for the deferred index to cover every key (seconds on a loaded machine), so its
  // reply gets a bound of 60 s rather than the helper's default 5 s.
  t.equal(await raw.command(['DBSIZE'], 100, 60_000), `:${RECORDS}\r\n`)
  t.match(await raw.command(['INFO', 'persistence']), /loading:0\r\n/)
  t.match(server.log(), /DB loaded from disk: [0-9.]+ seconds/)
  t.match(server.log(), /Ready to accept connections tcp/)
})
