// Micro-benchmark of the native addon: crc64 throughput and per-call cost, store64, and persist
// in each durability mode. Run: `node dist/bench/native.js` (after npm run build).
// Invariants and why:
// - The backend and PMEM_IS_PMEM_FORCE are fixed once per process, so each persist mode runs in
//   a child process (this script with --child <mode>) that prints JSON.
// - Figures are medians over batches (ns-scale operations cannot be timed one by one); the
//   msync modes also report p50/p99 of single calls. Every pool file is removed afterwards.
// - Say which mode a figure was measured in: "forced PM" is /dev/shm with PMEM_IS_PMEM_FORCE=1
//   (CPU cache flushes, survives a process crash, not a power loss).

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc64, createPool, nativeInfo } from '../src/storage/native.js'

interface Row {
  op: string
  mode: string
  value: string
}

const now = (): bigint => process.hrtime.bigint()

/** Median ns per op of `batches` batches of `n` calls of fn(i). */
function perOp(fn: (i: number) => void, n: number, batches = 15): number {
  for (let i = 0; i < n; i++) fn(i) // warm up
  const samples: number[] = []
  for (let b = 0; b < batches; b++) {
    const t0 = now()
    for (let i = 0; i < n; i++) fn(i)
    samples.push(Number(now() - t0) / n)
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)] as number
}

/** p50 and p99 (ns) of single timed calls. */
function percentiles(fn: (i: number) => void, n: number): [number, number] {
  for (let i = 0; i < Math.min(n, 100); i++) fn(i)
  const samples = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const t0 = now()
    fn(i)
    samples[i] = Number(now() - t0)
  }
  samples.sort()
  return [samples[Math.floor(n * 0.5)] as number, samples[Math.floor(n * 0.99)] as number]
}

const fmtNs = (ns: number): string =>
  ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`

function crcRows(): Row[] {
  const rows: Row[] = []
  const mode = `${nativeInfo.crc64Impl}`
  const mib = Buffer.alloc(1 << 20)
  for (let i = 0; i < mib.length; i++) mib[i] = (i * 131 + 7) & 0xff
  let sink = 0n
  const t1 = perOp(() => {
    sink ^= crc64(mib, 0, mib.length, 0n)
  }, 200)
  rows.push({ op: 'crc64 1 MiB', mode, value: `${((1 << 20) / t1).toFixed(2)} GB/s` })
  const k4 = perOp((i) => {
    sink ^= crc64(mib, (i & 15) * 64, 4096, 0n)
  }, 20000)
  rows.push({ op: 'crc64 4 KiB', mode, value: `${fmtNs(k4)} (${(4096 / k4).toFixed(2)} GB/s)` })
  for (const len of [64, 0]) {
    const ns = perOp((i) => {
      sink ^= crc64(mib, (i & 255) * 8, len, 0n)
    }, 200000)
    rows.push({ op: `crc64 ${len} B per call${len === 0 ? ' (call overhead)' : ''}`, mode,
      value: fmtNs(ns) })
  }
  if (sink === 1n) console.log('')
  return rows
}

type Mode = 'forced-pm' | 'libpmem-msync' | 'mmap-msync' | 'disk-msync'

const modes: Record<Mode, { env: Record<string, string>; dir: string; label: string }> = {
  'forced-pm': {
    env: { PMEM_IS_PMEM_FORCE: '1', CAPYKV_PMEM_BACKEND: 'libpmem' },
    dir: '/dev/shm',
    label: 'libpmem, /dev/shm, PMEM_IS_PMEM_FORCE=1',
  },
  'libpmem-msync': {
    env: { PMEM_IS_PMEM_FORCE: '0', CAPYKV_PMEM_BACKEND: 'libpmem' },
    dir: '/dev/shm',
    label: 'libpmem, /dev/shm, not PM (pmem_msync)',
  },
  'mmap-msync': {
    env: { CAPYKV_PMEM_BACKEND: 'mmap' },
    dir: '/dev/shm',
    label: 'mmap backend, /dev/shm (msync)',
  },
  'disk-msync': {
    env: { PMEM_IS_PMEM_FORCE: '0' },
    dir: tmpdir(),
    label: `${nativeInfo.backend ?? '?'}, ${tmpdir()} on disk (msync)`,
  },
}

/** Runs inside the child: persist and store64 figures for one mode. */
function childMeasure(mode: Mode): Row[] {
  const { dir, label } = modes[mode]
  const workDir = mkdtempSync(join(dir, 'capykv-bench-native-'))
  try {
    const size = 64 << 20
    const pool = createPool(join(workDir, 'pool'), size)
    const seg = pool.segments[0] as Buffer
    const lines = size / 64
    const mode2 = `${label}; backend=${pool.backend} isPmem=${pool.isPmem}`
    const rows: Row[] = []
    if (pool.isPmem) {
      const p64 = perOp((i) => {
        const off = (i % lines) * 64
        seg[off] = i & 0xff
        pool.persist(off, 64)
      }, 100000)
      rows.push({ op: 'write 1 B + persist 64 B', mode: mode2, value: fmtNs(p64) })
      const p4k = perOp((i) => {
        const off = (i % (size / 4096)) * 4096
        seg.fill(i & 0xff, off, off + 4096)
        pool.persist(off, 4096)
      }, 10000)
      rows.push({ op: 'write + persist 4 KiB', mode: mode2, value: fmtNs(p4k) })
      const fd = perOp((i) => {
        const off = (i % lines) * 64
        seg[off] = i & 0xff
        pool.flush(off, 64)
        pool.drain()
      }, 100000)
      rows.push({ op: 'write 1 B + flush 64 B + drain', mode: mode2, value: fmtNs(fd) })
      const st = perOp((i) => {
        const off = (i % lines) * 64
        pool.store64(off, i, 0)
        pool.persist(off, 8)
      }, 100000)
      rows.push({ op: 'store64 + persist 8 B', mode: mode2, value: fmtNs(st) })
      const s = perOp((i) => pool.store64((i & 0xffff) * 8, i, 1), 1000000)
      rows.push({ op: 'store64 alone', mode: mode2, value: fmtNs(s) })
      const w = perOp((i) => seg.writeBigUInt64LE(BigInt(i), (i & 0xffff) * 8), 1000000)
      rows.push({ op: 'Buffer.writeBigUInt64LE (not atomic)', mode: mode2, value: fmtNs(w) })
    } else {
      const n = mode === 'disk-msync' ? 2000 : 20000
      const [p50, p99] = percentiles((i) => {
        const off = (i % lines) * 64
        seg[off] = i & 0xff
        pool.persist(off, 64)
      }, n)
      rows.push({ op: 'write 1 B + persist 64 B', mode: mode2,
        value: `p50 ${fmtNs(p50)}, p99 ${fmtNs(p99)}` })
    }
    pool.close()
    return rows
  } finally {
    rmSync(workDir, { recursive: true, force: true })
  }
}

function main(): void {
  const at = process.argv.indexOf('--child')
  if (at >= 0) {
    console.log(JSON.stringify(childMeasure(process.argv[at + 1] as Mode)))
    return
  }
  const rows = crcRows()
  for (const [mode, spec] of Object.entries(modes) as [Mode, (typeof modes)[Mode]][]) {
    if (mode !== 'mmap-msync' && !nativeInfo.backendAvailable.includes('libpmem')) continue
    if (!existsSync(spec.dir)) continue
    const r = spawnSync(process.execPath, [process.argv[1] as string, '--child', mode], {
      env: { ...process.env, ...spec.env },
      encoding: 'utf8',
    })
    if (r.status !== 0) {
      rows.push({ op: 'persist', mode: spec.label, value: `failed: ${r.stderr.slice(0, 200)}` })
      continue
    }
    rows.push(...(JSON.parse(r.stdout) as Row[]))
  }
  const w0 = Math.max(...rows.map((r) => r.op.length), 9)
  const w1 = Math.max(...rows.map((r) => r.mode.length), 4)
  console.log(`capykv native ${nativeInfo.version}, node ${process.version}, ` +
    `backends [${nativeInfo.backendAvailable.join(', ')}], crc64 ${nativeInfo.crc64Impl}`)
  console.log(`${'operation'.padEnd(w0)} | ${'mode'.padEnd(w1)} | result`)
  console.log(`${'-'.repeat(w0)}-|-${'-'.repeat(w1)}-|-${'-'.repeat(24)}`)
  for (const r of rows) console.log(`${r.op.padEnd(w0)} | ${r.mode.padEnd(w1)} | ${r.value}`)
}

main()
