// Per-key -CORRUPT end to end (DESIGN rule 5, issue 12 item 7): a key whose pool bytes fail
// verification after startup answers one error naming the damage, through the server's request
// path (dispatch, MULTI/EXEC, INFO), while every other key is served.
// How the damage reaches a key today: startup verifies every record, then files whole-key string
// writes in the deferred index (state/keyspace.ts); a pending write is applied from the pool's
// bytes on the first access to its shard (or by the background indexer) and its record is
// verified again then. So the test changes a byte of one key's value in the mapped pool right
// after the store opened, before anything applied it. Once applied, a string value lives in DRAM
// (the KeyTable) and is never read from the pool again: damage after that is the scrub's to find
// (test/process/scrub.test.ts), not a reader's.
// Checked: GET of the damaged key -> `-CORRUPT … at pool offset N (lsn L)` naming the record;
// every other key -> its exact value (the test's own values); a MULTI/EXEC touching it is refused
// whole (its other write not applied); INFO counts the key and the events; a write to the key is
// refused too (no silent overwrite of data we could not read); the scrub's log line says the
// damage cannot be healed while the key is marked; FLUSHDB clears the mark.
// Invariants: the server runs in-process on a free port bound to 127.0.0.1; the pool lives in a
// temp dir (on /dev/shm when there is one) removed at teardown. Takes about a second.

import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCommandTable } from '../../src/commands/table.js'
import { CapykvServer } from '../../src/server.js'
import { ServerConfig } from '../../src/server-config.js'
import { logger } from '../../src/server-log.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { openNativeRegion } from '../../src/storage/pm-region.js'
import { Store } from '../../src/txn/engine.js'
import { put } from '../sim/workload.js'
import { RawClient } from '../helpers/servers.js'

const KEYS = 30
const valueOf = (k: number, round: number): string => `value-of-k${k}-round-${round}-${'y'.repeat(k)}`
const DAMAGED = 7

/** k0..k29 in a checkpoint, then k7 and k20 rewritten by a transaction of their own each. */
async function buildPool(path: string): Promise<Map<string, string>> {
  const store = await Store.open(path, { sizeBytes: 1024 * 1024, groupCommit: 'manual',
    autoCheckpoint: false })
  const expected = new Map<string, string>()
  const write = (k: number, round: number): void => {
    const txn = store.begin()
    txn.apply(put(0, `k${k}`, Buffer.from(valueOf(k, round))))
    txn.commitNoWait()
    store.flush()
    expected.set(`k${k}`, valueOf(k, round))
  }
  for (let k = 0; k < KEYS; k++) write(k, 0)
  t.ok(store.checkpointNow(), 'checkpoint written')
  write(DAMAGED, 1)
  write(20, 1)
  store.close()
  return expected
}

const bulk = (s: string): string => `$${s.length}\r\n${s}\r\n`

t.test('a damaged value answers -CORRUPT for its key alone, through the server', async (t) => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-corrupt-'))
  const path = join(dir, 'capykv.pool')
  const expected = await buildPool(path)
  const region = openNativeRegion(path)
  const store = Store.openRegionSync(region)
  t.ok(store.keyspace.pendingEvents > 0, 'the writes are pending in the deferred index')
  // The byte, changed before any slice of the background indexer ran (it runs on setImmediate).
  const needle = Buffer.from(valueOf(DAMAGED, 1))
  const bytes = region.read(LOG_OFFSET, region.sizeBytes - LOG_OFFSET)
  const at = bytes.indexOf(needle)
  t.ok(at >= 0 && bytes.indexOf(needle, at + 1) < 0, 'k7\'s value is in the pool once')
  const offset = LOG_OFFSET + at + 3
  region.write(offset, Buffer.from([(bytes[at + 3] as number) ^ 0x01]), 'blanket')

  // The server's log lines (logger writes to stdout), kept for the scrub's line below.
  const logged: string[] = []
  const write = process.stdout.write.bind(process.stdout)
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]): boolean => {
    if (typeof chunk === 'string' && chunk.includes('Pool scrub:')) logged.push(chunk)
    return write(chunk, ...rest)
  }) as typeof process.stdout.write
  t.teardown(() => { process.stdout.write = write })
  const config = new ServerConfig()
  config.setAtStartup('port', ['0'])
  logger.level = 'warning'
  const server = new CapykvServer({ config, table: await loadCommandTable(), poolPath: path })
  server.onExit = () => {}
  await server.listen()
  server.attachStore(store)
  const c = await RawClient.connect(server.boundPort)
  t.teardown(async () => {
    c.close()
    server.requestShutdown(false, 'test over')
    await new Promise((r) => setTimeout(r, 100))
    rmSync(dir, { recursive: true, force: true })
  })

  const got = await c.command(['GET', `k${DAMAGED}`])
  const m = /^-CORRUPT log record holding this key's value: record checksum mismatch at pool offset (\d+) \(lsn (\d+)\)\r\n$/
    .exec(got)
  t.ok(m !== null, `GET k7: one error naming the damage (${JSON.stringify(got)})`)
  const recordOffset = Number(m?.[1])
  t.ok(recordOffset >= LOG_OFFSET && recordOffset < offset && offset - recordOffset < 128,
    'the offset of the record holding the changed byte')
  for (const [key, value] of expected) {
    if (key === `k${DAMAGED}`) continue
    t.equal(await c.command(['GET', key]), bulk(value), `${key}: its exact value`)
  }
  t.equal(await c.command(['GET', `k${DAMAGED}`]), got, 'asked again: the same error')

  // A transaction that reads the key is refused whole: its SET does not apply.
  const before = await c.command(['GET', 'k1'])
  t.equal(await c.command(['MULTI']), '+OK\r\n')
  t.equal(await c.command(['SET', 'k1', 'changed']), '+QUEUED\r\n')
  t.equal(await c.command(['GET', `k${DAMAGED}`]), '+QUEUED\r\n')
  const exec = await c.command(['EXEC'])
  t.match(exec, /^-EXECABORT Transaction discarded because of: CORRUPT log record holding this key's value: .* at pool offset \d+ \(lsn \d+\)\r\n$/,
    `EXEC refused whole, naming the corruption (${JSON.stringify(exec)})`)
  t.equal(await c.command(['GET', 'k1']), before, 'the transaction\'s SET was not applied')

  // A write to the damaged key is refused too: data we could not read is not silently replaced.
  t.match(await c.command(['SET', `k${DAMAGED}`, 'new']), /^-CORRUPT /, 'SET of the key: refused')

  // The scrub finds the damaged record too (it waits for the deferred index, so the key is
  // marked by then): its log line must not call the state in memory intact.
  let scrubbed = ''
  for (let i = 0; i < 200 && !/scrub_corruption_found:[1-9]/.test(scrubbed); i++) {
    await new Promise((r) => setTimeout(r, 50))
    scrubbed = await c.command(['INFO', 'persistence'])
  }
  t.match(scrubbed, /scrub_corruption_found:1\r\n/, 'the scrub found the damaged record')
  const line = logged.find((l) => l.includes('Pool scrub: damaged')) ?? ''
  t.match(line, /1 keys answer -CORRUPT .*stays unhealed until FLUSHDB\/FLUSHALL/,
    'its log line says the damage cannot be healed while the key is marked')
  t.notMatch(line, /intact/)
  const info = await c.command(['INFO', 'persistence'])
  t.match(info, /pool_corrupt_keys:1\r\n/, 'INFO counts the one damaged key')
  t.match(info, /pool_corruption_events:4\r\n/, 'and each refusal: two GETs, the EXEC, the SET')

  t.equal(await c.command(['FLUSHDB']), '+OK\r\n', 'FLUSHDB (clears the mark)')
  t.equal(await c.command(['SET', `k${DAMAGED}`, 'new']), '+OK\r\n', 'the key is writable again')
  t.equal(await c.command(['GET', `k${DAMAGED}`]), bulk('new'))
  t.match(await c.command(['INFO', 'persistence']), /pool_corrupt_keys:0\r\n/)
})
