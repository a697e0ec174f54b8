// The scripting engine interface: what capykv needs of a Lua 5.1 implementation, so that the
// engine behind it can be replaced (src/scripting/wasm-lua.ts is the one in use). Everything
// Redis-specific about commands, transactions and replies stays outside (src/commands/
// scripting.ts); an engine runs Lua, converts values both ways as Redis's script_lua.c does, and
// calls back into the host for redis.call / redis.pcall / redis.log.
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
  | { err: Buffer; code?: Buffer; counted?: true }
  | { double: number }
  | { big_number: Buffer }
  | { verbatim_string: { format: Buffer; string: Buffer } }
  | { map: [ScriptValue, ScriptValue][] }
  | { set: ScriptValue[] }
  | ScriptValue[]

export interface ScriptHost {
  /**
   * redis.call / redis.pcall: run the command, return its reply as RESP bytes in protocol
   * `resp` (what redis.setresp chose); errors are RESP errors too.
   */
  call(args: Buffer[], resp: 2 | 3): Buffer
  /** redis.acl_check_cmd: ':1' when the script's user may run `args`, ':0' if not, or an error. */
  aclCheck(args: Buffer[]): Buffer
  log(level: number, message: Buffer): void
}

/** A script that failed: the error text Redis would reply (no leading '-'). */
export interface ScriptFailure {
  readonly error: string
}

export type ScriptOutcome =
  | { readonly ok: true; readonly value: ScriptValue }
  /** counted: the error arose in a redis.call and is already in errorstats. */
  | { readonly ok: false; readonly error: string; readonly counted?: boolean }

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
   * Compile `body` (shebang line already blanked) and keep it under `sha`: null when it
   * compiles, else Redis's text ("Error compiling script (new function): user_script:1: …").
   */
  compileScript(sha: string, body: Buffer): string | null
  /**
   * Run an EVAL body (KEYS/ARGV as globals), compiled once per `sha`. Errors are rendered the
   * way Redis renders them, `script: <sha>, on @user_script:<line>.` included.
   */
  runScript(sha: string, body: Buffer, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome
  /** Run a library's code (after its shebang line) to learn what it registers. */
  loadLibrary(code: Buffer, host: ScriptHost): LibraryOutcome
  /** Call function `name` of the library whose code is `code` with (keys, args). */
  callFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome
  /** Forget every compiled script and loaded library (SCRIPT FLUSH, FUNCTION FLUSH). */
  flush(): void
}
