// Key lookup for handlers, with Redis's lazy expiry: a key whose absolute expiry time has passed
// is deleted when it is touched, and the deletion is an event in the command's transaction, so
// it is durable and replays (DESIGN rule 1: a key that expires is logged as a delete), and
// notified as Redis's `expired` event.

import type { Args } from '../resp/args.js'
import { delEv } from '../state/core-events.js'
import { expiryPaused } from './client-pause.js'
import type { Entry } from '../state/keyspace.js'
import { touchKey } from '../state/lru.js'
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
