// The Lua engine's thread (src/scripting/worker-engine.ts is the other side). It owns a
// WasmLuaEngine and serves one job at a time: the main thread posts a job on the port and raises
// flags[TO_WORKER]; this thread runs it, and each redis.call / redis.pcall becomes a 'call'
// message answered by the main thread (this thread blocks in Atomics.wait meanwhile), so a
// script's commands run on the main thread, in its transaction, in call order. redis.log and
// redis.setresp are one-way messages. The job's end is a 'done' message. A wasm abort (out of
// memory) ends this thread after its 'done': the main thread starts another.

import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads'
import type { ScriptHost, ScriptValue } from './engine.js'
import { WasmLuaEngine } from './wasm-lua.js'

const TO_WORKER = 0
const TO_MAIN = 1
const DEAD = 2

interface Data { flags: SharedArrayBuffer; port: MessagePort }
const data = workerData as Data
const flags = new Int32Array(data.flags)
const port = data.port
// However this thread ends (a wasm abort, an exception at start-up), a job waiting on it must
// learn it without the event loop of the main thread (which may be blocked waiting on us).
process.on('exit', () => {
  Atomics.store(flags, DEAD, 1)
  Atomics.notify(flags, TO_MAIN)
})

function send(msg: unknown): void {
  port.postMessage(msg)
  Atomics.store(flags, TO_MAIN, 1)
  Atomics.notify(flags, TO_MAIN)
}

function receive(): Record<string, unknown> {
  for (;;) {
    Atomics.wait(flags, TO_WORKER, 0)
    Atomics.store(flags, TO_WORKER, 0)
    const m = receiveMessageOnPort(port)
    if (m !== undefined) return m.message as Record<string, unknown>
  }
}

const host: ScriptHost = {
  call(args: Buffer[], raise: boolean): ScriptValue {
    send({ type: 'call', args, raise })
    const reply = receive()
    return reviveValue(reply.value) as ScriptValue
  },
  log(level: number, message: Buffer): void { send({ type: 'log', level, message }) },
  setResp(version: 2 | 3): void { send({ type: 'setresp', version }) },
}

/** Structured clone turns Buffers into Uint8Arrays: make them Buffers again, in place. */
export function reviveValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = reviveValue(v[i])
    return v
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) o[k] = reviveValue(o[k])
  }
  return v
}

const bufs = (v: unknown): Buffer[] => (v as Uint8Array[]).map((b) => Buffer.from(b.buffer,
  b.byteOffset, b.byteLength))
const buf = (v: unknown): Buffer => {
  const b = v as Uint8Array
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

const engine = await WasmLuaEngine.create()
send({ type: 'ready' })
for (;;) {
  const job = receive()
  let result: unknown
  try {
    switch (job.op) {
      case 'compile': result = engine.compileScript(buf(job.body)); break
      case 'run':
        result = engine.runScript(buf(job.body), job.name as string, bufs(job.keys),
          bufs(job.args), host)
        break
      case 'load': result = engine.loadLibrary(buf(job.code), host); break
      case 'fcall':
        result = engine.callFunction(buf(job.code), job.name as string, bufs(job.keys),
          bufs(job.args), host)
        break
      default: result = { ok: false, error: `ERR unknown engine job ${String(job.op)}` }
    }
  } catch (e) {
    // The wasm instance aborted (out of its memory): this engine is done for.
    send({ type: 'done', fatal: true, result: { ok: false,
      error: `ERR Lua engine failure: ${e instanceof Error ? e.message : String(e)}` } })
    process.exit(1)
  }
  send({ type: 'done', result })
}
