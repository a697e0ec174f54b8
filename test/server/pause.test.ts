// CLIENT PAUSE / UNPAUSE through the real server (src/commands/client-pause.ts, dispatch's
// postponed requests): what each of two clients receives, step by step, compared byte for byte
// with redis-server 7.0.15 — writes wait and run in order at UNPAUSE or at the timeout, reads
// and read-only transactions and scripts go on, may_replicate commands (PUBLISH, PFCOUNT) wait,
// ALL holds reads too, and expired keys are not deleted while paused.

import t from 'tap'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

/**
 * [client, ...argv]; ['READ'] collects what the client received meanwhile, ['WAIT', ms]; a
 * command marked '~' is expected to wait (its reply is read for 300 ms only).
 */
type Step = [0 | 1, ...string[]]

const SCRIPTS: Record<string, Step[]> = {
  'WRITE pause: writes wait, reads go on': [
    [0, 'SET', 'k', 'old'], [0, 'CLIENT', 'PAUSE', '100000', 'WRITE'], [1, '~SET', 'k', 'new'],
    [1, '~GET', 'k'], [0, 'GET', 'k'], [0, 'MULTI'], [0, 'GET', 'k'], [0, 'EXEC'],
    [0, 'CLIENT', 'UNPAUSE'], [1, 'READ'], [0, 'GET', 'k'],
  ],
  'WRITE pause: PUBLISH, PFCOUNT and a writing EXEC wait': [
    [0, 'PFADD', 'h', 'a'], [0, 'EVAL', 'return 0', '0'], [1, 'MULTI'], [1, 'SET', 'x', '1'], [0, 'CLIENT', 'PAUSE', '100000', 'WRITE'],
    [1, '~EXEC'], [0, 'EVAL', '#!lua flags=no-writes\nreturn 1', '0'], [0, 'CLIENT', 'UNPAUSE'],
    [1, 'READ'], [0, 'CLIENT', 'PAUSE', '100000', 'WRITE'], [1, '~PUBLISH', 'c', 'm'],
    [1, '~PFCOUNT', 'h'], [1, '~EVAL', 'return 1', '0'], [0, 'CLIENT', 'UNPAUSE'], [1, 'READ'],
  ],
  'ALL pause holds reads; the timeout ends it': [
    [0, 'CLIENT', 'PAUSE', '1500', 'ALL'], [1, '~GET', 'k'], [1, '~PING'], [1, 'WAIT', '1500'],
    [1, 'READ'],
  ],
  'errors and a pause inside MULTI': [
    [0, 'CLIENT', 'PAUSE', '10', 'FOO'], [0, 'CLIENT', 'PAUSE', '-1'], [0, 'CLIENT', 'PAUSE', 'x'],
    [0, 'CLIENT', 'PAUSE'], [0, 'MULTI'], [0, 'SET', 'a', '1'], [0, 'CLIENT', 'PAUSE', '100000', 'WRITE'],
    [0, 'SET', 'b', '2'], [0, 'EXEC'], [1, '~SET', 'c', '3'], [0, 'MGET', 'a', 'b', 'c'],
    [0, 'CLIENT', 'UNPAUSE'], [1, 'READ'], [0, 'MGET', 'a', 'b', 'c'],
  ],
  'expired keys stay while paused': [
    [0, 'SET', 'e', 'v', 'PX', '50'], [0, 'CLIENT', 'PAUSE', '100000', 'WRITE'], [0, 'WAIT', '200'],
    [0, 'GET', 'e'], [0, 'DBSIZE'], [0, 'CLIENT', 'UNPAUSE'], [0, 'GET', 'e'], [0, 'DBSIZE'],
  ],
}

async function play(port: number, steps: Step[]): Promise<string[]> {
  const clients = [await RawClient.connect(port), await RawClient.connect(port)]
  const out: string[] = []
  for (const [who, ...argv] of steps) {
    const c = clients[who] as RawClient
    if (argv[0] === 'READ') {
      out.push(`${who}< ${(await c.readFor(30, 300)).toString('latin1')}`)
    } else if (argv[0] === 'WAIT') {
      await new Promise((r) => setTimeout(r, Number(argv[1])))
    } else {
      const waits = (argv[0] as string).startsWith('~')
      const args = waits ? [(argv[0] as string).slice(1), ...argv.slice(1)] : argv
      out.push(`${who}> ${await c.command(args, 15, waits ? 300 : 3000)}`)
    }
  }
  for (const c of clients) c.close()
  return out
}

t.test('CLIENT PAUSE through the server matches Redis 7.0.15', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const [expected, actual] = await Promise.all([play(redis.port, script),
      play(capykv.port, script)])
    t.same(actual, expected, name)
  }
})

t.test('INFO blocked_clients counts a postponed client; a closed one is forgotten', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const a = await RawClient.connect(server.port)
  const b = await RawClient.connect(server.port)
  t.teardown(() => { a.close() })
  t.equal(await a.command(['CLIENT', 'PAUSE', '100000', 'WRITE']), '+OK\r\n')
  b.send(RawClient.encode('SET', 'k', 'v'))
  await new Promise((r) => setTimeout(r, 100))
  t.match(await a.command(['INFO', 'clients']), /blocked_clients:1\r\n/)
  b.close()
  await new Promise((r) => setTimeout(r, 100))
  t.match(await a.command(['INFO', 'clients']), /blocked_clients:0\r\n/)
  t.equal(await a.command(['CLIENT', 'UNPAUSE']), '+OK\r\n')
  t.equal(await a.command(['EXISTS', 'k']), ':0\r\n', 'the closed client\'s SET never ran')
})
