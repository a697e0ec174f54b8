// A/B of two capykv builds under redis-benchmark: `node dist/bench/ab.js --a DIST_A --b DIST_B`
// [--tests set,get,incr,lpush] [--pipeline 16] [--clients 50] [-n 300000] [--rounds 5]
// [--server capykv-pm|capykv-disk] [--redis] [--node-flags-a '...'] [--node-flags-b '...'].
// --node-flags-x: space-separated node flags for build x (e.g. the same dist twice, once with
// --single-threaded-gc). DIST_x is a build's dist folder (holding
// src/main.js), e.g. a copy of dist/ taken before a change (it must sit under a folder whose
// package.json is capykv's, beside native/pmem.node, for the addon to load). Rounds alternate
// A B A B on fresh pools; per test it prints the median server CPU per request and requests/s of
// each, and B ÷ A (median of the per-round ratios): CPU per request is the figure that stays
// steady on a shared machine. --redis adds redis-server (no persistence) to every round and
// prints A and B as ratios to it (medians of per-round ratios), the way issue 6 states targets.

import { join } from 'node:path'
import { table } from './report.js'
import { cpuSeconds, median, spread, startServer, type ServerKind } from './launch.js'
import { spawn } from 'node:child_process'

function run(args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const p = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    p.on('error', reject)
    p.on('close', () => resolveRun(out))
  })
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (name: string, fallback?: string): string => {
    const i = argv.indexOf(name)
    const v = i >= 0 ? argv[i + 1] : fallback
    if (v === undefined) throw new Error(`${name} is required`)
    return v
  }
  const builds: Record<string, string | null> = { A: value('--a'), B: value('--b') }
  if (argv.includes('--redis')) builds.R = null
  const nodeFlags: Record<string, string[]> = {
    A: value('--node-flags-a', '').split(' ').filter((f) => f !== ''),
    B: value('--node-flags-b', '').split(' ').filter((f) => f !== ''),
  }
  const tests = value('--tests', 'set,get,incr,lpush').split(',')
  const pipeline = value('--pipeline', '16')
  const clients = value('--clients', '50')
  const n = Number(value('-n', '300000'))
  const rounds = Number(value('--rounds', '5'))
  const kind = value('--server', 'capykv-pm') as ServerKind
  type Sample = { cpu: number; rps: number }
  const samples: Record<string, Sample[]> = {}
  for (let round = 0; round < rounds; round++) {
    for (const [label, dist] of Object.entries(builds)) {
      const server = dist === null ? await startServer('redis')
        : await startServer(kind, { mainPath: join(dist, 'src', 'main.js'),
          nodeFlags: nodeFlags[label] ?? [] })
      try {
        // Warm the JIT before measuring.
        await run(['-p', String(server.port), '-c', clients, '-P', pipeline, '-n', '100000',
          '-d', '100', '-r', '100000', '-t', tests.join(','), '-q'])
        for (const t of tests) {
          const c0 = cpuSeconds(server.pid)
          const out = await run(['-p', String(server.port), '-c', clients, '-P', pipeline, '-n',
            String(n), '-d', '100', '-r', '100000', '-t', t, '--csv'])
          const cpu = cpuSeconds(server.pid) - c0
          const row = out.split('\n').find((l) => l.startsWith('"') && !l.startsWith('"test"'))
          if (row === undefined || /error/i.test(out)) throw new Error(`${label} ${t}: ${out}`)
          const rps = Number(row.split('","')[1])
          ;(samples[`${label} ${t}`] ??= []).push({ cpu: cpu * 1e6 / n, rps })
        }
      } finally {
        await server.stop()
      }
    }
    process.stdout.write(`round ${round + 1}/${rounds} done\n`)
  }
  const rows = tests.map((t) => {
    const a = samples[`A ${t}`] as Sample[]
    const b = samples[`B ${t}`] as Sample[]
    const cpuRatios = a.map((x, i) => (b[i] as Sample).cpu / x.cpu)
    const rpsRatios = a.map((x, i) => (b[i] as Sample).rps / x.rps)
    return [t, median(a.map((x) => x.cpu)).toFixed(2), median(b.map((x) => x.cpu)).toFixed(2),
      `${median(cpuRatios).toFixed(3)} ±${(spread(cpuRatios) * 50).toFixed(0)}%`,
      median(a.map((x) => x.rps)).toFixed(0), median(b.map((x) => x.rps)).toFixed(0),
      `${median(rpsRatios).toFixed(3)}`]
  })
  process.stdout.write(`\n${kind}, -c ${clients} -P ${pipeline} -n ${n}, ${rounds} rounds\n` +
    `${table(['test', 'A µs/req', 'B µs/req', 'B÷A cpu', 'A rps', 'B rps', 'B÷A rps'], rows)}\n`)
  if (builds.R === undefined) return
  const toRedis = (label: string, t: string, field: keyof Sample): number => {
    const r = samples[`R ${t}`] as Sample[]
    return median((samples[`${label} ${t}`] as Sample[]).map((x, i) => x[field] /
      (r[i] as Sample)[field]))
  }
  const redisRows = tests.map((t) => {
    const r = samples[`R ${t}`] as Sample[]
    return [t, median(r.map((x) => x.cpu)).toFixed(2), median(r.map((x) => x.rps)).toFixed(0),
      toRedis('A', t, 'cpu').toFixed(2), toRedis('B', t, 'cpu').toFixed(2),
      toRedis('A', t, 'rps').toFixed(2), toRedis('B', t, 'rps').toFixed(2)]
  })
  process.stdout.write(`\nagainst redis-server (no persistence), same rounds\n` +
    `${table(['test', 'Redis µs/req', 'Redis rps', 'A÷R cpu', 'B÷R cpu', 'A÷R rps', 'B÷R rps'],
      redisRows)}\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`ab failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exitCode = 1
})
