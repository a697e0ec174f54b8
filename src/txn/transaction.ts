// A transaction of the embedded store (txn/engine.ts's Store.begin / beginShared): the events
// it applied tentatively, in order, and what undoes them. One writer: between begin and
// commit/abort everything is synchronous.
// Invariants, and why:
// - Every event applied is in slots [0, eventCount) in apply order, and its undo is in the undo
//   log (state/undo-log.ts) in the same order: abort (or the engine's make-room path, undoAll)
//   undoes newest first and leaves the keyspace, and its epoch, as at begin.
// - rollbackTo(savepoint) leaves the events, the undo log and the epoch exactly as they were when
//   the savepoint was taken (the undo records past it are undone newest first).
// - A closed transaction holds no undo records. A shared transaction (Store.beginShared) is
//   reset only once closed, so a request never sees a previous request's events or undo; its
//   pooled PUT events are refilled only after that reset, when nothing holds the old ones, and
//   the reset drops their values (no value outlives the request that wrote it in a pooled event).
// Error rules (CapybaraKV's): out of space and I/O failure abort the whole transaction
// (commitNoWait undoes every event before it rethrows): nothing applied, nothing logged.

import { assert } from '../assert.js'
import type { ByteWriter } from '../state/bytes.js'
import { putEv, type PutEvent } from '../state/core-events.js'
import { applyEventLogged, encodeEvents, eventsShrinkOnly, type Event } from '../state/event.js'
import type { Keyspace } from '../state/keyspace.js'
import { UndoLog } from '../state/undo-log.js'
import type { Store } from './engine.js'

/** A transaction with no event yet shares this (frozen: a stray push fails loudly). */
const NO_EVENTS: Event[] = Object.freeze([]) as unknown as Event[]
/** A transaction of its own pools no PUT events (Transaction.put makes each one). */
const NO_PUTS: PutEvent[] = Object.freeze([]) as unknown as PutEvent[]
/** What a pooled PUT event holds between two transactions. */
const NO_VALUE = Buffer.alloc(0)

/** A point of an open transaction to roll back to (Transaction.savepoint). */
export interface Savepoint {
  readonly events: number
  readonly undo: number
  readonly puts: number
  readonly epoch: number
}

export class Transaction {
  /**
   * The events applied so far, in order: slots [0, eventCount). A transaction's own array is
   * reused by the next transaction of a shared one (Store.beginShared), so slots past
   * eventCount may hold stale events; read them through eventCount / eventAt, or `events`.
   */
  private evs: Event[] = NO_EVENTS
  /** How many events this transaction applied. */
  eventCount = 0
  /** What undoes them, as data (state/undo-log.ts): no closure per PUT or DEL. */
  private readonly undo = new UndoLog()
  private open = true
  /**
   * The keyspace epoch at begin. Undoing every event puts back the very same database maps, so
   * abort and undoAll restore it: a running checkpoint's iterators stay valid, and it is not
   * abandoned (its log space wasted) because a FLUSHDB or SWAPDB was applied and then undone.
   */
  private epochAtBegin: number
  /**
   * A shared transaction's PUT events, reused by the next transaction (no event object per
   * write); putsUsed of them belong to this one. Empty for a transaction of its own.
   */
  private readonly puts: PutEvent[]
  private putsUsed = 0

  constructor(private readonly store: Store, private readonly shared = false) {
    this.epochAtBegin = store.keyspace.epoch
    this.puts = shared ? [] : NO_PUTS
  }

  /** Open again for Store.beginShared: nothing applied, nothing to undo. */
  reset(): void {
    assert(!this.open, 'a shared transaction is reset only once closed')
    assert(this.undo.count === 0, 'a closed transaction holds no undo records')
    this.open = true
    this.eventCount = 0
    // The last request's values go now, not when a later PUT refills the event: a pooled event
    // kept a 512 MiB value alive through a DEL of its key (issue 19, RSS after DEL).
    for (let i = 0; i < this.putsUsed; i++) (this.puts[i] as PutEvent).value = NO_VALUE
    this.putsUsed = 0
    this.epochAtBegin = this.store.keyspace.epoch
  }

  get keyspace(): Keyspace {
    return this.store.keyspace
  }

  /** The events applied, in order (an array of exactly eventCount; copied when the slots are reused). */
  get events(): readonly Event[] {
    const evs = this.evs
    return evs.length === this.eventCount ? evs : evs.slice(0, this.eventCount)
  }

  /** Event i (i < eventCount). */
  eventAt(i: number): Event {
    assert(i < this.eventCount, 'an event that was applied')
    return this.evs[i] as Event
  }

  /** Apply one event tentatively: later reads in this transaction see it. */
  /** Handlers build `e` with its constructor (state/event-registry.ts's AnyEvent). */
  apply(e: Event): void {
    assert(this.open, 'transaction is closed')
    if (!applyEventLogged(this.store.keyspace, e, this.undo)) return
    const i = this.eventCount
    if (this.evs === NO_EVENTS) this.evs = [e] // one slot, where [] would grow to seventeen
    else if (i === this.evs.length) this.evs.push(e)
    else this.evs[i] = e
    this.eventCount = i + 1
  }

  /**
   * apply(putEv(db, key, value, expireAtMs)), the string path's write: a shared transaction
   * takes the event from its pool (what its events hold is read before its next reset: the
   * encoder, serveBlocked, and nothing past the request).
   */
  put(db: number, key: string, value: Buffer, expireAtMs: number): void {
    if (!this.shared) {
      this.apply(putEv(db, key, value, expireAtMs))
      return
    }
    let e = this.puts[this.putsUsed]
    if (e === undefined) {
      e = putEv(db, key, value, expireAtMs)
      this.puts.push(e)
    } else {
      e.db = db
      e.key = key
      e.value = value
      e.expireAtMs = expireAtMs
    }
    this.putsUsed++
    this.apply(e)
  }

  /**
   * Where the transaction stands now (a script's attempt on the main thread starts here,
   * commands/scripting.ts): rollbackTo(it) undoes whatever was applied after it.
   */
  savepoint(): Savepoint {
    return { events: this.eventCount, undo: this.undo.count, puts: this.putsUsed,
      epoch: this.store.keyspace.epoch }
  }

  /** Undo every event applied since `sp` (newest first); those before it stay. No PM I/O. */
  rollbackTo(sp: Savepoint): void {
    assert(this.open, 'a savepoint is rolled back in its open transaction')
    assert(sp.events <= this.eventCount, 'a savepoint is not past the newest event')
    assert(sp.undo <= this.undo.count, 'a savepoint is not past the newest undo record')
    this.undo.undoTo(this.store.keyspace, sp.undo)
    this.eventCount = sp.events
    this.putsUsed = sp.puts
    this.store.keyspace.epoch = sp.epoch
  }

  /** Undo every tentative event; no PM I/O. */
  abort(): void {
    if (!this.open) return
    this.undoAll()
    this.eventCount = 0
    this.close()
  }

  /** Append to the log now; durable at the end of this turn. Throws StoreError (nothing applied). */
  commitNoWait(): void {
    assert(this.open, 'transaction is closed')
    try {
      if (this.eventCount > 0) this.store.appendTransaction(this)
    } catch (e) {
      this.abort()
      throw e
    }
    this.undo.clear()
    this.close()
  }

  /**
   * Close a transaction the engine appended itself, not the store's open one (make-room.ts's
   * evictions, made while the transaction they make room for is undone): kept when
   * `appended`, else undone.
   */
  closeSide(appended: boolean): void {
    assert(this.open, 'transaction is closed')
    if (!appended) this.undoAll()
    this.undo.clear()
    this.open = false
  }

  private close(): void {
    this.open = false
    this.store.endTransaction(this)
  }

  /** Resolves when the transaction is durable. */
  commit(): Promise<void> {
    this.commitNoWait()
    return this.eventCount === 0 ? Promise.resolve() : this.store.whenDurable()
  }

  /** Re-apply after an undo (used when a checkpoint ran to make room). */
  reapply(): void {
    const events = this.evs.slice(0, this.eventCount)
    this.eventCount = 0
    for (const e of events) this.apply(e)
  }

  undoAll(): void {
    this.undo.undo(this.store.keyspace)
    this.store.keyspace.epoch = this.epochAtBegin
  }

  /** The events' log payload (the engine's admission: Store.tryAppend). */
  encodeInto(w: ByteWriter): void {
    encodeEvents(w, this.evs, this.eventCount)
  }

  /** Whether every event can only shrink live data (admitted into a full pool). */
  shrinksOnly(): boolean {
    return eventsShrinkOnly(this.evs, this.eventCount)
  }
}
