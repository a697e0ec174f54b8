// The Lua side of the engine thread (lua-worker.ts): one Lua chunk, DRIVER, that the worker
// evaluates once and that then never returns while the thread serves jobs. Why: lua-redis-wasm
// keeps one lua_State whose globals are all read-only, so nothing a script compiles can be kept
// between two evals; a driver that stays inside one eval keeps, in its own locals, what Redis
// keeps as its f_<sha> globals: every compiled EVAL body (by SHA1) and every loaded library (by
// the SHA1 of its code). Compiling then happens once per script per thread, not per call.
// Protocol with lua-worker.ts: the driver calls redis.call(TOKEN, status, …) — TOKEN is a random
// string given as ARGV[1] of the driver's eval and kept in a local, so no script can send it — to
// hand back the previous job's result and receive the next job (a table of strings). Job kinds:
//   {'run', sha, body|'', nkeys, keys…, args…}   EVAL: compile on first sight (body given), call
//   {'fcall', libkey, code|'', fname, nkeys, keys…, args…}
//   {'load', libkey, code}      run a library's top-level code, report what it registered
//   {'compile', sha, body}      compile (and keep) an EVAL body
//   {'flush'}                   forget every compiled script and library
//   {'exit'}                    return from the eval (a fresh one restores the fuel budget)
// Results (the arguments after TOKEN): 'ok', <value as ENCODED below> | 'err', kind, message,
// source, line (kind 'table' or 'string': the raised value; source/line where Redis's error
// handler would find them, '' and 0 when none) | 'load', n, then per function name, description
// or '\0', flag count, flags… | 'lerr', message | 'cok' | 'cerr', message.
// ENCODED (decoded by wire.ts decodeLuaResult), luaReplyToRedisReply's rules: n = nil/false
// (RESP2), i<%.17g>; = number (the integer is taken in JS), t / f = booleans under RESP3,
// s<len>:<bytes> bulk, e<len>:<bytes> error (E: one already counted in errorstats), o<len>:<bytes> status, d<%.17g>; double,
// B<len>:<bytes> big number, v<len>:<format><len>:<string> verbatim, m<n>; map (pairs follow),
// S<n>; set, a<n>; array, x = 'reached lua stack limit' in place of a too-deep element.
// Scripts see `redis` as a shadow of the package's table (REDIS_API) whose call/pcall pass
// numbers as %.17g (Redis's luaArgsToRedisArgv) and raise command errors as {err=…} tables, and
// whose error_reply/setresp/sha1hex/log check their arguments as Redis does.

export const DRIVER = String.raw`
local TOKEN = ARGV[1]
local INLINE = ARGV[3] == 'inline'
local KEYS, ARGV = KEYS, ARGV
local R = redis
local rcall, rpcall, rsetresp, rsha, rlog = R.call, R.pcall, R.setresp, R.sha1hex, R.log
local type, tostring, tonumber, select, next, rawget, error, pcall, xpcall =
  type, tostring, tonumber, select, next, rawget, error, pcall, xpcall
local setmetatable, loadstring, unpack = setmetatable, loadstring, unpack
local sfmt, sfind, ssub, sgsub, slower, concat = string.format, string.find, string.sub,
  string.gsub, string.lower, table.concat
local resp = 2

local function argv17(...)
  local n = select('#', ...)
  local a = {...}
  for i = 1, n do
    local v = a[i]
    local tv = type(v)
    if tv == 'number' then a[i] = sfmt('%.17g', v)
    elseif tv ~= 'string' then return nil, n end
  end
  return a, n
end
local ARGTYPE = 'ERR Lua redis lib command arguments must be strings or integers'
local co_wrap, co_yield = coroutine.wrap, coroutine.yield
local function pack(...) return {n = select('#', ...), ...} end
-- The redis.* functions written in Lua are handed to scripts as C functions (coroutine.wrap), so
-- that the script's frame stays on the stack when one is tail-called and raises (a Lua function
-- would replace it): the error handler then finds the script's line as Redis's does. A raise
-- ends the coroutine; the next access to the function makes a fresh one. So dead is true
-- whenever the coroutine runs and false only while it waits in co_yield: whatever raises in
-- it (unpack of too many values included) leaves the next access a fresh one.
local function as_c(f)
  local w, dead = nil, true
  local function revive(...) dead = true return pack(...) end
  local function body(...)
    local a = revive(...)
    while true do
      local r = pack(pcall(f, unpack(a, 1, a.n)))
      if not r[1] then error(r[2], 0) end
      dead = false
      a = revive(co_yield(unpack(r, 2, r.n)))
    end
  end
  return function()
    if dead then w = co_wrap(body) dead = false end
    return w
  end
end
local call_dead = true
local call_w
-- An error the main thread already counted in errorstats (a command's error, or a rejection
-- after the command was found) is marked as Redis marks it, so the script's own error reply
-- carrying it is not counted again.
local UNCOUNTED = {['ERR Unknown Redis command called from script'] = true,
  ['ERR Please specify at least one argument for this redis lib call'] = true}
local function mark(r)
  if type(r) == 'table' then
    local e = rawget(r, 'err')
    if e ~= nil and not UNCOUNTED[e] then r.ignore_error_stats_update = true end
  end
  return r
end
-- (call_dead as as_c's dead: true while the coroutine runs, false while it waits.)
local function call_args(...)
  call_dead = true
  return argv17(...)
end
local function call_body(...)
  local a, n = call_args(...)
  while true do
    local r
    if a == nil then r = {err = ARGTYPE} else r = mark(rpcall(unpack(a, 1, n))) end
    if type(r) == 'table' and rawget(r, 'err') ~= nil then error(r, 0) end
    call_dead = false
    a, n = call_args(co_yield(r))
  end
end
local function get_call()
  if call_dead then call_w = co_wrap(call_body) call_dead = false end
  return call_w
end
local function pcall_(...)
  local a, n = argv17(...)
  if a == nil then return {err = ARGTYPE} end
  return mark(rpcall(unpack(a, 1, n)))
end
local function fail(msg) error({err = 'ERR ' .. msg}) end
-- redis.acl_check_cmd: whether the script's user may run the command (the main thread checks).
local function acl_check_cmd(...)
  local a, n = argv17(...)
  if a == nil then error({err = ARGTYPE}) end
  if n == 0 then fail('Please specify at least one argument for this redis lib call') end
  local r = rcall(TOKEN, 'acl', unpack(a, 1, n))
  if type(r) == 'table' and rawget(r, 'err') ~= nil then error(r) end
  return r == 1
end
local function error_reply(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end
  if ssub(e, 1, 1) ~= '-' then e = '-' .. e end
  local sp = sfind(e, ' ', 1, true)
  local code, msg
  if sp then code, msg = ssub(e, 2, sp - 1), ssub(e, sp + 1) else code, msg = 'ERR', ssub(e, 2) end
  msg = sgsub(sgsub(msg, '^[\r\n]+', ''), '[\r\n]+$', '')
  return {err = code .. ' ' .. msg}
end
local function status_reply(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end
  return {ok = s}
end
local function setresp(...)
  if select('#', ...) ~= 1 then fail('redis.setresp() requires one argument.') end
  local v = ...
  if v ~= 2 and v ~= 3 then fail('RESP version must be 2 or 3.') end
  resp = v
  rsetresp(v)
end
local function sha1hex(...)
  if select('#', ...) ~= 1 then fail('wrong number of arguments') end
  return rsha(...)
end
local function log(...)
  local n = select('#', ...)
  if n < 2 then fail('redis.log() requires two arguments or more.') end
  local level = ...
  if tonumber(level) == nil then fail('First argument must be a number (log level).') end
  level = tonumber(level)
  if level < 0 or level > 3 then fail('Invalid debug level.') end
  local parts = {}
  for i = 2, n do
    local v = select(i, ...)
    local tv = type(v)
    if tv == 'string' or tv == 'number' then parts[#parts + 1] = tostring(v) end
  end
  rlog(level - level % 1, concat(parts, ' '))
end
local readonly = function() error('Attempt to modify a readonly table', 2) end
local API = {pcall = pcall_, error_reply = error_reply, status_reply = status_reply}
local AS_C = {call = get_call, setresp = as_c(setresp), sha1hex = as_c(sha1hex), log = as_c(log),
  acl_check_cmd = as_c(acl_check_cmd)}
local REDIS_API = setmetatable({}, {__index = function(_, k)
  local g = AS_C[k] if g ~= nil then return g() end
  local v = API[k] if v ~= nil then return v end return R[k] end, __newindex = readonly})

-- pcall as scripts see it (Redis's luaRedisPcall): an error table's err string is the error; the
-- package's marker for a read of a missing global becomes Redis's text.
local function pfix(ok, ...)
  if ok then return ok, ... end
  local e = ...
  if type(e) == 'table' and type(rawget(e, 'err')) == 'string' then e = rawget(e, 'err') end
  if type(e) == 'string' then
    e = sgsub(e, '__RLUA_E__:global%-read:(.*)$', "Script attempted to access nonexistent global variable '%1'")
  end
  return false, e
end
local function spcall(...) return pfix(pcall(...)) end

-- Redis's __redis__err__handler: where the error was raised (the raising function, or its caller
-- when that is C); frames of this driver are skipped as Redis's own C frames would be.
local function where()
  for lvl = 4, 60 do
    local _, w = pcall(error, '', lvl)
    if w ~= '' and w ~= nil then
      if ssub(w, 1, 7) ~= 'capykv:' then
        local src, line = string.match(w, '^([%w_]+):(%d+):')
        if src then return '@' .. src, tonumber(line) end
        return '', 0
      end
    end
  end
  return '', 0
end
local errsrc, errline = '', 0
local function handler(e)
  errsrc, errline = where()
  return e
end

local out, on = {}, 0
local function put(s) on = on + 1 out[on] = s end
local function str(tag, s) put(tag .. #s .. ':') put(s) end
local enc
enc = function(v, d)
  local t = type(v)
  if d > 3000 then put('x') return end
  if t == 'string' then str('s', v)
  elseif t == 'number' then put('i' .. sfmt('%.17g', v) .. ';')
  elseif t == 'boolean' then
    if resp == 3 then put(v and 't' or 'f') elseif v then put('i1;') else put('n') end
  elseif t ~= 'table' then put('n')
  else
    local f = rawget(v, 'err')
    if type(f) == 'string' then str(rawget(v, 'ignore_error_stats_update') == true and 'E' or 'e', f) return end
    f = rawget(v, 'ok')
    if type(f) == 'string' then str('o', f) return end
    f = rawget(v, 'double')
    if type(f) == 'number' then put('d' .. sfmt('%.17g', f) .. ';') return end
    f = rawget(v, 'big_number')
    if type(f) == 'string' then str('B', f) return end
    f = rawget(v, 'verbatim_string')
    if type(f) == 'table' then
      local fm, s = rawget(f, 'format'), rawget(f, 'string')
      if type(fm) == 'string' and type(s) == 'string' then put('v') str('', fm) str('', s) return end
    end
    f = rawget(v, 'map')
    if type(f) == 'table' then
      put('') local at, n = on, 0
      for k, x in next, f do enc(k, d + 1) enc(x, d + 1) n = n + 1 end
      out[at] = 'm' .. n .. ';' return
    end
    f = rawget(v, 'set')
    if type(f) == 'table' then
      put('') local at, n = on, 0
      for k in next, f do enc(k, d + 1) n = n + 1 end
      out[at] = 'S' .. n .. ';' return
    end
    put('') local at, n = on, 0
    while true do
      local x = rawget(v, n + 1)
      if x == nil then break end
      n = n + 1
      enc(x, d + 1)
    end
    out[at] = 'a' .. n .. ';'
  end
end
local function encode(v)
  on = 0
  enc(v, 0)
  local s = concat(out, '', 1, on)
  for i = on, 1, -1 do out[i] = nil end
  return s
end

-- A script is compiled as the body of a function whose redis and pcall are parameters (so that
-- it sees the driver's versions and keeps its line numbers); a getter made beside it tells
-- whether the script assigned redis (Redis: 'Attempt to modify a readonly table') and puts the
-- API back for the next call.
local WRAP_HEAD = 'return function(redis, pcall, __capykv_o) __capykv_o.take = function() ' ..
  'local r = redis redis = __capykv_o.api return r end return function(...) '
local WRAP_TAIL = '\nend end'
local scripts, takes, libs = {}, {}, {}

local function compile(sha, body)
  local f, e = loadstring(body, '@user_script')
  if not f then return nil, e end
  local mk = loadstring(WRAP_HEAD .. body .. WRAP_TAIL, '@user_script')
  if not mk then return nil, 'cannot wrap the script' end
  local o = {api = REDIS_API}
  f = mk()(REDIS_API, spcall, o)
  scripts[sha], takes[sha] = f, o.take
  return f
end

local function aborted(ok, r)
  if ok then return 'ok', encode(r) end
  if type(r) == 'table' then
    local m = rawget(r, 'err')
    local kind = rawget(r, 'ignore_error_stats_update') == true and 'counted' or 'table'
    return 'err', kind, type(m) == 'string' and m or '', errsrc, errline
  end
  return 'err', 'string', tostring(r), errsrc, errline
end

-- After a run: a script or library that assigned its name redis gets Redis's error instead.
-- (take runs after the script: it is called here, not where the arguments are evaluated.)
local function unmodified(r, ...)
  if r ~= REDIS_API then return 'err', 'string', 'Attempt to modify a readonly table', '', 0 end
  return ...
end
local function after(take, ...)
  if take == nil then return ... end
  return unmodified(take(REDIS_API), ...)
end

local function fill(t, job, from, to)
  for k in next, t do t[k] = nil end
  local n = 0
  for i = from, to do n = n + 1 t[n] = job[i] end
end

local FLAGS = {}
for _, f in ipairs({'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}) do FLAGS[f] = f end
local LOAD_API = {LOG_DEBUG = R.LOG_DEBUG, LOG_VERBOSE = R.LOG_VERBOSE,
  LOG_NOTICE = R.LOG_NOTICE, LOG_WARNING = R.LOG_WARNING, REDIS_VERSION = R.REDIS_VERSION,
  REDIS_VERSION_NUM = R.REDIS_VERSION_NUM}
` + String.raw`
local function register_into(lib)
  local function add(name, desc, cb, flags)
    if not sfind(name, '^[%w_]+$') then
      fail('Library names can only contain letters, numbers, or underscores(_) and must be at least one character long')
    end
    if lib.byname[slower(name)] then fail('Function already exists in the library') end
    local r = {name = name, desc = desc, cb = cb, flags = flags}
    lib.byname[slower(name)] = r
    lib.regs[#lib.regs + 1] = r
  end
  return function(...)
    if not lib.loading then fail('redis.register_function can only be called on FUNCTION LOAD command') end
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
      local key = slower(tostring(k))
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
          local known = FLAGS[slower(tostring(fv))]
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
end

-- A library. Redis runs its top-level code in an environment holding only the load-time redis
-- API; without setfenv, the driver gets close to that by compiling the code twice: first with
-- every other global name shadowed by a local PROXY (reading a field of it, calling it, writing
-- into it raises Redis's "Script attempted to access nonexistent global variable" error) — that
-- run checks the code and reports its errors — then as written, run again (its redis.log calls
-- silenced) for the functions FCALL calls, which see the real globals. After the load the
-- library's redis is the full API, register_function included (which then refuses).
local PROXY_NAMES, PROXY_VALUES = {}, {}
for k in next, _G do
  if type(k) == 'string' and k ~= 'redis' and k ~= 'pcall' and sfind(k, '^[%a_][%w_]*$') then
    PROXY_NAMES[#PROXY_NAMES + 1] = k
  end
end
local function no_global(name)
  local function no() error("Script attempted to access nonexistent global variable '" .. name .. "'", 2) end
  return setmetatable({}, {__index = no, __newindex = no, __call = no, __concat = no, __len = no,
    __add = no, __sub = no, __mul = no, __div = no, __unm = no, __lt = no, __le = no})
end
local proxy_decl = {}
for i, name in ipairs(PROXY_NAMES) do
  PROXY_VALUES[i] = no_global(name)
  proxy_decl[i] = '__capykv_p[' .. i .. ']'
end
local SWAP = 'local redis, pcall, __capykv_o = ...; __capykv_o.swap = function(r) local o = redis redis = r return o end; '
local ISOLATED = SWAP .. 'local __capykv_p = select(4, ...); local ' .. concat(PROXY_NAMES, ', ') ..
  ' = ' .. concat(proxy_decl, ', ') .. ';'

local function run_library(chunk, silent)
  local lib = {byname = {}, regs = {}, loading = true}
  local api = {register_function = register_into(lib)}
  for k, v in next, LOAD_API do api[k] = v end
  local shadow = setmetatable({}, {__index = function(_, k)
    if k == 'log' then return silent and function() end or AS_C.log() end
    local v = api[k]
    if v == nil then error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2) end
    return v
  end, __newindex = readonly})
  local out = {}
  local ok, lerr = pcall(chunk, shadow, spcall, out, PROXY_VALUES)
  lib.loading = false
  if not ok then
    if type(lerr) == 'table' and type(rawget(lerr, 'err')) == 'string' then lerr = lerr.err else lerr = 'ERR ' .. tostring(lerr) end
    return nil, 'ERR Error registering functions: ' .. lerr
  end
  if #lib.regs == 0 then return nil, 'ERR No functions registered' end
  -- The load-time table (kept by code that copied it) refuses register_function from now on;
  -- the library's own name redis becomes the full API, where register_function is nil.
  local register = api.register_function
  setmetatable(shadow, {__index = function(_, k)
    if k == 'register_function' then return register end
    return REDIS_API[k]
  end, __newindex = readonly})
  if out.swap ~= nil then out.swap(REDIS_API) end
  lib.swap = out.swap
  return lib
end

local function load_library(key, code)
  local chunk, cerr = loadstring(ISOLATED .. code, '@user_function')
  if not chunk then return nil, 'ERR Error compiling function: ' .. cerr end
  local lib, e = run_library(chunk, false)
  if lib == nil then return nil, e end
  local real = loadstring(SWAP .. code, '@user_function')
  if real ~= nil then lib = run_library(real, true) or lib end
  libs[key] = lib
  return lib
end

local function run_job(job)
  local op = job[1]
  resp = 2
  -- (An inline job is an eval of its own: the package starts each eval at RESP2 already.)
  if not INLINE then rsetresp(2) end
  if op == 'run' then
    local sha, body, nk = job[2], job[3], tonumber(job[4])
    if not INLINE then
      fill(KEYS, job, 5, 4 + nk)
      fill(ARGV, job, 5 + nk, #job)
    end
    local f = scripts[sha]
    if f == nil then
      local e
      f, e = compile(sha, body)
      if f == nil then return 'err', 'string', e, '', 0 end
    end
    errsrc, errline = '', 0
    return after(takes[sha], aborted(xpcall(f, handler)))
  elseif op == 'fcall' then
    local key, code, fname, nk = job[2], job[3], job[4], tonumber(job[5])
    local lib = libs[key]
    if lib == nil then
      local e
      lib, e = load_library(key, code)
      if lib == nil then return 'err', 'table', e, '', 0 end
    end
    local target = lib.byname[slower(fname)]
    if target == nil then return 'err', 'table', 'ERR Function not found', '', 0 end
    local keys, args = {}, {}
    if INLINE then
      for i = 1, #KEYS do keys[i] = KEYS[i] end
      for i = 1, #ARGV do args[i] = ARGV[i] end
    else
      for i = 6, 5 + nk do keys[#keys + 1] = job[i] end
      for i = 6 + nk, #job do args[#args + 1] = job[i] end
    end
    fill(KEYS, job, 1, 0)
    fill(ARGV, job, 1, 0)
    errsrc, errline = '', 0
    local cb = target.cb
    return after(lib.swap, aborted(xpcall(function() return cb(keys, args) end, handler)))
  elseif op == 'load' then
    local lib, e = load_library(job[2], job[3])
    if lib == nil then return 'lerr', e end
    local res = {'load', #lib.regs}
    for _, r in ipairs(lib.regs) do
      res[#res + 1] = r.name
      res[#res + 1] = r.desc or '\0'
      res[#res + 1] = #r.flags
      for _, f in ipairs(r.flags) do res[#res + 1] = f end
    end
    return unpack(res)
  elseif op == 'compile' then
    if scripts[job[2]] ~= nil then return 'cok' end
    local f, e = compile(job[2], job[3])
    if f == nil then return 'cerr', e end
    return 'cok'
  elseif op == 'flush' then
    scripts, takes, libs = {}, {}, {}
    return 'cok'
  end
  return 'cerr', 'unknown job ' .. tostring(op)
end

local function loop(...)
  local job = rcall(TOKEN, ...)
  if job[1] == 'exit' then return end
  return loop(run_job(job))
end
if not INLINE then
  loop('start')
  return 0
end

-- The main thread's engine (inline-engine.ts): each job is an eval of its own, whose KEYS are
-- the script's keys and whose ARGV are the script's arguments followed by the job's fields, their
-- count and TOKEN. serve() takes the job off ARGV, runs it, and returns its result (the fields
-- the worker's driver hands over with redis.call(TOKEN, status, ...)) as the eval's reply, an
-- array of strings and integers. It is kept between evals in the
-- metatable of the globals, under TOKEN: the host lifts that table's read-only flag for the one
-- rawset below ('unlock' / 'lock').
local function serve()
  KEYS, ARGV = rawget(_G, 'KEYS'), rawget(_G, 'ARGV')
  local n = #ARGV
  local m = tonumber(ARGV[n - 1])
  local job = {}
  for i = 1, m do job[i] = ARGV[n - 2 - m + i] end
  for i = n, n - 1 - m, -1 do ARGV[i] = nil end
  return {run_job(job)}
end
local mt = getmetatable(_G)
rcall(TOKEN, 'unlock', tostring(mt))
rawset(mt, TOKEN, serve)
rcall(TOKEN, 'lock', tostring(mt))
return 0
`
