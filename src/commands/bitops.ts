// The bitmap commands on strings (Redis 7.0.15 bitops.c): SETBIT GETBIT BITCOUNT BITPOS BITOP
// BITFIELD BITFIELD_RO. Bit 0 is the most significant bit of the first byte.
// Invariants, and why:
// - A write builds the new value in a fresh Buffer and PUTs it whole, keeping the key's expiry
//   (stored Buffers are never modified in place: undo and checkpoints share them). A write that
//   changes nothing (SETBIT to the bit's current value within the string, BITFIELD whose SETs
//   and INCRBYs leave every bit and the length as they were) applies no event, as Redis leaves
//   the key untouched then. The written value is raw-encoded, as Redis's is.
// - Everything is parsed before any event: a bad offset, type or value replies its error and
//   changes nothing (DESIGN rule 3). BITFIELD runs its operations in order on one copy and PUTs
//   it once: the command is one transaction.
// - Offsets are limited to proto-max-bulk-len's default 512 MB of bytes, as Redis checks them.
// - BITOP stores its result as a new string without expiry (Redis's setKey); an empty result
//   deletes the destination.
// - BITFIELD arithmetic is done on 64-bit BigInts with Redis's wrap, saturation and FAIL rules.

import { TYPE_STRING, type Entry } from '../state/keyspace.js'
import { delEv } from '../state/core-events.js'
import { commandSpec } from './list.js'
import { asReader, lookupKey } from './lookup.js'
import { optionName, parseInt64 } from './numeric.js'
import {
  ERR_NOT_INTEGER, ERR_SYNTAX, WRONGTYPE, keyOf, type CommandContext, type CommandSpec,
  type Handler,
} from './spec.js'
import { STRING_MAX_BYTES, markRawString, putString } from './string.js'
import {
  NOTIFY_GENERIC, NOTIFY_STRING, notifyKeyspaceEvent, notifyNew,
} from './notify.js'

const ERR_BIT_OFFSET = 'ERR bit offset is not an integer or out of range'
const ERR_BIT_VALUE = 'ERR bit is not an integer or out of range'
const ERR_BITFIELD_TYPE = 'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 ' +
  'is not supported but i64 is.'
const EMPTY = Buffer.alloc(0)

/** The string at argv[1]: undefined when missing, null after replying WRONGTYPE. */
function stringOrReply(ctx: CommandContext, key: string): Entry | undefined | null {
  const entry = lookupKey(ctx, key)
  if (entry !== undefined && entry.type !== TYPE_STRING) {
    ctx.reply.error(WRONGTYPE)
    return null
  }
  return entry
}

/** getBitOffsetFromArgument: a bit offset, `#N` times `bits` when allowed; null after the error. */
function bitOffsetOrReply(ctx: CommandContext, arg: Buffer, bits = 0): number | null {
  const hash = bits > 0 && arg[0] === 35
  const v = parseInt64(hash ? arg.subarray(1) : arg)
  if (v === null) {
    ctx.reply.error(ERR_BIT_OFFSET)
    return null
  }
  let offset = BigInt(v)
  if (hash) offset *= BigInt(bits)
  if (offset < 0n || offset >> 3n >= BigInt(STRING_MAX_BYTES)) {
    ctx.reply.error(ERR_BIT_OFFSET)
    return null
  }
  return Number(offset)
}

/** The stored value grown with zero bytes so that bit `maxBit` exists (a fresh copy). */
function grownCopy(current: Buffer, maxBit: number): Buffer {
  // allocUnsafe: every byte is written below (the copy, then zeros past it), so no zero-filling
  // of a megabyte that is overwritten at once.
  const value = Buffer.allocUnsafe(Math.max(current.length, (maxBit >> 3) + 1))
  current.copy(value, 0)
  value.fill(0, current.length)
  return value
}

function putBits(ctx: CommandContext, key: string, entry: Entry | undefined, value: Buffer): void {
  markRawString(value)
  putString(ctx, ctx.client.db, key, value, entry === undefined ? 0 : entry.expireAtMs)
}

const setbitCommand: Handler = (ctx, argv) => {
  const offset = bitOffsetOrReply(ctx, argv[2] as Buffer)
  if (offset === null) return
  const on = parseInt64(argv[3] as Buffer)
  if (on === null || (on !== 0 && on !== 1)) {
    ctx.reply.error(ERR_BIT_VALUE)
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = stringOrReply(ctx, key)
  if (entry === null) return
  const current = entry === undefined ? EMPTY : entry.value as Buffer
  const byte = offset >> 3
  const mask = 1 << (7 - (offset & 7))
  const old = byte < current.length ? ((current[byte] as number) & mask) !== 0 : false
  if (entry === undefined || byte >= current.length || old !== (on === 1)) {
    const value = grownCopy(current, offset)
    value[byte] = on === 1 ? (value[byte] as number) | mask : (value[byte] as number) & ~mask
    putBits(ctx, key, entry, value)
    if (entry === undefined) notifyNew(ctx, key)
    notifyKeyspaceEvent(ctx, NOTIFY_STRING, 'setbit', key)
  }
  ctx.reply.integer(old ? 1 : 0)
}

const getbitCommand: Handler = (ctx, argv) => {
  const offset = bitOffsetOrReply(ctx, argv[2] as Buffer)
  if (offset === null) return
  const entry = stringOrReply(ctx, keyOf(argv[1] as Buffer))
  if (entry === null) return
  const value = entry === undefined ? EMPTY : entry.value as Buffer
  const byte = offset >> 3
  const bit = byte < value.length ? ((value[byte] as number) >> (7 - (offset & 7))) & 1 : 0
  ctx.reply.integer(bit)
}

function popcount8(b: number): number {
  b = b - ((b >> 1) & 0x55)
  b = (b & 0x33) + ((b >> 2) & 0x33)
  return (b + (b >> 4)) & 0x0f
}

/** The set bits of bytes start..end of p: bytewise up to a 4-byte boundary, then 32-bit words. */
function popcount(p: Buffer, start: number, end: number): number {
  let n = 0
  let i = start
  while (i <= end && ((p.byteOffset + i) & 3) !== 0) n += popcount8(p[i++] as number)
  const words = (end + 1 - i) >> 2
  if (words > 0) {
    const w = new Uint32Array(p.buffer, p.byteOffset + i, words)
    for (let k = 0; k < words; k++) {
      let v = w[k] as number
      v -= (v >>> 1) & 0x55555555
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
      n += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
    }
    i += words << 2
  }
  while (i <= end) n += popcount8(p[i++] as number)
  return n
}

/**
 * A BITCOUNT / BITPOS range: start..end in bytes after Redis's index conversion, with the masks
 * of the bits outside a BIT range in the first and last byte; null after replying the error.
 */
interface Range { start: number; end: number; firstNeg: number; lastNeg: number }

function rangeOf(start: bigint, end: bigint, isBit: boolean, length: number): Range {
  const total = BigInt(isBit ? length * 8 : length)
  if (start < 0n) start += total
  if (end < 0n) end += total
  if (start < 0n) start = 0n
  if (end < 0n) end = 0n
  if (end >= total) end = total - 1n
  let s = Number(start)
  let e = Number(end)
  let firstNeg = 0
  let lastNeg = 0
  if (isBit && s <= e) {
    firstNeg = ~((1 << (8 - (s & 7))) - 1) & 0xff
    lastNeg = (1 << (7 - (e & 7))) - 1
    s >>= 3
    e >>= 3
  }
  return { start: s, end: e, firstNeg, lastNeg }
}

/** The BIT|BYTE argument; null after replying a syntax error. */
function unitOrReply(ctx: CommandContext, arg: Buffer | undefined): boolean | null {
  if (arg === undefined) return false
  const unit = optionName(arg)
  if (unit === 'bit') return true
  if (unit === 'byte') return false
  ctx.reply.error(ERR_SYNTAX)
  return null
}

function int64Arg(ctx: CommandContext, arg: Buffer): bigint | null {
  const v = parseInt64(arg)
  if (v === null) {
    ctx.reply.error(ERR_NOT_INTEGER)
    return null
  }
  return BigInt(v)
}

/** BITCOUNT key [start end [BYTE|BIT]] */
const bitcountCommand: Handler = (ctx, argv) => {
  const entry = stringOrReply(ctx, keyOf(argv[1] as Buffer))
  if (entry === null) return
  if (entry === undefined) {
    ctx.reply.integer(0)
    return
  }
  const p = entry.value as Buffer
  let r: Range
  if (argv.length === 4 || argv.length === 5) {
    const start = int64Arg(ctx, argv[2] as Buffer)
    if (start === null) return
    const end = int64Arg(ctx, argv[3] as Buffer)
    if (end === null) return
    if (start < 0n && end < 0n && start > end) {
      ctx.reply.integer(0)
      return
    }
    const isBit = unitOrReply(ctx, argv[4])
    if (isBit === null) return
    r = rangeOf(start, end, isBit, p.length)
  } else if (argv.length === 2) {
    r = { start: 0, end: p.length - 1, firstNeg: 0, lastNeg: 0 }
  } else {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  if (r.start > r.end) {
    ctx.reply.integer(0)
    return
  }
  let count = popcount(p, r.start, r.end)
  if (r.firstNeg !== 0) count -= popcount8((p[r.start] as number) & r.firstNeg)
  if (r.lastNeg !== 0) count -= popcount8((p[r.end] as number) & r.lastNeg)
  ctx.reply.integer(count)
}

/**
 * redisBitpos: the first `bit` in bytes[0..count) of `p` from `at`, in bits from `at`; for a clear
 * bit not found, count*8 (the string is taken as zero-padded on the right); for a set bit, -1.
 */
function bitpos(p: Buffer, at: number, count: number, bit: number): number {
  const skip = bit === 1 ? 0 : 0xff
  for (let i = 0; i < count; i++) {
    const b = p[at + i] as number
    if (b === skip) continue
    for (let k = 0; k < 8; k++) {
      if (((b >> (7 - k)) & 1) === bit) return i * 8 + k
    }
  }
  return bit === 1 ? -1 : count * 8
}

/** BITPOS's search over r (redisBitpos on the masked edge bytes); the position from r.start. */
function bitposInRange(p: Buffer, r: Range, bit: number): { pos: number; bytes: number;
  start: number } {
  let start = r.start
  let bytes = r.end - r.start + 1
  const edge = (b: number, neg: number): Buffer => Buffer.of(bit === 1 ? b & ~neg : b | neg)
  if (r.firstNeg !== 0) {
    let b = bit === 1 ? (p[start] as number) & ~r.firstNeg : (p[start] as number) | r.firstNeg
    if (r.lastNeg !== 0 && bytes === 1) b = bit === 1 ? b & ~r.lastNeg : b | r.lastNeg
    const pos = bitpos(Buffer.of(b & 0xff), 0, 1, bit)
    if (bytes === 1 || (pos !== -1 && pos !== 8)) return { pos, bytes, start }
    start++
    bytes--
  }
  const cur = bytes - (r.lastNeg !== 0 ? 1 : 0)
  if (cur > 0) {
    const pos = bitpos(p, start, cur, bit)
    if (bytes === cur || (pos !== -1 && pos !== cur * 8)) return { pos, bytes, start }
    start += cur
    bytes -= cur
  }
  const pos = bitpos(edge(p[r.end] as number, r.lastNeg), 0, 1, bit)
  return { pos, bytes, start }
}

/** BITPOS key bit [start [end [BYTE|BIT]]] */
const bitposCommand: Handler = (ctx, argv) => {
  const bit = parseInt64(argv[2] as Buffer)
  if (bit === null) {
    ctx.reply.error(ERR_NOT_INTEGER)
    return
  }
  if (bit !== 0 && bit !== 1) {
    ctx.reply.error('ERR The bit argument must be 1 or 0.')
    return
  }
  const entry = stringOrReply(ctx, keyOf(argv[1] as Buffer))
  if (entry === null) return
  if (entry === undefined) {
    ctx.reply.integer(bit === 1 ? -1 : 0)
    return
  }
  const p = entry.value as Buffer
  let r: Range
  let endGiven = false
  if (argv.length >= 4 && argv.length <= 6) {
    const start = int64Arg(ctx, argv[3] as Buffer)
    if (start === null) return
    const isBit = argv.length === 6 ? unitOrReply(ctx, argv[5]) : false
    if (isBit === null) return
    let end: bigint | null
    if (argv.length >= 5) {
      end = int64Arg(ctx, argv[4] as Buffer)
      if (end === null) return
      endGiven = true
    } else {
      end = isBit ? BigInt(p.length * 8 + 7) : BigInt(p.length - 1)
    }
    r = rangeOf(start, end, isBit, p.length)
  } else if (argv.length === 3) {
    r = { start: 0, end: p.length - 1, firstNeg: 0, lastNeg: 0 }
  } else {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  if (r.start > r.end) {
    ctx.reply.integer(-1)
    return
  }
  const { pos, bytes, start } = bitposInRange(p, r, bit)
  if (endGiven && bit === 0 && pos === bytes * 8) {
    ctx.reply.integer(-1)
    return
  }
  ctx.reply.integer(pos === -1 ? -1 : pos + start * 8)
}

/** BITOP AND|OR|XOR|NOT destkey key [key ...] */
const bitopCommand: Handler = (ctx, argv) => {
  const op = optionName(argv[1] as Buffer)
  if (op !== 'and' && op !== 'or' && op !== 'xor' && op !== 'not') {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  if (op === 'not' && argv.length !== 4) {
    ctx.reply.error('ERR BITOP NOT must be called with a single source key.')
    return
  }
  const srcs: Buffer[] = []
  let maxlen = 0
  for (let j = 3; j < argv.length; j++) {
    const entry = stringOrReply(asReader(ctx), keyOf(argv[j] as Buffer)) // lookupKeyRead
    if (entry === null) return
    const v = entry === undefined ? EMPTY : entry.value as Buffer
    srcs.push(v)
    maxlen = Math.max(maxlen, v.length)
  }
  const dst = keyOf(argv[2] as Buffer)
  const db = ctx.client.db
  if (maxlen === 0) {
    // Redis's dbDelete: a key still there, even expired, is deleted and notified `del`.
    if (ctx.keyspace.get(db, dst) !== undefined) {
      ctx.txn.apply(delEv(db, dst))
      notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', dst, db)
    }
    ctx.reply.integer(0)
    return
  }
  const res = Buffer.alloc(maxlen)
  for (let j = 0; j < maxlen; j++) {
    const first = srcs[0] as Buffer
    let out = j < first.length ? first[j] as number : 0
    if (op === 'not') out = ~out & 0xff
    for (let i = 1; i < srcs.length; i++) {
      const s = srcs[i] as Buffer
      const b = j < s.length ? s[j] as number : 0
      out = op === 'and' ? out & b : op === 'or' ? out | b : out ^ b
    }
    res[j] = out
  }
  markRawString(res)
  // Redis's setKey: its lookupKeyWrite (`expired`), `new` when created, then `set`.
  const created = lookupKey(ctx, dst, db) === undefined
  putString(ctx, db, dst, res, 0)
  if (created) notifyNew(ctx, dst, db)
  notifyKeyspaceEvent(ctx, NOTIFY_STRING, 'set', dst, db)
  ctx.reply.integer(maxlen)
}

// ---------------------------------------------------------------------------------------------
// BITFIELD

type Overflow = 'wrap' | 'sat' | 'fail'

interface BitfieldOp {
  op: 'get' | 'set' | 'incrby'
  offset: number
  value: bigint
  overflow: Overflow
  bits: number
  signed: boolean
}

/** getBitfieldTypeFromArgument: [signed, bits]; null after replying the error. */
function bitfieldTypeOrReply(ctx: CommandContext, arg: Buffer): [boolean, number] | null {
  const sign = arg[0]
  const n = parseInt64(arg.subarray(1))
  if ((sign !== 105 && sign !== 117) || n === null || typeof n === 'bigint' || n < 1 ||
      (sign === 105 && n > 64) || (sign === 117 && n > 63)) {
    ctx.reply.error(ERR_BITFIELD_TYPE)
    return null
  }
  return [sign === 105, n]
}

/** The subcommands of BITFIELD, parsed; null after replying the error. */
function parseBitfield(ctx: CommandContext, argv: Buffer[]): BitfieldOp[] | null {
  const ops: BitfieldOp[] = []
  let overflow: Overflow = 'wrap'
  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1
    const name = optionName(argv[j] as Buffer)
    if (name === 'overflow' && left >= 1) {
      const type = optionName(argv[++j] as Buffer)
      if (type !== 'wrap' && type !== 'sat' && type !== 'fail') {
        ctx.reply.error('ERR Invalid OVERFLOW type specified')
        return null
      }
      overflow = type
      continue
    }
    if (!((name === 'get' && left >= 2) || ((name === 'set' || name === 'incrby') && left >= 3))) {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
    const type = bitfieldTypeOrReply(ctx, argv[j + 1] as Buffer)
    if (type === null) return null
    const offset = bitOffsetOrReply(ctx, argv[j + 2] as Buffer, type[1])
    if (offset === null) return null
    let value = 0n
    if (name !== 'get') {
      const v = int64Arg(ctx, argv[j + 3] as Buffer)
      if (v === null) return null
      value = v
    }
    ops.push({ op: name, offset, value, overflow, bits: type[1], signed: type[0] })
    j += name === 'get' ? 2 : 3
  }
  return ops
}

function getBits(p: Buffer, offset: number, bits: number, signed: boolean): bigint {
  let v = 0n
  for (let j = 0; j < bits; j++, offset++) {
    const byte = offset >> 3
    const b = byte < p.length ? ((p[byte] as number) >> (7 - (offset & 7))) & 1 : 0
    v = (v << 1n) | BigInt(b)
  }
  return signed ? BigInt.asIntN(bits, v) : v
}

function setBits(p: Buffer, offset: number, bits: number, value: bigint): void {
  const u = BigInt.asUintN(bits, value)
  for (let j = 0; j < bits; j++, offset++) {
    const bit = (u >> BigInt(bits - 1 - j)) & 1n
    const byte = offset >> 3
    const mask = 1 << (7 - (offset & 7))
    p[byte] = bit === 1n ? (p[byte] as number) | mask : (p[byte] as number) & ~mask
  }
}

/**
 * check(Un)signedBitfieldOverflow: the value to store for `value + incr` in the field, or null
 * when it overflows under FAIL. Redis compares in 64-bit arithmetic; BigInt is exact, the same
 * for every case Redis's checks reach.
 */
function fieldResult(value: bigint, incr: bigint, bits: number, signed: boolean,
  overflow: Overflow): bigint | null {
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n
  const min = signed ? -max - 1n : 0n
  const sum = value + incr
  if (sum >= min && sum <= max) return sum
  if (overflow === 'fail') return null
  if (overflow === 'sat') return sum > max ? max : min
  return signed ? BigInt.asIntN(bits, sum) : BigInt.asUintN(bits, sum)
}

function bitfieldGeneric(ctx: CommandContext, argv: Buffer[], readonly: boolean): void {
  const ops = parseBitfield(ctx, argv)
  if (ops === null) return
  const key = keyOf(argv[1] as Buffer)
  const writes = ops.filter((o) => o.op !== 'get')
  if (writes.length > 0 && readonly) {
    ctx.reply.error('ERR BITFIELD_RO only supports the GET subcommand')
    return
  }
  const entry = stringOrReply(ctx, key)
  if (entry === null) return
  const current = entry === undefined ? EMPTY : entry.value as Buffer
  let value = current
  if (writes.length > 0) {
    const highest = Math.max(...writes.map((o) => o.offset + o.bits - 1))
    value = grownCopy(current, highest)
  }
  let changed = entry === undefined || value.length !== current.length
  // Redis's `changes`: write ops done (not failed) on a created or grown value, or that changed it.
  let changes = 0
  const grown = changed
  ctx.reply.arrayHeader(ops.length)
  for (const o of ops) {
    const old = getBits(value, o.offset, o.bits, o.signed)
    if (o.op === 'get') {
      ctx.reply.integer(old)
      continue
    }
    // An unsigned SET takes its value as Redis's uint64_t cast does (-1 is 2^64-1).
    const next = o.op === 'incrby'
      ? fieldResult(old, o.value, o.bits, o.signed, o.overflow)
      : fieldResult(o.signed ? o.value : BigInt.asUintN(64, o.value), 0n, o.bits, o.signed,
        o.overflow)
    if (next === null) {
      ctx.reply.nullBulk()
      continue
    }
    ctx.reply.integer(o.op === 'incrby' ? next : old)
    setBits(value, o.offset, o.bits, next)
    if (next !== old) changed = true
    if (grown || next !== old) changes++
  }
  if (writes.length > 0 && changed) putBits(ctx, key, entry, value)
  // Redis creates a missing key for any write op (`new`), and notifies setbit on changes.
  if (writes.length > 0 && entry === undefined) notifyNew(ctx, key)
  if (changes > 0) notifyKeyspaceEvent(ctx, NOTIFY_STRING, 'setbit', key)
}

const bitfieldCommand: Handler = (ctx, argv) => bitfieldGeneric(ctx, argv, false)
const bitfieldRoCommand: Handler = (ctx, argv) => bitfieldGeneric(ctx, argv, true)

const W = ['write', 'bitmap']
const R = ['read', 'bitmap']

export const bitopsCommands: CommandSpec[] = [
  commandSpec('setbit', 4, ['write', 'denyoom'], 1, 1, 1, [...W, 'slow'], setbitCommand),
  commandSpec('getbit', 3, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], getbitCommand),
  commandSpec('bitcount', -2, ['readonly'], 1, 1, 1, [...R, 'slow'], bitcountCommand),
  commandSpec('bitpos', -3, ['readonly'], 1, 1, 1, [...R, 'slow'], bitposCommand),
  commandSpec('bitop', -4, ['write', 'denyoom'], 2, -1, 1, [...W, 'slow'], bitopCommand),
  commandSpec('bitfield', -2, ['write', 'denyoom'], 1, 1, 1, [...W, 'slow'], bitfieldCommand),
  commandSpec('bitfield_ro', -2, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'],
    bitfieldRoCommand),
]
