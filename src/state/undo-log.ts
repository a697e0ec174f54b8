// What undoes a transaction's tentative events (abort, out of space), kept as data rather than a
// closure per event (issue 15 stage 2: no garbage per request). A record is either "key `key` of
// database `db` held `previous` before" (a whole-key write or delete: PUT, DEL; undone by putting
// `previous` back, or deleting the key when it was absent), an UndoRecord with the key and its
// entry (an in-place change of a collection, e.g. XADD: one small object instead of closures),
// or an undo closure (every other event type's apply). The log is reused from one transaction to the next: its arrays only grow,
// and clear() drops the references they hold.
// Invariants, and why:
// - Records are undone newest first, each exactly once, then the log is empty: undo(ks) leaves
//   the keyspace as it was when the first record was added (each record restores the state just
//   before its own event, so the reverse walk composes them).
// - undoTo(ks, n) undoes only the records past the first n, newest first: a savepoint taken when
//   the log held n records is restored, the records before it stay.
// - count * SLOTS <= slots.length; records at or past count hold nothing (null / undefined),
//   so a reused log keeps no entry or closure of a past transaction alive.

import { assert } from '../assert.js'
import type { Entry, Keyspace } from './keyspace.js'

export type Undo = () => void

/** An undo kept as data: undoIn restores key `key` of `db`, whose entry is `entry`. */
export interface UndoRecord {
  undoIn(ks: Keyspace, db: number, key: string, entry: Entry): void
}

/** A log with no records yet shares this (frozen: a stray write fails loudly). */
const NO_SLOTS: unknown[] = Object.freeze([]) as unknown as unknown[]
/**
 * Slots per record: the closure, the UndoRecord or null; db; key (or null); the previous entry
 * (or undefined), or for an UndoRecord the key's entry.
 */
const SLOTS = 4

export class UndoLog {
  /** Records held: record i is slots [i * SLOTS, (i + 1) * SLOTS). */
  count = 0
  /**
   * One array for every record: a transaction of one event (the usual one) costs a 4-slot
   * array, made by its first record; a reused log keeps it.
   */
  private slots: unknown[] = NO_SLOTS

  /** Key `key` of `db` held `previous` (undefined: absent) before the event just applied. */
  entry(db: number, key: string, previous: Entry | undefined): void {
    this.add(null, db, key, previous)
  }

  /** An event type's undo closure. */
  closure(fn: Undo): void {
    this.add(fn, 0, null, undefined)
  }

  /** An in-place change of key `key` of `db` (its entry `entry`), undone by `record`. */
  record(record: UndoRecord, db: number, key: string, entry: Entry): void {
    this.add(record, db, key, entry)
  }

  private add(fn: Undo | UndoRecord | null, db: number, key: string | null,
    previous: Entry | undefined): void {
    const at = this.count * SLOTS
    const slots = this.slots
    if (slots === NO_SLOTS) {
      this.slots = [fn, db, key, previous]
    } else if (at === slots.length) {
      slots.push(fn, db, key, previous)
    } else {
      slots[at] = fn
      slots[at + 1] = db
      slots[at + 2] = key
      slots[at + 3] = previous
    }
    this.count++
  }

  /** Undo every record, newest first, into `ks`; the log is then empty. */
  undo(ks: Keyspace): void {
    this.undoTo(ks, 0)
  }

  /**
   * Undo the records from the newest down to record `count` (a savepoint of the transaction,
   * txn/transaction.ts), newest first, into `ks`; the log then holds its first `count` records.
   */
  undoTo(ks: Keyspace, count: number): void {
    assert(count >= 0, 'a savepoint is a record count')
    assert(count <= this.count, 'a savepoint is not past the newest record')
    const slots = this.slots
    for (let i = this.count - 1; i >= count; i--) {
      const at = i * SLOTS
      const fn = slots[at] as Undo | UndoRecord | null
      if (typeof fn === 'function') {
        fn()
        continue
      }
      const key = slots[at + 2]
      assert(typeof key === 'string', 'an entry record has its key')
      const db = slots[at + 1] as number
      const previous = slots[at + 3] as Entry | undefined
      if (fn !== null) {
        assert(previous !== undefined, 'an UndoRecord has its entry')
        fn.undoIn(ks, db, key, previous)
        continue
      }
      if (previous === undefined) ks.delete(db, key)
      else ks.set(db, key, previous)
    }
    this.clearFrom(count)
  }

  /** Forget every record (the transaction committed). */
  clear(): void {
    this.clearFrom(0)
  }

  /** Forget the records from record `count` on (they hold no references afterwards). */
  private clearFrom(count: number): void {
    const slots = this.slots
    const end = this.count * SLOTS
    assert(end <= slots.length, 'records are within the slots')
    for (let at = count * SLOTS; at < end; at += SLOTS) {
      slots[at] = null
      slots[at + 2] = null
      slots[at + 3] = undefined
    }
    this.count = count
  }
}
