// Shared pieces of the collection commands (list.ts, hash.ts, set.ts, zset.ts): typed lookups
// with Redis's WRONGTYPE, Redis's argument parsing for the forms those commands use (strtod as
// getDoubleFromObject and zslParseRange read it, long ranges, blocking timeouts, SCAN cursors and
// options), latin1 replies, and the SCAN family's generic loop.
// Invariants, and why:
// - Every parser accepts exactly what Redis 7.0.15 accepts and the *OrReply helpers write Redis's
//   error text and return null, so a handler returns before it applied anything (DESIGN rule 3).
// - C-string quirks are kept where Redis has them: strtod stops at a NUL byte, so zslParseRange
//   accepts "1\0junk" while getDoubleFromObject (which compares with sdslen) refuses it.

import type { Entry } from '../state/keyspace.js'
import { globMatch } from './glob.js'
import { lookupKey } from './lookup.js'
import { INT64_MAX } from '../int64.js'
import { clampSafe, optionName, parseInt64 } from './numeric.js'
import { ERR_NOT_FLOAT, ERR_NOT_INTEGER, ERR_SYNTAX, WRONGTYPE, type CommandContext,
  type ReplySink } from './spec.js'
import { ceilToInt64, parseLongDouble, scaleLongDouble } from './long-double.js'

/** Redis's LONG_MAX (64-bit): src/int64.ts's INT64_MAX. */
export const LONG_MAX = INT64_MAX
export const LONG_MIN = -9223372036854775808n

/** A latin1 string (key, field, member) as a bulk reply. */
export function bulkLatin1(reply: ReplySink, s: string): void {
  reply.bulk(Buffer.from(s, 'latin1'))
}

/**
 * The live entry for `key` when it holds `type`; null when missing; false (after replying
 * WRONGTYPE) when it holds another type.
 */
export function lookupOfType(ctx: CommandContext, key: string, type: number,
  db = ctx.client.db): Entry | null | false {
  const entry = lookupKey(ctx, key, db)
  if (entry === undefined) return null
  if (entry.type !== type) {
    ctx.reply.error(WRONGTYPE)
    return false
  }
  return entry
}

// ---------------------------------------------------------------------------------------------
// strtod

const SPACE = /^[ \t\n\v\f\r]*/
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/
const HEX =
  /^([+-]?)0[xX](?:([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?/
const SPECIAL = /^([+-]?)(?:(inf(?:inity)?)|nan(?:\([0-9A-Za-z_]*\))?)/i

export interface Strtod {
  value: number
  /** Characters consumed (0 when no conversion: value 0). */
  end: number
  /** ERANGE with an infinite or zero result (what getDoubleFromObject refuses). */
  rangeError: boolean
}

/** glibc strtod on a C string (latin1 text, already cut at its first NUL). */
export function strtod(text: string): Strtod {
  const lead = (SPACE.exec(text) as RegExpExecArray)[0].length
  const rest = text.slice(lead)
  let m = HEX.exec(rest)
  if (m !== null) {
    const digits = (m[2] ?? '') + (m[3] ?? m[4] ?? '')
    const fracLength = (m[3] ?? m[4] ?? '').length
    const binaryExp = m[5] === undefined ? 0 : Math.max(-1e6, Math.min(1e6, Number(m[5])))
    let exp = binaryExp - 4 * fracLength
    let mant = BigInt('0x' + digits)
    let value: number
    if (mant === 0n) {
      value = 0
    } else {
      const bits = mant.toString(2).length
      if (bits > 64) {
        const shift = bits - 64
        const sticky = (mant & ((1n << BigInt(shift)) - 1n)) !== 0n ? 1n : 0n
        mant = (mant >> BigInt(shift)) | sticky
        exp += shift
      }
      value = Number(mant)
      while (exp > 0 && Number.isFinite(value)) {
        const s = Math.min(exp, 1000)
        value *= 2 ** s
        exp -= s
      }
      while (exp < 0 && value !== 0) {
        const s = Math.min(-exp, 1000)
        value /= 2 ** s
        exp += s
      }
    }
    if (m[1] === '-') value = -value
    const rangeError = !Number.isFinite(value) || (value === 0 && mant !== 0n)
    return { value, end: lead + m[0].length, rangeError }
  }
  m = DECIMAL.exec(rest)
  if (m !== null) {
    const value = Number(m[0])
    const nonzero = /[1-9]/.test(m[0].replace(/[eE].*$/, ''))
    const rangeError = !Number.isFinite(value) || (value === 0 && nonzero)
    return { value, end: lead + m[0].length, rangeError }
  }
  m = SPECIAL.exec(rest)
  if (m !== null) {
    const negative = m[1] === '-'
    const value = m[2] !== undefined ? (negative ? -Infinity : Infinity) : NaN
    return { value, end: lead + m[0].length, rangeError: false }
  }
  return { value: 0, end: 0, rangeError: false }
}

function cText(arg: Buffer): string {
  const nul = arg.indexOf(0)
  return (nul < 0 ? arg : arg.subarray(0, nul)).toString('latin1')
}

/**
 * A plain decimal of up to 64 bytes (a sign, digits with at most one point, no exponent): its
 * strtod value is JS's Number of the same text (both round correctly, and no such text
 * overflows or underflows); null for anything else, which strtod() reads. GEOADD and ZADD
 * scores are such texts, and this skips strtod's regular expressions.
 */
function plainDecimal(arg: Buffer): number | null {
  const n = arg.length
  if (n > 64) return null
  let i = arg[0] === 43 || arg[0] === 45 ? 1 : 0
  let digits = 0
  let points = 0
  for (; i < n; i++) {
    const c = arg[i] as number
    if (c >= 48 && c <= 57) digits++
    else if (c === 46 && points === 0) points++
    else return null
  }
  return digits === 0 ? null : Number(arg.toString('latin1'))
}

/** getDoubleFromObject: a double, or null (Redis: "value is not a valid float"). */
export function parseDouble(arg: Buffer): number | null {
  if (arg.length === 0) return null
  const plain = plainDecimal(arg)
  if (plain !== null) return plain
  const c = arg[0] as number
  if (c === 32 || (c >= 9 && c <= 13)) return null
  const text = arg.toString('latin1')
  const r = strtod(text)
  if (r.end !== text.length || r.rangeError || Number.isNaN(r.value)) return null
  return r.value
}

export function doubleOrReply(ctx: CommandContext, arg: Buffer,
  msg = ERR_NOT_FLOAT): number | null {
  const v = parseDouble(arg)
  if (v === null) ctx.reply.error(msg)
  return v
}

/** One bound of zslParseRange: '(' for exclusive, then strtod of the whole rest; null if bad. */
export function parseScoreBound(arg: Buffer): { value: number; exclusive: boolean } | null {
  const text = cText(arg)
  const exclusive = text.startsWith('(')
  const body = exclusive ? text.slice(1) : text
  const r = strtod(body)
  if (r.end !== body.length || Number.isNaN(r.value)) return null
  return { value: r.value, exclusive }
}

// ---------------------------------------------------------------------------------------------
// integers

/** getLongFromObjectOrReply, clamped to the safe range (indexes, counts): or null. */
export function longOrReply(ctx: CommandContext, arg: Buffer, msg?: string): number | null {
  const v = parseInt64(arg)
  if (v === null) {
    ctx.reply.error(msg === undefined ? ERR_NOT_INTEGER : `ERR ${msg}`)
    return null
  }
  return clampSafe(v)
}

/** getRangeLongFromObjectOrReply(min, max, msg). */
export function rangeLongOrReply(ctx: CommandContext, arg: Buffer, min: bigint, max: bigint,
  msg?: string): number | null {
  const v = parseInt64(arg)
  if (v === null) {
    ctx.reply.error(msg === undefined ? ERR_NOT_INTEGER : `ERR ${msg}`)
    return null
  }
  const b = BigInt(v)
  if (b < min || b > max) {
    ctx.reply.error(msg === undefined
      ? `ERR value is out of range, value must between ${min} and ${max}` : `ERR ${msg}`)
    return null
  }
  return clampSafe(v)
}

/** getPositiveLongFromObjectOrReply (0..LONG_MAX). */
export function positiveLongOrReply(ctx: CommandContext, arg: Buffer,
  msg = 'value is out of range, must be positive'): number | null {
  return rangeLongOrReply(ctx, arg, 0n, LONG_MAX, msg)
}

/** A long whose magnitude must be ≤ LONG_MAX/2 (HRANDFIELD/ZRANDMEMBER with values/scores). */
export function withinHalfLong(arg: Buffer): boolean {
  const v = parseInt64(arg)
  if (v === null) return false
  const b = BigInt(v)
  return b >= -(LONG_MAX / 2n) && b <= LONG_MAX / 2n
}

/** LEFT/RIGHT (getListPositionFromObjectOrReply): 'left' | 'right' or null after syntax error. */
export function sideOrReply(ctx: CommandContext, arg: Buffer): 'left' | 'right' | null {
  const s = optionName(arg)
  if (s === 'left' || s === 'right') return s
  ctx.reply.error(ERR_SYNTAX)
  return null
}

// ---------------------------------------------------------------------------------------------
// blocking timeouts

/**
 * getTimeoutFromObjectOrReply(UNIT_SECONDS) as 7.0.15 has it: (long long)ceill(seconds * 1000.0)
 * in x87 long double, so any positive timeout under a millisecond waits 1 ms (never "forever"),
 * -0.0009 rounds up to 0 (forever), and an overflow (±inf included) becomes INT64_MIN, which
 * answers "timeout is negative" (the "out of range" error came in 7.2).
 * The timeout in ms (0 = forever), or the error text to reply.
 */
export function blockingTimeoutMs(arg: Buffer): bigint | string {
  const seconds = parseLongDouble(arg)
  if (seconds === null) return 'ERR timeout is not a float or out of range'
  const ms = ceilToInt64(scaleLongDouble(seconds, 1000n))
  if (ms < 0n) return 'ERR timeout is negative'
  return ms
}

/** blockingTimeoutMs, replying its error: the timeout in ms relative to now (0 = forever). */
export function timeoutOrReply(ctx: CommandContext, arg: Buffer): number | null {
  const ms = blockingTimeoutMs(arg)
  if (typeof ms === 'string') {
    ctx.reply.error(ms)
    return null
  }
  return Number(ms)
}

// ---------------------------------------------------------------------------------------------
// SCAN family

export interface ScanOptions {
  cursor: number
  count: number
  pattern: Buffer | null
}

/** parseScanCursorOrReply (strtoul): the cursor or null. */
export function scanCursorOrReply(ctx: CommandContext, arg: Buffer): number | null {
  const text = cText(arg)
  const bad = (): null => { ctx.reply.error('ERR invalid cursor'); return null }
  if (arg.length > 0 && /^[ \t\n\v\f\r]/.test(text)) return bad()
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(text) as RegExpExecArray
  const digits = m[2] as string
  if (digits === '') {
    // no conversion: strtoul returns 0 and leaves eptr at the start
    return text.length === 0 ? 0 : bad()
  }
  if (m[0].length !== text.length) return bad()
  const v = BigInt(digits)
  if (v > 18446744073709551615n) return bad()
  const value = m[1] === '-' ? (v === 0n ? 0n : 18446744073709551616n - v) : v
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value)
}

/** scanGenericCommand's option loop (COUNT, MATCH) from argv[from]; null after an error. */
export function scanOptionsOrReply(ctx: CommandContext, argv: Buffer[], from: number,
  cursor: number): ScanOptions | null {
  let count = 10
  let pattern: Buffer | null = null
  for (let i = from; i < argv.length;) {
    const left = argv.length - i
    const opt = optionName(argv[i] as Buffer)
    if (opt === 'count' && left >= 2) {
      const v = longOrReply(ctx, argv[i + 1] as Buffer)
      if (v === null) return null
      if (v < 1) {
        ctx.reply.error(ERR_SYNTAX)
        return null
      }
      count = v
      i += 2
    } else if (opt === 'match' && left >= 2) {
      const p = argv[i + 1] as Buffer
      pattern = p.length === 1 && p[0] === 42 ? null : p
      i += 2
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return { cursor, count, pattern }
}

interface ScanState { collection: object; cursor: number; iterator: Iterator<unknown> }
/** Resuming a scan at the cursor it was given costs O(COUNT), not O(cursor). */
let lastScan: ScanState | null = null

/**
 * One SCAN step over `items` (a live collection's iterable of elements). Cursors are positions
 * in iteration order. `compact` (Redis's listpack/intset encodings, or everything fits in COUNT)
 * returns every element at once with cursor 0, as Redis does for those encodings.
 * Returns the next cursor and the elements (already filtered by MATCH via `name`).
 */
export function scanStep<T>(collection: object, items: () => Iterator<T>, size: number,
  opts: ScanOptions, compact: boolean, name: (item: T) => string): { next: number; out: T[] } {
  const out: T[] = []
  const keep = (item: T): void => {
    if (opts.pattern === null || globMatch(opts.pattern, Buffer.from(name(item), 'latin1'))) {
      out.push(item)
    }
  }
  if (compact || (opts.cursor === 0 && size <= opts.count)) {
    const it = items()
    for (let r = it.next(); r.done !== true; r = it.next()) keep(r.value)
    return { next: 0, out }
  }
  let it: Iterator<T>
  let position = opts.cursor
  if (lastScan !== null && lastScan.collection === collection && lastScan.cursor === opts.cursor) {
    it = lastScan.iterator as Iterator<T>
  } else {
    it = items()
    for (let i = 0; i < opts.cursor; i++) if (it.next().done === true) break
  }
  let taken = 0
  let done = false
  while (taken < opts.count) {
    const r = it.next()
    if (r.done === true) { done = true; break }
    keep(r.value)
    taken++
    position++
  }
  if (!done && position >= size) done = true
  lastScan = done ? null : { collection, cursor: position, iterator: it as Iterator<unknown> }
  return { next: done ? 0 : position, out }
}
