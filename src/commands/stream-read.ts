// XREAD and XREADGROUP (Redis 7.0.15 t_stream.c xreadCommand, blocked.c
// serveClientsBlockedOnStreamKey). A read with a group is a write: the consumer it creates, the
// NACKs, the group's last id and entries-read are logged (stream-util.ts readGroupNew /
// readGroupHistory) before the entries are returned, so after a crash a consumer that received
// entries finds them in its PEL and nothing is delivered twice as new.
// Blocking: when nothing can be served and BLOCK was given, the client parks through ctx.block
// (txn/blocking.ts) on the distinct keys (the first occurrence of a key decides its id, as
// blockForKeys); a wake-up runs serveBlocked in its own transaction, after the write that made
// the key ready, and its reply is released only once both are durable (DESIGN rule 2). Inside
// MULTI or a script (no ctx.block) a read with BLOCK answers as a timeout.

import { type ConsumerGroup, ID_MAX, type Stream, TYPE_STREAM } from '../state/stream.js'
import { bulkLatin1 } from './coll-util.js'
import { commandSpec } from './list.js'
import { lookupKey } from './lookup.js'
import { int64OrReply, optionName } from './numeric.js'
import {
  ERR_SYNTAX, keyOf, WRONGTYPE, type CommandContext, type CommandSpec, type Handler, type ReplySink,
} from './spec.js'
import { idOrReply, readGroupHistory, readGroupNew, replyRange, touchConsumer } from './stream-util.js'

const XREAD_BLOCKED_DEFAULT_COUNT = 1000

interface ReadArgs {
  timeoutMs: number
  count: number
  keys: string[]
  /** Per stream: the id to read after; null = `>` (XREADGROUP new entries). */
  ids: (bigint | null)[]
  group: string | null
  consumer: string
  noack: boolean
}

function readArgsOrReply(ctx: CommandContext, argv: Buffer[], xreadgroup: boolean): ReadArgs | null {
  const name = (argv[0] as Buffer).toString('latin1')
  const r: ReadArgs = { timeoutMs: -1, count: 0, keys: [], ids: [], group: null, consumer: '', noack: false }
  let streamsArg = 0
  let streams = 0
  for (let i = 1; i < argv.length; i++) {
    const more = argv.length - i - 1
    const o = optionName(argv[i] as Buffer)
    if (o === 'block' && more > 0) {
      if (ctx.script === true) {
        ctx.reply.error(`ERR ${name} command is not allowed with BLOCK option from scripts`)
        return null
      }
      i++
      const t = int64OrReply(ctx, argv[i] as Buffer, 'ERR timeout is not an integer or out of range')
      if (t === null) return null
      if (t < 0) {
        ctx.reply.error('ERR timeout is negative')
        return null
      }
      r.timeoutMs = Number(t)
    } else if (o === 'count' && more > 0) {
      i++
      const n = int64OrReply(ctx, argv[i] as Buffer)
      if (n === null) return null
      r.count = n < 0 ? 0 : Number(n)
    } else if (o === 'streams' && more > 0) {
      streamsArg = i + 1
      streams = argv.length - streamsArg
      if (streams % 2 !== 0) {
        ctx.reply.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
        return null
      }
      streams /= 2
      break
    } else if (o === 'group' && more >= 2) {
      if (!xreadgroup) {
        ctx.reply.error('ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.')
        return null
      }
      r.group = keyOf(argv[i + 1] as Buffer)
      r.consumer = keyOf(argv[i + 2] as Buffer)
      i += 2
    } else if (o === 'noack') {
      if (!xreadgroup) {
        ctx.reply.error('ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.')
        return null
      }
      r.noack = true
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  if (streamsArg === 0) {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
  if (xreadgroup && r.group === null) {
    ctx.reply.error('ERR Missing GROUP option for XREADGROUP')
    return null
  }
  for (let i = 0; i < streams; i++) {
    const key = keyOf(argv[streamsArg + i] as Buffer)
    r.keys.push(key)
    const entry = lookupKey(ctx, key)
    if (entry !== undefined && entry.type !== TYPE_STREAM) {
      ctx.reply.error(WRONGTYPE)
      return null
    }
    const s = entry === undefined ? null : entry.value as Stream
    if (r.group !== null && (s === null || !s.groups.has(r.group))) {
      ctx.reply.error(`NOGROUP No such key '${key}' or consumer group '${r.group}' in XREADGROUP with GROUP option`)
      return null
    }
    const idArg = argv[streamsArg + streams + i] as Buffer
    const text = idArg.toString('latin1')
    if (text === '$') {
      if (xreadgroup) {
        ctx.reply.error('ERR The $ ID is meaningless in the context of XREADGROUP: you want to read ' +
          'the history of this consumer by specifying a proper ID, or use the > ID to get new ' +
          'messages. The $ ID would just return an empty result set.')
        return null
      }
      r.ids.push(s === null ? 0n : s.lastId)
    } else if (text === '>') {
      if (!xreadgroup) {
        ctx.reply.error('ERR The > ID can be specified only when calling XREADGROUP using the GROUP ' +
          '<group> <consumer> option.')
        return null
      }
      r.ids.push(null)
    } else {
      const id = idOrReply(ctx, idArg, 0n, true)
      if (id === null) return null
      r.ids.push(id)
    }
  }
  return r
}

/** Records replies to write them later, after a header whose length they decide. */
class ReplyRecorder implements ReplySink {
  private readonly ops: ((r: ReplySink) => void)[] = []
  constructor(readonly proto: 2 | 3) {}
  simple(x: string): void { this.ops.push((r) => r.simple(x)) }
  error(x: string): void { this.ops.push((r) => r.error(x)) }
  integer(x: number | bigint): void { this.ops.push((r) => r.integer(x)) }
  bulk(x: Buffer | string): void { this.ops.push((r) => r.bulk(x)) }
  nullBulk(): void { this.ops.push((r) => r.nullBulk()) }
  nullArray(): void { this.ops.push((r) => r.nullArray()) }
  arrayHeader(n: number): void { this.ops.push((r) => r.arrayHeader(n)) }
  mapHeader(n: number): void { this.ops.push((r) => r.mapHeader(n)) }
  setHeader(n: number): void { this.ops.push((r) => r.setHeader(n)) }
  double(x: number): void { this.ops.push((r) => r.double(x)) }
  boolean(x: boolean): void { this.ops.push((r) => r.boolean(x)) }
  verbatim(x: string): void { this.ops.push((r) => r.verbatim(x)) }
  replay(target: ReplySink): void { for (const op of this.ops) op(target) }
}

/** The stream's key before its entries: RESP2 [key, entries], RESP3 a map entry. */
function streamHeader(reply: ReplySink, key: string): void {
  if (reply.proto === 2) reply.arrayHeader(2)
  bulkLatin1(reply, key)
}

function topHeader(reply: ReplySink, n: number): void {
  if (reply.proto === 2) reply.arrayHeader(n)
  else reply.mapHeader(n)
}

/** The stream at `key` now, or null. */
function liveStream(ctx: CommandContext, key: string): Stream | null {
  const entry = ctx.keyspace.get(ctx.client.db, key)
  return entry !== undefined && entry.type === TYPE_STREAM ? entry.value as Stream : null
}

/**
 * Serve stream i of a read synchronously when it can (xreadCommand's loop): writes
 * [key, entries] and returns true, or returns false.
 */
function serveNow(ctx: CommandContext, r: ReadArgs, i: number): boolean {
  const key = r.keys[i] as string
  const s = liveStream(ctx, key)
  if (s === null) return false
  const gt = r.ids[i] as bigint | null
  if (r.group === null) {
    const last = s.edgeId(false)
    if (last === null || last <= (gt as bigint)) return false
    streamHeader(ctx.reply, key)
    replyRange(ctx.reply, s, (gt as bigint) + 1n, ID_MAX, false, r.count)
    return true
  }
  const g = s.groups.get(r.group) as ConsumerGroup
  if (gt !== null) {
    streamHeader(ctx.reply, key)
    touchConsumer(ctx, key, r.group, g, r.consumer)
    readGroupHistory(ctx, key, s, r.group, g, r.consumer, gt === ID_MAX ? 0n : gt + 1n, r.count)
    return true
  }
  const last = s.edgeId(false)
  if (last === null || last <= g.lastId) return false
  streamHeader(ctx.reply, key)
  touchConsumer(ctx, key, r.group, g, r.consumer)
  readGroupNew(ctx, key, s, r.group, g, r.consumer, g.lastId, r.count, r.noack)
  return true
}

/** serveClientsBlockedOnStreamKey for one waiter: true when it answered (served or error). */
function serveBlocked(ctx: CommandContext, r: ReadArgs, key: string, after: bigint | null, count: number): boolean {
  const s = liveStream(ctx, key)
  if (r.group === null) {
    if (s === null || s.lastId <= (after as bigint) || s.range((after as bigint) + 1n, ID_MAX, false, 1, () => false) === 0) return false
    topHeader(ctx.reply, 1)
    streamHeader(ctx.reply, key)
    replyRange(ctx.reply, s, (after as bigint) + 1n, ID_MAX, false, count)
    return true
  }
  if (s === null) {
    ctx.reply.error('UNBLOCKED the stream key no longer exists')
    return true
  }
  const g = s.groups.get(r.group)
  if (g === undefined) {
    ctx.reply.error('NOGROUP the consumer group this client was blocked on no longer exists')
    return true
  }
  if (s.lastId <= g.lastId || s.range(g.lastId + 1n, ID_MAX, false, 1, () => false) === 0) return false
  topHeader(ctx.reply, 1)
  streamHeader(ctx.reply, key)
  touchConsumer(ctx, key, r.group, g, r.consumer)
  readGroupNew(ctx, key, s, r.group, g, r.consumer, g.lastId, count, r.noack)
  return true
}

function xreadGeneric(xreadgroup: boolean): Handler {
  return (ctx, argv) => {
    const r = readArgsOrReply(ctx, argv, xreadgroup)
    if (r === null) return
    const rec = new ReplyRecorder(ctx.reply.proto)
    const sub: CommandContext = { ...ctx, reply: rec }
    let served = 0
    for (let i = 0; i < r.keys.length; i++) if (serveNow(sub, r, i)) served++
    if (served > 0) {
      topHeader(ctx.reply, served)
      rec.replay(ctx.reply)
      return
    }
    if (r.timeoutMs === -1 || ctx.block === undefined) {
      ctx.reply.nullArray()
      return
    }
    // blockForKeys: the first occurrence of a key decides its id.
    const after = new Map<string, bigint | null>()
    r.keys.forEach((k, i) => { if (!after.has(k)) after.set(k, r.ids[i] as bigint | null) })
    const count = r.count !== 0 ? r.count : XREAD_BLOCKED_DEFAULT_COUNT
    ctx.block([...after.keys()], r.timeoutMs,
      (c, key) => serveBlocked(c, r, key, after.get(key) ?? null, count),
      (reply) => reply.nullArray())
  }
}

export const streamReadCommands: CommandSpec[] = [
  commandSpec('xread', -4, ['readonly', 'blocking', 'movablekeys'], 0, 0, 0,
    ['read', 'stream', 'slow', 'blocking'], xreadGeneric(false), { keys: streamsKeys }),
  commandSpec('xreadgroup', -7, ['write', 'blocking', 'movablekeys'], 0, 0, 0,
    ['write', 'stream', 'slow', 'blocking'], xreadGeneric(true), { keys: streamsKeys }),
]

/** Key positions of XREAD/XREADGROUP: the first half of the arguments after STREAMS. */
function streamsKeys(argv: readonly Buffer[]): number[] {
  for (let i = 1; i < argv.length; i++) {
    if (optionName(argv[i] as Buffer) !== 'streams') continue
    const n = Math.floor((argv.length - i - 1) / 2)
    return Array.from({ length: n }, (_, j) => i + 1 + j)
  }
  return []
}
