// MIGRATE's network side, on a worker thread (commands/migrate.ts is the caller): Redis's MIGRATE
// is synchronous — the server waits, up to the timeout per step, for the target's replies — so
// the main thread posts one job and sleeps in Atomics.wait on `ctrl[0]` until this thread has
// written the result on its results port (receiveMessageOnPort then reads it). Like Redis's migrateGetSocket, the
// connection to each host:port is cached with the db it last SELECTed and closed after 10 s
// unused; a cached connection that fails before any reply is retried once on a fresh one.
// Invariants: exactly one result per job, written before ctrl[0] is set to the job's id; every
// socket wait is bounded by the job's timeout.

import net from 'node:net'
import { parentPort, type MessagePort } from 'node:worker_threads'
import { nowMs } from '../clock.js'

export interface MigrateJob {
  id: number
  host: string
  port: number
  timeoutMs: number
  db: number
  /** AUTH's arguments (password, or username and password), or null. */
  auth: string[] | null
  /** The RESTORE commands, already in RESP. */
  restores: Buffer
  count: number
}

export interface MigrateResult {
  id: number
  /** 'connect': could not connect; 'write' / 'read': the socket failed (or timed out) there. */
  ioError: 'connect' | 'write' | 'read' | null
  authReply: string | null
  selectReply: string | null
  /** One status line per RESTORE answered (fewer after a socket error). */
  replies: string[]
}

const CACHE_TTL_MS = 10_000

interface Cached { socket: net.Socket; lastDb: number; lastUseMs: number; buffered: Buffer }
const cache = new Map<string, Cached>()

function encode(args: string[]): Buffer {
  const parts = [`*${args.length}\r\n`]
  for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`)
  return Buffer.from(parts.join(''))
}

function connect(host: string, port: number, timeoutMs: number): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const timer = setTimeout(() => { socket.destroy(); resolve(null) }, timeoutMs)
    socket.once('connect', () => { clearTimeout(timer); socket.setNoDelay(true); resolve(socket) })
    socket.once('error', () => { clearTimeout(timer); socket.destroy(); resolve(null) })
  })
}

function write(socket: net.Socket, data: Buffer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    socket.write(data, (err) => { clearTimeout(timer); resolve(err === undefined || err === null) })
  })
}

/** One reply line (without CRLF), or null on timeout, close or error. */
function readLine(c: Cached, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const take = (): boolean => {
      const end = c.buffered.indexOf('\r\n')
      if (end < 0) return false
      const line = c.buffered.toString('latin1', 0, end)
      c.buffered = c.buffered.subarray(end + 2)
      finish(line)
      return true
    }
    const onData = (chunk: Buffer): void => {
      c.buffered = Buffer.concat([c.buffered, chunk])
      take()
    }
    const onEnd = (): void => finish(null)
    const timer = setTimeout(() => finish(null), timeoutMs)
    function finish(line: string | null): void {
      clearTimeout(timer)
      c.socket.off('data', onData)
      c.socket.off('close', onEnd)
      c.socket.off('error', onEnd)
      resolve(line)
    }
    if (take()) return
    if (c.socket.destroyed) {
      finish(null)
      return
    }
    c.socket.on('data', onData)
    c.socket.once('close', onEnd)
    c.socket.once('error', onEnd)
  })
}

function drop(name: string): void {
  const c = cache.get(name)
  if (c !== undefined) c.socket.destroy()
  cache.delete(name)
}

async function attempt(job: MigrateJob, name: string): Promise<MigrateResult & { retry: boolean }> {
  const result = { id: job.id, ioError: null, authReply: null, selectReply: null, replies: [],
    retry: false } as MigrateResult & { retry: boolean }
  let c = cache.get(name)
  const wasCached = c !== undefined
  if (c === undefined) {
    const socket = await connect(job.host, job.port, job.timeoutMs)
    if (socket === null) return { ...result, ioError: 'connect' }
    socket.on('error', () => {})
    c = { socket, lastDb: -1, lastUseMs: nowMs(), buffered: Buffer.alloc(0) }
    cache.set(name, c)
  }
  c.lastUseMs = nowMs()
  const select = c.lastDb !== job.db
  const parts: Buffer[] = []
  if (job.auth !== null) parts.push(encode(['AUTH', ...job.auth]))
  if (select) parts.push(encode(['SELECT', String(job.db)]))
  parts.push(job.restores)
  if (!(await write(c.socket, Buffer.concat(parts), job.timeoutMs))) {
    drop(name)
    return { ...result, ioError: 'write', retry: wasCached }
  }
  if (job.auth !== null) result.authReply = await readLine(c, job.timeoutMs)
  if (select && (job.auth === null || result.authReply !== null)) {
    result.selectReply = await readLine(c, job.timeoutMs)
  }
  const headerLost = (job.auth !== null && result.authReply === null) ||
    (select && result.selectReply === null)
  for (let i = 0; i < job.count && !headerLost; i++) {
    const line = await readLine(c, job.timeoutMs)
    if (line === null) break
    result.replies.push(line)
  }
  if (headerLost || result.replies.length < job.count) {
    const closedEarly = c.socket.destroyed && result.replies.length === 0
    drop(name)
    return { ...result, ioError: 'read', retry: wasCached && closedEarly }
  }
  const failed = result.authReply?.startsWith('-') === true ||
    result.selectReply?.startsWith('-') === true || result.replies.some((r) => r.startsWith('-'))
  c.lastDb = failed ? -1 : job.db
  return result
}

async function run(job: MigrateJob): Promise<MigrateResult> {
  const name = `${job.host}:${job.port}`
  const first = await attempt(job, name)
  const { retry, ...result } = first.retry ? await attempt(job, name) : first
  void retry
  return result
}

function sweep(): void {
  const now = nowMs()
  for (const [name, c] of cache) if (now - c.lastUseMs > CACHE_TTL_MS) drop(name)
}

if (parentPort !== null) {
  const port: MessagePort = parentPort
  let ctrl: Int32Array | null = null
  let results: MessagePort | null = null
  setInterval(sweep, 1000).unref()
  port.on('message', (msg: { ctrl?: SharedArrayBuffer; results?: MessagePort; job?: MigrateJob }) => {
    if (msg.ctrl !== undefined && msg.results !== undefined) {
      ctrl = new Int32Array(msg.ctrl)
      results = msg.results
      return
    }
    const job = msg.job
    if (job === undefined) return
    void run(job).then((result) => {
      results?.postMessage(result)
      if (ctrl !== null) {
        Atomics.store(ctrl, 0, job.id)
        Atomics.notify(ctrl, 0)
      }
    })
  })
}
