// A database's keys (KeyMap, below): Entries and string values indexed by a KeyTable. Split
// from state/keyspace.ts, which re-exports it.

import { Entry, keyHash, TYPE_STRING } from './entry.js'
import { KeyTable } from './key-table.js'
import { accessSettings } from './lru.js'
import { keptStringMem } from './memory-model.js'

/**
 * A database's keys: Entry objects indexed by a KeyTable (state/key-table.ts: key bytes, hash and
 * expiry in typed arrays, in 64 parts that grow incrementally), with the subset of Map's API the
 * commands use, plus lookups by a key's bytes and its precomputed hash (no key string built).
 * Iteration walks hash ranges: a key present for the whole iteration is visited exactly once,
 * a key added during it only if its hash is still ahead (storage/checkpoint.ts relies on no
 * more). Sampling (eviction, Redis's dictGetSomeKeys): sampling positions 0..size-1 over every
 * key and 0..volatileSize-1 over the keys with an expiry, a uniform random key in O(1).
 * Invariant: the table's expiry of a key equals its entry's expireAtMs (both change only
 * through put and setExpiry).
 *
 * String values without an Entry (issue 15): putValue keeps a string value in the table itself
 * (its bytes in the value arena, its access word in a column; no JS object per key). Such a
 * record reads as an Entry everywhere: get, getBytes and sampleEntry PROMOTE it (an Entry with
 * a copy of its value takes its place, so that its identity is stable and changes made through
 * it, touchKey or setExpiry, stay), entries()/values() and the previous entry put, putValue and
 * remove return are copies (a value record's bytes are released when it changes). Promotion is
 * not a change: same value, expiry, access word and estimates (memory-model.ts: such an Entry's
 * mem is keptStringMem, so the key stays counted as it was). The hot paths
 * (GET, SET's lookup) read value records in place through find/findBytes and the handle
 * accessors, without promoting.
 */
export class KeyMap {
  private readonly table = new KeyTable<Entry>()

  constructor(entries?: Iterable<readonly [string, Entry]>) {
    if (entries !== undefined) for (const [k, e] of entries) this.set(k, e)
  }

  get size(): number {
    return this.table.size
  }

  get(key: string, hash = keyHash(key)): Entry | undefined {
    const h = this.table.find(key, hash)
    return h === -1 ? undefined : this.entryAt(h)
  }

  /** The entry of the key buf[start, end) whose keyHash is `hash`. */
  getBytes(buf: Uint8Array, start: number, end: number, hash: number): Entry | undefined {
    const h = this.table.findBytes(buf, start, end, hash)
    return h === -1 ? undefined : this.entryAt(h)
  }

  /**
   * Handles of the keys at sampling positions i, i + 1, … (n, wrapping) into out[0, n): valid
   * until the next change; read them with entryAt and keyAt, test a kept one with holds.
   */
  sampleRun(i: number, n: number, volatile: boolean, out: Float64Array): void {
    this.table.sampleRun(i, n, volatile, out)
  }

  keyAt(handle: number): string {
    return this.table.keyOf(handle)
  }

  /**
   * Whether `handle` (of sampleRun, perhaps before changes) is still `entry`'s key's record
   * (a value record holds no entry: entryAt promotes the one it returns).
   */
  holds(handle: number, entry: Entry): boolean {
    return this.table.holds(handle, entry)
  }

  /** Record h's mark (KeyTable.markAt: its key's mixed hash), for holdsMark. */
  markAt(handle: number): number {
    return this.table.markAt(handle)
  }

  /** Whether `handle` (of sampleRun) still holds the key whose mark it had (KeyTable.holdsMark). */
  holdsMark(handle: number, mark: number): boolean {
    return this.table.holdsMark(handle, mark)
  }

  /** The entry of record h, undefined for a value record (not promoted: see accessAt). */
  refAt(h: number): Entry | undefined {
    return this.table.isValue(h) ? undefined : this.table.ref(h)
  }

  /** The access word of record h, a value record's or its entry's (nothing promoted). */
  accessAt(h: number): number {
    const t = this.table
    return t.isValue(h) ? t.access(h) : t.ref(h).lru
  }

  /** The expiry of the key at `handle` (ms; 0: none). */
  expiryAt(handle: number): number {
    return this.table.expireAtMs(handle)
  }

  /** The entry of record h (a value record is promoted first, so the entry is the key's). */
  entryAt(h: number): Entry {
    const t = this.table
    if (!t.isValue(h)) return t.ref(h)
    const entry = this.copyOf(h)
    t.setRefAt(h, entry)
    return entry
  }

  /** An Entry equal to value record h (not stored). */
  private copyOf(h: number): Entry {
    const t = this.table
    const entry = new Entry(TYPE_STRING, t.valueCopy(h), t.expireAtMs(h), t.valueLength(h) + 2)
    entry.lru = t.access(h)
    entry.mem = keptStringMem(entry.bytes)
    return entry
  }

  /** The entry of record h as it is now: a value record's is a copy (not stored). */
  private snapshotAt(h: number): Entry {
    return this.table.isValue(h) ? this.copyOf(h) : this.table.ref(h)
  }

  // Handles (KeyTable's): valid until the map next changes.

  /** The record of `key` (keyHash `hash`); -1: absent. */
  find(key: string, hash: number): number {
    return this.table.find(key, hash)
  }

  /** The record of the key buf[start, end) (keyHash `hash`); -1: absent. */
  findBytes(buf: Uint8Array, start: number, end: number, hash: number): number {
    return this.table.findBytes(buf, start, end, hash)
  }

  /** Record h keeps a string value in the table (no Entry). */
  isValue(h: number): boolean {
    return this.table.isValue(h)
  }

  /** Record h's expiry (ms, 0 = none). */
  expireAtOf(h: number): number {
    return this.table.expireAtMs(h)
  }

  /** A value record's access word (state/lru.ts). */
  accessOf(h: number): number {
    return this.table.access(h)
  }

  setAccessOf(h: number, access: number): void {
    this.table.setAccess(h, access)
  }

  /** A value record's length, and where its bytes are: valuePage(h) from valueOffset(h). */
  valueLength(h: number): number {
    return this.table.valueLength(h)
  }

  valuePage(h: number): Uint8Array {
    return this.table.values.page(this.table.valueAddress(h))
  }

  valueOffset(h: number): number {
    return this.table.values.offset(this.table.valueAddress(h))
  }

  has(key: string): boolean {
    return this.table.find(key, keyHash(key)) !== -1
  }

  set(key: string, entry: Entry): this {
    this.put(key, entry)
    return this
  }

  delete(key: string): boolean {
    return this.remove(key) !== undefined
  }

  /** Insert or replace `key` (keyHash `hash`); returns the previous entry. */
  put(key: string, entry: Entry, hash = keyHash(key)): Entry | undefined {
    const t = this.table
    const h = t.find(key, hash)
    if (h === -1 || !t.isValue(h)) return t.set(key, entry, entry.expireAtMs, hash)
    const previous = this.copyOf(h)
    t.setRefAt(h, entry)
    t.setExpiryAt(h, entry.expireAtMs)
    return previous
  }

  /**
   * Insert or replace `key` (keyHash `hash`) with string `value` kept in the table (copied); its
   * access word: a new key's initial one, a replaced key's as inheritAccess gives it. Returns
   * the previous entry.
   */
  putValue(key: string, value: Buffer, expireAtMs: number, hash = keyHash(key)): Entry | undefined {
    const t = this.table
    const h = t.find(key, hash)
    if (h === -1) {
      t.insertValue(key, hash, value, 0, value.length, expireAtMs, accessSettings.initial)
      return undefined
    }
    const previous = this.snapshotAt(h)
    const access = accessSettings.lfu ? previous.lru : accessSettings.initial
    t.setValueAt(h, value, 0, value.length, expireAtMs, access)
    return previous
  }

  /** Remove `key` (keyHash `hash`); returns its entry, undefined when absent. */
  remove(key: string, hash = keyHash(key)): Entry | undefined {
    const h = this.table.find(key, hash)
    if (h === -1) return undefined
    const previous = this.snapshotAt(h)
    this.table.deleteHandle(h)
    return previous
  }

  /** Change an entry's expiry (the table's copy follows while the entry is the key's). */
  setExpiry(key: string, entry: Entry, expireAtMs: number): void {
    entry.expireAtMs = expireAtMs
    const h = this.table.find(key, keyHash(key))
    // Not the key's entry: an undo after its key was replaced or deleted.
    if (h !== -1 && this.table.ref(h) === entry) this.table.setExpiryAt(h, expireAtMs)
  }

  /** Set record h's expiry (ms, 0 = none) in place, an entry's too (a value record has none). */
  setExpiryAt(h: number, expireAtMs: number): void {
    const t = this.table
    if (!t.isValue(h)) t.ref(h).expireAtMs = expireAtMs
    t.setExpiryAt(h, expireAtMs)
  }

  /** Keys with an expiry. */
  get volatileSize(): number {
    return this.table.volatileSize
  }

  /** The key at sampling position i (< size, or < volatileSize when `volatile`). */
  sampleKey(i: number, volatile: boolean): string {
    return this.table.keyOf(this.table.sample(i, volatile))
  }

  /** The entry at sampling position i (as sampleKey). */
  sampleEntry(i: number, volatile: boolean): Entry {
    return this.entryAt(this.table.sample(i, volatile))
  }

  /**
   * One SCAN step (KeyTable.scan: every key present for a whole walk from cursor 0 is returned
   * exactly once): the next cursor (0: done) and up to about `count` keys, reading at most
   * `maxVisits` buckets. The cursor is below 2^38.
   */
  scan(cursor: number, count: number, maxVisits: number): { next: number; keys: string[] } {
    const handles: number[] = []
    const next = this.table.scan(cursor, count, maxVisits, handles)
    const keys = handles.map((h) => this.table.keyOf(h))
    return { next, keys }
  }

  /** Check the index's invariants (O(n); tests and VERIFY). */
  check(): void {
    this.table.check()
  }

  /** Every key and entry (KeyTable.entries' guarantees); a value record's entry is a copy. */
  * entries(): IterableIterator<[string, Entry]> {
    for (const [k, h] of this.table.handles()) yield [k, this.snapshotAt(h)]
  }

  * keys(): IterableIterator<string> {
    for (const [k] of this.table.handles()) yield k
  }

  * values(): IterableIterator<Entry> {
    for (const [, h] of this.table.handles()) yield this.snapshotAt(h)
  }

  [Symbol.iterator](): IterableIterator<[string, Entry]> {
    return this.entries()
  }
}
