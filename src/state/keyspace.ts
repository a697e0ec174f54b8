// The in-memory databases: the projection of the durable log (DESIGN rule 1). Sixteen numbered
// databases map a key (a latin1 string: one char per byte, so binary keys are exact) to an
// Entry. Invariants:
// - liveBytes is the sum over entries of entryBytes(key, entry): an estimate of the bytes a
//   checkpoint of the live state needs, kept exact with respect to that estimate by every
//   mutation (set/delete here, adjustBytes for in-place collection changes);
// - epoch changes whenever a database map object is replaced (FLUSHDB, FLUSHALL, SWAPDB), so an
//   incremental checkpoint iterating the maps knows its iterators are stale;
// - the observer (WATCH's index, handed over by the Store that owns this keyspace) is told of
//   every key or database an applied event changes, with this keyspace as the first argument,
//   so it never holds a keyspace of its own that could outlive a DEBUG RELOAD.
//
// Deferred index (startup): recovery may hand a database whole-key writes (PUT, string RESTORE)
// WITHOUT building their keys, Entries and value copies: each is kept as (record bytes, offset,
// event code) in the pending list of its shard, shard = keyHash(key) mod PENDING_SHARDS. The
// true state of a database is its map with every pending event applied in list order. So:
// - every access by key (get/set/delete) first applies the pending list of the key's shard
//   (`materializeShard`): a later event then sees exactly the state replay would have built;
// - every access to a whole database (db(), dbs, replaceDb, keyCount) applies all its shards;
// - pending events are only added at the END of a shard's list, and only by replay, so the
//   order of events on any one key is the log's order;
// - liveBytes counts each pending event's estimate (entryBytes of what it would insert) until
//   it is applied; an overwritten key's estimate is corrected when its shard is applied;
// - the record bytes must stay valid until applied: Store applies every pending event before
//   it closes the pool or lets the log head move past them (storage/checkpoint.ts, engine.ts).
// Materialization is not a change: it touches no WATCH version and does not bump the epoch.
// Verify before apply (DESIGN rule 5): a pending event's record (pool bytes, which media may
// change after recovery) is verified again before the event applies (once per materialization
// call); one that fails applies nothing and marks each key it wrote (database, key hash): an
// access throws StoreError CORRUPTION naming its offset and lsn, never other data; a later
// whole-key write of the key clears the mark, FLUSHDB/FLUSHALL too. Unit: the log record.

import { assert } from '../assert.js'
import { StoreError } from '../errors.js'
import {
  type Entry, ENTRY_OVERHEAD_BYTES, entryBytes, keyHash, keyHashBytes,
} from './entry.js'
import { KeyMap } from './key-map.js'
import { inheritAccess } from './lru.js'
import {
  KEY_MEMORY_OVERHEAD, VALUE_KEY_MEMORY_OVERHEAD, stringValueMemory, valueMemory,
} from './memory-model.js'
import {
  CorruptMarks, PENDING_SHARDS, PendingDb, type CorruptKey, type DeferSource, type RecordVerifier,
} from './pending-db.js'

export { PENDING_SHARDS, type CorruptKey, type DeferSource, type RecordVerifier }

export {
  ENTRY_OVERHEAD_BYTES, Entry, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, entryBytes,
  keyHash, keyHashBytes,
} from './entry.js'
export { KeyMap } from './key-map.js'

export const DB_COUNT = 16

/** Applies one deferred event (fields at buf[offset], event `code`) to database `db`. */
export type DeferredApply = (ks: Keyspace, db: number, buf: Buffer, offset: number, code: number) => void

/** Told of every change an applied event makes (WATCH: txn/watch.ts). */
export interface KeyspaceObserver {
  touched(keyspace: Keyspace, db: number, key: string): void
  /**
   * A database's map was replaced (FLUSHDB, FLUSHALL, a reload) or swapped (SWAPDB).
   * `previous`: its map before; `current`: after (default: keyspace.db(db)).
   */
  touchedDb(keyspace: Keyspace, db: number, previous?: KeyMap, current?: KeyMap): void
}

export class Keyspace {
  private maps: KeyMap[] = []
  /** Per database: its deferred events, or null when none are pending (the usual case). */
  private pending: (PendingDb | null)[] = []
  /** Deferred events not yet applied, all databases. */
  pendingEvents = 0
  /** What applies a deferred event (set by the first defer()). */
  private deferredApply: DeferredApply | null = null
  /** Verify-before-apply (set by recovery; null: pending events are applied unverified). */
  private verifier: RecordVerifier | null = null
  /** The record defer() files events from (recovery sets it per record). */
  private source: DeferSource = { lsn: -1, offset: -1 }
  /** Counts materialization calls: a record is verified once per call. */
  private materializations = 0
  /** Keys whose pending write failed verification (pending-db.ts). */
  readonly corrupt = new CorruptMarks()
  liveBytes = 0
  /**
   * The DRAM estimate of every materialized entry: sum of KEY_MEMORY_OVERHEAD + key length +
   * entry.mem (state/memory-model.ts). With liveBytes, the dataset's used_memory.
   */
  memBytes = 0
  epoch = 0
  /**
   * Function libraries (FUNCTION LOAD): library name → its whole payload (shebang line and
   * code), exactly as loaded. Not keys: FLUSHALL leaves them; src/state/function-events.ts
   * changes them and checkpoints carry them. What they register is derived by the scripting
   * layer, which runs their code; replay never does.
   */
  readonly functionLibraries = new Map<string, Buffer>()
  /** Changes whenever functionLibraries does (derived indexes compare it). */
  functionsVersion = 0
  /** Set only by the Store holding this keyspace (txn/engine.ts), which owns the observer. */
  observer: KeyspaceObserver | null = null

  constructor() {
    for (let i = 0; i < DB_COUNT; i++) {
      this.maps.push(new KeyMap())
      this.pending.push(null)
    }
  }

  /** Every database's map, fully materialized (tests, tools). */
  get dbs(): readonly KeyMap[] {
    this.materializeAll()
    return this.maps
  }

  /** A database's map, with every deferred event applied. */
  db(index: number): KeyMap {
    const map = this.maps[index]
    if (map === undefined) throw new RangeError(`no database ${index}`)
    if (this.pending[index] !== null) this.materializeDb(index)
    return map
  }

  /**
   * Ready `db` for an access to the key whose keyHash is `hash` (its pending shard applied, a
   * corrupt mark refused); returns the database's map.
   */
  private mapFor(db: number, hash: number): KeyMap {
    const map = this.maps[db]
    if (map === undefined) throw new RangeError(`no database ${db}`)
    const p = this.pending[db]
    if (p !== null && p !== undefined) {
      const shard = hash % PENDING_SHARDS
      if (p.head[shard] !== -1) this.materializeShard(db, p, shard)
    }
    if (this.corrupt.count !== 0) this.refuseCorrupt(db, hash)
    return map
  }

  /** Throw CORRUPTION for a key marked corrupt (verify before apply, above). */
  private refuseCorrupt(db: number, hash: number): void {
    const c = this.corrupt.get(db, hash)
    if (c === undefined) return
    throw new StoreError('CORRUPTION', `log record holding this key's value: ${c.reason}`,
      { offset: c.offset, lsn: c.lsn })
  }

  /** The last key hashed, and its keyHash: a write looks its key up, then sets it (SET, INCR). */
  private lastKey = ''
  private lastHash = keyHash('')

  private hashOf(key: string): number {
    if (key === this.lastKey) return this.lastHash
    const hash = keyHash(key)
    this.lastKey = key
    this.lastHash = hash
    return hash
  }

  /** Keys marked corrupt, all databases (INFO pool_corrupt_keys). */
  get corruptKeyCount(): number {
    return this.corrupt.count
  }

  get(db: number, key: string): Entry | undefined {
    const hash = this.hashOf(key)
    return this.mapFor(db, hash).get(key, hash)
  }

  /** get() of the key buf[start, end) (a request's argument), without building its string. */
  getBytes(db: number, buf: Uint8Array, start: number, end: number): Entry | undefined {
    const hash = keyHashBytes(buf, start, end)
    return this.mapFor(db, hash).getBytes(buf, start, end, hash)
  }

  /** Insert or replace; returns the previous entry. */
  set(db: number, key: string, entry: Entry): Entry | undefined {
    const hash = this.hashOf(key)
    const previous = this.mapFor(db, hash).put(key, entry, hash)
    if (previous !== undefined) {
      this.uncount(key, previous)
      inheritAccess(entry, previous)
    }
    this.count(key, entry)
    this.touch(db, key)
    return previous
  }

  /**
   * Insert or replace with string `value` kept in the index (KeyMap.putValue: no Entry, the
   * bytes copied); returns the previous entry (a copy when it was kept so too).
   */
  setString(db: number, key: string, value: Buffer, expireAtMs: number): Entry | undefined {
    const hash = this.hashOf(key)
    const previous = this.mapFor(db, hash).putValue(key, value, expireAtMs, hash)
    if (previous !== undefined) this.uncount(key, previous)
    const bytes = value.length + 2
    this.liveBytes += key.length + bytes + ENTRY_OVERHEAD_BYTES
    this.memBytes += VALUE_KEY_MEMORY_OVERHEAD + key.length + stringValueMemory(bytes)
    this.touch(db, key)
    return previous
  }

  /** Set by findKey and findKeyBytes: the record found (-1: absent), a handle of their map. */
  foundHandle = -1

  /** Ready `db` for an access to `key` (as get) and find it: its map; the record in foundHandle. */
  findKey(db: number, key: string): KeyMap {
    const hash = this.hashOf(key)
    const map = this.mapFor(db, hash)
    this.foundHandle = map.find(key, hash)
    return map
  }

  /** findKey of the key buf[start, end) (a request's argument), without building its string. */
  findKeyBytes(db: number, buf: Uint8Array, start: number, end: number): KeyMap {
    const hash = keyHashBytes(buf, start, end)
    const map = this.mapFor(db, hash)
    this.foundHandle = map.findBytes(buf, start, end, hash)
    return map
  }

  delete(db: number, key: string): Entry | undefined {
    const hash = this.hashOf(key)
    const previous = this.mapFor(db, hash).remove(key, hash)
    if (previous === undefined) return undefined
    this.uncount(key, previous)
    this.touch(db, key)
    return previous
  }

  /** An entry enters the accounting (liveBytes, memBytes). */
  private count(key: string, entry: Entry): void {
    this.liveBytes += entryBytes(key, entry)
    entry.mem = valueMemory(entry)
    this.memBytes += KEY_MEMORY_OVERHEAD + key.length + entry.mem
  }

  private uncount(key: string, entry: Entry): void {
    this.liveBytes -= entryBytes(key, entry)
    this.memBytes -= KEY_MEMORY_OVERHEAD + key.length + entry.mem
  }

  /** An in-place change of a collection's size estimate (its DRAM estimate follows). */
  adjustBytes(entry: Entry, delta: number): void {
    entry.bytes += delta
    this.liveBytes += delta
    const mem = valueMemory(entry)
    this.memBytes += mem - entry.mem
    entry.mem = mem
  }

  /** Change the expiry of (db, key), present with `entry` (the EXPIRE event and its undo). */
  setExpiry(db: number, key: string, entry: Entry, expireAtMs: number): void {
    ;(this.maps[db] as KeyMap).setExpiry(key, entry, expireAtMs)
  }

  touch(db: number, key: string): void {
    if (this.observer !== null) this.observer.touched(this, db, key)
  }

  touchDb(db: number, previous?: KeyMap): void {
    if (this.observer !== null) this.observer.touchedDb(this, db, previous)
  }

  /** Replace a database's map (FLUSHDB, SWAPDB); returns the old one. */
  replaceDb(db: number, map: KeyMap): KeyMap {
    const old = this.db(db)
    for (const [key, entry] of old) this.uncount(key, entry)
    for (const [key, entry] of map) this.count(key, entry)
    this.maps[db] = map
    this.corrupt.dropDb(db)
    this.epoch++
    this.touchDb(db, old)
    return old
  }

  swapDbs(a: number, b: number): void {
    // Deferred events travel with their maps: they are per database, not per index.
    const ma = this.maps[a]
    const mb = this.maps[b]
    if (ma === undefined || mb === undefined) throw new RangeError(`no database ${ma === undefined ? a : b}`)
    const pa = this.pending[a] as PendingDb | null
    this.pending[a] = this.pending[b] as PendingDb | null
    this.pending[b] = pa
    this.corrupt.swap(a, b)
    this.maps[a] = mb
    this.maps[b] = ma
    this.epoch++
    this.touchDb(a, ma)
    this.touchDb(b, mb)
  }

  keyCount(): number {
    let n = 0
    for (const map of this.dbs) n += map.size
    return n
  }

  /** keyCount without applying deferred events: each pending event counted as a key (≥ exact). */
  keyCountEstimate(): number {
    let n = this.pendingEvents
    for (const map of this.maps) n += map.size
    return n
  }

  // ---- the deferred index -------------------------------------------------------------------

  /**
   * Defer a whole-key write found by replay: event `code` whose fields start at buf[offset],
   * writing the key with hash `hash` in `db`, estimated at `estimate` liveBytes. `apply` (the
   * same function for every deferred event: core-events.ts's) applies it later (through
   * setMaterialized), to the database then holding the list (SWAPDB moves pending lists with
   * their maps). Handed in, not looked up, so that this file imports no event module.
   */
  defer(db: number, hash: number, buf: Buffer, offset: number, code: number, estimate: number,
    apply: DeferredApply): void {
    assert(this.deferredApply === null || this.deferredApply === apply, 'one deferred applier')
    this.deferredApply = apply
    let p = this.pending[db]
    if (p === null || p === undefined) {
      p = new PendingDb()
      this.pending[db] = p
    }
    p.add(hash, buf, offset, code, estimate, this.source)
    this.pendingEvents++
    this.liveBytes += estimate
  }

  /**
   * Recovery: the events defer() files next come from the record at `lsn`, pool offset
   * `offset`; with `verifier`, each pending event's record is verified again before it applies.
   */
  deferFrom(lsn: number, offset: number, verifier: RecordVerifier | null): void {
    this.source = { lsn, offset }
    this.verifier = verifier
  }

  /** Insert or replace while applying a deferred event: no WATCH touch, no epoch change. */
  setMaterialized(db: number, key: string, entry: Entry): void {
    const previous = (this.maps[db] as KeyMap).put(key, entry)
    if (previous !== undefined) this.uncount(key, previous)
    this.count(key, entry)
  }

  /** Apply pending event i of database db (its estimate leaves liveBytes, its entry enters). */
  private applyPending(db: number, p: PendingDb, i: number): void {
    this.liveBytes -= p.estimate[i] as number
    const k = p.record[i] as number
    const buf = p.bufs[k] as Buffer
    if (this.verifier !== null) {
      if (p.failure[k] === null && p.verifiedIn[k] !== this.materializations) {
        p.verifiedIn[k] = this.materializations
        p.failure[k] = this.verifier(buf, p.lsns[k] as number)
      }
      const failure = p.failure[k] as string | null
      if (failure !== null) {
        this.corrupt.mark(db, p.hash[i] as number,
          { reason: failure, offset: p.offsets[k] as number, lsn: p.lsns[k] as number })
        return
      }
    }
    ;(this.deferredApply as DeferredApply)(this, db, buf, p.offset[i] as number, p.code[i] as number)
    if (this.corrupt.count !== 0) this.corrupt.clear(db, p.hash[i] as number)
  }

  private materializeShard(db: number, p: PendingDb, shard: number): void {
    this.materializations++
    let i = p.head[shard] as number
    const n = p.count[shard] as number
    // First: applying must not find this shard pending again.
    p.head[shard] = -1
    p.count[shard] = 0
    while (i !== -1) {
      this.applyPending(db, p, i)
      i = p.next[i] as number
    }
    this.settle(db, p, n)
  }

  /** Apply up to `budget` pending events of `db` in log order; returns how many. */
  private materializeInOrder(db: number, p: PendingDb, budget: number): number {
    this.materializations++
    let n = 0
    let i = p.applied
    for (; i < p.used && n < budget; i++) {
      const shard = p.shard[i] as number
      if (p.head[shard] !== i) continue // applied with its shard already
      p.head[shard] = p.next[i] as number
      p.count[shard] = (p.count[shard] as number) - 1
      this.applyPending(db, p, i)
      n++
    }
    p.applied = i
    this.settle(db, p, n)
    return n
  }

  private settle(db: number, p: PendingDb, applied: number): void {
    p.events -= applied
    this.pendingEvents -= applied
    if (p.events === 0 && this.pending[db] === p) this.pending[db] = null
  }

  private materializeDb(db: number): void {
    const p = this.pending[db]
    if (p !== null && p !== undefined) this.materializeInOrder(db, p, Number.MAX_SAFE_INTEGER)
  }

  /** Apply every deferred event (before the pool's bytes they point at go away). */
  materializeAll(): void {
    for (let db = 0; db < DB_COUNT; db++) this.materializeDb(db)
  }

  /** No keys and nothing deferred (without applying anything). */
  isEmpty(db: number): boolean {
    const map = this.maps[db]
    if (map === undefined) throw new RangeError(`no database ${db}`)
    return map.size === 0 && this.pendingIn(db) === 0
  }

  /** Deferred events pending in one database. */
  pendingIn(db: number): number {
    return this.pending[db]?.events ?? 0
  }

  /**
   * Background materialization: apply pending events in log order, database by database (or
   * of `onlyDb`), about `maxEvents` of them; returns the number still pending, all databases.
   */
  materializeSome(maxEvents: number, onlyDb = -1): number {
    let budget = maxEvents
    for (let db = Math.max(0, onlyDb); db < (onlyDb < 0 ? DB_COUNT : onlyDb + 1) && budget > 0; db++) {
      const p = this.pending[db]
      if (p !== null && p !== undefined) budget -= this.materializeInOrder(db, p, budget)
    }
    return this.pendingEvents
  }
}
