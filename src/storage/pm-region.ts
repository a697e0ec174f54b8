// The trust boundary between the engine and persistent memory: the only module that touches the
// native pool. A PmRegion is a byte range with CapybaraKV's persistence model (DESIGN rule 4):
// a write is durable only after a flush covering it; before that, any subset of its aligned
// 8-byte chunks may survive a crash. store64 is the one atomic primitive: an aligned 8-byte store.
// writeSealed (CRC, then write) and commit (flush, store64, flush) are defined as compositions
// of the primitives, and the simulated region implements them so; the native region does each
// in one call into the addon, whose cost per call is the put path's largest fixed cost.
// Every write names its permission (PoWER): 'blanket' writes must leave the recovered state
// unchanged whatever subset survives; a 'commit' write is the transaction group's commit point.
// The native region ignores permissions; the simulated region (test/sim) checks them.
// Test-only switch: CAPYKV_TEST_FAIL_COMMIT=N makes the Nth commit() of the process (counted
// over every native region) do its work and then throw EIO, as an msync that wrote the pages
// into the page cache but failed to write them back would (the failed-flush test,
// test/process/durability.test.ts). Unset, it costs one integer comparison per commit.
// Pools over 4 GiB: the mapping comes as segments of at most 1 GiB; read() of a range that
// crosses a segment boundary returns a copy, write() splits.

import { assert } from '../assert.js'
import { createPool, openPool, type NativePool } from './native.js'

export type Permission = 'blanket' | 'commit'

export interface PmRegion {
  readonly sizeBytes: number
  /** Bytes as they are now (including unflushed writes). A view: do not keep it across writes. */
  read(offset: number, length: number): Buffer
  write(offset: number, data: Buffer, permission: Permission): void
  /**
   * Seal data[0, length) — its last 8 bytes become the little-endian CRC-64 (crc.ts) of the bytes
   * before them, continuing from `seed` — and write it at `offset`, as write() does. The log's
   * append: one native call for the CRC and the copy.
   */
  writeSealed(
    offset: number, data: Buffer, length: number, seed: bigint, permission: Permission,
  ): void
  /** One atomic, aligned 8-byte store of (lo | hi << 32). Not durable until flushed. */
  store64(offset: number, lo: number, hi: number, permission: Permission): void
  /** Make every write in [offset, offset+length) durable. */
  flush(offset: number, length: number): void
  /**
   * The commit protocol as one call, exactly: flush(flushOffset, flushLength), then
   * store64(wordOffset, lo, hi, 'commit'), then flush(wordOffset, 8).
   */
  commit(flushOffset: number, flushLength: number, wordOffset: number, lo: number, hi: number): void
  readonly backend: string
  readonly isPmem: boolean
  close(): void
}

export const SEGMENT_BYTES = 2 ** 30

const failCommitAt = Number(process.env.CAPYKV_TEST_FAIL_COMMIT ?? '0') || 0
let commitsSoFar = 0

export class NativeRegion implements PmRegion {
  readonly sizeBytes: number
  private readonly segments: Buffer[]
  private closed = false
  constructor(private readonly pool: NativePool) {
    this.sizeBytes = pool.sizeBytes
    this.segments = pool.segments
    assert(this.segments.length === Math.ceil(this.sizeBytes / SEGMENT_BYTES), 'segment count')
  }
  get backend(): string {
    return this.pool.backend
  }
  get isPmem(): boolean {
    return this.pool.isPmem
  }
  private check(offset: number, length: number): void {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.sizeBytes)) {
      throw new RangeError(`range [${offset}, +${length}) outside pool of ${this.sizeBytes}`)
    }
  }
  read(offset: number, length: number): Buffer {
    this.check(offset, length)
    const index = Math.floor(offset / SEGMENT_BYTES)
    const start = offset - index * SEGMENT_BYTES
    const segment = this.segments[index] as Buffer
    if (start + length <= segment.length) return segment.subarray(start, start + length)
    const out = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const at = offset + done
      const seg = this.segments[Math.floor(at / SEGMENT_BYTES)] as Buffer
      const from = at % SEGMENT_BYTES
      const n = Math.min(length - done, seg.length - from)
      seg.copy(out, done, from, from + n)
      done += n
    }
    return out
  }
  write(offset: number, data: Buffer, _permission: Permission): void {
    this.check(offset, data.length)
    const index = Math.floor(offset / SEGMENT_BYTES)
    const start = offset - index * SEGMENT_BYTES
    const segment = this.segments[index] as Buffer
    if (start + data.length <= segment.length) {
      // One segment (always, for pools up to 1 GiB): TypedArray.set is a plain memmove, without
      // Buffer.copy's argument handling, which costs more than the copy for a small record.
      segment.set(data, start)
      return
    }
    let done = 0
    while (done < data.length) {
      const at = offset + done
      const seg = this.segments[Math.floor(at / SEGMENT_BYTES)] as Buffer
      const from = at % SEGMENT_BYTES
      const n = Math.min(data.length - done, seg.length - from)
      data.copy(seg, from, done, done + n)
      done += n
    }
  }
  writeSealed(
    offset: number, data: Buffer, length: number, seed: bigint, _permission: Permission,
  ): void {
    // The native pool takes absolute offsets (its mapping is contiguous); it checks the ranges.
    this.pool.writeSealed(data, length, seed, offset)
  }
  store64(offset: number, lo: number, hi: number, _permission: Permission): void {
    this.pool.store64(offset, lo, hi)
  }
  flush(offset: number, length: number): void {
    if (length > 0) this.pool.persist(offset, length)
  }
  commit(
    flushOffset: number, flushLength: number, wordOffset: number, lo: number, hi: number,
  ): void {
    // One native call for the three steps: each Node-API call costs ~40 ns, as much as a flush.
    this.pool.commit(flushOffset, flushLength, wordOffset, lo, hi)
    if (failCommitAt > 0 && ++commitsSoFar === failCommitAt) {
      throw Object.assign(new Error('EIO: i/o error, msync (injected by CAPYKV_TEST_FAIL_COMMIT)'),
        { code: 'EIO' })
    }
  }
  close(): void {
    if (this.closed) return
    this.closed = true
    this.pool.close()
  }
}

export function createNativeRegion(path: string, sizeBytes: number): NativeRegion {
  return new NativeRegion(createPool(path, sizeBytes))
}

export function openNativeRegion(path: string): NativeRegion {
  return new NativeRegion(openPool(path))
}
