// The Lua engine in use: lua-redis-wasm (npm), Redis's own Lua 5.1 with cjson, cmsgpack, bit and
// struct compiled to WebAssembly. Chosen by fidelity (docs/scripting.md has the probes against
// redis-server 7.0.15 and the differences). It runs in the engine's thread (lua-worker.ts) under
// the driver of lua-driver.ts; this file holds what the package is configured with.

import type { RedisProps } from 'lua-redis-wasm'

export const REDIS_VERSION = '7.0.15'
const REDIS_VERSION_NUM = 0x07000f

/** Redis's script flags (scripts_flags_def), as register_function and shebangs accept them. */
export const SCRIPT_FLAG_NAMES: readonly string[] =
  ['no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys']

/** The redis.* constants and stubs the package adds to its `redis` table. */
export const REDIS_PROPS: RedisProps = {
  REDIS_VERSION: { value: REDIS_VERSION },
  REDIS_VERSION_NUM: { value: REDIS_VERSION_NUM },
  REPL_NONE: { value: 0 }, REPL_AOF: { value: 1 }, REPL_SLAVE: { value: 2 },
  REPL_REPLICA: { value: 2 }, REPL_ALL: { value: 3 },
  // Outside the Lua debugger, as Redis answers them: breakpoint() is false, debug() nothing.
  breakpoint: { returns: false }, debug: { returns: null },
  // Redis 7 always replicates effects: replicate_commands() is true; set_repl changes nothing
  // here either (capykv logs effects, never scripts).
  replicate_commands: { returns: true }, set_repl: { returns: null },
}

export const ENGINE_DESCRIPTION = 'lua-redis-wasm 1.5.0 (Lua 5.1 with cjson, cmsgpack, bit, struct)'
