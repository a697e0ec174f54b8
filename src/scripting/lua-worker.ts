// The Lua engine's thread (src/scripting/worker-engine.ts is the other side). It owns one
// lua-redis-wasm engine and runs the driver (lua-driver.ts) inside it: one eval that serves job
// after job, keeping every compiled script and loaded library. Messages go through the
// SharedArrayBuffer channel of wire.ts: the main thread sends a job and waits; each redis.call /
// redis.pcall of the script becomes a 'call' message whose reply (the command's RESP bytes) this
// thread waits for; redis.log is a 'log' message, acknowledged; the job's end is 'done'.
// Fuel: the package's instruction budget (2^32-1) is per eval, so the driver's eval is restarted
// (its caches rebuilt on demand) once the jobs it ran took RESTART_AFTER_MS together, and after a
// job that exhausted it. A wasm abort (out of memory) ends this thread: the main thread starts
// another.

import { randomBytes } from 'node:crypto'
import { workerData } from 'node:worker_threads'
import { load, type ReplyValue } from 'lua-redis-wasm'
import { DRIVER } from './lua-driver.js'
import { REDIS_PROPS } from './wasm-lua.js'
import { Channel, DEAD, parseRespValue, READY, TO_MAIN, TO_WORKER } from './wire.js'

const RESTART_AFTER_MS = 10_000
const MAX_FUEL = 0xffffffff

const ch = new Channel((workerData as { sab: SharedArrayBuffer }).sab)
// However this thread ends, a main thread waiting on it must learn it without its event loop.
process.on('exit', () => {
  Atomics.store(ch.ctrl, DEAD, 1)
  Atomics.notify(ch.ctrl, TO_MAIN)
})

const b = (s: string): Buffer => Buffer.from(s, 'latin1')
const CALL = b('call')
const LOG = b('log')
const DONE = b('done')
const ACL = b('acl')
const ZERO = b('0')
const RESP2 = b('2')
const RESP3 = b('3')
const EMPTY = Buffer.alloc(0)
const EXIT_JOB: ReplyValue = [b('exit')]
const token = b(randomBytes(16).toString('hex'))
const driverSource = b(DRIVER)
const BOOT = "return assert(loadstring(ARGV[2], '=capykv'))()"

function receive(): Buffer[] {
  for (;;) {
    const m = ch.take(TO_WORKER)
    if (m !== null) return m
    ch.wait(TO_WORKER, 1000)
  }
}

let resp: 2 | 3 = 2
/** What the running driver holds: compiled script SHAs and loaded library keys. */
const scripts = new Set<string>()
const libs = new Set<string>()
/** The job the driver is running: its kind and key (to track the caches), since when. */
let current: { op: string; key: string; startedMs: number } | null = null
let spentMs = 0
let pending: Buffer[] | null = null

/** A redis.call (or redis.acl_check_cmd) to the main thread; its reply as the package takes it. */
function forward(args: Buffer[], kind: 'call' | 'acl'): ReplyValue {
  ch.send(TO_MAIN, [CALL, kind === 'acl' ? ACL : ZERO, resp === 3 ? RESP3 : RESP2, ...args])
  const reply = receive()
  return parseRespValue(reply[0] ?? EMPTY, { at: 0 }) as ReplyValue
}

/** The driver reports a result (or starts) and asks for the next job. */
function driverNext(args: Buffer[]): ReplyValue {
  const status = (args[1] as Buffer).toString('latin1')
  let restart = false
  if (status !== 'start' && current !== null) {
    const { op, key } = current
    const failed = status === 'cerr' || status === 'lerr'
    const set = op === 'fcall' || op === 'load' ? libs : scripts
    if (op !== 'flush') {
      if (failed) set.delete(key)
      else set.add(key)
    }
    spentMs += performance.now() - current.startedMs
    current = null
    const text = args.slice(2).map((a) => a.toString('latin1')).join(' ')
    if (text.includes('Script killed by fuel limit') || spentMs > RESTART_AFTER_MS) restart = true
    ch.send(TO_MAIN, [DONE, ...args.slice(1)])
  }
  const job = pending ?? receive()
  pending = null
  if (restart) {
    pending = job
    return EXIT_JOB
  }
  return start(job)
}

function start(job: Buffer[]): ReplyValue {
  const op = (job[0] as Buffer).toString('latin1')
  const key = (job[1] ?? EMPTY).toString('latin1')
  current = { op, key, startedMs: performance.now() }
  if (op === 'flush') {
    scripts.clear()
    libs.clear()
  } else if (op === 'run' && scripts.has(key)) {
    job[2] = EMPTY
  } else if (op === 'fcall' && libs.has(key)) {
    job[2] = EMPTY
  }
  return job
}

const mod = await load({ profile: 'redis-7.0', limits: { maxFuel: MAX_FUEL },
  redisProps: REDIS_PROPS })
const engine = mod.create({
  redisCall: (args) => {
    if (args.length > 1 && (args[0] as Buffer).equals(token)) {
      if ((args[1] as Buffer).equals(ACL)) return forward(args.slice(2), 'acl')
      return driverNext(args)
    }
    return forward(args, 'call')
  },
  redisPcall: (args) => forward(args, 'call'),
  log: (level, message) => {
    ch.send(TO_MAIN, [LOG, b(String(level)), message])
    receive()
  },
  onSetResp: (version) => { resp = version },
})
Atomics.store(ch.ctrl, READY, 1)
Atomics.notify(ch.ctrl, TO_MAIN)

for (;;) {
  scripts.clear()
  libs.clear()
  spentMs = 0
  let r: ReplyValue
  try {
    r = engine.evalWithArgs(BOOT, [], [token, driverSource])
  } catch (e) {
    // The wasm instance aborted (out of its memory): this engine is done for.
    ch.send(TO_MAIN, [DONE, b('fatal'),
      b(`ERR Lua engine failure: ${e instanceof Error ? e.message : String(e)}`)])
    process.exit(1)
  }
  if (current !== null) {
    // The driver itself failed during a job (its fuel ran out after the script's own error).
    const err = r !== null && typeof r === 'object' && 'err' in r ? r.err.toString('latin1') : ''
    current = null
    ch.send(TO_MAIN, [DONE, b('err'), b('string'), b(err === '' ? 'Script killed by fuel limit'
      : err), EMPTY, ZERO])
  }
}
