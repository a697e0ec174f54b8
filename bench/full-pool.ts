// Issue 19's first stall probe: at a full 64 MiB store, 50 pipelined 1 MiB SETs that are all
// refused, while a side client PINGs every 10 ms. Prints, per server, how long the pipeline took
// and the side client's worst PING, capykv beside redis-server (maxmemory 64mb, noeviction) in
// the same run. Timings are figures to compare as ratios, never test assertions.
//
//   npx tsc -p tsconfig.json && node dist/bench/full-pool.js [--main /path/to/other/dist/src/main.js]

import { Redis } from 'ioredis'
import { startServer, type Running } from './launch.js'

interface Probe { filled: number; refused: number; pipelineMs: number; sidePingMaxMs: number }

async function probe(port: number): Promise<Probe> {
  const a = new Redis({ port, host: '127.0.0.1' })
  const side = new Redis({ port, host: '127.0.0.1' })
  const value = Buffer.alloc(1 << 20, 97)
  let filled = 0
  for (; filled < 512; filled++) {
    try { await a.set(`fill${filled}`, value) } catch { break }
  }
  let worst = 0
  let stop = false
  const pinger = (async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now()
      await side.ping()
      worst = Math.max(worst, performance.now() - t0)
      await new Promise((r) => setTimeout(r, 10))
    }
  })()
  await new Promise((r) => setTimeout(r, 50))
  const t0 = performance.now()
  const p = a.pipeline()
  for (let i = 0; i < 50; i++) p.set(`x${i}`, value)
  const replies = (await p.exec()) ?? []
  const pipelineMs = performance.now() - t0
  await new Promise((r) => setTimeout(r, 50))
  stop = true
  await pinger
  a.disconnect()
  side.disconnect()
  return { filled, refused: replies.filter(([e]) => e !== null).length,
    pipelineMs: Math.round(pipelineMs), sidePingMaxMs: Math.round(worst) }
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--main')
  const mainPath = at > 0 ? process.argv[at + 1] : undefined
  const rows: [string, Probe][] = []
  const runs: [string, () => Promise<Running>][] = [
    ['redis-server (maxmemory 64mb)', () => startServer('redis', { args: ['--maxmemory', '64mb'] })],
    ['capykv (pool 64mb, /dev/shm)', () => startServer('capykv-pm',
      { poolSize: '64mb', ...(mainPath === undefined ? {} : { mainPath }) })],
  ]
  for (const [label, start] of runs) {
    const server = await start()
    try {
      rows.push([label, await probe(server.port)])
    } finally {
      await server.stop()
    }
  }
  console.log('| server | values stored | refused of 50 | pipeline ms | side PING max ms |')
  console.log('|---|---|---|---|---|')
  for (const [label, r] of rows) {
    console.log(`| ${label} | ${r.filled} | ${r.refused} | ${r.pipelineMs} | ${r.sidePingMaxMs} |`)
  }
}

await main()
