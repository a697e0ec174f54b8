// LZF (liblzf's format, as Redis 7.0.15 compresses RDB strings and quicklist nodes): a stream of
// control bytes. c < 32: c + 1 literal bytes follow. Otherwise a back reference: length
// (c >> 5) + 2, where c >> 5 == 7 means the next byte adds to it, at distance
// ((c & 31) << 8 | the following byte) + 1 behind the output's end (up to 8192 back, up to 264
// long). Decompression is exact and bounds-checked (null for anything malformed); the
// compressor is our own greedy matcher: its output decompresses with liblzf, though it is not
// always liblzf's byte for byte.

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

const LZF_HASH_BITS = 14
const LZF_MAX_OFF = 1 << 13
const LZF_MAX_REF = (1 << 8) + (1 << 3)
const LZF_MAX_LIT = 1 << 5

/** Compress into the LZF format (a greedy 3-byte-hash matcher); null unless it saves 4 bytes. */
export function lzfCompress(src: Uint8Array): Buffer | null {
  const limit = src.length - 4
  if (limit <= 0) return null
  const out = Buffer.alloc(src.length + 64)
  const table = new Int32Array(1 << LZF_HASH_BITS).fill(-1)
  let op = 1 // out[litAt] is the current literal run's control byte
  let litAt = 0
  let lit = 0
  let ip = 0
  const hash = (i: number): number =>
    ((((src[i] as number) << 16) | ((src[i + 1] as number) << 8) | (src[i + 2] as number)) *
      2654435761) >>> (32 - LZF_HASH_BITS)
  while (ip < src.length) {
    if (op > limit + 3) return null
    let matched = 0
    let off = 0
    if (ip + 2 < src.length) {
      const h = hash(ip)
      const ref = table[h] as number
      table[h] = ip
      off = ip - ref - 1
      if (ref >= 0 && off < LZF_MAX_OFF && src[ref] === src[ip] && src[ref + 1] === src[ip + 1] &&
        src[ref + 2] === src[ip + 2]) {
        const max = Math.min(LZF_MAX_REF, src.length - ip)
        matched = 3
        while (matched < max && src[ref + matched] === src[ip + matched]) matched++
      }
    }
    if (matched === 0) {
      out[op++] = src[ip++] as number
      if (++lit === LZF_MAX_LIT) {
        out[litAt] = lit - 1
        lit = 0
        litAt = op++
      }
      continue
    }
    if (lit > 0) out[litAt] = lit - 1
    else op-- // no literal run open: drop its reserved control byte
    const len = matched - 2
    if (len < 7) {
      out[op++] = (len << 5) | (off >> 8)
    } else {
      out[op++] = (7 << 5) | (off >> 8)
      out[op++] = len - 7
    }
    out[op++] = off & 0xff
    ip += matched
    lit = 0
    litAt = op++
  }
  if (lit > 0) out[litAt] = lit - 1
  else op--
  return op <= limit ? out.subarray(0, op) : null
}

