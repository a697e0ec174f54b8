// Hash commands (Redis 7.0.15 t_hash.c): HSET HSETNX HGET HMGET HMSET HDEL HLEN HSTRLEN HEXISTS
// HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN. Handlers validate in Redis's order,
// then log hash events (state/hash-events.ts) whose values are the results (HINCRBY logs the
// new number as HSET: DESIGN rule 1), then reply. HGETALL answers a map (RESP3 %, RESP2 a flat
// array); HRANDFIELD WITHVALUES answers pairs in RESP3 and a flat array in RESP2.
// HINCRBYFLOAT computes in x87 long double as Redis does (long-double.ts), so "0.1" three times
// gives "0.3" exactly as Redis prints it.
// Random picks (HRANDFIELD) read randomness here, never inside an event: they change nothing.

import { hdelEv, hsetEv } from '../state/hash-events.js'
import { TYPE_HASH, type Entry } from '../state/keyspace.js'
import {
  LONG_MAX, bulkLatin1, lookupOfType, rangeLongOrReply, scanCursorOrReply,
  scanOptionsOrReply, scanStep, withinHalfLong,
} from './coll-util.js'
import { hashIsListpack, noteHashWrite } from './encoding.js'
import { commandSpec } from './list.js'
import {
  addLongDouble, formatHuman, longDoubleFromInt, parseLongDouble, type LongDouble,
} from './long-double.js'
import {
  NOTIFY_HASH, NOTIFY_NEW, notifyIfDeleted, notifyKeyspaceEvent, notifyNew, notifying,
} from './notify.js'
import { INT64_MAX, INT64_MIN, optionName, parseInt64 } from './numeric.js'
import { distinctRandom, randomHashField } from './random.js'
import { ERR_SYNTAX, keyOf, type CommandContext, type CommandSpec, type Handler } from './spec.js'

type Hash = Map<string, Buffer>

/** Set fields, then Redis's notifications: `new` when the hash is created, then `event`. */
function hset(ctx: CommandContext, key: string, fields: [string, Buffer][], event = 'hset'): void {
  const db = ctx.client.db
  const created = notifying(ctx, NOTIFY_NEW) && ctx.keyspace.get(db, key) === undefined
  ctx.txn.apply(hsetEv(db, key, fields))
  const entry = ctx.keyspace.get(db, key)
  if (entry !== undefined && entry.type === TYPE_HASH) noteHashWrite(entry.value as Hash, fields)
  if (created) notifyNew(ctx, key, db)
  notifyKeyspaceEvent(ctx, NOTIFY_HASH, event, key, db)
}

function hashOf(entry: Entry | null): Hash | null {
  return entry === null ? null : entry.value as Hash
}

function hsetGeneric(replyOk: boolean): Handler {
  return (ctx, argv) => {
    if (argv.length % 2 === 1) {
      ctx.reply.error(`ERR wrong number of arguments for '${replyOk ? 'hmset' : 'hset'}' command`)
      return
    }
    const key = keyOf(argv[1] as Buffer)
    const entry = lookupOfType(ctx, key, TYPE_HASH)
    if (entry === false) return
    const hash = hashOf(entry)
    const fields: [string, Buffer][] = []
    const seen = new Set<string>()
    let created = 0
    for (let i = 2; i < argv.length; i += 2) {
      const field = keyOf(argv[i] as Buffer)
      if (!seen.has(field) && (hash === null || !hash.has(field))) created++
      seen.add(field)
      fields.push([field, argv[i + 1] as Buffer])
    }
    hset(ctx, key, fields)
    if (replyOk) ctx.reply.simple('OK')
    else ctx.reply.integer(created)
  }
}

const hsetnx: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_HASH)
  if (entry === false) return
  const field = keyOf(argv[2] as Buffer)
  if (entry !== null && (entry.value as Hash).has(field)) {
    ctx.reply.integer(0)
    return
  }
  hset(ctx, key, [[field, argv[3] as Buffer]])
  ctx.reply.integer(1)
}

const hget: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
  if (entry === false) return
  const value = entry === null ? undefined : (entry.value as Hash).get(keyOf(argv[2] as Buffer))
  if (value === undefined) ctx.reply.nullBulk()
  else ctx.reply.bulk(value)
}

const hmget: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
  if (entry === false) return
  const hash = hashOf(entry)
  ctx.reply.arrayHeader(argv.length - 2)
  for (let i = 2; i < argv.length; i++) {
    const value = hash === null ? undefined : hash.get(keyOf(argv[i] as Buffer))
    if (value === undefined) ctx.reply.nullBulk()
    else ctx.reply.bulk(value)
  }
}

const hdel: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_HASH)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const hash = entry.value as Hash
  const fields: string[] = []
  const seen = new Set<string>()
  for (let i = 2; i < argv.length; i++) {
    const f = keyOf(argv[i] as Buffer)
    if (hash.has(f) && !seen.has(f)) fields.push(f)
    seen.add(f)
  }
  if (fields.length > 0) {
    ctx.txn.apply(hdelEv(ctx.client.db, key, fields))
    notifyKeyspaceEvent(ctx, NOTIFY_HASH, 'hdel', key)
    notifyIfDeleted(ctx, ctx.client.db, key)
  }
  ctx.reply.integer(fields.length)
}

const hlen: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
  if (entry === false) return
  ctx.reply.integer(entry === null ? 0 : (entry.value as Hash).size)
}

const hstrlen: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
  if (entry === false) return
  const value = entry === null ? undefined : (entry.value as Hash).get(keyOf(argv[2] as Buffer))
  ctx.reply.integer(value === undefined ? 0 : value.length)
}

const hexists: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
  if (entry === false) return
  ctx.reply.integer(entry !== null && (entry.value as Hash).has(keyOf(argv[2] as Buffer)) ? 1 : 0)
}

function hgetallGeneric(keys: boolean, values: boolean): Handler {
  return (ctx, argv) => {
    const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
    if (entry === false) return
    const hash = hashOf(entry)
    const size = hash === null ? 0 : hash.size
    if (keys && values) ctx.reply.mapHeader(size)
    else ctx.reply.arrayHeader(size)
    if (hash === null) return
    for (const [f, v] of hash) {
      if (keys) bulkLatin1(ctx.reply, f)
      if (values) ctx.reply.bulk(v)
    }
  }
}

const hincrby: Handler = (ctx, argv) => {
  const incr = parseInt64(argv[3] as Buffer)
  if (incr === null) {
    ctx.reply.error('ERR value is not an integer or out of range')
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_HASH)
  if (entry === false) return
  const field = keyOf(argv[2] as Buffer)
  const current = entry === null ? undefined : (entry.value as Hash).get(field)
  let value = 0n
  if (current !== undefined) {
    const v = parseInt64(current)
    if (v === null) {
      ctx.reply.error('ERR hash value is not an integer')
      return
    }
    value = BigInt(v)
  }
  const by = BigInt(incr)
  if ((by < 0n && value < 0n && by < INT64_MIN - value) ||
    (by > 0n && value > 0n && by > INT64_MAX - value)) {
    ctx.reply.error('ERR increment or decrement would overflow')
    return
  }
  const result = value + by
  hset(ctx, key, [[field, Buffer.from(result.toString(), 'latin1')]], 'hincrby')
  const asNumber = Number(result)
  ctx.reply.integer(Number.isSafeInteger(asNumber) ? asNumber : result)
}

const hincrbyfloat: Handler = (ctx, argv) => {
  const incr = parseLongDouble(argv[3] as Buffer)
  if (incr === null) {
    ctx.reply.error('ERR value is not a valid float')
    return
  }
  if (incr.kind === 'inf') {
    ctx.reply.error('ERR value is NaN or Infinity')
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_HASH)
  if (entry === false) return
  const field = keyOf(argv[2] as Buffer)
  const current = entry === null ? undefined : (entry.value as Hash).get(field)
  let value: LongDouble = longDoubleFromInt(0n)
  if (current !== undefined) {
    const asInt = parseInt64(current)
    const v = asInt !== null ? longDoubleFromInt(BigInt(asInt)) : parseLongDouble(current)
    if (v === null) {
      ctx.reply.error('ERR hash value is not a float')
      return
    }
    value = v
  }
  const sum = addLongDouble(value, incr)
  if (sum === null || sum.kind === 'inf') {
    ctx.reply.error('ERR increment would produce NaN or Infinity')
    return
  }
  const text = Buffer.from(formatHuman(sum), 'latin1')
  hset(ctx, key, [[field, text]], 'hincrbyfloat')
  ctx.reply.bulk(text)
}

const hrandfield: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  if (argv.length >= 3) {
    // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): LLONG_MIN is refused.
    const l = rangeLongOrReply(ctx, argv[2] as Buffer, -LONG_MAX, LONG_MAX)
    if (l === null) return
    let withValues = false
    if (argv.length > 4 || (argv.length === 4 && optionName(argv[3] as Buffer) !== 'withvalues')) {
      ctx.reply.error(ERR_SYNTAX)
      return
    } else if (argv.length === 4) {
      withValues = true
      if (!withinHalfLong(argv[2] as Buffer)) {
        ctx.reply.error('ERR value is out of range')
        return
      }
    }
    randomFieldsWithCount(ctx, key, l, withValues)
    return
  }
  const entry = lookupOfType(ctx, key, TYPE_HASH)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.nullBulk()
    return
  }
  bulkLatin1(ctx.reply, randomHashField(entry.value as Hash))
}

function randomFieldsWithCount(ctx: CommandContext, key: string, l: number,
  withValues: boolean): void {
  const entry = lookupOfType(ctx, key, TYPE_HASH)
  if (entry === false) return
  if (entry === null || l === 0) {
    ctx.reply.arrayHeader(0)
    return
  }
  const hash = entry.value as Hash
  const count = Math.abs(l)
  let chosen: string[]
  if (l < 0 || count === 1) {
    chosen = []
    for (let i = 0; i < count; i++) chosen.push(randomHashField(hash))
  } else if (count >= hash.size) {
    chosen = [...hash.keys()]
  } else {
    chosen = distinctRandom(hash.size, count, () => randomHashField(hash), () => [...hash.keys()])
  }
  const proto3 = ctx.reply.proto === 3
  ctx.reply.arrayHeader(withValues && !proto3 ? chosen.length * 2 : chosen.length)
  for (const f of chosen) {
    if (withValues && proto3) ctx.reply.arrayHeader(2)
    bulkLatin1(ctx.reply, f)
    if (withValues) ctx.reply.bulk(hash.get(f) as Buffer)
  }
}

const hscan: Handler = (ctx, argv) => {
  const cursor = scanCursorOrReply(ctx, argv[2] as Buffer)
  if (cursor === null) return
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_HASH)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.arrayHeader(2)
    ctx.reply.bulk('0')
    ctx.reply.arrayHeader(0)
    return
  }
  const opts = scanOptionsOrReply(ctx, argv, 3, cursor)
  if (opts === null) return
  const hash = entry.value as Hash
  const { next, out } = scanStep(hash, () => hash.entries(), hash.size, opts,
    hashIsListpack(hash), (pair) => pair[0])
  ctx.reply.arrayHeader(2)
  ctx.reply.bulk(String(next))
  ctx.reply.arrayHeader(out.length * 2)
  for (const [f, v] of out) {
    bulkLatin1(ctx.reply, f)
    ctx.reply.bulk(v)
  }
}

const W = ['write', 'hash']
const R = ['read', 'hash']

export const hashCommands: CommandSpec[] = [
  commandSpec('hset', -4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    hsetGeneric(false)),
  commandSpec('hsetnx', 4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], hsetnx),
  commandSpec('hget', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], hget),
  commandSpec('hmget', -3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], hmget),
  commandSpec('hmset', -4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    hsetGeneric(true)),
  commandSpec('hdel', -3, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], hdel),
  commandSpec('hlen', 2, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], hlen),
  commandSpec('hstrlen', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], hstrlen),
  commandSpec('hexists', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], hexists),
  commandSpec('hkeys', 2, ['readonly'], 1, 1, 1, [...R, 'slow'], hgetallGeneric(true, false)),
  commandSpec('hvals', 2, ['readonly'], 1, 1, 1, [...R, 'slow'], hgetallGeneric(false, true)),
  commandSpec('hgetall', 2, ['readonly'], 1, 1, 1, [...R, 'slow'], hgetallGeneric(true, true)),
  commandSpec('hincrby', 4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], hincrby),
  commandSpec('hincrbyfloat', 4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'],
    hincrbyfloat),
  commandSpec('hrandfield', -2, ['readonly'], 1, 1, 1, [...R, 'slow'], hrandfield),
  commandSpec('hscan', -3, ['readonly'], 1, 1, 1, [...R, 'slow'], hscan),
]
