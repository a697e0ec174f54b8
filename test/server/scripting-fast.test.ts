// Scripts' fast path (issue 13, commands/script-fast.ts): a script first runs on the main
// thread under a budget; past it, it is stopped, rolled back and run again from the start on the
// worker thread. Nothing of the stopped attempt may be seen: a counter it incremented is
// incremented once, its PUBLISH and its keyspace notification arrive once, commandstats count
// its commands once, a pcall inside it cannot catch the stop, and in MULTI/EXEC the commands
// queued before it keep their effect. Short scripts and functions run on the main thread
// (INFO memory's scripts_fast_runs). Waits are bounded polls; no timing assertion.

import { Redis } from 'ioredis'
import t from 'tap'
import { startCapykv } from '../helpers/servers.js'

/** Instructions enough to pass any budget of the main thread (FAST_FUEL is 500 000). */
const LONG = 'local i = 0 while i < 5000000 do i = i + 1 end'

function client(port: number): Redis {
  return new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0,
    retryStrategy: () => null })
}

async function fastInfo(r: Redis): Promise<{ on: boolean; runs: number; moved: number }> {
  const info = await r.info('memory')
  const field = (name: string): string => new RegExp(`${name}:(\\S+)`).exec(info)?.[1] ?? ''
  return { on: field('scripts_fast_path') === 'on', runs: Number(field('scripts_fast_runs')),
    moved: Number(field('scripts_fast_moved')) }
}

/** Run short scripts until one ran on the main thread (its engine loads in the background). */
async function waitFast(r: Redis): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    await r.eval('return 1', 0)
    if ((await fastInfo(r)).runs > 0) return true
    await new Promise((res) => setTimeout(res, 50))
  }
  return false
}

t.test('a script past the main thread budget runs again on the worker, seen once', async (t) => {
  const server = await startCapykv({ env: { PMEM_IS_PMEM_FORCE: '1' } })
  const r = client(server.port)
  const sub = client(server.port)
  t.teardown(async () => {
    r.disconnect()
    sub.disconnect()
    await server.stop()
  })
  t.ok(await waitFast(r), 'the main thread engine runs scripts')

  const before = await fastInfo(r)
  t.same(await r.eval("return redis.call('INCR', KEYS[1])", 1, 'short'), 1)
  t.same(await r.fcall('nofunc', 0).catch((e: Error) => e.message), 'ERR Function not found')
  const afterShort = await fastInfo(r)
  t.equal(afterShort.runs, before.runs + 1, 'a short script ran on the main thread')
  t.equal(afterShort.moved, before.moved, 'and was not moved')

  await r.config('SET', 'notify-keyspace-events', 'KEA')
  const messages: string[] = []
  sub.on('message', (channel: string, message: string) => { messages.push(`${channel} ${message}`) })
  await sub.subscribe('news', '__keyspace@0__:counter')
  await r.config('RESETSTAT')
  const script = "redis.call('INCR', 'counter') redis.call('PUBLISH', 'news', 'hello') " +
    `local ok = pcall(function() ${LONG} end) return {redis.call('GET', 'counter'), tostring(ok)}`
  t.same(await r.eval(script, 0), ['1', 'true'], 'the rerun\'s reply: one INCR, the pcall ran')
  t.equal(await r.get('counter'), '1', 'the counter was incremented once')
  const moved = await fastInfo(r)
  t.equal(moved.moved, afterShort.moved + 1, 'the script was moved to the worker')
  const stats = await r.info('commandstats')
  t.match(stats, /cmdstat_incr:calls=1,/, 'INCR counted once')
  t.match(stats, /cmdstat_publish:calls=1,/, 'PUBLISH counted once')
  for (let i = 0; i < 100 && messages.length < 2; i++) await new Promise((res) => setTimeout(res, 20))
  await r.ping()
  await new Promise((res) => setTimeout(res, 100))
  t.same(messages.sort(), ['__keyspace@0__:counter incrby', 'news hello'],
    'one PUBLISH and one notification arrived')

  t.same(await r.eval(script, 0), ['2', 'true'], 'a slow script goes to the worker at once')
  t.equal((await fastInfo(r)).moved, moved.moved, 'without a second attempt')
})

t.test('in MULTI/EXEC the commands before a moved script keep their effect', async (t) => {
  const server = await startCapykv({ env: { PMEM_IS_PMEM_FORCE: '1' } })
  const r = client(server.port)
  t.teardown(async () => {
    r.disconnect()
    await server.stop()
  })
  t.ok(await waitFast(r), 'the main thread engine runs scripts')
  const before = await fastInfo(r)
  const replies = await r.multi()
    .set('a', '1')
    .eval(`redis.call('INCR', 'b') ${LONG} return redis.call('GET', 'a')`, 0)
    .incr('b')
    .exec()
  t.same(replies, [[null, 'OK'], [null, '1'], [null, 2]], 'EXEC\'s replies')
  t.same(await r.mget('a', 'b'), ['1', '2'], 'every command applied once')
  t.equal((await fastInfo(r)).moved, before.moved + 1, 'the script was moved')

  await r.function('LOAD', "#!lua name=lib\nredis.register_function('f', function(keys) " +
    `redis.call('INCR', keys[1]) ${LONG} return redis.call('GET', keys[1]) end)\n` +
    "redis.register_function('g', function(keys) return redis.call('INCR', keys[1]) end)")
  t.equal(await r.fcall('g', 1, 'fc'), 1, 'a short function')
  t.equal(await r.fcall('f', 1, 'fc'), '2', 'a long function: its INCR once')
  t.equal(await r.get('fc'), '2')
  t.equal((await fastInfo(r)).moved, before.moved + 2, 'the long function was moved')
})
