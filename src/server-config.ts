// The server's configuration parameters: one table that serves redis.conf files, command-line
// flags (`--port 6380`), CONFIG GET (glob patterns), CONFIG SET and CONFIG REWRITE, with Redis
// 7.0.15's names, defaults and error texts (clients and tools match on them).
// Invariants:
// - every value is kept as its canonical text, the text CONFIG GET returns (memory values in
//   bytes, booleans yes/no), so GET after SET round-trips as in Redis;
// - a parameter that is not `mutable` is refused by CONFIG SET with Redis's "can't set immutable
//   config" (it can still be given at startup);
// - CONFIG SET of several parameters is all-or-nothing: every value is validated before any is
//   stored; then all are stored and the appliers of the changed ones run (Redis's apply
//   functions: re-listening on a new port or bind); an applier that fails restores every old
//   value and re-runs the appliers that had succeeded, as Redis's restoreBackupConfig; listeners
//   run only after all are stored and applied.
// An L1 leaf: imports only src/int64.ts (L0), so commands (L4) and main (L5) share it.

import { INT64_MAX, string2llText } from './int64.js'

export type ConfigKind = 'bool' | 'int' | 'memory' | 'octal' | 'enum' | 'string' | 'special'

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
  /** After the range check, the stored value is clamped to these (Redis does this for hz). */
  readonly clampMin?: number
  readonly clampMax?: number
  /** The range error's upper bound when `max` cannot be a JS number (ULLONG_MAX). */
  readonly maxText?: string
  /** memory: also accepts `N%` (stored as given; Redis's PERCENT_CONFIG, 0%..-min%). */
  readonly percent?: boolean
  /** Not matched by CONFIG GET patterns, only by its exact name (Redis's HIDDEN_CONFIG). */
  readonly hidden?: boolean
  /** CONFIG SET refuses it with "can't set protected config" (enable-protected-configs no). */
  readonly protected?: boolean
  /**
   * capykv cannot change it on a running server: CONFIG SET accepts only the current value
   * (so a CONFIG GET / CONFIG SET round trip works), any other value is refused.
   */
  readonly sameValueOnly?: boolean
  /** A further check of the parsed value: Redis's error text, or null when valid. */
  readonly validate?: (value: string) => string | null
  /**
   * Accepted with Redis's type and range, but capykv has nothing it tunes: the reason. INFO
   * (config_no_effect) lists such parameters set away from their default; docs/server.md lists
   * them all.
   */
  readonly noEffect?: string
}

export class ConfigValueError extends Error {
  override name = 'ConfigValueError'
  /** Redis replies a bare "ERR syntax error" for some values rather than the CONFIG SET text. */
  constructor(message: string, readonly bareSyntaxError = false) {
    super(message)
  }
}

/** A table bound standing for INT64_MAX (Redis's LONG_MAX), which no JS number can hold. */
const INT64_BOUND = Number.MAX_SAFE_INTEGER

const U64_MAX = (1n << 64n) - 1n
const MEMORY_UNITS: Record<string, bigint> = {
  b: 1n, k: 1000n, kb: 1024n, m: 1000n ** 2n, mb: 1024n ** 2n, g: 1000n ** 3n, gb: 1024n ** 3n,
}

/** Redis's memtoull: digits with an optional b, k, kb, m, mb, g, gb suffix (case-insensitive). */
// As memtoull does: no digits reads as 0, digits past 2^64-1 saturate (strtoull's ERANGE is not
// checked), and the product by the unit wraps modulo 2^64.
function parseMemoryBig(text: string): bigint | null {
  const m = /^([0-9]*)(b|k|kb|m|mb|g|gb)?$/i.exec(text)
  if (m === null) return null
  let digits = m[1] === '' ? 0n : BigInt(m[1] as string)
  if (digits > U64_MAX) digits = U64_MAX
  return (digits * (MEMORY_UNITS[(m[2] ?? 'b').toLowerCase()] as bigint)) & U64_MAX
}

/** parseMemoryBig as a JS number (client-output-buffer-limit and other callers). */
export function parseMemory(text: string): number | null {
  const n = parseMemoryBig(text)
  return n === null ? null : Number(n)
}

/** Redis's string2ll (src/int64.ts) as a bigint. */
function parseInt64Text(text: string): bigint | null {
  const n = string2llText(text)
  return n === null ? null : BigInt(n)
}

function parseIntStrict(text: string): number | null {
  const n = parseInt64Text(text)
  return n === null || n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)
    ? null : Number(n)
}

/** A table bound as an exact integer (INT64_BOUND stands for int64's, Number.MAX_VALUE uint64's). */
function exactBound(n: number): bigint {
  if (n === INT64_BOUND) return INT64_MAX
  if (n === Number.MAX_VALUE) return U64_MAX
  return BigInt(n)
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

/** notify-keyspace-events: Redis's class characters and their bits (server.h NOTIFY_*). */
export const NOTIFY_CLASS_BITS: Readonly<Record<string, number>> = Object.freeze({
  K: 1 << 0, E: 1 << 1, g: 1 << 2, $: 1 << 3, l: 1 << 4, s: 1 << 5, h: 1 << 6, z: 1 << 7,
  x: 1 << 8, e: 1 << 9, t: 1 << 10, m: 1 << 11, d: 1 << 13, n: 1 << 14,
})
/** 'A': every class but K, E, m (key miss) and n (new), as Redis's NOTIFY_ALL. */
const NOTIFY_ALL_CLASSES = 'g$lshzxetd'
export const NOTIFY_ALL = [...NOTIFY_ALL_CLASSES].reduce((f, c) => f | (NOTIFY_CLASS_BITS[c] ?? 0), 0)

/** Redis's keyspaceEventsStringToFlags: the flags of a class string, or null for a bad char. */
export function keyspaceEventsFlags(text: string): number | null {
  let flags = 0
  for (const c of text) {
    if (c === '\0') break // a C string ends at its first NUL
    const bit = c === 'A' ? NOTIFY_ALL : NOTIFY_CLASS_BITS[c]
    if (bit === undefined) return null
    flags |= bit
  }
  return flags
}

/**
 * Redis's keyspaceEventsFlagsToString: 'A' stands for all of NOTIFY_ALL and then no other event
 * class is written (so 'An' reads back 'A' while 'new' stays on, as in Redis); K E m follow.
 */
export function keyspaceEventsText(flags: number): string {
  let out = ''
  if ((flags & NOTIFY_ALL) === NOTIFY_ALL) {
    out = 'A'
  } else {
    for (const c of 'g$lshzxetdn') if ((flags & (NOTIFY_CLASS_BITS[c] as number)) !== 0) out += c
  }
  for (const c of 'KEm') if ((flags & (NOTIFY_CLASS_BITS[c] as number)) !== 0) out += c
  return out
}

/**
 * notify-keyspace-events: Redis's flags, shown as Redis shows them (commands/notify.ts emits
 * them).
 */
function parseNotifyKeyspaceEvents(args: readonly string[]): string {
  const flags = keyspaceEventsFlags(args.join(' '))
  if (flags === null) {
    throw new ConfigValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
  }
  return keyspaceEventsText(flags)
}

function words(args: readonly string[]): string[] {
  return args.join(' ').split(' ').filter((w) => w !== '')
}

/** latency-tracking-info-percentiles: numbers within [0, 100], printed as Redis prints them. */
function parsePercentiles(args: readonly string[]): string {
  const list = words(args)
  const out: string[] = []
  for (const w of list) {
    const v = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(w) ? Number(w) : NaN
    if (Number.isNaN(v)) {
      throw new ConfigValueError('Invalid latency-tracking-info-percentiles parameters')
    }
    if (v > 100 || v < 0) {
      throw new ConfigValueError(
        'latency-tracking-info-percentiles parameters should sit between [0.0,100.0]')
    }
    out.push(String(v))
  }
  return out.join(' ')
}

/** replicaof / slaveof: `host port` or `no one`. */
function parseReplicaOf(args: readonly string[]): string {
  const list = words(args)
  if (list.length !== 2) throw new ConfigValueError('wrong number of arguments')
  const [host, port] = list as [string, string]
  if (host.toLowerCase() === 'no' && port.toLowerCase() === 'one') return ''
  if (!/^[+-]?[0-9]+$/.test(port) || Number(port) < 0 || Number(port) > 65535) {
    throw new ConfigValueError('Invalid master port')
  }
  return `${host} ${Number(port)}`
}

/** oom-score-adj-values: three integers within [-2000, 2000]. */
function parseOomValues(args: readonly string[]): string {
  const list = words(args)
  if (list.length !== 3) throw new ConfigValueError('wrong number of arguments')
  for (const w of list) {
    if (!/^[+-]?[0-9]+$/.test(w) || Number(w) < -2000 || Number(w) > 2000) {
      throw new ConfigValueError(
        'Invalid oom-score-adj-values, elements must be between -2000 and 2000.')
    }
  }
  return list.map((w) => String(Number(w))).join(' ')
}

const SHUTDOWN_FLAGS = ['save', 'nosave', 'now', 'force']

/** shutdown-on-sigint/sigterm: `default` or any of save, nosave, now, force (bit flags). */
function parseShutdownOnSig(args: readonly string[]): string {
  const list = words(args)
  const set = new Set<string>()
  for (const w of list) {
    const v = w.toLowerCase()
    if (v !== 'default' && !SHUTDOWN_FLAGS.includes(v)) {
      throw new ConfigValueError('argument(s) must be one of the following: default, save, ' +
        'nosave, now, force')
    }
    if (v !== 'default') set.add(v)
  }
  if (list.length === 0) {
    throw new ConfigValueError('argument(s) must be one of the following: default, save, ' +
      'nosave, now, force')
  }
  if (set.has('save') && set.has('nosave')) {
    throw new ConfigValueError("shutdown options SAVE and NOSAVE can't be used simultaneously")
  }
  return set.size === 0 ? 'default' : SHUTDOWN_FLAGS.filter((f) => set.has(f)).join(' ')
}

/** isValidAnnouncedHostname. */
function validHostname(v: string): string | null {
  if (v.length >= 256) return 'Hostnames must be less than 256 characters'
  if (!/^[A-Za-z0-9.-]*$/.test(v)) {
    return 'Hostnames may only contain alphanumeric characters, hyphens or dots'
  }
  return null
}

/** validateProcTitleTemplate: known {variables} only, and not blank once expanded. */
function validProcTitle(v: string): string | null {
  const bad = 'template format is invalid or contains unknown variables'
  const values: Record<string, string> = { 'title': '', 'listen-addr': '127.0.0.1:6379',
    'server-mode': '', 'config-file': '-', 'port': '6379', 'tls-port': '0', 'unixsocket': '' }
  let out = ''
  let i = 0
  while (i < v.length) {
    const open = v.indexOf('{', i)
    if (open < 0) {
      out += v.slice(i)
      break
    }
    out += v.slice(i, open)
    if (open + 1 >= v.length) return bad
    if (v[open + 1] === '{') {
      out += '{'
      i = open + 2
      continue
    }
    const close = v.indexOf('}', open + 1)
    if (close < 0) return bad
    const value = values[v.slice(open + 1, close)]
    if (value === undefined) return bad
    out += value
    i = close + 1
  }
  return out.replace(/^ +| +$/g, '') === '' ? bad : null
}

const NO_TLS = (v: string): string | null =>
  v === 'yes' ? 'Unable to update TLS configuration. Check server logs.' : null

type Opts = Partial<Omit<ConfigParam, 'name' | 'kind' | 'defaultValue'>>
const INT_MAX = 2147483647
const INT_MIN = -2147483648
const UINT_MAX = 4294967295
const ULLONG_MAX_TEXT = '18446744073709551615'

function bool(name: string, def: 'yes' | 'no', o: Opts = {}): ConfigParam {
  return { name, kind: 'bool', defaultValue: def, mutable: true, ...o }
}
function int(name: string, def: number, min: number, max: number, o: Opts = {}): ConfigParam {
  return { name, kind: 'int', defaultValue: String(def), mutable: true, min, max, ...o }
}
function mem(name: string, def: number, min: number, max: number, o: Opts = {}): ConfigParam {
  return { name, kind: 'memory', defaultValue: String(def), mutable: true, min, max, ...o }
}
function str(name: string, def: string, o: Opts = {}): ConfigParam {
  return { name, kind: 'string', defaultValue: def, mutable: true, ...o }
}
function oneOf(name: string, def: string, values: string[], o: Opts = {}): ConfigParam {
  return { name, kind: 'enum', defaultValue: def, mutable: true, values, ...o }
}
function special(name: string, def: string, parse: (args: readonly string[]) => string,
  o: Opts = {}): ConfigParam {
  return { name, kind: 'special', defaultValue: def, mutable: true, parse, ...o }
}

// Why a parameter is accepted but changes nothing in capykv (INFO's config_no_effect lists the
// ones set away from their default; docs/server.md lists them all).
const REPL = 'replication (capykv has no replicas)'
const CLUSTER = 'cluster mode'
const TLS = 'TLS client certificates (replication and cluster links)'
const AOF = 'AOF (the pool is the log)'
const RDB = 'RDB files (the pool is checkpointed instead)'
const ALLOC = 'memory allocator and defragmentation'
const PROC = 'process management'
const LAZY = 'lazy freeing (capykv frees at once)'
const NONE = (why: string): Opts => ({ noEffect: why })

const MAXMEMORY_POLICIES = ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl',
  'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction']
const SHUTDOWN_SIG = 'default'

export const CONFIG_PARAMS: readonly ConfigParam[] = Object.freeze([
  // What capykv serves with: network, clients, limits, logging.
  // port and bind: CONFIG SET re-listens (src/server-listen.ts, applied as Redis's updatePort and
  // applyBind: a port in use fails and rolls the whole CONFIG SET back).
  int('port', 6379, 0, 65535),
  special('bind', '127.0.0.1', parseBind, { arity: 'rest' }),
  str('dir', './data', { mutable: true, protected: true }),
  mem('pool-size', 1024 ** 3, 1024 * 1024, INT64_BOUND, { sameValueOnly: true }),
  str('pool-file', 'capykv.pool', { sameValueOnly: true }),
  // capykv's own: the background scrub's rate, bytes of committed log verified per second
  // (0: off; txn/scrub-driver.ts). At 1 MiB/s a full 1 GiB pool takes about 17 minutes a pass.
  mem('scrub-rate', 1024 * 1024, 0, INT64_BOUND),
  str('requirepass', ''),
  // Refuses clients from addresses other than 127.0.0.1 and ::1 while the default user has no
  // password (commands/acl.ts protectedModeDenies).
  bool('protected-mode', 'yes'),
  int('maxclients', 10000, 1, UINT_MAX),
  int('timeout', 0, 0, INT_MAX),
  int('tcp-keepalive', 300, 0, INT_MAX),
  int('tcp-backlog', 511, 0, INT_MAX, { mutable: false }),
  int('databases', 16, 16, 16, { mutable: false }),
  special('save', SAVE_DEFAULT, parseSave, { arity: 'rest' }),
  mem('proto-max-bulk-len', 512 * 1024 * 1024, 1024 * 1024, INT64_BOUND),
  mem('client-query-buffer-limit', 1024 ** 3, 1024 * 1024, INT64_BOUND),
  special('client-output-buffer-limit', COBL_DEFAULT, parseCobl, { arity: 'rest' }),
  oneOf('enable-debug-command', 'no', ['no', 'yes', 'local'], { mutable: false }),
  int('hz', 10, 0, INT_MAX, { clampMin: 1, clampMax: 500 }),
  int('slowlog-log-slower-than', 10000, -1, INT64_BOUND),
  int('slowlog-max-len', 128, 0, INT64_BOUND),
  oneOf('loglevel', 'notice', ['debug', 'verbose', 'notice', 'warning']),
  str('logfile', '', { mutable: false }),
  oneOf('maxmemory-policy', 'noeviction', MAXMEMORY_POLICIES),
  // Encodings: OBJECT ENCODING follows these as Redis's conversions do (commands/encoding.ts).
  int('hash-max-listpack-entries', 512, 0, INT64_BOUND, { aliases: ['hash-max-ziplist-entries'] }),
  mem('hash-max-listpack-value', 64, 0, INT64_BOUND, { aliases: ['hash-max-ziplist-value'] }),
  int('set-max-intset-entries', 512, 0, INT64_BOUND),
  int('zset-max-listpack-entries', 128, 0, INT64_BOUND, { aliases: ['zset-max-ziplist-entries'] }),
  mem('zset-max-listpack-value', 64, 0, INT64_BOUND, { aliases: ['zset-max-ziplist-value'] }),

  // Accepted with Redis's types and ranges, no effect in capykv (the reason is in noEffect).
  int('list-max-listpack-size', -2, INT_MIN, INT_MAX, { aliases: ['list-max-ziplist-size'],
    ...NONE('list node sizes (capykv lists have no quicklist nodes)') }),
  int('list-compress-depth', 0, 0, INT_MAX,
    NONE('list node compression (capykv lists have no quicklist nodes)')),
  mem('stream-node-max-bytes', 4096, 0, INT64_BOUND),
  int('stream-node-max-entries', 100, 0, INT64_BOUND),
  mem('hll-sparse-max-bytes', 3000, 0, INT64_BOUND),
  // Refused when Redis would emit notifications (capykv emits none yet): see its parser.
  special('notify-keyspace-events', '', parseNotifyKeyspaceEvents),
  int('latency-monitor-threshold', 0, 0, INT64_BOUND),
  bool('latency-tracking', 'yes'),
  special('latency-tracking-info-percentiles', '50 99 99.9', parsePercentiles,
    { arity: 'rest' }),
  int('busy-reply-threshold', 5000, 0, INT64_BOUND, { aliases: ['lua-time-limit'] }),
  oneOf('sanitize-dump-payload', 'no', ['no', 'yes', 'clients'],
    NONE('RESTORE (not implemented)')),
  int('active-expire-effort', 1, 1, 10,
    NONE('the active expire cycle has a fixed effort')),
  int('tracking-table-max-keys', 1000000, 0, INT64_BOUND),
  bool('dynamic-hz', 'yes', NONE('the cron runs at the configured hz')),
  bool('activerehashing', 'yes', NONE('hash tables are V8 Maps')),
  // Eviction (commands/evict.ts, state/lru.ts).
  mem('maxmemory', 0, 0, Number.MAX_VALUE, { maxText: ULLONG_MAX_TEXT }),
  int('maxmemory-samples', 5, 1, INT_MAX),
  int('maxmemory-eviction-tenacity', 10, 0, 100),
  { name: 'maxmemory-clients', kind: 'memory', defaultValue: '0', mutable: true, min: -100,
    max: INT64_BOUND, percent: true, noEffect: 'client eviction (not implemented)' },
  int('lfu-log-factor', 10, 0, INT_MAX),
  int('lfu-decay-time', 1, 0, INT_MAX),
  bool('lazyfree-lazy-eviction', 'no', NONE(LAZY)),
  bool('lazyfree-lazy-expire', 'no', NONE(LAZY)),
  bool('lazyfree-lazy-server-del', 'no', NONE(LAZY)),
  // Memory is freed at once either way; these decide what INFO lazyfreed_objects counts as Redis
  // would (commands/lazyfree.ts).
  bool('lazyfree-lazy-user-del', 'no'),
  bool('lazyfree-lazy-user-flush', 'no'),
  // Persistence files Redis writes; capykv's pool replaces them.
  bool('appendonly', 'no', NONE(AOF)),
  oneOf('appendfsync', 'everysec', ['everysec', 'always', 'no'], NONE(AOF)),
  str('appendfilename', 'appendonly.aof', { mutable: false, ...NONE(AOF) }),
  str('appenddirname', 'appendonlydir', { mutable: false, ...NONE(AOF) }),
  int('auto-aof-rewrite-percentage', 100, 0, INT_MAX, NONE(AOF)),
  mem('auto-aof-rewrite-min-size', 64 * 1024 * 1024, 0, INT64_BOUND, NONE(AOF)),
  bool('aof-rewrite-incremental-fsync', 'yes', NONE(AOF)),
  bool('no-appendfsync-on-rewrite', 'no', NONE(AOF)),
  bool('aof-load-truncated', 'yes', NONE(AOF)),
  bool('aof-use-rdb-preamble', 'yes', NONE(AOF)),
  bool('aof-timestamp-enabled', 'no', NONE(AOF)),
  bool('aof-disable-auto-gc', 'no', NONE(AOF)),
  str('dbfilename', 'dump.rdb', { protected: true, ...NONE(RDB) }),
  bool('rdbchecksum', 'yes', { mutable: false, ...NONE(RDB) }),
  bool('rdbcompression', 'yes', NONE(RDB)),
  bool('rdb-del-sync-files', 'no', NONE(RDB)),
  bool('rdb-save-incremental-fsync', 'yes', NONE(RDB)),
  bool('stop-writes-on-bgsave-error', 'yes', NONE(RDB)),
  int('rdb-key-save-delay', 0, INT_MIN, INT_MAX, { hidden: true, ...NONE(RDB) }),
  int('key-load-delay', 0, INT_MIN, INT_MAX, { hidden: true, ...NONE(RDB) }),
  int('loading-process-events-interval-bytes', 2 * 1024 * 1024, 1024, INT_MAX,
    { hidden: true, ...NONE('recovery yields every 10 ms') }),
  // Replication.
  special('replicaof', '', parseReplicaOf, { aliases: ['slaveof'], mutable: false, arity: 2,
    ...NONE(REPL) }),
  str('masterauth', '', NONE(REPL)),
  str('masteruser', '', NONE(REPL)),
  bool('replica-read-only', 'yes', { aliases: ['slave-read-only'], ...NONE(REPL) }),
  bool('replica-serve-stale-data', 'yes', { aliases: ['slave-serve-stale-data'], ...NONE(REPL) }),
  bool('replica-lazy-flush', 'no', { aliases: ['slave-lazy-flush'], ...NONE(REPL) }),
  bool('replica-ignore-maxmemory', 'yes', { aliases: ['slave-ignore-maxmemory'], ...NONE(REPL) }),
  bool('replica-announced', 'yes', NONE(REPL)),
  bool('replica-ignore-disk-write-errors', 'no', NONE(REPL)),
  int('replica-priority', 100, 0, INT_MAX, { aliases: ['slave-priority'], ...NONE(REPL) }),
  str('replica-announce-ip', '', { aliases: ['slave-announce-ip'], ...NONE(REPL) }),
  int('replica-announce-port', 0, 0, 65535, { aliases: ['slave-announce-port'], ...NONE(REPL) }),
  int('min-replicas-to-write', 0, 0, INT_MAX, { aliases: ['min-slaves-to-write'], ...NONE(REPL) }),
  int('min-replicas-max-lag', 10, 0, INT_MAX, { aliases: ['min-slaves-max-lag'], ...NONE(REPL) }),
  bool('repl-disable-tcp-nodelay', 'no', NONE(REPL)),
  bool('repl-diskless-sync', 'yes', NONE(REPL)),
  int('repl-diskless-sync-delay', 5, 0, INT_MAX, NONE(REPL)),
  int('repl-diskless-sync-max-replicas', 0, 0, INT_MAX, NONE(REPL)),
  oneOf('repl-diskless-load', 'disabled', ['disabled', 'on-empty-db', 'swapdb'], NONE(REPL)),
  int('repl-timeout', 60, 1, INT_MAX, NONE(REPL)),
  int('repl-ping-replica-period', 10, 1, INT_MAX, { aliases: ['repl-ping-slave-period'],
    ...NONE(REPL) }),
  mem('repl-backlog-size', 1024 * 1024, 1, INT64_BOUND, { clampMin: 16 * 1024, ...NONE(REPL) }),
  int('repl-backlog-ttl', 3600, 0, INT64_BOUND, NONE(REPL)),
  oneOf('propagation-error-behavior', 'ignore', ['ignore', 'panic', 'panic-on-replicas'],
    NONE(REPL)),
  int('shutdown-timeout', 10, 0, INT_MAX, NONE('replicas to wait for at shutdown')),
  // Cluster.
  bool('cluster-enabled', 'no', { mutable: false, ...NONE(CLUSTER) }),
  str('cluster-config-file', 'nodes.conf', { mutable: false, ...NONE(CLUSTER) }),
  int('cluster-port', 0, 0, 65535, { mutable: false, ...NONE(CLUSTER) }),
  int('cluster-node-timeout', 15000, 0, INT64_BOUND, NONE(CLUSTER)),
  int('cluster-replica-validity-factor', 10, 0, INT_MAX,
    { aliases: ['cluster-slave-validity-factor'], ...NONE(CLUSTER) }),
  int('cluster-migration-barrier', 1, 0, INT_MAX, NONE(CLUSTER)),
  bool('cluster-require-full-coverage', 'yes', NONE(CLUSTER)),
  bool('cluster-replica-no-failover', 'no', { aliases: ['cluster-slave-no-failover'],
    ...NONE(CLUSTER) }),
  bool('cluster-allow-reads-when-down', 'no', NONE(CLUSTER)),
  bool('cluster-allow-pubsubshard-when-down', 'yes', NONE(CLUSTER)),
  bool('cluster-allow-replica-migration', 'yes', NONE(CLUSTER)),
  str('cluster-announce-ip', '', NONE(CLUSTER)),
  str('cluster-announce-hostname', '', { validate: validHostname, ...NONE(CLUSTER) }),
  int('cluster-announce-port', 0, 0, 65535, NONE(CLUSTER)),
  int('cluster-announce-bus-port', 0, 0, 65535, NONE(CLUSTER)),
  int('cluster-announce-tls-port', 0, 0, 65535, NONE(CLUSTER)),
  oneOf('cluster-preferred-endpoint-type', 'ip', ['ip', 'hostname', 'unknown-endpoint'],
    NONE(CLUSTER)),
  mem('cluster-link-sendbuf-limit', 0, 0, Number.MAX_VALUE,
    { maxText: ULLONG_MAX_TEXT, ...NONE(CLUSTER) }),
  // TLS.
  // TLS (src/server-tls.ts): read when the server listens; a CONFIG SET of a tls-* file or
  // option rebuilds the context for new connections. Like port, CONFIG SET tls-port re-listens
  // (0 closes the TLS listeners, as Redis's applyTLSPort).
  int('tls-port', 0, 0, 65535),
  int('tls-session-cache-size', 20480, 0, INT_MAX,
    NONE('TLS session cache size (Node keeps its own)')),
  int('tls-session-cache-timeout', 300, 0, INT_MAX),
  bool('tls-cluster', 'no', { validate: NO_TLS, ...NONE(CLUSTER) }),
  bool('tls-replication', 'no', { validate: NO_TLS, ...NONE(REPL) }),
  oneOf('tls-auth-clients', 'yes', ['no', 'yes', 'optional']),
  bool('tls-prefer-server-ciphers', 'no'),
  bool('tls-session-caching', 'yes'),
  ...['tls-cert-file', 'tls-key-file', 'tls-key-file-pass', 'tls-dh-params-file',
    'tls-ca-cert-file', 'tls-ca-cert-dir', 'tls-protocols', 'tls-ciphers', 'tls-ciphersuites',
  ].map((n) => str(n, '')),
  ...['tls-client-cert-file', 'tls-client-key-file', 'tls-client-key-file-pass',
  ].map((n) => str(n, '', NONE(TLS))),
  // ACL, modules, protected configs.
  str('aclfile', '', { mutable: false }),
  int('acllog-max-len', 128, 0, INT64_BOUND),
  oneOf('acl-pubsub-default', 'resetchannels', ['allchannels', 'resetchannels']),
  oneOf('enable-protected-configs', 'no', ['no', 'yes', 'local'],
    { mutable: false, ...NONE('protected configs stay protected') }),
  oneOf('enable-module-command', 'no', ['no', 'yes', 'local'],
    { mutable: false, ...NONE('modules') }),
  // Memory allocator, threads, process and OS.
  bool('activedefrag', 'no', { validate: (v) => v === 'yes' ? 'Active defragmentation cannot ' +
    'be enabled: it requires a Redis server compiled with a modified Jemalloc like the one ' +
    'shipped by default with the Redis source distribution' : null, ...NONE(ALLOC) }),
  int('active-defrag-cycle-min', 1, 1, 99, NONE(ALLOC)),
  int('active-defrag-cycle-max', 25, 1, 99, NONE(ALLOC)),
  int('active-defrag-threshold-lower', 10, 0, 1000, NONE(ALLOC)),
  int('active-defrag-threshold-upper', 100, 0, 1000, NONE(ALLOC)),
  mem('active-defrag-ignore-bytes', 100 * 1024 * 1024, 1, INT64_BOUND, NONE(ALLOC)),
  int('active-defrag-max-scan-fields', 1000, 1, INT64_BOUND, NONE(ALLOC)),
  bool('jemalloc-bg-thread', 'yes', NONE(ALLOC)),
  bool('disable-thp', 'yes', { mutable: false, ...NONE(ALLOC) }),
  int('io-threads', 1, 1, 128, { mutable: false, ...NONE('I/O threads') }),
  bool('io-threads-do-reads', 'no', { mutable: false, ...NONE('I/O threads') }),
  bool('daemonize', 'no', { mutable: false, ...NONE(PROC) }),
  oneOf('supervised', 'no', ['upstart', 'systemd', 'auto', 'no'],
    { mutable: false, ...NONE(PROC) }),
  str('pidfile', '', { mutable: false, ...NONE(PROC) }),
  str('unixsocket', '', { mutable: false, ...NONE('unix sockets') }),
  { name: 'unixsocketperm', kind: 'octal', defaultValue: '0', mutable: false, min: 0,
    max: 0o777, noEffect: 'unix sockets' },
  int('socket-mark-id', 0, 0, UINT_MAX, { mutable: false, ...NONE(PROC) }),
  str('bind-source-addr', '', NONE(REPL)),
  bool('syslog-enabled', 'no', { mutable: false, ...NONE(PROC) }),
  str('syslog-ident', 'redis', { mutable: false, ...NONE(PROC) }),
  oneOf('syslog-facility', 'local0', ['user', 'local0', 'local1', 'local2', 'local3', 'local4',
    'local5', 'local6', 'local7'], { mutable: false, ...NONE(PROC) }),
  bool('always-show-logo', 'no', { mutable: false, ...NONE(PROC) }),
  bool('set-proc-title', 'yes', { mutable: false, ...NONE(PROC) }),
  str('proc-title-template', '{title} {listen-addr} {server-mode}',
    { validate: validProcTitle, ...NONE(PROC) }),
  oneOf('oom-score-adj', 'no', ['no', 'yes', 'relative', 'absolute'], NONE(PROC)),
  special('oom-score-adj-values', '0 200 800', parseOomValues, { arity: 'rest', ...NONE(PROC) }),
  ...['server_cpulist', 'bio_cpulist', 'aof_rewrite_cpulist', 'bgsave_cpulist']
    .map((n) => str(n, '', { mutable: false, ...NONE(PROC) })),
  bool('crash-log-enabled', 'yes', NONE(PROC)),
  bool('crash-memcheck-enabled', 'yes', NONE(PROC)),
  bool('use-exit-on-panic', 'no', { hidden: true, ...NONE(PROC) }),
  int('watchdog-period', 0, 0, INT_MAX, { hidden: true, ...NONE(PROC) }),
  str('ignore-warnings', '', NONE(PROC)),
  special('shutdown-on-sigint', SHUTDOWN_SIG, parseShutdownOnSig, { arity: 'rest',
    ...NONE('SIGINT always shuts down with a checkpoint when save points are set') }),
  special('shutdown-on-sigterm', SHUTDOWN_SIG, parseShutdownOnSig, { arity: 'rest',
    ...NONE('SIGTERM always shuts down with a checkpoint when save points are set') }),
] as ConfigParam[])

const BY_NAME = new Map<string, ConfigParam>()
for (const p of CONFIG_PARAMS) {
  for (const n of [p.name, ...(p.aliases ?? [])]) {
    if (BY_NAME.has(n)) throw new Error(`config parameter ${n} is in the table twice`)
    BY_NAME.set(n, p)
  }
}

/** Parameters set away from their default that have no effect in capykv (INFO's list). */
export function noEffectSettings(config: ServerConfig): string[] {
  return CONFIG_PARAMS.filter((p) => p.noEffect !== undefined &&
    config.get(p.name) !== p.defaultValue).map((p) => p.name)
}

export function findParam(name: string): ConfigParam | undefined {
  return BY_NAME.get(name.toLowerCase())
}

/** Canonical text of `args` for `p`, or throws ConfigValueError with Redis's reason. */
export function canonicalValue(p: ConfigParam, args: readonly string[]): string {
  const value = parseValue(p, args)
  const err = p.validate?.(value) ?? null
  if (err !== null) throw new ConfigValueError(err)
  return value
}

function parseValue(p: ConfigParam, args: readonly string[]): string {
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
    case 'memory':
    case 'octal': {
      let n: bigint | null
      if (p.kind === 'int') n = parseInt64Text(text)
      else if (p.kind === 'octal') n = /^[0-7]*$/.test(text) ? BigInt('0o0' + text) : null
      else n = parseMemoryBig(text)
      if (p.percent === true) {
        // Redis keeps a percentage as a negative number: `N%` parses to -N, and so does a
        // memory value past int64 (ssize_t wraps), which then reads back as a percentage.
        let signed: bigint | null = n === null ? null : n > INT64_MAX ? n - (1n << 64n) : n
        if (signed === null && /^(0|[1-9][0-9]*)%$/.test(text)) {
          signed = -BigInt(text.slice(0, -1))
        }
        if (signed !== null && signed < 0n) {
          if (signed < exactBound(p.min ?? 0)) {
            throw new ConfigValueError(
              `percentage argument must be less or equal to ${-(p.min ?? 0)}`)
          }
          return `${-signed}%`
        }
        if (signed !== null) n = signed
      }
      if (n === null) {
        throw new ConfigValueError(p.kind === 'int' ? "argument couldn't be parsed into an integer"
          : p.kind === 'octal' ? "argument couldn't be parsed as an octal number"
            : p.percent === true ? 'argument must be a memory or percent value'
              : 'argument must be a memory value')
      }
      const min = exactBound(p.percent === true ? 0 : p.min ?? 0)
      const max = exactBound(p.max ?? INT64_BOUND)
      if (n < min || n > max) {
        const [lo, hi] = p.kind === 'octal' ? [min.toString(8), max.toString(8)]
          : [String(min), p.maxText ?? String(max)]
        throw new ConfigValueError(`argument must be between ${lo} and ${hi} inclusive`)
      }
      if (p.clampMin !== undefined && n < BigInt(p.clampMin)) n = BigInt(p.clampMin)
      if (p.clampMax !== undefined && n > BigInt(p.clampMax)) n = BigInt(p.clampMax)
      return p.kind === 'octal' ? n.toString(8) : String(n)
    }
    case 'string':
      return text
    case 'special':
      return (p.parse as (a: readonly string[]) => string)(args)
  }
}

export type ConfigListener = (name: string, value: string) => void

/**
 * Makes the stored values of its parameters take effect (Redis's apply functions); called after
 * CONFIG SET stored every new value. Returns null, or the reason it failed, having changed
 * nothing (the caller then restores the old values).
 */
export type ConfigApplier = () => string | null

export class ServerConfig {
  private readonly values = new Map<string, string>()
  /** getNumber's parses, by the name asked; emptied by every change of a value. */
  private readonly numbers = new Map<string, number>()
  private readonly listeners: ConfigListener[] = []
  /** Each parameter's applier (one applier may serve several parameters). */
  private readonly appliers = new Map<string, ConfigApplier>()
  /** The text each parameter was last set from (notify-keyspace-events keeps more than its
   * canonical text shows: 'An' reads back 'A'). */
  private readonly givenTexts = new Map<string, string>()
  /** Path of the config file given at startup (CONFIG REWRITE target), or null. */
  configFile: string | null = null
  /** The config file's `user` lines (name first, then its rules), in order: created at
   * startup after the command table (commands/acl-file.ts loadConfiguredUsers). */
  readonly usersToLoad: { name: string; rules: string[] }[] = []

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

  /** The text a parameter was last set from (its default text when never set). */
  given(name: string): string {
    const p = findParam(name)
    if (p === undefined) throw new Error(`no config parameter ${name}`)
    return this.givenTexts.get(p.name) ?? p.defaultValue
  }

  onChange(listener: ConfigListener): void {
    this.listeners.push(listener)
  }

  /** `applier` runs when CONFIG SET changes one of `names` (canonical names). */
  setApplier(names: readonly string[], applier: ConfigApplier): void {
    for (const name of names) {
      if (findParam(name)?.name !== name) throw new Error(`no config parameter ${name}`)
      this.appliers.set(name, applier)
    }
  }

  /** Startup: set without the mutability check. Throws ConfigValueError. */
  setAtStartup(name: string, args: readonly string[]): void {
    const p = findParam(name)
    if (p === undefined) throw new ConfigValueError('Bad directive or wrong number of arguments')
    this.values.set(p.name, canonicalValue(p, args))
    this.givenTexts.set(p.name, args.join(' '))
    this.numbers.clear()
  }

  /**
   * CONFIG SET name value [name value ...]: all or nothing. Returns null on success or the
   * complete error text (without '-').
   */
  setMany(pairs: readonly (readonly [string, string])[]): string | null {
    const staged = new Map<string, string>()
    const given = new Map<string, string>()
    const seen = new Set<string>()
    for (const [name, value] of pairs) {
      const p = findParam(name)
      if (p === undefined) {
        return `ERR Unknown option or number of arguments for CONFIG SET - '${name}'`
      }
      const fail = (reason: string): string =>
        `ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}`
      // Redis's duplicate check is per name looked up: an alias and its parameter are two names
      // (both applied, in order), MAXCLIENTS and maxclients one.
      if (seen.has(name.toLowerCase())) return fail('duplicate parameter')
      seen.add(name.toLowerCase())
      if (!p.mutable) return fail("can't set immutable config")
      if (p.protected === true) return fail("can't set protected config")
      let canonical: string
      try {
        canonical = canonicalValue(p, [value])
      } catch (e) {
        if (!(e instanceof ConfigValueError)) throw e
        return e.bareSyntaxError ? 'ERR syntax error' : fail(e.message)
      }
      if (p.sameValueOnly === true && canonical !== this.values.get(p.name)) {
        return fail("capykv can't change it on a running server (only its current value is " +
          'accepted)')
      }
      staged.set(p.name, canonical)
      given.set(p.name, value)
    }
    const failed = this.storeAndApply(staged, given)
    if (failed !== null) {
      return `ERR CONFIG SET failed (possibly related to argument '${failed.name}') - ${failed.reason}`
    }
    for (const [name, value] of staged) for (const l of this.listeners) l(name, value)
    return null
  }

  /**
   * Store the staged values, then run the appliers of the parameters whose value changed, each
   * once, in argument order. When one fails: the old values back, the appliers that succeeded
   * run again over them (their failure now is only logged by them), and the failed parameter's
   * name and reason returned.
   */
  private storeAndApply(staged: Map<string, string>, given: Map<string, string>):
    { name: string; reason: string } | null {
    const oldValues = new Map<string, string>()
    const oldGiven = new Map<string, string | undefined>()
    const toRun: [string, ConfigApplier][] = []
    for (const [name, value] of staged) {
      const old = this.values.get(name) as string
      oldValues.set(name, old)
      oldGiven.set(name, this.givenTexts.get(name))
      const applier = this.appliers.get(name)
      if (applier !== undefined && old !== value && !toRun.some(([, a]) => a === applier)) {
        toRun.push([name, applier])
      }
    }
    for (const [name, value] of staged) this.values.set(name, value)
    for (const [name, value] of given) this.givenTexts.set(name, value)
    this.numbers.clear()
    for (const [i, [name, applier]] of toRun.entries()) {
      const reason = applier()
      if (reason === null) continue
      for (const [n, value] of oldValues) this.values.set(n, value)
      for (const [n, text] of oldGiven) {
        if (text === undefined) this.givenTexts.delete(n)
        else this.givenTexts.set(n, text)
      }
      this.numbers.clear()
      for (const [, done] of toRun.slice(0, i)) done()
      return { name, reason }
    }
    return null
  }

  /**
   * CONFIG GET patterns: [name, value] pairs, each name once. A pattern without * ? [ is looked
   * up directly and answered under the name as given (hidden parameters included, as Redis);
   * glob patterns match the table's names and aliases (not hidden ones), in table order.
   */
  match(patterns: readonly string[]): [string, string][] {
    const out: [string, string][] = []
    const seen = new Set<string>()
    const globs: string[] = []
    for (const pat of patterns) {
      if (/[*?[]/.test(pat)) {
        globs.push(pat)
        continue
      }
      const p = findParam(pat)
      if (p === undefined || seen.has(pat.toLowerCase())) continue
      seen.add(pat.toLowerCase())
      out.push([pat, this.values.get(p.name) as string])
    }
    if (globs.length === 0) return out
    for (const p of CONFIG_PARAMS) {
      if (p.hidden === true) continue
      for (const n of [p.name, ...(p.aliases ?? [])]) {
        if (!seen.has(n) && globs.some((pat) => globMatch(pat, n, true))) {
          seen.add(n)
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
