// Server commands: INFO, CONFIG, DBSIZE, TIME, LASTSAVE, SAVE, BGSAVE, BGREWRITEAOF, SHUTDOWN,
// WAIT, WAITAOF, SLOWLOG, MONITOR, COMMAND and DEBUG, with Redis 7.0.15's replies and errors.
// Persistence maps onto the pool: SAVE is a whole checkpoint now, BGSAVE and BGREWRITEAOF start
// an incremental one (served between requests). WAIT answers 0 at once (no replicas); WAITAOF
// (Redis 7.2) answers [1, 0] at once, truthfully: a write is durable before it is acknowledged,
// and this reply itself leaves only after every earlier commit is durable.
// Store actions that must not see a transaction's tentative state (a checkpoint, a reload) run
// through services.afterCommit, after the command's (or EXEC's) transaction has committed.

import { readFileSync } from 'node:fs'
import { arch, cpus, release, type as osType } from 'node:os'
import { nowMs } from '../clock.js'
import { writeFileDurably } from '../fs-util.js'
import { userLines } from './acl-file.js'
import { DB_COUNT, type Keyspace } from '../state/keyspace.js'
import { helpLines, services, type ServerServices } from './services.js'
import { parseLongLong, writeHelp } from './connection.js'
import { arityOk, lookupCommand } from './dispatch.js'
import { commandHasKeys, keysWithFlags } from './command-keys.js'
import { scriptingMemoryInfo } from './scripting.js'
import { latencystatsLines } from './latency.js'
import { COMMAND_DOCS, type ArgDoc, type CommandDoc, type KeySpec } from './command-docs.js'
import {
  ERR_NOT_INTEGER, ERR_SYNTAX, type CommandContext, type CommandFlag, type CommandSpec,
  type Handler, type ReplySink,
} from './spec.js'
import {
  globMatch, quoteConfigArg, CONFIG_PARAMS, findParam, noEffectSettings,
} from '../server-config.js'

export const CAPYKV_VERSION = '0.1.0'

function lower(arg: Buffer | undefined): string {
  return arg === undefined ? '' : arg.toString('latin1').toLowerCase()
}

/** Redis's bytesToHuman. */
export function bytesToHuman(n: number): string {
  if (n < 1024) return `${n}B`
  const units = ['K', 'M', 'G', 'T', 'P']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(2)}${units[i]}`
}

// ---- INFO -----------------------------------------------------------------------------------

type Section = (sv: ServerServices, ctx: CommandContext) => string[]

function sectionServer(sv: ServerServices, ctx: CommandContext): string[] {
  const uptimeS = Math.floor((ctx.nowMs - sv.startedAtMs) / 1000)
  return [
    `redis_version:7.0.15`, `capykv_version:${CAPYKV_VERSION}`, 'redis_git_sha1:00000000',
    'redis_git_dirty:0', 'redis_build_id:0', 'redis_mode:standalone',
    `os:${osType()} ${release()} ${arch() === 'x64' ? 'x86_64' : arch()}`, 'arch_bits:64',
    'monotonic_clock:POSIX clock_gettime', 'multiplexing_api:epoll',
    `node_version:${process.versions.node}`, `process_id:${process.pid}`,
    'process_supervised:no', `run_id:${sv.runId}`, `tcp_port:${sv.config.get('port')}`,
    `server_time_usec:${Math.round(ctx.nowMs * 1000)}`, `uptime_in_seconds:${uptimeS}`,
    `uptime_in_days:${Math.floor(uptimeS / 86400)}`, `hz:${sv.config.get('hz')}`,
    `configured_hz:${sv.config.get('hz')}`, `lru_clock:${Math.floor(ctx.nowMs / 1000) % 16777216}`,
    `executable:${sv.executable}`, `config_file:${sv.config.configFile ?? ''}`,
    'io_threads_active:0',
    // capykv: the parameters set away from their default that have no effect here.
    `config_no_effect:${noEffectSettings(sv.config).join(',')}`,
  ]
}

function sectionClients(sv: ServerServices): string[] {
  let maxIn = 0
  let maxOut = 0
  for (const h of sv.clients.values()) {
    maxIn = Math.max(maxIn, h.queryBufferBytes())
    maxOut = Math.max(maxOut, h.outputBytes())
  }
  return [
    `connected_clients:${sv.clients.size}`, 'cluster_connections:0',
    `maxclients:${sv.config.get('maxclients')}`, `client_recent_max_input_buffer:${maxIn}`,
    `client_recent_max_output_buffer:${maxOut}`,
    `blocked_clients:${sv.blockedClientCount()}`,
    `tracking_clients:${sv.tracking.clientCount}`,
    'clients_in_timeout_table:0',
  ]
}

/**
 * INFO memory. used_memory is capykv's accounting (commands/evict.ts, docs/server.md "Memory"):
 * the dataset (DRAM model + the keys' bytes in the pool) plus the clients' buffers; what the V8
 * heap holds besides is in used_memory_vm_heap, and the process's resident memory in
 * used_memory_rss.
 */
function sectionMemory(sv: ServerServices): string[] {
  const m = process.memoryUsage()
  const ev = sv.evictor
  const dataset = ev === undefined ? 0 : ev.datasetMemory()
  const used = ev === undefined ? m.heapUsed : ev.usedMemory()
  sv.peakMemoryBytes = Math.max(sv.peakMemoryBytes, used)
  const maxmemory = sv.config.getNumber('maxmemory')
  const pct = (part: number, whole: number): string =>
    `${whole === 0 ? '0.00' : ((100 * part) / whole).toFixed(2)}%`
  return [
    `used_memory:${used}`, `used_memory_human:${bytesToHuman(used)}`,
    `used_memory_rss:${m.rss}`, `used_memory_rss_human:${bytesToHuman(m.rss)}`,
    `used_memory_peak:${sv.peakMemoryBytes}`,
    `used_memory_peak_human:${bytesToHuman(sv.peakMemoryBytes)}`,
    `used_memory_peak_perc:${pct(used, sv.peakMemoryBytes)}`,
    `used_memory_overhead:${used - dataset}`, 'used_memory_startup:0',
    `used_memory_dataset:${dataset}`, `used_memory_dataset_perc:${pct(dataset, used)}`,
    `used_memory_vm_heap:${m.heapUsed}`, `used_memory_heap_total:${m.heapTotal}`,
    `used_memory_array_buffers:${m.arrayBuffers}`,
    `maxmemory:${maxmemory}`, `maxmemory_human:${bytesToHuman(maxmemory)}`,
    `maxmemory_policy:${sv.config.get('maxmemory-policy')}`,
    `mem_fragmentation_ratio:${used === 0 ? '0.00' : (m.rss / used).toFixed(2)}`,
    'mem_not_counted_for_evict:0', 'mem_replication_backlog:0', 'mem_clients_slaves:0',
    `mem_clients_normal:${used - dataset}`, 'mem_aof_buffer:0',
    'mem_allocator:v8', 'lazyfree_pending_objects:0',
    `lazyfreed_objects:${sv.stats.lazyfreedObjects}`,
    ...scriptingMemoryInfo(sv, sv.store === null ? null : sv.store.keyspace),
  ]
}

function sectionPersistence(sv: ServerServices, ctx: CommandContext): string[] {
  const lines: string[] = [`loading:${sv.loading === null ? 0 : 1}`, 'async_loading:0']
  const ld = sv.loading
  if (ld !== null) {
    const perc = ld.bytesTotal === 0 ? 0 : (100 * ld.bytesDone) / ld.bytesTotal
    const elapsedS = (ctx.nowMs - ld.startedAtMs) / 1000
    const eta = ld.bytesDone === 0 ? 1 : Math.round(elapsedS * (ld.bytesTotal - ld.bytesDone) /
      ld.bytesDone)
    lines.push(`loading_start_time:${Math.floor(ld.startedAtMs / 1000)}`,
      `loading_total_bytes:${ld.bytesTotal}`, `loading_loaded_bytes:${ld.bytesDone}`,
      `loading_loaded_perc:${perc.toFixed(2)}`, `loading_eta_seconds:${eta}`,
      `loading_records:${ld.records}`)
  }
  const st = sv.store === null ? null : sv.store.stats()
  lines.push(
    // Redis's dirty counter: here the events committed since the newest checkpoint began.
    `rdb_changes_since_last_save:${st === null ? 0 : st.eventsSinceCheckpoint}`,
    `rdb_bgsave_in_progress:${st !== null && st.checkpointRunning ? 1 : 0}`,
    `rdb_last_save_time:${Math.floor(sv.lastSaveAtMs / 1000)}`, 'rdb_last_bgsave_status:ok',
    `rdb_saves:${st === null ? 0 : st.checkpointsCompleted}`,
    'aof_enabled:0', 'aof_rewrite_in_progress:0', 'aof_rewrite_scheduled:0',
    'aof_last_bgrewrite_status:ok', 'aof_last_write_status:ok',
    `pool_path:${sv.poolPath}`,
  )
  if (st === null) return lines
  lines.push(
    `pool_backend:${st.backend}`, `pool_is_pmem:${st.isPmem ? 1 : 0}`,
    `pool_bytes:${st.poolBytes}`, `pool_log_ring_bytes:${st.ringBytes}`,
    `pool_log_used_bytes:${st.logUsedBytes}`, `pool_live_bytes_estimate:${st.liveBytesEstimate}`,
    `pool_records_appended:${st.recordsAppended}`, `pool_bytes_appended:${st.bytesAppended}`,
    `pool_group_commits:${st.groupCommits}`,
    `pool_transactions_committed:${st.transactionsCommitted}`,
    `pool_checkpoints_completed:${st.checkpointsCompleted}`,
    `pool_checkpoints_abandoned:${st.checkpointsAbandoned}`,
    `pool_checkpoint_in_progress:${st.checkpointRunning ? 1 : 0}`,
    `pool_last_checkpoint_time:${Math.floor(st.lastCheckpointAtMs / 1000)}`,
    `pool_longest_checkpoint_slice_ms:${st.longestCheckpointSliceMs.toFixed(3)}`,
    `pool_recovery_ms:${st.recoveryMs.toFixed(3)}`,
    `pool_recovered_records:${st.recoveredRecords}`,
    `pool_index_pending_events:${st.indexPendingEvents}`,
    `pool_indexed_ms:${st.indexedMs.toFixed(3)}`,
    `pool_out_of_space_refusals:${st.outOfSpaceRefusals}`,
    // The live bytes an eviction policy keeps the pool under (0: noeviction; commands/evict.ts).
    `pool_evict_limit_bytes:${sv.evictor?.poolLimit() ?? 0}`,
    `pool_corruption_events:${sv.stats.corruptionEvents}`,
    `pool_corrupt_keys:${sv.store?.keyspace.corruptKeyCount ?? 0}`,
    `pool_failed:${st.failed === null ? 'no' : st.failed.replace(/[\r\n]/g, ' ')}`,
    `pool_format_version:${st.formatVersion}`,
    `pool_upgraded_from_version:${st.upgradedFromVersion ?? 0}`,
    `pool_metadata_damage:${st.metadataDamage.length === 0 ? 'none'
      : st.metadataDamage.join('; ').replace(/[\r\n]/g, ' ')}`,
    `pool_root_copies_rewritten:${st.rootCopiesRewritten}`,
    // The previous checkpoint kept for the fallback (docs/checkpoint-fallback.md).
    `checkpoint_fallback:${st.checkpointFallback ? 1 : 0}`,
    `checkpoint_fallback_bytes:${st.checkpointFallbackBytes}`,
    `checkpoint_fallback_drops:${st.checkpointFallbackDrops}`,
    `recovered_from_fallback:${st.recoveredFromFallback === null ? 'no'
      : st.recoveredFromFallback.replace(/[\r\n]/g, ' ')}`,
    `pool_warnings:${sv.stats.poolWarnings.length === 0 ? 'none'
      : sv.stats.poolWarnings.join('; ').replace(/[\r\n]/g, ' ')}`,
    ...scrubLines(sv),
  )
  return lines
}

/** The background scrub (txn/scrub-driver.ts): rate, passes, bytes, damage found and healed. */
function scrubLines(sv: ServerServices): string[] {
  const s = sv.scrub?.scrubber.stats
  if (s === undefined) return []
  const unhealed = s.damage.filter((d) => d.healedAtMs === null)
  const last = s.damage[s.damage.length - 1]
  return [
    `scrub_rate:${sv.config.getNumber('scrub-rate')}`,
    `scrub_passes:${s.passes}`,
    `scrub_last_completed_time:${s.lastCompletedMs === 0 ? -1 : Math.floor(s.lastCompletedMs / 1000)}`,
    `scrub_bytes_verified:${s.bytesVerified}`,
    `scrub_corruption_found:${s.corruptionFound}`,
    `scrub_damage_unhealed:${unhealed.length}`,
    `scrub_last_corruption:${last === undefined ? 'none' : `${last.kind} record at offset ` +
      `${last.offset} lsn ${last.lsn}: ${last.reason}${last.healedAtMs === null ? '' : ' (healed)'}`
      .replace(/[\r\n]/g, ' ')}`,
  ]
}

function sectionStats(sv: ServerServices): string[] {
  const s = sv.stats
  return [
    `total_connections_received:${s.totalConnectionsReceived}`,
    `total_commands_processed:${s.totalCommandsProcessed}`,
    `instantaneous_ops_per_sec:${s.instantaneousOps}`,
    `total_net_input_bytes:${s.netInputBytes}`, `total_net_output_bytes:${s.netOutputBytes}`,
    'total_net_repl_input_bytes:0', 'total_net_repl_output_bytes:0',
    'instantaneous_input_kbps:0.00', 'instantaneous_output_kbps:0.00',
    'instantaneous_input_repl_kbps:0.00', 'instantaneous_output_repl_kbps:0.00',
    `rejected_connections:${s.rejectedConnections}`, 'sync_full:0', 'sync_partial_ok:0',
    'sync_partial_err:0', `expired_keys:${s.expiredKeys}`, 'expired_stale_perc:0.00',
    'expired_time_cap_reached_count:0',
    `expire_cycle_cpu_milliseconds:${Math.round(s.expireCycleMs)}`,
    `evicted_keys:${s.evictedKeys}`, 'evicted_clients:0',
    'total_eviction_exceeded_time:0', 'current_eviction_exceeded_time:0',
    `keyspace_hits:${s.keyspaceHits}`,
    `keyspace_misses:${s.keyspaceMisses}`, `pubsub_channels:${sv.pubsub.channelCount}`,
    `pubsub_patterns:${sv.pubsub.patternCount}`,
    `pubsubshard_channels:${sv.pubsub.shardChannelCount}`,
    'latest_fork_usec:0', 'total_forks:0', 'migrate_cached_sockets:0',
    'slave_expires_tracked_keys:0', 'active_defrag_hits:0', 'active_defrag_misses:0',
    'active_defrag_key_hits:0', 'active_defrag_key_misses:0', 'total_active_defrag_time:0',
    'current_active_defrag_time:0', `tracking_total_keys:${sv.tracking.totalKeys}`,
    `tracking_total_items:${sv.tracking.totalItemCount}`,
    `tracking_total_prefixes:${sv.tracking.totalPrefixes}`, 'unexpected_error_replies:0',
    `total_error_replies:${s.totalErrorReplies}`, 'dump_payload_sanitizations:0',
    `total_reads_processed:${s.readsProcessed}`, `total_writes_processed:${s.writesProcessed}`,
    'io_threaded_reads_processed:0', 'io_threaded_writes_processed:0',
    'reply_buffer_shrinks:0', 'reply_buffer_expands:0',
  ]
}

function sectionReplication(sv: ServerServices): string[] {
  return [
    'role:master', 'connected_slaves:0', 'master_failover_state:no-failover',
    `master_replid:${sv.runId}`, 'master_replid2:0000000000000000000000000000000000000000',
    'master_repl_offset:0', 'second_repl_offset:-1', 'repl_backlog_active:0',
    'repl_backlog_size:1048576', 'repl_backlog_first_byte_offset:0', 'repl_backlog_histlen:0',
  ]
}

function sectionCpu(): string[] {
  const u = process.cpuUsage()
  const sys = (u.system / 1e6).toFixed(6)
  const user = (u.user / 1e6).toFixed(6)
  return [`used_cpu_sys:${sys}`, `used_cpu_user:${user}`, 'used_cpu_sys_children:0.000000',
    'used_cpu_user_children:0.000000', `used_cpu_sys_main_thread:${sys}`,
    `used_cpu_user_main_thread:${user}`, `cpu_count:${cpus().length}`]
}

function sectionCommandstats(sv: ServerServices): string[] {
  const lines: string[] = []
  for (const [name, s] of sv.stats.commands) {
    if (s.calls === 0 && s.rejectedCalls === 0 && s.failedCalls === 0) continue
    const per = s.calls === 0 ? 0 : s.usec / s.calls
    lines.push(`cmdstat_${name}:calls=${s.calls},usec=${s.usec},usec_per_call=${per.toFixed(2)},` +
      `rejected_calls=${s.rejectedCalls},failed_calls=${s.failedCalls}`)
  }
  return lines
}

function sectionErrorstats(sv: ServerServices): string[] {
  return Array.from(sv.stats.errors, ([code, n]) => `errorstat_${code}:count=${n}`)
}

/** db lines: keys, keys with an expiry, and their average remaining TTL (ms). */
export function keyspaceLines(ks: Keyspace, nowMs: number): string[] {
  const lines: string[] = []
  for (let db = 0; db < DB_COUNT; db++) {
    const map = ks.db(db)
    if (map.size === 0) continue
    let expires = 0
    let ttlSum = 0
    for (const e of map.values()) {
      if (e.expireAtMs === 0) continue
      expires++
      ttlSum += Math.max(0, e.expireAtMs - nowMs)
    }
    const avg = expires === 0 ? 0 : Math.round(ttlSum / expires)
    lines.push(`db${db}:keys=${map.size},expires=${expires},avg_ttl=${avg}`)
  }
  return lines
}

const SECTIONS: Record<string, [string, Section]> = {
  server: ['Server', sectionServer],
  clients: ['Clients', (sv) => sectionClients(sv)],
  memory: ['Memory', (sv) => sectionMemory(sv)],
  persistence: ['Persistence', sectionPersistence],
  stats: ['Stats', (sv) => sectionStats(sv)],
  replication: ['Replication', (sv) => sectionReplication(sv)],
  cpu: ['CPU', () => sectionCpu()],
  modules: ['Modules', () => []],
  commandstats: ['Commandstats', (sv) => sectionCommandstats(sv)],
  errorstats: ['Errorstats', (sv) => sectionErrorstats(sv)],
  latencystats: ['Latencystats', (sv) => latencystatsLines(sv)],
  cluster: ['Cluster', () => ['cluster_enabled:0']],
  keyspace: ['Keyspace', (sv, ctx) => sv.store === null ? [] :
    keyspaceLines(sv.store.keyspace, ctx.nowMs)],
}
const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication',
  'cpu', 'modules', 'errorstats', 'cluster', 'keyspace']
const ALL_SECTIONS = DEFAULT_SECTIONS.filter((s) => s !== 'modules')
  .concat(['commandstats', 'latencystats']).sort((a, b) => Object.keys(SECTIONS).indexOf(a) -
    Object.keys(SECTIONS).indexOf(b))

/** The INFO text for the requested section names (Redis's genRedisInfoString). */
export function infoText(sv: ServerServices, ctx: CommandContext,
  names: readonly string[]): string {
  const wanted = new Set<string>()
  if (names.length === 0) for (const s of DEFAULT_SECTIONS) wanted.add(s)
  for (const raw of names) {
    const n = raw.toLowerCase()
    if (n === 'default') for (const s of DEFAULT_SECTIONS) wanted.add(s)
    else if (n === 'all') for (const s of ALL_SECTIONS) wanted.add(s)
    else if (n === 'everything') for (const s of Object.keys(SECTIONS)) wanted.add(s)
    else wanted.add(n)
  }
  let out = ''
  let count = 0
  for (const key of Object.keys(SECTIONS)) {
    if (!wanted.has(key)) continue
    const [title, fn] = SECTIONS[key] as [string, Section]
    if (count++ > 0) out += '\r\n'
    out += `# ${title}\r\n`
    for (const line of fn(sv, ctx)) out += `${line}\r\n`
  }
  return out
}

const info: Handler = (ctx, argv) => {
  const names = argv.slice(1).map((a) => a.toString('latin1'))
  ctx.reply.verbatim(infoText(services(ctx), ctx, names))
}

// ---- CONFIG ---------------------------------------------------------------------------------

const configGet: Handler = (ctx, argv) => {
  const patterns = argv.slice(2).map((a) => a.toString('latin1'))
  const pairs = services(ctx).config.match(patterns)
  ctx.reply.mapHeader(pairs.length)
  for (const [k, v] of pairs) {
    ctx.reply.bulk(k)
    ctx.reply.bulk(Buffer.from(v, 'latin1'))
  }
}

const configSet: Handler = (ctx, argv) => {
  if ((argv.length - 2) % 2 !== 0) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const pairs: [string, string][] = []
  for (let i = 2; i < argv.length; i += 2) {
    pairs.push([(argv[i] as Buffer).toString('latin1'), (argv[i + 1] as Buffer).toString('latin1')])
  }
  const err = services(ctx).config.setMany(pairs)
  if (err === null) ctx.reply.simple('OK')
  else ctx.reply.error(err)
}

const configResetstat: Handler = (ctx) => {
  const sv = services(ctx)
  sv.stats.reset()
  sv.slowlog.reset()
  ctx.reply.simple('OK')
}

/**
 * CONFIG REWRITE: keep comments and unknown lines, rewrite every parameter we own and the
 * `user` lines (replaced by `lines`' own), durably (temp, fsync, rename, dir fsync).
 */
export function rewriteConfigFile(path: string, lines: readonly string[]): void {
  let old: string[] = []
  try {
    old = readFileSync(path, 'latin1').split('\n')
  } catch {
    old = []
  }
  const kept = old.filter((line) => {
    const word = line.trim().split(/\s+/)[0] ?? ''
    if (word === '' || word.startsWith('#')) return line.trim() !== '# Generated by CONFIG REWRITE'
    return findParam(word) === undefined && word.toLowerCase() !== 'user'
  })
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop()
  const text = [...kept, '# Generated by CONFIG REWRITE', ...lines, ''].join('\n')
  writeFileDurably(path, text, `${path}.rewrite-${process.pid}`)
}

const configRewrite: Handler = (ctx) => {
  const config = services(ctx).config
  if (config.configFile === null) {
    ctx.reply.error('ERR The server is running without a config file')
    return
  }
  try {
    // rewriteConfigUserOption: the users as `user` lines, unless an aclfile holds them.
    const users = config.get('aclfile') === '' ? userLines(services(ctx).acl) : []
    rewriteConfigFile(config.configFile, [...config.nonDefaultLines(), ...users])
    ctx.reply.simple('OK')
  } catch (e) {
    ctx.reply.error(`ERR Rewriting config file: ${(e as Error).message}`)
  }
}

const CONFIG_HELP = helpLines('CONFIG', [
  'GET <pattern>',
  '    Return parameters matching the glob-like <pattern> and their values.',
  'SET <directive> <value>',
  '    Set the configuration <directive> to <value>.',
  'RESETSTAT',
  '    Reset statistics reported by the INFO command.',
  'REWRITE',
  '    Rewrite the configuration file.',
])

// ---- persistence ----------------------------------------------------------------------------

const dbsize: Handler = (ctx) => {
  ctx.reply.integer(ctx.keyspace.db(ctx.client.db).size)
}

const time: Handler = (ctx) => {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000)
  ctx.reply.arrayHeader(2)
  ctx.reply.bulk(String(Math.floor(us / 1e6)))
  ctx.reply.bulk(String(us % 1e6))
}

const lastsave: Handler = (ctx) => {
  ctx.reply.integer(Math.floor(services(ctx).lastSaveAtMs / 1000))
}

const save: Handler = (ctx) => {
  const sv = services(ctx)
  const store = ctx.store
  if (ctx.txn.eventCount > 0 || !store.checkpointNow()) {
    ctx.reply.error('ERR')
    return
  }
  sv.lastSaveAtMs = ctx.nowMs
  ctx.reply.simple('OK')
}

/** Start a background checkpoint once the current transaction has committed. */
function backgroundCheckpoint(ctx: CommandContext): void {
  const sv = services(ctx)
  const store = ctx.store
  sv.afterCommit(() => {
    void store.checkpoint().then(() => { sv.lastSaveAtMs = nowMs() })
  })
}

const bgsave: Handler = (ctx, argv) => {
  if (argv.length > 1 && lower(argv[1]) !== 'schedule') {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const running = ctx.store.checkpointer.active !== null
  if (running && argv.length === 1) {
    ctx.reply.error('ERR Background save already in progress')
    return
  }
  backgroundCheckpoint(ctx)
  ctx.reply.simple(running ? 'Background saving scheduled' : 'Background saving started')
}

const bgrewriteaof: Handler = (ctx) => {
  if (ctx.store.checkpointer.active !== null) {
    ctx.reply.simple('Background append only file rewriting scheduled')
  } else {
    ctx.reply.simple('Background append only file rewriting started')
  }
  backgroundCheckpoint(ctx)
}

const shutdown: Handler = (ctx, argv) => {
  const opts = { save: null as boolean | null, now: false, force: false }
  let abort = false
  for (let i = 1; i < argv.length; i++) {
    const o = lower(argv[i])
    if (o === 'nosave') opts.save = opts.save === true ? null : false
    else if (o === 'save') opts.save = opts.save === false ? null : true
    else if (o === 'now') opts.now = true
    else if (o === 'force') opts.force = true
    else if (o === 'abort') abort = true
    else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  const both = argv.slice(1).map(lower)
  if (both.includes('save') && both.includes('nosave')) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  if (abort) {
    if (argv.length > 2) ctx.reply.error(ERR_SYNTAX)
    else ctx.reply.error('ERR No shutdown in progress.')
    return
  }
  const err = services(ctx).shutdown(opts)
  if (err !== null) ctx.reply.error(err)
}

const wait: Handler = (ctx, argv) => {
  const replicas = parseLongLong(argv[1] as Buffer)
  const timeout = parseLongLong(argv[2] as Buffer)
  if (replicas === null || timeout === null) {
    ctx.reply.error(ERR_NOT_INTEGER)
    return
  }
  if (timeout < 0) {
    ctx.reply.error('ERR timeout is negative')
    return
  }
  ctx.reply.integer(0)
}

const waitaof: Handler = (ctx, argv) => {
  const local = parseLongLong(argv[1] as Buffer)
  const replicas = parseLongLong(argv[2] as Buffer)
  const timeout = parseLongLong(argv[3] as Buffer)
  if (local === null || replicas === null || timeout === null) {
    ctx.reply.error(ERR_NOT_INTEGER)
    return
  }
  if (timeout < 0) {
    ctx.reply.error('ERR timeout is negative')
    return
  }
  ctx.reply.arrayHeader(2)
  ctx.reply.integer(1)
  ctx.reply.integer(0)
}

// ---- SLOWLOG, MONITOR -----------------------------------------------------------------------

const slowlogGet: Handler = (ctx, argv) => {
  let count = 10
  if (argv.length === 3) {
    const n = parseLongLong(argv[2] as Buffer)
    if (n === null || n < -1) {
      ctx.reply.error('ERR count should be greater than or equal to -1')
      return
    }
    count = n === -1 ? Number.MAX_SAFE_INTEGER : n
  } else if (argv.length > 3) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const entries = services(ctx).slowlog.entries.slice(0, count)
  ctx.reply.arrayHeader(entries.length)
  for (const e of entries) {
    ctx.reply.arrayHeader(6)
    ctx.reply.integer(e.id)
    ctx.reply.integer(e.timestampS)
    ctx.reply.integer(e.durationUs)
    ctx.reply.arrayHeader(e.argv.length)
    for (const a of e.argv) ctx.reply.bulk(a)
    ctx.reply.bulk(e.addr)
    ctx.reply.bulk(e.name)
  }
}

const SLOWLOG_HELP = helpLines('SLOWLOG', [
  'GET [<count>]',
  '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
  '    Entries are made of:',
  '    id, timestamp, time in microseconds, arguments array, client IP and port,',
  '    client name',
  'LEN',
  '    Return the length of the slowlog.',
  'RESET',
  '    Reset the slowlog.',
])

const monitor: Handler = (ctx) => {
  const h = services(ctx).handleOf(ctx.client)
  if (h.monitor) return
  h.monitor = true
  ctx.reply.simple('OK')
}

// ---- COMMAND --------------------------------------------------------------------------------

// COMMAND INFO and COMMAND DOCS write the one source of command metadata, command-docs.ts (tips,
// key specs, docs), in Redis 7.0.15's shapes: maps (RESP2: flat arrays), sets (RESP2: arrays),
// flags as status replies, names and texts as bulks, optional fields only when present.

/**
 * The flags COMMAND shows, in the order it writes them (addReplyFlagsForCommand); Redis hides
 * may_replicate and protected on purpose.
 */
const SHOWN_FLAGS: readonly CommandFlag[] = ['write', 'readonly', 'denyoom', 'admin', 'pubsub',
  'noscript', 'blocking', 'loading', 'stale', 'skip_monitor', 'skip_slowlog', 'asking', 'fast', 'no_auth',
  'no_mandatory_keys', 'no_async_loading', 'no_multi', 'movablekeys', 'allow_busy']

/** A command's documentation; a command without an entry (a test's own spec) has the minimum. */
function docOf(spec: CommandSpec): CommandDoc {
  return COMMAND_DOCS[spec.name] ?? { summary: '', since: '', group: 'generic' }
}

/** A command's key specs, as COMMAND INFO shows them (addReplyCommandKeySpecs). */
function writeKeySpecs(r: ReplySink, specs: readonly KeySpec[]): void {
  r.setHeader(specs.length)
  for (const ks of specs) {
    r.mapHeader(ks.notes === undefined ? 3 : 4)
    if (ks.notes !== undefined) {
      r.bulk('notes')
      r.bulk(ks.notes)
    }
    r.bulk('flags')
    r.setHeader(ks.flags.length)
    for (const f of ks.flags) r.simple(f)
    r.bulk('begin_search')
    r.mapHeader(2)
    const bs = ks.beginSearch
    r.bulk('type')
    if (bs === 'unknown') {
      r.bulk('unknown'); r.bulk('spec'); r.mapHeader(0)
    } else if ('index' in bs) {
      r.bulk('index'); r.bulk('spec'); r.mapHeader(1)
      r.bulk('index'); r.integer(bs.index)
    } else {
      r.bulk('keyword'); r.bulk('spec'); r.mapHeader(2)
      r.bulk('keyword'); r.bulk(bs.keyword)
      r.bulk('startfrom'); r.integer(bs.startfrom)
    }
    r.bulk('find_keys')
    r.mapHeader(2)
    const fk = ks.findKeys
    r.bulk('type')
    if (fk === 'unknown') {
      r.bulk('unknown'); r.bulk('spec'); r.mapHeader(0)
    } else if ('lastkey' in fk) {
      r.bulk('range'); r.bulk('spec'); r.mapHeader(3)
      r.bulk('lastkey'); r.integer(fk.lastkey)
      r.bulk('keystep'); r.integer(fk.keystep)
      r.bulk('limit'); r.integer(fk.limit)
    } else {
      r.bulk('keynum'); r.bulk('spec'); r.mapHeader(3)
      r.bulk('keynumidx'); r.integer(fk.keynumidx)
      r.bulk('firstkey'); r.integer(fk.firstkey)
      r.bulk('keystep'); r.integer(fk.keystep)
    }
  }
}

function writeCommandInfo(ctx: CommandContext, spec: CommandSpec): void {
  const r = ctx.reply
  const doc = docOf(spec)
  r.arrayHeader(10)
  r.bulk(spec.name)
  r.integer(spec.arity)
  const flags = SHOWN_FLAGS.filter((f) => spec.flags.includes(f))
  r.setHeader(flags.length)
  for (const f of flags) r.simple(f)
  r.integer(spec.firstKey)
  r.integer(spec.lastKey)
  r.integer(spec.step)
  r.setHeader(spec.categories.length)
  for (const c of spec.categories) r.simple(`@${c}`)
  const tips = doc.tips ?? []
  r.setHeader(tips.length)
  for (const t of tips) r.bulk(t)
  writeKeySpecs(r, doc.keySpecs ?? [])
  const subs = spec.subcommands ?? []
  if (subs.length === 0) {
    r.setHeader(0)
    return
  }
  r.arrayHeader(subs.length)
  for (const s of subs) writeCommandInfo(ctx, s)
}

function findSpec(ctx: CommandContext, name: string): CommandSpec | undefined {
  const table = services(ctx).table
  const n = name.toLowerCase()
  const bar = n.indexOf('|')
  if (bar < 0) return table.byName.get(n)
  return table.subcommands.get(n.slice(0, bar))?.get(n.slice(bar + 1))
}

const commandAll: Handler = (ctx) => {
  const all = services(ctx).table.all
  ctx.reply.arrayHeader(all.length)
  for (const s of all) writeCommandInfo(ctx, s)
}

const commandInfo: Handler = (ctx, argv) => {
  if (argv.length === 2) {
    commandAll(ctx, argv)
    return
  }
  ctx.reply.arrayHeader(argv.length - 2)
  for (let i = 2; i < argv.length; i++) {
    const spec = findSpec(ctx, (argv[i] as Buffer).toString('latin1'))
    if (spec === undefined) ctx.reply.nullBulk()
    else writeCommandInfo(ctx, spec)
  }
}

/** addReplyFlagsForArg: the flags an argument has, in Redis's order. */
function argFlags(a: ArgDoc): string[] {
  const flags: string[] = []
  if (a.optional === true) flags.push('optional')
  if (a.multiple === true) flags.push('multiple')
  if (a.multipleToken === true) flags.push('multiple_token')
  return flags
}

/** addReplyCommandArgList. */
function writeArgs(r: ReplySink, args: readonly ArgDoc[]): void {
  r.arrayHeader(args.length)
  for (const a of args) {
    const flags = argFlags(a)
    const nested = a.type === 'oneof' || a.type === 'block'
    r.mapHeader(2 + (a.keySpecIndex === undefined ? 0 : 1) + (a.token === undefined ? 0 : 1) +
      (a.since === undefined ? 0 : 1) + (a.deprecatedSince === undefined ? 0 : 1) +
      (flags.length === 0 ? 0 : 1) + (nested ? 1 : 0))
    r.bulk('name'); r.bulk(a.name)
    r.bulk('type'); r.bulk(a.type)
    if (a.keySpecIndex !== undefined) {
      r.bulk('key_spec_index')
      r.integer(a.keySpecIndex)
    }
    if (a.token !== undefined) {
      r.bulk('token')
      r.bulk(a.token)
    }
    if (a.since !== undefined) {
      r.bulk('since')
      r.bulk(a.since)
    }
    if (a.deprecatedSince !== undefined) {
      r.bulk('deprecated_since')
      r.bulk(a.deprecatedSince)
    }
    if (flags.length > 0) {
      r.bulk('flags')
      r.setHeader(flags.length)
      for (const f of flags) r.simple(f)
    }
    if (nested) {
      r.bulk('arguments')
      writeArgs(r, a.arguments ?? [])
    }
  }
}

/** addReplyCommandDocs: the fields a command has, in Redis's order. */
function writeDocs(r: ReplySink, spec: CommandSpec): void {
  const d = docOf(spec)
  const subs = spec.subcommands ?? []
  const present = [d.complexity, d.docFlags, d.deprecatedSince, d.replacedBy, d.history,
    d.arguments].filter((v) => v !== undefined).length
  r.mapHeader(3 + present + (subs.length > 0 ? 1 : 0))
  r.bulk('summary'); r.bulk(d.summary)
  r.bulk('since'); r.bulk(d.since)
  r.bulk('group'); r.bulk(d.group)
  if (d.complexity !== undefined) {
    r.bulk('complexity')
    r.bulk(d.complexity)
  }
  if (d.docFlags !== undefined) {
    r.bulk('doc_flags')
    r.setHeader(d.docFlags.length)
    for (const f of d.docFlags) r.simple(f)
  }
  if (d.deprecatedSince !== undefined) {
    r.bulk('deprecated_since')
    r.bulk(d.deprecatedSince)
  }
  if (d.replacedBy !== undefined) {
    r.bulk('replaced_by')
    r.bulk(d.replacedBy)
  }
  if (d.history !== undefined) {
    r.bulk('history')
    r.setHeader(d.history.length)
    for (const [since, change] of d.history) {
      r.arrayHeader(2)
      r.bulk(since)
      r.bulk(change)
    }
  }
  if (d.arguments !== undefined) {
    r.bulk('arguments')
    writeArgs(r, d.arguments)
  }
  if (subs.length > 0) {
    r.bulk('subcommands')
    r.mapHeader(subs.length)
    for (const s of subs) {
      r.bulk(s.name)
      writeDocs(r, s)
    }
  }
}

const commandDocs: Handler = (ctx, argv) => {
  const table = services(ctx).table
  const specs: CommandSpec[] = []
  if (argv.length === 2) specs.push(...table.all)
  for (let i = 2; i < argv.length; i++) {
    const s = findSpec(ctx, (argv[i] as Buffer).toString('latin1'))
    if (s !== undefined) specs.push(s)
  }
  ctx.reply.mapHeader(specs.length)
  for (const s of specs) {
    ctx.reply.bulk(s.name)
    writeDocs(ctx.reply, s)
  }
}

const commandCount: Handler = (ctx) => {
  ctx.reply.integer(services(ctx).table.all.length)
}

/**
 * COMMAND GETKEYS / GETKEYSANDFLAGS (getKeysSubcommandImpl): the keys command-keys.ts finds, by
 * the key specs or the command's own finder, with their flags.
 */
function getKeysGeneric(ctx: CommandContext, argv: Buffer[], withFlags: boolean): void {
  const table = services(ctx).table
  const args = argv.slice(2)
  const found = lookupCommand(table, args)
  if (found.kind !== 'ok') {
    ctx.reply.error('ERR Invalid command specified')
    return
  }
  const spec = found.spec
  if (!commandHasKeys(spec)) {
    ctx.reply.error('ERR The command has no key arguments')
    return
  }
  if (!arityOk(spec, args.length)) {
    ctx.reply.error('ERR Invalid number of arguments specified for command')
    return
  }
  const keys = keysWithFlags(spec, args)
  if (keys.length === 0 && !spec.flags.includes('no_mandatory_keys')) {
    ctx.reply.error('ERR Invalid arguments specified for command')
    return
  }
  ctx.reply.arrayHeader(keys.length)
  for (const k of keys) {
    if (!withFlags) {
      ctx.reply.bulk(args[k.pos] as Buffer)
      continue
    }
    ctx.reply.arrayHeader(2)
    ctx.reply.bulk(args[k.pos] as Buffer)
    ctx.reply.setHeader(k.flags.length)
    for (const f of k.flags) ctx.reply.simple(f)
  }
}

const commandGetkeys: Handler = (ctx, argv) => getKeysGeneric(ctx, argv, false)
const commandGetkeysandflags: Handler = (ctx, argv) => getKeysGeneric(ctx, argv, true)

const commandList: Handler = (ctx, argv) => {
  const table = services(ctx).table
  let filter: (s: CommandSpec) => boolean = () => true
  if (argv.length === 5 && lower(argv[2]) === 'filterby') {
    const kind = lower(argv[3])
    const value = (argv[4] as Buffer).toString('latin1')
    if (kind === 'module') filter = () => false
    else if (kind === 'aclcat') filter = (s) => s.categories.includes(value.toLowerCase())
    else if (kind === 'pattern') filter = (s) => globMatch(value, s.name, true)
    else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  } else if (argv.length !== 2) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const names: string[] = []
  for (const s of table.all) {
    if (filter(s)) names.push(s.name)
    for (const sub of s.subcommands ?? []) if (filter(sub)) names.push(sub.name)
  }
  ctx.reply.arrayHeader(names.length)
  for (const n of names) ctx.reply.bulk(n)
}

const COMMAND_HELP = helpLines('COMMAND', [
  '(no subcommand)',
  '    Return details about all Redis commands.',
  'COUNT',
  '    Return the total number of commands in this Redis server.',
  'LIST',
  '    Return a list of all commands in this Redis server.',
  'INFO [<command-name> ...]',
  '    Return details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'DOCS [<command-name> ...]',
  '    Return documentation details about multiple Redis commands.',
  '    If no command names are given, documentation details for all',
  '    commands are returned.',
  'GETKEYS <full-command>',
  '    Return the keys from a full Redis command.',
  'GETKEYSANDFLAGS <full-command>',
  '    Return the keys and the access flags from a full Redis command.',
])

// ---- DEBUG ----------------------------------------------------------------------------------

/** Blocks the event loop, as DEBUG SLEEP blocks Redis. */
function sleepBlocking(ms: number): void {
  if (!(ms > 0)) return
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

const DEBUG_HELP = helpLines('DEBUG', [
  'RELOAD [option ...]',
  '    Save the pool (a checkpoint) and reload the dataset from it. Options:',
  '    * NOSAVE: skip the checkpoint.',
  'SET-ACTIVE-EXPIRE <0|1>',
  '    Setting it to 0 disables expiring keys in background when they are not',
  '    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the',
  '    default.',
  'SLEEP <seconds>',
  '    Stop the server for <seconds>. Decimals allowed.',
])

/** DEBUG SET-ACTIVE-EXPIRE state, read by the server's active expiry cycle. */
export const debugFlags = { activeExpire: true }

const debug: Handler = (ctx, argv) => {
  const sub = lower(argv[1])
  const n = argv.length
  if (sub === 'help' && n === 2) {
    writeHelp(ctx, DEBUG_HELP)
  } else if (sub === 'sleep' && n === 3) {
    const seconds = Number((argv[2] as Buffer).toString('latin1'))
    sleepBlocking(Number.isFinite(seconds) ? seconds * 1000 : 0)
    ctx.reply.simple('OK')
  } else if (sub === 'set-active-expire' && n === 3) {
    debugFlags.activeExpire = (argv[2] as Buffer).toString('latin1') !== '0'
    ctx.reply.simple('OK')
  } else if (sub === 'reload') {
    if (ctx.store === null) {
      ctx.reply.error('LOADING Redis is loading the dataset in memory')
      return
    }
    let saveFirst = true
    for (let i = 2; i < n; i++) {
      const o = lower(argv[i])
      if (o === 'nosave') saveFirst = false
      else if (o !== 'merge' && o !== 'noflush') {
        ctx.reply.error('ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.')
        return
      }
    }
    const sv = services(ctx)
    const store = ctx.store
    sv.afterCommit(() => {
      if (saveFirst) store.checkpointNow()
      store.reload()
    })
    sv.tracking.flushed() // Redis's emptyData: signalFlushedDb
    ctx.reply.simple('OK')
  } else {
    ctx.reply.error(`ERR unknown subcommand or wrong number of arguments for '${
      (argv[1] as Buffer).toString('latin1')}'. Try DEBUG HELP.`)
  }
}

// ---- the table entries ----------------------------------------------------------------------

const ADMIN = ['admin', 'noscript', 'loading', 'stale'] as const
const ADMIN_CATS = ['admin', 'slow', 'dangerous']

function spec(name: string, arity: number, flags: readonly CommandFlag[], categories: string[],
  handler: Handler, extra: Partial<CommandSpec> = {}): CommandSpec {
  return { name, arity, flags, firstKey: 0, lastKey: 0, step: 0, categories, handler, ...extra }
}

const parent: Handler = (ctx) => ctx.reply.error(ERR_SYNTAX)

function container(name: string, subs: CommandSpec[], flags: readonly CommandFlag[] = [],
  categories = ['slow']): CommandSpec {
  return spec(name, -2, flags, categories, parent, { subcommands: subs })
}

const help = (lines: string[]): Handler => (ctx) => writeHelp(ctx, lines)
const CONNECTION = ['slow', 'connection']
const LOADING = ['loading', 'stale'] as const

// Summaries, arguments and tips: command-docs.ts.
export const serverAdminCommands: readonly CommandSpec[] = Object.freeze([
  spec('info', -1, LOADING, ['slow', 'dangerous'], info),
  container('config', [
    spec('config|get', -3, ADMIN, ADMIN_CATS, configGet),
    spec('config|set', -4, ADMIN, ADMIN_CATS, configSet),
    spec('config|resetstat', 2, ADMIN, ADMIN_CATS, configResetstat),
    spec('config|rewrite', 2, ADMIN, ADMIN_CATS, configRewrite),
    spec('config|help', 2, LOADING, ['slow'], help(CONFIG_HELP)),
  ]),
  spec('dbsize', 1, ['readonly', 'fast'], ['keyspace', 'read', 'fast'], dbsize),
  spec('time', 1, ['loading', 'stale', 'fast'], ['fast'], time),
  spec('lastsave', 1, ['loading', 'stale', 'fast'], ['admin', 'fast', 'dangerous'], lastsave),
  spec('save', 1, ['admin', 'noscript', 'no_async_loading', 'no_multi'], ADMIN_CATS, save),
  spec('bgsave', -1, ['admin', 'noscript', 'no_async_loading'], ADMIN_CATS, bgsave),
  spec('bgrewriteaof', 1, ['admin', 'noscript', 'no_async_loading'], ADMIN_CATS, bgrewriteaof),
  spec('shutdown', -1, ['admin', 'noscript', 'loading', 'stale', 'no_multi', 'allow_busy'],
    ADMIN_CATS, shutdown),
  spec('wait', 3, ['noscript'], CONNECTION, wait),
  spec('waitaof', 4, ['noscript'], CONNECTION, waitaof),
  container('slowlog', [
    spec('slowlog|get', -2, ['admin', 'loading', 'stale'], ADMIN_CATS, slowlogGet),
    spec('slowlog|len', 2, ['admin', 'loading', 'stale'], ADMIN_CATS,
      (ctx) => ctx.reply.integer(services(ctx).slowlog.entries.length)),
    spec('slowlog|reset', 2, ['admin', 'loading', 'stale'], ADMIN_CATS,
      (ctx) => { services(ctx).slowlog.reset(); ctx.reply.simple('OK') }),
    spec('slowlog|help', 2, LOADING, ['slow'], help(SLOWLOG_HELP)),
  ]),
  spec('monitor', 1, ADMIN, ADMIN_CATS, monitor),
  spec('command', -1, LOADING, CONNECTION, commandAll, {
    subcommands: [
      spec('command|count', 2, LOADING, CONNECTION, commandCount),
      spec('command|info', -2, LOADING, CONNECTION, commandInfo),
      spec('command|docs', -2, LOADING, CONNECTION, commandDocs),
      spec('command|getkeys', -4, LOADING, CONNECTION, commandGetkeys),
      spec('command|getkeysandflags', -4, LOADING, CONNECTION, commandGetkeysandflags),
      spec('command|list', -2, LOADING, CONNECTION, commandList),
      spec('command|help', 2, LOADING, CONNECTION, help(COMMAND_HELP)),
    ],
  }),
  spec('debug', -2, ['admin', 'noscript', 'loading', 'stale', 'protected'], ADMIN_CATS, debug),
] as CommandSpec[])

/** Names of every CONFIG parameter (for tests and docs). */
export const CONFIG_NAMES = CONFIG_PARAMS.map((p) => p.name)
export { quoteConfigArg }
