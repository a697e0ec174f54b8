// The background scrub through the server (issue 12, part 7): media damage after startup — a
// byte of a committed record changed in the pool file while the server runs (the file's shared
// mapping sees it, as it would a device error) — is found by the scrub once CONFIG SET turns it
// on, reported at once in the log and INFO persistence (scrub_corruption_found, the record's
// offset and lsn), healed by a checkpoint (scrub_damage_unhealed back to 0); every key still
// answers its own value (from memory, verified at startup); and after kill -9 the next start
// recovers every key, which it would refuse to do had the heal not happened (checked by
// capykv-check's library on a copy taken before the heal).
// Invariants: one server on a free port bound to 127.0.0.1, killed by its own pid; the pool's
// directory is removed at teardown; every wait is a bounded poll.

import t from 'tap'
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { checkPool } from '../../src/recovery/check.js'
import { LOG_OFFSET } from '../../src/storage/layout.js'
import { startCapykv } from '../helpers/servers.js'

const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-scrub-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const KEYS = 300
const value = (i: number): string => `value-${i}-${'v'.repeat(i % 40)}`

const infoField = (info: string, name: string): string =>
  new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? ''

async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await probe()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

t.test('damage after startup: found, reported, healed; every key served and recovered', async (t) => {
  const server = await startCapykv({ dir, poolSize: '8mb', keepDir: true, args: ['--scrub-rate', '0'] })
  const pool = join(dir, 'capykv.pool')
  const c = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
  try {
    await c.connect()
    for (let i = 0; i < KEYS; i++) await c.set(`key:${i}`, value(i))
    const before = await c.info('persistence')
    t.equal(infoField(before, 'scrub_rate'), '0', 'off as configured')
    t.equal(infoField(before, 'scrub_corruption_found'), '0')
    const used = Number(infoField(before, 'pool_log_used_bytes'))
    t.ok(used > 10_000, `${used} bytes of committed log`)
    // Change one byte in the middle of the committed log (no checkpoint yet: head at 0).
    const at = LOG_OFFSET + Math.floor(used / 2)
    const fd = openSync(pool, 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, at)
    b[0] = (b[0] as number) ^ 0x08
    writeSync(fd, b, 0, 1, at)
    closeSync(fd)
    const damagedCopy = join(dir, 'damaged-copy.pool')
    copyFileSync(pool, damagedCopy)
    t.equal(checkPool(damagedCopy).report.status, 'damaged', 'without a heal, the next start would refuse it')
    rmSync(damagedCopy)

    t.equal(await c.config('SET', 'scrub-rate', '64mb'), 'OK')
    let info = ''
    await until('the scrub to find the damage and heal it', async () => {
      info = await c.info('persistence')
      return infoField(info, 'scrub_corruption_found') === '1' && infoField(info, 'scrub_damage_unhealed') === '0'
    })
    t.match(infoField(info, 'scrub_last_corruption'), /record at offset \d+ lsn \d+: .*\(healed\)/)
    t.ok(Number(infoField(info, 'scrub_bytes_verified')) > 0)
    t.match(server.log(), /Pool scrub: damaged .*record at offset \d+ \(lsn \d+\): .*a checkpoint now rewrites it/)
    await until('a completed pass', async () => {
      info = await c.info('persistence')
      return Number(infoField(info, 'scrub_passes')) >= 1
    })
    t.not(infoField(info, 'scrub_last_completed_time'), '-1')
    for (let i = 0; i < KEYS; i++) {
      if (await c.get(`key:${i}`) !== value(i)) t.fail(`key:${i} served another value`)
    }
  } finally {
    c.disconnect()
    await server.kill()
  }
  const again = await startCapykv({ dir, poolSize: '8mb', keepDir: true })
  const d = new Redis({ port: again.port, host: '127.0.0.1', lazyConnect: true })
  try {
    await d.connect()
    t.equal(await d.dbsize(), KEYS, 'every key after kill -9 and restart')
    let wrong = 0
    for (let i = 0; i < KEYS; i++) if (await d.get(`key:${i}`) !== value(i)) wrong++
    t.equal(wrong, 0, 'with its value')
  } finally {
    d.disconnect()
    await again.stop()
  }
})
