// redis.call's crossing on the main thread's engine (inline-engine.ts), without the package's
// generic conversions: the arguments are read out of the instance's memory with one copy (each
// argument a view of it, where the package copies every argument again), and the command's RESP
// reply is written straight into the package's reply wire format (where the package would parse
// it into objects and concatenate a buffer per value). Installed in place of the package's
// redis.call / redis.pcall handlers (its LuaWasmModule's handler table, which its wasm imports
// call through).
// Wire formats (the package's codec, lua-redis-wasm 1.5.0):
//   arguments: u32le count, then per argument u32le length and its bytes;
//   a reply:   u8 type, u32le length or count, payload — NULL 0 (len 0), INT 1 (int64le),
//     BULK 2, ARRAY 3 (count, then the items), STATUS 4, ERROR 5, BOOL 7 (1 byte), DOUBLE 8
//     (f64le), MAP 9 (pair count, then key, value…), SET 10 (count), BIG_NUMBER 11, VERBATIM 12
//     (u32le format length, format, string);
//   the result handed back: {ptr u32, len u32} written at retPtr (sret) or packed in a bigint.
// RESP → reply follows wire.ts's parseRespValue (what the worker's path gives Lua) case by case.
// Invariant: one reply is converted at a time (the scratch buffer is reused).

import type { EmscriptenModule } from './lua-glue.js'

const NULL = 0x00
const INT = 0x01
const BULK = 0x02
const ARRAY = 0x03
const STATUS = 0x04
const ERROR = 0x05
const BOOL = 0x07
const DOUBLE = 0x08
const MAP = 0x09
const SET = 0x0a
const BIG_NUMBER = 0x0b
const VERBATIM = 0x0c
const CR = 0x0d

type Handler = (...abi: number[]) => bigint | undefined

/** The package's handler table (LuaWasmModule's private `handlers`). */
interface Handlers { call: Handler; pcall: Handler }

let scratch = Buffer.alloc(64 * 1024)

function ensure(at: number, more: number): void {
  if (at + more <= scratch.length) return
  const next = Buffer.alloc(Math.max(scratch.length * 2, at + more))
  scratch.copy(next, 0, 0, at)
  scratch = next
}

function head(at: number, type: number, n: number): number {
  ensure(at, 5)
  scratch[at] = type
  scratch.writeUInt32LE(n, at + 1)
  return at + 5
}

function bytes(at: number, type: number, src: Buffer, from: number, to: number): number {
  at = head(at, type, to - from)
  ensure(at, to - from)
  src.copy(scratch, at, from, to)
  return at + (to - from)
}

/** Convert the RESP value at `pos.at` of `resp`; returns the scratch offset after it. */
function convert(resp: Buffer, pos: { at: number }, at: number): number {
  const type = resp[pos.at] as number
  const start = pos.at + 1
  let eol = start
  while (resp[eol] !== CR) eol++
  pos.at = eol + 2
  switch (type) {
    case 0x2b: return bytes(at, STATUS, resp, start, eol) // +
    case 0x2d: return bytes(at, ERROR, resp, start, eol) // -
    case 0x28: return bytes(at, BIG_NUMBER, resp, start, eol) // (
    case 0x3a: { // :
      at = head(at, INT, 8)
      ensure(at, 8)
      scratch.writeBigInt64LE(BigInt(resp.toString('latin1', start, eol)), at)
      return at + 8
    }
    case 0x24: { // $
      const len = Number(resp.toString('latin1', start, eol))
      if (len < 0) return head(at, NULL, 0)
      at = bytes(at, BULK, resp, pos.at, pos.at + len)
      pos.at += len + 2
      return at
    }
    case 0x2a: case 0x7e: case 0x3e: case 0x25: { // * ~ > %
      const n = Number(resp.toString('latin1', start, eol))
      if (n < 0) return head(at, NULL, 0)
      at = head(at, type === 0x7e ? SET : type === 0x25 ? MAP : ARRAY, n)
      const items = type === 0x25 ? 2 * n : n
      for (let i = 0; i < items; i++) at = convert(resp, pos, at)
      return at
    }
    case 0x5f: return head(at, NULL, 0) // _
    case 0x2c: { // ,
      const line = resp.toString('latin1', start, eol)
      const x = line === 'inf' ? Infinity : line === '-inf' ? -Infinity : Number(line)
      at = head(at, DOUBLE, 8)
      ensure(at, 8)
      scratch.writeDoubleLE(x, at)
      return at + 8
    }
    case 0x23: { // #
      at = head(at, BOOL, 1)
      ensure(at, 1)
      scratch[at] = resp[start] === 0x74 ? 1 : 0
      return at + 1
    }
    case 0x3d: { // =
      const len = Number(resp.toString('latin1', start, eol))
      const body = pos.at
      pos.at += len + 2
      at = head(at, VERBATIM, 4 + 3 + Math.max(0, len - 4))
      ensure(at, 7 + len)
      scratch.writeUInt32LE(3, at)
      resp.copy(scratch, at + 4, body, body + 3)
      resp.copy(scratch, at + 7, body + 4, body + len)
      return at + 7 + Math.max(0, len - 4)
    }
    default: return bytes(at, ERROR, UNEXPECTED, 0, UNEXPECTED.length)
  }
}

const UNEXPECTED = Buffer.from('ERR unexpected reply type from command')

/** The arguments of a redis.call at [ptr, ptr + len) of the heap: views of one copy. */
function readArgs(heap: Uint8Array, ptr: number, len: number): Buffer[] {
  const copy = Buffer.from(heap.subarray(ptr, ptr + len))
  const n = copy.readUInt32LE(0)
  const args: Buffer[] = new Array<Buffer>(n)
  let at = 4
  for (let i = 0; i < n; i++) {
    const l = copy.readUInt32LE(at)
    at += 4
    args[i] = copy.subarray(at, at + l)
    at += l
  }
  return args
}

/**
 * Replace the package's redis.call / redis.pcall handlers of `mod` (a LuaWasmModule after
 * create()) by `answer`, which returns the RESP reply of a call (a thrown error becomes an
 * error reply, as the package's handler does).
 */
export function installCallHandlers(mod: object, m: EmscriptenModule,
  answer: (args: Buffer[]) => Buffer): void {
  const handlers = (mod as { handlers?: Handlers }).handlers
  if (handlers === undefined || typeof handlers.call !== 'function') {
    throw new Error('lua-redis-wasm: no handler table to install into')
  }
  const pos = { at: 0 }
  const handler: Handler = (...abi) => {
    const sret = abi.length >= 3
    const ptr = (sret ? abi[1] : abi[0]) as number
    const len = (sret ? abi[2] : abi[1]) as number
    let reply: Buffer
    try {
      reply = answer(readArgs(m.HEAPU8, ptr, len))
    } catch (e) {
      reply = Buffer.from(`-${e instanceof Error ? e.message : String(e)}\r\n`, 'latin1')
    }
    pos.at = 0
    const size = convert(reply, pos, 0)
    const out = m._alloc(size)
    const heap = m.HEAPU8
    scratch.copy(heap, out, 0, size)
    if (!sret) return (BigInt(size) << 32n) | BigInt(out >>> 0)
    const ret = abi[0] as number
    heap[ret] = out & 0xff
    heap[ret + 1] = (out >>> 8) & 0xff
    heap[ret + 2] = (out >>> 16) & 0xff
    heap[ret + 3] = out >>> 24
    heap[ret + 4] = size & 0xff
    heap[ret + 5] = (size >>> 8) & 0xff
    heap[ret + 6] = (size >>> 16) & 0xff
    heap[ret + 7] = size >>> 24
    return undefined
  }
  handlers.call = handler
  handlers.pcall = handler
}
