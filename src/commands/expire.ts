// Key expiry (Redis 7.0.15 expire.c): EXPIRE PEXPIRE EXPIREAT PEXPIREAT [NX|XX|GT|LT], TTL PTTL
// EXPIRETIME PEXPIRETIME PERSIST, and the active expire cycle the server runs at `hz`.
// Invariants, and why:
// - An expiry is an EXPIRE event holding the ABSOLUTE time in ms (0 = none); a time already
//   past deletes the key with a DEL event instead, as Redis 7.0 does, so replay needs no clock
//   and an expired key is logged as a delete (DESIGN rule 1). Lazy expiry (lookup.ts) and the
//   active cycle below log DEL events too.
// - Absolute times are doubles: exact up to 2^53 ms (the year 285,000); larger times, which only
//   a client can ask for, are kept to the nearest double and replied clamped to int64.
// - The expiry index is a superset of the keys with an expiry, per database map (a WeakMap keyed
//   by the Map object, so FLUSHDB/SWAPDB/reload need no bookkeeping): every writer of an expiry
//   calls noteExpiry; a map not yet indexed (after recovery) is indexed incrementally by a live
//   iterator, which sees every key present for the whole walk. The cycle drops keys that lost
//   their expiry when it meets them, so the index never has to be told about deletes.

import { DB_COUNT, type Entry, type KeyMap, type Keyspace } from '../state/keyspace.js'
import { type DelEvent, delEv, expireEv } from '../state/core-events.js'
import type { Store } from '../txn/engine.js'
import { lookedUpExpireAtMs, lookupKeyType } from './lookup.js'
import { NOTIFY_GENERIC, notifyKeyspaceEvent } from './notify.js'
import { INT64_MAX, INT64_MIN, big, cString, int64OrReply, optionName } from './numeric.js'
import { keyOf, type CommandContext, type CommandSpec, type Handler } from './spec.js'

// ---------------------------------------------------------------------------------------------
// The expiry index

interface ExpiryIndex {
  /** Keys that may have an expiry (a superset). */
  readonly keys: Set<string>
  /** While the map is being indexed: the live iterator over it. */
  building: Iterator<[string, Entry]> | null
  /** Where the sampling walk over `keys` stands (a live Set iterator). */
  sampling: Iterator<string> | null
}

const indexes = new WeakMap<KeyMap, ExpiryIndex>()

/** Tell the index that (db, key) now has an expiry. Cheap; call after applying the event. */
export function noteExpiry(ks: Keyspace, db: number, key: string): void {
  // A database with deferred events has no index yet (the cycle waits for it): don't build it.
  if (ks.pendingIn(db) > 0) return
  const index = indexes.get(ks.db(db))
  if (index !== undefined) index.keys.add(key)
}

function indexOf(map: KeyMap): ExpiryIndex {
  let index = indexes.get(map)
  if (index === undefined) {
    index = { keys: new Set(), building: map.entries(), sampling: null }
    indexes.set(map, index)
  }
  return index
}

/** Index up to `budget` more entries of a map being indexed; returns the budget left. */
function buildIndex(index: ExpiryIndex, budget: number): number {
  const it = index.building
  if (it === null) return budget
  while (budget > 0) {
    const next = it.next()
    if (next.done === true) {
      index.building = null
      return budget
    }
    budget--
    if (next.value[1].expireAtMs !== 0) index.keys.add(next.value[0])
  }
  return budget
}

/** Entries indexed per sampled key: indexing is a plain walk, much cheaper than sampling. */
const BUILD_ENTRIES_PER_SAMPLE = 50
let nextDb = 0

/**
 * One active expire cycle: examine up to `budgetKeys` keys that have an expiry, round robin over
 * the databases, and delete the expired ones in ONE transaction of DEL events. Returns the
 * number of keys deleted; `onExpired` gets them once their transaction was appended. Safe to
 * call at any time between commands; does nothing while the store cannot begin a transaction.
 */
export function activeExpireCycle(store: Store, nowMs: number, budgetKeys = 200,
  onExpired?: (expired: readonly DelEvent[]) => void): number {
  const ks = store.keyspace
  const expired: DelEvent[] = []
  let budget = budgetKeys
  let buildBudget = budgetKeys * BUILD_ENTRIES_PER_SAMPLE
  for (let n = 0; n < DB_COUNT && budget > 0; n++) {
    const db = (nextDb + n) % DB_COUNT
    // A database still being indexed after startup waits (ks.db would build it all now); its
    // expired keys are still deleted when accessed.
    if (ks.pendingIn(db) > 0) continue
    const map = ks.db(db)
    if (map.size === 0) continue
    const index = indexOf(map)
    buildBudget = buildIndex(index, buildBudget)
    budget = sampleIndex(map, index, db, nowMs, budget, expired)
  }
  nextDb = (nextDb + 1) % DB_COUNT
  if (expired.length === 0) return 0
  let txn
  try {
    txn = store.begin()
  } catch {
    return 0 // a transaction is open, or the store failed or closed: try next cycle
  }
  for (const e of expired) txn.apply(e)
  try {
    txn.commitNoWait()
  } catch {
    return 0 // refused (I/O failure): the transaction was undone
  }
  // Their `expired` notifications: after the append, so they leave after its group commit.
  if (onExpired !== undefined) onExpired(expired)
  return expired.length
}

function sampleIndex(
  map: KeyMap, index: ExpiryIndex, db: number, nowMs: number, budget: number,
  expired: DelEvent[],
): number {
  const size = index.keys.size
  // One pass at most per cycle: never visit a key twice in the same cycle.
  for (let visited = 0; visited < size && budget > 0; visited++) {
    if (index.sampling === null) index.sampling = index.keys.values()
    const next = index.sampling.next()
    if (next.done === true) {
      index.sampling = null
      continue
    }
    budget--
    const key = next.value
    const entry = map.get(key)
    if (entry === undefined || entry.expireAtMs === 0) {
      index.keys.delete(key)
    } else if (entry.expireAtMs < nowMs) {
      index.keys.delete(key)
      expired.push(delEv(db, key))
    }
  }
  return budget
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family

const EXPIRE_NX = 1
const EXPIRE_XX = 2
const EXPIRE_GT = 4
const EXPIRE_LT = 8

const LLONG_MAX_DIV_1000 = INT64_MAX / 1000n
const LLONG_MIN_DIV_1000 = INT64_MIN / 1000n // C division truncates toward zero, as BigInt's

/** An int64 time in ms for a reply (clamped: times past 2^53 are doubles, see above). */
function msReply(ms: number): number | bigint {
  if (Number.isSafeInteger(ms)) return ms
  const b = BigInt(Math.trunc(ms))
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b
}

/** parseExtendedExpireArgumentsOrReply: NX XX GT LT flags, or null after the error. */
function parseExpireFlags(ctx: CommandContext, argv: Buffer[]): number | null {
  let flags = 0
  for (let j = 3; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    if (opt === 'nx') flags |= EXPIRE_NX
    else if (opt === 'xx') flags |= EXPIRE_XX
    else if (opt === 'gt') flags |= EXPIRE_GT
    else if (opt === 'lt') flags |= EXPIRE_LT
    else {
      ctx.reply.error(`ERR Unsupported option ${cString(argv[j] as Buffer)}`)
      return null
    }
  }
  if ((flags & EXPIRE_NX) !== 0 && (flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT)) !== 0) {
    ctx.reply.error('ERR NX and XX, GT or LT options at the same time are not compatible')
    return null
  }
  if ((flags & EXPIRE_GT) !== 0 && (flags & EXPIRE_LT) !== 0) {
    ctx.reply.error('ERR GT and LT options at the same time are not compatible')
    return null
  }
  return flags
}

/** expireGenericCommand: basetime is the command's time for EXPIRE/PEXPIRE, 0 for the *AT forms. */
function expireGeneric(
  ctx: CommandContext, argv: Buffer[], relative: boolean, seconds: boolean, command: string,
): void {
  const flags = parseExpireFlags(ctx, argv)
  if (flags === null) return
  const parsed = int64OrReply(ctx, argv[2] as Buffer)
  if (parsed === null) return
  let when = big(parsed)
  const invalid = (): void => ctx.reply.error(`ERR invalid expire time in '${command}' command`)
  if (seconds) {
    if (when > LLONG_MAX_DIV_1000 || when < LLONG_MIN_DIV_1000) return invalid()
    when *= 1000n
  }
  const basetime = relative ? BigInt(ctx.nowMs) : 0n
  if (when > INT64_MAX - basetime) return invalid()
  when += basetime
  const key = keyOf(argv[1] as Buffer)
  if (lookupKeyType(ctx, key) === -1) { // no Entry made for a string kept in the index
    ctx.reply.integer(0)
    return
  }
  const whenMs = Number(when)
  if (flags !== 0) {
    const current = lookedUpExpireAtMs === 0 ? -1 : lookedUpExpireAtMs
    if ((flags & EXPIRE_NX) !== 0 && current !== -1) return ctx.reply.integer(0)
    if ((flags & EXPIRE_XX) !== 0 && current === -1) return ctx.reply.integer(0)
    if ((flags & EXPIRE_GT) !== 0 && (whenMs <= current || current === -1)) {
      return ctx.reply.integer(0)
    }
    if ((flags & EXPIRE_LT) !== 0 && current !== -1 && whenMs >= current) {
      return ctx.reply.integer(0)
    }
  }
  const db = ctx.client.db
  if (whenMs <= ctx.nowMs) {
    ctx.txn.apply(delEv(db, key)) // checkAlreadyExpired
    notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
  } else {
    ctx.txn.apply(expireEv(db, key, whenMs))
    noteExpiry(ctx.keyspace, db, key)
    notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'expire', key, db)
  }
  ctx.reply.integer(1)
}

const expireCommand: Handler = (ctx, argv) => expireGeneric(ctx, argv, true, true, 'expire')
const pexpireCommand: Handler = (ctx, argv) => expireGeneric(ctx, argv, true, false, 'pexpire')
const expireatCommand: Handler = (ctx, argv) => expireGeneric(ctx, argv, false, true, 'expireat')
const pexpireatCommand: Handler = (ctx, argv) =>
  expireGeneric(ctx, argv, false, false, 'pexpireat')

/** ttlGenericCommand: -2 missing, -1 no expiry, else the TTL (or absolute time). */
function ttlGeneric(ctx: CommandContext, argv: Buffer[], ms: boolean, absolute: boolean): void {
  if (lookupKeyType(ctx, keyOf(argv[1] as Buffer), ctx.client.db, false) === -1) {
    ctx.reply.integer(-2)
    return
  }
  const expireAtMs = lookedUpExpireAtMs
  if (expireAtMs === 0) {
    ctx.reply.integer(-1)
    return
  }
  let ttl = absolute ? expireAtMs : expireAtMs - ctx.nowMs
  if (ttl < 0) ttl = 0
  ctx.reply.integer(msReply(ms ? ttl : Math.floor((ttl + 500) / 1000)))
}

const ttlCommand: Handler = (ctx, argv) => ttlGeneric(ctx, argv, false, false)
const pttlCommand: Handler = (ctx, argv) => ttlGeneric(ctx, argv, true, false)
const expiretimeCommand: Handler = (ctx, argv) => ttlGeneric(ctx, argv, false, true)
const pexpiretimeCommand: Handler = (ctx, argv) => ttlGeneric(ctx, argv, true, true)

const persistCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  if (lookupKeyType(ctx, key) === -1 || lookedUpExpireAtMs === 0) {
    ctx.reply.integer(0)
    return
  }
  ctx.txn.apply(expireEv(ctx.client.db, key, 0))
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'persist', key)
  ctx.reply.integer(1)
}

// ---------------------------------------------------------------------------------------------
// The table (from Redis 7.0.15 COMMAND INFO; tips, key specs and docs: command-docs.ts)

function spec(
  name: string, arity: number, flags: CommandSpec['flags'], categories: string[],
  handler: Handler,
): CommandSpec {
  return Object.freeze({
    name, arity, flags, firstKey: 1, lastKey: 1, step: 1, categories, handler,
  })
}

const W_FAST = ['keyspace', 'write', 'fast']
const R_FAST = ['keyspace', 'read', 'fast']

export const expireCommands: CommandSpec[] = [
  spec('expire', -3, ['write', 'fast'], W_FAST, expireCommand),
  spec('pexpire', -3, ['write', 'fast'], W_FAST, pexpireCommand),
  spec('expireat', -3, ['write', 'fast'], W_FAST, expireatCommand),
  spec('pexpireat', -3, ['write', 'fast'], W_FAST, pexpireatCommand),
  spec('ttl', 2, ['readonly', 'fast'], R_FAST, ttlCommand),
  spec('pttl', 2, ['readonly', 'fast'], R_FAST, pttlCommand),
  spec('persist', 2, ['write', 'fast'], W_FAST, persistCommand),
  spec('expiretime', 2, ['readonly', 'fast'], R_FAST, expiretimeCommand),
  spec('pexpiretime', 2, ['readonly', 'fast'], R_FAST, pexpiretimeCommand),
]
