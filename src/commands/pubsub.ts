// Pub/Sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH, the sharded SSUBSCRIBE
// SUNSUBSCRIBE SPUBLISH, and PUBSUB CHANNELS/NUMSUB/NUMPAT/SHARDCHANNELS/SHARDNUMSUB/HELP, with
// Redis 7.0.15's replies and error texts (pubsub.c), and the registry they share (PubSub, one per
// server, reached through ServerServices.pubsub).
// Invariants, and why:
// - The registry is two-sided, as Redis's: channel → subscribers (in subscription order, which
//   is the order PUBLISH delivers in) and client → its channels, patterns and shard channels.
//   Both sides change together in subscribe/unsubscribe; a client with no subscription left has
//   no entry, a channel or pattern with no subscriber has none either (PUBSUB CHANNELS, NUMPAT
//   and INFO count entries).
// - A client is "subscribed" (Redis's CLIENT_PUBSUB: RESP2 subscribed mode, flag P, client type
//   pubsub, no idle timeout) exactly while it has at least one subscription of any kind.
// - Channels, patterns and messages are bytes: kept as latin1 strings (one char per byte) in
//   the maps, written back as the same bytes.
// - DURABILITY (DESIGN rule 2): a message is written into each subscriber's output buffer
//   (ClientHandle.pubsubPush) and leaves with that connection's next release of output, which
//   the server holds while any appended transaction is not yet durable — so a PUBLISH issued
//   after a write never reaches a subscriber before the write's group commit, and messages keep
//   their order. Inside EXEC (or a script: wherever ctx.block is absent) delivery waits for the
//   transaction's commit (services.afterCommit), so a transaction the pool refuses publishes
//   nothing. PUBLISH itself is not durable: a message is delivered to whoever is subscribed now
//   and never logged (Redis's fire-and-forget).
// - Pushes (subscribe confirmations, messages) bypass CLIENT REPLY OFF/SKIP, as Redis 7.0's
//   CLIENT_PUSHING does.

import { globMatch } from './glob.js'
import { OutputSink } from './reply-sink.js'
import { writeHelp } from './connection.js'
import { helpLines, services, type ClientHandle } from './services.js'
import {
  argsHandler, type CommandContext, type CommandFlag, type CommandSpec, type Handler,
} from './spec.js'
import type { Args } from '../resp/args.js'
import { OutputBuffer } from '../resp/writer.js'

type Kind = 'channel' | 'pattern' | 'shard'

/** One client's subscriptions (Sets keep subscription order, as Redis's pattern list does). */
interface ClientSubscriptions {
  readonly handle: ClientHandle
  readonly channels: Set<string>
  readonly patterns: Set<string>
  readonly shard: Set<string>
}

/** Subscribers of one channel or pattern, in subscription order. */
type Subscribers = Set<ClientHandle>

/** A pattern's subscribers, and its bytes (matched against every channel published to). */
interface PatternSubscribers {
  readonly bytes: Buffer
  readonly subs: Subscribers
}

export interface SubscriptionCounts {
  channels: number
  patterns: number
  shardChannels: number
}

const NO_SUBSCRIPTIONS: SubscriptionCounts = Object.freeze({
  channels: 0, patterns: 0, shardChannels: 0,
})

const EMPTY = Buffer.alloc(0)

/** A message's leading bytes, RESP2 form (OutputBuffer.writePushRaw makes the RESP3 push). */
const PREFIX = {
  message: Buffer.from('*3\r\n$7\r\nmessage\r\n', 'latin1'),
  pmessage: Buffer.from('*4\r\n$8\r\npmessage\r\n', 'latin1'),
  smessage: Buffer.from('*3\r\n$8\r\nsmessage\r\n', 'latin1'),
}

/** Encodes a Push once for several recipients (take() hands out a copy or a fresh view). */
const encoder = new OutputBuffer(2, 4096)

/**
 * One message as its recipients get it: `message`/`smessage` channel payload, or `pmessage`
 * pattern channel payload. Channel and payload are byte ranges of buffers that are not written
 * again while the Push is in use (a request's arguments: src/resp/args.ts). A single recipient's
 * bytes are written straight into its output; for several, the message is encoded once
 * (`encoded`, RESP2) and copied into each output in its protocol.
 */
export class Push {
  prefix: Buffer = PREFIX.message
  pattern: Buffer | null = null
  /** The whole message as RESP2 bytes, once encodeOnce() made them. */
  encoded: Buffer | null = null
  channel: Uint8Array = EMPTY
  channelStart = 0
  channelEnd = 0
  message: Uint8Array = EMPTY
  messageStart = 0
  messageEnd = 0

  static of(channel: Buffer, message: Buffer): Push {
    const p = new Push()
    p.setChannel(channel, 0, channel.length)
    p.setMessage(message, 0, message.length)
    return p
  }

  setChannel(buf: Uint8Array, start: number, end: number): void {
    this.channel = buf
    this.channelStart = start
    this.channelEnd = end
  }

  setMessage(buf: Uint8Array, start: number, end: number): void {
    this.message = buf
    this.messageStart = start
    this.messageEnd = end
  }

  /** The same channel and payload as `prefix` (with `pattern` for a pmessage). */
  as(prefix: Buffer, pattern: Buffer | null): Push {
    const p = new Push()
    p.prefix = prefix
    p.pattern = pattern
    p.setChannel(this.channel, this.channelStart, this.channelEnd)
    p.setMessage(this.message, this.messageStart, this.messageEnd)
    return p
  }

  /** The channel's bytes (the Buffer itself when the range is all of it, else a view). */
  channelBytes(): Buffer {
    const c = this.channel
    if (c instanceof Buffer && this.channelStart === 0 && this.channelEnd === c.length) return c
    return Buffer.from(c.buffer, c.byteOffset + this.channelStart,
      this.channelEnd - this.channelStart)
  }

  /** Encode now (RESP2 bytes): for more than one recipient. */
  encodeOnce(): void {
    if (this.encoded !== null) return
    this.writeIn(encoder, 2)
    this.encoded = encoder.take()
  }

  writeIn(out: OutputBuffer, proto: 2 | 3): void {
    const outer = out.proto
    out.proto = proto
    if (this.encoded !== null) {
      out.writePushRaw(this.encoded)
    } else {
      out.writePushRaw(this.prefix)
      if (this.pattern !== null) out.writeBulk(this.pattern)
      out.writeBulkRange(this.channel, this.channelStart, this.channelEnd)
      out.writeBulkRange(this.message, this.messageStart, this.messageEnd)
    }
    out.proto = outer
  }
}

/**
 * Messages whose recipients were chosen at publish time, handed over later (after a commit):
 * recipient i gets pushes[i] (one Push shared by all the subscribers of a channel or pattern).
 */
export class Deliveries {
  readonly handles: ClientHandle[] = []
  readonly pushes: Push[] = []

  get size(): number {
    return this.handles.length
  }

  add(handle: ClientHandle, push: Push): void {
    this.handles.push(handle)
    this.pushes.push(push)
  }

  /** Hand each message to its subscriber's output (see the durability invariant above). */
  deliver(): void {
    const { handles, pushes } = this
    for (let i = 0; i < handles.length; i++) {
      (handles[i] as ClientHandle).pubsubPush(pushes[i] as Push)
    }
  }
}

/**
 * Hands `push` as `prefix` (and `pattern`) to every subscriber in `subs` now, or (with `later`)
 * records their deliveries of a copy.
 */
function feed(subs: Subscribers, push: Push, prefix: Buffer, pattern: Buffer | null,
  later: Deliveries | null): void {
  if (later !== null) {
    const copy = push.as(prefix, pattern)
    if (subs.size > 1) copy.encodeOnce()
    for (const handle of subs) later.add(handle, copy)
    return
  }
  push.prefix = prefix
  push.pattern = pattern
  push.encoded = null
  if (subs.size > 1) push.encodeOnce()
  for (const handle of subs) handle.pubsubPush(push)
  push.encoded = null
}

export class PubSub {
  private readonly channels = new Map<string, Subscribers>()
  private readonly patterns = new Map<string, PatternSubscribers>()
  private readonly shardChannels = new Map<string, Subscribers>()
  private readonly clients = new Map<number, ClientSubscriptions>()
  /** notify-keyspace-events as Redis's flag bits (commands/notify.ts); set by the server. */
  keyspaceFlags = 0

  /** Any channel or pattern subscribed (keyspace notifications build nothing otherwise). */
  get hasSubscriptions(): boolean {
    return this.channels.size > 0 || this.patterns.size > 0
  }

  /** INFO pubsub_channels. */
  get channelCount(): number {
    return this.channels.size
  }

  /** INFO pubsub_patterns, PUBSUB NUMPAT. */
  get patternCount(): number {
    return this.patterns.size
  }

  /** INFO pubsubshard_channels. */
  get shardChannelCount(): number {
    return this.shardChannels.size
  }

  /** Clients with at least one subscription. */
  get subscribedClientCount(): number {
    return this.clients.size
  }

  /** Redis's CLIENT_PUBSUB: at least one subscription of any kind. */
  isSubscribed(clientId: number): boolean {
    return this.clients.size > 0 && this.clients.has(clientId)
  }

  counts(clientId: number): SubscriptionCounts {
    const c = this.clients.get(clientId)
    if (c === undefined) return NO_SUBSCRIPTIONS
    return { channels: c.channels.size, patterns: c.patterns.size, shardChannels: c.shard.size }
  }

  /** Redis's clientSubscriptionsCount (channels + patterns) or the shard count. */
  subscriptionCount(clientId: number, kind: Kind): number {
    const c = this.clients.get(clientId)
    if (c === undefined) return 0
    return kind === 'shard' ? c.shard.size : c.channels.size + c.patterns.size
  }

  /** The subscriber set of a channel, pattern or shard channel (made when `create`). */
  private subscribersOf(kind: Kind, name: string, create: boolean): Subscribers | undefined {
    if (kind === 'pattern') {
      let p = this.patterns.get(name)
      if (p === undefined && create) {
        p = { bytes: Buffer.from(name, 'latin1'), subs: new Set() }
        this.patterns.set(name, p)
      }
      return p?.subs
    }
    const map = kind === 'channel' ? this.channels : this.shardChannels
    let subs = map.get(name)
    if (subs === undefined && create) {
      subs = new Set()
      map.set(name, subs)
    }
    return subs
  }

  private forget(kind: Kind, name: string): void {
    if (kind === 'pattern') this.patterns.delete(name)
    else (kind === 'channel' ? this.channels : this.shardChannels).delete(name)
  }

  private static clientSet(c: ClientSubscriptions, kind: Kind): Set<string> {
    return kind === 'channel' ? c.channels : kind === 'pattern' ? c.patterns : c.shard
  }

  /** True when newly subscribed (false: it already was). */
  subscribe(handle: ClientHandle, kind: Kind, name: string): boolean {
    const id = handle.state.id
    let c = this.clients.get(id)
    if (c === undefined) {
      c = { handle, channels: new Set(), patterns: new Set(), shard: new Set() }
      this.clients.set(id, c)
    }
    const mine = PubSub.clientSet(c, kind)
    if (mine.has(name)) return false
    mine.add(name)
    const subs = this.subscribersOf(kind, name, true)
    if (subs === undefined) throw new Error(`pubsub: no subscriber set made for ${kind} '${name}'`)
    subs.add(handle)
    return true
  }

  /** True when it was subscribed (and no longer is). */
  unsubscribe(clientId: number, kind: Kind, name: string): boolean {
    const c = this.clients.get(clientId)
    if (c === undefined) return false
    const mine = PubSub.clientSet(c, kind)
    if (!mine.delete(name)) return false
    const subs = this.subscribersOf(kind, name, false)
    if (subs === undefined) throw new Error(`pubsub: ${kind} '${name}' has no subscriber set`)
    subs.delete(c.handle)
    if (subs.size === 0) this.forget(kind, name)
    if (c.channels.size + c.patterns.size + c.shard.size === 0) this.clients.delete(clientId)
    return true
  }

  /** The client's subscriptions of `kind`, in subscription order. */
  subscriptionsOf(clientId: number, kind: Kind): string[] {
    const c = this.clients.get(clientId)
    return c === undefined ? [] : Array.from(PubSub.clientSet(c, kind))
  }

  /** Disconnect and RESET: every subscription of the client goes, without notification. */
  removeClient(clientId: number): void {
    const c = this.clients.get(clientId)
    if (c === undefined) return
    for (const kind of ['channel', 'pattern', 'shard'] as const) {
      for (const name of Array.from(PubSub.clientSet(c, kind))) {
        this.unsubscribe(clientId, kind, name)
      }
    }
  }

  /** Whether a message to channel `name` reaches anyone (its bytes are needed only then). */
  mayReceive(name: string, shard: boolean): boolean {
    return shard ? this.shardChannels.has(name) : this.patterns.size > 0 || this.channels.has(name)
  }

  /**
   * Redis's pubsubPublishMessage: `push`'s payload to the subscribers of channel `name` (a
   * latin1 string of `push`'s channel bytes), channel subscribers first, then (not for shard
   * channels) those of every matching pattern — handed to their output now (`push` is then
   * rewritten: its prefix and pattern), or appended to `later` (then nothing is delivered here:
   * see Deliveries.deliver). Returns the number of recipients.
   */
  publish(name: string, push: Push, shard: boolean, later: Deliveries | null): number {
    let count = 0
    const subs = (shard ? this.shardChannels : this.channels).get(name)
    if (subs !== undefined) {
      count = subs.size
      feed(subs, push, shard ? PREFIX.smessage : PREFIX.message, null, later)
    }
    if (shard || this.patterns.size === 0) return count
    const bytes = push.channelBytes()
    for (const p of this.patterns.values()) {
      if (!globMatch(p.bytes, bytes)) continue
      count += p.subs.size
      feed(p.subs, push, PREFIX.pmessage, p.bytes, later)
    }
    return count
  }

  /** Channels (or shard channels) matching `pattern` (all when null), in no particular order. */
  channelNames(pattern: Buffer | null, shard: boolean): Buffer[] {
    const out: Buffer[] = []
    for (const name of (shard ? this.shardChannels : this.channels).keys()) {
      const bytes = Buffer.from(name, 'latin1')
      if (pattern === null || globMatch(pattern, bytes)) out.push(bytes)
    }
    return out
  }

  subscriberCount(channel: Buffer, shard: boolean): number {
    return (shard ? this.shardChannels : this.channels).get(channel.toString('latin1'))?.size ?? 0
  }
}

// ---- the commands ---------------------------------------------------------------------------

/**
 * Where a client's own pushes go: its output even under CLIENT REPLY OFF/SKIP (CLIENT_PUSHING),
 * or inside EXEC the transaction's reply (as in Redis, the push sits in EXEC's array).
 */
function pushTarget(ctx: CommandContext): OutputBuffer | null {
  return ctx.reply instanceof OutputSink ? ctx.reply.unmutedTarget : null
}

/** `[word, name or null, count]`: a subscribe or unsubscribe confirmation. */
function confirm(ctx: CommandContext, word: string, name: Buffer | null, count: number): void {
  const target = pushTarget(ctx)
  if (target !== null) {
    target.writePushHeader(3)
    target.writeBulk(word)
    if (name === null) target.writeNull()
    else target.writeBulk(name)
    target.writeInteger(count)
    return
  }
  const r = ctx.reply
  r.arrayHeader(3)
  r.bulk(word)
  if (name === null) r.nullBulk()
  else r.bulk(name)
  r.integer(count)
}

const SUBSCRIBE_WORDS: Record<Kind, [string, string]> = {
  channel: ['subscribe', 'unsubscribe'],
  pattern: ['psubscribe', 'punsubscribe'],
  shard: ['ssubscribe', 'sunsubscribe'],
}

function subscribeGeneric(ctx: CommandContext, argv: Buffer[], kind: Kind): void {
  const sv = services(ctx)
  const handle = sv.handleOf(ctx.client)
  const id = ctx.client.id
  for (let j = 1; j < argv.length; j++) {
    const name = argv[j] as Buffer
    sv.pubsub.subscribe(handle, kind, name.toString('latin1'))
    confirm(ctx, (SUBSCRIBE_WORDS[kind])[0], name, sv.pubsub.subscriptionCount(id, kind))
  }
}

function unsubscribeGeneric(ctx: CommandContext, argv: Buffer[], kind: Kind): void {
  const ps = services(ctx).pubsub
  const id = ctx.client.id
  const word = (SUBSCRIBE_WORDS[kind])[1]
  if (argv.length > 1) {
    for (let j = 1; j < argv.length; j++) {
      const name = argv[j] as Buffer
      ps.unsubscribe(id, kind, name.toString('latin1'))
      confirm(ctx, word, name, ps.subscriptionCount(id, kind))
    }
    return
  }
  const names = ps.subscriptionsOf(id, kind)
  for (const name of names) {
    ps.unsubscribe(id, kind, name)
    confirm(ctx, word, Buffer.from(name, 'latin1'), ps.subscriptionCount(id, kind))
  }
  // Subscribed to nothing: Redis still confirms, with a null name.
  if (names.length === 0) confirm(ctx, word, null, ps.subscriptionCount(id, kind))
}

/** Inside EXEC, scripts and replay (no ctx.block): Redis's CLIENT_DENY_BLOCKING. */
function denyBlocking(ctx: CommandContext): boolean {
  return ctx.block === undefined && (ctx.store as unknown) !== null
}

/** publish()'s message for a PUBLISH outside EXEC and scripts (delivered before it returns). */
const scratchPush = new Push()

function publishGeneric(ctx: CommandContext, args: Args, shard: boolean): void {
  const ps = services(ctx).pubsub
  const name = args.key(1)
  if (!ps.mayReceive(name, shard)) {
    ctx.reply.integer(0)
    return
  }
  const later = denyBlocking(ctx) ? new Deliveries() : null
  const push = later === null ? scratchPush : new Push()
  if (args.viewMode) {
    push.setChannel(args.buf, args.off[1] as number, (args.off[1] as number) +
      (args.len[1] as number))
    push.setMessage(args.buf, args.off[2] as number, (args.off[2] as number) +
      (args.len[2] as number))
  } else {
    const channel = args.bytes(1)
    const message = args.bytes(2)
    push.setChannel(channel, 0, channel.length)
    push.setMessage(message, 0, message.length)
  }
  const count = ps.publish(name, push, shard, later)
  if (later === null) { // the scratch keeps no request bytes past the call
    push.setChannel(EMPTY, 0, 0)
    push.setMessage(EMPTY, 0, 0)
  }
  if (later !== null && count > 0) services(ctx).afterCommit(() => later.deliver())
  ctx.reply.integer(count)
}

const publishImpl = argsHandler((ctx, args) => publishGeneric(ctx, args, false))
const spublishImpl = argsHandler((ctx, args) => publishGeneric(ctx, args, true))

function subcommandSyntaxError(ctx: CommandContext, argv: Buffer[]): void {
  const sub = (argv[1] as Buffer)
  let end = sub.indexOf(0)
  if (end < 0) end = sub.length
  const text = sub.subarray(0, Math.min(end, 128)).toString('latin1').replace(/[\r\n]/g, ' ')
  ctx.reply.error(`ERR unknown subcommand or wrong number of arguments for '${text}'. ` +
    `Try ${(argv[0] as Buffer).toString('latin1').toUpperCase()} HELP.`)
}

function channelList(ctx: CommandContext, argv: Buffer[], shard: boolean): void {
  if (argv.length > 3) {
    subcommandSyntaxError(ctx, argv)
    return
  }
  const names = services(ctx).pubsub.channelNames(argv.length === 3 ? argv[2] as Buffer : null,
    shard)
  ctx.reply.arrayHeader(names.length)
  for (const n of names) ctx.reply.bulk(n)
}

function numsub(ctx: CommandContext, argv: Buffer[], shard: boolean): void {
  const ps = services(ctx).pubsub
  ctx.reply.arrayHeader((argv.length - 2) * 2)
  for (let j = 2; j < argv.length; j++) {
    ctx.reply.bulk(argv[j] as Buffer)
    ctx.reply.integer(ps.subscriberCount(argv[j] as Buffer, shard))
  }
}

const PUBSUB_HELP = helpLines('PUBSUB', [
  'CHANNELS [<pattern>]',
  "    Return the currently active channels matching a <pattern> (default: '*').",
  'NUMPAT',
  '    Return number of subscriptions to patterns.',
  'NUMSUB [<channel> ...]',
  '    Return the number of subscribers for the specified channels, excluding',
  '    pattern subscriptions(default: no channels).',
  'SHARDCHANNELS [<pattern>]',
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  'SHARDNUMSUB [<shardchannel> ...]',
  '    Return the number of subscribers for the specified shard level channel(s)',
])

const SUBSCRIBE_FLAGS: readonly CommandFlag[] = ['pubsub', 'noscript', 'loading', 'stale']
/** Redis's JSON adds MAY_REPLICATE, which 7.0.15's COMMAND INFO does not show. */
const PUBLISH_FLAGS: readonly CommandFlag[] = ['pubsub', 'loading', 'stale', 'fast', 'may_replicate']
const INTROSPECTION_FLAGS: readonly CommandFlag[] = ['pubsub', 'loading', 'stale']

function cmd(name: string, arity: number, flags: readonly CommandFlag[], handler: Handler,
  extra: Partial<CommandSpec> = {}): CommandSpec {
  const fast = flags.includes('fast')
  return {
    name, arity, flags, firstKey: 0, lastKey: 0, step: 0,
    categories: flags.includes('pubsub') ? ['pubsub', fast ? 'fast' : 'slow'] : ['slow'],
    handler, ...extra,
  }
}

const pubsubParent: Handler = (ctx) => {
  ctx.reply.error("ERR wrong number of arguments for 'pubsub' command")
}

// Summaries and key specs (the shard channel sits at the key position but is flagged not_key,
// so COMMAND GETKEYS finds none): command-docs.ts.
export const pubsubCommands: readonly CommandSpec[] = Object.freeze([
  cmd('subscribe', -2, SUBSCRIBE_FLAGS, (ctx, argv) => subscribeGeneric(ctx, argv, 'channel'),
    { subscribedContext: true }),
  cmd('unsubscribe', -1, SUBSCRIBE_FLAGS,
    (ctx, argv) => unsubscribeGeneric(ctx, argv, 'channel'), { subscribedContext: true }),
  cmd('psubscribe', -2, SUBSCRIBE_FLAGS, (ctx, argv) => subscribeGeneric(ctx, argv, 'pattern'),
    { subscribedContext: true }),
  cmd('punsubscribe', -1, SUBSCRIBE_FLAGS,
    (ctx, argv) => unsubscribeGeneric(ctx, argv, 'pattern'), { subscribedContext: true }),
  cmd('publish', 3, PUBLISH_FLAGS, publishImpl.handler, { run: publishImpl.run }),
  cmd('ssubscribe', -2, SUBSCRIBE_FLAGS, (ctx, argv) => {
    if (denyBlocking(ctx)) {
      ctx.reply.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
      return
    }
    subscribeGeneric(ctx, argv, 'shard')
  }, { firstKey: 1, lastKey: -1, step: 1, subscribedContext: true }),
  cmd('sunsubscribe', -1, SUBSCRIBE_FLAGS, (ctx, argv) => unsubscribeGeneric(ctx, argv, 'shard'),
    { firstKey: 1, lastKey: -1, step: 1, subscribedContext: true }),
  cmd('spublish', 3, PUBLISH_FLAGS, spublishImpl.handler,
    { firstKey: 1, lastKey: 1, step: 1, run: spublishImpl.run }),
  {
    name: 'pubsub', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0,
    categories: ['slow'], handler: pubsubParent,
    subcommands: [
      cmd('pubsub|channels', -2, INTROSPECTION_FLAGS,
        (ctx, argv) => channelList(ctx, argv, false)),
      cmd('pubsub|numsub', -2, INTROSPECTION_FLAGS, (ctx, argv) => numsub(ctx, argv, false)),
      cmd('pubsub|numpat', 2, INTROSPECTION_FLAGS,
        (ctx) => ctx.reply.integer(services(ctx).pubsub.patternCount)),
      cmd('pubsub|shardchannels', -2, INTROSPECTION_FLAGS,
        (ctx, argv) => channelList(ctx, argv, true)),
      cmd('pubsub|shardnumsub', -2, INTROSPECTION_FLAGS, (ctx, argv) => numsub(ctx, argv, true)),
      cmd('pubsub|help', 2, ['loading', 'stale'], (ctx) => writeHelp(ctx, PUBSUB_HELP)),
    ],
  },
] as CommandSpec[])
