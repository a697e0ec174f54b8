// Where a node server's CPU goes under redis-benchmark (issue 6, "How"):
// `node dist/bench/profile.js` [--server capykv-pm|capykv-disk|bare] [--tests set] [--pipeline 16]
// [--clients 50] [-n 1000000] [--fill 0] [--warm 100000] [--top 25] [--keep]
// [--command 'XADD s * f v'] (a redis-benchmark command line instead of --tests)
// [--main other/dist/src/main.js] (another build of capykv, for an A/B of the same profile)
// [--setup 'CONFIG SET notify-keyspace-events KEA'] (one command sent first)
// [--subscribe 'SUBSCRIBE ch' --subscribers 1] (raw sockets in this process that send it first and
// read everything: e.g. --command 'PUBLISH ch mmmmmmmmmmmmmmmm' profiles delivery, issue 16)
//
// Starts the server under `node --cpu-prof`, fills it with --fill SET requests (e.g. so that a
// GET profile reads existing keys), warms it with --warm requests of the tests, then runs the
// measured redis-benchmark (100-byte values, -r 100000), stops the server (SIGTERM: the profile
// is written at exit) and summarises only the samples taken during the measured run (the
// profile's timestamps are CLOCK_MONOTONIC µs, the clock of process.hrtime here):
//   - the request path's stages, by the innermost frame on each sample's stack that belongs to
//     one: parse (resp/reader), dispatch (commands/dispatch, the connection loop), execute
//     (command handlers and the keyspace work under them), commit (the transaction's append,
//     group commit, pool flushes), reply (resp/writer, reply sink, socket writes), checkpoint,
//     node (event loop, streams: no frame of ours below), gc, idle; µs per request for each;
//   - the top functions by self time, and the top functions of each stage.
// The profile (.cpuprofile, loadable in Chrome DevTools) is kept with --keep.

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import net from 'node:net'
import { join, resolve } from 'node:path'
import { table } from './report.js'
import { rawCommand } from '../test/helpers/servers.js'
import { cpuSeconds, startServer, type ServerKind } from './launch.js'

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export type Stage = 'parse' | 'dispatch' | 'execute' | 'commit' | 'reply' | 'checkpoint' | 'node' |
  'gc' | 'idle' | 'startup' | 'other'

const COMMIT_FUNCTIONS = new Set(['commitNoWait', 'commit', 'appendTransaction', 'tryAppend', 'flush',
  'scheduleCommit', 'afterDurable', 'whenDurable'])
const SERVER_REPLY_FUNCTIONS = new Set(['flushOutput', 'releaseHeld', 'write', 'waitForDurable',
  'releaseWaiting', 'endSocket', 'maybeResume', 'checkOutputLimits', 'flushPendingOutputs'])

/** The stage a frame anchors, or null when the frame belongs to none (look further up). */
export function stageOf(frame: CallFrame): Stage | null {
  const { url, functionName: fn } = frame
  if (url === '') {
    if (fn === '(garbage collector)') return 'gc'
    if (fn === '(idle)') return 'idle'
    return null
  }
  if (url.includes('/resp/reader.')) return 'parse'
  if (url.includes('/resp/writer.') || url.includes('/commands/reply-sink.')) return 'reply'
  if (url.includes('/storage/checkpoint.') || /[cC]heckpoint/.test(fn)) return 'checkpoint'
  if (url.includes('/storage/')) return 'commit'
  if (url.includes('/txn/engine.')) return COMMIT_FUNCTIONS.has(fn) ? 'commit' : 'execute'
  if (url.includes('/commands/dispatch.')) return 'dispatch'
  if (url.includes('/src/server.')) return SERVER_REPLY_FUNCTIONS.has(fn) ? 'reply' : 'dispatch'
  if (url.includes('/commands/')) return 'execute'
  if (url.includes('/bench/bare.')) return fn === 'serve' || fn === '' ? 'dispatch' : 'execute'
  return null
}

export interface Summary {
  totalMs: number
  stages: Map<Stage, number>
  selfByFunction: Map<string, { ms: number; stage: Stage }>
}

export function summarize(profile: Profile, window?: { fromUs: number; toUs: number }): Summary {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const n of profile.nodes) {
    byId.set(n.id, n)
    for (const c of n.children ?? []) parent.set(c, n.id)
  }
  const stageCache = new Map<number, Stage>()
  const stageOfNode = (id: number): Stage => {
    const cached = stageCache.get(id)
    if (cached !== undefined) return cached
    let stage: Stage | null = null
    let sawNode = false
    let startup = false
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = (byId.get(cur) as ProfileNode).callFrame
      // Under main.js: creating / recovering the pool before serving, not the request path.
      if (frame.url.includes('/src/main.')) startup = true
      if (stage === null) stage = stageOf(frame)
      if (frame.url.startsWith('node:')) sawNode = true
    }
    const result: Stage = startup ? 'startup' : stage ?? (sawNode ? 'node' : 'other')
    stageCache.set(id, result)
    return result
  }
  const stages = new Map<Stage, number>()
  const selfByFunction = new Map<string, { ms: number; stage: Stage }>()
  let totalMs = 0
  let ts = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    ts += profile.timeDeltas[i] ?? 0
    if (window !== undefined && (ts < window.fromUs || ts > window.toUs)) continue
    const id = profile.samples[i] as number
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000
    const stage = stageOfNode(id)
    stages.set(stage, (stages.get(stage) ?? 0) + ms)
    totalMs += ms
    const f = (byId.get(id) as ProfileNode).callFrame
    const file = f.url.replace(/^.*\/(dist\/)?/, '')
    const name = `${f.functionName || '(anonymous)'} ${file}${f.url === '' ? '' : `:${f.lineNumber + 1}`}`
    const key = stage === 'startup' ? `${name} [startup]` : name
    const entry = selfByFunction.get(key) ?? { ms: 0, stage }
    entry.ms += ms
    selfByFunction.set(key, entry)
  }
  return { totalMs, stages, selfByFunction }
}

function runBenchmark(args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const proc = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
    proc.stderr.on('data', (d: Buffer) => { out += d.toString() })
    proc.on('error', reject)
    proc.on('close', () => resolveRun(out))
  })
}

/** `command` (split on spaces) as a RESP request. */
function resp(command: string): string {
  const parts = command.split(' ')
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`)
    .join('')}`
}

/** `count` raw connections that send `command` (split on spaces) and read whatever comes. */
async function subscribe(port: number, command: string, count: number): Promise<net.Socket[]> {
  if (command === '') return []
  const request = resp(command)
  const sockets: net.Socket[] = []
  for (let i = 0; i < count; i++) {
    const s = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => s.once('connect', () => resolve()))
    s.on('data', () => undefined)
    s.write(request)
    sockets.push(s)
  }
  return sockets
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  const value = (name: string, fallback: string): string => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] ?? fallback : fallback
  }
  const kind = value('--server', 'capykv-pm') as ServerKind
  const tests = value('--tests', 'set')
  // --command 'XADD s * f v': a command line for redis-benchmark instead of -t (split on spaces).
  const command = value('--command', '')
  const what = command === '' ? ['-t', tests] : command.split(' ')
  const pipeline = value('--pipeline', '16')
  const clients = value('--clients', '50')
  const n = Number(value('-n', '1000000'))
  const top = Number(value('--top', '25'))
  const fill = Number(value('--fill', '0'))
  const warm = Number(value('--warm', '100000'))
  const profDir = mkdtempSync(join(tmpdir(), 'capykv-prof-'))
  const main = value('--main', '') // another build's dist/src/main.js, for an A/B
  const server = await startServer(kind, {
    ...(main === '' ? {} : { mainPath: resolve(main) }),
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval', '200'],
  })
  const setup = value('--setup', '')
  if (setup !== '') await rawCommand(server.port, resp(setup), 5000)
  const subscribers = await subscribe(server.port, value('--subscribe', ''),
    Number(value('--subscribers', '1')))
  const common = ['-h', '127.0.0.1', '-p', String(server.port), '-c', clients, '-P', pipeline,
    '-d', '100', '-r', '100000', '--csv']
  if (fill > 0) await runBenchmark([...common, '-n', String(fill), '-t', 'set'])
  if (warm > 0) await runBenchmark([...common, '-n', String(warm), ...what])
  const fromUs = Number(process.hrtime.bigint() / 1000n)
  const cpu0 = cpuSeconds(server.pid)
  const out = await runBenchmark([...common, '-n', String(n), ...what])
  const cpu = cpuSeconds(server.pid) - cpu0
  const toUs = Number(process.hrtime.bigint() / 1000n)
  for (const sock of subscribers) sock.destroy()
  await server.stop()
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
  if (file === undefined) throw new Error(`no profile written in ${profDir}:\n${server.log()}`)
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile
  const requests = n * (command === '' ? tests.split(',').length : 1)
  const s = summarize(profile, { fromUs, toUs })
  const busyMs = s.totalMs - (s.stages.get('idle') ?? 0) - (s.stages.get('startup') ?? 0)
  process.stdout.write(`${kind}: redis-benchmark -c ${clients} -P ${pipeline} -n ${n} ${what.join(' ')} ` +
    `(after ${fill} SETs and ${warm} warm-up requests, not profiled; ${subscribers.length} ` +
    `subscriber connections); load average ` +
    `${loadavg().map((x) => x.toFixed(1)).join('/')}\n` +
    `${out.trim()}\nserver CPU ${cpu.toFixed(2)} s = ${(cpu * 1e6 / requests).toFixed(2)} µs/request ` +
    `(profiled process, profiler overhead included); profile busy ${busyMs.toFixed(0)} ms ` +
    `(startup ${(s.stages.get('startup') ?? 0).toFixed(0)} ms not counted)\n\n`)
  const order: Stage[] = ['parse', 'dispatch', 'execute', 'commit', 'reply', 'checkpoint', 'node',
    'gc', 'other']
  process.stdout.write(`${table(['stage', 'ms', '% of busy', 'µs/request'], order.map((st) => {
    const ms = s.stages.get(st) ?? 0
    return [st, ms.toFixed(0), `${(100 * ms / busyMs).toFixed(1)}%`, (ms * 1000 / requests).toFixed(3)]
  }))}\n\n`)
  const fns = [...s.selfByFunction.entries()]
    .filter(([, v]) => v.stage !== 'idle' && v.stage !== 'startup')
    .sort((a, b) => b[1].ms - a[1].ms)
  process.stdout.write(`top ${top} functions by self time:\n${table(['function', 'stage', 'self ms', '%'],
    fns.slice(0, top).map(([name, v]) => [name, v.stage, v.ms.toFixed(0),
      `${(100 * v.ms / busyMs).toFixed(1)}%`]))}\n\n`)
  for (const st of order) {
    const mine = fns.filter(([, v]) => v.stage === st).slice(0, 6)
    if (mine.length === 0) continue
    process.stdout.write(`${st}: ${mine.map(([name, v]) => `${name} ${v.ms.toFixed(0)}`).join('; ')}\n`)
  }
  if (argv.includes('--keep')) process.stdout.write(`\nprofile: ${join(profDir, file)}\n`)
  else rmSync(profDir, { recursive: true, force: true })
}

// Run only as a program: bench/evict-cpu.ts imports summarize().
if (process.argv[1]?.endsWith('profile.js') === true) {
  main().catch((e: unknown) => {
    process.stderr.write(`profile failed: ${e instanceof Error ? e.stack : String(e)}\n`)
    process.exitCode = 1
  })
}
