// Durability of what pub/sub observers see (DESIGN rule 2, issue 16 "Must show" 4): the real
// CapykvServer runs in-process on a Store over the SIMULATED PM with MANUAL group commits
// (nothing is durable until the test calls store.flush()). A writer connection pipelines seeded
// rounds of `SET k <i>` followed by `PUBLISH c <i>` / `SPUBLISH c <i>` (also inside MULTI/EXEC,
// and bare PUBLISHes of the last value), and subscribers — RESP2 SUBSCRIBE, RESP3 SUBSCRIBE +
// PSUBSCRIBE, RESP2 SSUBSCRIBE — check EVERY message the moment it arrives: the crash image of
// the durable bytes alone (sim.durable: what any crash keeps) is recovered, and its `k` must be
// at least the message's <i>. So no subscriber ever holds a message about a write a crash
// could undo. Liveness is checked too: after the last commit every published message has
// arrived, and a PUBLISH with no write pending is delivered with no commit at all.
// Keyspace notifications (notify-keyspace-events KE$) are checked the same way: two more
// subscribers (RESP2 SUBSCRIBE __keyspace@0__:k, RESP3 PSUBSCRIBE __keyevent@0__:*) count the
// notifications per key; the n-th `set` of k announces the n-th write (value n), the n-th
// `incrby` of `other` the value n, so on arrival the durable image must hold at least n.
// Client-side caching invalidations too: a RESP2 client tracks k (CLIENT TRACKING on, REDIRECT
// to a client subscribed to __redis__:invalidate) and re-reads k after each invalidation; an
// invalidation announces a write made after the tracker's last GET, whose reply showed v, so on
// arrival the durable image must hold k > v.
// The test of the test: the same run over a server built with the unsafePublishBeforeDurable
// mutation (messages, notifications and invalidations written to sockets at once) must report
// violations of each kind.
// CAPYKV_SIM_SEED reproduces the seed printed.

import t from 'tap'
import type { CommandTable } from '../../src/commands/services.js'
import { loadCommandTable } from '../../src/commands/table.js'
import { recover, type RegionReader } from '../../src/recovery/recover.js'
import { CapykvServer } from '../../src/server.js'
import { ServerConfig } from '../../src/server-config.js'
import { logger } from '../../src/server-log.js'
import { formatRegion } from '../../src/storage/setup.js'
import { Store } from '../../src/txn/engine.js'
import { ReplyFramer, parseReply, type Value } from '../compat/resp.js'
import { RawClient } from '../helpers/servers.js'
import { Prng, seedFromEnv } from './prng.js'
import { DEFAULT_POLICY, SimRegion } from './sim-region.js'
import { poolBytesFor } from './workload.js'

const RING_BYTES = 64 * 1024
const ROUNDS = 60
/** Time for the in-process server to run what was sent (no assertion depends on it). */
const SETTLE_MS = 20
/** Bound of the waits for arrivals (a loaded CI machine: up to 15 s). */
const WAIT_ROUNDS = 750

function reader(buf: Buffer): RegionReader {
  return { sizeBytes: buf.length, read: (offset, length) => buf.subarray(offset, offset + length) }
}

interface RunResult {
  violations: string[]
  /** Violations (the first 20 are in `violations`) by PUBLISH messages and by notifications. */
  messageViolations: number
  notificationViolations: number
  notificationsChecked: number
  /** Every SET of k on the keyspace channel and on keyevent, every INCR of other on keyevent. */
  notificationsExpected: number
  messagesChecked: number
  messagesExpected: number
  invalidationsChecked: number
  invalidationViolations: number
  bareDeliveredWithoutCommit: boolean
  commits: number
}

let tableCache: CommandTable | null = null
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS))

async function run(seed: number, mutation: boolean): Promise<RunResult> {
  const rng = new Prng(seed)
  const sim = new SimRegion(poolBytesFor(RING_BYTES), DEFAULT_POLICY, rng.fork())
  formatRegion(sim, rng.bytes(16), 0)
  const store = Store.openRegionSync(sim, { groupCommit: 'manual', autoCheckpoint: false })
  const config = new ServerConfig()
  config.setAtStartup('port', ['0'])
  config.setAtStartup('notify-keyspace-events', ['KE$'])
  logger.level = 'warning'
  tableCache ??= await loadCommandTable()
  const server = new CapykvServer({ config, table: tableCache, poolPath: '(simulated)',
    unsafePublishBeforeDurable: mutation })
  server.onExit = () => {}
  await server.listen()
  server.attachStore(store)
  const result: RunResult = { violations: [], messageViolations: 0, notificationViolations: 0,
    notificationsChecked: 0, notificationsExpected: 0, messagesChecked: 0, messagesExpected: 0,
    invalidationsChecked: 0, invalidationViolations: 0, bareDeliveredWithoutCommit: false,
    commits: 0 }

  /** The integer at `key` in the image a crash right now would certainly keep. */
  const durableValue = (key: string): number => {
    const r = recover(reader(sim.durable))
    if (r.kind !== 'ok') throw new Error(`recovery of the durable image: ${r.kind}`)
    const v = r.keyspace.get(0, key)?.value
    return Buffer.isBuffer(v) ? Number(v.toString()) : 0
  }
  const violation = (text: string): void => {
    if (result.violations.length < 20) result.violations.push(text)
  }

  const writer = await RawClient.connect(server.boundPort)
  const subscribers: { name: string; client: RawClient; received: number }[] = []
  const subscribe = async (name: string, setup: string[][]): Promise<void> => {
    const client = await RawClient.connect(server.boundPort)
    for (const argv of setup) await client.command(argv, 10)
    const sub = { name, client, received: 0 }
    const framer = new ReplyFramer()
    /** Notifications received per key. */
    const notified = new Map<string, number>()
    // Checked synchronously on arrival: the server (same process) cannot commit meanwhile.
    client.socket.on('data', (chunk: Buffer) => {
      framer.feed(chunk)
      for (let f = framer.next(); f !== null; f = framer.next()) {
        const v = parseReply(f) as Value[]
        const payload = v[v.length - 1]
        const channel = String(v[v.length - 2])
        if (!Buffer.isBuffer(payload)) continue
        if (channel.startsWith('__key')) {
          // __keyspace@0__:<key> <event> or __keyevent@0__:<event> <key>
          const key = channel.startsWith('__keyspace') ? channel.slice(15) : payload.toString()
          const n = (notified.get(key) ?? 0) + 1
          notified.set(key, n)
          result.notificationsChecked++
          const durable = durableValue(key)
          if (durable < n) {
            result.notificationViolations++
            violation(`seed ${seed}: ${name} received notification ${n} of ${key} while ` +
              `the durable image holds ${key}=${durable}`)
          }
          continue
        }
        const i = Number(payload.toString())
        sub.received++
        result.messagesChecked++
        const durable = durableValue('k')
        if (durable < i) {
          result.messageViolations++
          violation(`seed ${seed}: ${name} received message ${i} while the durable image ` +
            `holds k=${durable}`)
        }
      }
      client.take()
    })
    subscribers.push(sub)
  }
  await subscribe('RESP2 SUBSCRIBE', [['SUBSCRIBE', 'c']])
  await subscribe('RESP3 SUBSCRIBE+PSUBSCRIBE', [['HELLO', '3'], ['SUBSCRIBE', 'c'],
    ['PSUBSCRIBE', 'c*']])
  await subscribe('RESP2 SSUBSCRIBE', [['SSUBSCRIBE', 'c']])
  await subscribe('RESP2 keyspace', [['SUBSCRIBE', '__keyspace@0__:k']])
  await subscribe('RESP3 keyevent', [['HELLO', '3'], ['PSUBSCRIBE', '__keyevent@0__:*']])
  const tracking = await trackKey(server.boundPort, (trackedAt) => {
    result.invalidationsChecked++
    const durable = durableValue('k')
    if (durable <= trackedAt) {
      result.invalidationViolations++
      violation(`seed ${seed}: an invalidation of k (tracked at k=${trackedAt}) arrived while ` +
        `the durable image holds k=${durable}`)
    }
  })
  const perPublish = 3 // RESP2 + RESP3 channel + RESP3 pattern
  const perSpublish = 1

  // A PUBLISH with no write pending needs no commit to be delivered (the test is not vacuous).
  // Polled (bounded) with no commit meanwhile: a loaded machine may take more than one settle.
  writer.send(RawClient.encode('PUBLISH', 'c', '0'))
  result.messagesExpected += perPublish
  const first = subscribers[0] as { received: number }
  for (let w = 0; w < WAIT_ROUNDS && first.received === 0; w++) await settle()
  result.bareDeliveredWithoutCommit = first.received === 1

  let written = 0
  let incrs = 0
  const processedBefore = server.services.stats.totalCommandsProcessed - tracking.gets()
  let writerCommands = 0
  for (let round = 0; round < ROUNDS; round++) {
    const parts: Buffer[] = []
    const ops = 1 + rng.int(4)
    for (let o = 0; o < ops; o++) {
      const shape = rng.int(5)
      written++
      const i = String(written)
      if (shape === 0) {
        parts.push(RawClient.encode('SET', 'k', i), RawClient.encode('PUBLISH', 'c', i))
        result.messagesExpected += perPublish
      } else if (shape === 1) {
        parts.push(RawClient.encode('SET', 'k', i), RawClient.encode('SPUBLISH', 'c', i))
        result.messagesExpected += perSpublish
      } else if (shape === 2) {
        parts.push(RawClient.encode('MULTI'), RawClient.encode('SET', 'k', i),
          RawClient.encode('PUBLISH', 'c', i), RawClient.encode('EXEC'))
        result.messagesExpected += perPublish
      } else if (shape === 3) {
        // Publish first, write after: this message announces the previous value.
        parts.push(RawClient.encode('PUBLISH', 'c', String(written - 1)),
          RawClient.encode('SET', 'k', i))
        result.messagesExpected += perPublish
      } else {
        parts.push(RawClient.encode('SET', 'k', i), RawClient.encode('INCR', 'other'),
          RawClient.encode('PUBLISH', 'c', i), RawClient.encode('PUBLISH', 'c', i))
        incrs++
        result.messagesExpected += 2 * perPublish
      }
    }
    writerCommands += parts.length
    // Sometimes split the pipeline across two reads (two batches before one commit).
    if (rng.bool(0.3) && parts.length > 1) {
      const cut = 1 + rng.int(parts.length - 1)
      writer.send(Buffer.concat(parts.slice(0, cut)))
      await settle()
      writer.send(Buffer.concat(parts.slice(cut)))
    } else {
      writer.send(Buffer.concat(parts))
    }
    await settle()
    if (rng.bool(0.6)) {
      store.flush()
      result.commits++
      await settle()
    }
  }
  // The last commit must come after the server has run every command sent (else writes made
  // after it wait for a commit that never comes): commands processed, counted by the server,
  // reach what the writer and the tracker sent since `processedBefore`.
  const stats = server.services.stats
  for (let w = 0; w < WAIT_ROUNDS &&
    stats.totalCommandsProcessed < processedBefore + writerCommands + tracking.gets(); w++) {
    await settle()
  }
  store.flush()
  result.commits++
  for (let w = 0; w < WAIT_ROUNDS; w++) {
    const got = subscribers.reduce((n, s) => n + s.received, 0)
    if (got >= result.messagesExpected &&
      result.notificationsChecked >= 2 * written + incrs) break
    await settle()
  }
  result.notificationsExpected = 2 * written + incrs
  writer.close()
  tracking.close()
  for (const s of subscribers) s.client.close()
  server.requestShutdown(false, 'test over')
  await new Promise((r) => setTimeout(r, 50))
  return result
}

/**
 * A tracker of `k` redirecting to a subscriber of __redis__:invalidate. `onInvalidation(v)` runs
 * on each invalidation's arrival with the value the tracker's last GET showed; the tracker then
 * reads k again (tracking it again).
 */
async function trackKey(port: number, onInvalidation: (trackedAt: number) => void):
  Promise<{ close(): void; gets(): number }> {
  const inval = await RawClient.connect(port)
  const id = (await inval.command(['CLIENT', 'ID'], 10)).slice(1, -2)
  await inval.command(['SUBSCRIBE', '__redis__:invalidate'], 10)
  const tracker = await RawClient.connect(port)
  await tracker.command(['CLIENT', 'TRACKING', 'on', 'REDIRECT', id], 10)
  let trackedAt = 0
  const replies = new ReplyFramer()
  tracker.socket.on('data', (chunk: Buffer) => {
    replies.feed(chunk)
    for (let f = replies.next(); f !== null; f = replies.next()) {
      const v = parseReply(f)
      trackedAt = Buffer.isBuffer(v) ? Number(v.toString()) : 0
    }
    tracker.take()
  })
  await tracker.command(['GET', 'k'], 10)
  let gets = 1
  const messages = new ReplyFramer()
  inval.socket.on('data', (chunk: Buffer) => {
    messages.feed(chunk)
    for (let f = messages.next(); f !== null; f = messages.next()) {
      const v = parseReply(f) as Value[]
      const keys = v[2]
      if (!Array.isArray(keys) || String(keys[0]) !== 'k') continue
      onInvalidation(trackedAt)
      tracker.send(RawClient.encode('GET', 'k'))
      gets++
    }
    inval.take()
  })
  return { close: () => { tracker.close(); inval.close() }, gets: () => gets }
}

/** One seed for both runs: the mutation is caught on the very workload the real build passes. */
const SEED = seedFromEnv()

t.test('no subscriber receives a PUBLISH issued after a write, or a keyspace notification, ' +
  'before the write is durable',
  async (t) => {
    const seed = SEED
    t.comment(`seed ${seed} (CAPYKV_SIM_SEED=${seed} reproduces it)`)
    const r = await run(seed, false)
    t.same(r.violations, [], 'every message arrived after its write was durable')
    t.ok(r.bareDeliveredWithoutCommit, 'a PUBLISH with no write pending needs no commit')
    t.equal(r.messagesChecked, r.messagesExpected,
      'after the last commit every published message has arrived')
    t.equal(r.notificationsChecked, r.notificationsExpected,
      'after the last commit every keyspace notification has arrived')
    t.ok(r.invalidationsChecked > 0, `${r.invalidationsChecked} tracking invalidations checked`)
    t.ok(r.commits > 10, `${r.commits} manual group commits`)
    t.comment(`pubsub durability: ${r.messagesChecked} messages and ${r.notificationsChecked} ` +
      `keyspace notifications and ${r.invalidationsChecked} invalidations checked against the ` +
      `durable image, ${r.commits} commits`)
  })

t.test('test of the test: a server that publishes before the commit is caught', async (t) => {
  const r = await run(SEED, true)
  t.ok(r.messageViolations > 0,
    `premature messages are detected (${r.messageViolations} violations, e.g. ` +
    `${r.violations[0] ?? 'none'})`)
  t.ok(r.notificationViolations > 0,
    `premature keyspace notifications are detected (${r.notificationViolations})`)
  t.ok(r.invalidationViolations > 0,
    `premature tracking invalidations are detected (${r.invalidationViolations})`)
})
