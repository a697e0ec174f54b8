// Streams beside redis-server 7.0.15, in the same run (issue 18, "Must show" 4): Redis without
// persistence and capykv on emulated PM (/dev/shm with PMEM_IS_PMEM_FORCE=1), rounds
// interleaved, medians and the ratio to Redis:
// - XADD s * f v, and with MAXLEN ~ 1000 (redis-benchmark -c 50 -P 16);
// - XRANGE s - + COUNT 10 over a stream of --fill entries (redis-benchmark -c 50 -P 16);
// - XREADGROUP + XACK pairs: 50 connections of this process, each one a consumer of one group
//   sending 16 `XREADGROUP … COUNT 1 … >` pipelined, then the 16 XACKs of the ids they got, until
//   --requests pairs are done (the client's parsing is the same for both servers).
// Beside each rate, the server's CPU per request (user + sys of its process, /proc, over the
// measured phase only: fills excluded): on this shared machine a server's throughput moves with
// the load, its CPU per request much less, so both ratios are printed.
// Usage: node dist/bench/streams.js [--rounds N] [--requests N] [--fill N] [--only name,…]

import net from 'node:net'
import { ReplyFramer } from '../test/compat/resp.js'
import { rawCommand } from '../test/helpers/servers.js'
import { runTool, cpuSeconds, median, redisVersions, startServer, type Running, type ServerKind } from './launch.js'
import { machine, table, writeResults } from './report.js'

interface Options { rounds: number; requests: number; fill: number; only: string[] | null }

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { rounds: 3, requests: 200_000, fill: 100_000, only: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--rounds' && v !== undefined) { o.rounds = Number(v); i++ }
    else if (a === '--requests' && v !== undefined) { o.requests = Number(v); i++ }
    else if (a === '--fill' && v !== undefined) { o.fill = Number(v); i++ }
    else if (a === '--only' && v !== undefined) { o.only = v.split(','); i++ }
    else throw new Error(`unknown option ${a ?? ''}`)
  }
  return o
}

function bulk(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
}

const run = runTool

/** A measured phase: requests per second, and the server's CPU µs per request over it. */
interface Measure { rate: number; cpuUs: number }

async function benchmark(server: Running, requests: number, command: string[]): Promise<Measure> {
  const cpuBefore = cpuSeconds(server.pid)
  const out = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port),
    '-c', '50', '-P', '16', '-n', String(requests), '--csv', ...command])
  const cpuUs = (cpuSeconds(server.pid) - cpuBefore) * 1e6 / requests
  for (const line of out.split('\n')) {
    const cells = line.trim().split('","').map((c) => c.replace(/^"|"$/g, ''))
    const rps = Number(cells[1])
    if (cells.length >= 2 && cells[0] !== 'test' && Number.isFinite(rps)) return { rate: rps, cpuUs }
  }
  throw new Error(`no redis-benchmark result:\n${out}`)
}

/** One consumer connection: pipelined reads, then the acks of the ids they delivered. */
class PairClient {
  private readonly framer = new ReplyFramer()
  private replies: Buffer[] = []
  private wake: (() => void) | null = null
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.framer.feed(d)
      for (let r = this.framer.next(); r !== null; r = this.framer.next()) this.replies.push(r)
      const w = this.wake
      this.wake = null
      w?.()
    })
  }

  async take(n: number): Promise<Buffer[]> {
    while (this.replies.length < n) await new Promise<void>((r) => { this.wake = r })
    return this.replies.splice(0, n)
  }

  /** `batch` reads then the acks of what they got; resolves with the number of pairs done. */
  async round(consumer: string, batch: number): Promise<number> {
    const read = bulk(['XREADGROUP', 'GROUP', 'g', consumer, 'COUNT', '1', 'STREAMS', 's', '>'])
    this.socket.write(read.repeat(batch))
    const ids: string[] = []
    for (const r of await this.take(batch)) {
      const m = /^\*1\r\n\*2\r\n\$1\r\ns\r\n\*1\r\n\*2\r\n\$\d+\r\n(\d+-\d+)\r\n/.exec(r.toString('latin1', 0, 64))
      if (m !== null) ids.push(m[1] as string)
    }
    if (ids.length === 0) return 0
    this.socket.write(ids.map((id) => bulk(['XACK', 's', 'g', id])).join(''))
    for (const r of await this.take(ids.length)) {
      if (r.toString('latin1') !== ':1\r\n') throw new Error(`XACK answered ${r.toString('latin1')}`)
    }
    return ids.length
  }
}

async function pairs(server: Running, requests: number): Promise<Measure> {
  const clients = await Promise.all(Array.from({ length: 50 }, () => new Promise<PairClient>((resolve) => {
    const s = net.connect(server.port, '127.0.0.1', () => resolve(new PairClient(s)))
  })))
  let done = 0
  const cpuBefore = cpuSeconds(server.pid)
  const started = performance.now()
  await Promise.all(clients.map(async (c, i) => {
    while (done < requests) {
      const n = await c.round(`c${i}`, 16)
      if (n === 0) return
      done += n
    }
  }))
  const rate = done / ((performance.now() - started) / 1000)
  // Two requests (XREADGROUP, XACK) per pair.
  const cpuUs = (cpuSeconds(server.pid) - cpuBefore) * 1e6 / Math.max(1, 2 * done)
  for (const c of clients) c.socket.destroy()
  return { rate, cpuUs }
}

/** Fill s with `n` entries, 1000 pipelined at a time, each batch's replies awaited. */
async function fill(port: number, n: number): Promise<void> {
  const socket = await new Promise<net.Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
  })
  const client = new PairClient(socket)
  for (let done = 0; done < n; done += 1000) {
    const count = Math.min(1000, n - done)
    socket.write(bulk(['XADD', 's', '*', 'f', 'v'.repeat(8)]).repeat(count))
    await client.take(count)
  }
  socket.destroy()
}

interface Workload { id: string; run(server: Running, o: Options): Promise<Measure> }

const WORKLOADS: readonly Workload[] = [
  { id: 'XADD s * f v', run: (s, o) => benchmark(s, o.requests, ['XADD', 's', '*', 'f', 'v']) },
  { id: 'XADD s MAXLEN ~ 1000 * f v',
    run: (s, o) => benchmark(s, o.requests, ['XADD', 's', 'MAXLEN', '~', '1000', '*', 'f', 'v']) },
  { id: 'XRANGE s - + COUNT 10', run: async (s, o) => {
    await fill(s.port, o.fill)
    return benchmark(s, o.requests, ['XRANGE', 's', '-', '+', 'COUNT', '10'])
  } },
  { id: 'XREADGROUP COUNT 1 + XACK pairs', run: async (s, o) => {
    await fill(s.port, o.requests + 50 * 16)
    await rawCommand(s.port, bulk(['XGROUP', 'CREATE', 's', 'g', '0']), 5000)
    return pairs(s, o.requests)
  } },
]

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const versions = redisVersions()
  if (versions === null) {
    console.log('redis-server / redis-benchmark not found: nothing measured')
    return
  }
  const targets: { label: string; kind: ServerKind }[] = [
    { label: 'redis', kind: 'redis' }, { label: 'capykv-pm', kind: 'capykv-pm' },
  ]
  const workloads = WORKLOADS.filter((w) => options.only === null ||
    options.only.some((x) => w.id.toLowerCase().includes(x.toLowerCase())))
  const samples = new Map<string, number[]>()
  const cpu = new Map<string, number[]>()
  for (let round = 0; round < options.rounds; round++) {
    for (const w of workloads) {
      for (const t of targets) {
        const server = await startServer(t.kind)
        try {
          const key = `${t.label}|${w.id}`
          const m = await w.run(server, options)
          samples.set(key, [...samples.get(key) ?? [], m.rate])
          cpu.set(key, [...cpu.get(key) ?? [], m.cpuUs])
        } finally {
          await server.stop()
        }
      }
    }
  }
  const med = (label: string, w: Workload): number => median(samples.get(`${label}|${w.id}`) ?? [])
  const medCpu = (label: string, w: Workload): number => median(cpu.get(`${label}|${w.id}`) ?? [])
  const rows = workloads.map((w) => [w.id, ...targets.map((t) => `${Math.round(med(t.label, w))}/s`),
    (med('capykv-pm', w) / med('redis', w)).toFixed(2) + '×',
    ...targets.map((t) => medCpu(t.label, w).toFixed(2)),
    (medCpu('redis', w) / medCpu('capykv-pm', w)).toFixed(2) + '×'])
  console.log(table(['workload (-c 50 -P 16)', ...targets.map((t) => t.label), 'capykv ÷ redis',
    ...targets.map((t) => `${t.label} CPU µs/req`), 'redis CPU ÷ capykv CPU'], rows))
  const file = writeResults('streams', { machine: machine(), versions, options,
    samples: Object.fromEntries(samples), cpuUsPerRequest: Object.fromEntries(cpu) })
  console.log(`raw samples: ${file}`)
}

await main()
