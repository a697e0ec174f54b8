// ACL SETUSER taking channels away, and ACL DELUSER, against a real redis-server 7.0.15
// (issue 19): the same clients (subscribed to channels, patterns and shard channels, as the
// changed user or as default) on both servers, the same ACL steps, and after each step the
// same clients closed. A client's fate is read without timing: it is sent PING and either
// answers or is seen closed.

import t from 'tap'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

interface Sub { name: string; user: 'alice' | 'default'; hello3?: boolean; cmd: string[] }

const SUBSCRIBERS: Sub[] = [
  { name: 'channel news.1', user: 'alice', cmd: ['SUBSCRIBE', 'news.1'] },
  { name: 'pattern news*', user: 'alice', cmd: ['PSUBSCRIBE', 'news*'] },
  { name: 'channel chat', user: 'alice', cmd: ['SUBSCRIBE', 'chat'] },
  { name: 'shard news.x', user: 'alice', cmd: ['SSUBSCRIBE', 'news.x'] },
  { name: 'two channels', user: 'alice', cmd: ['SUBSCRIBE', 'news.1', 'chat'] },
  { name: 'pattern news.1', user: 'alice', cmd: ['PSUBSCRIBE', 'news.1'] },
  { name: 'not subscribed', user: 'alice', cmd: ['PING'] },
  { name: 'resp3 channel chat', user: 'alice', hello3: true, cmd: ['SUBSCRIBE', 'chat'] },
  { name: 'default chat', user: 'default', cmd: ['SUBSCRIBE', 'chat'] },
]

const GRANT = ['ACL', 'SETUSER', 'alice', 'reset', 'on', '>a', '+@all', '~*', '&news*', '&chat',
  '&news.1']

/** Each step, then which subscribers are closed after it. */
const STEPS: string[][] = [
  ['ACL', 'SETUSER', 'alice', 'resetchannels', '&news*', '&news.1'],
  ['ACL', 'SETUSER', 'alice', 'resetchannels', '&news.1'],
  GRANT,
  ['ACL', 'SETUSER', 'alice', 'allchannels'],
  ['ACL', 'SETUSER', 'alice', 'resetchannels', '(&news* &chat ~x +get)', '&news.1'],
  ['ACL', 'SETUSER', 'alice', 'resetchannels', '(allchannels)'],
  ['ACL', 'SETUSER', 'alice', 'resetchannels', '&n*'],
  ['ACL', 'SETUSER', 'alice', 'on', '>b'],
  ['ACL', 'SETUSER', 'alice', 'resetchannels'],
  ['ACL', 'DELUSER', 'alice'],
]

async function connect(port: number, sub: Sub): Promise<RawClient> {
  const c = await RawClient.connect(port)
  if (sub.hello3 === true) await c.command(['HELLO', '3'], 10)
  if (sub.user === 'alice') await c.command(['AUTH', 'alice', 'a'], 10)
  await c.command(sub.cmd, 10)
  return c
}

/** 'closed' or 'open', read by a PING (answered by a live subscriber in any mode). */
async function fate(c: RawClient): Promise<string> {
  if (c.isClosed) return 'closed'
  c.send(RawClient.encode('PING'))
  await Promise.race([c.readFor(20, 5000), c.closed])
  return c.isClosed ? 'closed' : 'open'
}

async function run(port: number): Promise<string[][]> {
  const admin = await RawClient.connect(port)
  const out: string[][] = []
  try {
    // Each step starts from fresh subscribers under the granted rules.
    for (const step of STEPS) {
      await admin.command(GRANT, 10)
      const clients: RawClient[] = []
      for (const sub of SUBSCRIBERS) clients.push(await connect(port, sub))
      const reply = await admin.command(step, 20)
      const row = [`${step.join(' ')} -> ${reply.trim()}`]
      for (const [i, c] of clients.entries()) {
        row.push(`${(SUBSCRIBERS[i] as Sub).name}: ${await fate(c)}`)
        c.close()
      }
      out.push(row)
    }
    // The changing client itself, subscribed in RESP3 as alice: its own reply, then its fate.
    await admin.command(GRANT, 10)
    const self = await connect(port, SUBSCRIBERS[7] as Sub)
    const reply = await self.command(['ACL', 'SETUSER', 'alice', 'resetchannels'])
    out.push([`self: ${reply}`, `self: ${await fate(self)}`])
    self.close()
  } finally {
    admin.close()
  }
  return out
}

t.test('SETUSER revoking channels and DELUSER close the same clients as redis-server',
  async (t) => {
    if (!requireBinary(t, 'redis-server')) return
    const cap = await startCapykv({ poolSize: '16mb' })
    t.teardown(() => cap.stop())
    const redis = await startRedis()
    t.teardown(() => redis.stop())
    const expected = await run(redis.port)
    const actual = await run(cap.port)
    for (const [i, row] of expected.entries()) {
      t.same(actual[i], row, (row[0] as string).slice(0, 80))
    }
    // The steps must have closed someone and spared someone, or they test nothing.
    const all = expected.flat()
    t.ok(all.some((l) => l.endsWith(': closed')), 'some client was closed')
    t.ok(all.some((l) => l.endsWith(': open')), 'some client was kept')
  })
