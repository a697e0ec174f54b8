// A real redis-server 7.0.15 for the RESP tests to compare against.
//
// Invariants, and why:
// - The oracle is the Debian redis-server on this machine, started on a free port bound to
//   127.0.0.1 with no persistence, and stopped by its own pid only (never by name), so that
//   tests never touch another process.
// - When redis-server is missing the tests that need it skip with a visible reason, except with
//   CI=true where a missing oracle is a failure (DESIGN.md, "Differential tests").
// - rawExchange sends raw bytes on a fresh connection and returns every byte Redis answered and
//   whether it closed the connection: the tests compare bytes, not parsed values.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import net from 'node:net'

export interface Oracle {
  readonly port: number
  readonly version: string
  stop(): Promise<void>
}

export interface Exchange {
  readonly bytes: Buffer
  readonly closed: boolean
}

export type OracleStart = { oracle: Oracle } | { skipReason: string }

/** The version of the redis-server on PATH, or null if there is none. */
function redisServerVersion(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) return null
  const match = /v=([0-9.]+)/.exec(probe.stdout)
  return match?.[1] ?? 'unknown'
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = ''
    const timer = setTimeout(
      () => reject(new Error(`redis-server not ready: ${output}`)), timeoutMs)
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8')
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited with ${String(code)}: ${output}`))
    })
  })
}

/** Starts a private redis-server, or says why the differential tests cannot run. */
export async function startOracle(): Promise<OracleStart> {
  const version = redisServerVersion()
  if (version === null) {
    const reason = 'redis-server is not installed: the differential tests need Redis 7.0.15'
    if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true makes this a failure)`)
    return { skipReason: reason }
  }
  const port = await freePort()
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--enable-debug-command', 'yes', '--loglevel', 'notice',
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  await waitForReady(child, 10_000)
  const stop = (): Promise<void> => new Promise((resolve) => {
    if (child.exitCode !== null || child.pid === undefined) {
      resolve()
      return
    }
    child.once('exit', () => resolve())
    process.kill(child.pid, 'SIGTERM')
  })
  return { oracle: { port, version, stop } }
}

/**
 * Sends `request` on a new connection and collects the answer until Redis closes the connection
 * or stays quiet for `quietMs`.
 */
export function rawExchange(port: number, request: Buffer, quietMs = 150): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let timer: NodeJS.Timeout | undefined
    let settled = false
    const finish = (closed: boolean): void => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      socket.destroy()
      resolve({ bytes: Buffer.concat(chunks), closed })
    }
    const arm = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      timer = setTimeout(() => finish(false), quietMs)
    }
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      arm()
    })
    socket.on('close', () => finish(true))
    socket.on('error', (error) => {
      if (!settled && chunks.length === 0) reject(error)
    })
    socket.on('connect', () => {
      socket.write(request)
      arm()
    })
  })
}

/** Sends one multibulk command and returns the raw reply (for commands with a single reply). */
export async function command(port: number, args: ReadonlyArray<string | Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  const answer = await rawExchange(port, Buffer.concat(parts))
  return answer.bytes
}

/**
 * A persistent connection that sends many commands and reads their replies in order; replies
 * are split by the caller-provided count of reply frames via a RESP reply scanner.
 */
export class OracleConnection {
  private readonly socket: net.Socket
  private pending = Buffer.alloc(0)
  private waiters: Array<() => void> = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk])
      const waiters = this.waiters
      this.waiters = []
      for (const wake of waiters) wake()
    })
  }

  static open(port: number): Promise<OracleConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => resolve(new OracleConnection(socket)))
      socket.once('error', reject)
    })
  }

  /** Sends raw bytes and returns the next `frames` complete reply frames, as raw bytes. */
  async send(request: Buffer, frames = 1): Promise<Buffer> {
    this.socket.write(request)
    for (;;) {
      const length = replyFramesLength(this.pending, frames)
      if (length >= 0) {
        const answer = this.pending.subarray(0, length)
        this.pending = this.pending.subarray(length)
        return Buffer.from(answer)
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Bytes taken by the first `frames` complete RESP2/RESP3 replies in buf, or -1 if incomplete. */
export function replyFramesLength(buf: Buffer, frames: number): number {
  let pos = 0
  let needed = frames
  while (needed > 0) {
    const lineEnd = buf.indexOf('\r\n', pos)
    if (lineEnd < 0) return -1
    const type = String.fromCharCode(buf[pos] ?? 0)
    const count = Number(buf.subarray(pos + 1, lineEnd).toString('latin1'))
    pos = lineEnd + 2
    needed--
    if (type === '$' || type === '=' || type === '!') {
      if (count >= 0) {
        pos += count + 2
        if (pos > buf.length) return -1
      }
    } else if (type === '*' || type === '~' || type === '>') {
      if (count > 0) needed += count
    } else if (type === '%' || type === '|') {
      needed += 2 * count
      if (type === '|') needed += 1 // an attribute precedes the reply it annotates
    }
  }
  return pos
}
