// Starting and measuring the servers that bench/compare.ts and bench/recovery-compare.ts put
// side by side: redis-server (no persistence, or AOF with appendfsync always), the Node floor
// (bench/bare.ts, two modes) and capykv, each a single process we spawn ourselves so that /proc/<pid> is the server.
//
// Invariants, and why:
// - Every server gets a fresh directory made here and removed on stop(); nothing is shared
//   between two starts, so a round never measures the previous round's data.
// - A server is stopped by its own pid (SIGTERM, then SIGKILL after a grace period), never by
//   name: other engineers run servers on this machine.
// - CPU is read from /proc/<pid>/stat (utime + stime of the whole process, threads included,
//   exited threads too), in clock ticks of CLK_TCK; a run is long enough that a tick is small.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, rawCommand } from '../test/helpers/servers.js'
import { modeEnv, poolDir, projectRoot, resultsDir } from './report.js'

export type ServerKind =
  | 'redis' | 'redis-aof-shm' | 'redis-aof-disk' | 'bare' | 'bare-net' | 'capykv-pm' | 'capykv-disk'

export const SERVER_LABELS: Record<ServerKind, string> = {
  redis: 'Redis, no persistence',
  'redis-aof-shm': 'Redis AOF always, /dev/shm',
  'redis-aof-disk': 'Redis AOF always, disk',
  bare: 'the Node floor (bench/bare.ts: onread, zero-allocation framing, strings in a typed-array table)',
  'bare-net': 'the Node floor, framing only (bench/bare.ts --mode net)',
  'capykv-pm': 'capykv, emulated PM (/dev/shm)',
  'capykv-disk': 'capykv, disk file (msync)',
}

export interface Running {
  kind: ServerKind
  port: number
  pid: number
  dir: string
  proc: ChildProcess
  log(): string
  stop(): Promise<void>
}

export const CLK_TCK: number = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const n = Number(r.stdout?.trim())
  return Number.isFinite(n) && n > 0 ? n : 100
})()

/** utime + stime of process `pid` in seconds. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid)
  return t.user + t.sys
}

/** utime and stime of process `pid` in seconds, apart (user: ours; sys: the kernel's for us). */
export function cpuTimes(pid: number): { user: number; sys: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK }
}

/** Resident set size of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  return m === null ? 0 : Number(m[1]) * 1024
}

/** Resident bytes of the mappings of `pid` whose path ends with `suffix` (from smaps). */
export function residentOfMapping(pid: number, suffix: string): number {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'latin1')
  } catch {
    return 0
  }
  let inside = false
  let total = 0
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inside = line.trimEnd().endsWith(suffix)
    } else if (inside && line.startsWith('Rss:')) {
      total += Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024
    }
  }
  return total
}

/** A directory on a disk (never tmpfs) for Redis's AOF. */
export function diskDir(tag: string): string {
  return poolDir('disk', tag)
}

export function shmDir(tag: string): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : join(resultsDir, 'tmp')
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, `capykv-bench-${tag}-`))
}

function collect(proc: ChildProcess): () => string {
  const chunks: string[] = []
  let size = 0
  const add = (d: Buffer): void => {
    if (size > 1 << 20) return
    chunks.push(d.toString())
    size += d.length
  }
  proc.stdout?.on('data', add)
  proc.stderr?.on('data', add)
  return () => chunks.join('')
}

function exited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null
}

function waitExit(proc: ChildProcess): Promise<void> {
  if (exited(proc)) return Promise.resolve()
  return new Promise((r) => proc.once('exit', () => r()))
}

/** Waits until PING answers +PONG; throws with the log if the process exits or time runs out. */
export async function waitPong(port: number, proc: ChildProcess, log: () => string,
  timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (exited(proc)) throw new Error(`server exited (${proc.exitCode ?? proc.signalCode}):\n${log()}`)
    const reply = await rawCommand(port, '*1\r\n$4\r\nPING\r\n', 500)
    if (reply.startsWith('+PONG')) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`server on port ${port} not ready after ${timeoutMs} ms:\n${log()}`)
}

export interface StartOptions {
  /** capykv --pool-size (default 1gb). */
  poolSize?: string
  /** Reuse this directory instead of a fresh one (kept on stop). */
  dir?: string
  /** Extra arguments. */
  args?: string[]
  /** Readiness timeout (default 60 s). */
  timeoutMs?: number
  /** Node flags for node servers (e.g. --cpu-prof). */
  nodeFlags?: string[]
  /** Extra environment. */
  env?: NodeJS.ProcessEnv
  /** capykv's main.js (default: this tree's dist/src/main.js), e.g. another build to compare. */
  mainPath?: string
}

/** Directory where `kind` keeps its data: same filesystem rules as DESIGN.md asks. */
export function freshDir(kind: ServerKind): string {
  switch (kind) {
    case 'redis-aof-disk': case 'capykv-disk': return diskDir(kind)
    default: return shmDir(kind)
  }
}

/** Command line and environment of `kind` on `port` with data in `dir`. */
export function commandFor(kind: ServerKind, port: number, dir: string, options: StartOptions = {}):
  { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  const extra = options.args ?? []
  switch (kind) {
    case 'redis': case 'redis-aof-shm': case 'redis-aof-disk': {
      const aof = kind === 'redis' ? ['--appendonly', 'no']
        // auto-aof-rewrite off: a rewrite forks a child whose CPU we would not count.
        : ['--appendonly', 'yes', '--appendfsync', 'always', '--auto-aof-rewrite-percentage', '0']
      return {
        cmd: 'redis-server',
        args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
          '--daemonize', 'no', '--logfile', '', ...aof, ...extra],
        env: { ...process.env, ...options.env },
      }
    }
    case 'bare': case 'bare-net':
      return {
        cmd: process.execPath,
        args: [...(options.nodeFlags ?? []), join(projectRoot, 'dist', 'bench', 'bare.js'),
          '--port', String(port), '--mode', kind === 'bare' ? 'kv' : 'net', ...extra],
        env: { ...process.env, ...options.env },
      }
    case 'capykv-pm': case 'capykv-disk':
      return {
        cmd: process.execPath,
        args: [...(options.nodeFlags ?? []),
          options.mainPath ?? join(projectRoot, 'dist', 'src', 'main.js'),
          '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
          '--pool-size', options.poolSize ?? '1gb', ...extra],
        env: { ...modeEnv(kind === 'capykv-pm' ? 'pm' : 'disk'), ...options.env },
      }
  }
}

/** Starts `kind` on a free port with a fresh directory (or options.dir); resolves once PING answers. */
export async function startServer(kind: ServerKind, options: StartOptions = {}): Promise<Running> {
  const ownDir = options.dir === undefined
  const dir = options.dir ?? freshDir(kind)
  const port = await freePort()
  const { cmd, args, env } = commandFor(kind, port, dir, options)
  const proc = spawn(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const log = collect(proc)
  const cleanup = (): void => {
    if (ownDir) rmSync(dir, { recursive: true, force: true })
  }
  const stop = async (): Promise<void> => {
    if (!exited(proc)) proc.kill('SIGTERM')
    const timer = setTimeout(() => {
      if (!exited(proc)) proc.kill('SIGKILL')
    }, 15_000)
    await waitExit(proc)
    clearTimeout(timer)
    cleanup()
  }
  try {
    await waitPong(port, proc, log, options.timeoutMs ?? 60_000)
  } catch (e) {
    if (!exited(proc)) proc.kill('SIGKILL')
    await waitExit(proc)
    cleanup()
    throw e
  }
  return { kind, port, pid: proc.pid ?? -1, dir, proc, log, stop }
}

/** `redis-server --version` and `redis-benchmark --version`, or null when missing. */
export function redisVersions(): { server: string; benchmark: string } | null {
  const s = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  const b = spawnSync('redis-benchmark', ['--version'], { encoding: 'utf8' })
  if (s.status !== 0 || b.status !== 0) return null
  return { server: s.stdout.trim(), benchmark: b.stdout.trim() }
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** (max − min) / median, as a fraction. */
export function spread(xs: readonly number[]): number {
  if (xs.length < 2) return 0
  return (Math.max(...xs) - Math.min(...xs)) / median(xs)
}

/**
 * Runs a tool (redis-benchmark, redis-cli) to its end: its stdout and stderr together, or an
 * error with them when it exits non-zero; killed after `timeoutMs` when given.
 */
export function runTool(cmd: string, args: string[], timeoutMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const timer = timeoutMs > 0 ? setTimeout(() => p.kill('SIGKILL'), timeoutMs) : undefined
    p.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${String(code)}:\n${out}`))
    })
  })
}
