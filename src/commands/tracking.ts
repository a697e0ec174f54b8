// Client-side caching (Redis 7.0.15's tracking.c): CLIENT TRACKING / CACHING / GETREDIR /
// TRACKINGINFO, the tracking table (key → clients that may cache it), the BCAST prefix table,
// and the invalidation messages: a RESP3 push `>2 invalidate [keys]` on the tracking client's
// own connection, or on the connection it redirects to — there, in RESP2, a message on
// `__redis__:invalidate` when that client is subscribed (to anything, as Redis checks).
// Invariants, and why:
// - Keys are tracked by name, across databases, as in Redis. `table` and `totalItems` agree:
//   totalItems is the number of (key, client id) pairs. Ids are dropped lazily, as Redis does: a
//   client that turns tracking off or disconnects leaves its ids, skipped when they come up.
// - Every key change reaches `touched` (the keyspace's observer, beside WATCH's index: every
//   applied event that changes a key, lazy and active expiry and eviction deletes included). The
//   table is updated there, at the moment of the change, as Redis's trackingInvalidateKey does,
//   so a read after a write in the same EXEC stays tracked. `current` is the client whose command
//   is running (Redis's server.current_client: NOLOOP skips it).
// - DURABILITY (DESIGN rule 2): an invalidation reveals a write, so `touched` only queues it
//   (outbox, and the BCAST keys of each prefix). Dispatch releases the outbox once the command's
//   (or EXEC's, or a served blocked client's) transaction has been appended (release()), after
//   its reply — Redis sends the current client's own invalidations after the reply, and the other
//   clients' ones leave with their output, which the server holds until the group commit is
//   durable. The BCAST messages go once per event-loop turn (Redis's beforeSleep), scheduled by
//   release(), never while a script holds its transaction open. An invalidation of a refused
//   transaction is still sent: the key is no longer tracked for that client, and an invalidation
//   of an unchanged key only costs the client a re-read (the tracking-table limit does the same).
// - Invalidations caused by the tracking-table limit (tracking-table-max-keys) reveal nothing
//   written: they are sent at once, before the command that ran into the limit.
// - Off (no table, no prefix) `touched` costs two size checks.

import { busyState } from './busy.js'
import { services, type ClientHandle, type ServerServices } from './services.js'
import type { Args } from '../resp/args.js'
import {
  ERR_SYNTAX, type ClientState, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'
import { parseRedisInteger } from '../resp/reader.js'

/** One tracking client (Redis's CLIENT_TRACKING* flags and its redirect and prefixes). */
export interface TrackingClient {
  readonly handle: ClientHandle
  /** Client id invalidations go to; 0: the client itself. */
  redirect: number
  bcast: boolean
  optin: boolean
  optout: boolean
  noloop: boolean
  /** CLIENT CACHING yes (OPTIN) / no (OPTOUT) given for the next command or transaction. */
  caching: boolean
  brokenRedirect: boolean
  /** BCAST prefixes (latin1), empty when not BCAST. */
  readonly prefixes: Set<string>
}

/** A BCAST prefix: its clients, and the keys changed since the last broadcast (→ modifier). */
interface BcastState {
  readonly clients: Set<number>
  keys: Map<string, number>
}

/** What one queued invalidation carries: a key, every key (flush: null), or a BCAST array. */
type Payload = { kind: 'key'; key: string } | { kind: 'all' } | { kind: 'proto'; bytes: Buffer }

interface Outgoing { readonly trackerId: number; readonly payload: Payload }

const CRLF = '\r\n'
const PUSH_INVALIDATE = Buffer.from(`>2${CRLF}$10${CRLF}invalidate${CRLF}`)
const MESSAGE_INVALIDATE =
  Buffer.from(`*3${CRLF}$7${CRLF}message${CRLF}$20${CRLF}__redis__:invalidate${CRLF}`)
const NULL2 = Buffer.from(`$-1${CRLF}`)
const NULL3 = Buffer.from(`_${CRLF}`)
/** Redis's trackingLimitUsedSlots: keys examined per call, times the calls still over. */
const LIMIT_EFFORT_STEP = 100

/** `*n` then each key as a bulk string: the array part of an invalidation. */
function keysProto(keys: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${keys.length}${CRLF}`)]
  for (const k of keys) {
    const b = Buffer.from(k, 'latin1')
    parts.push(Buffer.from(`$${b.length}${CRLF}`), b, Buffer.from(CRLF))
  }
  return Buffer.concat(parts)
}

/** Scripts that are read-only themselves: their keys count only when they read (scriptRead). */
const RO_SCRIPT_COMMANDS: ReadonlySet<string> = new Set(['eval_ro', 'evalsha_ro', 'fcall_ro'])

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export class Tracking {
  private readonly table = new Map<string, Set<number>>()
  private readonly prefixes = new Map<string, BcastState>()
  private readonly clients = new Map<number, TrackingClient>()
  private outbox: Outgoing[] = []
  private totalItems = 0
  private broadcastScheduled = false
  private limitCallsOver = 0
  /** The client whose command runs now (0: none), set by dispatch. */
  current = 0
  /** A script called a read-only command: its caller's keys are remembered after it. */
  scriptRead = false

  constructor(private readonly sv: () => ServerServices) {}

  /** INFO tracking_clients. */
  get clientCount(): number {
    return this.clients.size
  }

  /** INFO tracking_total_keys. */
  get totalKeys(): number {
    return this.table.size
  }

  /** INFO tracking_total_items. */
  get totalItemCount(): number {
    return this.totalItems
  }

  /** INFO tracking_total_prefixes. */
  get totalPrefixes(): number {
    return this.prefixes.size
  }

  clientOf(clientId: number): TrackingClient | undefined {
    return this.clients.size === 0 ? undefined : this.clients.get(clientId)
  }

  // ---- on and off (Redis's enableTracking / disableTracking) --------------------------------

  enable(handle: ClientHandle, redirect: number, options: TrackingOptions,
    prefixes: readonly string[]): void {
    const id = handle.state.id
    let c = this.clients.get(id)
    if (c === undefined) {
      c = { handle, redirect: 0, bcast: false, optin: false, optout: false, noloop: false,
        caching: false, brokenRedirect: false, prefixes: new Set() }
      this.clients.set(id, c)
    }
    c.brokenRedirect = false
    c.redirect = redirect
    c.bcast = options.bcast
    c.optin = options.optin
    c.optout = options.optout
    c.noloop = options.noloop
    if (!options.bcast) return
    if (prefixes.length === 0) this.addPrefix(c, '')
    for (const p of prefixes) this.addPrefix(c, p)
  }

  private addPrefix(c: TrackingClient, prefix: string): void {
    let bs = this.prefixes.get(prefix)
    if (bs === undefined) {
      bs = { clients: new Set(), keys: new Map() }
      this.prefixes.set(prefix, bs)
    }
    bs.clients.add(c.handle.state.id)
    c.prefixes.add(prefix)
  }

  /** CLIENT TRACKING off, RESET, disconnection: the ids in the table go lazily. */
  disable(clientId: number): void {
    const c = this.clients.get(clientId)
    if (c === undefined) return
    for (const p of c.prefixes) {
      const bs = this.prefixes.get(p)
      if (bs === undefined) continue
      bs.clients.delete(clientId)
      if (bs.clients.size === 0) this.prefixes.delete(p)
    }
    this.clients.delete(clientId)
  }

  /** Redis's checkPrefixCollisionsOrReply: the error text, or null. */
  prefixCollision(clientId: number, prefixes: readonly string[]): string | null {
    const mine = this.clients.get(clientId)?.prefixes
    const overlap = (a: string, b: string): boolean => a.startsWith(b) || b.startsWith(a)
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i] as string
      for (const q of mine === undefined ? [] : Array.from(mine).sort(byteOrder)) {
        if (overlap(p, q)) {
          return `ERR Prefix '${p}' overlaps with an existing prefix '${q}'. ` +
            'Prefixes for a single client must not overlap.'
        }
      }
      for (let j = i + 1; j < prefixes.length; j++) {
        const q = prefixes[j] as string
        if (overlap(p, q)) {
          return `ERR Prefix '${p}' overlaps with another provided prefix '${q}'. ` +
            'Prefixes for a single client must not overlap.'
        }
      }
    }
    return null
  }

  // ---- remembering keys (Redis's trackingRememberKeys) -------------------------------------

  /**
   * After a read-only command of `clientId` (or a script that called one): remember the keys
   * of `spec`/`argv` for it, unless OPTIN without CACHING yes or OPTOUT with CACHING no.
   */
  rememberKeys(clientId: number, spec: CommandSpec, argv: readonly Buffer[]): void {
    const c = this.clients.get(clientId)
    if (c === undefined || c.bcast) return
    if ((c.optin && !c.caching) || (c.optout && c.caching)) return
    // Shard channels sit at key positions but are not keys to track.
    if (spec.flags.includes('pubsub')) return
    for (const i of keyPositions(spec, argv)) {
      const key = (argv[i] as Buffer).toString('latin1')
      let ids = this.table.get(key)
      if (ids === undefined) {
        ids = new Set()
        this.table.set(key, ids)
      }
      if (!ids.has(clientId)) {
        ids.add(clientId)
        this.totalItems++
      }
    }
  }

  /**
   * After a command of `client` ran (also each command inside EXEC): a read-only command — not
   * EVAL_RO, EVALSHA_RO or FCALL_RO themselves, as Redis compares their procs — or a script that
   * called one (scriptRead) remembers the command's keys for it.
   */
  afterCommand(client: ClientState, spec: CommandSpec, args: Args | Buffer[]): void {
    const read = this.scriptRead ||
      (spec.flags.includes('readonly') && !RO_SCRIPT_COMMANDS.has(spec.name))
    this.scriptRead = false
    if (!read) return
    const c = this.clients.get(client.id)
    if (c === undefined || c.bcast) return
    this.rememberKeys(client.id, spec, Array.isArray(args) ? args : args.toArgv())
  }

  /**
   * After every request (Redis's resetClient): CLIENT CACHING lasts for the next command, or
   * the next transaction — until a command other than CLIENT runs outside MULTI.
   */
  afterRequest(client: ClientState, spec: CommandSpec | null): void {
    const c = this.clients.get(client.id)
    if (c === undefined || !c.caching || client.multi !== null) return
    if (spec !== null && (spec.name === 'client' || spec.name.startsWith('client|'))) return
    c.caching = false
  }

  // ---- invalidation --------------------------------------------------------------------------

  /** Any key or prefix tracked: otherwise a key change costs nothing here. */
  get active(): boolean {
    return this.table.size > 0 || this.prefixes.size > 0
  }

  /**
   * Redis's trackingInvalidateKey(current client, key, bcast): every change to `key` (the
   * keyspace's observer calls it). `bcast` false: an eviction from the tracking table itself.
   */
  touched(key: string, bcast = true): void {
    if (this.table.size === 0 && this.prefixes.size === 0) return
    if (bcast && this.prefixes.size > 0) this.rememberForBroadcast(key)
    const ids = this.table.get(key)
    if (ids === undefined) return
    for (const id of ids) {
      const target = this.clients.get(id)
      // A client that turned tracking off, or on again in BCAST mode, gets none of these.
      if (target === undefined || target.bcast) continue
      if (target.noloop && id === this.current) continue
      this.outbox.push({ trackerId: id, payload: { kind: 'key', key } })
    }
    this.totalItems -= ids.size
    this.table.delete(key)
  }

  private rememberForBroadcast(key: string): void {
    for (const [prefix, bs] of this.prefixes) {
      if (key.startsWith(prefix)) bs.keys.set(key, this.current)
    }
  }

  /** FLUSHDB, FLUSHALL, DEBUG RELOAD: every tracking client is told "all keys" (a null). */
  flushed(): void {
    for (const id of this.clients.keys()) {
      this.outbox.push({ trackerId: id, payload: { kind: 'all' } })
    }
    this.table.clear()
    this.totalItems = 0
  }

  /**
   * Hand the queued invalidations to their connections (see the durability invariant): called
   * by dispatch once the transaction that made them was appended, after its reply, and by the
   * server after the active expire cycle's transaction. Not while a script is busy.
   */
  release(): void {
    if (busyState.current !== null) return
    if (this.outbox.length > 0) {
      const out = this.outbox
      this.outbox = []
      for (const o of out) this.send(o.trackerId, o.payload)
    }
    if (!this.broadcastScheduled && this.hasBroadcastKeys()) {
      this.broadcastScheduled = true
      setImmediate(this.broadcastFn)
    }
  }

  private hasBroadcastKeys(): boolean {
    for (const bs of this.prefixes.values()) if (bs.keys.size > 0) return true
    return false
  }

  private readonly broadcastFn = (): void => {
    this.broadcastScheduled = false
    // A busy script's keys wait for its transaction: release() after it schedules this again.
    if (busyState.current !== null) return
    this.broadcast()
  }

  /** Redis's trackingBroadcastInvalidationMessages: one array per prefix, keys in byte order. */
  broadcast(): void {
    const prefixes = Array.from(this.prefixes.keys()).sort(byteOrder)
    for (const p of prefixes) {
      const bs = this.prefixes.get(p)
      if (bs === undefined || bs.keys.size === 0) continue
      const keys = Array.from(bs.keys.keys()).sort(byteOrder)
      const all = keysProto(keys)
      for (const id of bs.clients) {
        const c = this.clients.get(id)
        if (c === undefined) continue
        if (!c.noloop) {
          this.send(id, { kind: 'proto', bytes: all })
          continue
        }
        const own = keys.filter((k) => bs.keys.get(k) !== id)
        if (own.length > 0) this.send(id, { kind: 'proto', bytes: keysProto(own) })
      }
      bs.keys = new Map()
    }
  }

  /** Redis's sendTrackingMessage: to the client itself or its redirect, by protocol. */
  private send(trackerId: number, payload: Payload): void {
    const tracker = this.clients.get(trackerId)
    if (tracker === undefined) return
    let target = tracker.handle
    let redirected = false
    if (tracker.redirect !== 0) {
      const redir = this.sv().clients.get(tracker.redirect)
      if (redir === undefined) {
        tracker.brokenRedirect = true
        if (tracker.handle.state.proto === 3) {
          tracker.handle.pubsubFeed(Buffer.from(`>2${CRLF}$21${CRLF}tracking-redir-broken` +
            `${CRLF}:${tracker.redirect}${CRLF}`))
        }
        return
      }
      target = redir
      redirected = true
    }
    let header: Buffer
    if (target.state.proto === 3) header = PUSH_INVALIDATE
    else if (redirected && this.sv().pubsub.isSubscribed(target.state.id)) {
      header = MESSAGE_INVALIDATE
    } else return
    const body = payload.kind === 'key' ? keysProto([payload.key])
      : payload.kind === 'all' ? (tracker.handle.state.proto === 3 ? NULL3 : NULL2)
        : payload.bytes
    target.pubsubFeed(Buffer.concat([header, body]))
  }

  /**
   * Redis's trackingLimitUsedSlots: over `maxKeys` (0: no limit), forget keys (oldest first,
   * where Redis walks at random) and invalidate them for their clients, 100 more per call while
   * still over. Sent at once: nothing written is revealed.
   */
  limitUsedSlots(maxKeys: number): void {
    if (maxKeys === 0 || this.table.size <= maxKeys) {
      this.limitCallsOver = 0
      return
    }
    let effort = LIMIT_EFFORT_STEP * (this.limitCallsOver + 1)
    const saved = this.outbox
    this.outbox = []
    const savedCurrent = this.current
    this.current = 0
    for (const key of this.table.keys()) {
      if (effort-- <= 0) break
      this.touched(key, false)
      if (this.table.size <= maxKeys) break
    }
    this.current = savedCurrent
    const evictions = this.outbox
    this.outbox = saved
    for (const o of evictions) this.send(o.trackerId, o.payload)
    if (this.table.size <= maxKeys) this.limitCallsOver = 0
    else this.limitCallsOver++
  }
}

/** The key positions of a command's argv (a movable-keys command finds its own). */
function keyPositions(spec: CommandSpec, argv: readonly Buffer[]): number[] {
  if (spec.keys !== undefined) return spec.keys(argv)
  if (spec.firstKey <= 0) return []
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey
  const out: number[] = []
  for (let i = spec.firstKey; i <= last && i < argv.length; i += Math.max(1, spec.step)) {
    out.push(i)
  }
  return out
}

// ---- CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO -----------------------------------

export interface TrackingOptions {
  bcast: boolean
  optin: boolean
  optout: boolean
  noloop: boolean
}

interface ParsedTracking {
  options: TrackingOptions
  redirect: number
  prefixes: string[]
}

/** The options after ON|OFF, with Redis's errors (the caller has replied when null). */
function parseTrackingOptions(ctx: CommandContext, argv: Buffer[]): ParsedTracking | null {
  const options: TrackingOptions = { bcast: false, optin: false, optout: false, noloop: false }
  let redirect = 0
  const prefixes: string[] = []
  for (let j = 3; j < argv.length; j++) {
    const word = (argv[j] as Buffer).toString('latin1').toLowerCase()
    const more = j < argv.length - 1
    if (word === 'redirect' && more) {
      j++
      if (redirect !== 0) {
        ctx.reply.error('ERR A client can only redirect to a single other client')
        return null
      }
      const arg = argv[j] as Buffer
      const id = parseRedisInteger(arg, 0, arg.length)
      if (Number.isNaN(id)) {
        ctx.reply.error('ERR value is not an integer or out of range')
        return null
      }
      if (!services(ctx).clients.has(id)) {
        ctx.reply.error('ERR The client ID you want redirect to does not exist')
        return null
      }
      redirect = id
    } else if (word === 'bcast') options.bcast = true
    else if (word === 'optin') options.optin = true
    else if (word === 'optout') options.optout = true
    else if (word === 'noloop') options.noloop = true
    else if (word === 'prefix' && more) {
      j++
      prefixes.push((argv[j] as Buffer).toString('latin1'))
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return { options, redirect, prefixes }
}

/** Redis's checks before enableTracking, in its order: the error text, or null. */
function enableError(tr: Tracking, clientId: number, p: ParsedTracking): string | null {
  const o = p.options
  if (!o.bcast && p.prefixes.length > 0) return 'ERR PREFIX option requires BCAST mode to be enabled'
  const c = tr.clientOf(clientId)
  if (c !== undefined && c.bcast !== o.bcast) {
    return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, " +
      'and then re-enabling it with a different mode.'
  }
  if (o.bcast && (o.optin || o.optout)) return 'ERR OPTIN and OPTOUT are not compatible with BCAST'
  if (o.optin && o.optout) return "ERR You can't specify both OPTIN mode and OPTOUT mode"
  if (c !== undefined && ((o.optin && c.optout) || (o.optout && c.optin))) {
    return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, " +
      'and then re-enabling it with a different mode.'
  }
  return o.bcast ? tr.prefixCollision(clientId, p.prefixes) : null
}

const clientTracking: Handler = (ctx, argv) => {
  const parsed = parseTrackingOptions(ctx, argv)
  if (parsed === null) return
  const sv = services(ctx)
  const mode = (argv[2] as Buffer).toString('latin1').toLowerCase()
  if (mode === 'on') {
    const error = enableError(sv.tracking, ctx.client.id, parsed)
    if (error !== null) {
      ctx.reply.error(error)
      return
    }
    sv.tracking.enable(sv.handleOf(ctx.client), parsed.redirect, parsed.options, parsed.prefixes)
  } else if (mode === 'off') {
    sv.tracking.disable(ctx.client.id)
  } else {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  ctx.reply.simple('OK')
}

const clientCaching: Handler = (ctx, argv) => {
  const c = services(ctx).tracking.clientOf(ctx.client.id)
  if (c === undefined) {
    ctx.reply.error('ERR CLIENT CACHING can be called only when the client is in tracking mode ' +
      'with OPTIN or OPTOUT mode enabled')
    return
  }
  const opt = (argv[2] as Buffer).toString('latin1').toLowerCase()
  if (opt === 'yes') {
    if (!c.optin) {
      ctx.reply.error('ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.')
      return
    }
  } else if (opt === 'no') {
    if (!c.optout) {
      ctx.reply.error('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.')
      return
    }
  } else {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  c.caching = true
  ctx.reply.simple('OK')
}

const clientGetredir: Handler = (ctx) => {
  const c = services(ctx).tracking.clientOf(ctx.client.id)
  ctx.reply.integer(c === undefined ? -1 : c.redirect)
}

function trackingFlags(c: TrackingClient | undefined): string[] {
  if (c === undefined) return ['off']
  const flags = ['on']
  if (c.bcast) flags.push('bcast')
  if (c.optin) flags.push('optin')
  if (c.optin && c.caching) flags.push('caching-yes')
  if (c.optout) flags.push('optout')
  if (c.optout && c.caching) flags.push('caching-no')
  if (c.noloop) flags.push('noloop')
  if (c.brokenRedirect) flags.push('broken_redirect')
  return flags
}

const clientTrackinginfo: Handler = (ctx) => {
  const c = services(ctx).tracking.clientOf(ctx.client.id)
  const r = ctx.reply
  r.mapHeader(3)
  r.bulk('flags')
  const flags = trackingFlags(c)
  r.setHeader(flags.length)
  for (const f of flags) r.bulk(f)
  r.bulk('redirect')
  r.integer(c === undefined ? -1 : c.redirect)
  r.bulk('prefixes')
  const prefixes = c === undefined ? [] : Array.from(c.prefixes).sort(byteOrder)
  r.arrayHeader(prefixes.length)
  for (const p of prefixes) r.bulk(Buffer.from(p, 'latin1'))
}

export const trackingHandlers: Readonly<Record<string, Handler>> = {
  tracking: clientTracking,
  caching: clientCaching,
  getredir: clientGetredir,
  trackinginfo: clientTrackinginfo,
}

/** CLIENT LIST's tracking flags (t, R, B) and redir= value. */
export function trackingListFields(tr: Tracking, clientId: number):
  { flags: string; redir: number } {
  const c = tr.clientOf(clientId)
  if (c === undefined) return { flags: '', redir: -1 }
  return {
    flags: 't' + (c.brokenRedirect ? 'R' : '') + (c.bcast ? 'B' : ''),
    redir: c.redirect,
  }
}

