// What server-level handlers (CLIENT, CONFIG, INFO, SLOWLOG, MONITOR, SHUTDOWN, COMMAND…) see
// of the server: its configuration, its clients, its statistics and a few actions. The server
// (L5) builds one ServerServices and passes it as CommandContext.server; handlers reach it
// through services(ctx). Keeping it here (L4) lets commands depend on it without importing the
// server, so every import still runs downhill.
// Invariants: `store` is null exactly while the pool is being recovered (loading); `clients`
// holds every open connection, keyed by its id; statistics only grow until CONFIG RESETSTAT.

import type { OutputBuffer } from '../resp/writer.js'
import type { ServerConfig } from '../server-config.js'
import type { Store } from '../txn/engine.js'
import type { ScrubDriver } from '../txn/scrub-driver.js'
import type { WatchIndex } from '../txn/watch.js'
import type { AclRegistry } from './acl.js'
import type { Evictor } from './evict.js'
import type { LatencyHistogram } from './latency-histogram.js'
import type { PubSub } from './pubsub.js'
import type { Tracking } from './tracking.js'
import type { ClientState, CommandContext, CommandSpec } from './spec.js'

/** One connection as handlers see it (the server's Connection implements it). */
export interface ClientHandle {
  readonly state: ClientState
  /** "ip:port" of the peer and of our socket. */
  readonly addr: string
  readonly laddr: string
  readonly fd: number
  readonly createdAtMs: number
  /** Time of the last command (CLIENT LIST idle). */
  lastInteractionMs: number
  /** Full name of the last command ('client|list'). */
  lastCommand: string
  /** CLIENT REPLY. */
  replyMode: 'on' | 'off' | 'skip'
  noEvict: boolean
  noTouch: boolean
  libName: string
  libVersion: string
  /** Set once the client became a MONITOR. */
  monitor: boolean
  /** Parked by a blocking command. */
  readonly blocked: boolean
  /** The peer is on a loopback address (enable-debug-command local). */
  readonly isLocal: boolean
  /** Close once the replies so far are written (QUIT, protocol errors, CLIENT KILL of self). */
  closeAfterReply(): void
  /** Close now (CLIENT KILL of another client). */
  kill(): void
  queryBufferBytes(): number
  /** The room Redis's query buffer would have left with `heldBytes` in it (qbuf-free). */
  queryBufferFreeBytes(heldBytes: number): number
  /** Reply bytes produced and not yet handed to the kernel. */
  outputBytes(): number
  /** Append a line to this client's output as a MONITOR feed (already RESP-encoded). */
  monitorFeed(bytes: Buffer): void
  /**
   * Append a pub/sub push (already encoded in this client's protocol) to its output. It leaves
   * with the client's next release of output: after the pending group commit (DESIGN rule 2).
   */
  pubsubFeed(bytes: Buffer): void
  /**
   * Write a pub/sub message into this client's output, in its protocol (no bytes made for it
   * first); it leaves like pubsubFeed's, after the pending group commit (DESIGN rule 2).
   */
  pubsubPush(message: PushMessage): void
}

/** A pub/sub message that writes itself into an output (commands/pubsub.ts's Push). */
export interface PushMessage {
  /** Writes the push into `out` in `proto` (RESP2: an array; RESP3: a push). */
  writeIn(out: OutputBuffer, proto: 2 | 3): void
}

export interface CommandStat {
  calls: number
  usec: number
  rejectedCalls: number
  failedCalls: number
  /** Its calls' latencies, as Redis's HDR histogram (LATENCY HISTOGRAM, INFO latencystats;
   * commands/latency-histogram.ts); made at the first call timed. */
  histogram?: LatencyHistogram
}

export class ServerStats {
  totalConnectionsReceived = 0
  totalCommandsProcessed = 0
  rejectedConnections = 0
  expiredKeys = 0
  /** Keys evicted under maxmemory or the pool's limit (commands/evict.ts). */
  evictedKeys = 0
  /** Values Redis would have freed in its lazy-free thread (commands/lazyfree.ts). */
  lazyfreedObjects = 0
  totalErrorReplies = 0
  netInputBytes = 0
  netOutputBytes = 0
  keyspaceHits = 0
  keyspaceMisses = 0
  /** Socket reads handled and writes issued (INFO total_reads/writes_processed). */
  readsProcessed = 0
  writesProcessed = 0
  expireCycleMs = 0
  /** Corruption reports seen by this process (startup refusals never reach a running server). */
  corruptionEvents = 0
  /**
   * Durability warnings of this start (PMEM_IS_PMEM_FORCE on a disk-backed pool; a damaged
   * redundant metadata copy), shown in INFO persistence as pool_warnings; main.ts fills it.
   */
  poolWarnings: string[] = []
  readonly commands = new Map<string, CommandStat>()
  readonly errors = new Map<string, number>()
  /** Ops per second over the last second (sampled by the server's cron). */
  instantaneousOps = 0

  commandStat(name: string): CommandStat {
    let s = this.commands.get(name)
    if (s === undefined) {
      s = { calls: 0, usec: 0, rejectedCalls: 0, failedCalls: 0 }
      this.commands.set(name, s)
    }
    return s
  }

  /**
   * A script's error reply already counted where it arose (a redis.call error: Redis's
   * ignore_error_stats_update): the next countError of exactly this text is skipped.
   */
  uncountedError: string | null = null

  countError(message: string): void {
    const skip = this.uncountedError === message
    this.uncountedError = null
    if (skip) return
    this.totalErrorReplies++
    const space = message.indexOf(' ')
    const code = space < 0 ? message : message.slice(0, space)
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1)
  }

  reset(): void {
    this.totalConnectionsReceived = 0
    this.totalCommandsProcessed = 0
    this.rejectedConnections = 0
    this.expiredKeys = 0
    this.evictedKeys = 0
    this.lazyfreedObjects = 0
    this.totalErrorReplies = 0
    this.netInputBytes = 0
    this.netOutputBytes = 0
    this.keyspaceHits = 0
    this.keyspaceMisses = 0
    this.readsProcessed = 0
    this.writesProcessed = 0
    this.expireCycleMs = 0
    this.commands.clear()
    this.errors.clear()
  }
}

export interface SlowLogEntry {
  id: number
  timestampS: number
  durationUs: number
  argv: Buffer[]
  addr: string
  name: string
}

/** SLOWLOG: newest first, bounded by slowlog-max-len. */
export class SlowLog {
  entries: SlowLogEntry[] = []
  nextId = 0

  add(entry: Omit<SlowLogEntry, 'id'>, maxLength: number): void {
    this.entries.unshift({ id: this.nextId++, ...entry })
    if (this.entries.length > maxLength) this.entries.length = maxLength
  }

  reset(): void {
    this.entries = []
  }
}

export interface LoadingState {
  startedAtMs: number
  bytesTotal: number
  bytesDone: number
  records: number
}

export interface CommandTable {
  /** Top-level commands by lower-case name. */
  readonly byName: ReadonlyMap<string, CommandSpec>
  /** Subcommands by lower-case 'parent|sub'. */
  readonly subcommands: ReadonlyMap<string, ReadonlyMap<string, CommandSpec>>
  readonly all: readonly CommandSpec[]
}

export interface ShutdownOptions {
  save: boolean | null
  now: boolean
  force: boolean
}

export interface ServerServices {
  readonly config: ServerConfig
  readonly stats: ServerStats
  readonly slowlog: SlowLog
  readonly clients: ReadonlyMap<number, ClientHandle>
  readonly table: CommandTable
  readonly watch: WatchIndex
  /** Channels, patterns and their subscribers (commands/pubsub.ts). */
  readonly pubsub: PubSub
  /** ACL users and the ACL LOG (commands/acl.ts). */
  readonly acl: AclRegistry
  /** Client-side caching: the tracking table and its clients (commands/tracking.ts). */
  readonly tracking: Tracking
  readonly startedAtMs: number
  readonly runId: string
  readonly version: string
  readonly executable: string
  /** The open store, or null while the pool is being recovered. */
  readonly store: Store | null
  /** The background scrub of the open store (txn/scrub-driver.ts), null while loading. */
  readonly scrub: ScrubDriver | null
  readonly loading: LoadingState | null
  readonly poolPath: string
  /** Time (ms) of the last completed checkpoint, or of startup. */
  lastSaveAtMs: number
  /** The connection of a client state. */
  handleOf(client: ClientState): ClientHandle
  /** Run `fn` once the current command's (or EXEC's) transaction has committed. */
  afterCommit(fn: () => void): void
  /** How many afterCommit functions wait now: a mark for dropAfterCommitFrom. */
  afterCommitMark?(): number
  /** Forget the afterCommit functions queued since `mark` (a rolled-back script attempt). */
  dropAfterCommitFrom?(mark: number): void
  /**
   * MONITOR: show `argv` as run in `db` by `client`, or by a script's client (null: "lua"), to
   * every monitoring client (Redis's replicationFeedMonitors); absent without a server.
   */
  feedMonitors?(client: ClientState | null, db: number, argv: readonly Buffer[]): void
  /** Write a line to the server's log (redis.log); absent without a server. */
  log?(level: 'debug' | 'verbose' | 'notice' | 'warning', message: string): void
  /** Clients parked by blocking commands (INFO blocked_clients). */
  blockedClientCount(): number
  /** CLIENT UNBLOCK: true when the client was blocked (and is now unblocked). */
  unblockClient(clientId: number, withError: boolean): boolean
  /** Begin an orderly shutdown; returns an error text instead when it cannot. */
  shutdown(options: ShutdownOptions): string | null
  /** Extra INFO lines for a section, provided by the server (e.g. persistence). */
  peakMemoryBytes: number
  /** maxmemory and the eviction policies (commands/evict.ts); absent in embedded uses. */
  readonly evictor?: Evictor
}

export function services(ctx: CommandContext): ServerServices {
  return ctx.server as ServerServices
}

/** Redis's addReplyHelp: "<CMD> <subcommand> …" then the lines, then HELP. */
export function helpLines(command: string, lines: readonly string[]): string[] {
  return [
    `${command.toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`,
    ...lines,
    'HELP',
    '    Prints this help.',
  ]
}
