// A database's key index over typed arrays (issue 15 stage 3): key bytes, hash, expiry and a
// reference per key, with no JS object per key but the reference itself. Replaces a
// Map<string, V>: a lookup by a latin1 string or by bytes (a request's argument, no string
// built) costs a hash over the key's bytes, one bucket read, a hash compare and a byte compare.
//
// Layout. TABLE_PARTS parts, a key's part by the low bits of its mixed hash, so that growing one
// part copies 1/64 of the columns (bench/key-table.ts times every insert up to 10 M keys beside a
// Map's). A part holds:
// - records 0..size-1, dense: 32 bytes each holding the mixed hash, the chain link, the key's
//   length and, up to INLINE_KEY_BYTES, its bytes (one cache line read per record a lookup
//   visits; longer keys have an arena address in a column), then columns for the expiry (f64 ms,
//   0 = none), the position in the volatile list (i32, -1 = none), and the reference (a JS
//   array) — or, for a record holding a VALUE (a string value kept in the table, no JS object:
//   issue 15), its length in the record's word 3, its address in the table's value arena and its
//   access word (LRU/LFU bits, state/lru.ts) in columns. Deleting a record moves the last one into
//   its place (so a uniform random key costs O(1): eviction's and RANDOMKEY's sampling);
// - chained buckets indexed by the TOP `bits` bits of the mixed hash: growing from bits to bits+1
//   splits bucket b into 2b and 2b+1, so the order of buckets is the order of hashes. Growth is
//   incremental (Redis's dict rehash): while `old` is set, inserts and deletes move MOVE_STEP old
//   buckets each; a key whose old bucket is not yet moved is chained there (an insert too), else
//   in its new bucket, so a lookup reads exactly one chain. Buckets and columns never shrink
//   (their bytes per peak key stay until the table is dropped);
// - the volatile list: the records with an expiry, dense, each knowing its position (vslot).
// Key bytes live in a KeyArena shared by the parts (state/key-arena.ts).
//
// Iteration and SCAN walk hash RANGES, not records: rangeInPart(lo, hi) returns the keys whose
// mixed hash lies in [lo, hi), reading every bucket, old or new, that can hold such a hash. A
// walk of consecutive ranges therefore returns every key present for the whole walk exactly once
// — whatever inserts, deletes, growth and bucket moves happen between its steps — because a
// key's hash never changes and the ranges are disjoint. A key inserted or deleted meanwhile is
// returned at most once.
//
// Invariants (check() verifies them all, O(n); the property test runs it after every step):
// - a key is in at most one record; size = the number of records = the keys;
// - every record is chained from exactly one bucket: the bucket of its hash in the old table
//   while growing and that old bucket is not yet moved (index >= moved), else in the new table;
// - old buckets below `moved` are empty; growth completes before the next one starts;
// - vslot[r] >= 0 exactly when expire[r] !== 0, and vrecs[vslot[r]] === r;
// - a key's arena chunk is owned by its record alone (released when the record is deleted);
// - a record holds a reference or a value, never both: word 3 is -1 and refs[r] is set, or
//   word 3 is the value's length >= 0 and refs[r] is undefined; a value's chunk in the value
//   arena is owned by its record alone (released when the record is deleted or takes a ref).

import { assert } from '../assert.js'
import { fnv1a, KeyArena, type Latin1Page, mixHash } from './key-arena.js'

export { ARENA_CLASS_MAX, fnv1a, fnv1aBytes, mixHash } from './key-arena.js'

/** Parts of a table (a power of two; the low bits of the mixed hash choose the part). */
export const TABLE_PARTS = 64
/** Old buckets moved per insert or delete while a part grows (finishes within size/2 inserts). */
const MOVE_STEP = 2
/** 32-bit words per record (see Part.rec); record r starts at word r << 3, byte r << 5. */
const RECORD_WORDS = 8
/** Keys of up to this many bytes are kept in their record (words 4..7), longer ones in the arena. */
export const INLINE_KEY_BYTES = 16
const INITIAL_BITS = 2
const INITIAL_RECORDS = 4

/** One part: records in parallel columns, chained buckets by the hash's top bits. */
class Part<V> {
  /**
   * Records, RECORD_WORDS 32-bit words each, so a lookup reads one cache line per record:
   * word 0 the mixed hash, 1 the chain link, 2 the key's length, 3 the value's length (-1: the
   * record holds a reference instead), words 4..7 the key's
   * bytes when it has at most INLINE_KEY_BYTES (else keyAt holds its arena address).
   */
  rec = new Int32Array(INITIAL_RECORDS * RECORD_WORDS)
  /** The same words unsigned (the hash), and as bytes (inline keys) and a Buffer (their strings). */
  recU = new Uint32Array(this.rec.buffer)
  recB = Buffer.from(this.rec.buffer) as Latin1Page
  keyAt = new Float64Array(INITIAL_RECORDS)
  expire = new Float64Array(INITIAL_RECORDS)
  vslot = new Int32Array(INITIAL_RECORDS)
  /** A value record's address in the value arena, and its access word (state/lru.ts). */
  vat = new Float64Array(INITIAL_RECORDS)
  acc = new Int32Array(INITIAL_RECORDS)
  refs: V[] = []
  size = 0
  bits = INITIAL_BITS
  buckets = new Int32Array(1 << INITIAL_BITS).fill(-1)
  /** While growing: the previous buckets (bits - 1), moved up to `moved`. */
  old: Int32Array | null = null
  moved = 0
  vrecs = new Int32Array(INITIAL_RECORDS)
  vsize = 0

  /** Records this part has room for. */
  get capacity(): number {
    return this.keyAt.length
  }

  grow(): void {
    const n = this.capacity * 2
    const widen = <T extends Int32Array | Float64Array>(a: T, b: T): T => {
      b.set(a)
      return b
    }
    this.rec = widen(this.rec, new Int32Array(n * RECORD_WORDS))
    this.recU = new Uint32Array(this.rec.buffer)
    this.recB = Buffer.from(this.rec.buffer) as Latin1Page
    this.keyAt = widen(this.keyAt, new Float64Array(n))
    this.expire = widen(this.expire, new Float64Array(n))
    this.vslot = widen(this.vslot, new Int32Array(n))
    this.vat = widen(this.vat, new Float64Array(n))
    this.acc = widen(this.acc, new Int32Array(n))
  }

  /** Record r's key is latin1 string `key` (store it inline or in the arena). */
  storeString(arena: KeyArena, r: number, key: string): void {
    const n = key.length
    this.rec[(r << 3) + 2] = n
    if (n > INLINE_KEY_BYTES) {
      this.keyAt[r] = arena.storeString(key)
      return
    }
    const at = (r << 5) + 16
    for (let i = 0; i < n; i++) this.recB[at + i] = key.charCodeAt(i)
  }

  /** Record r's key (of length n) equals latin1 string `key` (of length n). */
  equalsString(arena: KeyArena, r: number, n: number, key: string): boolean {
    if (n > INLINE_KEY_BYTES) return arena.equalsString(this.keyAt[r] as number, n, key)
    const at = (r << 5) + 16
    for (let i = 0; i < n; i++) if (this.recB[at + i] !== key.charCodeAt(i)) return false
    return true
  }

  /** Record r's key (of length n) equals bytes buf[start, start + n). */
  equalsBytes(arena: KeyArena, r: number, n: number, buf: Uint8Array, start: number): boolean {
    if (n > INLINE_KEY_BYTES) return arena.equalsBytes(this.keyAt[r] as number, n, buf, start)
    const at = (r << 5) + 16
    for (let i = 0; i < n; i++) if (this.recB[at + i] !== buf[start + i]) return false
    return true
  }

  /** Record r's key as a latin1 string. */
  keyString(arena: KeyArena, r: number): string {
    const n = this.rec[(r << 3) + 2] as number
    if (n > INLINE_KEY_BYTES) return arena.string(this.keyAt[r] as number, n)
    const at = (r << 5) + 16
    return this.recB.latin1Slice(at, at + n)
  }

  /** Record r's key leaves (its arena chunk, if any, is freed). */
  releaseKey(arena: KeyArena, r: number): void {
    const n = this.rec[(r << 3) + 2] as number
    if (n > INLINE_KEY_BYTES) arena.release(this.keyAt[r] as number, n)
  }

  addVolatile(r: number): void {
    if (this.vsize === this.vrecs.length) {
      const b = new Int32Array(this.vrecs.length * 2)
      b.set(this.vrecs)
      this.vrecs = b
    }
    this.vslot[r] = this.vsize
    this.vrecs[this.vsize++] = r
  }

  removeVolatile(r: number): void {
    const i = this.vslot[r] as number
    const last = this.vrecs[--this.vsize] as number
    if (i < this.vsize) {
      this.vrecs[i] = last
      this.vslot[last] = i
    }
    this.vslot[r] = -1
  }

  /** Start growing the buckets (bits + 1): the current ones become `old`. */
  startGrowth(): void {
    if (this.old !== null) this.finishGrowth()
    this.old = this.buckets
    this.moved = 0
    this.bits++
    this.buckets = new Int32Array(1 << this.bits).fill(-1)
  }

  finishGrowth(): void {
    while (this.old !== null) this.moveBuckets(1 << 30)
  }

  /** Move up to `n` old buckets' chains into the new buckets. */
  moveBuckets(n: number): void {
    const old = this.old
    if (old === null) return
    const shift = 32 - this.bits
    let b = this.moved
    const end = Math.min(old.length, b + n)
    for (; b < end; b++) {
      let r = old[b] as number
      old[b] = -1
      while (r !== -1) {
        const nx = this.rec[(r << 3) + 1] as number
        const nb = (this.recU[r << 3] as number) >>> shift
        this.rec[(r << 3) + 1] = this.buckets[nb] as number
        this.buckets[nb] = r
        r = nx
      }
    }
    this.moved = b
    if (b === old.length) this.old = null
  }

  /** Set by chainOf: the bucket array and index a record of hash m is chained from. */
  cArr: Int32Array = this.buckets
  cB = 0

  /**
   * Where a record of hash m is chained (into cArr / cB): its old bucket while that one is not
   * yet moved (inserts during growth go there too), else its new bucket.
   */
  chainOf(m: number): void {
    if (this.old !== null) {
      const ob = m >>> (33 - this.bits)
      if (ob >= this.moved) {
        this.cArr = this.old
        this.cB = ob
        return
      }
    }
    this.cArr = this.buckets
    this.cB = m >>> (32 - this.bits)
  }

  /** The first record chained where hash m belongs (-1: none). */
  head(m: number): number {
    if (this.old !== null) {
      const ob = m >>> (33 - this.bits)
      if (ob >= this.moved) return this.old[ob] as number
    }
    return this.buckets[m >>> (32 - this.bits)] as number
  }

  /** Unlink record r (hash m) from its chain. */
  unlink(r: number, m: number): void {
    this.chainOf(m)
    const arr = this.cArr
    const b = this.cB
    let p = arr[b] as number
    if (p === r) {
      arr[b] = this.rec[(r << 3) + 1] as number
      return
    }
    while (p !== -1) {
      const nx = this.rec[(p << 3) + 1] as number
      if (nx === r) {
        this.rec[(p << 3) + 1] = this.rec[(r << 3) + 1] as number
        return
      }
      p = nx
    }
    assert(false, 'a record is on its chain')
  }

  /** Point whatever links to record `from` (hash m) at `to` instead (a record moved). */
  relink(from: number, to: number, m: number): void {
    this.chainOf(m)
    const arr = this.cArr
    const b = this.cB
    let p = arr[b] as number
    if (p === from) {
      arr[b] = to
      return
    }
    while (p !== -1) {
      const nx = this.rec[(p << 3) + 1] as number
      if (nx === from) {
        this.rec[(p << 3) + 1] = to
        return
      }
      p = nx
    }
    assert(false, 'a moved record is on its chain')
  }
}

/** A record's place: part index and record index, packed as rec * TABLE_PARTS + part. */
export type Handle = number

const EMPTY_PART = new Part<unknown>()

export class KeyTable<V> {
  /** Parts are made on first use (part()): a keyspace has 16 tables, most of them empty. */
  private readonly parts: (Part<V> | undefined)[] = new Array<Part<V> | undefined>(TABLE_PARTS).fill(undefined)
  readonly arena = new KeyArena()
  /** The value records' bytes (size classes as the keys', longer values in Buffers of their own). */
  readonly values = new KeyArena()
  /** Keys in the table. */
  size = 0
  /** Keys with an expiry. */
  volatileSize = 0

  private part(pi: number): Part<V> {
    return this.parts[pi] ?? (this.parts[pi] = new Part<V>())
  }

  /** Part `pi` to read: an absent one reads as the shared empty part, which is never written. */
  private peek(pi: number): Part<V> {
    return this.parts[pi] ?? (EMPTY_PART as Part<V>)
  }

  // ---- lookup -------------------------------------------------------------------------------

  /** The record of latin1 string `key` whose FNV-1a is `fnv`, or -1. */
  find(key: string, fnv: number): Handle {
    const m = mixHash(fnv)
    const pi = m & (TABLE_PARTS - 1)
    const p = this.peek(pi)
    const n = key.length
    for (let r = p.head(m); r !== -1; r = p.rec[(r << 3) + 1] as number) {
      if (p.recU[r << 3] === m && p.rec[(r << 3) + 2] === n &&
          p.equalsString(this.arena, r, n, key)) return r * TABLE_PARTS + pi
    }
    return -1
  }

  /** The record of the key buf[start, end) whose FNV-1a is `fnv`, or -1. */
  findBytes(buf: Uint8Array, start: number, end: number, fnv: number): Handle {
    const m = mixHash(fnv)
    const pi = m & (TABLE_PARTS - 1)
    const p = this.peek(pi)
    const n = end - start
    for (let r = p.head(m); r !== -1; r = p.rec[(r << 3) + 1] as number) {
      if (p.recU[r << 3] === m && p.rec[(r << 3) + 2] === n &&
          p.equalsBytes(this.arena, r, n, buf, start)) return r * TABLE_PARTS + pi
    }
    return -1
  }

  get(key: string, fnv = fnv1a(key)): V | undefined {
    const h = this.find(key, fnv)
    return h === -1 ? undefined : this.ref(h)
  }

  has(key: string, fnv = fnv1a(key)): boolean {
    return this.find(key, fnv) !== -1
  }

  /** The reference of record h. */
  ref(h: Handle): V {
    return this.part(h & (TABLE_PARTS - 1)).refs[Math.floor(h / TABLE_PARTS)] as V
  }

  /** The key of record h, as a latin1 string (builds it). */
  keyOf(h: Handle): string {
    const p = this.part(h & (TABLE_PARTS - 1))
    const r = Math.floor(h / TABLE_PARTS)
    return p.keyString(this.arena, r)
  }

  /** The expiry of record h (ms, 0 = none). */
  expireAtMs(h: Handle): number {
    return this.part(h & (TABLE_PARTS - 1)).expire[Math.floor(h / TABLE_PARTS)] as number
  }

  // ---- changes ------------------------------------------------------------------------------

  /**
   * Insert or replace latin1 string `key` (FNV-1a `fnv`) with `ref` and `expireAtMs`; returns the
   * previous reference (undefined: the key was absent). A replaced key keeps its record.
   */
  set(key: string, ref: V, expireAtMs: number, fnv = fnv1a(key)): V | undefined {
    const h = this.find(key, fnv)
    if (h !== -1) {
      const p = this.part(h & (TABLE_PARTS - 1))
      const r = Math.floor(h / TABLE_PARTS)
      const previous = p.refs[r] as V
      this.dropValue(p, r)
      p.refs[r] = ref
      this.setExpiryIn(p, r, expireAtMs)
      return previous
    }
    const m = mixHash(fnv)
    const p = this.part(m & (TABLE_PARTS - 1))
    const r = this.insertRecord(p, m, expireAtMs)
    p.storeString(this.arena, r, key)
    p.refs[r] = ref
    return undefined
  }

  /** A new record of hash m in part p (its key and ref still to be written). */
  private insertRecord(p: Part<V>, m: number, expireAtMs: number): number {
    if (p.old !== null) p.moveBuckets(MOVE_STEP)
    if (p.size === p.capacity) p.grow()
    const r = p.size++
    this.size++
    p.recU[r << 3] = m
    p.rec[(r << 3) + 3] = -1
    p.chainOf(m)
    p.rec[(r << 3) + 1] = p.cArr[p.cB] as number
    p.cArr[p.cB] = r
    p.expire[r] = expireAtMs
    p.vslot[r] = -1
    if (expireAtMs !== 0) {
      p.addVolatile(r)
      this.volatileSize++
    }
    if (p.size > p.buckets.length) p.startGrowth()
    return r
  }

  /** Delete latin1 string `key`; returns its reference (undefined: absent, or a value record). */
  delete(key: string, fnv = fnv1a(key)): V | undefined {
    const h = this.find(key, fnv)
    if (h === -1) return undefined
    const previous = this.ref(h)
    this.deleteHandle(h)
    return previous
  }

  /** Delete record h (every other handle of its part may change: the last record moves). */
  deleteHandle(h: Handle): void {
    const p = this.part(h & (TABLE_PARTS - 1))
    const r = Math.floor(h / TABLE_PARTS)
    if (p.old !== null) p.moveBuckets(MOVE_STEP)
    p.unlink(r, p.recU[r << 3] as number)
    p.releaseKey(this.arena, r)
    this.dropValue(p, r)
    if (p.vslot[r] !== -1) {
      p.removeVolatile(r)
      this.volatileSize--
    }
    const last = --p.size
    this.size--
    if (r !== last) {
      p.relink(last, r, p.recU[last << 3] as number)
      p.rec.copyWithin(r << 3, last << 3, (last << 3) + 8)
      p.keyAt[r] = p.keyAt[last] as number
      p.expire[r] = p.expire[last] as number
      p.vat[r] = p.vat[last] as number
      p.acc[r] = p.acc[last] as number
      const vs = p.vslot[last] as number
      p.vslot[r] = vs
      if (vs !== -1) p.vrecs[vs] = r
      p.refs[r] = p.refs[last] as V
    }
    p.refs[last] = undefined as V
    p.refs.length = last
  }

  /** Set the expiry of latin1 string `key`; false when it is absent. */
  setExpiry(key: string, expireAtMs: number, fnv = fnv1a(key)): boolean {
    const h = this.find(key, fnv)
    if (h === -1) return false
    this.setExpiryAt(h, expireAtMs)
    return true
  }

  /** Set the expiry of record h. */
  setExpiryAt(h: Handle, expireAtMs: number): void {
    this.setExpiryIn(this.part(h & (TABLE_PARTS - 1)), Math.floor(h / TABLE_PARTS),
      expireAtMs)
  }

  private setExpiryIn(p: Part<V>, r: number, expireAtMs: number): void {
    const was = p.expire[r] as number
    p.expire[r] = expireAtMs
    if (was === 0 && expireAtMs !== 0) {
      p.addVolatile(r)
      this.volatileSize++
    } else if (was !== 0 && expireAtMs === 0) {
      p.removeVolatile(r)
      this.volatileSize--
    }
  }

  // ---- values -------------------------------------------------------------------------------

  /** Record h holds a value (not a reference). */
  isValue(h: Handle): boolean {
    return (this.part(h & (TABLE_PARTS - 1)).rec[(Math.floor(h / TABLE_PARTS) << 3) + 3] as number) >= 0
  }

  /** The length of record h's value (-1: it holds a reference). */
  valueLength(h: Handle): number {
    return this.part(h & (TABLE_PARTS - 1)).rec[(Math.floor(h / TABLE_PARTS) << 3) + 3] as number
  }

  /** The value arena address of value record h (its bytes: values.page / values.offset). */
  valueAddress(h: Handle): number {
    return this.part(h & (TABLE_PARTS - 1)).vat[Math.floor(h / TABLE_PARTS)] as number
  }

  /** A copy of value record h's bytes (a Buffer of its own). */
  valueCopy(h: Handle): Buffer {
    const n = this.valueLength(h)
    assert(n >= 0, 'a value record')
    const at = this.valueAddress(h)
    const off = this.values.offset(at)
    return Buffer.from(this.values.page(at).subarray(off, off + n))
  }

  /** The access word of value record h (state/lru.ts). */
  access(h: Handle): number {
    return this.part(h & (TABLE_PARTS - 1)).acc[Math.floor(h / TABLE_PARTS)] as number
  }

  setAccess(h: Handle, access: number): void {
    this.part(h & (TABLE_PARTS - 1)).acc[Math.floor(h / TABLE_PARTS)] = access
  }

  /**
   * Insert latin1 string `key` (FNV-1a `fnv`), ABSENT from the table (find returned -1 and
   * nothing changed since), holding the value buf[start, end); returns its handle.
   */
  insertValue(key: string, fnv: number, buf: Uint8Array, start: number, end: number,
    expireAtMs: number, access: number): Handle {
    const m = mixHash(fnv)
    const pi = m & (TABLE_PARTS - 1)
    const p = this.part(pi)
    const r = this.insertRecord(p, m, expireAtMs)
    p.storeString(this.arena, r, key)
    p.refs[r] = undefined as V
    this.storeValue(p, r, buf, start, end, access)
    return r * TABLE_PARTS + pi
  }

  /** Record h holds the value buf[start, end) from now on (its reference or value dropped). */
  setValueAt(h: Handle, buf: Uint8Array, start: number, end: number, expireAtMs: number,
    access: number): void {
    const p = this.part(h & (TABLE_PARTS - 1))
    const r = Math.floor(h / TABLE_PARTS)
    this.dropValue(p, r)
    p.refs[r] = undefined as V
    this.storeValue(p, r, buf, start, end, access)
    this.setExpiryIn(p, r, expireAtMs)
  }

  /** Record h holds reference `ref` from now on (its value, if any, released). */
  setRefAt(h: Handle, ref: V): void {
    const p = this.part(h & (TABLE_PARTS - 1))
    const r = Math.floor(h / TABLE_PARTS)
    this.dropValue(p, r)
    p.refs[r] = ref
  }

  private storeValue(p: Part<V>, r: number, buf: Uint8Array, start: number, end: number,
    access: number): void {
    assert(end >= start, 'a value has a length')
    p.vat[r] = this.values.storeBytes(buf, start, end)
    p.rec[(r << 3) + 3] = end - start
    p.acc[r] = access
  }

  /** Record r's value (if it holds one) is released; it holds neither a value nor a ref. */
  private dropValue(p: Part<V>, r: number): void {
    const n = p.rec[(r << 3) + 3] as number
    if (n < 0) return
    this.values.release(p.vat[r] as number, n)
    p.rec[(r << 3) + 3] = -1
  }

  // ---- sampling -----------------------------------------------------------------------------

  /** The record at sampling position i (< size, or < volatileSize when `volatile`). */
  sample(i: number, volatile: boolean): Handle {
    let k = i
    for (let pi = 0; pi < TABLE_PARTS; pi++) {
      const p = this.peek(pi)
      const n = volatile ? p.vsize : p.size
      if (k < n) return (volatile ? p.vrecs[k] as number : k) * TABLE_PARTS + pi
      k -= n
    }
    throw new RangeError(`no sampling position ${i}`)
  }

  /**
   * The records at sampling positions i, i + 1, … (n of them, wrapping at the end) into
   * out[0, n), with one walk over the parts for all of them (sample() walks for each).
   */
  sampleRun(i: number, n: number, volatile: boolean, out: Float64Array): void {
    assert(i >= 0 && i < (volatile ? this.volatileSize : this.size), 'a sampling position')
    assert(n <= out.length, 'room for the run')
    let pi = 0
    let p = this.peek(0)
    let k = i
    for (let j = 0; j < n; j++, k++) {
      while (k >= (volatile ? p.vsize : p.size)) { // past this part: the next (empty ones too)
        k -= volatile ? p.vsize : p.size
        pi = (pi + 1) & (TABLE_PARTS - 1)
        p = this.peek(pi)
      }
      out[j] = (volatile ? p.vrecs[k] as number : k) * TABLE_PARTS + pi
    }
  }

  /**
   * Record h's mark: its key's mixed hash. With holdsMark, eviction's pool tells whether a record
   * sampled earlier still holds the same key without building or keeping the key.
   */
  markAt(h: Handle): number {
    return this.part(h & (TABLE_PARTS - 1)).recU[Math.floor(h / TABLE_PARTS) << 3] as number
  }

  /**
   * Whether record h still exists and its key's mixed hash is `mark` (markAt when sampled): the
   * same key unless another key of the same 32-bit mixed hash took its place (its part's last
   * record moved there by a delete, or a table replaced).
   */
  holdsMark(h: Handle, mark: number): boolean {
    const p = this.peek(h & (TABLE_PARTS - 1))
    const r = Math.floor(h / TABLE_PARTS)
    return r < p.size && p.recU[r << 3] === mark
  }

  /** Whether record h still exists and holds `ref` (a handle kept across changes). */
  holds(h: Handle, ref: V): boolean {
    const p = this.peek(h & (TABLE_PARTS - 1))
    const r = Math.floor(h / TABLE_PARTS)
    return r < p.size && p.refs[r] === ref
  }

  // ---- iteration ----------------------------------------------------------------------------

  /**
   * The records of part `pi` whose mixed hash is in [lo, hi) (hi <= 2^32), appended to `out`
   * as handles. Reads every bucket, new or not yet moved, that can hold such a hash.
   */
  rangeInPart(pi: number, lo: number, hi: number, out: Handle[]): void {
    const p = this.peek(pi)
    this.collect(p, pi, p.buckets, p.bits, 0, lo, hi, out)
    if (p.old !== null) this.collect(p, pi, p.old, p.bits - 1, p.moved, lo, hi, out)
  }

  private collect(p: Part<V>, pi: number, arr: Int32Array, bits: number, from: number,
    lo: number, hi: number, out: Handle[]): void {
    const shift = 32 - bits
    const first = Math.max(from, Math.floor(lo / 2 ** shift))
    const last = Math.floor((hi - 1) / 2 ** shift)
    for (let b = first; b <= last; b++) {
      for (let r = arr[b] as number; r !== -1; r = p.rec[(r << 3) + 1] as number) {
        const m = p.recU[r << 3] as number
        if (m >= lo && m < hi) out.push(r * TABLE_PARTS + pi)
      }
    }
  }

  /** The width of a hash range holding about one bucket of the largest part. */
  rangeWidth(): number {
    let bits = 0
    for (const p of this.parts) bits = Math.max(bits, p?.bits ?? INITIAL_BITS)
    return 2 ** (32 - bits)
  }

  /**
   * One SCAN step from hash position `cursor` (0 <= cursor < 2^32): appends the records of every
   * part whose mixed hash is in [cursor, cursor + rangeWidth()) to `out`; returns the next
   * cursor, 0 when the walk is done. A walk from 0 returns every key present for all of it
   * exactly once (the ranges are disjoint and cover the hash space).
   */
  scanStep(cursor: number, out: Handle[]): number {
    const hi = Math.min(2 ** 32, cursor + this.rangeWidth())
    for (let pi = 0; pi < TABLE_PARTS; pi++) this.rangeInPart(pi, cursor, hi, out)
    return hi === 2 ** 32 ? 0 : hi
  }

  /**
   * One step of a SCAN walk in part-major order (Redis's granularity: about one bucket per
   * visit). `cursor` = part * 2^32 + a hash position in that part; records are appended to `out`
   * until it holds `count` or `maxVisits` ranges were read. Returns the next cursor, 0 when the
   * walk is done. A walk from 0 returns every key present for all of it exactly once (parts in
   * order, disjoint hash ranges within each part).
   */
  scan(cursor: number, count: number, maxVisits: number, out: Handle[]): number {
    let pi = Math.floor(cursor / 2 ** 32)
    let pos = cursor % 2 ** 32
    let visits = 0
    while (pi < TABLE_PARTS) {
      const p = this.peek(pi)
      const hi = p.size === 0 ? 2 ** 32 : Math.min(2 ** 32, pos + 2 ** (32 - p.bits))
      if (p.size !== 0) this.rangeInPart(pi, pos, hi, out)
      pos = hi
      if (pos === 2 ** 32) {
        pi++
        pos = 0
      }
      if (out.length >= count || ++visits >= maxVisits) break
    }
    return pi >= TABLE_PARTS ? 0 : pi * 2 ** 32 + pos
  }

  /**
   * Every key with its reference, part by part in hash order; robust to changes between steps:
   * a key present for the whole walk is returned exactly once, each returned pair is current
   * when returned (a key deleted after its range was read is skipped).
   */
  * entries(): IterableIterator<[string, V]> {
    for (const [key, h] of this.handles()) yield [key, this.ref(h)]
  }

  /**
   * entries() as keys and handles (a value record's reference is undefined): each handle is
   * valid when yielded, until the table next changes.
   */
  * handles(): IterableIterator<[string, Handle]> {
    const handles: Handle[] = []
    const keys: string[] = []
    for (let pi = 0; pi < TABLE_PARTS; pi++) {
      let lo = 0
      while (lo < 2 ** 32) {
        const p = this.peek(pi)
        if (p.size === 0) break
        const hi = Math.min(2 ** 32, lo + 2 ** (32 - p.bits))
        handles.length = 0
        this.rangeInPart(pi, lo, hi, handles)
        keys.length = 0
        for (const h of handles) keys.push(this.keyOf(h))
        for (const key of keys) {
          const h = this.find(key, fnv1a(key))
          if (h !== -1) yield [key, h]
        }
        lo = hi
      }
    }
  }

  // ---- verification -------------------------------------------------------------------------

  /** Check every invariant at the top of this file (O(n)); throws on the first violation. */
  check(): void {
    let total = 0
    let volatile = 0
    for (let pi = 0; pi < TABLE_PARTS; pi++) {
      const p = this.peek(pi)
      total += p.size
      volatile += p.vsize
      assert(p.refs.length === p.size, 'refs are dense')
      const seen = new Uint8Array(p.size)
      const walk = (arr: Int32Array, bits: number, from: number): void => {
        for (let b = 0; b < arr.length; b++) {
          for (let r = arr[b] as number; r !== -1; r = p.rec[(r << 3) + 1] as number) {
            assert(b >= from, 'moved old buckets are empty')
            assert(r < p.size, 'a chained record exists')
            assert(seen[r] === 0, 'a record is chained once')
            seen[r] = 1
            assert((p.recU[r << 3] as number) >>> (32 - bits) === b, 'a record is in its hash bucket')
            assert(((p.recU[r << 3] as number) & (TABLE_PARTS - 1)) === pi, 'a record is in its part')
          }
        }
      }
      walk(p.buckets, p.bits, 0)
      if (p.old !== null) {
        for (let b = 0; b < p.buckets.length; b++) {
          for (let r = p.buckets[b] as number; r !== -1; r = p.rec[(r << 3) + 1] as number) {
            assert((p.recU[r << 3] as number) >>> (33 - p.bits) < p.moved, 'new buckets hold moved keys')
          }
        }
      }
      if (p.old !== null) walk(p.old, p.bits - 1, p.moved)
      for (let r = 0; r < p.size; r++) {
        assert(seen[r] === 1, 'every record is chained')
        const vs = p.vslot[r] as number
        assert((vs !== -1) === (p.expire[r] !== 0), 'volatile exactly when it has an expiry')
        assert(((p.rec[(r << 3) + 3] as number) >= 0) === (p.refs[r] === undefined),
          'a record holds a value or a reference')
        if (vs !== -1) assert(p.vrecs[vs] === r, 'the volatile list knows its record')
        const key = p.keyString(this.arena, r)
        assert(this.find(key, fnv1a(key)) === r * TABLE_PARTS + pi, 'a key finds its own record')
      }
    }
    assert(total === this.size, 'size counts the records')
    assert(volatile === this.volatileSize, 'volatileSize counts the volatile records')
  }
}
