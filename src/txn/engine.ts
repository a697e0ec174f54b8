// The embedded transactional store (DESIGN rule 8): open / begin / tentative writes / commit /
// abort / close, usable in-process without the server. One writer: between begin() and commit()
// everything is synchronous; commit() applies the transaction at the call (serializable, in call
// order) and returns a promise that resolves when it is durable.
// Names: the keyspace is the TENTATIVE state (every applied transaction, durable or not);
// the DURABLE state is what recover() of the pool yields: the log up to the committed tail.
// Group commit: every transaction committed in one event-loop turn is appended to the log at
// once; at the end of the turn (setImmediate) one flush, one commit store, one flush make the
// whole group durable, and only then is its promise (one, shared by the group's commit() calls)
// resolved and are its callbacks run.
// Error rules (CapybaraKV's): logical errors are the caller's (they never reach the engine);
// out of space and I/O failure abort the whole transaction: every event undone, nothing logged.

import { existsSync } from 'node:fs'
import { assert } from '../assert.js'
import { nowMs } from '../clock.js'
import { StoreError } from '../errors.js'
import { recoverAsync, recover, type RecoveredLog, type RecoveryProgress } from '../recovery/recover.js'
import { Transaction } from './transaction.js'
import { CompactionMemo } from './compaction-memo.js'
import { makeRoom, type RoomMaker } from './make-room.js'
import { DB_COUNT, KeyMap, type Keyspace, type KeyspaceObserver } from '../state/keyspace.js'
import {
  admissionReserveBytes, Checkpointer, incrementalReserveBytes, overCapacityBytes, writeReserveBytes,
} from '../storage/checkpoint.js'
import { Log, type LogTestHooks } from '../storage/log.js'
import { openNativeRegion, type PmRegion } from '../storage/pm-region.js'
import { REC_TXN } from '../storage/record-codec.js'
import { syncMetadata } from '../storage/setup.js'
import { createPoolFile } from '../storage/durability.js'
import { FORMAT_VERSION } from '../storage/layout.js'
import type { StoreStats } from './store-stats.js'

export type { StoreStats, RoomMaker }

export { Transaction }

export const DEFAULT_POOL_BYTES = 1024 * 1024 * 1024
/** Deferred events indexed per background slice after open (~1 ms; state/keyspace.ts). */
const INDEX_SLICE_EVENTS = 1500
/** Snapshot bytes written per checkpoint slice (a slice runs between client requests). */
const CHECKPOINT_SLICE_BYTES = 256 * 1024

export interface StoreOptions {
  /** Size of a pool created by open() when the file does not exist. */
  sizeBytes?: number
  create?: boolean
  /** 'turn': commit at the end of each event-loop turn; 'manual': only on flush() (tests). */
  groupCommit?: 'turn' | 'manual'
  /** Run checkpoints in the background when the log grows (default true). */
  autoCheckpoint?: boolean
  /**
   * Open with the deferred index (state/keyspace.ts): string keys are indexed by a background
   * task after open returns (and on first access), not key by key before it. Default true.
   */
  deferIndex?: boolean
  hooks?: LogTestHooks | undefined
  onProgress?: (p: RecoveryProgress) => void
  /**
   * Called once when a group commit's flush fails (the store is failed from then on; nothing of
   * the group was acknowledged). The server writes the failed-flush marker and exits.
   */
  onFlushFailure?: (error: StoreError) => void
}

const noop = (): void => {}

function fallbackText(log: RecoveredLog): string | null {
  const f = log.fallback
  const ranges = log.skipped.map(([a, b]) => `lsn ${a}..${b}`).join(', ')
  if (f === null) {
    return log.skipped.length === 0 ? null : `damaged records skipped (${ranges}), each proven ` +
      'to hold no transaction'
  }
  return `${f.what} at pool offset ${f.offset} (lsn ${f.lsn}): ${f.reason}; rebuilt from the ` +
    `previous checkpoint (lsn ${log.prevLsn}), skipping ${ranges}`
}

export class Store {
  /** The tentative state; replaced only by install() (DEBUG RELOAD). */
  private ks: Keyspace
  /** WATCH's index: owned here and handed to every keyspace this store installs. */
  private observer: KeyspaceObserver | null = null
  readonly log: Log
  readonly checkpointer: Checkpointer
  private current: Transaction | null = null
  /** beginShared's transaction, made by its first call. */
  private shared: Transaction | null = null
  /**
   * The promise every whenDurable() of the group being gathered shares (made by its first
   * caller; settled by the group's flush): one promise per group commit, not per transaction.
   */
  private groupDurable: Promise<void> | null = null
  private resolveGroup: () => void = noop
  private rejectGroup: (e: Error) => void = noop
  private callbacks: (() => void)[] = []
  private scheduled = false
  private checkpointScheduled = false
  private checkpointWaiters: (() => void)[] = []
  private closed = false
  failed: StoreError | null = null
  transactionsCommitted = 0
  /** Events committed since open; the count when the running / newest checkpoint began. */
  private eventsCommitted = 0
  private eventsAtBegin = 0
  private eventsAtCheckpoint = 0
  outOfSpaceRefusals = 0
  /** Whether a refusal is worth a synchronous compaction (txn/compaction-memo.ts). */
  private readonly compaction = new CompactionMemo()
  /** Makes room for a transaction that does not fit (make-room.ts; null: OUT_OF_SPACE). */
  roomMaker: RoomMaker | null = null
  lastCheckpointAtMs = 0
  longestCheckpointSliceMs = 0
  recoveryMs = 0
  indexedMs = 0
  /** The format version this open upgraded the pool from; root-word copies it rewrote. */
  upgradedFromVersion: number | null = null
  rootCopiesRewritten = 0
  /** After a fallback, the fresh checkpoint found no room (the next start falls back again). */
  fallbackCheckpointFailed = false
  recoveredLog: RecoveredLog

  private constructor(
    readonly region: PmRegion,
    keyspace: Keyspace,
    recovered: RecoveredLog,
    readonly options: StoreOptions,
  ) {
    this.ks = keyspace
    this.recoveredLog = recovered
    // After a fallback the state was rebuilt from prevLsn: the log starts there (the next head
    // move keeps it as the fallback: a walk from it skips the same damage, recovery/walk.ts).
    const start = recovered.fallback !== null ? recovered.prevLsn : recovered.headLsn
    this.log = new Log(region, recovered.seed, recovered.header.ringBytes,
      { headLsn: start, prevLsn: recovered.prevLsn, tailLsn: recovered.tailLsn, seq: recovered.seq },
      options.hooks)
    this.checkpointer = new Checkpointer(this.log, () => this.keyspace)
  }

  /** Open the pool at `path`, creating it (blocks allocated) when missing and allowed. */
  static async open(path: string, options: StoreOptions = {}): Promise<Store> {
    if (!existsSync(path)) {
      if (options.create === false) throw new StoreError('POOL_FORMAT', `no pool at ${path}`)
      Store.create(path, options.sizeBytes ?? DEFAULT_POOL_BYTES)
    }
    const region = openNativeRegion(path)
    try {
      return await Store.openRegion(region, options)
    } catch (e) {
      region.close()
      throw e
    }
  }

  /** Create and format a pool file, crash-safe (storage/durability.ts createPoolFile). */
  static create(path: string, sizeBytes: number): 'created' | 'adopted' {
    return createPoolFile(path, sizeBytes)
  }

  static async openRegion(region: PmRegion, options: StoreOptions = {}): Promise<Store> {
    const started = performance.now()
    const result = await recoverAsync(region, { deferIndex: options.deferIndex !== false },
      options.onProgress)
    return Store.fromRecovery(region, result, options, started)
  }

  static openRegionSync(region: PmRegion, options: StoreOptions = {}): Store {
    const started = performance.now()
    return Store.fromRecovery(region, recover(region, { deferIndex: options.deferIndex !== false }),
      options, started)
  }

  private static fromRecovery(
    region: PmRegion, result: ReturnType<typeof recover>, options: StoreOptions, started: number,
  ): Store {
    if (result.kind === 'format') throw new StoreError('POOL_FORMAT', result.reason)
    if (result.kind === 'corrupt') {
      throw new StoreError('CORRUPTION', `${result.what}: ${result.reason}`,
        { offset: result.offset, lsn: result.lsn })
    }
    const store = new Store(region, result.keyspace, result.log, options)
    store.recoveryMs = performance.now() - started
    // Redundant metadata (storage/setup.ts syncMetadata): before anything is appended.
    if (result.log.formatVersion !== FORMAT_VERSION) store.upgradedFromVersion = result.log.formatVersion
    store.rootCopiesRewritten = syncMetadata(region, result.log)
    // Rebuilt from the previous checkpoint (a record of the head's is damaged), or damaged
    // records skipped (recovery/walk.ts): a fresh checkpoint now, before anything is appended,
    // moves head and prev past the damage.
    if (result.log.fallback !== null || result.log.skipped.length > 0) {
      store.keyspace.materializeAll()
      if (!store.checkpointNow()) store.fallbackCheckpointFailed = true
    } else if (result.log.newestCheckpointLsn > result.log.headLsn) {
      // A crash between a checkpoint's commit and its head move: move the head now (a blanket
      // write: recovery from either head yields this state), or its space would stay garbage.
      // Deferred events point into that space: they are applied first.
      store.keyspace.materializeAll()
      store.log.moveHead(result.log.newestCheckpointLsn)
    }
    store.indexedMs = store.recoveryMs
    if (store.keyspace.pendingEvents > 0) store.scheduleIndexing(started)
    return store
  }

  begin(): Transaction {
    this.checkBegin()
    this.current = new Transaction(this)
    return this.current
  }

  /**
   * begin(), returning the same Transaction object every time (the server's request path: no
   * Transaction per request). The object is valid until its commit or abort; whoever calls
   * beginShared keeps no reference to it past that (its events then belong to the next one).
   */
  beginShared(): Transaction {
    this.checkBegin()
    let txn = this.shared
    if (txn === null) {
      txn = new Transaction(this, true)
      this.shared = txn
    } else {
      txn.reset()
    }
    this.current = txn
    return txn
  }

  private checkBegin(): void {
    if (this.closed) throw new StoreError('CLOSED')
    if (this.failed !== null) throw this.failed
    assert(this.current === null, 'a transaction is already open (one writer)')
  }

  endTransaction(txn: Transaction): void {
    assert(this.current === txn, 'not the open transaction')
    this.current = null
  }

  get hasUncommitted(): boolean {
    return this.log.hasUncommitted
  }

  /** Called by Transaction.commitNoWait: admission, then append. */
  appendTransaction(txn: Transaction): void {
    if (this.failed !== null) throw this.failed
    if (!this.tryAppend(txn)) {
      const shortfall = this.log.shortfallBytes(this.log.writer.length, this.reserveFor(txn))
      const overCap = this.overCapacity(txn) > 0 && this.keyspace.pendingEvents === 0 // (*)
      txn.undoAll() // liveBytes of the committed state, for the memo; and what a checkpoint needs
      const futile = overCap || this.checkpointer.active === null && this.compaction.futile(
        this.eventsCommitted, this.log.tailLsn, this.keyspace.liveBytes, this.checkpointer.completed,
        shortfall, writeReserveBytes(this.log.ringBytes), !(this.roomMaker?.canEvict() ?? false))
      // Room may be held by history rather than live data: compact now, then try once more.
      // (*) Not over CAP: compaction frees log bytes, not live ones (unless an estimate of the
      // deferred index overshoots).
      if (!futile) this.checkpointNow()
      const live = this.keyspace.liveBytes
      txn.reapply()
      if (futile || !this.tryAppend(txn)) {
        if (!futile) this.compaction.noteFutile(this.eventsCommitted, this.log.tailLsn, live,
          this.checkpointer.completed)
        if (this.roomMaker === null || !makeRoom(this, txn, this.roomMaker)) {
          this.outOfSpaceRefusals++
          throw new StoreError('OUT_OF_SPACE')
        }
      }
    }
    this.counted(txn)
  }

  /** A transaction the engine made itself (make-room.ts's evictions): appended if it fits. */
  appendSide(txn: Transaction): boolean {
    if (!this.tryAppend(txn)) return false
    this.counted(txn)
    return true
  }

  private counted(txn: Transaction): void {
    this.transactionsCommitted++
    this.eventsCommitted += txn.eventCount
    this.scheduleCommit()
  }

  tryAppend(txn: Transaction): boolean {
    const w = this.log.begin()
    txn.encodeInto(w)
    return this.overCapacity(txn) <= 0 && this.log.tryAppend(REC_TXN, this.reserveFor(txn)) >= 0
  }

  /** Live bytes over CAP (storage/checkpoint.ts) with `txn` applied; <= 0 within it. */
  overCapacity(txn: Transaction): number {
    return overCapacityBytes(this.log.ringBytes, this.keyspace.liveBytes, txn.shrinksOnly())
  }

  /** INV (storage/checkpoint.ts) after `txn`: a full pool can always compact, never bricked. */
  reserveFor(txn: Transaction): number {
    return admissionReserveBytes(this.log.ringBytes, this.keyspace.liveBytes, txn.shrinksOnly(),
      this.checkpointer.active !== null)
  }

  private scheduleCommit(): void {
    if (this.scheduled || this.options.groupCommit === 'manual') return
    this.scheduled = true
    setImmediate(this.groupCommitFn)
  }

  /** The end-of-turn group commit, one function for every turn (not a closure per group). */
  private readonly groupCommitFn = (): void => {
    this.scheduled = false
    this.flush()
  }

  /** Resolves once everything appended so far is durable. */
  whenDurable(): Promise<void> {
    if (!this.log.hasUncommitted) return Promise.resolve()
    if (this.groupDurable === null) {
      this.groupDurable = new Promise((resolve, reject) => {
        this.resolveGroup = resolve
        this.rejectGroup = reject
      })
    }
    return this.groupDurable
  }

  /** Run `cb` once everything appended so far is durable (at once when it already is). */
  afterDurable(cb: () => void): void {
    if (!this.log.hasUncommitted) cb()
    else this.callbacks.push(cb)
  }

  /** The group commit: make every appended record durable, then release its waiters. */
  flush(): void {
    if (!this.log.hasUncommitted) return
    try {
      this.log.commit()
    } catch (e) {
      this.failed = new StoreError('IO_ERROR', (e as Error).message)
      const reject = this.rejectGroup
      this.endGroup()
      this.callbacks = []
      // The owner decides what a failed flush means for the process (the server: a marker and
      // exit, storage/durability.ts); nothing of this group was acknowledged.
      this.options.onFlushFailure?.(this.failed)
      reject(this.failed)
      return
    }
    const resolve = this.resolveGroup
    this.endGroup()
    // A fresh list only when there was something to release: a group commit nobody waits on,
    // like a durable put's flush(), allocates nothing.
    const callbacks = this.callbacks
    if (callbacks.length > 0) this.callbacks = []
    resolve()
    for (const cb of callbacks) cb()
    this.maybeCheckpoint()
  }

  /** The next whenDurable() starts a new group's promise. */
  private endGroup(): void {
    if (this.groupDurable === null) return
    this.groupDurable = null
    this.resolveGroup = noop
    this.rejectGroup = noop
  }

  private shouldCheckpoint(): boolean {
    const used = this.log.usedBytes
    const ring = this.log.ringBytes
    // Half the ring counts the fallback's bytes too (heldBytes), so that the previous
    // checkpoint usually still fits beside the next one (docs/checkpoint-fallback.md, "Space").
    return this.log.heldBytes > ring / 2 ||
      (used > ring / 8 && used > 4 * this.keyspace.liveBytes + 65536)
  }

  private maybeCheckpoint(): void {
    if (this.options.autoCheckpoint === false || this.closed) return
    if (this.checkpointer.active === null && !this.shouldCheckpoint()) return
    this.scheduleCheckpointSlice()
  }

  private scheduleCheckpointSlice(): void {
    if (this.checkpointScheduled || this.closed) return
    this.checkpointScheduled = true
    setImmediate(() => {
      this.checkpointScheduled = false
      if (this.closed || this.failed !== null || this.current !== null) return
      const wanted = this.checkpointWaiters.length > 0 || this.shouldCheckpoint()
      if (this.checkpointer.active === null && !wanted) return
      const t0 = performance.now()
      const finished = this.checkpointSlice(CHECKPOINT_SLICE_BYTES)
      this.longestCheckpointSliceMs = Math.max(this.longestCheckpointSliceMs, performance.now() - t0)
      if (!finished) this.scheduleCheckpointSlice()
    })
  }

  /** Start an incremental checkpoint when there is room for two (INV, storage/checkpoint.ts). */
  private startIncremental(): boolean {
    const started = this.checkpointer.start(
      incrementalReserveBytes(this.log.ringBytes, this.keyspace.liveBytes))
    if (started) this.eventsAtBegin = this.eventsCommitted
    return started
  }

  /** One slice of checkpoint work; true when no checkpoint is running afterwards. */
  checkpointSlice(maxBytes: number): boolean {
    if (this.checkpointer.active === null && !this.startIncremental()) {
      this.releaseCheckpointWaiters() // none can start (no room, or keys marked corrupt)
      return true
    }
    const result = this.checkpointer.step(maxBytes)
    if (result === 'done') this.checkpointDone()
    // 'more': the chunks ride the next group commit; 'abandoned' (a database was replaced, or
    // keys were marked corrupt): start again if someone waits for a checkpoint.
    this.scheduleCommit()
    return result === 'done' || (result === 'abandoned' && this.checkpointWaiters.length === 0)
  }

  /** A whole checkpoint now, synchronously (SAVE; making room when the pool looks full). */
  checkpointNow(): boolean {
    // A running checkpoint is finished first, not abandoned (its records' space would be wasted;
    // INV in storage/checkpoint.ts lets it complete); a fresh one compacts what it could not.
    if (this.checkpointer.active !== null) this.completeCheckpoint()
    const from = this.log.tailLsn
    if (!this.checkpointer.start()) return false
    this.eventsAtBegin = this.eventsCommitted
    if (!this.completeCheckpoint()) {
      // No room (an entry too large for the reserve): drop its uncommitted records (no space lost).
      this.log.truncate(from)
      return false
    }
    return true
  }

  /** Run the active checkpoint to its end, commit it and move the head; false if abandoned. */
  private completeCheckpoint(): boolean {
    const result = this.checkpointer.step(Number.MAX_SAFE_INTEGER)
    if (result !== 'done') return false
    this.checkpointDone()
    return true
  }

  /** END appended: commit it, move the head, release the waiters. */
  private checkpointDone(): void {
    this.flush()
    this.checkpointer.finish()
    this.eventsAtCheckpoint = this.eventsAtBegin
    this.lastCheckpointAtMs = nowMs()
    this.releaseCheckpointWaiters()
  }

  private releaseCheckpointWaiters(): void {
    const waiters = this.checkpointWaiters
    this.checkpointWaiters = []
    for (const w of waiters) w()
  }

  /** A whole checkpoint, in slices between requests (BGSAVE); resolves when the head moved. */
  checkpoint(): Promise<void> {
    return new Promise((resolve) => {
      this.checkpointWaiters.push(resolve)
      if (this.checkpointer.active === null && !this.startIncremental()) {
        this.checkpointWaiters = this.checkpointWaiters.filter((w) => w !== resolve)
        resolve()
        return
      }
      this.scheduleCheckpointSlice()
    })
  }

  /** Rebuild the keyspace from the pool's bytes (DEBUG RELOAD): commits first. */
  reload(): void {
    this.flush()
    const result = recover(this.region)
    if (result.kind !== 'ok') {
      throw result.kind === 'corrupt'
        ? new StoreError('CORRUPTION', `${result.what}: ${result.reason}`,
          { offset: result.offset, lsn: result.lsn })
        : new StoreError('CORRUPTION', result.reason)
    }
    this.checkpointer.abandon()
    const previous = this.ks
    this.install(result.keyspace)
    // As Redis's DEBUG RELOAD: every database is emptied (its watchers told) before the load.
    const observer = this.observer
    if (observer === null) return
    const empty = new KeyMap()
    for (let db = 0; db < DB_COUNT; db++) {
      if (!previous.isEmpty(db)) observer.touchedDb(this.ks, db, previous.db(db), empty)
    }
  }

  get keyspace(): Keyspace {
    return this.ks
  }

  /** Tell `observer` of every change to whatever keyspace this store holds, now and later. */
  observe(observer: KeyspaceObserver | null): void {
    this.observer = observer
    this.ks.observer = observer
  }

  /** The one place the keyspace is replaced: the observer moves with it. */
  private install(keyspace: Keyspace): void {
    this.ks.observer = null
    keyspace.observer = this.observer
    this.ks = keyspace
  }

  stats(): StoreStats {
    return {
      backend: this.region.backend,
      isPmem: this.region.isPmem,
      poolBytes: this.region.sizeBytes,
      ringBytes: this.log.ringBytes,
      logUsedBytes: this.log.usedBytes,
      liveBytesEstimate: this.keyspace.liveBytes,
      recordsAppended: this.log.appendedRecords,
      bytesAppended: this.log.appendedBytes,
      groupCommits: this.log.commits,
      transactionsCommitted: this.transactionsCommitted,
      eventsSinceCheckpoint: this.eventsCommitted - this.eventsAtCheckpoint,
      checkpointsCompleted: this.checkpointer.completed,
      checkpointsAbandoned: this.checkpointer.abandoned,
      checkpointRunning: this.checkpointer.active !== null,
      lastCheckpointAtMs: this.lastCheckpointAtMs,
      longestCheckpointSliceMs: this.longestCheckpointSliceMs,
      recoveryMs: this.recoveryMs,
      recoveredRecords: this.recoveredLog.records,
      recoveredKeys: this.keyspace.keyCountEstimate(),
      indexPendingEvents: this.keyspace.pendingEvents,
      indexedMs: this.keyspace.pendingEvents > 0 ? 0 : this.indexedMs,
      outOfSpaceRefusals: this.outOfSpaceRefusals,
      failed: this.failed === null ? null : this.failed.message,
      formatVersion: FORMAT_VERSION,
      upgradedFromVersion: this.upgradedFromVersion,
      metadataDamage: this.recoveredLog.metaDamage.filter((d) => d.damaged)
        .map((d) => `${d.what} at offset ${d.offset}: ${d.reason}`),
      rootCopiesRewritten: this.rootCopiesRewritten,
      checkpointFallback: this.log.hasFallback,
      checkpointFallbackBytes: this.log.headLsn - this.log.prevLsn,
      checkpointFallbackDrops: this.log.fallbackDrops,
      recoveredFromFallback: fallbackText(this.recoveredLog),
    }
  }

  /**
   * Build the deferred index in the background: slices of INDEX_SLICE_EVENTS between turns of
   * the event loop (about a millisecond each), so requests keep being served meanwhile.
   */
  private scheduleIndexing(started: number): void {
    const slice = (): void => {
      if (this.closed) return
      if (this.keyspace.materializeSome(INDEX_SLICE_EVENTS) > 0) {
        setImmediate(slice)
      } else {
        this.indexedMs = performance.now() - started
      }
    }
    setImmediate(slice)
  }

  /** Commit what is pending, then unmap. */
  close(): void {
    if (this.closed) return
    if (this.current !== null) this.current.abort()
    this.flush()
    this.closed = true
    // Deferred events point into the mapping that is about to go away.
    this.keyspace.materializeAll()
    this.region.close()
  }
}
