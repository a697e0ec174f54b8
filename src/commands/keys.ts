// The keyspace commands (Redis 7.0.15 db.c, object.c): DEL UNLINK EXISTS TYPE RENAME RENAMENX
// COPY MOVE KEYS SCAN RANDOMKEY DBSIZE TOUCH OBJECT SWAPDB FLUSHDB FLUSHALL.
// Invariants, and why:
// - RENAME, MOVE and COPY live in keys-copy.ts (whole values moved by RESTORE events).
// - SCAN cursors are positions in a fixed 32-bit hash space (FNV-1a of the key): a call returns
//   every key of whole hash buckets from the cursor on, and the next cursor is the end of the
//   last bucket returned. The keys come from a snapshot of the database taken when a scan
//   starts (cursor 0), bucketed by hash; a later call uses the newest snapshot of that database,
//   which was taken after the scan began, so every key present for the whole scan is in it and
//   is returned exactly when the cursor passes its hash: complete, and the cursor means the same
//   after a restart (a fresh snapshot is taken then). Deleted keys are skipped; keys added
//   during a scan may or may not be returned (as Redis allows). Cost: O(N) when a scan starts,
//   O(COUNT) per call after.
// - Lookups that Redis does with LOOKUP_NOTOUCH (TYPE, EXISTS, OBJECT) do not move the access
//   time that OBJECT IDLETIME reports.

import { flushAllEv, flushDbEv, swapDbEv } from '../state/core-events.js'
import { idleMs, lfuDecayed, touchKey } from '../state/lru.js'
import {
  DB_COUNT, type Entry, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET,
} from '../state/keyspace.js'
import { TYPE_STREAM } from '../state/stream.js'
import { scanCursorOrReply } from './coll-util.js'
import { encodingOf } from './encoding.js'
import { globMatch } from './glob.js'
import { isExpired, lookupKey, lookupKeyType } from './lookup.js'
import { NOTIFY_GENERIC, notifyKeyspaceEvent } from './notify.js'
import { int32OrReply, int64OrReply, clampSafe, optionName } from './numeric.js'
import { randomIndex } from './random.js'
import { services, type ServerServices } from './services.js'
import {
  ERR_SYNTAX, keyBuffer, keyOf, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'
import {
  ERR_DB_RANGE, copyCommand, del, moveCommand, renameCommand, renamenxCommand,
} from './keys-copy.js'
import { stringEncoding, stringRefcount } from './string.js'
import { configYes, countLazyFreed, freedLazily } from './lazyfree.js'


const TYPE_NAMES: readonly string[] = ['string', 'list', 'hash', 'set', 'zset', 'stream']

export function typeName(entry: Entry | undefined): string {
  if (entry === undefined) return 'none'
  return TYPE_NAMES[entry.type] ?? 'none'
}


// ---------------------------------------------------------------------------------------------
// DEL UNLINK EXISTS TOUCH TYPE DBSIZE

/**
 * delGenericCommand: the number of keys removed (an expired key counts as missing). `lazy`
 * (UNLINK, or DEL under lazyfree-lazy-user-del): each value Redis would free in its lazy-free
 * thread counts in INFO lazyfreed_objects (commands/lazyfree.ts).
 */
function delGeneric(lazyAlways: boolean): Handler {
  return (ctx, argv) => {
    let deleted = 0
    let lazyfreed = 0
    const lazy = lazyAlways || configYes(ctx, 'lazyfree-lazy-user-del')
    const db = ctx.client.db
    for (let j = 1; j < argv.length; j++) {
      const key = keyOf(argv[j] as Buffer)
      const entry = lookupKey(ctx, key, db, false)
      if (entry === undefined) continue
      if (lazy && freedLazily(ctx, entry)) lazyfreed++
      del(ctx, db, key)
      notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
      deleted++
    }
    countLazyFreed(ctx, lazyfreed)
    ctx.reply.integer(deleted)
  }
}

const existsCommand: Handler = (ctx, argv) => {
  let count = 0
  for (let j = 1; j < argv.length; j++) {
    if (lookupKeyType(ctx, keyOf(argv[j] as Buffer), ctx.client.db, false) !== -1) count++
  }
  ctx.reply.integer(count)
}

/** TOUCH: Redis's lookupKeyRead, which touches even for a CLIENT NO-TOUCH client. */
const touchCommand: Handler = (ctx, argv) => {
  let count = 0
  for (let j = 1; j < argv.length; j++) {
    const entry = lookupKey(ctx, keyOf(argv[j] as Buffer), ctx.client.db, false)
    if (entry === undefined) continue
    touchKey(entry, ctx.nowMs)
    count++
  }
  ctx.reply.integer(count)
}

const typeCommand: Handler = (ctx, argv) => {
  const type = lookupKeyType(ctx, keyOf(argv[1] as Buffer), ctx.client.db, false)
  ctx.reply.simple(type === -1 ? 'none' : TYPE_NAMES[type] ?? 'none')
}

const dbsizeCommand: Handler = (ctx) => {
  ctx.reply.integer(ctx.keyspace.db(ctx.client.db).size)
}

// ---------------------------------------------------------------------------------------------
// KEYS and SCAN

const keysCommand: Handler = (ctx, argv) => {
  const pattern = argv[1] as Buffer
  const all = pattern.length === 1 && pattern[0] === 42
  const out: string[] = []
  for (const [key, entry] of ctx.keyspace.db(ctx.client.db)) {
    if (!all && !globMatch(pattern, keyBuffer(key))) continue
    if (isExpired(entry, ctx.nowMs)) continue // KEYS skips expired keys without deleting them
    out.push(key)
  }
  ctx.reply.arrayHeader(out.length)
  for (const key of out) ctx.reply.bulk(keyBuffer(key))
}

/**
 * SCAN's cursors are KeyMap.scan's (state/key-table.ts): part * 2^32 + a hash position, below
 * 2^38; a larger cursor ends the walk at once.
 */
const CURSOR_END = 2 ** 38

/** SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
const scanCommand: Handler = (ctx, argv) => {
  const cursor = scanCursorOrReply(ctx, argv[1] as Buffer)
  if (cursor === null) return
  let count = 10
  let pattern: Buffer | null = null
  let type: string | null = null
  for (let i = 2; i < argv.length;) {
    const left = argv.length - i
    const opt = optionName(argv[i] as Buffer)
    if (opt === 'count' && left >= 2) {
      const v = int64OrReply(ctx, argv[i + 1] as Buffer)
      if (v === null) return
      if (v < 1) {
        ctx.reply.error(ERR_SYNTAX)
        return
      }
      count = clampSafe(v)
      i += 2
    } else if (opt === 'match' && left >= 2) {
      const p = argv[i + 1] as Buffer
      pattern = p.length === 1 && p[0] === 42 ? null : p
      i += 2
    } else if (opt === 'type' && left >= 2) {
      type = optionName(argv[i + 1] as Buffer)
      i += 2
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  const { next, keys } = scanKeys(ctx, cursor, count, pattern, type)
  ctx.reply.arrayHeader(2)
  ctx.reply.bulk(String(next))
  ctx.reply.arrayHeader(keys.length)
  for (const key of keys) ctx.reply.bulk(keyBuffer(key))
}

/** One SCAN step: the next cursor and the keys (filtered; expired ones deleted as Redis does). */
export function scanKeys(
  ctx: CommandContext, cursor: number, count: number, pattern: Buffer | null, type: string | null,
): { next: number; keys: string[] } {
  const db = ctx.client.db
  const map = ctx.keyspace.db(db)
  if (cursor >= CURSOR_END) return { next: 0, keys: [] }
  const { next, keys: candidates } = map.scan(cursor, count, count * 10)
  const keys: string[] = []
  for (const key of candidates) {
    if (pattern !== null && !globMatch(pattern, keyBuffer(key))) continue
    // The TYPE filter looks the key up (an expired key is deleted there, as in Redis).
    const live = lookupKey(ctx, key, db, false, type !== null)
    if (type !== null && typeName(live) !== type) continue
    if (live === undefined) continue // expired: deleted now
    keys.push(key)
  }
  return { next, keys }
}

// ---------------------------------------------------------------------------------------------
// RANDOMKEY

const RANDOMKEY_TRIES = 100

const randomkeyCommand: Handler = (ctx) => {
  const db = ctx.client.db
  const map = ctx.keyspace.db(db)
  // Uniform over the keys (KeyMap's sampling positions); an expired pick is deleted, as in
  // Redis's dbRandomKey, and another one drawn.
  for (let t = 0; t < RANDOMKEY_TRIES && map.size > 0; t++) {
    const key = map.sampleKey(randomIndex(map.size), false)
    if (lookupKey(ctx, key, db, false, false) === undefined) continue // expired: try again
    ctx.reply.bulk(keyBuffer(key))
    return
  }
  ctx.reply.nullBulk()
}

// ---------------------------------------------------------------------------------------------
// OBJECT

const OBJECT_HELP = [
  'OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'ENCODING <key>',
  '    Return the kind of internal representation used in order to store the value',
  '    associated with a <key>.',
  'FREQ <key>',
  '    Return the access frequency index of the <key>. The returned integer is',
  '    proportional to the logarithm of the recent access frequency of the key.',
  'IDLETIME <key>',
  '    Return the idle time of the <key>, that is the approximated number of',
  '    seconds elapsed since the last access to the key.',
  'REFCOUNT <key>',
  '    Return the number of references of the value associated with the specified',
  '    <key>.',
  'HELP',
  '    Prints this help.',
]

const LFU_TAIL = ' Please note that when switching between policies at runtime LRU and LFU data' +
  ' will take some time to adjust.'

/** An LFU maxmemory-policy is configured (when the server is there to ask). */
function lfuPolicy(ctx: CommandContext): boolean {
  const server = services(ctx) as ReturnType<typeof services> | undefined
  if (server === undefined || server === null || server.config === undefined) return false
  return server.config.get('maxmemory-policy').includes('lfu')
}

function objectEntryOrReply(ctx: CommandContext, argv: Buffer[]): Entry | undefined {
  const entry = lookupKey(ctx, keyOf(argv[2] as Buffer), ctx.client.db, false, false, true)
  if (entry === undefined) ctx.reply.nullBulk()
  return entry
}

const objectHelpCommand: Handler = (ctx) => {
  ctx.reply.arrayHeader(OBJECT_HELP.length)
  for (const line of OBJECT_HELP) ctx.reply.simple(line)
}

const objectEncodingCommand: Handler = (ctx, argv) => {
  const entry = objectEntryOrReply(ctx, argv)
  if (entry === undefined) return
  ctx.reply.bulk(entry.type === TYPE_STRING
    ? stringEncoding(entry.value as Buffer) : encodingOf(entry) ?? 'unknown')
}

const objectRefcountCommand: Handler = (ctx, argv) => {
  const entry = objectEntryOrReply(ctx, argv)
  if (entry === undefined) return
  ctx.reply.integer(entry.type === TYPE_STRING ? stringRefcount(entry.value as Buffer) : 1)
}

const objectIdletimeCommand: Handler = (ctx, argv) => {
  const entry = objectEntryOrReply(ctx, argv)
  if (entry === undefined) return
  if (lfuPolicy(ctx)) {
    ctx.reply.error('ERR An LFU maxmemory policy is selected, idle time not tracked.' + LFU_TAIL)
    return
  }
  ctx.reply.integer(Math.floor(idleMs(entry.lru, ctx.nowMs) / 1000))
}

const objectFreqCommand: Handler = (ctx, argv) => {
  const entry = objectEntryOrReply(ctx, argv)
  if (entry === undefined) return
  if (!lfuPolicy(ctx)) {
    ctx.reply.error('ERR An LFU maxmemory policy is not selected, access frequency not tracked.' +
      LFU_TAIL)
    return
  }
  ctx.reply.integer(lfuDecayed(entry.lru, ctx.nowMs))
}

const objectCommand: Handler = (ctx, argv) => {
  ctx.reply.error(`ERR unknown subcommand or wrong number of arguments for '${
    (argv[1] as Buffer | undefined)?.toString('latin1') ?? ''}'. Try OBJECT HELP.`)
}

// ---------------------------------------------------------------------------------------------
// SWAPDB FLUSHDB FLUSHALL

const swapdbCommand: Handler = (ctx, argv) => {
  const a = int32OrReply(ctx, argv[1] as Buffer, 'invalid first DB index')
  if (a === null) return
  const b = int32OrReply(ctx, argv[2] as Buffer, 'invalid second DB index')
  if (b === null) return
  if (a < 0 || a >= DB_COUNT || b < 0 || b >= DB_COUNT) {
    ctx.reply.error(ERR_DB_RANGE)
    return
  }
  if (a !== b) ctx.txn.apply(swapDbEv(a, b))
  ctx.reply.simple('OK')
}

/**
 * getFlushCommandFlags: [ASYNC|SYNC], or lazyfree-lazy-user-flush without one; null after a
 * syntax error. Both are synchronous here (a map is dropped whole); ASYNC only counts the keys
 * in INFO lazyfreed_objects, as Redis's emptyDbAsync (commands/lazyfree.ts).
 */
function flushIsAsync(ctx: CommandContext, argv: Buffer[]): boolean | null {
  if (argv.length === 1) return configYes(ctx, 'lazyfree-lazy-user-flush')
  if (argv.length === 2) {
    const opt = optionName(argv[1] as Buffer)
    if (opt === 'sync' || opt === 'async') return opt === 'async'
  }
  ctx.reply.error(ERR_SYNTAX)
  return null
}

/** Redis's trackingInvalidateKeysOnFlush: every tracking client is told "all keys". */
function trackingFlushed(ctx: CommandContext): void {
  const sv = ctx.server as ServerServices | null | undefined
  sv?.tracking?.flushed()
}

const flushdbCommand: Handler = (ctx, argv) => {
  const async = flushIsAsync(ctx, argv)
  if (async === null) return
  if (async) countLazyFreed(ctx, ctx.keyspace.db(ctx.client.db).size)
  ctx.txn.apply(flushDbEv(ctx.client.db))
  trackingFlushed(ctx)
  ctx.reply.simple('OK')
}

const flushallCommand: Handler = (ctx, argv) => {
  const async = flushIsAsync(ctx, argv)
  if (async === null) return
  if (async) {
    let keys = 0
    for (let db = 0; db < DB_COUNT; db++) keys += ctx.keyspace.db(db).size
    countLazyFreed(ctx, keys)
  }
  ctx.txn.apply(flushAllEv())
  trackingFlushed(ctx)
  ctx.reply.simple('OK')
}

// ---------------------------------------------------------------------------------------------
// The table (from Redis 7.0.15 COMMAND INFO; tips, key specs and docs: command-docs.ts)

type Flags = CommandSpec['flags']
function spec(
  name: string, arity: number, flags: Flags, keys: [number, number, number],
  categories: string[], handler: Handler, subcommands?: CommandSpec[],
): CommandSpec {
  return Object.freeze({
    name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], categories, handler,
    ...(subcommands === undefined ? {} : { subcommands }),
  })
}

const K1: [number, number, number] = [1, 1, 1]
const K12: [number, number, number] = [1, 2, 1]
const KALL: [number, number, number] = [1, -1, 1]
const K0: [number, number, number] = [0, 0, 0]
const OBJ_KEY: [number, number, number] = [2, 2, 1]

export const keyCommands: CommandSpec[] = [
  spec('del', -2, ['write'], KALL, ['keyspace', 'write', 'slow'], delGeneric(false)),
  spec('unlink', -2, ['write', 'fast'], KALL, ['keyspace', 'write', 'fast'],
    delGeneric(true)),
  spec('exists', -2, ['readonly', 'fast'], KALL, ['keyspace', 'read', 'fast'], existsCommand),
  spec('type', 2, ['readonly', 'fast'], K1, ['keyspace', 'read', 'fast'], typeCommand),
  spec('rename', 3, ['write'], K12, ['keyspace', 'write', 'slow'], renameCommand),
  spec('renamenx', 3, ['write', 'fast'], K12, ['keyspace', 'write', 'fast'], renamenxCommand),
  spec('copy', -3, ['write', 'denyoom'], K12, ['keyspace', 'write', 'slow'], copyCommand),
  spec('move', 3, ['write', 'fast'], K1, ['keyspace', 'write', 'fast'], moveCommand),
  spec('keys', 2, ['readonly'], K0, ['keyspace', 'read', 'slow', 'dangerous'], keysCommand),
  spec('scan', -2, ['readonly'], K0, ['keyspace', 'read', 'slow'], scanCommand),
  spec('randomkey', 1, ['readonly'], K0, ['keyspace', 'read', 'slow'], randomkeyCommand),
  spec('dbsize', 1, ['readonly', 'fast'], K0, ['keyspace', 'read', 'fast'], dbsizeCommand),
  spec('touch', -2, ['readonly', 'fast'], KALL, ['keyspace', 'read', 'fast'], touchCommand),
  spec('object', -2, [], K0, ['slow'], objectCommand, [
    spec('object|help', 2, ['loading', 'stale'], K0, ['keyspace', 'slow'], objectHelpCommand),
    spec('object|freq', 3, ['readonly'], OBJ_KEY, ['keyspace', 'read', 'slow'],
      objectFreqCommand),
    spec('object|idletime', 3, ['readonly'], OBJ_KEY, ['keyspace', 'read', 'slow'],
      objectIdletimeCommand),
    spec('object|encoding', 3, ['readonly'], OBJ_KEY, ['keyspace', 'read', 'slow'],
      objectEncodingCommand),
    spec('object|refcount', 3, ['readonly'], OBJ_KEY, ['keyspace', 'read', 'slow'],
      objectRefcountCommand),
  ]),
  spec('swapdb', 3, ['write', 'fast'], K0, ['keyspace', 'write', 'fast', 'dangerous'],
    swapdbCommand),
  spec('flushdb', -1, ['write'], K0, ['keyspace', 'write', 'slow', 'dangerous'], flushdbCommand),
  spec('flushall', -1, ['write'], K0, ['keyspace', 'write', 'slow', 'dangerous'],
    flushallCommand),
]

/** Types by name, for callers that filter by TYPE. */
export const TYPE_BY_NAME: ReadonlyMap<string, number> = new Map([
  ['string', TYPE_STRING], ['list', TYPE_LIST], ['hash', TYPE_HASH], ['set', TYPE_SET],
  ['zset', TYPE_ZSET], ['stream', TYPE_STREAM],
])
