// A/B of two capykv builds under redis-benchmark, with redis-server and the Node floor measured
// in the same rounds (issue 15: every stage is measured against the previous one in one run):
//
//   node dist/bench/ab.js --a A --b B [--tests set,get,incr,lpush] [--pipeline 16] [--clients 50]
//     [-n 300000] [--rounds 5] [--server capykv-pm|capykv-disk] [--no-redis] [--no-floor]
//     [--node-flags-a '...'] [--node-flags-b '...']
//
// A and B are each either a build's dist folder (holding src/main.js, under a folder whose
// package.json is capykv's, beside native/pmem.node, for the addon to load) or a git revision
// written `rev:<rev>` (e.g. `rev:main`, `rev:HEAD~1`, `rev:1c54952`; `rev:WORKTREE` is this tree's
// own dist/). A revision is extracted (git archive) into a temporary folder, given this tree's
// node_modules (a symlink) and native/pmem.node (copied when the revision's native/ sources are
// those of this tree's HEAD, else rebuilt with cargo there), compiled with tsc, measured, and
// removed at the end. --node-flags-x: space-separated node flags for build x (e.g. the same
// build twice, once with --max-semi-space-size=64).
//
// Invariants, and why:
// - Only ratios from one run mean anything on a shared 2-core machine. Every round runs every
//   server (A, B, redis-server without persistence, the floor) on fresh pools, and the order
//   rotates by one each round so no server always follows the same neighbour. Each figure is a
//   median over rounds; a ratio is the median of per-round ratios.
// - Server CPU per request = Δ utime and Δ stime of the server process (/proc/PID/stat) over one
//   redis-benchmark run ÷ its requests, user and system apart: the system share is the kernel's
//   socket work, about the same for every server with one read and one write per batch.
// - Each server is warmed (JIT, pool pages) by one unmeasured run of every test before its
//   measured runs; each test is its own redis-benchmark run.
// - The load average is printed at the start and end: figures say under what load they were taken.

import { spawn, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { projectRoot, resultsDir, table } from './report.js'
import { cpuTimes, median, spread, startServer, type ServerKind } from './launch.js'

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolveRun, reject) => {
    const p = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    p.on('error', reject)
    p.on('close', (code) => resolveRun({ code, out }))
  })
}

function git(args: string[], cwd = projectRoot): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.trim()
}

/** A build to measure: its dist folder, and how to clean up after it. */
interface Build {
  label: string
  spec: string
  dist: string
  commit: string
  cleanup(): void
}

function log(line: string): void {
  process.stdout.write(`${line}\n`)
}

/** Extracts `rev` into a temporary folder and compiles it there; returns its dist. */
function buildRevision(label: string, rev: string): Build {
  const commit = git(['rev-parse', '--verify', `${rev}^{commit}`])
  const dir = mkdtempSync(join(tmpdir(), `capykv-ab-${label}-`))
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true })
  try {
    // git archive, not git worktree: the repository's metadata is shared with other engineers.
    const tar = spawnSync('sh', ['-c', `git archive ${commit} | tar -x -C '${dir}'`], { cwd: projectRoot,
      encoding: 'utf8' })
    if (tar.status !== 0) throw new Error(`${label}: git archive ${rev}: ${tar.stderr}`)
    symlinkSync(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
    const sameNative = spawnSync('git', ['diff', '--quiet', commit, 'HEAD', '--', 'native', 'Cargo.toml',
      'Cargo.lock'], { cwd: projectRoot }).status === 0
    if (sameNative && existsSync(join(projectRoot, 'native', 'pmem.node'))) {
      copyFileSync(join(projectRoot, 'native', 'pmem.node'), join(dir, 'native', 'pmem.node'))
    } else {
      log(`${label}: ${rev} has other native/ sources than HEAD: building the addon there (cargo)`)
      const r = spawnSync('npm', ['run', 'build:native'], { cwd: dir, stdio: 'inherit' })
      if (r.status !== 0) throw new Error(`${label}: native build of ${rev} failed`)
    }
    log(`${label}: compiling ${rev} (${commit.slice(0, 10)}) in ${dir}`)
    const tsc = spawnSync(process.execPath, [join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8' })
    if (tsc.status !== 0) throw new Error(`${label}: tsc failed for ${rev}:\n${tsc.stdout}${tsc.stderr}`)
  } catch (e) {
    cleanup()
    throw e
  }
  return { label, spec: `rev:${rev}`, dist: join(dir, 'dist'), commit, cleanup }
}

function resolveBuild(label: string, spec: string): Build {
  if (spec === 'rev:WORKTREE') {
    return { label, spec, dist: join(projectRoot, 'dist'), commit: `${git(['rev-parse', 'HEAD'])} + worktree`,
      cleanup: () => {} }
  }
  if (spec.startsWith('rev:')) return buildRevision(label, spec.slice(4))
  const dist = resolve(spec)
  if (!existsSync(join(dist, 'src', 'main.js'))) {
    throw new Error(`${label}: ${dist} holds no src/main.js (a dist folder, or rev:<git revision>)`)
  }
  return { label, spec, dist, commit: '(a dist folder)', cleanup: () => {} }
}

interface Sample { cpu: number; user: number; sys: number; rps: number }

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (name: string, fallback?: string): string => {
    const i = argv.indexOf(name)
    const v = i >= 0 ? argv[i + 1] : fallback
    if (v === undefined) throw new Error(`${name} is required`)
    return v
  }
  const tests = value('--tests', 'set,get,incr,lpush').split(',')
  const pipeline = value('--pipeline', '16')
  const clients = value('--clients', '50')
  const n = Number(value('-n', '300000'))
  const rounds = Number(value('--rounds', '5'))
  const kind = value('--server', 'capykv-pm') as ServerKind
  const nodeFlags: Record<string, string[]> = {
    A: value('--node-flags-a', '').split(' ').filter((f) => f !== ''),
    B: value('--node-flags-b', '').split(' ').filter((f) => f !== ''),
  }
  const specA = value('--a')
  const specB = value('--b')
  const load0 = loadavg()
  const builds: Build[] = []
  try {
    builds.push(resolveBuild('A', specA))
    builds.push(resolveBuild('B', specB))
    type Entry = { label: string; start: () => ReturnType<typeof startServer> }
    const entries: Entry[] = builds.map((b) => ({
      label: b.label,
      start: () => startServer(kind, { mainPath: join(b.dist, 'src', 'main.js'),
        nodeFlags: nodeFlags[b.label] ?? [] }),
    }))
    if (!argv.includes('--no-redis')) entries.push({ label: 'redis', start: () => startServer('redis') })
    if (!argv.includes('--no-floor')) entries.push({ label: 'floor', start: () => startServer('bare') })
    log(`ab: A = ${specA} (${builds[0]?.commit}), B = ${specB} (${builds[1]?.commit}); ${kind}, ` +
      `-c ${clients} -P ${pipeline} -n ${n}, ${rounds} rounds; load average ${fmtLoad(load0)}`)

    const samples: Record<string, Sample[]> = {}
    for (let round = 0; round < rounds; round++) {
      const order = entries.map((_, i) => entries[(i + round) % entries.length] as Entry)
      for (const entry of order) {
        const server = await entry.start()
        try {
          // Warm the JIT (and the pool's pages) before measuring.
          const warm = await run(['-p', String(server.port), '-c', clients, '-P', pipeline, '-n',
            String(Math.min(n, 100000)), '-d', '100', '-r', '100000', '-t', tests.join(','), '--csv'])
          if (warm.code !== 0 || /error|could not connect/i.test(warm.out)) {
            throw new Error(`${entry.label} warm-up: ${warm.out.slice(0, 2000)}`)
          }
          for (const t of tests) {
            const c0 = cpuTimes(server.pid)
            const out = await run(['-p', String(server.port), '-c', clients, '-P', pipeline, '-n',
              String(n), '-d', '100', '-r', '100000', '-t', t, '--csv'])
            const c1 = cpuTimes(server.pid)
            const row = out.out.split('\n').find((l) => l.startsWith('"') && !l.startsWith('"test"'))
            if (row === undefined || out.code !== 0 || /error|could not connect/i.test(out.out)) {
              throw new Error(`${entry.label} ${t}: ${out.out.slice(0, 2000)}`)
            }
            const user = (c1.user - c0.user) * 1e6 / n
            const sys = (c1.sys - c0.sys) * 1e6 / n
            ;(samples[`${entry.label} ${t}`] ??= []).push({ cpu: user + sys, user, sys,
              rps: Number(row.split('","')[1]) })
          }
        } finally {
          await server.stop()
        }
      }
      log(`round ${round + 1}/${rounds} done (load ${fmtLoad(loadavg())})`)
    }
    const load1 = loadavg()
    const md = render(entries.map((e) => e.label), tests, samples)
    const header = `A = ${specA} (${builds[0]?.commit}), B = ${specB} (${builds[1]?.commit}); ${kind}; ` +
      `redis-benchmark -c ${clients} -P ${pipeline} -n ${n} -d 100 -r 100000; ${rounds} interleaved ` +
      `rounds; load average ${fmtLoad(load0)} at the start, ${fmtLoad(load1)} at the end ` +
      `(2 cores shared: compare ratios, not µs)`
    log(`\n${header}\n\n${md}`)
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    mkdirSync(join(resultsDir, 'tmp'), { recursive: true })
    const file = join(resultsDir, 'tmp', `ab-${stamp}.json`)
    writeFileSync(file, `${JSON.stringify({ kind: 'capykv-ab', argv, header, samples,
      builds: builds.map((b) => ({ label: b.label, spec: b.spec, commit: b.commit })),
      load: { start: load0, end: load1 } }, null, 2)}\n`)
    log(`samples: ${file}`)
  } finally {
    for (const b of builds) b.cleanup()
  }
}

function fmtLoad(l: number[]): string {
  return l.map((x) => x.toFixed(1)).join('/')
}

/** The tables: per server µs/req (user/sys) and rps; B ÷ A; each ÷ Redis; each ÷ floor. */
function render(labels: string[], tests: string[], samples: Record<string, Sample[]>): string {
  const get = (label: string, t: string): Sample[] | undefined => samples[`${label} ${t}`]
  const med = (xs: Sample[] | undefined, f: (s: Sample) => number): number =>
    xs === undefined ? NaN : median(xs.map(f))
  const ratio = (a: Sample[] | undefined, b: Sample[] | undefined, f: (s: Sample) => number):
    { r: number; spread: number } | null => {
    if (a === undefined || b === undefined) return null
    const rs = a.map((x, i) => f(x) / f(b[i] as Sample)).filter((x) => Number.isFinite(x))
    return rs.length === 0 ? null : { r: median(rs), spread: spread(rs) }
  }
  const fr = (x: { r: number; spread: number } | null): string =>
    x === null ? '–' : `${x.r.toFixed(2)}× ±${(x.spread * 50).toFixed(0)}%`
  const cpuRows = tests.flatMap((t) => labels.map((l) => {
    const s = get(l, t)
    return [t, l, med(s, (x) => x.cpu).toFixed(2), med(s, (x) => x.user).toFixed(2),
      med(s, (x) => x.sys).toFixed(2), `${(med(s, (x) => x.rps) / 1000).toFixed(1)}k`,
      fr(ratio(s, get('redis', t), (x) => x.cpu)), fr(ratio(s, get('redis', t), (x) => x.rps)),
      fr(ratio(s, get('floor', t), (x) => x.cpu))]
  }))
  const abRows = tests.map((t) => [t, fr(ratio(get('B', t), get('A', t), (x) => x.cpu)),
    fr(ratio(get('B', t), get('A', t), (x) => x.user)), fr(ratio(get('B', t), get('A', t), (x) => x.rps))])
  return [
    table(['test', 'server', 'µs/req', 'user', 'sys', 'rps', 'cpu ÷ Redis', 'rps ÷ Redis', 'cpu ÷ floor'],
      cpuRows),
    '',
    'B ÷ A (medians of per-round ratios; ±: half the spread)',
    '',
    table(['test', 'cpu B÷A', 'user B÷A', 'rps B÷A'], abRows),
  ].join('\n')
}

main().catch((e: unknown) => {
  process.stderr.write(`ab failed: ${e instanceof Error ? e.stack : String(e)}\n`)
  process.exitCode = 1
})
