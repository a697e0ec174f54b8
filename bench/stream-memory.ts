// Streams' memory and PEL cost beside redis-server 7.0.15, in the same run (issue 18): the
// measurements behind 5a97666 (entries packed per node) and 2b9da5d (PEL ends O(1)), which were
// first taken by scripts outside the repository.
// - memory: `redis-benchmark -c 50 -P 16 -n N XADD s * field value-12345678`, then RSS growth
//   (less the pool's resident mapping for capykv) per entry after MEMORY PURGE, beside MEMORY
//   USAGE per entry;
// - pel: N entries with ids 1-0 … N-0, one XREADGROUP COUNT N (every entry pending), then the N
//   XACKs oldest first, pipelined 1000 at a time: wall time of each phase.
// Usage: node dist/bench/stream-memory.js [--entries N] [--pel N] [--servers redis,capykv-pm]

import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { ReplyFramer } from '../test/compat/resp.js'
import { rawCommand } from '../test/helpers/servers.js'
import { residentOfMapping, rssBytes, startServer, type Running, type ServerKind } from './launch.js'

function bulk(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function dram(s: Running): Promise<number> {
  await rawCommand(s.port, bulk(['MEMORY', 'PURGE']))
  await sleep(500)
  await rawCommand(s.port, bulk(['MEMORY', 'PURGE']))
  await sleep(300)
  const pool = s.kind === 'redis' ? 0 : residentOfMapping(s.pid, 'capykv.pool')
  return rssBytes(s.pid) - pool
}

async function memory(s: Running, n: number): Promise<string> {
  await rawCommand(s.port, bulk(['XADD', 's', '*', 'f', 'v']))
  const before = await dram(s)
  const r = spawnSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(s.port), '-c', '50',
    '-P', '16', '-n', String(n), 'XADD', 's', '*', 'field', 'value-12345678'], { stdio: 'ignore' })
  if (r.status !== 0) throw new Error(`redis-benchmark exited ${String(r.status)}`)
  const after = await dram(s)
  const usage = Number((await rawCommand(s.port, bulk(['MEMORY', 'USAGE', 's']))).slice(1))
  const len = Number((await rawCommand(s.port, bulk(['XLEN', 's']))).slice(1))
  return `XLEN ${len}: RSS growth ${((after - before) / n).toFixed(1)} B/entry, ` +
    `MEMORY USAGE ${(usage / len).toFixed(1)} B/entry`
}

async function pel(s: Running, n: number): Promise<string> {
  const sock = net.connect(s.port, '127.0.0.1')
  await new Promise((resolve) => sock.once('connect', resolve))
  const framer = new ReplyFramer()
  let got = 0
  let wake: (() => void) | null = null
  sock.on('data', (d: Buffer) => {
    framer.feed(d)
    while (framer.next() !== null) got++
    wake?.()
  })
  const send = async (cmds: string[]): Promise<void> => {
    got = 0
    sock.write(cmds.join(''))
    while (got < cmds.length) await new Promise<void>((resolve) => { wake = resolve })
  }
  const batch = (from: number, make: (i: number) => string[]): string[] =>
    Array.from({ length: Math.min(1000, n - from) }, (_, j) => bulk(make(from + j + 1)))
  for (let i = 0; i < n; i += 1000) await send(batch(i, (id) => ['XADD', 'p', `${id}-0`, 'f', 'v']))
  await send([bulk(['XGROUP', 'CREATE', 'p', 'g', '0'])])
  const t0 = performance.now()
  await send([bulk(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', String(n), 'STREAMS', 'p', '>'])])
  const t1 = performance.now()
  for (let i = 0; i < n; i += 1000) await send(batch(i, (id) => ['XACK', 'p', 'g', `${id}-0`]))
  const t2 = performance.now()
  sock.destroy()
  return `PEL of ${n}: XREADGROUP ${(t1 - t0).toFixed(0)} ms, XACKs oldest first ${(t2 - t1).toFixed(0)} ms`
}

async function main(): Promise<void> {
  let entries = 500_000
  let pelSize = 100_000
  let servers: ServerKind[] = ['redis', 'capykv-pm']
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1] ?? ''
    if (argv[i] === '--entries') entries = Number(v)
    else if (argv[i] === '--pel') pelSize = Number(v)
    else if (argv[i] === '--servers') servers = v.split(',') as ServerKind[]
    else throw new Error(`unknown option ${argv[i] ?? ''}`)
  }
  for (const kind of servers) {
    const s = await startServer(kind)
    try {
      console.log(`${kind}: ${await memory(s, entries)}; ${await pel(s, pelSize)}`)
    } finally {
      await s.stop()
    }
  }
}

await main()
