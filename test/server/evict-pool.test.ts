// The pool as a second limit (issue 17): a cache runs forever in a fixed small pool. capykv with
// a 2 MiB pool, maxmemory 0 and allkeys-lru takes about ten times the pool's size in unique keys
// — pipelined SETs, MULTI/EXEC blocks and EVAL scripts of 300 SETs of 1 KB (about a sixth of the
// ring each: more than the room the eviction before a command leaves, so the build before
// txn/engine.ts evictToFit refused some of them), and values of 64 KiB — with no -OOM: a write
// that does not fit in the pool evicts (commands/evict.ts) instead of being refused. The model: every key written, less every key whose
// `evicted` notification arrived (an eviction is notified once durable, after the transaction
// that holds it). Afterwards the keys present are exactly the model's survivors, each with its
// own value; after a restart on the same pool, the same again. Under noeviction the refusal
// stays: the same writes then meet -OOM.

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startCapykv } from '../helpers/servers.js'

const POOL = '2mb'
const POOL_BYTES = 2 * 1024 * 1024
const VALUE_BYTES = 1000
const BIG_BYTES = 64 * 1024
const GROUP = 50
/** Keys of one MULTI/EXEC or script. */
const BIG_GROUP = 450

function valueOf(key: string): string {
  return `${key}=`.padEnd(key.startsWith('big') ? BIG_BYTES : VALUE_BYTES, 'x')
}

function infoNumber(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN)
}

/** Every key of database 0 with its value (SCAN, then MGET). */
async function contents(c: Redis): Promise<Map<string, string | null>> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await c.scan(cursor, 'COUNT', 1000)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  const out = new Map<string, string | null>()
  for (let i = 0; i < keys.length; i += 500) {
    const slice = keys.slice(i, i + 500)
    const values = await c.mget(...slice)
    slice.forEach((k, j) => out.set(k, values[j] ?? null))
  }
  return out
}

/** One round of writes of `kind`; returns the keys written and the errors met. */
async function round(c: Redis, kind: number, n: number): Promise<{ keys: string[]; errors: string[] }> {
  const size = kind === 3 ? 1 : kind === 0 ? GROUP : BIG_GROUP
  const keys = Array.from({ length: size },
    (_, i) => kind === 3 ? `big:${n}` : `k${kind}:${n}:${i}`)
  const errors: string[] = []
  if (kind === 0) {
    const p = c.pipeline()
    for (const k of keys) p.set(k, valueOf(k))
    for (const [e] of (await p.exec()) ?? []) if (e !== null) errors.push(String(e))
  } else if (kind === 1) {
    const m = c.multi()
    for (const k of keys) m.set(k, valueOf(k))
    await m.exec().catch((e: unknown) => { errors.push(String(e)) })
  } else if (kind === 2) {
    await c.eval(`for i, k in ipairs(KEYS) do redis.call('set', k, ARGV[i]) end return #KEYS`,
      keys.length, ...keys, ...keys.map(valueOf)).catch((e: unknown) => { errors.push(String(e)) })
  } else {
    await c.set(keys[0] as string, valueOf(keys[0] as string))
      .catch((e: unknown) => { errors.push(String(e)) })
  }
  return { keys, errors }
}

t.test('allkeys-lru in a 2 MiB pool: ten pools of writes, no -OOM, exactly the survivors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-evict-pool-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const args = ['--maxmemory-policy', 'allkeys-lru', '--notify-keyspace-events', 'Ee']
  const server = await startCapykv({ dir, poolSize: POOL, args })
  const c = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
  const sub = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
  const evicted = new Set<string>()
  sub.on('message', (_channel: string, key: string) => { evicted.add(key) })
  await sub.subscribe('__keyevent@0__:evicted')
  const written = new Set<string>()
  const errors: string[] = []
  let bytes = 0
  const kinds = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]
  for (let n = 0; bytes < 10 * POOL_BYTES; n++) {
    // Every fifteenth round is a value of 64 KiB; the rest pipelined SETs of GROUP keys, now
    // and then BIG_GROUP keys in one MULTI/EXEC or one script.
    const kind = n % 15 === 14 ? 3 : kinds[n % kinds.length] as number
    const r = await round(c, kind, n)
    errors.push(...r.errors)
    for (const k of r.keys) {
      written.add(k)
      bytes += k.length + valueOf(k).length
    }
  }
  t.same(errors, [], `no write refused (${written.size} keys, ${bytes} bytes)`)
  t.equal(infoNumber(await c.info('persistence'), 'pool_out_of_space_refusals'), 0,
    'the pool refused nothing')
  // Settle: every eviction INFO counts has been notified (bounded wait).
  const expected = infoNumber(await c.info('stats'), 'evicted_keys')
  for (let i = 0; i < 400 && evicted.size < expected; i++) {
    await new Promise((r) => setTimeout(r, 25))
  }
  t.equal(evicted.size, expected, `${expected} evictions, each notified once`)
  t.ok(expected > written.size / 2, 'most keys were evicted (the pool was the limit)')
  const survivors = [...written].filter((k) => !evicted.has(k)).sort()
  t.ok(survivors.length > 0, `${survivors.length} survivors`)
  const check = async (label: string, r: Redis): Promise<void> => {
    const present = await contents(r)
    t.same([...present.keys()].sort(), survivors, `${label}: the keys present are the survivors`)
    let wrong = 0
    for (const [k, v] of present) if (v !== valueOf(k)) wrong++
    t.equal(wrong, 0, `${label}: each holds its own value`)
  }
  await check('live', c)
  c.disconnect()
  sub.disconnect()
  await server.stop()
  const restarted = await startCapykv({ dir, poolSize: POOL, args: ['--maxmemory-policy', 'noeviction'] })
  t.teardown(() => restarted.stop())
  const r = new Redis({ port: restarted.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
  t.teardown(() => r.disconnect())
  await check('after a restart', r)
  // Under noeviction the pool refuses instead: the same writes meet -OOM before a pool's worth.
  const refused: string[] = []
  for (let n = 0; n < 200 && refused.length === 0; n++) refused.push(...(await round(r, 0, 1e6 + n)).errors)
  t.match(refused[0], /OOM command not allowed/, 'noeviction: a full pool answers -OOM')
})
