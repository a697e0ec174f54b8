// Bytes allocated per request (issue 15, stage 2: "keep it near zero for GET/SET/INCR"):
//   node dist/bench/alloc.js [--server capykv-pm|bare|bare-net] [--dist DIST] [--tests set,get,incr]
//     [--pipeline 16] [--clients 50] [-n 300000]
//
// Starts the server with bench/alloc-probe.ts loaded (`node --import`), warms it with every test,
// then for each test signals the probe, runs redis-benchmark (-d 100 -r 100000), signals again,
// and divides the V8 heap bytes allocated in between by the requests. Also per test: GCs per
// 100k requests, GC time per request, and the longest GC pause. --dist measures another build's
// dist folder (as bench/ab.ts takes it).
// Invariants: the count covers V8's heap only (objects, strings, arrays, Buffer and typed-array
// objects), not ArrayBuffer backing stores outside it (see alloc-probe.ts); the few bytes the
// probe itself and idle timers allocate between the signals are counted, so a figure near zero
// is an upper bound.

import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { loadavg } from 'node:os'
import { projectRoot, table } from './report.js'
import { startServer, type Running, type ServerKind } from './launch.js'

function bench(args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const p = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    p.on('error', reject)
    p.on('close', (code) => {
      if (code !== 0 || /error|could not connect/i.test(out)) reject(new Error(out.slice(0, 2000)))
      else resolveRun(out)
    })
  })
}

interface Reading { bytes: number; gcs: number; gcMs: number; maxPauseMs: number }

let seq = 0
/** Signals the probe and waits for its line. */
async function read(server: Running): Promise<Reading> {
  seq++
  process.kill(server.pid, 'SIGUSR2')
  const deadline = performance.now() + 10_000
  while (performance.now() < deadline) {
    const m = new RegExp(`alloc-probe ${seq} (\\d+) (\\d+) ([\\d.]+) ([\\d.]+)`).exec(server.log())
    if (m !== null) {
      return { bytes: Number(m[1]), gcs: Number(m[2]), gcMs: Number(m[3]), maxPauseMs: Number(m[4]) }
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`no answer from the probe in ${server.kind}:\n${server.log().slice(-2000)}`)
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (name: string, fallback: string): string => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] ?? fallback : fallback
  }
  const kind = value('--server', 'capykv-pm') as ServerKind
  const dist = value('--dist', '')
  const tests = value('--tests', 'set,get,incr').split(',')
  const pipeline = value('--pipeline', '16')
  const clients = value('--clients', '50')
  const n = Number(value('-n', '300000'))
  const probe = pathToFileURL(join(projectRoot, 'dist', 'bench', 'alloc-probe.js')).href
  const server = await startServer(kind, { nodeFlags: [`--import=${probe}`],
    ...(dist === '' ? {} : { mainPath: join(dist, 'src', 'main.js') }) })
  const common = ['-h', '127.0.0.1', '-p', String(server.port), '-c', clients, '-P', pipeline,
    '-d', '100', '-r', '100000', '--csv']
  const rows: string[][] = []
  try {
    await bench([...common, '-n', String(Math.min(n, 200000)), '-t', tests.join(',')])
    for (const t of tests) {
      const a = await read(server)
      await bench([...common, '-n', String(n), '-t', t])
      const b = await read(server)
      const gcs = b.gcs - a.gcs
      rows.push([t, ((b.bytes - a.bytes) / n).toFixed(0), (gcs * 100000 / n).toFixed(1),
        ((b.gcMs - a.gcMs) * 1000 / n).toFixed(3), b.maxPauseMs.toFixed(2)])
    }
  } finally {
    await server.stop()
  }
  process.stdout.write(`${kind}${dist === '' ? '' : ` (${dist})`}: redis-benchmark -c ${clients} ` +
    `-P ${pipeline} -n ${n} -d 100 -r 100000; load average ${loadavg().map((x) => x.toFixed(1)).join('/')}\n` +
    `${table(['test', 'heap bytes/request', 'GCs per 100k req', 'GC µs/request', 'longest GC ms'], rows)}\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`alloc failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exitCode = 1
})
