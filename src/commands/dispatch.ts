// Dispatch: one request (argv) from a client → lookup, checks, MULTI queueing, the handler in a
// transaction, commit, reply. The checks run in Redis 7.0.15's processCommand order, each with
// its exact error text: existence (unknown command / unknown subcommand), arity, protected
// commands (enable-debug-command), authentication, no_multi inside MULTI, the ACL (skipped for
// an unrestricted user; checked again for each queued command at EXEC), RESP2 subscribed mode
// (only the specs marked subscribedContext), loading. A command
// refused inside MULTI marks the transaction dirty (EXEC then answers EXECABORT); an EXEC that
// is itself refused discards the transaction ("EXECABORT Transaction discarded because of: …").
// Transactions (DESIGN rules 2 and 3): every command runs in a Transaction of its own, and EXEC
// runs every queued command in ONE transaction: one commit, one log record. A write command's
// replies are produced into a scratch buffer and reach the client only once its transaction was
// admitted (commitNoWait); when the pool is full (StoreError OUT_OF_SPACE) the transaction is
// undone and the client gets Redis's -OOM (for EXEC: EXECABORT … OOM …) instead. Replies still
// leave the process only after the group commit (the server releases them in afterDurable).
// Decisions read flags or spec identity, never names.

import { assert } from '../assert.js'
import { StoreError } from '../errors.js'
import { nowMs } from '../clock.js'
import { Args } from '../resp/args.js'
import { OutputBuffer } from '../resp/writer.js'
import { BlockingRegistry, type BlockedClient, type Waiter } from '../txn/blocking.js'
import type { Event } from '../state/event.js'
import type { Keyspace } from '../state/keyspace.js'
import type { Store, Transaction } from '../txn/engine.js'
import type { WatchIndex } from '../txn/watch.js'
import type { OutputSink } from './reply-sink.js'
import type { ClientHandle, CommandTable, ServerServices } from './services.js'
import type {
  BlockFn, ClientState, CommandContext, CommandSpec, ReplySink, SuspendedCall,
} from './spec.js'
import { EXEC_SPEC, IMMEDIATE_IN_MULTI, discardTransaction } from './transactions.js'
import { busyError, busyState } from './busy.js'
import { checkAndLog, execDeniedText, nopermText } from './acl.js'
import { clientInfoLine } from './client-info.js'
import { pauseOf, scriptFlagsHook, type PauseState } from './client-pause.js'
import { latencyCommand } from './latency.js'

export const OOM_ERROR = "OOM command not allowed when used memory > 'maxmemory'."
export const LOADING_ERROR = 'LOADING Redis is loading the dataset in memory'
export const NOAUTH_ERROR = 'NOAUTH Authentication required.'
/** Commands Redis runs inside MULTI when over maxmemory (processCommand's reject_cmd_on_oom). */
const OOM_ALLOWED_IN_MULTI: ReadonlySet<string> = new Set(['exec', 'discard', 'quit', 'reset'])
/** Refusals Redis makes with rejectCommandFormat (no error code of their own). */
const FORMATTED_REJECTION = /^ERR (wrong number of arguments for |Can't execute ')/
const EXECABORT_PREVIOUS = 'EXECABORT Transaction discarded because of previous errors.'
export const DEBUG_NOT_ALLOWED = 'ERR DEBUG command not allowed. If the enable-debug-command ' +
  'option is set to "local", you can run it from a local connection, otherwise you need to set ' +
  'this option in the configuration file, and then restart the server.'
/** The script calls whose flags come from the script (Redis's getCommandFlags). */
const SCRIPT_CALLS = new Set(['eval', 'eval_ro', 'evalsha', 'evalsha_ro', 'fcall', 'fcall_ro'])

/** Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING. */
const SLOWLOG_MAX_ARGC = 32
const SLOWLOG_MAX_STRING = 128

/** What dispatch needs of one connection. */
export interface Session {
  readonly state: ClientState
  readonly handle: ClientHandle
  readonly sink: OutputSink
  /** The connection's own output: sink.target whenever no scratch is in use. */
  readonly out: OutputBuffer
  /** Parked by a blocking command: its later requests wait until it is served or times out. */
  blocked: boolean
}

/** Server-side hooks the dispatcher calls (MONITOR feed). */
export interface DispatchHooks {
  /** Called for every command that ran (not refused), after its reply. */
  feedMonitors(session: Session, argv: Buffer[]): void
  readonly hasMonitors: boolean
  /** The session of a client id (blocked clients are served by id). */
  sessionOf(clientId: number): Session | undefined
  /** A blocked session was served or timed out: hand out its replies, run its next requests. */
  resume(session: Session): void
}

export type Blocking = BlockingRegistry<CommandContext, ReplySink>

interface SpecInfo {
  readonly write: boolean
  readonly loading: boolean
  readonly noAuth: boolean
  readonly noMulti: boolean
  readonly protectedCmd: boolean
  readonly skipSlowlog: boolean
  readonly skipMonitor: boolean
  readonly subscribedContext: boolean
  readonly allowBusy: boolean
  /** Its key lookups are reads (keymiss notifications). */
  readonly readonly: boolean
  /** Redis's fast flag: its slow runs are the fast-command latency event. */
  readonly fast: boolean
  /** May grow memory: refused with -OOM over maxmemory (Redis's CMD_DENYOOM). */
  readonly denyoom: boolean
}

function infoOf(spec: CommandSpec): SpecInfo {
  const f = spec.flags
  return {
    // A script (EVAL, FCALL: may_replicate) writes like a write command: its replies must go
    // when the pool refuses its transaction.
    write: f.includes('write') || f.includes('may_replicate'),
    loading: f.includes('loading'),
    noAuth: f.includes('no_auth'),
    noMulti: f.includes('no_multi'),
    protectedCmd: f.includes('protected'),
    skipSlowlog: f.includes('skip_slowlog'),
    skipMonitor: f.includes('skip_monitor') || f.includes('admin'),
    subscribedContext: spec.subscribedContext === true,
    allowBusy: f.includes('allow_busy'),
    readonly: f.includes('readonly'),
    fast: f.includes('fast'),
    denyoom: f.includes('denyoom'),
  }
}

/** The bytes of a C string: up to the first NUL, at most `max` bytes. */
function cstr(arg: Buffer, max: number): Buffer {
  let end = arg.indexOf(0)
  if (end < 0) end = arg.length
  return arg.subarray(0, Math.min(end, Math.max(0, max)))
}

/** Redis 7.0.15's commandCheckExistence text for an unknown command. */
export function unknownCommandError(argv: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from("ERR unknown command '"), cstr(argv[0] as Buffer, 128),
    Buffer.from("', with args beginning with: ")]
  let argsBytes = 0
  for (let i = 1; i < argv.length && argsBytes < 128; i++) {
    const piece = Buffer.concat([Buffer.from("'"), cstr(argv[i] as Buffer, 128 - argsBytes),
      Buffer.from("' ")])
    argsBytes += piece.length
    parts.push(piece)
  }
  return Buffer.concat(parts)
}

function toUpperAscii(b: Buffer): Buffer {
  const out = Buffer.from(b)
  for (let i = 0; i < out.length; i++) {
    const c = out[i] as number
    if (c >= 97 && c <= 122) out[i] = c - 32
  }
  return out
}

export function unknownSubcommandError(argv: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from("ERR unknown subcommand '"), cstr(argv[1] as Buffer, 128),
    Buffer.from("'. Try "), cstr(toUpperAscii(argv[0] as Buffer), 1 << 30), Buffer.from(' HELP.')])
}

export type Lookup =
  | { kind: 'ok'; spec: CommandSpec }
  | { kind: 'unknown-command' }
  | { kind: 'unknown-subcommand' }

const UNKNOWN_COMMAND: Lookup = Object.freeze({ kind: 'unknown-command' })
const UNKNOWN_SUBCOMMAND: Lookup = Object.freeze({ kind: 'unknown-subcommand' })
/** One 'ok' result per spec, made once: a lookup on the request path allocates nothing. */
const OK_LOOKUPS = new WeakMap<CommandSpec, Lookup>()
function okLookup(spec: CommandSpec): Lookup {
  let found = OK_LOOKUPS.get(spec)
  if (found === undefined) {
    found = Object.freeze({ kind: 'ok', spec })
    OK_LOOKUPS.set(spec, found)
  }
  return found
}
/**
 * Command names as clients spell them ("SET", "set", "Set") → the table's name, so that a known
 * spelling costs one map lookup and no lowercased copy. Bounded: only names of the table enter,
 * at most SPELLINGS_MAX spellings per table (a client cycling through every case of every name
 * just takes the slow path).
 */
const SPELLINGS = new WeakMap<CommandTable, Map<string, string>>()
const SPELLINGS_MAX = 4096

function canonicalName(table: CommandTable, arg: Buffer): string {
  let spellings = SPELLINGS.get(table)
  if (spellings === undefined) {
    spellings = new Map()
    SPELLINGS.set(table, spellings)
  }
  const raw = arg.toString('latin1')
  const known = spellings.get(raw)
  if (known !== undefined) return known
  const name = raw.toLowerCase()
  if (table.byName.has(name) && spellings.size < SPELLINGS_MAX) spellings.set(raw, name)
  return name
}

/** A top-level command of CommandIndex: its name's bytes (lower case) and what dispatch needs. */
interface IndexEntry {
  readonly name: Buffer
  readonly spec: CommandSpec
  readonly info: SpecInfo
}

const CHAR_UPPER_A = 65
const CHAR_UPPER_Z = 90

/** FNV-1a over the bytes of `arg`, ASCII letters folded to lower case; a small integer. */
function hashNameBytes(buf: Uint8Array, start: number, length: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < start + length; i++) {
    let c = buf[i] as number
    if (c >= CHAR_UPPER_A && c <= CHAR_UPPER_Z) c |= 0x20
    h = Math.imul(h ^ c, 16777619)
  }
  return h & 0x3fffffff
}

/** Whether buf[start, start + length) is `lower` (a lower-case ASCII name) in any letter case. */
function equalsIgnoringCase(buf: Uint8Array, start: number, length: number,
  lower: Uint8Array): boolean {
  if (length !== lower.length) return false
  for (let i = 0; i < length; i++) {
    let c = buf[start + i] as number
    if (c >= CHAR_UPPER_A && c <= CHAR_UPPER_Z) c |= 0x20
    if (c !== lower[i]) return false
  }
  return true
}

/**
 * The table's commands without subcommands, found by the bytes of argv[0] in any letter case:
 * the lookup on the request path makes no string and no result object. Anything else (a
 * container such as CONFIG, an unknown name) takes lookupCommand. Tables are frozen once built.
 */
class CommandIndex {
  private readonly buckets = new Map<number, IndexEntry[]>()

  constructor(table: CommandTable, infoOfSpec: (spec: CommandSpec) => SpecInfo) {
    for (const [name, spec] of table.byName) {
      if (table.subcommands.has(name)) continue
      const bytes = Buffer.from(name, 'latin1')
      const hash = hashNameBytes(bytes, 0, bytes.length)
      let bucket = this.buckets.get(hash)
      if (bucket === undefined) {
        bucket = []
        this.buckets.set(hash, bucket)
      }
      bucket.push({ name: bytes, spec, info: infoOfSpec(spec) })
    }
  }

  /** The entry named by buf[start, start + length), in any letter case. */
  find(buf: Uint8Array, start: number, length: number): IndexEntry | undefined {
    const bucket = this.buckets.get(hashNameBytes(buf, start, length))
    if (bucket === undefined) return undefined
    for (const entry of bucket) {
      if (equalsIgnoringCase(buf, start, length, entry.name)) return entry
    }
    return undefined
  }

  /** The entry named by the request's first argument. */
  findName(args: Args): IndexEntry | undefined {
    if (args.viewMode) return this.find(args.buf, args.off[0] as number, args.len[0] as number)
    const name = args.bytes(0)
    return this.find(name, 0, name.length)
  }
}

/** Redis's lookupCommand: a container with arguments resolves to its subcommand. */
export function lookupCommand(table: CommandTable, argv: readonly Buffer[]): Lookup {
  const name = canonicalName(table, argv[0] as Buffer)
  const spec = table.byName.get(name)
  if (spec === undefined) return UNKNOWN_COMMAND
  const subs = table.subcommands.get(name)
  if (subs === undefined || argv.length < 2) return okLookup(spec)
  const sub = subs.get((argv[1] as Buffer).toString('latin1').toLowerCase())
  return sub === undefined ? UNKNOWN_SUBCOMMAND : okLookup(sub)
}

export function arityOk(spec: CommandSpec, argc: number): boolean {
  return spec.arity > 0 ? argc === spec.arity : argc >= -spec.arity
}

/** sdscatrepr: the quoted, escaped form MONITOR shows. */
export function reprArg(arg: Buffer): string {
  let s = '"'
  for (const c of arg) {
    switch (c) {
      case 0x5c: s += '\\\\'; break
      case 0x22: s += '\\"'; break
      case 0x0a: s += '\\n'; break
      case 0x0d: s += '\\r'; break
      case 0x09: s += '\\t'; break
      case 0x07: s += '\\a'; break
      case 0x08: s += '\\b'; break
      default:
        s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c)
          : `\\x${c.toString(16).padStart(2, '0')}`
    }
  }
  return s + '"'
}

/**
 * The CommandContext of a command outside MULTI: one object per dispatcher, its fields set per
 * call (see Dispatcher.call).
 */
class CallContext implements CommandContext {
  store = null as unknown as Store
  keyspace = null as unknown as Keyspace
  txn = null as unknown as Transaction
  client = null as unknown as ClientState
  reply = null as unknown as ReplySink
  nowMs = 0
  server: unknown = null
  block: BlockFn | undefined = undefined
  suspend: (() => SuspendedCall) | undefined = undefined
  readLookups = false

  set(store: Store | null, txn: Transaction | null, session: Session, now: number,
    server: unknown, readLookups: boolean): void {
    this.store = store as Store
    this.keyspace = (store === null ? null : store.keyspace) as Keyspace
    this.txn = txn as Transaction
    this.client = session.state
    this.reply = session.sink
    this.nowMs = now
    this.server = server
    this.readLookups = readLookups
  }
}

/** A call's state from its start to finishCall (which may come later: ctx.suspend). */
class CallFrame {
  session: Session | null = null
  spec: CommandSpec | null = null
  info: SpecInfo | null = null
  args: Args | null = null
  txn: Transaction | null = null
  /** A write command's replies that a refusal must drop start at `mark` in session.out. */
  undoable = false
  mark = 0
  started = 0
  errorsBefore = 0
  suspended = false
}

/** An EXEC from its start to its end, which may come later (a queued script went busy). */
class ExecRun {
  readonly muted: boolean
  txn: Transaction | null = null
  /** Where its replies go until the commit (null when the sink is muted). */
  out: OutputBuffer | null = null
  /** The next queued command to run. */
  index = 0
  suspended = false
  /** The queued command running now: its start, errors before it, refused by ACL. */
  queuedStarted = 0
  errorsBefore = 0
  denied = false
  /** Why a queued command's handler threw, when it is not an internal error (a -CORRUPT key). */
  refusal: string | null = null

  constructor(readonly session: Session, readonly spec: CommandSpec, readonly argv: Buffer[],
    readonly queue: readonly { spec: CommandSpec; argv: Buffer[] }[], readonly store: Store | null,
    readonly started: number, readonly now: number) {
    this.muted = session.sink.muted
  }
}

export class Dispatcher {
  private readonly infos = new Map<CommandSpec, SpecInfo>()
  private index: CommandIndex | null = null
  /**
   * While a connection runs a batch of requests (beginBatch … endBatch), the performance.now()
   * at the end of its last command, which is when the next one starts (-1: none yet, or no
   * batch). Pipelined commands then cost one clock read each for commandstats and SLOWLOG
   * instead of two; their duration includes parsing the request, a fraction of a microsecond.
   */
  private batchClock = -1
  private inBatch = false
  private deferred: (() => void)[] = []
  private inExec = false
  /** Clients parked by blocking commands (src/txn/blocking.ts). */
  readonly blocking: Blocking

  constructor(
    private readonly services: ServerServices,
    private readonly watch: WatchIndex,
    /** Replies of a write command or EXEC wait here until its transaction is admitted. */
    private readonly scratch: OutputBuffer,
    private readonly hooks: DispatchHooks,
  ) {
    this.blocking = new BlockingRegistry<CommandContext, ReplySink>({
      run: (client, fn) => this.runForBlocked(client, fn),
      timedOut: (waiter) => this.blockedTimedOut(waiter),
    })
  }

  private info(spec: CommandSpec): SpecInfo {
    let i = this.infos.get(spec)
    if (i === undefined) {
      i = infoOf(spec)
      this.infos.set(spec, i)
    }
    return i
  }

  /** Services.afterCommit: queued until the current transaction has committed. */
  defer(fn: () => void): void {
    this.deferred.push(fn)
  }

  /** How many afterCommit functions wait (a mark for dropDeferredFrom). */
  deferredCount(): number {
    return this.deferred.length
  }

  /** Forget the afterCommit functions queued since `mark` (their work was rolled back). */
  dropDeferredFrom(mark: number): void {
    if (mark < this.deferred.length) this.deferred.length = mark
  }

  private runDeferred(): void {
    while (this.deferred.length > 0) {
      const fns = this.deferred
      this.deferred = []
      for (const fn of fns) fn()
    }
  }

  /** A connection starts running requests back to back (see batchClock). */
  beginBatch(): void {
    this.inBatch = true
    this.batchClock = -1
  }

  /** The batch is over: time passes until the next one. */
  endBatch(): void {
    this.inBatch = false
    this.batchClock = -1
  }

  /**
   * One request, its arguments as Args (src/resp/args.ts): every command goes through the same
   * checks; an argv is made only for what keeps the arguments (MULTI's queue, EXEC, MONITOR,
   * SLOWLOG) or for a handler without an Args form (spec.run).
   */
  execute(session: Session, args: Args): void {
    const spec = this.executeRequest(session, args)
    const tracking = this.services.tracking
    if (tracking.clientCount > 0) tracking.afterRequest(session.state, spec)
  }

  /** execute()'s body: the spec run or refused (null: no such command). */
  private executeRequest(session: Session, args: Args): CommandSpec | null {
    const found = this.findSpec(session, args)
    if (found === null) return null
    const { spec, info } = found
    const client = session.state
    session.handle.lastCommand = spec.name
    if (!arityOk(spec, args.count)) {
      this.reject(session, spec, `ERR wrong number of arguments for '${spec.name}' command`,
        args)
      return spec
    }
    if (info.protectedCmd && !this.protectedAllowed(session)) {
      this.reject(session, spec, DEBUG_NOT_ALLOWED, args)
      return spec
    }
    if (!client.authenticated && !info.noAuth && this.services.acl.authRequired) {
      this.reject(session, spec, NOAUTH_ERROR, args)
      return spec
    }
    if (client.multi !== null && info.noMulti) {
      this.reject(session, spec, 'ERR Command not allowed inside a transaction', args)
      return spec
    }
    const user = client.user
    if (user !== undefined && !user.unrestricted && this.aclRefused(session, spec, args)) {
      return spec
    }
    if (this.services.evictor?.enabled === true && this.outOfMemory(client, spec, info)) {
      this.reject(session, spec, OOM_ERROR, args)
      return spec
    }
    if (!info.subscribedContext && client.proto === 2 &&
        this.services.pubsub.isSubscribed(client.id)) {
      this.reject(session, spec, `ERR Can't execute '${spec.name}': only (P|S)SUBSCRIBE / ` +
        '(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context', args)
      return spec
    }
    if (this.services.store === null && !info.loading) {
      this.reject(session, spec, LOADING_ERROR, args)
      return spec
    }
    if (this.refusedWhileBusy(session, spec, info)) return spec
    if (this.services.tracking.clientCount > 0) this.limitTracking()
    if (this.postponeIfPaused(session, spec, info, args)) return spec
    if (client.multi !== null && !IMMEDIATE_IN_MULTI.has(spec.name)) {
      client.multi.queue.push({ spec, argv: args.toArgv() })
      session.sink.simple('QUEUED')
      return spec
    }
    const store = this.services.store
    if (store !== null && store.failed !== null) {
      this.reject(session, spec, `MISCONF Errors writing to the pool: ${store.failed.message}`,
        args)
      return spec
    }
    if (spec === EXEC_SPEC) this.exec(session, spec, args.toArgv())
    else this.call(session, spec, info, args)
    return spec
  }

  /** The request's command: from the index, else looked up; null after an unknown one's error. */
  private findSpec(session: Session, args: Args): { spec: CommandSpec; info: SpecInfo } | null {
    this.index ??= new CommandIndex(this.services.table, (spec) => this.info(spec))
    const entry = this.index.findName(args)
    if (entry !== undefined) return entry
    const argv = args.toArgv()
    const found = lookupCommand(this.services.table, argv)
    if (found.kind !== 'ok') {
      this.reject(session, null, found.kind === 'unknown-command' ? unknownCommandError(argv)
        : unknownSubcommandError(argv))
      return null
    }
    return { spec: found.spec, info: this.info(found.spec) }
  }

  /** Redis's trackingLimitUsedSlots before a command (its invalidations go before its reply). */
  private limitTracking(): void {
    this.services.tracking.limitUsedSlots(
      this.services.config.getNumber('tracking-table-max-keys'))
  }

  /** A restricted user's command the ACL denies: refused with its NOPERM (true). */
  private aclRefused(session: Session, spec: CommandSpec, args: Args): boolean {
    const denial = this.aclDenial(session, spec, args.toArgv(),
      session.state.multi === null ? 'toplevel' : 'multi')
    if (denial === null) return false
    this.reject(session, spec, nopermText(denial.result, denial.cmd), args)
    return true
  }

  /** The ACL's verdict for a restricted user (logged when denied), or null when allowed. */
  private aclDenial(session: Session, spec: CommandSpec, argv: readonly Buffer[],
    context: 'toplevel' | 'multi'): ReturnType<typeof checkAndLog> {
    const user = session.state.user
    if (user === undefined || user.unrestricted) return null
    return checkAndLog(this.services.acl, user, spec, argv, context,
      () => clientInfoLine(this.services, session.handle, nowMs()))
  }

  /**
   * Redis's maxmemory check in processCommand: evict under the policy (commands/evict.ts), then
   * refuse a command that may grow memory — inside MULTI every command but EXEC, DISCARD, QUIT
   * and RESET; EXEC when a queued command may — while still over the limit.
   */
  private outOfMemory(client: ClientState, spec: CommandSpec, info: SpecInfo): boolean {
    const evictor = this.services.evictor
    if (evictor === undefined || this.services.store === null || busyState.current !== null) {
      return false
    }
    const oom = evictor.perform() === 'fail'
    evictor.lastOutOfMemory = oom
    if (!oom) return false
    if (info.denyoom) return true
    if (spec === EXEC_SPEC) {
      return client.multi?.queue.some((q) => this.info(q.spec).denyoom) ?? false
    }
    return client.multi !== null && !OOM_ALLOWED_IN_MULTI.has(spec.name)
  }

  /** A script is busy (commands/busy.ts): only allow_busy commands run; the others -BUSY. */
  private refusedWhileBusy(session: Session, spec: CommandSpec, info: SpecInfo): boolean {
    if (busyState.current === null || info.allowBusy) return false
    this.reject(session, spec, busyError() as string)
    return true
  }

  private pause: PauseState | null = null
  /** Requests postponed by CLIENT PAUSE (client-pause.ts), in arrival order. */
  private readonly postponed = new Map<Session, Buffer[]>()

  /** Clients waiting for a pause to end (INFO blocked_clients counts them). */
  get postponedCount(): number {
    return this.postponed.size
  }

  /** Redis's pause check in processCommand: park the request until the pause ends. */
  private postponeIfPaused(session: Session, spec: CommandSpec, info: SpecInfo,
    args: Args): boolean {
    if (this.pause === null) {
      this.pause = pauseOf(this.services)
      this.pause.onEnd = () => this.resumePostponed()
    }
    if (this.pause.mode === 'off') return false
    const mode = this.pause.current(Date.now())
    if (mode === 'off') return false
    if (mode === 'write' && !this.mayReplicate(session, spec, info, args.toArgv())) return false
    this.postponed.set(session, args.toArgv())
    session.blocked = true
    return true
  }

  /** is_may_replicate_command: write or may_replicate, an EXEC of such, a writing script. */
  private mayReplicate(session: Session, spec: CommandSpec, info: SpecInfo,
    argv: Buffer[]): boolean {
    if (spec === EXEC_SPEC) {
      return session.state.multi?.queue.some((q) =>
        this.mayReplicate(session, q.spec, this.info(q.spec), q.argv)) ?? false
    }
    if (SCRIPT_CALLS.has(spec.name)) {
      const declared = scriptFlagsHook.mayWrite?.(this.services, this.services.store?.keyspace,
        spec.name, argv)
      if (declared !== undefined) return declared
    }
    return info.write
  }

  /** The pause ended: every postponed client runs its request, then its next ones. */
  private resumePostponed(): void {
    const parked = [...this.postponed.keys()]
    for (const session of parked) {
      session.blocked = false
      this.hooks.resume(session)
    }
  }

  /** Run a request postponed by a pause that has ended (the connection calls it first). */
  runPostponed(session: Session): boolean {
    const argv = this.postponed.get(session)
    if (argv === undefined || session.blocked) return false
    this.postponed.delete(session)
    this.execute(session, Args.of(argv))
    return true
  }

  /** A closed connection's postponed request is dropped. */
  forgetPostponed(session: Session): void {
    this.postponed.delete(session)
  }

  private protectedAllowed(session: Session): boolean {
    const mode = this.services.config.get('enable-debug-command')
    return mode === 'yes' || (mode === 'local' && session.handle.isLocal)
  }

  /** A refused command; `args`, when given, are fed to MONITOR for a refused EXEC. */
  private reject(session: Session, spec: CommandSpec | null, message: string | Buffer,
    args?: Args): void {
    const client = session.state
    if (client.multi !== null) client.multi.dirty = true
    if (spec !== null) this.services.stats.commandStat(spec.name).rejectedCalls++
    if (spec === EXEC_SPEC) {
      discardTransaction(client, this.watch)
      let text = typeof message === 'string' ? message : message.toString('latin1')
      // Redis's rejectCommandFormat texts (arity, RESP2 subscribed mode) carry no ERR code:
      // execCommandAbort quotes them bare, where the shared errors keep theirs.
      if (FORMATTED_REJECTION.test(text)) text = text.slice(4)
      this.writeError(session, `EXECABORT Transaction discarded because of: ${text}`)
      // execCommandAbort shows the EXEC to MONITOR, so that the transaction is seen to end.
      if (args !== undefined && this.hooks.hasMonitors) {
        this.hooks.feedMonitors(session, args.toArgv())
      }
      return
    }
    this.writeError(session, message)
  }

  private writeError(session: Session, message: string | Buffer): void {
    const text = typeof message === 'string' ? message : message.toString('latin1')
    this.services.stats.countError(text)
    session.sink.errorCount++
    session.sink.lastError = text
    session.sink.target.writeError(message)
  }

  private context(session: Session, store: Store | null, txn: Transaction | null,
    now: number, block?: BlockFn, suspend?: () => SuspendedCall, readLookups = false):
    CommandContext {
    return {
      store: store as Store,
      keyspace: (store === null ? null : store.keyspace) as Store['keyspace'],
      txn: txn as Transaction,
      client: session.state,
      reply: session.sink,
      nowMs: now,
      server: this.services,
      block,
      suspend,
      readLookups,
    }
  }

  /** The command call() is running (its session and time), for blockCurrent. */
  private calling: Session | null = null
  private callingNowMs = 0
  private callingName = ''

  /**
   * ctx.block of a command outside MULTI/EXEC: park the session of the command running. One
   * function for every call (handlers call it synchronously), not a closure per command.
   */
  private readonly blockCurrent: BlockFn = (keys, timeoutMs, serve, onTimeout) => {
    const session = this.calling
    assert(session !== null, 'ctx.block called outside its command')
    session.blocked = true
    // A blocked command answering an error when served (XREADGROUP's -NOGROUP) is a failed call,
    // as Redis's updateStatsOnUnblock counts it.
    // Served, it goes to SLOWLOG as the client sent it (BLPOP, not the LPOP it became), as
    // Redis's updateStatsOnUnblock logs it; toArgv's views stay valid past the request.
    const name = this.callingName
    const stats = this.services.stats
    const counted = serve
    const frame = this.callingFrame
    const argv = frame?.info?.skipSlowlog === false ? frame.args?.toArgv() ?? null : null
    serve = (ctx, key) => {
      const before = session.sink.errorCount
      const started = performance.now()
      const served = counted(ctx, key)
      if (served && session.sink.errorCount > before) {
        stats.commandStat(name).failedCalls++
        stats.countError(session.sink.lastError)
      }
      if (served && argv !== null) {
        this.slowlogPush(session, argv, Math.round((performance.now() - started) * 1000))
      }
      return served
    }
    this.blocking.block(session.state, session.state.db, keys, timeoutMs, this.callingNowMs,
      serve, onTimeout)
  }

  /** BlockingHost.run: serve a parked client in a transaction of its own. */
  private runForBlocked(client: BlockedClient, fn: (ctx: CommandContext) => boolean):
    { served: boolean; events: readonly Event[] } {
    const session = this.hooks.sessionOf(client.id)
    const store = this.services.store
    if (session === undefined || store === null || store.failed !== null) {
      return { served: false, events: [] }
    }
    const sink = session.sink
    const useScratch = !sink.muted
    const txn = store.begin()
    if (useScratch) {
      this.scratch.proto = session.state.proto
      sink.target = this.scratch
    }
    let served = false
    const tracking = this.services.tracking
    const outerCurrent = tracking.current
    tracking.current = client.id
    try {
      served = fn(this.context(session, store, txn, nowMs()))
    } catch (e) {
      tracking.current = outerCurrent
      if (useScratch) sink.target = session.out
      txn.abort()
      this.deferred = []
      this.scratch.take()
      process.stderr.write(`${process.pid}:M internal error serving a blocked client: ` +
        `${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
      return { served: false, events: [] }
    }
    tracking.current = outerCurrent
    if (useScratch) sink.target = session.out
    const events = txn.events.slice()
    if (!this.commit(txn)) {
      this.refusal = null
      this.scratch.take()
      return { served: false, events: [] }
    }
    const replies = useScratch ? this.scratch.take() : null
    this.runDeferred() // its notifications, after its commit (DESIGN rule 2)
    if (served && replies !== null) session.out.writeRaw(replies)
    tracking.release() // after the served client's reply, as Redis sends its own
    if (served) {
      session.blocked = false
      this.hooks.resume(session)
    }
    return { served, events }
  }

  /** BlockingHost.timedOut: the timeout reply, then the client runs its next requests. */
  private blockedTimedOut(waiter: Waiter<CommandContext, ReplySink>): void {
    const session = this.hooks.sessionOf(waiter.client.id)
    if (session === undefined) return
    waiter.onTimeout(session.sink)
    session.blocked = false
    this.hooks.resume(session)
  }

  /** CLIENT UNBLOCK: true when the client was blocked. */
  unblockClient(clientId: number, withError: boolean): boolean {
    const session = this.hooks.sessionOf(clientId)
    if (session === undefined || !this.blocking.isBlocked(clientId)) return false
    if (!withError) return this.blocking.unblockWithTimeout(clientId)
    this.blocking.unblock(clientId)
    this.writeError(session, 'UNBLOCKED client unblocked via CLIENT UNBLOCK')
    session.blocked = false
    this.hooks.resume(session)
    return true
  }

  /**
   * Serve clients blocked on keys the committed events touched. Each is served in a
   * transaction of its own from store.begin(), never the shared one whose events this reads.
   */
  private serveBlocked(txn: Transaction | null): void {
    if (txn === null || this.blocking.size === 0 || txn.eventCount === 0) return
    this.blocking.serveBlocked(txn.events)
  }

  /**
   * A command outside MULTI: its own transaction (the store's shared one: no Transaction per
   * request). A write command's replies go straight into the session's output; `mark`
   * remembers where they start, so that a transaction the pool refuses (or a handler that
   * throws) leaves none of them. The context and the call's state are the dispatcher's reused
   * objects (no closure or context per request); a command that outlives its call
   * (ctx.suspend) takes them along and the dispatcher makes new ones.
   */
  private call(session: Session, spec: CommandSpec, info: SpecInfo, args: Args): void {
    const store = this.services.store
    const sink = session.sink
    const undoable = info.write && !sink.muted && store !== null
    assert(!undoable || sink.target === session.out, 'an unmuted sink writes to its session')
    // While a script is busy (commands/busy.ts) only allow_busy commands get here: they write
    // nothing and run outside the script's open transaction, and what waits for the script's
    // commit (its PUBLISHes) stays parked until then.
    const parked = busyState.current === null ? null : this.deferred
    if (parked !== null) this.deferred = []
    const txn = store === null || parked !== null ? null : store.beginShared()
    // A call inside a call (none today) would get objects of its own.
    const nested = this.calling !== null
    const frame = nested ? new CallFrame() : this.frame
    frame.session = session
    frame.spec = spec
    frame.info = info
    frame.args = args
    frame.txn = txn
    frame.undoable = undoable
    frame.mark = undoable ? session.out.length : 0
    frame.started = this.batchClock >= 0 ? this.batchClock : performance.now()
    frame.errorsBefore = sink.errorCount
    frame.suspended = false
    const ctx = nested ? new CallContext() : this.ctx
    const now = nowMs()
    ctx.set(store, txn, session, now, this.services, info.readonly)
    ctx.block = txn === null ? undefined : this.blockCurrent
    ctx.suspend = txn === null ? undefined : this.suspendCurrent
    let failed = false
    const outerCalling = this.calling
    const outerNowMs = this.callingNowMs
    const outerName = this.callingName
    const outerFrame = this.callingFrame
    const outerCtx = this.callingCtx
    const tracking = this.services.tracking
    const outerCurrent = tracking.current
    this.calling = session
    this.callingNowMs = now
    this.callingName = spec.name
    this.callingFrame = frame
    this.callingCtx = ctx
    tracking.current = session.state.id
    tracking.scriptRead = false
    try {
      const run = spec.run
      if (run !== undefined) run(ctx, args)
      else spec.handler(ctx, args.toArgv())
    } catch (e) {
      failed = true
      txn?.abort()
      this.handlerCrashed(session, spec, e, undoable ? frame.mark : -1)
    } finally {
      this.calling = outerCalling
      this.callingNowMs = outerNowMs
      this.callingName = outerName
      tracking.current = outerCurrent
      this.callingFrame = outerFrame
      this.callingCtx = outerCtx
    }
    if (frame.suspended && !failed) return
    this.finishCall(frame, failed)
    if (parked !== null) this.deferred = parked
  }

  /** The running call's state (this.frame unless nested or suspended). */
  private frame = new CallFrame()
  private ctx = new CallContext()
  private callingFrame: CallFrame | null = null
  private callingCtx: CallContext | null = null

  /**
   * ctx.suspend of a command outside MULTI/EXEC: finish the call later, or drop its transaction
   * (SHUTDOWN NOSAVE). One function for every call; what a suspension allocates (its handle, a
   * copy of the arguments, the next call's context and frame) it allocates only when used.
   */
  private readonly suspendCurrent = (): SuspendedCall => {
    const frame = this.callingFrame
    const session = frame?.session ?? null
    const txn = frame?.txn ?? null
    assert(frame !== null && session !== null, 'ctx.suspend called outside its command')
    assert(txn !== null, 'a suspended command has its transaction')
    frame.suspended = true
    session.blocked = true
    // Args are refilled by the connection's next request: the command keeps a copy.
    frame.args = Args.of((frame.args as Args).toArgv())
    // The command keeps its frame and context past this call.
    if (frame === this.frame) this.frame = new CallFrame()
    if (this.callingCtx === this.ctx) this.ctx = new CallContext()
    return {
      resume: () => {
        session.blocked = false
        this.finishCall(frame, false)
        this.hooks.resume(session)
      },
      drop: () => {
        txn.abort()
        this.deferred = []
      },
    }
  }

  /** The end of call(), at once or when a suspended command resumes: commit, stats, MONITOR. */
  private finishCall(frame: CallFrame, failed: boolean): void {
    const session = frame.session as Session
    const spec = frame.spec as CommandSpec
    const info = frame.info as SpecInfo
    const args = frame.args as Args
    const txn = frame.txn
    const sink = session.sink
    const handlerFailed = !failed && sink.errorCount > frame.errorsBefore
    const tracking = this.services.tracking
    if (!failed && tracking.clientCount > 0) tracking.afterCommand(session.state, spec, args)
    if (!failed && txn !== null && !this.commit(txn)) {
      if (frame.undoable) session.out.truncate(frame.mark)
      this.services.stats.commandStat(spec.name).rejectedCalls++
      this.writeError(session, this.refusalText())
      tracking.release()
      this.runDeferred()
      return
    }
    tracking.release() // after the reply, once the transaction is appended (commands/tracking.ts)
    this.runDeferred()
    this.account(session, spec, args, frame.started, handlerFailed, info)
    if (!failed) this.serveBlocked(txn)
    if (this.hooks.hasMonitors && !info.skipMonitor) {
      this.hooks.feedMonitors(session, args.toArgv())
    }
  }

  /**
   * Admit the transaction; false when the pool refused it (nothing applied): out of space, or
   * the store failed (an I/O error; the server then exits, see CapykvServer.storeFailed).
   */
  private commit(txn: Transaction): boolean {
    try {
      txn.commitNoWait()
      return true
    } catch (e) {
      if (e instanceof StoreError) {
        this.deferred = []
        if (e.code !== 'OUT_OF_SPACE') {
          this.refusal = `MISCONF Errors writing to the pool: ${e.message}`
        }
        return false
      }
      throw e
    }
  }

  /** Why the last commit() was refused, when it was not out of space. */
  private refusal: string | null = null

  private refusalText(): string {
    const text = this.refusal ?? OOM_ERROR
    this.refusal = null
    return text
  }

  /**
   * A key whose pool bytes failed verification (state/keyspace.ts, "Verify before apply"): one
   * error for that key, its transaction refused (DESIGN rule 5); logged and counted.
   */
  private corruptionRefusal(spec: CommandSpec, e: StoreError): string {
    const text = `CORRUPT ${e.detail ?? 'damaged value'} at pool offset ${e.offset ?? '?'} ` +
      `(lsn ${e.lsn ?? '?'})`
    this.services.stats.corruptionEvents++
    process.stderr.write(`${process.pid}:M '${spec.name}' refused: ${text}\n`)
    return text
  }

  /** `mark`: where the command's replies start in session.out, to drop them; -1 keeps them. */
  private handlerCrashed(session: Session, spec: CommandSpec, e: unknown, mark: number): void {
    if (mark >= 0) session.out.truncate(mark)
    this.deferred = []
    if (e instanceof StoreError && e.code === 'CORRUPTION') {
      this.writeError(session, this.corruptionRefusal(spec, e))
      return
    }
    const message = e instanceof Error ? e.message : String(e)
    process.stderr.write(`${process.pid}:M internal error in '${spec.name}': ` +
      `${e instanceof Error ? e.stack ?? message : message}\n`)
    this.writeError(session, `ERR internal error in '${spec.name}': ${message.split('\n')[0]}`)
  }

  private account(session: Session, spec: CommandSpec, argv: Buffer[] | Args, started: number,
    failed: boolean, info: SpecInfo): void {
    const finished = performance.now()
    if (this.inBatch) this.batchClock = finished
    const usec = Math.round((finished - started) * 1000)
    const stats = this.services.stats
    const stat = stats.commandStat(spec.name)
    stat.calls++
    stat.usec += usec
    latencyCommand(this.services, stat, usec, info.fast)
    if (failed) {
      stat.failedCalls++
      stats.countError(session.sink.lastError)
    }
    stats.totalCommandsProcessed++
    // A command that blocked is logged when served (blockCurrent), as Redis's call() defers it.
    if (!info.skipSlowlog && !session.blocked) this.slowlogPush(session, argv, usec)
  }

  /** Redis's slowlogPushCurrentCommand: the command as the client sent it, if slow enough. */
  private slowlogPush(session: Session, argv: Buffer[] | Args, usec: number): void {
    const threshold = this.services.config.getNumber('slowlog-log-slower-than')
    if (threshold < 0 || usec < threshold) return
    this.services.slowlog.add({
      timestampS: Math.floor(nowMs() / 1000), durationUs: usec,
      argv: slowlogArgv(Array.isArray(argv) ? argv : argv.toArgv()),
      addr: session.handle.addr, name: session.state.name ?? '',
    }, this.services.config.getNumber('slowlog-max-len'))
  }

  /**
   * EXEC: every queued command in one transaction, one commit. A queued script that runs past
   * busy-reply-threshold suspends the EXEC (ctx.suspend, commands/busy.ts): its replies so far
   * move to a buffer of its own, others get -BUSY meanwhile, and the rest of the queue runs
   * (then the commit) when the script ends or is killed; SHUTDOWN NOSAVE drops it all.
   */
  private exec(session: Session, spec: CommandSpec, argv: Buffer[]): void {
    const client = session.state
    const multi = client.multi
    const sink = session.sink
    if (multi === null) {
      this.writeError(session, 'ERR EXEC without MULTI')
      if (this.hooks.hasMonitors) this.hooks.feedMonitors(session, argv)
      return
    }
    const store = this.services.store
    if (store !== null && this.watch.dirtyByExpiry(client, store.keyspace)) client.watchDirty = true
    if (multi.dirty || client.watchDirty) {
      if (multi.dirty) this.writeError(session, EXECABORT_PREVIOUS)
      else sink.nullArray()
      discardTransaction(client, this.watch)
      // call() shows an EXEC that found the transaction aborted, too.
      if (this.hooks.hasMonitors) this.hooks.feedMonitors(session, argv)
      return
    }
    const run = new ExecRun(session, spec, argv, multi.queue, store, performance.now(), nowMs())
    discardTransaction(client, this.watch) // leaves MULTI and unwatches, as Redis does first
    run.txn = store === null ? null : store.beginShared()
    if (!run.muted) {
      this.scratch.proto = client.proto
      sink.target = this.scratch
      run.out = this.scratch
    }
    sink.arrayHeader(run.queue.length)
    this.execFrom(run)
  }

  /** The queued commands of `run` from run.index on, then the EXEC's end (unless suspended). */
  private execFrom(run: ExecRun): void {
    const session = run.session
    const client = session.state
    this.inExec = true
    const tracking = this.services.tracking
    const outerCurrent = tracking.current
    tracking.current = client.id
    let crashed = false
    while (run.index < run.queue.length) {
      const queued = run.queue[run.index++] as ExecRun['queue'][number]
      this.execRun = run
      const ran = this.runQueued(session, queued.spec, queued.argv, run)
      this.execRun = null
      if (!ran) {
        crashed = true
        break
      }
      if (run.suspended) break
      this.afterQueued(session, queued.spec, queued.argv, run)
      if (run.out !== null) run.out.proto = client.proto
    }
    this.inExec = false
    tracking.current = outerCurrent
    if (run.suspended) return
    this.finishExec(run, crashed)
  }

  /** The end of EXEC: the commit (or its refusal) and the replies, stats and MONITOR. */
  private finishExec(run: ExecRun, crashed: boolean): void {
    const { session, txn, out } = run
    const sink = session.sink
    const tracking = this.services.tracking
    if (out !== null) sink.target = session.out
    if (crashed) {
      txn?.abort()
      out?.take()
      this.deferred = []
      // A corrupt key refuses the whole transaction (DESIGN rule 3), naming the damage.
      this.writeError(session, 'EXECABORT Transaction discarded because of: ' +
        (run.refusal ?? 'ERR internal error'))
    } else if (txn !== null && !this.commit(txn)) {
      out?.take()
      this.writeError(session, `EXECABORT Transaction discarded because of: ${this.refusalText()}`)
    } else {
      if (out !== null) session.out.writeRaw(out.take())
      tracking.release()
      this.runDeferred()
      this.serveBlocked(txn)
    }
    tracking.release()
    this.runDeferred()
    this.account(session, run.spec, run.argv, run.started, false, this.info(run.spec))
    if (this.hooks.hasMonitors) this.hooks.feedMonitors(session, run.argv)
  }

  /** The EXEC running a queued command now (for suspendExec). */
  private execRun: ExecRun | null = null

  /**
   * ctx.suspend of a command inside EXEC (a script past busy-reply-threshold): the EXEC goes on
   * when the script ends (resume), or is dropped with its transaction (SHUTDOWN NOSAVE).
   */
  private readonly suspendExec = (): SuspendedCall => {
    const run = this.execRun
    assert(run !== null, 'ctx.suspend inside EXEC called outside its command')
    assert(!run.suspended, 'an EXEC is suspended once at a time')
    const session = run.session
    run.suspended = true
    session.blocked = true
    // The shared scratch serves other commands meanwhile: this EXEC's replies get their own.
    if (run.out !== null) {
      const own = new OutputBuffer(run.out.proto)
      own.writeRaw(run.out.take())
      run.out = own
      session.sink.target = own
    }
    const queued = run.queue[run.index - 1] as ExecRun['queue'][number]
    return {
      resume: () => {
        run.suspended = false
        session.blocked = false
        this.afterQueued(session, queued.spec, queued.argv, run)
        this.execFrom(run)
        if (!run.suspended) this.hooks.resume(session)
      },
      drop: () => {
        run.txn?.abort()
        this.deferred = []
        run.out?.take()
        if (run.out !== null) session.sink.target = session.out
      },
    }
  }

  /** One command inside EXEC; false when its handler threw (the EXEC is then refused). */
  private runQueued(session: Session, spec: CommandSpec, argv: Buffer[], run: ExecRun): boolean {
    const info = this.info(spec)
    const denial = this.aclDenial(session, spec, argv, 'multi')
    run.queuedStarted = performance.now()
    run.errorsBefore = session.sink.errorCount
    if (denial !== null) {
      this.writeError(session, execDeniedText(denial.result))
      run.denied = true
      return true
    }
    run.denied = false
    this.services.tracking.scriptRead = false
    try {
      spec.handler(this.context(session, run.store, run.txn, run.now, undefined,
        run.txn === null ? undefined : this.suspendExec, info.readonly), argv)
    } catch (e) {
      if (e instanceof StoreError && e.code === 'CORRUPTION') {
        run.refusal = this.corruptionRefusal(spec, e)
        return false
      }
      process.stderr.write(`${process.pid}:M internal error in '${spec.name}' inside EXEC: ` +
        `${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
      return false
    }
    return true
  }

  /** A queued command's stats, tracking and MONITOR line, once it ended (maybe after a suspension). */
  private afterQueued(session: Session, spec: CommandSpec, argv: Buffer[], run: ExecRun): void {
    if (run.denied) return
    const info = this.info(spec)
    const failed = session.sink.errorCount > run.errorsBefore
    const tracking = this.services.tracking
    if (tracking.clientCount > 0) tracking.afterCommand(session.state, spec, argv)
    this.account(session, spec, argv, run.queuedStarted, failed, info)
    if (this.hooks.hasMonitors && !info.skipMonitor) this.hooks.feedMonitors(session, argv)
  }

  get executing(): boolean {
    return this.inExec
  }
}

/** SLOWLOG keeps at most 32 arguments of at most 128 bytes each, as Redis does. */
function slowlogArgv(argv: readonly Buffer[]): Buffer[] {
  const count = Math.min(argv.length, SLOWLOG_MAX_ARGC)
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    if (count !== argv.length && i === count - 1) {
      out.push(Buffer.from(`... (${argv.length - count + 1} more arguments)`))
      break
    }
    const a = argv[i] as Buffer
    if (a.length > SLOWLOG_MAX_STRING) {
      out.push(Buffer.concat([a.subarray(0, SLOWLOG_MAX_STRING),
        Buffer.from(`... (${a.length - SLOWLOG_MAX_STRING} more bytes)`)]))
    } else {
      out.push(Buffer.from(a))
    }
  }
  return out
}
