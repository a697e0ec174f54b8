// The pool as a second limit (issue 17): a cache runs forever in a fixed small pool. capykv with
// a 2 MiB pool, maxmemory 0 and allkeys-lru takes about ten times the pool's size in unique keys
// — pipelined SETs, MULTI/EXEC blocks and EVAL scripts of 300 SETs of 1 KB (about a sixth of the
// ring each: more than the room the eviction before a command leaves, so the build before
// txn/make-room.ts evictToFit refused some of them), and values of 64 KiB — with no -OOM: a write
// that does not fit in the pool evicts (commands/evict.ts) instead of being refused. The model: every key written, less every key whose
// `evicted` notification arrived (an eviction is notified once durable, after the transaction
// that holds it). Afterwards the keys present are exactly the model's survivors, each with its
// own value; after a restart on the same pool, the same again. Under noeviction the refusal
// stays: the same writes then meet -OOM.
// Evict first, then append (txn/make-room.ts evictFirst): after a fill, a SET, a MULTI/EXEC and a
// script whose record is 1/3 of the log ring each — more than evictions inside their own record
// can make room for (the build before it answered -OOM from about 0.3 of the ring up), less than
// the most the pool can hold beside its reserves (about 0.37 of this ring: CAP in
// storage/checkpoint.ts) — are taken, and what was evicted
// for them is exactly what was notified, also after a restart; a value the pool cannot hold even
// empty (half the ring) is refused with -OOM at once, nothing evicted.

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

/**
 * INFO evicted_keys once it stopped moving and every eviction it counts has been notified into
 * `evicted` (bounded wait: at most 400 polls 50 ms apart).
 */
async function settled(c: Redis, evicted: ReadonlySet<string>): Promise<number> {
  let total = -1
  for (let i = 0; i < 400; i++) {
    const now = infoNumber(await c.info('stats'), 'evicted_keys')
    if (now === total && evicted.size >= total) break
    total = now
    await new Promise((r) => setTimeout(r, 50))
  }
  return total
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
  // Settle: the background eviction (under load the tenacity's time limit hands the rest of an
  // eviction to it) stops, and every eviction INFO counts has been notified (bounded wait).
  const expected = await settled(c, evicted)
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

/** The log ring of a pool of POOL_BYTES (storage/layout.ts ringBytesFor). */
const RING_BYTES = Math.floor((POOL_BYTES - 8192) / 8) * 8
const FILL_BYTES = 1000

t.test('allkeys-lru: a SET, a MULTI and a script of 1/3 of the ring evict first, then append',
  async (t) => {
    const args = ['--maxmemory-policy', 'allkeys-lru', '--notify-keyspace-events', 'Ee']
    const dir = mkdtempSync(join(tmpdir(), 'capykv-evict-first-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const server = await startCapykv({ dir, poolSize: POOL, args })
    const c = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
    const sub = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
    const evicted = new Set<string>()
    sub.on('message', (_channel: string, key: string) => { evicted.add(key) })
    await sub.subscribe('__keyevent@0__:evicted')
    const expected = new Map<string, string>()
    // Fill: the pool's worth of 1 KB values (the eviction before each command keeps the live
    // bytes at pool_evict_limit_bytes).
    for (let n = 0; n < 40; n++) {
      const p = c.pipeline()
      for (let i = 0; i < 50; i++) {
        const k = `f${n}:${i}`
        expected.set(k, `${k}=`.padEnd(FILL_BYTES, 'x'))
        p.set(k, expected.get(k) as string)
      }
      await p.exec()
    }
    // Refused before anything is evicted for it: the pool cannot hold it even empty.
    const before = infoNumber(await c.info('stats'), 'evicted_keys')
    const keysBefore = await c.dbsize()
    const refused = await c.set('huge', 'H'.repeat(RING_BYTES / 2)).catch((e: unknown) => String(e))
    t.match(refused, /OOM command not allowed/, 'half the ring: -OOM')
    t.equal(infoNumber(await c.info('stats'), 'evicted_keys'), before, 'nothing evicted for it')
    t.equal(await c.dbsize(), keysBefore, 'no key gone')
    const big = Math.floor(RING_BYTES / 3)
    const count = Math.floor(big / FILL_BYTES)
    const fill = (prefix: string): string[] =>
      Array.from({ length: count }, (_, i) => `${prefix}${i}`)
    const bigValue = 'B'.repeat(big)
    const replies: unknown[] = []
    replies.push(await c.set('big', bigValue).catch((e: unknown) => String(e)))
    expected.set('big', bigValue)
    const m = c.multi()
    for (const k of fill('m')) {
      expected.set(k, `${k}=`.padEnd(FILL_BYTES, 'm'))
      m.set(k, expected.get(k) as string)
    }
    replies.push(await m.exec().then((r) => r?.length).catch((e: unknown) => String(e)))
    const script = `for i, k in ipairs(KEYS) do redis.call('set', k, k .. '=' .. ARGV[1]) end
      return #KEYS`
    const keys = fill('e')
    for (const k of keys) expected.set(k, `${k}=${'e'.repeat(FILL_BYTES - 5)}`)
    replies.push(await c.eval(script, keys.length, ...keys, 'e'.repeat(FILL_BYTES - 5))
      .catch((e: unknown) => String(e)))
    t.same(replies, ['OK', count, count], 'all three taken')
    // Settle: the background eviction (each write left the live bytes over the pool's limit)
    // stops, and every eviction counted has been notified (bounded wait).
    const total = await settled(c, evicted)
    t.equal(evicted.size, total, `${total} evictions, each notified once`)
    const survivors = [...expected.keys()].filter((k) => !evicted.has(k)).sort()
    const check = async (label: string, r: Redis): Promise<void> => {
      const present = await contents(r)
      t.same([...present.keys()].sort(), survivors, `${label}: the keys present are the survivors`)
      let wrong = 0
      for (const [k, v] of present) if (v !== expected.get(k)) wrong++
      t.equal(wrong, 0, `${label}: each holds its own value`)
    }
    await check('live', c)
    c.disconnect()
    sub.disconnect()
    await server.stop()
    const restarted = await startCapykv({ dir, poolSize: POOL, args })
    t.teardown(() => restarted.stop())
    const r = new Redis({ port: restarted.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
    t.teardown(() => r.disconnect())
    await check('after a restart', r)
  })
