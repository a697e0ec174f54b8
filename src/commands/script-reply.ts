// Replies both ways between commands and scripts (script_lua.c's conversions, after the
// engine's own, scripting/wasm-lua.ts): parseReply reads the RESP a command handler wrote into a
// ScriptValue for redis.call; writeValue writes a script's result to the client.

import type { ScriptValue } from '../scripting/engine.js'
import { OutputSink } from './reply-sink.js'
import type { ReplySink } from './spec.js'

const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)

/** Parse one RESP reply (as our writer produced it) into a ScriptValue. */
export function parseReply(buf: Buffer, pos: { at: number }): ScriptValue {
  const type = buf[pos.at] as number
  const eol = buf.indexOf('\r\n', pos.at, 'latin1')
  const line = buf.toString('latin1', pos.at + 1, eol)
  pos.at = eol + 2
  switch (type) {
    case 0x2b: return { ok: Buffer.from(line, 'latin1') } // +
    case 0x2d: return { err: Buffer.from(line, 'latin1') } // -
    case 0x3a: { // :
      const n = BigInt(line)
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(n) : n
    }
    case 0x24: { // $
      const len = Number(line)
      if (len < 0) return null
      const b = Buffer.from(buf.subarray(pos.at, pos.at + len))
      pos.at += len + 2
      return b
    }
    case 0x2a: case 0x7e: case 0x3e: { // * ~ >
      const n = Number(line)
      if (n < 0) return null
      const items: ScriptValue[] = []
      for (let i = 0; i < n; i++) items.push(parseReply(buf, pos))
      return type === 0x7e ? { set: items } : items
    }
    case 0x25: { // %
      const n = Number(line)
      const pairs: [ScriptValue, ScriptValue][] = []
      for (let i = 0; i < n; i++) pairs.push([parseReply(buf, pos), parseReply(buf, pos)])
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
      return { verbatim_string: { format: Buffer.from(body.subarray(0, 3)),
        string: Buffer.from(body.subarray(4)) } }
    }
    default: return { err: Buffer.from('ERR unexpected reply type from command') }
  }
}

/** Map \r and \n to spaces (Redis does so for status and error replies from scripts). */
function oneLine(b: Buffer): string {
  return b.toString('latin1').replace(/[\r\n]/g, ' ')
}

/** A script's result to the client (luaReplyToRedisReply, after the engine's conversion). */
export function writeValue(sink: ReplySink, v: ScriptValue): void {
  if (v === null) { sink.nullBulk(); return }
  if (typeof v === 'number') { sink.integer(v); return }
  if (typeof v === 'bigint') {
    // Redis casts a Lua number to long long in C: on x86 every out-of-range value (2^63 and up,
    // inf) becomes INT64_MIN, where the wasm engine saturates to INT64_MAX. No double converts
    // to INT64_MAX exactly, so that value only ever means "out of range".
    sink.integer(v === INT64_MAX ? INT64_MIN : v)
    return
  }
  if (typeof v === 'boolean') { sink.boolean(v); return }
  if (Buffer.isBuffer(v)) { sink.bulk(v); return }
  if (Array.isArray(v)) {
    sink.arrayHeader(v.length)
    for (const item of v) writeValue(sink, item)
    return
  }
  if ('ok' in v) { sink.simple(oneLine(v.ok)); return }
  if ('err' in v) {
    const msg = oneLine(v.err)
    const text = v.code === undefined ? msg : `${v.code.toString('latin1')} ${msg}`
    sink.error(text)
    return
  }
  if ('double' in v) { sink.double(v.double); return }
  if ('big_number' in v) {
    if (sink.proto === 3 && sink instanceof OutputSink) {
      sink.target.writeBigNumber(oneLine(v.big_number))
    } else {
      sink.bulk(v.big_number)
    }
    return
  }
  if ('verbatim_string' in v) {
    const vs = v.verbatim_string
    if (sink.proto === 3 && sink instanceof OutputSink) {
      sink.target.writeVerbatim(vs.string, vs.format.toString('latin1'))
    } else {
      sink.bulk(vs.string)
    }
    return
  }
  if ('map' in v) {
    sink.mapHeader(v.map.length)
    for (const [k, item] of v.map) { writeValue(sink, k); writeValue(sink, item) }
    return
  }
  if ('set' in v) {
    sink.setHeader(v.set.length)
    for (const item of v.set) writeValue(sink, item)
  }
}
