// The server as clients meet it: ioredis (pipelines, multi(), WATCH, reconnect after a restart),
// RESP3 after HELLO 3, requirepass, protocol errors (reply, then close), SHUTDOWN and restart
// from the same pool. Byte-exact replies are checked against Redis 7.0.15's texts.

import t from 'tap'
import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { RawClient, startCapykv, type CapykvServer } from '../helpers/servers.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function client(port: number, options: Record<string, unknown> = {}): Redis {
  return new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 3,
    ...options })
}

t.test('ioredis: commands, pipelines and replies in order', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const r = client(server.port)
  t.teardown(() => r.disconnect())
  t.equal(await r.ping(), 'PONG')
  t.equal(await r.set('k', 'v'), 'OK')
  t.equal(await r.get('k'), 'v')
  const p = r.pipeline()
  for (let i = 0; i < 2000; i++) p.set(`key:${i}`, String(i))
  for (let i = 0; i < 2000; i++) p.incr(`key:${i}`)
  const results = await p.exec()
  t.equal(results?.length, 4000)
  t.ok(results?.slice(0, 2000).every(([err, v]) => err === null && v === 'OK'))
  t.same(results?.slice(2000).map(([, v]) => v), Array.from({ length: 2000 }, (_, i) => i + 1))
  t.equal(await r.dbsize(), 2001)
  t.equal(await r.get('key:1999'), '2000')
  const seen = new Set<string>()
  await new Promise<void>((resolve, reject) => {
    const stream = r.scanStream({ match: 'key:*', count: 100 })
    stream.on('data', (keys: string[]) => { for (const k of keys) seen.add(k) })
    stream.on('end', () => resolve())
    stream.on('error', reject)
  })
  t.equal(seen.size, 2000, 'scanStream visits every key')
})

t.test('ioredis multi(): one EXEC, per-command run-time errors, EXECABORT', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const r = client(server.port)
  t.teardown(() => r.disconnect())
  const res = await r.multi().set('a', '1').incr('a').lpush('a', 'x').get('a').exec()
  t.equal(res?.length, 4)
  t.same(res?.[0], [null, 'OK'])
  t.same(res?.[1], [null, 2])
  t.match(String(res?.[2]?.[0]), /WRONGTYPE/)
  t.same(res?.[3], [null, '2'])
  const raw = await RawClient.connect(server.port)
  t.teardown(() => raw.close())
  t.equal(await raw.command(['MULTI']), '+OK\r\n')
  t.equal(await raw.command(['SET', 'b']),
    "-ERR wrong number of arguments for 'set' command\r\n")
  t.equal(await raw.command(['SET', 'b', '1']), '+QUEUED\r\n')
  t.equal(await raw.command(['EXEC']),
    '-EXECABORT Transaction discarded because of previous errors.\r\n')
  t.equal(await r.exists('b'), 0, 'nothing of an aborted transaction applies')
  t.equal(await raw.command(['EXEC']), '-ERR EXEC without MULTI\r\n')
  t.equal(await raw.command(['MULTI']), '+OK\r\n')
  t.equal(await raw.command(['MULTI']), '-ERR MULTI calls can not be nested\r\n')
  t.equal(await raw.command(['WATCH', 'x']), '-ERR WATCH inside MULTI is not allowed\r\n')
  t.equal(await raw.command(['EXEC']), '*0\r\n')
})

t.test('WATCH: a change by another client, an expiry, FLUSHDB abort EXEC', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const a = client(server.port)
  const b = client(server.port)
  t.teardown(() => { a.disconnect(); b.disconnect() })
  await a.set('w', '1')
  await a.watch('w')
  await b.set('w', '2')
  t.equal(await a.multi().set('w', '3').exec(), null, 'modified by another client')
  t.equal(await a.get('w'), '2')

  await a.watch('w')
  t.same(await a.multi().set('w', '4').exec(), [[null, 'OK']], 'untouched: EXEC runs')

  await a.set('e', '1', 'PX', 100)
  await a.watch('e')
  await sleep(250)
  t.equal(await a.multi().set('x', '1').exec(), null, 'expired since WATCH')

  await a.set('f', '1')
  await a.watch('f')
  await b.flushdb()
  t.equal(await a.multi().set('x', '1').exec(), null, 'FLUSHDB touches a watched key')

  await a.watch('nosuchkey')
  await b.set('other', '1')
  await b.flushdb()
  t.same(await a.multi().set('x', '1').exec(), [[null, 'OK']],
    'FLUSHDB of a db without the watched key does not abort (Redis 7.0)')

  await a.watch('u')
  await a.unwatch()
  await b.set('u', '1')
  t.same(await a.multi().set('x', '2').exec(), [[null, 'OK']], 'UNWATCH forgets')
})

t.test('RESP3 after HELLO 3; HELLO errors as Redis', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const raw = await RawClient.connect(server.port)
  t.teardown(() => raw.close())
  t.equal(await raw.command(['HELLO', '4']), '-NOPROTO unsupported protocol version\r\n')
  t.equal(await raw.command(['HELLO', 'x']),
    '-ERR Protocol version is not an integer or out of range\r\n')
  t.equal(await raw.command(['HELLO', '3', 'FOO']), "-ERR Syntax error in HELLO option 'FOO'\r\n")
  const hello = await raw.command(['HELLO', '3'])
  t.ok(hello.startsWith('%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n' +
    '$5\r\nproto\r\n:3\r\n'), 'HELLO 3 answers a RESP3 map')
  t.equal(await raw.command(['GET', 'nosuch']), '_\r\n')
  t.equal(await raw.command(['CONFIG', 'GET', 'maxclients']),
    '%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n')
  t.equal(await raw.command(['INFO', 'cluster']),
    '=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n', 'INFO is a verbatim string')
  t.equal(await raw.command(['RESET']), '+RESET\r\n')
  t.equal(await raw.command(['GET', 'nosuch']), '$-1\r\n', 'RESET goes back to RESP2')
})

t.test('requirepass: NOAUTH, WRONGPASS, AUTH, HELLO AUTH, ioredis password', async (t) => {
  const server = await startCapykv({ args: ['--requirepass', 's3cret'] })
  t.teardown(() => server.stop())
  const raw = await RawClient.connect(server.port)
  t.teardown(() => raw.close())
  t.equal(await raw.command(['GET', 'a']), '-NOAUTH Authentication required.\r\n')
  t.equal(await raw.command(['PING']), '-NOAUTH Authentication required.\r\n')
  t.equal(await raw.command(['AUTH', 'nope']),
    '-WRONGPASS invalid username-password pair or user is disabled.\r\n')
  t.match(await raw.command(['HELLO', '3']), /^-NOAUTH HELLO must be called with the client/)
  t.equal(await raw.command(['AUTH', 's3cret']), '+OK\r\n')
  t.equal(await raw.command(['SET', 'a', '1']), '+OK\r\n')
  const raw2 = await RawClient.connect(server.port)
  t.teardown(() => raw2.close())
  t.match(await raw2.command(['HELLO', '2', 'AUTH', 'default', 's3cret', 'SETNAME', 'me']),
    /^\*14\r\n/)
  t.equal(await raw2.command(['CLIENT', 'GETNAME']), '$2\r\nme\r\n')
  const r = client(server.port, { password: 's3cret' })
  t.teardown(() => r.disconnect())
  t.equal(await r.get('a'), '1')
})

t.test('protocol errors: Redis text, then the connection is closed', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const cases: [string, string][] = [
    ['*1\r\n$abc\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*abc\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['*1\r\nfoo\r\n', "-ERR Protocol error: expected '$', got 'f'\r\n"],
    ['SET "a\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
    ['*1\r\n$999999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
  ]
  for (const [input, expected] of cases) {
    const raw = await RawClient.connect(server.port)
    raw.send(input)
    const got = await raw.readUntil('\r\n')
    await raw.closed
    t.equal(got, expected, JSON.stringify(input))
    t.ok(raw.isClosed, 'closed after the error')
  }
  const ok = await RawClient.connect(server.port)
  t.teardown(() => ok.close())
  t.equal(await ok.command(['PING']), '+PONG\r\n', 'the server is unaffected')
  ok.send('PING\r\nECHO "hi there"\r\n')
  t.equal(await ok.readUntil('there\r\n'), '+PONG\r\n$8\r\nhi there\r\n', 'inline commands')
  t.equal(await ok.command(['foo', 'a', 'b']),
    "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n")
  t.equal(await ok.command(['QUIT']), '+OK\r\n')
  await ok.closed
  t.ok(ok.isClosed, 'QUIT closes')
})

t.test('SHUTDOWN and SIGTERM exit 0; the pool is reopened; ioredis reconnects', async (t) => {
  const first = await startCapykv({ keepDir: true })
  const dir = first.dir
  const port = first.port
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = client(port, { retryStrategy: () => 100, maxRetriesPerRequest: 50 })
  t.teardown(() => r.disconnect())
  await r.set('persist', 'yes')
  await r.multi().set('t1', 'a').set('t2', 'b').exec()
  const raw = await RawClient.connect(port)
  raw.send(RawClient.encode('SHUTDOWN'))
  await raw.closed
  const code = await new Promise<number | null>((resolve) => {
    if (first.proc.exitCode !== null) resolve(first.proc.exitCode)
    else first.proc.once('exit', (c) => resolve(c))
  })
  t.equal(code, 0, 'SHUTDOWN exits 0')
  t.match(first.log(), /ready to exit, bye bye/)
  let second: CapykvServer | null = await startCapykv({ dir, port })
  t.equal(await r.get('persist'), 'yes', 'ioredis reconnected after the restart')
  t.same(await r.mget('t1', 't2'), ['a', 'b'])
  t.equal(await second.stop(), 0, 'SIGTERM exits 0')
  second = null
})

t.test('CLIENT, CONFIG, INFO, COMMAND basics', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const r = client(server.port)
  t.teardown(() => r.disconnect())
  await r.client('SETNAME', 'tester')
  const list = String(await r.client('LIST'))
  t.match(list, /name=tester/)
  t.match(list, /cmd=client\|list/)
  t.equal(await r.config('SET', 'maxclients', '500'), 'OK')
  t.same(await r.config('GET', 'maxcl*'), ['maxclients', '500'])
  const info = await r.info('persistence')
  t.match(info, /loading:0/)
  t.match(info, /pool_backend:/)
  t.match(info, /pool_group_commits:\d+/)
  const all = await r.info('everything')
  for (const section of ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication',
    'CPU', 'Commandstats', 'Keyspace']) {
    t.match(all, new RegExp(`# ${section}\r\n`), section)
  }
  t.match(all, /cmdstat_client\|setname:calls=1,/)
  t.ok(Number(await r.command('COUNT')) > 50)
  const docs = await r.call('COMMAND', 'DOCS', 'get') as unknown[]
  t.equal(docs[0], 'get')
  t.same(await r.call('WAITAOF', '0', '0', '0'), [1, 0])
  t.equal(await r.call('WAIT', '0', '0'), 0)
})
