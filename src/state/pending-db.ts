// The deferred index's per-database store (state/keyspace.ts, "Deferred index" and "Verify
// before apply"): pending whole-key writes as typed arrays, each shard a linked list in log
// order, with the record each event came from (its bytes, lsn and pool offset) so that the
// record can be verified again before the event applies. Invariants: see PendingDb below; a
// record's entries in lsns/offsets/verifiedIn/failure share its index in bufs.

/** Shards of the deferred index: a key's pending events live in shard keyHash(key) mod this. */
export const PENDING_SHARDS = 2048

/**
 * One database's deferred events, as typed arrays (a million of them cost no GC): event i is
 * (bufs[record[i]], offset[i], code[i]) in shard shard[i], having added estimate[i] to
 * liveBytes. Each shard is a singly linked list through next[], in log order, from head[shard]
 * to tail[shard] (head -1: nothing pending). Every event below `applied` has been applied; an
 * event at or above it is pending exactly when it is its shard's head or behind it — and, as
 * all earlier events of its shard are applied first, a pending event at `applied` is its
 * shard's head. So the background pass can apply in log order (sequential memory) while a key's
 * access applies just its shard's list.
 */
export class PendingDb {
  bufs: Buffer[] = []
  /** Per record (index into bufs): its lsn and pool offset, for verification and reports. */
  lsns: number[] = []
  offsets: number[] = []
  /** Per record: the materialization call that last verified it, and why it failed (or null). */
  verifiedIn: number[] = []
  failure: (string | null)[] = []
  hash = new Uint32Array(1024)
  record = new Int32Array(1024)
  offset = new Int32Array(1024)
  code = new Uint8Array(1024)
  next = new Int32Array(1024)
  shard = new Uint16Array(1024)
  estimate = new Int32Array(1024)
  used = 0
  applied = 0
  readonly head = new Int32Array(PENDING_SHARDS).fill(-1)
  readonly tail = new Int32Array(PENDING_SHARDS)
  readonly count = new Int32Array(PENDING_SHARDS)
  /** Events still pending in this database. */
  events = 0

  add(hash: number, buf: Buffer, offset: number, code: number, estimate: number,
    source: DeferSource): void {
    if (this.used === this.record.length) this.grow()
    const i = this.used++
    if (this.bufs[this.bufs.length - 1] !== buf) {
      this.bufs.push(buf)
      this.lsns.push(source.lsn)
      this.offsets.push(source.offset)
      this.verifiedIn.push(-1)
      this.failure.push(null)
    }
    const shard = hash % PENDING_SHARDS
    this.record[i] = this.bufs.length - 1
    this.offset[i] = offset
    this.code[i] = code
    this.next[i] = -1
    this.shard[i] = shard
    this.hash[i] = hash
    this.estimate[i] = estimate
    if (this.head[shard] === -1) this.head[shard] = i
    else this.next[this.tail[shard] as number] = i
    this.tail[shard] = i
    this.count[shard] = (this.count[shard] as number) + 1
    this.events++
  }

  private grow(): void {
    const n = this.record.length * 2
    const widen = <T extends Int32Array | Uint8Array | Uint16Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n)
      b.set(a)
      return b
    }
    this.record = widen(this.record, (k) => new Int32Array(k))
    this.offset = widen(this.offset, (k) => new Int32Array(k))
    this.code = widen(this.code, (k) => new Uint8Array(k))
    this.next = widen(this.next, (k) => new Int32Array(k))
    this.shard = widen(this.shard, (k) => new Uint16Array(k))
    this.hash = widen(this.hash, (k) => new Uint32Array(k))
    this.estimate = widen(this.estimate, (k) => new Int32Array(k))
  }
}

/** Where the deferred events being filed come from: their record's lsn and pool offset. */
export interface DeferSource { lsn: number; offset: number }

/** Verifies a pending event's record again (recovery's check): null when it verifies, else why. */
export type RecordVerifier = (record: Buffer, lsn: number) => string | null

/** A key whose pending write was in a record that failed verification. */
export interface CorruptKey { reason: string; offset: number; lsn: number }


/**
 * Keys whose pending write sat in a record that failed verification, per database by 32-bit key
 * hash (keyspace.ts, "Verify before apply"). `count` is the number of marks, all databases.
 */
export class CorruptMarks {
  private readonly byDb: (Map<number, CorruptKey> | null)[] = []
  count = 0

  get(db: number, hash: number): CorruptKey | undefined {
    return this.byDb[db]?.get(hash) ?? undefined
  }

  mark(db: number, hash: number, c: CorruptKey): void {
    let marks = this.byDb[db]
    if (marks === null || marks === undefined) {
      marks = new Map()
      this.byDb[db] = marks
    }
    if (!marks.has(hash)) this.count++
    marks.set(hash, c)
  }

  /** A later whole-key write of the key applied: its state no longer depends on the damage. */
  clear(db: number, hash: number): void {
    const marks = this.byDb[db]
    if (marks === null || marks === undefined || !marks.delete(hash)) return
    this.count--
    if (marks.size === 0) this.byDb[db] = null
  }

  /** The database was replaced (FLUSHDB, FLUSHALL): its marks go with it. */
  dropDb(db: number): void {
    const marks = this.byDb[db]
    if (marks === null || marks === undefined) return
    this.count -= marks.size
    this.byDb[db] = null
  }

  /** SWAPDB: marks travel with their databases, as pending lists do. */
  swap(a: number, b: number): void {
    const ma = this.byDb[a] ?? null
    this.byDb[a] = this.byDb[b] ?? null
    this.byDb[b] = ma
  }
}
