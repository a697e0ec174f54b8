// Real processes (issue 3, test 4): a child (child-writer.ts) commits the transfer workload
// through the embedded API on a real pool and is SIGKILLed at a seeded random moment; the parent
// reopens the pool and checks that it holds exactly the state after some prefix 0..M of the
// transaction sequence with M >= every id the child acknowledged (so every acknowledged
// transaction is present, none is partial, nothing is reordered), that the balances' total is
// unchanged, and that capykv-check finds the pool clean. The next child continues at M + 1.
// Backends: /dev/shm with PMEM_IS_PMEM_FORCE=1 (libpmem, emulated PM), a disk file (msync), and
// CAPYKV_PMEM_BACKEND=mmap (the fallback backend). Prints "kills: N (<backend>)" per backend.
// Invariants and why:
// - kill -9 does not drop stores to a MAP_SHARED mapping (they live in the page cache), so this
//   tests recovery from every half-done protocol state the process can be caught in (appends,
//   group commits, checkpoint slices, head moves, pool creation, startup), not PM ordering: the
//   simulator (test/sim) covers that;
// - the seed is printed and taken from CAPYKV_KILL9_SEED when set; every pool lives in a temp
//   dir removed at teardown (tmpfs pools are RAM).

import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkPool } from '../../src/recovery/check.js'
import { nativeInfo } from '../../src/storage/native.js'
import { Store } from '../../src/txn/engine.js'
import { Prng } from '../sim/prng.js'
import { ACCOUNTS, INITIAL_BALANCE, Model, totalOf } from './transfer-workload.js'

const here = dirname(fileURLToPath(import.meta.url))
const childScript = join(here, 'child-writer.js')
const projectRoot = join(here, '..', '..', '..') // dist/test/process -> project root
const POOL_BYTES = 2 * 1024 * 1024
const WORKERS = 8
const KILLS = Number(process.env.CAPYKV_KILL9_KILLS ?? 25)
const seed = Number(process.env.CAPYKV_KILL9_SEED ?? (Date.now() % 2 ** 31))
const libpmem = nativeInfo.backendAvailable.includes('libpmem')
const TMPFS_MAGIC = 0x01021994

t.comment(`kill9 seed ${seed} (rerun with CAPYKV_KILL9_SEED=${seed})`)

/** A directory on a real disk: os.tmpdir() unless it is tmpfs, else inside the project. */
function diskDir(): string {
  const tmp = tmpdir()
  if (statfsSync(tmp).type !== TMPFS_MAGIC) return mkdtempSync(join(tmp, 'capykv-kill9-'))
  const base = join(projectRoot, 'bench', 'results', 'tmp')
  mkdirSync(base, { recursive: true })
  return mkdtempSync(join(base, 'capykv-kill9-'))
}

function shmDir(): string {
  return mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-kill9-'))
}

interface Run {
  acked: number[]
  ready: string | null
  killed: boolean
  exitCode: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/** Spawn the child, kill it after a random delay, collect what it acknowledged. */
function runChild(env: NodeJS.ProcessEnv, pool: string, start: number, rng: Prng): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [childScript, '--pool', pool, '--size', String(POOL_BYTES),
      '--seed', String(seed), '--start', String(start), '--workers', String(WORKERS)],
    { env, stdio: ['ignore', 'pipe', 'pipe'] })
    const run: Run = { acked: [], ready: null, killed: false, exitCode: null, signal: null, stderr: '' }
    let buffered = ''
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null) {
        run.killed = true
        child.kill('SIGKILL')
      }
    }
    // One kill in five is timed from the spawn (it may land in startup, recovery or pool
    // creation); the others from "ready", somewhere in the stream of commits and checkpoints.
    const early = rng.bool(0.2)
    const delayMs = early ? rng.range(0, 150) : rng.range(5, 250)
    let timer: NodeJS.Timeout | null = early ? setTimeout(kill, delayMs) : null
    child.stdout.setEncoding('latin1')
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line.startsWith('ready ')) {
          run.ready = line
          if (timer === null) timer = setTimeout(kill, delayMs)
        } else if (line !== '') {
          run.acked.push(Number(line))
        }
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => { run.stderr += chunk })
    // A child that never gets ready (a bug) is killed too, and the run fails below.
    const backstop = setTimeout(kill, 20_000)
    child.on('close', (code, signal) => {
      if (timer !== null) clearTimeout(timer)
      clearTimeout(backstop)
      run.exitCode = code
      run.signal = signal
      resolve(run)
    })
  })
}

interface Backend {
  name: string
  dir: () => string
  env: NodeJS.ProcessEnv
  expect: (backend: string, isPmem: boolean) => boolean
  kills: number
}

const baseEnv = { ...process.env }
delete baseEnv.PMEM_IS_PMEM_FORCE
delete baseEnv.CAPYKV_PMEM_BACKEND
delete baseEnv.NODE_OPTIONS // tap's loaders are not needed by the compiled child

const backends: Backend[] = [
  {
    name: 'emulated PM (/dev/shm, PMEM_IS_PMEM_FORCE=1)', dir: shmDir,
    env: { ...baseEnv, PMEM_IS_PMEM_FORCE: '1' },
    expect: (b, pm) => (libpmem ? b === 'libpmem' && pm : b === 'mmap'), kills: KILLS,
  },
  {
    name: 'disk file (msync)', dir: diskDir, env: { ...baseEnv },
    expect: (_b, pm) => !pm, kills: KILLS,
  },
  {
    name: 'fallback backend (CAPYKV_PMEM_BACKEND=mmap, /dev/shm)', dir: shmDir,
    env: { ...baseEnv, CAPYKV_PMEM_BACKEND: 'mmap' },
    expect: (b, pm) => b === 'mmap' && !pm, kills: KILLS,
  },
]

for (const [index, backend] of backends.entries()) {
  t.test(backend.name, async (t) => {
    const dir = backend.dir()
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const pool = join(dir, 'kill9.pool')
    const rng = new Prng(seed + index)
    const model = new Model(seed)
    let kills = 0
    let acknowledged = 0
    let maxSearched = 0
    const heads = new Set<number>() // distinct checkpoints the reopened pools' heads named
    const started = Date.now()
    for (let round = 0; round < backend.kills; round++) {
      const start = model.last + 1
      const run = await runChild(backend.env, pool, start, rng)
      const where = `round ${round}, start ${start}, seed ${seed}`
      if (!run.killed || run.signal !== 'SIGKILL') {
        t.fail(`the child ended by itself (${where}): code ${run.exitCode}, signal ${run.signal}\n` +
          run.stderr.slice(0, 2000))
        return
      }
      kills++
      acknowledged += run.acked.length
      if (run.ready !== null) {
        const [, b, pm] = run.ready.split(' ')
        if (!backend.expect(b ?? '', pm === 'true')) {
          t.fail(`unexpected backend: ${run.ready} (${where})`)
          return
        }
      }
      const maxAcked = run.acked.length === 0 ? start - 1 : Math.max(...run.acked)
      if (run.acked.some((id) => id < start)) {
        t.fail(`an acknowledged id precedes the start (${where})`)
        return
      }
      // Reopen: the pool must recover (never corruption) to the state after some prefix 0..M of
      // the sequence with M >= maxAcked. Pool creation is atomic (temp name + rename), so a
      // missing pool means nothing was ever committed.
      let snapshot = new Map<string, string>()
      let recoveredTail = -1
      if (existsSync(pool)) {
        let store: Store
        try {
          store = await Store.open(pool, { create: false, autoCheckpoint: false })
        } catch (e) {
          t.fail(`reopening failed (${where}): ${(e as Error).message}`)
          return
        }
        snapshot = Model.snapshot(store.keyspace)
        recoveredTail = store.log.committedLsn
        heads.add(store.log.headLsn)
        store.close()
        const check = checkPool(pool)
        if (check.report.status !== 'clean') {
          t.fail(`capykv-check finds the pool ${check.report.status} (${where}): ` +
            JSON.stringify(check.report.damage))
          return
        }
      } else if (maxAcked >= 0) {
        t.fail(`the pool is missing after acknowledged commits (${where})`)
        return
      }
      while (model.last < maxAcked) model.step()
      // At most one group (WORKERS transactions) can be durable and not yet acknowledged; the
      // search goes further so that a failure says which bound broke.
      const limit = maxAcked + 10_000
      while (!model.equals(snapshot) && model.last < limit) model.step()
      if (!model.equals(snapshot)) {
        const expected = [...model.data].slice(0, 4).map(([k, v]) => `${k}=${v.slice(0, 12)}`)
        t.fail(`the reopened pool is no prefix state with M >= ${maxAcked} (${where}, ` +
          `${snapshot.size} keys, tail ${recoveredTail}; model e.g. ${expected.join(' ')})`)
        return
      }
      maxSearched = Math.max(maxSearched, model.last - maxAcked)
      if (model.last - maxAcked > WORKERS) {
        t.fail(`${model.last - maxAcked} transactions durable beyond the last acknowledgement, ` +
          `more than one group of ${WORKERS} (${where})`)
        return
      }
      if (model.last >= 0 && totalOf(snapshot) !== ACCOUNTS * INITIAL_BALANCE) {
        t.fail(`the total changed: ${totalOf(snapshot)} (${where})`)
        return
      }
    }
    t.pass(`${kills} kills: every acknowledged transaction present, none partial, total kept`)
    t.ok(model.last > 0, `the workload got going (${model.last + 1} transactions durable)`)
    t.comment(`kills: ${kills} (${backend.name}); ${acknowledged} acknowledged, ` +
      `${model.last + 1} durable transactions; at most ${maxSearched} durable beyond the last ` +
      `acknowledgement; ${heads.size} distinct head checkpoints seen; ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
}
