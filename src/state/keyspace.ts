// The in-memory databases: the projection of the durable log (DESIGN rule 1). Sixteen numbered
// databases map a key (a latin1 string: one char per byte, so binary keys are exact) to an
// Entry. Invariants:
// - liveBytes is the sum over entries of entryBytes(key, entry): an estimate of the bytes a
//   checkpoint of the live state needs, kept exact with respect to that estimate by every
//   mutation (set/delete here, adjustBytes for in-place collection changes);
// - epoch changes whenever a database map object is replaced (FLUSHDB, FLUSHALL, SWAPDB), so an
//   incremental checkpoint iterating the maps knows its iterators are stale;
// - onTouch/onTouchDb are called for every key or database an applied event changes (WATCH).

export const DB_COUNT = 16
export const TYPE_STRING = 0
export const TYPE_LIST = 1
export const TYPE_HASH = 2
export const TYPE_SET = 3
export const TYPE_ZSET = 4

/** Fixed per-entry overhead in the checkpoint estimate (event header, type, expiry, lengths). */
export const ENTRY_OVERHEAD_BYTES = 24

export class Entry {
  /**
   * Last access time (ms) for OBJECT IDLETIME, set by every lookup that is not NOTOUCH; 0 = not
   * read since written. Volatile, as Redis's LRU field is: never logged, lost on restart. A field
   * rather than a WeakMap beside the keyspace: a lookup then costs a store, not a hash-table insert.
   */
  accessMs = 0
  constructor(
    public type: number,
    public value: unknown,
    /** Absolute expiry time in ms since the epoch; 0 = no expiry. */
    public expireAtMs: number,
    /** Estimated encoded size of the value. */
    public bytes: number,
  ) {}
}

export function entryBytes(key: string, entry: Entry): number {
  return key.length + entry.bytes + ENTRY_OVERHEAD_BYTES
}

export class Keyspace {
  dbs: Map<string, Entry>[] = []
  liveBytes = 0
  epoch = 0
  onTouch: ((db: number, key: string) => void) | null = null
  /** `previous`: the database's map before it was replaced or swapped (WATCH needs it). */
  onTouchDb: ((db: number, previous?: Map<string, Entry>) => void) | null = null

  constructor() {
    for (let i = 0; i < DB_COUNT; i++) this.dbs.push(new Map())
  }

  db(index: number): Map<string, Entry> {
    const map = this.dbs[index]
    if (map === undefined) throw new RangeError(`no database ${index}`)
    return map
  }

  get(db: number, key: string): Entry | undefined {
    return this.db(db).get(key)
  }

  /** Insert or replace; returns the previous entry. */
  set(db: number, key: string, entry: Entry): Entry | undefined {
    const map = this.db(db)
    const previous = map.get(key)
    if (previous !== undefined) this.liveBytes -= entryBytes(key, previous)
    map.set(key, entry)
    this.liveBytes += entryBytes(key, entry)
    this.touch(db, key)
    return previous
  }

  delete(db: number, key: string): Entry | undefined {
    const map = this.db(db)
    const previous = map.get(key)
    if (previous === undefined) return undefined
    map.delete(key)
    this.liveBytes -= entryBytes(key, previous)
    this.touch(db, key)
    return previous
  }

  /** An in-place change of a collection's size estimate. */
  adjustBytes(entry: Entry, delta: number): void {
    entry.bytes += delta
    this.liveBytes += delta
  }

  touch(db: number, key: string): void {
    if (this.onTouch !== null) this.onTouch(db, key)
  }

  touchDb(db: number, previous?: Map<string, Entry>): void {
    if (this.onTouchDb !== null) this.onTouchDb(db, previous)
  }

  /** Replace a database's map (FLUSHDB, SWAPDB); returns the old one. */
  replaceDb(db: number, map: Map<string, Entry>): Map<string, Entry> {
    const old = this.db(db)
    for (const [key, entry] of old) this.liveBytes -= entryBytes(key, entry)
    for (const [key, entry] of map) this.liveBytes += entryBytes(key, entry)
    this.dbs[db] = map
    this.epoch++
    this.touchDb(db, old)
    return old
  }

  swapDbs(a: number, b: number): void {
    const ma = this.db(a)
    const mb = this.db(b)
    this.dbs[a] = mb
    this.dbs[b] = ma
    this.epoch++
    this.touchDb(a, ma)
    this.touchDb(b, mb)
  }

  keyCount(): number {
    let n = 0
    for (const map of this.dbs) n += map.size
    return n
  }
}
