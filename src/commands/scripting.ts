// Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FUNCTION, FCALL, FCALL_RO with Redis
// 7.0.15's replies and error texts. The Lua engine sits behind src/scripting/engine.ts.
// Transactions (DESIGN rules 1–3): a script runs inside the transaction of the command that
// called it (its own, or the EXEC's), and every redis.call runs the called command's handler in
// that same transaction: all the writes of a script are one log record, committed once, and the
// reply leaves after that commit like any write's. Events are logged, never the script, so replay
// never runs Lua. A script that raises keeps the writes it made before (as Redis does).
// Function libraries are durable: FUNCTION LOAD / DELETE / FLUSH / RESTORE apply the events of
// src/state/function-events.ts; what each library registers is derived here by running its code
// (LibraryIndex), rebuilt whenever the libraries change (Keyspace.functionLibraries). The script
// cache of EVAL is per server and not durable, as in Redis.
// FUNCTION DUMP / RESTORE use Redis's payload format (src/scripting/function-dump.ts).
// Long scripts (src/commands/busy.ts): the engine runs in a worker thread; past
// busy-reply-threshold the command is suspended, others get -BUSY, KILL stops a script that has
// not written. Not yet: redis.call command statistics, the sandbox differences listed in
// docs/scripting.md.

import { createHash } from 'node:crypto'
import type { AnyEvent } from '../state/event-registry.js'
import { functionDelEv, functionFlushEv, functionPutEv } from '../state/function-events.js'
import type { Keyspace } from '../state/keyspace.js'
import { OutputBuffer } from '../resp/writer.js'
import type {
  RegisteredFunction, ScriptHost, ScriptOutcome,
} from '../scripting/engine.js'
import { dumpLibraries, parseDumpPayload, verifyDumpPayload } from '../scripting/function-dump.js'
import { ENGINE_DESCRIPTION, SCRIPT_FLAG_NAMES } from '../scripting/wasm-lua.js'
import { WorkerLuaEngine } from '../scripting/worker-engine.js'
import { AttemptRecord, fastEligible, flushFast, inline, tryFast } from './script-fast.js'
import {
  BUSY_EVAL, busyState, completeScript, killScript, writeRunningScript,
} from './busy.js'
import { aclErrorMessage, checkAndLog } from './acl.js'
import { checkUserCommand } from './acl-check.js'
import { AclResult } from './acl-model.js'
import { clientInfoLine } from './client-info.js'
import { scriptFlagsHook } from './client-pause.js'
import { OOM_ERROR, arityOk, lookupCommand } from './dispatch.js'
import { globMatch } from './glob.js'
import { OutputSink } from './reply-sink.js'
import { writeValue } from './script-reply.js'
import { splitShebang } from './shebang.js'
import { helpLines, services, type ServerServices, type ServerStats } from './services.js'
import type { ClientState, CommandContext, CommandSpec, Handler } from './spec.js'

const engine = new WorkerLuaEngine(ENGINE_DESCRIPTION)

/**
 * FUNCTION LOAD stops a library's code after this long (Redis: 500 ms of its own time). Measured
 * here on the wall clock across threads, so with room for a loaded machine: a legitimate load
 * takes about a millisecond.
 */
const LOAD_TIMEOUT_MS = 2000

const ERR_NOSCRIPT = 'NOSCRIPT No matching script. Please use EVAL.'

/** Script flags (Redis's SCRIPT_FLAG_*), from a shebang or register_function. */
interface ScriptFlags {
  /** Declared with a shebang or by a function: flags are enforced (else EVAL compat mode). */
  readonly declared: boolean
  readonly noWrites: boolean
  readonly allowOom: boolean
  readonly allowStale: boolean
}

const COMPAT_FLAGS: ScriptFlags = { declared: false, noWrites: false, allowOom: false,
  allowStale: false }

function flagsOf(names: readonly string[]): ScriptFlags {
  return { declared: true, noWrites: names.includes('no-writes'),
    allowOom: names.includes('allow-oom'), allowStale: names.includes('allow-stale') }
}

interface CachedScript {
  /** The body given to the engine: the shebang line, if any, blanked (its '\n' kept). */
  readonly body: Buffer
  readonly flags: ScriptFlags
}

interface LoadedLibrary {
  readonly name: string
  readonly payload: Buffer
  /** The payload after its shebang line (the '\n' kept, so line numbers are the user's). */
  readonly code: Buffer
  readonly functions: readonly RegisteredFunction[]
}

/** Per-server scripting state: the EVAL cache and the index of the loaded libraries. */
class ScriptingState {
  readonly scripts = new Map<string, CachedScript>()
  /**
   * Library name → what it registered; rebuilt from Keyspace.functionLibraries when stale.
   * Keyed by lower-case names: Redis compares library and function names case-insensitively.
   */
  private libraries = new Map<string, LoadedLibrary>()
  private functions = new Map<string, { lib: LoadedLibrary; fn: RegisteredFunction }>()
  private builtFrom: Map<string, Buffer> | null = null
  private builtVersion = -1

  /** The libraries as the keyspace holds them (loading any not yet seen). */
  index(ks: Keyspace): { libraries: Map<string, LoadedLibrary>;
    functions: Map<string, { lib: LoadedLibrary; fn: RegisteredFunction }> } {
    if (this.builtFrom !== ks.functionLibraries || this.builtVersion !== ks.functionsVersion) {
      const libraries = new Map<string, LoadedLibrary>()
      const functions = new Map<string, { lib: LoadedLibrary; fn: RegisteredFunction }>()
      for (const [name, payload] of ks.functionLibraries) {
        let lib = this.libraries.get(name.toLowerCase())
        if (lib === undefined || lib.payload !== payload) {
          const parsed = parseLibraryPayload(payload)
          const code = 'error' in parsed ? payload : parsed.code
          const loaded = engine.loadLibrary(code, LOAD_HOST)
          lib = { name, payload, code, functions: loaded.ok ? loaded.functions : [] }
        }
        libraries.set(name.toLowerCase(), lib)
        for (const fn of lib.functions) functions.set(fn.name.toLowerCase(), { lib, fn })
      }
      this.libraries = libraries
      this.functions = functions
      this.builtFrom = ks.functionLibraries
      this.builtVersion = ks.functionsVersion
    }
    return { libraries: this.libraries, functions: this.functions }
  }
}

const STATES = new WeakMap<object, ScriptingState>()

/** The state of handlers run without a server (tests driving handlers directly). */
const NO_SERVER = {}

function stateOf(ctx: CommandContext): ScriptingState {
  const key = (ctx.server ?? NO_SERVER) as object
  let s = STATES.get(key)
  if (s === undefined) {
    s = new ScriptingState()
    STATES.set(key, s)
  }
  return s
}

/**
 * INFO memory's scripting lines (Redis's number_of_cached_scripts, number_of_functions,
 * number_of_libraries); the Lua engine's memory is not measured (it lives in its thread).
 */
export function scriptingMemoryInfo(server: object | undefined, ks: Keyspace | null): string[] {
  const s = STATES.get(server ?? NO_SERVER)
  const index = s === undefined || ks === null ? null : s.index(ks)
  return [`number_of_cached_scripts:${s?.scripts.size ?? 0}`,
    `number_of_functions:${index?.functions.size ?? 0}`,
    `number_of_libraries:${index?.libraries.size ?? 0}`,
    // capykv's own: scripts run on the main thread (the fast path), and those moved to the
    // worker thread past its budget (script-fast.ts).
    `scripts_fast_path:${inline.disabledReason === null ? 'on' : 'off'}`,
    `scripts_fast_runs:${inline.runs}`, `scripts_fast_moved:${inline.aborts}`]
}

/** The host of a library being loaded: redis.call is not reachable, redis.log goes nowhere. */
const LOAD_HOST: ScriptHost = {
  call: () => Buffer.from('-ERR redis.call is not available while loading a library\r\n'),
  aclCheck: () => Buffer.from('-ERR redis.acl_check_cmd is not available while loading a library\r\n'),
  log: () => {},
}

export function sha1hex(body: Buffer): string {
  return createHash('sha1').update(body).digest('hex')
}

/** Redis's sdssplitargs for a shebang line, enough for flags and names (no quotes there). */
/** evalExtractShebangFlags: the flags and the body with its shebang line blanked. */
function parseEvalShebang(body: Buffer): { flags: ScriptFlags; body: Buffer } | { error: string } {
  if (body.length < 2 || body[0] !== 0x23 || body[1] !== 0x21) return { flags: COMPAT_FLAGS, body }
  const end = body.indexOf(0x0a)
  if (end < 0) return { error: 'ERR Invalid script shebang' }
  const parts = splitShebang(body.subarray(0, end).toString('latin1'))
  if (parts.length === 0) return { error: 'ERR Invalid engine in script shebang' }
  if (parts[0] !== '#!lua') return { error: `ERR Unexpected engine in script shebang: ${parts[0]}` }
  const names: string[] = []
  for (let j = 1; j < parts.length; j++) {
    const part = parts[j] as string
    if (!part.startsWith('flags=')) return { error: `ERR Unknown lua shebang option: ${part}` }
    const list = part.slice(6)
    if (list.length === 0) continue
    for (const f of list.split(',')) {
      if (!SCRIPT_FLAG_NAMES.includes(f)) {
        return { error: `ERR Unexpected flag in script shebang: ${f}` }
      }
      names.push(f)
    }
  }
  return { flags: flagsOf(names), body: body.subarray(end) }
}

/** functionExtractLibMetaData: the library's name and its code (from the shebang's '\n'). */
function parseLibraryPayload(payload: Buffer): { name: string; engine: string; code: Buffer } |
  { error: string } {
  if (payload.length < 2 || payload[0] !== 0x23 || payload[1] !== 0x21) {
    return { error: 'Missing library metadata' }
  }
  const end = payload.indexOf(0x0a)
  if (end < 0) return { error: 'Invalid library metadata' }
  const parts = splitShebang(payload.subarray(0, end).toString('latin1'))
  if (parts.length === 0) return { error: 'Invalid library metadata' }
  const engineName = (parts[0] as string).slice(2)
  let name: string | null = null
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string
    if (part.slice(0, 5).toLowerCase() === 'name=') {
      if (name !== null) {
        return { error: 'Invalid metadata value, name argument was given multiple times' }
      }
      name = part.slice(5)
      continue
    }
    return { error: `Invalid metadata value given: ${part}` }
  }
  if (name === null) return { error: 'Library name was not given' }
  return { name, engine: engineName, code: payload.subarray(end) }
}

function validLibraryName(name: string): boolean {
  return /^[A-Za-z0-9_]+$/.test(name)
}

// ---------------------------------------------------------------------------------------------
// Running a script.

interface RunMode {
  readonly readOnly: boolean
  readonly flags: ScriptFlags
}

/** The host a running script calls back into: redis.call runs in the caller's transaction. */
export class CallHost implements ScriptHost {
  /** A write command ran (Redis's SCRIPT_WRITE_DIRTY): the script can no longer be killed. */
  wrote = false
  private readonly out = CALL_OUT
  private readonly sink = CALL_SINK
  private readonly client: ClientState
  /** The context of the script's commands (made at the first redis.call). */
  private callCtx: { -readonly [K in keyof CommandContext]: CommandContext[K] } | null = null
  /**
   * An attempt on the main thread (script-fast.ts), which may be rolled back: its redis.log
   * lines wait for its end, and what it counted in commandstats / errorstats can be put back.
   */
  readonly attempt: AttemptRecord | null

  constructor(private readonly ctx: CommandContext, private readonly mode: RunMode,
    attempt = false) {
    this.attempt = attempt ? new AttemptRecord() : null
    const c = ctx.client
    // The script's own client (Redis's script client): SELECT inside a script stays inside it.
    this.client = { id: c.id, name: c.name, db: c.db, proto: 2, authenticated: true,
      user: c.user, multi: null, watchDirty: false, watched: NO_WATCHED }
  }

  private fail(message: string): Buffer {
    return Buffer.from(`-${message}\r\n`, 'latin1')
  }

  /** A call refused after its command was found: counted in errorstats, as scriptCall does. */
  private reject(message: string): Buffer {
    this.countError(message)
    return this.fail(message)
  }

  private countError(message: string): void {
    const stats = services(this.ctx).stats as ServerStats | undefined
    if (stats === undefined) return
    this.attempt?.error(stats, message)
    stats.countError(message)
  }

  call(args: Buffer[], resp: 2 | 3): Buffer {
    if (args.length === 0) {
      return this.fail('ERR Please specify at least one argument for this redis lib call')
    }
    const srv = services(this.ctx)
    const found = lookupCommand(srv.table, args)
    if (found.kind !== 'ok') return this.fail('ERR Unknown Redis command called from script')
    const spec = found.spec
    // commandstats count the commands of scripts too (rejected, failed, calls and time).
    if (this.attempt !== null && srv.stats !== undefined) this.attempt.command(srv.stats, spec.name)
    const stat = srv.stats?.commandStat(spec.name)
    if (!arityOk(spec, args.length)) {
      if (stat !== undefined) stat.rejectedCalls++
      return this.reject('ERR Wrong number of args calling Redis command from script')
    }
    const flags = callFlagsOf(spec)
    if (flags.noscript) {
      if (stat !== undefined) stat.rejectedCalls++
      return this.reject('ERR This Redis command is not allowed from script')
    }
    const user = this.client.user
    if (user !== undefined && !user.unrestricted) {
      const denial = checkAndLog(srv.acl, user, spec, args, 'lua',
        () => clientInfoLine(srv, srv.handleOf(this.ctx.client), this.ctx.nowMs))
      if (denial !== null) {
        return this.reject(`ERR The user executing the script ${aclErrorMessage(denial.result)}`)
      }
    }
    // may_replicate commands (PUBLISH, PFCOUNT…) count as writes here, as in Redis: a
    // read-only script can then run during CLIENT PAUSE WRITE.
    if (flags.write || flags.mayReplicate) {
      if (this.mode.readOnly || this.mode.flags.noWrites) {
        if (stat !== undefined) stat.rejectedCalls++
        return this.reject('ERR Write commands are not allowed from read-only scripts.')
      }
    }
    // scriptVerifyOOM: until the script has written, a denyoom command is refused when the
    // script's command found the server over maxmemory (unless the script allows OOM).
    if (!this.mode.flags.allowOom && !this.wrote && flags.denyoom &&
      outOfMemory(this.ctx)) {
      if (stat !== undefined) stat.rejectedCalls++
      return this.reject(OOM_ERROR)
    }
    if (flags.write) this.wrote = true
    // Redis's call(): a read in a script makes the caller track the script's keys.
    if (flags.readonly) srv.tracking.scriptRead = true
    this.out.proto = resp
    let ctx = this.callCtx
    if (ctx === null) {
      ctx = { ...this.ctx, client: this.client, reply: this.sink, block: undefined,
        script: true, readLookups: false, suspend: undefined }
      this.callCtx = ctx
    }
    ctx.readLookups = flags.readonly
    const started = performance.now()
    spec.handler(ctx, args)
    if (!flags.unmonitored) this.monitor(args)
    const bytes = this.out.take()
    if (stat !== undefined) {
      stat.calls++
      stat.usec += Math.round((performance.now() - started) * 1000)
      if (bytes[0] === 0x2d) {
        stat.failedCalls++
        this.countError(bytes.toString('latin1', 1, bytes.indexOf(0x0d)))
      }
    }
    if (bytes.length === 0) return NULL_REPLY
    return bytes
  }

  /** redis.acl_check_cmd (luaRedisAclCheckCmdPermissionsCommand), with no ACL LOG entry. */
  aclCheck(args: Buffer[]): Buffer {
    const srv = services(this.ctx)
    const found = lookupCommand(srv.table, args)
    if (found.kind !== 'ok') return this.fail('ERR Invalid command passed to redis.acl_check_cmd()')
    const user = this.ctx.client.user
    if (user === undefined || user.unrestricted) return ONE_REPLY
    const cmd = srv.acl.commands.of(found.spec)
    if (cmd === undefined) return ONE_REPLY
    return checkUserCommand(user, cmd, args)[0] === AclResult.OK ? ONE_REPLY : ZERO_REPLY
  }

  /** redis.log: to the server's log, at the script's level (Redis's serverLogRaw). */
  log(level: number, message: Buffer): void {
    if (this.attempt !== null) {
      this.attempt.logs.push([level, Buffer.from(message)])
      return
    }
    services(this.ctx).log?.(LOG_LEVELS[level] ?? 'warning', message.toString('latin1'))
  }

  /** The attempt succeeded: its redis.log lines go to the log now, its commands to MONITOR. */
  flushLogs(): void {
    const attempt = this.attempt
    if (attempt === null) return
    const srv = services(this.ctx)
    for (const [level, message] of attempt.logs) {
      srv.log?.(LOG_LEVELS[level] ?? 'warning', message.toString('latin1'))
    }
    attempt.logs.length = 0
    for (const [db, argv] of attempt.monitored) srv.feedMonitors?.(null, db, argv)
    attempt.monitored.length = 0
  }

  /** call()'s MONITOR feed of a script's command, after it ran, as the script client ("lua"). */
  private monitor(args: Buffer[]): void {
    if (this.attempt !== null) {
      this.attempt.monitored.push([this.client.db, args.map((a) => Buffer.from(a))])
      return
    }
    ;(this.ctx.server as ServerServices | null | undefined)?.feedMonitors?.(null, this.client.db,
      args)
  }
}

/** What CallHost.call reads of a command's flags, found once per command. */
interface CallFlags {
  readonly noscript: boolean
  readonly write: boolean
  readonly mayReplicate: boolean
  readonly denyoom: boolean
  readonly readonly: boolean
  /** skip_monitor or admin: not shown to MONITOR. */
  readonly unmonitored: boolean
}

const CALL_FLAGS = new WeakMap<CommandSpec, CallFlags>()

function callFlagsOf(spec: CommandSpec): CallFlags {
  let flags = CALL_FLAGS.get(spec)
  if (flags === undefined) {
    const f = spec.flags
    flags = { noscript: f.includes('noscript'), write: f.includes('write'),
      mayReplicate: f.includes('may_replicate'), denyoom: f.includes('denyoom'),
      readonly: f.includes('readonly'),
      unmonitored: f.includes('skip_monitor') || f.includes('admin') }
    CALL_FLAGS.set(spec, flags)
  }
  return flags
}

/**
 * The output of scripts' commands (each call's reply is taken before the next call), shared:
 * one script runs at a time (EVAL and FCALL are refused while one is busy, and scripts do not
 * nest). Scripts cannot WATCH (noscript): their client watches nothing.
 */
const CALL_OUT = new OutputBuffer(2, 4096)
const CALL_SINK = new OutputSink(CALL_OUT)
const NO_WATCHED: ClientState['watched'] = new Map()

const NULL_REPLY = Buffer.from('$-1\r\n')
const ONE_REPLY = Buffer.from(':1\r\n')
const ZERO_REPLY = Buffer.from(':0\r\n')
const LOG_LEVELS = ['debug', 'verbose', 'notice', 'warning'] as const

/** numkeys and the KEYS / ARGV of EVAL-like commands; null after replying an error. */
function keysAndArgs(ctx: CommandContext, argv: Buffer[],
  notInteger = 'ERR value is not an integer or out of range'): { keys: Buffer[]; args: Buffer[] } |
  null {
  const text = (argv[2] as Buffer).toString('latin1')
  const n = /^-?\d+$/.test(text) ? Number(text) : NaN
  if (!Number.isSafeInteger(n)) {
    ctx.reply.error(notInteger)
    return null
  }
  if (n > argv.length - 3) {
    ctx.reply.error("ERR Number of keys can't be greater than number of args")
    return null
  }
  if (n < 0) {
    ctx.reply.error("ERR Number of keys can't be negative")
    return null
  }
  return { keys: argv.slice(3, 3 + n), args: argv.slice(3 + n) }
}

/** Add a script to the cache (compiling it); its sha, or null after replying an error. */
function cacheScript(ctx: CommandContext, state: ScriptingState, body: Buffer): string | null {
  const sha = sha1hex(body)
  if (state.scripts.has(sha)) return sha
  const parsed = parseEvalShebang(body)
  if ('error' in parsed) {
    ctx.reply.error(parsed.error)
    return null
  }
  let compileError = inline.ready ? inline.compile(sha, parsed.body) : undefined
  if (compileError === undefined) compileError = engine.compileScript(sha, parsed.body)
  if (compileError !== null) {
    ctx.reply.error(`ERR ${compileError}`)
    return null
  }
  state.scripts.set(sha, { body: parsed.body, flags: parsed.flags })
  return sha
}

/** The declared flags of the script or function a call would run (evalGetCommandFlags). */
function declaredFlags(server: unknown, keyspace: Keyspace, name: string,
  argv: Buffer[]): ScriptFlags | undefined {
  const state = STATES.get((server ?? NO_SERVER) as object)
  const arg = argv[1]
  if (arg === undefined) return undefined
  if (name === 'eval' || name === 'eval_ro') {
    const cached = state?.scripts.get(sha1hex(arg))
    if (cached !== undefined) return cached.flags
    const parsed = parseEvalShebang(arg)
    return 'error' in parsed ? undefined : parsed.flags
  }
  if (name === 'evalsha' || name === 'evalsha_ro') {
    return state?.scripts.get(arg.toString('latin1').toLowerCase())?.flags
  }
  const fn = state?.index(keyspace).functions.get(arg.toString('latin1').toLowerCase())
  return fn === undefined ? undefined : flagsOf(fn.fn.flags)
}

scriptFlagsHook.mayWrite = (server, keyspace, name, argv) => {
  const flags = declaredFlags(server, keyspace as Keyspace, name, argv)
  return flags === undefined || !flags.declared ? undefined : !flags.noWrites
}

/** Redis's scriptPrepareForRun checks of a script's flags against the call. */
function checkRun(ctx: CommandContext, mode: RunMode): boolean {
  if (mode.readOnly && mode.flags.declared && !mode.flags.noWrites) {
    ctx.reply.error('ERR Can not execute a script with write flag using *_ro command.')
    return false
  }
  if (mode.flags.declared && !mode.flags.allowOom && !mode.flags.noWrites && outOfMemory(ctx)) {
    ctx.reply.error("OOM allow-oom flag is not set on the script, can not run it when used " +
      "memory > 'maxmemory'")
    return false
  }
  return true
}

/** Redis's pre_command_oom_state: the script's command found the server over maxmemory. */
function outOfMemory(ctx: CommandContext): boolean {
  const evictor = (ctx.server as ServerServices | undefined)?.evictor
  return evictor !== undefined && evictor.enabled && evictor.lastOutOfMemory
}

function runEval(ctx: CommandContext, argv: Buffer[], bySha: boolean, readOnly: boolean): void {
  const state = stateOf(ctx)
  const ka = keysAndArgs(ctx, argv)
  if (ka === null) return
  let sha: string
  if (bySha) {
    sha = (argv[1] as Buffer).toString('latin1').toLowerCase()
    if (!state.scripts.has(sha)) {
      ctx.reply.error(ERR_NOSCRIPT)
      return
    }
  } else {
    const cached = cacheScript(ctx, state, argv[1] as Buffer)
    if (cached === null) return
    sha = cached
  }
  const script = state.scripts.get(sha) as CachedScript
  const mode: RunMode = { readOnly, flags: script.flags }
  if (!checkRun(ctx, mode)) return
  const key = `e:${sha}`
  if (fastEligible(key)) {
    const fastHost = new CallHost(ctx, mode, true)
    const fast = tryFast(ctx, key, fastHost, (deadline, cap) =>
      inline.tryScript(sha, script.body, ka.keys, ka.args, fastHost, deadline, cap))
    if (fast !== null) {
      writeOutcome(ctx, fast)
      return
    }
  }
  const host = new CallHost(ctx, mode)
  completeScript(ctx, argv, { kind: 'eval', name: sha, wrote: () => host.wrote,
    job: engine.startScript(sha, script.body, ka.keys, ka.args, host),
    reply: (outcome) => writeOutcome(ctx, outcome) })
}

function writeOutcome(ctx: CommandContext, outcome: ScriptOutcome): void {
  const stats = (ctx.server as ServerServices | undefined)?.stats
  if (!outcome.ok) {
    if (outcome.counted === true && stats !== undefined) stats.uncountedError = outcome.error
    ctx.reply.error(outcome.error)
    return
  }
  const v = outcome.value
  if (stats !== undefined && v !== null && typeof v === 'object' && 'counted' in v) {
    stats.uncountedError = v.err.toString('latin1')
  }
  writeValue(ctx.reply, v)
}

function runFunction(ctx: CommandContext, argv: Buffer[], readOnly: boolean): void {
  const name = (argv[1] as Buffer).toString('latin1')
  const found = stateOf(ctx).index(ctx.keyspace).functions.get(name.toLowerCase())
  if (found === undefined) {
    ctx.reply.error('ERR Function not found')
    return
  }
  const ka = keysAndArgs(ctx, argv, 'ERR Bad number of keys provided')
  if (ka === null) return
  const mode: RunMode = { readOnly, flags: flagsOf(found.fn.flags) }
  if (!checkRun(ctx, mode)) return
  const key = `f:${found.fn.name}`
  if (fastEligible(key)) {
    const fastHost = new CallHost(ctx, mode, true)
    const fast = tryFast(ctx, key, fastHost, (deadline, cap) =>
      inline.tryFunction(found.lib.code, found.fn.name, ka.keys, ka.args, fastHost, deadline,
        cap))
    if (fast !== null) {
      writeOutcome(ctx, fast)
      return
    }
  }
  const host = new CallHost(ctx, mode)
  completeScript(ctx, argv, { kind: 'function', name: found.fn.name, wrote: () => host.wrote,
    job: engine.startFunction(found.lib.code, found.fn.name, ka.keys, ka.args, host),
    reply: (outcome) => writeOutcome(ctx, outcome) })
}

/**
 * EVAL* and FCALL* are skip_monitor: they show themselves to MONITOR before they run, so that
 * the commands of the script follow them (evalCommand, fcallCommandGeneric).
 */
function monitored(run: Handler): Handler {
  return (ctx, argv) => {
    ;(ctx.server as ServerServices | null | undefined)?.feedMonitors?.(ctx.client, ctx.client.db,
      argv)
    run(ctx, argv)
  }
}

const evalCommand = monitored((ctx, argv) => runEval(ctx, argv, false, false))
const evalRoCommand = monitored((ctx, argv) => runEval(ctx, argv, false, true))
const evalshaCommand = monitored((ctx, argv) => runEval(ctx, argv, true, false))
const evalshaRoCommand = monitored((ctx, argv) => runEval(ctx, argv, true, true))
const fcallCommand = monitored((ctx, argv) => runFunction(ctx, argv, false))
const fcallRoCommand = monitored((ctx, argv) => runFunction(ctx, argv, true))

// ---------------------------------------------------------------------------------------------
// SCRIPT

const scriptLoad: Handler = (ctx, argv) => {
  const sha = cacheScript(ctx, stateOf(ctx), argv[2] as Buffer)
  if (sha !== null) ctx.reply.bulk(sha)
}

const scriptExists: Handler = (ctx, argv) => {
  const scripts = stateOf(ctx).scripts
  ctx.reply.arrayHeader(argv.length - 2)
  for (let i = 2; i < argv.length; i++) {
    ctx.reply.integer(scripts.has((argv[i] as Buffer).toString('latin1').toLowerCase()) ? 1 : 0)
  }
}

const scriptFlush: Handler = (ctx, argv) => {
  if (argv.length > 3) {
    ctx.reply.error('ERR SCRIPT FLUSH only support SYNC|ASYNC option')
    return
  }
  if (argv.length === 3) {
    const opt = (argv[2] as Buffer).toString('latin1').toLowerCase()
    if (opt !== 'sync' && opt !== 'async') {
      ctx.reply.error('ERR SCRIPT FLUSH only support SYNC|ASYNC option')
      return
    }
  }
  stateOf(ctx).scripts.clear()
  engine.flush()
  flushFast()
  ctx.reply.simple('OK')
}

/** SCRIPT DEBUG: NO is accepted; capykv has no Lua debugger (YES and SYNC are refused). */
const scriptDebug: Handler = (ctx, argv) => {
  const mode = (argv[2] as Buffer).toString('latin1').toLowerCase()
  if (mode === 'no') {
    ctx.reply.simple('OK')
  } else if (mode === 'yes' || mode === 'sync') {
    ctx.reply.error('ERR SCRIPT DEBUG YES|SYNC is not supported: capykv has no Lua debugger')
  } else {
    ctx.reply.error('ERR Use SCRIPT DEBUG YES/SYNC/NO')
  }
}

const scriptKill: Handler = (ctx) => killScript(ctx, true)
const functionKill: Handler = (ctx) => killScript(ctx, false)

const scriptHelp: Handler = (ctx) => {
  const lines = helpLines('script', [
    'DEBUG (YES|SYNC|NO)',
    '    Set the debug mode for subsequent scripts executed.',
    'EXISTS <sha1> [<sha1> ...]',
    '    Return information about the existence of the scripts in the script cache.',
    'FLUSH [ASYNC|SYNC]',
    '    Flush the Lua scripts cache. Very dangerous on replicas.',
    '    When called without the optional mode argument, the behavior is determined by the',
    '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
    '    * ASYNC: Asynchronously flush the scripts cache.',
    '    * SYNC: Synchronously flush the scripts cache.',
    'KILL',
    '    Kill the currently executing Lua script.',
    'LOAD <script>',
    '    Load a script into the scripts cache without executing it.',
  ])
  ctx.reply.arrayHeader(lines.length)
  for (const l of lines) ctx.reply.simple(l)
}

// ---------------------------------------------------------------------------------------------
// FUNCTION

function apply(ctx: CommandContext, e: AnyEvent): void {
  ctx.txn.apply(e)
}

/** A library checked and loaded (Redis's functionsCreateWithLibraryCtx, without linking). */
interface NewLibrary {
  readonly name: string
  readonly payload: Buffer
  readonly functions: readonly RegisteredFunction[]
}

function createLibrary(payload: Buffer): NewLibrary | { error: string } {
  const parsed = parseLibraryPayload(payload)
  if ('error' in parsed) return parsed
  if (!validLibraryName(parsed.name)) {
    return { error: 'Library names can only contain letters, numbers, or underscores(_) and ' +
      'must be at least one character long' }
  }
  if (parsed.engine.toLowerCase() !== 'lua') return { error: `Engine '${parsed.engine}' not found` }
  const loaded = engine.loadLibrary(parsed.code, LOAD_HOST, LOAD_TIMEOUT_MS)
  if (!loaded.ok) {
    return { error: loaded.error.startsWith('ERR ') ? loaded.error.slice(4) : loaded.error }
  }
  return { name: parsed.name, payload, functions: loaded.functions }
}

const functionLoad: Handler = (ctx, argv) => {
  let replace = false
  let i = 2
  for (; i < argv.length - 1; i++) {
    const opt = (argv[i] as Buffer).toString('latin1').toLowerCase()
    if (opt === 'replace') { replace = true; continue }
    ctx.reply.error(`ERR Unknown option given: ${(argv[i] as Buffer).toString('latin1')}`)
    return
  }
  if (i !== argv.length - 1) {
    ctx.reply.error('ERR Function code is missing')
    return
  }
  const payload = Buffer.from(argv[i] as Buffer)
  const parsed = parseLibraryPayload(payload)
  const index = stateOf(ctx).index(ctx.keyspace)
  if (!('error' in parsed) && validLibraryName(parsed.name) &&
    parsed.engine.toLowerCase() === 'lua' && !replace &&
    index.libraries.has(parsed.name.toLowerCase())) {
    ctx.reply.error(`ERR Library '${parsed.name}' already exists`)
    return
  }
  const lib = createLibrary(payload)
  if ('error' in lib) {
    ctx.reply.error(`ERR ${lib.error}`)
    return
  }
  const existing = index.libraries.get(lib.name.toLowerCase())
  for (const fn of lib.functions) {
    const other = index.functions.get(fn.name.toLowerCase())
    if (other !== undefined && other.lib !== existing) {
      ctx.reply.error(`ERR Function ${fn.name} already exists`)
      return
    }
  }
  if (existing !== undefined && existing.name !== lib.name) {
    apply(ctx, functionDelEv(existing.name))
  }
  apply(ctx, functionPutEv(lib.name, payload))
  ctx.reply.bulk(lib.name)
}

const functionDump: Handler = (ctx) => {
  const libs = [...stateOf(ctx).index(ctx.keyspace).libraries.values()]
  ctx.reply.bulk(dumpLibraries(libs.map((l) => l.payload)))
}

/**
 * The libraries of a FUNCTION RESTORE payload checked among themselves (a fresh library context
 * in Redis): a library or function name twice is an error, as is a library that does not load.
 */
function restoredLibraries(payloads: readonly Buffer[]):
  { fresh: Map<string, NewLibrary>, freshFunctions: Set<string> } | { error: string } {
  const fresh = new Map<string, NewLibrary>()
  const freshFunctions = new Set<string>()
  for (const payload of payloads) {
    const p = parseLibraryPayload(payload)
    if (!('error' in p) && fresh.has(p.name.toLowerCase())) {
      return { error: `Library '${p.name}' already exists` }
    }
    const lib = createLibrary(Buffer.from(payload))
    if ('error' in lib) return { error: lib.error }
    for (const fn of lib.functions) {
      if (freshFunctions.has(fn.name.toLowerCase())) {
        return { error: `Function ${fn.name} already exists` }
      }
    }
    for (const fn of lib.functions) freshFunctions.add(fn.name.toLowerCase())
    fresh.set(lib.name.toLowerCase(), lib)
  }
  return { fresh, freshFunctions }
}

const functionRestore: Handler = (ctx, argv) => {
  if (argv.length > 4) {
    ctx.reply.error("ERR unknown subcommand or wrong number of arguments for 'restore'. " +
      'Try FUNCTION HELP.')
    return
  }
  let policy = 'append'
  if (argv.length === 4) {
    policy = (argv[3] as Buffer).toString('latin1').toLowerCase()
    if (policy !== 'append' && policy !== 'replace' && policy !== 'flush') {
      ctx.reply.error('ERR Wrong restore policy given, value should be either FLUSH, APPEND or ' +
        'REPLACE.')
      return
    }
  }
  const data = argv[2] as Buffer
  if (!verifyDumpPayload(data)) {
    ctx.reply.error('ERR DUMP payload version or checksum are wrong')
    return
  }
  const parsed = parseDumpPayload(data)
  if ('error' in parsed) {
    ctx.reply.error(`ERR ${parsed.error}`)
    return
  }
  const restored = restoredLibraries(parsed.libraries)
  if ('error' in restored) {
    ctx.reply.error(`ERR ${restored.error}`)
    return
  }
  const { fresh, freshFunctions } = restored
  const index = stateOf(ctx).index(ctx.keyspace)
  const removed: LoadedLibrary[] = []
  if (policy === 'flush') {
    apply(ctx, functionFlushEv())
  } else {
    for (const [lower, lib] of fresh) {
      const old = index.libraries.get(lower)
      if (old === undefined) continue
      if (policy === 'append') {
        ctx.reply.error(`ERR Library ${lib.name} already exists`)
        return
      }
      removed.push(old)
    }
    for (const [fname, found] of index.functions) {
      if (freshFunctions.has(fname) && !removed.includes(found.lib)) {
        const fn = [...fresh.values()].flatMap((l) => l.functions)
          .find((f) => f.name.toLowerCase() === fname) as RegisteredFunction
        ctx.reply.error(`ERR Function ${fn.name} already exists`)
        return
      }
    }
    for (const old of removed) {
      apply(ctx, functionDelEv(old.name))
    }
  }
  for (const lib of fresh.values()) {
    apply(ctx, functionPutEv(lib.name, lib.payload))
  }
  ctx.reply.simple('OK')
}

const functionDelete: Handler = (ctx, argv) => {
  const name = (argv[2] as Buffer).toString('latin1')
  const lib = stateOf(ctx).index(ctx.keyspace).libraries.get(name.toLowerCase())
  if (lib === undefined) {
    ctx.reply.error('ERR Library not found')
    return
  }
  apply(ctx, functionDelEv(lib.name))
  ctx.reply.simple('OK')
}

const functionFlush: Handler = (ctx, argv) => {
  if (argv.length > 3) {
    ctx.reply.error('ERR unknown subcommand or wrong number of arguments for \'flush\'. ' +
      'Try FUNCTION HELP.')
    return
  }
  if (argv.length === 3) {
    const opt = (argv[2] as Buffer).toString('latin1').toLowerCase()
    if (opt !== 'sync' && opt !== 'async') {
      ctx.reply.error('ERR FUNCTION FLUSH only supports SYNC|ASYNC option')
      return
    }
  }
  apply(ctx, functionFlushEv())
  ctx.reply.simple('OK')
}

const functionList: Handler = (ctx, argv) => {
  let withCode = false
  let pattern: Buffer | null = null
  for (let i = 2; i < argv.length; i++) {
    const arg = (argv[i] as Buffer).toString('latin1').toLowerCase()
    if (!withCode && arg === 'withcode') { withCode = true; continue }
    if (pattern === null && arg === 'libraryname') {
      if (i >= argv.length - 1) {
        ctx.reply.error('ERR library name argument was not given')
        return
      }
      pattern = argv[++i] as Buffer
      continue
    }
    ctx.reply.error(`ERR Unknown argument ${(argv[i] as Buffer).toString('latin1')}`)
    return
  }
  const libs = [...stateOf(ctx).index(ctx.keyspace).libraries.values()].filter((lib) =>
    pattern === null || globMatch(pattern, Buffer.from(lib.name, 'latin1')))
  const r = ctx.reply
  r.arrayHeader(libs.length)
  for (const lib of libs) {
    r.mapHeader(withCode ? 4 : 3)
    r.bulk('library_name'); r.bulk(Buffer.from(lib.name, 'latin1'))
    r.bulk('engine'); r.bulk('LUA')
    r.bulk('functions')
    r.arrayHeader(lib.functions.length)
    for (const fn of lib.functions) {
      r.mapHeader(3)
      r.bulk('name'); r.bulk(Buffer.from(fn.name, 'latin1'))
      r.bulk('description')
      if (fn.description === null) r.nullBulk()
      else r.bulk(Buffer.from(fn.description, 'latin1'))
      r.bulk('flags')
      r.setHeader(fn.flags.length)
      for (const f of fn.flags) r.simple(f)
    }
    if (withCode) { r.bulk('library_code'); r.bulk(lib.payload) }
  }
}

const functionStats: Handler = (ctx) => {
  // Redis: an EVAL being busy is not a function: FUNCTION STATS answers as others do.
  if (busyState.current?.kind === 'eval') {
    ctx.reply.error(BUSY_EVAL)
    return
  }
  const index = stateOf(ctx).index(ctx.keyspace)
  const r = ctx.reply
  r.mapHeader(2)
  r.bulk('running_script')
  writeRunningScript(r)
  r.bulk('engines')
  r.mapHeader(1)
  r.bulk('LUA')
  r.mapHeader(2)
  r.bulk('libraries_count'); r.integer(index.libraries.size)
  r.bulk('functions_count'); r.integer(index.functions.size)
}

const functionHelp: Handler = (ctx) => {
  const lines = helpLines('function', [
    'LOAD [REPLACE] <FUNCTION CODE>',
    '    Create a new library with the given library name and code.',
    'DELETE <LIBRARY NAME>',
    '    Delete the given library.',
    'LIST [LIBRARYNAME PATTERN] [WITHCODE]',
    '    Return general information on all the libraries:',
    '    * Library name',
    '    * The engine used to run the Library',
    '    * Library description',
    '    * Functions list',
    '    * Library code (if WITHCODE is given)',
    '    It also possible to get only function that matches a pattern using LIBRARYNAME argument.',
    'STATS',
    '    Return information about the current function running:',
    '    * Function name',
    '    * Command used to run the function',
    '    * Duration in MS that the function is running',
    '    If no function is running, return nil',
    '    In addition, returns a list of available engines.',
    'KILL',
    '    Kill the current running function.',
    'FLUSH [ASYNC|SYNC]',
    '    Delete all the libraries.',
    '    When called without the optional mode argument, the behavior is determined by the',
    '    lazyfree-lazy-user-flush configuration directive. Valid modes are:',
    '    * ASYNC: Asynchronously flush the libraries.',
    '    * SYNC: Synchronously flush the libraries.',
    'DUMP',
    '    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command',
    'RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]',
    '    Restore the libraries represented by the given payload, it is possible to give a restore policy to',
    '    control how to handle existing libraries (default APPEND):',
    '    * FLUSH: delete all existing libraries.',
    '    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.',
    '    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old',
    '      libraries with the new libraries (notice that even on this option there is a chance of failure',
    '      in case of functions name collision with another library).',
  ])
  ctx.reply.arrayHeader(lines.length)
  for (const l of lines) ctx.reply.simple(l)
}

// ---------------------------------------------------------------------------------------------
// The table.

type Flags = CommandSpec['flags']

function spec(name: string, arity: number, flags: Flags, categories: string[], handler: Handler,
  extra: Partial<CommandSpec> = {}): CommandSpec {
  return Object.freeze({ name, arity, flags, firstKey: 0, lastKey: 0, step: 0, categories,
    handler, ...extra })
}

/** Key positions of EVAL-like commands: numkeys at argv[2], the keys after it. */
function evalKeys(argv: readonly Buffer[]): number[] {
  const n = Number((argv[2] as Buffer | undefined)?.toString('latin1'))
  const out: number[] = []
  if (!Number.isSafeInteger(n) || n < 0) return out
  for (let i = 0; i < n && 3 + i < argv.length; i++) out.push(3 + i)
  return out
}

const EVAL_FLAGS: Flags = ['noscript', 'skip_monitor', 'may_replicate', 'no_mandatory_keys',
  'stale', 'movablekeys']
const EVAL_RO_FLAGS: Flags = ['noscript', 'skip_monitor', 'no_mandatory_keys', 'stale',
  'readonly', 'movablekeys']
const EVAL_EXTRA = { keys: evalKeys }

const container = (name: string): Handler => (ctx) => {
  ctx.reply.error(`ERR wrong number of arguments for '${name}' command`)
}

export const scriptingCommands: CommandSpec[] = [
  spec('eval', -3, EVAL_FLAGS, ['slow', 'scripting'], evalCommand, EVAL_EXTRA),
  spec('eval_ro', -3, EVAL_RO_FLAGS, ['slow', 'scripting'], evalRoCommand, EVAL_EXTRA),
  spec('evalsha', -3, EVAL_FLAGS, ['slow', 'scripting'], evalshaCommand, EVAL_EXTRA),
  spec('evalsha_ro', -3, EVAL_RO_FLAGS, ['slow', 'scripting'], evalshaRoCommand, EVAL_EXTRA),
  spec('fcall', -3, EVAL_FLAGS, ['slow', 'scripting'], fcallCommand, EVAL_EXTRA),
  spec('fcall_ro', -3, EVAL_RO_FLAGS, ['slow', 'scripting'], fcallRoCommand, EVAL_EXTRA),
  spec('script', -2, [], ['slow'], container('script'), { subcommands: [
    spec('script|load', 3, ['noscript', 'stale'], ['slow', 'scripting'], scriptLoad),
    spec('script|exists', -3, ['noscript'], ['slow', 'scripting'], scriptExists),
    spec('script|flush', -2, ['noscript'], ['slow', 'scripting'], scriptFlush),
    spec('script|debug', 3, ['noscript'], ['slow', 'scripting'], scriptDebug),
    spec('script|kill', 2, ['noscript', 'allow_busy'], ['slow', 'scripting'], scriptKill),
    spec('script|help', 2, ['loading', 'stale'], ['slow', 'scripting'], scriptHelp),
  ] }),
  spec('function', -2, [], ['slow'], container('function'), { subcommands: [
    spec('function|load', -3, ['noscript', 'write', 'denyoom'], ['write', 'slow', 'scripting'],
      functionLoad),
    spec('function|list', -2, ['noscript'], ['slow', 'scripting'], functionList),
    spec('function|delete', 3, ['noscript', 'write'], ['write', 'slow', 'scripting'],
      functionDelete),
    spec('function|flush', -2, ['noscript', 'write'], ['write', 'slow', 'scripting'],
      functionFlush),
    spec('function|dump', 2, ['noscript'], ['slow', 'scripting'], functionDump),
    spec('function|restore', -3, ['noscript', 'write', 'denyoom'], ['write', 'slow', 'scripting'],
      functionRestore),
    spec('function|stats', 2, ['noscript', 'allow_busy'], ['slow', 'scripting'], functionStats),
    spec('function|kill', 2, ['noscript', 'allow_busy'], ['slow', 'scripting'], functionKill),
    spec('function|help', 2, ['loading', 'stale'], ['slow', 'scripting'], functionHelp),
  ] }),
]

/** For INFO / tests: the engine in use. */
export function scriptEngineDescription(): string {
  return engine.description
}

export type { ServerServices }
