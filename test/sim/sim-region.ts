// A simulated persistent memory implementing PmRegion with DESIGN rule 4 (CapybaraKV's
// pmemspec), and the PoWER check mode that verifies every write against its permission.
//
// Crash model (the trusted part of the simulator; keep it small and obvious):
// - `current` is what reads see (every write so far); `durable` is what survives a crash once
//   everything flushed so far is kept and nothing else is.
// - Each 8-byte aligned chunk written since the last flush covering it is OUTSTANDING. A crash may
//   leave, independently for each outstanding chunk, its durable value or any value a write gave
//   it since (pmemspec: each write applies or not per chunk, a later applied write wins). A write
//   covering only part of a chunk composes with every value the chunk could already hold.
// - flush(off, len) makes durable every outstanding chunk overlapping [off, off + len); chunks
//   outside the range stay outstanding, so an engine that forgets to flush a range is caught.
// - store64 is one aligned 8-byte store: exactly one chunk, so it is never torn.
// Crash images are OVERLAYS: a RegionReader whose read() returns the durable bytes patched only
// where a chosen outstanding value differs, so the pool is never copied per image. Each image has
// a 64-bit hash (the XOR of a per-chunk hash over the whole pool, kept incrementally for the
// durable bytes), equal for equal images, which the Verifier uses to recover each image once.
// Enumeration: every combination when the product of choices is <= policy.exhaustiveLimit;
// otherwise targeted shapes (none, all, write-order prefixes and suffixes, each chunk alone,
// all-but-one) plus seeded random subsets.
// PoWER: with a verifier attached, after every write (and at every flush) each crash image is
// recovered; a 'blanket' write must leave the recovered state equal to the durable state D; a
// 'commit' write may also yield the tentative state T that the harness declared (expect(T));
// once a flush makes the commit chunk durable, D := T.

import { assert } from '../../src/assert.js'
import { canonical, canonicalDiff } from '../../src/state/canonical.js'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { crc64Seal } from '../../src/storage/crc.js'
import type { Permission, PmRegion } from '../../src/storage/pm-region.js'
import type { Prng } from './prng.js'

export const CHUNK_BYTES = 8

export interface CrashPolicy {
  /** Enumerate every image when the product of per-chunk choices is at most this. */
  exhaustiveLimit: number
  /** At most this many chunks get the per-chunk shapes (alone, all-but-one). */
  shapeChunks: number
  /** Cut points for write-order prefixes and suffixes. */
  cuts: number
  /** Seeded random images per crash point (beyond exhaustive). */
  random: number
  /** Also enumerate at each flush (before it takes effect). */
  atFlush: boolean
}

export const DEFAULT_POLICY: CrashPolicy =
  { exhaustiveLimit: 4096, shapeChunks: 32, cuts: 8, random: 16, atFlush: true }

// ---------------------------------------------------------------------------------------------
// Hashing: a 64-bit image hash as two 32-bit lanes, XOR-combined per chunk.

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

let mixA = 0
let mixB = 0
function mixChunk(index: number, lo: number, hi: number): void {
  mixA = fmix32(fmix32(Math.imul(index, 0x9e3779b1) ^ lo) ^ hi)
  mixB = fmix32(fmix32(Math.imul(hi ^ 0x7f4a7c15, 0x27d4eb2f) ^ index) ^ Math.imul(lo, 0x165667b1))
}

/** Open-addressing map from 64-bit hashes to int32 values (no deletion). */
export class HashMap64 {
  private keysA: Uint32Array
  private keysB: Uint32Array
  private values: Int32Array
  size = 0
  constructor(capacityLog2 = 16) {
    const n = 1 << capacityLog2
    this.keysA = new Uint32Array(n)
    this.keysB = new Uint32Array(n)
    this.values = new Int32Array(n)
  }
  private slot(a: number, b: number): number {
    const mask = this.keysA.length - 1
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & mask
    for (;;) {
      const ka = this.keysA[i] as number
      const kb = this.keysB[i] as number
      if ((ka === a && kb === b) || (ka === 0 && kb === 0)) return i
      i = (i + 1) & mask
    }
  }
  get(a: number, b: number): number | undefined {
    if (a === 0 && b === 0) b = 1
    const i = this.slot(a, b)
    return this.keysA[i] === 0 && this.keysB[i] === 0 ? undefined : this.values[i]
  }
  set(a: number, b: number, value: number): void {
    if (a === 0 && b === 0) b = 1
    if ((this.size + 1) * 2 > this.keysA.length) this.grow()
    const i = this.slot(a, b)
    if (this.keysA[i] === 0 && this.keysB[i] === 0) this.size++
    this.keysA[i] = a
    this.keysB[i] = b
    this.values[i] = value
  }
  private grow(): void {
    const { keysA, keysB, values } = this
    const n = keysA.length * 2
    this.keysA = new Uint32Array(n)
    this.keysB = new Uint32Array(n)
    this.values = new Int32Array(n)
    this.size = 0
    for (let i = 0; i < keysA.length; i++) {
      const a = keysA[i] as number
      const b = keysB[i] as number
      if (a !== 0 || b !== 0) this.set(a, b, values[i] as number)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Crash images as overlays.

/** A crash image: the durable bytes with some outstanding chunk values patched in. */
export class OverlayImage implements RegionReader {
  readonly sizeBytes: number
  /** Patched chunk indices, ascending, and their values. */
  index: Int32Array
  lo: Uint32Array
  hi: Uint32Array
  count = 0
  hashA = 0
  hashB = 0
  private readonly scratch = Buffer.alloc(CHUNK_BYTES)

  constructor(readonly base: Buffer, capacity: number) {
    this.sizeBytes = base.length
    this.index = new Int32Array(Math.max(1, capacity))
    this.lo = new Uint32Array(Math.max(1, capacity))
    this.hi = new Uint32Array(Math.max(1, capacity))
  }

  read(offset: number, length: number): Buffer {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.sizeBytes)) {
      throw new RangeError(`image read [${offset}, +${length}) outside ${this.sizeBytes}`)
    }
    const first = Math.floor(offset / CHUNK_BYTES)
    const last = Math.floor((offset + length - 1) / CHUNK_BYTES)
    let i = this.lowerBound(first)
    if (length === 0 || i >= this.count || (this.index[i] as number) > last) {
      return this.base.subarray(offset, offset + length)
    }
    const out = Buffer.allocUnsafe(length)
    this.base.copy(out, 0, offset, offset + length)
    for (; i < this.count && (this.index[i] as number) <= last; i++) {
      const at = (this.index[i] as number) * CHUNK_BYTES
      this.scratch.writeUInt32LE(this.lo[i] as number, 0)
      this.scratch.writeUInt32LE(this.hi[i] as number, 4)
      const from = Math.max(at, offset)
      const to = Math.min(at + CHUNK_BYTES, offset + length)
      this.scratch.copy(out, from - offset, from - at, to - at)
    }
    return out
  }

  private lowerBound(chunk: number): number {
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.index[mid] as number) < chunk) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** A standalone copy of the image's bytes. */
  materialize(): Buffer {
    const out = Buffer.from(this.base)
    for (let i = 0; i < this.count; i++) {
      const at = (this.index[i] as number) * CHUNK_BYTES
      out.writeUInt32LE(this.lo[i] as number, at)
      out.writeUInt32LE(this.hi[i] as number, at + 4)
    }
    return out
  }

  describe(): string {
    const parts: string[] = []
    for (let i = 0; i < Math.min(this.count, 12); i++) {
      parts.push(String((this.index[i] as number) * 8))
    }
    return `${this.count} chunk(s) landed at [${parts.join(', ')}${this.count > 12 ? ', …' : ''}]`
  }
}

// ---------------------------------------------------------------------------------------------
// The verifier: recovers each distinct image once (shared by every region of a test file).

export class PowerViolation extends Error {
  override name = 'PowerViolation'
}

export class Verifier {
  private readonly cache = new HashMap64(18)
  private readonly stateIds = new Map<string, number>()
  private readonly stateNames: string[] = []
  private readonly failureNames: string[] = []
  /** Distinct images recovered. */
  distinct = 0
  /** Images visited, counting repeats. */
  visits = 0

  stateId(canonicalState: string): number {
    let id = this.stateIds.get(canonicalState)
    if (id === undefined) {
      id = this.stateNames.length
      this.stateIds.set(canonicalState, id)
      this.stateNames.push(canonicalState)
    }
    return id
  }

  stateName(id: number): string {
    return id >= 0 ? this.stateNames[id] as string : this.failureNames[-id - 1] as string
  }

  /** The recovered-state id of an image (negative: recovery did not return 'ok'). */
  recoveredId(image: OverlayImage): number {
    this.visits++
    const hit = this.cache.get(image.hashA, image.hashB)
    if (hit !== undefined) return hit
    // Half the images (by hash) are recovered with the deferred index, as Store.open does.
    const id = this.recoverId(image, (image.hashA & 1) === 1)
    this.cache.set(image.hashA, image.hashB, id)
    this.distinct++
    return id
  }

  private recoverId(image: RegionReader, deferIndex: boolean): number {
    const r = recover(image, { deferIndex })
    if (r.kind === 'ok') return this.stateId(canonical(r.keyspace))
    const name = r.kind === 'corrupt' ? `corrupt: ${r.what}: ${r.reason} at ${r.offset}`
      : `format: ${r.reason}`
    this.failureNames.push(name)
    return -this.failureNames.length
  }
}

// ---------------------------------------------------------------------------------------------
// The simulated region.

interface ChunkState {
  index: number
  durableLo: number
  durableHi: number
  /** Values other than the durable one that a crash may leave, flat [lo, hi, lo, hi, ...]. */
  values: number[]
  /** Per value: hash delta (durable → value), flat [a, b, ...]. */
  deltas: number[]
  /** Value number (1-based into values) of the latest write, 0 = equal to durable. */
  latest: number
  /** Position in the list being enumerated (scratch). */
  pos: number
}

/** A crash image taken mid-protocol, with the states its recovery may yield. */
export interface CapturedCrash {
  image: Buffer
  allowed: string[]
  what: string
}

export interface SimStats {
  writes: number
  bytesWritten: number
  flushes: number
  commitWrites: number
  partialChunkWrites: number
  crashPoints: number
}

export class SimRegion implements PmRegion {
  readonly sizeBytes: number
  readonly backend = 'sim'
  readonly isPmem = true
  readonly current: Buffer
  readonly durable: Buffer
  private outstanding = new Map<number, ChunkState>()
  /** Write order of this flush epoch: the state and value number of each chunk write. */
  private events: ChunkState[] = []
  private eventValues: number[] = []
  private durableA = 0
  private durableB = 0
  readonly stats: SimStats = {
    writes: 0, bytesWritten: 0, flushes: 0, commitWrites: 0, partialChunkWrites: 0,
    crashPoints: 0,
  }
  // PoWER state.
  private verifier: Verifier | null = null
  private durableId = -1
  private tentativeId = -1
  private commitChunks: number[] = []
  violation: PowerViolation | null = null
  /** With a rate, crash points keep a few random images (to reopen from, mid-protocol). */
  capture: { rate: number; keep: number } | null = null
  captured: CapturedCrash[] = []
  /** Describes the run for failure messages (seed, step). */
  context: () => string = () => ''
  closed = false

  constructor(
    sizeOrImage: number | Buffer,
    public policy: CrashPolicy = DEFAULT_POLICY,
    public rng: Prng | null = null,
  ) {
    this.current = typeof sizeOrImage === 'number' ? Buffer.alloc(sizeOrImage)
      : Buffer.from(sizeOrImage)
    this.sizeBytes = this.current.length
    assert(this.sizeBytes % CHUNK_BYTES === 0, 'pool size must be a multiple of 8')
    this.durable = Buffer.from(this.current)
    for (let i = 0; i < this.sizeBytes / CHUNK_BYTES; i++) {
      mixChunk(i, this.durable.readUInt32LE(i * 8), this.durable.readUInt32LE(i * 8 + 4))
      this.durableA ^= mixA
      this.durableB ^= mixB
    }
  }

  get outstandingChunks(): number {
    return this.outstanding.size
  }

  get commitPending(): boolean {
    return this.commitChunks.length > 0
  }

  // --- PmRegion -------------------------------------------------------------------------------

  read(offset: number, length: number): Buffer {
    this.check(offset, length)
    return this.current.subarray(offset, offset + length)
  }

  write(offset: number, data: Buffer, permission: Permission): void {
    this.check(offset, data.length)
    assert(!this.closed, 'write to a closed region')
    if (data.length === 0) return
    data.copy(this.current, offset)
    this.stats.writes++
    this.stats.bytesWritten += data.length
    const first = Math.floor(offset / CHUNK_BYTES)
    const last = Math.floor((offset + data.length - 1) / CHUNK_BYTES)
    for (let c = first; c <= last; c++) this.recordChunkWrite(c, offset, offset + data.length)
    if (permission === 'commit') this.noteCommit(first, last)
    this.checkPoint(permission, `write [${offset}, +${data.length}) ${permission}`)
  }

  writeSealed(
    offset: number, data: Buffer, length: number, seed: bigint, permission: Permission,
  ): void {
    assert(length >= 8, 'a sealed block holds its 8-byte CRC')
    crc64Seal(data, 0, length - 8, seed, length - 8)
    this.write(offset, data.subarray(0, length), permission)
  }

  /** PmRegion's definition, step by step: each step is a crash point of its own here. */
  commit(
    flushOffset: number, flushLength: number, wordOffset: number, lo: number, hi: number,
  ): void {
    this.flush(flushOffset, flushLength)
    this.store64(wordOffset, lo, hi, 'commit')
    this.flush(wordOffset, CHUNK_BYTES)
  }

  store64(offset: number, lo: number, hi: number, permission: Permission): void {
    assert(offset % CHUNK_BYTES === 0, 'store64 must be 8-aligned')
    const word = Buffer.alloc(CHUNK_BYTES)
    word.writeUInt32LE(lo >>> 0, 0)
    word.writeUInt32LE(hi >>> 0, 4)
    this.write(offset, word, permission)
  }

  flush(offset: number, length: number): void {
    this.check(offset, length)
    this.stats.flushes++
    if (length === 0 || this.outstanding.size === 0) return
    if (this.policy.atFlush) this.checkPoint('blanket', `flush [${offset}, +${length})`)
    const first = Math.floor(offset / CHUNK_BYTES)
    const last = Math.floor((offset + length - 1) / CHUNK_BYTES)
    if (last - first + 1 < this.outstanding.size) {
      for (let c = first; c <= last; c++) {
        const st = this.outstanding.get(c)
        if (st !== undefined) this.makeDurable(st)
      }
    } else {
      for (const st of [...this.outstanding.values()]) {
        if (st.index >= first && st.index <= last) this.makeDurable(st)
      }
    }
    if (this.outstanding.size === 0) {
      this.events = []
      this.eventValues = []
    }
    if (this.commitChunks.length > 0 && this.commitChunks.every((c) => !this.outstanding.has(c))) {
      this.commitChunks = []
      this.durableId = this.tentativeId
    }
  }

  close(): void {
    this.closed = true
  }

  private check(offset: number, length: number): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.sizeBytes)) {
      throw new RangeError(`range [${offset}, +${length}) outside pool of ${this.sizeBytes}`)
    }
  }

  // --- the crash model ------------------------------------------------------------------------

  private recordChunkWrite(c: number, from: number, to: number): void {
    const at = c * CHUNK_BYTES
    let st = this.outstanding.get(c)
    if (st === undefined) {
      st = {
        index: c, durableLo: this.durable.readUInt32LE(at),
        durableHi: this.durable.readUInt32LE(at + 4), values: [], deltas: [], latest: 0, pos: 0,
      }
      this.outstanding.set(c, st)
    }
    const lo = this.current.readUInt32LE(at)
    const hi = this.current.readUInt32LE(at + 4)
    if (from > at || to < at + CHUNK_BYTES) {
      // A partial write composes with every value the chunk could hold already.
      this.stats.partialChunkWrites++
      const s = Math.max(from, at) - at
      const e = Math.min(to, at + CHUNK_BYTES) - at
      const candidates = [st.durableLo, st.durableHi, ...st.values]
      const tmp = Buffer.alloc(CHUNK_BYTES)
      for (let i = 0; i < candidates.length; i += 2) {
        tmp.writeUInt32LE(candidates[i] as number, 0)
        tmp.writeUInt32LE(candidates[i + 1] as number, 4)
        this.current.copy(tmp, s, at + s, at + e)
        this.addValue(st, tmp.readUInt32LE(0), tmp.readUInt32LE(4))
      }
    }
    st.latest = this.addValue(st, lo, hi)
    this.events.push(st)
    this.eventValues.push(st.latest)
  }

  /** Add a possible value; returns its value number (0 = the durable value). */
  private addValue(st: ChunkState, lo: number, hi: number): number {
    if (lo === st.durableLo && hi === st.durableHi) return 0
    for (let i = 0; i < st.values.length; i += 2) {
      if (st.values[i] === lo && st.values[i + 1] === hi) return i / 2 + 1
    }
    st.values.push(lo, hi)
    mixChunk(st.index, st.durableLo, st.durableHi)
    const a = mixA
    const b = mixB
    mixChunk(st.index, lo, hi)
    st.deltas.push((a ^ mixA) >>> 0, (b ^ mixB) >>> 0)
    return st.values.length / 2
  }

  private makeDurable(st: ChunkState): void {
    const at = st.index * CHUNK_BYTES
    this.current.copy(this.durable, at, at, at + CHUNK_BYTES)
    mixChunk(st.index, st.durableLo, st.durableHi)
    this.durableA ^= mixA
    this.durableB ^= mixB
    mixChunk(st.index, this.durable.readUInt32LE(at), this.durable.readUInt32LE(at + 4))
    this.durableA = (this.durableA ^ mixA) >>> 0
    this.durableB = (this.durableB ^ mixB) >>> 0
    this.outstanding.delete(st.index)
  }

  private noteCommit(first: number, last: number): void {
    this.stats.commitWrites++
    if (this.verifier === null) return
    if (this.commitChunks.length > 0) {
      this.fail('a second commit write before the first one was flushed')
    }
    if (this.tentativeId < 0) this.fail('a commit write without a declared tentative state')
    for (let c = first; c <= last; c++) this.commitChunks.push(c)
  }

  // --- enumeration ----------------------------------------------------------------------------

  /** Visit crash images of the current outstanding set per the policy. */
  forEachImage(visit: (image: OverlayImage) => void, policy = this.policy): void {
    const list = [...this.outstanding.values()].filter((st) => st.values.length > 0)
    const n = list.length
    const image = new OverlayImage(this.durable, n)
    const byIndex = list.slice().sort((x, y) => x.index - y.index)
    for (let i = 0; i < n; i++) (list[i] as ChunkState).pos = i
    const order = Int32Array.from(byIndex, (st) => st.pos)
    const choice = new Int32Array(n)
    const emit = (): void => {
      this.buildImage(image, list, order, choice)
      visit(image)
    }
    let product = 1
    for (const st of list) {
      product *= 1 + st.values.length / 2
      if (product > policy.exhaustiveLimit) break
    }
    if (product <= policy.exhaustiveLimit) {
      this.enumerateAll(list, choice, emit)
      return
    }
    this.enumerateShapes(list, choice, emit, policy)
  }

  private buildImage(image: OverlayImage, list: ChunkState[], order: Int32Array,
    choice: Int32Array): void {
    let a = this.durableA
    let b = this.durableB
    let count = 0
    for (let k = 0; k < order.length; k++) {
      const i = order[k] as number
      const v = choice[i] as number
      if (v === 0) continue
      const st = list[i] as ChunkState
      image.index[count] = st.index
      image.lo[count] = st.values[2 * v - 2] as number
      image.hi[count] = st.values[2 * v - 1] as number
      a ^= st.deltas[2 * v - 2] as number
      b ^= st.deltas[2 * v - 1] as number
      count++
    }
    image.count = count
    image.hashA = a >>> 0
    image.hashB = b >>> 0
  }

  private enumerateAll(list: ChunkState[], choice: Int32Array, emit: () => void): void {
    choice.fill(0)
    for (;;) {
      emit()
      let i = 0
      for (; i < list.length; i++) {
        const radix = 1 + (list[i] as ChunkState).values.length / 2
        const next = (choice[i] as number) + 1
        if (next < radix) {
          choice[i] = next
          break
        }
        choice[i] = 0
      }
      if (i === list.length) return
    }
  }

  private enumerateShapes(list: ChunkState[], choice: Int32Array, emit: () => void,
    policy: CrashPolicy): void {
    const n = list.length
    const rng = this.rng
    const latest = (): void => {
      for (let i = 0; i < n; i++) choice[i] = (list[i] as ChunkState).latest
    }
    choice.fill(0)
    emit() // none
    latest()
    emit() // all (the latest value of each chunk)
    // Per-chunk shapes on a sample: the first and last written chunks, then seeded picks.
    const sample = new Set<number>([0, n - 1])
    while (sample.size < Math.min(n, policy.shapeChunks)) {
      sample.add(rng === null ? sample.size : rng.int(n))
    }
    for (const i of sample) {
      const st = list[i] as ChunkState
      for (let v = 1; v <= st.values.length / 2; v++) {
        choice.fill(0)
        choice[i] = v
        emit() // this chunk alone
      }
      latest()
      choice[i] = 0
      emit() // all but this chunk
    }
    // Write-order prefixes and suffixes over this epoch's chunk writes.
    const live = this.events.length
    const cuts = Math.min(policy.cuts, Math.max(0, live - 1))
    for (let k = 1; k <= cuts; k++) {
      const cut = Math.round((k * live) / (cuts + 1))
      this.fromEvents(choice, 0, cut)
      emit()
      this.fromEvents(choice, cut, live)
      emit()
    }
    if (rng === null) return
    for (let r = 0; r < policy.random; r++) {
      const p = rng.float()
      for (let i = 0; i < n; i++) {
        const k = (list[i] as ChunkState).values.length / 2
        choice[i] = rng.float() < p ? 1 + rng.int(k) : 0
      }
      emit()
    }
  }

  /** choice := the values a crash keeps if exactly the chunk writes [from, to) landed. */
  private fromEvents(choice: Int32Array, from: number, to: number): void {
    choice.fill(0)
    for (let e = from; e < to; e++) {
      const st = this.events[e] as ChunkState
      if (this.outstanding.get(st.index) !== st || st.values.length === 0) continue
      choice[st.pos] = this.eventValues[e] as number
    }
  }

  /** One seeded random crash image of the current state, as a standalone buffer. */
  randomImage(rng: Prng): Buffer {
    const out = Buffer.from(this.durable)
    const p = rng.float()
    for (const st of this.outstanding.values()) {
      const k = st.values.length / 2
      if (k === 0 || rng.float() >= p) continue
      const v = rng.int(k)
      out.writeUInt32LE(st.values[2 * v] as number, st.index * CHUNK_BYTES)
      out.writeUInt32LE(st.values[2 * v + 1] as number, st.index * CHUNK_BYTES + 4)
    }
    return out
  }

  // --- PoWER ----------------------------------------------------------------------------------

  /** Start checking every write; `durableState` is canonical(recover(durable bytes)). */
  enablePower(verifier: Verifier, durableState: string): void {
    this.verifier = verifier
    this.durableId = verifier.stateId(durableState)
    this.tentativeId = this.durableId // nothing appended yet: a commit may only keep D
  }

  disablePower(): void {
    this.verifier = null
  }

  get powerEnabled(): boolean {
    return this.verifier !== null
  }

  /** Declare the state a commit write may make durable (all appended transactions). */
  expect(tentativeState: string): void {
    assert(this.verifier !== null, 'expect() needs PoWER mode')
    this.tentativeId = this.verifier.stateId(tentativeState)
  }

  get durableState(): string {
    assert(this.verifier !== null, 'durableState needs PoWER mode')
    return this.verifier.stateName(this.durableId)
  }

  private checkPoint(permission: Permission, what: string): void {
    const verifier = this.verifier
    if (verifier === null || this.violation !== null) return
    this.stats.crashPoints++
    const mayCommit = permission === 'commit' || this.commitChunks.length > 0
    if (this.capture !== null && this.rng !== null && this.rng.bool(this.capture.rate)) {
      const allowed = [verifier.stateName(this.durableId)]
      if (mayCommit) allowed.push(verifier.stateName(this.tentativeId))
      this.captured.push({ image: this.randomImage(this.rng), allowed, what })
      if (this.captured.length > this.capture.keep) this.captured.shift()
    }
    this.forEachImage((image) => {
      if (this.violation !== null) return
      const got = verifier.recoveredId(image)
      if (got === this.durableId || (mayCommit && got === this.tentativeId)) return
      const expected = verifier.stateName(this.durableId)
      const detail = got < 0 ? verifier.stateName(got)
        : canonicalDiff(expected, verifier.stateName(got))
      this.fail(`${what}: crash image (${image.describe()}) recovers to a state the ` +
        `permission does not allow: ${detail}`)
    })
  }

  private fail(message: string): void {
    const ctx = this.context()
    const v = new PowerViolation(`PoWER violation: ${message}${ctx === '' ? '' : ` [${ctx}]`}`)
    if (this.violation === null) this.violation = v
    throw v
  }
}
