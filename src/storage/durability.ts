// The file-system side of durability: what a pool file needs beyond its bytes.
// Invariants and why:
// - A rename is durable only once its directory is fsynced: Store.create fsyncs the directory
//   after renaming `POOL.creating` to `POOL` (the addon fsyncs it after creating the file).
// - A leftover `POOL.creating` may be the real pool (a power loss after the rename whose
//   directory entry never reached the disk brings back the old name): it is deleted only when no
//   header copy verifies — formatting writes and flushes the header last (setup.ts), so a file
//   with a verifying header copy is a complete pool and is renamed into place instead.
// - After a failed flush (msync error) the page cache may hold pool pages that never reached the
//   disk, and Linux marks them clean (the "fsyncgate" behaviour): a restart on the same boot
//   would read and serve them, and a power loss would then take them away. So the process
//   writes a marker `POOL.flush-failed` (the boot id, the time, the error; fsynced with its
//   directory) and stops; a start on the same boot refuses while the marker exists; a start
//   after a reboot (another boot id: the cache is gone, every byte comes from the media)
//   verifies the pool as usual and removes the marker. An operator who knows the pages reached
//   the media may remove it by hand.
// - PMEM_IS_PMEM_FORCE=1 makes libpmem treat the mapping as persistent memory and flush with CPU
//   cache-line flushes only: on a disk-backed file that drops power-loss durability (the page
//   cache reaches the disk only when the kernel writes it back, seconds later). Harmless on
//   tmpfs (nothing survives a power loss there anyway, by design) and right on a DAX mount;
//   anything else gets a loud warning (log and INFO).

import { randomBytes } from 'node:crypto'
import {
  closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, realpathSync, renameSync,
  rmSync, writeFileSync,
} from 'node:fs'
import { dirname } from 'node:path'
import { nowMs } from '../clock.js'
import { decodeHeaderCopy, HEADER_BYTES, HEADER_OFFSETS } from './layout.js'
import { createNativeRegion } from './pm-region.js'
import { formatRegion } from './setup.js'

/**
 * Create and format a pool file; crash-safe by formatting under a temporary name, renamed into
 * place and the directory fsynced. A leftover temporary file with a verifying header is a
 * complete pool (perhaps the real one, its rename lost to a power cut): it is renamed into place
 * instead ('adopted'); one without is deleted and made anew.
 */
export function createPoolFile(path: string, sizeBytes: number): 'created' | 'adopted' {
  const temporary = `${path}.creating`
  if (existsSync(temporary)) {
    if (hasVerifyingHeader(temporary)) {
      renameSync(temporary, path)
      fsyncDirOf(path)
      return 'adopted'
    }
    rmSync(temporary, { force: true })
  }
  const region = createNativeRegion(temporary, sizeBytes)
  try {
    formatRegion(region, randomBytes(16), nowMs())
  } finally {
    region.close()
  }
  renameSync(temporary, path)
  fsyncDirOf(path)
  return 'created'
}

/** fsync(2) the directory holding `path`, so a create, rename or unlink in it is durable. */
export function fsyncDirOf(path: string): void {
  const fd = openSync(dirname(path), 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** True when some header copy of the file at `path` verifies (format version 1 or 2). */
export function hasVerifyingHeader(path: string): boolean {
  const fd = openSync(path, 'r')
  try {
    return HEADER_OFFSETS.some((at, copy) => {
      const b = Buffer.alloc(HEADER_BYTES)
      if (readSync(fd, b, 0, HEADER_BYTES, at) !== HEADER_BYTES) return false
      return decodeHeaderCopy(b, copy).kind === 'ok'
    })
  } finally {
    closeSync(fd)
  }
}

/** This boot's id (CAPYKV_TEST_BOOT_ID stands in for a reboot in tests). */
export function bootId(): string {
  const forced = process.env.CAPYKV_TEST_BOOT_ID
  if (forced !== undefined && forced !== '') return forced
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return 'unknown'
  }
}

export interface FlushMarker {
  bootId: string
  atMs: number
  error: string
  pid: number
}

export function flushMarkerPath(poolPath: string): string {
  return `${poolPath}.flush-failed`
}

/** Record a failed flush of the pool (durably: the file and its directory are fsynced). */
export function writeFlushMarker(poolPath: string, error: string): string {
  const path = flushMarkerPath(poolPath)
  const marker: FlushMarker = { bootId: bootId(), atMs: Date.now(), error, pid: process.pid }
  writeFileSync(path, `${JSON.stringify(marker)}\n`)
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  fsyncDirOf(path)
  return path
}

/** The marker of a failed flush, or null; an unreadable marker counts as one of this boot. */
export function readFlushMarker(poolPath: string): FlushMarker | null {
  const path = flushMarkerPath(poolPath)
  if (!existsSync(path)) return null
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<FlushMarker>
    return { bootId: String(m.bootId ?? bootId()), atMs: Number(m.atMs ?? 0),
      error: String(m.error ?? 'unknown'), pid: Number(m.pid ?? 0) }
  } catch {
    return { bootId: bootId(), atMs: 0, error: 'unreadable marker', pid: 0 }
  }
}

export function removeFlushMarker(poolPath: string): void {
  rmSync(flushMarkerPath(poolPath), { force: true })
  fsyncDirOf(flushMarkerPath(poolPath))
}

/** Why a start must not use the pool now (a flush failed on this boot), or null. */
export function flushMarkerRefusal(poolPath: string): string | null {
  const m = readFlushMarker(poolPath)
  if (m === null || m.bootId !== bootId()) return null
  return `a flush of this pool failed on this boot (${m.error}, at ` +
    `${new Date(m.atMs).toISOString()}, pid ${m.pid}): the page cache may hold pool pages that ` +
    'never reached the disk, and serving them could show writes that vanish at the next power ' +
    'loss. Reboot (a start after a reboot re-reads and verifies the pool from the media), or, ' +
    `once you know the pool's pages are on the media (the device error is fixed and \`sync\` ` +
    `succeeds), remove ${flushMarkerPath(poolPath)} and start again`
}

/** The file system type and mount options of the mount holding `path` (from /proc/self/mounts). */
export function mountOf(path: string): { fsType: string; options: string[]; mountPoint: string } | null {
  let real: string
  let mounts: string
  try {
    real = realpathSync(path)
    mounts = readFileSync('/proc/self/mounts', 'utf8')
  } catch {
    return null
  }
  let best: { fsType: string; options: string[]; mountPoint: string } | null = null
  for (const line of mounts.split('\n')) {
    const f = line.split(' ')
    if (f.length < 4) continue
    const mountPoint = (f[1] as string).replace(/\\040/g, ' ')
    const inside = mountPoint === '/' || real === mountPoint || real.startsWith(`${mountPoint}/`)
    if (inside && (best === null || mountPoint.length >= best.mountPoint.length)) {
      best = { fsType: f[2] as string, options: (f[3] as string).split(','), mountPoint }
    }
  }
  return best
}

/**
 * The warning for PMEM_IS_PMEM_FORCE=1 on a pool that is neither on tmpfs nor on a DAX mount,
 * or null. `isPmem`: whether the mapping was treated as persistent memory.
 */
export function pmemForceWarning(poolPath: string, isPmem: boolean): string | null {
  const force = process.env.PMEM_IS_PMEM_FORCE
  if (force === undefined || force === '0' || force === '' || !isPmem) return null
  const m = mountOf(poolPath)
  if (m !== null && (m.fsType === 'tmpfs' || m.fsType === 'ramfs' || m.options.includes('dax'))) {
    return null
  }
  return `PMEM_IS_PMEM_FORCE=${force} on ${poolPath} (${m === null ? 'file system unknown'
    : `${m.fsType} mounted at ${m.mountPoint} without dax`}): libpmem flushes CPU caches only and ` +
    'leaves the page cache to the kernel\'s own write-back, so acknowledged writes of the last ' +
    'seconds do NOT survive a power loss or a kernel crash (they do survive a process crash). ' +
    'Unset it for a disk-backed pool'
}
