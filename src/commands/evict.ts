// maxmemory and the eviction policies (Redis 7.0.15's evict.c), over capykv's accounting.
// used_memory (docs/server.md "Memory"): the dataset (Keyspace.memBytes, the DRAM model of
// state/memory-model.ts, plus Keyspace.liveBytes, the keys' bytes in the pool) plus the clients'
// query and output buffers (summed at hz by the server's cron, and by INFO). Nothing is excluded
// (mem_not_counted_for_evict is 0: capykv has no replication or AOF buffers).
// Invariants, and why:
// - An eviction is a DEL event (DESIGN rule 2): the evictions of one call are one transaction of
//   their own, appended before the command that caused them runs, so they reach the pool in the
//   same group commit as that command, before its reply is released; a crash keeps both or
//   neither (one commit point per group). WATCH sees them (the keyspace observer), as Redis's
//   signalModifiedKey; `evicted` notifications leave after the append, with the held output.
// - Candidates are Redis's: maxmemory-samples keys sampled per database (KeyMap's sampling
//   arrays: every key, or every key with an expiry for volatile-*; consecutive positions from a
//   random one, as dictGetSomeKeys reads consecutive buckets), scored (LRU idle time,
//   255 - decayed LFU counter, or a sooner expiry) into a 16-entry pool kept in ascending order;
//   the best is taken from the right end, a ghost (its entry no longer at the position it was
//   sampled from) is skipped. Random policies take one random key, visiting the databases
//   round robin.
// - One call evicts until used_memory <= maxmemory less evictionMargin (one transaction for a
//   batch of keys, not one per command), checking every 16 keys whether it exceeded
//   the tenacity's time limit (Redis's evictionTimeLimitUs); then the rest continues in the
//   background (setImmediate slices) and the call counts as 'running', not a failure.
// - The pool is a second limit: under an eviction policy, keys are evicted as well while the
//   pool's live bytes exceed poolLimitBytes, a quarter of the ring less its reserves, so that a
//   checkpoint (which needs the live bytes twice over, storage/checkpoint.ts) always fits and a
//   cache runs forever in a fixed pool. Under noeviction the pool still refuses with -OOM.
// - A transaction that still does not fit (a big MULTI, a script, a big value: more than the
//   room the eviction before it left) evicts too (txn/make-room.ts), under the same policy: as
//   Store.roomMaker, evictInto appends DELs of keys none of its events names, after its own
//   events, in its record (one commit point for both); or, for a larger one, into a transaction
//   of their own appended and compacted before it (durable before it). Only a transaction the
//   pool cannot hold even with every other key evicted (CAP, storage/checkpoint.ts) is refused, and
//   the evictions in its own record with it. Counted and notified once the transaction holding
//   them is appended (settled).

import { nowMs as clockNowMs } from '../clock.js'
import { delEv } from '../state/core-events.js'
import { DB_COUNT, type Entry, type KeyMap, type Keyspace } from '../state/keyspace.js'
import { evictionScore } from '../state/lru.js'
import { smallReserveBytes, writeReserveBytes } from '../storage/checkpoint.js'
import type { RoomMaker, Store, Transaction } from '../txn/engine.js'
import { NOTIFY_EVICTED, keyspaceDeliveries } from './notify.js'
import { randomIndex } from './random.js'
import type { ServerServices } from './services.js'

export type EvictResult = 'ok' | 'running' | 'fail'
type Kind = 'none' | 'lru' | 'lfu' | 'ttl' | 'random'

/** Sampling rounds that may find only excluded keys before pick gives up. */
const PICK_ROUNDS_MAX = 200

/** Redis's EVPOOL_SIZE. */
export const EVPOOL_SIZE = 16

/** Redis's evictionTimeLimitUs for maxmemory-eviction-tenacity 0..100 (Infinity at 100). */
export function evictionTimeLimitUs(tenacity: number): number {
  if (tenacity <= 10) return 50 * tenacity
  if (tenacity < 100) return Math.floor(500 * Math.pow(1.15, tenacity - 10))
  return Number.POSITIVE_INFINITY
}

/**
 * How far under a limit an eviction goes once started: a batch of keys per transaction (a
 * transaction costs a log record, its framing and checksum), where Redis stops just under the
 * limit and evicts again at the next command — about 1/512 of the limit, at most 32 KiB (the
 * same maxmemory then holds 0.2 % fewer keys at most). 0 for limits under 512 bytes.
 */
export function evictionMargin(limit: number): number {
  return Math.min(limit >>> 9, 32 * 1024)
}

/** The live bytes a pool with this ring keeps under an eviction policy (see the invariants). */
export function poolLimitBytes(ringBytes: number): number {
  return Math.max(0, Math.floor((ringBytes - 2 * writeReserveBytes(ringBytes) -
    smallReserveBytes(ringBytes)) / 4))
}

/**
 * Redis's eviction pool: up to EVPOOL_SIZE (score, db, key) in slots 0..size-1, ascending by
 * score. insert() is evictionPoolPopulate's placement, exactly. Each candidate also keeps where
 * it was sampled (its record's handle in the database's table, KeyMap.sampleRun) and what it was
 * (its entry; for a string kept in the table, which has none, its mark and access word), so
 * that takeBest can tell a live candidate from a ghost without a lookup by key, and its key may
 * stay unbuilt (null) until it is taken.
 */
export class EvictionPool {
  readonly score = new Float64Array(EVPOOL_SIZE)
  readonly db = new Uint8Array(EVPOOL_SIZE)
  readonly key: (string | null)[] = new Array<string | null>(EVPOOL_SIZE).fill(null)
  readonly handle = new Float64Array(EVPOOL_SIZE).fill(-1)
  readonly entry: unknown[] = new Array<unknown>(EVPOOL_SIZE).fill(null)
  /** A candidate without an entry: its record's mark (KeyMap.markAt) and access word. */
  readonly mark = new Float64Array(EVPOOL_SIZE).fill(-1)
  readonly stamp = new Float64Array(EVPOOL_SIZE)
  /** Candidates held (slots 0..size-1). */
  size = 0

  /** Whether insert(score, …) would place the candidate (not worse than a full pool's worst). */
  takes(score: number): boolean {
    return this.size < EVPOOL_SIZE || (this.score[0] as number) < score
  }

  insert(score: number, db: number, key: string | null, handle = -1, entry: unknown = null,
    mark = -1, stamp = 0): void {
    let k = 0
    while (k < this.size && (this.score[k] as number) < score) k++
    if (k === 0 && this.size === EVPOOL_SIZE) return // worse than every entry: skip
    if (this.size < EVPOOL_SIZE) {
      this.shift(k, k + 1, this.size - k) // room on the right: move k.. one right
      this.size++
    } else {
      k-- // full: drop the leftmost (the worst candidate), move 1..k one left
      this.shift(1, 0, k)
    }
    this.score[k] = score
    this.db[k] = db
    this.key[k] = key
    this.handle[k] = handle
    this.entry[k] = entry
    this.mark[k] = mark
    this.stamp[k] = stamp
  }

  private shift(from: number, to: number, count: number): void {
    if (count === 0) return
    this.score.copyWithin(to, from, from + count)
    this.db.copyWithin(to, from, from + count)
    this.handle.copyWithin(to, from, from + count)
    this.mark.copyWithin(to, from, from + count)
    this.stamp.copyWithin(to, from, from + count)
    const keys = this.key
    const entries = this.entry
    // In place, in the direction that reads each slot before it is overwritten.
    if (to > from) {
      for (let i = count - 1; i >= 0; i--) {
        keys[to + i] = keys[from + i] as string | null
        entries[to + i] = entries[from + i]
      }
    } else {
      for (let i = 0; i < count; i++) {
        keys[to + i] = keys[from + i] as string | null
        entries[to + i] = entries[from + i]
      }
    }
  }

  /**
   * Take the best candidate (rightmost) that `live` accepts: given its database, key (null if
   * not built), handle, entry, mark and stamp, live returns its key, or null for a ghost. Null
   * when no candidate is live. Every candidate looked at leaves the pool.
   */
  takeBest(live: (db: number, key: string | null, handle: number, entry: unknown,
    mark: number, stamp: number) => string | null): { db: number; key: string } | null {
    while (this.size > 0) {
      const k = --this.size
      const db = this.db[k] as number
      const key = this.key[k] as string | null
      const handle = this.handle[k] as number
      const entry = this.entry[k]
      this.key[k] = null
      this.entry[k] = null
      const taken = live(db, key, handle, entry, this.mark[k] as number, this.stamp[k] as number)
      if (taken !== null) return { db, key: taken }
    }
    return null
  }

  clear(): void {
    this.key.fill(null)
    this.entry.fill(null)
    this.size = 0
  }
}

/** What performEvictions needs of the server. */
export interface EvictHost {
  readonly services: ServerServices
  /** The clients' buffer bytes (sampled). */
  clientsMemory(): number
}

/** The (database, key) pairs a transaction's events name (events without a key name none). */
function keysNamed(txn: Transaction): Set<string> | null {
  let keys: Set<string> | null = null
  for (let i = 0; i < txn.eventCount; i++) {
    const e = txn.eventAt(i) as { db?: unknown; key?: unknown }
    if (typeof e.key !== 'string' || typeof e.db !== 'number') continue
    keys ??= new Set()
    keys.add(`${e.db}:${e.key}`)
  }
  return keys
}

export class Evictor implements RoomMaker {
  /** Redis's pre_command_oom_state: the last check before a command found no room. */
  lastOutOfMemory = false
  private kind: Kind = 'none'
  private allKeys = true
  private maxmemory = 0
  private samples = 5
  private tenacity = 10
  private readonly pool = new EvictionPool()
  private nextDb = 0
  private background = false
  /** What evictInto evicted into the transaction being appended (settled reports them). */
  private evictedInto: { db: number; key: string }[] = []

  constructor(private readonly host: EvictHost) {}

  /** Re-read maxmemory, maxmemory-policy, -samples, -eviction-tenacity. */
  configure(): void {
    const config = this.host.services.config
    this.maxmemory = config.getNumber('maxmemory')
    const policy = config.get('maxmemory-policy')
    const previous = this.kind
    this.allKeys = policy.startsWith('allkeys-')
    const tail = policy.slice(policy.indexOf('-') + 1)
    this.kind = policy === 'noeviction' ? 'none' : tail as Kind
    this.samples = config.getNumber('maxmemory-samples')
    this.tenacity = config.getNumber('maxmemory-eviction-tenacity')
    if (this.kind !== previous) this.pool.clear()
  }

  /** The store's keyspace, or null while loading. */
  private get store(): Store | null {
    return this.host.services.store
  }

  /** used_memory: the dataset (DRAM model + pool bytes) and the clients' buffers. */
  usedMemory(): number {
    return this.datasetMemory() + this.host.clientsMemory()
  }

  datasetMemory(): number {
    const store = this.store
    return store === null ? 0 : store.keyspace.memBytes + store.keyspace.liveBytes
  }

  /** The pool's limit on live bytes under an eviction policy (0: no eviction policy). */
  poolLimit(): number {
    const store = this.store
    return store === null || this.kind === 'none' ? 0 : poolLimitBytes(store.log.ringBytes)
  }

  /**
   * Whether anything is over its limit (cheap: before every command); with `batch`, over the
   * limit less its batch margin (evictionMargin), where an eviction that started stops.
   */
  private overLimit(ks: Keyspace, poolLimit: number, clients: number, batch = false): boolean {
    const max = this.maxmemory
    const used = ks.memBytes + ks.liveBytes + clients
    if (max !== 0 && used > max - (batch ? evictionMargin(max) : 0)) return true
    return poolLimit !== 0 && ks.liveBytes > poolLimit - (batch ? evictionMargin(poolLimit) : 0)
  }

  /** Whether performEvictions has anything to check (maxmemory set, or an eviction policy). */
  get enabled(): boolean {
    return this.maxmemory !== 0 || this.kind !== 'none'
  }

  /** Redis's performEvictions before a command: 'fail' means out of memory (-OOM). */
  perform(nowMs = clockNowMs()): EvictResult {
    const store = this.store
    if (store === null) return 'ok'
    const ks = store.keyspace
    const poolLimit = this.poolLimit()
    const clients = this.host.clientsMemory()
    if (!this.overLimit(ks, poolLimit, clients)) return 'ok'
    // An estimate is no reason to evict: after a restart the deferred index counts a pending
    // write's estimate in liveBytes until its shard is applied (an overwritten key twice), so
    // the exact figure comes first (state/keyspace.ts; once, the index is then whole).
    if (ks.pendingEvents > 0) {
      ks.materializeAll()
      if (!this.overLimit(ks, poolLimit, clients)) return 'ok'
    }
    if (this.kind === 'none') return 'fail'
    // While the background continuation runs, every command still evicts first (as Redis's
    // performEvictions does): writes must not outrun it.
    let txn
    try {
      txn = store.begin()
    } catch {
      return 'ok' // a transaction is open (a busy script) or the store failed: not now
    }
    const started = performance.now()
    const limitMs = evictionTimeLimitUs(this.tenacity) / 1000
    const evicted: { db: number; key: string }[] = []
    let result: EvictResult = 'ok'
    while (this.overLimit(ks, poolLimit, clients, true)) {
      const pick = this.pick(ks, nowMs)
      if (pick === null) {
        if (this.overLimit(ks, poolLimit, clients)) result = 'fail'
        break
      }
      txn.apply(delEv(pick.db, pick.key))
      evicted.push(pick)
      if (evicted.length % 16 === 0 && performance.now() - started > limitMs) {
        result = 'running'
        break
      }
    }
    try {
      txn.commitNoWait()
    } catch {
      return 'fail' // the pool refused even deletes (an I/O failure): nothing evicted
    }
    this.host.services.stats.evictedKeys += evicted.length
    // The deletes' tracking invalidations (queued by the keyspace observer), now that their
    // transaction is appended: before the command about to run, as Redis sends them.
    if (evicted.length > 0) this.host.services.tracking.release()
    this.notifyEvicted(evicted)
    if (result === 'running') this.startBackground()
    return result === 'ok' && this.background ? 'running' : result
  }

  /**
   * The pool as a second limit (Store.roomMaker): a transaction that does not fit in the pool
   * even after compaction — a big MULTI, a script, a big value — gets evictions of keys `named`
   * (itself, or the transaction `txn` makes room for) does not name, in its own record or in one
   * appended before it (txn/make-room.ts), under the policy's rules.
   */
  evictInto(txn: Transaction, bytes: number, named: Transaction = txn): boolean {
    if (this.kind === 'none') return false
    const ks = txn.keyspace
    const exclude = keysNamed(named)
    const target = ks.liveBytes - bytes
    const nowMs = clockNowMs()
    let any = false
    while (ks.liveBytes > target) {
      const pick = this.pick(ks, nowMs, exclude)
      if (pick === null) break
      txn.apply(delEv(pick.db, pick.key))
      this.evictedInto.push(pick)
      any = true
    }
    return any
  }

  /** Under noeviction nothing is evicted: a full pool refuses (Store's RoomMaker). */
  canEvict(): boolean {
    return this.kind !== 'none'
  }

  settled(appended: boolean): void {
    const evicted = this.evictedInto
    this.evictedInto = []
    if (!appended) return
    this.host.services.stats.evictedKeys += evicted.length
    this.notifyEvicted(evicted)
  }

  /** Redis's evictionTimeProc: keep evicting between requests until under the limits. */
  startBackground(): void {
    if (this.background) return
    this.background = true
    const step = (): void => {
      this.background = false
      if (this.perform() === 'running') this.startBackground()
    }
    setImmediate(step)
  }

  private notifyEvicted(evicted: readonly { db: number; key: string }[]): void {
    const ps = this.host.services.pubsub
    if ((ps.keyspaceFlags & NOTIFY_EVICTED) === 0) return
    for (const e of evicted) {
      const d = keyspaceDeliveries(ps, NOTIFY_EVICTED, 'evicted', e.key, e.db)
      d?.deliver()
    }
  }

  /**
   * The next key to evict under the policy, or null when nothing is evictable; never one of
   * `exclude` ("db:key"), and null when those are all there is.
   */
  pick(ks: Keyspace, nowMs: number, exclude: ReadonlySet<string> | null = null):
    { db: number; key: string } | null {
    if (this.kind === 'random') return this.pickRandom(ks, exclude)
    const kind = this.kind as 'lru' | 'lfu' | 'ttl'
    const volatile = !this.allKeys
    this.pickKs = ks
    this.pickExclude = exclude
    for (let round = 0; ; round++) {
      let total = 0
      for (let db = 0; db < DB_COUNT; db++) {
        const map = ks.db(db)
        const size = volatile ? map.volatileSize : map.size
        if (size === 0) continue
        total += size
        // Redis's dictGetSomeKeys: consecutive positions from a random one (every key when the
        // sample covers the database), so a sample reads a few cache lines, not one per key.
        const all = this.samples >= size
        const n = all ? size : this.samples
        if (this.run.length < n) this.run = new Float64Array(n)
        const run = this.run
        map.sampleRun(all ? 0 : randomIndex(size), n, volatile, run)
        for (let j = 0; j < n; j++) this.consider(map, db, run[j] as number, kind, nowMs)
      }
      if (total === 0) return null
      const best = this.pool.takeBest(this.liveCandidate)
      if (best !== null) return best
      if (round >= PICK_ROUNDS_MAX) return null // sampling found only excluded keys
    }
  }

  /**
   * Score sampled record `handle` of database `db` and offer it to the pool, reading the
   * table's columns: a string kept in the table stays there (no Entry made), its key unbuilt
   * (a string built from the table only for the candidate taken).
   */
  private consider(map: KeyMap, db: number, handle: number, kind: 'lru' | 'lfu' | 'ttl',
    nowMs: number): void {
    const entry = map.refAt(handle)
    const access = entry === undefined ? map.accessOf(handle) : entry.lru
    const score = evictionScore(kind, access, map.expiryAt(handle), nowMs)
    if (!this.pool.takes(score)) return
    if (entry !== undefined) this.pool.insert(score, db, null, handle, entry)
    else this.pool.insert(score, db, null, handle, null, map.markAt(handle), access)
  }

  /** pick's sampled handles (grown to maxmemory-samples, or a database sampled whole). */
  private run = new Float64Array(EVPOOL_SIZE)
  /** pick's keyspace and exclusions, for liveCandidate (no closure per pick). */
  private pickKs: Keyspace | null = null
  private pickExclude: ReadonlySet<string> | null = null

  /**
   * A pool candidate is live when it is still at the record it was sampled from (a key deleted,
   * moved by a delete's move of the last record, flushed or swapped away is not) unchanged: an
   * Entry still its key's (not overwritten), a string kept in the table still the same key (its
   * mark) with the same access word (not read or overwritten since; so its score is still the
   * one it was scored by, Redis only checks that the key exists); it still has an expiry under
   * volatile-*, and is not excluded: its key.
   */
  private readonly liveCandidate = (db: number, key: string | null, handle: number,
    entry: unknown, mark: number, stamp: number): string | null => {
    const ks = this.pickKs
    if (ks === null || handle < 0) return null
    const map = ks.db(db)
    if (entry !== null) {
      if (!map.holds(handle, entry as Entry)) return null
    } else if (!map.holdsMark(handle, mark) || map.accessAt(handle) !== stamp) {
      return null
    }
    if (!this.allKeys && map.expiryAt(handle) === 0) return null
    const name = key ?? map.keyAt(handle)
    const exclude = this.pickExclude
    if (exclude !== null && exclude.has(`${db}:${name}`)) return null
    return name
  }

  private pickRandom(ks: Keyspace, exclude: ReadonlySet<string> | null):
    { db: number; key: string } | null {
    const volatile = !this.allKeys
    for (let round = 0; round <= PICK_ROUNDS_MAX; round++) {
      let size = 0
      for (let i = 0; i < DB_COUNT && size === 0; i++) {
        this.nextDb = (this.nextDb + 1) % DB_COUNT
        const map = ks.db(this.nextDb)
        size = volatile ? map.volatileSize : map.size
      }
      if (size === 0) return null
      const key = ks.db(this.nextDb).sampleKey(randomIndex(size), volatile)
      if (exclude === null || !exclude.has(`${this.nextDb}:${key}`)) {
        return { db: this.nextDb, key }
      }
    }
    return null // sampling found only excluded keys
  }

}
