// A full pool under maxmemory-policy noeviction (issue 19, "a refused write at a full pool costs
// what Redis's costs"): each refused write must not run a synchronous whole checkpoint on the
// request path. The server installs its Evictor as the store's RoomMaker also under noeviction;
// it says it cannot evict (canEvict), so the engine's bound on what a compaction could free
// (txn/compaction-memo.ts) applies: a write larger than that is refused at once. The probe is
// bench/stalls.ts poolmix's, counted instead of timed (no timing assertions): pipelined (INCR,
// big SET) pairs at a full pool, each refused SET after a commit; the checkpoints INFO counts
// during them stay at most 2 (the build before canEvict ran one per refusal: 40 of 40 here).
// Deletes are still admitted, and a small write fits after them.

import t from 'tap'
import { Redis } from 'ioredis'
import { startCapykv } from '../helpers/servers.js'

const FILL_BYTES = 64 * 1024
const BIG_BYTES = 256 * 1024
const PAIRS = 40

function infoNumber(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN)
}

t.test('noeviction at a full pool: refusals without a compaction each, deletes admitted', async (t) => {
  const server = await startCapykv({ poolSize: '4mb', args: ['--maxmemory-policy', 'noeviction'] })
  t.teardown(() => server.stop())
  const c = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 })
  t.teardown(() => c.disconnect())
  const fill = Buffer.alloc(FILL_BYTES, 102)
  let filled = 0
  let firstError = ''
  for (; filled < 200 && firstError === ''; filled++) {
    await c.set(`fill${filled}`, fill).catch((e: unknown) => { firstError = String(e) })
  }
  t.match(firstError, /OOM command not allowed/, `the pool filled after ${filled - 1} values`)
  t.ok(filled > 10, 'a real fill')
  t.equal(await c.del('fill0', 'fill1'), 2, 'deletes at a full pool are admitted')

  const before = infoNumber(await c.info('persistence'), 'pool_checkpoints_completed')
  const big = Buffer.alloc(BIG_BYTES, 98)
  const p = c.pipeline()
  for (let i = 0; i < PAIRS; i++) p.incr('counter').set(`x${i}`, big)
  const replies = (await p.exec()) ?? []
  const after = infoNumber(await c.info('persistence'), 'pool_checkpoints_completed')
  const refused = replies.filter(([e], i) => i % 2 === 1 && /OOM/.test(String(e))).length
  const incrs = replies.filter(([e], i) => i % 2 === 0 && e === null).length
  t.equal(refused, PAIRS, 'every big SET is refused with -OOM')
  t.equal(incrs, PAIRS, 'every INCR between them commits')
  t.equal(await c.get('counter'), String(PAIRS), 'the counter holds every INCR')
  t.ok(after - before <= 2, `${after - before} checkpoints during ${PAIRS} refusals (at most 2)`)

  // Deletes still admitted, and what they free is usable.
  const keys = Array.from({ length: filled - 3 }, (_, i) => `fill${i + 2}`)
  t.equal(await c.del(...keys), keys.length, 'every fill key deleted')
  t.equal(await c.set('after', big), 'OK', 'a big write fits once the data is gone')
  t.equal((await c.getBuffer('after'))?.equals(big), true, 'and reads back whole')
})
