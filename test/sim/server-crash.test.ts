// Replies only after durability, checked directly (DESIGN "Testing that proves the promises",
// issue 4 "Must show" 4): the real CapykvServer runs in-process on a Store over the SIMULATED PM
// (sim-region.ts; the normal 'turn' group commit, automatic checkpoints on), driven over TCP by
// several clients sending seeded random pipelines — SET/INCR/DEL/EXPIRE/PEXPIRE/PERSIST/RENAME/
// COPY/MOVE/SWAPDB/FLUSHDB/LPUSH/RPUSH/BLPOP/HSET/SADD/ZADD/GET/EXISTS…, MULTI…EXEC transfers
// between accounts, and FLUSHALL/FLUSHDB epochs — while the server's own active expiry runs
// (hz 20).
//
// Crash points (seeded): before and after the PM writes and flushes the server issues (also
// between a reply leaving and its flush, where a premature reply would show), when a client has
// just received replies, and on a timer. At each one, crash images of the region RIGHT NOW are
// recovered: the durable bytes only ('none'), every outstanding chunk landed ('all'), and a seeded
// random subset of outstanding chunks. Each image is checked three ways:
//  (A) exact: recover() must return the state of the last durable group commit (the server's
//      keyspace as it was at that commit: the model), or — only while the commit word is written
//      but not yet flushed — the state of the commit in flight; nothing else, never corruption.
//      So every server-made event (active and lazy expiry DELs, SWAPDB, MOVE, RENAME, COPY,
//      FLUSHDB, FLUSHALL, MULTI/EXEC) goes through the crash simulator.
//  (A') independent: the same image also equals the independent model (plain-model.ts): every
//      admitted transaction's events applied from the log format's documented meaning, never
//      through the engine's apply or keyspace, snapshotted at each commit point — so a recovery
//      or checkpoint that agrees with the server's own keyspace but not with the events it
//      logged fails too. (Which events the commands log is crash-commands.test's subject.)
//  (B1) replies: every reply the server had already handed to a socket when the crash came
//      (counted in bytes with socket.bytesWritten, a superset of what clients had received)
//      depends on transactions the image contains: a write on its own transaction, any reply on
//      the last transaction that wrote a key it names (or replaced that key's database), a
//      parked BLPOP/BRPOP on the transaction that served it when another client pushed.
//  (B2) black-box, from the replies' contents: per client, unique keys with monotonic effects
//      (INCR counter, RPUSH of 0,1,2…, HSET f0,f1…, SADD, ZADD, SET of a rising sequence, a
//      MULTI/EXEC transfer counter) must hold at least every effect acknowledged by a reply that
//      had left the server at the crash, for the image's epoch (epochs are FLUSHALL/FLUSHDB
//      boundaries run while the clients are quiet); contents exactly the issued prefix; the
//      accounts' total unchanged (no partial transfer). Replies are recorded with their arrival
//      order; a reply a client has RECEIVED was sent, so this covers what clients saw.
// The test of the test: the same harness over a server built with the unsafeReplyBeforeDurable
// mutation (replies handed out before the flush) must detect violations (B1 and B2).
// Prints "server crash points checked: N" (kept apart from the simulator's "crash images checked",
// which CI sums). CAPYKV_SIM_SEED reproduces the fresh seed printed.

import t from 'tap'
import type net from 'node:net'
import type { Session } from '../../src/commands/dispatch.js'
import type { Args } from '../../src/resp/args.js'
import type { CommandTable } from '../../src/commands/services.js'
import { loadCommandTable } from '../../src/commands/table.js'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { CapykvServer } from '../../src/server.js'
import { ServerConfig } from '../../src/server-config.js'
import { logger } from '../../src/server-log.js'
import { canonical, canonicalDiff } from '../../src/state/canonical.js'
import {
  EV_DEL, EV_EXPIRE, EV_FLUSHALL, EV_FLUSHDB, EV_PUT, EV_RESTORE, EV_SWAPDB,
} from '../../src/state/core-events.js'
import type { Deque } from '../../src/state/deque.js'
import type { Event } from '../../src/state/event.js'
import {
  DB_COUNT, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, type Keyspace,
} from '../../src/state/keyspace.js'
import type { ZSet } from '../../src/state/zset.js'
import { TAIL_WORD_OFFSET } from '../../src/storage/layout.js'
import { formatRegion } from '../../src/storage/setup.js'
import { Store, type Transaction } from '../../src/txn/engine.js'
import { RawClient } from '../helpers/servers.js'
import { Prng, seedFromEnv, simScale } from './prng.js'
import { DEFAULT_POLICY, SimRegion } from './sim-region.js'
import { copyEvents } from './harness.js'
import { PlainModel, snapshot } from './plain-model.js'
import { poolBytesFor } from './workload.js'

const CLIENTS = 5
const ACCOUNTS = 8
const ACCOUNT_START = 1000
const TOTAL = ACCOUNTS * ACCOUNT_START
const RING_BYTES = 32 * 1024

// ---------------------------------------------------------------------------------------------
// RESP2 replies, parsed incrementally with their byte offsets in the connection's stream.

class ErrorReply {
  constructor(readonly text: string) {}
}
type Reply = string | number | Buffer | null | ErrorReply | Reply[]

const CRLF = Buffer.from('\r\n')

function parseReply(b: Buffer, at: number): { value: Reply; end: number } | null {
  if (at >= b.length) return null
  const nl = b.indexOf(CRLF, at)
  if (nl < 0) return null
  const line = b.toString('latin1', at + 1, nl)
  const next = nl + 2
  switch (b[at]) {
    case 0x2b: return { value: line, end: next }
    case 0x2d: return { value: new ErrorReply(line), end: next }
    case 0x3a: return { value: Number(line), end: next }
    case 0x24: {
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      if (next + n + 2 > b.length) return null
      return { value: Buffer.from(b.subarray(next, next + n)), end: next + n + 2 }
    }
    case 0x2a: {
      const n = Number(line)
      if (n < 0) return { value: null, end: next }
      const items: Reply[] = []
      let pos = next
      for (let i = 0; i < n; i++) {
        const r = parseReply(b, pos)
        if (r === null) return null
        items.push(r.value)
        pos = r.end
      }
      return { value: items, end: pos }
    }
    default:
      throw new Error(`not a RESP2 reply at ${at}: ${JSON.stringify(b.toString('latin1', at,
        at + 24))}`)
  }
}

function show(r: Reply): string {
  if (r instanceof ErrorReply) return `-${r.text}`
  if (Buffer.isBuffer(r)) return JSON.stringify(r.toString('latin1'))
  if (Array.isArray(r)) return `[${r.map(show).join(', ')}]`
  return JSON.stringify(r)
}

// ---------------------------------------------------------------------------------------------
// Requests and what their replies acknowledge.

/** Checked effects: per client and epoch, each one's count (or value) only grows. */
type EffectKind = 'n' | 'l' | 'h' | 's' | 'z' | 'str' | 'xfer' | 'epoch'
const KINDS: readonly EffectKind[] = ['n', 'l', 'h', 's', 'z', 'str', 'xfer']

interface Effect {
  kind: EffectKind
  epoch: number
  /** The count (or value) the reply acknowledges. */
  expect: number
}

interface Req {
  argv: string[]
  /** Keys the reply depends on (db, key): reads, and writes that may change nothing. */
  reads: [number, string][]
  effect?: Effect
}

interface Received {
  /** Byte offset in the connection's reply stream just past this reply. */
  end: number
  value: Reply
  /** Global order of arrival (all clients). */
  order: number
}

let arrivals = 0

class Client {
  readonly reqs: Req[] = []
  readonly replies: Received[] = []
  /** Requests the server has executed (the execute hook pairs them with reqs, in order). */
  executed = 0
  /** Per executed request: the transaction count its reply depends on (0: none). */
  readonly deps: number[] = []
  /** The request parked by BLPOP/BRPOP (its reply depends on the transaction serving it). */
  blockedAt = -1
  receivedBytes = 0
  serverSocket: net.Socket | null = null
  private lastSent = 0
  private pending: Buffer = Buffer.alloc(0)
  private pendingBase = 0
  private waiters: (() => void)[] = []
  onReplies: () => void = () => {}
  // Generator state.
  db = 0
  epoch = -1
  next: Record<EffectKind, number> = { n: 0, l: 0, h: 0, s: 0, z: 0, str: 0, xfer: 0, epoch: 0 }
  seq = 0

  constructor(readonly index: number, readonly socket: net.Socket, readonly rng: Prng) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', () => {})
  }

  private onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    let at = 0
    let got = 0
    for (;;) {
      const r = parseReply(this.pending, at)
      if (r === null) break
      this.replies.push({ end: this.pendingBase + r.end, value: r.value, order: arrivals++ })
      at = r.end
      got++
    }
    this.pending = this.pending.subarray(at)
    this.pendingBase += at
    if (got === 0) return
    this.onReplies()
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** Bytes the server has handed to this client's socket so far. */
  sentBytes(): number {
    const n = this.serverSocket?.bytesWritten
    if (typeof n === 'number') this.lastSent = n
    return this.lastSent
  }

  send(reqs: Req[]): void {
    if (reqs.length === 0) return
    for (const r of reqs) this.reqs.push(r)
    this.socket.write(Buffer.concat(reqs.map((r) => RawClient.encode(...r.argv))))
  }

  /** Resolves once every request sent so far has its reply. */
  async settle(timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (this.replies.length < this.reqs.length) {
      if (performance.now() > deadline) {
        throw new Error(`client ${this.index}: ${this.replies.length} replies of ` +
          `${this.reqs.length} after ${timeoutMs} ms (executed ${this.executed})`)
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 200).unref()
      })
    }
  }

  // --- the workload ---------------------------------------------------------------------------

  private key(name: string): string {
    return `c${this.index}:${name}`
  }

  private select(db: number): Req[] {
    if (this.db === db) return []
    this.db = db
    return [{ argv: ['SELECT', String(db)], reads: [] }]
  }

  /** One pipeline: checked effects, reads, and chaos, in random order. */
  pipeline(): Req[] {
    const rng = this.rng
    const out: Req[] = []
    const n = rng.range(1, 10)
    for (let i = 0; i < n; i++) {
      const r = rng.float()
      if (r < 0.45) out.push(...this.checked())
      else if (r < 0.55) out.push(...this.chaosMulti())
      else out.push(...this.chaos(false))
    }
    return out
  }

  private checked(): Req[] {
    const rng = this.rng
    const out = this.select(0)
    const epoch = this.epoch
    const eff = (kind: EffectKind): Effect => ({ kind, epoch, expect: ++this.next[kind] })
    switch (rng.int(10)) {
      case 0:
        out.push({ argv: ['INCR', this.key('n')], reads: [], effect: eff('n') })
        break
      case 1: {
        const e = eff('l')
        out.push({ argv: ['RPUSH', this.key('l'), String(e.expect - 1)], reads: [], effect: e })
        break
      }
      case 2: {
        const e = eff('h')
        out.push({ argv: ['HSET', this.key('h'), `f${e.expect - 1}`, rng.bytes(rng.int(12))
          .toString('hex')], reads: [], effect: e })
        break
      }
      case 3: {
        const e = eff('s')
        out.push({ argv: ['SADD', this.key('s'), `m${e.expect - 1}`], reads: [], effect: e })
        break
      }
      case 4: {
        const e = eff('z')
        out.push({ argv: ['ZADD', this.key('z'), String(e.expect - 1), `m${e.expect - 1}`],
          reads: [], effect: e })
        break
      }
      case 5: {
        this.seq++
        out.push({ argv: ['SET', this.key('str'), String(this.seq)], reads: [],
          effect: { kind: 'str', epoch, expect: this.seq } })
        break
      }
      case 6: case 7: {
        const a = rng.int(ACCOUNTS)
        const b = (a + 1 + rng.int(ACCOUNTS - 1)) % ACCOUNTS
        const x = String(rng.range(1, 50))
        out.push({ argv: ['MULTI'], reads: [] },
          { argv: ['DECRBY', `acct:${a}`, x], reads: [] },
          { argv: ['INCRBY', `acct:${b}`, x], reads: [] },
          { argv: ['INCR', this.key('xfer')], reads: [] },
          { argv: ['EXEC'], reads: [[0, `acct:${a}`], [0, `acct:${b}`], [0, this.key('xfer')]],
            effect: eff('xfer') })
        break
      }
      case 8: {
        const [cmd, name] = rng.pick([['GET', 'str'], ['LLEN', 'l'], ['HLEN', 'h'],
          ['SCARD', 's'], ['ZCARD', 'z'], ['GET', 'n'], ['LRANGE', 'l']] as const)
        const argv = cmd === 'LRANGE' ? [cmd, this.key(name), '-3', '-1'] : [cmd, this.key(name)]
        out.push({ argv, reads: [[0, this.key(name)]] })
        break
      }
      default: {
        // Reads of keys other clients write: a tentative value must not leave before it is
        // durable (the read's reply depends on the transaction that wrote it).
        const a = rng.int(ACCOUNTS)
        const other = `c${rng.int(CLIENTS)}:${rng.pick(['n', 'str', 'xfer'])}`
        out.push({ argv: ['MGET', `acct:${a}`, other], reads: [[0, `acct:${a}`], [0, other]] })
      }
    }
    return out
  }

  private chaosMulti(): Req[] {
    const out: Req[] = [{ argv: ['MULTI'], reads: [] }]
    const reads: [number, string][] = []
    const n = this.rng.range(1, 4)
    for (let i = 0; i < n; i++) {
      const r = this.chaos(true)[0] as Req
      reads.push(...r.reads)
      out.push({ argv: r.argv, reads: [] })
    }
    out.push({ argv: ['EXEC'], reads })
    return out
  }

  /** Commands on the scratch keys x:0…x:5 of any database, and on databases 1…15. */
  private chaos(inMulti: boolean): Req[] {
    const rng = this.rng
    const db = this.db
    const k = `x:${rng.int(6)}`
    const k2 = `x:${rng.int(6)}`
    const other = (): number => {
      const d = rng.int(DB_COUNT - 1)
      return d >= db ? d + 1 : d
    }
    const value = (): string => rng.bool(0.05) ? 'v'.repeat(rng.range(50, 300))
      : `v${rng.int(1000)}`
    const one = (argv: string[], reads: [number, string][] = [[db, k]]): Req[] =>
      [{ argv, reads }]
    switch (rng.int(24)) {
      case 0: return one(['SET', k, value()])
      case 1: return one(['SET', k, value(), 'PX', String(rng.range(1, 60))])
      case 2: return one(['SET', k, value(), rng.pick(['NX', 'XX']),
        ...(rng.bool(0.3) ? ['PX', String(rng.range(1, 60))] : [])])
      case 3: return one(['GET', k])
      case 4: return one(['EXISTS', k, k2], [[db, k], [db, k2]])
      case 5: return one(['PTTL', k])
      case 6: return one(['PEXPIRE', k, String(rng.range(1, 60))])
      case 7: return one(['EXPIRE', k, '1', ...(rng.bool(0.3) ? ['NX'] : [])])
      case 8: return one(['PERSIST', k])
      case 9: return one(['DEL', k, k2], [[db, k], [db, k2]])
      case 10: return one([rng.bool(0.7) ? 'RENAME' : 'RENAMENX', k, k2], [[db, k], [db, k2]])
      case 11: {
        const d = rng.bool(0.5) ? other() : db
        const argv = ['COPY', k, k2]
        if (d !== db || rng.bool(0.3)) argv.push('DB', String(d))
        if (rng.bool(0.5)) argv.push('REPLACE')
        return one(argv, [[db, k], [d, k2]])
      }
      case 12: {
        const d = other()
        return one(['MOVE', k, String(d)], [[db, k], [d, k]])
      }
      case 13: return one(['LPUSH', k, value(), value()])
      case 14: return one(['HSET', k, `f${rng.int(4)}`, value()])
      case 15: return one(['SADD', k, `m${rng.int(8)}`, `m${rng.int(8)}`])
      case 16: return one(['ZADD', k, String(rng.int(10)), `m${rng.int(8)}`])
      case 17: return one(['INCR', k])
      case 18: {
        if (inMulti) return one(['GET', k])
        const out = this.select(rng.int(DB_COUNT))
        out.push({ argv: ['EXISTS', k], reads: [[this.db, k]] })
        return out
      }
      case 19: {
        const a = rng.range(1, DB_COUNT - 1)
        const b = rng.range(1, DB_COUNT - 1)
        return one(['SWAPDB', String(a), String(b)], [])
      }
      case 20:
        if (db === 0) return one(['DEL', k])
        return one(['FLUSHDB', ...(rng.bool(0.3) ? [rng.pick(['ASYNC', 'SYNC'])] : [])], [])
      case 21: return one(['PEXPIREAT', k, String(Date.now() - 1000)])
      case 22: return one(['EXPIRE', k, String(rng.range(1, 2)), rng.pick(['GT', 'LT', 'XX'])])
      default: {
        // Queues in the current db: another client's push serves a parked BLPOP/BRPOP in a
        // transaction of the served client's own, whose reply then depends on it.
        const q = `q:${rng.int(2)}`
        if (inMulti || rng.bool(0.6)) {
          return one([rng.pick(['RPUSH', 'LPUSH']), q, value()], [[db, q]])
        }
        return one([rng.pick(['BLPOP', 'BRPOP']), q, rng.pick(['0.02', '0.05', '0.1'])], [[db, q]])
      }
    }
  }

  /** Scratch keys of `db` that expire in 1 ms. */
  prime(db: number): Req[] {
    const out = this.select(db)
    for (let j = 0; j < 6; j++) {
      out.push({ argv: ['SET', `x:${j}`, `short${j}`, 'PX', '1'], reads: [[db, `x:${j}`]] })
    }
    return out
  }

  /** Reads of every scratch key in every database: lazy expiry of whatever has expired. */
  sweep(): Req[] {
    const out: Req[] = []
    for (let db = 0; db < DB_COUNT; db++) {
      out.push(...this.select(db))
      for (let j = 0; j < 6; j++) out.push({ argv: ['EXISTS', `x:${j}`], reads: [[db, `x:${j}`]] })
    }
    return out
  }

  /** The FLUSHALL/FLUSHDB epoch boundary (sent while every client is quiet). */
  boundary(epoch: number): Req[] {
    const out = this.select(0)
    // (Epoch 0 flushes an empty keyspace, which logs no event: FLUSHALL comes first at 1.)
    const flush = [['FLUSHDB'], ['FLUSHALL'], ['FLUSHALL', 'ASYNC'], ['FLUSHDB', 'SYNC'],
      ['FLUSHALL', 'SYNC']][epoch % 5] as string[]
    const mset = ['MSET']
    for (let a = 0; a < ACCOUNTS; a++) mset.push(`acct:${a}`, String(ACCOUNT_START))
    out.push({ argv: ['MULTI'], reads: [] }, { argv: flush, reads: [] },
      { argv: ['SET', 'epoch', String(epoch)], reads: [] }, { argv: mset, reads: [] },
      { argv: ['EXEC'], reads: [], effect: { kind: 'epoch', epoch, expect: epoch } })
    return out
  }

  startEpoch(epoch: number): void {
    this.epoch = epoch
    for (const k of KINDS) if (k !== 'str') this.next[k] = 0
  }
}

// ---------------------------------------------------------------------------------------------
// What a recovered image holds of the checked keys.

interface ClientSummary { n: number; l: number; h: number; s: number; z: number; str: number;
  xfer: number }

interface Summary {
  epoch: number
  clients: ClientSummary[]
  /** Contents that no acknowledged prefix explains (a partial transfer, a gap in a list…). */
  problems: string[]
}

function stringOf(ks: Keyspace, key: string): string | null {
  const e = ks.get(0, key)
  if (e === undefined) return null
  if (e.type !== TYPE_STRING) return `<type ${e.type}>`
  return (e.value as Buffer).toString('latin1')
}

function intOf(ks: Keyspace, key: string, problems: string[]): number {
  const s = stringOf(ks, key)
  if (s === null) return 0
  const n = Number(s)
  if (!Number.isSafeInteger(n)) problems.push(`${key} holds ${JSON.stringify(s)}`)
  return n
}

function summarize(ks: Keyspace): Summary {
  const problems: string[] = []
  const epochText = stringOf(ks, 'epoch')
  const epoch = epochText === null ? -1 : Number(epochText)
  if (epoch >= 0) {
    let total = 0
    for (let a = 0; a < ACCOUNTS; a++) {
      if (stringOf(ks, `acct:${a}`) === null) problems.push(`acct:${a} missing`)
      total += intOf(ks, `acct:${a}`, problems)
    }
    if (total !== TOTAL) problems.push(`accounts total ${total}, not ${TOTAL} (partial transfer)`)
  }
  const clients: ClientSummary[] = []
  for (let c = 0; c < CLIENTS; c++) {
    const key = (name: string): string => `c${c}:${name}`
    const entry = (name: string, type: number): unknown => {
      const e = ks.get(0, key(name))
      if (e === undefined) return undefined
      if (e.type !== type || e.expireAtMs !== 0) {
        problems.push(`${key(name)} has type ${e.type}, expiry ${e.expireAtMs}`)
        return undefined
      }
      return e.value
    }
    const list = entry('l', TYPE_LIST) as Deque<Buffer> | undefined
    const items = list === undefined ? [] : [...list].map((b) => b.toString('latin1'))
    items.forEach((item, i) => {
      if (item !== String(i)) problems.push(`${key('l')}[${i}] = ${item}`)
    })
    const hash = entry('h', TYPE_HASH) as Map<string, Buffer> | undefined
    const set = entry('s', TYPE_SET) as Set<string> | undefined
    const zset = entry('z', TYPE_ZSET) as ZSet | undefined
    const h = hash?.size ?? 0
    const s = set?.size ?? 0
    const z = zset?.length ?? 0
    for (let i = 0; i < h; i++) if (!hash!.has(`f${i}`)) problems.push(`${key('h')} lacks f${i}`)
    for (let i = 0; i < s; i++) if (!set!.has(`m${i}`)) problems.push(`${key('s')} lacks m${i}`)
    for (let i = 0; i < z; i++) {
      if (zset!.score(`m${i}`) !== i) problems.push(`${key('z')} m${i} has ${zset!.score(`m${i}`)}`)
    }
    clients.push({
      n: intOf(ks, key('n'), problems), l: items.length, h, s, z,
      str: intOf(ks, key('str'), problems), xfer: intOf(ks, key('xfer'), problems),
    })
  }
  return { epoch, clients, problems }
}

// ---------------------------------------------------------------------------------------------
// The run: server, clients, crash points, checks.

interface CrashPoint {
  where: string
  image: string
  /** Per client: reply bytes handed to its socket when the crash came. */
  sent: number[]
  /** Per client: reply bytes it had received by then (a prefix of `sent`). */
  received: number[]
  /** Transactions the recovered image contains (a prefix of the log). */
  txns: number
  summary: Summary
}

interface RunOptions {
  seed: number
  phases: number
  pipelines: number
  mutation: boolean
  /** Probability of a crash point at each hook (PM operation, client arrival, timer tick). */
  crashRate: number
}

interface RunResult {
  points: number
  images: number
  /** Images that recovered to the group commit in flight (its commit word landed). */
  inFlight: number
  /** (point, client) pairs where a reply handed out depended on some transaction, and where it
   * depended on exactly the newest one the image holds (the check was tight). */
  dependent: number
  tight: number
  maxLiveBytes: number
  commits: number
  requests: number
  txns: number
  checkpoints: number
  eventCounts: Record<string, number>
  /** (A): recovered states other than the last durable commit (or the one in flight). */
  exact: string[]
  /** (A'): images compared with the independent model, and the commits it did not model. */
  independent: number
  notModelled: number
  /** (B1): replies handed out that depend on transactions an image lacks. */
  replies: string[]
  /** Of those, replies the client had already received when the crash came. */
  repliesReceived: number
  /** (B2): acknowledged effects an image lacks, or contents no prefix explains. */
  effects: string[]
  /** Replies that differ from what the workload expects of its own keys. */
  semantics: string[]
  seconds: number
}

const CORE_EVENTS: Record<number, string> = {
  [EV_PUT]: 'PUT', [EV_DEL]: 'DEL', [EV_EXPIRE]: 'EXPIRE', [EV_RESTORE]: 'RESTORE',
  [EV_SWAPDB]: 'SWAPDB', [EV_FLUSHDB]: 'FLUSHDB', [EV_FLUSHALL]: 'FLUSHALL',
}

function reader(buf: Buffer): RegionReader {
  return { sizeBytes: buf.length, read: (offset, length) => buf.subarray(offset, offset + length) }
}

let tableCache: CommandTable | null = null

async function runServer(o: RunOptions): Promise<RunResult> {
  arrivals = 0
  const started = performance.now()
  const rng = new Prng(o.seed)
  const simRng = rng.fork()
  const crashRng = rng.fork()
  const sim = new SimRegion(poolBytesFor(RING_BYTES), DEFAULT_POLICY, simRng)
  formatRegion(sim, rng.bytes(16), 0)
  const store = Store.openRegionSync(sim, { groupCommit: 'turn' })
  const config = new ServerConfig()
  config.setAtStartup('port', ['0'])
  config.setAtStartup('hz', ['20'])
  logger.level = 'warning'
  tableCache ??= await loadCommandTable()
  const server = new CapykvServer({ config, table: tableCache, poolPath: '(simulated)',
    unsafeReplyBeforeDurable: o.mutation })
  let exited: () => void = () => {}
  const exit = new Promise<void>((resolve) => { exited = resolve })
  server.onExit = () => exited()
  await server.listen()
  server.attachStore(store)

  const result: RunResult = { points: 0, images: 0, inFlight: 0, dependent: 0, tight: 0,
    maxLiveBytes: 0, commits: 0, requests: 0, txns: 0, checkpoints: 0, eventCounts: {},
    exact: [], independent: 0, notModelled: 0, replies: [], repliesReceived: 0, effects: [], semantics: [], seconds: 0 }
  const note = (list: string[], message: string): void => {
    if (list.length < 2000) list.push(message)
  }

  // --- clients, paired with their server connections -------------------------------------
  const clients: Client[] = []
  for (let i = 0; i < CLIENTS; i++) {
    const raw = await RawClient.connect(server.boundPort)
    clients.push(new Client(i, raw.socket, rng.fork()))
  }
  const byAddr = new Map(clients.map((c) => [`127.0.0.1:${c.socket.localPort}`, c]))
  for (let i = 0; i < 200 && server.connections.size < CLIENTS; i++) {
    await new Promise((r) => setTimeout(r, 5))
  }
  const byConnId = new Map<number, Client>()
  for (const conn of server.connections.values()) {
    const c = byAddr.get(conn.addr)
    if (c === undefined) continue
    c.serverSocket = conn.socket
    byConnId.set(conn.state.id, c)
  }
  if (byConnId.size !== CLIENTS) throw new Error(`paired ${byConnId.size} of ${CLIENTS} clients`)

  // --- what each transaction wrote (dependencies of replies) -----------------------------
  const keyWrite = new Map<string, number>()
  const dbWrite = new Array<number>(DB_COUNT).fill(0)
  const lastWrite = (db: number, key: string): number =>
    Math.max(keyWrite.get(`${db} ${key}`) ?? 0, dbWrite[db] as number)
  const count = (name: string): void => {
    result.eventCounts[name] = (result.eventCounts[name] ?? 0) + 1
  }
  /** The command being executed (null: the server's own work, e.g. active expiry). */
  let executing: string | null = null
  const READS = new Set(['GET', 'EXISTS', 'PTTL', 'MGET', 'LLEN', 'HLEN', 'SCARD', 'ZCARD',
    'LRANGE'])
  // The independent model (A'): each admitted transaction's events, at admission.
  const plain = PlainModel.of(store.keyspace)
  const appendTransaction = store.appendTransaction.bind(store)
  store.appendTransaction = (txn: Transaction): void => {
    appendTransaction(txn) // throws when refused: nothing appended
    for (const e of copyEvents(txn.events)) plain.event(e)
    const n = store.transactionsCommitted
    for (const e of txn.events as (Event & { db?: number; key?: string; a?: number;
      b?: number })[]) {
      const name = CORE_EVENTS[e.code]
      count(name ?? 'collection')
      if (e.code === EV_DEL && executing === null) count('DEL by active expiry')
      if (e.code === EV_DEL && executing !== null && READS.has(executing)) {
        count('DEL by lazy expiry')
      }
      if (e.code === EV_SWAPDB) {
        dbWrite[e.a as number] = n
        dbWrite[e.b as number] = n
      } else if (e.code === EV_FLUSHDB) {
        dbWrite[e.db as number] = n
      } else if (e.code === EV_FLUSHALL) {
        dbWrite.fill(n)
      } else if (typeof e.key === 'string' && typeof e.db === 'number') {
        keyWrite.set(`${e.db} ${e.key}`, n)
      }
    }
  }
  const execute = server.dispatcher.execute.bind(server.dispatcher)
  server.dispatcher.execute = (session: Session, args: Args): void => {
    const argv = args.toArgv()
    const before = store.transactionsCommitted
    executing = (argv[0] as Buffer).toString('latin1').toUpperCase()
    try {
      execute(session, args)
    } finally {
      executing = null
    }
    const c = byConnId.get(session.state.id)
    if (c === undefined) return
    const req = c.reqs[c.executed++]
    if (req === undefined || req.argv[0] !== (argv[0] as Buffer).toString('latin1')) {
      note(result.semantics, `client ${c.index}: executed ${String(argv[0])} is not request ` +
        `#${c.executed - 1} ${req?.argv[0]} (requests and executions out of step)`)
    }
    let dep = store.transactionsCommitted > before ? store.transactionsCommitted : 0
    for (const [db, key] of req?.reads ?? []) dep = Math.max(dep, lastWrite(db, key))
    c.blockedAt = session.blocked ? c.deps.length : -1
    c.deps.push(dep)
  }
  // A parked client served by another's push: its reply depends on the serving transaction.
  const dispatcher = server.dispatcher as unknown as {
    runForBlocked(client: { id: number }, fn: unknown): { served: boolean }
  }
  const runForBlocked = dispatcher.runForBlocked.bind(dispatcher)
  dispatcher.runForBlocked = (client, fn) => {
    const r = runForBlocked(client, fn)
    const c = byConnId.get(client.id)
    if (r.served && c !== undefined && c.blockedAt >= 0) {
      c.deps[c.blockedAt] = store.transactionsCommitted
      c.blockedAt = -1
      count('served BLPOP/BRPOP')
    }
    return r
  }

  const plainState = (): string | null => plain.unmodelled === null ? plain.snapshot(-Infinity) : null

  // --- the durable state, tracked at each commit -----------------------------------------
  let durableState = canonical(store.keyspace)
  let durablePlain = plainState()
  let pendingPlain: string | null = null
  let durableLsn = store.log.committedLsn
  let durableTxns = store.transactionsCommitted
  let pendingLsn = -1
  let closed = false
  let busy = false
  const points: CrashPoint[] = []

  const crashPoint = (where: string): void => {
    if (closed || busy) return
    busy = true
    try {
      const sent = clients.map((c) => c.sentBytes())
      const received = clients.map((c) => c.receivedBytes)
      for (const c of clients) {
        if (c.receivedBytes > (sent[c.index] as number)) {
          note(result.replies, `seed ${o.seed}, ${where}: client ${c.index} received ` +
            `${c.receivedBytes} bytes, more than the ${sent[c.index]} its server socket reports ` +
            'written (the sent-bytes accounting is broken)')
        }
      }
      const allowed = [{ lsn: durableLsn, state: durableState, txns: durableTxns,
        plain: durablePlain }]
      if (pendingLsn >= 0) {
        allowed.push({ lsn: pendingLsn, state: canonical(store.keyspace),
          txns: store.transactionsCommitted, plain: pendingPlain })
      }
      const images: [string, Buffer][] = [['none', sim.durable]]
      if (sim.outstandingChunks > 0) {
        images.push(['all', sim.current], ['random', sim.randomImage(crashRng)])
      }
      for (const [name, image] of images) {
        result.images++
        const r = recover(reader(image))
        const label = `seed ${o.seed}, ${where}, image '${name}'`
        if (r.kind !== 'ok') {
          note(result.exact, `${label}: recovery says ${r.kind}: ${r.kind === 'corrupt'
            ? `${r.what}: ${r.reason}` : r.reason}`)
          continue
        }
        const match = allowed.find((a) => a.lsn === r.log.tailLsn)
        if (match === undefined) {
          note(result.exact, `${label}: recovered tail ${r.log.tailLsn}, durable ${durableLsn}` +
            `${pendingLsn >= 0 ? `, in flight ${pendingLsn}` : ''}`)
          continue
        }
        const state = canonical(r.keyspace)
        if (state !== match.state) {
          note(result.exact, `${label}: recovered state differs from the commit's: ` +
            canonicalDiff(match.state, state))
          continue
        }
        if (match.plain === null) {
          result.notModelled++
        } else {
          const independent = snapshot(r.keyspace, -Infinity)
          result.independent++
          if (independent !== match.plain) {
            note(result.exact, `${label}: recovered state differs from the independent model: ` +
              canonicalDiff(match.plain, independent))
            continue
          }
        }
        if (match.lsn === pendingLsn && match.lsn !== durableLsn) result.inFlight++
        points.push({ where, image: name, sent, received, txns: match.txns,
          summary: summarize(r.keyspace) })
      }
      result.points++
    } finally {
      busy = false
    }
  }
  const maybeCrash = (where: string): void => {
    if (crashRng.bool(o.crashRate)) crashPoint(where)
  }

  // Crash points around every PM primitive the sim applies (the addon's stores, flushes and
  // fences included: SimRegion.hooks).
  sim.hooks.write = (permission, when): void => {
    if (when === 'after' && permission === 'commit') {
      pendingLsn = store.log.tailLsn
      pendingPlain = plainState()
    }
    maybeCrash(`${when} a ${permission} write`)
  }
  sim.hooks.flush = (when): void => {
    if (when === 'before') {
      maybeCrash('before a flush')
      return
    }
    if (pendingLsn >= 0 && sim.durable.compare(sim.current, TAIL_WORD_OFFSET,
      TAIL_WORD_OFFSET + 8, TAIL_WORD_OFFSET, TAIL_WORD_OFFSET + 8) === 0) {
      // The commit word is durable: the whole group is, and nothing else was applied since.
      durableState = canonical(store.keyspace)
      durablePlain = pendingPlain
      durableLsn = pendingLsn
      durableTxns = store.transactionsCommitted
      pendingLsn = -1
      result.commits++
      result.maxLiveBytes = Math.max(result.maxLiveBytes, store.keyspace.liveBytes)
    }
    maybeCrash('after a flush')
  }
  for (const c of clients) c.onReplies = () => maybeCrash(`client ${c.index} got replies`)
  const timer = setInterval(() => maybeCrash('timer'), 1)

  // --- the workload: epochs of concurrent pipelines --------------------------------------
  try {
    for (let epoch = 0; epoch < o.phases; epoch++) {
      const leader = clients[epoch % CLIENTS] as Client
      leader.send(leader.boundary(epoch))
      await leader.settle()
      for (const c of clients) c.startEpoch(epoch)
      await Promise.all(clients.map(async (c) => {
        for (let p = 0; p < o.pipelines; p++) {
          c.send(c.pipeline())
          if (c.rng.bool(0.7)) await c.settle()
          else if (c.rng.bool(0.3)) await new Promise((r) => setTimeout(r, c.rng.int(3)))
        }
        await c.settle()
      }))
      // Keys that expire in 1 ms, a pause much shorter than the active expiry period (50 ms),
      // then reads of every scratch key: expired keys are deleted lazily (DEL events in the
      // readers' transactions), these and whatever else ran out meanwhile.
      leader.send(leader.prime(13))
      await leader.settle()
      await new Promise((r) => setTimeout(r, 3))
      leader.send(leader.sweep())
      await leader.settle()
    }
    // A FLUSHDB of a database that holds keys (FLUSHDB of an empty one logs nothing), then keys
    // that expire in 1 ms and are never read: the server's active expiry deletes them within a
    // few of its cycles (crash points go on meanwhile).
    const leader = clients[0] as Client
    leader.send([...leader.prime(12), { argv: ['FLUSHDB'], reads: [] }, ...leader.prime(14)])
    await leader.settle()
    await new Promise((r) => setTimeout(r, 200))
    for (let i = 0; i < 100 && store.hasUncommitted; i++) await new Promise((r) => setImmediate(r))
    crashPoint('end of run')
  } finally {
    closed = true
    clearInterval(timer)
  }

  // --- checks -------------------------------------------------------------------------
  for (const c of clients) {
    if (c.deps.length !== c.replies.length || c.replies.length !== c.reqs.length) {
      note(result.semantics, `client ${c.index}: ${c.reqs.length} requests, ${c.deps.length} ` +
        `executed, ${c.replies.length} replies`)
    }
    c.reqs.forEach((req, i) => {
      const got = c.replies[i]?.value ?? null
      const e = req.effect
      const bad = (): void => note(result.semantics, `client ${c.index} #${i} ` +
        `${req.argv.join(' ').slice(0, 60)}: ${show(got)}`)
      if (e === undefined) {
        if (got instanceof ErrorReply && !/^(ERR|WRONGTYPE)/.test(got.text)) bad()
        return
      }
      switch (e.kind) {
        case 'n': case 'l': if (got !== e.expect) bad(); break
        case 'h': case 's': case 'z': if (got !== 1) bad(); break
        case 'str': if (got !== 'OK') bad(); break
        case 'xfer': if (!Array.isArray(got) || got[2] !== e.expect) bad(); break
        case 'epoch': if (!Array.isArray(got) || got.some((x) => x !== 'OK')) bad(); break
      }
    })
  }
  // Per client: prefix maximum of dependencies, by reply.
  const prefixDep = clients.map((c) => {
    let m = 0
    return c.deps.map((d) => (m = Math.max(m, d)))
  })
  const within = (c: Client, sent: number): number => {
    let lo = 0
    let hi = c.replies.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((c.replies[mid] as Received).end <= sent) lo = mid + 1
      else hi = mid
    }
    return lo
  }
  for (const p of points) {
    const label = `seed ${o.seed}, ${p.where}, image '${p.image}'`
    for (const problem of p.summary.problems) note(result.effects, `${label}: ${problem}`)
    for (const c of clients) {
      const k = within(c, p.sent[c.index] as number)
      if (k === 0) continue
      const need = prefixDep[c.index]![k - 1] as number
      if (need > 0) result.dependent++
      if (need > 0 && need === p.txns) result.tight++
      if (need > p.txns) {
        const culprit = c.deps.findIndex((d) => d === need)
        const got = (c.replies[culprit] as Received).end <= (p.received[c.index] as number)
        if (got) result.repliesReceived++
        note(result.replies, `${label}: client ${c.index} was ${got ? 'sent and had received'
          : 'sent'} reply #${culprit} (arrival ${c.replies[culprit]?.order}: ` +
          `${c.reqs[culprit]?.argv.join(' ').slice(0, 50)} → ${show(c.replies[culprit]?.value ??
          null)}), which depends on transaction ${need}, but the image holds ${p.txns}`)
      }
      // (B2): the acknowledged effects of the image's epoch.
      const acked: Record<string, number> = {}
      let maxEpoch = -1
      for (let i = 0; i < k; i++) {
        const e = c.reqs[i]!.effect
        if (e === undefined) continue
        maxEpoch = Math.max(maxEpoch, e.epoch)
        if (e.epoch === p.summary.epoch) acked[e.kind] = Math.max(acked[e.kind] ?? 0, e.expect)
      }
      if (maxEpoch > p.summary.epoch) {
        note(result.effects, `${label}: client ${c.index} was acknowledged in epoch ${maxEpoch}, ` +
          `the image is at epoch ${p.summary.epoch}`)
      }
      const have = p.summary.clients[c.index] as ClientSummary
      for (const kind of KINDS) {
        const want = acked[kind] ?? 0
        const got = have[kind as keyof ClientSummary]
        if (got < want) {
          note(result.effects, `${label}: client ${c.index}'s ${kind} is ${got} in the image, ` +
            `${want} was acknowledged (epoch ${p.summary.epoch})`)
        }
      }
    }
  }

  result.requests = clients.reduce((s, c) => s + c.reqs.length, 0)
  result.txns = store.transactionsCommitted
  result.checkpoints = store.checkpointer.completed
  server.requestShutdown(false, 'test over')
  for (const c of clients) c.socket.destroy()
  await Promise.race([exit, new Promise((r) => setTimeout(r, 3000))])
  result.seconds = (performance.now() - started) / 1000
  return result
}

// ---------------------------------------------------------------------------------------------

const scale = simScale()
const fresh = seedFromEnv()
const phases = Math.max(2, Math.round(8 * scale))
const configs = [
  { seed: 41, crashRate: 0.04 },
  { seed: 42, crashRate: 0.04 },
  { seed: 43, crashRate: 0.08 },
  { seed: fresh, crashRate: 0.04 },
]
let totalPoints = 0
let totalImages = 0
const started = performance.now()

for (const c of configs) {
  t.test(`replies survive every crash point: seed ${c.seed} (CAPYKV_SIM_SEED=${c.seed})`,
    async (t) => {
      const r = await runServer({ seed: c.seed, phases, pipelines: 40, mutation: false,
        crashRate: c.crashRate })
      totalPoints += r.points
      totalImages += r.images
      t.same(r.semantics.slice(0, 5), [], 'replies are what the workload expects')
      t.same(r.exact.slice(0, 5), [], '(A) every image recovers to the last durable commit ' +
        '(or the one in flight), equal to the independent model (A\')')
      t.ok(r.independent > 0 && r.notModelled === 0, `(A') ${r.independent} images compared ` +
        `with the independent model (not modelled: ${r.notModelled})`)
      t.same(r.replies.slice(0, 5), [], '(B1) every reply handed out depends only on ' +
        'transactions the image holds')
      t.same(r.effects.slice(0, 5), [], '(B2) every acknowledged effect is in the image, ' +
        'no transfer partial')
      t.ok(r.points > 50, `${r.points} crash points`)
      for (const ev of ['SWAPDB', 'FLUSHDB', 'FLUSHALL', 'RESTORE', 'EXPIRE', 'DEL by lazy expiry',
        'DEL by active expiry', 'collection']) {
        t.ok((r.eventCounts[ev] ?? 0) > 0, `${ev} events went through the simulated PM`)
      }
      t.comment(`seed ${c.seed}: ${r.points} crash points, ${r.images} images ` +
        `(${r.inFlight} recovered the commit in flight), ${r.requests} ` +
        `requests, ${r.txns} transactions, ${r.commits} group commits, ${r.checkpoints} ` +
        `checkpoints, live data up to ${r.maxLiveBytes} bytes in a ${RING_BYTES}-byte ring; ` +
        `replies checked against images: ${r.dependent} (tight: ${r.tight}); ` +
        `events ${JSON.stringify(r.eventCounts)}, ${r.seconds.toFixed(1)} s`)
    })
}

t.test('the test of the test: a server that replies before the flush is caught', async (t) => {
  const r = await runServer({ seed: 77, phases: 2, pipelines: 30, mutation: true,
    crashRate: 0.06 })
  totalPoints += r.points
  totalImages += r.images
  t.same(r.exact.slice(0, 5), [], 'the engine itself is unchanged: (A) holds')
  t.same(r.semantics.slice(0, 5), [], 'replies are what the workload expects')
  t.ok(r.replies.length > 0, `(B1) detects replies handed out before their transaction is ` +
    `durable: ${r.replies.length} violations`)
  t.ok(r.effects.length > 0, `(B2) detects acknowledged effects missing from a crash image: ` +
    `${r.effects.length} violations`)
  t.comment(`mutation run: ${r.points} crash points, ${r.images} images, B1 ${r.replies.length} ` +
    `(${r.repliesReceived} already received by the client), ` +
    `B2 ${r.effects.length}; first: ${r.replies[0] ?? '-'} | ${r.effects[0] ?? '-'}`)
})

t.test('counts', (t) => {
  t.ok(totalPoints > 0)
  t.comment(`server crash points checked: ${totalPoints} (${totalImages} images recovered), ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s`)
  t.end()
})
