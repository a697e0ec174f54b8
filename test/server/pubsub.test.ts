// Pub/sub with real clients and at the edges: ioredis subscribe / psubscribe / ssubscribe with
// text and binary payloads, resubscription after a server restart, RESP3 pushes interleaved with
// ordinary replies on one raw connection, CLIENT LIST sub=/psub=/ssub= and flag P, CLIENT
// LIST/KILL TYPE pubsub, INFO pubsub_channels/pubsub_patterns, and the pubsub class of
// client-output-buffer-limit: a subscriber that never reads is disconnected, the others are not.

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { RawClient, startCapykv } from '../helpers/servers.js'

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Resolves with the first `count` events `event` emits on `emitter`. */
function collect<T extends unknown[]>(emitter: Redis, event: string, count: number,
  timeoutMs = 5000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = []
    const timer = setTimeout(() => reject(new Error(`${event}: ${got.length} of ${count}`)),
      timeoutMs)
    emitter.on(event, (...args: unknown[]) => {
      got.push(args as T)
      if (got.length === count) {
        clearTimeout(timer)
        resolve(got)
      }
    })
  })
}

t.test('ioredis subscribe, psubscribe and ssubscribe receive what is published', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const sub = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
  const pub = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
  await sub.connect()
  await pub.connect()
  t.teardown(() => { sub.disconnect(); pub.disconnect() })

  t.equal(await sub.subscribe('news', 'sport'), 2)
  t.equal(await sub.psubscribe('ne*'), 3)
  t.equal(await sub.ssubscribe('shard'), 1)
  const messages = collect<[string, string]>(sub, 'message', 2)
  const pmessages = collect<[string, string, string]>(sub, 'pmessage', 1)
  const smessages = collect<[string, string]>(sub, 'smessage', 1)
  const buffers = collect<[Buffer, Buffer]>(sub, 'messageBuffer', 2)
  t.equal(await pub.publish('news', 'hello'), 2, 'channel and pattern subscriber')
  t.equal(await pub.publish('sport', Buffer.from([0, 255, 13, 10])), 1)
  t.equal(await pub.spublish('shard', 'sharded'), 1)
  t.same(await messages, [['news', 'hello'], ['sport', '\u0000\ufffd\r\n']])
  t.same(await pmessages, [['ne*', 'news', 'hello']])
  t.same(await smessages, [['shard', 'sharded']])
  const bin = await buffers
  t.same(bin[1]?.[1], Buffer.from([0, 255, 13, 10]), 'binary payload exact')
  t.same(await pub.pubsub('NUMSUB', 'news', 'sport'), ['news', 1, 'sport', 1])
  t.equal(await pub.pubsub('NUMPAT'), 1)
  t.equal(await sub.unsubscribe('news'), 2)
  t.equal(await pub.publish('news', 'again'), 1, 'only the pattern now')
})

t.test('ioredis resubscribes after a server restart and receives again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-pubsub-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let server = await startCapykv({ dir })
  const port = server.port
  const sub = new Redis({ port, host: '127.0.0.1', lazyConnect: true,
    retryStrategy: () => 50, maxRetriesPerRequest: null })
  await sub.connect()
  t.teardown(() => sub.disconnect())
  await sub.subscribe('ch')
  await server.stop()
  server = await startCapykv({ dir, port })
  t.teardown(() => server.stop())
  const pub = new Redis({ port, host: '127.0.0.1' })
  t.teardown(() => pub.disconnect())
  let delivered = 0
  for (let i = 0; i < 200 && delivered === 0; i++) {
    delivered = await pub.publish('ch', 'back') as number
    if (delivered === 0) await wait(25)
  }
  t.equal(delivered, 1, 'the subscription is back after the restart')
})

t.test('RESP3: pushes and ordinary replies share one connection, in order', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const c = await RawClient.connect(server.port)
  const p = await RawClient.connect(server.port)
  t.teardown(() => { c.close(); p.close() })
  await c.command(['HELLO', '3'])
  t.equal(await c.command(['SUBSCRIBE', 'ch']), '>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n')
  t.equal(await c.command(['SET', 'k', 'v']), '+OK\r\n', 'ordinary commands while subscribed')
  t.equal(await p.command(['PUBLISH', 'ch', 'm1']), ':1\r\n')
  t.equal(await c.command(['GET', 'k']), '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm1\r\n' +
    '$1\r\nv\r\n', 'the push arrived before the next reply')
  t.equal(await c.command(['PUBLISH', 'ch', 'self']),
    '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n:1\r\n', 'own message, then the reply')
  t.equal(await c.command(['PING']), '+PONG\r\n', 'RESP3 PING is not the subscribed shape')
})

t.test('CLIENT LIST, CLIENT KILL TYPE pubsub and INFO count subscriptions', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const s = await RawClient.connect(server.port)
  const a = await RawClient.connect(server.port)
  t.teardown(() => { s.close(); a.close() })
  await s.command(['SUBSCRIBE', 'a', 'b'])
  await s.command(['PSUBSCRIBE', 'p*'])
  await s.command(['SSUBSCRIBE', 'x', 'y', 'z'])
  const list = await a.command(['CLIENT', 'LIST'])
  t.match(list, /flags=P db=0 sub=2 psub=1 ssub=3 /, 'the subscriber\'s line')
  t.match(list, /flags=N db=0 sub=0 psub=0 ssub=0 /, 'the other client\'s line')
  const pubsubOnly = await a.command(['CLIENT', 'LIST', 'TYPE', 'pubsub'])
  t.equal(pubsubOnly.split('\n').filter((l) => l.includes('id=')).length, 1)
  t.match(pubsubOnly, /sub=2 psub=1 ssub=3/)
  t.notMatch(await a.command(['CLIENT', 'LIST', 'TYPE', 'normal']), /flags=P/)
  const info = await a.command(['INFO', 'stats'])
  t.match(info, /pubsub_channels:2\r\n/)
  t.match(info, /pubsub_patterns:1\r\n/)
  t.match(info, /pubsubshard_channels:3\r\n/)
  t.match(await a.command(['CLIENT', 'KILL', 'TYPE', 'pubsub']), /^:1\r\n/)
  await s.closed
  t.match(await a.command(['INFO', 'stats']), /pubsub_channels:0\r\npubsub_patterns:0\r\n/,
    'a disconnected subscriber leaves no channel behind')
})

t.test('a subscriber that never reads is disconnected at the pubsub limit', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const admin = await RawClient.connect(server.port)
  const stuck = await RawClient.connect(server.port)
  const reader = await RawClient.connect(server.port)
  t.teardown(() => { admin.close(); stuck.close(); reader.close() })
  t.equal(await admin.command(['CONFIG', 'SET', 'client-output-buffer-limit',
    'pubsub 4mb 1mb 60']), '+OK\r\n')
  await stuck.command(['SUBSCRIBE', 'flood'])
  await reader.command(['SUBSCRIBE', 'flood'])
  stuck.socket.pause() // never reads again: the kernel buffers fill, then the server's
  const payload = Buffer.alloc(64 * 1024, 0x61)
  let received = 0
  reader.socket.on('data', (d: Buffer) => { received += d.length; reader.take() })
  let published = 0
  // Bounded: 256 MB at most; the stuck client goes long before (4 MB + kernel buffers).
  for (let i = 0; i < 4096 && !stuck.isClosed; i++) {
    admin.send(RawClient.encode('PUBLISH', 'flood', payload))
    published++
    if (i % 16 === 15) {
      await admin.readFor(5)
      if ((await admin.command(['PUBSUB', 'NUMSUB', 'flood'], 5)).endsWith(':1\r\n')) break
    }
  }
  t.match(await admin.command(['PUBSUB', 'NUMSUB', 'flood']), /:1\r\n$/,
    'the stuck subscriber is gone, the reading one stays')
  await admin.command(['PUBLISH', 'flood', 'last'])
  for (let i = 0; i < 200 && received < published * payload.length; i++) await wait(10)
  t.ok(received >= published * payload.length, 'the reading subscriber got every message')
  t.ok(published < 4096, `disconnected after ${published} messages of 64 KiB`)
})

t.test('notify-keyspace-events: accepted and read back as Redis does',
  async (t) => {
    const server = await startCapykv()
    t.teardown(() => server.stop())
    const c = await RawClient.connect(server.port)
    t.teardown(() => c.close())
    // Normalised as Redis's keyspaceEventsFlagsToString: 'A' hides every other event class
    // ('n' included, which stays on), and needs 'd' (module events) too.
    for (const [value, normal] of [['K', 'K'], ['A', 'A'], ['g$lshzxet', 'g$lshzxet'],
      ['g$lshzxetd', 'A'], ['xg', 'gx'], ['EnKA', 'AKE'], ['nE', 'nE'], ['KEA', 'AKE'],
      ['mKA', 'AKm'], ['', '']]) {
      t.equal(await c.command(['CONFIG', 'SET', 'notify-keyspace-events', value as string]),
        '+OK\r\n')
      t.equal(await c.command(['CONFIG', 'GET', 'notify-keyspace-events']),
        `*2\r\n$22\r\nnotify-keyspace-events\r\n$${(normal as string).length}\r\n${normal}\r\n`)
    }
    t.match(await c.command(['CONFIG', 'SET', 'notify-keyspace-events', 'K?']),
      /Invalid event class character/)
  })

/** Resolves once `client`'s stream ends with `suffix` (its tail only: no quadratic re-scan). */
function tailIs(client: RawClient, suffix: string, timeoutMs = 60_000): Promise<boolean> {
  return new Promise((resolve) => {
    let tail = ''
    const timer = setTimeout(() => { client.socket.off('data', onData); resolve(false) },
      timeoutMs)
    const onData = (d: Buffer): void => {
      tail = (tail + d.toString('latin1')).slice(-256)
      client.take()
      if (!tail.endsWith(suffix)) return
      clearTimeout(timer)
      client.socket.off('data', onData)
      resolve(true)
    }
    client.socket.on('data', onData)
  })
}

t.test('100,000 channels on one connection: subscribed, counted, published to, dropped',
  async (t) => {
    const server = await startCapykv()
    t.teardown(() => server.stop())
    const sub = await RawClient.connect(server.port)
    const pub = new Redis({ port: server.port, host: '127.0.0.1' })
    t.teardown(() => { sub.close(); pub.disconnect() })
    const subscribed = tailIs(sub, '$7\r\nc:99999\r\n:100000\r\n')
    for (let i = 0; i < 100_000; i += 10_000) {
      sub.send(RawClient.encode('SUBSCRIBE',
        ...Array.from({ length: 10_000 }, (_, j) => `c:${i + j}`)))
    }
    t.ok(await subscribed, 'the last confirmation counts 100,000')
    t.match(await pub.info('stats'), /pubsub_channels:100000\r\n/)
    t.equal((await pub.pubsub('CHANNELS', 'c:9999*') as string[]).length, 11)
    const message = tailIs(sub, '*3\r\n$7\r\nmessage\r\n$7\r\nc:77777\r\n$1\r\nx\r\n')
    t.equal(await pub.publish('c:77777', 'x'), 1)
    t.ok(await message, 'the message arrived')
    const unsubscribed = tailIs(sub, ':0\r\n')
    sub.send(RawClient.encode('UNSUBSCRIBE'))
    t.ok(await unsubscribed, 'UNSUBSCRIBE confirmed every channel')
    t.match(await pub.info('stats'), /pubsub_channels:0\r\n/)
  })
