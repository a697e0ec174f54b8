// Bitmaps, HyperLogLog, geo and SORT beside redis-server 7.0.15, in the same run (issue 14,
// "Must show" 4): Redis without persistence and capykv on emulated PM (/dev/shm with
// PMEM_IS_PMEM_FORCE=1), each workload on a fresh pair of servers, rounds interleaved, medians
// and the ratio to Redis. Beside each rate, the server's CPU per request (user + sys of its
// process over the measured phase; fills excluded): on this shared machine the rate moves with
// the load, CPU per request much less, so both ratios are printed.
// Workloads (redis-benchmark with a custom command; -c 50 -P 16 for the cheap ones, -c 10 -P 1
// for those whose single request is long):
//   SETBIT bits <random bit of 1 MiB> 1       BITCOUNT of a 1 MiB string
//   PFADD hll <random of 10^6>                 PFCOUNT of 10 keys (dense HLLs, 10,000 each)
//   GEOADD pts <random point> <random member>  GEOSEARCH FROMLONLAT BYRADIUS 5 km ASC COUNT 10
//                                              over 100,000 points
//   SORT of a 10,000-number list (whole reply), and with LIMIT 0 10
// Usage: node dist/bench/types.js [--rounds N] [--scale F] [--only name,…] [--ab DIST_MAIN_JS]
//   --scale multiplies every request count; --ab adds a second capykv (another build's
//   dist/src/main.js, e.g. main's) run alternately with this one, for A/B comparisons.

import net from 'node:net'
import { ReplyFramer } from '../test/compat/resp.js'
import { runTool, cpuSeconds, median, redisVersions, startServer, type Running, type ServerKind } from './launch.js'
import { prng } from '../test/helpers/mulberry32.js'
import { machine, table, writeResults } from './report.js'

interface Options { rounds: number; scale: number; only: string[] | null; ab: string | null }

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { rounds: 3, scale: 1, only: null, ab: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--rounds' && v !== undefined) { o.rounds = Number(v); i++ }
    else if (a === '--scale' && v !== undefined) { o.scale = Number(v); i++ }
    else if (a === '--only' && v !== undefined) { o.only = v.split(','); i++ }
    else if (a === '--ab' && v !== undefined) { o.ab = v; i++ }
    else throw new Error(`unknown option ${a ?? ''}`)
  }
  return o
}

function bulk(parts: readonly (string | Buffer)[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)]
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p) : p
    chunks.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(chunks)
}

const run = runTool

/** A measured phase: requests per second, and the server's CPU µs per request over it. */
interface Measure { rate: number; cpuUs: number }

interface Shape { clients: number; pipeline: number; requests: number; random?: number }

async function benchmark(server: Running, shape: Shape, command: string[]): Promise<Measure> {
  const cpuBefore = cpuSeconds(server.pid)
  const out = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port),
    '-c', String(shape.clients), '-P', String(shape.pipeline), '-n', String(shape.requests),
    '-r', String(shape.random ?? 1_000_000), '--csv', ...command])
  const cpuUs = (cpuSeconds(server.pid) - cpuBefore) * 1e6 / shape.requests
  if (/ERR|WRONGTYPE/.test(out)) throw new Error(`redis-benchmark reported an error:\n${out}`)
  for (const line of out.split('\n')) {
    const cells = line.trim().split('","').map((c) => c.replace(/^"|"$/g, ''))
    const rps = Number(cells[1])
    if (cells.length >= 2 && cells[0] !== 'test' && Number.isFinite(rps)) return { rate: rps, cpuUs }
  }
  throw new Error(`no redis-benchmark result:\n${out}`)
}

/**
 * `shape.clients` connections of this process, each writing one of `batches` (shape.pipeline
 * commands each, prebuilt) and awaiting its replies, until shape.requests are answered; for
 * commands redis-benchmark cannot randomize. Error replies throw.
 */
async function pipelined(server: Running, shape: Shape, batches: readonly Buffer[]): Promise<Measure> {
  const sockets = await Promise.all(Array.from({ length: shape.clients }, () =>
    new Promise<net.Socket>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => resolve(s))
    })))
  let sent = 0
  let failure: string | null = null
  const cpuBefore = cpuSeconds(server.pid)
  const started = performance.now()
  await Promise.all(sockets.map((socket, c) => new Promise<void>((resolve) => {
    const framer = new ReplyFramer()
    let pending = 0
    let next = c
    const fire = (): void => {
      if (sent >= shape.requests || failure !== null) { resolve(); return }
      sent += shape.pipeline
      pending = shape.pipeline
      socket.write(batches[next++ % batches.length] as Buffer)
    }
    socket.on('data', (d: Buffer) => {
      framer.feed(d)
      for (let r = framer.next(); r !== null; r = framer.next()) {
        if (r[0] === 0x2d) failure ??= r.toString('latin1')
        if (--pending === 0) fire()
      }
    })
    fire()
  })))
  const rate = sent / ((performance.now() - started) / 1000)
  const cpuUs = (cpuSeconds(server.pid) - cpuBefore) * 1e6 / sent
  for (const s of sockets) s.destroy()
  if (failure !== null) throw new Error(`answered ${failure}`)
  return { rate, cpuUs }
}

/** Sends `commands` pipelined, 1000 at a time, each batch's replies awaited; errors throw. */
async function send(port: number, commands: Iterable<Buffer>): Promise<void> {
  const socket = await new Promise<net.Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s))
  })
  const framer = new ReplyFramer()
  let pending = 0
  let wake: (() => void) | null = null
  let failure: string | null = null
  socket.on('data', (d: Buffer) => {
    framer.feed(d)
    for (let r = framer.next(); r !== null; r = framer.next()) {
      pending--
      if (r[0] === 0x2d) failure ??= r.toString('latin1')
    }
    if (pending === 0) { const w = wake; wake = null; w?.() }
  })
  let batch: Buffer[] = []
  const flush = async (): Promise<void> => {
    pending = batch.length
    const done = new Promise<void>((r) => { wake = r })
    socket.write(Buffer.concat(batch))
    batch = []
    await done
  }
  for (const c of commands) {
    batch.push(c)
    if (batch.length === 1000) await flush()
  }
  if (batch.length > 0) await flush()
  socket.destroy()
  if (failure !== null) throw new Error(`fill answered ${failure}`)
}

/** A deterministic generator, so both servers get the same data. */
const rng = prng

function* hllFill(): Generator<Buffer> {
  for (let k = 0; k < 10; k++) {
    for (let i = 0; i < 10_000; i += 100) {
      yield bulk(['PFADD', `hll${k}`, ...Array.from({ length: 100 }, (_, j) => `e${k}:${i + j}`)])
    }
  }
}

function* geoFill(): Generator<Buffer> {
  const r = rng(14)
  for (let i = 0; i < 100_000; i += 100) {
    const args: string[] = []
    for (let j = 0; j < 100; j++) {
      args.push((13 + r()).toFixed(6), (38 + r()).toFixed(6), `p${i + j}`)
    }
    yield bulk(['GEOADD', 'pts', ...args])
  }
}

function* sortFill(): Generator<Buffer> {
  const r = rng(10)
  for (let i = 0; i < 10_000; i += 500) {
    yield bulk(['RPUSH', 'nums', ...Array.from({ length: 500 }, () => String(Math.floor(r() * 1e9)))])
  }
}

interface Workload { id: string; run(server: Running, scale: number): Promise<Measure> }

const fast = (n: number, scale: number): Shape =>
  ({ clients: 50, pipeline: 16, requests: Math.max(1000, Math.round(n * scale)) })
const slow = (n: number, scale: number): Shape =>
  ({ clients: 10, pipeline: 1, requests: Math.max(200, Math.round(n * scale)) })

const WORKLOADS: readonly Workload[] = [
  { id: 'SETBIT bits <rand bit of 1 MiB> 1 (-P 16)', run: async (s, k) => {
    // redis-benchmark's __rand_int__ has leading zeros, which a bit offset may not have.
    // A distinct random offset per request (most of them set a bit still 0: a change).
    const r = rng(8)
    const shape = fast(300_000, k)
    const batches = Array.from({ length: Math.ceil(shape.requests / 16) }, () =>
      Buffer.concat(Array.from({ length: 16 }, () =>
        bulk(['SETBIT', 'bits', String(Math.floor(r() * 8 * 1024 * 1024)), '1']))))
    await send(s.port, [bulk(['SETBIT', 'bits', String(8 * 1024 * 1024 - 1), '1'])])
    return pipelined(s, shape, batches)
  } },
  { id: 'BITCOUNT of 1 MiB', run: async (s, k) => {
    const r = rng(1)
    const value = Buffer.from(Array.from({ length: 1 << 20 }, () => Math.floor(r() * 256)))
    await send(s.port, [bulk(['SET', 'mb', value])])
    return benchmark(s, slow(3_000, k), ['BITCOUNT', 'mb'])
  } },
  { id: 'PFADD hll <rand of 10^6> (-P 16)',
    run: (s, k) => benchmark(s, fast(300_000, k), ['PFADD', 'hll', '__rand_int__']) },
  { id: 'PFCOUNT of 10 keys', run: async (s, k) => {
    await send(s.port, hllFill())
    return benchmark(s, slow(2_000, k), ['PFCOUNT', ...Array.from({ length: 10 }, (_, i) => `hll${i}`)])
  } },
  { id: 'GEOADD pts <rand point> <rand member> (-P 16)',
    run: (s, k) => benchmark(s, fast(300_000, k),
      ['GEOADD', 'pts', '13.__rand_int__', '38.__rand_int__', 'm:__rand_int__']) },
  { id: 'GEOSEARCH 5 km ASC COUNT 10 in 100k', run: async (s, k) => {
    await send(s.port, geoFill())
    return benchmark(s, slow(1_000, k),
      ['GEOSEARCH', 'pts', 'FROMLONLAT', '13.5', '38.5', 'BYRADIUS', '5', 'km', 'ASC', 'COUNT', '10'])
  } },
  { id: 'SORT of 10k numbers', run: async (s, k) => {
    await send(s.port, sortFill())
    return benchmark(s, slow(500, k), ['SORT', 'nums'])
  } },
  { id: 'SORT of 10k numbers LIMIT 0 10', run: async (s, k) => {
    await send(s.port, sortFill())
    return benchmark(s, slow(1_000, k), ['SORT', 'nums', 'LIMIT', '0', '10'])
  } },
]

interface Target { label: string; kind: ServerKind; mainPath?: string }

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const versions = redisVersions()
  if (versions === null) {
    console.log('redis-server / redis-benchmark not found: nothing measured')
    return
  }
  const targets: Target[] = [{ label: 'redis', kind: 'redis' }, { label: 'capykv-pm', kind: 'capykv-pm' }]
  if (options.ab !== null) targets.push({ label: 'capykv-ab', kind: 'capykv-pm', mainPath: options.ab })
  const workloads = WORKLOADS.filter((w) => options.only === null ||
    options.only.some((x) => w.id.toLowerCase().includes(x.toLowerCase())))
  const samples = new Map<string, number[]>()
  const cpu = new Map<string, number[]>()
  for (let round = 0; round < options.rounds; round++) {
    for (const w of workloads) {
      // Alternate the order of the capykv builds from round to round (A/B, B/A).
      const order = round % 2 === 0 ? targets : [targets[0] as Target, ...targets.slice(1).reverse()]
      for (const t of order) {
        const server = await startServer(t.kind,
          t.mainPath === undefined ? {} : { mainPath: t.mainPath })
        try {
          const key = `${t.label}|${w.id}`
          const m = await w.run(server, options.scale)
          samples.set(key, [...samples.get(key) ?? [], m.rate])
          cpu.set(key, [...cpu.get(key) ?? [], m.cpuUs])
        } finally {
          await server.stop()
        }
      }
      process.stdout.write(`  round ${round + 1}: ${w.id} done\n`)
    }
  }
  const med = (label: string, w: Workload): number => median(samples.get(`${label}|${w.id}`) ?? [])
  const medCpu = (label: string, w: Workload): number => median(cpu.get(`${label}|${w.id}`) ?? [])
  const kv = targets.slice(1)
  const rows = workloads.map((w) => [w.id, ...targets.map((t) => `${Math.round(med(t.label, w))}/s`),
    ...kv.map((t) => (med(t.label, w) / med('redis', w)).toFixed(2) + '×'),
    ...targets.map((t) => medCpu(t.label, w).toFixed(2)),
    ...kv.map((t) => (medCpu('redis', w) / medCpu(t.label, w)).toFixed(2) + '×')])
  console.log(table(['workload', ...targets.map((t) => t.label),
    ...kv.map((t) => `${t.label} ÷ redis`), ...targets.map((t) => `${t.label} CPU µs/req`),
    ...kv.map((t) => `redis CPU ÷ ${t.label} CPU`)], rows))
  const file = writeResults('types', { machine: machine(), versions, options,
    samples: Object.fromEntries(samples), cpuUsPerRequest: Object.fromEntries(cpu) })
  console.log(`raw samples: ${file}`)
}

await main()
