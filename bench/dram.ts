// DRAM per key, capykv builds beside redis-server (issue 15: "DRAM per key at 1M keys"):
//   node dist/bench/dram.js [--keys 1000000] [--value 100] [--main PATH/dist/src/main.js ...]
//
// For each server (redis-server without persistence, then this tree's capykv and every --main
// build given, on emulated PM): start it, measure DRAM empty, load `keys` keys key:<i> with
// `value`-byte values by pipelined SETs (1000 per write), ask MEMORY PURGE (capykv: a full GC,
// so garbage does not count), and measure again. DRAM = RSS − the resident part of the pool's
// mapping (/proc/PID/smaps) for capykv, RSS for Redis; printed per key, absolute and above empty,
// with the ratio to Redis's. Memory is not a timing: a run on a loaded machine is still valid.

import net from 'node:net'
import { loadavg } from 'node:os'
import { residentOfMapping, rssBytes, startServer, type Running } from './launch.js'

const argv = process.argv.slice(2)
const value = (name: string, dflt: string): string => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] ?? dflt : dflt
}
const KEYS = Number(value('--keys', '1000000'))
const VALUE = Buffer.alloc(Number(value('--value', '100')), 'v')
const mains: string[] = []
for (let i = 0; i < argv.length; i++) if (argv[i] === '--main') mains.push(argv[i + 1] as string)

/** Sends SET key:<i> for i in [0, KEYS) pipelined, 1000 per write; resolves after every reply. */
function load(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    let next = 0
    let replies = 0
    const batch = (): void => {
      const parts: Buffer[] = []
      const end = Math.min(KEYS, next + 1000)
      for (; next < end; next++) {
        const key = `key:${next}`
        parts.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${VALUE.length}\r\n`), VALUE,
          Buffer.from('\r\n'))
      }
      sock.write(Buffer.concat(parts))
    }
    let pending = ''
    sock.on('data', (d: Buffer) => {
      pending += d.toString('latin1')
      const lines = pending.split('\r\n')
      pending = lines.pop() as string
      for (const l of lines) {
        if (l !== '+OK') reject(new Error(`reply ${l}`))
        replies++
      }
      if (replies === KEYS) {
        sock.end()
        resolve()
      } else if (replies === next && next < KEYS) {
        batch()
      }
    })
    sock.on('error', reject)
    sock.on('connect', batch)
  })
}

function command(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(text))
    sock.once('data', (d: Buffer) => {
      sock.end()
      resolve(d.toString('latin1'))
    })
    sock.on('error', reject)
  })
}

function dram(s: Running): number {
  return rssBytes(s.pid) - (s.kind === 'redis' ? 0 : residentOfMapping(s.pid, 'capykv.pool'))
}

async function measure(label: string, start: () => Promise<Running>): Promise<[string, number, number]> {
  const s = await start()
  try {
    const empty = dram(s)
    await load(s.port)
    if (s.kind !== 'redis') await command(s.port, '*2\r\n$6\r\nMEMORY\r\n$5\r\nPURGE\r\n')
    await new Promise((r) => setTimeout(r, 500))
    const full = dram(s)
    return [label, full / KEYS, (full - empty) / KEYS]
  } finally {
    await s.stop()
  }
}

console.log(`${KEYS} keys of ${VALUE.length} B; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
const rows: [string, number, number][] = []
rows.push(await measure('redis-server (no persistence)', () => startServer('redis')))
rows.push(await measure('capykv (this tree)', () => startServer('capykv-pm', { poolSize: '2gb' })))
for (const m of mains) {
  rows.push(await measure(`capykv (${m})`, () => startServer('capykv-pm', { poolSize: '2gb', mainPath: m })))
}
const redis = rows[0] as [string, number, number]
console.log('\n| server | DRAM B/key | above empty B/key | ÷ Redis (above empty) |\n|---|---|---|---|')
for (const [label, abs, above] of rows) {
  console.log(`| ${label} | ${abs.toFixed(0)} | ${above.toFixed(0)} | ${(above / redis[2]).toFixed(2)}× |`)
}
