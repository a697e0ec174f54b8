// List commands (Redis 7.0.15 t_list.c): LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX
// LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP and the blocking BLPOP BRPOP BLMOVE
// BRPOPLPUSH BLMPOP. Each handler validates in Redis's order (so the same bad request gets the
// same error), then applies list events (state/list-events.ts) with resolved positions and
// counts, then replies. Replies: pops of one element are bulks (null when missing), pops with a
// count are arrays (null array when the key is missing), LMPOP/BLMPOP answer [key, [items]].
// Blocking: when every key is empty and ctx.block exists, the client is parked through
// ctx.block (txn/blocking.ts) with a serve function that pops from the key that became ready,
// exactly as the non-blocking path would; inside MULTI (no ctx.block) they answer as a timeout.
// Timeouts answer a null array (RESP2 *-1) for every blocking list command, as Redis 7.0 does.

import { type Deque } from '../state/deque.js'
import { linsertEv, lremEv, lsetEv, ltrimEv, popEv, pushEv } from '../state/list-events.js'
import { TYPE_LIST, type Entry } from '../state/keyspace.js'
import {
  LONG_MAX, bulkLatin1, longOrReply, lookupOfType, positiveLongOrReply, rangeLongOrReply,
  sideOrReply, timeoutOrReply,
} from './coll-util.js'
import { lookupKey } from './lookup.js'
import { lpos } from './list-lpos.js'
import {
  NOTIFY_LIST, NOTIFY_NEW, notifyIfDeleted, notifyKeyspaceEvent, notifyNew, notifying,
} from './notify.js'
import { optionName } from './numeric.js'
import {
  ERR_SYNTAX, WRONGTYPE, keyOf, type CommandContext, type CommandFlag, type CommandSpec,
  type Handler,
} from './spec.js'

type List = Deque<Buffer>
type Side = 'left' | 'right'

/** A CommandSpec from COMMAND INFO's fields. */
export function commandSpec(name: string, arity: number, flags: CommandFlag[], firstKey: number,
  lastKey: number, step: number, categories: string[], handler: Handler,
  extra: Partial<Pick<CommandSpec, 'keys'>> = {}): CommandSpec {
  return Object.freeze({
    name, arity, flags, firstKey, lastKey, step, categories, handler, ...extra,
  })
}

/** Push, with Redis's notifications: `new` when the list is created, then lpush/rpush. */
function push(ctx: CommandContext, db: number, key: string, items: Buffer[], side: Side): void {
  const created = notifying(ctx, NOTIFY_NEW) && ctx.keyspace.get(db, key) === undefined
  ctx.txn.apply(pushEv(side === 'left', db, key, items))
  if (created) notifyNew(ctx, key, db)
  notifyKeyspaceEvent(ctx, NOTIFY_LIST, side === 'left' ? 'lpush' : 'rpush', key, db)
}

/**
 * Redis's listElementsRemoved: lpop/rpop, then `del` when the pop emptied (deleted) the list.
 * Called after pop(), so that LMOVE notifies its push first, as Redis does.
 */
function notifyPopped(ctx: CommandContext, db: number, key: string, side: Side): void {
  notifyKeyspaceEvent(ctx, NOTIFY_LIST, side === 'left' ? 'lpop' : 'rpop', key, db)
  notifyIfDeleted(ctx, db, key)
}

/** Pop up to `count` items from one end: returns them in pop order (and applies the event). */
function pop(ctx: CommandContext, db: number, key: string, entry: Entry, count: number,
  side: Side): Buffer[] {
  const list = entry.value as List
  const n = Math.min(count, list.length)
  const items: Buffer[] = []
  if (side === 'left') for (let i = 0; i < n; i++) items.push(list.get(i) as Buffer)
  else for (let i = 0; i < n; i++) items.push(list.get(list.length - 1 - i) as Buffer)
  if (n > 0) {
    ctx.txn.apply(popEv(side === 'left', db, key, n))
  }
  return items
}

function listLength(ctx: CommandContext, db: number, key: string): number {
  const e = ctx.keyspace.get(db, key)
  return e === undefined || e.type !== TYPE_LIST ? 0 : (e.value as List).length
}

function pushGeneric(side: Side, onlyIfExists: boolean): Handler {
  return (ctx, argv) => {
    const key = keyOf(argv[1] as Buffer)
    const entry = lookupOfType(ctx, key, TYPE_LIST)
    if (entry === false) return
    if (entry === null && onlyIfExists) {
      ctx.reply.integer(0)
      return
    }
    const db = ctx.client.db
    push(ctx, db, key, argv.slice(2), side)
    ctx.reply.integer(listLength(ctx, db, key))
  }
}

function popGeneric(side: Side): Handler {
  return (ctx, argv) => {
    const name = side === 'left' ? 'lpop' : 'rpop'
    if (argv.length > 3) {
      ctx.reply.error(`ERR wrong number of arguments for '${name}' command`)
      return
    }
    const hasCount = argv.length === 3
    let count = 1
    if (hasCount) {
      const c = positiveLongOrReply(ctx, argv[2] as Buffer)
      if (c === null) return
      count = c
    }
    const key = keyOf(argv[1] as Buffer)
    const entry = lookupOfType(ctx, key, TYPE_LIST)
    if (entry === false) return
    if (entry === null) {
      if (hasCount) ctx.reply.nullArray()
      else ctx.reply.nullBulk()
      return
    }
    if (hasCount && count === 0) {
      ctx.reply.arrayHeader(0)
      return
    }
    const items = pop(ctx, ctx.client.db, key, entry, count, side)
    notifyPopped(ctx, ctx.client.db, key, side)
    if (!hasCount) {
      ctx.reply.bulk(items[0] as Buffer)
      return
    }
    ctx.reply.arrayHeader(items.length)
    for (const item of items) ctx.reply.bulk(item)
  }
}

const llen: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_LIST)
  if (entry === false) return
  ctx.reply.integer(entry === null ? 0 : (entry.value as List).length)
}

const lrange: Handler = (ctx, argv) => {
  const start0 = longOrReply(ctx, argv[2] as Buffer)
  if (start0 === null) return
  const end0 = longOrReply(ctx, argv[3] as Buffer)
  if (end0 === null) return
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_LIST)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.arrayHeader(0)
    return
  }
  const list = entry.value as List
  const llen = list.length
  let start = start0 < 0 ? llen + start0 : start0
  let end = end0 < 0 ? llen + end0 : end0
  if (start < 0) start = 0
  if (start > end || start >= llen) {
    ctx.reply.arrayHeader(0)
    return
  }
  if (end >= llen) end = llen - 1
  ctx.reply.arrayHeader(end - start + 1)
  for (let i = start; i <= end; i++) ctx.reply.bulk(list.get(i) as Buffer)
}

const lindex: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_LIST)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.nullBulk()
    return
  }
  const index = longOrReply(ctx, argv[2] as Buffer)
  if (index === null) return
  const list = entry.value as List
  const i = index < 0 ? list.length + index : index
  const item = list.get(i)
  if (item === undefined) ctx.reply.nullBulk()
  else ctx.reply.bulk(item)
}

const lset: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_LIST)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.error('ERR no such key')
    return
  }
  const index = longOrReply(ctx, argv[2] as Buffer)
  if (index === null) return
  const list = entry.value as List
  const i = index < 0 ? list.length + index : index
  if (i < 0 || i >= list.length) {
    ctx.reply.error('ERR index out of range')
    return
  }
  ctx.txn.apply(lsetEv(ctx.client.db, key, i, argv[3] as Buffer))
  notifyKeyspaceEvent(ctx, NOTIFY_LIST, 'lset', key)
  ctx.reply.simple('OK')
}

const linsert: Handler = (ctx, argv) => {
  const where = optionName(argv[2] as Buffer)
  if (where !== 'after' && where !== 'before') {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_LIST)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const list = entry.value as List
  const pivot = argv[3] as Buffer
  let found = -1
  let i = 0
  for (const item of list) {
    if (item.equals(pivot)) {
      found = i
      break
    }
    i++
  }
  if (found < 0) {
    ctx.reply.integer(-1)
    return
  }
  const index = where === 'before' ? found : found + 1
  ctx.txn.apply(linsertEv(ctx.client.db, key, index, argv[4] as Buffer))
  notifyKeyspaceEvent(ctx, NOTIFY_LIST, 'linsert', key)
  ctx.reply.integer(list.length)
}

const lrem: Handler = (ctx, argv) => {
  const count = longOrReply(ctx, argv[2] as Buffer)
  if (count === null) return
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_LIST)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const db = ctx.client.db
  const before = (entry.value as List).length
  ctx.txn.apply(lremEv(db, key, count, argv[3] as Buffer))
  const removed = before - listLength(ctx, db, key)
  if (removed > 0) notifyKeyspaceEvent(ctx, NOTIFY_LIST, 'lrem', key, db)
  notifyIfDeleted(ctx, db, key)
  ctx.reply.integer(removed)
}

const ltrim: Handler = (ctx, argv) => {
  const start0 = longOrReply(ctx, argv[2] as Buffer)
  if (start0 === null) return
  const end0 = longOrReply(ctx, argv[3] as Buffer)
  if (end0 === null) return
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_LIST)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.simple('OK')
    return
  }
  const llen = (entry.value as List).length
  let start = start0 < 0 ? llen + start0 : start0
  let end = end0 < 0 ? llen + end0 : end0
  if (start < 0) start = 0
  let left: number
  let right: number
  if (start > end || start >= llen) {
    left = llen
    right = 0
  } else {
    if (end >= llen) end = llen - 1
    left = start
    right = llen - end - 1
  }
  if (left > 0 || right > 0) {
    ctx.txn.apply(ltrimEv(ctx.client.db, key, left, right))
  }
  // Redis notifies ltrim even when nothing was trimmed.
  notifyKeyspaceEvent(ctx, NOTIFY_LIST, 'ltrim', key)
  notifyIfDeleted(ctx, ctx.client.db, key)
  ctx.reply.simple('OK')
}

/**
 * lmoveGenericCommand after the source was found non-empty: WRONGTYPE when the destination is
 * not a list; else pop one item, push it, reply it. Source == destination rotates in place.
 */
function moveOne(ctx: CommandContext, src: string, source: Entry, dst: string, from: Side,
  to: Side): void {
  const db = ctx.client.db
  const dest = lookupKey(ctx, dst)
  if (dest !== undefined && dest.type !== TYPE_LIST) {
    ctx.reply.error(WRONGTYPE)
    return
  }
  const list = source.value as List
  const item = (from === 'left' ? list.get(0) : list.get(list.length - 1)) as Buffer
  if (src === dst && (list.length === 1 || from === to)) {
    // Popping and pushing back the same item leaves the list (and its TTL) as it was; Redis
    // still notifies the push and the pop.
    notifyKeyspaceEvent(ctx, NOTIFY_LIST, to === 'left' ? 'lpush' : 'rpush', dst, db)
    notifyKeyspaceEvent(ctx, NOTIFY_LIST, from === 'left' ? 'lpop' : 'rpop', src, db)
    ctx.reply.bulk(item)
    return
  }
  pop(ctx, db, src, source, 1, from)
  push(ctx, db, dst, [item], to)
  notifyPopped(ctx, db, src, from)
  ctx.reply.bulk(item)
}

function lmoveGeneric(ctx: CommandContext, argv: Buffer[], from: Side, to: Side): void {
  const src = keyOf(argv[1] as Buffer)
  const source = lookupOfType(ctx, src, TYPE_LIST)
  if (source === false) return
  if (source === null) {
    ctx.reply.nullBulk()
    return
  }
  moveOne(ctx, src, source, keyOf(argv[2] as Buffer), from, to)
}

const lmove: Handler = (ctx, argv) => {
  const from = sideOrReply(ctx, argv[3] as Buffer)
  if (from === null) return
  const to = sideOrReply(ctx, argv[4] as Buffer)
  if (to === null) return
  lmoveGeneric(ctx, argv, from, to)
}

const rpoplpush: Handler = (ctx, argv) => lmoveGeneric(ctx, argv, 'right', 'left')

/** Pop `count` from a non-empty list and reply [key, [items]] (LMPOP, BLMPOP). */
function popRangeWithKey(ctx: CommandContext, key: string, entry: Entry, count: number,
  side: Side): void {
  const items = pop(ctx, ctx.client.db, key, entry, count, side)
  notifyPopped(ctx, ctx.client.db, key, side)
  ctx.reply.arrayHeader(2)
  bulkLatin1(ctx.reply, key)
  ctx.reply.arrayHeader(items.length)
  for (const item of items) ctx.reply.bulk(item)
}

interface MpopArgs { keys: string[]; side: Side; count: number }

/** lmpopGenericCommand's parsing from argv[numkeysIndex]; null after an error. */
function mpopArgsOrReply(ctx: CommandContext, argv: Buffer[],
  numkeysIndex: number): MpopArgs | null {
  const numkeys = rangeLongOrReply(ctx, argv[numkeysIndex] as Buffer, 1n, LONG_MAX,
    'numkeys should be greater than 0')
  if (numkeys === null) return null
  const whereIndex = numkeysIndex + numkeys + 1
  if (whereIndex >= argv.length) {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
  const side = sideOrReply(ctx, argv[whereIndex] as Buffer)
  if (side === null) return null
  let count = -1
  for (let j = whereIndex + 1; j < argv.length; j++) {
    const more = argv.length - 1 - j
    if (count === -1 && optionName(argv[j] as Buffer) === 'count' && more > 0) {
      j++
      const c = rangeLongOrReply(ctx, argv[j] as Buffer, 1n, LONG_MAX,
        'count should be greater than 0')
      if (c === null) return null
      count = c
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  const keys = argv.slice(numkeysIndex + 1, whereIndex).map((k) => keyOf(k))
  return { keys, side, count: count === -1 ? 1 : count }
}

/** Key positions of LMPOP-style commands (numkeys at `index`). */
export function numkeysKeys(index: number): (argv: readonly Buffer[]) => number[] {
  return (argv) => {
    const n = Number((argv[index] as Buffer).toString('latin1'))
    const out: number[] = []
    if (!Number.isInteger(n) || n < 1) return out
    for (let i = 0; i < n && index + 1 + i < argv.length; i++) out.push(index + 1 + i)
    return out
  }
}

const lmpop: Handler = (ctx, argv) => {
  const args = mpopArgsOrReply(ctx, argv, 1)
  if (args === null) return
  for (const key of args.keys) {
    const entry = lookupOfType(ctx, key, TYPE_LIST)
    if (entry === false) return
    if (entry === null) continue
    popRangeWithKey(ctx, key, entry, args.count, args.side)
    return
  }
  ctx.reply.nullArray()
}

// ---------------------------------------------------------------------------------------------
// Blocking variants

/** The live list at `key` for a blocked client being served: null when not a non-empty list. */
function servableList(ctx: CommandContext, key: string): Entry | null {
  const entry = lookupKey(ctx, key)
  return entry !== undefined && entry.type === TYPE_LIST && (entry.value as List).length > 0
    ? entry : null
}

/**
 * BLPOP/BRPOP (count -1: reply [key, item]) and BLMPOP (count ≥ 1: reply [key, [items]]):
 * blockingPopGenericCommand.
 */
function blockingPop(ctx: CommandContext, keys: string[], side: Side, timeoutMs: number,
  count: number): void {
  const serveKey = (c: CommandContext, key: string, entry: Entry): void => {
    if (count !== -1) {
      popRangeWithKey(c, key, entry, count, side)
      return
    }
    const [item] = pop(c, c.client.db, key, entry, 1, side)
    notifyPopped(c, c.client.db, key, side)
    c.reply.arrayHeader(2)
    bulkLatin1(c.reply, key)
    c.reply.bulk(item as Buffer)
  }
  for (const key of keys) {
    const entry = lookupOfType(ctx, key, TYPE_LIST)
    if (entry === false) return
    if (entry === null) continue
    serveKey(ctx, key, entry)
    return
  }
  if (ctx.block === undefined) {
    ctx.reply.nullArray()
    return
  }
  ctx.block(keys, timeoutMs, (c, key) => {
    const entry = servableList(c, key)
    if (entry === null) return false
    serveKey(c, key, entry)
    return true
  }, (reply) => reply.nullArray())
}

function bpopGeneric(side: Side): Handler {
  return (ctx, argv) => {
    const timeout = timeoutOrReply(ctx, argv[argv.length - 1] as Buffer)
    if (timeout === null) return
    const keys = argv.slice(1, -1).map((k) => keyOf(k))
    blockingPop(ctx, keys, side, timeout, -1)
  }
}

const blmpop: Handler = (ctx, argv) => {
  const timeout = timeoutOrReply(ctx, argv[1] as Buffer)
  if (timeout === null) return
  const args = mpopArgsOrReply(ctx, argv, 2)
  if (args === null) return
  blockingPop(ctx, args.keys, args.side, timeout, args.count)
}

function blmoveGeneric(ctx: CommandContext, argv: Buffer[], from: Side, to: Side,
  timeoutMs: number): void {
  const src = keyOf(argv[1] as Buffer)
  const dst = keyOf(argv[2] as Buffer)
  const source = lookupOfType(ctx, src, TYPE_LIST)
  if (source === false) return
  if (source !== null) {
    moveOne(ctx, src, source, dst, from, to)
    return
  }
  if (ctx.block === undefined) {
    ctx.reply.nullBulk()
    return
  }
  ctx.block([src], timeoutMs, (c, key) => {
    const entry = servableList(c, key)
    if (entry === null) return false
    moveOne(c, key, entry, dst, from, to)
    return true
  }, (reply) => reply.nullArray())
}

const blmove: Handler = (ctx, argv) => {
  const from = sideOrReply(ctx, argv[3] as Buffer)
  if (from === null) return
  const to = sideOrReply(ctx, argv[4] as Buffer)
  if (to === null) return
  const timeout = timeoutOrReply(ctx, argv[5] as Buffer)
  if (timeout === null) return
  blmoveGeneric(ctx, argv, from, to, timeout)
}

const brpoplpush: Handler = (ctx, argv) => {
  const timeout = timeoutOrReply(ctx, argv[3] as Buffer)
  if (timeout === null) return
  blmoveGeneric(ctx, argv, 'right', 'left', timeout)
}

const W = ['write', 'list']
const R = ['read', 'list']

export const listCommands: CommandSpec[] = [
  commandSpec('lpush', -3, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    pushGeneric('left', false)),
  commandSpec('rpush', -3, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    pushGeneric('right', false)),
  commandSpec('lpushx', -3, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    pushGeneric('left', true)),
  commandSpec('rpushx', -3, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    pushGeneric('right', true)),
  commandSpec('lpop', -2, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], popGeneric('left')),
  commandSpec('rpop', -2, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], popGeneric('right')),
  commandSpec('llen', 2, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], llen),
  commandSpec('lrange', 4, ['readonly'], 1, 1, 1, [...R, 'slow'], lrange),
  commandSpec('lindex', 3, ['readonly'], 1, 1, 1, [...R, 'slow'], lindex),
  commandSpec('lset', 4, ['write', 'denyoom'], 1, 1, 1, [...W, 'slow'], lset),
  commandSpec('linsert', 5, ['write', 'denyoom'], 1, 1, 1, [...W, 'slow'], linsert),
  commandSpec('lrem', 4, ['write'], 1, 1, 1, [...W, 'slow'], lrem),
  commandSpec('ltrim', 4, ['write'], 1, 1, 1, [...W, 'slow'], ltrim),
  commandSpec('lpos', -3, ['readonly'], 1, 1, 1, [...R, 'slow'], lpos),
  commandSpec('lmove', 5, ['write', 'denyoom'], 1, 2, 1, [...W, 'slow'], lmove),
  commandSpec('rpoplpush', 3, ['write', 'denyoom'], 1, 2, 1, [...W, 'slow'], rpoplpush),
  commandSpec('lmpop', -4, ['write', 'movablekeys'], 0, 0, 0, [...W, 'slow'], lmpop,
    { keys: numkeysKeys(1) }),
  commandSpec('blpop', -3, ['write', 'noscript', 'blocking'], 1, -2, 1,
    [...W, 'slow', 'blocking'], bpopGeneric('left')),
  commandSpec('brpop', -3, ['write', 'noscript', 'blocking'], 1, -2, 1,
    [...W, 'slow', 'blocking'], bpopGeneric('right')),
  commandSpec('blmove', 6, ['write', 'denyoom', 'noscript', 'blocking'], 1, 2, 1,
    [...W, 'slow', 'blocking'], blmove),
  commandSpec('brpoplpush', 4, ['write', 'denyoom', 'noscript', 'blocking'], 1, 2, 1,
    [...W, 'slow', 'blocking'], brpoplpush),
  commandSpec('blmpop', -5, ['write', 'blocking', 'movablekeys'], 0, 0, 0,
    [...W, 'slow', 'blocking'], blmpop, { keys: numkeysKeys(2) }),
]
