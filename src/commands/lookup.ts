// Key lookup for handlers, with Redis's lazy expiry: a key whose absolute expiry time has passed
// is deleted when it is touched, and the deletion is an event in the command's transaction, so
// it is durable and replays (DESIGN rule 1: a key that expires is logged as a delete), and
// notified as Redis's `expired` event.

import type { Args } from '../resp/args.js'
import { delEv } from '../state/core-events.js'
import { expiryPaused } from './client-pause.js'
import { type Entry, type KeyMap, TYPE_STRING } from '../state/keyspace.js'
import { touchKey, touched } from '../state/lru.js'
import { NOTIFY_EXPIRED, NOTIFY_KEY_MISS, notifyKeyspaceEvent } from './notify.js'
import type { ServerServices, ServerStats } from './services.js'
import type { CommandContext } from './spec.js'

/** Redis's lookupKeyRead miss: the `keymiss` event (class m). */
function keymiss(ctx: CommandContext, key: string, db: number): void {
  notifyKeyspaceEvent(ctx, NOTIFY_KEY_MISS, 'keymiss', key, db)
}

/** `ctx` for the read lookups of a write command (Redis's lookupKeyRead there: keymiss). */
export function asReader(ctx: CommandContext): CommandContext {
  return ctx.readLookups === true ? ctx : { ...ctx, readLookups: true }
}

/** Redis 7.0.15 keyIsExpired: a key lives through its expiry millisecond (now > when expires it). */
export function isExpired(entry: Entry, nowMs: number): boolean {
  return entry.expireAtMs !== 0 && entry.expireAtMs < nowMs
}

/**
 * The live entry for `key` in the client's database (deleting it first if it expired).
 * `touch` false is Redis's LOOKUP_NOTOUCH (TYPE, EXISTS, TTL, OBJECT): the access state
 * (state/lru.ts) stays; so it does for a client in CLIENT NO-TOUCH mode (TOUCH touches itself).
 * A miss in a read lookup (ctx.readLookups) notifies `keymiss` unless `notifyMiss` is false
 * (Redis's LOOKUP_NONOTIFY, or a lookup Redis does not make: RANDOMKEY, SCAN without TYPE).
 * A read lookup counts INFO keyspace_hits / keyspace_misses unless `countStats` is false
 * (Redis's LOOKUP_NOSTATS; by default it follows notifyMiss: OBJECT is the one lookup that
 * counts without notifying).
 */
export function lookupKey(
  ctx: CommandContext, key: string, db = ctx.client.db, touch = true, notifyMiss = true,
  countStats = notifyMiss,
): Entry | undefined {
  const entry = ctx.keyspace.get(db, key)
  if (entry === undefined) {
    if (ctx.readLookups === true) readMiss(ctx, key, db, notifyMiss, countStats)
    return undefined
  }
  if (isExpired(entry, ctx.nowMs)) {
    // While clients are paused an expired key reads as missing and stays (expireIfNeeded).
    if (expiryPaused(ctx.server, ctx.nowMs)) {
      if (notifyMiss && ctx.readLookups === true) keymiss(ctx, key, db)
      return undefined
    }
    ctx.txn.apply(delEv(db, key))
    const stats = (ctx.server as ServerServices | undefined)?.stats
    if (stats !== undefined) stats.expiredKeys++ // INFO expired_keys counts lazy expiry too
    notifyKeyspaceEvent(ctx, NOTIFY_EXPIRED, 'expired', key, db)
    if (ctx.readLookups === true) readMiss(ctx, key, db, notifyMiss, countStats)
    return undefined
  }
  if (touch && ctx.client.noTouch !== true) touchKey(entry, ctx.nowMs)
  if (countStats && ctx.readLookups === true) {
    const stats = statsOf(ctx)
    if (stats !== null) stats.keyspaceHits++
  }
  return entry
}

/**
 * lookupKey(ctx, args.key(i)) for a read lookup with its defaults, without building the key's
 * string when the key is found live (the GET path: the index is searched with the argument's
 * bytes). A miss or an expired key takes lookupKey itself, which notifies, counts and deletes.
 */
export function lookupKeyArg(ctx: CommandContext, args: Args, i: number): Entry | undefined {
  if (!args.viewMode) return lookupKey(ctx, args.key(i))
  const off = args.off[i] as number
  const entry = ctx.keyspace.getBytes(ctx.client.db, args.buf, off, off + (args.len[i] as number))
  if (entry === undefined || isExpired(entry, ctx.nowMs)) return lookupKey(ctx, args.key(i))
  if (ctx.client.noTouch !== true) touchKey(entry, ctx.nowMs)
  if (ctx.readLookups === true) {
    const stats = statsOf(ctx)
    if (stats !== null) stats.keyspaceHits++
  }
  return entry
}

/**
 * GET's path for a live string kept in the key index itself (state/key-map.ts: no Entry, no
 * Buffer): replies its bytes (copied into the reply) with lookupKeyArg's effects on a hit (the
 * access word touched, keyspace_hits) and returns true. Returns false having done nothing when
 * the key is absent, expired or held as an Entry: the caller takes lookupKeyArg then. Arguments
 * not in view mode (MULTI, scripts) take replyKeptString.
 */
export function replyStringArg(ctx: CommandContext, args: Args, i: number): boolean {
  if (!args.viewMode) return replyKeptString(ctx, args.key(i))
  const off = args.off[i] as number
  const ks = ctx.keyspace
  const map = ks.findKeyBytes(ctx.client.db, args.buf, off, off + (args.len[i] as number))
  const h = ks.foundHandle
  if (h === -1 || !map.isValue(h)) return false
  const expireAtMs = map.expireAtOf(h)
  if (expireAtMs !== 0 && expireAtMs < ctx.nowMs) return false
  touchLiveValue(ctx, map, h)
  replyValue(ctx, map, h)
  return true
}

/**
 * replyStringArg by the key's string (GETSET, GETDEL, SET … GET): replies a live string kept in
 * the key index in place, with lookupKey's effects on a hit, and returns true; false having done
 * nothing otherwise (the caller takes lookupKey).
 */
export function replyKeptString(ctx: CommandContext, key: string): boolean {
  const map = findLiveValue(ctx, key)
  if (map === null) return false
  const h = ctx.keyspace.foundHandle
  touchLiveValue(ctx, map, h)
  replyValue(ctx, map, h)
  return true
}

/** Reply the bytes of value record h of `map` (copied into the reply; no lookup effect). */
export function replyValue(ctx: CommandContext, map: KeyMap, h: number): void {
  const page = map.valuePage(h)
  const start = map.valueOffset(h)
  const end = start + map.valueLength(h)
  const reply = ctx.reply
  if (reply.bulkRange !== undefined) reply.bulkRange(page, start, end)
  else reply.bulk(Buffer.from(page.subarray(start, end)))
}

/**
 * lookupKey(ctx, key) for a write that needs only whether the key lives and its expiry (SET):
 * -1 when it is missing (after lazy expiry), else its expireAtMs (0: none). A live string kept
 * in the key index is read in place (lookupKey's effects on a hit, no Entry made).
 */
export function lookupKeyExpiry(ctx: CommandContext, key: string): number {
  const map = findLiveValue(ctx, key)
  if (map !== null) {
    const h = ctx.keyspace.foundHandle
    touchLiveValue(ctx, map, h)
    return map.expireAtOf(h)
  }
  const entry = lookupKey(ctx, key)
  return entry === undefined ? -1 : entry.expireAtMs
}

/**
 * The map holding `key` in the client's database when it is a live string kept in the key
 * index (its handle in ctx.keyspace.foundHandle), else null; no lookup effect either way (a
 * caller that uses the value calls touchLiveValue, one that does not takes lookupKey).
 */
export function findLiveValue(ctx: CommandContext, key: string, db = ctx.client.db):
  KeyMap | null {
  const ks = ctx.keyspace
  const map = ks.findKey(db, key)
  const h = ks.foundHandle
  if (h === -1 || !map.isValue(h)) return null
  const expireAtMs = map.expireAtOf(h)
  return expireAtMs !== 0 && expireAtMs < ctx.nowMs ? null : map
}

/**
 * lookupKey's effects on a hit, for value record h of `map` (findLiveValue's): `touch` and
 * `countStats` as lookupKey's.
 */
export function touchLiveValue(ctx: CommandContext, map: KeyMap, h: number, touch = true,
  countStats = true): void {
  if (touch && ctx.client.noTouch !== true) {
    map.setAccessOf(h, touched(map.accessOf(h), ctx.nowMs))
  }
  if (countStats && ctx.readLookups === true) {
    const stats = statsOf(ctx)
    if (stats !== null) stats.keyspaceHits++
  }
}

/** Set by lookupKeyType: the expiry of the key it found live (ms; 0: none). */
export let lookedUpExpireAtMs = 0

/**
 * lookupKey for a command that needs only whether the key lives, its type and its expiry
 * (EXISTS, TYPE, TTL, STRLEN, MSET): the same effects (lazy expiry, keymiss, stats, touch;
 * parameters as lookupKey's), but a live string kept in the key index is read in place (no
 * Entry made). Returns the key's type (TYPE_*), -1 when it is missing; its expiry in
 * lookedUpExpireAtMs; for a string kept in the index, ctx.keyspace.foundHandle is its record in
 * lookedUpMap (until the keyspace next changes), else lookedUpMap is null.
 */
export function lookupKeyType(
  ctx: CommandContext, key: string, db = ctx.client.db, touch = true, notifyMiss = true,
  countStats = notifyMiss,
): number {
  const map = findLiveValue(ctx, key, db)
  if (map !== null) {
    const h = ctx.keyspace.foundHandle
    touchLiveValue(ctx, map, h, touch, countStats)
    lookedUpExpireAtMs = map.expireAtOf(h)
    lookedUpMap = map
    return TYPE_STRING
  }
  lookedUpMap = null
  const entry = lookupKey(ctx, key, db, touch, notifyMiss, countStats)
  if (entry === undefined) return -1
  lookedUpExpireAtMs = entry.expireAtMs
  return entry.type
}

/** Set by lookupKeyType: the map of the string kept in the index it found (else null). */
export let lookedUpMap: KeyMap | null = null

/** INFO's counters, or null where there is no server (the embedded engine's own tests). */
function statsOf(ctx: CommandContext): ServerStats | null {
  const sv = ctx.server as ServerServices | null | undefined
  return sv === null || sv === undefined ? null : sv.stats
}

function readMiss(ctx: CommandContext, key: string, db: number, notifyMiss: boolean,
  countStats: boolean): void {
  if (notifyMiss) keymiss(ctx, key, db)
  if (!countStats) return
  const stats = statsOf(ctx)
  if (stats !== null) stats.keyspaceMisses++
}
