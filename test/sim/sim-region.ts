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
// - The PM primitives are the addon's own (issue 12 item 1): every PmRegion method runs the
//   shipped code — NativeRegion (src/storage/pm-region.ts) over a pool whose methods are the
//   addon's method bodies over a recorder (native/trace.rs, createTracePool) — and the sim
//   replays the recorded primitives: a change to the native commit is what the sim checks.
// - A flush primitive (pmem_flush, clwb) only starts the write-back of every outstanding chunk
//   overlapping [off, off + len): those chunks stay outstanding until a drain (the fence) makes
//   them durable; persist is flush + drain. A chunk written again after its flush needs a new
//   flush. Chunks outside the range stay outstanding, so an engine that forgets to flush a range
//   is caught, and so is a native commit that forgets its fence.
// - store64 is one aligned 8-byte store: exactly one chunk, so it is never torn.
// Crash images are OVERLAYS: a RegionReader whose read() returns the durable bytes patched only
// where a chosen outstanding value differs, so the pool is never copied per image. Each image has
// a 64-bit hash (the XOR of a per-chunk hash over the whole pool, kept incrementally for the
// durable bytes), equal for equal images, which the Verifier uses to recover each image once.
// Enumeration: every combination when the product of choices is <= policy.exhaustiveLimit;
// otherwise targeted shapes (none, all, write-order prefixes and suffixes, each chunk alone,
// all-but-one) plus seeded random subsets.
// Which crash points need images (issue 12 item 3): the durable bytes alone are recovered first
// (once per durable content, both index modes), recording which chunks recovery read. If it read
// no outstanding chunk, every image of the point recovers the same way — recovery is a
// deterministic function of the bytes it reads, and those bytes are the same in every image — so
// that one recovery checks the point ('covered'). Otherwise the images are enumerated, each
// watching its reads: an image whose recovery read a chunk the crash chose is INFORMATIVE, and
// is counted (distinct) by the kind of point (Verifier.report). A protocol that lets recovery
// read an outstanding byte (a commit word stored before its records are durable, recovery
// reading past the tail) is thereby always enumerated.
// The same argument within an enumerated point: each recovery of an image records which chosen
// (watched) chunks it read and the values the image chose there (PointRecovery). Another image of
// the point that chose the same values wherever that recovery read, in the same index mode,
// makes recovery read exactly the same bytes in the same order, so it has that recovery's
// outcome, informativeness and reads; it is counted and judged like any image, with that outcome
// ('images whose recovery would read the same bytes', Verifier.report). The durable image's
// recovery seeds the point (the image that chose nothing). An image already known by its hash is
// still compared with it: a shared outcome that differs from a recovered one fails the run.
// PoWER: with a verifier attached, after every write (and at every flush) each crash image is
// recovered; a 'blanket' write must leave the recovered state equal to the durable state D; a
// 'commit' write may also yield the tentative state T that the harness declared (expect(T));
// once a flush makes the commit chunk durable, D := T.

import { assert } from '../../src/assert.js'
import { canonical, canonicalDiff } from '../../src/state/canonical.js'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import {
  HEAD_WORD_OFFSET, HEAD_WORD_OFFSETS, PREV_WORD_OFFSETS, TAIL_WORD_OFFSETS,
} from '../../src/storage/layout.js'
import {
  createTracePool, TRACE_COPY, TRACE_DRAIN, TRACE_FLUSH, TRACE_PERSIST, TRACE_STORE64,
  type NativePool, type TracePool,
} from '../../src/storage/native.js'
import { NativeRegion, type Permission, type PmRegion } from '../../src/storage/pm-region.js'
import type { Prng } from './prng.js'

export const CHUNK_BYTES = 8
/** The chunks of copy 1 of the tail and head words (OverlayImage.touchedPrimary). */
const COPY1_CHUNKS: readonly number[] =
  [TAIL_WORD_OFFSETS[1] as number, HEAD_WORD_OFFSETS[1] as number].map((o) => o / CHUNK_BYTES)

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

/** First position in a[0, n) (ascending) holding a value >= x. */
function lowerBound(a: Int32Array, n: number, x: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((a[mid] as number) < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * One recovery of an image of a crash point, keyed by what it read of the crash's choices: the
 * watched chunks it read (positions in `watch`) and the value chosen for each. Recovery is a
 * deterministic function of the bytes it reads, and an image of the same point differs from
 * this one only in chosen chunks: if it chose the same values where this recovery read, its
 * recovery reads exactly the same bytes, in the same order, and returns the same result.
 * (The argument that makes a 'covered' point one recovery, applied within a point.)
 */
interface PointRecovery {
  positions: Int32Array
  values: Int32Array
  /** The index mode (deferIndex) it ran in: the reads differ between the modes. */
  deferIndex: boolean
  /** It kept a fallback and was not also recovered from prev (checkFallback). */
  fallbackUnchecked: boolean
  /** It was also recovered from prev (its reads include that recovery's). */
  fallbackChecked: boolean
  id: number
  touched: boolean
  touchedPrimary: boolean
  wrapping: boolean
}

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
  /**
   * The chunks the crash chose (outstanding at the crash point), ascending: `touched` becomes
   * true when a read overlaps one of them (the image is informative: recovery read a byte whose
   * value the crash chose). With `ranges` set, every read's chunk range is appended to it.
   */
  watch: Int32Array = new Int32Array(0)
  watchCount = 0
  touched = false
  /**
   * A read overlapped a chosen chunk other than the root words' copy 1 (recovery reads copy 1
   * only to compare it with copy 0, which it uses when it verifies): the image is informative
   * beyond the copy-1 stores, which format 2 added to every commit and head move.
   */
  touchedPrimary = false
  ranges: number[] | null = null
  /** With `ranges`: the reads that would make a watched chunk's image informative beyond copy 1. */
  primaryRanges: number[] | null = null
  /** Per watched chunk (the order of `watch`): the value number the crash chose, 0 = durable. */
  choices: Int32Array = new Int32Array(0)
  /** When set, read() marks every watched chunk it overlaps (by its position in `watch`). */
  readMarks: Uint8Array | null = null
  /** The recoveries of this crash point's images, by the chosen chunks they read. */
  readonly recoveries: PointRecovery[] = []
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
    if (length > 0) {
      if (this.ranges !== null) {
        this.ranges.push(first, last)
        if (first !== last || !COPY1_CHUNKS.includes(first)) this.primaryRanges?.push(first, last)
      }
      if ((!this.touchedPrimary || this.readMarks !== null) && this.watchCount > 0) {
        let w = lowerBound(this.watch, this.watchCount, first)
        if (w < this.watchCount && (this.watch[w] as number) <= last) {
          this.touched = true
          if (first !== last || !COPY1_CHUNKS.includes(first)) this.touchedPrimary = true
          const marks = this.readMarks
          if (marks !== null) {
            for (; w < this.watchCount && (this.watch[w] as number) <= last; w++) marks[w] = 1
          }
        }
      }
    }
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
    return lowerBound(this.index, this.count, chunk)
  }

  /** A recovery of this point that read the same bytes this image holds, or null. */
  sameReads(deferIndex: boolean, wantFallback: boolean): PointRecovery | null {
    for (const r of this.recoveries) {
      if (r.deferIndex !== deferIndex || (wantFallback && r.fallbackUnchecked)) continue
      let k = 0
      while (k < r.positions.length &&
        this.choices[r.positions[k] as number] === r.values[k]) k++
      if (k === r.positions.length) return r
    }
    return null
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

/** What recovering the durable bytes alone read (chunk ranges, merged) and gave. */
interface DurableRecovery {
  id: number
  ranges: Int32Array
  /** The reads that make an image informative beyond the copy-1 root words (touchedPrimary). */
  primary: Int32Array
  deferIndex: boolean
  keepsFallback: boolean
  wrapping: boolean
}

/** Whether a recovered log spans the ring's end. */
function logWraps(r: ReturnType<typeof recover>): boolean {
  if (r.kind !== 'ok') return false
  const ring = r.log.header.ringBytes
  return r.log.tailLsn > r.log.headLsn &&
    Math.floor(r.log.headLsn / ring) !== Math.floor((r.log.tailLsn - 1) / ring)
}

export class Verifier {
  private readonly cache = new HashMap64(18)
  /** Images found informative at some crash point (hash → 1). */
  private readonly informativeSet = new HashMap64(14)
  /** Per category: the images found informative at a crash point of that category. */
  private readonly informativeIn = new Map<string, HashMap64>()
  private readonly durableCache = new Map<string, DurableRecovery>()
  private readonly stateIds = new Map<string, number>()
  private readonly stateNames: string[] = []
  private readonly failureNames: string[] = []
  /** Distinct images recovered. */
  distinct = 0
  /** Images visited, counting repeats. */
  visits = 0
  /**
   * Distinct images in which recovery read at least one byte whose value the crash chose (a
   * chunk outstanding at the crash point); per category of crash point (SimRegion.phase and what
   * was in flight), the distinct informative images of that category's points (an image may
   * count in several categories, once in the total); and those whose recovered log spans the
   * ring's end.
   */
  informative = 0
  informativeBy: Record<string, number> = {}
  informativeWrapping = 0
  /** Images also recovered from the previous checkpoint (checkFallback), and images that would
   * be, whose recovery (both walks) would read the same bytes as one of those (recoverImage). */
  fallbackChecks = 0
  fallbackShared = 0
  /** Informative images whose recovery read a chosen chunk besides the copy-1 root words. */
  informativePrimary = 0
  /**
   * Crash points where recovering the durable bytes read no outstanding chunk: recovery is a
   * deterministic function of the bytes it reads, so every image of that point recovers the same
   * way, and the point is checked with that one recovery (`imagesCovered` counts the images
   * the policy would have enumerated there: none of them can recover differently).
   */
  pointsCovered = 0
  /** Crash points where recovery read an outstanding chunk: their images are enumerated. */
  pointsEnumerated = 0
  /** Durable images whose recovery was the previous one's (only unread chunks changed). */
  durableReused = 0
  /** Enumerated images recovered, and those whose outcome was a recovery of the same point
   * that read the same bytes (recoverImage). */
  recoveries = 0
  recoveriesShared = 0

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

  /**
   * The recovered-state id of an image (negative: recovery did not return 'ok'). With a
   * category (an informative crash point; the image's `watch` holds its outstanding chunks), an
   * image not yet known to be informative is recovered again, watching its reads.
   */
  recoveredId(image: OverlayImage, category: string | null = null): number {
    this.visits++
    const hit = this.cache.get(image.hashA, image.hashB)
    let inCategory: HashMap64 | undefined
    if (category !== null) {
      inCategory = this.informativeIn.get(category)
      if (inCategory === undefined) {
        inCategory = new HashMap64(12)
        this.informativeIn.set(category, inCategory)
      }
    }
    if (hit !== undefined &&
        (inCategory === undefined || inCategory.get(image.hashA, image.hashB) !== undefined)) {
      return hit
    }
    const { id, wrapping } = this.recoverImage(image)
    if (hit === undefined) {
      this.cache.set(image.hashA, image.hashB, id)
      this.distinct++
    } else if (hit !== id) {
      return this.fault(`the same image recovered twice differently (${this.stateName(hit)})`)
    }
    if (category === null || inCategory === undefined) return id
    // Known for this category from now on (informative or not: the same reads every time).
    inCategory.set(image.hashA, image.hashB, image.touched ? 1 : 0)
    if (!image.touched) return id
    this.informativeBy[category] = (this.informativeBy[category] ?? 0) + 1
    if (this.informativeSet.get(image.hashA, image.hashB) !== undefined) return id
    this.informativeSet.set(image.hashA, image.hashB, 1)
    this.informative++
    if (image.touchedPrimary) this.informativePrimary++
    if (wrapping) this.informativeWrapping++
    return id
  }

  /**
   * Recover an image (sets its touched flags): the state id, and whether the recovered log
   * spans the ring's end. An image that chose the same values as an earlier image of its crash
   * point wherever that one's recovery read a chosen chunk (same index mode) has that
   * recovery's outcome and reads (PointRecovery); any other is recovered.
   */
  private recoverImage(image: OverlayImage): { id: number; wrapping: boolean } {
    // Half the images (by hash) are recovered with the deferred index, as Store.open does, and
    // a quarter of those that keep a fallback also from prev (checkFallback).
    const deferIndex = (image.hashA & 1) === 1
    const wantFallback = (image.hashB & 3) === 0
    const known = image.watchCount > 0 ? image.sameReads(deferIndex, wantFallback) : null
    if (known !== null) {
      this.recoveriesShared++
      if (wantFallback && known.fallbackChecked) this.fallbackShared++
      image.touched = known.touched
      image.touchedPrimary = known.touchedPrimary
      return known
    }
    image.touched = false
    image.touchedPrimary = false
    const marks = image.watchCount > 0 ? new Uint8Array(image.watchCount) : null
    image.readMarks = marks
    try {
      this.recoveries++
      const r = recover(image, { deferIndex })
      let id = this.idOf(r)
      const keepsFallback = r.kind === 'ok' && r.log.prevLsn < r.log.headLsn
      if (keepsFallback && wantFallback) id = this.checkFallback(image, id)
      const wrapping = logWraps(r)
      if (marks !== null) {
        const positions: number[] = []
        for (let k = 0; k < marks.length; k++) if (marks[k] === 1) positions.push(k)
        image.recoveries.push({
          positions: Int32Array.from(positions),
          values: Int32Array.from(positions, (k) => image.choices[k] as number),
          deferIndex, fallbackUnchecked: keepsFallback && !wantFallback,
          fallbackChecked: keepsFallback && wantFallback, id,
          touched: image.touched, touchedPrimary: image.touchedPrimary, wrapping,
        })
      }
      return { id, wrapping }
    } finally {
      image.readMarks = null
    }
  }

  /**
   * The fallback invariant (docs/checkpoint-fallback.md), on a quarter of the images (by hash)
   * that keep a previous checkpoint: recovery from the prev word alone yields the same state, so
   * a damaged newest checkpoint can always be replaced by it. Its reads do not count towards
   * the image's informativeness (the head's walk decides that).
   */
  private checkFallback(image: OverlayImage, id: number): number {
    const touched = image.touched
    const primary = image.touchedPrimary
    const p = recover(image, { fromPrev: true })
    image.touched = touched
    image.touchedPrimary = primary
    this.fallbackChecks++
    const fromPrev = this.idOf(p)
    return fromPrev === id ? id
      : this.fault(`recovery from the previous checkpoint gives ${this.stateName(fromPrev)}`)
  }

  /**
   * Recover the durable bytes alone (the image with nothing outstanding landed), once per
   * durable content, in both index modes, recording which chunks recovery read.
   */
  durableRecovery(image: OverlayImage, previous: DurableRecovery | null = null,
    changed: readonly number[] = []): DurableRecovery {
    const key = `${image.hashA}:${image.hashB}`
    const known = this.durableCache.get(key)
    if (known !== undefined) return known
    let result: DurableRecovery
    if (previous !== null && !changed.some((c) => inRanges(previous.ranges, c))) {
      // Only chunks the previous durable recovery did not read changed since: this recovery
      // reads the same bytes, so it returns the same state after the same reads.
      result = previous
      this.durableReused++
    } else {
      const ranges: number[] = []
      const primary: number[] = []
      image.ranges = ranges
      image.primaryRanges = primary
      image.watchCount = 0
      let id: number
      let r: ReturnType<typeof recover>
      // By hash, half with the deferred index (as Store.open), like every other image.
      const deferIndex = (image.hashA & 1) === 1
      try {
        r = recover(image, { deferIndex })
        id = this.idOf(r)
      } finally {
        image.ranges = null
        image.primaryRanges = null
      }
      const keepsFallback = r.kind === 'ok' && r.log.prevLsn < r.log.headLsn
      if (keepsFallback) id = this.checkFallback(image, id)
      result = { id, ranges: mergeRanges(ranges), primary: mergeRanges(primary), deferIndex,
        keepsFallback, wrapping: logWraps(r) }
    }
    if (this.cache.get(image.hashA, image.hashB) === undefined) {
      this.cache.set(image.hashA, image.hashB, result.id)
      this.distinct++
    }
    if (this.durableCache.size >= 4096) this.durableCache.clear()
    this.durableCache.set(key, result)
    return result
  }

  private fault(name: string): number {
    this.failureNames.push(name)
    return -this.failureNames.length
  }

  private idOf(r: ReturnType<typeof recover>): number {
    if (r.kind === 'ok') return this.stateId(canonical(r.keyspace))
    return this.fault(r.kind === 'corrupt' ? `corrupt: ${r.what}: ${r.reason} at ${r.offset}`
      : `format: ${r.reason}`)
  }

  /** The counts as tap comment lines (CI sums and checks them). */
  report(): string[] {
    const by = Object.entries(this.informativeBy).sort()
      .map(([k, v]) => `${k} ${v}`).join(', ')
    return [
      `crash images checked: ${this.distinct} (distinct), ${this.visits} visited`,
      `informative crash images: ${this.informative} (${by === '' ? 'none' : by}; ` +
        `log wrapping the ring ${this.informativeWrapping})`,
      `informative crash images beyond the copy-1 root words: ${this.informativePrimary}`,
      `images also recovered from the previous checkpoint: ${this.fallbackChecks + this.fallbackShared} ` +
        `(${this.fallbackShared} of them by the same reads as another: see below)`,
      `crash image recoveries: ${this.recoveries}; images whose recovery would read the same ` +
        `bytes as one of these (same crash point, same chunks chosen where it read, same index ` +
        `mode), given its outcome: ${this.recoveriesShared}`,
      `crash points: ${this.pointsEnumerated} enumerated, ${this.pointsCovered} covered by ` +
        'the durable image (recovery read no outstanding chunk); durable recoveries reused ' +
        `${this.durableReused}`,
    ]
  }
}

/**
 * The durable recovery of a crash point as a recovery of its image that chose nothing: the
 * watched chunks it read (all at their durable value, choice 0) and what it gave. Its fallback
 * walk's reads were not recorded, so it stands for no image that is to be checked from prev.
 */
function recoveryOfDurable(image: OverlayImage, d: DurableRecovery): PointRecovery {
  const positions: number[] = []
  let touchedPrimary = false
  for (let k = 0; k < image.watchCount; k++) {
    const c = image.watch[k] as number
    if (!inRanges(d.ranges, c)) continue
    positions.push(k)
    if (inRanges(d.primary, c)) touchedPrimary = true
  }
  return {
    positions: Int32Array.from(positions), values: new Int32Array(positions.length),
    deferIndex: d.deferIndex, fallbackUnchecked: d.keepsFallback, fallbackChecked: false, id: d.id,
    touched: positions.length > 0, touchedPrimary, wrapping: d.wrapping,
  }
}

/** True when chunk c lies in the merged ranges (flat ascending pairs). */
function inRanges(ranges: Int32Array, c: number): boolean {
  let lo = 0
  let hi = ranges.length / 2
  while (lo < hi) { // first pair starting after c
    const mid = (lo + hi) >>> 1
    if ((ranges[2 * mid] as number) <= c) lo = mid + 1
    else hi = mid
  }
  return lo > 0 && c <= (ranges[2 * lo - 1] as number)
}

/** Sort and merge [first, last] chunk ranges (flat pairs) into disjoint ascending pairs. */
function mergeRanges(flat: number[]): Int32Array {
  const pairs: [number, number][] = []
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i] as number, flat[i + 1] as number])
  pairs.sort((x, y) => x[0] - y[0])
  const out: number[] = []
  for (const [a, b] of pairs) {
    const n = out.length
    if (n > 0 && a <= (out[n - 1] as number) + 1) out[n - 1] = Math.max(out[n - 1] as number, b)
    else out.push(a, b)
  }
  return Int32Array.from(out)
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
  /**
   * Observers of the PM primitives as the sim applies them (server-crash.test.ts takes crash
   * points around them): a store (write, store64, a copy by the addon) before and after it lands,
   * a flush / fence / persist before and after it takes effect.
   */
  hooks: {
    write?(permission: Permission, when: 'before' | 'after'): void
    flush?(when: 'before' | 'after'): void
  } = {}
  /** The checker's own tests: rewrite (or drop, null) the range of each flush primitive. */
  flushHook: ((offset: number, length: number) => [number, number] | null) | null = null
  /** What the harness is doing ('txn', 'checkpoint', 'open'): names informative crash points. */
  phase = 'txn'
  closed = false
  /** The shipped region over the traced addon methods, and the trace's scratch buffer. */
  private readonly tracer: TracePool
  private readonly shipped: NativeRegion
  private poolObject!: NativePool
  private traceBuf = Buffer.alloc(64 * 1024)
  /** Permission of the PmRegion call being replayed; inCommit: inside PmRegion.commit. */
  private opPermission: Permission = 'blanket'
  private inCommit = false
  /** The last durable recovery, and the chunks made durable since (recovery reuse). */
  private lastDurable: DurableRecovery | null = null
  private durableChanged: number[] = []
  /** Outstanding chunks whose write-back started (flushed, awaiting the fence). */
  private readonly flushing = new Set<number>()

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
    this.tracer = createTracePool(this.sizeBytes)
    this.shipped = new NativeRegion(this.simPool())
  }

  get outstandingChunks(): number {
    return this.outstanding.size
  }

  get commitPending(): boolean {
    return this.commitChunks.length > 0
  }

  // --- PmRegion: the shipped code (NativeRegion over the addon's traced methods) -------------

  read(offset: number, length: number): Buffer {
    return this.shipped.read(offset, length)
  }

  write(offset: number, data: Buffer, permission: Permission): void {
    assert(!this.closed, 'write to a closed region')
    this.hooks.write?.(permission, 'before')
    // NativeRegion.write copies into the segment, which is `current`.
    this.shipped.write(offset, data, permission)
    this.landed(offset, data.length, permission)
    this.hooks.write?.(permission, 'after')
  }

  writeSealed(
    offset: number, data: Buffer, length: number, seed: bigint, permission: Permission,
  ): void {
    assert(!this.closed, 'write to a closed region')
    this.opPermission = permission
    this.shipped.writeSealed(offset, data, length, seed, permission)
  }

  commit(
    flushOffset: number, flushLength: number, wordOffset: number, lo: number, hi: number,
  ): void {
    assert(!this.closed, 'write to a closed region')
    // The addon's commit: its one store64 is the commit write; anything else it stores is not.
    this.opPermission = 'blanket'
    this.inCommit = true
    try {
      this.shipped.commit(flushOffset, flushLength, wordOffset, lo, hi)
    } finally {
      this.inCommit = false
    }
  }

  store64(offset: number, lo: number, hi: number, permission: Permission): void {
    assert(!this.closed, 'write to a closed region')
    this.opPermission = permission
    this.shipped.store64(offset, lo, hi, permission)
  }

  flush(offset: number, length: number): void {
    this.shipped.flush(offset, length)
  }

  close(): void {
    this.closed = true
  }

  private check(offset: number, length: number): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.sizeBytes)) {
      throw new RangeError(`range [${offset}, +${length}) outside pool of ${this.sizeBytes}`)
    }
  }

  /** The pool under the shipped region (tests: the addon's split flush and drain). */
  get pool(): NativePool {
    return this.poolObject
  }

  /** The pool the shipped NativeRegion calls: each method is the addon's, traced, then replayed. */
  private simPool(): NativePool {
    const t = this.tracer
    const pool = {
      sizeBytes: this.sizeBytes,
      segments: [this.current],
      backend: 'sim',
      isPmem: true,
      persist: (o: number, l: number) => { t.persist(o, l); this.replay() },
      flush: (o: number, l: number) => { t.flush(o, l); this.replay() },
      drain: () => { t.drain(); this.replay() },
      store64: (o: number, lo: number, hi: number) => { t.store64(o, lo, hi); this.replay() },
      writeSealed: (src: Uint8Array, length: number, seed: bigint, dst: number) => {
        t.writeSealed(src, length, seed, dst)
        this.replay()
      },
      commit: (fo: number, fl: number, wo: number, lo: number, hi: number) => {
        t.commit(fo, fl, wo, lo, hi)
        this.replay()
      },
      close: () => { t.close() },
    }
    this.poolObject = pool as unknown as NativePool // backend 'sim': not one of the addon's
    return this.poolObject
  }

  /** Apply the primitives the addon recorded, in order, to the crash model. */
  private replay(): void {
    const n = this.tracer.traceBytes()
    if (this.traceBuf.length < n) this.traceBuf = Buffer.alloc(Math.max(n, 2 * this.traceBuf.length))
    const buf = this.traceBuf
    this.tracer.takeTrace(buf)
    let at = 0
    while (at < n) {
      const kind = Number(buf.readBigUInt64LE(at))
      const offset = Number(buf.readBigUInt64LE(at + 8))
      const length = Number(buf.readBigUInt64LE(at + 16))
      const lo = buf.readUInt32LE(at + 24)
      const hi = buf.readUInt32LE(at + 28)
      at += 32
      switch (kind) {
        case TRACE_COPY:
          this.check(offset, length)
          this.hooks.write?.(this.opPermission, 'before')
          buf.copy(this.current, offset, at, at + length)
          at += Math.ceil(length / 8) * 8
          this.landed(offset, length, this.opPermission)
          this.hooks.write?.(this.opPermission, 'after')
          break
        case TRACE_STORE64: {
          assert(offset % CHUNK_BYTES === 0 && length === CHUNK_BYTES, 'store64 must be 8-aligned')
          this.check(offset, length)
          const permission = this.inCommit ? 'commit' : this.opPermission
          this.hooks.write?.(permission, 'before')
          this.current.writeUInt32LE(lo, offset)
          this.current.writeUInt32LE(hi, offset + 4)
          this.landed(offset, CHUNK_BYTES, permission)
          this.hooks.write?.(permission, 'after')
          break
        }
        case TRACE_FLUSH:
        case TRACE_PERSIST: {
          this.hooks.flush?.('before')
          const range = this.flushHook === null ? [offset, length] : this.flushHook(offset, length)
          if (range !== null) this.flushStart(range[0] as number, range[1] as number)
          if (kind === TRACE_PERSIST) this.drain()
          this.hooks.flush?.('after')
          break
        }
        case TRACE_DRAIN:
          this.hooks.flush?.('before')
          this.drain()
          this.hooks.flush?.('after')
          break
        default:
          throw new Error(`unknown trace entry ${kind}`)
      }
    }
  }

  /** A store of [offset, +length) landed in `current` (not durable): record it, check it. */
  private landed(offset: number, length: number, permission: Permission): void {
    if (length === 0) return
    this.stats.writes++
    this.stats.bytesWritten += length
    const first = Math.floor(offset / CHUNK_BYTES)
    const last = Math.floor((offset + length - 1) / CHUNK_BYTES)
    for (let c = first; c <= last; c++) {
      this.recordChunkWrite(c, offset, offset + length)
      if (this.flushing.size > 0) this.flushing.delete(c)
    }
    if (permission === 'commit') this.noteCommit(first, last)
    this.checkPoint(permission, `write [${offset}, +${length}) ${permission}`)
  }

  /** The write-back of the outstanding chunks of [offset, +length) starts (pmem_flush). */
  private flushStart(offset: number, length: number): void {
    this.check(offset, length)
    this.stats.flushes++
    if (length === 0 || this.outstanding.size === 0) return
    if (this.policy.atFlush) this.checkPoint('blanket', `flush [${offset}, +${length})`)
    const first = Math.floor(offset / CHUNK_BYTES)
    const last = Math.floor((offset + length - 1) / CHUNK_BYTES)
    if (last - first + 1 < this.outstanding.size) {
      for (let c = first; c <= last; c++) if (this.outstanding.has(c)) this.flushing.add(c)
    } else {
      for (const c of this.outstanding.keys()) if (c >= first && c <= last) this.flushing.add(c)
    }
  }

  /** The fence (pmem_drain): every chunk whose write-back started is durable. */
  private drain(): void {
    if (this.flushing.size === 0) return
    for (const c of this.flushing) {
      const st = this.outstanding.get(c)
      if (st !== undefined) this.makeDurable(st)
    }
    this.flushing.clear()
    if (this.outstanding.size === 0) {
      this.events = []
      this.eventValues = []
    }
    if (this.commitChunks.length > 0 && this.commitChunks.every((c) => !this.outstanding.has(c))) {
      this.commitChunks = []
      this.durableId = this.tentativeId
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
    if (this.verifier !== null && this.durableChanged.length < 4096) this.durableChanged.push(st.index)
    else this.lastDurable = null // too many changes to track: recover afresh
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
  forEachImage(visit: (image: OverlayImage) => void, policy = this.policy,
    durable: DurableRecovery | null = null): void {
    const list = [...this.outstanding.values()].filter((st) => st.values.length > 0)
    const n = list.length
    const image = new OverlayImage(this.durable, n)
    const byIndex = list.slice().sort((x, y) => x.index - y.index)
    image.watch = Int32Array.from(byIndex, (st) => st.index)
    image.watchCount = n
    image.choices = new Int32Array(n)
    if (durable !== null) image.recoveries.push(recoveryOfDurable(image, durable))
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
      image.choices[k] = v
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
    const allowed = (got: number): boolean =>
      got === this.durableId || (mayCommit && got === this.tentativeId)
    // Recovery of the durable bytes alone: when it reads no outstanding chunk, no image of this
    // point can recover differently (recovery is a deterministic function of what it reads).
    const durable = new OverlayImage(this.durable, 1)
    durable.hashA = this.durableA >>> 0
    durable.hashB = this.durableB >>> 0
    const d = verifier.durableRecovery(durable, this.lastDurable, this.durableChanged)
    this.lastDurable = d
    this.durableChanged = []
    if (!this.readsOutstanding(d.ranges)) {
      verifier.pointsCovered++
      if (allowed(d.id)) return
      const detail = d.id < 0 ? verifier.stateName(d.id)
        : canonicalDiff(verifier.stateName(this.durableId), verifier.stateName(d.id))
      this.fail(`${what}: the durable image recovers to a state the permission does not allow: ` +
        detail)
    }
    verifier.pointsEnumerated++
    const kind = mayCommit ? 'commit'
      : this.outstanding.has(HEAD_WORD_OFFSET / CHUNK_BYTES) ? 'head-move'
        : PREV_WORD_OFFSETS.some((o) => this.outstanding.has(o / CHUNK_BYTES)) ? 'prev-move'
          : 'other'
    const category = `${this.phase} ${kind}`
    this.forEachImage((image) => {
      if (this.violation !== null) return
      const got = verifier.recoveredId(image, category)
      if (allowed(got)) return
      const expected = verifier.stateName(this.durableId)
      const detail = got < 0 ? verifier.stateName(got)
        : canonicalDiff(expected, verifier.stateName(got))
      this.fail(`${what}: crash image (${image.describe()}) recovers to a state the ` +
        `permission does not allow: ${detail}`)
    }, this.policy, d)
  }

  /** True when an outstanding chunk with a choice lies in the merged ranges (flat pairs). */
  private readsOutstanding(ranges: Int32Array): boolean {
    if (ranges.length === 0) return false
    for (const st of this.outstanding.values()) {
      if (st.values.length > 0 && inRanges(ranges, st.index)) return true
    }
    return false
  }

  private fail(message: string): void {
    const ctx = this.context()
    const v = new PowerViolation(`PoWER violation: ${message}${ctx === '' ? '' : ` [${ctx}]`}`)
    if (this.violation === null) this.violation = v
    throw v
  }
}
