// The ScriptEngine the server uses: the Lua engine (wasm-lua.ts) runs in a worker thread
// (lua-worker.ts) so that a long script does not stop the server: the main thread waits for the
// script synchronously up to a deadline (Atomics.wait; the fast path, no event-loop turn), and
// past it the caller may keep the script running across event-loop turns (pump() in slices,
// other clients answered -BUSY meanwhile) or stop it (kill(): the thread is terminated and a new
// one started). Every redis.call of the script comes back to the main thread as a message and
// runs there, in the caller's transaction (host.call), while the worker waits for the answer.
// Protocol: two Int32 flags in a SharedArrayBuffer (TO_WORKER, TO_MAIN) and a MessageChannel; a
// sender posts, then stores 1 and notifies; a receiver stores 0, then drains the port.
// Invariant: at most one job at a time (scripts do not nest: EVAL is 'noscript').

import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads'
import type {
  LibraryOutcome, ScriptEngine, ScriptHost, ScriptOutcome, ScriptValue,
} from './engine.js'

const TO_WORKER = 0
const TO_MAIN = 1
/** Set by the thread as it exits (lua-worker.ts): a job in progress will never be 'done'. */
const DEAD = 2
/** How long next() sleeps at most before it looks at DEAD again. */
const WAIT_SLICE_MS = 200
/** At most this long for a fresh thread to load its engine before a job's time starts. */
const START_WAIT_MS = 30_000

function revive(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i])
    return v
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) o[k] = revive(o[k])
  }
  return v
}

class LuaThread {
  readonly flags = new Int32Array(new SharedArrayBuffer(12))
  readonly port: MessagePort
  readonly worker: Worker
  dead = false
  /** Its engine is loaded (its 'ready' message was read). */
  ready = false

  constructor() {
    const channel = new MessageChannel()
    this.port = channel.port1
    this.worker = new Worker(new URL('./lua-worker.js', import.meta.url), {
      workerData: { flags: this.flags.buffer, port: channel.port2 },
      transferList: [channel.port2],
    })
    this.worker.unref()
    this.worker.on('error', (e) => {
      this.dead = true
      process.stderr.write(`${process.pid}:M the Lua engine thread failed: ${e.message}\n`)
    })
    this.worker.on('exit', () => { this.dead = true })
    // Not waited for: the thread takes jobs once its engine is loaded (posted ones queue up);
    // its 'ready' message is skipped by RunningJob.pump.
  }

  send(msg: unknown): void {
    this.port.postMessage(msg)
    Atomics.store(this.flags, TO_WORKER, 1)
    Atomics.notify(this.flags, TO_WORKER)
  }

  private queue: Record<string, unknown>[] = []

  /** Put a message back in front of the queue. */
  unread(m: Record<string, unknown>): void {
    this.queue.unshift(m)
  }

  /** The next message from the thread, or null at `deadline` (performance.now() time). */
  next(deadline: number): Record<string, unknown> | null {
    for (;;) {
      const queued = this.queue.shift()
      if (queued !== undefined) return queued
      Atomics.store(this.flags, TO_MAIN, 0)
      let m = receiveMessageOnPort(this.port)
      while (m !== undefined) {
        this.queue.push(m.message as Record<string, unknown>)
        m = receiveMessageOnPort(this.port)
      }
      if (this.queue.length > 0) continue
      if (Atomics.load(this.flags, DEAD) !== 0) {
        this.dead = true
        return { type: 'done', fatal: true, result: { error: 'ERR the Lua engine thread exited' } }
      }
      const wait = deadline - performance.now()
      if (wait <= 0) return null
      Atomics.wait(this.flags, TO_MAIN, 0, Math.min(wait, WAIT_SLICE_MS))
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
    private readonly host: ScriptHost, private readonly fatal: (error: string) => T) {}

  get done(): boolean {
    return this.finished !== null
  }

  /** Serve the job's calls until it ends (its result) or until `deadline` (null). */
  pump(deadline: number): T | null {
    if (this.finished !== null) return this.finished.value
    for (;;) {
      const msg = this.thread.next(deadline)
      if (msg === null) return null
      switch (msg.type) {
        case 'call': {
          let value: ScriptValue
          try {
            value = this.host.call(revive(msg.args) as Buffer[], msg.raise as boolean)
          } catch (e) {
            value = { err: Buffer.from(`ERR ${e instanceof Error ? e.message : String(e)}`) }
          }
          this.thread.send({ value })
          break
        }
        case 'ready': this.thread.ready = true; break
        case 'log': this.host.log(msg.level as number, revive(msg.message) as Buffer); break
        case 'setresp': this.host.setResp(msg.version as 2 | 3); break
        case 'done': {
          const result = msg.fatal === true
            ? this.fatal((msg.result as { error: string }).error)
            : revive(msg.result) as T
          if (msg.fatal === true) this.engine.replaceThread()
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
    while (!this.thread.ready && this.finished === null) {
      const m = this.thread.next(deadline)
      if (m === null) return
      if (m.type === 'ready') {
        this.thread.ready = true
      } else {
        this.thread.unread(m)
        return
      }
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
  call: () => ({ err: Buffer.from('ERR redis.call is not available here') }),
  log: () => {},
  setResp: () => {},
}

export class WorkerLuaEngine implements ScriptEngine {
  readonly description: string
  private thread: LuaThread | null = null
  private busy = false

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

  /** Start a job; pump the result. */
  start<T>(job: Record<string, unknown>, host: ScriptHost, fatal: (error: string) => T):
    RunningJob<T> {
    if (this.busy) throw new Error('a script is already running')
    const thread = this.ensureThread()
    this.busy = true
    thread.send(job)
    return new RunningJob<T>(this, thread, host, fatal)
  }

  startScript(body: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    RunningJob<ScriptOutcome> {
    return this.start({ op: 'run', body, name, keys, args }, host,
      (error) => ({ ok: false, error }))
  }

  startFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    RunningJob<ScriptOutcome> {
    return this.start({ op: 'fcall', code, name, keys, args }, host,
      (error) => ({ ok: false, error }))
  }

  compileScript(body: Buffer): string | null {
    return this.start<string | null>({ op: 'compile', body }, NO_HOST, (e) => e).pump(Infinity)
  }

  runScript(body: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome {
    return this.startScript(body, name, keys, args, host).pump(Infinity) as ScriptOutcome
  }

  /**
   * Load a library; its code is stopped after `timeoutMs`. Redis's FUNCTION LOAD stops it after
   * 500 ms, but measured here on the wall clock across threads that also failed legitimate loads
   * on a loaded machine (the suite's 'EVAL does not leak' at load 17), so FUNCTION LOAD passes none.
   */
  loadLibrary(code: Buffer, host: ScriptHost, timeoutMs = Infinity): LibraryOutcome {
    const job = this.start<LibraryOutcome>({ op: 'load', code }, host,
      (error) => ({ ok: false, error }))
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
