// Loader and types for the native addon native/pmem.node (Rust, native/lib.rs): pool files mapped
// through libpmem or mmap, durability primitives, and CRC-64/XZ.
// Invariants and why:
// - The addon is found from the package root (the nearest ancestor directory whose package.json
//   is capykv's), so the same code works from src/ (tap's TS loader) and dist/src/ (tsc output).
// - The functions are the addon's own, re-exported without wrappers: a wrapper would add a JS
//   frame to calls that cost ~40 ns (crc64 of a record, persist, store64).
// - Every bad argument throws an Error with a `code` (never a crash):
//     ERR_INVALID_ARG   wrong type; NaN, negative, fractional or unsafe integer; unaligned
//                       store64 / commit word offset; lo/hi outside [0, 2^32); seed outside
//                       [0, 2^64); a writeSealed length under 8;
//                       pool size not a positive multiple of 4096; NUL in a path
//     ERR_OUT_OF_RANGE  offset + length beyond the buffer or the pool
//     ERR_POOL_CLOSED   any method of a closed pool (close() included)
//     ENOENT, EEXIST, ENOSPC, EACCES, EISDIR, EINVAL, ...  the system error of open /
//                       posix_fallocate / mmap (message like Node's: "ENOENT: ..., open '/x'")
//     ERR_INVALID_BACKEND / ERR_BACKEND_UNAVAILABLE  bad CAPYKV_PMEM_BACKEND (at pool creation)
// - Backend: chosen once per process from CAPYKV_PMEM_BACKEND: unset/"auto" = libpmem when
//   libpmem.so.1 loads (dlopen at run time), else mmap; "mmap" forces mmap+msync; "libpmem"
//   requires libpmem. PMEM_IS_PMEM_FORCE=1 is honoured by libpmem (isPmem becomes true).
//   CAPYKV_LIBPMEM names another file to dlopen instead of libpmem.so.1.
// - Pool memory: `segments` are external Buffers over one mapping, each SEGMENT_BYTES long except
//   the last, in order. close() detaches them (length becomes 0, views included) before
//   unmapping, so no JS reference can reach unmapped memory.

import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Size of every pool segment but the last (Node 20 Buffers stop at 4 GiB). */
export const SEGMENT_BYTES = 2 ** 30

export type PmemBackend = 'libpmem' | 'mmap'

export interface NativePool {
  readonly sizeBytes: number
  /** External Buffers over the mapping, each at most SEGMENT_BYTES, covering the whole pool. */
  readonly segments: Buffer[]
  readonly backend: PmemBackend
  /** pmem_is_pmem of the mapping (false for the mmap backend). */
  readonly isPmem: boolean
  /** Make [offset, offset+length) durable: pmem_persist if isPmem, else (pmem_)msync. */
  persist(offset: number, length: number): void
  /** First half of persist: pmem_flush if isPmem, else msync (already durable). */
  flush(offset: number, length: number): void
  /** Second half of persist: pmem_drain if isPmem, else nothing. */
  drain(): void
  /** One aligned atomic 8-byte store of lo | hi << 32 (lo, hi in [0, 2^32)); not yet durable. */
  store64(offset: number, lo: number, hi: number): void
  /**
   * Seal src[0, length) (its last 8 bytes become the little-endian crc64 of the bytes before
   * them, from `seed`; length >= 8), then copy it to the pool at dstOffset; not yet durable.
   */
  writeSealed(src: Uint8Array, length: number, seed: bigint, dstOffset: number): void
  /**
   * persist(flushOffset, flushLength), then store64(wordOffset, lo, hi), then persist(wordOffset,
   * 8), in that order, as one call; every argument is checked before anything is written.
   */
  commit(flushOffset: number, flushLength: number, wordOffset: number, lo: number, hi: number): void
  /** Detach the segments and unmap now. Later calls of any method throw ERR_POOL_CLOSED. */
  close(): void
}

/**
 * A pool that performs nothing and records the PM primitives its methods would issue, in
 * order (native/trace.rs): the same method bodies as a real pool, over a recorder. The crash
 * simulator (test/sim/sim-region.ts) replays the trace on simulated PM, so it checks the
 * protocol the addon ships. It has no segments; backend 'trace'.
 */
export interface TracePool extends Omit<NativePool, 'backend'> {
  readonly backend: 'trace'
  /** Bytes of trace recorded since the last takeTrace. */
  traceBytes(): number
  /** Move the recorded trace into dst (at least traceBytes() long); returns its length. */
  takeTrace(dst: Uint8Array): number
}

/** Trace entry kinds (native/trace.rs): u64 kind, offset, length, value; a copy's bytes follow. */
export const TRACE_FLUSH = 1
export const TRACE_DRAIN = 2
export const TRACE_PERSIST = 3
export const TRACE_STORE64 = 4
export const TRACE_COPY = 5

export interface NativeInfo {
  /** Backends this process can use ('libpmem' absent if it cannot load or mmap is forced). */
  readonly backendAvailable: readonly PmemBackend[]
  /** The backend every pool of this process uses; null if CAPYKV_PMEM_BACKEND is unusable. */
  readonly backend: PmemBackend | null
  readonly version: string
  /** Which CRC-64 implementation this CPU runs for long inputs. */
  readonly crc64Impl: 'vpclmulqdq' | 'pclmulqdq' | 'table'
}

/** An Error thrown by the addon. */
export interface NativeError extends Error {
  code: string
}

interface Addon {
  createPool(path: string, sizeBytes: number): NativePool
  openPool(path: string): NativePool
  createTracePool(sizeBytes: number): TracePool
  crc64(buf: Uint8Array, offset: number, length: number, seed: bigint): bigint
  crc64Seal(buf: Uint8Array, offset: number, length: number, seed: bigint, dst: number): void
  crc64Verify(buf: Uint8Array, offset: number, length: number, seed: bigint, dst: number): boolean
  nativeInfo: NativeInfo
}

function packageRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'capykv') {
          return dir
        }
      } catch {
        // not our package.json: keep walking up
      }
    }
    if (dirname(dir) === dir) return undefined
  }
}

function loadAddon(): Addon {
  const here = dirname(fileURLToPath(import.meta.url))
  const root = packageRoot(here)
  const file = root === undefined ? undefined : join(root, 'native', 'pmem.node')
  if (file === undefined || !existsSync(file)) {
    const err = new Error(
      `capykv native addon not found (${file ?? `no capykv package.json above ${here}`}): ` +
        'run `npm run build:native`',
    ) as NativeError
    err.code = 'ERR_NATIVE_NOT_BUILT'
    throw err
  }
  return createRequire(import.meta.url)(file) as Addon
}

const addon = loadAddon()

/** Create `path` (must not exist), allocate sizeBytes (multiple of 4096) of blocks, map it. */
export const createPool: (path: string, sizeBytes: number) => NativePool = addon.createPool
/** Map the existing pool file `path` at its current size (never resizes it). */
export const openPool: (path: string) => NativePool = addon.openPool
/** A trace pool of sizeBytes (tests: the crash simulator's view of the shipped protocol). */
export const createTracePool: (sizeBytes: number) => TracePool = addon.createTracePool
/**
 * CRC-64/XZ of buf[offset, offset+length) continuing from `seed`: crc64(b, 0, n, 0n) is the
 * standard CRC of the bytes, and crc64(b2, o2, n2, crc64(b1, o1, n1, 0n)) the CRC of b1 || b2.
 */
export const crc64: (buf: Uint8Array, offset: number, length: number, seed: bigint) => bigint =
  addon.crc64
/** Write crc64(buf, offset, length, seed) as a little-endian u64 at buf[dstOffset]. */
export const crc64Seal: (
  buf: Uint8Array, offset: number, length: number, seed: bigint, dstOffset: number,
) => void = addon.crc64Seal
/** True iff the little-endian u64 at buf[dstOffset] equals crc64(buf, offset, length, seed). */
export const crc64Verify: (
  buf: Uint8Array, offset: number, length: number, seed: bigint, dstOffset: number,
) => boolean = addon.crc64Verify
export const nativeInfo: NativeInfo = addon.nativeInfo
