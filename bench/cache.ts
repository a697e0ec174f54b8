// npm run bench:cache — capykv as a cache beside redis-server 7.0.15, same run, same requests:
// a seeded Zipfian workload (s = 0.99 over --keys distinct keys, 100-byte values) played as a
// cache client does (GET; on a miss, SET), pipelined in batches, under each eviction policy at
// the same maxmemory. maxmemory is what a user would configure to hold about --fraction of the
// keys in Redis: Redis's own used_memory per key, measured first in this run, times the keys.
// Reports per policy: hit ratio (over the requests after the first --warmup), INFO evicted_keys
// and the keys held at the end, for both servers, and the difference in percentage points. A
// third run gives capykv the maxmemory that holds the same number of keys by its own accounting
// (its used_memory per key, measured the same way): the policy's quality apart from the cost
// per key.
// volatile-ttl needs keys with an expiry: its SETs carry EX with a seeded TTL (1 to 10 hours).
// Flags: --keys N (1000000) --requests N (1000000) --warmup N (requests/2) --fraction F (0.1)
// --seed N (1) --batch N (64) --policies a,b,… --json FILE.
// Invariants: both servers get the identical sequence of commands (one generator per server,
// same seed); servers are started here and stopped by pid; nothing is timed (hit ratios only).

import { writeFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { startServer, type Running } from './launch.js'
import { prng } from '../test/helpers/mulberry32.js'

interface Options {
  keys: number
  requests: number
  warmup: number
  fraction: number
  seed: number
  batch: number
  policies: string[]
  json: string | null
}

function parseOptions(argv: readonly string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`)
    return i < 0 ? undefined : argv[i + 1]
  }
  const requests = Number(get('requests') ?? 1_000_000)
  return {
    keys: Number(get('keys') ?? 1_000_000),
    requests,
    warmup: Number(get('warmup') ?? Math.floor(requests / 2)),
    fraction: Number(get('fraction') ?? 0.1),
    seed: Number(get('seed') ?? 1),
    batch: Number(get('batch') ?? 64),
    policies: (get('policies') ?? 'allkeys-lru,allkeys-lfu,volatile-ttl,allkeys-random').split(','),
    json: get('json') ?? null,
  }
}

/** Zipf(s) over ranks 1..n by inverse CDF: a cumulative table and a binary search. */
function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += 1 / Math.pow(i + 1, s)
    cdf[i] = sum
  }
  return () => {
    const u = random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

const VALUE = 'v'.repeat(100)

function infoNumber(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN)
}

/** Redis's used_memory per key for this workload's keys and values (its own accounting). */
async function redisBytesPerKey(r: Redis, sample: number): Promise<number> {
  await r.flushall()
  const before = infoNumber(await r.info('memory'), 'used_memory')
  for (let i = 0; i < sample; i += 1000) {
    const p = r.pipeline()
    for (let j = i; j < Math.min(sample, i + 1000); j++) p.set(`key:${j}`, VALUE)
    await p.exec()
  }
  const after = infoNumber(await r.info('memory'), 'used_memory')
  await r.flushall()
  return (after - before) / sample
}

interface Outcome {
  hits: number
  lookups: number
  evicted: number
  held: number
  errors: number
}

/** Play the workload against one server under `policy` at `maxmemory`. */
async function play(r: Redis, o: Options, policy: string, maxmemory: number): Promise<Outcome> {
  await r.flushall()
  await r.call('CONFIG', 'SET', 'maxmemory', '0')
  await r.call('CONFIG', 'RESETSTAT')
  await r.call('CONFIG', 'SET', 'maxmemory-policy', policy)
  await r.call('CONFIG', 'SET', 'maxmemory', String(maxmemory))
  const random = prng(o.seed)
  const next = zipfSampler(o.keys, 0.99, random)
  const ttlRandom = prng(o.seed + 1)
  const volatile = policy.startsWith('volatile')
  let hits = 0
  let lookups = 0
  let errors = 0
  for (let done = 0; done < o.requests; done += o.batch) {
    const n = Math.min(o.batch, o.requests - done)
    const keys: string[] = []
    const gets = r.pipeline()
    for (let i = 0; i < n; i++) {
      const key = `key:${next()}`
      keys.push(key)
      gets.get(key)
    }
    const got = (await gets.exec()) ?? []
    const sets = r.pipeline()
    let misses = 0
    for (let i = 0; i < n; i++) {
      const [err, value] = got[i] ?? [null, null]
      if (err !== null) errors++
      const hit = value !== null && value !== undefined
      if (done + i >= o.warmup) {
        lookups++
        if (hit) hits++
      }
      if (!hit) {
        misses++
        const key = keys[i] as string
        if (volatile) sets.set(key, VALUE, 'EX', 3600 + Math.floor(ttlRandom() * 32400))
        else sets.set(key, VALUE)
      }
    }
    if (misses > 0) {
      for (const [err] of (await sets.exec()) ?? []) if (err !== null) errors++
    }
  }
  const info = await r.info()
  return { hits, lookups, evicted: infoNumber(info, 'evicted_keys'), held: await r.dbsize(), errors }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2))
  const servers: Running[] = []
  try {
    const redis = await startServer('redis')
    servers.push(redis)
    const capykv = await startServer('capykv-pm', { poolSize: '1gb' })
    servers.push(capykv)
    const a = new Redis({ port: redis.port, host: '127.0.0.1' })
    const b = new Redis({ port: capykv.port, host: '127.0.0.1' })
    try {
      const perKey = await redisBytesPerKey(a, 50_000)
      const redisBase = infoNumber(await a.info('memory'), 'used_memory')
      const maxmemory = Math.round(redisBase + perKey * o.keys * o.fraction)
      const capyPerKey = await redisBytesPerKey(b, 50_000) // capykv's own accounting, same way
      process.stdout.write(`keys ${o.keys}, requests ${o.requests} (warm-up ${o.warmup}), ` +
        `Zipf s=0.99, seed ${o.seed}; Redis used_memory ${perKey.toFixed(0)} B/key + ` +
        `${redisBase} B at start; capykv ${capyPerKey.toFixed(0)} B/key; maxmemory ${maxmemory}\n`)
      const rows: Record<string, unknown>[] = []
      const sameKeys = Math.round(capyPerKey * o.keys * o.fraction)
      process.stdout.write('| policy | Redis hit ratio | capykv hit ratio | difference (pp) | ' +
        'Redis evicted_keys | capykv evicted_keys | keys held Redis / capykv | ' +
        `capykv hit ratio at maxmemory ${sameKeys} (same keys) | keys held |\n` +
        '|---|---|---|---|---|---|---|---|---|\n')
      const pct = (x: number): string => `${(100 * x).toFixed(2)} %`
      for (const policy of o.policies) {
        const ra = await play(a, o, policy, maxmemory)
        const rb = await play(b, o, policy, maxmemory)
        const rc = await play(b, o, policy, sameKeys)
        const [ha, hb, hc] = [ra.hits / ra.lookups, rb.hits / rb.lookups, rc.hits / rc.lookups]
        rows.push({ policy, redis: ra, capykv: rb, capykvSameKeys: rc, redisHitRatio: ha,
          capykvHitRatio: hb, capykvSameKeysHitRatio: hc })
        const errors = ra.errors + rb.errors + rc.errors
        process.stdout.write(`| ${policy} | ${pct(ha)} | ${pct(hb)} | ${(100 * (hb - ha)).toFixed(2)} | ` +
          `${ra.evicted} | ${rb.evicted} | ${ra.held} / ${rb.held} | ${pct(hc)} ` +
          `(${(100 * (hc - ha)).toFixed(2)} pp) | ${rc.held} |${errors > 0 ? ` errors ${errors}` : ''}\n`)
      }
      if (o.json !== null) {
        writeFileSync(o.json, JSON.stringify({ options: o, maxmemory, sameKeys, redisBytesPerKey: perKey,
          capykvBytesPerKey: capyPerKey, rows }, null, 2))
      }
    } finally {
      a.disconnect()
      b.disconnect()
    }
  } finally {
    for (const s of servers) await s.stop()
  }
}

await main()
