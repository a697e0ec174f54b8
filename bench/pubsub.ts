// Pub/sub beside redis-server 7.0.15, in the same run (issue 16, "Must show" 6): redis-benchmark
// (-c 50 -P 16) sends PUBLISH to a channel with 1 and with 100 subscribers, and SET with
// notify-keyspace-events KEA and 10 pattern subscribers (`__key*__:*`), to Redis without
// persistence and to capykv on emulated PM (/dev/shm with PMEM_IS_PMEM_FORCE=1). The
// subscribers are raw sockets in this process that count the bytes they receive; a run ends when
// every message has arrived (or after a timeout, reported). Rounds are interleaved; medians are
// reported as requests/s, messages delivered per second (from the first request to the last
// message), the server's CPU seconds (user + sys, /proc) per request over the same span — the
// figure least moved by other load on a shared machine — and the ratios to Redis.
// Storm (issue 16 "Must show" 5): while redis-benchmark floods PUBLISH (-c 50 -P 16) to a
// channel with 100 subscribers, an ordinary client runs GET (redis-benchmark -c 1 -n 2000) and
// its p50/p99 are reported beside Redis's under the same storm (target: p99 within 2x); the
// flood is stopped when the probe ends ("flood outlasted the probe" says it covered it).
// Usage: node dist/bench/pubsub.js [--rounds N] [--requests N]

import { spawn } from 'node:child_process'
import net from 'node:net'
import { rawCommand } from '../test/helpers/servers.js'
import {
  runTool,
  cpuSeconds, median, redisVersions, startServer, type Running, type ServerKind,
} from './launch.js'
import { machine, table, writeResults } from './report.js'

interface Workload {
  id: string
  subscribers: number
  /** What each subscriber sends once connected. */
  subscribe: string[]
  /** The redis-benchmark command. */
  command: string[]
  /** Bytes each subscriber receives per request. */
  bytesPerRequest: number
  config?: [string, string]
}

function bulk(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
}

const MESSAGE = 'm'.repeat(16)
/** `*3 message ch <16 bytes>`. */
const PUBLISH_BYTES = Buffer.byteLength(`*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$16\r\n${MESSAGE}\r\n`)
/** A pmessage for `set` on key `k` in db 0: keyspace then keyevent. */
const NOTIFY_BYTES = Buffer.byteLength('*4\r\n$8\r\npmessage\r\n$8\r\n__key*:*\r\n' +
  '$15\r\n__keyspace@0__:k\r\n$3\r\nset\r\n') + Buffer.byteLength('*4\r\n$8\r\npmessage\r\n' +
  '$8\r\n__key*:*\r\n$17\r\n__keyevent@0__:set\r\n$1\r\nk\r\n')

const WORKLOADS: readonly Workload[] = [
  { id: 'PUBLISH, 1 subscriber', subscribers: 1, subscribe: ['SUBSCRIBE', 'ch'],
    command: ['PUBLISH', 'ch', MESSAGE], bytesPerRequest: PUBLISH_BYTES },
  { id: 'PUBLISH, 100 subscribers', subscribers: 100, subscribe: ['SUBSCRIBE', 'ch'],
    command: ['PUBLISH', 'ch', MESSAGE], bytesPerRequest: PUBLISH_BYTES },
  { id: 'SET, KEA, 10 pattern subscribers', subscribers: 10,
    subscribe: ['PSUBSCRIBE', '__key*:*'], command: ['SET', 'k', 'v'],
    bytesPerRequest: NOTIFY_BYTES, config: ['notify-keyspace-events', 'KEA'] },
]

interface Options { rounds: number; requests: number }

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { rounds: 3, requests: 100_000 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--rounds' && v !== undefined) { o.rounds = Number(v); i++ }
    else if (a === '--requests' && v !== undefined) { o.requests = Number(v); i++ }
    else throw new Error(`unknown option ${a ?? ''}`)
  }
  return o
}

const run = runTool

/** Subscribers counting received bytes (the confirmation's bytes are subtracted by the caller). */
async function subscribers(port: number, w: Workload): Promise<{ sockets: net.Socket[];
  bytes: () => number }> {
  let total = 0
  const sockets: net.Socket[] = []
  for (let i = 0; i < w.subscribers; i++) {
    const s = net.connect(port, '127.0.0.1')
    await new Promise<void>((r) => s.once('connect', () => r()))
    s.on('data', (d: Buffer) => { total += d.length })
    s.write(bulk(w.subscribe))
    sockets.push(s)
  }
  const confirmation = Buffer.byteLength(`*3\r\n$${w.subscribe[0]?.length ?? 0}\r\n` +
    `${(w.subscribe[0] ?? '').toLowerCase()}\r\n$${w.subscribe[1]?.length ?? 0}\r\n` +
    `${w.subscribe[1] ?? ''}\r\n:1\r\n`)
  const want = confirmation * w.subscribers
  for (let i = 0; i < 500 && total < want; i++) await new Promise((r) => setTimeout(r, 10))
  const base = total
  return { sockets, bytes: () => total - base }
}

interface Sample {
  rps: number
  deliveredPerS: number
  /** The server's CPU (user + sys) per request, from the first request to the last message. */
  cpuUsPerRequest: number
  complete: boolean
}

async function measure(server: Running, w: Workload, requests: number): Promise<Sample> {
  if (w.config !== undefined) {
    await rawCommand(server.port, bulk(['CONFIG', 'SET', ...w.config]), 5000)
  }
  const subs = await subscribers(server.port, w)
  const started = performance.now()
  const cpu0 = cpuSeconds(server.pid)
  const out = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port),
    '-c', '50', '-P', '16', '-n', String(requests), '--csv', ...w.command])
  const want = requests * w.subscribers * w.bytesPerRequest
  for (let i = 0; i < 3000 && subs.bytes() < want; i++) {
    await new Promise((r) => setTimeout(r, 10))
  }
  const elapsedS = (performance.now() - started) / 1000
  const cpuUsPerRequest = (cpuSeconds(server.pid) - cpu0) * 1e6 / requests
  const delivered = Math.floor(subs.bytes() / w.bytesPerRequest)
  for (const s of subs.sockets) s.destroy()
  for (const line of out.split('\n')) {
    const cells = line.trim().split('","').map((c) => c.replace(/^"|"$/g, ''))
    const rps = Number(cells[1])
    if (cells.length >= 2 && cells[0] !== 'test' && Number.isFinite(rps)) {
      return { rps, deliveredPerS: delivered / elapsedS, cpuUsPerRequest,
        complete: delivered >= requests * w.subscribers }
    }
  }
  throw new Error(`no redis-benchmark result:\n${out}`)
}

interface StormSample { p50Ms: number; p99Ms: number; covered: boolean }

/** An ordinary client's GET latency during a PUBLISH flood to 100 subscribers. */
async function storm(server: Running, requests: number): Promise<StormSample> {
  const w = WORKLOADS[1] as Workload
  const subs = await subscribers(server.port, w)
  const base = ['-h', '127.0.0.1', '-p', String(server.port), '--csv']
  const flood = spawn('redis-benchmark', [...base, '-c', '50', '-P', '16', '-n',
    String(requests * 20), ...w.command], { stdio: 'ignore' })
  let floodEnded = false
  flood.on('exit', () => { floodEnded = true })
  try {
    await new Promise((r) => setTimeout(r, 300)) // the flood running
    const out = await run('redis-benchmark', [...base, '-c', '1', '-n', '2000', '-t', 'get'])
    const covered = !floodEnded
    for (const line of out.split('\n')) {
      const cells = line.trim().split('","').map((c) => c.replace(/^"|"$/g, ''))
      if (cells[0] === 'GET') {
        return { p50Ms: Number(cells[4]), p99Ms: Number(cells[6]), covered }
      }
    }
    throw new Error(`no redis-benchmark result:\n${out}`)
  } finally {
    if (!floodEnded) flood.kill('SIGKILL')
    for (const sock of subs.sockets) sock.destroy()
  }
}

async function stormTable(targets: { label: string; kind: ServerKind }[],
  options: Options): Promise<Record<string, StormSample[]>> {
  const samples: Record<string, StormSample[]> = {}
  for (let round = 0; round < options.rounds; round++) {
    for (const t of targets) {
      const server = await startServer(t.kind)
      try {
        (samples[t.label] ??= []).push(await storm(server, options.requests))
      } finally {
        await server.stop()
      }
    }
  }
  const med = (label: string, pick: 'p50Ms' | 'p99Ms'): number =>
    median((samples[label] ?? []).map((x) => x[pick]))
  console.log(table(['GET -c 1 during a PUBLISH storm (100 subscribers)',
    ...targets.map((t) => `${t.label} p50 / p99 ms`), 'p99 ÷ redis', 'note'],
  [['median of rounds', ...targets.map((t) => `${med(t.label, 'p50Ms').toFixed(3)} / ` +
    `${med(t.label, 'p99Ms').toFixed(3)}`),
  (med('capykv-pm', 'p99Ms') / med('redis', 'p99Ms')).toFixed(2) + '×',
  Object.values(samples).flat().every((x) => x.covered) ? 'flood outlasted the probe'
    : 'a flood ended before its probe']]))
  return samples
}

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
  const samples = new Map<string, Sample[]>()
  for (let round = 0; round < options.rounds; round++) {
    for (const t of targets) {
      for (const w of WORKLOADS) {
        const server = await startServer(t.kind)
        try {
          const key = `${t.label}|${w.id}`
          samples.set(key, [...samples.get(key) ?? [], await measure(server, w, options.requests)])
        } finally {
          await server.stop()
        }
      }
    }
  }
  const med = (label: string, w: Workload,
    pick: 'rps' | 'deliveredPerS' | 'cpuUsPerRequest'): number =>
    median((samples.get(`${label}|${w.id}`) ?? []).map((x) => x[pick]))
  const rows = WORKLOADS.map((w) => {
    const incomplete = targets.filter((t) =>
      (samples.get(`${t.label}|${w.id}`) ?? []).some((x) => !x.complete)).map((t) => t.label)
    return [`${w.id}, -c 50 -P 16`,
      ...targets.map((t) => `${Math.round(med(t.label, w, 'rps'))}/s, ` +
        `${Math.round(med(t.label, w, 'deliveredPerS'))} msg/s`),
      (med('capykv-pm', w, 'rps') / med('redis', w, 'rps')).toFixed(2) + '×',
      (med('capykv-pm', w, 'deliveredPerS') / med('redis', w, 'deliveredPerS')).toFixed(2) + '×',
      ...targets.map((t) => med(t.label, w, 'cpuUsPerRequest').toFixed(2)),
      (med('capykv-pm', w, 'cpuUsPerRequest') / med('redis', w, 'cpuUsPerRequest')).toFixed(2) +
        '×',
      incomplete.length === 0 ? '' : `incomplete: ${incomplete.join(', ')}`]
  })
  const head = ['workload', ...targets.map((t) => `${t.label} (req/s, delivered)`),
    'req/s ÷ redis', 'delivered ÷ redis', ...targets.map((t) => `${t.label} CPU µs/req`),
    'CPU ÷ redis', 'note']
  console.log(table(head, rows))
  const stormSamples = await stormTable(targets, options)
  const file = writeResults('pubsub', { machine: machine(), versions, options,
    samples: Object.fromEntries(samples), storm: stormSamples })
  console.log(`raw samples: ${file}`)
}

await main()
