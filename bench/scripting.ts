// EVALSHA beside redis-server 7.0.15, in the same run (issue 13): redis-benchmark sends EVALSHA of
// scripts doing 1 and 10 redis.call (reads), and the issue's 2-key write script, at -P 1 and
// -P 16 (-c 50), to Redis without persistence and to capykv on emulated PM (/dev/shm with
// PMEM_IS_PMEM_FORCE=1), optionally also to another capykv build (--baseline DIR: a checkout
// whose dist/src/main.js is run, e.g. /work/main before a change). Rounds are interleaved; the
// medians are reported as requests/s, server CPU µs per call (the whole process: the Lua
// thread's CPU counts) and the ratio to Redis.
// Usage: node dist/bench/scripting.js [--rounds N] [--requests N] [--baseline DIR]

import { join } from 'node:path'
import { rawCommand } from '../test/helpers/servers.js'
import {
  runTool,
  cpuTimes, median, redisVersions, startServer, type Running, type ServerKind,
} from './launch.js'
import { machine, table, writeResults } from './report.js'

interface Script { id: string; lua: string; keys: string[] }

const SCRIPTS: readonly Script[] = [
  { id: '1 call (GET)', lua: "return redis.call('GET', KEYS[1])", keys: ['bench:k'] },
  { id: '10 calls (GET)', lua: "local v for i = 1, 10 do v = redis.call('GET', KEYS[1]) end return v",
    keys: ['bench:k'] },
  { id: '2-key write (INCR, INCR)', lua: "redis.call('INCR', KEYS[1]) return redis.call('INCR', KEYS[2])",
    keys: ['bench:a', 'bench:b'] },
]
const PIPELINES = [1, 16] as const

interface Options { rounds: number; requests: number; baseline: string | null }

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { rounds: 3, requests: 20_000, baseline: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--rounds' && v !== undefined) { o.rounds = Number(v); i++ }
    else if (a === '--requests' && v !== undefined) { o.requests = Number(v); i++ }
    else if (a === '--baseline' && v !== undefined) { o.baseline = v; i++ }
    else throw new Error(`unknown option ${a ?? ''}`)
  }
  return o
}

const run = (cmd: string, args: string[]): Promise<string> => runTool(cmd, args, 300_000)

function bulk(parts: readonly string[]): string {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`
}

async function scriptLoad(port: number, lua: string): Promise<string> {
  const reply = await rawCommand(port, bulk(['SCRIPT', 'LOAD', lua]), 5000)
  const m = /^\$40\r\n([0-9a-f]{40})/.exec(reply)
  if (m === null) throw new Error(`SCRIPT LOAD on ${port}: ${reply}`)
  return m[1] as string
}

interface Sample { rps: number; cpuUs: number }

async function measure(server: Running, s: Script, sha: string, pipeline: number,
  requests: number): Promise<Sample> {
  await rawCommand(server.port, bulk(['MSET', 'bench:k', 'v', 'bench:a', '0', 'bench:b', '0']), 5000)
  const cpu0 = cpuTimes(server.pid)
  const out = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port), '-c', '50',
    '-P', String(pipeline), '-n', String(requests), '--csv', 'EVALSHA', sha, String(s.keys.length),
    ...s.keys])
  const cpu1 = cpuTimes(server.pid)
  for (const line of out.split('\n')) {
    const cells = line.trim().split('","').map((c) => c.replace(/^"|"$/g, ''))
    const rps = Number(cells[1])
    if (cells.length >= 2 && cells[0] !== 'test' && Number.isFinite(rps)) {
      const cpu = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys
      return { rps, cpuUs: cpu / requests * 1e6 }
    }
  }
  throw new Error(`no redis-benchmark result:\n${out}`)
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const versions = redisVersions()
  if (versions === null) {
    console.log('redis-server / redis-benchmark not found: nothing measured')
    return
  }
  const targets: { label: string; kind: ServerKind; mainPath?: string }[] = [
    { label: 'redis', kind: 'redis' },
    { label: 'capykv-pm', kind: 'capykv-pm' },
  ]
  if (options.baseline !== null) {
    targets.push({ label: 'baseline-pm', kind: 'capykv-pm',
      mainPath: join(options.baseline, 'dist', 'src', 'main.js') })
  }
  const samples = new Map<string, Sample[]>()
  for (let round = 0; round < options.rounds; round++) {
    for (const t of targets) {
      const server = await startServer(t.kind, t.mainPath === undefined ? {} : { mainPath: t.mainPath })
      try {
        for (const s of SCRIPTS) {
          const sha = await scriptLoad(server.port, s.lua)
          for (const p of PIPELINES) {
            const key = `${t.label}|${s.id}|${p}`
            const list = samples.get(key) ?? []
            list.push(await measure(server, s, sha, p, options.requests))
            samples.set(key, list)
          }
        }
      } finally {
        await server.stop()
      }
    }
  }
  const med = (label: string, s: Script, p: number, pick: keyof Sample): number =>
    median((samples.get(`${label}|${s.id}|${p}`) ?? []).map((x) => x[pick]))
  const rows: string[][] = []
  for (const s of SCRIPTS) {
    for (const p of PIPELINES) {
      const redis = med('redis', s, p, 'rps')
      const row = [`EVALSHA ${s.id}, -c 50 -P ${p}`]
      for (const t of targets) {
        row.push(`${Math.round(med(t.label, s, p, 'rps'))}/s, ${med(t.label, s, p, 'cpuUs').toFixed(1)} µs`)
      }
      for (const t of targets.slice(1)) row.push(`${(med(t.label, s, p, 'rps') / redis).toFixed(2)}×`)
      rows.push(row)
    }
  }
  const head = ['workload', ...targets.map((t) => `${t.label} (req/s, CPU/call)`),
    ...targets.slice(1).map((t) => `${t.label} ÷ redis`)]
  console.log(table(head, rows))
  const file = writeResults('scripting', { machine: machine(), versions, options,
    samples: Object.fromEntries(samples) })
  console.log(`raw samples: ${file}`)
}

await main()
