// Redis's number parsing for command arguments and stored strings (util.c string2ll / string2l,
// object.c get*FromObjectOrReply), byte for byte: a reply error is the same text Redis sends.
// Invariants, and why:
// - parseInt64 accepts exactly what string2ll accepts: an optional '-', no '+', no spaces, no
//   leading zeros ("0" alone excepted, "-0" refused), at most 20 bytes, within int64. Values
//   that fit in a double exactly come back as numbers (the fast path of INCR and every count),
//   others as bigint, so no int64 is ever rounded.
// - The *OrReply helpers write Redis's error and return null: a handler that gets null returns at
//   once, before it applied anything (DESIGN rule 3).

import { ERR_NOT_INTEGER, type CommandContext } from './spec.js'

export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n
export const INT32_MIN = -2147483648
export const INT32_MAX = 2147483647
/** LONG_STR_SIZE: string2ll refuses strings of this length or longer. */
const LONG_STR_SIZE = 21

const CHAR_0 = 48
const CHAR_1 = 49
const CHAR_9 = 57
const CHAR_MINUS = 45

/** An int64 as Redis parses it (string2ll), or null. Safe integers as numbers, others bigint. */
export function parseInt64(buf: Buffer): number | bigint | null {
  const length = buf.length
  if (length === 0 || length >= LONG_STR_SIZE) return null
  if (length === 1 && buf[0] === CHAR_0) return 0
  let i = 0
  let negative = false
  if (buf[0] === CHAR_MINUS) {
    negative = true
    i = 1
    if (length === 1) return null
  }
  const first = buf[i] as number
  if (first < CHAR_1 || first > CHAR_9) return null
  if (length - i <= 15) {
    let v = 0
    for (; i < length; i++) {
      const c = buf[i] as number
      if (c < CHAR_0 || c > CHAR_9) return null
      v = v * 10 + (c - CHAR_0)
    }
    return negative ? -v : v
  }
  let v = 0n
  for (; i < length; i++) {
    const c = buf[i] as number
    if (c < CHAR_0 || c > CHAR_9) return null
    v = v * 10n + BigInt(c - CHAR_0)
  }
  if (negative) v = -v
  if (v < INT64_MIN || v > INT64_MAX) return null
  return Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? Number(v) : v
}

/** A number or bigint as a bigint. */
export function big(n: number | bigint): bigint {
  return typeof n === 'bigint' ? n : BigInt(n)
}

/** An int64 clamped into the safe-integer range (for offsets and counts compared with sizes). */
export function clampSafe(n: number | bigint): number {
  if (typeof n === 'number') return n
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER
  if (n < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER
  return Number(n)
}

/** getLongLongFromObjectOrReply: the value, or null after replying the error. */
export function int64OrReply(
  ctx: CommandContext, arg: Buffer, msg = ERR_NOT_INTEGER,
): number | bigint | null {
  const v = parseInt64(arg)
  if (v === null) ctx.reply.error(msg)
  return v
}

/** getIntFromObjectOrReply (getRangeLongFromObjectOrReply with INT_MIN..INT_MAX). */
export function int32OrReply(ctx: CommandContext, arg: Buffer, msg?: string): number | null {
  const v = parseInt64(arg)
  if (v === null) {
    ctx.reply.error(msg === undefined ? ERR_NOT_INTEGER : `ERR ${msg}`)
    return null
  }
  if (typeof v === 'bigint' || v < INT32_MIN || v > INT32_MAX) {
    ctx.reply.error(msg === undefined
      ? `ERR value is out of range, value must between ${INT32_MIN} and ${INT32_MAX}`
      : `ERR ${msg}`)
    return null
  }
  return v
}

/** True when the bytes are a canonical int64 that fits a C long (tryObjectEncoding's string2l). */
export function isInt64Canonical(buf: Buffer): boolean {
  return buf.length <= 20 && parseInt64(buf) !== null
}

/**
 * The argument as a C string: Redis compares options with strcasecmp and friends, which stop at
 * the first NUL byte. Returned lower-cased as latin1.
 */
export function optionName(arg: Buffer): string {
  const nul = arg.indexOf(0)
  const bytes = nul < 0 ? arg : arg.subarray(0, nul)
  return bytes.toString('latin1').toLowerCase()
}

/**
 * The argument as a C string (up to the first NUL), for error texts that print it with %s.
 * Decoded as UTF-8 because the reply writer encodes error texts as UTF-8: exact for any valid
 * UTF-8 argument (bytes that are not UTF-8 come out as U+FFFD, a documented difference).
 */
export function cString(arg: Buffer): string {
  const nul = arg.indexOf(0)
  return (nul < 0 ? arg : arg.subarray(0, nul)).toString('utf8')
}
