// used_memory against an independent measure (issue 17): after writing N keys of S bytes, the
// growth of INFO used_memory is within 10 % of the growth of the server's resident memory less
// the pool's resident mapping (/proc/<pid>/smaps), measured after MEMORY PURGE (a full GC), plus
// the growth of the pool's live bytes; and used_memory falls after deletes and to the clients'
// share after FLUSHALL. A warm-up first grows V8's young generation, so the measured growth is
// the keys'. Linux only (skips elsewhere).

import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { startCapykv } from '../helpers/servers.js'

function infoNumber(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN)
}

/** Resident bytes of the process, and of its mappings of the pool file. */
function resident(pid: number, poolName: string): { rss: number; pool: number } {
  const smaps = readFileSync(`/proc/${pid}/smaps`, 'latin1').split('\n')
  let rss = 0
  let pool = 0
  let inPool = false
  for (const line of smaps) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inPool = line.endsWith(poolName)
      continue
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line)
    if (m === null) continue
    const bytes = Number(m[1]) * 1024
    rss += bytes
    if (inPool) pool += bytes
  }
  return { rss, pool }
}

async function writeKeys(r: Redis, from: number, count: number, value: string): Promise<void> {
  for (let i = 0; i < count; i += 1000) {
    const p = r.pipeline()
    for (let j = i; j < Math.min(count, i + 1000); j++) p.set(`key:${String(from + j).padStart(12, '0')}`, value)
    await p.exec()
  }
}

t.test('used_memory grows as resident memory (less the pool mapping) plus pool live bytes', async (t) => {
  if (!existsSync('/proc/self/smaps')) {
    t.comment('skipped: needs /proc/<pid>/smaps (Linux)')
    return
  }
  const server = await startCapykv({ poolSize: '256mb' })
  t.teardown(() => server.stop())
  const r = new Redis({ port: server.port, host: '127.0.0.1' })
  t.teardown(() => r.disconnect())
  const value = 'x'.repeat(100)
  await writeKeys(r, 0, 20_000, value) // warm-up: V8's young generation grows to its size
  const measure = async (): Promise<{ used: number; dram: number; live: number }> => {
    // Twice, a moment apart: V8 frees the backing stores of collected ArrayBuffers (the key
    // index's columns replaced by growth) on a background thread after the collection.
    await r.call('MEMORY', 'PURGE')
    await new Promise((resolve) => setTimeout(resolve, 300))
    await r.call('MEMORY', 'PURGE')
    const info = await r.info()
    const { rss, pool } = resident(server.pid, 'capykv.pool')
    return { used: infoNumber(info, 'used_memory'), dram: rss - pool,
      live: infoNumber(info, 'pool_live_bytes_estimate') }
  }
  const before = await measure()
  const n = 100_000
  await writeKeys(r, 1_000_000, n, value)
  const after = await measure()
  const usedGrowth = after.used - before.used
  const measured = (after.dram - before.dram) + (after.live - before.live)
  t.comment(`${n} keys of ${value.length} B: used_memory +${usedGrowth} (${(usedGrowth / n).toFixed(0)} ` +
    `B/key), resident less pool +${after.dram - before.dram}, pool live +${after.live - before.live}`)
  t.ok(Math.abs(usedGrowth - measured) <= 0.1 * measured,
    `used_memory growth ${usedGrowth} within 10 % of the measured ${measured}`)
  await r.call('DEL', ...Array.from({ length: 1000 }, (_, i) => `key:${String(1_000_000 + i).padStart(12, '0')}`))
  const afterDel = infoNumber(await r.info('memory'), 'used_memory')
  t.ok(afterDel < after.used, `used_memory falls after deletes (${after.used} -> ${afterDel})`)
  await r.call('FLUSHALL')
  const info = await r.info('memory')
  t.equal(infoNumber(info, 'used_memory_dataset'), 0, 'dataset 0 after FLUSHALL')
  t.equal(infoNumber(info, 'used_memory'), infoNumber(info, 'mem_clients_normal'),
    'used_memory is the clients\' share after FLUSHALL')
})
