// The ScriptEngine in use: lua-redis-wasm (npm), Redis's own Lua 5.1 with cjson, cmsgpack, bit and
// struct compiled to WebAssembly, run synchronously in this thread. Chosen by fidelity (see
// docs/scripting.md for the probes against redis-server 7.0.15 and the differences).
// How it is used:
// - EVAL bodies run as they are (the package's sandbox: readonly globals, KEYS/ARGV, redis.*);
// - compiling alone (SCRIPT LOAD, a new EVAL body) goes through loadstring in a small wrapper;
// - a function library runs inside a wrapper (FUNCTION_WRAPPER below) that compiles its code
//   with loadstring under the chunk name '@user_function', the code's first line (the shebang,
//   already blanked) replaced by `local redis = ...;` so that line numbers stay the user's. The
//   library then sees, as `redis`, Redis's load-time API (register_function, log, the log levels,
//   the version) and nothing else of it; once loaded, `redis` becomes the full API. The package
//   keeps no Lua state between calls, so FCALL loads the library again each time and then calls
//   the function: top-level library code runs at every call (it can only register functions and
//   log). Known difference: at load time Lua's other globals (string, math…) stay visible, where
//   Redis shows only `redis`.
// The package's engine is created once (its wasm instantiation is asynchronous: top-level await);
// an engine that aborted (out of wasm memory) is replaced by a fresh one before the next script.

import { load, type LuaEngine, type ReplyValue } from 'lua-redis-wasm'
import type {
  LibraryOutcome, RegisteredFunction, ScriptEngine, ScriptHost, ScriptOutcome, ScriptValue,
} from './engine.js'

export const REDIS_VERSION = '7.0.15'
const REDIS_VERSION_NUM = 0x07000f
const MAX_FUEL = 0xffffffff

/** Redis's script flags (scripts_flags_def), as register_function and shebangs accept them. */
export const SCRIPT_FLAG_NAMES: readonly string[] =
  ['no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys']

// The `redis` a script sees: the package's, with the functions whose behaviour differs from
// Redis 7.0.15 replaced (error_reply's code handling, setresp's argument errors). One line of
// Lua, so that it can precede a script on its first line and keep the user's line numbers.
const REDIS_SHADOW = "local __rs, __sr, __sh = redis.setresp, setmetatable, redis.sha1hex " +
  "local __s = __sr({error_reply = function(...) " +
  "local e = ... if select('#', ...) ~= 1 or type(e) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end " +
  "if string.sub(e, 1, 1) ~= '-' then e = '-' .. e end " +
  "local sp, code, msg = string.find(e, ' ', 1, true) " +
  "if sp then code, msg = string.sub(e, 2, sp - 1), string.sub(e, sp + 1) else code, msg = 'ERR', string.sub(e, 2) end " +
  "msg = string.gsub(string.gsub(msg, '^[\\r\\n]+', ''), '[\\r\\n]+$', '') " +
  "return {err = code .. ' ' .. msg} end, " +
  "setresp = function(...) if select('#', ...) ~= 1 then error('ERR redis.setresp() requires one argument.', 0) end " +
  "local v = ... if v ~= 2 and v ~= 3 then error('ERR RESP version must be 2 or 3.', 0) end __rs(v) end, " +
  "sha1hex = function(...) if select('#', ...) ~= 1 then error('ERR wrong number of arguments', 0) end return __sh(...) end}, " +
  "{__index = redis, __newindex = function() error('Attempt to modify a readonly table', 2) end}) "

// What a script returns, rebuilt as Redis's luaReplyToRedisReply reads it (fields by rawget, the
// array part up to its first nil, functions and userdata as null, nesting bounded): the package
// reads fields with metamethods (returning _G made it panic) and follows cycles forever. One line.
const CLEAN_REPLY = "local __clean __clean = function(v, d) " +
  "if type(v) == 'function' or type(v) == 'userdata' or type(v) == 'thread' then return false end " +
  "if type(v) ~= 'table' then return v end " +
  "if d > 3000 then error('__capykv_stack_limit', 0) end " +
  "local rg = rawget local f = rg(v, 'err') if type(f) == 'string' then return {err = f} end " +
  "f = rg(v, 'ok') if type(f) == 'string' then return {ok = f} end " +
  "f = rg(v, 'double') if type(f) == 'number' then return {double = f} end " +
  "f = rg(v, 'big_number') if type(f) == 'string' then return {big_number = f} end " +
  "f = rg(v, 'map') if type(f) == 'table' then local m = {} for k, x in next, f do m[__clean(k, d + 1)] = __clean(x, d + 1) end return {map = m} end " +
  "f = rg(v, 'set') if type(f) == 'table' then local m = {} for k in next, f do m[__clean(k, d + 1)] = true end return {set = m} end " +
  "f = rg(v, 'verbatim_string') if type(f) == 'table' and type(rg(f, 'format')) == 'string' and type(rg(f, 'string')) == 'string' then return {verbatim_string = {format = rg(f, 'format'), string = rg(f, 'string')}} end " +
  "local out, i = {}, 1 while true do local x = rg(v, i) if x == nil then break end out[i] = __clean(x, d + 1) i = i + 1 end return out end " +
  "local __done = function(ok, r) if ok then return r end " +
  "if r == '__capykv_stack_limit' then return {err = 'ERR reached lua stack limit'} end error(r, 0) end "

// An EVAL body runs as the body of a function on the wrapper's first line: `redis` is the
// shadow above, the first value returned is the script's result (Lua's own `return a, b`
// keeps one, as Redis's lua_pcall(…, 1, …) does), and `...` stays valid as in a chunk. A body
// that compiles as a chunk compiles the same way as a function body (both are blocks).
// pcall as the script sees it: the package's marker for a read of a missing global becomes Redis's
// message (an uncaught one is rendered by abortText from the error's meta).
const PCALL_FIX = "local __pc = pcall local __pf = function(ok, ...) if ok then return ok, ... end " +
  "local e = ... if type(e) == 'string' then e = string.gsub(e, '__RLUA_E__:global%-read:(.*)$', " +
  "\"Script attempted to access nonexistent global variable '%1'\") end return false, e end " +
  "local pcall = function(...) return __pf(__pc(...)) end "
const SCRIPT_PREFIX = Buffer.from(
  `${REDIS_SHADOW}${CLEAN_REPLY}${PCALL_FIX}local __r = (function(redis, ...) `,
  'latin1')
const SCRIPT_SUFFIX = Buffer.from('\nend)(__s) return __done(pcall(__clean, __r, 0))', 'latin1')

const COMPILE_WRAPPER = `local f, e = loadstring(ARGV[1], '@user_script')
if f then return 0 end
return {err = e}`

// ARGV[1] = library code (its first line blank), ARGV[2] = function to call or absent (load
// only), ARGV[3..] = the function's arguments. Load-only returns {name, description|false,
// flag…} per registered function, in registration order.
const FUNCTION_WRAPPER = `${REDIS_SHADOW}${CLEAN_REPLY}
local real = redis
local code = ARGV[1]
local fname = ARGV[2]
local regs = {}
local byname = {}
local loading = true
local flagset = {}
for _, f in ipairs({'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}) do flagset[f] = f end
local function fail(msg) error({err = 'ERR ' .. msg}) end
local function add(name, desc, cb, flags)
  if not string.find(name, '^[%w_]+$') then
    fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
  end
  if byname[string.lower(name)] then fail('Function already exists in the library') end
  local r = {name = name, desc = desc, cb = cb, flags = flags}
  byname[string.lower(name)] = r
  regs[#regs + 1] = r
end
local function register(...)
  if not loading then fail('redis.register_function can only be called on FUNCTION LOAD command') end
  local n = select('#', ...)
  if n < 1 or n > 2 then fail('wrong number of arguments to redis.register_function') end
  local a, b = ...
  if n == 2 then
    if type(a) ~= 'string' and type(a) ~= 'number' then fail('first argument to redis.register_function must be a string') end
    if type(b) ~= 'function' then fail('second argument to redis.register_function must be a function') end
    add(tostring(a), nil, b, {})
    return
  end
  if type(a) ~= 'table' then
    fail('calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).')
  end
  local name, desc, cb, flags = nil, nil, nil, {}
  for k, v in pairs(a) do
    if type(k) ~= 'string' and type(k) ~= 'number' then fail('named argument key given to redis.register_function is not a string') end
    local key = string.lower(tostring(k))
    if key == 'function_name' then
      if type(v) ~= 'string' and type(v) ~= 'number' then fail('function_name argument given to redis.register_function must be a string') end
      name = tostring(v)
    elseif key == 'description' then
      if type(v) ~= 'string' and type(v) ~= 'number' then fail('description argument given to redis.register_function must be a string') end
      desc = tostring(v)
    elseif key == 'callback' then
      if type(v) ~= 'function' then fail('callback argument given to redis.register_function must be a function') end
      cb = v
    elseif key == 'flags' then
      if type(v) ~= 'table' then fail('flags argument to redis.register_function must be a table representing function flags') end
      local i = 1
      while v[i] ~= nil do
        local fv = v[i]
        if type(fv) ~= 'string' and type(fv) ~= 'number' then fail('unknown flag given') end
        local known = flagset[string.lower(tostring(fv))]
        if known == nil then fail('unknown flag given') end
        flags[#flags + 1] = known
        i = i + 1
      end
    else
      fail('unknown argument given to redis.register_function')
    end
  end
  if name == nil then fail('redis.register_function must get a function name argument') end
  if cb == nil then fail('redis.register_function must get a callback argument') end
  add(name, desc, cb, flags)
end
local api = {register_function = register, log = real.log, LOG_DEBUG = real.LOG_DEBUG,
  LOG_VERBOSE = real.LOG_VERBOSE, LOG_NOTICE = real.LOG_NOTICE, LOG_WARNING = real.LOG_WARNING,
  REDIS_VERSION = real.REDIS_VERSION, REDIS_VERSION_NUM = real.REDIS_VERSION_NUM}
local shadow = {}
setmetatable(shadow, {__index = function(_, k)
  local v = api[k]
  if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
  return v
end, __newindex = function() error('Attempt to modify a readonly table', 2) end})
local chunk, cerr = loadstring('local redis = ...;' .. code, '@user_function')
if not chunk then return {err = 'ERR Error compiling function: ' .. cerr} end
local readonly = function() error('Attempt to modify a readonly table', 2) end
local ok, lerr = pcall(chunk, shadow)
if not ok then
  if type(lerr) == 'table' and type(lerr.err) == 'string' then lerr = lerr.err else lerr = 'ERR ' .. tostring(lerr) end
  return {err = 'ERR Error registering functions: ' .. lerr}
end
loading = false
if fname == nil then
  if #regs == 0 then return {err = 'ERR No functions registered'} end
  local out = {}
  for i, r in ipairs(regs) do
    local row = {r.name, r.desc or false}
    for _, f in ipairs(r.flags) do row[#row + 1] = f end
    out[i] = row
  end
  return out
end
setmetatable(shadow, {__index = __s, __newindex = readonly})
local target = byname[string.lower(fname)]
if target == nil then return {err = 'ERR Function not found'} end
local args = {}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
local result = target.cb(KEYS, args)
return __done(pcall(__clean, result, 0))`

/** The package's error reply as Redis's error text (code and message). */
function errorText(v: { err: Buffer; code?: Buffer }): string {
  const msg = v.err.toString('latin1')
  return v.code === undefined ? msg : `${v.code.toString('latin1')} ${msg}`
}

interface ErrorMeta { kind?: string; name?: string; line: number; sha: string }

function isError(v: ReplyValue): v is { err: Buffer; code?: Buffer; meta?: ErrorMeta } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) &&
    'err' in v
}

/**
 * The text Redis replies for a script that raised: its message, then ` script: <name>, on
 * @<source>:<line>.` (script_lua.c luaCallFunction).
 */
function abortText(v: { err: Buffer; code?: Buffer; meta?: ErrorMeta }, name: string,
  source: string): string {
  const meta = v.meta
  let text: string
  if (meta?.kind === 'global-read') {
    text = `ERR ${source}:${meta.line}: Script attempted to access nonexistent global variable ` +
      `'${meta.name ?? ''}'`
  } else if (meta?.kind === 'command-arg-type') {
    text = 'ERR Lua redis lib command arguments must be strings or integers'
  } else {
    text = errorText(v)
    if (source !== 'user_script') text = text.split('user_script:').join(`${source}:`)
  }
  if (meta === undefined) return text
  return `${text} script: ${name}, on @${source}:${meta.line}.`
}

export class WasmLuaEngine implements ScriptEngine {
  readonly description = 'lua-redis-wasm 1.5.0 (Lua 5.1 with cjson, cmsgpack, bit, struct)'
  private host: ScriptHost | null = null
  private engine: LuaEngine | null = null
  private spare: Promise<LuaEngine> | null = null

  static async create(): Promise<WasmLuaEngine> {
    const e = new WasmLuaEngine()
    e.engine = await e.newEngine()
    return e
  }

  private async newEngine(): Promise<LuaEngine> {
    // The largest instruction budget the package takes (a u32; 0 means its default of ~10 M,
    // a fraction of a second): Redis has none, SCRIPT KILL stops long scripts. A script past it
    // fails with 'Script killed by fuel limit' (docs/scripting.md, differences).
    const mod = await load({ profile: 'redis-7.0', limits: { maxFuel: MAX_FUEL }, redisProps: {
      REDIS_VERSION: { value: REDIS_VERSION },
      REDIS_VERSION_NUM: { value: REDIS_VERSION_NUM },
      REPL_NONE: { value: 0 }, REPL_AOF: { value: 1 }, REPL_SLAVE: { value: 2 },
      REPL_REPLICA: { value: 2 }, REPL_ALL: { value: 3 },
      // Outside the Lua debugger, as Redis answers them: breakpoint() is false, debug() nothing.
      breakpoint: { returns: false }, debug: { returns: null },
      // Redis 7 always replicates effects: replicate_commands() is true; set_repl changes
      // nothing here either (capykv logs effects, never scripts).
      replicate_commands: { returns: true }, set_repl: { returns: null },
    } })
    return mod.create({
      redisCall: (args) => this.currentHost().call(args, true) as ReplyValue,
      redisPcall: (args) => this.currentHost().call(args, false) as ReplyValue,
      log: (level, message) => { this.host?.log(level, message) },
      onSetResp: (version) => { this.host?.setResp(version) },
    })
  }

  private currentHost(): ScriptHost {
    if (this.host === null) throw new Error('ERR redis.call outside a script')
    return this.host
  }

  private run(script: string | Buffer, keys: Buffer[], args: Buffer[], host: ScriptHost | null):
    ReplyValue {
    const engine = this.engine
    if (engine === null) throw new Error('the Lua engine is being restarted')
    this.host = host
    try {
      return engine.evalWithArgs(script, keys, args)
    } catch (e) {
      // The wasm instance aborted (out of memory): it is unusable; start a fresh one.
      this.engine = null
      this.spare ??= this.newEngine()
      void this.spare.then((fresh) => { this.engine = fresh; this.spare = null })
      throw e
    } finally {
      this.host = null
    }
  }

  compileScript(body: Buffer): string | null {
    const r = this.run(COMPILE_WRAPPER, [], [body], null)
    if (isError(r)) return `Error compiling script (new function): ${errorText(r)}`
    return null
  }

  runScript(body: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome {
    const r = this.run(Buffer.concat([SCRIPT_PREFIX, body, SCRIPT_SUFFIX]), keys, args, host)
    if (isError(r) && r.meta !== undefined) {
      return { ok: false, error: abortText(r, name, 'user_script') }
    }
    return { ok: true, value: r as ScriptValue }
  }

  loadLibrary(code: Buffer, host: ScriptHost): LibraryOutcome {
    const r = this.run(FUNCTION_WRAPPER, [], [code], host)
    if (isError(r)) {
      const text = r.meta !== undefined ? abortText(r, 'load', 'user_function') : errorText(r)
      return { ok: false, error: text }
    }
    const functions: RegisteredFunction[] = []
    for (const row of r as ReplyValue[]) {
      const cells = row as ReplyValue[]
      const desc = cells[1]
      functions.push({
        name: (cells[0] as Buffer).toString('latin1'),
        description: Buffer.isBuffer(desc) ? desc.toString('latin1') : null,
        flags: cells.slice(2).map((f) => (f as Buffer).toString('latin1')),
      })
    }
    return { ok: true, functions }
  }

  callFunction(code: Buffer, name: string, keys: Buffer[], args: Buffer[], host: ScriptHost):
    ScriptOutcome {
    const r = this.run(FUNCTION_WRAPPER, keys, [code, Buffer.from(name, 'latin1'), ...args], host)
    if (isError(r) && r.meta !== undefined) {
      return { ok: false, error: abortText(r, name, 'user_function') }
    }
    return { ok: true, value: r as ScriptValue }
  }
}
