// A script's result to its client (script_lua.c's luaReplyToRedisReply, after the driver's
// conversion, scripting/lua-driver.ts). The other way, a command's reply to Lua, is
// scripting/wire.ts parseRespValue, run in the engine's thread.

import type { ScriptValue } from '../scripting/engine.js'
import { OutputSink } from './reply-sink.js'
import type { ReplySink } from './spec.js'

const INT64_MAX = 2n ** 63n - 1n
const INT64_MIN = -(2n ** 63n)

/** Map \r and \n to spaces (Redis does so for status and error replies from scripts). */
function oneLine(b: Buffer): string {
  return b.toString('latin1').replace(/[\r\n]/g, ' ')
}

/**
 * A script's result to the client (luaReplyToRedisReply, after the engine's conversion). Not
 * recursive: a result nests up to the driver's depth limit (3000, then 'reached lua stack
 * limit'), deeper than the JS stack allows one frame per level.
 */
export function writeValue(sink: ReplySink, root: ScriptValue): void {
  const pending: ScriptValue[] = [root]
  while (pending.length > 0) {
    const v = pending.pop() as ScriptValue
    if (Array.isArray(v)) {
      sink.arrayHeader(v.length)
      for (let i = v.length - 1; i >= 0; i--) pending.push(v[i] as ScriptValue)
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && 'map' in v) {
      sink.mapHeader(v.map.length)
      for (let i = v.map.length - 1; i >= 0; i--) {
        const [k, item] = v.map[i] as [ScriptValue, ScriptValue]
        pending.push(item, k)
      }
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v) && 'set' in v) {
      sink.setHeader(v.set.length)
      for (let i = v.set.length - 1; i >= 0; i--) pending.push(v.set[i] as ScriptValue)
    } else {
      writeScalar(sink, v)
    }
  }
}

/** writeValue of anything but an array, a map or a set. */
function writeScalar(sink: ReplySink, v: ScriptValue): void {
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
  if (Array.isArray(v)) return
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
  }
}
