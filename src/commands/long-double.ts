// x87 80-bit long double arithmetic as Redis 7.0's INCRBYFLOAT does it on x86-64 Linux: parse
// with glibc's strtold (util.c string2ld), add once, format with "%.17Lf" and trim trailing
// zeros (util.c ld2string, LD_STR_HUMAN). JS has only binary64, so this file emulates the
// 64-bit-significand format exactly with BigInt.
// Invariants, and why:
// - A finite value is sign × mant × 2^exp with mant < 2^64; every result is rounded once, to
//   nearest with ties to even, to 64 significant bits (or to the subnormal quantum 2^-16445),
//   as the x87 unit in its default precision control does. Overflow gives ±infinity.
// - parseLongDouble accepts what string2ld accepts: no leading space, no trailing bytes (the
//   whole argument must be consumed), not NaN, and no ERANGE
//   overflow or underflow to zero; decimal and hexadecimal forms, "inf"/"infinity".
//   A NUL byte anywhere refuses the argument (strtold would stop there, short of the end).
// - formatHuman is exact: the decimal expansion of a binary value is finite, so "%.17Lf" is
//   computed on integers and rounded half-to-even as glibc's printf does.

export interface LongDouble {
  readonly negative: boolean
  /** 'finite', or 'inf' (mant/exp unused). */
  readonly kind: 'finite' | 'inf'
  readonly mant: bigint
  readonly exp: number
}

const SIGNIFICAND_BITS = 64
/** The quantum of subnormals: 2^-16445. */
const EXP_MIN = -16445
/** Values at or above 2^16384 overflow. */
const EXP_LIMIT = 16384
/** string2ld's buffer (MAX_LONG_DOUBLE_CHARS): inputs this long or longer are refused. */
export const MAX_LONG_DOUBLE_CHARS = 5 * 1024

const ZERO: LongDouble = { negative: false, kind: 'finite', mant: 0n, exp: 0 }

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length
}

/**
 * Round mant × 2^exp (mant ≥ 0) to the long double grid, to nearest, ties to even; ±infinity
 * on overflow, a zero mantissa on underflow.
 */
function round(negative: boolean, mant: bigint, exp: number): LongDouble {
  if (mant === 0n) return { negative, kind: 'finite', mant: 0n, exp: 0 }
  const length = bitLength(mant)
  const quantum = Math.max(exp + length - SIGNIFICAND_BITS, EXP_MIN)
  let m = mant
  let e = exp
  if (quantum > exp) {
    const shift = BigInt(quantum - exp)
    const kept = m >> shift
    const rest = m - (kept << shift)
    const half = 1n << (shift - 1n)
    m = kept
    e = quantum
    if (rest > half || (rest === half && (m & 1n) === 1n)) m += 1n
    if (m === 1n << BigInt(SIGNIFICAND_BITS)) {
      m >>= 1n
      e += 1
    }
  }
  if (m !== 0n && e + bitLength(m) > EXP_LIMIT) return { negative, kind: 'inf', mant: 0n, exp: 0 }
  return { negative, kind: 'finite', mant: m, exp: e }
}

export function isZero(x: LongDouble): boolean {
  return x.kind === 'finite' && x.mant === 0n
}

/** x + y, rounded once; null for NaN (inf - inf). */
export function addLongDouble(x: LongDouble, y: LongDouble): LongDouble | null {
  if (x.kind === 'inf' || y.kind === 'inf') {
    if (x.kind === 'inf' && y.kind === 'inf' && x.negative !== y.negative) return null
    return x.kind === 'inf' ? x : y
  }
  if (x.mant === 0n && y.mant === 0n) {
    return { ...ZERO, negative: x.negative && y.negative }
  }
  if (x.mant === 0n) return y
  if (y.mant === 0n) return x
  const e = Math.min(x.exp, y.exp)
  const a = (x.negative ? -x.mant : x.mant) << BigInt(x.exp - e)
  const b = (y.negative ? -y.mant : y.mant) << BigInt(y.exp - e)
  const sum = a + b
  if (sum === 0n) return ZERO // round-to-nearest: an exact zero sum is +0
  return round(sum < 0n, sum < 0n ? -sum : sum, e)
}

/** num / den × 2^exp rounded (num, den > 0), with enough quotient bits for one rounding. */
function roundQuotient(negative: boolean, num: bigint, den: bigint, exp: number): LongDouble {
  const shift = Math.max(0, SIGNIFICAND_BITS + 2 + bitLength(den) - bitLength(num))
  const scaled = num << BigInt(shift)
  const q = scaled / den
  const sticky = q * den !== scaled
  // Keep the sticky information inside the value: append one bit that is 1 when inexact.
  const m = (q << 1n) | (sticky ? 1n : 0n)
  return round(negative, m, exp - shift - 1)
}

const DECIMAL = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?/
const HEX =
  /^([+-]?)0[xX](?:([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))(?:[pP]([+-]?\d+))?/
const SPECIAL = /^([+-]?)(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)/i

/** Decimal exponents beyond this certainly overflow or underflow (with ≤ 5 K digits). */
const DECIMAL_EXPONENT_CAP = 20000

function parseExponent(text: string | undefined): number {
  if (text === undefined) return 0
  const v = Number(text)
  return Math.max(-1e9, Math.min(1e9, v))
}

/**
 * string2ld: the long double, or null when Redis refuses the bytes
 * ("ERR value is not a valid float").
 */
export function parseLongDouble(arg: Buffer): LongDouble | null {
  if (arg.length === 0 || arg.length >= MAX_LONG_DOUBLE_CHARS) return null
  if (arg.indexOf(0) >= 0) return null // strtold stops at the NUL: eptr - buf != slen
  const text = arg.toString('latin1')
  // isspace(buf[0]): strtold would skip it, string2ld refuses it.
  if (text.length === 0 || /^[ \t\n\v\f\r]/.test(text)) return null
  let m = HEX.exec(text)
  if (m !== null && m[0].length === text.length) {
    const negative = m[1] === '-'
    const intDigits = m[2] ?? ''
    const fracDigits = m[3] ?? m[4] ?? ''
    const mant = BigInt('0x' + (intDigits + fracDigits || '0'))
    const exp = parseExponent(m[5]) - 4 * fracDigits.length
    return checkRange(negative, mant, exp)
  }
  m = DECIMAL.exec(text)
  if (m !== null && m[0].length === text.length) {
    const negative = m[1] === '-'
    const intDigits = m[2] ?? ''
    const fracDigits = m[3] ?? m[4] ?? ''
    const digits = (intDigits + fracDigits).replace(/^0+/, '')
    if (digits === '') return { ...ZERO, negative }
    const exp10 = parseExponent(m[5]) - fracDigits.length
    const magnitude = exp10 + digits.length
    if (magnitude > DECIMAL_EXPONENT_CAP) return null // ERANGE overflow
    if (magnitude < -DECIMAL_EXPONENT_CAP) return null // ERANGE underflow to zero
    const d = BigInt(digits)
    const value = exp10 >= 0
      ? round(negative, d * 10n ** BigInt(exp10), 0)
      : roundQuotient(negative, d, 10n ** BigInt(-exp10), 0)
    return rangeChecked(value)
  }
  m = SPECIAL.exec(text)
  if (m !== null && m[0].length === text.length) {
    if ((m[2] as string).toLowerCase().startsWith('nan')) return null
    return { negative: m[1] === '-', kind: 'inf', mant: 0n, exp: 0 }
  }
  return null
}

function checkRange(negative: boolean, mant: bigint, exp: number): LongDouble | null {
  if (mant === 0n) return { ...ZERO, negative }
  if (exp + bitLength(mant) > EXP_LIMIT + 64) return null
  if (exp + bitLength(mant) < EXP_MIN - 64) return null
  return rangeChecked(round(negative, mant, exp))
}

/** strtold's ERANGE cases that string2ld refuses: overflow to infinity, underflow to zero. */
function rangeChecked(value: LongDouble): LongDouble | null {
  if (value.kind === 'inf') return null
  if (value.mant === 0n) return null
  return value
}

/** x × k for an integer k ≥ 1 (x87 FMUL by an exact integer): the product rounded once. */
export function scaleLongDouble(x: LongDouble, k: bigint): LongDouble {
  if (x.kind === 'inf' || x.mant === 0n) return x
  return round(x.negative, x.mant * k, x.exp)
}

const INT64_MIN = -(1n << 63n)

/**
 * (long long)ceill(x) as x86-64 computes it: the conversion of a value outside the int64 range
 * (±infinity included) gives the "integer indefinite" value, INT64_MIN.
 */
export function ceilToInt64(x: LongDouble): bigint {
  if (x.kind === 'inf') return INT64_MIN
  let n: bigint
  if (x.exp >= 0) {
    n = x.mant << BigInt(x.exp)
  } else {
    const shift = BigInt(-x.exp)
    n = x.mant >> shift
    // ceil: a positive value with a fraction goes up; a negative one is truncated toward zero.
    if (!x.negative && (n << shift) !== x.mant) n += 1n
  }
  if (x.negative) n = -n
  return n >= -INT64_MIN || n < INT64_MIN ? INT64_MIN : n
}

/** A long double from an int64 (the value of an int-encoded string). */
export function longDoubleFromInt(n: bigint): LongDouble {
  if (n === 0n) return ZERO
  return round(n < 0n, n < 0n ? -n : n, 0)
}

/** ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and '.' trimmed, "-0" → "0". */
export function formatHuman(x: LongDouble): string {
  if (x.kind === 'inf') return x.negative ? '-inf' : 'inf'
  const scale = 10n ** 17n
  let scaled: bigint
  if (x.exp >= 0) {
    scaled = (x.mant << BigInt(x.exp)) * scale
  } else {
    const n = x.mant * scale
    const shift = BigInt(-x.exp)
    const q = n >> shift
    const rest = n - (q << shift)
    const half = 1n << (shift - 1n)
    scaled = rest > half || (rest === half && (q & 1n) === 1n) ? q + 1n : q
  }
  const intPart = (scaled / scale).toString()
  const frac = (scaled % scale).toString().padStart(17, '0').replace(/0+$/, '')
  let text = frac === '' ? intPart : `${intPart}.${frac}`
  if (x.negative) text = '-' + text
  if (text === '-0') text = '0'
  return text
}
