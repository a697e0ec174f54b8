// The string commands (Redis 7.0.15 t_string.c): one generic function per family, as Valkey's
// setGenericCommand / incrDecrCommand.
//   setGeneric      SET [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL], SETNX, SETEX, PSETEX
//                   replies +OK / nil (NX/XX refused) / :1 :0 (SETNX) / the old value (GET)
//   getGeneric      GET, GETSET, GETDEL, GETEX — the old value or nil; WRONGTYPE on other types
//   msetGeneric     MSET (+OK), MSETNX (:1 when every key was new, else :0 and nothing set)
//   incrDecrGeneric INCR DECR INCRBY DECRBY — the new value (int64, overflow refused)
//   INCRBYFLOAT (80-bit long double, long-double.ts), APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE,
//   LCS, MGET.
// Invariants, and why:
// - Every write is ONE whole-value PUT event per key with an absolute expireAtMs (relative TTLs
//   become absolute at ctx.nowMs), so replay needs no clock (DESIGN rule 1). INCR and
//   INCRBYFLOAT log their result, APPEND/SETRANGE the whole new value. KEEPTTL, INCR*, APPEND
//   and SETRANGE carry the key's current expiry into the PUT, as Redis keeps it.
// - A handler validates everything first, then applies: an error reply means no event (rule 3).
//   Lazy expiry in lookupKey may delete an expired key first; that is a correct event anyway.
// - Stored string Buffers are never modified in place (undo and checkpoints share them).
// - OBJECT ENCODING/REFCOUNT need Redis's object encoding, which depends on how the value was
//   made, not only on its bytes: `encodingHints` remembers it per Buffer (volatile, like Redis's
//   encoding, which a restart recomputes).

import type { Args } from '../resp/args.js'
import { delEv, expireEv } from '../state/core-events.js'
import { TYPE_STRING, type Entry, type KeyMap } from '../state/keyspace.js'
import { stringEncodingHints, type StringEncodingHint } from '../state/encoding-hints.js'
import { noteExpiry } from './expire.js'
import {
  addLongDouble, formatHuman, longDoubleFromInt, parseLongDouble, type LongDouble,
} from './long-double.js'
import {
  asReader, findLiveValue, lookupKey, lookupKeyArg, lookupKeyExpiry, lookupKeyType,
  replyKeptString, replyStringArg, replyValue, touchLiveValue,
} from './lookup.js'
import { NOTIFY_GENERIC, NOTIFY_STRING, notifyKeyspaceEvent, notifyNew } from './notify.js'
import {
  INT64_MAX, INT64_MIN, big, clampSafe, int64OrReply, isInt64Canonical, optionName, parseInt64,
} from './numeric.js'
import {
  ERR_NOT_FLOAT, ERR_NOT_INTEGER, ERR_SYNTAX, WRONGTYPE, argsHandler, keyOf,
  type ArgsHandler, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'

/** proto-max-bulk-len default: the largest string a command may build. */
export const STRING_MAX_BYTES = 512 * 1024 * 1024
/** OBJ_ENCODING_EMBSTR_SIZE_LIMIT. */
export const EMBSTR_MAX_BYTES = 44
/** OBJ_SHARED_INTEGERS: int values 0..9999 are shared objects (REFCOUNT 2147483647). */
export const SHARED_INTEGERS = 10000
/** LCS refuses a DP table bigger than this (proto-max-bulk-len, as Redis 7.0.15). */
const LCS_TABLE_MAX_BYTES = 512 * 1024 * 1024

const ERR_STRING_TOO_LONG = 'ERR string exceeds maximum allowed size (proto-max-bulk-len)'

// ---------------------------------------------------------------------------------------------
// Object encodings (OBJECT ENCODING / REFCOUNT)

/**
 * How Redis made the object holding a stored Buffer: absent = tryObjectEncoding (int / embstr /
 * raw by content), 'raw' = forced raw (APPEND, SETRANGE), 'str' = createStringObject (embstr or
 * raw by length, never int: INCRBYFLOAT), 'int1' = an int that is not shared (COPY of an int).
 */
export type EncodingHint = StringEncodingHint
const encodingHints = stringEncodingHints

/** A value built in place by a bit command (SETBIT, BITOP, BITFIELD): raw, as Redis's. */
export function markRawString(value: Buffer): void {
  encodingHints.set(value, 'raw')
}

export function stringEncoding(value: Buffer): 'int' | 'embstr' | 'raw' {
  const hint = encodingHints.get(value)
  if (hint === 'raw') return 'raw'
  if (hint === 'int1') return 'int'
  if (hint === undefined && isInt64Canonical(value)) return 'int'
  return value.length <= EMBSTR_MAX_BYTES ? 'embstr' : 'raw'
}

/** OBJECT REFCOUNT of a string: shared integers report INT_MAX, as Redis's OBJ_SHARED_REFCOUNT. */
export function stringRefcount(value: Buffer): number {
  if (encodingHints.has(value) || !isInt64Canonical(value)) return 1
  const n = parseInt64(value)
  return typeof n === 'number' && n >= 0 && n < SHARED_INTEGERS ? 2147483647 : 1
}

/** COPY: Redis's dupStringObject keeps the encoding; a copied int is never shared. */
export function copyStringEncoding(from: Buffer, to: Buffer): void {
  const hint = encodingHints.get(from)
  const encoding = stringEncoding(from)
  if (encoding === 'int') encodingHints.set(to, 'int1')
  else if (hint !== undefined) encodingHints.set(to, hint)
  else if (encoding === 'embstr') encodingHints.set(to, 'str')
  else encodingHints.set(to, 'raw')
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** Apply a PUT (and index its expiry for the active expire cycle). */
export function putString(
  ctx: CommandContext, db: number, key: string, value: Buffer, expireAtMs: number,
): void {
  ctx.txn.put(db, key, value, expireAtMs)
  if (expireAtMs !== 0) noteExpiry(ctx.keyspace, db, key)
}

/**
 * putString, then Redis's notifications of the write: `new` when the key was created (dbAdd),
 * then `event` (set, incrby, append…) in the string class.
 */
function putNotify(ctx: CommandContext, key: string, value: Buffer, expireAtMs: number,
  created: boolean, event: string): void {
  putString(ctx, ctx.client.db, key, value, expireAtMs)
  if (created) notifyNew(ctx, key)
  notifyKeyspaceEvent(ctx, NOTIFY_STRING, event, key)
}

/** Delete a key and notify `del`, as Redis's user deletes do. */
function deleteKey(ctx: CommandContext, db: number, key: string): void {
  ctx.txn.apply(delEv(db, key))
  notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
}

/** The live string entry, undefined when missing; null after replying WRONGTYPE. */
function stringEntryOrReply(ctx: CommandContext, key: string): Entry | undefined | null {
  const entry = lookupKey(ctx, key)
  if (entry === undefined) return undefined
  if (entry.type !== TYPE_STRING) {
    ctx.reply.error(WRONGTYPE)
    return null
  }
  return entry
}

function checkStringLength(ctx: CommandContext, size: number): boolean {
  if (size > STRING_MAX_BYTES) {
    ctx.reply.error(ERR_STRING_TOO_LONG)
    return false
  }
  return true
}

function expireTimeError(ctx: CommandContext, command: string): void {
  ctx.reply.error(`ERR invalid expire time in '${command}' command`)
}

// ---------------------------------------------------------------------------------------------
// GET family

/** getGenericCommand: replies the value or nil; false after WRONGTYPE. */
function getGeneric(ctx: CommandContext, key: string): boolean {
  // lookupKeyReadOrReply in Redis, also for SET … GET, GETSET, GETDEL: a miss is a keymiss.
  const rctx = asReader(ctx)
  if (replyKeptString(rctx, key)) return true // a string kept in the index, replied in place
  const entry = stringEntryOrReply(rctx, key)
  if (entry === null) return false
  if (entry === undefined) ctx.reply.nullBulk()
  else ctx.reply.bulk(entry.value as Buffer)
  return true
}

const getCommand = argsHandler((ctx, args) => {
  // getGeneric with the lookup by the argument's bytes (no key string when the key is found).
  const rctx = asReader(ctx)
  if (replyStringArg(rctx, args, 1)) return // a string kept in the index: no Entry, no copy
  const entry = lookupKeyArg(rctx, args, 1)
  if (entry === undefined) ctx.reply.nullBulk()
  else if (entry.type !== TYPE_STRING) ctx.reply.error(WRONGTYPE)
  else ctx.reply.bulk(entry.value as Buffer)
})

const getdelCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const rctx = asReader(ctx) // getGenericCommand's read lookup
  if (!replyKeptString(rctx, key)) {
    const entry = stringEntryOrReply(rctx, key)
    if (entry === null) return
    if (entry === undefined) {
      ctx.reply.nullBulk()
      return
    }
    ctx.reply.bulk(entry.value as Buffer)
  }
  deleteKey(ctx, ctx.client.db, key)
}

const getsetCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  if (!getGeneric(ctx, key)) return
  ctx.keyspace.findKey(ctx.client.db, key) // whether it exists (no Entry made)
  putNotify(ctx, key, argv[2] as Buffer, 0, ctx.keyspace.foundHandle === -1, 'set')
}

// ---------------------------------------------------------------------------------------------
// SET family

const F_NX = 1 << 0
const F_XX = 1 << 1
const F_EX = 1 << 2
const F_PX = 1 << 3
const F_KEEPTTL = 1 << 4
const F_GET = 1 << 5
const F_EXAT = 1 << 6
const F_PXAT = 1 << 7
const F_PERSIST = 1 << 8
const F_ANY_EXPIRE = F_EX | F_PX | F_EXAT | F_PXAT

interface ExtendedArgs {
  flags: number
  /** The expire argument, when EX/PX/EXAT/PXAT was given. */
  expire: Buffer | null
}

const NO_EXTENDED_ARGS: ExtendedArgs = Object.freeze({ flags: 0, expire: null })

/**
 * parseExtendedStringArgumentsOrReply: SET (from argv[3]) or GETEX (from argv[2]) options.
 * Conflicting options are a syntax error, except a repeated one (EX 1 EX 2: the last wins).
 */
function parseExtendedArgs(
  ctx: CommandContext, argv: Buffer[], command: 'set' | 'get',
): ExtendedArgs | null {
  const isSet = command === 'set'
  if (argv.length === (isSet ? 3 : 2)) return NO_EXTENDED_ARGS // the common case: no options
  let flags = 0
  let expire: Buffer | null = null
  for (let j = isSet ? 3 : 2; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    const next = j === argv.length - 1 ? null : (argv[j + 1] as Buffer)
    const noOtherExpire = (own: number): boolean =>
      (flags & (F_KEEPTTL | F_PERSIST | (F_ANY_EXPIRE & ~own))) === 0 && next !== null
    if (opt === 'nx' && (flags & F_XX) === 0 && isSet) {
      flags |= F_NX
    } else if (opt === 'xx' && (flags & F_NX) === 0 && isSet) {
      flags |= F_XX
    } else if (opt === 'get' && isSet) {
      flags |= F_GET
    } else if (opt === 'keepttl' && (flags & (F_PERSIST | F_ANY_EXPIRE)) === 0 && isSet) {
      flags |= F_KEEPTTL
    } else if (opt === 'persist' && !isSet && (flags & (F_ANY_EXPIRE | F_KEEPTTL)) === 0) {
      flags |= F_PERSIST
    } else if (opt === 'ex' && noOtherExpire(F_EX)) {
      flags |= F_EX
      expire = next
      j++
    } else if (opt === 'px' && noOtherExpire(F_PX)) {
      flags |= F_PX
      expire = next
      j++
    } else if (opt === 'exat' && noOtherExpire(F_EXAT)) {
      flags |= F_EXAT
      expire = next
      j++
    } else if (opt === 'pxat' && noOtherExpire(F_PXAT)) {
      flags |= F_PXAT
      expire = next
      j++
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return { flags, expire }
}

/**
 * getExpireMillisecondsOrReply: the absolute expiry time in ms, or null after the error.
 * Seconds are checked for overflow before ×1000; EX/PX add the command's time.
 */
function expireAtOrReply(
  ctx: CommandContext, arg: Buffer, flags: number, command: string,
): number | null {
  const parsed = int64OrReply(ctx, arg)
  if (parsed === null) return null
  let ms = big(parsed)
  const seconds = (flags & (F_EX | F_EXAT)) !== 0
  if (ms <= 0n || (seconds && ms > INT64_MAX / 1000n)) {
    expireTimeError(ctx, command)
    return null
  }
  if (seconds) ms *= 1000n
  if ((flags & (F_EX | F_PX)) !== 0) ms += BigInt(ctx.nowMs)
  if (ms > INT64_MAX) {
    expireTimeError(ctx, command) // the C addition overflows to a negative number
    return null
  }
  return Number(ms)
}

/**
 * setGenericCommand. `okReply`/`abortReply` replace +OK and nil (SETNX answers :1 / :0).
 */
function setGeneric(
  ctx: CommandContext, command: string, flags: number, key: string, value: Buffer,
  expire: Buffer | null, okReply: (() => void) | null, abortReply: (() => void) | null,
): void {
  let expireAtMs = 0
  if (expire !== null) {
    const at = expireAtOrReply(ctx, expire, flags, command)
    if (at === null) return
    expireAtMs = at
  }
  if ((flags & F_GET) !== 0 && !getGeneric(ctx, key)) return
  const existingExpireAtMs = lookupKeyExpiry(ctx, key) // a string in the index stays there
  const found = existingExpireAtMs !== -1
  if (((flags & F_NX) !== 0 && found) || ((flags & F_XX) !== 0 && !found)) {
    if ((flags & F_GET) === 0) {
      if (abortReply !== null) abortReply()
      else ctx.reply.nullBulk()
    }
    return
  }
  if (expire === null && (flags & F_KEEPTTL) !== 0 && found) expireAtMs = existingExpireAtMs
  putNotify(ctx, key, value, expireAtMs, !found, 'set')
  if (expire !== null) notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'expire', key)
  if ((flags & F_GET) === 0) {
    if (okReply !== null) okReply()
    else ctx.reply.simple('OK')
  }
}

const setWithOptions: Handler = (ctx, argv) => {
  const args = parseExtendedArgs(ctx, argv, 'set')
  if (args === null) return
  setGeneric(ctx, 'set', args.flags, keyOf(argv[1] as Buffer), argv[2] as Buffer, args.expire,
    null, null)
}

/** SET key value needs no argv; with options, parseExtendedArgs reads one. */
const setCommand = argsHandler((ctx, args) => {
  if (args.count !== 3) {
    setWithOptions(ctx, args.toArgv())
    return
  }
  setGeneric(ctx, 'set', 0, args.key(1), args.bytes(2), null, null, null)
})

const setnxCommand: Handler = (ctx, argv) => {
  setGeneric(ctx, 'setnx', F_NX, keyOf(argv[1] as Buffer), argv[2] as Buffer, null,
    () => ctx.reply.integer(1), () => ctx.reply.integer(0))
}

const setexCommand: Handler = (ctx, argv) => {
  setGeneric(ctx, 'setex', F_EX, keyOf(argv[1] as Buffer), argv[3] as Buffer, argv[2] as Buffer,
    null, null)
}

const psetexCommand: Handler = (ctx, argv) => {
  setGeneric(ctx, 'psetex', F_PX, keyOf(argv[1] as Buffer), argv[3] as Buffer, argv[2] as Buffer,
    null, null)
}

/** GETEX key [EX|PX|EXAT|PXAT t | PERSIST]: the value; EXAT/PXAT in the past delete the key. */
const getexCommand: Handler = (ctx, argv) => {
  const args = parseExtendedArgs(ctx, argv, 'get')
  if (args === null) return
  const key = keyOf(argv[1] as Buffer)
  const rctx = asReader(ctx)
  // A string kept in the index is read in place (record h of map), else its entry.
  const map = findLiveValue(rctx, key)
  const h = ctx.keyspace.foundHandle
  let entry: Entry | undefined
  if (map !== null) {
    touchLiveValue(rctx, map, h)
  } else {
    const found = stringEntryOrReply(rctx, key)
    if (found === null) return
    if (found === undefined) {
      ctx.reply.nullBulk()
      return
    }
    entry = found
  }
  let expireAtMs = 0
  if (args.expire !== null) {
    const at = expireAtOrReply(ctx, args.expire, args.flags, 'getex')
    if (at === null) return
    expireAtMs = at
  }
  let wasExpireAtMs: number
  if (map !== null) { // expireAtOrReply changed nothing: h still holds the key
    replyValue(ctx, map, h)
    wasExpireAtMs = map.expireAtOf(h)
  } else {
    ctx.reply.bulk((entry as Entry).value as Buffer)
    wasExpireAtMs = (entry as Entry).expireAtMs
  }
  const db = ctx.client.db
  if ((args.flags & (F_EXAT | F_PXAT)) !== 0 && expireAtMs <= ctx.nowMs) {
    deleteKey(ctx, db, key)
  } else if (args.expire !== null) {
    applyExpire(ctx, db, key, expireAtMs)
    notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'expire', key)
  } else if ((args.flags & F_PERSIST) !== 0 && wasExpireAtMs !== 0) {
    applyExpire(ctx, db, key, 0)
    notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'persist', key)
  }
}

function applyExpire(ctx: CommandContext, db: number, key: string, expireAtMs: number): void {
  ctx.txn.apply(expireEv(db, key, expireAtMs))
  if (expireAtMs !== 0) noteExpiry(ctx.keyspace, db, key)
}

// ---------------------------------------------------------------------------------------------
// MGET / MSET family

const mgetCommand = argsHandler((ctx, args) => {
  ctx.reply.arrayHeader(args.count - 1)
  for (let j = 1; j < args.count; j++) {
    if (replyStringArg(ctx, args, j)) continue // a string kept in the index, replied in place
    const entry = lookupKey(ctx, args.key(j))
    if (entry === undefined || entry.type !== TYPE_STRING) ctx.reply.nullBulk()
    else ctx.reply.bulk(entry.value as Buffer)
  }
})

function msetGeneric(ctx: CommandContext, args: Args, nx: boolean): void {
  if (args.count % 2 === 0) {
    ctx.reply.error(`ERR wrong number of arguments for '${nx ? 'msetnx' : 'mset'}' command`)
    return
  }
  if (nx) {
    for (let j = 1; j < args.count; j += 2) {
      if (lookupKeyType(ctx, args.key(j)) !== -1) {
        ctx.reply.integer(0)
        return
      }
    }
  }
  const db = ctx.client.db
  for (let j = 1; j < args.count; j += 2) {
    const key = args.key(j)
    // setKey's lookupKeyWrite: an expired key is deleted (`expired`), then created (`new`).
    putNotify(ctx, key, args.bytes(j + 1), 0, lookupKeyType(ctx, key, db) === -1, 'set')
  }
  if (nx) ctx.reply.integer(1)
  else ctx.reply.simple('OK')
}

const msetCommand = argsHandler((ctx, args) => msetGeneric(ctx, args, false))
const msetnxCommand = argsHandler((ctx, args) => msetGeneric(ctx, args, true))

// ---------------------------------------------------------------------------------------------
// INCR family

/**
 * The values 0..SHARED_INTEGERS-1 as INCR stores them, one Buffer each, made on first use and
 * shared by every key holding that number (as Redis's shared integer objects): stored strings
 * are never modified in place and carry no encoding hint, so sharing one is safe.
 */
const sharedIntegers = new Array<Buffer | undefined>(SHARED_INTEGERS).fill(undefined)
function sharedInteger(n: number): Buffer {
  let b = sharedIntegers[n]
  if (b === undefined) {
    b = Buffer.from(String(n), 'latin1')
    sharedIntegers[n] = b
  }
  return b
}

/**
 * The integer of a string kept in the key index (findLiveValue's record h of `map`) when it is
 * canonical (Redis's string2ll: no sign but '-', no leading zero, not "-0") with 1 to 15
 * digits, read in place; NaN for anything else (the Entry path decides then).
 */
function smallIntInPlace(map: KeyMap, h: number): number {
  const page = map.valuePage(h)
  const start = map.valueOffset(h)
  const end = start + map.valueLength(h)
  const negative = end > start && page[start] === 45 // '-'
  const first = negative ? start + 1 : start
  const digits = end - first
  if (digits < 1 || digits > 15) return NaN
  if (page[first] === 48 && (digits > 1 || negative)) return NaN // "0…", "-0"
  let n = 0
  for (let i = first; i < end; i++) {
    const d = (page[i] as number) - 48
    if (d < 0 || d > 9) return NaN
    n = n * 10 + d
  }
  return negative ? -n : n
}

/** incrDecrCommand: add `incr` to the int64 at key (0 when missing); the result is logged. */
function incrDecrGeneric(ctx: CommandContext, key: string, incr: number | bigint): void {
  const map = findLiveValue(ctx, key)
  if (map !== null) {
    // A string kept in the key index: read in place when it is a small canonical integer.
    const h = ctx.keyspace.foundHandle
    const value = smallIntInPlace(map, h)
    if (!Number.isNaN(value)) {
      touchLiveValue(ctx, map, h)
      incrDecrFrom(ctx, key, value, incr, map.expireAtOf(h), false)
      return
    }
  }
  const entry = stringEntryOrReply(ctx, key)
  if (entry === null) return
  let value: number | bigint = 0
  if (entry !== undefined) {
    const parsed = parseInt64(entry.value as Buffer)
    if (parsed === null) {
      ctx.reply.error(ERR_NOT_INTEGER)
      return
    }
    value = parsed
  }
  incrDecrFrom(ctx, key, value, incr, entry === undefined ? 0 : entry.expireAtMs,
    entry === undefined)
}

/** incrDecrGeneric once the key's value (0 when missing) and expiry are known. */
function incrDecrFrom(ctx: CommandContext, key: string, value: number | bigint,
  incr: number | bigint, expireAtMs: number, created: boolean): void {
  let result: number | bigint
  if (typeof value === 'number' && typeof incr === 'number' &&
      Number.isSafeInteger(value + incr)) {
    result = value + incr
  } else {
    const sum = big(value) + big(incr)
    if (sum < INT64_MIN || sum > INT64_MAX) {
      ctx.reply.error('ERR increment or decrement would overflow')
      return
    }
    result = sum
  }
  const text = typeof result === 'number' && result >= 0 && result < SHARED_INTEGERS
    ? sharedInteger(result) : Buffer.from(String(result), 'latin1')
  putNotify(ctx, key, text, expireAtMs, created, 'incrby')
  ctx.reply.integer(result)
}

const incrCommand = argsHandler((ctx, args) => incrDecrGeneric(ctx, args.key(1), 1))
const decrCommand = argsHandler((ctx, args) => incrDecrGeneric(ctx, args.key(1), -1))

const incrbyCommand = argsHandler((ctx, args) => {
  const incr = int64OrReply(ctx, args.bytes(2))
  if (incr === null) return
  incrDecrGeneric(ctx, args.key(1), incr)
})

const decrbyCommand = argsHandler((ctx, args) => {
  const incr = int64OrReply(ctx, args.bytes(2))
  if (incr === null) return
  if (typeof incr === 'bigint' && incr === INT64_MIN) {
    ctx.reply.error('ERR decrement would overflow')
    return
  }
  incrDecrGeneric(ctx, args.key(1), -incr)
})

/** INCRBYFLOAT: long double arithmetic; the formatted result is the new value and the reply. */
const incrbyfloatCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = stringEntryOrReply(ctx, key)
  if (entry === null) return
  let value: LongDouble | null = longDoubleFromInt(0n)
  if (entry !== undefined) value = parseLongDouble(entry.value as Buffer)
  const incr = value === null ? null : parseLongDouble(argv[2] as Buffer)
  if (value === null || incr === null) {
    ctx.reply.error(ERR_NOT_FLOAT)
    return
  }
  const sum = addLongDouble(value, incr)
  if (sum === null || sum.kind === 'inf') {
    ctx.reply.error('ERR increment would produce NaN or Infinity')
    return
  }
  const text = Buffer.from(formatHuman(sum), 'latin1')
  encodingHints.set(text, 'str')
  putNotify(ctx, key, text, entry === undefined ? 0 : entry.expireAtMs, entry === undefined,
    'incrbyfloat')
  ctx.reply.bulk(text)
}

// ---------------------------------------------------------------------------------------------
// APPEND, STRLEN, GETRANGE, SETRANGE

const appendCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const suffix = argv[2] as Buffer
  const entry = stringEntryOrReply(ctx, key)
  if (entry === null) return
  if (entry === undefined) {
    putNotify(ctx, key, suffix, 0, true, 'append')
    ctx.reply.integer(suffix.length)
    return
  }
  const current = entry.value as Buffer
  if (!checkStringLength(ctx, current.length + suffix.length)) return
  const value = Buffer.concat([current, suffix], current.length + suffix.length)
  encodingHints.set(value, 'raw')
  putNotify(ctx, key, value, entry.expireAtMs, false, 'append')
  ctx.reply.integer(value.length)
}

const strlenCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const map = findLiveValue(ctx, key)
  if (map !== null) { // a string kept in the index: its length, read in place
    const h = ctx.keyspace.foundHandle
    touchLiveValue(ctx, map, h)
    ctx.reply.integer(map.valueLength(h))
    return
  }
  const entry = stringEntryOrReply(ctx, key)
  if (entry === null) return
  ctx.reply.integer(entry === undefined ? 0 : (entry.value as Buffer).length)
}

const getrangeCommand: Handler = (ctx, argv) => {
  const startArg = int64OrReply(ctx, argv[2] as Buffer)
  if (startArg === null) return
  const endArg = int64OrReply(ctx, argv[3] as Buffer)
  if (endArg === null) return
  const entry = stringEntryOrReply(ctx, keyOf(argv[1] as Buffer))
  if (entry === null) return
  if (entry === undefined) {
    ctx.reply.bulk(EMPTY)
    return
  }
  const value = entry.value as Buffer
  const length = value.length
  let start = clampSafe(startArg)
  let end = clampSafe(endArg)
  if (start < 0 && end < 0 && start > end) {
    ctx.reply.bulk(EMPTY)
    return
  }
  if (start < 0) start = length + start
  if (end < 0) end = length + end
  if (start < 0) start = 0
  if (end < 0) end = 0
  if (end >= length) end = length - 1
  if (start > end || length === 0) ctx.reply.bulk(EMPTY)
  else ctx.reply.bulk(value.subarray(start, end + 1))
}

const EMPTY = Buffer.alloc(0)

const setrangeCommand: Handler = (ctx, argv) => {
  const offsetArg = int64OrReply(ctx, argv[2] as Buffer)
  if (offsetArg === null) return
  const patch = argv[3] as Buffer
  if (offsetArg < 0) {
    ctx.reply.error('ERR offset is out of range')
    return
  }
  const offset = clampSafe(offsetArg)
  const key = keyOf(argv[1] as Buffer)
  const entry = stringEntryOrReply(ctx, key)
  if (entry === null) return
  const current = entry === undefined ? EMPTY : (entry.value as Buffer)
  if (patch.length === 0) {
    ctx.reply.integer(current.length)
    return
  }
  if (!checkStringLength(ctx, offset + patch.length)) return
  const length = Math.max(current.length, offset + patch.length)
  const value = Buffer.alloc(length)
  current.copy(value, 0)
  patch.copy(value, offset)
  encodingHints.set(value, 'raw')
  putNotify(ctx, key, value, entry === undefined ? 0 : entry.expireAtMs, entry === undefined,
    'setrange')
  ctx.reply.integer(value.length)
}

// ---------------------------------------------------------------------------------------------
// LCS

/** LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN] */
const lcsCommand: Handler = (ctx, argv) => {
  const ea = lookupKey(ctx, keyOf(argv[1] as Buffer))
  const eb = lookupKey(ctx, keyOf(argv[2] as Buffer))
  const notString = (e: Entry | undefined): boolean => e !== undefined && e.type !== TYPE_STRING
  if (notString(ea) || notString(eb)) {
    ctx.reply.error('ERR The specified keys must contain string values')
    return
  }
  const a = ea === undefined ? EMPTY : (ea.value as Buffer)
  const b = eb === undefined ? EMPTY : (eb.value as Buffer)
  let getLen = false
  let getIdx = false
  let withMatchLen = false
  let minMatchLen = 0
  for (let j = 3; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    const moreArgs = argv.length - 1 - j
    if (opt === 'idx') getIdx = true
    else if (opt === 'len') getLen = true
    else if (opt === 'withmatchlen') withMatchLen = true
    else if (opt === 'minmatchlen' && moreArgs > 0) {
      const v = int64OrReply(ctx, argv[j + 1] as Buffer)
      if (v === null) return
      minMatchLen = v < 0 ? 0 : clampSafe(v)
      j++
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  if (getLen && getIdx) {
    ctx.reply.error('ERR If you want both the length and indexes, please just use IDX.')
    return
  }
  const cells = (a.length + 1) * (b.length + 1)
  if (cells * 4 > LCS_TABLE_MAX_BYTES) {
    ctx.reply.error('ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len')
    return
  }
  lcsReply(ctx, a, b, { getLen, getIdx, withMatchLen, minMatchLen })
}

interface LcsOptions {
  getLen: boolean; getIdx: boolean; withMatchLen: boolean; minMatchLen: number
}

/** LCS[i, j] = length of the LCS of a[0..i) and b[0..j), at lcs[i * (blen + 1) + j]. */
function lcsTable(a: Buffer, b: Buffer): Uint32Array {
  const width = b.length + 1
  const lcs = new Uint32Array((a.length + 1) * width)
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      if (a[i - 1] === b[j - 1]) {
        lcs[i * width + j] = (lcs[(i - 1) * width + j - 1] as number) + 1
      } else {
        const l1 = lcs[(i - 1) * width + j] as number
        const l2 = lcs[i * width + j - 1] as number
        lcs[i * width + j] = l1 > l2 ? l1 : l2
      }
    }
  }
  return lcs
}

/** The walk back over the table, as Redis's lcsCommand (same ranges, same order). */
function lcsReply(ctx: CommandContext, a: Buffer, b: Buffer, o: LcsOptions): void {
  const alen = a.length
  const blen = b.length
  const width = blen + 1
  const lcs = lcsTable(a, b)
  const total = lcs[alen * width + blen] as number
  if (o.getLen) {
    ctx.reply.integer(total)
    return
  }
  const result = Buffer.alloc(total)
  const ranges: number[][] = []
  let idx = total
  let arangeStart = alen
  let arangeEnd = 0
  let brangeStart = 0
  let brangeEnd = 0
  let i = alen
  let j = blen
  while (i > 0 && j > 0) {
    let emitRange = false
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1] as number
      if (arangeStart === alen) {
        arangeStart = i - 1
        arangeEnd = i - 1
        brangeStart = j - 1
        brangeEnd = j - 1
      } else if (arangeStart === i && brangeStart === j) {
        arangeStart--
        brangeStart--
      } else {
        emitRange = true
      }
      if (arangeStart === 0 || brangeStart === 0) emitRange = true
      idx--
      i--
      j--
    } else {
      const l1 = lcs[(i - 1) * width + j] as number
      const l2 = lcs[i * width + j - 1] as number
      if (l1 > l2) i--
      else j--
      if (arangeStart !== alen) emitRange = true
    }
    const matchLen = arangeEnd - arangeStart + 1
    if (emitRange) {
      if (o.minMatchLen === 0 || matchLen >= o.minMatchLen) {
        ranges.push([arangeStart, arangeEnd, brangeStart, brangeEnd, matchLen])
      }
      arangeStart = alen
    }
  }
  if (!o.getIdx) {
    ctx.reply.bulk(result)
    return
  }
  lcsIdxReply(ctx, ranges, total, o.withMatchLen)
}

/** LCS IDX: a map of "matches" (ranges, last first) and "len". */
function lcsIdxReply(
  ctx: CommandContext, ranges: number[][], total: number, withMatchLen: boolean,
): void {
  ctx.reply.mapHeader(2)
  ctx.reply.bulk('matches')
  ctx.reply.arrayHeader(ranges.length)
  for (const r of ranges) {
    ctx.reply.arrayHeader(withMatchLen ? 3 : 2)
    ctx.reply.arrayHeader(2)
    ctx.reply.integer(r[0] as number)
    ctx.reply.integer(r[1] as number)
    ctx.reply.arrayHeader(2)
    ctx.reply.integer(r[2] as number)
    ctx.reply.integer(r[3] as number)
    if (withMatchLen) ctx.reply.integer(r[4] as number)
  }
  ctx.reply.bulk('len')
  ctx.reply.integer(total)
}

// ---------------------------------------------------------------------------------------------
// The table (arity, flags, key positions and ACL categories from Redis 7.0.15 COMMAND INFO; tips,
// key specs and docs: command-docs.ts)

type Flags = CommandSpec['flags']
function spec(
  name: string, arity: number, flags: Flags, keys: [number, number, number],
  categories: string[], impl: Handler | { handler: Handler; run: ArgsHandler },
): CommandSpec {
  const s: CommandSpec = {
    name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], categories,
    ...(typeof impl === 'function' ? { handler: impl } : impl),
  }
  return Object.freeze(s)
}

const K1: [number, number, number] = [1, 1, 1]
const R_FAST = ['read', 'string', 'fast']
const R_SLOW = ['read', 'string', 'slow']
const W_FAST = ['write', 'string', 'fast']
const W_SLOW = ['write', 'string', 'slow']

export const stringCommands: CommandSpec[] = [
  spec('get', 2, ['readonly', 'fast'], K1, R_FAST, getCommand),
  spec('set', -3, ['write', 'denyoom'], K1, W_SLOW, setCommand),
  spec('setnx', 3, ['write', 'denyoom', 'fast'], K1, W_FAST, setnxCommand),
  spec('setex', 4, ['write', 'denyoom'], K1, W_SLOW, setexCommand),
  spec('psetex', 4, ['write', 'denyoom'], K1, W_SLOW, psetexCommand),
  spec('getset', 3, ['write', 'denyoom', 'fast'], K1, W_FAST, getsetCommand),
  spec('getdel', 2, ['write', 'fast'], K1, W_FAST, getdelCommand),
  spec('getex', -2, ['write', 'fast'], K1, W_FAST, getexCommand),
  spec('mget', -2, ['readonly', 'fast'], [1, -1, 1], R_FAST, mgetCommand),
  spec('mset', -3, ['write', 'denyoom'], [1, -1, 2], W_SLOW, msetCommand),
  spec('msetnx', -3, ['write', 'denyoom'], [1, -1, 2], W_SLOW, msetnxCommand),
  spec('incr', 2, ['write', 'denyoom', 'fast'], K1, W_FAST, incrCommand),
  spec('decr', 2, ['write', 'denyoom', 'fast'], K1, W_FAST, decrCommand),
  spec('incrby', 3, ['write', 'denyoom', 'fast'], K1, W_FAST, incrbyCommand),
  spec('decrby', 3, ['write', 'denyoom', 'fast'], K1, W_FAST, decrbyCommand),
  spec('incrbyfloat', 3, ['write', 'denyoom', 'fast'], K1, W_FAST, incrbyfloatCommand),
  spec('append', 3, ['write', 'denyoom', 'fast'], K1, W_FAST, appendCommand),
  spec('strlen', 2, ['readonly', 'fast'], K1, R_FAST, strlenCommand),
  spec('getrange', 4, ['readonly'], K1, R_SLOW, getrangeCommand),
  spec('setrange', 4, ['write', 'denyoom'], K1, W_SLOW, setrangeCommand),
  spec('substr', 4, ['readonly'], K1, R_SLOW, getrangeCommand),
  spec('lcs', -3, ['readonly'], [1, 2, 1], R_SLOW, lcsCommand),
]
