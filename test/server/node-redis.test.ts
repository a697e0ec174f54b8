// node-redis (the `redis` package, 6.x) against capykv (issue 16, "Must show" 3): subscribe,
// pSubscribe and sSubscribe with text and binary payloads in RESP2 and RESP3, RESP3 client-side
// caching (`clientSideCache`: CLIENT TRACKING on, a cached GET, invalidated by another client's
// SET, by the client's own SET and by FLUSHALL) and `emitInvalidate`, and resubscription after a
// server restart. Each scenario returns what the client observed; it is checked against fixed
// expectations and, when redis-server is on PATH, against the same scenario run on redis-server
// 7.0.15 (skipped with a visible reason otherwise; fails under CI=true).
// `redis` is a devDependency loaded at run time through a variable, with the few types used
// here declared below: a checkout whose node_modules predates it still compiles, and this file
// then skips with a visible reason (fails under CI=true, where npm ci installs it).

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  hasBinary, requireBinary, skipWithReason, startCapykv, startRedis,
} from '../helpers/servers.js'

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

type Listener<T> = (message: T, channel: T) => void

/** The part of node-redis's client this file uses. */
interface Client {
  connect(): Promise<unknown>
  destroy(): void
  on(event: string, listener: (...args: unknown[]) => void): unknown
  subscribe(channels: string | string[], listener: Listener<string>): Promise<void>
  subscribe(channels: string | string[], listener: Listener<Buffer>, buffers: true):
    Promise<void>
  pSubscribe(patterns: string | string[], listener: Listener<string>): Promise<void>
  sSubscribe(channels: string | string[], listener: Listener<string>): Promise<void>
  unsubscribe(channels?: string | string[]): Promise<void>
  pUnsubscribe(patterns?: string | string[]): Promise<void>
  publish(channel: string, message: string | Buffer): Promise<number>
  sPublish(channel: string, message: string): Promise<number>
  pubSubNumSub(channels: string[]): Promise<Record<string, number>>
  pubSubNumPat(): Promise<number>
  pubSubChannels(): Promise<string[]>
  sendCommand(args: string[]): Promise<unknown>
  get(key: string): Promise<string | null>
  mGet(keys: string[]): Promise<(string | null)[]>
  set(key: string, value: string): Promise<unknown>
  mSet(pairs: [string, string][]): Promise<unknown>
  del(keys: string[]): Promise<number>
  hGet(key: string, field: string): Promise<string | null>
  hSet(key: string, field: string, value: string): Promise<number>
  flushAll(): Promise<unknown>
  flushDb(): Promise<unknown>
  readonly clientSideCache?: {
    stats(): { hitCount: number; missCount: number }
    size(): number
  }
}

type CreateClient = (options: Record<string, unknown>) => Client

const NODE_REDIS = 'redis' // through a variable: tsc does not resolve it
const createClient: CreateClient | null = await import(NODE_REDIS).then(
  (m: { createClient: CreateClient }) => m.createClient, () => null)

async function connect(port: number, options: Record<string, unknown> = {}): Promise<Client> {
  if (createClient === null) throw new Error('node-redis (the redis package) is not installed')
  const c = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: () => 50 },
    ...options })
  c.on('error', () => undefined) // a restart's connection errors: the client reconnects
  await c.connect()
  return c
}

/** Waits (bounded) until `done()` holds; returns whether it did. */
async function until(done: () => boolean, timeoutMs = 5000): Promise<boolean> {
  for (let waited = 0; !done() && waited < timeoutMs; waited += 10) await wait(10)
  return done()
}

/** Pub/sub through node-redis: what the subscriber received, in order, and the counts. */
async function pubsubScenario(port: number, resp: 2 | 3): Promise<unknown[]> {
  const sub = await connect(port, { RESP: resp })
  const pub = await connect(port, { RESP: resp })
  // Messages and replies apart: a message and its PUBLISH's reply travel on two connections.
  const log: unknown[] = []
  const messages: unknown[] = []
  let received = 0
  const got = (entry: unknown[]): void => {
    received++
    messages.push(entry)
  }
  try {
    await sub.subscribe(['news', 'sport'], (message, channel) => {
      got(['message', channel, message])
    })
    await sub.pSubscribe('ne*', (message, channel) => got(['pmessage', channel, message]))
    await sub.sSubscribe('shard', (message, channel) => got(['smessage', channel, message]))
    await sub.subscribe('bin', (message: Buffer, channel: Buffer) => {
      got(['buffer', channel.toString('hex'), message.toString('hex')])
    }, true)
    log.push(['published', await pub.publish('news', 'hello')])
    log.push(['published', await pub.publish('bin', Buffer.from([0, 255, 13, 10]))])
    log.push(['published', await pub.sPublish('shard', 'sharded')])
    log.push(['numsub', await pub.pubSubNumSub(['news', 'sport', 'none'])])
    log.push(['numpat', await pub.pubSubNumPat()])
    log.push(['channels', (await pub.pubSubChannels()).sort()])
    await until(() => received >= 4)
    await sub.unsubscribe('news')
    log.push(['published after unsubscribe', await pub.publish('news', 'again')])
    await until(() => received >= 5)
    await sub.pUnsubscribe()
    log.push(['published after punsubscribe', await pub.publish('news', 'gone')])
    await wait(50) // nothing must arrive; a message here would show in the log
    return [...messages, ...log]
  } finally {
    sub.destroy()
    pub.destroy()
  }
}

const PUBSUB_EXPECTED: unknown[] = [
  ['message', 'news', 'hello'], ['pmessage', 'news', 'hello'],
  ['buffer', Buffer.from('bin').toString('hex'), '00ff0d0a'], ['smessage', 'shard', 'sharded'],
  ['pmessage', 'news', 'again'],
  ['published', 2], ['published', 1], ['published', 1],
  ['numsub', { news: 1, sport: 1, none: 0 }], ['numpat', 1], ['channels', ['bin', 'news', 'sport']],
  ['published after unsubscribe', 1], ['published after punsubscribe', 0],
]

/** Client-side caching through node-redis (RESP3): values read and cache statistics. */
async function cachingScenario(port: number): Promise<unknown[]> {
  const cached = await connect(port, { RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } })
  const writer = await connect(port)
  const log: unknown[] = []
  try {
    const cache = cached.clientSideCache
    if (cache === undefined) throw new Error('node-redis made no client-side cache')
    const info = await cached.sendCommand(['CLIENT', 'TRACKINGINFO'])
    log.push(['tracking', (info as Record<string, unknown>)['flags']])
    await writer.set('k', 'v1')
    log.push(['get', await cached.get('k'), await cached.get('k')])
    log.push(['hits', cache.stats().hitCount, 'misses', cache.stats().missCount])
    await writer.set('k', 'v2') // invalidates k: without the push the cache serves v1 forever
    let seen: string | null = null
    for (let i = 0; i < 500 && seen !== 'v2'; i++) {
      seen = await cached.get('k')
      if (seen !== 'v2') await wait(10)
    }
    log.push(['after another client wrote', seen])
    await cached.set('k', 'v3') // its own write invalidates too (no NOLOOP)
    for (let i = 0; i < 500 && seen !== 'v3'; i++) {
      seen = await cached.get('k')
      if (seen !== 'v3') await wait(10)
    }
    log.push(['after its own write', seen])
    await writer.flushAll() // a null invalidation: the whole cache goes
    for (let i = 0; i < 500 && seen !== null; i++) {
      seen = await cached.get('k')
      if (seen !== null) await wait(10)
    }
    log.push(['after FLUSHALL', seen, 'entries', cache.size()])
    return log
  } finally {
    cached.destroy()
    writer.destroy()
  }
}

const CACHING_EXPECTED: unknown[] = [
  ['tracking', ['on']], ['get', 'v1', 'v1'], ['hits', 1, 'misses', 1],
  ['after another client wrote', 'v2'], ['after its own write', 'v3'],
  ['after FLUSHALL', null, 'entries', 1], // the null read again is cached
]

/** `emitInvalidate`: the keys of the invalidation pushes node-redis reports. */
async function invalidateScenario(port: number): Promise<unknown[]> {
  const tracker = await connect(port, { RESP: 3, emitInvalidate: true })
  const writer = await connect(port)
  const log: unknown[] = []
  tracker.on('invalidate', (key: unknown) => {
    log.push(['invalidate', key === null ? null : String(key)])
  })
  try {
    await writer.mSet([['b', '1'], ['c', '1']])
    await tracker.get('a')
    await tracker.mGet(['b', 'c'])
    await writer.set('a', '1') // tracked: one push
    await writer.set('a', '2') // no longer tracked until read again: none
    await writer.del(['b', 'c', 'd']) // two keys deleted: two pushes
    await until(() => log.length >= 3)
    await tracker.hGet('h', 'f')
    await writer.hSet('h', 'f', 'v')
    await until(() => log.length >= 4)
    await tracker.get('a')
    await writer.flushDb()
    await until(() => log.length >= 5)
    await wait(50) // anything more would show in the log
    return log
  } finally {
    tracker.destroy()
    writer.destroy()
  }
}

const INVALIDATE_EXPECTED: unknown[] = [
  ['invalidate', 'a'], ['invalidate', 'b'], ['invalidate', 'c'], ['invalidate', 'h'],
  ['invalidate', null],
]

/** Runs `scenario` on capykv, checks it, and compares it with redis-server's when present. */
async function compare(t: TapTest, scenario: (port: number) => Promise<unknown[]>,
  expected: unknown[]): Promise<void> {
  if (!haveNodeRedis(t)) return
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const mine = await scenario(server.port)
  t.same(mine, expected, 'capykv: what node-redis observed')
  if (!hasBinary('redis-server')) {
    requireBinary(t, 'redis-server')
    return
  }
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  t.same(mine, await scenario(redis.port), 'the same as against redis-server')
}

type TapTest = Pick<typeof t, 'same' | 'teardown' | 'fail' | 'skip'>

/** node-redis installed; else fails under CI=true, or skips with a visible reason. */
function haveNodeRedis(t: TapTest): boolean {
  if (createClient !== null) return true
  const reason = 'node-redis (the redis package) is not installed: npm install'
  if (process.env.CI === 'true') t.fail(reason)
  else skipWithReason(t, `${reason}; skipped`)
  return false
}

t.test('node-redis subscribe, pSubscribe and sSubscribe in RESP2', (t) =>
  compare(t, (port) => pubsubScenario(port, 2), PUBSUB_EXPECTED))

t.test('node-redis subscribe, pSubscribe and sSubscribe in RESP3', (t) =>
  compare(t, (port) => pubsubScenario(port, 3), PUBSUB_EXPECTED))

t.test('node-redis client-side cache (RESP3): cached reads invalidated by writes and FLUSHALL',
  (t) => compare(t, cachingScenario, CACHING_EXPECTED))

t.test('node-redis emitInvalidate: one push per tracked key written, null at FLUSHDB',
  (t) => compare(t, invalidateScenario, INVALIDATE_EXPECTED))

t.test('node-redis resubscribes after a server restart and receives again', async (t) => {
  if (!haveNodeRedis(t)) return
  const dir = mkdtempSync(join(tmpdir(), 'capykv-node-redis-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let server = await startCapykv({ dir })
  const port = server.port
  const sub = await connect(port)
  t.teardown(() => { sub.destroy() })
  const got: string[] = []
  await sub.subscribe('ch', (message) => got.push(message))
  await sub.pSubscribe('c*', (message) => got.push(`p:${message}`))
  await server.stop()
  server = await startCapykv({ dir, port })
  t.teardown(() => server.stop())
  const pub = await connect(port)
  t.teardown(() => { pub.destroy() })
  let delivered = 0
  for (let i = 0; i < 400 && delivered < 2; i++) {
    delivered = await pub.publish('ch', 'back')
    if (delivered < 2) await wait(25)
  }
  t.equal(delivered, 2, 'both subscriptions are back after the restart')
  t.ok(await until(() => got.includes('back') && got.includes('p:back')),
    'and the messages arrive')
})
