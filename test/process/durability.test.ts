// Durability edges of the pool file (src/storage/durability.ts), on real files and processes:
// - a power cut between creating the pool and renaming it: a leftover POOL.creating holding a
//   complete pool (here the real pool, with data) is renamed into place, never deleted, by the
//   library and by the server; one with no verifying header (blocks allocated, formatting cut
//   off: zeros, or a torn header) is deleted and a fresh pool made;
// - a failed flush: the server, with CAPYKV_TEST_FAIL_COMMIT=3 (the third group commit's msync
//   "fails" after its pages reached the page cache), stops without acknowledging that write and
//   leaves POOL.flush-failed; a start on the same boot refuses, naming the marker; a start after
//   a "reboot" (CAPYKV_TEST_BOOT_ID) verifies the pool, serves every acknowledged write and
//   removes the marker;
// - PMEM_IS_PMEM_FORCE=1 on a disk-backed pool is warned about in the log and INFO; on tmpfs not.
// Invariants: servers on free ports bound to 127.0.0.1, killed by their own pid; every directory
// made here is removed at teardown.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import {
  existsSync, mkdtempSync, openSync, closeSync, renameSync, rmSync, writeSync, ftruncateSync,
  statfsSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { canonical } from '../../src/state/canonical.js'
import { flushMarkerPath } from '../../src/storage/durability.js'
import { nativeInfo } from '../../src/storage/native.js'
import { Store } from '../../src/txn/engine.js'
import { PROJECT_ROOT, SERVER_MAIN, freePort, startCapykv } from '../helpers/servers.js'
import { EV_PUT } from '../../src/state/core-events.js'
import type { Event } from '../../src/state/event.js'

const dirs: string[] = []
const tempDir = (base: string): string => {
  const d = mkdtempSync(join(base, 'capykv-durability-'))
  dirs.push(d)
  return d
}
t.teardown(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
const SHM = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
const POOL_BYTES = 4 * 1024 * 1024

const put = (key: string, value: string): Event =>
  ({ code: EV_PUT, db: 0, key, value: Buffer.from(value), expireAtMs: 0 } as Event)

async function poolWith(path: string, keys: number): Promise<string> {
  const store = await Store.open(path, { sizeBytes: POOL_BYTES, groupCommit: 'manual' })
  for (let i = 0; i < keys; i++) {
    const txn = store.begin()
    txn.apply(put(`k${i}`, `v${i}`))
    txn.commitNoWait()
    store.flush()
  }
  const state = canonical(store.keyspace)
  store.close()
  return state
}

t.test('a power cut between create and rename: a complete .creating is adopted, never deleted', async (t) => {
  const dir = tempDir(SHM)
  const pool = join(dir, 'capykv.pool')
  const state = await poolWith(pool, 25)
  // What a lost rename leaves: the real pool under its temporary name.
  renameSync(pool, `${pool}.creating`)
  t.equal(Store.create(pool, POOL_BYTES), 'adopted')
  t.notOk(existsSync(`${pool}.creating`), 'renamed into place')
  const store = await Store.open(pool, { create: false })
  t.equal(canonical(store.keyspace), state, 'with every key')
  store.close()

  // Formatting cut off before the header: blocks allocated, zeros; then a torn header.
  for (const [name, fill] of [['zeros', 0], ['torn header', 0x5a]] as const) {
    const d = tempDir(SHM)
    const p = join(d, 'capykv.pool')
    const fd = openSync(`${p}.creating`, 'w')
    ftruncateSync(fd, POOL_BYTES)
    if (fill !== 0) {
      writeSync(fd, Buffer.from('CAPYKV01'), 0, 8, 0)
      writeSync(fd, Buffer.alloc(100, fill), 0, 100, 8)
    }
    closeSync(fd)
    t.equal(Store.create(p, POOL_BYTES), 'created', `${name}: deleted and made anew`)
    const s = await Store.open(p, { create: false })
    t.equal(s.keyspace.keyCountEstimate(), 0, `${name}: a fresh, empty pool`)
    s.close()
  }

  // Through the server: it logs the adoption and serves the data.
  const sdir = tempDir(SHM)
  const spool = join(sdir, 'capykv.pool')
  await poolWith(spool, 10)
  renameSync(spool, `${spool}.creating`)
  const server = await startCapykv({ dir: sdir })
  try {
    t.match(server.log(), /capykv\.pool\.creating holding a complete pool .* renamed it into place/)
    const c = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
    await c.connect()
    t.equal(await c.get('k7'), 'v7')
    t.equal(await c.dbsize(), 10)
    c.disconnect()
  } finally {
    await server.stop()
  }
})

function runServer(dir: string, env: NodeJS.ProcessEnv, port: number): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [SERVER_MAIN, '--port', String(port), '--bind', '127.0.0.1',
    '--dir', dir, '--pool-size', '8mb'], {
    cwd: PROJECT_ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000,
  })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

t.test('a failed flush: the server stops unacknowledged, refuses this boot, recovers after a reboot', async (t) => {
  const dir = tempDir(SHM)
  const pool = join(dir, 'capykv.pool')
  const server = await startCapykv({ dir, poolSize: '8mb', env: { CAPYKV_TEST_FAIL_COMMIT: '3' } })
  const c = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true,
    maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null })
  c.on('error', () => {})
  try {
    await c.connect()
    t.equal(await c.set('a', '1'), 'OK', 'group commit 1')
    t.equal(await c.set('b', '2'), 'OK', 'group commit 2')
    let third: unknown
    try {
      third = await c.set('c', '3')
    } catch (e) {
      third = e
    }
    t.not(third, 'OK', 'the write whose flush failed is never acknowledged')
    const code = await new Promise<number | null>((resolve) => {
      if (server.proc.exitCode !== null) resolve(server.proc.exitCode)
      else server.proc.once('exit', (code) => resolve(code))
    })
    t.equal(code, 1, 'the server stopped')
    t.match(server.log(), /A flush of the pool failed \(.*EIO: .*injected.*\): stopping/)
    t.ok(existsSync(flushMarkerPath(pool)), 'the marker is left')
  } finally {
    c.disconnect()
    await server.kill()
  }
  const port = await freePort()
  const again = runServer(dir, { CAPYKV_TEST_BOOT_ID: '' }, port)
  t.equal(again.code, 1, 'a start on the same boot refuses')
  t.match(again.out, /Refusing to start: a flush of this pool failed on this boot \(.*EIO: .*\).*remove .*capykv\.pool\.flush-failed/)
  t.ok(existsSync(flushMarkerPath(pool)), 'and keeps the marker')

  const after = await startCapykv({ dir, poolSize: '8mb', env: { CAPYKV_TEST_BOOT_ID: 'after-a-reboot' } })
  try {
    t.match(after.log(), /failed on an earlier boot .* re-read from the media/)
    const d = new Redis({ port: after.port, host: '127.0.0.1', lazyConnect: true })
    await d.connect()
    t.equal(await d.get('a'), '1', 'acknowledged writes are there')
    t.equal(await d.get('b'), '2')
    d.disconnect()
    t.notOk(existsSync(flushMarkerPath(pool)), 'the marker is removed')
  } finally {
    await after.stop()
  }
})

t.test('PMEM_IS_PMEM_FORCE on a disk-backed pool: a warning in the log and INFO', async (t) => {
  if (!nativeInfo.backendAvailable.includes('libpmem')) {
    t.comment('skipped: libpmem is not available (PMEM_IS_PMEM_FORCE only matters to libpmem)')
    return
  }
  const disk = tmpdir()
  const onDisk = statfsSync(disk).type !== 0x01021994
  for (const [where, base, warned] of [['tmpfs', SHM, false], ['disk', disk, true]] as const) {
    if (where === 'disk' && !onDisk) {
      t.comment(`skipped the disk case: ${disk} is tmpfs here`)
      continue
    }
    const dir = tempDir(base)
    const server = await startCapykv({ dir, poolSize: '8mb', env: { PMEM_IS_PMEM_FORCE: '1' } })
    try {
      const c = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
      await c.connect()
      const info = await c.info('persistence')
      c.disconnect()
      if (warned) {
        t.match(info, /pool_warnings:PMEM_IS_PMEM_FORCE=1 on .* do NOT survive a power loss/, `${where}: INFO`)
        t.match(server.log(), /WARNING PMEM_IS_PMEM_FORCE=1 on .*without dax/, `${where}: log`)
      } else {
        t.match(info, /pool_warnings:none/, `${where}: no warning`)
      }
      t.match(info, /pool_format_version:3/, `${where}: a new pool is format 3 (checkpoint fallback)`)
    } finally {
      await server.stop()
    }
  }
})
