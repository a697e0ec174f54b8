// V8 heap bytes allocated per stream command, in-process (issue 18, XADD's cost): the handler, its
// transaction's append and a group commit every 16 commands, on a pool in /dev/shm (run with
// PMEM_IS_PMEM_FORCE=1 for the PM path). Allocation, unlike time, does not move with the load of
// this shared machine, so it can compare two builds; the CPU µs per command is printed too, as an
// indication only (timings are judged as ratios against redis-server: `npm run bench:streams`).
// Allocated bytes = heap used at the end - at the start + what each GC freed (v8.GCProfiler), as
// bench/alloc-probe.ts counts them. The request's own argv views are made here, one per argument,
// as the server's reader makes them.
// Usage: node dist/bench/stream-alloc.js [--n 300000] [--root <a built dist/ directory>] [-- COMMAND…]
// (default command: XADD s * f v; --root compares another build, e.g. a copy of main's dist/).

import { mkdtempSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GCProfiler, getHeapStatistics } from 'node:v8'

interface Options { n: number; root: string; command: string[] }

function parseOptions(argv: readonly string[]): Options {
  const o: Options = { n: 300_000, root: join(dirname(fileURLToPath(import.meta.url)), '..'), command: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--') { o.command = argv.slice(i + 1); break }
    if (a === '--n' && v !== undefined) { o.n = Number(v); i++ }
    else if (a === '--root' && v !== undefined) { o.root = v; i++ }
    else throw new Error(`unknown option ${a ?? ''}`)
  }
  if (o.command.length === 0) o.command = ['XADD', 's', '*', 'f', 'v']
  return o
}

interface Spec { name: string; handler(ctx: unknown, argv: Buffer[]): void }
interface Txn { commitNoWait(): void }
interface StoreLike { keyspace: unknown; beginShared(): Txn; flush(): void; close(): void }

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2))
  const engine = await import(join(o.root, 'src/txn/engine.js')) as
    { Store: { open(path: string, opts: { sizeBytes: number }): Promise<StoreLike> } }
  const specs: Spec[] = []
  for (const m of ['stream', 'stream-read', 'stream-group', 'string']) {
    const mod = await import(join(o.root, `src/commands/${m}.js`)) as Record<string, unknown>
    for (const [k, v] of Object.entries(mod)) if (k.endsWith('Commands') && Array.isArray(v)) specs.push(...(v as Spec[]))
  }
  const { OutputBuffer } = await import(join(o.root, 'src/resp/writer.js')) as
    { OutputBuffer: new (proto: number) => { take(): Buffer } }
  const { OutputSink } = await import(join(o.root, 'src/commands/reply-sink.js')) as
    { OutputSink: new (out: unknown) => unknown }
  const spec = specs.find((s) => s.name === (o.command[0] as string).toLowerCase())
  if (spec === undefined) throw new Error(`no handler for ${o.command[0] ?? ''}`)
  const dir = mkdtempSync('/dev/shm/capykv-stream-alloc-')
  const store = await engine.Store.open(join(dir, 'pool'), { sizeBytes: 512 * 1024 * 1024 })
  const client = {
    id: 1, name: null, db: 0, proto: 2, authenticated: true, multi: null, watchDirty: false, watched: new Map(),
  }
  const out = new OutputBuffer(2)
  const reply = new OutputSink(out)
  const args = o.command.map((a) => Buffer.from(a, 'latin1'))
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const argv = args.map((b) => b.subarray(0))
      const txn = store.beginShared()
      spec.handler({ store, keyspace: store.keyspace, txn, client, reply, nowMs: Date.now(), server: undefined }, argv)
      txn.commitNoWait()
      if ((i & 15) === 15) {
        store.flush()
        out.take()
      }
    }
    store.flush()
    out.take()
  }
  run(20_000)
  const profiler = new GCProfiler()
  profiler.start()
  const usedBefore = getHeapStatistics().used_heap_size
  const cpuBefore = process.cpuUsage()
  run(o.n)
  const cpu = process.cpuUsage(cpuBefore)
  let freed = 0
  for (const s of profiler.stop().statistics) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize
  }
  const allocated = getHeapStatistics().used_heap_size + freed - usedBefore
  console.log(`${o.command.join(' ')} (${o.root}): heap ${Math.round(allocated / o.n)} B/command, ` +
    `CPU ${((cpu.user + cpu.system) / o.n).toFixed(2)} µs/command (indicative), n ${o.n}`)
  store.close()
  rmSync(dir, { recursive: true, force: true })
}

await main()
