// Server administration end to end: active expiry (keys vanish without being read, counted in
// INFO), DEBUG gated by enable-debug-command and its RELOAD (state rebuilt from the pool, WATCH
// still wired), SAVE/BGSAVE as checkpoints (and INFO's dirty count), MONITOR's feed, SLOWLOG,
// and a full pool: -OOM, nothing of the refused transaction applied, reads and deletes served.

import t from 'tap'
import { Redis } from 'ioredis'
import { RawClient, startCapykv } from '../helpers/servers.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

t.test('active expiry deletes keys that are never read', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const r = new Redis({ port: server.port, host: '127.0.0.1' })
  t.teardown(() => r.disconnect())
  const p = r.pipeline()
  for (let i = 0; i < 2000; i++) p.set(`tmp:${i}`, 'x', 'PX', 100)
  for (let i = 0; i < 100; i++) p.set(`keep:${i}`, 'x')
  await p.exec()
  let size = await r.dbsize()
  for (let i = 0; i < 50 && size > 100; i++) {
    await sleep(100)
    size = await r.dbsize()
  }
  t.equal(size, 100, 'only the keys without a TTL are left (DBSIZE never reads a key)')
  t.match(await r.info('stats'), /expired_keys:2000\r\n/)
})

t.test('DEBUG is refused unless enable-debug-command allows it', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const c = await RawClient.connect(server.port)
  t.teardown(() => c.close())
  t.equal(await c.command(['DEBUG', 'SLEEP', '0']),
    '-ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", ' +
    'you can run it from a local connection, otherwise you need to set this option in the ' +
    'configuration file, and then restart the server.\r\n')
  const local = await startCapykv({ args: ['--enable-debug-command', 'local'] })
  t.teardown(() => local.stop())
  const l = await RawClient.connect(local.port)
  t.teardown(() => l.close())
  t.equal(await l.command(['DEBUG', 'SLEEP', '0']), '+OK\r\n', 'local: loopback allowed')
})

t.test('DEBUG RELOAD rebuilds the keyspace from the pool; WATCH still works', async (t) => {
  const server = await startCapykv({ args: ['--enable-debug-command', 'yes'] })
  t.teardown(() => server.stop())
  const a = new Redis({ port: server.port, host: '127.0.0.1' })
  const b = new Redis({ port: server.port, host: '127.0.0.1' })
  t.teardown(() => { a.disconnect(); b.disconnect() })
  await a.set('s', 'v')
  await a.rpush('l', 'x', 'y')
  await a.hset('h', 'f', '1')
  await a.set('t', '1', 'EX', 1000)
  t.equal(await a.call('DEBUG', 'RELOAD'), 'OK')
  t.equal(await a.get('s'), 'v')
  t.same(await a.lrange('l', 0, -1), ['x', 'y'])
  t.equal(await a.hget('h', 'f'), '1')
  t.ok((await a.ttl('t')) > 990)
  await a.watch('s')
  await b.set('s', 'changed')
  t.equal(await a.multi().set('s', 'mine').exec(), null, 'WATCH hooks survive the reload')
  t.equal(await a.call('DEBUG', 'RELOAD', 'NOSAVE'), 'OK')
  t.equal(await a.get('s'), 'changed')
  const before = Number(/pool_checkpoints_completed:(\d+)/.exec(await a.info('persistence'))?.[1])
  t.equal(await a.save(), 'OK')
  const lastsave = await a.lastsave()
  t.ok(Math.abs(lastsave - Date.now() / 1000) < 5, 'LASTSAVE is now')
  t.equal(await a.bgsave(), 'Background saving started')
  await sleep(300)
  const after = Number(/pool_checkpoints_completed:(\d+)/.exec(await a.info('persistence'))?.[1])
  t.ok(after >= before + 2, `SAVE and BGSAVE each completed a checkpoint (${before} → ${after})`)
  t.equal(await a.call('BGREWRITEAOF'), 'Background append only file rewriting started')
})

t.test('rdb_changes_since_last_save counts committed events until a checkpoint begins',
  async (t) => {
    const server = await startCapykv()
    t.teardown(() => server.stop())
    const r = new Redis({ port: server.port, host: '127.0.0.1' })
    t.teardown(() => r.disconnect())
    const dirty = async (): Promise<number> =>
      Number(/rdb_changes_since_last_save:(\d+)/.exec(await r.info('persistence'))?.[1])
    await r.call('SAVE')
    t.equal(await dirty(), 0, 'nothing since SAVE')
    await r.set('a', '1')
    await r.call('SETBIT', 'b', '0', '1')
    t.equal(await dirty(), 2)
    await r.call('SETBIT', 'b', '0', '1')
    await r.get('a')
    t.equal(await dirty(), 2, 'a write that changes nothing and a read add nothing')
    await r.mset('x', '1', 'y', '2')
    t.equal(await dirty(), 4, 'MSET: one event per key')
    await r.call('SAVE')
    t.equal(await dirty(), 0, 'SAVE is a checkpoint')
    await r.set('c', '1')
    t.equal(await dirty(), 1)
  })

t.test('MONITOR feeds every command in Redis\'s format', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const mon = await RawClient.connect(server.port)
  t.teardown(() => mon.close())
  t.equal(await mon.command(['MONITOR']), '+OK\r\n')
  const c = await RawClient.connect(server.port)
  t.teardown(() => c.close())
  await c.command(['SET', 'k', 'a "quoted"\nvalue'])
  await c.command(['SELECT', '2'])
  await c.command(['GET', 'k'])
  const feed = (await mon.readFor(100)).toString('latin1')
  t.match(feed, /^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "k" "a \\"quoted\\"\\nvalue"\r\n/)
  t.match(feed, /\+\d+\.\d{6} \[2 127\.0\.0\.1:\d+\] "SELECT" "2"\r\n/,
    'fed after it ran, as Redis does')
  t.match(feed, /\+\d+\.\d{6} \[2 127\.0\.0\.1:\d+\] "GET" "k"\r\n$/)
})

t.test('SLOWLOG records commands over the threshold', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const c = await RawClient.connect(server.port)
  t.teardown(() => c.close())
  t.equal(await c.command(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']), '+OK\r\n')
  await c.command(['SET', 'k', 'x'.repeat(200)])
  const get = await c.command(['SLOWLOG', 'GET', '1'])
  t.match(get, new RegExp('^\\*1\r\n\\*6\r\n:\\d+\r\n:\\d+\r\n:\\d+\r\n\\*3\r\n\\$3\r\nSET\r\n' +
    '\\$1\r\nk\r\n\\$147\r\nx{128}\\.\\.\\. \\(72 more bytes\\)\r\n' +
    '\\$15\r\n127\\.0\\.0\\.1:\\d+\r\n\\$0\r\n\r\n$'))
  t.match(await c.command(['SLOWLOG', 'LEN']), /^:\d+\r\n$/)
  t.equal(await c.command(['SLOWLOG', 'RESET']), '+OK\r\n')
  t.equal(await c.command(['CONFIG', 'SET', 'slowlog-log-slower-than', '-1']), '+OK\r\n')
  t.equal(await c.command(['SLOWLOG', 'LEN']), ':1\r\n', 'SLOWLOG RESET logs itself, as in Redis')
})

t.test('a full pool: -OOM, nothing applied, reads and deletes still work', async (t) => {
  const server = await startCapykv({ poolSize: '4mb' })
  t.teardown(() => server.stop())
  const c = await RawClient.connect(server.port)
  t.teardown(() => c.close())
  const value = Buffer.alloc(100 * 1024, 'v')
  let stored = 0
  let reply = ''
  for (let i = 0; i < 200; i++) {
    reply = await c.command(['SET', `big:${i}`, value], 5)
    if (reply !== '+OK\r\n') break
    stored++
  }
  t.equal(reply, "-OOM command not allowed when used memory > 'maxmemory'.\r\n")
  t.ok(stored > 5, `${stored} values fit before the pool was full`)
  t.equal(await c.command(['EXISTS', `big:${stored}`]), ':0\r\n', 'the refused SET left nothing')
  t.equal(await c.command(['MULTI']), '+OK\r\n')
  t.equal(await c.command(['SET', 'small', '1']), '+QUEUED\r\n')
  t.equal(await c.command(['SET', 'again', value]), '+QUEUED\r\n')
  t.equal(await c.command(['EXEC']), '-EXECABORT Transaction discarded because of: OOM ' +
    "command not allowed when used memory > 'maxmemory'.\r\n")
  t.equal(await c.command(['EXISTS', 'small']), ':0\r\n', 'nothing of the EXEC applied')
  t.equal(await c.command(['STRLEN', 'big:0']), `:${value.length}\r\n`, 'reads are served')
  t.equal(await c.command(['DEL', 'big:0', 'big:1', 'big:2']), ':3\r\n', 'deletes are served')
  t.equal(await c.command(['SET', 'fits', 'now']), '+OK\r\n', 'room again after deletes')
})
