// RENAME RENAMENX MOVE COPY (Redis 7.0.15 db.c), split from keys.ts: whole values move with
// RESTORE events (core-events.ts restoreOf), so replay never reads another key. COPY deep-copies
// the value through the value-type registry (encode + decode): the two keys never share a
// mutable object. RENAME and MOVE hand the same object over, as Redis does: the source is deleted
// in the same transaction. Notifications as Redis's: the destination is always `new` (RENAME
// deletes an existing destination first), then rename_from/rename_to, move_from/move_to, copy_to.

import { ByteReader, ByteWriter } from '../state/bytes.js'
import { restoreOf, delEv } from '../state/core-events.js'
import { DB_COUNT, Entry, TYPE_STRING } from '../state/keyspace.js'
import { valueType } from '../state/value-codec.js'
import { noteExpiry } from './expire.js'
import { asReader, lookupKey } from './lookup.js'
import { NOTIFY_GENERIC, notifyKeyspaceEvent, notifyNew } from './notify.js'
import { int32OrReply, optionName } from './numeric.js'
import { ERR_SYNTAX, keyOf, type CommandContext, type Handler } from './spec.js'
import { copyStringEncoding } from './string.js'

const ERR_NO_SUCH_KEY = 'ERR no such key'
const ERR_SAME_OBJECT = 'ERR source and destination objects are the same'
export const ERR_DB_RANGE = 'ERR DB index is out of range'

export function del(ctx: CommandContext, db: number, key: string): void {
  ctx.txn.apply(delEv(db, key))
}

/** Apply a RESTORE of `entry`'s value at (db, key), and index its expiry. */
function restore(ctx: CommandContext, db: number, key: string, entry: Entry): void {
  ctx.txn.apply(restoreOf(db, key, entry))
  if (entry.expireAtMs !== 0) noteExpiry(ctx.keyspace, db, key)
}

function renameGeneric(ctx: CommandContext, argv: Buffer[], nx: boolean): void {
  const src = keyOf(argv[1] as Buffer)
  const dst = keyOf(argv[2] as Buffer)
  const db = ctx.client.db
  const entry = lookupKey(ctx, src)
  if (entry === undefined) {
    ctx.reply.error(ERR_NO_SUCH_KEY)
    return
  }
  if (src === dst) {
    if (nx) ctx.reply.integer(0)
    else ctx.reply.simple('OK')
    return
  }
  if (lookupKey(ctx, dst) !== undefined && nx) {
    ctx.reply.integer(0)
    return
  }
  restore(ctx, db, dst, entry)
  del(ctx, db, src)
  // Redis deletes an existing destination first, so the destination is always `new`.
  notifyNew(ctx, dst, db)
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'rename_from', src, db)
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'rename_to', dst, db)
  if (nx) ctx.reply.integer(1)
  else ctx.reply.simple('OK')
}

export const renameCommand: Handler = (ctx, argv) => renameGeneric(ctx, argv, false)
export const renamenxCommand: Handler = (ctx, argv) => renameGeneric(ctx, argv, true)

/** selectDb's check: a db index (int) or null after the error. */
function dbIndexOrReply(ctx: CommandContext, arg: Buffer): number | null {
  const db = int32OrReply(ctx, arg)
  if (db === null) return null
  if (db < 0 || db >= DB_COUNT) {
    ctx.reply.error(ERR_DB_RANGE)
    return null
  }
  return db
}

export const moveCommand: Handler = (ctx, argv) => {
  const src = ctx.client.db
  const dst = dbIndexOrReply(ctx, argv[2] as Buffer)
  if (dst === null) return
  if (src === dst) {
    ctx.reply.error(ERR_SAME_OBJECT)
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupKey(ctx, key)
  if (entry === undefined || lookupKey(ctx, key, dst) !== undefined) {
    ctx.reply.integer(0)
    return
  }
  restore(ctx, dst, key, entry)
  del(ctx, src, key)
  notifyNew(ctx, key, dst)
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'move_from', key, src)
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'move_to', key, dst)
  ctx.reply.integer(1)
}

/** A deep copy of a value through its durable encoding (the two never share an object). */
export function copyValue(type: number, value: unknown): unknown {
  const vt = valueType(type)
  const w = new ByteWriter(256)
  vt.encode(w, value)
  const bytes = w.view()
  const copy = vt.decode(new ByteReader(bytes, 0, bytes.length))
  if (type === TYPE_STRING) copyStringEncoding(value as Buffer, copy as Buffer)
  return copy
}

/** COPY source destination [DB destination-db] [REPLACE] */
export const copyCommand: Handler = (ctx, argv) => {
  const srcDb = ctx.client.db
  let dstDb = srcDb
  let replace = false
  for (let j = 3; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    const additional = argv.length - j - 1
    if (opt === 'replace') {
      replace = true
    } else if (opt === 'db' && additional >= 1) {
      const db = dbIndexOrReply(ctx, argv[j + 1] as Buffer)
      if (db === null) return
      dstDb = db
      j++
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  const src = keyOf(argv[1] as Buffer)
  const dst = keyOf(argv[2] as Buffer)
  if (srcDb === dstDb && src === dst) {
    ctx.reply.error(ERR_SAME_OBJECT)
    return
  }
  const entry = lookupKey(asReader(ctx), src) // lookupKeyRead
  if (entry === undefined) {
    ctx.reply.integer(0)
    return
  }
  if (lookupKey(ctx, dst, dstDb) !== undefined && !replace) {
    ctx.reply.integer(0)
    return
  }
  const copy = new Entry(entry.type, copyValue(entry.type, entry.value), entry.expireAtMs, 0)
  restore(ctx, dstDb, dst, copy)
  notifyNew(ctx, dst, dstDb)
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'copy_to', dst, dstDb)
  ctx.reply.integer(1)
}
