// What crosses between the main thread and the Lua engine's thread (worker-engine.ts and
// lua-worker.ts), with no structured clone and no MessagePort on the way: one growable
// SharedArrayBuffer per thread, and the value codecs both sides share.
// Layout of the SharedArrayBuffer:
//   Int32 words [0, CTRL_WORDS): TO_WORKER and TO_MAIN (1 = a message waits for that side),
//   DEAD (set by the worker as it exits), LEN (the waiting message's byte length), READY (set
//   by the worker once its engine is loaded);
//   bytes from DATA_AT: the one message in flight: u32le field count, then per field u32le
//   length and its bytes.
// Invariants: the two sides alternate strictly (a job; then any number of call/log → reply
// pairs; then its done), so one message area suffices; a sender writes the message and LEN
// before it stores its flag (Atomics: the reader sees the bytes once it sees the flag); the
// buffer only grows (length-tracking views on both sides see the growth).
// Also here: parseRespValue (a command's RESP reply → the value redis.call returns to Lua) and
// decodeLuaResult (the driver's encoding of a script's result, lua-driver.ts ENCODED).

import type { ScriptValue } from './engine.js'

export const TO_WORKER = 0
export const TO_MAIN = 1
export const DEAD = 2
const LEN = 3
/** Set by the worker once its engine is loaded. */
export const READY = 4
const CTRL_WORDS = 8
const DATA_AT = CTRL_WORDS * 4
const INITIAL_BYTES = 64 * 1024
/** The largest message (Redis's proto-max-bulk-len is 512 MB: one argument that large fits). */
export const MAX_MESSAGE_BYTES = 1024 * 1024 * 1024
/** Polls of the flag before sleeping on it: a call's reply usually comes within this. */
const SPIN = 0

interface Growable { grow(n: number): void; readonly byteLength: number }

export function newChannelBuffer(): SharedArrayBuffer {
  const Ctor = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) =>
    SharedArrayBuffer
  return new Ctor(INITIAL_BYTES, { maxByteLength: DATA_AT + MAX_MESSAGE_BYTES })
}

export class Channel {
  readonly ctrl: Int32Array
  private readonly data: Uint8Array

  constructor(readonly sab: SharedArrayBuffer) {
    this.ctrl = new Int32Array(sab, 0, CTRL_WORDS)
    this.data = new Uint8Array(sab, DATA_AT)
  }

  /** Write a message for the side `flag` names and wake it. */
  send(flag: number, fields: readonly Uint8Array[]): void {
    let size = 4
    for (const f of fields) size += 4 + f.length
    if (size > MAX_MESSAGE_BYTES) throw new Error('ERR script message too large')
    const g = this.sab as unknown as Growable
    if (DATA_AT + size > g.byteLength) {
      g.grow(Math.min(DATA_AT + MAX_MESSAGE_BYTES, Math.max(DATA_AT + size, g.byteLength * 2)))
    }
    const d = this.data
    let at = putU32(d, 0, fields.length)
    for (const f of fields) {
      at = putU32(d, at, f.length)
      d.set(f, at)
      at += f.length
    }
    Atomics.store(this.ctrl, LEN, size)
    Atomics.store(this.ctrl, flag, 1)
    Atomics.notify(this.ctrl, flag)
  }

  /** The waiting message for `flag`'s side, or null when none waits. Fields are copies. */
  take(flag: number): Buffer[] | null {
    if (Atomics.load(this.ctrl, flag) === 0) return null
    Atomics.store(this.ctrl, flag, 0)
    const size = Atomics.load(this.ctrl, LEN)
    const copy = Buffer.from(this.data.subarray(0, size))
    const n = copy.readUInt32LE(0)
    const fields: Buffer[] = []
    let at = 4
    for (let i = 0; i < n; i++) {
      const len = copy.readUInt32LE(at)
      at += 4
      fields.push(copy.subarray(at, at + len))
      at += len
    }
    return fields
  }

  /** Wait until a message for `flag`'s side waits (spinning briefly first), at most `ms`. */
  wait(flag: number, ms: number): void {
    for (let i = 0; i < SPIN; i++) if (Atomics.load(this.ctrl, flag) !== 0) return
    Atomics.wait(this.ctrl, flag, 0, ms)
  }
}

function putU32(d: Uint8Array, at: number, v: number): number {
  d[at] = v & 0xff
  d[at + 1] = (v >>> 8) & 0xff
  d[at + 2] = (v >>> 16) & 0xff
  d[at + 3] = (v >>> 24) & 0xff
  return at + 4
}

const CR = 0x0d

/** Parse one RESP reply (as capykv's writer produced it) into a ScriptValue. */
export function parseRespValue(buf: Buffer, pos: { at: number }): ScriptValue {
  const type = buf[pos.at] as number
  let eol = pos.at + 1
  while (buf[eol] !== CR) eol++
  const line = buf.toString('latin1', pos.at + 1, eol)
  pos.at = eol + 2
  switch (type) {
    case 0x2b: return { ok: Buffer.from(line, 'latin1') } // +
    case 0x2d: return { err: Buffer.from(line, 'latin1') } // -
    case 0x3a: { // :
      const n = Number(line)
      if (Number.isSafeInteger(n)) return n
      return BigInt(line)
    }
    case 0x24: { // $
      const len = Number(line)
      if (len < 0) return null
      const b = buf.subarray(pos.at, pos.at + len)
      pos.at += len + 2
      return b
    }
    case 0x2a: case 0x7e: case 0x3e: { // * ~ >
      const n = Number(line)
      if (n < 0) return null
      const items: ScriptValue[] = []
      for (let i = 0; i < n; i++) items.push(parseRespValue(buf, pos))
      return type === 0x7e ? { set: items } : items
    }
    case 0x25: { // %
      const n = Number(line)
      const pairs: [ScriptValue, ScriptValue][] = []
      for (let i = 0; i < n; i++) pairs.push([parseRespValue(buf, pos), parseRespValue(buf, pos)])
      return { map: pairs }
    }
    case 0x5f: return null // _
    case 0x2c: { // ,
      const x = line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line)
      return { double: x }
    }
    case 0x23: return line === 't' // #
    case 0x28: return { big_number: Buffer.from(line, 'latin1') } // (
    case 0x3d: { // =
      const len = Number(line)
      const body = buf.subarray(pos.at, pos.at + len)
      pos.at += len + 2
      return { verbatim_string: { format: body.subarray(0, 3), string: body.subarray(4) } }
    }
    default: return { err: Buffer.from('ERR unexpected reply type from command') }
  }
}

const INT64_MIN = -(2n ** 63n)
const TWO63 = 2 ** 63

/** Redis's `(long long)lua_tonumber(...)` on x86-64: truncation; NaN, ±inf, out of range → INT64_MIN. */
export function luaNumberToInteger(x: number): number | bigint {
  if (!(x >= -TWO63 && x < TWO63)) return INT64_MIN
  const t = Math.trunc(x)
  return Number.isSafeInteger(t) ? (t === 0 ? 0 : t) : BigInt(t)
}

function parseG(s: string): number {
  if (s === 'inf') return Infinity
  if (s === '-inf') return -Infinity
  if (s === 'nan' || s === '-nan') return NaN
  return Number(s)
}

const STACK_LIMIT: ScriptValue = { err: Buffer.from('ERR reached lua stack limit') }

/** A C string as Redis reads it (cut at the first NUL), \r and \n mapped to spaces. */
function oneLine(b: Buffer, trimEnd: boolean): Buffer {
  const nul = b.indexOf(0)
  let s = (nul < 0 ? b : b.subarray(0, nul)).toString('latin1')
  if (trimEnd) s = s.replace(/[\r\n]+$/, '')
  return Buffer.from(s.replace(/[\r\n]/g, ' '), 'latin1')
}

/** Decode the driver's ENCODED result (lua-driver.ts) into a ScriptValue. */
export function decodeLuaResult(b: Buffer, pos: { at: number }): ScriptValue {
  const tag = b[pos.at++] as number
  const num = (): string => {
    const end = b.indexOf(0x3b, pos.at) // ;
    const s = b.toString('latin1', pos.at, end)
    pos.at = end + 1
    return s
  }
  const bytes = (): Buffer => {
    const colon = b.indexOf(0x3a, pos.at) // :
    const len = Number(b.toString('latin1', pos.at, colon))
    const s = b.subarray(colon + 1, colon + 1 + len)
    pos.at = colon + 1 + len
    return s
  }
  switch (tag) {
    case 0x6e: return null // n
    case 0x69: return luaNumberToInteger(parseG(num())) // i
    case 0x74: return true // t
    case 0x66: return false // f
    case 0x73: return bytes() // s
    case 0x65: return { err: oneLine(bytes(), true) } // e
    case 0x45: return { err: oneLine(bytes(), true), counted: true } // E
    case 0x6f: return { ok: oneLine(bytes(), false) } // o
    case 0x64: return { double: parseG(num()) } // d
    case 0x42: return { big_number: oneLine(bytes(), false) } // B
    case 0x76: { // v
      const f = bytes()
      const format = Buffer.alloc(3, 0x20)
      const nul = f.indexOf(0)
      f.copy(format, 0, 0, Math.min(3, nul < 0 ? f.length : nul))
      return { verbatim_string: { format, string: bytes() } }
    }
    case 0x6d: { // m
      const n = Number(num())
      const pairs: [ScriptValue, ScriptValue][] = []
      for (let i = 0; i < n; i++) pairs.push([decodeLuaResult(b, pos), decodeLuaResult(b, pos)])
      return { map: pairs }
    }
    case 0x53: { // S
      const n = Number(num())
      const items: ScriptValue[] = []
      for (let i = 0; i < n; i++) items.push(decodeLuaResult(b, pos))
      return { set: items }
    }
    case 0x61: { // a
      const n = Number(num())
      const items: ScriptValue[] = []
      for (let i = 0; i < n; i++) items.push(decodeLuaResult(b, pos))
      return items
    }
    case 0x78: return STACK_LIMIT // x
    default: throw new Error(`bad script result encoding at ${pos.at - 1}`)
  }
}
