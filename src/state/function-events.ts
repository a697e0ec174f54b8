// Events of the function libraries (FUNCTION LOAD / DELETE / FLUSH / RESTORE): the durable truth
// of Keyspace.functionLibraries. Payload layouts after the u8 event code (names are varuint
// length + latin1 bytes, code is varuint length + bytes):
//  110 FUNCTION_PUT    name, payload   — add or replace one library (its whole source)
//  111 FUNCTION_DEL    name            — remove one library (absent: nothing)
//  112 FUNCTION_FLUSH  (nothing)       — remove every library
// A PUT carries the whole library, so replay never depends on earlier events: checkpoints write
// one PUT per library (storage/checkpoint.ts), and a fuzzy checkpoint's PUT simply replaces what
// the deltas before it built (state/event.ts). Replay stores sources only; compiling and
// running them is the scripting layer's business (src/scripting), never recovery's.

import type { EventType, Undo } from './event.js'
import type { Keyspace } from './keyspace.js'

export const EV_FUNCTION_PUT = 110
export const EV_FUNCTION_DEL = 111
export const EV_FUNCTION_FLUSH = 112

export interface FunctionPutEvent { readonly code: typeof EV_FUNCTION_PUT; name: string; payload: Buffer }
export interface FunctionDelEvent { readonly code: typeof EV_FUNCTION_DEL; name: string }
export interface FunctionFlushEvent { readonly code: typeof EV_FUNCTION_FLUSH }

export const functionPutEv = (name: string, payload: Buffer): FunctionPutEvent =>
  ({ code: EV_FUNCTION_PUT, name, payload })
export const functionDelEv = (name: string): FunctionDelEvent => ({ code: EV_FUNCTION_DEL, name })
export const functionFlushEv = (): FunctionFlushEvent => ({ code: EV_FUNCTION_FLUSH })

/** Bytes a library counts toward liveBytes (its checkpoint record's size, roughly). */
export function libraryBytes(name: string, payload: Buffer): number {
  return name.length + payload.length + 16
}

function setLibrary(ks: Keyspace, name: string, payload: Buffer | undefined): Buffer | undefined {
  const libs = ks.functionLibraries
  ks.functionsVersion++
  const previous = libs.get(name)
  if (previous !== undefined) {
    libs.delete(name)
    ks.liveBytes -= libraryBytes(name, previous)
  }
  if (payload !== undefined) {
    libs.set(name, payload)
    ks.liveBytes += libraryBytes(name, payload)
  }
  return previous
}

export const functionPutEvent: EventType<FunctionPutEvent> = {
  code: EV_FUNCTION_PUT, name: 'function-put', shrinks: false,
  encode(w, e) { w.str(e.name); w.bytes(e.payload) },
  decode: (r) => ({ code: EV_FUNCTION_PUT, name: r.str(), payload: r.bytes() }),
  apply(ks, e): Undo {
    const previous = setLibrary(ks, e.name, e.payload)
    return () => { setLibrary(ks, e.name, previous) }
  },
}

export const functionDelEvent: EventType<FunctionDelEvent> = {
  code: EV_FUNCTION_DEL, name: 'function-del', shrinks: true,
  encode(w, e) { w.str(e.name) },
  decode: (r) => ({ code: EV_FUNCTION_DEL, name: r.str() }),
  apply(ks, e): Undo | null {
    const previous = setLibrary(ks, e.name, undefined)
    return previous === undefined ? null : () => { setLibrary(ks, e.name, previous) }
  },
}

export const functionFlushEvent: EventType<FunctionFlushEvent> = {
  code: EV_FUNCTION_FLUSH, name: 'function-flush', shrinks: true,
  encode() { /* no fields */ },
  decode: () => ({ code: EV_FUNCTION_FLUSH }),
  apply(ks): Undo | null {
    if (ks.functionLibraries.size === 0) return null
    const saved = [...ks.functionLibraries]
    for (const [name] of saved) setLibrary(ks, name, undefined)
    return () => {
      for (const [name] of [...ks.functionLibraries]) setLibrary(ks, name, undefined)
      for (const [name, payload] of saved) setLibrary(ks, name, payload)
    }
  },
}

/** The events that rebuild every library (a checkpoint's snapshot of them). */
export function librarySnapshot(ks: Keyspace): FunctionPutEvent[] {
  const out: FunctionPutEvent[] = []
  for (const [name, payload] of ks.functionLibraries) {
    out.push({ code: EV_FUNCTION_PUT, name, payload })
  }
  return out
}
