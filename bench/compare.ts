// capykv side by side with redis-server (issue 6, "compare"): `npm run bench` [options].
//
// Servers, started one at a time, each on a fresh directory (bench/launch.ts):
//   redis           redis-server, no persistence (the reference for every ratio)
//   redis-aof-shm   appendonly yes + appendfsync always, AOF on /dev/shm (capykv-pm's filesystem)
//   redis-aof-disk  the same with the AOF on the disk (capykv-disk's filesystem)
//   bare            the Node floor (bench/bare.ts): onread into one static buffer, zero-allocation
//                   framing, replies into one preallocated buffer, one write per read, strings
//                   in a typed-array table, no durability: the least a Node server can spend
//   bare-net        the same floor with no keyspace (framing only; not in the default set)
//   capykv-pm       capykv, pool on /dev/shm with PMEM_IS_PMEM_FORCE=1 (emulated PM)
//   capykv-disk     capykv, pool on a disk file (msync)
// Workloads (redis-benchmark, 100-byte values, -r 100000): set get incr lpush rpush lpop sadd
// hset zadd lrange_100 mset at `-c 50 -P 1` and `-c 50 -P 16`; set and get at `-c 1` for latency.
// lrange_100 runs as the custom command `LRANGE mylist 0 99` on a list pushed beforehand, so its
// figures count only LRANGE requests (redis-benchmark's own lrange_100 test pushes first).
// Scripts (issue 13), as custom commands after a SCRIPT LOAD outside the measured window:
// evalsha_get is EVALSHA of a 1-key read (`return redis.call('GET', KEYS[1])` on key:<rand>),
// evalsha_incr2 of a 2-key write (INCR KEYS[1], INCR KEYS[2], on counter:<rand> and
// counter2:<rand>); the bare floors have no scripts and skip them.
//
// Invariants, and why:
// - Only ratios from one run mean anything on these shared machines: rounds are interleaved
//   (round r runs every server in turn, A B C A B C ...), each figure is the median over rounds,
//   its spread is (max − min) / median, and a ratio is the median of the per-round ratios (the
//   two figures of a pair were measured minutes apart, not an hour).
// - Server CPU per request = Δ(utime + stime) of the server process over one redis-benchmark
//   run ÷ its requests. Each test is its own redis-benchmark run, so the delta is that test's.
//   User and system time are also kept apart (the kernel's share is the same work for every
//   server with one read and one write per batch; the user share is what the code costs).
// - Round 0 (not counted) calibrates: each test runs briefly, and the measured rounds then use
//   n = requests/s × --seconds, so a slow server (AOF on disk) does not take an hour and a fast
//   one is measured long enough for 10 ms CPU ticks to be small. It also warms Node's JIT;
//   each measured round warms each fresh server again before measuring.
// - The run fails (exit 1) only when a server does not start or dies, or redis-benchmark
//   reports an error: targets are reported, never enforced (machines differ).
// - --smoke: one round, tiny fixed n, no targets, results under bench/results/tmp/ (never the
//   README's latest.*). Without redis-server/redis-benchmark it prints why and exits 0, or 1
//   when CI=true.
//
// Output: bench/results/<timestamp>.json (samples, medians, ratios, machine, versions),
// bench/results/latest.md (tables, printed too) and bench/results/latest.svg (the chart).
//
// Options: --smoke --rounds N (3) --seconds S (1.5) --servers a,b --tests x,y --configs
// c50-P1,c50-P16,c1 --pool-size 1gb; --report bench/results/<timestamp>.json re-renders an
// earlier run's latest.md and latest.svg (and prints the tables) without measuring.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmtRate, machine, resultsDir, table } from './report.js'
import { renderSvg } from './chart.js'
import {
  cpuTimes, median, redisVersions, SERVER_LABELS, spread, startServer, type Running, type ServerKind,
} from './launch.js'
import { rawCommand } from '../test/helpers/servers.js'

// ---- configuration ---------------------------------------------------------------------------

export const DEFAULT_SERVERS: readonly ServerKind[] =
  ['redis', 'redis-aof-shm', 'redis-aof-disk', 'bare', 'capykv-pm', 'capykv-disk']
export const ALL_SERVERS: readonly ServerKind[] = [...DEFAULT_SERVERS, 'bare-net']
export const ALL_TESTS = ['set', 'get', 'incr', 'lpush', 'rpush', 'lpop', 'sadd', 'hset', 'zadd',
  'lrange_100', 'mset', 'evalsha_get', 'evalsha_incr2'] as const
type Test = typeof ALL_TESTS[number]
const WRITE_TESTS: ReadonlySet<string> =
  new Set(['set', 'incr', 'lpush', 'rpush', 'lpop', 'sadd', 'hset', 'zadd', 'mset', 'evalsha_incr2'])

/** The script tests: their Lua body and the EVALSHA arguments after the SHA. */
const SCRIPTS: Readonly<Partial<Record<Test, { lua: string; args: readonly string[] }>>> = {
  evalsha_get: { lua: "return redis.call('GET', KEYS[1])", args: ['1', 'key:__rand_int__'] },
  evalsha_incr2: { lua: "redis.call('INCR', KEYS[1]) return redis.call('INCR', KEYS[2])",
    args: ['2', 'counter:__rand_int__', 'counter2:__rand_int__'] },
}

interface Config {
  id: string
  clients: number
  pipeline: number
  tests: readonly Test[]
  /** Requests per calibration run, and per run in --smoke. */
  calibrationN: number
  smokeN: number
}

const CONFIGS: readonly Config[] = [
  { id: 'c50-P1', clients: 50, pipeline: 1, tests: ALL_TESTS, calibrationN: 5000, smokeN: 500 },
  { id: 'c50-P16', clients: 50, pipeline: 16, tests: ALL_TESTS, calibrationN: 30000, smokeN: 1600 },
  { id: 'c1', clients: 1, pipeline: 1, tests: ['set', 'get'], calibrationN: 2000, smokeN: 100 },
]

const VALUE_BYTES = 100
const KEYSPACE = 100000
const N_MIN = 1000
const N_MAX = 5_000_000

interface Options {
  smoke: boolean
  rounds: number
  seconds: number
  servers: ServerKind[]
  tests: Set<string>
  configs: Config[]
  poolSize: string
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const list = (name: string): string[] | undefined => value(name)?.split(',').filter((s) => s !== '')
  const smoke = argv.includes('--smoke')
  const servers = (list('--servers') ?? [...DEFAULT_SERVERS]) as ServerKind[]
  for (const s of servers) {
    if (!ALL_SERVERS.includes(s)) throw new Error(`unknown server ${s} (${ALL_SERVERS.join(', ')})`)
  }
  const tests = new Set(list('--tests') ?? ALL_TESTS)
  for (const t of tests) {
    if (!(ALL_TESTS as readonly string[]).includes(t)) throw new Error(`unknown test ${t}`)
  }
  const configIds = list('--configs') ?? CONFIGS.map((c) => c.id)
  const configs = CONFIGS.filter((c) => configIds.includes(c.id))
  return {
    smoke,
    rounds: smoke ? 1 : Number(value('--rounds') ?? 3),
    seconds: Number(value('--seconds') ?? 1.5),
    servers,
    tests,
    configs,
    poolSize: value('--pool-size') ?? (smoke ? '256mb' : '1gb'),
  }
}

// ---- redis-benchmark -------------------------------------------------------------------------

interface RunResult {
  rps: number
  p50Ms: number
  p99Ms: number
  requests: number
  cpuSeconds: number
  userSeconds: number
  sysSeconds: number
  wallSeconds: number
}

class BenchError extends Error {}

function runProcess(cmd: string, args: string[], timeoutMs: number):
  Promise<{ code: number | null; out: string; timedOut: boolean }> {
  return new Promise((resolveRun) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let timedOut = false
    proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
    proc.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const timer = setTimeout(() => {
      timedOut = true
      proc.kill('SIGKILL')
    }, timeoutMs)
    proc.on('close', (code) => {
      clearTimeout(timer)
      resolveRun({ code, out, timedOut })
    })
  })
}

function benchArgs(port: number, config: Config, test: Test, n: number): string[] {
  const common = ['-h', '127.0.0.1', '-p', String(port), '-c', String(config.clients),
    '-P', String(config.pipeline), '-n', String(n), '-d', String(VALUE_BYTES), '-r',
    String(KEYSPACE), '--csv']
  const script = SCRIPTS[test]
  if (script !== undefined) return [...common, 'EVALSHA', sha1hex(script.lua), ...script.args]
  return test === 'lrange_100' ? [...common, 'lrange', 'mylist', '0', '99'] : [...common, '-t', test]
}

function sha1hex(text: string): string {
  return createHash('sha1').update(text).digest('hex')
}

/** SCRIPT LOAD of a script test's body (outside the measured window). */
async function loadScript(server: Running, lua: string): Promise<void> {
  const body = Buffer.from(lua)
  const request = `*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$${body.length}\r\n${lua}\r\n`
  const reply = await rawCommand(server.port, request, 10_000)
  if (!reply.startsWith(`$40\r\n${sha1hex(lua)}`)) {
    throw new BenchError(`${server.kind}: SCRIPT LOAD answered ${JSON.stringify(reply)}`)
  }
}

/** Parses redis-benchmark --csv: the first data row. */
function parseCsv(out: string): { rps: number; p50Ms: number; p99Ms: number } | null {
  for (const line of out.split('\n')) {
    const cells = line.trim().split('","').map((c) => c.replace(/^"|"$/g, ''))
    if (cells.length < 8 || cells[0] === 'test') continue
    const rps = Number(cells[1])
    if (!Number.isFinite(rps)) continue
    return { rps, p50Ms: Number(cells[4]), p99Ms: Number(cells[6]) }
  }
  return null
}

async function benchmark(server: Running, config: Config, test: Test, n: number,
  timeoutMs: number): Promise<RunResult> {
  if (test === 'lrange_100') {
    // The list LRANGE reads: at least 100 elements, pushed outside the measured window.
    const prep = await runProcess('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port),
      '-c', '1', '-n', '100', '-d', String(VALUE_BYTES), '-t', 'lpush', '--csv'], timeoutMs)
    checkOutput(server, 'lpush (lrange prep)', prep)
  }
  const script = SCRIPTS[test]
  if (script !== undefined) await loadScript(server, script.lua)
  const cpu0 = cpuTimes(server.pid)
  const t0 = performance.now()
  const run = await runProcess('redis-benchmark', benchArgs(server.port, config, test, n), timeoutMs)
  const wallSeconds = (performance.now() - t0) / 1000
  const cpu1 = exitedServer(server) ? cpu0 : cpuTimes(server.pid)
  checkOutput(server, `${config.id} ${test}`, run)
  const parsed = parseCsv(run.out)
  if (parsed === null) {
    throw new BenchError(`${server.kind} ${config.id} ${test}: no result from redis-benchmark:\n${run.out}`)
  }
  const userSeconds = cpu1.user - cpu0.user
  const sysSeconds = cpu1.sys - cpu0.sys
  return { ...parsed, requests: n, cpuSeconds: userSeconds + sysSeconds, userSeconds, sysSeconds,
    wallSeconds }
}

function exitedServer(server: Running): boolean {
  return server.proc.exitCode !== null || server.proc.signalCode !== null
}

function checkOutput(server: Running, what: string,
  run: { code: number | null; out: string; timedOut: boolean }): void {
  if (exitedServer(server)) {
    throw new BenchError(`${server.kind} died during ${what}:\n${server.log().slice(-4000)}`)
  }
  if (run.timedOut) throw new BenchError(`${server.kind} ${what}: redis-benchmark timed out`)
  if (run.code !== 0 || /error|could not connect/i.test(run.out)) {
    throw new BenchError(`${server.kind} ${what}: redis-benchmark reported:\n${run.out.slice(0, 2000)}`)
  }
}

// ---- statistics ------------------------------------------------------------------------------

interface Sample extends RunResult {
  round: number
  cpuUsPerRequest: number
}

interface Summary {
  rps: number
  rpsSpread: number
  cpuUsPerRequest: number
  cpuSpread: number
  /** Medians of user and of system CPU per request (NaN in results from before they were kept). */
  userUsPerRequest: number
  sysUsPerRequest: number
  p50Ms: number
  p99Ms: number
  samples: Sample[]
}

type Key = `${string}|${string}|${string}`
const key = (server: string, config: string, test: string): Key => `${server}|${config}|${test}`

function summarize(samples: Sample[]): Summary {
  const rps = samples.map((s) => s.rps)
  const cpu = samples.map((s) => s.cpuUsPerRequest)
  return {
    rps: median(rps), rpsSpread: spread(rps),
    cpuUsPerRequest: median(cpu), cpuSpread: spread(cpu),
    userUsPerRequest: median(samples.map((s) => (s.userSeconds ?? NaN) * 1e6 / s.requests)),
    sysUsPerRequest: median(samples.map((s) => (s.sysSeconds ?? NaN) * 1e6 / s.requests)),
    p50Ms: median(samples.map((s) => s.p50Ms)), p99Ms: median(samples.map((s) => s.p99Ms)),
    samples,
  }
}

/** Median over rounds of a(round) / b(round), pairing samples of the same round. */
function pairedRatio(a: Sample[] | undefined, b: Sample[] | undefined,
  metric: (s: Sample) => number): { ratio: number; spread: number } | null {
  if (a === undefined || b === undefined) return null
  const ratios: number[] = []
  for (const s of a) {
    const t = b.find((x) => x.round === s.round)
    if (t !== undefined && metric(t) > 0) ratios.push(metric(s) / metric(t))
  }
  if (ratios.length === 0) return null
  return { ratio: median(ratios), spread: spread(ratios) }
}

// ---- the run ---------------------------------------------------------------------------------

async function measureServer(kind: ServerKind, options: Options, round: number,
  nFor: (config: Config, test: Test) => number, record: (c: Config, t: Test, r: RunResult) => void):
  Promise<void> {
  const server = await startServer(kind, { poolSize: options.poolSize })
  const timeoutMs = options.smoke ? 30_000 : Math.max(120_000, options.seconds * 20_000)
  try {
    if (!options.smoke && round > 0) {
      // Warm the fresh process (JIT, pool pages) before anything is measured.
      const warm = CONFIGS.find((c) => c.id === 'c50-P16') as Config
      for (const t of ['set', 'get', 'lpush'] as const) {
        await benchmark(server, warm, t, Math.min(nFor(warm, t), 50000), timeoutMs)
      }
    }
    for (const config of options.configs) {
      for (const test of config.tests) {
        if (!options.tests.has(test)) continue
        if (SCRIPTS[test] !== undefined && !hasScripts(kind)) continue
        const r = await benchmark(server, config, test, nFor(config, test), timeoutMs)
        record(config, test, r)
      }
    }
  } finally {
    await server.stop()
  }
}

/** The bare floors (bench/bare.ts) answer no scripts. */
function hasScripts(kind: ServerKind): boolean {
  return kind !== 'bare' && kind !== 'bare-net'
}

function fmtCell(s: Summary | undefined, pick: 'rps' | 'cpu' | 'p50' | 'p99'): string {
  if (s === undefined) return '–'
  switch (pick) {
    case 'rps': return `${fmtRate(s.rps)} ±${(s.rpsSpread * 50).toFixed(0)}%`
    case 'cpu': return `${s.cpuUsPerRequest.toFixed(2)} ±${(s.cpuSpread * 50).toFixed(0)}%`
    case 'p50': return s.p50Ms.toFixed(3)
    case 'p99': return s.p99Ms.toFixed(3)
  }
}

const fmtRatio = (r: { ratio: number } | null): string => r === null ? '–' : `${r.ratio.toFixed(2)}×`

interface Target {
  target: string
  measured: string
  met: boolean | null
}

/** A results file written by an earlier run (--report re-renders its tables and chart). */
interface ResultsFile {
  startedAt: string
  smoke: boolean
  argv: string[]
  machine: ReturnType<typeof machine> & { redis: { server: string; benchmark: string } }
  settings: { rounds: number; seconds: number; poolSize: string; configs: Config[]; servers: ServerKind[] }
  summaries: Record<string, Summary>
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const reportAt = argv.indexOf('--report')
  if (reportAt >= 0) {
    const file = argv[reportAt + 1]
    if (file === undefined) throw new BenchError('--report needs a results .json file')
    await report(JSON.parse(readFileSync(file, 'utf8')) as ResultsFile)
    return
  }
  const options = parseOptions(argv)
  const versions = redisVersions()
  if (versions === null) {
    const reason = 'redis-server or redis-benchmark not found on PATH (Debian: apt-get install ' +
      'redis-server redis-tools): nothing to compare against'
    if (options.smoke && process.env.CI !== 'true') {
      process.stdout.write(`bench --smoke skipped: ${reason}\n`)
      return
    }
    throw new BenchError(reason)
  }
  const startedAt = new Date()
  const samples = new Map<Key, Sample[]>()
  const calibrated = new Map<Key, number>()
  const nFor = (server: ServerKind) => (config: Config, test: Test): number => {
    if (options.smoke) return config.smokeN
    return calibrated.get(key(server, config.id, test)) ?? config.calibrationN
  }
  const log = (line: string): void => { process.stdout.write(`${line}\n`) }
  log(`capykv compare: ${options.smoke ? 'smoke' : `${options.rounds} rounds + calibration`}, ` +
    `servers ${options.servers.join(' ')}; ${versions.server}`)

  const firstRound = options.smoke ? 1 : 0
  for (let round = firstRound; round <= options.rounds; round++) {
    for (const kind of options.servers) {
      const t0 = performance.now()
      await measureServer(kind, options, round, nFor(kind), (config, test, r) => {
        const k = key(kind, config.id, test)
        if (round === 0) {
          const n = Math.round(r.rps * options.seconds / 1000) * 1000
          calibrated.set(k, Math.min(N_MAX, Math.max(N_MIN, n)))
          return
        }
        const list = samples.get(k) ?? []
        list.push({ ...r, round, cpuUsPerRequest: r.cpuSeconds * 1e6 / r.requests })
        samples.set(k, list)
      })
      log(`  round ${round}${round === 0 ? ' (calibration)' : ''}: ${kind} done in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`)
    }
  }

  await render(options, versions, machine(), startedAt, samples, true)
}

/** --report: the tables and chart of an earlier run, from its results file. */
async function report(results: ResultsFile): Promise<void> {
  const options = parseOptions(results.argv)
  options.rounds = results.settings.rounds
  options.servers = results.settings.servers
  options.configs = results.settings.configs
  const samples = new Map<Key, Sample[]>()
  for (const [k, summary] of Object.entries(results.summaries)) samples.set(k as Key, summary.samples)
  await render(options, results.machine.redis, results.machine, new Date(results.startedAt), samples,
    false)
}

/** Summaries, ratios, targets; the markdown (printed), the chart, and the JSON when `save`. */
async function render(options: Options, versions: { server: string; benchmark: string },
  m: ReturnType<typeof machine>, startedAt: Date, samples: Map<Key, Sample[]>, save: boolean):
  Promise<void> {
  const log = (line: string): void => { process.stdout.write(`${line}\n`) }
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
  const summaries: Record<string, Summary> = {}
  for (const [k, list] of samples) summaries[k] = summarize(list)
  const sum = (server: string, config: string, test: string): Summary | undefined =>
    summaries[key(server, config, test)]
  const ratio = (a: string, b: string, config: string, test: string,
    metric: (s: Sample) => number = (s) => s.rps) =>
    pairedRatio(samples.get(key(a, config, test)), samples.get(key(b, config, test)), metric)
  const has = (s: ServerKind): boolean => options.servers.includes(s)

  const ratios: Record<string, { ratio: number; spread: number } | null> = {}
  const keepRatio = (name: string, r: { ratio: number; spread: number } | null) => {
    ratios[name] = r
    return r
  }

  const throughputRows: string[][] = []
  const cpuRows: string[][] = []
  const splitRows: string[][] = []
  const latencyRows: string[][] = []
  const chartRows: { config: string; test: string; server: string; metric: string; value: number }[] = []
  for (const config of options.configs) {
    for (const test of config.tests) {
      if (!options.tests.has(test)) continue
      const tag = `${config.id} ${test}`
      for (const s of options.servers) {
        if (s === 'redis') continue
        const rr = keepRatio(`${s}/redis rps ${tag}`, ratio(s, 'redis', config.id, test))
        const cr = keepRatio(`${s}/redis cpu ${tag}`,
          ratio(s, 'redis', config.id, test, (x) => x.cpuUsPerRequest))
        if (config.id !== 'c1') {
          if (rr !== null) chartRows.push({ config: config.id, test, server: s, metric: 'requests/s ÷ Redis', value: rr.ratio })
          if (cr !== null) chartRows.push({ config: config.id, test, server: s, metric: 'server CPU per request ÷ Redis', value: cr.ratio })
        }
      }
      const pmAof = keepRatio(`capykv-pm/redis-aof-shm rps ${tag}`,
        ratio('capykv-pm', 'redis-aof-shm', config.id, test))
      const diskAof = keepRatio(`capykv-disk/redis-aof-disk rps ${tag}`,
        ratio('capykv-disk', 'redis-aof-disk', config.id, test))
      if (config.id === 'c1') {
        const p50 = keepRatio(`capykv-pm/redis p50 ${tag}`,
          ratio('capykv-pm', 'redis', config.id, test, (x) => x.p50Ms))
        latencyRows.push([test, ...options.servers.map((s) =>
          sum(s, config.id, test) === undefined ? '–'
            : `${fmtCell(sum(s, config.id, test), 'p50')} / ${fmtCell(sum(s, config.id, test), 'p99')}`),
        fmtRatio(p50)])
        continue
      }
      throughputRows.push([config.id, test, ...options.servers.map((s) => fmtCell(sum(s, config.id, test), 'rps')),
        fmtRatio(ratios[`capykv-pm/redis rps ${tag}`] ?? null),
        WRITE_TESTS.has(test) ? fmtRatio(pmAof) : '',
        WRITE_TESTS.has(test) ? fmtRatio(diskAof) : '',
        fmtRatio(ratios[`bare/redis rps ${tag}`] ?? null)])
      cpuRows.push([config.id, test, ...options.servers.map((s) => fmtCell(sum(s, config.id, test), 'cpu')),
        fmtRatio(ratios[`capykv-pm/redis cpu ${tag}`] ?? null),
        fmtRatio(ratios[`capykv-disk/redis cpu ${tag}`] ?? null),
        fmtRatio(ratios[`bare/redis cpu ${tag}`] ?? null),
        fmtRatio(keepRatio(`capykv-pm/bare cpu ${tag}`,
          ratio('capykv-pm', 'bare', config.id, test, (x) => x.cpuUsPerRequest)))])
      splitRows.push([config.id, test, ...options.servers.map((s) => {
        const x = sum(s, config.id, test)
        return x === undefined || !Number.isFinite(x.userUsPerRequest) ? '–'
          : `${x.userUsPerRequest.toFixed(2)} / ${x.sysUsPerRequest.toFixed(2)}`
      })])
    }
  }

  // ---- targets (issue 6) -----------------------------------------------------------------------
  const targets: Target[] = []
  const r = (name: string) => ratios[name] ?? null
  const addTarget = (target: string, value: { ratio: number } | null, ok: (x: number) => boolean) => {
    targets.push({ target, measured: fmtRatio(value), met: value === null ? null : ok(value.ratio) })
  }
  if (!options.smoke && has('capykv-pm') && has('redis')) {
    for (const t of ['set', 'incr', 'lpush', 'get']) {
      addTarget(`-P 16 ${t.toUpperCase()}: capykv-pm ≥ 0.8× Redis (no persistence)`,
        r(`capykv-pm/redis rps c50-P16 ${t}`), (x) => x >= 0.8)
    }
    if (has('redis-aof-shm')) {
      for (const t of ['set', 'incr', 'lpush']) {
        addTarget(`-P 16 ${t.toUpperCase()}: capykv-pm ≥ 1.1× Redis AOF always on /dev/shm`,
          r(`capykv-pm/redis-aof-shm rps c50-P16 ${t}`), (x) => x >= 1.1)
      }
    }
    for (const [config, limit] of [['c50-P1', 1.0], ['c50-P16', 1.3]] as const) {
      const cpuRatios = ALL_TESTS.filter((t) => options.tests.has(t))
        .map((t) => ({ t, v: r(`capykv-pm/redis cpu ${config} ${t}`) }))
        .filter((x): x is { t: Test; v: { ratio: number; spread: number } } => x.v !== null)
      if (cpuRatios.length === 0) continue
      const worst = cpuRatios.reduce((a, b) => (b.v.ratio > a.v.ratio ? b : a))
      const med = median(cpuRatios.map((x) => x.v.ratio))
      targets.push({
        target: `server CPU per request at ${config}: capykv-pm ≤ ${limit.toFixed(1)}× Redis (every test)`,
        measured: `median ${med.toFixed(2)}×, worst ${worst.v.ratio.toFixed(2)}× (${worst.t})`,
        met: worst.v.ratio <= limit,
      })
    }
    const p1 = ALL_TESTS.filter((t) => options.tests.has(t))
      .map((t) => ({ t, v: r(`capykv-pm/redis rps c50-P1 ${t}`) }))
      .filter((x): x is { t: Test; v: { ratio: number; spread: number } } => x.v !== null)
    if (p1.length > 0) {
      const worst = p1.reduce((a, b) => (b.v.ratio < a.v.ratio ? b : a))
      targets.push({
        target: '-c 50 -P 1: capykv-pm ≥ 1.0× Redis (every test)',
        measured: `median ${median(p1.map((x) => x.v.ratio)).toFixed(2)}×, worst ` +
          `${worst.v.ratio.toFixed(2)}× (${worst.t})`,
        met: worst.v.ratio >= 1.0,
      })
    }
    if (has('capykv-disk') && has('redis-aof-disk')) {
      addTarget('pool on a disk file: SET -P 16 ≥ 1.2× Redis AOF always on the same disk',
        r('capykv-disk/redis-aof-disk rps c50-P16 set'), (x) => x >= 1.2)
    }
    for (const t of ['set', 'get']) {
      addTarget(`-c 1 ${t.toUpperCase()}: p50 latency ≤ 1.2× Redis's`,
        r(`capykv-pm/redis p50 c1 ${t}`), (x) => x <= 1.2)
    }
  }

  const shortName: Record<ServerKind, string> = {
    redis: 'redis', 'redis-aof-shm': 'aof-shm', 'redis-aof-disk': 'aof-disk', bare: 'floor',
    'bare-net': 'floor-net', 'capykv-pm': 'capykv-pm', 'capykv-disk': 'capykv-disk',
  }
  const names = options.servers.map((s) => shortName[s])
  const roundsText = options.smoke ? 'smoke run (1 round, tiny n: not a measurement)'
    : `median of ${options.rounds} interleaved rounds; ±: half the spread (max − min) / median`
  const md: string[] = [
    `## capykv vs redis-server (${startedAt.toISOString()})`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.os}, node ${m.node}; ${versions.server}. ${roundsText}. ` +
    `Load average at the end: ${(m.loadAverage ?? []).map((x) => x.toFixed(1)).join(' / ')} (1/5/15 min; ` +
    'the machine is shared: compare ratios, not µs). ' +
    `redis-benchmark -d ${VALUE_BYTES} -r ${KEYSPACE}. Servers: ` +
    options.servers.map((s) => `**${shortName[s]}** = ${SERVER_LABELS[s]}`).join('; ') + '.',
    '',
    '### Requests per second',
    '',
    table(['config', 'test', ...names, 'pm/redis', 'pm/aof-shm', 'disk/aof-disk', 'floor/redis'],
      throughputRows),
    '',
    '### Server CPU per request (µs, user + sys of the server process)',
    '',
    table(['config', 'test', ...names, 'pm/redis', 'disk/redis', 'floor/redis', 'pm/floor'], cpuRows),
    '',
    '### The same, user / sys apart (µs per request, medians)',
    '',
    table(['config', 'test', ...names], splitRows),
    '',
  ]
  if (latencyRows.length > 0) {
    md.push('### Latency at -c 1 (ms, p50 / p99)', '',
      table(['test', ...names, 'pm/redis p50'], latencyRows), '')
  }
  if (targets.length > 0) {
    md.push('### Targets (issue 6)', '',
      table(['target', 'measured', 'met'], targets.map((t) =>
        [t.target, t.measured, t.met === null ? '–' : t.met ? 'yes' : '**no**'])), '')
  }
  md.push(`Command: \`npm run bench${options.smoke ? ' -- --smoke' : ''}\`` +
    (options.smoke ? '' : ` (${process.argv.slice(2).filter((a) => a !== '--report' &&
      !a.endsWith('.json')).join(' ') || 'defaults'})`), '')
  const markdown = md.join('\n')
  process.stdout.write(`\n${markdown}\n`)

  const outDir = options.smoke ? join(resultsDir, 'tmp') : resultsDir
  mkdirSync(outDir, { recursive: true })
  const base = options.smoke ? 'smoke' : stamp
  const json = {
    kind: 'capykv-compare', startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
    smoke: options.smoke, argv: process.argv.slice(2),
    machine: { ...m, redis: versions },
    settings: {
      rounds: options.rounds, seconds: options.seconds, valueBytes: VALUE_BYTES, keyspace: KEYSPACE,
      poolSize: options.poolSize, configs: options.configs, servers: options.servers,
    },
    summaries, ratios, targets,
  }
  if (save) writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(json, null, 2)}\n`)
  const latest = options.smoke ? 'smoke' : 'latest'
  writeFileSync(join(outDir, `${latest}.md`), `${markdown}\n`)
  if (chartRows.length > 0) {
    const svg = await renderSvg({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: { text: 'capykv and friends ÷ redis-server (no persistence)', subtitle:
        `${m.cpu}, ${m.cores} cores; redis-benchmark -c 50, -d 100; ${startedAt.toISOString().slice(0, 10)}` },
      data: { values: chartRows },
      facet: {
        row: { field: 'metric', type: 'nominal', title: null },
        column: { field: 'config', type: 'nominal', title: null, sort: ['c50-P1', 'c50-P16'] },
      },
      spec: {
        width: 420,
        height: 160,
        layer: [
          {
            mark: { type: 'bar' },
            encoding: {
              x: { field: 'test', type: 'nominal', title: null, sort: [...ALL_TESTS] },
              xOffset: { field: 'server', type: 'nominal', sort: options.servers },
              y: { field: 'value', type: 'quantitative', title: 'ratio to Redis' },
              color: { field: 'server', type: 'nominal', sort: options.servers, title: 'server' },
              tooltip: [{ field: 'server' }, { field: 'test' }, { field: 'value', format: '.2f' }],
            },
          },
          { mark: { type: 'rule', color: 'black', strokeDash: [4, 3] }, encoding: { y: { datum: 1 } } },
        ],
      },
      resolve: { scale: { y: 'independent' } },
    })
    writeFileSync(join(outDir, `${latest}.svg`), svg)
  }
  log(`results: ${join(outDir, `${base}.json`)}, ${join(outDir, `${latest}.md`)}` +
    (chartRows.length > 0 ? `, ${join(outDir, `${latest}.svg`)}` : ''))
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`)
  process.exitCode = 1
})
