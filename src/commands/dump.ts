// DUMP, RESTORE and RESTORE-ASKING (Redis 7.0.15 cluster.c dumpCommand / restoreCommand), in
// Redis's own serialization (state/rdb-value.ts): a DUMP from redis-server 7.0.15 restores here
// and the other way round. A RESTORE is one RESTORE event (state/core-events.ts, the event
// checkpoints and COPY already use), preceded by a DEL when REPLACE removes an existing key,
// so it is crash-atomic and durable like any write. IDLETIME / FREQ set the key's access state
// (state/lru.ts), which is volatile as in Redis. The payload is untrusted: its footer is checked
// first (version ≤ 10, CRC-64), then every read is bounds-checked; a payload that fails answers
// Redis's errors and changes nothing.
// Differences: payloads are always validated deeply (sanitize-dump-payload is accepted and has
// no effect: capykv behaves as `yes`); module values and zipmaps (Redis 2.4) answer "Bad data
// format".

import { delEv, restoreEv } from '../state/core-events.js'
import { restoreAccess } from '../state/lru.js'
import { RdbError, verifyPayload } from '../state/rdb-format.js'
import { dumpValue, restoreValue, type RdbValue } from '../state/rdb-value.js'
import { encodingOf } from './encoding.js'
import { noteExpiry } from './expire.js'
import { asReader, lookupKey } from './lookup.js'
import { NOTIFY_GENERIC, notifyKeyspaceEvent } from './notify.js'
import { int64OrReply, optionName } from './numeric.js'
import { ERR_SYNTAX, keyOf, type CommandContext, type CommandSpec, type Handler } from './spec.js'

export const ERR_BUSYKEY = 'BUSYKEY Target key name already exists.'
export const ERR_PAYLOAD = 'ERR DUMP payload version or checksum are wrong'
export const ERR_BAD_FORMAT = 'ERR Bad data format'

/** The DUMP payload of a key's value, or null when the key does not exist (lookupKeyRead). */
export function dumpKey(ctx: CommandContext, key: string): Buffer | null {
  const entry = lookupKey(asReader(ctx), key)
  if (entry === undefined) return null
  return dumpValue(entry.type, entry.value, encodingOf(entry))
}

const dumpCommand: Handler = (ctx, argv) => {
  const payload = dumpKey(ctx, keyOf(argv[1] as Buffer))
  if (payload === null) ctx.reply.nullBulk()
  else ctx.reply.bulk(payload)
}

interface RestoreOptions { replace: boolean; absttl: boolean; idle: number; freq: number }

/** RESTORE's options from argv[4]; null after replying the error. */
function restoreOptions(ctx: CommandContext, argv: Buffer[]): RestoreOptions | null {
  const o: RestoreOptions = { replace: false, absttl: false, idle: -1, freq: -1 }
  for (let j = 4; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    const additional = argv.length - j - 1
    if (opt === 'replace') {
      o.replace = true
    } else if (opt === 'absttl') {
      o.absttl = true
    } else if (opt === 'idletime' && additional >= 1 && o.freq === -1) {
      const v = int64OrReply(ctx, argv[++j] as Buffer)
      if (v === null) return null
      if (v < 0) {
        ctx.reply.error('ERR Invalid IDLETIME value, must be >= 0')
        return null
      }
      o.idle = Number(v)
    } else if (opt === 'freq' && additional >= 1 && o.idle === -1) {
      const v = int64OrReply(ctx, argv[++j] as Buffer)
      if (v === null) return null
      if (v < 0 || v > 255) {
        ctx.reply.error('ERR Invalid FREQ value, must be >= 0 and <= 255')
        return null
      }
      o.freq = Number(v)
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return o
}

/** The value of a verified payload, or null after replying the error. */
export function payloadValueOrReply(ctx: CommandContext, payload: Buffer): RdbValue | null {
  if (!verifyPayload(payload)) {
    ctx.reply.error(ERR_PAYLOAD)
    return null
  }
  try {
    return restoreValue(payload)
  } catch (e) {
    if (!(e instanceof RdbError)) throw e
    ctx.reply.error(ERR_BAD_FORMAT)
    return null
  }
}

/** RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency] */
const restoreCommand: Handler = (ctx, argv) => {
  const o = restoreOptions(ctx, argv)
  if (o === null) return
  const key = keyOf(argv[1] as Buffer)
  const db = ctx.client.db
  if (!o.replace && lookupKey(ctx, key) !== undefined) {
    ctx.reply.error(ERR_BUSYKEY)
    return
  }
  const ttlArg = int64OrReply(ctx, argv[2] as Buffer)
  if (ttlArg === null) return
  if (ttlArg < 0) {
    ctx.reply.error('ERR Invalid TTL value, must be >= 0')
    return
  }
  const v = payloadValueOrReply(ctx, argv[3] as Buffer)
  if (v === null) return
  let deleted = false
  if (o.replace && lookupKey(ctx, key) !== undefined) {
    ctx.txn.apply(delEv(db, key))
    deleted = true
  }
  let ttl = Number(ttlArg)
  if (ttl !== 0 && !o.absttl) ttl += ctx.nowMs
  if (ttl !== 0 && ttl <= ctx.nowMs) {
    if (deleted) notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
    ctx.reply.simple('OK')
    return
  }
  ctx.txn.apply(restoreEv(db, key, v.type, ttl, v.value))
  if (ttl !== 0) noteExpiry(ctx.keyspace, db, key)
  const entry = ctx.keyspace.get(db, key)
  if (entry !== undefined) restoreAccess(entry, o.freq, o.idle, ctx.nowMs)
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'restore', key, db)
  ctx.reply.simple('OK')
}

const K1 = { firstKey: 1, lastKey: 1, step: 1 }

function spec(name: string, arity: number, flags: CommandSpec['flags'],
  categories: string[], handler: Handler): CommandSpec {
  return { name, arity, flags, ...K1, categories, handler }
}

export const dumpCommands: CommandSpec[] = [
  spec('dump', 2, ['readonly'], ['keyspace', 'read', 'slow'], dumpCommand),
  spec('restore', -4, ['write', 'denyoom'], ['keyspace', 'write', 'slow', 'dangerous'],
    restoreCommand),
  spec('restore-asking', -4, ['write', 'denyoom', 'asking'], ['keyspace', 'write', 'slow', 'dangerous'],
    restoreCommand),
]
