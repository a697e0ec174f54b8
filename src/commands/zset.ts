// Sorted-set commands (Redis 7.0.15 t_zset.c): ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK
// ZREVRANK ZCOUNT ZLEXCOUNT ZRANGE ZRANGESTORE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE
// ZRANGEBYLEX ZREVRANGEBYLEX ZPOPMIN ZPOPMAX BZPOPMIN BZPOPMAX ZMPOP BZMPOP ZRANDMEMBER ZUNION
// ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZREMRANGEBYRANK ZREMRANGEBYSCORE
// ZREMRANGEBYLEX ZSCAN.
// Handlers validate in Redis's order, then log zset events (state/zset-events.ts) with absolute
// scores (ZINCRBY logs the result) and the members actually removed (pops, ZREMRANGEBY*), or a
// whole fresh value (core RESTORE) for the STORE forms; then reply. Scores are doubles: RESP3 ','
// and RESP2 a bulk in %.17g (ReplySink.double). WITHSCORES replies are flat in RESP2 and
// [member, score] pairs in RESP3, as Redis 7.0. Ranges: rank (negative indexes), score
// ('(' exclusive, inf/-inf, strtod syntax), lex ('[' '(' '-' '+').
// Blocking pops park through ctx.block (txn/blocking.ts); inside MULTI they answer null.

import { delEv, restoreEv } from '../state/core-events.js'
import { TYPE_SET, TYPE_ZSET, type Entry } from '../state/keyspace.js'
import {
  ZSet, lexGteMin, lexRangeEmpty, lexLteMax,
  scoreGteMin, scoreLteMax, type LexRange, type ScoreRange, type ZNode,
} from '../state/zset.js'
import { zaddEv, zremEv } from '../state/zset-events.js'
import {
  LONG_MAX, doubleOrReply, longOrReply, lookupOfType, parseDouble, parseScoreBound,
  positiveLongOrReply, rangeLongOrReply, scanCursorOrReply, scanOptionsOrReply, scanStep,
  timeoutOrReply, withinHalfLong,
} from './coll-util.js'
import { zsetIsListpack } from './encoding.js'
import { encodingLimits } from '../state/encoding-limits.js'
import { commandSpec, numkeysKeys } from './list.js'
import { asReader, lookupKey } from './lookup.js'
import {
  NOTIFY_GENERIC, NOTIFY_ZSET, notifyIfDeleted, notifyKeyspaceEvent, notifyNew,
} from './notify.js'
import { optionName } from './numeric.js'
import { randomIndex } from './random.js'
import {
  ERR_SYNTAX, WRONGTYPE, keyOf, type CommandContext, type CommandSpec, type Handler,
  type ReplySink,
} from './spec.js'
import { formatDouble } from '../resp/writer.js'

const ERR_SCORE_RANGE = 'ERR min or max is not a float'
const ERR_LEX_RANGE = 'ERR min or max not valid string range item'

function zadd(ctx: CommandContext, db: number, key: string, entries: [number, string][]): void {
  if (entries.length === 0) return
  ctx.txn.apply(zaddEv(db, key, entries))
}

/** Remove members; notifies `event` (zrem, zpopmin…), then `del` when the set was emptied. */
function zrem(ctx: CommandContext, db: number, key: string, members: string[],
  event: string): void {
  if (members.length === 0) return
  ctx.txn.apply(zremEv(db, key, members))
  notifyKeyspaceEvent(ctx, NOTIFY_ZSET, event, key, db)
  notifyIfDeleted(ctx, db, key)
}

/**
 * Store a computed sorted set at (db, key): RESTORE of a fresh value (Redis's setKey: `new` when
 * created, then `event`), or DEL when empty (`del` when there was a key, even an expired one).
 */
export function storeZSet(ctx: CommandContext, db: number, key: string, z: ZSet, event: string): void {
  if (z.length === 0) {
    const existed = ctx.keyspace.get(db, key) !== undefined
    ctx.txn.apply(delEv(db, key))
    if (existed) notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
    return
  }
  const created = lookupKey(ctx, key, db) === undefined
  // A STORE result is built afresh: Redis converts it back to listpack when small enough,
  // and a listpack keeps integral scores as integers (-0 becomes 0).
  z.everBig = false
  for (const m of z.map.keys()) z.noteSize(m)
  if (!z.everBig) {
    for (const [m, s] of [...z]) {
      if (Object.is(s, -0)) {
        z.delete(m)
        z.add(m, 0)
      }
    }
  }
  ctx.txn.apply(restoreEv(db, key, TYPE_ZSET, 0, z))
  if (created) notifyNew(ctx, key, db)
  notifyKeyspaceEvent(ctx, NOTIFY_ZSET, event, key, db)
}

function member(reply: ReplySink, m: string): void {
  reply.bulk(Buffer.from(m, 'latin1'))
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY

const NAN_ERROR = 'ERR resulting score is not a number (NaN)'

interface ZaddArgs {
  nx: boolean; xx: boolean; gt: boolean; lt: boolean; ch: boolean; incr: boolean
  /** argv index of the first score. */
  scoreIdx: number
  scores: number[]
}

/** zaddGenericCommand's parsing and checks, in Redis's order; null after the error. */
function zaddArgsOrReply(ctx: CommandContext, argv: Buffer[], incr: boolean): ZaddArgs | null {
  const a: ZaddArgs = { nx: false, xx: false, gt: false, lt: false, ch: false, incr, scoreIdx: 2,
    scores: [] }
  for (; a.scoreIdx < argv.length; a.scoreIdx++) {
    const opt = optionName(argv[a.scoreIdx] as Buffer)
    if (opt === 'nx' || opt === 'xx' || opt === 'ch' || opt === 'incr' || opt === 'gt' ||
      opt === 'lt') a[opt] = true
    else break
  }
  const pairsArgs = argv.length - a.scoreIdx
  if (pairsArgs % 2 !== 0 || pairsArgs === 0) {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
  const elements = pairsArgs / 2
  let error: string | null = null
  if (a.nx && a.xx) error = 'ERR XX and NX options at the same time are not compatible'
  else if ((a.gt && a.nx) || (a.lt && a.nx) || (a.gt && a.lt)) {
    error = 'ERR GT, LT, and/or NX options at the same time are not compatible'
  } else if (a.incr && elements > 1) {
    error = 'ERR INCR option supports a single increment-element pair'
  }
  if (error !== null) {
    ctx.reply.error(error)
    return null
  }
  for (let j = 0; j < elements; j++) {
    const s = doubleOrReply(ctx, argv[a.scoreIdx + j * 2] as Buffer)
    if (s === null) return null
    a.scores.push(s)
  }
  return a
}

interface ZaddOutcome { added: number; updated: number; processed: number; lastScore: number }

/**
 * zsetAdd for every pair, on a copy of the scores (later pairs see earlier ones): logs one ZADD
 * event of the resulting absolute scores. null after a NaN result (nothing applied).
 */
function zaddApply(ctx: CommandContext, argv: Buffer[], a: ZaddArgs, key: string,
  z: ZSet | null): ZaddOutcome | null {
  const out: ZaddOutcome = { added: 0, updated: 0, processed: 0, lastScore: 0 }
  const pending = new Map<string, number>()
  const current = (m: string): number | undefined =>
    pending.has(m) ? pending.get(m) : z === null ? undefined : z.score(m)
  const writes: [number, string][] = []
  // Listpack-encoded sets store an integral score as an integer, so -0 comes back as 0 there
  // (zzlInsertAt's double2ll); follow the encoding Redis would have while adding.
  const firstMember = argv[a.scoreIdx + 1] as Buffer
  const limits = encodingLimits
  let listpack = z === null
    ? limits.zsetMaxListpackEntries > 0 && firstMember.length <= limits.zsetMaxListpackValue
    : zsetIsListpack(z)
  let size = z === null ? 0 : z.length
  const write = (m: string, score: number): void => {
    const stored = listpack && Object.is(score, -0) ? 0 : score
    pending.set(m, stored)
    writes.push([stored, m])
  }
  for (let j = 0; j < a.scores.length; j++) {
    let score = a.scores[j] as number
    const m = keyOf(argv[a.scoreIdx + 1 + j * 2] as Buffer)
    const cur = current(m)
    if (cur !== undefined) {
      if (a.nx) continue
      if (a.incr) score += cur
      if (Number.isNaN(score)) {
        ctx.reply.error(NAN_ERROR)
        return null
      }
      if ((a.lt && score >= cur) || (a.gt && score <= cur)) continue
      out.lastScore = score
      out.processed++
      if (score !== cur) {
        out.updated++
        write(m, score)
      }
    } else if (!a.xx) {
      if (size + 1 > limits.zsetMaxListpackEntries || m.length > limits.zsetMaxListpackValue) {
        listpack = false
      }
      size++
      out.added++
      out.processed++
      out.lastScore = score
      write(m, score)
    }
  }
  const db = ctx.client.db
  // Redis creates the key (dbAdd: `new`) before adding, then notifies zadd or zincr.
  if (z === null) notifyNew(ctx, key, db)
  zadd(ctx, db, key, writes)
  if (out.added + out.updated > 0) {
    notifyKeyspaceEvent(ctx, NOTIFY_ZSET, a.incr ? 'zincr' : 'zadd', key, db)
  }
  return out
}

function zaddGeneric(ctx: CommandContext, argv: Buffer[], incrFlag: boolean): void {
  const a = zaddArgsOrReply(ctx, argv, incrFlag)
  if (a === null) return
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_ZSET)
  if (entry === false) return
  let out: ZaddOutcome | null = { added: 0, updated: 0, processed: 0, lastScore: 0 }
  if (entry !== null || !a.xx) {
    out = zaddApply(ctx, argv, a, key, entry === null ? null : entry.value as ZSet)
    if (out === null) return
  }
  if (a.incr) {
    if (out.processed > 0) ctx.reply.double(out.lastScore)
    else ctx.reply.nullBulk()
  } else {
    ctx.reply.integer(a.ch ? out.added + out.updated : out.added)
  }
}

const zaddCmd: Handler = (ctx, argv) => zaddGeneric(ctx, argv, false)
const zincrby: Handler = (ctx, argv) => zaddGeneric(ctx, argv, true)

const zremCmd: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupOfType(ctx, key, TYPE_ZSET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const z = entry.value as ZSet
  const members: string[] = []
  const seen = new Set<string>()
  for (let i = 2; i < argv.length; i++) {
    const m = keyOf(argv[i] as Buffer)
    if (seen.has(m) || !z.has(m)) continue
    seen.add(m)
    members.push(m)
  }
  zrem(ctx, ctx.client.db, key, members, 'zrem')
  ctx.reply.integer(members.length)
}

const zcard: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
  if (entry === false) return
  ctx.reply.integer(entry === null ? 0 : (entry.value as ZSet).length)
}

const zscore: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
  if (entry === false) return
  const s = entry === null ? undefined : (entry.value as ZSet).score(keyOf(argv[2] as Buffer))
  if (s === undefined) ctx.reply.nullBulk()
  else ctx.reply.double(s)
}

const zmscore: Handler = (ctx, argv) => {
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
  if (entry === false) return
  const z = entry === null ? null : entry.value as ZSet
  ctx.reply.arrayHeader(argv.length - 2)
  for (let i = 2; i < argv.length; i++) {
    const s = z === null ? undefined : z.score(keyOf(argv[i] as Buffer))
    if (s === undefined) ctx.reply.nullBulk()
    else ctx.reply.double(s)
  }
}

function zrankGeneric(reverse: boolean): Handler {
  return (ctx, argv) => {
    const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
    if (entry === false) return
    if (entry === null) {
      ctx.reply.nullBulk()
      return
    }
    const z = entry.value as ZSet
    const r = z.rank(keyOf(argv[2] as Buffer))
    if (r < 0) ctx.reply.nullBulk()
    else ctx.reply.integer(reverse ? z.length - 1 - r : r)
  }
}

// ---------------------------------------------------------------------------------------------
// ranges

function parseScoreRange(min: Buffer, max: Buffer): ScoreRange | null {
  const a = parseScoreBound(min)
  const b = parseScoreBound(max)
  if (a === null || b === null) return null
  return { min: a.value, minex: a.exclusive, max: b.value, maxex: b.exclusive }
}

/** zslParseLexRangeItem for one bound; `isMin` picks which infinity '+'/'-' mean. */
interface LexItem { s: string | null; ex: boolean; inf: '+' | '-' | null }

function parseLexItem(arg: Buffer): LexItem | null {
  if (arg.length === 0) return null
  const c = arg[0] as number
  if (c === 43 || c === 45) { // '+' '-'
    if (arg.length > 1 && arg[1] !== 0) return null
    return { s: null, ex: true, inf: c === 43 ? '+' : '-' }
  }
  if (c === 40 || c === 91) { // '(' '['
    return { s: arg.subarray(1).toString('latin1'), ex: c === 40, inf: null }
  }
  return null
}

function parseLexRange(min: Buffer, max: Buffer): LexRange | null {
  const a = parseLexItem(min)
  const b = parseLexItem(max)
  if (a === null || b === null) return null
  return {
    min: a.s, minex: a.ex, max: b.s, maxex: b.ex,
    minPlusInf: a.inf === '+', maxMinusInf: b.inf === '-',
  }
}

/** Where range results go: a client reply, or a new sorted set (ZRANGESTORE). */
interface RangeSink {
  begin(length: number): void
  emit(m: string, score: number): void
  end(count: number): void
}

function clientSink(ctx: CommandContext, withScores: boolean): RangeSink {
  const r = ctx.reply
  const nested = withScores && r.proto === 3
  let buffered: [string, number][] | null = null
  const write = (m: string, s: number): void => {
    if (nested) r.arrayHeader(2)
    member(r, m)
    if (withScores) r.double(s)
  }
  return {
    begin(length) {
      if (length > 0) r.arrayHeader(withScores && r.proto === 2 ? length * 2 : length)
      else buffered = []
    },
    emit(m, s) {
      if (buffered !== null) buffered.push([m, s])
      else write(m, s)
    },
    end() {
      if (buffered === null) return
      r.arrayHeader(withScores && r.proto === 2 ? buffered.length * 2 : buffered.length)
      for (const [m, s] of buffered) write(m, s)
    },
  }
}

function storeSink(ctx: CommandContext, dst: string): RangeSink {
  const z = new ZSet()
  return {
    begin() {},
    emit(m, s) { z.add(m, s) },
    end() {
      storeZSet(ctx, ctx.client.db, dst, z, 'zrangestore')
      ctx.reply.integer(z.length)
    },
  }
}

function rangeByRank(out: RangeSink, z: ZSet, start0: number, end0: number,
  reverse: boolean): void {
  const llen = z.length
  let start = start0 < 0 ? llen + start0 : start0
  let end = end0 < 0 ? llen + end0 : end0
  if (start < 0) start = 0
  if (start > end || start >= llen) {
    out.begin(0)
    out.end(0)
    return
  }
  if (end >= llen) end = llen - 1
  const n = end - start + 1
  out.begin(n)
  let node = reverse ? z.byRank(llen - 1 - start) : z.byRank(start)
  for (let i = 0; i < n && node !== null; i++) {
    out.emit(node.member, node.score)
    node = reverse ? node.prev : node.next[0] as ZNode | null
  }
  out.end(n)
}

/** Skip `offset` nodes (a negative offset walks off the end, as Redis's `while (offset--)`). */
function skip(node: ZNode | null, offset: number, reverse: boolean): ZNode | null {
  if (offset < 0) return null
  let n = node
  for (let i = 0; i < offset && n !== null; i++) n = reverse ? n.prev : n.next[0] as ZNode | null
  return n
}

function rangeByScore(out: RangeSink, z: ZSet, range: ScoreRange, offset: number, limit: number,
  reverse: boolean): void {
  out.begin(0)
  if (offset > 0 && offset >= z.length) {
    out.end(0)
    return
  }
  let node = skip(reverse ? z.lastInScoreRange(range) : z.firstInScoreRange(range), offset, reverse)
  let count = 0
  while (node !== null && (limit < 0 || count < limit)) {
    if (reverse ? !scoreGteMin(node.score, range) : !scoreLteMax(node.score, range)) break
    out.emit(node.member, node.score)
    count++
    node = reverse ? node.prev : node.next[0] as ZNode | null
  }
  out.end(count)
}

/**
 * The first (or last) node in a lex range. Lex ranges assume equal scores; when they are not,
 * Redis's answer depends on the encoding: a listpack is scanned linearly from its head (tail)
 * to the first member >= min (<= max), and that member must also be <= max (>= min). We answer
 * as the listpack does whenever Redis would hold a listpack, and with the skiplist search
 * otherwise (where Redis's own answer depends on its random node levels).
 */
function lexEdge(z: ZSet, range: LexRange, last: boolean): ZNode | null {
  if (!zsetIsListpack(z)) return last ? z.lastInLexRange(range) : z.firstInLexRange(range)
  if (lexRangeEmpty(range)) return null
  const head = z.first()
  const tail = z.last()
  if (head === null || tail === null) return null
  if (!lexGteMin(tail.member, range) || !lexLteMax(head.member, range)) return null
  if (!last) {
    for (let n: ZNode | null = head; n !== null; n = n.next[0] as ZNode | null) {
      if (lexGteMin(n.member, range)) return lexLteMax(n.member, range) ? n : null
    }
  } else {
    for (let n: ZNode | null = tail; n !== null; n = n.prev) {
      if (lexLteMax(n.member, range)) return lexGteMin(n.member, range) ? n : null
    }
  }
  return null
}

function rangeByLex(out: RangeSink, z: ZSet, range: LexRange, offset: number, limit: number,
  reverse: boolean): void {
  out.begin(0)
  if (offset > 0 && offset >= z.length) {
    out.end(0)
    return
  }
  let node = skip(lexEdge(z, range, reverse), offset, reverse)
  let count = 0
  while (node !== null && (limit < 0 || count < limit)) {
    if (reverse ? !lexGteMin(node.member, range) : !lexLteMax(node.member, range)) break
    out.emit(node.member, node.score)
    count++
    node = reverse ? node.prev : node.next[0] as ZNode | null
  }
  out.end(count)
}

type RangeType = 'auto' | 'rank' | 'score' | 'lex'
type Direction = 'auto' | 'forward' | 'reverse'

/** zrangeGenericCommand: argv[argStart] is the source key; `store` = ZRANGESTORE. */
interface ZrangeOptions {
  type: 'rank' | 'score' | 'lex'
  reverse: boolean
  withScores: boolean
  offset: number
  limit: number
}

/** zrangeGenericCommand step 1: the options after <src> <min> <max>; null after an error. */
function zrangeOptionsOrReply(ctx: CommandContext, argv: Buffer[], argStart: number, store: boolean,
  type0: RangeType, dir0: Direction): ZrangeOptions | null {
  let type = type0
  let dir = dir0
  const o = { withScores: false, offset: 0, limit: -1 }
  for (let j = argStart + 3; j < argv.length; j++) {
    const left = argv.length - j - 1
    const opt = optionName(argv[j] as Buffer)
    if (!store && opt === 'withscores') {
      o.withScores = true
    } else if (opt === 'limit' && left >= 2) {
      const offset = longOrReply(ctx, argv[j + 1] as Buffer)
      if (offset === null) return null
      const limit = longOrReply(ctx, argv[j + 2] as Buffer)
      if (limit === null) return null
      o.offset = offset
      o.limit = limit
      j += 2
    } else if (dir === 'auto' && opt === 'rev') {
      dir = 'reverse'
    } else if (type === 'auto' && (opt === 'bylex' || opt === 'byscore')) {
      type = opt === 'bylex' ? 'lex' : 'score'
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  const resolved = type === 'auto' ? 'rank' : type
  if (o.limit !== -1 && resolved === 'rank') {
    ctx.reply.error('ERR syntax error, LIMIT is only supported in combination with either ' +
      'BYSCORE or BYLEX')
    return null
  }
  if (o.withScores && resolved === 'lex') {
    ctx.reply.error('ERR syntax error, WITHSCORES not supported in combination with BYLEX')
    return null
  }
  return { ...o, type: resolved, reverse: dir === 'reverse' }
}

type ParsedRange =
  | { type: 'rank'; start: number; end: number }
  | { type: 'score'; range: ScoreRange }
  | { type: 'lex'; range: LexRange }

/** zrangeGenericCommand step 2 (a reverse score/lex range is given as max, min). */
function zrangeRangeOrReply(ctx: CommandContext, argv: Buffer[], argStart: number,
  o: ZrangeOptions): ParsedRange | null {
  let min = argv[argStart + 1] as Buffer
  let max = argv[argStart + 2] as Buffer
  if (o.reverse && o.type !== 'rank') [min, max] = [max, min]
  if (o.type === 'rank') {
    const start = longOrReply(ctx, min)
    if (start === null) return null
    const end = longOrReply(ctx, max)
    if (end === null) return null
    return { type: 'rank', start, end }
  }
  if (o.type === 'score') {
    const range = parseScoreRange(min, max)
    if (range === null) ctx.reply.error(ERR_SCORE_RANGE)
    return range === null ? null : { type: 'score', range }
  }
  const range = parseLexRange(min, max)
  if (range === null) ctx.reply.error(ERR_LEX_RANGE)
  return range === null ? null : { type: 'lex', range }
}

/** zrangeGenericCommand: argv[argStart] is the source key; `store` = ZRANGESTORE. */
function zrangeGeneric(ctx: CommandContext, argv: Buffer[], argStart: number, store: boolean,
  type0: RangeType, dir0: Direction): void {
  const o = zrangeOptionsOrReply(ctx, argv, argStart, store, type0, dir0)
  if (o === null) return
  const range = zrangeRangeOrReply(ctx, argv, argStart, o)
  if (range === null) return
  const out = store ? storeSink(ctx, keyOf(argv[1] as Buffer)) : clientSink(ctx, o.withScores)
  const entry = lookupKey(asReader(ctx), keyOf(argv[argStart] as Buffer)) // lookupKeyRead
  if (entry === undefined) {
    if (store) {
      out.begin(0)
      out.end(0)
    } else {
      ctx.reply.arrayHeader(0)
    }
    return
  }
  if (entry.type !== TYPE_ZSET) {
    ctx.reply.error(WRONGTYPE)
    return
  }
  const z = entry.value as ZSet
  if (range.type === 'rank') rangeByRank(out, z, range.start, range.end, o.reverse)
  else if (range.type === 'score') rangeByScore(out, z, range.range, o.offset, o.limit, o.reverse)
  else rangeByLex(out, z, range.range, o.offset, o.limit, o.reverse)
}

function zrangeCmd(argStart: number, store: boolean, type: RangeType, dir: Direction): Handler {
  return (ctx, argv) => zrangeGeneric(ctx, argv, argStart, store, type, dir)
}

const zcount: Handler = (ctx, argv) => {
  const range = parseScoreRange(argv[2] as Buffer, argv[3] as Buffer)
  if (range === null) {
    ctx.reply.error(ERR_SCORE_RANGE)
    return
  }
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const z = entry.value as ZSet
  const first = z.firstInScoreRange(range)
  const last = z.lastInScoreRange(range)
  ctx.reply.integer(first === null || last === null ? 0 : z.rankOf(last) - z.rankOf(first) + 1)
}

const zlexcount: Handler = (ctx, argv) => {
  const range = parseLexRange(argv[2] as Buffer, argv[3] as Buffer)
  if (range === null) {
    ctx.reply.error(ERR_LEX_RANGE)
    return
  }
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.integer(0)
    return
  }
  const z = entry.value as ZSet
  if (zsetIsListpack(z)) {
    let count = 0
    for (let n = lexEdge(z, range, false); n !== null && lexLteMax(n.member, range);
      n = n.next[0] as ZNode | null) count++
    ctx.reply.integer(count)
    return
  }
  const first = z.firstInLexRange(range)
  const last = z.lastInLexRange(range)
  ctx.reply.integer(first === null || last === null ? 0 : z.rankOf(last) - z.rankOf(first) + 1)
}

function zremrangeGeneric(type: 'rank' | 'score' | 'lex'): Handler {
  return (ctx, argv) => {
    let start = 0
    let end = 0
    let scoreRange: ScoreRange | null = null
    let lexRange: LexRange | null = null
    if (type === 'rank') {
      const s = longOrReply(ctx, argv[2] as Buffer)
      if (s === null) return
      const e = longOrReply(ctx, argv[3] as Buffer)
      if (e === null) return
      start = s
      end = e
    } else if (type === 'score') {
      scoreRange = parseScoreRange(argv[2] as Buffer, argv[3] as Buffer)
      if (scoreRange === null) {
        ctx.reply.error(ERR_SCORE_RANGE)
        return
      }
    } else {
      lexRange = parseLexRange(argv[2] as Buffer, argv[3] as Buffer)
      if (lexRange === null) {
        ctx.reply.error(ERR_LEX_RANGE)
        return
      }
    }
    const key = keyOf(argv[1] as Buffer)
    const entry = lookupOfType(ctx, key, TYPE_ZSET)
    if (entry === false) return
    if (entry === null) {
      ctx.reply.integer(0)
      return
    }
    const z = entry.value as ZSet
    const removed: string[] = []
    const collect: RangeSink = { begin() {}, emit(m) { removed.push(m) }, end() {} }
    if (type === 'rank') rangeByRank(collect, z, start, end, false)
    else if (type === 'score') rangeByScore(collect, z, scoreRange as ScoreRange, 0, -1, false)
    else rangeByLex(collect, z, lexRange as LexRange, 0, -1, false)
    zrem(ctx, ctx.client.db, key, removed, `zremrangeby${type}`)
    ctx.reply.integer(removed.length)
  }
}

// ---------------------------------------------------------------------------------------------
// pops

type Where = 'min' | 'max'

/**
 * genericZpopCommand on one non-empty sorted set: pop min(count, length) members and reply in
 * one of Redis's four shapes (emitKey: BZPOP*, ZMPOP; nested: RESP3 counts, ZMPOP).
 */
function zpopReply(ctx: CommandContext, key: string, entry: Entry, where: Where, count: number,
  emitKey: boolean, nested: boolean): void {
  const z = entry.value as ZSet
  const n = Math.min(count, z.length)
  const popped: [string, number][] = []
  let node = where === 'min' ? z.first() : z.last()
  for (let i = 0; i < n && node !== null; i++) {
    popped.push([node.member, node.score])
    node = where === 'min' ? node.next[0] as ZNode | null : node.prev
  }
  const r = ctx.reply
  if (!nested && !emitKey) {
    r.arrayHeader(n * 2)
  } else if (nested && !emitKey) {
    r.arrayHeader(n)
  } else if (!nested && emitKey) {
    r.arrayHeader(n * 2 + 1)
    member(r, key)
  } else {
    r.arrayHeader(2)
    member(r, key)
    r.arrayHeader(n)
  }
  for (const [m, s] of popped) {
    if (nested) r.arrayHeader(2)
    member(r, m)
    r.double(s)
  }
  zrem(ctx, ctx.client.db, key, popped.map(([m]) => m),
    where === 'min' ? 'zpopmin' : 'zpopmax')
}

function zpopGeneric(where: Where): Handler {
  return (ctx, argv) => {
    if (argv.length > 3) {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
    let count = -1
    if (argv.length === 3) {
      const c = positiveLongOrReply(ctx, argv[2] as Buffer)
      if (c === null) return
      count = c
    }
    const nested = ctx.reply.proto === 3 && count !== -1
    const key = keyOf(argv[1] as Buffer)
    const entry = lookupOfType(ctx, key, TYPE_ZSET)
    if (entry === false) return
    if (entry === null || count === 0) {
      ctx.reply.arrayHeader(0)
      return
    }
    zpopReply(ctx, key, entry, where, count === -1 ? 1 : count, false, nested)
  }
}

interface MpopArgs { keys: string[]; where: Where; count: number }

function zmpopArgsOrReply(ctx: CommandContext, argv: Buffer[],
  numkeysIndex: number): MpopArgs | null {
  const numkeys = rangeLongOrReply(ctx, argv[numkeysIndex] as Buffer, 1n, LONG_MAX,
    'numkeys should be greater than 0')
  if (numkeys === null) return null
  const whereIndex = numkeysIndex + numkeys + 1
  if (whereIndex >= argv.length) {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
  const w = optionName(argv[whereIndex] as Buffer)
  if (w !== 'min' && w !== 'max') {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
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
  return { keys, where: w, count: count === -1 ? 1 : count }
}

/** The first existing key among `keys`: its entry, null if none, false after WRONGTYPE. */
function firstZSet(ctx: CommandContext, keys: string[]): [string, Entry] | null | false {
  for (const key of keys) {
    const entry = lookupOfType(ctx, key, TYPE_ZSET)
    if (entry === false) return false
    if (entry !== null) return [key, entry]
  }
  return null
}

const zmpop: Handler = (ctx, argv) => {
  const args = zmpopArgsOrReply(ctx, argv, 1)
  if (args === null) return
  const found = firstZSet(ctx, args.keys)
  if (found === false) return
  if (found === null) {
    ctx.reply.nullArray()
    return
  }
  zpopReply(ctx, found[0], found[1], args.where, args.count, true, true)
}

function blockingZpop(ctx: CommandContext, keys: string[], where: Where, timeoutMs: number,
  count: number, nested: boolean): void {
  const found = firstZSet(ctx, keys)
  if (found === false) return
  if (found !== null) {
    zpopReply(ctx, found[0], found[1], where, count, true, nested)
    return
  }
  if (ctx.block === undefined) {
    ctx.reply.nullArray()
    return
  }
  ctx.block(keys, timeoutMs, (c, key) => {
    const entry = lookupKey(c, key)
    if (entry === undefined || entry.type !== TYPE_ZSET) return false
    zpopReply(c, key, entry, where, count, true, nested)
    return true
  }, (reply) => reply.nullArray())
}

function bzpopGeneric(where: Where): Handler {
  return (ctx, argv) => {
    const timeout = timeoutOrReply(ctx, argv[argv.length - 1] as Buffer)
    if (timeout === null) return
    blockingZpop(ctx, argv.slice(1, -1).map((k) => keyOf(k)), where, timeout, 1, false)
  }
}

const bzmpop: Handler = (ctx, argv) => {
  const timeout = timeoutOrReply(ctx, argv[1] as Buffer)
  if (timeout === null) return
  const args = zmpopArgsOrReply(ctx, argv, 2)
  if (args === null) return
  blockingZpop(ctx, args.keys, args.where, timeout, args.count, true)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN

const zrandmember: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  if (argv.length >= 3) {
    // getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): LLONG_MIN is refused.
    const l = rangeLongOrReply(ctx, argv[2] as Buffer, -LONG_MAX, LONG_MAX)
    if (l === null) return
    let withScores = false
    if (argv.length > 4 || (argv.length === 4 && optionName(argv[3] as Buffer) !== 'withscores')) {
      ctx.reply.error(ERR_SYNTAX)
      return
    } else if (argv.length === 4) {
      withScores = true
      if (!withinHalfLong(argv[2] as Buffer)) {
        ctx.reply.error('ERR value is out of range')
        return
      }
    }
    randomMembersWithCount(ctx, key, l, withScores)
    return
  }
  const entry = lookupOfType(ctx, key, TYPE_ZSET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.nullBulk()
    return
  }
  const z = entry.value as ZSet
  member(ctx.reply, (z.byRank(randomIndex(z.length)) as ZNode).member)
}

function randomMembersWithCount(ctx: CommandContext, key: string, l: number,
  withScores: boolean): void {
  const entry = lookupOfType(ctx, key, TYPE_ZSET)
  if (entry === false) return
  if (entry === null || l === 0) {
    ctx.reply.arrayHeader(0)
    return
  }
  const z = entry.value as ZSet
  const count = Math.abs(l)
  const chosen: ZNode[] = []
  if (l < 0 || count === 1) {
    for (let i = 0; i < count; i++) chosen.push(z.byRank(randomIndex(z.length)) as ZNode)
  } else if (count >= z.length) {
    for (let n = z.first(); n !== null; n = n.next[0] as ZNode | null) chosen.push(n)
  } else {
    const ranks = Array.from({ length: z.length }, (_, i) => i)
    for (let i = 0; i < count; i++) {
      const j = i + randomIndex(ranks.length - i)
      const t = ranks[i] as number
      ranks[i] = ranks[j] as number
      ranks[j] = t
      chosen.push(z.byRank(ranks[i] as number) as ZNode)
    }
  }
  const r = ctx.reply
  const proto3 = r.proto === 3
  r.arrayHeader(withScores && !proto3 ? chosen.length * 2 : chosen.length)
  for (const n of chosen) {
    if (withScores && proto3) r.arrayHeader(2)
    member(r, n.member)
    if (withScores) r.double(n.score)
  }
}

const zscan: Handler = (ctx, argv) => {
  const cursor = scanCursorOrReply(ctx, argv[2] as Buffer)
  if (cursor === null) return
  const entry = lookupOfType(ctx, keyOf(argv[1] as Buffer), TYPE_ZSET)
  if (entry === false) return
  if (entry === null) {
    ctx.reply.arrayHeader(2)
    ctx.reply.bulk('0')
    ctx.reply.arrayHeader(0)
    return
  }
  const opts = scanOptionsOrReply(ctx, argv, 3, cursor)
  if (opts === null) return
  const z = entry.value as ZSet
  const compact = zsetIsListpack(z)
  const { next, out } = compact
    ? scanStep(z, () => z[Symbol.iterator](), z.length, opts, true, (p: [string, number]) => p[0])
    : scanStep(z.map, () => z.map.entries(), z.length, opts, false, (p: [string, number]) => p[0])
  ctx.reply.arrayHeader(2)
  ctx.reply.bulk(String(next))
  ctx.reply.arrayHeader(out.length * 2)
  for (const [m, s] of out) {
    member(ctx.reply, m)
    ctx.reply.bulk(formatDouble(s))
  }
}

// ---------------------------------------------------------------------------------------------
// ZUNION ZINTER ZDIFF (+STORE) ZINTERCARD

type Op = 'union' | 'inter' | 'diff'
type Aggregate = 'sum' | 'min' | 'max'

interface Source { z: ZSet | null; set: Set<string> | null; weight: number; size: number }

function sourceScore(src: Source, m: string): number | undefined {
  if (src.z !== null) return src.z.score(m)
  if (src.set !== null) return src.set.has(m) ? 1 : undefined
  return undefined
}

function* sourceItems(src: Source): Generator<[string, number]> {
  if (src.z !== null) yield* src.z
  else if (src.set !== null) for (const m of src.set) yield [m, 1]
}

function aggregate(target: number, value: number, how: Aggregate): number {
  if (how === 'sum') {
    const s = target + value
    return Number.isNaN(s) ? 0 : s
  }
  if (how === 'min') return value < target ? value : target
  return value > target ? value : target
}

/** The kind of a ZUNION-family call. */
interface ZopKind { dst: string | null; op: Op; cardinalityOnly: boolean; fullname: string }

/** numkeys, then the sources (sets count with score 1); null after an error or WRONGTYPE. */
function zopSourcesOrReply(ctx: CommandContext, argv: Buffer[], numkeysIndex: number,
  k: ZopKind): Source[] | null {
  const setnum = longOrReply(ctx, argv[numkeysIndex] as Buffer)
  if (setnum === null) return null
  if (setnum < 1) {
    ctx.reply.error(`ERR at least 1 input key is needed for '${k.fullname}' command`)
    return null
  }
  if (setnum > argv.length - (numkeysIndex + 1)) {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
  const srcs: Source[] = []
  for (let i = 0; i < setnum; i++) {
    const entry = lookupKey(asReader(ctx), keyOf(argv[numkeysIndex + 1 + i] as Buffer))
    if (entry === undefined) {
      srcs.push({ z: null, set: null, weight: 1, size: 0 })
    } else if (entry.type === TYPE_ZSET) {
      const z = entry.value as ZSet
      srcs.push({ z, set: null, weight: 1, size: z.length })
    } else if (entry.type === TYPE_SET) {
      const set = entry.value as Set<string>
      srcs.push({ z: null, set, weight: 1, size: set.size })
    } else {
      ctx.reply.error(WRONGTYPE)
      return null
    }
  }
  return srcs
}

interface ZopOptions { how: Aggregate; withScores: boolean; limit: number }

/** WEIGHTS / AGGREGATE / WITHSCORES / LIMIT after the keys; weights land in `srcs`. */
function zopOptionsOrReply(ctx: CommandContext, argv: Buffer[], from: number, srcs: Source[],
  k: ZopKind): ZopOptions | null {
  const o: ZopOptions = { how: 'sum', withScores: false, limit: 0 }
  const full = k.op !== 'diff' && !k.cardinalityOnly
  let j = from
  while (j < argv.length) {
    const remaining = argv.length - j
    const opt = optionName(argv[j] as Buffer)
    if (full && remaining >= srcs.length + 1 && opt === 'weights') {
      j++
      for (const src of srcs) {
        const w = parseDouble(argv[j++] as Buffer)
        if (w === null) {
          ctx.reply.error('ERR weight value is not a float')
          return null
        }
        src.weight = w
      }
    } else if (full && remaining >= 2 && opt === 'aggregate') {
      const a = optionName(argv[j + 1] as Buffer)
      if (a !== 'sum' && a !== 'min' && a !== 'max') {
        ctx.reply.error(ERR_SYNTAX)
        return null
      }
      o.how = a
      j += 2
    } else if (k.dst === null && !k.cardinalityOnly && opt === 'withscores') {
      o.withScores = true
      j++
    } else if (k.cardinalityOnly && remaining >= 2 && opt === 'limit') {
      const l = positiveLongOrReply(ctx, argv[j + 1] as Buffer, "LIMIT can't be negative")
      if (l === null) return null
      o.limit = l
      j += 2
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return o
}

/** The result set (or, for ZINTERCARD, just its cardinality up to LIMIT). */
function zopCompute(srcs: Source[], op: Op, o: ZopOptions,
  cardinalityOnly: boolean): { result: ZSet; cardinality: number } {
  // Stable sort by cardinality (glibc's qsort is a merge sort here), as Redis for UNION/INTER.
  const ordered = op === 'diff' ? srcs : [...srcs].sort((a, b) => a.size - b.size)
  const result = new ZSet()
  let cardinality = 0
  const weighted = (src: Source, s: number): number => {
    const v = src.weight * s
    return Number.isNaN(v) ? 0 : v
  }
  const [first, ...rest] = ordered
  if (first === undefined) return { result, cardinality }
  if (op === 'inter') {
    for (const [m, s0] of first.size > 0 ? sourceItems(first) : []) {
      let score = weighted(first, s0)
      let all = true
      for (const src of rest) {
        const v = sourceScore(src, m)
        if (v === undefined) { all = false; break }
        score = aggregate(score, v * src.weight, o.how)
      }
      if (!all) continue
      if (!cardinalityOnly) result.add(m, score)
      else if (++cardinality === o.limit) break
    }
  } else if (op === 'union') {
    const acc = new Map<string, number>()
    for (const src of ordered) {
      for (const [m, s0] of sourceItems(src)) {
        const score = weighted(src, s0)
        const existing = acc.get(m)
        acc.set(m, existing === undefined ? score : aggregate(existing, score, o.how))
      }
    }
    for (const [m, s] of acc) result.add(m, s)
  } else {
    for (const [m, s] of sourceItems(first)) {
      if (!rest.some((src) => sourceScore(src, m) !== undefined)) result.add(m, s)
    }
  }
  return { result, cardinality }
}

/** zunionInterDiffGenericCommand. */
function zsetOpGeneric(ctx: CommandContext, argv: Buffer[], numkeysIndex: number,
  k: ZopKind): void {
  const srcs = zopSourcesOrReply(ctx, argv, numkeysIndex, k)
  if (srcs === null) return
  const o = zopOptionsOrReply(ctx, argv, numkeysIndex + 1 + srcs.length, srcs, k)
  if (o === null) return
  const { result, cardinality } = zopCompute(srcs, k.op, o, k.cardinalityOnly)
  if (k.dst !== null) {
    storeZSet(ctx, ctx.client.db, k.dst, result, `z${k.op}store`)
    ctx.reply.integer(result.length)
  } else if (k.cardinalityOnly) {
    ctx.reply.integer(cardinality)
  } else {
    const r = ctx.reply
    r.arrayHeader(o.withScores && r.proto === 2 ? result.length * 2 : result.length)
    for (const [m, s] of result) {
      if (o.withScores && r.proto === 3) r.arrayHeader(2)
      member(r, m)
      if (o.withScores) r.double(s)
    }
  }
}

function zsetOpCmd(op: Op, store: boolean, cardinalityOnly: boolean, fullname: string): Handler {
  return (ctx, argv) => zsetOpGeneric(ctx, argv, store ? 2 : 1,
    { dst: store ? keyOf(argv[1] as Buffer) : null, op, cardinalityOnly, fullname })
}

/** Keys of ZUNION-style commands: numkeys at `index`, then the keys; a STORE's dst first. */
function zopKeys(index: number, withDst: boolean): (argv: readonly Buffer[]) => number[] {
  const inner = numkeysKeys(index)
  return (argv) => (withDst ? [1, ...inner(argv)] : inner(argv))
}


const W = ['write', 'sortedset']
const R = ['read', 'sortedset']

export const zsetCommands: CommandSpec[] = [
  commandSpec('zadd', -4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], zaddCmd),
  commandSpec('zincrby', 4, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], zincrby),
  commandSpec('zrem', -3, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], zremCmd),
  commandSpec('zcard', 2, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zcard),
  commandSpec('zscore', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zscore),
  commandSpec('zmscore', -3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zmscore),
  commandSpec('zrank', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zrankGeneric(false)),
  commandSpec('zrevrank', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zrankGeneric(true)),
  commandSpec('zcount', 4, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zcount),
  commandSpec('zlexcount', 4, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], zlexcount),
  commandSpec('zrange', -4, ['readonly'], 1, 1, 1, [...R, 'slow'],
    zrangeCmd(1, false, 'auto', 'auto')),
  commandSpec('zrangestore', -5, ['write', 'denyoom'], 1, 2, 1, [...W, 'slow'],
    zrangeCmd(2, true, 'auto', 'auto')),
  commandSpec('zrevrange', -4, ['readonly'], 1, 1, 1, [...R, 'slow'],
    zrangeCmd(1, false, 'rank', 'reverse')),
  commandSpec('zrangebyscore', -4, ['readonly'], 1, 1, 1, [...R, 'slow'],
    zrangeCmd(1, false, 'score', 'forward')),
  commandSpec('zrevrangebyscore', -4, ['readonly'], 1, 1, 1, [...R, 'slow'],
    zrangeCmd(1, false, 'score', 'reverse')),
  commandSpec('zrangebylex', -4, ['readonly'], 1, 1, 1, [...R, 'slow'],
    zrangeCmd(1, false, 'lex', 'forward')),
  commandSpec('zrevrangebylex', -4, ['readonly'], 1, 1, 1, [...R, 'slow'],
    zrangeCmd(1, false, 'lex', 'reverse')),
  commandSpec('zpopmin', -2, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], zpopGeneric('min')),
  commandSpec('zpopmax', -2, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], zpopGeneric('max')),
  commandSpec('bzpopmin', -3, ['write', 'noscript', 'blocking', 'fast'], 1, -2, 1,
    [...W, 'fast', 'blocking'], bzpopGeneric('min')),
  commandSpec('bzpopmax', -3, ['write', 'noscript', 'blocking', 'fast'], 1, -2, 1,
    [...W, 'fast', 'blocking'], bzpopGeneric('max')),
  commandSpec('zmpop', -4, ['write', 'movablekeys'], 0, 0, 0, [...W, 'slow'], zmpop,
    { keys: numkeysKeys(1) }),
  commandSpec('bzmpop', -5, ['write', 'blocking', 'movablekeys'], 0, 0, 0,
    [...W, 'slow', 'blocking'], bzmpop, { keys: numkeysKeys(2) }),
  commandSpec('zrandmember', -2, ['readonly'], 1, 1, 1, [...R, 'slow'], zrandmember),
  commandSpec('zunion', -3, ['readonly', 'movablekeys'], 0, 0, 0, [...R, 'slow'],
    zsetOpCmd('union', false, false, 'zunion'), { keys: zopKeys(1, false) }),
  commandSpec('zinter', -3, ['readonly', 'movablekeys'], 0, 0, 0, [...R, 'slow'],
    zsetOpCmd('inter', false, false, 'zinter'), { keys: zopKeys(1, false) }),
  commandSpec('zdiff', -3, ['readonly', 'movablekeys'], 0, 0, 0, [...R, 'slow'],
    zsetOpCmd('diff', false, false, 'zdiff'), { keys: zopKeys(1, false) }),
  commandSpec('zunionstore', -4, ['write', 'denyoom', 'movablekeys'], 1, 1, 1, [...W, 'slow'],
    zsetOpCmd('union', true, false, 'zunionstore'), { keys: zopKeys(2, true) }),
  commandSpec('zinterstore', -4, ['write', 'denyoom', 'movablekeys'], 1, 1, 1, [...W, 'slow'],
    zsetOpCmd('inter', true, false, 'zinterstore'), { keys: zopKeys(2, true) }),
  commandSpec('zdiffstore', -4, ['write', 'denyoom', 'movablekeys'], 1, 1, 1, [...W, 'slow'],
    zsetOpCmd('diff', true, false, 'zdiffstore'), { keys: zopKeys(2, true) }),
  commandSpec('zintercard', -3, ['readonly', 'movablekeys'], 0, 0, 0, [...R, 'slow'],
    zsetOpCmd('inter', false, true, 'zintercard'), { keys: zopKeys(1, false) }),
  commandSpec('zremrangebyrank', 4, ['write'], 1, 1, 1, [...W, 'slow'], zremrangeGeneric('rank')),
  commandSpec('zremrangebyscore', 4, ['write'], 1, 1, 1, [...W, 'slow'], zremrangeGeneric('score')),
  commandSpec('zremrangebylex', 4, ['write'], 1, 1, 1, [...W, 'slow'], zremrangeGeneric('lex')),
  commandSpec('zscan', -3, ['readonly'], 1, 1, 1, [...R, 'slow'], zscan),
]
