// The fast path of scripts: a second lua-redis-wasm instance on the main thread, where a
// redis.call is a direct synchronous host call (no thread wake-up). It runs a job only under an
// instruction budget: the package's fuel hook (every 1000 Lua instructions) raises once the
// budget is spent, and the glue (lua-glue.ts) turns that raise into a FastPathAbort that leaves
// the wasm call — no pcall of the script can catch it. The caller (commands/scripting.ts) then
// rolls the script's transaction back to where it started and runs it again from the start on
// the worker thread (worker-engine.ts), which keeps -BUSY, SCRIPT KILL and FUNCTION KILL. An
// aborted instance is dropped (its C stack was abandoned mid-call) and a fresh one is loaded in
// the background; until it is ready, every job goes to the worker.
// The same driver as the worker's (lua-driver.ts, in its INLINE mode) keeps compiled scripts and
// loaded libraries between jobs: it stores its job function in the metatable of the (read-only)
// globals, whose read-only flag this file lifts for that one rawset ('unlock' / 'lock': the
// table's `readonly` int, 8 bytes into Redis's patched Lua Table struct on wasm32, checked to be
// 1 before it is cleared). Each job is then one eval of JOB_BYTES: KEYS are the script's keys,
// ARGV its arguments followed by the job's fields, their count and the driver's token; the
// eval's reply is the job's result.
// The budget: FAST_FUEL instructions, and a wall-clock deadline checked at every host call (past
// it, and past a CPU check that tells preemption from running, the fuel left is set to 0 so the
// next hook raises). Where the fuel counter lives (the
// package's g_fuel_remaining, an int64 in the instance's memory) is found once per instance by
// its value (FUEL_PROBE) and checked before use; when it is not found the fast path stays off.
// Invariants: at most one job at a time (scripts do not nest); a job never outlives its call;
// `shouldAbort` is true only inside a job whose fuel is spent; the read-only flag is lifted only
// while the driver's setup runs (a script that found the token cannot ask for it).

import { randomBytes } from 'node:crypto'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { load, LuaWasmModule, type ReplyValue } from 'lua-redis-wasm'
import type { ScriptHost, ScriptOutcome } from './engine.js'
import { DRIVER } from './lua-driver.js'
import { FastPathAbort, next, type EmscriptenModule, type GlueHooks } from './lua-glue.js'
import { REDIS_PROPS } from './wasm-lua.js'
import { installCallHandlers } from './inline-wire.js'
import { parseRespValue } from './wire.js'
import { scriptOutcome } from './worker-engine.js'

/** Lua instructions (fuel units) a job may run on the main thread before it is moved. */
export const FAST_FUEL = 500_000
/** The fuel limit the instance is created with: a value to find in its memory. */
const FUEL_PROBE = 0x5f3ca1d7
/** The fuel of the driver's own setup eval. */
const BOOT_FUEL = 0xffffffff
const JOB_BYTES = Buffer.from('return getmetatable(_G)[ARGV[#ARGV]]()', 'latin1')
const BOOT_SOURCE = "return assert(loadstring(ARGV[2], '=capykv'))()"
/** Byte offset of `readonly` in the patched Lua 5.1 Table struct (wasm32). */
const READONLY_AT = 8

const b = (s: string): Buffer => Buffer.from(s, 'latin1')
const str = (f: Buffer | undefined): string => (f === undefined ? '' : f.toString('latin1'))
const EMPTY = Buffer.alloc(0)
const NULL_REPLY = b('$-1\r\n')
/** Reply types of the package's wire format (inline-wire.ts has them all). */
const WIRE_INT = 0x01
const WIRE_BULK = 0x02
const WIRE_ARRAY = 0x03
const OP_RUN = b('run')
const OP_FCALL = b('fcall')
const OP_COMPILE = b('compile')
const OP_FLUSH = b('flush')

interface Instance {
  readonly engine: { evalWithArgs(s: string, k: Buffer[], a: Buffer[]): ReplyValue }
  readonly m: EmscriptenModule
  /** JOB_BYTES in the instance's memory, and an 8-byte result slot, made once. */
  readonly jobAt: number
  readonly retAt: number
  /** The job's KEYS/ARGV area (set_keys_argv's layout), grown as needed. */
  argsAt: number
  argsCapacity: number
  /** The fuel left (int64 little-endian: low word, high word). The memory never grows. */
  readonly fuel: Int32Array
  /** A view of its memory (which never grows), for the job's words. */
  readonly view: DataView
  /** What its driver holds: compiled script SHAs (each with its bytes, a job field), loaded
   * library keys. */
  readonly scripts: Map<string, Buffer>
  readonly libs: Set<string>
}

const NO_HOST: ScriptHost = {
  call: () => b('-ERR redis.call is not available here\r\n'),
  aclCheck: () => b('-ERR redis.acl_check_cmd is not available here\r\n'),
  log: () => {},
}

/** The job ran to its end (fields of its result), or was stopped (see the top comment). */
export type JobResult = Buffer[] | 'aborted'

export class InlineLuaEngine {
  private inst: Instance | null = null
  private loading = false
  private disabled: string | null = null
  private inJob = false
  private host: ScriptHost = NO_HOST
  /** The instance whose driver is being set up (boot), before it becomes `inst`. */
  private booting: EmscriptenModule | null = null
  private resp: 2 | 3 = 2
  private deadline = Infinity
  /** Past this (wall clock) the job stops whatever CPU it used (see `overBudget`). */
  private cap = Infinity
  /** The deadline's window (ms) and, once it was passed, the CPU (µs) and wall (ms) then
   * (0: not passed yet). */
  private window = 0
  private cpuAtUs = 0
  private wallAtMs = 0
  private readonly token = b(randomBytes(16).toString('hex'))
  private wasmBytes: Uint8Array | null = null
  /** Library code → its key (the SHA1 of the code), as the worker engine keys it. */
  private readonly libKeys = new WeakMap<Buffer, Buffer>()
  /** Jobs stopped past the budget, and instances loaded (for INFO and the bench). */
  aborts = 0
  loads = 0
  /** Scripts and functions run to their end here. */
  runs = 0

  /** Ready to run a job now. */
  get ready(): boolean {
    if (this.inst === null) this.start()
    return this.inst !== null
  }

  /** Why the fast path is off for good (null: it is on). */
  get disabledReason(): string | null {
    return this.disabled
  }

  /** Load an instance in the background (no-op when one is loaded or loading). */
  start(): void {
    if (this.inst !== null || this.loading || this.disabled !== null) return
    this.loading = true
    this.loadInstance().then((inst) => {
      this.inst = inst
    }, (e: unknown) => {
      this.disabled = e instanceof Error ? e.message : String(e)
      process.stderr.write(`${process.pid}:M scripts' fast path is off: ${this.disabled}\n`)
    }).finally(() => { this.loading = false })
  }

  private async loadInstance(): Promise<Instance> {
    this.wasmBytes ??= readFileSync(fileURLToPath(LuaWasmModule.defaultWasmPath()))
    const hooks: GlueHooks = { shouldAbort: () => this.shouldAbort(), module: null }
    next.hooks = hooks
    const mod = await load({ profile: 'redis-7.0', limits: { maxFuel: FUEL_PROBE },
      redisProps: REDIS_PROPS, wasmBytes: this.wasmBytes,
      modulePath: new URL('./lua-glue.js', import.meta.url).href })
    const engine = mod.create({
      // (Replaced at once by installCallHandlers.)
      redisCall: (args) => parseRespValue(this.answer(args), { at: 0 }) as ReplyValue,
      redisPcall: (args) => parseRespValue(this.answer(args), { at: 0 }) as ReplyValue,
      log: (level, message) => { this.host.log(level, message) },
      onSetResp: (version) => { this.resp = version },
    })
    const m = hooks.module
    if (m === null) throw new Error('the Lua glue did not capture its module')
    installCallHandlers(mod, m, (args) => this.answer(args))
    if (m._eval_with_args.length < 6) throw new Error('unexpected eval_with_args ABI')
    const jobAt = m._alloc(JOB_BYTES.length)
    m.HEAPU8.set(JOB_BYTES, jobAt)
    const inst: Instance = { engine, m, jobAt, retAt: m._alloc(8), argsAt: m._alloc(4096),
      argsCapacity: 4096, fuel: new Int32Array(m.HEAPU8.buffer, findFuel(m), 2),
      view: new DataView(m.HEAPU8.buffer), scripts: new Map(), libs: new Set() }
    this.boot(inst)
    this.loads++
    return inst
  }

  /** Run the driver's setup (it stores its job function, see the top comment). */
  private boot(inst: Instance): void {
    inst.m._set_limits(BOOT_FUEL, 0, 0)
    this.inJob = false
    this.booting = inst.m
    try {
      inst.engine.evalWithArgs(BOOT_SOURCE, [], [this.token, b(DRIVER), b('inline')])
    } finally {
      this.booting = null
    }
    if (readFuel(inst) >= BOOT_FUEL || readFuel(inst) <= 0) {
      throw new Error('the fuel counter found does not count')
    }
    inst.m._set_limits(FAST_FUEL, 0, 0)
    const probe = this.runJob(inst, [OP_COMPILE, b('0'.repeat(40)), b('return 1')], [], [],
      NO_HOST, Infinity)
    if (probe === 'aborted' || str(probe[0]) !== 'cok') throw new Error('the driver did not answer')
  }

  private shouldAbort(): boolean {
    return this.inJob && this.inst !== null && readFuel(this.inst) <= 0
  }

  /** A redis.call / redis.pcall: the RESP reply. */
  private answer(args: Buffer[]): Buffer {
    if (args.length > 1 && (args[0] as Buffer).equals(this.token)) return this.protocol(args)
    if (performance.now() > this.deadline) this.overBudget()
    const r = this.host.call(args, this.resp)
    if (performance.now() > this.deadline) this.overBudget()
    return r
  }

  /**
   * The deadline passed (wall clock). A loaded machine's preemption stretches wall time without
   * the script running, so from here the job may go on until it has used `window` more of CPU
   * (the process's: Node 20 has no per-thread clock), checked every fifth of a window, or until
   * the cap (wall clock). A preempted short script is then not moved to the worker (nor the
   * instance reloaded); one that really runs long stops after about two windows of its time.
   */
  private overBudget(): void {
    const now = performance.now()
    if (now > this.cap) {
      this.exhaust()
      return
    }
    const cpu = process.cpuUsage()
    const cpuUs = cpu.user + cpu.system
    if (this.wallAtMs === 0) {
      this.cpuAtUs = cpuUs
      this.wallAtMs = now
    } else if (cpuUs - this.cpuAtUs >= this.window * 1000) {
      this.exhaust()
      return
    }
    this.deadline = now + this.window / 5
  }

  /** The driver's calls with its token: an ACL check, the read-only flag. */
  private protocol(args: Buffer[]): Buffer {
    const what = str(args[1])
    if (what === 'acl') return this.host.aclCheck(args.slice(2))
    if (what === 'unlock' || what === 'lock') {
      // Only the driver's own setup may (a script that found the token may not).
      if (this.booting === null) throw new Error('ERR not booting')
      setReadonly(this.booting, str(args[2]), what === 'lock')
      return NULL_REPLY
    }
    return NULL_REPLY
  }

  /** Past the deadline: no fuel left, so the next hook (within 1000 instructions) stops it. */
  private exhaust(): void {
    const inst = this.inst
    if (inst === null) return
    inst.fuel[0] = 0
    inst.fuel[1] = 0
  }

  private runJob(inst: Instance, fields: Buffer[], keys: Buffer[], args: Buffer[],
    host: ScriptHost, deadline: number, cap = deadline): JobResult {
    this.host = host
    this.resp = 2
    this.deadline = deadline
    this.cap = cap
    this.window = Math.max(1, deadline - performance.now())
    this.wallAtMs = 0
    this.inJob = true
    let result: Buffer[] | null
    try {
      result = evalJob(inst, keys, args, fields, this.token)
    } catch (e) {
      if (!(e instanceof FastPathAbort)) {
        process.stderr.write(`${process.pid}:M the main thread's Lua engine failed: ` +
          `${e instanceof Error ? e.message : String(e)}\n`)
      }
      this.drop()
      return 'aborted'
    } finally {
      this.inJob = false
      this.host = NO_HOST
      this.deadline = Infinity
      this.cap = Infinity
    }
    if (result === null) {
      this.drop()
      return 'aborted'
    }
    return result
  }

  /** The instance was stopped mid-call: forget it, load the next one. */
  private drop(): void {
    this.inst = null
    this.aborts++
    this.start()
  }

  private libKey(code: Buffer): Buffer {
    let key = this.libKeys.get(code)
    if (key === undefined) {
      key = b(createHash('sha1').update(code).digest('hex'))
      this.libKeys.set(code, key)
    }
    return key
  }

  /** Run an EVAL body here; null when it was stopped (or no instance is ready). */
  tryScript(sha: string, body: Buffer, keys: Buffer[], args: Buffer[], host: ScriptHost,
    deadline: number, cap = deadline): ScriptOutcome | null {
    const inst = this.inst
    if (inst === null) return null
    const cached = inst.scripts.get(sha)
    const shaBytes = cached ?? b(sha)
    const r = this.runJob(inst, [OP_RUN, shaBytes, cached !== undefined ? EMPTY : body,
      count(keys.length)], keys, args, host, deadline, cap)
    if (r === 'aborted') return null
    inst.scripts.set(sha, shaBytes)
    this.runs++
    return scriptOutcome(r, sha)
  }

  /** Call a library's function here; null when it was stopped (or no instance is ready). */
  tryFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost,
    deadline: number, cap = deadline): ScriptOutcome | null {
    const inst = this.inst
    if (inst === null) return null
    const key = this.libKey(code)
    const cached = inst.libs.has(str(key))
    const r = this.runJob(inst, [OP_FCALL, key, cached ? EMPTY : code, b(name),
      count(keys.length)], keys, args, host, deadline, cap)
    if (r === 'aborted') return null
    inst.libs.add(str(key))
    this.runs++
    return scriptOutcome(r, name)
  }

  /**
   * Compile an EVAL body here: null when it compiles, Redis's text when not, undefined when
   * this engine could not tell (not ready, or stopped).
   */
  compile(sha: string, body: Buffer): string | null | undefined {
    const inst = this.inst
    if (inst === null) return undefined
    const r = this.runJob(inst, [OP_COMPILE, b(sha), body], [], [], NO_HOST, Infinity)
    if (r === 'aborted') return undefined
    if (str(r[0]) === 'cok') {
      inst.scripts.set(sha, b(sha))
      return null
    }
    return `Error compiling script (new function): ${str(r[1])}`
  }

  /** Forget every compiled script and loaded library (SCRIPT FLUSH, FUNCTION FLUSH). */
  flush(): void {
    const inst = this.inst
    if (inst === null) return
    inst.scripts.clear()
    inst.libs.clear()
    this.runJob(inst, [OP_FLUSH], [], [], NO_HOST, Infinity)
  }
}

/**
 * One job: an eval of JOB_BYTES with KEYS = keys and ARGV = args, fields, their count, token —
 * written straight into the instance's memory in set_keys_argv's layout (u32le count, then per
 * item u32le length and bytes), where the package's evalWithArgs would hash the source and copy
 * every argument twice.
 */
function evalJob(inst: Instance, keys: Buffer[], args: Buffer[], fields: Buffer[],
  token: Buffer): Buffer[] | null {
  const m = inst.m
  const fieldCount = count(fields.length)
  let size = 4 + 4 + fieldCount.length + 4 + token.length
  for (const k of keys) size += 4 + k.length
  for (const a of args) size += 4 + a.length
  for (const f of fields) size += 4 + f.length
  if (size > inst.argsCapacity) {
    m._free_mem(inst.argsAt)
    inst.argsCapacity = Math.max(size, inst.argsCapacity * 2)
    inst.argsAt = m._alloc(inst.argsCapacity)
    if (inst.argsAt === 0) throw new Error('out of Lua memory for the arguments')
  }
  const heap = m.HEAPU8
  const view = inst.view
  let at = inst.argsAt
  view.setUint32(at, keys.length + args.length + fields.length + 2, true)
  at += 4
  for (const k of keys) at = put(heap, view, at, k)
  for (const a of args) at = put(heap, view, at, a)
  for (const f of fields) at = put(heap, view, at, f)
  at = put(heap, view, at, fieldCount)
  put(heap, view, at, token)
  m._eval_with_args(inst.retAt, inst.jobAt, JOB_BYTES.length, inst.argsAt, size, keys.length)
  const ptr = view.getUint32(inst.retAt, true)
  const len = view.getUint32(inst.retAt + 4, true)
  if (ptr === 0) return null
  const result = resultFields(Buffer.from(heap.subarray(ptr, ptr + len)))
  m._free_mem(ptr)
  return result
}

/** One item of set_keys_argv's layout at `at`: its u32le length and bytes; the offset after. */
function put(heap: Uint8Array, view: DataView, at: number, x: Uint8Array): number {
  view.setUint32(at, x.length, true)
  heap.set(x, at + 4)
  return at + 4 + x.length
}

/** Small counts as job fields (a key count, a field count), made once. */
const COUNTS = Array.from({ length: 64 }, (_, i) => b(String(i)))

function count(n: number): Buffer {
  return COUNTS[n] ?? b(String(n))
}

/**
 * The job's result: the driver's reply, an array (the package's wire format: u8 type, u32le
 * count or length) of bulk strings and integers (integers as their decimal text, as the
 * worker's driver hands them over); null for anything else (the driver itself failed).
 */
function resultFields(reply: Buffer): Buffer[] | null {
  if (reply.length < 5 || reply[0] !== WIRE_ARRAY) return null
  const n = reply.readUInt32LE(1)
  const fields: Buffer[] = []
  let at = 5
  for (let i = 0; i < n; i++) {
    const type = reply[at]
    const len = reply.readUInt32LE(at + 1)
    at += 5
    if (type === WIRE_BULK) fields.push(reply.subarray(at, at + len))
    else if (type === WIRE_INT) fields.push(b(String(reply.readBigInt64LE(at))))
    else return null
    at += len
  }
  return fields
}

/** The fuel left in the instance's counter (int64, read as a double: exact below 2^53). */
function readFuel(inst: Instance): number {
  const w = inst.fuel
  return (w[1] as number) * 0x1_0000_0000 + ((w[0] as number) >>> 0)
}

/**
 * Find the package's fuel counter: right after create(), its limit and its counter both hold
 * FUEL_PROBE (int64); set_limits then changes the limit only, so the counter is the one of the
 * two that still holds the probe.
 */
function findFuel(m: EmscriptenModule): number {
  const words = new Int32Array(m.HEAPU8.buffer)
  // The counter is a static of the module: where the last instance had it, a new one has it
  // too. Checked as the scan below checks it (holds the probe, and is not the limit).
  const at = fuelSeenAt
  if (at !== null && words[at] === FUEL_PROBE && words[at + 1] === 0) {
    m._set_limits(FUEL_PROBE + 2, 0, 0)
    if (words[at] === FUEL_PROBE) return at * 4
    m._set_limits(FUEL_PROBE, 0, 0)
  }
  const found: number[] = []
  for (let i = 0; i + 1 < words.length; i += 2) {
    if (words[i] === FUEL_PROBE && words[i + 1] === 0) found.push(i)
  }
  if (found.length !== 2) throw new Error(`fuel counter: ${found.length} candidates`)
  m._set_limits(FUEL_PROBE + 2, 0, 0)
  const still = found.filter((i) => words[i] === FUEL_PROBE)
  const changed = found.filter((i) => words[i] === FUEL_PROBE + 2)
  if (still.length !== 1 || changed.length !== 1) throw new Error('fuel counter: ambiguous')
  fuelSeenAt = still[0] as number
  return fuelSeenAt * 4
}

/** The fuel counter's word index in the last instance (findFuel scans 64 MB without it). */
let fuelSeenAt: number | null = null

/** Set or clear the read-only flag of the table whose tostring() is `name` ('table: 0x…'). */
function setReadonly(m: EmscriptenModule, name: string, readonly: boolean): void {
  const match = /^table: 0x([0-9a-f]+)$/.exec(name)
  if (match === null) throw new Error(`not a table address: ${name}`)
  const at = parseInt(match[1] as string, 16) + READONLY_AT
  if (at % 4 !== 0 || at + 4 > m.HEAPU8.length) throw new Error('table address out of range')
  const w = new Int32Array(m.HEAPU8.buffer, at, 1)
  if (w[0] !== (readonly ? 0 : 1)) throw new Error('the table is not as expected')
  w[0] = readonly ? 1 : 0
}
