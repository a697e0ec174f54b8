// Request parser: socket bytes -> argv (Buffer[]), as Redis 7.0.15 reads requests.
//
// Invariants, and why:
// - Same requests, same errors as Redis 7.0.15's processMultibulkBuffer / processInlineBuffer
//   (src/networking.c) and sdssplitargs (src/sds.c), byte for byte, including their quirks:
//   the byte after a header's '\r' and the two bytes after a bulk are skipped unchecked; a NUL
//   byte before a line's terminator hides the terminator (Redis searches with strchr), so the
//   request waits until the 64 KiB line limit trips; '*0' and '*-N' requests and empty or blank
//   inline lines are skipped. Clients and scripts match on these texts.
// - The result never depends on how the bytes were split into chunks. Redis's own answer to an
//   over-long line does (it checks the 64 KiB limit only when a read ends without a terminator),
//   so we answer as Redis does when the bytes arrive one at a time: a line is too big exactly
//   when more than PROTO_INLINE_MAX_BYTES bytes precede its terminator.
// - Bounded and non-recursive: a claimed length is checked against its limit before anything is
//   allocated for it, and no memory is used ahead of the bytes that fill it (a '$512MB'
//   header costs nothing until the data comes; see BIG_WHOLE_RATIO for address space). Memory held is reported by `bufferedBytes`; the
//   caller closes the client when `queryBufferLimitReached` (client-query-buffer-limit).
// - Every Buffer returned in an argv aliases neither the fed chunks nor the reader's scratch, so
//   handlers may keep argv elements as stored values. A chunk of up to 8 KiB fed while nothing
//   is pending is copied whole (one memcpy) into a shared 16 KiB input slab that is never
//   written again below its fill offset, and its arguments are views of that copy (a stored
//   argument pins at most 16 KiB, as before); bigger chunks and bytes joined with a pending partial
//   request go to the reader's own scratch, and arguments parsed from there are copied into
//   shared slabs (as Node's Buffer pool does). Bulks of at least PROTO_MBULK_BIG_ARG_BYTES that
//   span chunks are gathered piece by piece: big pieces as views of the fed chunks, copied once
//   when the bulk is complete; small pieces (a slow sender) copied into 64 KiB tails first, so
//   the bookkeeping stays bounded; a bulk of 1 MiB or more gets its exact buffer once a 16th of
//   it arrived (address space only: its pages are committed as the bytes are written) and is
//   then copied into it a read at a time, never joined in one step. The reader never writes into a fed chunk, and keeps no view of
//   one except those big pieces: a caller that reuses its chunks (a socket's static read buffer)
//   makes the reader with `reusedChunks`, and may then overwrite a chunk once feed() returned.
// - A protocol error is a value, not a throw, and it is sticky: once next() returned a
//   ProtocolError it returns the same one forever and feed() discards input. The caller sends
//   `reply` and closes the connection, as Redis does (CLIENT_CLOSE_AFTER_REPLY).
//
// The limits below belong in src/config.ts once it exists; they are Redis 7.0.15's defaults.

import type { Args } from './args.js'
import { string2ll } from '../int64.js'

/** PROTO_INLINE_MAX_SIZE: longest inline request, and longest '*N' / '$N' header line. */
export const PROTO_INLINE_MAX_BYTES = 64 * 1024
/** PROTO_MBULK_BIG_ARG: bulks this big are gathered from chunk views, copied once. */
export const PROTO_MBULK_BIG_ARG_BYTES = 32 * 1024
/** proto-max-bulk-len default. */
export const PROTO_MAX_BULK_BYTES_DEFAULT = 512 * 1024 * 1024
/** client-query-buffer-limit default. */
export const QUERY_BUFFER_LIMIT_BYTES_DEFAULT = 1024 * 1024 * 1024
/** Redis rejects '*N' with N > INT_MAX. */
export const MULTIBULK_COUNT_MAX = 2147483647
/** Before AUTH (when auth is required) Redis allows at most 10 arguments... */
export const UNAUTHENTICATED_MULTIBULK_COUNT_MAX = 10
/** ...of at most 16 KiB each. */
export const UNAUTHENTICATED_BULK_BYTES_MAX = 16384
/**
 * What one parsed argument costs in memory beyond its bytes (Buffer object, array slot): it is
 * charged to the query buffer so that a '*2147483647' of empty bulks is bounded too.
 */
export const ARG_OVERHEAD_BYTES = 96

export interface ReaderLimits {
  /** proto-max-bulk-len: larger '$N' is "invalid bulk length". */
  readonly maxBulkBytes: number
  /** client-query-buffer-limit: see RequestReader.queryBufferLimitReached. */
  readonly queryBufferLimitBytes: number
}

export interface ReaderOptions {
  /**
   * The caller overwrites each fed chunk once feed() returned (one static read buffer for every
   * socket): big bulks are then gathered by copying every piece, never as views of a chunk.
   */
  readonly reusedChunks?: boolean
}

export const READER_LIMITS_DEFAULT: ReaderLimits = Object.freeze({
  maxBulkBytes: PROTO_MAX_BULK_BYTES_DEFAULT,
  queryBufferLimitBytes: QUERY_BUFFER_LIMIT_BYTES_DEFAULT,
})

/** Why the request stream is unusable; Redis's text after "-ERR ". */
export class ProtocolError {
  /** The error text, e.g. "Protocol error: invalid bulk length" (one char per byte). */
  readonly message: string
  /** The bytes to send before closing: "-ERR <message>\r\n". */
  readonly reply: Buffer

  constructor(message: string) {
    this.message = message
    this.reply = Buffer.from(`-ERR ${message}\r\n`, 'latin1')
  }
}

const ERROR_TOO_BIG_INLINE = 'Protocol error: too big inline request'
const ERROR_TOO_BIG_MBULK = 'Protocol error: too big mbulk count string'
const ERROR_TOO_BIG_BULK = 'Protocol error: too big bulk count string'
const ERROR_UNBALANCED = 'Protocol error: unbalanced quotes in request'
const ERROR_INVALID_MBULK = 'Protocol error: invalid multibulk length'
const ERROR_UNAUTH_MBULK = 'Protocol error: unauthenticated multibulk length'
const ERROR_INVALID_BULK = 'Protocol error: invalid bulk length'
const ERROR_UNAUTH_BULK = 'Protocol error: unauthenticated bulk length'

const CHAR_NUL = 0
const CHAR_TAB = 9
const CHAR_LF = 10
const CHAR_CR = 13
const CHAR_SPACE = 32
const CHAR_DQUOTE = 34
const CHAR_DOLLAR = 36
const CHAR_SQUOTE = 39
const CHAR_STAR = 42
const CHAR_ZERO = 48
const CHAR_NINE = 57
const CHAR_BACKSLASH = 92

/** findLineEnd results besides an index. */
const LINE_INCOMPLETE = -1
const LINE_TOO_BIG = -2

/** Scratch buffers start this big, and are twice what they must hold when they grow. */
const SCRATCH_BYTES_MIN = 16 * 1024
/** A scratch buffer grown past this is dropped once empty (Redis shrinks idle querybufs too). */
const SCRATCH_BYTES_KEEP_MAX = 1024 * 1024
/**
 * Arguments up to ARG_SLAB_ARG_BYTES_MAX are copied into a shared slab of ARG_SLAB_BYTES (as
 * Node's own Buffer pool does, minus one object per argument); larger ones get their own copy.
 * A slab is never written again below its fill offset, so arguments carved from it stay intact.
 */
const ARG_SLAB_BYTES = 16 * 1024
const ARG_SLAB_ARG_BYTES_MAX = 512
/**
 * Chunks up to INPUT_SLAB_CHUNK_BYTES_MAX are copied into a shared input slab of
 * INPUT_SLAB_BYTES (a stored argument keeps at most one slab alive, as with ARG_SLAB_BYTES);
 * larger ones into scratch, whose arguments are copied out (into ARG_SLAB_BYTES slabs).
 */
const INPUT_SLAB_BYTES = 16 * 1024
const INPUT_SLAB_CHUNK_BYTES_MAX = 8 * 1024
/**
 * Pieces of a big bulk at least this big are kept as views of the fed chunks (copied once, when
 * the bulk is complete); smaller ones are copied into tail buffers of BIG_TAIL_BYTES, so a bulk
 * arriving a byte at a time costs no more than a few parts per 64 KiB.
 */
const BIG_PART_VIEW_BYTES = 16 * 1024
const BIG_TAIL_BYTES = 64 * 1024
/**
 * A bulk of at least BIG_WHOLE_MIN_BYTES gets its exact buffer once 1/BIG_WHOLE_RATIO of it has
 * arrived: the parts so far are copied into it, and every later piece straight to its place, so
 * the bulk is copied once, a read at a time, never joined in one step at the end (a 512 MiB
 * SET stalled every client for seconds in Buffer.concat, issue 19). The buffer is not touched
 * ahead of the bytes (allocUnsafeSlow: its pages are committed as they are written), so the
 * memory used stays the bytes received; only address space is taken ahead, 16x at most.
 */
const BIG_WHOLE_MIN_BYTES = 1024 * 1024
const BIG_WHOLE_RATIO = 16
/** The argv scratch is dropped once a request grew it past this many arguments. */
const ARGV_SCRATCH_KEEP_MAX = 1024

const EMPTY = Buffer.alloc(0)

/** C's isspace() in the "C" locale: space, \t \n \v \f \r. */
function isSpace(byte: number): boolean {
  return byte === CHAR_SPACE || (byte >= CHAR_TAB && byte <= CHAR_CR)
}

function hexValue(byte: number): number {
  if (byte >= CHAR_ZERO && byte <= CHAR_NINE) return byte - CHAR_ZERO
  if (byte >= 97 && byte <= 102) return byte - 87 // a-f
  if (byte >= 65 && byte <= 70) return byte - 55 // A-F
  return -1
}

/**
 * Redis's string2ll over buf[start, stop) (src/int64.ts): NaN unless the bytes are a canonical
 * signed 64-bit decimal. Values beyond 2^53 come back rounded, which is harmless: callers only
 * compare them with limits below 2^32.
 */
export function parseRedisInteger(buf: Buffer, start: number, stop: number): number {
  const v = string2ll(buf, start, stop)
  return v === null ? NaN : Number(v)
}

/**
 * The input slab shared by every reader: inputSlab[inputSlabUsed..] is free, and bytes below
 * inputSlabUsed are never written again (arguments handed out are views of them).
 */
let inputSlab: Buffer = EMPTY
let inputSlabUsed = 0

export type ReadResult = Buffer[] | null | ProtocolError

/**
 * Incremental request reader for one connection: feed() socket chunks, then call next() until it
 * returns null (needs more bytes). The argv of each complete request is returned in order.
 */
export class RequestReader {
  /**
   * Redis's authRequired(c): while true, '*N' with N > 10 and '$N' with N > 16384 are protocol
   * errors. The caller sets it when the connection starts and clears it after a successful AUTH
   * or HELLO AUTH; it applies to every header parsed after the change.
   */
  authRequired = false

  private readonly limits: ReaderLimits
  // Unparsed input is buf[pos, end). buf is an input slab or a copy of a big chunk (never
  // written again: arguments are views of it), or `scratch` (arguments are copied out).
  private buf: Buffer = EMPTY
  private pos = 0
  private end = 0
  private bufImmutable = false
  // Our own buffer for joining a partial request with the next chunk; null when we must not
  // write into the last one because views of it were handed to bigParts.
  private scratch: Buffer | null = null
  // Multibulk request in progress: arguments still to read (0: none in progress), the length
  // of the current bulk (-1: its '$' header is not read yet), and the arguments read so far.
  private multibulkRemaining = 0
  private bulkLength = -1
  // The arguments read so far sit in argvScratch[0, argc): a scratch array reused from request to
  // request; a complete request gets an exact-size copy (pushing onto a fresh [] would allocate
  // seventeen slots for SET's three). Slots past argc hold EMPTY, never a stale argument.
  private argvScratch: Buffer[] = []
  private argc = 0
  private argvCostBytes = 0
  // A big bulk being gathered: its parts in order, bigBytes of bulkLength so far. Pieces of at
  // least BIG_PART_VIEW_BYTES are kept as views; smaller ones are copied into bigTail (filled to
  // bigTailUsed), so that the number of parts, and their overhead, stays bounded.
  private bigParts: Buffer[] | null = null
  private bigBytes = 0
  private bigTail: Buffer | null = null
  private bigTailUsed = 0
  // The big bulk's exact buffer once it has one (BIG_WHOLE_MIN_BYTES); bigParts is then empty.
  private bigWhole: Buffer | null = null
  private error: ProtocolError | null = null
  private lastInline = false
  private bigBulkCount = 0
  private lastBigBulk = -1
  // The line starting at pos: its first lineCleanBytes bytes hold neither the terminator nor a
  // NUL; lineHasNul once a NUL was found in it. pos only moves past a found line, which resets.
  private lineCleanBytes = 0
  private lineHasNul = false
  // Where small arguments are copied to: argSlab[argSlabOffset..] is free.
  private argSlab: Buffer = EMPTY
  private argSlabOffset = 0
  private readonly copier: CopyBytes = (source, start, length) =>
    this.copyOut(source, start, length)
  // Pieces of a big bulk at least this big are kept as views (Infinity: never, with reusedChunks).
  private readonly bigPartViewBytes: number

  constructor(limits: Partial<ReaderLimits> = {}, options: ReaderOptions = {}) {
    this.limits = { ...READER_LIMITS_DEFAULT, ...limits }
    this.bigPartViewBytes = options.reusedChunks === true ? Infinity : BIG_PART_VIEW_BYTES
    if (!(this.limits.maxBulkBytes >= 0)) throw new RangeError('maxBulkBytes must be >= 0')
    if (!(this.limits.queryBufferLimitBytes > 0)) {
      throw new RangeError('queryBufferLimitBytes must be > 0')
    }
  }

  /**
   * Bytes held for requests not yet returned: unparsed input, a big bulk being gathered, and
   * the arguments of an incomplete multibulk request (each charged ARG_OVERHEAD_BYTES extra).
   * Redis 7.0 counts only the first two against client-query-buffer-limit; we count all three
   * so that memory stays bounded by the limit whatever the request shape.
   */
  get bufferedBytes(): number {
    return this.end - this.pos + this.bigBytes + this.argvCostBytes
  }

  /**
   * True when bufferedBytes exceeds client-query-buffer-limit. Check it after each feed():
   * Redis then closes the connection without a reply, logging "Closing client that reached max
   * query buffer length".
   */
  get queryBufferLimitReached(): boolean {
    return this.bufferedBytes > this.limits.queryBufferLimitBytes
  }

  /** The length of the bulk being read (its '$N' parsed, not all its bytes here), or -1. */
  get bulkInProgressBytes(): number {
    return this.multibulkRemaining > 0 ? this.bulkLength : -1
  }

  /**
   * Bulks of at least PROTO_MBULK_BIG_ARG_BYTES whose header was parsed, and the last one's
   * length (-1 before the first): what Redis's query buffer sizing follows (query-buffer.ts).
   */
  get bigBulksSeen(): number {
    return this.bigBulkCount
  }

  get lastBigBulkBytes(): number {
    return this.lastBigBulk
  }

  private noteBigBulk(length: number): void {
    this.bigBulkCount++
    this.lastBigBulk = length
  }

  /** Whether the argv last returned by next() was an inline request. */
  get lastRequestInline(): boolean {
    return this.lastInline
  }

  /** The sticky protocol error, once next() has returned it. */
  get protocolError(): ProtocolError | null {
    return this.error
  }

  /** Appends socket bytes. The reader keeps views of `chunk`: do not modify it afterwards. */
  feed(chunk: Buffer): void {
    if (this.error !== null || chunk.length === 0) return
    let rest = chunk
    if (this.bigParts !== null) {
      const wanted = Math.min(rest.length, this.bulkLength - this.bigBytes)
      if (wanted > 0) {
        this.gatherBig(rest.subarray(0, wanted))
        rest = rest.subarray(wanted)
      }
      if (rest.length === 0) return
    }
    if (this.pos === this.end) {
      if (this.scratch !== null && this.scratch.length > SCRATCH_BYTES_KEEP_MAX) this.scratch = null
      this.copyToInputSlab(rest)
      return
    }
    this.appendCopy(rest)
  }

  /**
   * Nothing is pending: a small `chunk` is copied whole where it is never written again. A big
   * one goes to scratch, whose arguments are copied out one by one: as views, its arguments
   * would each keep the whole read alive once stored as values (a 100-byte value pinning 64 KiB).
   */
  private copyToInputSlab(chunk: Buffer): void {
    const length = chunk.length
    if (length > INPUT_SLAB_CHUNK_BYTES_MAX) {
      this.appendCopy(chunk)
      return
    }
    if (inputSlab.length - inputSlabUsed < length) {
      inputSlab = Buffer.allocUnsafe(INPUT_SLAB_BYTES)
      inputSlabUsed = 0
    }
    const offset = inputSlabUsed
    inputSlabUsed += length
    inputSlab.set(chunk, offset)
    this.buf = inputSlab
    this.pos = offset
    this.end = offset + length
    this.bufImmutable = true
  }

  /**
   * The next complete request into `args`: true when it holds one, false when more bytes are
   * needed, or the protocol error. A request wholly in the input slab and plainly framed is
   * handed out as ranges of the slab (no Buffer, no array); any other (split across reads, in
   * scratch, a big bulk, inline, non-canonical digits, before AUTH, more arguments than
   * args.capacity) goes through next() and comes as an argv: one parser's answers either way.
   */
  nextArgs(args: Args): boolean | ProtocolError {
    if (this.error === null && this.multibulkRemaining === 0 && this.bufImmutable &&
      !this.authRequired && this.lineCleanBytes === 0 && !this.lineHasNul &&
      this.frameViews(args)) return true
    const request = this.next()
    if (request === null) return false
    if (request instanceof ProtocolError) return request
    args.setArgv(request)
    return true
  }

  /**
   * A '*N' request at pos framed exactly (digits without sign or leading zero, CRLF after every
   * line and bulk, every bulk under PROTO_MBULK_BIG_ARG_BYTES and the bulk limit, N within
   * args.capacity) and wholly present: its ranges into args, pos moved past it, true. Anything
   * else: false with nothing consumed (next() then reads it with every one of Redis's quirks).
   */
  private frameViews(args: Args): boolean {
    const buf = this.buf
    const end = this.end
    let p = this.pos
    if (p >= end || buf[p] !== CHAR_STAR) return false
    p++
    const capacity = args.capacity
    let count = 0
    let c = (buf[p] ?? 0) - CHAR_ZERO
    if (c < 1 || c > 9) return false
    for (; p < end; p++) {
      c = (buf[p] as number) - CHAR_ZERO
      if (c < 0 || c > 9) break
      count = count * 10 + c
      if (count > capacity) return false
    }
    if (p + 1 >= end || buf[p] !== CHAR_CR || buf[p + 1] !== CHAR_LF) return false
    p += 2
    const maxBulk = Math.min(PROTO_MBULK_BIG_ARG_BYTES - 1, this.limits.maxBulkBytes)
    const off = args.off
    const len = args.len
    for (let a = 0; a < count; a++) {
      if (p >= end || buf[p] !== CHAR_DOLLAR) return false
      p++
      const first = p
      let length = 0
      for (; p < end; p++) {
        c = (buf[p] as number) - CHAR_ZERO
        if (c < 0 || c > 9) break
        length = length * 10 + c
        if (length > maxBulk) return false
      }
      if (p === first || (buf[first] === CHAR_ZERO && p - first > 1)) return false
      if (p + 1 >= end || buf[p] !== CHAR_CR || buf[p + 1] !== CHAR_LF) return false
      p += 2
      if (p + length + 2 > end || buf[p + length] !== CHAR_CR || buf[p + length + 1] !== CHAR_LF) {
        return false
      }
      off[a] = p
      len[a] = length
      p += length + 2
    }
    args.setViews(buf, count)
    this.pos = p
    this.lastInline = false
    return true
  }

  /** The next complete request's argv, null if more bytes are needed, or the protocol error. */
  next(): ReadResult {
    if (this.error !== null) return this.error
    for (;;) {
      if (this.multibulkRemaining > 0) return this.readBulks()
      if (this.pos >= this.end) return null
      const result = this.buf[this.pos] === CHAR_STAR ? this.readMultibulkHeader()
        : this.readInline()
      if (result === SKIP) continue // '*0', '*-1', an empty or blank inline line
      if (result === CONTINUE) return this.readBulks()
      return result
    }
  }

  private fail(message: string): ProtocolError {
    this.error = new ProtocolError(message)
    this.buf = EMPTY
    this.pos = 0
    this.end = 0
    this.bufImmutable = false
    this.scratch = null
    this.bigParts = null
    this.bigBytes = 0
    this.bigTail = null
    this.bigWhole = null
    this.argvScratch = []
    this.argc = 0
    this.argvCostBytes = 0
    return this.error
  }

  /** Joins the pending bytes and `chunk` in scratch: copies them, growing scratch if needed. */
  private appendCopy(chunk: Buffer): void {
    const pending = this.end - this.pos
    const needed = pending + chunk.length
    const scratch = this.scratch
    if (this.buf === scratch && scratch !== null && scratch.length - this.end >= chunk.length) {
      chunk.copy(scratch, this.end)
      this.end += chunk.length
      return
    }
    // Reuse scratch only if at least `needed` bytes stay free after the move: each byte is then
    // moved O(1) times on average, even when a request arrives a byte at a time.
    let target = scratch
    if (target === null || target.length < 2 * needed) {
      target = Buffer.alloc(Math.max(SCRATCH_BYTES_MIN, 2 * needed))
    }
    // copyWithin semantics: Buffer#copy handles the overlap when target is buf itself.
    this.buf.copy(target, 0, this.pos, this.end)
    chunk.copy(target, pending)
    this.scratch = target
    this.buf = target
    this.pos = 0
    this.end = needed
    this.bufImmutable = false
  }

  /**
   * Where the line starting at pos ends, as Redis finds it with strchr(querybuf+pos, byte):
   * the index of `terminator`, LINE_INCOMPLETE while more bytes are needed (also forever after
   * a NUL byte: strchr stops there), or LINE_TOO_BIG when more than PROTO_INLINE_MAX_BYTES
   * bytes have no terminator (Redis's check, as if bytes arrived one at a time).
   */
  private findLineEnd(terminator: number): number {
    if (this.lineHasNul) {
      return this.end - this.pos > PROTO_INLINE_MAX_BYTES ? LINE_TOO_BIG : LINE_INCOMPLETE
    }
    const buf = this.buf
    const limit = Math.min(this.end, this.pos + PROTO_INLINE_MAX_BYTES + 1)
    // Resume where the last search from this pos stopped, so that a line arriving a byte at a
    // time costs linear time, not quadratic.
    for (let i = this.pos + this.lineCleanBytes; i < limit; i++) {
      const byte = buf[i]
      if (byte === terminator) {
        this.lineCleanBytes = 0
        return i
      }
      if (byte === CHAR_NUL) {
        this.lineHasNul = true // pos can never move again: the request waits until too big
        return this.end - this.pos > PROTO_INLINE_MAX_BYTES ? LINE_TOO_BIG : LINE_INCOMPLETE
      }
    }
    this.lineCleanBytes = limit - this.pos
    return limit === this.end && this.end - this.pos <= PROTO_INLINE_MAX_BYTES
      ? LINE_INCOMPLETE : LINE_TOO_BIG
  }

  /** processMultibulkBuffer's '*N' line. */
  private readMultibulkHeader(): ProtocolError | null | typeof SKIP | typeof CONTINUE {
    const newline = this.findLineEnd(CHAR_CR)
    if (newline === LINE_TOO_BIG) return this.fail(ERROR_TOO_BIG_MBULK)
    if (newline === LINE_INCOMPLETE || newline + 1 >= this.end) return null
    const count = parseRedisInteger(this.buf, this.pos + 1, newline)
    if (!(count <= MULTIBULK_COUNT_MAX)) return this.fail(ERROR_INVALID_MBULK)
    if (count > UNAUTHENTICATED_MULTIBULK_COUNT_MAX && this.authRequired) {
      return this.fail(ERROR_UNAUTH_MBULK)
    }
    this.pos = newline + 2 // Redis skips the byte after '\r' without looking at it
    if (count <= 0) return SKIP
    this.multibulkRemaining = count
    this.bulkLength = -1
    return CONTINUE
  }

  /** processMultibulkBuffer's loop over '$N' headers and bulks. */
  private readBulks(): ReadResult {
    while (this.multibulkRemaining > 0) {
      if (this.bulkLength < 0) {
        const problem = this.readBulkHeader()
        if (problem !== CONTINUE) return problem
      }
      const arg = this.readBulkData()
      if (arg === null) return null
      this.argvScratch[this.argc++] = arg
      this.argvCostBytes += arg.length + ARG_OVERHEAD_BYTES
      this.bulkLength = -1
      this.multibulkRemaining--
    }
    return this.takeArgv()
  }

  /** The arguments read, as an array of their own; the scratch forgets them. */
  private takeArgv(): Buffer[] {
    const scratch = this.argvScratch
    const argc = this.argc
    const argv = scratch.slice(0, argc)
    if (scratch.length > ARGV_SCRATCH_KEEP_MAX) {
      this.argvScratch = []
    } else {
      for (let i = 0; i < argc; i++) scratch[i] = EMPTY
    }
    this.argc = 0
    this.argvCostBytes = 0
    this.lastInline = false
    return argv
  }

  private readBulkHeader(): ProtocolError | null | typeof CONTINUE {
    const newline = this.findLineEnd(CHAR_CR)
    if (newline === LINE_TOO_BIG) return this.fail(ERROR_TOO_BIG_BULK)
    if (newline === LINE_INCOMPLETE || newline + 1 >= this.end) return null
    const first = this.buf[this.pos] ?? CHAR_NUL
    if (first !== CHAR_DOLLAR) {
      // addReplyErrorFormat turns '\r' and '\n' into spaces; a NUL cannot be here (see above).
      const shown = first === CHAR_CR || first === CHAR_LF ? ' ' : String.fromCharCode(first)
      return this.fail(`Protocol error: expected '$', got '${shown}'`)
    }
    const length = parseRedisInteger(this.buf, this.pos + 1, newline)
    if (!(length >= 0 && length <= this.limits.maxBulkBytes)) return this.fail(ERROR_INVALID_BULK)
    if (length > UNAUTHENTICATED_BULK_BYTES_MAX && this.authRequired) {
      return this.fail(ERROR_UNAUTH_BULK)
    }
    this.pos = newline + 2
    this.bulkLength = length
    if (length >= PROTO_MBULK_BIG_ARG_BYTES) this.noteBigBulk(length)
    if (length >= PROTO_MBULK_BIG_ARG_BYTES && this.end - this.pos < length) {
      // Gather the big bulk apart from buf; the bytes already here are its first piece. If that
      // piece is kept as a view of scratch, scratch must never be written again.
      this.bigParts = []
      this.bigBytes = 0
      const piece = this.buf.subarray(this.pos, this.end)
      if (piece.length > 0) this.gatherBig(piece)
      if (this.buf === this.scratch && piece.length >= this.bigPartViewBytes) this.scratch = null
      this.buf = EMPTY
      this.pos = 0
      this.end = 0
      this.bufImmutable = false
    }
    return CONTINUE
  }

  /** The current bulk's bytes (a fresh copy) once they and the 2 bytes after them are here. */
  private readBulkData(): Buffer | null {
    const length = this.bulkLength
    const parts = this.bigParts
    if (parts !== null) {
      if (this.bigBytes < length || this.end - this.pos < 2) return null
      const whole = this.bigWhole
      if (whole !== null) {
        this.bigWhole = null
        this.bigParts = null
        this.bigBytes = 0
        this.pos += 2
        return whole
      }
      const tail = this.bigTail
      const wholeInTail = parts.length === 0 && tail !== null && tail.length === length
      this.sealBigTail()
      this.bigParts = null
      this.bigBytes = 0
      this.pos += 2 // Redis skips the 2 bytes after a bulk without looking at them
      // A tail we allocated for exactly this bulk and filled is already a fresh copy.
      return wholeInTail && tail !== null ? tail : Buffer.concat(parts, length)
    }
    if (this.end - this.pos < length + 2) return null
    const start = this.pos
    const arg = this.bufImmutable ? this.buf.subarray(start, start + length)
      : this.copyOut(this.buf, start, length)
    this.pos = start + length + 2
    return arg
  }

  /** Adds the next piece of the big bulk: kept as a view if big, else copied into bigTail. */
  private gatherBig(piece: Buffer): void {
    const parts = this.bigParts
    if (parts === null) return
    const whole = this.bigWhole ?? this.startWhole(parts, piece.length)
    if (whole !== null) {
      whole.set(piece, this.bigBytes)
      this.bigBytes += piece.length
      return
    }
    this.bigBytes += piece.length
    if (piece.length >= this.bigPartViewBytes) {
      this.sealBigTail()
      parts.push(piece)
      return
    }
    let tail = this.bigTail
    if (tail === null || tail.length - this.bigTailUsed < piece.length) {
      this.sealBigTail()
      const remaining = this.bulkLength - this.bigBytes + piece.length
      // A piece bigger than a tail (a read over 64 KiB into a reused buffer) gets a tail its size.
      tail = Buffer.alloc(Math.min(remaining, Math.max(BIG_TAIL_BYTES, piece.length)))
      this.bigTail = tail
      this.bigTailUsed = 0
    }
    piece.copy(tail, this.bigTailUsed)
    this.bigTailUsed += piece.length
  }

  /**
   * The big bulk's exact buffer, with the parts gathered so far copied in, once `adding` more
   * bytes bring it to 1/BIG_WHOLE_RATIO of a bulk of at least BIG_WHOLE_MIN_BYTES; else null
   * (also when the allocation fails: the parts go on as before).
   */
  private startWhole(parts: Buffer[], adding: number): Buffer | null {
    const length = this.bulkLength
    if (length < BIG_WHOLE_MIN_BYTES || (this.bigBytes + adding) * BIG_WHOLE_RATIO < length) {
      return null
    }
    let whole: Buffer
    try {
      whole = Buffer.allocUnsafeSlow(length)
    } catch {
      return null
    }
    this.sealBigTail()
    let at = 0
    for (const p of parts) {
      whole.set(p, at)
      at += p.length
    }
    parts.length = 0
    this.bigWhole = whole
    return whole
  }

  /** Ends the current tail buffer: what it holds becomes a part. */
  private sealBigTail(): void {
    const tail = this.bigTail
    if (tail === null) return
    const filled = this.bigTailUsed === tail.length ? tail : tail.subarray(0, this.bigTailUsed)
    this.bigParts?.push(filled)
    this.bigTail = null
    this.bigTailUsed = 0
  }

  /** A fresh copy of source[start, start + length): carved from the slab when small. */
  private copyOut(source: Buffer, start: number, length: number): Buffer {
    if (length > ARG_SLAB_ARG_BYTES_MAX) return Buffer.from(source.subarray(start, start + length))
    if (this.argSlab.length - this.argSlabOffset < length) {
      this.argSlab = Buffer.alloc(ARG_SLAB_BYTES)
      this.argSlabOffset = 0
    }
    const slab = this.argSlab
    const offset = this.argSlabOffset
    if (length <= 64) {
      for (let i = 0; i < length; i++) slab[offset + i] = source[start + i] ?? 0
    } else {
      source.copy(slab, offset, start, start + length)
    }
    this.argSlabOffset = offset + length
    return slab.subarray(offset, offset + length)
  }

  /** processInlineBuffer: one line, split by sdssplitargs. */
  private readInline(): Buffer[] | ProtocolError | null | typeof SKIP {
    const newline = this.findLineEnd(CHAR_LF)
    if (newline === LINE_TOO_BIG) return this.fail(ERROR_TOO_BIG_INLINE)
    if (newline === LINE_INCOMPLETE) return null
    const start = this.pos
    let stop = newline
    if (stop > start && this.buf[stop - 1] === CHAR_CR) stop--
    const argv = splitArgs(this.buf, start, stop, this.copier)
    if (argv === null) return this.fail(ERROR_UNBALANCED)
    this.pos = newline + 1
    if (argv.length === 0) return SKIP
    this.lastInline = true
    return argv
  }
}

/** next()'s internal signals: the request was skipped / its bulks follow. */
const SKIP = Symbol('skip')
const CONTINUE = Symbol('continue')

/**
 * sdssplitargs over line[start, stop), which holds no NUL byte: arguments separated by blanks,
 * "double quotes" with \n \r \t \b \a \xHH and \<char> escapes, 'single quotes' with \' only.
 * A closing quote must be followed by a blank or the end. Null when quotes are unbalanced.
 */
export function splitArgs(
  line: Buffer, start: number, stop: number, copy: CopyBytes = copyBytes,
): Buffer[] | null {
  const argv: Buffer[] = []
  let p = start
  for (;;) {
    while (p < stop && isSpace(line[p] ?? 0)) p++
    if (p >= stop) return argv
    const token = readToken(line, p, stop, copy)
    if (token === null) return null
    argv.push(token.value)
    p = token.next
  }
}

/** Byte at i of line[.., stop), or NUL past the end (the C string's terminator). */
function byteAt(line: Buffer, i: number, stop: number): number {
  return i < stop ? line[i] ?? CHAR_NUL : CHAR_NUL
}

/** Makes a fresh copy of source[start, start + length). */
export type CopyBytes = (source: Buffer, start: number, length: number) => Buffer

function copyBytes(source: Buffer, start: number, length: number): Buffer {
  return Buffer.from(source.subarray(start, start + length))
}

/** One sdssplitargs token starting at p (not a blank). */
function readToken(
  line: Buffer, p: number, stop: number, copy: CopyBytes,
): { value: Buffer, next: number } | null {
  // Fast path: a plain token, the common case (PING, SET key value).
  let i = p
  for (; i < stop; i++) {
    const byte = line[i]
    if (byte === CHAR_SPACE || byte === CHAR_LF || byte === CHAR_CR || byte === CHAR_TAB) break
    if (byte === CHAR_DQUOTE || byte === CHAR_SQUOTE) break
  }
  const quoteAhead = i < stop && (line[i] === CHAR_DQUOTE || line[i] === CHAR_SQUOTE)
  if (!quoteAhead) {
    return { value: copy(line, p, i - p), next: i < stop ? i + 1 : i }
  }
  return readQuotedToken(line, p, stop)
}

/** The general sdssplitargs token loop, kept as Redis wrote it. */
function readQuotedToken(
  line: Buffer, p: number, stop: number,
): { value: Buffer, next: number } | null {
  const out: number[] = []
  let inDouble = false
  let inSingle = false
  let done = false
  while (!done) {
    const c = byteAt(line, p, stop)
    if (inDouble) {
      const h1 = hexValue(byteAt(line, p + 2, stop))
      const h2 = hexValue(byteAt(line, p + 3, stop))
      const escaped = byteAt(line, p + 1, stop)
      if (c === CHAR_BACKSLASH && escaped === 120 && h1 >= 0 && h2 >= 0) { // \xHH
        out.push(h1 * 16 + h2)
        p += 3
      } else if (c === CHAR_BACKSLASH && escaped !== CHAR_NUL) {
        p++
        out.push(unescape(escaped))
      } else if (c === CHAR_DQUOTE) {
        const after = byteAt(line, p + 1, stop)
        if (after !== CHAR_NUL && !isSpace(after)) return null
        done = true
      } else if (c === CHAR_NUL) {
        return null
      } else {
        out.push(c)
      }
    } else if (inSingle) {
      if (c === CHAR_BACKSLASH && byteAt(line, p + 1, stop) === CHAR_SQUOTE) {
        p++
        out.push(CHAR_SQUOTE)
      } else if (c === CHAR_SQUOTE) {
        const after = byteAt(line, p + 1, stop)
        if (after !== CHAR_NUL && !isSpace(after)) return null
        done = true
      } else if (c === CHAR_NUL) {
        return null
      } else {
        out.push(c)
      }
    } else if (c === CHAR_SPACE || c === CHAR_LF || c === CHAR_CR || c === CHAR_TAB ||
      c === CHAR_NUL) {
      done = true
    } else if (c === CHAR_DQUOTE) {
      inDouble = true
    } else if (c === CHAR_SQUOTE) {
      inSingle = true
    } else {
      out.push(c)
    }
    if (p < stop) p++
  }
  return { value: Buffer.from(out), next: p }
}

/** The character a backslash escape stands for inside double quotes. */
function unescape(c: number): number {
  switch (c) {
    case 110: return CHAR_LF // n
    case 114: return CHAR_CR // r
    case 116: return CHAR_TAB // t
    case 98: return 8 // b
    case 97: return 7 // a
    default: return c
  }
}
