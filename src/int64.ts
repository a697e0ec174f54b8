// Redis's one integer parser (util.c string2ll) and the int64 bounds, for every layer: the RESP
// reader's *N and $N headers, command arguments and stored strings (commands/numeric.ts), and
// configuration values (server-config.ts) all parse through string2ll here.
// Invariants, and why:
// - string2ll accepts exactly what Redis's accepts: an optional '-', no '+', no spaces, no
//   leading zeros ("0" alone excepted, "-0" refused), fewer than LONG_STR_SIZE bytes, within
//   int64. An error text Redis sends for a refused number is then the one capykv sends.
// - A value that is a safe integer comes back as a number (the fast path: every count, length
//   and INCR operand in practice), any other int64 as a bigint, so no int64 is ever rounded.
// - INT64_MIN / INT64_MAX are the only int64 bounds in src/ (C's LLONG_MIN / LLONG_MAX, and
//   LONG_MAX on the 64-bit platforms Redis's tests assume).

export const INT64_MIN = -(2n ** 63n)
export const INT64_MAX = 2n ** 63n - 1n
/** Redis's LONG_STR_SIZE: string2ll refuses strings this long or longer. */
export const LONG_STR_SIZE = 21

const CHAR_0 = 48
const CHAR_1 = 49
const CHAR_9 = 57
const CHAR_MINUS = 45
/** Up to this many digits a value is below 2^53 and is summed as a double exactly. */
const SAFE_DIGITS = 15

/** string2ll over bytes[start, stop): the int64 they spell, or null. */
export function string2ll(bytes: Uint8Array, start = 0, stop = bytes.length): number | bigint | null {
  const length = stop - start
  if (length <= 0 || length >= LONG_STR_SIZE) return null
  if (length === 1 && bytes[start] === CHAR_0) return 0
  let p = start
  const negative = bytes[p] === CHAR_MINUS
  if (negative && ++p === stop) return null
  const first = bytes[p] as number
  if (first < CHAR_1 || first > CHAR_9) return null
  if (stop - p <= SAFE_DIGITS) {
    let v = 0
    for (; p < stop; p++) {
      const digit = (bytes[p] as number) - CHAR_0
      if (digit < 0 || digit > 9) return null
      v = v * 10 + digit
    }
    return negative ? -v : v
  }
  return string2llWide(bytes, p, stop, negative)
}

/** The rare path of string2ll: 16 to 20 digits, range-checked exactly with BigInt. */
function string2llWide(bytes: Uint8Array, p: number, stop: number, negative: boolean):
  number | bigint | null {
  let v = 0n
  for (; p < stop; p++) {
    const digit = (bytes[p] as number) - CHAR_0
    if (digit < 0 || digit > 9) return null
    v = v * 10n + BigInt(digit)
  }
  if (negative) v = -v
  if (v < INT64_MIN || v > INT64_MAX) return null
  const n = Number(v)
  return Number.isSafeInteger(n) ? n : v
}

/** string2ll of a string's latin1 bytes (configuration values, ACL arguments). */
export function string2llText(text: string): number | bigint | null {
  if (text.length === 0 || text.length >= LONG_STR_SIZE) return null
  const bytes = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff
  // A character past latin1 is not a digit; masking it must not turn it into one.
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return null
  return string2ll(bytes)
}
