// Shared pieces of the stream commands (stream.ts, stream-group.ts), as Redis 7.0.15 t_stream.c
// has them: ID parsing (streamGenericParseIDOrReply with string2ull's quirks), the entry replies,
// the trimming plan (streamTrim, computed on the live state and then logged as an XTRIM event:
// stream-events.ts), and the consumer-group read (streamReplyWithRange with a group: the entries
// it returns, the NACKs and the last id it logs as one XCLAIM event).
// Invariants, and why:
// - Every *OrReply helper writes Redis's exact error and returns null, before anything applied.
// - The stream state is only changed through ctx.txn.apply (events), never here.

import { type Stream, type ConsumerGroup, ID_MAX, idString, INVALID_ENTRIES_READ, TYPE_STREAM, U64 } from '../state/stream.js'
import { xclaimEv, xconsumerEv } from '../state/stream-events.js'
import { splitId, splitMs, splitSeq } from '../state/stream-id.js'
import { bulkLatin1, lookupOfType } from './coll-util.js'
import { notifyKeyspaceEvent } from './notify.js'
import { NOTIFY_CLASS_BITS } from '../server-config.js'
import { string2llText } from '../int64.js'
import type { CommandContext, ReplySink } from './spec.js'

export const NOTIFY_STREAM = NOTIFY_CLASS_BITS.t as number
export const ERR_INVALID_ID = 'ERR Invalid stream ID specified as stream command argument'

const STRTOULL = /^[ \t\n\v\f\r]*([+-]?)([0-9]+)$/

/** util.c string2ull: string2ll first (a negative value refused), else strtoull's rules. */
export function string2ull(s: string): bigint | null {
  const ll = string2llText(s)
  if (ll !== null) return ll < 0 ? null : BigInt(ll)
  const m = STRTOULL.exec(s)
  if (m === null) return null
  const v = BigInt(m[2] as string)
  if (v > U64) return null
  return m[1] === '-' ? (-v) & U64 : v
}

export interface ParsedId { id: bigint; seqGiven: boolean }

/**
 * streamGenericParseIDOrReply: `-`/`+` (unless strict), `ms`, `ms-seq`, and with `allowSeqStar`
 * `ms-*`. Null for an invalid id (no reply: the caller decides).
 */
export function parseId(arg: Buffer, missingSeq: bigint, strict: boolean,
  allowSeqStar = false): ParsedId | null {
  if (arg.length > 127) return null
  const nul = arg.indexOf(0)
  const s = (nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1')
  if (s === '-' || s === '+') {
    if (strict) return null
    return { id: s === '-' ? 0n : ID_MAX, seqGiven: true }
  }
  const dash = s.indexOf('-')
  const ms = string2ull(dash < 0 ? s : s.slice(0, dash))
  if (ms === null) return null
  if (dash < 0) return { id: (ms << 64n) | missingSeq, seqGiven: true }
  const rest = s.slice(dash + 1)
  if (allowSeqStar && rest === '*') return { id: ms << 64n, seqGiven: false }
  const seq = string2ull(rest)
  if (seq === null) return null
  return { id: (ms << 64n) | seq, seqGiven: true }
}

export function idOrReply(ctx: CommandContext, arg: Buffer, missingSeq: bigint, strict: boolean): bigint | null {
  const p = parseId(arg, missingSeq, strict)
  if (p === null) {
    ctx.reply.error(ERR_INVALID_ID)
    return null
  }
  return p.id
}

/** streamParseIntervalIDOrReply then the increment/decrement of an exclusive bound. */
export function intervalOrReply(ctx: CommandContext, arg: Buffer, start: boolean): bigint | null {
  const exclusive = arg.length > 1 && arg[0] === 0x28 // '('
  const id = idOrReply(ctx, exclusive ? arg.subarray(1) : arg, start ? 0n : U64, exclusive)
  if (id === null) return null
  if (!exclusive) return id
  if (start ? id === ID_MAX : id === 0n) {
    ctx.reply.error(start ? 'ERR invalid start ID for the interval' : 'ERR invalid end ID for the interval')
    return null
  }
  return start ? id + 1n : id - 1n
}

/** The stream at key, null when missing, false after WRONGTYPE. */
export function streamOf(ctx: CommandContext, key: string): Stream | null | false {
  const entry = lookupOfType(ctx, key, TYPE_STREAM)
  if (entry === false) return false
  return entry === null ? null : entry.value as Stream
}

/** "ms-seq" of safe parts is at most 16 + 1 + 16 digits. */
const idText = Buffer.alloc(40)
/** The ms part whose digits idText[0, idTextMsEnd) holds (-1: none yet). */
let idTextMs = -1
let idTextMsEnd = 0

/** Decimal digits of the safe integer n >= 0 into idText at `at`; returns the end. */
function putDecimal(n: number, at: number): number {
  let digits = 1
  for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++
  for (let i = at + digits - 1; i >= at; i--) {
    const q = Math.floor(n / 10)
    idText[i] = 0x30 + (n - q * 10)
    n = q
  }
  return at + digits
}

/** The id as a bulk string; safe parts are written as digits, no string made (XADD's reply). */
export function replyId(reply: ReplySink, id: bigint): void {
  if (reply.bulkRange === undefined || !splitId(id)) {
    reply.bulk(idString(id))
    return
  }
  const seq = splitSeq
  // Ids made in the same millisecond share their digits up to '-': still in idText.
  if (splitMs !== idTextMs) {
    idTextMsEnd = putDecimal(splitMs, 0)
    idTextMs = splitMs
  }
  let end = idTextMsEnd
  idText[end++] = 0x2d
  end = putDecimal(seq, end)
  reply.bulkRange(idText, 0, end)
}

/** One entry: [id, [field, value, …]]. */
export function replyEntry(reply: ReplySink, id: bigint, pairs: readonly Buffer[]): void {
  reply.arrayHeader(2)
  replyId(reply, id)
  reply.arrayHeader(pairs.length)
  for (const b of pairs) reply.bulk(b)
}

/** Entries of a range, as an array (counted first: replies have no deferred lengths). */
export function replyRange(reply: ReplySink, s: Stream, start: bigint, end: bigint, rev: boolean,
  count: number): void {
  const found: [bigint, Buffer[]][] = []
  s.range(start, end, rev, count, (id, pairs) => { found.push([id, pairs]) })
  reply.arrayHeader(found.length)
  for (const [id, pairs] of found) replyEntry(reply, id, pairs)
}

// ---- trimming -----------------------------------------------------------------------------

const SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER)

export interface TrimArgs {
  strategy: 'none' | 'maxlen' | 'minid'
  approx: boolean
  /** 0 = no limit. */
  limit: number
  maxlen: bigint
  minid: bigint
}

/** streamTrim's decision on the current state: whole head nodes, then entries marked. */
export function trimPlan(s: Stream, a: TrimArgs): { nodes: number; marks: number; deleted: number } {
  let length = s.length
  let deleted = 0
  let nodes = 0
  let marks = 0
  if (a.strategy === 'none') return { nodes, marks, deleted }
  // A length is a safe integer: a MAXLEN beyond them all keeps everything (no bigint per test).
  const maxlen = a.maxlen > SAFE_BIG ? Infinity : Number(a.maxlen)
  for (const node of s.nodes) {
    if (a.strategy === 'maxlen' && length <= maxlen) break
    const entries = node.live
    if (a.limit !== 0 && deleted + entries > a.limit) break
    const remove = a.strategy === 'maxlen' ? length - entries >= maxlen : node.last < a.minid
    if (remove) {
      nodes++
      length -= entries
      deleted += entries
      continue
    }
    if (a.approx) break
    for (let i = 0; i < node.ids.length; i++) {
      const stop = a.strategy === 'maxlen' ? length <= maxlen : (node.ids[i] as bigint) >= a.minid
      if (stop) break
      if (node.dead[i] === true) continue
      marks++
      length--
    }
    deleted += marks
    break
  }
  return { nodes, marks, deleted }
}

// ---- consumer-group reads -----------------------------------------------------------------

/** The consumer's seen time is refreshed (or it is created) by a read: returns whether it is new. */
export function touchConsumer(ctx: CommandContext, key: string, group: string, g: ConsumerGroup,
  consumer: string): boolean {
  if (g.consumers.has(consumer)) return false
  ctx.txn.apply(xconsumerEv(ctx.client.db, key, group, consumer, ctx.nowMs, false))
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-createconsumer', key, ctx.client.db)
  return true
}

/**
 * streamReplyWithRange with a group (XREADGROUP `>`): entries after `after`, at most `count`
 * (0 = all); logs the new last id, entries-read and (unless noack) the NACKs, then replies.
 */
export function readGroupNew(ctx: CommandContext, key: string, s: Stream, group: string,
  g: ConsumerGroup, consumer: string, after: bigint, count: number, noack: boolean): void {
  const found: [bigint, Buffer[]][] = []
  if (after < ID_MAX) s.range(after + 1n, ID_MAX, false, count, (id, pairs) => { found.push([id, pairs]) })
  let lastId = g.lastId
  let read = g.entriesRead
  for (const [id] of found) {
    if (id <= lastId) continue
    if (read !== INVALID_ENTRIES_READ && !s.rangeHasTombstones(id)) read++
    else if (s.entriesAdded !== 0n) read = s.estimateDistance(id)
    lastId = id
  }
  const last: [bigint, bigint] | null = lastId !== g.lastId || read !== g.entriesRead ? [lastId, read] : null
  const nacks: [bigint, number, number][] = noack ? [] : found.map(([id]) => [id, ctx.nowMs, 1])
  ctx.txn.apply(xclaimEv(ctx.client.db, key, group, consumer, ctx.nowMs, last, nacks))
  ctx.reply.arrayHeader(found.length)
  for (const [id, pairs] of found) replyEntry(ctx.reply, id, pairs)
}

/**
 * streamReplyWithRangeFromConsumerPEL (XREADGROUP with an id): the consumer's pending entries
 * from `start`, deleted ones as [id, null]; delivery time and count move for the others.
 */
export function readGroupHistory(ctx: CommandContext, key: string, s: Stream, group: string,
  g: ConsumerGroup, consumer: string, start: bigint, count: number): void {
  const c = g.consumers.get(consumer)
  const rows: [bigint, Buffer[] | null][] = []
  const nacks: [bigint, number, number][] = []
  if (c !== undefined) {
    for (let i = c.pel.lowerBound(start); i < c.pel.size && (count === 0 || rows.length < count); i++) {
      const id = c.pel.keyAt(i)
      const pairs = s.fields(id)
      rows.push([id, pairs])
      if (pairs !== null) nacks.push([id, ctx.nowMs, c.pel.valAt(i).deliveryCount + 1])
    }
  }
  ctx.txn.apply(xclaimEv(ctx.client.db, key, group, consumer, ctx.nowMs, null, nacks))
  ctx.reply.arrayHeader(rows.length)
  for (const [id, pairs] of rows) {
    if (pairs !== null) {
      replyEntry(ctx.reply, id, pairs)
      continue
    }
    ctx.reply.arrayHeader(2)
    replyId(ctx.reply, id)
    ctx.reply.nullArray()
  }
}

/** A group's or consumer's name as a bulk reply. */
export function replyName(reply: ReplySink, name: string): void {
  bulkLatin1(reply, name)
}

/** Names in Redis's rax order (bytewise). */
export function sortedNames<T>(map: ReadonlyMap<string, T>): string[] {
  return [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}
