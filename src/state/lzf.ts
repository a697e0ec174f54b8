// LZF (liblzf's format, as Redis 7.0.15 compresses RDB strings and quicklist nodes): a stream of
// control bytes. c < 32: c + 1 literal bytes follow. Otherwise a back reference: length
// (c >> 5) + 2, where c >> 5 == 7 means the next byte adds to it, at distance
// ((c & 31) << 8 | the following byte) + 1 behind the output's end (up to 8192 back, up to 264
// long). Decompression is exact and bounds-checked (null for anything malformed); compression
// follows liblzf's algorithm (see lzfCompress for the one way Redis's output may differ).

/** An LZF stream expands at most this much (a 3-byte reference yields 264 bytes). */
const MAX_LZF_RATIO = 88

/** Exactly `outLen` bytes decompressed from src[start, end), or null when the stream is bad. */
export function lzfDecompress(src: Uint8Array, start: number, end: number, outLen: number):
  Buffer | null {
  if (outLen > (end - start) * MAX_LZF_RATIO + 32) return null // beyond its expansion
  const out = Buffer.alloc(outLen)
  let ip = start
  let op = 0
  while (ip < end) {
    let ctrl = src[ip++] as number
    if (ctrl < 32) {
      ctrl++
      if (op + ctrl > outLen || ip + ctrl > end) return null
      out.set(src.subarray(ip, ip + ctrl), op)
      ip += ctrl
      op += ctrl
      continue
    }
    let len = ctrl >> 5
    if (ip >= end) return null
    if (len === 7) {
      len += src[ip++] as number
      if (ip >= end) return null
    }
    const ref = op - ((ctrl & 0x1f) << 8) - 1 - (src[ip++] as number)
    len += 2
    if (op + len > outLen || ref < 0) return null
    for (let k = 0; k < len; k++) out[op + k] = out[ref + k] as number
    op += len
  }
  if (op !== outLen) return null
  return out
}

const LZF_HLOG = 16
const LZF_MAX_OFF = 1 << 13
const LZF_MAX_REF = (1 << 8) + (1 << 3)
const LZF_MAX_LIT = 1 << 5

/** liblzf's slot of a 3-byte hash (HLOG 16, its VERY_FAST variant, as Redis builds it). */
const slotOf = (h: number): number => ((h >>> (24 - LZF_HLOG)) - Math.imul(h, 5)) & 0xffff

/** How far src[ref…] matches src[ip…] (≥ 3), as liblzf measures it (its unrolled first 16). */
function matchLength(src: Uint8Array, ref: number, ip: number, maxlen: number): number {
  let len = 2
  let mismatch = false
  if (maxlen > 16) {
    for (let k = 0; k < 16 && !mismatch; k++) mismatch = src[ref + ++len] !== src[ip + len]
  }
  if (!mismatch) {
    do len++
    while (len < maxlen && src[ref + len] === src[ip + len])
  }
  return len
}

/**
 * liblzf's lzf_compress as Redis calls it (output at most in.length - 4 bytes, else null: not
 * worth it): the same hash, match search and literal runs, so the output is Redis's byte for
 * byte — except that Redis's hash table is uninitialised stack memory, and a stale entry that
 * happens to point into the input can make it find a match this fresh table does not.
 */
export function lzfCompress(src: Uint8Array): Buffer | null {
  const inLen = src.length
  const outLen = inLen - 4
  if (inLen < 3 || outLen <= 0) return null
  const out = Buffer.alloc(outLen)
  const table = new Int32Array(1 << LZF_HLOG) // 0: empty (offset 0 is never a reference)
  let ip = 0
  let op = 1 // the first literal run's control byte
  let lit = 0
  let hval = (((src[0] as number) << 8) | (src[1] as number)) >>> 0
  while (ip < inLen - 2) {
    hval = ((hval << 8) | (src[ip + 2] as number)) >>> 0
    const slot = slotOf(hval)
    const ref = table[slot] as number
    table[slot] = ip
    const off = ip - ref - 1
    if (ref > 0 && off >= 0 && off < LZF_MAX_OFF && src[ref + 2] === src[ip + 2] &&
      src[ref] === src[ip] && src[ref + 1] === src[ip + 1]) {
      const maxlen = Math.min(inLen - ip - 2, LZF_MAX_REF)
      if (op + 4 >= outLen && op - (lit === 0 ? 1 : 0) + 4 >= outLen) return null
      out[op - lit - 1] = lit - 1 // stop the run (undone below when empty)
      if (lit === 0) op--
      const len = matchLength(src, ref, ip, maxlen) - 2
      ip++
      if (len < 7) {
        out[op++] = (off >> 8) + (len << 5)
      } else {
        out[op++] = (off >> 8) + (7 << 5)
        out[op++] = len - 7
      }
      out[op++] = off & 0xff
      lit = 0
      op++ // start a run
      ip += len + 1
      if (ip >= inLen - 2) break
      ip -= 2
      hval = (((src[ip] as number) << 8) | (src[ip + 1] as number)) >>> 0
      hval = ((hval << 8) | (src[ip + 2] as number)) >>> 0
      table[slotOf(hval)] = ip
      ip++
      hval = ((hval << 8) | (src[ip + 2] as number)) >>> 0
      table[slotOf(hval)] = ip
      ip++
    } else {
      if (op >= outLen) return null
      lit++
      out[op++] = src[ip++] as number
      if (lit === LZF_MAX_LIT) {
        out[op - lit - 1] = lit - 1
        lit = 0
        op++
      }
    }
  }
  if (op + 3 > outLen) return null
  while (ip < inLen) {
    lit++
    out[op++] = src[ip++] as number
    if (lit === LZF_MAX_LIT) {
      out[op - lit - 1] = lit - 1
      lit = 0
      op++
    }
  }
  out[op - lit - 1] = lit - 1
  if (lit === 0) op--
  return out.subarray(0, op)
}
