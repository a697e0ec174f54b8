// Shared by bench/engine.ts and bench/recovery.ts: where pools go in each durability mode, the
// machine description every result file carries, and writing results as JSON + markdown.
// Invariants: a figure is always stored with the machine and mode it was measured in (absolute
// numbers drift on shared machines); pool directories are created fresh and removed by the
// caller; a "disk" directory is never tmpfs (os.tmpdir() when it is on a disk, else
// bench/results/tmp inside the project, which .gitignore excludes).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, statfsSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem, type } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { nativeInfo } from '../src/storage/native.js'

const here = dirname(fileURLToPath(import.meta.url))
/** The project root (bench/ is compiled to dist/bench/). */
export const projectRoot = join(here, '..', '..')
export const resultsDir = join(projectRoot, 'bench', 'results')

const TMPFS_MAGIC = 0x01021994

export type Mode = 'pm' | 'shm-msync' | 'disk'

export const MODES: Record<Mode, { label: string; env: Record<string, string | undefined> }> = {
  pm: { label: '/dev/shm, PMEM_IS_PMEM_FORCE=1 (libpmem, emulated PM)', env: { PMEM_IS_PMEM_FORCE: '1' } },
  'shm-msync': { label: '/dev/shm, not forced (msync on tmpfs)', env: { PMEM_IS_PMEM_FORCE: undefined } },
  disk: { label: 'disk file (msync)', env: { PMEM_IS_PMEM_FORCE: undefined } },
}

/** A fresh directory for a pool in `mode` (the caller removes it). */
export function poolDir(mode: Mode, tag: string): string {
  if (mode !== 'disk') {
    return mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), `capykv-${tag}-`))
  }
  const tmp = tmpdir()
  if (statfsSync(tmp).type !== TMPFS_MAGIC) return mkdtempSync(join(tmp, `capykv-${tag}-`))
  const base = join(resultsDir, 'tmp')
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, `capykv-${tag}-`))
}

/** The environment for a child measuring `mode`. */
export function modeEnv(mode: Mode): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.CAPYKV_PMEM_BACKEND
  for (const [k, v] of Object.entries(MODES[mode].env)) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

export interface Machine {
  os: string
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  /** 1/5/15-minute load averages when the run ended: these machines are shared. */
  loadAverage: number[]
  native: { version: string; backends: readonly string[]; crc64: string }
}

export function machine(): Machine {
  const cpu = cpus()
  return {
    os: `${type()} ${release()}`,
    cpu: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    native: {
      version: nativeInfo.version, backends: nativeInfo.backendAvailable, crc64: nativeInfo.crc64Impl,
    },
  }
}

/** Write `data` to bench/results/<name>.json; returns the path. */
export function writeResults(name: string, data: unknown): string {
  mkdirSync(resultsDir, { recursive: true })
  const path = join(resultsDir, `${name}.json`)
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`)
  return path
}

/** A markdown table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)]
    .join('\n')
}

export const fmtUs = (us: number): string =>
  us >= 100 ? us.toFixed(0) : us >= 10 ? us.toFixed(1) : us >= 1 ? us.toFixed(2) : us.toFixed(3)

export const fmtRate = (perSec: number): string =>
  perSec >= 1e6 ? `${(perSec / 1e6).toFixed(2)}M` : perSec >= 1e3 ? `${(perSec / 1e3).toFixed(1)}k`
    : perSec.toFixed(0)

/**
 * The main thread's scheduling so far (Linux schedstat): ms on a CPU, and ms runnable but
 * waiting for one. The waiting share says how contended the machine was during a measurement.
 */
export function mainThreadSchedule(): { runMs: number; waitMs: number } | null {
  const path = `/proc/self/task/${process.pid}/schedstat`
  if (!existsSync(path)) return null
  const [run, wait] = readFileSync(path, 'latin1').split(' ').map(Number)
  return { runMs: (run ?? 0) / 1e6, waitMs: (wait ?? 0) / 1e6 }
}

/** Percentage of runnable time spent waiting for a CPU between two schedule samples. */
export function waitingPct(
  a: { runMs: number; waitMs: number } | null, b: { runMs: number; waitMs: number } | null,
): number | null {
  if (a === null || b === null) return null
  const run = b.runMs - a.runMs
  const wait = b.waitMs - a.waitMs
  return run + wait > 0 ? (100 * wait) / (run + wait) : 0
}

/** CPU time of the main thread in ms (Linux schedstat, ns resolution), else of the process. */
export function mainThreadCpuMs(): number {
  const s = mainThreadSchedule()
  if (s !== null) return s.runMs
  const c = process.cpuUsage()
  return (c.user + c.system) / 1000
}
