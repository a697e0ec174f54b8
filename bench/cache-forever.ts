// `node dist/bench/cache-forever.js [--sets 10000000] [--phases 4] [--pool 256mb]` — a cache
// that runs forever in a fixed pool (issue 17, "Must show" 2, at full scale; the kill -9 checks
// of what was acknowledged are test/process/evict-kill9.test.ts's, at test scale): capykv on
// emulated PM with a --pool pool, maxmemory 0 and allkeys-lru takes --sets SETs of random keys
// (redis-benchmark -t set -P 16 -c 50 -d 100 -r 1000000000) in --phases phases, killed with
// SIGKILL after each phase but the last and restarted on the same pool. After each phase:
// errors from the server (redis-benchmark prints them; INFO errorstats, commandstats
// rejected_calls), pool_out_of_space_refusals, evicted_keys, the keys held, the pool's log use
// against its ring; after each restart, the keys recovered and the restart time.

import { spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { Redis } from 'ioredis'
import { freshDir, startServer } from './launch.js'

function flag(name: string, fallback: string): string {
  const argv = process.argv.slice(2)
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] ?? fallback : fallback
}

const field = (info: string, name: string): string =>
  new RegExp(`^${name}:(.*)\r?$`, 'm').exec(info)?.[1] ?? ''

function benchmark(port: number, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-benchmark', ['-p', String(port), '-t', 'set', '-P', '16', '-c', '50',
      '-d', '100', '-r', '1000000000', '-n', String(n), '-q'])
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    p.on('error', reject)
    p.on('exit', () => resolve(out))
  })
}

async function main(): Promise<void> {
  const sets = Number(flag('--sets', '10000000'))
  const phases = Number(flag('--phases', '4'))
  const pool = flag('--pool', '256mb')
  const dir = freshDir('capykv-pm')
  const args = ['--maxmemory', '0', '--maxmemory-policy', 'allkeys-lru']
  console.log(`${sets} SETs in ${phases} phases, pool ${pool}, allkeys-lru, maxmemory 0; load ` +
    `${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log('| phase | SETs | server errors | refusals | evicted_keys | keys | log used / ring | ' +
    'restart ms | keys after kill -9 |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  let server = await startServer('capykv-pm', { dir, poolSize: pool, args, timeoutMs: 600_000 })
  try {
    for (let phase = 0; phase < phases; phase++) {
      const out = await benchmark(server.port, Math.floor(sets / phases))
      const errors = out.split('\n').filter((l) => /error/i.test(l)).length
      const c = new Redis({ port: server.port, host: '127.0.0.1' })
      const info = await c.info('all')
      const keys = await c.dbsize()
      c.disconnect()
      const rejected = /cmdstat_set:.*rejected_calls=(\d+)/.exec(info)?.[1] ?? '?'
      let restart = ''
      let recovered = ''
      if (phase < phases - 1) {
        server.proc.kill('SIGKILL')
        await new Promise((r) => server.proc.once('exit', r))
        const t0 = performance.now()
        server = await startServer('capykv-pm', { dir, poolSize: pool, args, timeoutMs: 600_000 })
        restart = (performance.now() - t0).toFixed(0)
        const r = new Redis({ port: server.port, host: '127.0.0.1' })
        recovered = String(await r.dbsize())
        r.disconnect()
      }
      console.log(`| ${phase + 1} | ${Math.floor(sets / phases)} | ${errors} (rejected ` +
        `${rejected}) | ${field(info, 'pool_out_of_space_refusals')} | ` +
        `${field(info, 'evicted_keys')} | ${keys} | ${field(info, 'pool_log_used_bytes')} / ` +
        `${field(info, 'pool_log_ring_bytes')} | ${restart} | ${recovered} |`)
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

void main()
