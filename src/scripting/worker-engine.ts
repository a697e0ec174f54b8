// The ScriptEngine the server uses: the Lua engine runs in a worker thread (lua-worker.ts, the
// driver of lua-driver.ts) so that a long script does not stop the server: the main thread waits
// for the script synchronously up to a deadline (the fast path, no event-loop turn), and past it
// the caller may keep the script running across event-loop turns (pump() in slices, other
// clients answered -BUSY meanwhile) or stop it (kill(): the thread is terminated and a new one
// started). Every redis.call of the script comes back to this thread as a message and runs here,
// in the caller's transaction (host.call), while the worker waits for its reply.
// Messages cross in a SharedArrayBuffer (wire.ts): no structured clone, no MessagePort; each side
// spins briefly, then sleeps in Atomics.wait. The thread keeps every compiled script (by SHA1)
// and loaded library (by the SHA1 of its code), as Redis keeps its f_<sha> functions.
// Invariant: at most one job at a time (scripts do not nest: EVAL is 'noscript').

import { createHash } from 'node:crypto'
import { Worker } from 'node:worker_threads'
import type {
  LibraryOutcome, RegisteredFunction, ScriptEngine, ScriptHost, ScriptOutcome,
} from './engine.js'
import {
  Channel, DEAD, decodeLuaResult, newChannelBuffer, READY, TO_MAIN, TO_WORKER,
} from './wire.js'

/** How long next() sleeps at most before it looks at DEAD again. */
const WAIT_SLICE_MS = 200
/** At most this long for a fresh thread to load its engine before a job's time starts. */
const START_WAIT_MS = 30_000

const b = (s: string): Buffer => Buffer.from(s, 'latin1')
const str = (f: Buffer | undefined): string => (f === undefined ? '' : f.toString('latin1'))
const OP_RUN = b('run')
const OP_FCALL = b('fcall')
const OP_LOAD = b('load')
const OP_COMPILE = b('compile')
const OP_FLUSH = b('flush')

class LuaThread {
  readonly channel = new Channel(newChannelBuffer())
  readonly worker: Worker
  dead = false

  constructor() {
    this.worker = new Worker(new URL('./lua-worker.js', import.meta.url), {
      workerData: { sab: this.channel.sab },
    })
    this.worker.unref()
    this.worker.on('error', (e) => {
      this.dead = true
      process.stderr.write(`${process.pid}:M the Lua engine thread failed: ${e.message}\n`)
    })
    this.worker.on('exit', () => { this.dead = true })
  }

  send(fields: readonly Uint8Array[]): void {
    this.channel.send(TO_WORKER, fields)
  }

  /** Its engine is loaded. */
  get ready(): boolean {
    return Atomics.load(this.channel.ctrl, READY) === 1
  }

  /** The next message from the thread, or null at `deadline` (performance.now() time). */
  next(deadline: number): Buffer[] | null {
    for (;;) {
      const m = this.channel.take(TO_MAIN)
      if (m !== null) return m
      if (Atomics.load(this.channel.ctrl, DEAD) !== 0) {
        this.dead = true
        return [b('done'), b('fatal'), b('ERR the Lua engine thread exited')]
      }
      const wait = deadline - performance.now()
      if (wait <= 0) return null
      this.channel.wait(TO_MAIN, Math.min(wait, WAIT_SLICE_MS))
    }
  }

  terminate(): void {
    this.dead = true
    void this.worker.terminate()
  }
}

/** A job in progress: pump it until it is done. */
export class RunningJob<T> {
  private finished: { value: T } | null = null

  constructor(private readonly engine: WorkerLuaEngine, private readonly thread: LuaThread,
    private readonly host: ScriptHost, private readonly decode: (fields: Buffer[]) => T,
    private readonly fatal: (error: string) => T) {}

  get done(): boolean {
    return this.finished !== null
  }

  /** Serve the job's calls until it ends (its result) or until `deadline` (null). */
  pump(deadline: number): T | null {
    if (this.finished !== null) return this.finished.value
    for (;;) {
      const msg = this.thread.next(deadline)
      if (msg === null) return null
      switch (str(msg[0])) {
        case 'call': {
          let reply: Buffer
          try {
            reply = str(msg[1]) === 'acl' ? this.host.aclCheck(msg.slice(3))
              : this.host.call(msg.slice(3), str(msg[2]) === '3' ? 3 : 2)
          } catch (e) {
            reply = b(`-ERR ${e instanceof Error ? e.message : String(e)}\r\n`)
          }
          this.thread.send([reply])
          break
        }
        case 'log':
          this.host.log(Number(str(msg[1])), msg[2] ?? Buffer.alloc(0))
          this.thread.send([])
          break
        case 'done': {
          const fatal = str(msg[1]) === 'fatal'
          const result = fatal ? this.fatal(str(msg[2])) : this.decode(msg.slice(1))
          if (fatal) this.engine.replaceThread()
          this.finished = { value: result }
          this.engine.jobEnded()
          return result
        }
        default: break
      }
    }
  }

  /**
   * Wait (blocking, at most `timeoutMs`) until the thread has loaded its engine: a fresh thread
   * (after a kill) takes a moment, which must not count as the script's own time.
   */
  waitReady(timeoutMs: number): void {
    const deadline = performance.now() + timeoutMs
    const ctrl = this.thread.channel.ctrl
    while (!this.thread.ready && !this.thread.dead && this.finished === null) {
      const wait = deadline - performance.now()
      if (wait <= 0) return
      if (Atomics.load(ctrl, DEAD) !== 0) return
      Atomics.wait(ctrl, TO_MAIN, Atomics.load(ctrl, TO_MAIN), Math.min(wait, WAIT_SLICE_MS))
    }
  }

  /** Stop the script now (SCRIPT KILL / FUNCTION KILL): its thread is replaced. */
  kill(result: T): void {
    if (this.finished !== null) return
    this.finished = { value: result }
    this.engine.replaceThread()
    this.engine.jobEnded()
  }
}

const NO_HOST: ScriptHost = {
  call: () => b('-ERR redis.call is not available here\r\n'),
  aclCheck: () => b('-ERR redis.acl_check_cmd is not available here\r\n'),
  log: () => {},
}

const GLOBAL_READ = /__RLUA_E__:global-read:(.*)$/s

/**
 * The text Redis replies for a script that raised (luaCallFunction after
 * __redis__err__handler): a raised string becomes 'ERR <string>', a raised table its err field;
 * then ` script: <name>, on <source>:<line>.` when the error handler found where it was raised.
 */
function abortText(fields: Buffer[], name: string): string {
  const kind = str(fields[1])
  let msg = str(fields[2])
  // 'counted' is a raised table too (its error already counted in errorstats).
  if (kind === 'string') {
    msg = 'ERR ' + msg.replace(GLOBAL_READ,
      "Script attempted to access nonexistent global variable '$1'")
  }
  const nul = msg.indexOf('\0')
  if (nul >= 0) msg = msg.slice(0, nul)
  msg = msg.replace(/[\r\n]+$/, '').replace(/[\r\n]/g, ' ')
  const source = str(fields[3])
  const line = Number(str(fields[4]))
  if (source === '' || line === 0) return msg
  return `${msg} script: ${name}, on ${source}:${line}.`
}

/** A job's 'done' fields (the driver's result) as the script's outcome. */
export function scriptOutcome(fields: Buffer[], name: string): ScriptOutcome {
  switch (str(fields[0])) {
    case 'ok': return { ok: true, value: decodeLuaResult(fields[1] ?? Buffer.alloc(0), { at: 0 }) }
    case 'err': return { ok: false, error: abortText(fields, name), counted: str(fields[1]) === 'counted' }
    case 'cerr': return { ok: false, error: `ERR Error compiling script (new function): ${str(fields[1])}` }
    default: return { ok: false, error: str(fields[1]) }
  }
}

function libraryOutcome(fields: Buffer[]): LibraryOutcome {
  const status = str(fields[0])
  if (status === 'lerr') return { ok: false, error: str(fields[1]) }
  if (status !== 'load') return { ok: false, error: abortText(fields, 'load') }
  const functions: RegisteredFunction[] = []
  let at = 2
  const n = Number(str(fields[1]))
  for (let i = 0; i < n; i++) {
    const name = str(fields[at++])
    const desc = str(fields[at++])
    const nflags = Number(str(fields[at++]))
    const flags = fields.slice(at, at + nflags).map(str)
    at += nflags
    functions.push({ name, description: desc === '\0' ? null : desc, flags })
  }
  return { ok: true, functions }
}

export class WorkerLuaEngine implements ScriptEngine {
  readonly description: string
  private thread: LuaThread | null = null
  private busy = false
  /** Library code → its key (the SHA1 of the code), computed once per code buffer. */
  private readonly libKeys = new WeakMap<Buffer, Buffer>()

  constructor(description: string) {
    this.description = `${description}, in a worker thread`
  }

  private ensureThread(): LuaThread {
    if (this.thread === null || this.thread.dead) this.thread = new LuaThread()
    return this.thread
  }

  /** The thread ran out of wasm memory or a script was killed: start the next one now. */
  replaceThread(): void {
    this.thread?.terminate()
    this.thread = new LuaThread()
  }

  jobEnded(): void {
    this.busy = false
  }

  private libKey(code: Buffer): Buffer {
    let key = this.libKeys.get(code)
    if (key === undefined) {
      key = b(createHash('sha1').update(code).digest('hex'))
      this.libKeys.set(code, key)
    }
    return key
  }

  /** Start a job; pump the result. */
  start<T>(job: readonly Uint8Array[], host: ScriptHost, decode: (f: Buffer[]) => T,
    fatal: (error: string) => T): RunningJob<T> {
    if (this.busy) throw new Error('a script is already running')
    const thread = this.ensureThread()
    this.busy = true
    thread.send(job)
    return new RunningJob<T>(this, thread, host, decode, fatal)
  }

  startScript(sha: string, body: Buffer, keys: Buffer[], args: Buffer[], host: ScriptHost):
    RunningJob<ScriptOutcome> {
    return this.start([OP_RUN, b(sha), body, b(String(keys.length)), ...keys, ...args], host,
      (f) => scriptOutcome(f, sha), (error) => ({ ok: false, error }))
  }

  startFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    RunningJob<ScriptOutcome> {
    return this.start([OP_FCALL, this.libKey(code), code, b(name), b(String(keys.length)),
      ...keys, ...args], host, (f) => scriptOutcome(f, name), (error) => ({ ok: false, error }))
  }

  compileScript(sha: string, body: Buffer): string | null {
    const job = this.start<string | null>([OP_COMPILE, b(sha), body], NO_HOST,
      (f) => (str(f[0]) === 'cok' ? null
        : `Error compiling script (new function): ${str(f[1])}`), (e) => e)
    job.waitReady(START_WAIT_MS)
    return job.pump(Infinity)
  }

  runScript(sha: string, body: Buffer, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome {
    return this.startScript(sha, body, keys, args, host).pump(Infinity) as ScriptOutcome
  }

  flush(): void {
    if (this.thread === null || this.thread.dead) return
    this.start([OP_FLUSH], NO_HOST, () => null, () => null).pump(Infinity)
  }

  /**
   * Load a library; its code is stopped after `timeoutMs` (wall clock; Redis's FUNCTION LOAD
   * stops it after 500 ms of its own time).
   */
  loadLibrary(code: Buffer, host: ScriptHost, timeoutMs = Infinity): LibraryOutcome {
    const job = this.start<LibraryOutcome>([OP_LOAD, this.libKey(code), code], host,
      libraryOutcome, (error) => ({ ok: false, error }))
    job.waitReady(START_WAIT_MS)
    const outcome = job.pump(performance.now() + timeoutMs)
    if (outcome !== null) return outcome
    const timedOut: LibraryOutcome = { ok: false,
      error: 'ERR Error registering functions: ERR FUNCTION LOAD timeout' }
    job.kill(timedOut)
    return timedOut
  }

  callFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome {
    return this.startFunction(code, name, keys, args, host).pump(Infinity) as ScriptOutcome
  }
}
