// SORT and SORT_RO (Redis 7.0.15 sort.c): the elements of a list, set or sorted set, sorted
// numerically or with ALPHA, by themselves or by the weights a BY pattern names (string keys, or
// hash fields with `pattern->field`), with LIMIT, GET patterns (`#` is the element itself), and
// for SORT a STORE destination that receives the result as a list.
// Invariants, and why:
// - Everything is validated and computed before any event: a bad option, a wrong type or a
//   weight that is not a double replies an error and changes nothing (DESIGN rule 3).
// - STORE writes the whole result with one RESTORE event (core-events.ts restoreOf), as RENAME
//   and COPY do, so replay never reads the sorted key or the GET keys; an empty result deletes
//   the destination instead (Redis never stores an empty list). The destination loses its TTL
//   (Redis's setKey).
// - `BY` without '*' (e.g. BY nosort) skips sorting: lists and sorted sets keep their own order
//   (reversed by DESC, LIMIT taken on that order); a set is sorted ALPHA anyway when the result is
//   stored or the call comes from a script, as Redis does to keep them deterministic.
// - Numeric weights are read with strtod as Redis reads them: leading spaces, hex, inf allowed,
//   trailing bytes, NaN or overflow are "One or more scores can't be converted into double"; a
//   missing weight key counts as 0, so does an empty one. Equal weights order by the elements'
//   bytes.
// - ALPHA compares bytes (memcmp, shorter first on a common prefix). Redis's reply path uses
//   strcoll, which is the same in the C locale the server runs in by default except that it stops
//   at a NUL byte; STORE uses memcmp in Redis too.

import { Deque } from '../state/deque.js'
import { restoreOf, delEv } from '../state/core-events.js'
import {
  Entry, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET,
} from '../state/keyspace.js'
import type { ZNode, ZSet } from '../state/zset.js'
import { longOrReply, strtod } from './coll-util.js'
import { commandSpec } from './list.js'
import { asReader, lookupKey } from './lookup.js'
import { NOTIFY_GENERIC, NOTIFY_LIST, notifyKeyspaceEvent, notifyNew } from './notify.js'
import { optionName } from './numeric.js'
import {
  ERR_SYNTAX, WRONGTYPE, keyOf, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'

const ERR_SCORES = "ERR One or more scores can't be converted into double"

interface SortOptions {
  desc: boolean
  alpha: boolean
  limitStart: number
  limitCount: number
  sortBy: Buffer | null
  dontSort: boolean
  store: Buffer | null
  gets: Buffer[]
}

/** The option loop of sortCommandGeneric; null after replying the error. */
function parseOptions(ctx: CommandContext, argv: Buffer[], readonly: boolean):
  SortOptions | null {
  const o: SortOptions = { desc: false, alpha: false, limitStart: 0, limitCount: -1,
    sortBy: null, dontSort: false, store: null, gets: [] }
  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1
    const opt = optionName(argv[j] as Buffer)
    if (opt === 'asc') {
      o.desc = false
    } else if (opt === 'desc') {
      o.desc = true
    } else if (opt === 'alpha') {
      o.alpha = true
    } else if (opt === 'limit' && left >= 2) {
      const start = longOrReply(ctx, argv[j + 1] as Buffer)
      if (start === null) return null
      const count = longOrReply(ctx, argv[j + 2] as Buffer)
      if (count === null) return null
      o.limitStart = start
      o.limitCount = count
      j += 2
    } else if (!readonly && opt === 'store' && left >= 1) {
      o.store = argv[++j] as Buffer
    } else if (opt === 'by' && left >= 1) {
      o.sortBy = argv[++j] as Buffer
      o.dontSort = !o.sortBy.includes(42) // no '*': a constant pattern
    } else if (opt === 'get' && left >= 1) {
      o.gets.push(argv[++j] as Buffer)
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return o
}

/**
 * lookupKeyByPattern: the value `pattern` names for `element` ('#' is the element, '*' is
 * replaced by it, `->field` reads a hash field), or null.
 */
function lookupByPattern(ctx: CommandContext, pattern: Buffer, element: Buffer): Buffer | null {
  if (pattern.length === 1 && pattern[0] === 35) return element // '#'
  const star = pattern.indexOf(42)
  if (star < 0) return null
  const arrow = pattern.indexOf('->', star + 1, 'latin1')
  const hasField = arrow >= 0 && arrow + 2 < pattern.length
  const keyEnd = hasField ? arrow : pattern.length
  const key = Buffer.concat([pattern.subarray(0, star), element,
    pattern.subarray(star + 1, keyEnd)])
  const entry = lookupKey(asReader(ctx), keyOf(key)) // lookupKeyRead: a miss is a keymiss
  if (entry === undefined) return null
  if (hasField) {
    if (entry.type !== TYPE_HASH) return null
    const field = pattern.subarray(arrow + 2).toString('latin1')
    return (entry.value as Map<string, Buffer>).get(field) ?? null
  }
  return entry.type === TYPE_STRING ? entry.value as Buffer : null
}

interface Item {
  obj: Buffer
  score: number
  cmp: Buffer | null
}

/** Redis's start/end from LIMIT, clamped to `len` (end < start: nothing). */
function limitRange(o: SortOptions, len: number): [number, number] {
  let start = Math.min(Math.max(o.limitStart, 0), len)
  const count = Math.min(Math.max(o.limitCount, -1), len)
  let end = count < 0 ? len - 1 : start + count - 1
  if (start >= len) {
    start = len - 1
    end = len - 2
  }
  if (end >= len) end = len - 1
  return [start, end]
}

function item(obj: Buffer): Item {
  return { obj, score: 0, cmp: null }
}

/** A sorted set's members from rank `start` on, `count` of them, in ascending or DESC order. */
function zsetRange(z: ZSet, start: number, count: number, desc: boolean): Item[] {
  const out: Item[] = []
  let n: ZNode | null = desc ? z.byRank(z.length - 1 - start) : z.byRank(start)
  while (n !== null && out.length < count) {
    out.push(item(Buffer.from(n.member, 'latin1')))
    n = desc ? n.prev : n.next[0] as ZNode | null
  }
  return out
}

/** The elements to sort; for a list or sorted set BY a constant, only the LIMIT's range. */
function loadItems(entry: Entry | undefined, o: SortOptions, range: [number, number]): Item[] {
  if (entry === undefined) return []
  const [start, end] = range
  const direct = o.dontSort && (entry.type === TYPE_LIST || entry.type === TYPE_ZSET)
  if (entry.type === TYPE_LIST) {
    const list = entry.value as Deque<Buffer>
    if (!direct) return list.toArray().map(item)
    if (end < start) return []
    const out: Item[] = []
    for (let i = 0; i <= end - start; i++) {
      const at = o.desc ? list.length - 1 - start - i : start + i
      out.push(item(list.get(at) as Buffer))
    }
    return out
  }
  if (entry.type === TYPE_SET) {
    return [...entry.value as Set<string>].map((m) => item(Buffer.from(m, 'latin1')))
  }
  const z = entry.value as ZSet
  if (!direct) return [...z.map.keys()].map((m) => item(Buffer.from(m, 'latin1')))
  return end < start ? [] : zsetRange(z, start, end - start + 1, o.desc)
}

/** Loads each item's weight; false when one is not a double (numeric sort). */
function loadWeights(ctx: CommandContext, items: Item[], o: SortOptions): boolean {
  let ok = true
  for (const it of items) {
    let by: Buffer | null
    if (o.sortBy !== null) {
      by = lookupByPattern(ctx, o.sortBy, it.obj)
      if (by === null) continue
    } else {
      by = it.obj
    }
    if (o.alpha) {
      if (o.sortBy !== null) it.cmp = by
      continue
    }
    // strtod reads the C string: it ends at a NUL byte, as in Redis.
    const nul = by.indexOf(0)
    const text = (nul < 0 ? by : by.subarray(0, nul)).toString('latin1')
    const r = strtod(text)
    it.score = r.value
    if (r.end !== text.length || r.rangeError || Number.isNaN(r.value)) ok = false
  }
  return ok
}

/** sortCompare. */
function compareItems(o: SortOptions): (a: Item, b: Item) => number {
  const sign = o.desc ? -1 : 1
  if (!o.alpha) {
    return (a, b) => sign * (a.score > b.score ? 1 : a.score < b.score ? -1 :
      Buffer.compare(a.obj, b.obj))
  }
  if (o.sortBy === null) return (a, b) => sign * Buffer.compare(a.obj, b.obj)
  return (a, b) => {
    if (a.cmp === null || b.cmp === null) {
      return sign * (a.cmp === b.cmp ? 0 : a.cmp === null ? -1 : 1)
    }
    return sign * Buffer.compare(a.cmp, b.cmp)
  }
}

/** The output elements: each element, or for each element the value of every GET pattern. */
function outputOf(ctx: CommandContext, items: Item[], o: SortOptions,
  range: [number, number]): (Buffer | null)[] {
  const out: (Buffer | null)[] = []
  for (let j = range[0]; j <= range[1]; j++) {
    const obj = (items[j] as Item).obj
    if (o.gets.length === 0) out.push(obj)
    for (const g of o.gets) out.push(lookupByPattern(ctx, g, obj))
  }
  return out
}

function storeResult(ctx: CommandContext, dst: string, out: (Buffer | null)[]): void {
  const db = ctx.client.db
  if (out.length > 0) {
    // Redis's setKey: its lookupKeyWrite (an expired destination is `expired`), `new` when the
    // destination was created, then `sortstore`.
    const created = lookupKey(ctx, dst, db) === undefined
    const list = new Deque<Buffer>(out.map((b) => b === null ? Buffer.alloc(0) : Buffer.from(b)))
    ctx.txn.apply(restoreOf(db, dst, new Entry(TYPE_LIST, list, 0, 0)))
    if (created) notifyNew(ctx, dst, db)
    notifyKeyspaceEvent(ctx, NOTIFY_LIST, 'sortstore', dst, db)
  } else if (ctx.keyspace.get(db, dst) !== undefined) {
    // Redis's dbDelete: a key still there, even expired, is deleted and notified `del`.
    ctx.txn.apply(delEv(db, dst))
    notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', dst, db)
  }
  ctx.reply.integer(out.length)
}

function sortGeneric(ctx: CommandContext, argv: Buffer[], readonly: boolean): void {
  const o = parseOptions(ctx, argv, readonly)
  if (o === null) return
  const entry = lookupKey(asReader(ctx), keyOf(argv[1] as Buffer))
  if (entry !== undefined && entry.type !== TYPE_LIST && entry.type !== TYPE_SET &&
      entry.type !== TYPE_ZSET) {
    ctx.reply.error(WRONGTYPE)
    return
  }
  if (o.dontSort && entry?.type === TYPE_SET && (o.store !== null || ctx.script === true)) {
    o.dontSort = false
    o.alpha = true
    o.sortBy = null
  }
  const len = entry === undefined ? 0 : entry.type === TYPE_LIST
    ? (entry.value as Deque<Buffer>).length
    : entry.type === TYPE_SET ? (entry.value as Set<string>).size : (entry.value as ZSet).length
  let range = limitRange(o, len)
  const items = loadItems(entry, o, range)
  // loadItems took only the LIMIT's range for a list or sorted set BY a constant.
  if (o.dontSort && entry !== undefined && entry.type !== TYPE_SET) range = [0, items.length - 1]
  if (!o.dontSort) {
    if (!loadWeights(ctx, items, o)) {
      ctx.reply.error(ERR_SCORES)
      return
    }
    items.sort(compareItems(o))
  }
  const out = outputOf(ctx, items, o, range)
  if (o.store !== null) {
    storeResult(ctx, keyOf(o.store), out)
    return
  }
  ctx.reply.arrayHeader(out.length)
  for (const b of out) {
    if (b === null) ctx.reply.nullBulk()
    else ctx.reply.bulk(b)
  }
}

/**
 * sortGetKeys: the sorted key, and the last STORE's destination. LIMIT skips two arguments, GET
 * and BY one, as Redis's key extraction does (it does not check the options' syntax).
 */
function sortKeys(argv: readonly Buffer[]): number[] {
  const keys = [1]
  let store = -1
  for (let i = 2; i < argv.length; i++) {
    const opt = optionName(argv[i] as Buffer)
    if (opt === 'limit') i += 2
    else if (opt === 'get' || opt === 'by') i += 1
    else if (opt === 'store' && i + 1 < argv.length) store = i + 1
  }
  if (store >= 0) keys.push(store)
  return keys
}

const sortCommand: Handler = (ctx, argv) => sortGeneric(ctx, argv, false)
const sortRoCommand: Handler = (ctx, argv) => sortGeneric(ctx, argv, true)

const CATEGORIES = ['set', 'sortedset', 'list', 'slow', 'dangerous']

export const sortCommands: CommandSpec[] = [
  commandSpec('sort', -2, ['write', 'denyoom', 'movablekeys'], 1, 1, 1,
    ['write', ...CATEGORIES], sortCommand, { keys: sortKeys }),
  commandSpec('sort_ro', -2, ['readonly', 'movablekeys'], 1, 1, 1, ['read', ...CATEGORIES],
    sortRoCommand, { keys: () => [1] }),
]
