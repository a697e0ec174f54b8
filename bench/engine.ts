// In-process benchmark of the embedded engine (issue 3, "Bench"), with the `benchmark` package:
// durable put (one-event transaction, commit + flush per op: the latency of one durable put),
// put with group commit (100 awaited commits per event-loop turn: throughput), get, durable
// delete, and a durable 10-operation transaction; µs per op and ops/s in three modes: /dev/shm
// with PMEM_IS_PMEM_FORCE=1 (libpmem, emulated PM), /dev/shm without it (msync on tmpfs), and a
// disk file (msync). Then commits/s with 1 and with 50 concurrent committers (50 transactions
// per turn). Run: `npm run bench:engine` (= node dist/bench/engine.js) [--quick] [--modes a,b].
// Beside benchmark.js's wall-clock mean, each op is also run in a plain loop and timed in the
// main thread's CPU time (Linux schedstat): on a shared machine the wall figure includes the
// time the process waited for a CPU (reported per mode as "waited for a CPU N%"), the CPU figure
// does not; in the disk mode it also leaves out the time blocked in msync.
// Results: bench/results/engine.json (with the machine) and a markdown table on stdout.
// Invariants and why:
// - each mode runs in its own child process (this script with --child MODE): libpmem reads
//   PMEM_IS_PMEM_FORCE once per process, and a fresh process keeps one mode's JIT and GC state
//   out of another's figures;
// - every op here is what a server request costs the engine: a put allocates its event, a get
//   is the keyspace lookup the server does; keys and the 100-byte value are made beforehand;
// - the pool (1 GiB) is removed when the child ends, whatever happens.

import Benchmark from 'benchmark'
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { EV_DEL, EV_PUT } from '../src/state/core-events.js'
import type { Event } from '../src/state/event.js'
import { Store } from '../src/txn/engine.js'
import {
  fmtRate, fmtUs, machine, mainThreadCpuMs, mainThreadSchedule, MODES, modeEnv, poolDir, table, waitingPct,
  writeResults, type Mode,
} from './report.js'

const POOL_BYTES = 1024 * 1024 * 1024
const KEYS = 100_000
const VALUE = Buffer.alloc(100, 'v')
const GROUP = 100
const quick = process.argv.includes('--quick')

interface OpRow {
  op: string
  /** Wall time (benchmark.js mean). */
  usPerOp: number
  /**
   * Main-thread CPU time per op in a plain loop (Linux schedstat): what the op costs when the
   * process is not waiting for a CPU. Excludes time blocked in msync (the disk mode).
   */
  cpuUsPerOp: number | null
  opsPerSec: number
  rmePct: number
  samples: number
}

interface CommitRow {
  committers: number
  commitsPerSec: number
  groupCommitsPerSec: number
  meanLatencyUs: number
}

interface ModeResult {
  mode: Mode
  label: string
  backend: string
  isPmem: boolean
  ops: OpRow[]
  commits: CommitRow[]
  /** Share of the child's runnable time spent waiting for a CPU (machine contention), %. */
  cpuWaitPct: number | null
}

const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`)
const put = (key: string): Event => ({ code: EV_PUT, db: 0, key, value: VALUE, expireAtMs: 0 } as Event)
const del = (key: string): Event => ({ code: EV_DEL, db: 0, key } as Event)

const OP_PUT = 'put (durable: commit + flush per op)'
const OP_GROUP = `put (group commit: ${GROUP} awaited commits per turn)`
const OP_GET = 'get'
const OP_DEL = 'delete (durable: commit + flush per op)'
const OP_TXN10 = '10-op transaction (10 puts, durable)'

function durablePut(store: Store, key: string): void {
  const txn = store.begin()
  txn.apply(put(key))
  txn.commitNoWait()
  store.flush()
}

function durableDelete(store: Store, key: string): void {
  const txn = store.begin()
  txn.apply(del(key))
  txn.commitNoWait()
  store.flush()
}

function durableTxn10(store: Store, at: number): void {
  const txn = store.begin()
  for (let k = 0; k < 10; k++) txn.apply(put(keys[(at + k) % KEYS] as string))
  txn.commitNoWait()
  store.flush()
}

function groupOfPuts(store: Store, at: number): Promise<void[]> {
  const waits: Promise<void>[] = []
  for (let k = 0; k < GROUP; k++) {
    const txn = store.begin()
    txn.apply(put(keys[(at + k) % KEYS] as string))
    waits.push(txn.commit())
  }
  return Promise.all(waits)
}

/** Main-thread CPU µs per op of each operation, in plain loops (after the suite). */
async function cpuPerOp(store: Store, slow: boolean): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  const n = slow ? 300 : quick ? 20_000 : 200_000
  let c = mainThreadCpuMs()
  const lap = (name: string, ops: number): void => {
    const now = mainThreadCpuMs()
    out[name] = ((now - c) * 1000) / ops
    c = now
  }
  for (let i = 0; i < n; i++) durablePut(store, keys[i % KEYS] as string)
  lap(OP_PUT, n)
  const groups = Math.max(10, n / GROUP)
  for (let g = 0; g < groups; g++) await groupOfPuts(store, g * GROUP)
  lap(OP_GROUP, groups * GROUP)
  let sink = 0
  const gets = slow ? 2_000_000 : n * 10
  c = mainThreadCpuMs()
  for (let i = 0; i < gets; i++) {
    const e = store.keyspace.get(0, keys[i % KEYS] as string)
    if (e !== undefined) sink += (e.value as Buffer).length
  }
  lap(OP_GET, gets)
  if (sink === -1) console.log(sink)
  const victims = Array.from({ length: n }, (_, i) => `cpu-del:${i}`)
  for (let start = 0; start < n; start += 10_000) {
    const txn = store.begin()
    for (const key of victims.slice(start, start + 10_000)) txn.apply(put(key))
    txn.commitNoWait()
    store.flush()
  }
  c = mainThreadCpuMs()
  for (const key of victims) durableDelete(store, key)
  lap(OP_DEL, n)
  const txns = Math.max(10, n / 10)
  for (let i = 0; i < txns; i++) durableTxn10(store, i * 10)
  lap(OP_TXN10, txns)
  return out
}

function runSuite(store: Store): Promise<OpRow[]> {
  let i = 0
  let sink = 0
  // Delete needs keys that exist: a population refilled between cycles (outside the timing).
  let delKeys: string[] = []
  let delAt = 0
  let delSerial = 0
  let inlineRefills = 0
  const refill = (n: number): void => {
    delKeys = []
    delAt = 0
    for (let done = 0; done < n; done += 10_000) {
      const txn = store.begin()
      for (let k = 0; k < 10_000; k++) {
        const key = `del:${delSerial++}`
        delKeys.push(key)
        txn.apply(put(key))
      }
      txn.commitNoWait()
      store.flush()
    }
  }
  refill(200_000)
  const rows: OpRow[] = []
  const options = { maxTime: quick ? 0.5 : 3, minSamples: 5 }
  return new Promise((resolve, reject) => {
    const suite = new Benchmark.Suite()
    suite.add(OP_PUT, () => durablePut(store, keys[i++ % KEYS] as string), options)
    suite.add(OP_GROUP, {
      ...options,
      defer: true,
      fn: (deferred: Benchmark.Deferred) => {
        void groupOfPuts(store, i).then(() => deferred.resolve(), reject)
        i += GROUP
      },
    })
    suite.add(OP_GET, () => {
      const e = store.keyspace.get(0, keys[i++ % KEYS] as string)
      if (e !== undefined) sink += (e.value as Buffer).length
    }, options)
    suite.add(OP_DEL, {
      ...options,
      fn: () => {
        if (delAt >= delKeys.length) {
          inlineRefills++
          refill(10_000)
        }
        durableDelete(store, delKeys[delAt++] as string)
      },
      onCycle(ev: Benchmark.Event) {
        const count = (ev.target as unknown as Benchmark).count
        if (delKeys.length - delAt < Math.max(100_000, 3 * count)) {
          refill(Math.max(200_000, 4 * count))
        }
      },
    })
    suite.add(OP_TXN10, () => {
      durableTxn10(store, i)
      i += 10
    }, options)
    suite.on('cycle', (ev: Benchmark.Event) => {
      const b = ev.target as unknown as Benchmark
      if (b.error !== undefined) {
        reject(b.error)
        return
      }
      const perGroup = (b as Benchmark & { defer?: boolean }).defer === true ? GROUP : 1
      const us = (b.stats.mean * 1e6) / perGroup
      rows.push({
        op: b.name ?? '?', usPerOp: us, cpuUsPerOp: null, opsPerSec: (b.hz ?? 0) * perGroup,
        rmePct: b.stats.rme,
        samples: b.stats.sample.length,
      })
      process.stderr.write(`  ${String(b)}\n`)
    })
    suite.on('complete', () => {
      if (sink === -1) console.log(sink)
      if (inlineRefills > 0) process.stderr.write(`  (delete: ${inlineRefills} inline refills)\n`)
      resolve(rows)
    })
    suite.on('error', (ev: Benchmark.Event) => reject((ev.target as unknown as Benchmark).error))
    suite.run({ async: true })
  })
}

/** Commits/s with `n` committers, each awaiting its own commit before the next (for `ms`). */
async function committers(store: Store, n: number, ms: number): Promise<CommitRow> {
  let commits = 0
  let latency = 0
  const groups0 = store.log.commits
  const started = performance.now()
  const deadline = started + ms
  let k = 0
  const one = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      const txn = store.begin()
      txn.apply(put(keys[k++ % KEYS] as string))
      await txn.commit()
      latency += performance.now() - t0
      commits++
    }
  }
  await Promise.all(Array.from({ length: n }, one))
  const seconds = (performance.now() - started) / 1000
  return {
    committers: n, commitsPerSec: commits / seconds,
    groupCommitsPerSec: (store.log.commits - groups0) / seconds, meanLatencyUs: (latency / commits) * 1000,
  }
}

async function child(mode: Mode): Promise<ModeResult> {
  const dir = poolDir(mode, 'bench-engine')
  try {
    const store = await Store.open(join(dir, 'engine.pool'), { sizeBytes: POOL_BYTES })
    for (let start = 0; start < KEYS; start += 1000) {
      const txn = store.begin()
      for (let k = start; k < start + 1000; k++) txn.apply(put(keys[k] as string))
      txn.commitNoWait()
      store.flush()
    }
    const stats = store.stats()
    process.stderr.write(`mode ${mode}: backend ${stats.backend}, isPmem ${stats.isPmem}\n`)
    const sched0 = mainThreadSchedule()
    const ops = await runSuite(store)
    const cpu = await cpuPerOp(store, mode === 'disk')
    for (const row of ops) row.cpuUsPerOp = cpu[row.op] ?? null
    const commits: CommitRow[] = []
    for (const n of [1, 50]) commits.push(await committers(store, n, quick ? 500 : 3000))
    const cpuWaitPct = waitingPct(sched0, mainThreadSchedule())
    store.close()
    return {
      mode, label: MODES[mode].label, backend: stats.backend, isPmem: stats.isPmem, ops, commits,
      cpuWaitPct,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function main(): void {
  const at = process.argv.indexOf('--child')
  if (at >= 0) {
    child(process.argv[at + 1] as Mode).then((r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`)
    }, (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`)
      process.exitCode = 1
    })
    return
  }
  const m = process.argv.indexOf('--modes')
  const modes = (m >= 0 ? (process.argv[m + 1] ?? '').split(',') : Object.keys(MODES)) as Mode[]
  const results: ModeResult[] = []
  for (const mode of modes) {
    if (MODES[mode] === undefined) throw new Error(`unknown mode ${mode}`)
    process.stderr.write(`== ${MODES[mode].label}\n`)
    const args = [process.argv[1] as string, '--child', mode, ...(quick ? ['--quick'] : [])]
    const r = spawnSync(process.execPath, args, {
      env: modeEnv(mode), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    })
    if (r.status !== 0) {
      process.exitCode = 1
      process.stderr.write(`mode ${mode} failed (exit ${r.status})\n`)
      continue
    }
    results.push(JSON.parse(r.stdout) as ModeResult)
  }
  const data = { bench: 'engine', when: new Date().toISOString(), quick, machine: machine(), results }
  const path = writeResults('engine', data)
  const mach = data.machine
  console.log(`\ncapykv engine, ${mach.cpu} (${mach.cores} cores), ${mach.os}, node ${mach.node}, ` +
    `load average ${mach.loadAverage.join(' ')}${quick ? ' (--quick)' : ''}\n`)
  const opNames = results[0]?.ops.map((o) => o.op) ?? []
  console.log(table(['operation', ...results.map((r) => `${r.mode}: µs/op`),
    ...results.map((r) => `${r.mode}: CPU µs/op`),
    ...results.map((r) => `${r.mode}: ops/s`)], opNames.map((op) => [
    op,
    ...results.map((r) => {
      const row = r.ops.find((o) => o.op === op)
      return row === undefined ? '-' : `${fmtUs(row.usPerOp)} ±${row.rmePct.toFixed(0)}%`
    }),
    ...results.map((r) => {
      const row = r.ops.find((o) => o.op === op)
      return row?.cpuUsPerOp == null ? '-' : fmtUs(row.cpuUsPerOp)
    }),
    ...results.map((r) => {
      const row = r.ops.find((o) => o.op === op)
      return row === undefined ? '-' : fmtRate(row.opsPerSec)
    }),
  ])))
  console.log('')
  console.log(table(['mode', 'committers', 'commits/s', 'group commits/s', 'mean commit latency µs'],
    results.flatMap((r) => r.commits.map((c) => [
      r.mode, String(c.committers), fmtRate(c.commitsPerSec), fmtRate(c.groupCommitsPerSec),
      fmtUs(c.meanLatencyUs),
    ]))))
  console.log(`\nmodes: ${results.map((r) => `${r.mode} = ${r.label} [backend ${r.backend}, ` +
    `isPmem ${r.isPmem}; waited for a CPU ${r.cpuWaitPct === null ? '?' : r.cpuWaitPct.toFixed(0)}% ` +
    'of its runnable time]').join('; ')}\nresults: ${path}`)
}

main()
