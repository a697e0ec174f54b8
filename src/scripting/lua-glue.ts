// The Emscripten glue of lua-redis-wasm as the main thread's engine loads it (inline-engine.ts):
// the package's own factory (redis_lua.mjs, found through LuaWasmModule.defaultModulePath),
// wrapped so that the instance's `_emscripten_throw_longjmp` import (how every Lua error leaves a
// C frame: luaD_throw's longjmp) first asks the engine whether the script must stop now. When it
// must (its instruction budget is spent), a FastPathAbort is thrown instead of the longjmp: the
// glue's invoke_* wrappers catch only their own exception class, so this one leaves the wasm
// call entirely — no pcall of the script can catch it. The instance is then unusable (its C
// stack was abandoned mid-call) and the engine discards it.
// Handed to the package through its documented `modulePath` option (LoadOptions); the package
// imports this file and calls its default export as it would the real factory.
// Invariant: loads are one at a time (inline-engine.ts awaits each), so the hooks set in `next`
// belong to the load that takes them.

import { LuaWasmModule } from 'lua-redis-wasm'

/** Thrown out of the wasm call when the running script must stop (see the top comment). */
export class FastPathAbort extends Error {
  constructor() {
    super('the script ran past the main thread budget')
  }
}

/** What one load hooks: the abort check, and the module it captures (memory, exports). */
export interface GlueHooks {
  shouldAbort(): boolean
  module: EmscriptenModule | null
}

/** The parts of the Emscripten module the engine reads (the package's exports object). */
export interface EmscriptenModule {
  readonly HEAPU8: Uint8Array
  _set_limits(maxFuel: number, maxReplyBytes: number, maxArgBytes: number): void
  _alloc(size: number): number
  _free_mem(ptr: number): void
  /** sret form: writes the result's {ptr u32, len u32} at `ret`. */
  _eval_with_args(ret: number, script: number, scriptLen: number, args: number, argsLen: number,
    keyCount: number): void
}

type Imports = { env: Record<string, unknown> }
type Instantiate = (imports: Imports, done: (i: unknown, m: unknown) => void) => unknown
type Factory = (arg: { instantiateWasm: Instantiate }) => Promise<EmscriptenModule>

/** The hooks of the next load (inline-engine.ts sets them just before it calls load()). */
export const next: { hooks: GlueHooks | null } = { hooks: null }

let real: Factory | null = null

export default async function factory(arg: { instantiateWasm: Instantiate }):
  Promise<EmscriptenModule> {
  const hooks = next.hooks
  next.hooks = null
  if (hooks === null) throw new Error('lua-glue: no hooks for this load')
  real ??= ((await import(LuaWasmModule.defaultModulePath())) as { default: Factory }).default
  const instantiate = arg.instantiateWasm
  arg.instantiateWasm = (imports, done) => {
    const original = imports.env._emscripten_throw_longjmp as () => never
    imports.env._emscripten_throw_longjmp = (): never => {
      if (hooks.shouldAbort()) throw new FastPathAbort()
      return original()
    }
    return instantiate(imports, done)
  }
  const m = await real(arg)
  hooks.module = m
  return m
}
