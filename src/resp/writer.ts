// Reply encoding, RESP2 and RESP3, byte for byte as Redis 7.0.15 writes it.
//
// Invariants, and why:
// - Each write* method appends exactly one reply (or one aggregate header) in the protocol the
//   OutputBuffer is set to, with Redis's bytes: RESP3-only types degrade as Redis's addReply*
//   does in RESP2 (map -> flat array of 2N, set/push -> array, double/big number/verbatim ->
//   bulk, boolean -> :1/:0, every null -> $-1 or *-1). The differential tests compare bytes.
// - Doubles are formatted as C's printf("%.17g") (Redis 7.0 addReplyDouble), including glibc's
//   round-half-even on exact decimal ties, which JS's toExponential rounds the other way.
// - No reply can break the framing: simple strings and errors have '\r' and '\n' replaced by
//   spaces (as addReplyErrorFormat does); everything else is length-prefixed.
// - Hot path without per-reply allocation: replies are appended into one growing Buffer; small
//   replies that Redis shares (+OK, :0..:9999, $-1...) are precomputed bytes, and '*N' / '$N'
//   headers are written digit by digit in place (as cheap as copying them). take() hands
//   out what was written. A region handed out is never written again (the socket may still be
//   sending it), so the buffer is rewound only when every take() since its last rewind copied.
// - Buffers come from Buffer.alloc only, and only written bytes are handed out: no buffer bleed.
// - encodeReply walks a Reply tree with an explicit stack: no recursion, whatever the depth.

export type Protocol = 2 | 3

/** Slab size of an OutputBuffer: one socket write's worth of small replies. */
export const OUTPUT_SLAB_BYTES = 64 * 1024
/** take() copies out at most this many bytes and keeps writing at the buffer's start. */
export const TAKE_COPY_MAX_BYTES = 4 * 1024
/** A slab grown past this is not kept after take() handed it out. */
const SLAB_BYTES_KEEP_MAX = 4 * OUTPUT_SLAB_BYTES
/** Redis's OBJ_SHARED_INTEGERS: ':0' to ':9999' are precomputed. */
export const SHARED_INTEGERS_COUNT = 10000

const CHAR_CR = 13
const CHAR_LF = 10
const CHAR_SPACE = 32
const CHAR_MINUS = 45
const CHAR_ZERO = 48
const EMPTY = Buffer.alloc(0)

function ascii(text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

/** Replies Redis keeps as shared objects, as bytes. */
export const SHARED = Object.freeze({
  ok: ascii('+OK\r\n'),
  pong: ascii('+PONG\r\n'),
  queued: ascii('+QUEUED\r\n'),
  emptyBulk: ascii('$0\r\n\r\n'),
  emptyArray: ascii('*0\r\n'),
  nullBulkResp2: ascii('$-1\r\n'),
  nullArrayResp2: ascii('*-1\r\n'),
  nullResp3: ascii('_\r\n'),
  trueResp3: ascii('#t\r\n'),
  falseResp3: ascii('#f\r\n'),
  zero: ascii(':0\r\n'),
  one: ascii(':1\r\n'),
})

/** ':0\r\n' ... ':9999\r\n' back to back; integer n's reply starts at SHARED_INTEGER_OFFSETS[n]. */
const SHARED_INTEGER_BYTES: Buffer = (() => {
  let text = ''
  for (let n = 0; n < SHARED_INTEGERS_COUNT; n++) text += `:${n}\r\n`
  return ascii(text)
})()
const SHARED_INTEGER_OFFSETS: Uint32Array = (() => {
  const offsets = new Uint32Array(SHARED_INTEGERS_COUNT + 1)
  let offset = 0
  for (let n = 0; n < SHARED_INTEGERS_COUNT; n++) {
    offsets[n] = offset
    offset += String(n).length + 3
  }
  offsets[SHARED_INTEGERS_COUNT] = offset
  return offsets
})()

/** The shared ':n\r\n' reply for 0 <= n < SHARED_INTEGERS_COUNT (a view: do not modify). */
export function sharedIntegerReply(n: number): Buffer {
  if (!(Number.isInteger(n) && n >= 0 && n < SHARED_INTEGERS_COUNT)) {
    throw new RangeError(`no shared integer reply for ${n}`)
  }
  const start = SHARED_INTEGER_OFFSETS[n] ?? 0
  const stop = SHARED_INTEGER_OFFSETS[n + 1] ?? 0
  return SHARED_INTEGER_BYTES.subarray(start, stop)
}

/** Decimal digits of a non-negative safe integer. */
function digitCount(n: number): number {
  let count = 1
  while (n >= 10) {
    n = Math.floor(n / 10)
    count++
  }
  return count
}

// ---------------------------------------------------------------------------------------------
// Doubles

/** Redis 7.0's double text: printf("%.17g"), with "inf", "-inf" and "nan" spelled as Redis. */
export function formatDouble(value: number): string {
  if (value === Infinity) return 'inf'
  if (value === -Infinity) return '-inf'
  if (Number.isNaN(value)) return 'nan'
  if (value === 0) return Object.is(value, -0) ? '-0' : '0'
  const negative = value < 0
  const magnitude = negative ? -value : value
  if (magnitude < 1e15 && Number.isInteger(magnitude)) return String(value)
  const [digits, exponent] = roundTo17Digits(magnitude)
  return (negative ? '-' : '') + formatG17(digits, exponent)
}

/**
 * The 17 significant digits of a positive finite x and its decimal exponent, rounded to nearest
 * with ties to even (glibc printf). V8's toExponential rounds exact ties up, so a tie (the 18th
 * digit a 5 with nothing after it) is settled from x's exact decimal expansion.
 */
function roundTo17Digits(x: number): [string, number] {
  const wide = x.toExponential(20)
  const wideDigits = wide.slice(0, 1) + wide.slice(2, 22)
  if (wideDigits.endsWith('5000')) {
    const exact = exactDecimal(x)
    if (exact !== null) return roundHalfEven(exact.digits, exact.exponent)
  }
  const narrow = x.toExponential(16)
  const e = narrow.indexOf('e')
  return [narrow.slice(0, 1) + narrow.slice(2, e), Number(narrow.slice(e + 1))]
}

/** x's exact decimal digits (no leading zeros) and the exponent of the first, via BigInt. */
function exactDecimal(x: number): { digits: string, exponent: number } | null {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const bits = view.getBigUint64(0)
  const biasedExponent = Number((bits >> 52n) & 0x7ffn)
  const fraction = bits & 0xfffffffffffffn
  if (biasedExponent === 0x7ff) return null
  const mantissa = biasedExponent === 0 ? fraction : fraction | (1n << 52n)
  const binaryExponent = (biasedExponent === 0 ? 1 : biasedExponent) - 1075
  let digits: string
  let pointShift: number // value = digits * 10^-pointShift
  if (binaryExponent >= 0) {
    digits = (mantissa << BigInt(binaryExponent)).toString()
    pointShift = 0
  } else {
    digits = (mantissa * 5n ** BigInt(-binaryExponent)).toString()
    pointShift = -binaryExponent
  }
  const trimmed = digits.replace(/0+$/, '')
  return { digits: trimmed, exponent: digits.length - 1 - pointShift }
}

/** Rounds a digit string (first digit non-zero) to 17 digits, ties to even. */
function roundHalfEven(digits: string, exponent: number): [string, number] {
  if (digits.length <= 17) return [digits.padEnd(17, '0'), exponent]
  const kept = digits.slice(0, 17)
  const rest = digits.slice(17)
  const restFirst = rest.charCodeAt(0) - CHAR_ZERO
  const restIsHalf = restFirst === 5 && /^5(0*)$/.test(rest)
  const lastOdd = ((kept.charCodeAt(16) - CHAR_ZERO) & 1) === 1
  const up = restFirst > 5 || (restFirst === 5 && (!restIsHalf || lastOdd))
  if (!up) return [kept, exponent]
  const bumped = (BigInt(kept) + 1n).toString()
  if (bumped.length > 17) return [bumped.slice(0, 17), exponent + 1]
  return [bumped, exponent]
}

/** printf's %g layout of 17 significant digits with the given decimal exponent. */
function formatG17(digits: string, exponent: number): string {
  if (exponent < -4 || exponent >= 17) {
    const fraction = digits.slice(1).replace(/0+$/, '')
    const sign = exponent < 0 ? '-' : '+'
    const magnitude = Math.abs(exponent)
    return digits.slice(0, 1) + (fraction === '' ? '' : '.' + fraction) + 'e' + sign +
      (magnitude < 10 ? '0' : '') + String(magnitude)
  }
  if (exponent >= 0) {
    const fraction = digits.slice(exponent + 1).replace(/0+$/, '')
    return digits.slice(0, exponent + 1) + (fraction === '' ? '' : '.' + fraction)
  }
  const fraction = ('0'.repeat(-exponent - 1) + digits).replace(/0+$/, '')
  return '0.' + fraction
}

// ---------------------------------------------------------------------------------------------
// The reply tree

export type Reply =
  | { readonly type: 'simple', readonly value: string | Buffer }
  | { readonly type: 'error', readonly value: string | Buffer }
  | { readonly type: 'integer', readonly value: number | bigint }
  | { readonly type: 'bulk', readonly value: string | Buffer }
  | { readonly type: 'null' }
  | { readonly type: 'null-array' }
  | { readonly type: 'array', readonly items: readonly Reply[] }
  | { readonly type: 'set', readonly items: readonly Reply[] }
  | { readonly type: 'push', readonly items: readonly Reply[] }
  | { readonly type: 'map', readonly entries: ReadonlyArray<readonly [Reply, Reply]> }
  | { readonly type: 'double', readonly value: number }
  | { readonly type: 'boolean', readonly value: boolean }
  | { readonly type: 'verbatim', readonly format: string, readonly value: string | Buffer }
  | { readonly type: 'big-number', readonly value: bigint | string }
  | { readonly type: 'raw', readonly value: Buffer }

/** Reply constructors, for handlers that build trees. */
export const reply = Object.freeze({
  ok: Object.freeze({ type: 'simple', value: 'OK' }) as Reply,
  null: Object.freeze({ type: 'null' }) as Reply,
  nullArray: Object.freeze({ type: 'null-array' }) as Reply,
  simple: (value: string | Buffer): Reply => ({ type: 'simple', value }),
  error: (value: string | Buffer): Reply => ({ type: 'error', value }),
  integer: (value: number | bigint): Reply => ({ type: 'integer', value }),
  bulk: (value: string | Buffer): Reply => ({ type: 'bulk', value }),
  array: (items: readonly Reply[]): Reply => ({ type: 'array', items }),
  set: (items: readonly Reply[]): Reply => ({ type: 'set', items }),
  push: (items: readonly Reply[]): Reply => ({ type: 'push', items }),
  map: (entries: ReadonlyArray<readonly [Reply, Reply]>): Reply => ({ type: 'map', entries }),
  double: (value: number): Reply => ({ type: 'double', value }),
  boolean: (value: boolean): Reply => ({ type: 'boolean', value }),
  verbatim: (value: string | Buffer, format = 'txt'): Reply =>
    ({ type: 'verbatim', format, value }),
  bigNumber: (value: bigint | string): Reply => ({ type: 'big-number', value }),
  raw: (value: Buffer): Reply => ({ type: 'raw', value }),
})

/** One level of an aggregate being encoded: its children, flattened, and the next index. */
interface Frame {
  readonly children: readonly Reply[] | ReadonlyArray<readonly [Reply, Reply]>
  readonly isMap: boolean
  index: number
}

/**
 * Encodes a reply tree to bytes the caller owns (convenience; the hot path writes to its own
 * OutputBuffer). One shared OutputBuffer serves every call: take() never gives out bytes that
 * are written again, and a refused reply (e.g. a non-integer integer) is discarded whole.
 */
export function encodeReply(value: Reply, proto: Protocol): Buffer {
  const out = sharedEncoder()
  out.proto = proto
  try {
    out.writeReply(value)
  } catch (error) {
    out.take()
    throw error
  }
  return out.take()
}

let encoder: OutputBuffer | null = null

function sharedEncoder(): OutputBuffer {
  encoder ??= new OutputBuffer(2)
  return encoder
}

// ---------------------------------------------------------------------------------------------
// OutputBuffer

/**
 * Replies of one connection, appended in order; take() returns the bytes to write. `proto`
 * may change between replies (HELLO 3 answers in RESP3).
 */
export class OutputBuffer {
  proto: Protocol
  private buf: Buffer
  private start = 0 // first byte not yet taken
  private pos = 0 // next byte to write
  private lent = false // take() handed out a view of buf[.., start)

  constructor(proto: Protocol = 2, initialBytes = OUTPUT_SLAB_BYTES) {
    this.proto = proto
    this.buf = Buffer.alloc(initialBytes)
  }

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.pos - this.start
  }

  /** The bytes written since the last take(), now owned by the caller (e.g. socket.write). */
  take(): Buffer {
    const length = this.pos - this.start
    if (length === 0) return EMPTY
    if (length <= TAKE_COPY_MAX_BYTES) {
      const copy = Buffer.from(this.buf.subarray(this.start, this.pos))
      if (this.lent) this.start = this.pos
      else this.start = this.pos = 0
      return copy
    }
    const view = this.buf.subarray(this.start, this.pos)
    this.lent = true
    if (this.buf.length > SLAB_BYTES_KEEP_MAX) {
      this.buf = Buffer.allocUnsafe(OUTPUT_SLAB_BYTES) // only written bytes are ever handed out
      this.start = this.pos = 0
      this.lent = false
    } else {
      this.start = this.pos
    }
    return view
  }

  /**
   * Replies since `mark` are forgotten: `mark` is a `length` read earlier, with no take() since
   * (dispatch drops the replies of a transaction the pool refused, without a scratch buffer).
   */
  truncate(mark: number): void {
    if (!(mark >= 0 && mark <= this.pos - this.start)) {
      throw new RangeError(`truncate to ${mark} of ${this.pos - this.start} bytes`)
    }
    this.pos = this.start + mark
  }

  /** Makes room for `bytes` more bytes at pos. */
  private reserve(bytes: number): void {
    if (this.buf.length - this.pos >= bytes) return
    const pending = this.pos - this.start
    const needed = pending + bytes
    if (!this.lent && this.buf.length >= needed) {
      this.buf.copy(this.buf, 0, this.start, this.pos)
    } else {
      // Not zero-filled: only bytes written are ever handed out, and a big reply (LRANGE)
      // grows the buffer on every batch, where zero-filling cost more than the copies.
      const grown = Buffer.allocUnsafe(Math.max(OUTPUT_SLAB_BYTES, needed + (needed >>> 1)))
      this.buf.copy(grown, 0, this.start, this.pos)
      this.buf = grown
      this.lent = false
    }
    this.start = 0
    this.pos = pending
  }

  /** Appends pre-encoded bytes (e.g. SHARED.ok). */
  writeRaw(bytes: Buffer): void {
    this.reserve(bytes.length)
    const buf = this.buf
    let pos = this.pos
    if (bytes.length <= 16) {
      for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i] ?? 0
    } else {
      buf.set(bytes, pos) // TypedArray.set: a memmove without Buffer.copy's argument handling
      pos += bytes.length
    }
    this.pos = pos
  }

  /**
   * Pre-encoded bytes that start with a RESP2 array header ('*n'): in RESP3 their first byte is
   * written as '>', a push of n (pub/sub messages differ in nothing else).
   */
  writePushRaw(bytes: Buffer): void {
    if (bytes[0] !== 0x2a) throw new RangeError('a push starts with an array header')
    this.writeRaw(bytes)
    if (this.proto === 3) this.buf[this.pos - bytes.length] = 0x3e
  }

  writeOk(): void {
    this.writeRaw(SHARED.ok)
  }

  /** '+value'; '\r' and '\n' become spaces. */
  writeSimple(value: string | Buffer): void {
    if (value === 'OK') {
      this.writeRaw(SHARED.ok) // every SET's reply: no string encoding
      return
    }
    this.writeLine(0x2b, value)
  }

  /** '-value': value starts with the error code ("ERR ...", "WRONGTYPE ..."). */
  writeError(value: string | Buffer): void {
    this.writeLine(0x2d, value)
  }

  private writeLine(prefix: number, value: string | Buffer): void {
    const length = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.length
    this.reserve(length + 3)
    const buf = this.buf
    const start = this.pos + 1
    buf[this.pos] = prefix
    if (typeof value === 'string') buf.write(value, start, 'utf8')
    else value.copy(buf, start)
    for (let i = start; i < start + length; i++) {
      if (buf[i] === CHAR_CR || buf[i] === CHAR_LF) buf[i] = CHAR_SPACE
    }
    this.pos = start + length
    this.writeCrlf()
  }

  /** ':n'. n must be an integer in the signed 64-bit range. */
  writeInteger(n: number | bigint): void {
    if (typeof n === 'number' && n >= 0 && n < SHARED_INTEGERS_COUNT && Number.isInteger(n)) {
      const start = SHARED_INTEGER_OFFSETS[n] ?? 0
      const stop = SHARED_INTEGER_OFFSETS[n + 1] ?? 0
      this.reserve(stop - start)
      const buf = this.buf
      let pos = this.pos
      for (let i = start; i < stop; i++) buf[pos++] = SHARED_INTEGER_BYTES[i] ?? 0
      this.pos = pos
      return
    }
    this.writeNumberLine(0x3a, n)
  }

  /** Array header '*n' (n >= 0); n replies must follow. */
  writeArrayHeader(n: number): void {
    this.writeNumberLine(0x2a, n)
  }

  /** Map header: '%n' in RESP3, '*2n' in RESP2; n key-value pairs must follow. */
  writeMapHeader(n: number): void {
    if (this.proto === 3) this.writeNumberLine(0x25, n)
    else this.writeNumberLine(0x2a, n * 2)
  }

  /** Set header: '~n' in RESP3, '*n' in RESP2. */
  writeSetHeader(n: number): void {
    this.writeNumberLine(this.proto === 3 ? 0x7e : 0x2a, n)
  }

  /** Push header: '>n' in RESP3, '*n' in RESP2 (pub/sub messages are arrays there). */
  writePushHeader(n: number): void {
    this.writeNumberLine(this.proto === 3 ? 0x3e : 0x2a, n)
  }

  /** Attribute header '|n' (RESP3 only: Redis never sends attributes in RESP2). */
  writeAttributeHeader(n: number): void {
    if (this.proto !== 3) throw new Error('attributes exist only in RESP3')
    this.writeNumberLine(0x7c, n)
  }

  /** '$len' bytes; strings are written as UTF-8. */
  /** A bulk string of bytes src[start, end) (copied now: src may change afterwards). */
  writeBulkRange(src: Uint8Array, start: number, end: number): void {
    const length = end - start
    this.writeNumberLine(0x24, length, length + 2)
    const buf = this.buf
    let pos = this.pos
    if (length <= 32) { // a byte loop: no subarray object (a stream id, a short value)
      for (let i = start; i < end; i++) buf[pos++] = src[i] as number
    } else {
      buf.set(src.subarray(start, end), pos)
      pos += length
    }
    this.pos = pos
    this.writeCrlf()
  }

  writeBulk(value: string | Buffer): void {
    if (typeof value === 'string') {
      const length = Buffer.byteLength(value, 'utf8')
      this.writeNumberLine(0x24, length, length + 2)
      this.pos += this.buf.write(value, this.pos, 'utf8')
    } else {
      const length = value.length
      this.writeNumberLine(0x24, length, length + 2)
      const buf = this.buf
      let pos = this.pos
      if (length <= 16) {
        for (let i = 0; i < length; i++) buf[pos++] = value[i] ?? 0
      } else {
        buf.set(value, pos)
        pos += length
      }
      this.pos = pos
    }
    this.writeCrlf()
  }

  /** A null bulk string: '$-1' in RESP2, '_' in RESP3. */
  writeNull(): void {
    this.writeRaw(this.proto === 3 ? SHARED.nullResp3 : SHARED.nullBulkResp2)
  }

  /** A null array: '*-1' in RESP2, '_' in RESP3. */
  writeNullArray(): void {
    this.writeRaw(this.proto === 3 ? SHARED.nullResp3 : SHARED.nullArrayResp2)
  }

  /** ',%.17g' in RESP3; in RESP2 a bulk string of the same text. */
  writeDouble(value: number): void {
    const text = formatDouble(value)
    if (this.proto === 2) {
      this.writeBulk(text)
      return
    }
    this.reserve(text.length + 3)
    this.buf[this.pos++] = 0x2c
    this.pos += this.buf.write(text, this.pos, 'latin1')
    this.writeCrlf()
  }

  /** '#t'/'#f' in RESP3, ':1'/':0' in RESP2. */
  writeBoolean(value: boolean): void {
    if (this.proto === 3) this.writeRaw(value ? SHARED.trueResp3 : SHARED.falseResp3)
    else this.writeRaw(value ? SHARED.one : SHARED.zero)
  }

  /** '=len\r\nfmt:text' in RESP3 (fmt is 3 chars, e.g. "txt"); a plain bulk in RESP2. */
  writeVerbatim(value: string | Buffer, format = 'txt'): void {
    if (this.proto === 2) {
      this.writeBulk(value)
      return
    }
    if (format.length !== 3) throw new RangeError('a verbatim format is 3 characters')
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    this.writeNumberLine(0x3d, bytes.length + 4, bytes.length + 6)
    this.pos += this.buf.write(format, this.pos, 'latin1')
    this.buf[this.pos++] = 0x3a
    this.pos += bytes.copy(this.buf, this.pos)
    this.writeCrlf()
  }

  /** '(digits' in RESP3; a bulk string of the digits in RESP2. */
  writeBigNumber(value: bigint | string): void {
    const text = typeof value === 'bigint' ? value.toString() : value
    if (!/^-?[0-9]+$/.test(text)) throw new RangeError(`not a big number: ${text}`)
    if (this.proto === 2) {
      this.writeBulk(text)
      return
    }
    this.reserve(text.length + 3)
    this.buf[this.pos++] = 0x28
    this.pos += this.buf.write(text, this.pos, 'latin1')
    this.writeCrlf()
  }

  /** Appends a reply tree; aggregates are walked with an explicit stack. */
  writeReply(value: Reply): void {
    const stack: Frame[] = []
    let next: Reply | null = value
    while (next !== null) {
      const frame = this.writeNode(next)
      if (frame !== null) stack.push(frame)
      next = null
      while (next === null && stack.length > 0) {
        const top = stack[stack.length - 1]
        if (top === undefined) break
        next = nextChild(top)
        if (next === null) stack.pop()
      }
    }
  }

  /** Writes a leaf, or an aggregate's header and returns the frame of its children. */
  private writeNode(node: Reply): Frame | null {
    switch (node.type) {
      case 'simple': this.writeSimple(node.value); return null
      case 'error': this.writeError(node.value); return null
      case 'integer': this.writeInteger(node.value); return null
      case 'bulk': this.writeBulk(node.value); return null
      case 'null': this.writeNull(); return null
      case 'null-array': this.writeNullArray(); return null
      case 'double': this.writeDouble(node.value); return null
      case 'boolean': this.writeBoolean(node.value); return null
      case 'verbatim': this.writeVerbatim(node.value, node.format); return null
      case 'big-number': this.writeBigNumber(node.value); return null
      case 'raw': this.writeRaw(node.value); return null
      case 'array': this.writeArrayHeader(node.items.length); break
      case 'set': this.writeSetHeader(node.items.length); break
      case 'push': this.writePushHeader(node.items.length); break
      case 'map':
        this.writeMapHeader(node.entries.length)
        return { children: node.entries, isMap: true, index: 0 }
    }
    return { children: node.items, isMap: false, index: 0 }
  }

  /** prefix, the decimal n, CRLF; and room for `extra` more bytes after it. */
  private writeNumberLine(prefix: number, n: number | bigint, extra = 0): void {
    if (typeof n === 'bigint' || !Number.isSafeInteger(n)) {
      const text = checkedIntegerText(n)
      this.reserve(text.length + 3 + extra)
      this.buf[this.pos++] = prefix
      this.pos += this.buf.write(text, this.pos, 'latin1')
      this.writeCrlf()
      return
    }
    this.reserve(24 + extra)
    const buf = this.buf
    let pos = this.pos
    buf[pos++] = prefix
    if (n < 0) {
      buf[pos++] = CHAR_MINUS
      n = -n
    }
    const count = digitCount(n)
    pos += count
    for (let i = pos - 1; i >= pos - count; i--) {
      const quotient = Math.floor(n / 10)
      buf[i] = CHAR_ZERO + (n - quotient * 10)
      n = quotient
    }
    buf[pos++] = CHAR_CR
    buf[pos++] = CHAR_LF
    this.pos = pos
  }

  private writeCrlf(): void {
    this.reserve(2)
    this.buf[this.pos++] = CHAR_CR
    this.buf[this.pos++] = CHAR_LF
  }
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Decimal text of an integer outside the safe range, which must still fit in 64 bits. */
function checkedIntegerText(n: number | bigint): string {
  if (typeof n === 'number' && !Number.isInteger(n)) throw new RangeError(`not an integer: ${n}`)
  const big = BigInt(n)
  if (big < INT64_MIN || big > INT64_MAX) throw new RangeError(`not a 64-bit integer: ${big}`)
  return big.toString()
}

/** The frame's next child (a map's key, then its value), or null when it has none left. */
function nextChild(frame: Frame): Reply | null {
  if (frame.isMap) {
    const entries = frame.children as ReadonlyArray<readonly [Reply, Reply]>
    const entry = entries[frame.index >>> 1]
    if (entry === undefined) return null
    const child = (frame.index & 1) === 0 ? entry[0] : entry[1]
    frame.index++
    return child
  }
  const items = frame.children as readonly Reply[]
  const child = items[frame.index]
  if (child === undefined) return null
  frame.index++
  return child
}
