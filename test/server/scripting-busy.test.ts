// Long scripts (src/commands/busy.ts) against redis-server 7.0.15: past busy-reply-threshold
// (set through its alias lua-time-limit) other clients get -BUSY, the allow_busy commands answer
// as Redis's do (FUNCTION STATS, the wrong KILL, SHUTDOWN without NOSAVE, MULTI), SCRIPT KILL /
// FUNCTION KILL stop a script that has not written, a written script is UNKILLABLE, and the
// server serves normally afterwards (a request pipelined behind the killed script included).
// capykv only: a script that goes busy and then ends commits all of its writes at once (no
// client sees a partial state meanwhile), and SHUTDOWN NOSAVE of a written busy script leaves
// nothing of it in the pool and delivers none of its PUBLISHes.
// Waits are bounded polls (no timing assertion); every server is started here on a free port.

import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import t from 'tap'
import {
  RawClient, hasBinary, startCapykv, startRedis, type CapykvServer,
} from '../helpers/servers.js'

const LOOP = 'local i = 0 while true do i = i + 1 end'
const LIB = "#!lua name=busylib\nredis.register_function('spin', function() " +
  'local i = 0 while true do i = i + 1 end end)'

function client(port: number): Redis {
  return new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0,
    enableOfflineQueue: true, retryStrategy: () => null })
}

/** A command's reply or its error text. */
async function reply(p: Promise<unknown>): Promise<unknown> {
  try {
    return await p
  } catch (e) {
    return `ERR:${(e as Error).message}`
  }
}

/** Poll PING until it answers -BUSY (the script went busy); false after ~10 s. */
async function waitBusy(r: Redis): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const got = await reply(r.ping())
    if (typeof got === 'string' && got.startsWith('ERR:BUSY')) return true
    await new Promise((res) => setTimeout(res, 50))
  }
  return false
}

/** Poll PING until it answers PONG; false after ~10 s. */
async function waitServing(r: Redis): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (await reply(r.ping()) === 'PONG') return true
    await new Promise((res) => setTimeout(res, 50))
  }
  return false
}

interface Observed {
  duringEval: unknown[]
  evalReply: unknown
  duringFcall: unknown[]
  fcallReply: unknown
  unkillable: unknown[]
  pipelined: string
}

/** The same session on one server: what its clients saw. */
async function session(port: number): Promise<Observed> {
  const r = client(port)
  const runner = client(port)
  try {
    await r.config('SET', 'lua-time-limit', '50')
    await r.function('FLUSH')
    await r.del('x')
    const evalDone = reply(runner.eval(LOOP, 0))
    if (!await waitBusy(r)) throw new Error('the EVAL never went busy')
    const duringEval = [await reply(r.get('x')), await reply(r.function('STATS')),
      await reply(r.function('KILL')), await reply(r.call('SHUTDOWN')),
      await reply(r.multi({ pipeline: false })), await reply(r.call('DISCARD')),
      await reply(r.script('KILL'))]
    const evalReply = await evalDone
    if (!await waitServing(r)) throw new Error('not serving after SCRIPT KILL')
    await r.function('LOAD', LIB)
    const fcallDone = reply(runner.fcall('spin', 0))
    if (!await waitBusy(r)) throw new Error('the FCALL never went busy')
    const stats = await reply(r.function('STATS')) as unknown[]
    // duration_ms varies: keep the shape of running_script, not its last value.
    const running = Array.isArray(stats) && Array.isArray(stats[1]) ? stats[1].slice(0, 4) : stats
    const duringFcall = [running, await reply(r.script('KILL')), await reply(r.function('KILL'))]
    const fcallReply = await fcallDone
    if (!await waitServing(r)) throw new Error('not serving after FUNCTION KILL')
    // A request pipelined behind a script that is killed runs afterwards (no false dead client).
    const raw = await RawClient.connect(port)
    raw.send(Buffer.concat([RawClient.encode('EVAL', LOOP, '0'), RawClient.encode('PING')]))
    if (!await waitBusy(r)) throw new Error('the pipelined EVAL never went busy')
    await r.script('KILL')
    const pipelined = await raw.readUntil('+PONG\r\n', 10_000)
    raw.close()
    // A script that wrote cannot be killed; SHUTDOWN NOSAVE is the way out (the caller's).
    void reply(runner.eval(`redis.call('set', KEYS[1], 'y') ${LOOP}`, 1, 'x'))
    if (!await waitBusy(r)) throw new Error('the writing EVAL never went busy')
    const unkillable = [await reply(r.script('KILL')), await reply(r.get('x'))]
    return { duringEval, evalReply, duringFcall, fcallReply, unkillable, pipelined }
  } finally {
    r.disconnect()
    runner.disconnect()
  }
}

/** SHUTDOWN NOSAVE on a server whose busy script wrote: nothing of the script survives. */
async function shutdownNosave(server: CapykvServer): Promise<void> {
  const raw = await RawClient.connect(server.port)
  raw.send(RawClient.encode('SHUTDOWN', 'NOSAVE'))
  await raw.closed
  await server.stop()
}

t.test('busy scripts: capykv answers as redis-server 7.0.15', async (t) => {
  if (!hasBinary('redis-server')) {
    const reason = 'redis-server not found on PATH'
    if (process.env.CI === 'true') t.fail(`${reason} (required when CI=true)`)
    else t.test(`${reason}: busy-script differential skipped`, { skip: true }, () => {})
    return
  }
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const server = await startCapykv({ keepDir: true })
  t.teardown(async () => {
    await server.stop()
    rmSync(server.dir, { recursive: true, force: true })
  })
  const expected = await session(redis.port)
  const got = await session(server.port)
  t.same(got.duringEval, expected.duringEval, 'commands while an EVAL is busy')
  t.match(String(expected.evalReply), /killed by user/, 'redis: the killed EVAL')
  t.match(String(got.evalReply), /^ERR:ERR Script killed by user with SCRIPT KILL/,
    'capykv: the killed EVAL')
  t.same(got.duringFcall, expected.duringFcall, 'commands while an FCALL is busy')
  t.match(String(got.fcallReply), /killed by user/, 'capykv: the killed FCALL')
  t.match(got.pipelined, /^-ERR Script killed by user[^\r]*\r\n\+PONG\r\n$/,
    'the killed script, then the PING pipelined behind it')
  t.same(got.unkillable, expected.unkillable, 'a script that wrote: UNKILLABLE, then BUSY')

  // capykv: the written busy script dropped by SHUTDOWN NOSAVE left nothing in the pool.
  await shutdownNosave(server)
  const again = await startCapykv({ dir: server.dir })
  t.teardown(async () => { await again.stop() })
  const r = client(again.port)
  t.teardown(() => r.disconnect())
  t.equal(await r.exists('x'), 0, 'the dropped script wrote nothing durable')
})

t.test('a script that goes busy and ends commits all of its writes at once', async (t) => {
  const server = await startCapykv()
  t.teardown(async () => { await server.stop() })
  const r = client(server.port)
  const runner = client(server.port)
  const sub = client(server.port)
  t.teardown(() => { r.disconnect(); runner.disconnect(); sub.disconnect() })
  await r.config('SET', 'busy-reply-threshold', '20')
  const messages: string[] = []
  sub.on('message', (_ch: string, m: string) => messages.push(m))
  // Subscribed only once ready: ioredis's ready check (INFO) must not follow the SUBSCRIBE.
  if (sub.status !== 'ready') await new Promise((res) => sub.once('ready', res))
  await sub.subscribe('ch')
  const n = 20_000
  const done = reply(runner.eval("for i = 1, tonumber(ARGV[1]) do redis.call('incr', KEYS[1]) " +
    "end redis.call('publish', 'ch', 'done') return redis.call('get', KEYS[1])", 1, 'c', n))
  const seen: unknown[] = []
  let busy = 0
  for (let i = 0; i < 400; i++) {
    const v = await reply(r.get('c'))
    if (typeof v === 'string' && v.startsWith('ERR:BUSY')) busy++
    else seen.push(v)
    if (v === String(n)) break
    await new Promise((res) => setTimeout(res, 5))
  }
  t.equal(await done, String(n), 'the script finished')
  t.ok(seen.every((v) => v === null || v === String(n)), 'no partial count was ever read')
  t.comment(`${busy} GETs answered -BUSY while it ran`)
  t.ok(await waitServing(r), 'serving')
  for (let i = 0; i < 500 && messages.length === 0; i++) {
    await new Promise((res) => setTimeout(res, 20))
  }
  t.same(messages, ['done'], "the script's PUBLISH, after its commit")
})

t.test('SHUTDOWN NOSAVE drops a busy script: its PUBLISH never leaves', async (t) => {
  const server = await startCapykv({ keepDir: true })
  t.teardown(async () => {
    await server.stop()
    rmSync(server.dir, { recursive: true, force: true })
  })
  const r = client(server.port)
  const runner = client(server.port)
  const sub = await RawClient.connect(server.port)
  t.teardown(() => { r.disconnect(); runner.disconnect(); sub.close() })
  await r.config('SET', 'busy-reply-threshold', '20')
  sub.send(RawClient.encode('SUBSCRIBE', 'ch'))
  await sub.readUntil(':1\r\n')
  void reply(runner.eval(`redis.call('set', 'k', 'v') redis.call('publish', 'ch', 'm') ${LOOP}`,
    0))
  t.ok(await waitBusy(r), 'busy')
  await shutdownNosave(server)
  await sub.closed
  t.equal(sub.take().toString('latin1'), '', 'the subscriber got nothing')
  const again = await startCapykv({ dir: server.dir })
  t.teardown(async () => { await again.stop() })
  const r2 = client(again.port)
  t.teardown(() => r2.disconnect())
  t.equal(await r2.exists('k'), 0, 'nothing of the script is in the pool')
})

/**
 * A busy script inside MULTI/EXEC (issue 13): the same raw exchanges on one server — other
 * clients get -BUSY, SCRIPT KILL / FUNCTION KILL stop it, the EXEC's other commands apply and a
 * request pipelined behind the EXEC runs afterwards; a script that wrote is UNKILLABLE.
 */
async function execSession(port: number): Promise<{ transcript: unknown[]; replies: string[] }> {
  const r = client(port)
  const raw = await RawClient.connect(port)
  try {
    await r.config('SET', 'lua-time-limit', '50')
    await r.function('FLUSH')
    await r.del('a', 'b', 'w')
    await r.function('LOAD', LIB)
    const transcript: unknown[] = []
    const replies: string[] = []
    const exec = (...body: string[][]): void => {
      raw.send(Buffer.concat([RawClient.encode('MULTI'), ...body.map((a) => RawClient.encode(...a)),
        RawClient.encode('EXEC'), RawClient.encode('PING')]))
    }
    exec(['SET', 'a', '1'], ['EVAL', LOOP, '0'], ['SET', 'b', '2'])
    if (!await waitBusy(r)) throw new Error('the EVAL inside EXEC never went busy')
    transcript.push(await reply(r.get('a')), await reply(r.multi({ pipeline: false })),
      await reply(r.call('EXEC')), await reply(r.function('KILL')), await reply(r.script('KILL')))
    replies.push(await raw.readUntil('+PONG\r\n', 10_000))
    if (!await waitServing(r)) throw new Error('not serving after SCRIPT KILL')
    transcript.push(await r.mget('a', 'b'))
    exec(['FCALL', 'spin', '0'], ['INCR', 'b'])
    if (!await waitBusy(r)) throw new Error('the FCALL inside EXEC never went busy')
    transcript.push(await reply(r.incr('b')), await reply(r.script('KILL')),
      await reply(r.function('KILL')))
    replies.push(await raw.readUntil('+PONG\r\n', 10_000))
    if (!await waitServing(r)) throw new Error('not serving after FUNCTION KILL')
    transcript.push(await r.get('b'))
    exec(['SET', 'a', 'x'], ['EVAL', `redis.call('set', 'w', '1') ${LOOP}`, '0'])
    if (!await waitBusy(r)) throw new Error('the writing EVAL inside EXEC never went busy')
    transcript.push(await reply(r.script('KILL')), await reply(r.get('w')))
    return { transcript, replies }
  } finally {
    r.disconnect()
    raw.close()
  }
}

t.test('a busy script inside MULTI/EXEC: capykv answers as redis-server 7.0.15', async (t) => {
  if (!hasBinary('redis-server')) {
    const reason = 'redis-server not found on PATH'
    if (process.env.CI === 'true') t.fail(`${reason} (required when CI=true)`)
    else t.test(`${reason}: busy EXEC differential skipped`, { skip: true }, () => {})
    return
  }
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const server = await startCapykv({ keepDir: true })
  t.teardown(async () => {
    await server.stop()
    rmSync(server.dir, { recursive: true, force: true })
  })
  const expected = await execSession(redis.port)
  const got = await execSession(server.port)
  t.same(got.transcript, expected.transcript, 'other clients, KILL and the results')
  // Without Redis's " script: <name>, on @user_script:<line>." (docs/scripting.md, differences).
  const bare = (text: string): string => text.replace(/(SCRIPT KILL\.\.\.) script: [^\r]*/g, '$1')
  t.same(got.replies, expected.replies.map(bare), "the EXEC's replies, then the PING behind it")
  t.match(got.replies[0], /\*3\r\n\+OK\r\n-ERR Script killed by user[^\r]*\r\n\+OK\r\n\+PONG/,
    'capykv: the killed EVAL in its place among the EXEC replies')
  // capykv: SHUTDOWN NOSAVE drops the whole EXEC of the unkillable script (its SET a x too).
  await shutdownNosave(server)
  const again = await startCapykv({ dir: server.dir })
  t.teardown(async () => { await again.stop() })
  const r = client(again.port)
  t.teardown(() => r.disconnect())
  t.same(await r.mget('a', 'b', 'w'), ['1', '3', null], 'nothing of the dropped EXEC is durable')
})
