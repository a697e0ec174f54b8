// Restart time and memory per key, capykv against redis-server (issue 6, "recovery and memory"):
// `node dist/bench/recovery-compare.js` [--keys 100000,1000000] [--rounds 3] [--smoke].
//
// For each N: load N keys (key:<i>, 100-byte values, pipelined SETs) into
//   capykv-pm     pool on /dev/shm, PMEM_IS_PMEM_FORCE=1
//   redis-plain   appendonly yes, AOF as written (plain commands), on /dev/shm
//   redis-rdb-aof appendonly yes, then BGREWRITEAOF: an RDB-preamble AOF, Redis's fastest format
// measure memory, then restart each server on the same directory `rounds` times, interleaved
// (capykv, redis-plain, redis-rdb-aof, capykv, ...), and time spawn → first +PONG (a server
// answering -LOADING is not ready). capykv is restarted after a clean stop (SIGTERM: it writes
// a final checkpoint) and after a crash (SIGKILL: recovery replays what the checkpoint lacks).
//
// Memory: capykv's DRAM = RSS − the resident part of the pool's mapping (/proc/PID/smaps);
// Redis's = RSS; per key both absolute (÷ N) and above the same server empty (Δ ÷ N), with
// Redis's used_memory per key and capykv's pool file bytes per key beside them.
//
// Output: bench/results/recovery-compare-<timestamp>.json, bench/results/recovery-compare.md
// (printed too). --smoke: 10k keys, one round, results under bench/results/tmp/.

import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { freePort, rawCommand } from '../test/helpers/servers.js'
import { machine, resultsDir, table } from './report.js'
import {
  commandFor, freshDir, median, redisVersions, residentOfMapping, rssBytes, type ServerKind,
} from './launch.js'

const VALUE = Buffer.alloc(100, 'v')

interface Proc {
  port: number
  pid: number
  exited: () => boolean
  log: () => string
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

type Variant = 'capykv-pm' | 'redis-plain' | 'redis-rdb-aof'

function kindOf(v: Variant): ServerKind {
  return v === 'capykv-pm' ? 'capykv-pm' : 'redis-aof-shm'
}

function extraArgs(v: Variant): string[] {
  // Loading with appendfsync everysec: the file is the same, the load is faster.
  return v === 'capykv-pm' ? [] : ['--appendfsync', 'everysec', '--aof-use-rdb-preamble',
    v === 'redis-rdb-aof' ? 'yes' : 'no']
}

/** Spawns `v` on `dir`; resolves with the time from spawn to the first +PONG. */
async function launch(v: Variant, dir: string, poolSize: string):
  Promise<{ proc: Proc; readyMs: number }> {
  const port = await freePort()
  const { cmd, args, env } = commandFor(kindOf(v), port, dir, { poolSize, args: extraArgs(v) })
  const t0 = performance.now()
  const child = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let text = ''
  const add = (d: Buffer): void => { if (text.length < 1 << 20) text += d.toString() }
  child.stdout.on('data', add)
  child.stderr.on('data', add)
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null
  const proc: Proc = {
    port, pid: child.pid ?? -1, exited, log: () => text,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (exited()) return
      const done = new Promise<void>((r) => child.once('exit', () => r()))
      child.kill(signal)
      const timer = setTimeout(() => { if (!exited()) child.kill('SIGKILL') }, 60_000)
      await done
      clearTimeout(timer)
    },
  }
  const deadline = t0 + 600_000
  for (;;) {
    if (exited()) throw new Error(`${v} exited during start:\n${text.slice(-3000)}`)
    const reply = await rawCommand(port, '*1\r\n$4\r\nPING\r\n', 1000)
    if (reply.startsWith('+PONG')) break
    if (performance.now() > deadline) throw new Error(`${v} not ready after 600 s`)
    await new Promise((r) => setTimeout(r, 2))
  }
  return { proc, readyMs: performance.now() - t0 }
}

/** Sends `argvs` pipelined over one connection; resolves with the replies as text. */
function commands(port: number, argvs: (string | Buffer)[][]): Promise<string> {
  return new Promise((resolveAll, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    let out = ''
    let replies = 0
    sock.on('data', (d) => {
      out += d.toString('latin1')
      replies = countReplies(out)
      if (replies >= argvs.length) {
        sock.destroy()
        resolveAll(out)
      }
    })
    sock.on('error', reject)
    sock.on('connect', () => sock.write(Buffer.concat(argvs.map(encode))))
  })
}

/** Top-level replies in `text` (simple, error, integer, bulk: what INFO, PING, SET answer). */
function countReplies(text: string): number {
  let n = 0
  let i = 0
  while (i < text.length) {
    const eol = text.indexOf('\r\n', i)
    if (eol < 0) break
    if (text[i] === '$') {
      const len = Number(text.slice(i + 1, eol))
      const end = len < 0 ? eol + 2 : eol + 2 + len + 2
      if (end > text.length) break
      i = end
    } else {
      i = eol + 2
    }
    n++
  }
  return n
}

function encode(argv: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)]
  for (const a of argv) {
    const b = typeof a === 'string' ? Buffer.from(a) : a
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/** SET key:0 … key:N-1 (100-byte values), batches of 1000 pipelined, 8 batches in flight. */
function load(port: number, keys: number): Promise<void> {
  const BATCH = 1000
  const WINDOW = 8
  return new Promise((resolveLoad, reject) => {
    const sock = net.connect(port, '127.0.0.1')
    let sent = 0
    let acked = 0
    let phase = 0 // bytes of the current "+OK\r\n" seen
    const OK = '+OK\r\n'
    const pump = (): void => {
      while (sent < keys && sent - acked < BATCH * WINDOW) {
        const end = Math.min(keys, sent + BATCH)
        const parts: Buffer[] = []
        for (let i = sent; i < end; i++) parts.push(encode(['SET', `key:${i}`, VALUE]))
        sock.write(Buffer.concat(parts))
        sent = end
      }
    }
    sock.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i++) {
        if (d[i] !== OK.charCodeAt(phase)) {
          sock.destroy()
          reject(new Error(`unexpected reply while loading: ${d.toString('latin1', i, i + 200)}`))
          return
        }
        phase++
        if (phase === OK.length) {
          phase = 0
          acked++
        }
      }
      if (acked === keys) {
        sock.destroy()
        resolveLoad()
      } else {
        pump()
      }
    })
    sock.on('error', reject)
    sock.on('connect', pump)
  })
}

function infoField(info: string, field: string): number {
  const m = new RegExp(`^${field}:(\\S+)`, 'm').exec(info)
  return m === null ? NaN : Number(m[1])
}

async function waitRewrite(port: number): Promise<void> {
  await commands(port, [['BGREWRITEAOF']])
  for (;;) {
    await new Promise((r) => setTimeout(r, 50))
    const info = await commands(port, [['INFO', 'persistence']])
    if (infoField(info, 'aof_rewrite_in_progress') === 0 &&
      infoField(info, 'aof_rewrite_scheduled') === 0) return
  }
}

interface Memory {
  rss: number
  poolResident: number
  dram: number
  usedMemory: number
}

async function memory(v: Variant, proc: Proc): Promise<Memory> {
  const rss = rssBytes(proc.pid)
  const poolResident = v === 'capykv-pm' ? residentOfMapping(proc.pid, 'capykv.pool') : 0
  // Redis: used_memory; capykv: the pool's log bytes in use (what the keys take in the pool).
  const usedMemory = v === 'capykv-pm'
    ? infoField(await commands(proc.port, [['INFO', 'all']]), 'pool_log_used_bytes')
    : infoField(await commands(proc.port, [['INFO', 'memory']]), 'used_memory')
  return { rss, poolResident, dram: rss - poolResident, usedMemory }
}

/**
 * capykv serves as soon as its log is walked and indexes keys in the background (the deferred
 * index): the ms until INFO says nothing is left to index. Memory is read only after this.
 */
async function waitIndexed(port: number): Promise<number> {
  const t0 = performance.now()
  const deadline = t0 + 600_000
  while (infoField(await commands(port, [['INFO', 'persistence']]), 'pool_index_pending_events') > 0) {
    if (performance.now() > deadline) throw new Error('capykv: keys not indexed after 600 s')
    await new Promise((r) => setTimeout(r, 2))
  }
  return performance.now() - t0
}

/** Where Redis states its own load time: the whole AOF (base + incr files), else the RDB. */
function redisLoadSeconds(log: string): number {
  const total = /DB loaded from append only file: ([0-9.]+) seconds/.exec(log)
  if (total !== null) return Number(total[1])
  const rdb = /DB loaded from disk: ([0-9.]+) seconds/.exec(log)
  return rdb === null ? NaN : Number(rdb[1])
}

interface VariantResult {
  variant: Variant
  keys: number
  loadSeconds: number
  emptyDram: number
  afterLoad: Memory
  afterRestart: Memory | null
  restartMs: number[]
  /** capykv: spawn → every key indexed (INFO pool_index_pending_events:0); Redis: = restartMs. */
  indexedMs: number[]
  crashRestartMs: number[]
  redisReportedLoadSeconds: number[]
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const smoke = argv.includes('--smoke')
  const keysList = (value('--keys') ?? (smoke ? '10000' : '100000,1000000')).split(',').map(Number)
  const rounds = smoke ? 1 : Number(value('--rounds') ?? 3)
  const poolSize = value('--pool-size') ?? (smoke ? '256mb' : '2gb')
  const versions = redisVersions()
  if (versions === null) {
    const reason = 'redis-server not found on PATH'
    if (smoke && process.env.CI !== 'true') {
      process.stdout.write(`recovery-compare --smoke skipped: ${reason}\n`)
      return
    }
    throw new Error(reason)
  }
  const variants: Variant[] = ['capykv-pm', 'redis-plain', 'redis-rdb-aof']
  const results: VariantResult[] = []
  const log = (s: string): void => { process.stdout.write(`${s}\n`) }

  for (const keys of keysList) {
    const dirs = new Map<Variant, string>()
    const byVariant = new Map<Variant, VariantResult>()
    try {
      for (const v of variants) {
        const dir = freshDir(kindOf(v))
        dirs.set(v, dir)
        const { proc } = await launch(v, dir, poolSize)
        try {
          const empty = await memory(v, proc)
          const t0 = performance.now()
          await load(proc.port, keys)
          const loadSeconds = (performance.now() - t0) / 1000
          if (v === 'redis-rdb-aof') await waitRewrite(proc.port)
          // Let background work (checkpoints, AOF fsync) settle before reading memory.
          await new Promise((r) => setTimeout(r, 1000))
          const afterLoad = await memory(v, proc)
          byVariant.set(v, {
            variant: v, keys, loadSeconds, emptyDram: empty.dram, afterLoad, afterRestart: null,
            restartMs: [], indexedMs: [], crashRestartMs: [], redisReportedLoadSeconds: [],
          })
          log(`  ${keys} keys: ${v} loaded in ${loadSeconds.toFixed(1)} s`)
        } finally {
          await proc.stop()
        }
      }
      for (let round = 0; round < rounds; round++) {
        for (const v of variants) {
          const r = byVariant.get(v) as VariantResult
          const dir = dirs.get(v) as string
          const { proc, readyMs } = await launch(v, dir, poolSize)
          r.restartMs.push(readyMs)
          r.indexedMs.push(v === 'capykv-pm' ? readyMs + await waitIndexed(proc.port) : readyMs)
          if (v !== 'capykv-pm') r.redisReportedLoadSeconds.push(redisLoadSeconds(proc.log()))
          if (round === rounds - 1) {
            await new Promise((res) => setTimeout(res, 500))
            r.afterRestart = await memory(v, proc)
          }
          if (v === 'capykv-pm') {
            // A crash, then the restart recovery makes of it.
            await proc.stop('SIGKILL')
            const again = await launch(v, dir, poolSize)
            r.crashRestartMs.push(again.readyMs)
            await again.proc.stop()
          } else {
            await proc.stop()
          }
          log(`  ${keys} keys, round ${round + 1}: ${v} ready in ${readyMs.toFixed(0)} ms` +
            (v === 'capykv-pm' ? `, after a crash ${(r.crashRestartMs.at(-1) ?? 0).toFixed(0)} ms` : ''))
        }
      }
    } finally {
      for (const dir of dirs.values()) rmSync(dir, { recursive: true, force: true })
    }
    results.push(...byVariant.values())
  }

  // ---- report -----------------------------------------------------------------------------------
  const m = machine()
  const perKey = (bytes: number, keys: number): string => (bytes / keys).toFixed(0)
  const restartRows = results.map((r) => [
    String(r.keys), r.variant, median(r.restartMs).toFixed(0), median(r.indexedMs).toFixed(0),
    r.variant === 'capykv-pm' ? median(r.crashRestartMs).toFixed(0) : '',
    r.variant === 'capykv-pm' ? '' : `${(median(r.redisReportedLoadSeconds) * 1000).toFixed(0)}`,
    (() => {
      const best = results.find((x) => x.keys === r.keys && x.variant === 'redis-rdb-aof')
      return best === undefined ? '–' : `${(median(r.restartMs) / median(best.restartMs)).toFixed(2)}× / ` +
        `${(median(r.indexedMs) / median(best.restartMs)).toFixed(2)}×`
    })(),
  ])
  const memRows = results.map((r) => {
    const after = r.afterRestart ?? r.afterLoad
    const redisRss = results.find((x) => x.keys === r.keys && x.variant === 'redis-rdb-aof')
    const redisAfter = redisRss?.afterRestart ?? redisRss?.afterLoad
    return [
      String(r.keys), r.variant, perKey(after.dram, r.keys), perKey(after.dram - r.emptyDram, r.keys),
      perKey(r.afterLoad.dram, r.keys),
      r.variant === 'capykv-pm' ? perKey(after.poolResident, r.keys) : '',
      perKey(after.usedMemory, r.keys),
      redisAfter === undefined ? '–' : `${(after.dram / redisAfter.dram).toFixed(2)}×`,
    ]
  })
  const targets: string[][] = []
  for (const keys of keysList) {
    const c = results.find((x) => x.keys === keys && x.variant === 'capykv-pm')
    const rr = results.find((x) => x.keys === keys && x.variant === 'redis-rdb-aof')
    if (c === undefined || rr === undefined || smoke) continue
    const ratio = median(c.restartMs) / median(rr.restartMs)
    const indexedRatio = median(c.indexedMs) / median(rr.restartMs)
    if (keys === 1_000_000) {
      targets.push([`restart with 1M keys ≤ Redis RDB-preamble AOF load (stretch ≤ 0.5×)`,
        `${ratio.toFixed(2)}× to serving; ${indexedRatio.toFixed(2)}× to every key indexed`,
        ratio <= 0.5 ? 'yes (stretch too)' : ratio <= 1 ? 'yes' : '**no**'])
    }
    const cd = (c.afterRestart ?? c.afterLoad).dram
    const rd = (rr.afterRestart ?? rr.afterLoad).dram
    targets.push([`DRAM per key ≤ 1.5× Redis RSS per key (${keys} keys)`,
      `${(cd / rd).toFixed(2)}× (${perKey(cd, keys)} B vs ${perKey(rd, keys)} B; above empty: ` +
      `${perKey(cd - c.emptyDram, keys)} B vs ${perKey(rd - rr.emptyDram, keys)} B)`,
      cd / rd <= 1.5 ? 'yes' : '**no**'])
  }
  const md = [
    `## Restart and memory: capykv vs redis-server (${new Date().toISOString()})`, '',
    `${m.cpu}, ${m.cores} cores, node ${m.node}; ${versions.server}. Keys key:<i> with 100-byte ` +
    `values; restart = spawn → first +PONG, median of ${rounds}. capykv: pool on /dev/shm, ` +
    `PMEM_IS_PMEM_FORCE=1; Redis: AOF on /dev/shm.`, '',
    '### Restart time (ms)', '',
    table(['keys', 'server', 'restart (serving)', 'all keys indexed', 'after crash (serving)',
      'Redis says it loaded in', '÷ Redis RDB-AOF (serving / indexed)'], restartRows), '',
    'capykv serves once its log is walked and checked; string keys are then indexed in the ' +
    'background (and on first access). "all keys indexed": spawn → INFO pool_index_pending_events:0.', '',
    '### Memory per key (bytes)', '',
    table(['keys', 'server', 'DRAM', 'DRAM above empty', 'DRAM after load', 'pool resident',
      'pool log used / used_memory', 'DRAM ÷ Redis RDB-AOF'], memRows), '',
    'DRAM: RSS minus the resident part of the pool mapping (capykv), RSS (Redis), after the last ' +
    'restart; "pool log used / used_memory": INFO pool_log_used_bytes per key for capykv, ' +
    'Redis\'s used_memory per key.', '',
  ]
  if (targets.length > 0) md.push('### Targets (issue 6)', '', table(['target', 'measured', 'met'], targets), '')
  md.push(`Command: \`node dist/bench/recovery-compare.js ${argv.join(' ')}\``, '')
  const markdown = md.join('\n')
  process.stdout.write(`\n${markdown}\n`)
  const outDir = smoke ? join(resultsDir, 'tmp') : resultsDir
  mkdirSync(outDir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  writeFileSync(join(outDir, smoke ? 'recovery-compare-smoke.json' : `recovery-compare-${stamp}.json`),
    `${JSON.stringify({ kind: 'capykv-recovery-compare', machine: { ...m, redis: versions }, keys: keysList,
      rounds, poolSize, results }, null, 2)}\n`)
  writeFileSync(join(outDir, smoke ? 'recovery-compare-smoke.md' : 'recovery-compare.md'), `${markdown}\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`recovery-compare failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exitCode = 1
})
