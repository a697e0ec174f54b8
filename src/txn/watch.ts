// WATCH: the two-way index between watched keys and the clients watching them (STYLE §2.6's
// txn/watch), with Redis 7.0's rules for when a watcher's EXEC must fail:
// - any change to a watched key by anyone (the keyspace reports every key an applied event
//   changes to its observer, this index), including the watcher itself and including expiry (a key that
//   expires is deleted by an event, so it is touched);
// - a watched key that was live at WATCH time and is logically expired at EXEC (checked by
//   dirtyByExpiry at EXEC, as Redis's isWatchedKeyExpired);
// - FLUSHDB / FLUSHALL / SWAPDB / DEBUG RELOAD (touchedDb with the database's previous map; a
//   reload empties every database first, as Redis's emptyData): a watched key that existed
//   before or exists after.
// A key already expired at WATCH time is special (Redis's `expired` flag): its deletion is no
// logical change and only clears the flag; a SWAPDB that brings in another expired copy keeps
// it. Any other touch of such a key marks the watcher dirty. (Redis 7.0.15's touchWatchedKey
// `break`s out of its loop there, skipping this and every later watcher — valkey/redis PR
// #14752; we implement the intended rule: every watcher is visited.)
// Invariants: byKey and each watcher's `watched` map describe the same pairs; a dirty watcher
// watches nothing (unwatchAll as Redis does), so marking it again is a no-op.
// Lifetime: the index holds no keyspace. Every notification names the keyspace it comes from
// and every query is handed the store's current one; the Store (txn/engine.ts) owns the
// observer and hands it to each keyspace it installs (open, DEBUG RELOAD), so the index follows
// whatever keyspace the store holds by construction.

import type { Entry, KeyMap, Keyspace, KeyspaceObserver } from '../state/keyspace.js'

export interface WatchedKey {
  db: number
  key: string
  expiredAtWatch: boolean
}

/** What the index needs of a client: ClientState (commands/spec.ts) has this shape. */
export interface Watcher {
  watchDirty: boolean
  readonly watched: Map<string, WatchedKey>
}

function slot(db: number, key: string): string {
  return `${db}:${key}`
}

function isLogicallyExpired(entry: Entry | undefined, nowMs: number): boolean {
  return entry !== undefined && entry.expireAtMs !== 0 && entry.expireAtMs < nowMs
}

export class WatchIndex implements KeyspaceObserver {
  private readonly byKey = new Map<string, Set<Watcher>>()
  /** Number of watched (watcher, key) pairs per database, to skip db-wide touches fast. */
  private readonly countByDb = new Map<number, number>()

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.byKey.size
  }

  watch(w: Watcher, keyspace: Keyspace, db: number, key: string): void {
    const s = slot(db, key)
    if (w.watched.has(s)) return
    const expiredAtWatch = isLogicallyExpired(keyspace.get(db, key), this.now())
    w.watched.set(s, { db, key, expiredAtWatch })
    let set = this.byKey.get(s)
    if (set === undefined) {
      set = new Set()
      this.byKey.set(s, set)
    }
    set.add(w)
    this.countByDb.set(db, (this.countByDb.get(db) ?? 0) + 1)
  }

  unwatchAll(w: Watcher): void {
    for (const [s, wk] of w.watched) {
      const set = this.byKey.get(s)
      if (set !== undefined) {
        set.delete(w)
        if (set.size === 0) this.byKey.delete(s)
      }
      const n = (this.countByDb.get(wk.db) ?? 1) - 1
      if (n === 0) this.countByDb.delete(wk.db)
      else this.countByDb.set(wk.db, n)
    }
    w.watched.clear()
  }

  private markDirty(w: Watcher): void {
    w.watchDirty = true
    this.unwatchAll(w)
  }

  /** A key changed (set, deleted, expiry changed, value changed). */
  touched(keyspace: Keyspace, db: number, key: string): void {
    if (this.byKey.size === 0) return
    const set = this.byKey.get(slot(db, key))
    if (set === undefined) return
    const exists = keyspace.get(db, key) !== undefined
    for (const w of Array.from(set)) {
      const wk = w.watched.get(slot(db, key))
      if (wk === undefined) continue
      if (wk.expiredAtWatch && !exists) {
        wk.expiredAtWatch = false // the expired key was deleted: no logical change
        continue
      }
      this.markDirty(w)
    }
  }

  /** A database was replaced (FLUSHDB, FLUSHALL, a reload) or swapped (SWAPDB). */
  touchedDb(keyspace: Keyspace, db: number, previous?: KeyMap, current?: KeyMap): void {
    if ((this.countByDb.get(db) ?? 0) === 0) return
    const now = this.now()
    const map = current ?? keyspace.db(db)
    for (const [s, set] of Array.from(this.byKey)) {
      for (const w of Array.from(set)) {
        const wk = w.watched.get(s)
        if (wk === undefined || wk.db !== db) continue
        // Without the previous map (an older keyspace), assume the key existed.
        const existedBefore = previous === undefined ? true : previous.has(wk.key)
        const after = map.get(wk.key)
        if (!existedBefore && after === undefined) continue
        if (wk.expiredAtWatch) {
          if (after === undefined) {
            wk.expiredAtWatch = false
            continue
          }
          if (isLogicallyExpired(after, now)) continue
        } else if (!existedBefore && isLogicallyExpired(after, now)) {
          wk.expiredAtWatch = true
          continue
        }
        this.markDirty(w)
      }
    }
  }

  /** EXEC's check: a key live at WATCH time that is logically expired now. */
  dirtyByExpiry(w: Watcher, keyspace: Keyspace): boolean {
    const now = this.now()
    for (const wk of w.watched.values()) {
      if (wk.expiredAtWatch) continue
      if (isLogicallyExpired(keyspace.get(wk.db, wk.key), now)) return true
    }
    return false
  }
}
