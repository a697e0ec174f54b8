// Blocking commands through the real server (src/txn/blocking.ts wired by dispatch): a client
// parked by BLPOP/BRPOP/BLMOVE/BZPOPMIN is served by another client's push, times out, is
// unblocked by CLIENT UNBLOCK, and its pipelined requests wait behind it; inside MULTI a
// blocking command answers at once. Two-client scripts run against redis-server 7.0.15 and
// capykv; the replies each client receives are compared byte for byte.

import t from 'tap'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

/**
 * [client, ...argv]; ['READ'] collects what the client received meanwhile, ['WAIT'] sleeps.
 */
type Step = [0 | 1, ...string[]]

const SCRIPTS: Record<string, Step[]> = {
  'BLPOP served by LPUSH of another client': [
    [1, 'BLPOP', 'q', '0'], [0, 'LPUSH', 'q', 'a', 'b'], [1, 'READ'], [0, 'LRANGE', 'q', '0', '-1'],
  ],
  'BRPOP on several keys, the first ready one wins': [
    [1, 'BRPOP', 'q1', 'q2', '0'], [0, 'RPUSH', 'q2', 'x'], [1, 'READ'], [0, 'EXISTS', 'q2'],
  ],
  'a timeout answers a null array': [
    [1, 'BLPOP', 'never', '0.3'], [0, 'PING'], [1, 'WAIT'], [1, 'READ'],
  ],
  'pipelined requests wait behind the blocked one': [
    [1, 'BLPOP', 'p', '0'], [1, 'PING'], [0, 'RPUSH', 'p', 'v'], [1, 'READ'],
  ],
  'inside MULTI a blocking pop answers at once': [
    [0, 'MULTI'], [0, 'BLPOP', 'empty', '0'], [0, 'EXEC'],
  ],
  'MULTI/EXEC push serves the waiter after EXEC': [
    [1, 'BLPOP', 'm', '0'], [0, 'MULTI'], [0, 'RPUSH', 'm', '1'], [0, 'RPUSH', 'm', '2'],
    [0, 'EXEC'], [1, 'READ'], [0, 'LRANGE', 'm', '0', '-1'],
  ],
  'BLMOVE chains to the destination': [
    [1, 'BLMOVE', 'src', 'dst', 'LEFT', 'RIGHT', '0'], [0, 'RPUSH', 'src', 'item'], [1, 'READ'],
    [0, 'LRANGE', 'dst', '0', '-1'],
  ],
  'BZPOPMIN served by ZADD': [
    [1, 'BZPOPMIN', 'z', '0'], [0, 'ZADD', 'z', '2', 'b', '1', 'a'], [1, 'READ'],
  ],
  'CLIENT UNBLOCK with TIMEOUT and ERROR; bad arguments': [
    [1, 'CLIENT', 'ID'], [1, 'BLPOP', 'u', '0'], [0, 'CLIENT', 'UNBLOCK', '$ID1', 'TIMEOUT'],
    [1, 'READ'], [1, 'BLPOP', 'u', '0'], [0, 'CLIENT', 'UNBLOCK', '$ID1', 'ERROR'], [1, 'READ'],
    [0, 'CLIENT', 'UNBLOCK', '$ID1'], [0, 'CLIENT', 'UNBLOCK', '$ID1', 'FOO'],
    [0, 'CLIENT', 'UNBLOCK', 'x'],
  ],
  'a wrong type at wake-up': [
    [1, 'BLPOP', 'wt', '0'], [0, 'MULTI'], [0, 'RPUSH', 'wt', 'x'], [0, 'DEL', 'wt'],
    [0, 'SET', 'wt', 'str'], [0, 'EXEC'], [1, 'PING'], [1, 'READ'],
    [0, 'CLIENT', 'UNBLOCK', '$ID1'], [1, 'READ'],
  ],
}

async function play(port: number, steps: Step[]): Promise<string[]> {
  const clients = [await RawClient.connect(port), await RawClient.connect(port)]
  const ids: string[] = []
  for (const c of clients) {
    ids.push((await c.command(['CLIENT', 'ID'], 10, 1000)).replace(/[:\r\n]/g, ''))
  }
  const out: string[] = []
  for (const [who, ...argv] of steps) {
    const c = clients[who] as RawClient
    if (argv[0] === 'READ') {
      out.push(`${who}< ${(await c.readFor(30, 300)).toString('latin1')}`)
    } else if (argv[0] === 'WAIT') {
      // Redis checks timeouts at hz (10/s): wait past 0.3 s plus its resolution.
      await new Promise((r) => setTimeout(r, 600))
    } else {
      const args = argv.map((a) => a === '$ID1' ? ids[1] as string : a)
      const reply = await c.command(args, 15, 150)
      out.push(`${who}> ${argv[0] === 'CLIENT' && argv[1] === 'ID' ? ':ID\r\n' : reply}`)
    }
  }
  for (const c of clients) c.close()
  return out
}

t.test('blocking commands through the server match Redis 7.0.15', async (t) => {
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

t.test('INFO blocked_clients, CLIENT LIST flag b, disconnect while blocked', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const a = await RawClient.connect(server.port)
  const b = await RawClient.connect(server.port)
  t.teardown(() => { a.close(); b.close() })
  b.send(RawClient.encode('BLPOP', 'k', '0'))
  await new Promise((r) => setTimeout(r, 100))
  t.match(await a.command(['INFO', 'clients']), /blocked_clients:1\r\n/)
  t.match(await a.command(['CLIENT', 'LIST']), /flags=b .*cmd=blpop/)
  b.close()
  await new Promise((r) => setTimeout(r, 100))
  t.match(await a.command(['INFO', 'clients']), /blocked_clients:0\r\n/)
  t.equal(await a.command(['RPUSH', 'k', 'v']), ':1\r\n')
  t.equal(await a.command(['LLEN', 'k']), ':1\r\n', 'a gone waiter takes nothing')
})
