// The scripting engine interface: what capykv needs of a Lua 5.1 implementation, so that the
// engine behind it can be replaced (src/scripting/wasm-lua.ts is the one in use). Everything
// Redis-specific about commands, transactions and replies stays outside (src/commands/
// scripting.ts); an engine runs Lua, converts values both ways as Redis's script_lua.c does, and
// calls back into the host for redis.call / redis.pcall / redis.log / redis.setresp.
// Invariants: every call is synchronous; `host.call` runs during the engine call that invoked
// the script and never after it returns; an engine never keeps a reference to `host`.

/** A reply tree, both ways: what redis.call returns to Lua and what a script returns. */
export type ScriptValue =
  | null
  | number
  | bigint
  | boolean
  | Buffer
  | { ok: Buffer }
  | { err: Buffer; code?: Buffer }
  | { double: number }
  | { big_number: Buffer }
  | { verbatim_string: { format: Buffer; string: Buffer } }
  | { map: [ScriptValue, ScriptValue][] }
  | { set: ScriptValue[] }
  | ScriptValue[]

export interface ScriptHost {
  /** redis.call (raise = true) or redis.pcall (raise = false); errors as { err, code }. */
  call(args: Buffer[], raise: boolean): ScriptValue
  log(level: number, message: Buffer): void
  /** redis.setresp(2|3): the protocol of later redis.call replies. */
  setResp(version: 2 | 3): void
}

/** A script that failed: the error text Redis would reply (no leading '-'). */
export interface ScriptFailure {
  readonly error: string
}

export type ScriptOutcome =
  | { readonly ok: true; readonly value: ScriptValue }
  | { readonly ok: false; readonly error: string }

/** A function a library registered with redis.register_function. */
export interface RegisteredFunction {
  readonly name: string
  readonly description: string | null
  /** Flag names as given ('no-writes', 'allow-oom', …), validated. */
  readonly flags: readonly string[]
}

export type LibraryOutcome =
  | { readonly ok: true; readonly functions: readonly RegisteredFunction[] }
  | { readonly ok: false; readonly error: string }

export interface ScriptEngine {
  /** For INFO and docs: the engine and its Lua version. */
  readonly description: string
  /**
   * Compile `body` (shebang line already blanked) without running it: null when it compiles,
   * else Redis's text ("Error compiling script (new function): user_script:1: …").
   */
  compileScript(body: Buffer): string | null
  /**
   * Run an EVAL body (KEYS/ARGV as globals). Errors are rendered the way Redis renders them,
   * `script: <name>, on @user_script:<line>.` included; `name` is the script's SHA1.
   */
  runScript(body: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome
  /** Run a library's code (after its shebang line) to learn what it registers. */
  loadLibrary(code: Buffer, host: ScriptHost): LibraryOutcome
  /** Call function `name` of the library whose code is `code` with (keys, args). */
  callFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome
}
