// Redis's number parsing for command arguments and stored strings (util.c string2ll / string2l,
// object.c get*FromObjectOrReply), byte for byte: a reply error is the same text Redis sends.
// Invariants, and why:
// - parseInt64 is src/int64.ts's string2ll (Redis's, byte for byte): safe integers come back as
//   numbers (the fast path of INCR and every count), other int64s as bigint, never rounded.
// - The *OrReply helpers write Redis's error and return null: a handler that gets null returns at
//   once, before it applied anything (DESIGN rule 3).

import { string2ll } from '../int64.js'
import { ERR_NOT_INTEGER, type CommandContext } from './spec.js'

export { INT64_MIN, INT64_MAX } from '../int64.js'
export const INT32_MIN = -2147483648
export const INT32_MAX = 2147483647

/** An int64 as Redis parses it (string2ll), or null. Safe integers as numbers, others bigint. */
export function parseInt64(buf: Buffer): number | bigint | null {
  return string2ll(buf, 0, buf.length)
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
