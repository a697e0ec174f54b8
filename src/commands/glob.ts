// Glob-style matching exactly as Redis 7.0's stringmatchlen (util.c), used by KEYS, SCAN MATCH
// (and the *SCAN commands, CONFIG GET). Invariants, and why:
// - Same answer as stringmatchlen for every pattern and string, quirks included: '*' never
//   matches an empty string on its own ("*" does not match ""), an unterminated '[' class runs to
//   the end of the pattern, a trailing '\' is a literal, ranges compare C's signed chars (bytes
//   >= 0x80 are negative) and swap reversed bounds, a '\' inside a class escapes one byte.
// - Not recursive, unlike Redis: '*' keeps one backtrack point (the most recent star), which is
//   equivalent because every other token consumes exactly one byte, and Redis's own
//   skipLongerMatches rule gives up on earlier stars the same way. So a pattern of a million
//   stars cannot overflow the stack, and the cost is O(pattern × string) at worst.

const STAR = 42 // '*'
const QUESTION = 63 // '?'
const OPEN = 91 // '['
const CLOSE = 93 // ']'
const BACKSLASH = 92 // '\'
const CARET = 94 // '^'
const DASH = 45 // '-'

/** C's (signed char) for a byte. */
function signed(b: number): number {
  return b >= 128 ? b - 256 : b
}

/** C's tolower() in the C locale. */
function lower(b: number): number {
  return b >= 65 && b <= 90 ? b + 32 : b
}

/** Byte at i, or 0 past the end (sds strings are NUL-terminated). */
function at(buf: Buffer, i: number): number {
  return i < buf.length ? (buf[i] as number) : 0
}

/**
 * Match one non-star token of `pattern` starting at pi against the byte `c`.
 * Returns the index after the token, or -1 when the byte does not match.
 */
function matchToken(pattern: Buffer, pi: number, c: number, nocase: boolean): number {
  const length = pattern.length
  const t = pattern[pi] as number
  if (t === QUESTION) return pi + 1
  if (t === OPEN) {
    pi++
    const not = at(pattern, pi) === CARET
    if (not) pi++
    let match = false
    for (;;) {
      const p = at(pattern, pi)
      if (p === BACKSLASH && length - pi >= 2) {
        pi++
        if (at(pattern, pi) === c) match = true
      } else if (p === CLOSE) {
        break
      } else if (length - pi <= 0) {
        pi--
        break
      } else if (length - pi >= 3 && at(pattern, pi + 1) === DASH) {
        let start = signed(p)
        let end = signed(at(pattern, pi + 2))
        let x = signed(c)
        if (start > end) {
          const swap = start
          start = end
          end = swap
        }
        if (nocase) {
          start = lower(start)
          end = lower(end)
          x = lower(x)
        }
        pi += 2
        if (x >= start && x <= end) match = true
      } else if (nocase ? lower(p) === lower(c) : p === c) {
        match = true
      }
      pi++
    }
    if (not) match = !match
    return match ? pi + 1 : -1
  }
  if (t === BACKSLASH && length - pi >= 2) pi++
  const p = pattern[pi] as number
  const equal = nocase ? lower(p) === lower(c) : p === c
  return equal ? pi + 1 : -1
}

/** stringmatchlen(pattern, string, nocase): true when `subject` matches the glob `pattern`. */
export function globMatch(pattern: Buffer, subject: Buffer, nocase = false): boolean {
  const patternLength = pattern.length
  const subjectLength = subject.length
  if (subjectLength === 0) return patternLength === 0
  let pi = 0
  let si = 0
  let starPi = -1
  let starSi = -1
  for (;;) {
    // Here si < subjectLength. `ok` false means this attempt failed: backtrack to the last star.
    let ok = true
    if (pi >= patternLength) {
      ok = false
    } else if (pattern[pi] === STAR) {
      while (pi + 1 < patternLength && pattern[pi + 1] === STAR) pi++
      if (pi === patternLength - 1) return true
      starPi = pi + 1
      starSi = si
      pi = starPi
      continue
    } else {
      const next = matchToken(pattern, pi, subject[si] as number, nocase)
      if (next < 0) {
        ok = false
      } else {
        pi = next
        si++
        if (si === subjectLength) {
          while (pi < patternLength && pattern[pi] === STAR) pi++
          if (pi >= patternLength) return true
          ok = false
        }
      }
    }
    if (ok) continue
    if (starPi < 0) return false
    starSi++
    if (starSi >= subjectLength) return false
    si = starSi
    pi = starPi
  }
}
