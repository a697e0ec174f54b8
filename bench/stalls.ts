// Issue 19's abuse probes, each run against redis-server 7.0.15 and capykv in the same run while
// a side client PINGs every 10 ms: the side client's worst PING (the longest event-loop stall
// another client saw), how long the probe took, and for the memory probes the server's RSS.
// Timings and RSS are figures to compare as ratios, never test assertions.
//
//   npx tsc -p tsconfig.json && node dist/bench/stalls.js [--probes incr,slab,big,pool,poolmix]
//     [--main /path/to/other/dist/src/main.js]
//
// Probes:
// - incr: 1,000,000 `INCR k` written in one socket write; done when the last reply arrived.
// - slab: 100,000 `SET key:<i> x`, each request in its own read: 50 connections, each with one
//   request outstanding, and each request padded to ~8 KiB by an ECHO of 8,000 bytes in the
//   same write (the reply is read before the next). RSS per key after, then FLUSHALL + SAVE
//   and RSS against its start (a stored value must not keep its input buffer alive).
// - big: one 512 MiB SET (proto-max-bulk-len) written at full speed, then DEL + SAVE: side PING
//   max, RSS peak (sampled every 20 ms) and RSS after, against the start. capykv's pool: 2 GiB.
// - pool: at a full 64 MiB store, 50 pipelined 1 MiB SETs that are all refused (as
//   bench/full-pool.ts).
// - poolmix: the same store with two fill keys deleted, 50 pipelined (INCR, 1 MiB SET) pairs: each
//   refused SET comes after a commit (an engine that compacts per refusal after any commit
//   stalls here, not in `pool`).

import { readFileSync } from 'node:fs'
import net from 'node:net'
import { Redis } from 'ioredis'
import { rssBytes, startServer, type Running } from './launch.js'

interface Row { probe: string; server: string; ms: number; pingMaxMs: number; note: string }

/** A side client PINGing every 10 ms; stop() gives the worst round trip seen. */
function sidePinger(port: number): { stop(): Promise<number> } {
  const side = new Redis({ port, host: '127.0.0.1' })
  let worst = 0
  let stopped = false
  const loop = (async (): Promise<void> => {
    while (!stopped) {
      const t0 = performance.now()
      await side.ping()
      worst = Math.max(worst, performance.now() - t0)
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  return {
    async stop(): Promise<number> {
      stopped = true
      await loop
      side.disconnect()
      return Math.round(worst)
    },
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

/** Write `payload`, resolve once `lines` reply lines ("\r\n"-terminated) arrived. */
async function sendCountingLines(port: number, payload: Buffer, lines: number): Promise<void> {
  const s = await connect(port)
  let seen = 0
  await new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) seen++
      if (seen >= lines) resolve()
    })
    s.write(payload)
  })
  s.destroy()
}

function encode(...argv: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)]
  for (const a of argv) {
    const b = typeof a === 'string' ? Buffer.from(a) : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

async function probeIncr(server: Running): Promise<Omit<Row, 'probe' | 'server'>> {
  const one = encode('INCR', 'k')
  const n = 1_000_000
  const payload = Buffer.alloc(one.length * n)
  for (let i = 0; i < n; i++) one.copy(payload, i * one.length)
  const side = sidePinger(server.port)
  await new Promise((r) => setTimeout(r, 50))
  const t0 = performance.now()
  await sendCountingLines(server.port, payload, n)
  const ms = performance.now() - t0
  return { ms: Math.round(ms), pingMaxMs: await side.stop(), note: '' }
}

async function probeSlab(server: Running): Promise<Omit<Row, 'probe' | 'server'>> {
  const admin = new Redis({ port: server.port, host: '127.0.0.1' })
  await admin.flushall()
  await new Promise((r) => setTimeout(r, 200))
  const rss0 = rssBytes(server.pid)
  const pad = Buffer.alloc(8000, 120)
  const keys = 100_000
  const conns = 50
  const side = sidePinger(server.port)
  const t0 = performance.now()
  await Promise.all(Array.from({ length: conns }, async (_, c) => {
    const s = await connect(server.port)
    let buffered = ''
    let waiter: (() => void) | null = null
    s.on('data', (d: Buffer) => {
      buffered += d.toString('latin1')
      waiter?.()
    })
    for (let i = c; i < keys; i += conns) {
      // One write: SET, then ECHO of 8,000 bytes; wait for both replies (+OK and the bulk).
      s.write(Buffer.concat([encode('SET', `key:${i}`, 'x'), encode('ECHO', pad)]))
      while (!buffered.endsWith('x\r\n') || !buffered.startsWith('+OK')) {
        await new Promise<void>((r) => { waiter = r })
      }
      buffered = ''
    }
    s.destroy()
  }))
  const ms = performance.now() - t0
  const pingMaxMs = await side.stop()
  await new Promise((r) => setTimeout(r, 500))
  const rss1 = rssBytes(server.pid)
  await admin.flushall()
  await admin.call('SAVE').catch(() => undefined)
  await admin.call('MEMORY', 'PURGE').catch(() => undefined)
  await new Promise((r) => setTimeout(r, 1000))
  const rss2 = rssBytes(server.pid)
  admin.disconnect()
  return {
    ms: Math.round(ms), pingMaxMs,
    note: `${Math.round((rss1 - rss0) / keys)} B/key RSS; after FLUSHALL+SAVE ` +
      `${((rss2 - rss0) / (1 << 20)).toFixed(1)} MiB over start (start ${(rss0 / (1 << 20)).toFixed(0)} MiB)`,
  }
}

/** Resident anonymous bytes of `pid` (the process's own memory: no pool pages, which are shmem). */
function anonBytes(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  return m === null ? 0 : Number(m[1]) * 1024
}

async function probeBig(server: Running): Promise<Omit<Row, 'probe' | 'server'>> {
  const admin = new Redis({ port: server.port, host: '127.0.0.1' })
  const rss0 = rssBytes(server.pid)
  const anon0 = anonBytes(server.pid)
  let peak = rss0
  let anonPeak = anon0
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssBytes(server.pid))
    anonPeak = Math.max(anonPeak, anonBytes(server.pid))
  }, 20)
  const size = 512 * 1024 * 1024
  const value = Buffer.alloc(size, 97)
  const side = sidePinger(server.port)
  await new Promise((r) => setTimeout(r, 50))
  const t0 = performance.now()
  const s = await connect(server.port)
  let reply = ''
  await new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      reply += d.toString('latin1')
      if (reply.endsWith('\r\n')) resolve()
    })
    s.on('close', () => resolve())
    s.write(Buffer.from(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${size}\r\n`))
    s.write(value)
    s.write('\r\n')
  })
  const ms = performance.now() - t0
  s.destroy()
  const pingMaxMs = await side.stop()
  const anonStored = anonBytes(server.pid)
  await admin.del('big')
  await admin.call('SAVE').catch(() => undefined)
  await admin.call('MEMORY', 'PURGE').catch(() => undefined)
  await new Promise((r) => setTimeout(r, 1000))
  clearInterval(sampler)
  const rss2 = rssBytes(server.pid)
  const anon2 = anonBytes(server.pid)
  admin.disconnect()
  const mib = (b: number): string => (b / (1 << 20)).toFixed(0)
  return {
    ms: Math.round(ms), pingMaxMs,
    note: `reply ${reply.trim().slice(0, 40)}; RSS start ${mib(rss0)} MiB, peak +${mib(peak - rss0)}` +
      ` MiB, after DEL+SAVE +${mib(rss2 - rss0)} MiB; of it anonymous (not pool pages): start ` +
      `${mib(anon0)} MiB, peak +${mib(anonPeak - anon0)}, stored +${mib(anonStored - anon0)}, ` +
      `after DEL+SAVE +${mib(anon2 - anon0)} MiB`,
  }
}

/** capykv's INFO pool_checkpoints_completed (null from redis-server). */
async function checkpoints(c: Redis): Promise<number | null> {
  const m = /^pool_checkpoints_completed:(\d+)/m.exec(await c.info('persistence'))
  return m === null ? null : Number(m[1])
}

async function probePool(server: Running): Promise<Omit<Row, 'probe' | 'server'>> {
  const a = new Redis({ port: server.port, host: '127.0.0.1' })
  const value = Buffer.alloc(1 << 20, 97)
  let filled = 0
  for (; filled < 512; filled++) {
    try { await a.set(`fill${filled}`, value) } catch { break }
  }
  const side = sidePinger(server.port)
  await new Promise((r) => setTimeout(r, 50))
  const c0 = await checkpoints(a)
  const t0 = performance.now()
  const p = a.pipeline()
  for (let i = 0; i < 50; i++) p.set(`x${i}`, value)
  const replies = (await p.exec()) ?? []
  const ms = performance.now() - t0
  const c1 = await checkpoints(a)
  a.disconnect()
  return { ms: Math.round(ms), pingMaxMs: await side.stop(),
    note: `${filled} stored, ${replies.filter(([e]) => e !== null).length} of 50 refused` +
      (c0 === null || c1 === null ? '' : `, ${c1 - c0} checkpoints`) }
}

/**
 * As probePool, but at a full store with a little room made (two fill keys deleted) and each
 * refused SET preceded by an INCR that commits: 50 pipelined (INCR, 1 MiB SET) pairs.
 */
async function probePoolMix(server: Running): Promise<Omit<Row, 'probe' | 'server'>> {
  const a = new Redis({ port: server.port, host: '127.0.0.1' })
  const value = Buffer.alloc(1 << 20, 97)
  let filled = 0
  for (; filled < 512; filled++) {
    try { await a.set(`fill${filled}`, value) } catch { break }
  }
  await a.del('fill0', 'fill1')
  const side = sidePinger(server.port)
  await new Promise((r) => setTimeout(r, 50))
  const c0 = await checkpoints(a)
  const t0 = performance.now()
  const p = a.pipeline()
  for (let i = 0; i < 50; i++) p.incr('counter').set(`x${i}`, value)
  const replies = (await p.exec()) ?? []
  const ms = performance.now() - t0
  const c1 = await checkpoints(a)
  a.disconnect()
  const refused = replies.filter(([e], i) => i % 2 === 1 && e !== null).length
  const incrs = replies.filter(([e], i) => i % 2 === 0 && e === null).length
  return { ms: Math.round(ms), pingMaxMs: await side.stop(),
    note: `${filled} stored, ${refused} of 50 SETs refused, ${incrs} of 50 INCRs done` +
      (c0 === null || c1 === null ? '' : `, ${c1 - c0} checkpoints`) }
}

type Probe = (s: Running) => Promise<Omit<Row, 'probe' | 'server'>>

const PROBES: Record<string, { probe: Probe; redisArgs: string[]; capykvPool: string }> = {
  incr: { probe: probeIncr, redisArgs: [], capykvPool: '256mb' },
  slab: { probe: probeSlab, redisArgs: [], capykvPool: '256mb' },
  big: { probe: probeBig, redisArgs: [], capykvPool: '2gb' },
  pool: { probe: probePool, redisArgs: ['--maxmemory', '64mb'], capykvPool: '64mb' },
  poolmix: { probe: probePoolMix, redisArgs: ['--maxmemory', '64mb'], capykvPool: '64mb' },
}

async function main(): Promise<void> {
  const argAt = (name: string): string | undefined => {
    const i = process.argv.indexOf(name)
    return i > 0 ? process.argv[i + 1] : undefined
  }
  const mainPath = argAt('--main')
  const names = (argAt('--probes') ?? 'incr,slab,big,pool,poolmix').split(',')
  const rows: Row[] = []
  for (const name of names) {
    const p = PROBES[name]
    if (p === undefined) throw new Error(`unknown probe ${name}`)
    for (const kind of ['redis', 'capykv-pm'] as const) {
      const server = await startServer(kind, kind === 'redis' ? { args: p.redisArgs }
        : { poolSize: p.capykvPool, ...(mainPath === undefined ? {} : { mainPath }) })
      try {
        rows.push({ probe: name, server: kind === 'redis' ? 'redis-server' : 'capykv', ...await p.probe(server) })
      } finally {
        await server.stop()
      }
      console.error(JSON.stringify(rows[rows.length - 1]))
    }
  }
  console.log('| probe | server | probe ms | side PING max ms | notes |')
  console.log('|---|---|---|---|---|')
  for (const r of rows) console.log(`| ${r.probe} | ${r.server} | ${r.ms} | ${r.pingMaxMs} | ${r.note} |`)
}

await main()
