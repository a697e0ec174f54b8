// The server's configuration parameters: one table that serves redis.conf files, command-line
// flags (`--port 6380`), CONFIG GET (glob patterns), CONFIG SET and CONFIG REWRITE, with Redis
// 7.0.15's names, defaults and error texts (clients and tools match on them).
// Invariants:
// - every value is kept as its canonical text, the text CONFIG GET returns (memory values in
//   bytes, booleans yes/no), so GET after SET round-trips as in Redis;
// - a parameter that is not `mutable` is refused by CONFIG SET with Redis's "can't set immutable
//   config" (it can still be given at startup);
// - CONFIG SET of several parameters is all-or-nothing: every value is validated before any is
//   stored, and listeners run only after all are stored.
// An L0 leaf: imports nothing of the project, so commands (L4) and main (L5) share it.

export type ConfigKind = 'bool' | 'int' | 'memory' | 'enum' | 'string' | 'special'

export interface ConfigParam {
  readonly name: string
  readonly aliases?: readonly string[]
  readonly kind: ConfigKind
  readonly defaultValue: string
  readonly mutable: boolean
  readonly min?: number
  readonly max?: number
  /** enum: the accepted words (lower case), in Redis's order for its error text. */
  readonly values?: readonly string[]
  /** special: returns the canonical text, or throws ConfigValueError. */
  readonly parse?: (args: readonly string[]) => string
  /** Number of words on a config-file line (default 1; 'rest' takes all). */
  readonly arity?: number | 'rest'
  /** Silently clamp instead of refusing (Redis does this for hz). */
  readonly clamp?: boolean
}

export class ConfigValueError extends Error {
  override name = 'ConfigValueError'
  /** Redis replies a bare "ERR syntax error" for some values rather than the CONFIG SET text. */
  constructor(message: string, readonly bareSyntaxError = false) {
    super(message)
  }
}

const INT64_MAX_TEXT = '9223372036854775807'
const LONG_MAX = Number.MAX_SAFE_INTEGER

/** Redis's memtoull: digits with an optional b, k, kb, m, mb, g, gb suffix (case-insensitive). */
export function parseMemory(text: string): number | null {
  const m = /^(-?[0-9]+)(b|k|kb|m|mb|g|gb)?$/i.exec(text.trim())
  if (m === null) return null
  const n = Number(m[1])
  const unit = (m[2] ?? 'b').toLowerCase()
  const mul: Record<string, number> = {
    b: 1, k: 1000, kb: 1024, m: 1000 ** 2, mb: 1024 ** 2, g: 1000 ** 3, gb: 1024 ** 3,
  }
  return n * (mul[unit] ?? 1)
}

function parseIntStrict(text: string): number | null {
  if (!/^-?[0-9]+$/.test(text)) return null
  const n = Number(text)
  return Number.isSafeInteger(n) ? n : null
}

const SAVE_DEFAULT = '3600 1 300 100 60 10000'
const COBL_DEFAULT = 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60'

function parseSave(args: readonly string[]): string {
  const words = args.join(' ').split(' ').filter((w) => w !== '')
  if (words.length % 2 !== 0) throw new ConfigValueError('Invalid save parameters')
  for (const w of words) {
    if (parseIntStrict(w) === null) throw new ConfigValueError('Invalid save parameters')
  }
  return words.join(' ')
}

export interface OutputBufferLimit {
  hardBytes: number
  softBytes: number
  softSeconds: number
}

/** Parses client-output-buffer-limit text (class hard soft seconds, repeated) onto `base`. */
export function parseOutputBufferLimits(
  text: string, base: string = COBL_DEFAULT,
): Map<string, OutputBufferLimit> {
  const limits = new Map<string, OutputBufferLimit>()
  const apply = (t: string): void => {
    const words = t.split(' ').filter((w) => w !== '')
    if (words.length % 4 !== 0) {
      throw new ConfigValueError('Wrong number of arguments in buffer limit configuration.')
    }
    for (let i = 0; i < words.length; i += 4) {
      let cls = (words[i] ?? '').toLowerCase()
      if (cls === 'replica') cls = 'slave'
      if (cls !== 'normal' && cls !== 'slave' && cls !== 'pubsub') {
        throw new ConfigValueError('Invalid client class specified in buffer limit configuration.')
      }
      const hard = parseMemory(words[i + 1] ?? '')
      const soft = parseMemory(words[i + 2] ?? '')
      const seconds = parseIntStrict(words[i + 3] ?? '')
      if (hard === null || soft === null || seconds === null || hard < 0 || soft < 0 ||
        seconds < 0) {
        throw new ConfigValueError(
          'Error in hard, soft or soft_seconds setting in buffer limit configuration.')
      }
      limits.set(cls, { hardBytes: hard, softBytes: soft, softSeconds: seconds })
    }
  }
  apply(base)
  apply(text)
  return limits
}

function formatOutputBufferLimits(limits: Map<string, OutputBufferLimit>): string {
  return ['normal', 'slave', 'pubsub'].map((cls) => {
    const l = limits.get(cls) as OutputBufferLimit
    return `${cls} ${l.hardBytes} ${l.softBytes} ${l.softSeconds}`
  }).join(' ')
}

function parseCobl(args: readonly string[]): string {
  return formatOutputBufferLimits(parseOutputBufferLimits(args.join(' ')))
}

function parseBind(args: readonly string[]): string {
  const words = args.join(' ').split(' ').filter((w) => w !== '')
  if (words.length === 0) throw new ConfigValueError('Too many bind addresses specified.')
  return words.join(' ')
}

/** notify-keyspace-events classes in Redis's canonical order (notify.c), and 'A'. */
const NOTIFY_TYPE_CLASSES = 'g$lshzxetdn'
const NOTIFY_ALL_CLASSES = 'g$lshzxet'

/**
 * notify-keyspace-events: Redis's flags, normalised as keyspaceEventsFlagsToString does. capykv
 * emits no keyspace notifications yet, so a value that would make Redis emit some (K or E with
 * an event class) is refused rather than accepted to do nothing; a value that makes Redis emit
 * nothing either (no K/E, or no event class) is accepted.
 */
function parseNotifyKeyspaceEvents(args: readonly string[]): string {
  const text = args.join(' ')
  const flags = new Set<string>()
  for (const c of text) {
    if (!'Ag$lshzxeKEtmdn'.includes(c)) {
      throw new ConfigValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    }
    if (c === 'A') for (const a of NOTIFY_ALL_CLASSES) flags.add(a)
    else flags.add(c)
  }
  const all = [...NOTIFY_ALL_CLASSES].every((c) => flags.has(c))
  let out = all ? 'A' : ''
  for (const c of NOTIFY_TYPE_CLASSES) {
    if (flags.has(c) && !(all && NOTIFY_ALL_CLASSES.includes(c))) out += c
  }
  for (const c of 'KEm') if (flags.has(c)) out += c
  const emits = (flags.has('K') || flags.has('E')) &&
    [...NOTIFY_TYPE_CLASSES, 'm'].some((c) => flags.has(c))
  if (emits) {
    throw new ConfigValueError(`keyspace notifications are not implemented in capykv: '${out}' ` +
      'would have no effect')
  }
  return out
}

export const CONFIG_PARAMS: readonly ConfigParam[] = Object.freeze([
  { name: 'port', kind: 'int', defaultValue: '6379', mutable: false, min: 0, max: 65535 },
  { name: 'bind', kind: 'special', defaultValue: '127.0.0.1', mutable: false, parse: parseBind,
    arity: 'rest' },
  { name: 'dir', kind: 'string', defaultValue: './data', mutable: false },
  { name: 'pool-size', kind: 'memory', defaultValue: String(1024 ** 3), mutable: false,
    min: 1024 * 1024, max: LONG_MAX },
  { name: 'pool-file', kind: 'string', defaultValue: 'capykv.pool', mutable: false },
  { name: 'requirepass', kind: 'string', defaultValue: '', mutable: true },
  { name: 'maxclients', kind: 'int', defaultValue: '10000', mutable: true, min: 1,
    max: 4294967295 },
  { name: 'timeout', kind: 'int', defaultValue: '0', mutable: true, min: 0, max: 2147483647 },
  { name: 'tcp-keepalive', kind: 'int', defaultValue: '300', mutable: true, min: 0,
    max: 2147483647 },
  { name: 'tcp-backlog', kind: 'int', defaultValue: '511', mutable: false, min: 0,
    max: 2147483647 },
  { name: 'databases', kind: 'int', defaultValue: '16', mutable: false, min: 16, max: 16 },
  { name: 'save', kind: 'special', defaultValue: SAVE_DEFAULT, mutable: true, parse: parseSave,
    arity: 'rest' },
  { name: 'appendonly', kind: 'bool', defaultValue: 'no', mutable: true },
  { name: 'appendfsync', kind: 'enum', defaultValue: 'everysec', mutable: true,
    values: ['always', 'everysec', 'no'] },
  { name: 'dbfilename', kind: 'string', defaultValue: 'dump.rdb', mutable: true },
  { name: 'appendfilename', kind: 'string', defaultValue: 'appendonly.aof', mutable: false },
  { name: 'maxmemory', kind: 'memory', defaultValue: '0', mutable: true, min: 0, max: LONG_MAX },
  { name: 'maxmemory-policy', kind: 'enum', defaultValue: 'noeviction', mutable: true,
    values: ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru',
      'allkeys-lfu', 'allkeys-random', 'noeviction'] },
  { name: 'maxmemory-samples', kind: 'int', defaultValue: '5', mutable: true, min: 1,
    max: 2147483647 },
  { name: 'proto-max-bulk-len', kind: 'memory', defaultValue: '536870912', mutable: true,
    min: 1024 * 1024, max: LONG_MAX },
  { name: 'client-query-buffer-limit', kind: 'memory', defaultValue: '1073741824',
    mutable: true, min: 1024 * 1024, max: LONG_MAX },
  { name: 'client-output-buffer-limit', kind: 'special', defaultValue: COBL_DEFAULT,
    mutable: true, parse: parseCobl, arity: 'rest' },
  { name: 'enable-debug-command', kind: 'enum', defaultValue: 'no', mutable: false,
    values: ['no', 'yes', 'local'] },
  { name: 'hz', kind: 'int', defaultValue: '10', mutable: true, min: 1, max: 500, clamp: true },
  { name: 'slowlog-log-slower-than', kind: 'int', defaultValue: '10000', mutable: true,
    min: -1, max: LONG_MAX },
  { name: 'slowlog-max-len', kind: 'int', defaultValue: '128', mutable: true, min: 0,
    max: LONG_MAX },
  { name: 'loglevel', kind: 'enum', defaultValue: 'notice', mutable: true,
    values: ['debug', 'verbose', 'notice', 'warning'] },
  { name: 'logfile', kind: 'string', defaultValue: '', mutable: false },
  { name: 'daemonize', kind: 'bool', defaultValue: 'no', mutable: false },
  { name: 'pidfile', kind: 'string', defaultValue: '', mutable: false },
  { name: 'protected-mode', kind: 'bool', defaultValue: 'yes', mutable: true },
  { name: 'notify-keyspace-events', kind: 'special', defaultValue: '', mutable: true,
    parse: parseNotifyKeyspaceEvents },
  { name: 'latency-monitor-threshold', kind: 'int', defaultValue: '0', mutable: true, min: 0,
    max: LONG_MAX },
  { name: 'lazyfree-lazy-user-flush', kind: 'bool', defaultValue: 'no', mutable: true },
  { name: 'cluster-enabled', kind: 'bool', defaultValue: 'no', mutable: false },
  { name: 'replica-read-only', aliases: ['slave-read-only'], kind: 'bool', defaultValue: 'yes',
    mutable: true },
  { name: 'io-threads', kind: 'int', defaultValue: '1', mutable: false, min: 1, max: 128 },
] as ConfigParam[])

const BY_NAME = new Map<string, ConfigParam>()
for (const p of CONFIG_PARAMS) {
  BY_NAME.set(p.name, p)
  for (const a of p.aliases ?? []) BY_NAME.set(a, p)
}

export function findParam(name: string): ConfigParam | undefined {
  return BY_NAME.get(name.toLowerCase())
}

/** Canonical text of `args` for `p`, or throws ConfigValueError with Redis's reason. */
export function canonicalValue(p: ConfigParam, args: readonly string[]): string {
  const text = args.join(' ')
  switch (p.kind) {
    case 'bool': {
      const v = text.toLowerCase()
      if (v !== 'yes' && v !== 'no') throw new ConfigValueError("argument must be 'yes' or 'no'")
      return v
    }
    case 'enum': {
      const v = text.toLowerCase()
      if (!(p.values ?? []).includes(v)) {
        throw new ConfigValueError(
          `argument(s) must be one of the following: ${(p.values ?? []).join(', ')}`)
      }
      return v
    }
    case 'int':
    case 'memory': {
      const n = p.kind === 'int' ? parseIntStrict(text) : parseMemory(text)
      if (n === null) {
        throw new ConfigValueError(p.kind === 'int' ? "argument couldn't be parsed into an integer"
          : 'argument must be a memory value')
      }
      const min = p.min ?? 0
      const max = p.max ?? LONG_MAX
      if (p.clamp === true) return String(Math.min(Math.max(n, min), max))
      if (n < min || n > max) {
        const maxText = max === LONG_MAX ? INT64_MAX_TEXT : String(max)
        throw new ConfigValueError(`argument must be between ${min} and ${maxText} inclusive`)
      }
      return String(n)
    }
    case 'string':
      return text
    case 'special':
      return (p.parse as (a: readonly string[]) => string)(args)
  }
}

export type ConfigListener = (name: string, value: string) => void

export class ServerConfig {
  private readonly values = new Map<string, string>()
  /** getNumber's parses, by the name asked; emptied by every change of a value. */
  private readonly numbers = new Map<string, number>()
  private readonly listeners: ConfigListener[] = []
  /** Path of the config file given at startup (CONFIG REWRITE target), or null. */
  configFile: string | null = null

  constructor() {
    for (const p of CONFIG_PARAMS) this.values.set(p.name, p.defaultValue)
  }

  get(name: string): string {
    // The server reads some parameters on every request: a canonical name skips findParam
    // (whose lowercasing allocates a string per call). An alias or odd case takes the long way.
    const direct = this.values.get(name)
    if (direct !== undefined) return direct
    const p = findParam(name)
    if (p === undefined) throw new Error(`no config parameter ${name}`)
    return this.values.get(p.name) as string
  }

  getNumber(name: string): number {
    let n = this.numbers.get(name)
    if (n === undefined) {
      n = Number(this.get(name))
      this.numbers.set(name, n)
    }
    return n
  }

  onChange(listener: ConfigListener): void {
    this.listeners.push(listener)
  }

  /** Startup: set without the mutability check. Throws ConfigValueError. */
  setAtStartup(name: string, args: readonly string[]): void {
    const p = findParam(name)
    if (p === undefined) throw new ConfigValueError('Bad directive or wrong number of arguments')
    this.values.set(p.name, canonicalValue(p, args))
    this.numbers.clear()
  }

  /**
   * CONFIG SET name value [name value ...]: all or nothing. Returns null on success or the
   * complete error text (without '-').
   */
  setMany(pairs: readonly (readonly [string, string])[]): string | null {
    const staged = new Map<string, string>()
    const seen = new Set<string>()
    for (const [name, value] of pairs) {
      const p = findParam(name)
      if (p === undefined) {
        return `ERR Unknown option or number of arguments for CONFIG SET - '${name}'`
      }
      const fail = (reason: string): string =>
        `ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}`
      if (seen.has(p.name)) return fail('duplicate parameter')
      seen.add(p.name)
      if (!p.mutable) return fail("can't set immutable config")
      try {
        staged.set(p.name, canonicalValue(p, [value]))
      } catch (e) {
        if (!(e instanceof ConfigValueError)) throw e
        return e.bareSyntaxError ? 'ERR syntax error' : fail(e.message)
      }
    }
    for (const [name, value] of staged) this.values.set(name, value)
    this.numbers.clear()
    for (const [name, value] of staged) for (const l of this.listeners) l(name, value)
    return null
  }

  /** CONFIG GET patterns: [name, value] pairs, each parameter once, in table order. */
  match(patterns: readonly string[]): [string, string][] {
    const out: [string, string][] = []
    for (const p of CONFIG_PARAMS) {
      const names = [p.name, ...(p.aliases ?? [])]
      for (const n of names) {
        if (patterns.some((pat) => globMatch(pat, n, true))) {
          out.push([n, this.values.get(p.name) as string])
        }
      }
    }
    return out
  }

  /** Every parameter that differs from its default, as config-file lines. */
  nonDefaultLines(): string[] {
    const lines: string[] = []
    for (const p of CONFIG_PARAMS) {
      const v = this.values.get(p.name) as string
      if (v === p.defaultValue) continue
      lines.push(`${p.name} ${p.kind === 'special' ? v : quoteConfigArg(v)}`)
    }
    return lines
  }
}

/** A value as redis.conf needs it: quoted when it is empty or holds blanks/quotes. */
export function quoteConfigArg(v: string): string {
  if (v !== '' && !/[\s"'\\]/.test(v)) return v
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/**
 * Redis's stringmatchlen: glob with * ? [abc] [^a-z] and \ escapes, optionally case-insensitive.
 * Iterative with backtracking on the last '*' (no recursion, linear memory).
 */
export function globMatch(pattern: string, text: string, nocase = false): boolean {
  const p = nocase ? pattern.toLowerCase() : pattern
  const s = nocase ? text.toLowerCase() : text
  let pi = 0
  let si = 0
  let starP = -1
  let starS = 0
  while (si < s.length) {
    if (pi < p.length) {
      const c = p[pi]
      if (c === '*') {
        while (p[pi] === '*') pi++
        if (pi === p.length) return true
        starP = pi
        starS = si
        continue
      }
      if (c === '?') {
        pi++
        si++
        continue
      }
      if (c === '[') {
        const r = matchClass(p, pi, s[si] as string)
        if (r.matched) {
          pi = r.next
          si++
          continue
        }
      } else {
        let lit = c
        let next = pi + 1
        if (c === '\\' && pi + 1 < p.length) {
          lit = p[pi + 1]
          next = pi + 2
        }
        if (lit === s[si]) {
          pi = next
          si++
          continue
        }
      }
    }
    if (starP < 0) return false
    pi = starP
    si = ++starS
  }
  while (p[pi] === '*') pi++
  return pi === p.length
}

/** A [...] class at p[pi]; returns whether ch matches and the index after the class. */
function matchClass(p: string, pi: number, ch: string): { matched: boolean; next: number } {
  let i = pi + 1
  const not = p[i] === '^'
  if (not) i++
  let match = false
  for (;;) {
    if (i >= p.length) {
      i = p.length
      break
    }
    const c = p[i] as string
    if (c === '\\' && i + 2 <= p.length) {
      i++
      if (p[i] === ch) match = true
    } else if (c === ']') {
      break
    } else if (p[i + 1] === '-' && i + 2 < p.length) {
      let start = c
      let end = p[i + 2] as string
      if (start > end) [start, end] = [end, start]
      if (ch >= start && ch <= end) match = true
      i += 2
    } else if (c === ch) {
      match = true
    }
    i++
  }
  if (not) match = !match
  return { matched: match, next: i < p.length ? i + 1 : i }
}
