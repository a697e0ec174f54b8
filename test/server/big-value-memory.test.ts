// Memory of a big value (issue 19, "the memory it used is returned after DEL"): the server's own
// (anonymous) resident memory, pool pages excluded, measured after MEMORY PURGE (a full V8
// collection). A 64 MiB SET must hold one copy of the value — the request reader's buffer is
// kept by the keyspace (state/key-arena.ts adopts it), where it was copied into a second one —
// and after DEL the memory must come back: the shared transaction's pooled PUT event no longer
// keeps the last value alive until another PUT refills it (txn/transaction.ts reset). Before
// these changes: +128 MiB stored and +64 MiB after DEL (node dist/bench/stalls.js --probes big:
// a 512 MiB SET left +515 MiB anonymous after DEL + SAVE). Sizes, not timings: the waits are
// bounded polls for the collector's frees to reach the kernel.

import t from 'tap'
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'
import { startCapykv } from '../helpers/servers.js'

const MIB = 1024 * 1024
const VALUE_BYTES = 64 * MIB

function anonBytes(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))
  return m === null ? NaN : Number(m[1]) * 1024
}

/** Anonymous RSS once two readings after full collections differ by < 1 MiB (bounded). */
async function steadyAnon(c: Redis, pid: number): Promise<number> {
  let last = NaN
  for (let i = 0; i < 40; i++) {
    await c.call('MEMORY', 'PURGE')
    await new Promise((r) => setTimeout(r, 100))
    const anon = anonBytes(pid)
    if (Math.abs(anon - last) < MIB) return anon
    last = anon
  }
  return last
}

t.test('a 64 MiB value: one copy held while stored, memory back after DEL', async (t) => {
  const server = await startCapykv({ poolSize: '256mb' })
  t.teardown(() => server.stop())
  const c = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
  t.teardown(() => c.disconnect())
  const start = await steadyAnon(c, server.pid)
  t.ok(start > 0, `anonymous RSS at start ${(start / MIB).toFixed(0)} MiB`)

  const value = Buffer.alloc(VALUE_BYTES, 118)
  t.equal(await c.set('big', value), 'OK')
  const stored = await steadyAnon(c, server.pid)
  t.ok(stored - start < 1.5 * VALUE_BYTES, `stored: +${((stored - start) / MIB).toFixed(0)} MiB, ` +
    'one copy of the value, not two')
  const back = await c.getBuffer('big')
  t.equal(back?.equals(value), true, 'the value reads back whole')

  t.equal(await c.del('big'), 1)
  const after = await steadyAnon(c, server.pid)
  t.ok(stored - after >= 0.75 * VALUE_BYTES, `DEL gave back ${((stored - after) / MIB).toFixed(0)} ` +
    `MiB of the ${(VALUE_BYTES / MIB).toFixed(0)} MiB value`)
  t.ok(after - start < 16 * MIB, `after DEL: ${((after - start) / MIB).toFixed(0)} MiB against ` +
    'the start (at most +16)')
})
