// Shared test helpers: start a capykv server (the built dist/src/main.js) or a reference
// redis-server 7.0.15 on a free 127.0.0.1 port, wait until it answers PING, and stop it by its
// own pid only (never by name). Temporary directories created here are removed on stop()/kill().
// API (stable, used by every engineer's tests):
//   startCapykv({ dir?, args?, env?, poolSize?, port?, keepDir?, timeoutMs?, waitFor? })
//     → { port, pid, dir, proc, log(), stop(), kill() }
//   startRedis(args?) → { port, pid, stop() }
//   hasBinary(name) / requireBinary(t, name): skip with a visible reason, FAIL when CI=true.
// stop() sends SIGTERM and waits for exit (SIGKILL after a grace period); kill() is SIGKILL (a
// crash); both remove the dir only when the helper created it (a caller's `dir` is kept so a
// restart can reuse it — pass `keepDir: true` to keep a helper-made one too).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
/** The project root: the nearest folder above this file that holds package.json. */
function findRoot(start: string): string {
  let d = start
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d)
    if (up === d) throw new Error(`no package.json above ${start}`)
    d = up
  }
  return d
}
export const PROJECT_ROOT = findRoot(here)
export const SERVER_MAIN = join(PROJECT_ROOT, 'dist', 'src', 'main.js')

export interface CapykvServer {
  port: number
  pid: number
  dir: string
  proc: ChildProcess
  /** stdout + stderr collected so far. */
  log(): string
  /** SIGTERM, wait for exit (SIGKILL after graceMs); resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>
  /** SIGKILL (a crash); waits for exit. */
  kill(): Promise<void>
}

export interface RedisServer {
  port: number
  pid: number
  proc: ChildProcess
  log(): string
  stop(): Promise<void>
}

export interface StartCapykvOptions {
  /** Directory for the pool (kept after stop). Default: a fresh temp dir, removed on stop. */
  dir?: string
  /**
   * Extra command-line args (after --port/--dir), e.g. ['--requirepass', 'x']. A first element
   * not starting with '-' is a config file and is passed first, as capykv-server expects.
   */
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** Pool size for a new pool (default 64mb: tests should not allocate 1 GiB each). */
  poolSize?: string
  /** Port to use (default: a free one). */
  port?: number
  /** Keep a helper-made dir on stop()/kill() (e.g. to restart on the same pool). */
  keepDir?: boolean
  /** How long to wait for PING (default 30 s). */
  timeoutMs?: number
  /** Resolve as soon as the port accepts connections (even if PING says -LOADING). */
  waitFor?: 'pong' | 'listening'
}

/** A free TCP port on 127.0.0.1 (listen on 0, read the port, close). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolvePort(port))
    })
  })
}

/** One raw request over a fresh socket: resolves with the first reply chunk (or '' on close). */
export function rawCommand(port: number, payload: string | Buffer, waitMs = 2000): Promise<string> {
  return new Promise((resolveReply) => {
    const sock = net.connect(port, '127.0.0.1')
    let out = ''
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolveReply(out)
    }
    const timer = setTimeout(finish, waitMs)
    sock.on('connect', () => sock.write(payload))
    sock.on('data', (d) => {
      out += d.toString('latin1')
      if (out.endsWith('\r\n')) finish()
    })
    sock.on('error', finish)
    sock.on('close', finish)
  })
}

async function waitReady(port: number, proc: ChildProcess, timeoutMs: number,
  mode: 'pong' | 'listening', log: () => string): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`server exited (${proc.exitCode ?? proc.signalCode}) before ready:\n${log()}`)
    }
    const reply = await rawCommand(port, '*1\r\n$4\r\nPING\r\n', 500)
    if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) return
    if (mode === 'listening' && reply.length > 0) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`server on port ${port} not ready after ${timeoutMs} ms:\n${log()}`)
}

function waitExit(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode)
  return new Promise((r) => proc.once('exit', (code) => r(code)))
}

function collect(proc: ChildProcess): () => string {
  const chunks: string[] = []
  let size = 0
  const add = (d: Buffer): void => {
    if (size > 1 << 20) return // keep at most ~1 MiB of log
    chunks.push(d.toString())
    size += d.length
  }
  proc.stdout?.on('data', add)
  proc.stderr?.on('data', add)
  return () => chunks.join('')
}

/** Start capykv from the built tree on a free port; resolves once PING answers. */
export async function startCapykv(options: StartCapykvOptions = {}): Promise<CapykvServer> {
  const ownDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'capykv-test-'))
  const port = options.port ?? await freePort()
  // A config file (a first argument not starting with '-') must come before the options.
  const extra = options.args ?? []
  const file = extra.length > 0 && !(extra[0] as string).startsWith('-') ? [extra[0] as string] : []
  const args = [SERVER_MAIN, ...file, '--port', String(port), '--bind', '127.0.0.1',
    '--dir', dir, '--pool-size', options.poolSize ?? '64mb', ...extra.slice(file.length)]
  const proc = spawn(process.execPath, args, {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...(options.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log = collect(proc)
  const cleanup = (): void => {
    if (ownDir && options.keepDir !== true) rmSync(dir, { recursive: true, force: true })
  }
  const pid = proc.pid ?? -1
  try {
    await waitReady(port, proc, options.timeoutMs ?? 30_000, options.waitFor ?? 'pong', log)
  } catch (e) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    await waitExit(proc)
    cleanup()
    throw e
  }
  return {
    port, pid, dir, proc, log,
    async stop(graceMs = 10_000): Promise<number | null> {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      const timer = setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      }, graceMs)
      const code = await waitExit(proc)
      clearTimeout(timer)
      cleanup()
      return code
    },
    async kill(): Promise<void> {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await waitExit(proc)
      cleanup()
    },
  }
}

/** True when `name` is on PATH. */
export function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

/**
 * For tap: returns true when the binary exists. Otherwise, under CI=true it fails the test; else
 * it marks the test skipped with a visible reason.
 * Use: `if (!requireBinary(t, 'redis-cli')) return`
 */
export function requireBinary(t: object, name: string): boolean {
  if (hasBinary(name)) return true
  const tap = t as { fail(msg: string): unknown; skip(msg: string): unknown }
  const msg = `${name} not found on PATH`
  if (process.env.CI === 'true') tap.fail(`${msg} (required when CI=true)`)
  else tap.skip(`${msg}: skipped`)
  return false
}

/**
 * Start redis-server 7 on a free port without persistence; resolves once PING answers. A first
 * argument not starting with '-' is a config file and is passed first, as redis-server expects.
 */
export async function startRedis(args: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'redis-test-'))
  const file = args.length > 0 && !(args[0] as string).startsWith('-') ? [args[0] as string] : []
  const proc = spawn('redis-server', [...file, '--port', String(port), '--bind', '127.0.0.1',
    '--save', '', '--appendonly', 'no', '--dir', dir, ...args.slice(file.length)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const log = collect(proc)
  const pid = proc.pid ?? -1
  try {
    await waitReady(port, proc, 15_000, 'pong', log)
  } catch (e) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
    await waitExit(proc)
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
  return {
    port, pid, proc, log,
    async stop(): Promise<void> {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await waitExit(proc)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * A raw TCP client for byte-exact tests: send bytes, then read what arrives. `readFor(ms)`
 * collects until the socket has been quiet for `ms`; `closed` resolves when the server closes.
 */
export class RawClient {
  readonly socket: net.Socket
  private chunks: Buffer[] = []
  private waiters: (() => void)[] = []
  isClosed = false
  readonly closed: Promise<void>

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d)
      for (const w of this.waiters.splice(0)) w()
    })
    this.closed = new Promise((resolveClosed) => {
      socket.on('close', () => {
        this.isClosed = true
        for (const w of this.waiters.splice(0)) w()
        resolveClosed()
      })
    })
    socket.on('error', () => { /* surfaced as close */ })
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolveClient, reject) => {
      const sock = net.connect(port, '127.0.0.1')
      sock.once('connect', () => resolveClient(new RawClient(sock)))
      sock.once('error', reject)
    })
  }

  /** RESP-encode argv as a multibulk request. */
  static encode(...argv: (string | Buffer)[]): Buffer {
    const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)]
    for (const a of argv) {
      const b = typeof a === 'string' ? Buffer.from(a) : a
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
    }
    return Buffer.concat(parts)
  }

  send(data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Everything received so far (and forget it). */
  take(): Buffer {
    const b = Buffer.concat(this.chunks)
    this.chunks = []
    return b
  }

  /** Waits until `bytes` bytes arrived (or the socket closed, or timeoutMs), then take(). */
  async readBytes(bytes: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = performance.now() + timeoutMs
    while (this.buffered() < bytes && !this.isClosed && performance.now() < deadline) {
      await this.nextEvent(deadline - performance.now())
    }
    return this.take()
  }

  /** Waits until the received bytes end with `suffix` (or close/timeout), then take(). */
  async readUntil(suffix: string, timeoutMs = 5000): Promise<string> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const text = Buffer.concat(this.chunks).toString('latin1')
      if (text.endsWith(suffix) || this.isClosed || performance.now() >= deadline) break
      await this.nextEvent(deadline - performance.now())
    }
    return this.take().toString('latin1')
  }

  /** Sends a command and returns the reply bytes received until `quietMs` of silence. */
  async command(argv: (string | Buffer)[], quietMs = 100, timeoutMs = 5000): Promise<string> {
    this.send(RawClient.encode(...argv))
    return (await this.readFor(quietMs, timeoutMs)).toString('latin1')
  }

  /** Collects until the socket has been quiet for quietMs (at least one chunk awaited). */
  async readFor(quietMs: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = performance.now() + timeoutMs
    if (this.buffered() === 0 && !this.isClosed) await this.nextEvent(timeoutMs)
    for (;;) {
      const before = this.buffered()
      await new Promise((r) => setTimeout(r, quietMs))
      if (this.buffered() === before || this.isClosed || performance.now() >= deadline) break
    }
    return this.take()
  }

  private buffered(): number {
    let n = 0
    for (const c of this.chunks) n += c.length
    return n
  }

  private nextEvent(ms: number): Promise<void> {
    return new Promise((r) => {
      const timer = setTimeout(r, Math.max(1, ms))
      this.waiters.push(() => {
        clearTimeout(timer)
        r()
      })
    })
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Marks a tap test skipped with a visible reason (tap 21's typings want a subtest callback). */
export function skipWithReason(t: object, reason: string): void {
  (t as { skip(msg: string): unknown }).skip(reason)
}
