// The network server: a net.Server per bind address, one Connection per client socket, and the
// loop parse → dispatch → reply for each of them.
// Invariants, and why:
// - DURABILITY (DESIGN rule 2): a reply never reaches a socket before every commit it may depend
//   on is durable. After each batch of requests a connection takes its replies from its
//   OutputBuffer; if the store holds appended but uncommitted records (hasUncommitted) they are
//   held and released by store.afterDurable — once per group commit for all waiting
//   connections — else they are written at once. A read that saw a tentative value is covered
//   too: the value's record is uncommitted when the read's batch ends. Held replies keep their
//   order: a connection with held replies never writes around them.
// - Order: requests of one connection are executed in arrival order and their replies appended
//   in that order (pipelining); the reader is fed and drained synchronously.
// - Reads bypass the Readable stream: every socket reads into one static buffer (net.Socket's
//   `onread`), which the reader copies from before the callback returns (RequestReader with
//   reusedChunks), so the next read of any socket may overwrite it. No Buffer is allocated per
//   read.
// - Backpressure: a connection stops reading (socket.pause) while more than
//   OUTPUT_PAUSE_BYTES of its replies are unsent (held + kernel-bound), and resumes on drain, so a
//   client that never reads costs bounded memory. client-output-buffer-limit is enforced on top,
//   with Redis's syntax: the normal class (default 0 0 0: no limit), and the pubsub class for
//   subscribed clients (default 32mb 8mb 60), which pub/sub messages alone can fill, since a
//   publisher never waits for its subscribers.
// - Pub/sub messages (commands/pubsub.ts) are appended to the subscriber's output and leave
//   through flushOutput like replies: held while any appended transaction is not yet durable,
//   so a PUBLISH issued after a write never overtakes the write's group commit.
// - Protocol errors are answered with Redis's text and the connection is closed after the
//   reply; a query buffer over client-query-buffer-limit closes it without a reply.
// - While the pool is being recovered `store` is null: dispatch answers -LOADING for commands
//   without the `loading` flag, and INFO reports progress.

import { randomBytes } from 'node:crypto'
import net from 'node:net'
import tls from 'node:tls'
import { nowMs } from './clock.js'
import { Dispatcher, reprArg, type Session } from './commands/dispatch.js'
import { busyError, busyState } from './commands/busy.js'
import { activeExpireCycle } from './commands/expire.js'
import { Evictor } from './commands/evict.js'
import { accessSettings, accessTick } from './state/lru.js'
import { expiryPaused } from './commands/client-pause.js'
import { latencySample } from './commands/latency.js'
import { applyEncodingConfig, ENCODING_CONFIG_NAMES } from './commands/encoding.js'
import { OutputSink } from './commands/reply-sink.js'
import { debugFlags, CAPYKV_VERSION } from './commands/server-admin.js'
import {
  ServerStats, SlowLog, type ClientHandle, type CommandTable, type LoadingState,
  type PushMessage, type ServerServices, type ShutdownOptions,
} from './commands/services.js'
import { newClientState } from './commands/connection.js'
import {
  AclRegistry, DENIED_TEXT, isLocalAddress, protectedModeDenies,
} from './commands/acl.js'
import { PubSub } from './commands/pubsub.js'
import { Tracking } from './commands/tracking.js'
import { NOTIFY_EXPIRED, keyspaceDeliveries } from './commands/notify.js'
import type { ClientState } from './commands/spec.js'
import { Args } from './resp/args.js'
import { ProtocolError, RequestReader } from './resp/reader.js'
import { QueryBufferModel } from './resp/query-buffer.js'
import { OutputBuffer } from './resp/writer.js'
import {
  findParam, keyspaceEventsFlags, parseOutputBufferLimits, type ServerConfig,
} from './server-config.js'
import type { DelEvent } from './state/core-events.js'
import type { KeyspaceObserver } from './state/keyspace.js'
import { logger, type LogLevel } from './server-log.js'
import { isTlsContextSetting, tlsContextOptions } from './server-tls.js'
import { listenNow } from './server-listen.js'
import type { Store } from './txn/engine.js'
import { ScrubDriver } from './txn/scrub-driver.js'
import type { ScrubDamage } from './storage/scrub.js'
import { WatchIndex } from './txn/watch.js'

/** Stop reading a client once this many of its reply bytes are unsent. */
export const OUTPUT_PAUSE_BYTES = 1024 * 1024
/**
 * Requests executed per connection before yielding to other connections, and the time one
 * connection's batch may take (checked every TURN_CLOCK_EVERY requests). Past either, the
 * connection stops reading its socket and continues on the next turn (setImmediate), reading
 * again only once its buffered requests are done: one client's huge pipeline costs the others
 * at most a slice per turn, and what it has sent waits in the kernel, not in our memory (Redis
 * bounds the same by reading 16 KiB per client per event-loop iteration).
 */
export const REQUESTS_PER_TURN_MAX = 1024
const TURN_MS_MAX = 5
const TURN_CLOCK_EVERY = 64
/** A new connection's reply buffer (it grows on demand). */
const OUTPUT_INITIAL_BYTES = 256
/**
 * Unread replies a client that must still authenticate may have (Redis 7.0.15 as Debian ships
 * it, with the fix for CVE-2025-21605: past its 16 KiB reply buffer, more than 1 KiB closes the
 * client). Without it a peer could pipeline wrong AUTHs and never read, growing our memory.
 */
const UNAUTHENTICATED_OUTPUT_MAX = 16384 + 1024
/** The static read buffer shared by every socket (one read delivers at most this much). */
const READ_BUFFER_BYTES = 64 * 1024
/** Active expiry: keys sampled per call, and the time budget per cycle when many expire. */
const EXPIRE_SAMPLE_KEYS = 200
const EXPIRE_SLOW_CYCLE_MS_MAX = 25

function peerAddress(host: string | undefined, port: number | undefined): string {
  const h = (host ?? '?').replace(/^::ffff:/, '')
  return `${h}:${port ?? 0}`
}


/** The most arguments a request is read with as slab ranges; more come as an argv. */
const ARGS_VIEW_MAX = 64

/** Read into by every socket; the reader copies each read before the next one. */
const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)

/**
 * A socket that reads into `readBuffer` and calls `onRead(chunk)` for each read, without the
 * Readable machinery (a Buffer, a push and a 'data' emit per read). `onread` is a net.Socket
 * constructor option only, so the accepted socket's handle (the server pauses new sockets
 * before their first read) moves to a new net.Socket made with it; the emptied original is
 * destroyed, which closes nothing. Falls back to 'data' events if the handle is not there.
 */
function adoptSocket(accepted: net.Socket, onRead: (chunk: Buffer) => void): net.Socket {
  const internal = accepted as unknown as { _handle: object | null }
  const handle = internal._handle
  // A TLS socket's handle is its TLS layer: it stays, and reads come as 'data' events.
  if (handle === null || accepted.destroyed || accepted instanceof tls.TLSSocket) {
    accepted.on('data', onRead)
    accepted.resume()
    return accepted
  }
  internal._handle = null
  accepted.destroy()
  return new net.Socket({
    handle, readable: true, writable: true,
    onread: {
      buffer: readBuffer,
      callback: (bytes: number) => {
        onRead(readBuffer.subarray(0, bytes))
      },
    },
  } as net.SocketConstructorOpts)
}

export class Connection implements ClientHandle, Session {
  readonly state: ClientState
  readonly reader: RequestReader
  /** What Redis's query buffer would hold for this connection (CLIENT LIST qbuf-free). */
  private readonly queryBuffer = new QueryBufferModel()
  /** The request being run: ranges of the reader's input slab, refilled per request. */
  private readonly args = new Args(ARGS_VIEW_MAX)
  readonly out: OutputBuffer
  readonly sink: OutputSink
  readonly addr: string
  readonly laddr: string
  readonly fd: number
  readonly createdAtMs: number
  readonly isLocal: boolean
  readonly socket: net.Socket
  lastInteractionMs: number
  lastCommand = ''
  replyMode: 'on' | 'off' | 'skip' = 'on'
  noEvict = false
  get noTouch(): boolean { return this.state.noTouch === true }
  set noTouch(on: boolean) { this.state.noTouch = on }
  libName = ''
  libVersion = ''
  private isMonitor = false
  /** In the server's list of subscribers to flush at the end of this turn. */
  pubsubPending = false
  /** Replies waiting for a group commit, in order. */
  private held: Buffer[] = []
  private heldBytes = 0
  /** Registered with the server for the next durable point. */
  waiting = false
  /** Parked by a blocking command (BLPOP…): later requests wait. */
  blocked = false
  private closing = false
  private closed = false
  private pausedForOutput = false
  /** Stopped reading because a batch used its turn (REQUESTS_PER_TURN_MAX, TURN_MS_MAX). */
  private pausedForTurn = false
  private turnScheduled = false
  private resumeScheduled = false
  private draining = false
  private softLimitSinceMs = 0

  /** `accepted`: a socket the server accepted paused (it is adopted, see adoptSocket). */
  constructor(readonly server: CapykvServer, accepted: net.Socket, id: number) {
    const sv = server.services
    this.state = newClientState(id, sv.acl.defaultUser)
    this.reader = new RequestReader({
      maxBulkBytes: sv.config.getNumber('proto-max-bulk-len'),
      queryBufferLimitBytes: sv.config.getNumber('client-query-buffer-limit'),
    }, { reusedChunks: true })
    const socket = adoptSocket(accepted, (chunk) => this.onData(chunk))
    this.socket = socket
    // Small at first: an idle connection should cost little; the buffer grows on demand.
    this.out = new OutputBuffer(2, OUTPUT_INITIAL_BYTES)
    this.sink = new OutputSink(this.out)
    this.addr = peerAddress(socket.remoteAddress, socket.remotePort)
    this.laddr = peerAddress(socket.localAddress, socket.localPort)
    const handle = (socket as unknown as { _handle?: { fd?: number } })._handle
    this.fd = handle?.fd ?? -1
    this.createdAtMs = nowMs()
    this.lastInteractionMs = this.createdAtMs
    this.isLocal = isLocalAddress(socket.remoteAddress)
    socket.setNoDelay(true)
    const keepalive = sv.config.getNumber('tcp-keepalive')
    if (keepalive > 0) socket.setKeepAlive(true, keepalive * 1000)
    socket.on('drain', () => this.onDrain())
    socket.on('error', () => this.kill())
    socket.on('close', () => this.onClose())
  }

  get handle(): ClientHandle {
    return this
  }

  get monitor(): boolean {
    return this.isMonitor
  }

  set monitor(on: boolean) {
    this.isMonitor = on
    this.server.setMonitor(this, on)
  }

  queryBufferBytes(): number {
    return this.reader.bufferedBytes
  }

  queryBufferFreeBytes(heldBytes: number): number {
    return this.queryBuffer.freeBytes(heldBytes)
  }

  /** Redis's clientsCronResizeQueryBuffer, on the model of its query buffer (query-buffer.ts). */
  resizeQueryBuffer(now: number): void {
    this.queryBuffer.cron(this.reader.bufferedBytes,
      Math.floor(now / 1000) - Math.floor(this.lastInteractionMs / 1000))
  }

  outputBytes(): number {
    return this.out.length + this.heldBytes + (this.closed ? 0 : this.socket.writableLength)
  }

  closeAfterReply(): void {
    this.closing = true
  }

  kill(): void {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
  }

  /** Served or timed out: hand out the reply now, run pipelined requests on the next turn. */
  resumeAfterBlock(): void {
    this.server.markOutputPending(this)
    setImmediate(() => this.processInput())
  }

  monitorFeed(bytes: Buffer): void {
    if (this.closed) return
    this.out.writeRaw(bytes)
    this.server.markOutputPending(this)
  }

  pubsubFeed(bytes: Buffer): void {
    if (this.closed) return
    if (this.server.options.unsafePublishBeforeDurable === true) {
      this.write(bytes) // the MUTATION (see ServerOptions): around held replies, at once
      return
    }
    this.out.writeRaw(bytes)
    this.server.markPubsubPending(this)
  }

  pubsubPush(message: PushMessage): void {
    if (this.closed) return
    if (this.server.options.unsafePublishBeforeDurable === true) {
      const scratch = new OutputBuffer(this.state.proto, 256)
      message.writeIn(scratch, this.state.proto)
      this.write(scratch.take()) // the MUTATION (see ServerOptions): around held replies, at once
      return
    }
    message.writeIn(this.out, this.state.proto)
    this.server.markPubsubPending(this)
  }

  /** One socket read; `chunk` is overwritten by the next read of any socket. */
  private onData(chunk: Buffer): void {
    const stats = this.server.services.stats
    stats.netInputBytes += chunk.length
    stats.readsProcessed++
    if (this.closing || this.closed) return
    const reader = this.reader
    const before = reader.bufferedBytes
    const bulk = reader.bulkInProgressBytes
    reader.feed(chunk)
    this.queryBuffer.onRead(before, reader.bufferedBytes, bulk)
    if (this.reader.queryBufferLimitReached) {
      logger.warning(`Closing client that reached max query buffer length: id=${this.state.id} ` +
        `addr=${this.addr} qbuf=${this.reader.bufferedBytes} (qbuf initial bytes: "")`)
      this.kill()
      return
    }
    this.processInput()
  }

  /** Execute buffered requests until none is complete, the output is full, or the turn is up. */
  processInput(): void {
    try {
      this.processInputUnsafe()
      const r = this.reader
      this.queryBuffer.afterParse(r.bufferedBytes, r.bulkInProgressBytes, r.bigBulksSeen,
        r.lastBigBulkBytes)
    } catch (e) {
      // A bug must cost one connection, not the server and every other client.
      logger.warning(`Closing client id=${this.state.id} addr=${this.addr} after an internal ` +
        `error: ${(e as Error).stack ?? String(e)}`)
      this.kill()
    }
  }

  private processInputUnsafe(): void {
    const server = this.server
    const dispatcher = server.dispatcher
    const authRequired = server.services.acl.authRequired
    // Nothing reaches the socket during a batch (replies are handed over after it), so what is
    // unsent besides this.out is read once.
    const unsentBytes = this.heldBytes + (this.closed ? 0 : this.socket.writableLength)
    dispatcher.beginBatch()
    try {
      this.runBatch(authRequired, unsentBytes)
    } finally {
      dispatcher.endBatch()
    }
    this.flushOutput()
    server.flushPendingOutputs()
  }

  private runBatch(authRequired: boolean, unsentBytes: number): void {
    const server = this.server
    let executed = 0
    const startedMs = performance.now()
    // A request postponed by CLIENT PAUSE runs first, once the pause has ended.
    if (!this.blocked && server.dispatcher.runPostponed(this)) executed++
    while (!this.closing && !this.closed && !server.stopping && !this.blocked) {
      if (this.out.length + unsentBytes > OUTPUT_PAUSE_BYTES) {
        this.pauseForOutput()
        break
      }
      if (executed >= REQUESTS_PER_TURN_MAX || (executed % TURN_CLOCK_EVERY === 0 &&
          executed > 0 && performance.now() - startedMs > TURN_MS_MAX)) {
        this.yieldTurn()
        break
      }
      this.reader.authRequired = authRequired && !this.state.authenticated
      const request = this.reader.nextArgs(this.args)
      if (request === false) {
        if (this.pausedForTurn) this.resumeAfterTurn()
        break
      }
      if (request instanceof ProtocolError) {
        this.protocolError(request)
        break
      }
      // Redis stamps lastinteraction per read, not per command: one clock read per batch.
      if (executed === 0) this.lastInteractionMs = nowMs()
      executed++
      const skipping = this.replyMode === 'skip'
      if (skipping) this.replyMode = 'on'
      server.dispatcher.execute(this, this.args)
      if (skipping && this.replyMode === 'on') this.sink.unmute()
      this.out.proto = this.state.proto
    }
  }

  private protocolError(error: ProtocolError): void {
    logger.verbose(`Protocol error (${error.message.replace(/^Protocol error: /, '')}) from ` +
      `client: id=${this.state.id} addr=${this.addr}`)
    this.server.services.stats.countError(`ERR ${error.message}`)
    this.out.writeRaw(error.reply)
    this.closing = true
  }

  /** Hand the replies produced so far to the socket, or hold them until durable. */
  flushOutput(): void {
    if (this.closed) return
    if (!this.state.authenticated && this.server.services.acl.authRequired &&
        this.outputBytes() > UNAUTHENTICATED_OUTPUT_MAX) {
      logger.warning(`Client id=${this.state.id} addr=${this.addr} closed for overcoming of ` +
        'output buffer limits (unauthenticated).')
      this.kill()
      return
    }
    const bytes = this.out.take()
    if (bytes.length > 0) {
      const store = this.server.services.store
      if ((this.waiting || (store !== null && store.hasUncommitted)) &&
          this.server.options.unsafeReplyBeforeDurable !== true) {
        this.held.push(bytes)
        this.heldBytes += bytes.length
        this.server.waitForDurable(this)
      } else {
        this.write(bytes)
      }
    }
    if (this.closing && !this.waiting) this.endSocket()
    this.checkOutputLimits()
    this.maybeResume()
  }

  /** The group commit covering this connection's held replies is durable. */
  releaseHeld(): void {
    this.waiting = false
    if (this.closed) return
    const held = this.held
    this.held = []
    this.heldBytes = 0
    // Several batches held for one commit leave in one writev.
    const corked = held.length > 1
    if (corked) this.socket.cork()
    for (const b of held) this.write(b)
    if (corked) this.socket.uncork()
    if (this.closing) this.endSocket()
    this.maybeResume()
  }

  private write(bytes: Buffer): void {
    const stats = this.server.services.stats
    stats.netOutputBytes += bytes.length
    stats.writesProcessed++
    this.socket.write(bytes)
  }

  private endSocket(): void {
    if (this.closed || this.draining) return
    this.draining = true
    // Closed once the last reply is handed to the kernel, as Redis close()s a CLOSE_AFTER_REPLY
    // client after writing to it: a peer still sending then gets a reset, not a half-open socket
    // that swallows its writes (Redis's protocol desync tests wait for that error).
    this.socket.end(() => this.kill())
    // A peer that never reads must not keep the socket open forever.
    setTimeout(() => this.kill(), 10_000).unref()
  }

  /** The batch used its turn: stop reading, continue on the next turn. */
  private yieldTurn(): void {
    if (!this.pausedForTurn) {
      this.pausedForTurn = true
      this.socket.pause()
    }
    if (this.turnScheduled) return
    this.turnScheduled = true
    setImmediate(() => {
      this.turnScheduled = false
      this.processInput()
    })
  }

  /** Every buffered request is done: read the socket again (unless paused for output). */
  private resumeAfterTurn(): void {
    this.pausedForTurn = false
    if (!this.pausedForOutput && !this.closed) this.socket.resume()
  }

  private pauseForOutput(): void {
    if (this.pausedForOutput) return
    this.pausedForOutput = true
    this.socket.pause()
  }

  private onDrain(): void {
    this.maybeResume()
  }

  /**
   * Resume reading once the unsent output is under the threshold again. Called on 'drain' and
   * after every write: a write that the kernel took whole emits no 'drain'.
   */
  private maybeResume(): void {
    if (!this.pausedForOutput || this.closed || this.resumeScheduled) return
    if (this.outputBytes() > OUTPUT_PAUSE_BYTES) return
    this.resumeScheduled = true
    setImmediate(() => {
      this.resumeScheduled = false
      if (!this.pausedForOutput || this.closed) return
      if (this.outputBytes() > OUTPUT_PAUSE_BYTES) return
      this.pausedForOutput = false
      if (!this.pausedForTurn) this.socket.resume()
      this.processInput()
    })
  }

  /**
   * client-output-buffer-limit (Redis's checkClientOutputBufferLimits): the pubsub class while
   * the client is subscribed, else the normal class.
   */
  checkOutputLimits(): void {
    if (this.closed) return
    const server = this.server
    const limit = server.services.pubsub.isSubscribed(this.state.id) ? server.outputLimitPubsub
      : server.outputLimit
    if (limit === null) return
    const pending = this.outputBytes()
    let over = limit.hardBytes > 0 && pending >= limit.hardBytes
    if (!over && limit.softBytes > 0 && pending >= limit.softBytes) {
      const now = nowMs()
      if (this.softLimitSinceMs === 0) this.softLimitSinceMs = now
      else over = now - this.softLimitSinceMs >= limit.softSeconds * 1000
    } else if (!over) {
      this.softLimitSinceMs = 0
    }
    if (over) {
      logger.warning(`Client id=${this.state.id} addr=${this.addr} closed for overcoming of ` +
        'output buffer limits.')
      this.kill()
    }
  }

  private onClose(): void {
    this.closed = true
    this.server.dispatcher.forgetPostponed(this)
    this.server.removeConnection(this)
  }
}

export interface ServerOptions {
  config: ServerConfig
  table: CommandTable
  poolPath: string
  executable?: string | undefined
  /**
   * MUTATION, for test/sim/server-crash.test.ts only (the test of the test): hand replies to
   * the socket at once, before the group commit they depend on is durable — a deliberately
   * broken rule 2 that the crash test must catch. Never settable from config or the CLI.
   */
  unsafeReplyBeforeDurable?: boolean
  /**
   * MUTATION, for test/sim/pubsub-durable.test.ts only (the test of the test): write pub/sub
   * messages to subscribers' sockets at once, before the group commit of a write published
   * after — a deliberately broken rule 2. Never settable from config or the CLI.
   */
  unsafePublishBeforeDurable?: boolean
}

/**
 * The scrub's findings, in the log at once (txn/scrub-driver.ts). `corruptKeys`: keys whose
 * record failed when the deferred index applied it (state/keyspace.ts): their values are not in
 * memory, and no checkpoint runs while any is marked, so the damage cannot be healed then.
 */
function logScrub(r: { found: ScrubDamage[]; healed: ScrubDamage[] }, corruptKeys: number): void {
  for (const d of r.found) {
    logger.warning(`Pool scrub: damaged ${d.kind} record at offset ${d.offset} (lsn ${d.lsn}): ` +
      `${d.reason}. ` + (corruptKeys === 0
      ? 'The state in memory was verified at startup and is intact; a checkpoint now rewrites ' +
        'it past the damaged record, so that the next start does not read it.'
      : `${corruptKeys} keys answer -CORRUPT (a record of theirs failed when indexed: INFO ` +
        'pool_corrupt_keys); no checkpoint runs while they do, so the damage stays unhealed ' +
        'until FLUSHDB/FLUSHALL clears them, or capykv-check --repair (server stopped) ' +
        'salvages the history before the damage into a new pool.'))
  }
  for (const d of r.healed) {
    logger.notice(`Pool scrub: the damaged record at offset ${d.offset} (lsn ${d.lsn}) is healed: ` +
      'a checkpoint moved the head past it.')
  }
}

/** ServerServices over a CapykvServer (what handlers see). */
class Services implements ServerServices {
  readonly stats = new ServerStats()
  readonly slowlog = new SlowLog()
  readonly startedAtMs = nowMs()
  readonly runId = randomBytes(20).toString('hex')
  readonly version = CAPYKV_VERSION
  readonly pubsub = new PubSub()
  readonly acl: AclRegistry
  readonly tracking: Tracking = new Tracking(() => this)
  store: Store | null = null
  scrub: ScrubDriver | null = null
  loading: LoadingState | null = null
  lastSaveAtMs = nowMs()
  peakMemoryBytes = 0
  readonly evictor: Evictor
  constructor(private readonly server: CapykvServer, readonly config: ServerConfig,
    readonly table: CommandTable, readonly watch: WatchIndex, readonly poolPath: string,
    readonly executable: string) {
    this.acl = new AclRegistry(this)
    this.evictor = new Evictor({ services: this, clientsMemory: () => server.clientsMemory })
  }
  get clients(): ReadonlyMap<number, ClientHandle> {
    return this.server.connections
  }
  handleOf(client: ClientState): ClientHandle {
    const c = this.server.connections.get(client.id)
    if (c === undefined) throw new Error(`no connection for client ${client.id}`)
    return c
  }
  afterCommit(fn: () => void): void {
    this.server.dispatcher.defer(fn)
  }
  afterCommitMark(): number {
    return this.server.dispatcher.deferredCount()
  }
  dropAfterCommitFrom(mark: number): void {
    this.server.dispatcher.dropDeferredFrom(mark)
  }
  blockedClientCount(): number {
    return this.server.dispatcher.blocking.size + this.server.dispatcher.postponedCount
  }
  log(level: LogLevel, message: string): void {
    logger.log(level, message)
  }
  feedMonitors(client: ClientState | null, db: number, argv: readonly Buffer[]): void {
    const origin = client === null ? 'lua' : this.handleOf(client).addr
    this.server.feedMonitorLine(db, origin, argv)
  }
  unblockClient(clientId: number, withError: boolean): boolean {
    return this.server.dispatcher.unblockClient(clientId, withError)
  }
  shutdown(options: ShutdownOptions): string | null {
    // A busy script: only SHUTDOWN NOSAVE goes on (it drops the script, see requestShutdown).
    const busy = busyError()
    if (busy !== null && options.save !== false) return busy
    this.server.requestShutdown(options.save !== false && this.config.get('save') !== '' ||
      options.save === true, 'User requested shutdown...')
    return null
  }
}

type ListenKind = 'TCP' | 'TLS'

interface OutputLimit { hardBytes: number; softBytes: number; softSeconds: number }

/** Per connection in used_memory (see CapykvServer.clientsMemory; docs/server.md "Memory"). */
const CLIENT_MEMORY_BYTES = 16 * 1024

export class CapykvServer {
  readonly connections = new Map<number, Connection>()
  readonly services: Services
  readonly dispatcher: Dispatcher
  readonly watch: WatchIndex
  /** The listening sockets, plain and TLS; replaced whole by CONFIG SET port/tls-port/bind. */
  private tcpListeners: net.Server[] = []
  private tlsListeners: net.Server[] = []
  /** What each kind listens on (the port bound when 0 asked for one at startup). */
  private readonly listening: Record<ListenKind, { words: readonly string[]; port: number }> = {
    TCP: { words: [], port: 0 }, TLS: { words: [], port: 0 } }
  private readonly monitors = new Set<Connection>()
  private readonly pendingOutput = new Set<Connection>()
  /** Connections with pubsubPending set, each once: flushed by flushPubsubFn. */
  private pubsubPending: Connection[] = []
  private pubsubFlushScheduled = false
  private waitingDurable: Connection[] = []
  private durableRegistered = false
  private nextClientId = 1
  private timers: NodeJS.Timeout[] = []
  private opsSamples: number[] = []
  stopping = false
  outputLimit: OutputLimit | null = null
  outputLimitPubsub: OutputLimit | null = null
  /** Called when the process should exit (after shutdown); main sets process.exit. */
  onExit: (code: number) => void = (code) => process.exit(code)

  constructor(readonly options: ServerOptions) {
    this.watch = new WatchIndex(nowMs)
    this.services = new Services(this, options.config, options.table, this.watch,
      options.poolPath, options.executable ?? process.argv[1] ?? '')
    const server = this
    this.dispatcher = new Dispatcher(this.services, this.watch, new OutputBuffer(2), {
      get hasMonitors() { return server.monitors.size > 0 },
      feedMonitors: (session, argv) => this.feedMonitors(session, argv),
      sessionOf: (id) => this.connections.get(id),
      resume: (session) => (session as Connection).resumeAfterBlock(),
    })
    this.applyOutputLimit(options.config.get('client-output-buffer-limit'))
    for (const name of ENCODING_CONFIG_NAMES) applyEncodingConfig(name, options.config.get(name))
    this.applyKeyspaceEvents()
    this.applyEvictionConfig()
    options.config.setApplier(['port'], () => this.relisten(['TCP']))
    options.config.setApplier(['tls-port'], () => this.relisten(['TLS']))
    options.config.setApplier(['bind'], () => this.relisten(['TCP', 'TLS']))
    options.config.onChange((name, value) => {
      applyEncodingConfig(name, value)
      if (name === 'notify-keyspace-events') this.applyKeyspaceEvents()
      if (name.startsWith('maxmemory') || name.startsWith('lfu-')) this.applyEvictionConfig(name)
      if (name === 'client-output-buffer-limit') this.applyOutputLimit(value)
      if (name === 'requirepass') this.services.acl.setDefaultPassword(value)
      if (isTlsContextSetting(name)) this.reloadTls()
      if (name === 'hz') this.startCron()
      if (name === 'loglevel') logger.level = value as typeof logger.level
      const noEffect = findParam(name)?.noEffect
      if (noEffect !== undefined) {
        logger.notice(`CONFIG SET ${name}: accepted, no effect in capykv (${noEffect})`)
      }
    })
  }

  private applyOutputLimit(value: string): void {
    const limits = parseOutputBufferLimits(value)
    const effective = (l: OutputLimit | undefined): OutputLimit | null =>
      l === undefined || (l.hardBytes === 0 && l.softBytes === 0) ? null : l
    this.outputLimit = effective(limits.get('normal'))
    this.outputLimitPubsub = effective(limits.get('pubsub'))
  }

  get store(): Store | null {
    return this.services.store
  }

  /**
   * Listen on every bind address, on `port` (TCP) and `tls-port` (TLS); resolves with the
   * addresses bound. With a tls-port, port 0 means TLS only (Redis's meaning); without one,
   * port 0 asks the system for a free port (tests).
   */
  async listen(): Promise<string[]> {
    const config = this.services.config
    const port = config.getNumber('port')
    const tlsPort = config.getNumber('tls-port')
    const words = config.get('bind').split(' ').filter((w) => w !== '')
    const bound: string[] = []
    if (port > 0 || tlsPort === 0) {
      for (const word of words) {
        if (await this.listenOn(this.makeListener('TCP'), word, port, 'TCP')) {
          bound.push(`${word}:${port}`)
        }
      }
    }
    if (tlsPort > 0) {
      for (const word of words) {
        const srv = this.makeListener('TLS') // throws a one-line reason
        if (await this.listenOn(srv, word, tlsPort, 'TLS')) bound.push(`${word}:${tlsPort} (tls)`)
      }
    }
    const tcpAddress = this.tcpListeners[0]?.address()
    this.listening.TCP = { words, port: typeof tcpAddress === 'object' && tcpAddress !== null ?
      tcpAddress.port : 0 }
    this.listening.TLS = { words, port: tlsPort }
    this.startCron()
    return bound
  }

  /** A server for one listening socket; a TLS one with the current TLS settings (may throw). */
  private makeListener(kind: ListenKind): net.Server {
    if (kind === 'TCP') {
      // Paused: nothing is read before the socket is adopted (see adoptSocket).
      return net.createServer({ noDelay: true, pauseOnConnect: true },
        (socket) => this.accept(socket))
    }
    const srv = tls.createServer(tlsContextOptions(this.services.config),
      (socket) => this.accept(socket))
    srv.on('tlsClientError', (e) => {
      logger.verbose(`Error accepting a client connection: ${e.message}`)
    })
    return srv
  }

  /**
   * CONFIG SET port / tls-port / bind (Redis's updatePort, applyTLSPort, applyBind): the
   * listening sockets of these kinds are closed and made anew on the configured bind words and
   * port (none for port 0), bound now (src/server-listen.ts); the clients connected stay. The old
   * ones close first, as in Redis (a new bind word may take the same port). On failure the
   * previous sockets are made again (a failure then is logged) and the reason CONFIG SET gives
   * is returned.
   */
  private relisten(kinds: readonly ListenKind[]): string | null {
    const config = this.services.config
    const words = config.get('bind').split(' ').filter((w) => w !== '')
    const previous = kinds.map((kind) => ({ kind, ...this.listening[kind] }))
    for (const kind of kinds) this.replaceListeners(kind, [])
    let reason: string | null = null
    for (const kind of kinds) {
      const port = config.getNumber(kind === 'TCP' ? 'port' : 'tls-port')
      reason = this.listenNowOn(kind, words, port)
      if (reason !== null) break
    }
    if (reason === null) return null
    for (const kind of kinds) this.replaceListeners(kind, [])
    for (const p of previous) {
      if (this.listenNowOn(p.kind, p.words, p.port) !== null) {
        logger.warning(`Could not listen again on the previous ${p.kind} port ${p.port}`)
      }
    }
    return kinds.length > 1 ? 'Failed to bind to specified addresses.' : reason
  }

  /** Listen on `port` (0: not at all) of every word now; null, or CONFIG SET's reason. */
  private listenNowOn(kind: ListenKind, words: readonly string[], port: number): string | null {
    if (port !== 0 && kind === 'TLS') {
      try {
        tlsContextOptions(this.services.config)
      } catch (e) {
        logger.warning(`Failed to configure TLS: ${(e as Error).message}`)
        return 'Unable to update TLS configuration. Check server logs.'
      }
    }
    const result = port === 0 ? { ok: true as const, servers: [] } :
      listenNow(words, port, this.services.config.getNumber('tcp-backlog'),
        () => this.makeListener(kind), kind)
    if (!result.ok) {
      logger.warning(result.log)
      return 'Unable to listen on this port. Check server logs.'
    }
    for (const srv of result.servers) {
      srv.on('error', (e) => logger.warning(`Listening socket: ${e.message}`))
    }
    this.replaceListeners(kind, result.servers)
    this.listening[kind] = { words: [...words], port }
    return null
  }

  /** Close the listeners of `kind` (their clients stay) and keep `servers` instead. */
  private replaceListeners(kind: ListenKind, servers: net.Server[]): void {
    for (const old of kind === 'TCP' ? this.tcpListeners : this.tlsListeners) old.close()
    if (kind === 'TCP') this.tcpListeners = servers
    else this.tlsListeners = servers
  }

  /** One listener on one bind word; false when an optional address ('-addr') is missing. */
  private async listenOn(srv: net.Server, word: string, port: number, kind: string):
    Promise<boolean> {
    const optional = word.startsWith('-')
    let host = optional ? word.slice(1) : word
    if (host === '*') host = '0.0.0.0'
    if (host === '::*') host = '::'
    srv.maxConnections = 1 << 30
    const backlog = this.services.config.getNumber('tcp-backlog')
    try {
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen({ port, host, backlog }, () => {
          srv.off('error', reject)
          resolve()
        })
      })
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      if (optional && (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT')) return false
      logger.warning(`Warning: Could not create server ${kind} listening socket ${host}:${port}: ` +
        `bind: ${err.code === 'EADDRINUSE' ? 'Address already in use' : err.message}`)
      for (const l of this.listeners) l.close()
      throw new Error(`Failed listening on port ${port} (${kind.toLowerCase()}), aborting.`)
    }
    srv.on('error', (e) => logger.warning(`Listening socket ${host}:${port}: ${e.message}`))
    if (kind === 'TCP') this.tcpListeners.push(srv)
    else this.tlsListeners.push(srv)
    return true
  }

  /** CONFIG SET of a tls-* setting: a new secure context for new connections (cert reload). */
  private reloadTls(): void {
    if (this.tlsListeners.length === 0) return
    try {
      const options = tlsContextOptions(this.services.config)
      for (const srv of this.tlsListeners as tls.Server[]) {
        srv.setSecureContext(options)
        // tls-auth-clients: server properties each new TLSSocket is made with (node:_tls_wrap).
        const props = srv as unknown as { requestCert: boolean; rejectUnauthorized: boolean }
        props.requestCert = options.requestCert === true
        props.rejectUnauthorized = options.rejectUnauthorized === true
      }
    } catch (e) {
      logger.warning('Failed to update the TLS configuration, keeping the previous one: ' +
        (e as Error).message)
    }
  }

  /** Every listening server, plain and TLS. */
  private get listeners(): net.Server[] {
    return [...this.tcpListeners, ...this.tlsListeners]
  }

  /** The port actually bound (when port 0 was asked). */
  get boundPort(): number {
    const a = this.listeners[0]?.address()
    return typeof a === 'object' && a !== null ? a.port : 0
  }

  private accept(socket: net.Socket): void {
    const stats = this.services.stats
    if (this.stopping) {
      socket.destroy()
      return
    }
    const max = this.services.config.getNumber('maxclients')
    if (this.connections.size >= max) {
      stats.rejectedConnections++
      socket.on('error', () => socket.destroy())
      socket.resume() // read (and drop) until the peer's FIN, which closes the socket
      socket.end('-ERR max number of clients reached\r\n')
      setTimeout(() => socket.destroy(), 5000).unref()
      return
    }
    stats.totalConnectionsReceived++
    if (protectedModeDenies(this.services.config.get('protected-mode'),
      this.services.acl.defaultUser, socket.remoteAddress)) {
      stats.rejectedConnections++
      socket.on('error', () => socket.destroy())
      socket.resume() // read (and drop) until the peer's FIN, as for maxclients
      socket.end(DENIED_TEXT)
      setTimeout(() => socket.destroy(), 5000).unref()
      return
    }
    const id = this.nextClientId++
    const conn = new Connection(this, socket, id)
    this.connections.set(id, conn)
  }

  /** The pool is recovered: start serving data commands. */
  attachStore(store: Store): void {
    store.observe(this.keyObserver)
    store.roomMaker = this.services.evictor // the pool as a second limit (commands/evict.ts)
    this.services.store = store
    this.services.scrub = new ScrubDriver(store, nowMs())
    this.services.loading = null
    this.services.lastSaveAtMs = nowMs()
  }

  setLoading(state: LoadingState): void {
    this.services.loading = state
  }

  removeConnection(conn: Connection): void {
    this.dispatcher.blocking.unblock(conn.state.id)
    this.connections.delete(conn.state.id)
    this.monitors.delete(conn)
    this.pendingOutput.delete(conn)
    this.watch.unwatchAll(conn.state)
    this.services.pubsub.removeClient(conn.state.id)
    this.services.tracking.disable(conn.state.id)
  }

  /**
   * The store's keyspace observer: WATCH's index, then client-side caching's table (every key
   * change, expiry and eviction deletes included, invalidates its cached copies).
   */
  private readonly keyObserver: KeyspaceObserver = {
    touched: (keyspace, db, key) => {
      this.watch.touched(keyspace, db, key)
      const tracking = this.services.tracking
      if (tracking.active) tracking.touched(key)
    },
    touchedDb: (keyspace, db, previous, current) => {
      this.watch.touchedDb(keyspace, db, previous, current)
    },
  }

  /**
   * maxmemory-* and lfu-* (commands/evict.ts, state/lru.ts). A lower maxmemory starts evicting
   * between requests at once, as Redis's updateMaxmemory does.
   */
  private applyEvictionConfig(changed?: string): void {
    const config = this.services.config
    accessSettings.lfu = config.get('maxmemory-policy').includes('lfu')
    accessSettings.logFactor = config.getNumber('lfu-log-factor')
    accessSettings.decayTime = config.getNumber('lfu-decay-time')
    accessTick(nowMs())
    this.services.evictor.configure()
    if (changed === 'maxmemory' && config.getNumber('maxmemory') !== 0) {
      const used = this.services.evictor.usedMemory()
      if (used > config.getNumber('maxmemory')) {
        logger.warning(`WARNING: the new maxmemory value set via CONFIG SET (${
          config.getNumber('maxmemory')}) is smaller than the current memory usage (${used}). ` +
          'This will result in key eviction and/or the inability to accept new write commands ' +
          'depending on the maxmemory-policy.')
      }
      this.services.evictor.startBackground()
    }
  }

  /** The clients' query and output buffer bytes, summed at hz. */
  private clientBuffers = 0

  /**
   * The clients' share of used_memory: a fixed CLIENT_MEMORY_BYTES per connection (its socket,
   * streams, reader and output buffer objects; Redis counts each client's 16 KiB reply buffer
   * likewise) plus their buffers' bytes as last summed.
   */
  get clientsMemory(): number {
    return this.connections.size * CLIENT_MEMORY_BYTES + this.clientBuffers
  }

  private sumClientsMemory(): void {
    let sum = 0
    for (const c of this.connections.values()) sum += c.queryBufferBytes() + c.outputBytes()
    this.clientBuffers = sum
  }

  /** notify-keyspace-events as flags, from the text it was set from ('An' keeps 'new' on). */
  private applyKeyspaceEvents(): void {
    this.services.pubsub.keyspaceFlags =
      keyspaceEventsFlags(this.services.config.given('notify-keyspace-events')) ?? 0
  }

  /** The active cycle's `expired` notifications (its transaction is appended, not durable). */
  private readonly notifyActiveExpired = (expired: readonly DelEvent[]): void => {
    const ps = this.services.pubsub
    for (const e of expired) {
      const d = keyspaceDeliveries(ps, NOTIFY_EXPIRED, 'expired', e.key, e.db)
      d?.deliver()
    }
  }

  markOutputPending(conn: Connection): void {
    this.pendingOutput.add(conn)
  }

  /**
   * A subscriber received messages: its output is handed over once per event-loop turn, after
   * every connection that ran in this turn published (Redis writes pending clients in
   * beforeSleep), so a subscriber of many publishers gets one write per turn, not one per batch.
   */
  markPubsubPending(conn: Connection): void {
    if (conn.pubsubPending) return
    conn.pubsubPending = true
    this.pubsubPending.push(conn)
    if (this.pubsubFlushScheduled) return
    this.pubsubFlushScheduled = true
    setImmediate(this.flushPubsubFn)
  }

  private readonly flushPubsubFn = (): void => {
    this.pubsubFlushScheduled = false
    const conns = this.pubsubPending
    this.pubsubPending = []
    for (const c of conns) {
      c.pubsubPending = false
      c.flushOutput() // a closed connection (still listed) writes nothing
    }
  }

  /** Flush connections that received output from elsewhere (MONITOR feeds). */
  flushPendingOutputs(): void {
    if (this.pendingOutput.size === 0) return
    const conns = Array.from(this.pendingOutput)
    this.pendingOutput.clear()
    for (const c of conns) c.flushOutput()
  }

  setMonitor(conn: Connection, on: boolean): void {
    if (on) this.monitors.add(conn)
    else this.monitors.delete(conn)
  }

  private feedMonitors(session: Session, argv: readonly Buffer[]): void {
    this.feedMonitorLine(session.state.db, session.handle.addr, argv)
  }

  /** replicationFeedMonitors: `origin` is the client's address, or 'lua' for a script's. */
  feedMonitorLine(db: number, origin: string, argv: readonly Buffer[]): void {
    if (this.monitors.size === 0) return
    const us = Math.floor((performance.timeOrigin + performance.now()) * 1000)
    const ts = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`
    const line = `+${ts} [${db} ${origin}] ${argv.map(reprArg).join(' ')}\r\n`
    const bytes = Buffer.from(line, 'latin1')
    for (const m of this.monitors) m.monitorFeed(bytes)
  }

  /** Hold `conn`'s replies until the current group commit is durable. */
  waitForDurable(conn: Connection): void {
    if (!conn.waiting) {
      conn.waiting = true
      this.waitingDurable.push(conn)
    }
    if (this.durableRegistered) return
    const store = this.services.store
    if (store === null) {
      this.releaseWaiting()
      return
    }
    this.durableRegistered = true
    store.afterDurable(this.releaseWaitingFn)
    store.whenDurable().catch(this.storeFailedFn)
  }

  /** The callbacks of every group commit, made once rather than once per commit. */
  private readonly releaseWaitingFn = (): void => this.releaseWaiting()
  private readonly storeFailedFn = (e: unknown): void => this.storeFailed(e)

  private releaseWaiting(): void {
    this.durableRegistered = false
    const conns = this.waitingDurable
    this.waitingDurable = []
    for (const c of conns) c.releaseHeld()
  }

  private storeFailed(e: unknown): void {
    logger.warning(`Pool flush failed: ${(e as Error).message}. Unacknowledged writes are ` +
      'not durable; exiting.')
    for (const c of this.connections.values()) c.kill()
    this.onExit(1)
  }

  // ---- periodic work (Redis's serverCron at hz) --------------------------------------------

  private startCron(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    if (this.stopping) return
    const hz = Math.max(1, this.services.config.getNumber('hz'))
    const guarded = (fn: () => void) => () => {
      try {
        fn()
      } catch (e) {
        logger.warning(`Error in periodic work: ${(e as Error).stack ?? String(e)}`)
      }
    }
    this.timers.push(setInterval(guarded(() => this.cron()), Math.floor(1000 / hz)))
    this.timers.push(setInterval(guarded(() => this.clientsCron()), 1000))
    for (const t of this.timers) t.unref()
  }

  private cron(): void {
    const stats = this.services.stats
    this.opsSamples.push(stats.totalCommandsProcessed)
    const hz = Math.max(1, this.services.config.getNumber('hz'))
    if (this.opsSamples.length > hz + 1) this.opsSamples.shift()
    const first = this.opsSamples[0] ?? 0
    const last = this.opsSamples[this.opsSamples.length - 1] ?? 0
    const spanS = (this.opsSamples.length - 1) / hz
    stats.instantaneousOps = spanS > 0 ? Math.round((last - first) / spanS) : 0
    const now = nowMs()
    accessTick(now)
    // Redis visits every client's query buffer each tick while there are few of them, and each
    // once a second past hz*5 (clientsCron's iterations): all of them here, each tick.
    for (const c of this.connections.values()) c.resizeQueryBuffer(now)
    this.sumClientsMemory()
    this.activeExpire()
    const tracking = this.services.tracking
    if (tracking.clientCount > 0) {
      tracking.limitUsedSlots(this.services.config.getNumber('tracking-table-max-keys'))
    }
    if (this.services.scrub !== null && !this.stopping) {
      logScrub(this.services.scrub.tick(this.services.config.getNumber('scrub-rate'), nowMs()),
        this.services.store?.keyspace.corruptKeyCount ?? 0)
    }
  }

  /** Delete expired keys in the background (DEL events, one transaction per call). */
  activeExpire(): void {
    const store = this.services.store
    // Not while a script is busy: its transaction is open (commands/busy.ts); not while
    // clients are paused (Redis keeps the dataset static then, commands/client-pause.ts).
    if (store === null || this.stopping || !debugFlags.activeExpire || busyState.current !== null ||
      expiryPaused(this.services, nowMs())) {
      return
    }
    const started = performance.now()
    let expired = 0
    for (;;) {
      const n = activeExpireCycle(store, nowMs(), EXPIRE_SAMPLE_KEYS, this.notifyActiveExpired)
      expired += n
      // Redis repeats while more than 10% of the sample was expired, within its time budget.
      if (n * 10 <= EXPIRE_SAMPLE_KEYS) break
      if (performance.now() - started > EXPIRE_SLOW_CYCLE_MS_MAX) break
    }
    this.services.stats.expiredKeys += expired
    // Their invalidations: the cycle's transactions are appended (rule 2, commands/tracking.ts).
    this.services.tracking.release()
    this.services.stats.expireCycleMs += performance.now() - started
    latencySample(this.services, 'expire-cycle', performance.now() - started)
  }

  private clientsCron(): void {
    const timeoutS = this.services.config.getNumber('timeout')
    const now = nowMs()
    for (const c of Array.from(this.connections.values())) {
      c.checkOutputLimits()
      // No idle timeout for subscribers (Redis's clientsCronHandleTimeout).
      if (timeoutS > 0 && !c.monitor && !c.blocked &&
        !this.services.pubsub.isSubscribed(c.state.id) &&
        now - c.lastInteractionMs > timeoutS * 1000) {
        logger.verbose(`Closing idle client id=${c.state.id}`)
        c.kill()
      }
    }
  }

  // ---- shutdown ----------------------------------------------------------------------------

  /** Stop accepting, finish in-flight commits, close the pool, exit 0. Idempotent. */
  requestShutdown(checkpoint: boolean, reason: string): void {
    if (this.stopping) return
    this.stopping = true
    // A busy script is stopped and its writes dropped, unacknowledged: its transaction is still
    // open and must not reach the pool (neither by its commit nor by the final checkpoint).
    busyState.current?.abandon()
    logger.warning(reason)
    for (const c of this.connections.values()) c.socket.pause()
    // Run after the current command (whose transaction is still open) has finished.
    setImmediate(() => { void this.finishShutdown(checkpoint) })
  }

  private async finishShutdown(checkpoint: boolean): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    // close() stops accepting now; its callback would wait for every client, so not awaited.
    for (const l of this.listeners) l.close()
    const store = this.services.store
    let code = 0
    if (store !== null) {
      try {
        store.flush()
        if (checkpoint) {
          logger.notice('Saving the final checkpoint before exiting.')
          if (store.checkpointNow()) logger.notice('Checkpoint saved on the pool')
        }
        store.close()
        logger.notice('Pool closed cleanly.')
      } catch (e) {
        logger.warning(`Error closing the pool: ${(e as Error).message}`)
        code = 1
      }
    }
    for (const c of this.connections.values()) c.flushOutput()
    for (const c of this.connections.values()) c.socket.end()
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, 1000)
      const check = (): void => {
        if (this.connections.size === 0) {
          clearTimeout(deadline)
          resolve()
        } else {
          setTimeout(check, 10)
        }
      }
      check()
    })
    for (const c of this.connections.values()) c.kill()
    logger.warning('capykv is now ready to exit, bye bye...')
    this.onExit(code)
  }
}
