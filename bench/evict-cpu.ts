// `node dist/bench/evict-cpu.js` — what eviction costs in server CPU per SET (issue 17, "Must
// show" 5: ≤ 10 % at -P 16 with the cache full), beside redis-server 7.0.15 in the same run.
// For each server: one run with no maxmemory and one at `--maxmemory` under allkeys-lru, each
// first filled past maxmemory (--fill SETs of random keys, so the measured run evicts on every
// SET), then `redis-benchmark -t set -P 16 -c 50 -d 100 -r 100000000 -n --requests`; the
// server's utime + stime over the measured run (/proc/<pid>/stat) per SET. Reports µs per SET
// and the ratio evicting / not evicting for each server. Flags: --requests N (1000000)
// --fill N (400000) --maxmemory BYTES (20mb) --policy P (allkeys-lru) --runs N (1, medians)
// --servers capykv-pm,redis --profile (capykv evicting under --cpu-prof; the top self-time
// functions printed, as bench/profile.ts does) --main PATH (another build's dist/src/main.js).
// Invariants: servers are started here and stopped by pid; timings are only ever compared
// within one run.

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuSeconds, median, startServer, type ServerKind } from './launch.js'
import { summarize } from './profile.js'

function flag(name: string, fallback: string): string {
  const argv = process.argv.slice(2)
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] ?? fallback : fallback
}

function benchmark(port: number, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-benchmark', ['-p', String(port), '-t', 'set', '-P', '16', '-c', '50',
      '-d', '100', '-r', '100000000', '-n', String(n), '-q'], { stdio: 'ignore' })
    p.on('error', reject)
    p.on('exit', (code) => { if (code === 0) resolve(); else reject(new Error(`exit ${code}`)) })
  })
}

interface Run { usPerSet: number; evicted: number }

async function one(kind: ServerKind, maxmemory: string | null, o: Options): Promise<Run> {
  const args = maxmemory === null ? [] : ['--maxmemory', maxmemory, '--maxmemory-policy', o.policy]
  const profDir = o.profile && maxmemory !== null && kind !== 'redis'
    ? mkdtempSync(join(tmpdir(), 'capykv-evict-prof-')) : null
  const nodeFlags = profDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir]
  const mainPath = flag('--main', '')
  const server = await startServer(kind, { args, nodeFlags, poolSize: '2gb',
    ...(mainPath === '' ? {} : { mainPath }) })
  try {
    await benchmark(server.port, o.fill)
    const before = cpuSeconds(server.pid)
    const fromUs = Number(process.hrtime.bigint() / 1000n)
    await benchmark(server.port, o.requests)
    const toUs = Number(process.hrtime.bigint() / 1000n)
    const cpu = cpuSeconds(server.pid) - before
    const info = await new Promise<string>((resolve) => {
      const p = spawn('redis-cli', ['-p', String(server.port), 'info', 'stats'])
      let out = ''
      p.stdout.on('data', (d: Buffer) => { out += d.toString() })
      p.on('exit', () => resolve(out))
    })
    const evicted = Number(/evicted_keys:(\d+)/.exec(info)?.[1] ?? 0)
    await server.stop()
    if (profDir !== null) {
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
      if (file !== undefined) {
        const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Parameters<typeof summarize>[0]
        const s = summarize(profile, { fromUs, toUs })
        const top = [...s.selfByFunction].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)
        console.log(`profile of ${kind} evicting (self ms over the measured run):`)
        for (const [fn, v] of top) console.log(`  ${v.ms.toFixed(0).padStart(6)}  ${fn}`)
      }
      rmSync(profDir, { recursive: true, force: true })
    }
    return { usPerSet: (cpu * 1e6) / o.requests, evicted }
  } catch (e) {
    await server.stop()
    throw e
  }
}

interface Options {
  requests: number; fill: number; maxmemory: string; policy: string; runs: number
  servers: ServerKind[]; profile: boolean
}

async function main(): Promise<void> {
  const o: Options = {
    requests: Number(flag('--requests', '1000000')),
    fill: Number(flag('--fill', '400000')),
    maxmemory: flag('--maxmemory', '20mb'),
    policy: flag('--policy', 'allkeys-lru'),
    runs: Number(flag('--runs', '1')),
    servers: flag('--servers', 'capykv-pm,redis').split(',') as ServerKind[],
    profile: process.argv.includes('--profile'),
  }
  console.log(`SET -P 16 -c 50 -d 100 -r 1e8, ${o.requests} measured after ${o.fill} filling; ` +
    `maxmemory ${o.maxmemory} ${o.policy}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  for (const kind of o.servers) {
    const plain: number[] = []
    const evicting: number[] = []
    let evicted = 0
    for (let r = 0; r < o.runs; r++) {
      plain.push((await one(kind, null, o)).usPerSet)
      const e = await one(kind, o.maxmemory, o)
      evicting.push(e.usPerSet)
      evicted = e.evicted
    }
    const p = median(plain)
    const e = median(evicting)
    console.log(`${kind}: ${p.toFixed(2)} µs CPU per SET without maxmemory, ${e.toFixed(2)} ` +
      `evicting (${evicted} evicted): ${(100 * (e / p - 1)).toFixed(1)} %`)
  }
}

void main()
