// Set commands (Redis 7.0.15 t_set.c): SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP
// SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN.
// Handlers validate in Redis's order, then log set events (state/set-events.ts): SPOP logs the
// members it removed (SREM), SMOVE logs SREM + SADD, the STORE forms log the whole result as a
// core RESTORE (a fresh Set, never shared) or a DEL when it is empty. Replies: SMEMBERS and the
// set algebra answer RESP3 sets (~), SPOP with a count too; SRANDMEMBER answers arrays.
// Random picks read randomness here, never inside an event.

import { delEv, restoreEv } from '../state/core-events.js'
import { TYPE_SET, type Entry } from '../state/keyspace.js'
import { saddEv, sremEv } from '../state/set-events.js'
import {
  LONG_MAX, bulkLatin1, lookupOfType, positiveLongOrReply, rangeLongOrReply, scanCursorOrReply,
  scanOptionsOrReply, scanStep,
} from './coll-util.js'
import { isIntegerMember, noteSetWrite, setIsIntset } from './encoding.js'
import { encodingLimits } from '../state/encoding-limits.js'
import { commandSpec, numkeysKeys } from './list.js'
import { asReader, lookupKey } from './lookup.js'
import {
  NOTIFY_GENERIC, NOTIFY_NEW, NOTIFY_SET, notifyIfDeleted, notifyKeyspaceEvent, notifyNew,
  notifying,
} from './notify.js'
import { optionName } from './numeric.js'
import { distinctRandom, randomSetMember } from './random.js'
import {
  ERR_SYNTAX, WRONGTYPE, keyOf, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'

type SetValue = Set<string>

/** Add members (the caller checked some are new); notifies `new` when created, then sadd. */
function sadd(ctx: CommandContext, db: number, key: string, members: string[]): void {
  const created = notifying(ctx, NOTIFY_NEW) && ctx.keyspace.get(db, key) === undefined
  ctx.txn.apply(saddEv(db, key, members))
  const entry = ctx.keyspace.get(db, key)
  if (entry !== undefined && entry.type === TYPE_SET) noteSetWrite(entry.value as SetValue, members)
  if (created) notifyNew(ctx, key, db)
  notifyKeyspaceEvent(ctx, NOTIFY_SET, 'sadd', key, db)
}

/** Remove members; notifies `event` (srem, spop), then `del` when the set was emptied. */
function srem(ctx: CommandContext, db: number, key: string, members: string[],
  event = 'srem'): void {
  ctx.txn.apply(sremEv(db, key, members))
  notifyKeyspaceEvent(ctx, NOTIFY_SET, event, key, db)
  notifyIfDeleted(ctx, db, key)
}

/**
 * Store a computed set at (db, key): RESTORE of a fresh value (Redis's setKey: `new` when
 * created, then `event`), or DEL when empty (`del` when there was a key, even an expired one,
 * as Redis's dbDelete).
 */
export function storeSet(ctx: CommandContext, db: number, key: string, members: SetValue,
  event: string): void {
  if (members.size === 0) {
    const existed = ctx.keyspace.get(db, key) !== undefined
    ctx.txn.apply(delEv(db, key))
    if (existed) notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
    return
  }
  const created = lookupKey(ctx, key, db) === undefined
  noteSetWrite(members, [...members])
  ctx.txn.apply(restoreEv(db, key, TYPE_SET, 0, members))
  if (created) notifyNew(ctx, key, db)
  notifyKeyspaceEvent(ctx, NOTIFY_SET, event, key, db)
}

/**
 * Members in the order Redis would give them where that order is knowable: an intset (every
 * member an integer, at most set-max-intset-entries) iterates in ascending numeric order; otherwise (a hashtable,
 * whose order is its own) insertion order.
 */
function inRedisOrder(members: Iterable<string>, size: number): Iterable<string> {
  if (size > encodingLimits.setMaxIntsetEntries || size < 2) return members
  const all = [...members]
  if (!all.every(isIntegerMember)) return all
  const keyed = all.map((m) => [BigInt(m), m] as const)
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return keyed.map(([, m]) => m)
}

function setReply(ctx: CommandContext, members: Iterable<string>, size: number): void {
  ctx.reply.setHeader(size)
  for (const m of inRedisOrder(members, size)) bulkLatin1(ctx.reply, m)
}

const saddCmd: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_SET)
  if (entry === false) return
  const set = entry === null ? null : entry.value as SetValue
  const members: string[] = []
  const seen = new Set<string>()
  for (let i = 2; i < argv.length; i++) {
    const m = keyOf(argv[i] as Buffer)
    if (seen.has(m) || (set !== null && set.has(m))) continue
    seen.add(m)
    members.push(m)
  }
  if (members.length > 0) sadd(ctx, ctx.client.db, key, members)
  ctx.reply.integer(members.length)
}

const sremCmd: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_SET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const set = entry.value as SetValue
  const members: string[] = []
  const seen = new Set<string>()
  for (let i = 2; i < argv.length; i++) {
    const m = keyOf(argv[i] as Buffer)
    if (seen.has(m) || !set.has(m)) continue
    seen.add(m)
    members.push(m)
  }
  if (members.length > 0) srem(ctx, ctx.client.db, key, members)
  ctx.reply.integer(members.length)
}

const scard: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_SET)
  if (entry === false) return
  ctx.reply.integer(entry === null ? 0 : (entry.value as SetValue).size)
}

const sismember: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_SET)
  if (entry === false) return
  const member = keyOf(argv[2] as Buffer)
  ctx.reply.integer(entry !== null && (entry.value as SetValue).has(member) ? 1 : 0)
}

const smismember: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_SET)
  if (entry === false) return
  const set = entry === null ? null : entry.value as SetValue
  ctx.reply.arrayHeader(argv.length - 2)
  for (let i = 2; i < argv.length; i++) {
    ctx.reply.integer(set !== null && set.has(keyOf(argv[i] as Buffer)) ? 1 : 0)
  }
}

/** `count` distinct random members (count < size). */
function distinctMembers(set: SetValue, count: number): string[] {
  return distinctRandom(set.size, count, () => randomSetMember(set), () => [...set])
}

const spop: Handler = (ctx, argv) => {
  if (argv.length > 3) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const db = ctx.client.db
  if (argv.length === 3) {
    const count = positiveLongOrReply(ctx, argv[2] as Buffer)
    if (count === null) return
    const entry = lookupOfType(ctx, key, TYPE_SET)
    if (entry === false) return
    if (entry === null || count === 0) {
      ctx.reply.setHeader(0)
      return
    }
    const set = entry.value as SetValue
    const popped = count >= set.size ? [...set] : distinctMembers(set, count)
    srem(ctx, db, key, popped, 'spop')
    setReply(ctx, popped, popped.length)
    return
  }
  const entry = lookupOfType(ctx, key, TYPE_SET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.nullBulk()
    return
  }
  const member = randomSetMember(entry.value as SetValue)
  srem(ctx, db, key, [member], 'spop')
  bulkLatin1(ctx.reply, member)
}

const srandmember: Handler = (ctx, argv) => {
  if (argv.length > 3) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const key = keyOf(argv[1] as Buffer)
  if (argv.length === 3) {
    const l = rangeLongOrReply(ctx, argv[2] as Buffer, -LONG_MAX, LONG_MAX)
    if (l === null) return
    const entry = lookupOfType(ctx, key, TYPE_SET)
    if (entry === false) return
    if (entry === null || l === 0) {
      ctx.reply.arrayHeader(0)
      return
    }
    const set = entry.value as SetValue
    const count = Math.abs(l)
    if (l < 0 || count === 1) {
      ctx.reply.arrayHeader(count)
      for (let i = 0; i < count; i++) bulkLatin1(ctx.reply, randomSetMember(set))
      return
    }
    const picked = count >= set.size ? [...inRedisOrder(set, set.size)] : distinctMembers(set, count)
    ctx.reply.arrayHeader(picked.length)
    for (const m of picked) bulkLatin1(ctx.reply, m)
    return
  }
  const entry = lookupOfType(ctx, key, TYPE_SET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.nullBulk()
    return
  }
  bulkLatin1(ctx.reply, randomSetMember(entry.value as SetValue))
}

const smove: Handler = (ctx, argv) => {
  const src = keyOf(argv[1] as Buffer)
  const dst = keyOf(argv[2] as Buffer)
  const member = keyOf(argv[3] as Buffer)
  const db = ctx.client.db
  const source = lookupKey(ctx, src)
  const dest = lookupKey(ctx, dst)
  if (source === undefined) {
    ctx.reply.integer(0)
    return
  }
  if (source.type !== TYPE_SET || (dest !== undefined && dest.type !== TYPE_SET)) {
    ctx.reply.error(WRONGTYPE)
    return
  }
  if (src === dst) {
    ctx.reply.integer((source.value as SetValue).has(member) ? 1 : 0)
    return
  }
  if (!(source.value as SetValue).has(member)) {
    ctx.reply.integer(0)
    return
  }
  srem(ctx, db, src, [member])
  // Redis notifies sadd only when the member was new to the destination.
  if (dest === undefined || !(dest.value as SetValue).has(member)) sadd(ctx, db, dst, [member])
  ctx.reply.integer(1)
}

/** The sets under `keys` (null for missing ones); false after WRONGTYPE. */
function setsOf(ctx: CommandContext, keys: string[]): (SetValue | null)[] | false {
  const out: (SetValue | null)[] = []
  for (const key of keys) {
    const entry: Entry | undefined = lookupKey(ctx, key)
    if (entry === undefined) {
      out.push(null)
      continue
    }
    if (entry.type !== TYPE_SET) {
      ctx.reply.error(WRONGTYPE)
      return false
    }
    out.push(entry.value as SetValue)
  }
  return out
}

/** The intersection, smallest set first (as Redis); stops at `limit` members when > 0. */
function intersect(sets: SetValue[], limit = 0): SetValue {
  const sorted = [...sets].sort((a, b) => a.size - b.size)
  const out = new Set<string>()
  const [first, ...rest] = sorted
  if (first === undefined) return out
  for (const m of first) {
    if (rest.every((s) => s.has(m))) {
      out.add(m)
      if (limit > 0 && out.size >= limit) break
    }
  }
  return out
}

function unionOrDiff(sets: (SetValue | null)[], diff: boolean): SetValue {
  const out = new Set<string>()
  if (!diff) {
    for (const s of sets) if (s !== null) for (const m of s) out.add(m)
    return out
  }
  const [first, ...rest] = sets
  if (first === null || first === undefined) return out
  for (const m of first) if (!rest.some((s) => s !== null && s.has(m))) out.add(m)
  return out
}

type SetOp = 'inter' | 'union' | 'diff'

function setOpGeneric(op: SetOp, store: boolean): Handler {
  return (ctx, argv) => {
    const first = store ? 2 : 1
    const keys = argv.slice(first).map((k) => keyOf(k))
    const sets = setsOf(store ? asReader(ctx) : ctx, keys) // sources: lookupKeyRead
    if (sets === false) return
    let result: SetValue
    if (op === 'inter') {
      result = sets.some((s) => s === null) ? new Set() : intersect(sets as SetValue[])
    } else {
      result = unionOrDiff(sets, op === 'diff')
    }
    if (store) {
      storeSet(ctx, ctx.client.db, keyOf(argv[1] as Buffer), result, `s${op}store`)
      ctx.reply.integer(result.size)
      return
    }
    setReply(ctx, result, result.size)
  }
}

const sintercard: Handler = (ctx, argv) => {
  const numkeys = rangeLongOrReply(ctx, argv[1] as Buffer, 1n, LONG_MAX,
    'numkeys should be greater than 0')
  if (numkeys === null) return
  if (numkeys > argv.length - 2) {
    ctx.reply.error("ERR Number of keys can't be greater than number of args")
    return
  }
  let limit = 0
  for (let j = 2 + numkeys; j < argv.length; j++) {
    const more = argv.length - 1 - j
    if (optionName(argv[j] as Buffer) === 'limit' && more > 0) {
      j++
      const l = positiveLongOrReply(ctx, argv[j] as Buffer, "LIMIT can't be negative")
      if (l === null) return
      limit = l
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  const sets = setsOf(ctx, argv.slice(2, 2 + numkeys).map((k) => keyOf(k)))
  if (sets === false) return
  if (sets.some((s) => s === null)) {
    ctx.reply.integer(0)
    return
  }
  ctx.reply.integer(intersect(sets as SetValue[], limit).size)
}

const sscan: Handler = (ctx, argv) => {
  const cursor = scanCursorOrReply(ctx, argv[2] as Buffer)
  if (cursor === null) return
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_SET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.arrayHeader(2)
    ctx.reply.bulk('0')
    ctx.reply.arrayHeader(0)
    return
  }
  const opts = scanOptionsOrReply(ctx, argv, 3, cursor)
  if (opts === null) return
  const set = entry.value as SetValue
  const intset = setIsIntset(set)
  const members = (): Iterator<string> =>
    (intset ? inRedisOrder(set, set.size) : set)[Symbol.iterator]()
  const { next, out } = scanStep(set, members, set.size, opts, intset, (m) => m)
  ctx.reply.arrayHeader(2)
  ctx.reply.bulk(String(next))
  ctx.reply.arrayHeader(out.length)
  for (const m of out) bulkLatin1(ctx.reply, m)
}

const smembers: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_SET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.setHeader(0)
    return
  }
  const set = entry.value as SetValue
  setReply(ctx, set, set.size)
}

const W = ['write', 'set']
const R = ['read', 'set']

export const setCommands: CommandSpec[] = [
  commandSpec('sadd', -3, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], saddCmd),
  commandSpec('srem', -3, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], sremCmd),
  commandSpec('scard', 2, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], scard),
  commandSpec('sismember', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], sismember),
  commandSpec('smismember', -3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], smismember),
  commandSpec('smembers', 2, ['readonly'], 1, 1, 1, [...R, 'slow'], smembers),
  commandSpec('spop', -2, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], spop),
  commandSpec('srandmember', -2, ['readonly'], 1, 1, 1, [...R, 'slow'], srandmember),
  commandSpec('smove', 4, ['write', 'fast'], 1, 2, 1, [...W, 'fast'], smove),
  commandSpec('sinter', -2, ['readonly'], 1, -1, 1, [...R, 'slow'], setOpGeneric('inter', false)),
  commandSpec('sintercard', -3, ['readonly', 'movablekeys'], 0, 0, 0, [...R, 'slow'], sintercard,
    { keys: numkeysKeys(1) }),
  commandSpec('sunion', -2, ['readonly'], 1, -1, 1, [...R, 'slow'], setOpGeneric('union', false)),
  commandSpec('sdiff', -2, ['readonly'], 1, -1, 1, [...R, 'slow'], setOpGeneric('diff', false)),
  commandSpec('sinterstore', -3, ['write', 'denyoom'], 1, -1, 1, [...W, 'slow'],
    setOpGeneric('inter', true)),
  commandSpec('sunionstore', -3, ['write', 'denyoom'], 1, -1, 1, [...W, 'slow'],
    setOpGeneric('union', true)),
  commandSpec('sdiffstore', -3, ['write', 'denyoom'], 1, -1, 1, [...W, 'slow'],
    setOpGeneric('diff', true)),
  commandSpec('sscan', -3, ['readonly'], 1, 1, 1, [...R, 'slow'], sscan),
]
