// Redis 7.0.15's serialization primitives (rdb.c, lzf, crc64.c, listpack.c, ziplist.c,
// intset.c), read from an untrusted payload and written for DUMP / MIGRATE. The values built
// from them are in rdb-value.ts (and rdb-stream.ts); this file is the one place of the bytes.
// Layouts (all written from the Redis sources' descriptions; no code copied):
// - DUMP payload: u8 RDB type | the value | u16 LE RDB version (10) | u64 LE CRC-64 (Jones
//   polynomial 0xad93d23594c935a9, reflected, init 0, no xorout) of everything before the CRC.
// - length: first byte's top two bits: 00 → 6-bit length; 01 → 14-bit (6 bits + next byte, big
//   endian); 10 with byte 0x80 → u32 BE follows, 0x81 → u64 BE follows; 11 → a special string
//   encoding in the low 6 bits (0 int8, 1 int16 LE, 2 int32 LE, 3 LZF).
// - string: length + bytes, or an int encoding (the decimal text of the integer), or LZF:
//   0xC3, length of the compressed bytes, length of the original, the compressed bytes.
// - LZF stream: lzf.ts.
// - listpack: u32 LE total bytes, u16 LE element count (65535: unknown), elements, 0xFF. An
//   element is its encoding, its data and its backlen (the byte count of encoding + data, 7 bits
//   a byte, 1..5 bytes). Encodings: 0xxxxxxx uint7; 10xxxxxx str ≤ 63; 110xxxxx +1 byte int13;
//   1110xxxx +1 byte str ≤ 4095 (12 bits, big endian); 0xF0 + u32 LE str; 0xF1/F2/F3/F4 int16,
//   int24, int32, int64 (LE, two's complement).
// - ziplist (read only: RDB before 7.0): u32 zlbytes, u32 zltail, u16 count, entries, 0xFF; an
//   entry is prevlen (1 byte, or 0xFE + u32), encoding (00 str6, 01 str14 BE, 0x80 + u32 BE str,
//   0xC0 int16, 0xD0 int32, 0xE0 int64, 0xF0 int24, 0xFE int8, 0xF1..0xFD immediate 0..12), data.
// - intset: u32 LE width (2, 4 or 8), u32 LE count, count sorted distinct LE integers.
// Invariants: every read is bounds-checked and throws RdbError (RESTORE answers "Bad data
// format"); nothing is allocated from a declared length before the bytes backing it are known to
// be there, except LZF's output, bounded by its maximum expansion (lzf.ts).

import { assert } from '../assert.js'
import { string2ll } from '../int64.js'
import { lzfCompress, lzfDecompress } from './lzf.js'

export const RDB_VERSION = 10

export class RdbError extends Error {
  override name = 'RdbError'
}

export function fail(what: string): never {
  throw new RdbError(what)
}

// ---- CRC-64 (Jones), two 32-bit halves per table entry --------------------------------------

const CRC_LO = new Uint32Array(256)
const CRC_HI = new Uint32Array(256)
{
  const poly = 0x95ac9329ac4bc9b5n
  for (let i = 0; i < 256; i++) {
    let crc = BigInt(i)
    for (let j = 0; j < 8; j++) crc = (crc & 1n) !== 0n ? (crc >> 1n) ^ poly : crc >> 1n
    CRC_LO[i] = Number(crc & 0xffffffffn)
    CRC_HI[i] = Number(crc >> 32n)
  }
}

/** Redis's crc64(0, buf[start, end)). */
export function crc64Jones(buf: Uint8Array, start = 0, end = buf.length): bigint {
  let lo = 0
  let hi = 0
  for (let i = start; i < end; i++) {
    const idx = (lo ^ (buf[i] as number)) & 0xff
    lo = (((lo >>> 8) | (hi << 24)) ^ (CRC_LO[idx] as number)) >>> 0
    hi = ((hi >>> 8) ^ (CRC_HI[idx] as number)) >>> 0
  }
  return (BigInt(hi) << 32n) | BigInt(lo)
}

/** The body followed by the footer (version, CRC): what DUMP replies. */
export function sealPayload(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length + 10)
  body.copy(out, 0)
  out.writeUInt16LE(RDB_VERSION, body.length)
  out.writeBigUInt64LE(crc64Jones(out, 0, body.length + 2), body.length + 2)
  return out
}

/** Redis's verifyDumpPayload: at least the footer, a version not newer than 10, the CRC right. */
export function verifyPayload(p: Buffer): boolean {
  if (p.length < 10) return false
  const footer = p.length - 10
  if (p.readUInt16LE(footer) > RDB_VERSION) return false
  return p.readBigUInt64LE(footer + 2) === crc64Jones(p, 0, p.length - 8)
}

// ---- integers as text (string2ll / ll2string) -------------------------------------------------

/** Redis's string2ll (src/int64.ts) as a bigint: the integer a canonical text holds, or null. */
export function canonicalInt(b: Uint8Array): bigint | null {
  const v = string2ll(b)
  return v === null ? null : BigInt(v)
}

const intText = (v: bigint | number): Buffer => Buffer.from(String(v), 'latin1')

// ---- writer -----------------------------------------------------------------------------------

export class RdbWriter {
  private parts: Buffer[] = []
  private small: number[] = []

  private flushSmall(): void {
    if (this.small.length === 0) return
    this.parts.push(Buffer.from(this.small))
    this.small = []
  }

  byte(b: number): void {
    this.small.push(b & 0xff)
  }

  raw(b: Buffer): void {
    this.flushSmall()
    this.parts.push(b)
  }

  len(n: number | bigint): void {
    const v = BigInt(n)
    assert(v >= 0n, 'an RDB length is unsigned')
    if (v < 64n) {
      this.byte(Number(v))
    } else if (v < 16384n) {
      this.byte(0x40 | Number(v >> 8n))
      this.byte(Number(v & 0xffn))
    } else if (v <= 0xffffffffn) {
      const b = Buffer.alloc(5)
      b[0] = 0x80
      b.writeUInt32BE(Number(v), 1)
      this.raw(b)
    } else {
      const b = Buffer.alloc(9)
      b[0] = 0x81
      b.writeBigUInt64BE(v, 1)
      this.raw(b)
    }
  }

  /** rdbSaveRawString: an int encoding when it fits, LZF past 20 bytes when it saves, else plain. */
  string(s: Buffer): void {
    if (s.length <= 11) {
      const v = canonicalInt(s)
      if (v !== null && v >= -(1n << 31n) && v < (1n << 31n)) {
        const n = Number(v)
        if (n >= -128 && n <= 127) {
          this.byte(0xc0)
          this.byte(n)
        } else if (n >= -32768 && n <= 32767) {
          this.byte(0xc1)
          this.byte(n)
          this.byte(n >> 8)
        } else {
          this.byte(0xc2)
          for (let k = 0; k < 4; k++) this.byte(n >> (8 * k))
        }
        return
      }
    }
    if (s.length > 20) {
      const packed = lzfCompress(s)
      if (packed !== null) {
        this.byte(0xc3)
        this.len(packed.length)
        this.len(s.length)
        this.raw(packed)
        return
      }
    }
    this.len(s.length)
    if (s.length > 0) this.raw(s)
  }

  i64le(v: bigint | number): void {
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(BigInt.asIntN(64, BigInt(v)))
    this.raw(b)
  }

  f64le(v: number): void {
    const b = Buffer.alloc(8)
    b.writeDoubleLE(v)
    this.raw(b)
  }

  finish(): Buffer {
    this.flushSmall()
    return Buffer.concat(this.parts)
  }
}

// ---- reader -----------------------------------------------------------------------------------

export class RdbReader {
  pos = 0
  constructor(readonly buf: Buffer, readonly end = buf.length) {}

  get left(): number {
    return this.end - this.pos
  }

  byte(): number {
    if (this.pos >= this.end) fail('short payload')
    return this.buf[this.pos++] as number
  }

  take(n: number): Buffer {
    if (n < 0 || n > this.end - this.pos) fail('short payload')
    const at = this.pos
    this.pos += n
    return this.buf.subarray(at, at + n)
  }

  /** A length as a bigint, or the special encoding (encoded: true) a string begins with. */
  private lenOrEncoding(): { v: bigint; encoded: boolean } {
    const first = this.byte()
    const kind = first >> 6
    if (kind === 0) return { v: BigInt(first & 0x3f), encoded: false }
    if (kind === 1) return { v: BigInt(((first & 0x3f) << 8) | this.byte()), encoded: false }
    if (kind === 3) return { v: BigInt(first & 0x3f), encoded: true }
    if (first === 0x80) return { v: BigInt(this.take(4).readUInt32BE(0)), encoded: false }
    if (first === 0x81) return { v: this.take(8).readBigUInt64BE(0), encoded: false }
    return fail('unknown length encoding')
  }

  lenBig(): bigint {
    const l = this.lenOrEncoding()
    if (l.encoded) fail('an encoded string where a length belongs')
    return l.v
  }

  /** A count or length (never more than the bytes left could describe). */
  len(): number {
    const v = this.lenBig()
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length out of range')
    return Number(v)
  }

  /** A count of items, each at least `minBytes` long: more than the payload holds is refused. */
  count(minBytes = 1): number {
    const n = this.len()
    if (n * minBytes > this.left) fail('count beyond the payload')
    return n
  }

  /** rdbGenericLoadStringObject: plain, int-encoded (as its text) or LZF. */
  string(): Buffer {
    const l = this.lenOrEncoding()
    if (!l.encoded) {
      if (l.v > BigInt(this.left)) fail('string beyond the payload')
      return Buffer.from(this.take(Number(l.v)))
    }
    switch (Number(l.v)) {
      case 0: return intText(this.take(1).readInt8(0))
      case 1: return intText(this.take(2).readInt16LE(0))
      case 2: return intText(this.take(4).readInt32LE(0))
      case 3: {
        const clen = this.len()
        const len = this.len()
        const at = this.pos
        this.take(clen)
        return lzfDecompress(this.buf, at, at + clen, len) ?? fail('invalid LZF string')
      }
      default: return fail('unknown string encoding')
    }
  }

  i64le(): bigint {
    return this.take(8).readBigInt64LE(0)
  }

  f64le(): number {
    return this.take(8).readDoubleLE(0)
  }

  /** rdbLoadDoubleValue (RDB_TYPE_ZSET): u8 length or 253 nan / 254 +inf / 255 -inf, text. */
  doubleText(): number {
    const n = this.byte()
    if (n === 255) return -Infinity
    if (n === 254) return Infinity
    if (n === 253) return NaN
    return parseScore(this.take(n))
  }
}

/** A score as strtod reads it (the whole text); NaN when it is not a number. */
export function parseScore(b: Buffer): number {
  const s = b.toString('latin1')
  if (/^[+-]?inf(inity)?$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return NaN
  return Number(s)
}

// ---- listpack ---------------------------------------------------------------------------------

function backlenBytes(n: number): number {
  return n <= 127 ? 1 : n < 16383 ? 2 : n < 2097151 ? 3 : n < 268435455 ? 4 : 5
}

/** Every element of a listpack, as Buffers (integers as their decimal text); throws when bad. */
export function readListpack(lp: Buffer): Buffer[] {
  if (lp.length < 7) fail('listpack too short')
  if (lp.readUInt32LE(0) !== lp.length) fail('listpack size mismatch')
  const declared = lp.readUInt16LE(4)
  const out: Buffer[] = []
  let p = 6
  const need = (n: number): void => {
    if (p + n > lp.length - 1) fail('listpack element out of bounds')
  }
  while (p < lp.length && lp[p] !== 0xff) {
    const start = p
    const e = lp[p] as number
    let value: Buffer
    if (e < 0x80) {
      value = intText(e)
      p += 1
    } else if (e < 0xc0) {
      const n = e & 0x3f
      need(1 + n)
      value = Buffer.from(lp.subarray(p + 1, p + 1 + n))
      p += 1 + n
    } else if (e < 0xe0) {
      need(2)
      const u = ((e & 0x1f) << 8) | (lp[p + 1] as number)
      value = intText(u >= 4096 ? u - 8192 : u)
      p += 2
    } else if (e < 0xf0) {
      need(2)
      const n = ((e & 0x0f) << 8) | (lp[p + 1] as number)
      need(2 + n)
      value = Buffer.from(lp.subarray(p + 2, p + 2 + n))
      p += 2 + n
    } else if (e === 0xf0) {
      need(5)
      const n = lp.readUInt32LE(p + 1)
      need(5 + n)
      value = Buffer.from(lp.subarray(p + 5, p + 5 + n))
      p += 5 + n
    } else if (e === 0xf1) {
      need(3); value = intText(lp.readInt16LE(p + 1)); p += 3
    } else if (e === 0xf2) {
      need(4); value = intText(lp.readIntLE(p + 1, 3)); p += 4
    } else if (e === 0xf3) {
      need(5); value = intText(lp.readInt32LE(p + 1)); p += 5
    } else if (e === 0xf4) {
      need(9); value = intText(lp.readBigInt64LE(p + 1)); p += 9
    } else {
      return fail('unknown listpack encoding')
    }
    const entryLen = p - start
    const bl = backlenBytes(entryLen)
    need(bl)
    let back = 0
    for (let k = 0; k < bl; k++) {
      const b = lp[p + k] as number
      if ((b >= 128) !== (k > 0)) fail('listpack backlen flags')
      back = back * 128 + (b & 127)
    }
    if (back !== entryLen) fail('listpack backlen mismatch')
    p += bl
    out.push(value)
  }
  if (p !== lp.length - 1) fail('listpack end marker misplaced')
  if (declared !== 65535 && declared !== out.length) fail('listpack count mismatch')
  return out
}

function intEncoding(v: bigint): Buffer {
  if (v >= 0n && v <= 127n) return Buffer.from([Number(v)])
  if (v >= -4096n && v <= 4095n) {
    const u = Number(v < 0n ? v + 8192n : v)
    return Buffer.from([0xc0 | (u >> 8), u & 0xff])
  }
  let b: Buffer
  if (v >= -32768n && v <= 32767n) {
    b = Buffer.alloc(3); b[0] = 0xf1; b.writeInt16LE(Number(v), 1)
  } else if (v >= -8388608n && v <= 8388607n) {
    b = Buffer.alloc(4); b[0] = 0xf2; b.writeIntLE(Number(v), 1, 3)
  } else if (v >= -2147483648n && v <= 2147483647n) {
    b = Buffer.alloc(5); b[0] = 0xf3; b.writeInt32LE(Number(v), 1)
  } else {
    b = Buffer.alloc(9); b[0] = 0xf4; b.writeBigInt64LE(v, 1)
  }
  return b
}

function stringEncoding(s: Buffer): Buffer {
  const n = s.length
  let head: Buffer
  if (n < 64) head = Buffer.from([0x80 | n])
  else if (n < 4096) head = Buffer.from([0xe0 | (n >> 8), n & 0xff])
  else {
    head = Buffer.alloc(5); head[0] = 0xf0; head.writeUInt32LE(n, 1)
  }
  return Buffer.concat([head, s])
}

function backlen(n: number): Buffer {
  const bl = backlenBytes(n)
  const b = Buffer.alloc(bl)
  // The top 7-bit group first, unflagged; every later group with bit 7 (read from the end).
  for (let k = 0; k < bl; k++) b[k] = (Math.floor(n / 128 ** (bl - 1 - k)) & 127) | (k === 0 ? 0 : 128)
  return b
}

/** A listpack element of an integer or of a string (lpAppend: integer-looking text as int). */
export function listpackElement(x: Buffer | bigint | number): Buffer {
  let enc: Buffer
  if (typeof x === 'bigint' || typeof x === 'number') enc = intEncoding(BigInt(x))
  else {
    const v = canonicalInt(x)
    enc = v !== null ? intEncoding(v) : stringEncoding(x)
  }
  return Buffer.concat([enc, backlen(enc.length)])
}

/** A whole listpack of ready elements (listpackElement). */
export function buildListpack(elements: readonly Buffer[]): Buffer {
  let size = 7
  for (const e of elements) size += e.length
  const out = Buffer.alloc(size)
  out.writeUInt32LE(size, 0)
  out.writeUInt16LE(elements.length < 65535 ? elements.length : 65535, 4)
  let p = 6
  for (const e of elements) {
    e.copy(out, p)
    p += e.length
  }
  out[p] = 0xff
  return out
}

// ---- ziplist (input only) ---------------------------------------------------------------------

/** Every entry of a ziplist (RDB 9 and older), as Buffers; throws when bad. */
export function readZiplist(zl: Buffer): Buffer[] {
  if (zl.length < 11 || zl.readUInt32LE(0) !== zl.length) fail('ziplist size mismatch')
  const declared = zl.readUInt16LE(8)
  const out: Buffer[] = []
  let p = 10
  let prev = 0
  const need = (n: number): void => {
    if (p + n > zl.length - 1) fail('ziplist entry out of bounds')
  }
  while (p < zl.length && zl[p] !== 0xff) {
    const start = p
    need(1)
    let prevlen = zl[p] as number
    if (prevlen === 0xfe) {
      need(5); prevlen = zl.readUInt32LE(p + 1); p += 5
    } else p += 1
    if (prevlen !== prev) fail('ziplist prevlen mismatch')
    need(1)
    const e = zl[p] as number
    let n = -1
    let hl = 1
    if (e >> 6 === 0) n = e & 0x3f
    else if (e >> 6 === 1) { need(2); n = ((e & 0x3f) << 8) | (zl[p + 1] as number); hl = 2 } else if (e === 0x80) {
      need(5); n = zl.readUInt32BE(p + 1); hl = 5
    }
    if (n >= 0) {
      need(hl + n)
      out.push(Buffer.from(zl.subarray(p + hl, p + hl + n)))
      p += hl + n
    } else {
      let v: bigint | number
      if (e === 0xc0) { need(3); v = zl.readInt16LE(p + 1); p += 3 } else if (e === 0xd0) { need(5); v = zl.readInt32LE(p + 1); p += 5 } else if (e === 0xe0) { need(9); v = zl.readBigInt64LE(p + 1); p += 9 } else if (e === 0xf0) { need(4); v = zl.readIntLE(p + 1, 3); p += 4 } else if (e === 0xfe) { need(2); v = zl.readInt8(p + 1); p += 2 } else if (e >= 0xf1 && e <= 0xfd) { v = (e & 0x0f) - 1; p += 1 } else return fail('unknown ziplist encoding')
      out.push(intText(v))
    }
    prev = p - start
  }
  if (p !== zl.length - 1) fail('ziplist end marker misplaced')
  if (declared !== 65535 && declared !== out.length) fail('ziplist count mismatch')
  return out
}

// ---- intset -----------------------------------------------------------------------------------

/** The members of an intset, ascending and distinct (as decimal text); throws when bad. */
export function readIntset(is: Buffer): Buffer[] {
  if (is.length < 8) fail('intset too short')
  const width = is.readUInt32LE(0)
  if (width !== 2 && width !== 4 && width !== 8) fail('intset width')
  const count = is.readUInt32LE(4)
  if (count === 0 || is.length !== 8 + count * width) fail('intset size mismatch')
  const out: Buffer[] = []
  let prev: bigint | null = null
  for (let i = 0; i < count; i++) {
    const at = 8 + i * width
    const v = width === 2 ? BigInt(is.readInt16LE(at)) : width === 4 ? BigInt(is.readInt32LE(at))
      : is.readBigInt64LE(at)
    if (prev !== null && v <= prev) fail('intset out of order')
    prev = v
    out.push(intText(v))
  }
  return out
}

/** An intset of these integers (any order; the caller checked they are distinct). */
export function buildIntset(values: readonly bigint[]): Buffer {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  let width = 2
  for (const v of sorted) {
    if (v < -32768n || v > 32767n) width = Math.max(width, 4)
    if (v < -2147483648n || v > 2147483647n) width = 8
  }
  const out = Buffer.alloc(8 + sorted.length * width)
  out.writeUInt32LE(width, 0)
  out.writeUInt32LE(sorted.length, 4)
  sorted.forEach((v, i) => {
    const at = 8 + i * width
    if (width === 2) out.writeInt16LE(Number(v), at)
    else if (width === 4) out.writeInt32LE(Number(v), at)
    else out.writeBigInt64LE(v, at)
  })
  return out
}
