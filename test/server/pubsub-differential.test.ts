// Differential test of pub/sub against a real redis-server 7.0.15, in RESP2 and in RESP3: the
// same steps go to both servers over three connections (A, B, C), and after each step every
// connection's output (replies, subscribe confirmations, messages pushed to it) is compared byte
// for byte. It covers every pub/sub command and PUBSUB subcommand, their errors, RESP2
// subscribed mode (what is refused and with which text, PING's shape), RESP3 pushes beside
// ordinary commands, pattern messages, sharded channels, binary-safe names and payloads,
// MULTI/EXEC, CLIENT REPLY OFF, RESET and QUIT.
// Where Redis's order is a hash table's (PUBSUB CHANNELS, UNSUBSCRIBE of every channel) the
// step is marked and compared as a multiset. Skips with a visible reason without redis-server;
// fails under CI=true.

import t from 'tap'
import { replyLength } from '../compat/resp.js'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

type Arg = string | Buffer
/** 'set': the reply is one array whose elements are compared as a multiset. 'frames': the
 * top-level frames of each connection as a multiset (their trailing counts in order). */
type Order = 'exact' | 'set' | 'frames'
interface Step { conn: 0 | 1 | 2; argv: Arg[]; order?: Order; only?: 2 | 3 }

const A = 0
const B = 1
const C = 2
const s = (conn: 0 | 1 | 2, ...argv: Arg[]): Step => ({ conn, argv })
const set = (conn: 0 | 1 | 2, ...argv: Arg[]): Step => ({ conn, argv, order: 'set' })
const frames = (conn: 0 | 1 | 2, ...argv: Arg[]): Step => ({ conn, argv, order: 'frames' })
const bin = (text: string): Buffer => Buffer.from(text, 'latin1')

export const STEPS: Step[] = [
  // arity and argument errors
  s(A, 'SUBSCRIBE'), s(A, 'PSUBSCRIBE'), s(A, 'SSUBSCRIBE'), s(B, 'PUBLISH', 'a'),
  s(B, 'PUBLISH', 'a', 'b', 'c'), s(B, 'SPUBLISH', 'a'), s(B, 'PUBSUB'),
  s(B, 'PUBSUB', 'FOO'), s(B, 'PUBSUB', 'NUMPAT', 'x'), s(B, 'PUBSUB', 'CHANNELS', 'a', 'b'),
  s(B, 'PUBSUB', 'SHARDCHANNELS', 'a', 'b'), s(B, 'PUBSUB', 'HELP'), s(B, 'PUBSUB', 'help', 'x'),
  s(B, 'pubsub', 'Channels'), s(B, 'PUBSUB', 'NUMSUB'), s(B, 'PUBSUB', 'NUMPAT'),
  s(B, 'PUBSUB', 'SHARDNUMSUB'), s(B, 'PUBSUB', 'SHARDCHANNELS'),
  // the command table's metadata
  s(B, 'COMMAND', 'INFO', 'subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'publish'),
  s(B, 'COMMAND', 'INFO', 'ssubscribe', 'sunsubscribe', 'spublish'),
  // (PUBSUB's subcommands come in the order of a hash table with a random seed: one by one)
  s(B, 'COMMAND', 'INFO', 'pubsub|channels', 'pubsub|numsub', 'pubsub|numpat', 'pubsub|help'),
  s(B, 'COMMAND', 'INFO', 'pubsub|shardchannels', 'pubsub|shardnumsub'),
  s(B, 'COMMAND', 'GETKEYS', 'spublish', 'a', 'b'), s(B, 'COMMAND', 'GETKEYS', 'ssubscribe', 'a'),
  s(B, 'COMMAND', 'GETKEYS', 'publish', 'a', 'b'),
  // unsubscribing from nothing
  s(A, 'UNSUBSCRIBE'), s(A, 'PUNSUBSCRIBE'), s(A, 'SUNSUBSCRIBE'), s(A, 'UNSUBSCRIBE', 'x', 'y'),
  s(A, 'PING'),
  // channels
  s(A, 'SUBSCRIBE', 'ch1'), s(A, 'SUBSCRIBE', 'ch1', 'ch2'), s(B, 'PUBLISH', 'ch1', 'hello'),
  s(B, 'PUBLISH', 'nochan', 'x'), s(B, 'PUBLISH', 'ch2', ''), s(A, 'PING'), s(A, 'PING', 'x'),
  s(A, 'ping', 'a', 'b'),
  // subscribed mode: RESP2 refuses, RESP3 runs
  s(A, 'GET', 'k'), s(A, 'SET', 'k', 'v'), s(B, 'GET', 'k'), s(A, 'CLIENT', 'GETNAME'),
  s(A, 'MULTI'), s(A, 'DISCARD'), s(A, 'ECHO', 'e'), s(A, 'PUBLISH', 'ch1', 'self'),
  s(A, 'PUBSUB', 'NUMSUB', 'ch1'), s(A, 'nosuchcommand'), s(A, 'SUBSCRIBE'),
  s(A, 'CLIENT', 'REPLY', 'ON'), s(A, 'CONFIG', 'GET', 'hz'),
  // patterns
  s(A, 'PSUBSCRIBE', 'ch*', 'h?llo', '[a-c]x'), s(A, 'PSUBSCRIBE', 'ch*'),
  s(B, 'PUBLISH', 'ch1', 'm'), s(B, 'PUBLISH', 'hello', 'x'), s(B, 'PUBLISH', 'bx', 'y'),
  s(B, 'PUBLISH', 'dx', 'y'), s(B, 'PUBSUB', 'NUMPAT'),
  s(B, 'PUBSUB', 'NUMSUB', 'ch1', 'ch2', 'nochan', 'ch*'), set(B, 'PUBSUB', 'CHANNELS'),
  set(B, 'PUBSUB', 'CHANNELS', 'ch?'), s(B, 'PUBSUB', 'CHANNELS', 'ch1'),
  s(B, 'PUBSUB', 'CHANNELS', 'zz*'), s(C, 'PSUBSCRIBE', 'h*'), s(B, 'PUBLISH', 'hello', 'two'),
  s(B, 'PUBSUB', 'NUMPAT'), s(C, 'PUNSUBSCRIBE', 'h*', 'nope'), s(B, 'PUBSUB', 'NUMPAT'),
  // sharded channels
  s(C, 'SSUBSCRIBE', 's1', 's2'), s(C, 'SSUBSCRIBE', 's1'), s(B, 'SPUBLISH', 's1', 'm'),
  s(B, 'PUBLISH', 's1', 'm'), s(B, 'SPUBLISH', 'ch1', 'x'), set(B, 'PUBSUB', 'SHARDCHANNELS'),
  s(B, 'PUBSUB', 'SHARDCHANNELS', 's1'), s(B, 'PUBSUB', 'SHARDNUMSUB', 's1', 's2', 'x'),
  s(B, 'PUBSUB', 'NUMSUB', 's1'), s(C, 'SUBSCRIBE', 'ch1'), s(B, 'PUBLISH', 'ch1', 'both'),
  s(C, 'PING'), s(C, 'UNSUBSCRIBE'), s(C, 'SUNSUBSCRIBE', 's1'), s(C, 'PING'),
  s(C, 'SUNSUBSCRIBE'), s(C, 'SUNSUBSCRIBE'), s(C, 'PING'),
  // unsubscribing, in subscription order for patterns
  s(A, 'UNSUBSCRIBE', 'ch2', 'never'), s(A, 'PUNSUBSCRIBE', 'h?llo'), s(A, 'PUNSUBSCRIBE'),
  s(A, 'UNSUBSCRIBE'), s(A, 'UNSUBSCRIBE'), s(A, 'PING'), s(B, 'PUBSUB', 'NUMSUB', 'ch1'),
  s(A, 'SUBSCRIBE', 'x', 'y', 'z'), frames(A, 'UNSUBSCRIBE'),
  s(A, 'PSUBSCRIBE', 'p1', 'p2', 'p3'), s(A, 'PUNSUBSCRIBE', 'p2'), s(A, 'PSUBSCRIBE', 'p2'),
  s(A, 'PUNSUBSCRIBE'),
  // binary-safe names and payloads; glob quirks
  s(A, 'SUBSCRIBE', bin('\x00\xff\r\n')), s(B, 'PUBLISH', bin('\x00\xff\r\n'), bin('b\x00\r\n')),
  s(A, 'PSUBSCRIBE', bin('\x00*')), s(B, 'PUBLISH', bin('\x00zz'), 'p'), s(A, 'SUBSCRIBE', ''),
  s(B, 'PUBLISH', '', 'empty'), s(A, 'PSUBSCRIBE', '*'), s(B, 'PUBLISH', 'any', 'thing'),
  s(A, 'PSUBSCRIBE', 'a[', 'b\\', '[^x]y', 'Q*'), s(B, 'PUBLISH', 'a', '1'),
  frames(B, 'PUBLISH', 'b\\', '2'), frames(B, 'PUBLISH', 'zy', '3'), s(B, 'PUBLISH', 'q', '4'),
  s(B, 'PUBLISH', 'a[', '5'), s(A, 'PUNSUBSCRIBE'), frames(A, 'UNSUBSCRIBE'),
  // MULTI/EXEC
  s(A, 'MULTI'), s(A, 'SUBSCRIBE', 'm1'), s(A, 'EXEC'), s(A, 'PING'),
  s(B, 'MULTI'), s(B, 'PUBLISH', 'm1', 'in-exec'), s(B, 'SET', 'mk', '1'), s(B, 'EXEC'),
  s(A, 'UNSUBSCRIBE'), s(A, 'MULTI'), s(A, 'SSUBSCRIBE', 'sx'), s(A, 'PSUBSCRIBE', 'mp'),
  s(A, 'EXEC'), s(A, 'PUNSUBSCRIBE'),
  // CLIENT REPLY OFF does not silence pushes
  s(A, 'CLIENT', 'REPLY', 'OFF'), s(A, 'SUBSCRIBE', 'q'), s(B, 'PUBLISH', 'q', 'z'),
  s(A, 'PING'), s(A, 'GET', 'k'), s(A, 'RESET'), s(B, 'PUBLISH', 'q', 'gone'),
  // RESET leaves every subscription; HELLO in subscribed mode
  s(A, 'SUBSCRIBE', 'r1'), s(A, 'PSUBSCRIBE', 'r*'), s(A, 'SSUBSCRIBE', 'rs'),
  s(A, 'HELLO', '2'), s(A, 'RESET'), s(B, 'PUBSUB', 'NUMSUB', 'r1'), s(B, 'PUBSUB', 'NUMPAT'),
  s(B, 'PUBSUB', 'SHARDNUMSUB', 'rs'), s(B, 'PUBLISH', 'r1', 'x'), s(A, 'PING'),
  s(A, 'GET', 'k'),
  // QUIT in subscribed mode; the channel is gone once the connection is
  s(C, 'SUBSCRIBE', 'gone'), s(C, 'QUIT'), s(B, 'PUBSUB', 'NUMSUB', 'gone'),
  s(B, 'PUBLISH', 'gone', 'x'),
]

/** Output of a connection that gets no barrier (inside MULTI, replies off) is read until quiet. */
const QUIET_MS = 100
const BARRIER_TIMEOUT_MS = 5000

/** Top-level frames of `b`. */
function splitFrames(b: Buffer): Buffer[] {
  const out: Buffer[] = []
  let pos = 0
  while (pos < b.length) {
    const n = replyLength(b, pos)
    if (n < 0) {
      out.push(b.subarray(pos))
      break
    }
    out.push(b.subarray(pos, pos + n))
    pos += n
  }
  return out
}

/** One array reply with its elements sorted. */
function sortedArray(frame: Buffer): string {
  const nl = frame.indexOf('\r\n')
  const header = frame.toString('latin1', 0, nl + 2)
  return header + splitFrames(frame.subarray(nl + 2)).map((e) => e.toString('latin1')).sort()
    .join('')
}

/** Frames as a multiset; each frame's trailing integer (a count) kept apart, in order. */
function framesMultiset(b: Buffer): string {
  const counts: string[] = []
  const rest = splitFrames(b).map((f) => {
    const text = f.toString('latin1')
    const m = /:(\d+)\r\n$/.exec(text)
    if (m !== null) counts.push(m[1] as string)
    return m === null ? text : text.slice(0, m.index)
  })
  return `${rest.sort().join('|')} counts ${counts.join(',')}`
}

function normalize(b: Buffer, order: Order): string {
  if (order === 'set') return splitFrames(b).map(sortedArray).join('')
  if (order === 'frames') return framesMultiset(b)
  return b.toString('latin1')
}

/**
 * Everything a step causes has arrived on a connection once the reply to a PING sent after it
 * arrived (a server answers one connection in order, and a message pushed by another client's
 * command is written before that command's reply is). The PING's reply is cut off: a bulk
 * string, or RESP2 subscribed mode's ["pong", marker]. Connections inside MULTI or under
 * CLIENT REPLY OFF get no PING (it would be queued or unanswered): they are read until quiet.
 */
async function readAll(clients: RawClient[], barrier: boolean[], n: number, acting: number):
  Promise<Buffer[]> {
  const marker = `sync:${n}`
  const bulk = `$${marker.length}\r\n${marker}\r\n`
  const subscribed = `*2\r\n$4\r\npong\r\n${bulk}`
  const read = async (i: number): Promise<Buffer> => {
    const c = clients[i] as RawClient
    if (!barrier[i] || c.isClosed) return c.readFor(QUIET_MS, 1000)
    c.send(RawClient.encode('PING', marker))
    const text = await c.readUntil(bulk, BARRIER_TIMEOUT_MS)
    if (text.endsWith(subscribed)) return Buffer.from(text.slice(0, -subscribed.length), 'latin1')
    if (text.endsWith(bulk)) return Buffer.from(text.slice(0, -bulk.length), 'latin1')
    return Buffer.from(`${text} (no barrier reply)`, 'latin1')
  }
  // The acting connection first: once its command is done, what it pushed to others is
  // written, and their PINGs come after it.
  const first = await read(acting)
  const rest = await Promise.all(clients.map((_, i) => i === acting ? first : read(i)))
  return rest
}

/** Runs the steps on one server; per step, per connection, the normalized output. */
export async function runSteps(port: number, proto: 2 | 3, steps: Step[]): Promise<string[][]> {
  const clients = [await RawClient.connect(port), await RawClient.connect(port),
    await RawClient.connect(port)]
  if (proto === 3) {
    for (const c of clients) await c.command(['HELLO', '3'], 10)
  }
  // Which connections may get a barrier PING (see readAll).
  const barrier = [true, true, true]
  const out: string[][] = []
  for (const [n, step] of steps.entries()) {
    if (step.only !== undefined && step.only !== proto) {
      out.push([])
      continue
    }
    const name = step.argv.map((a) => String(a).toUpperCase()).join(' ')
    if (name === 'MULTI' || name === 'CLIENT REPLY OFF') barrier[step.conn] = false
    if (['EXEC', 'DISCARD', 'RESET', 'CLIENT REPLY ON'].includes(name)) barrier[step.conn] = true
    ;(clients[step.conn] as RawClient).send(RawClient.encode(...step.argv))
    const got = await readAll(clients, barrier, n, step.conn)
    out.push(got.map((g) => normalize(g, step.order ?? 'exact')))
  }
  for (const c of clients) c.close()
  return out
}

function label(step: Step): string {
  return `${'ABC'[step.conn]}: ${step.argv.map((a) => JSON.stringify(
    typeof a === 'string' ? a : a.toString('latin1'))).join(' ')}`
}

for (const proto of [2, 3] as const) {
  t.test(`pub/sub in RESP${proto} replies and pushes as Redis 7.0.15, byte for byte`,
    async (t) => {
      if (!requireBinary(t, 'redis-server')) return
      const redis = await startRedis()
      t.teardown(() => redis.stop())
      const capykv = await startCapykv()
      t.teardown(() => capykv.stop())
      const [expected, actual] = await Promise.all([runSteps(redis.port, proto, STEPS),
        runSteps(capykv.port, proto, STEPS)])
      let same = 0
      for (let i = 0; i < STEPS.length; i++) {
        const step = STEPS[i] as Step
        const e = expected[i] as string[]
        const a = actual[i] as string[]
        if (JSON.stringify(e) === JSON.stringify(a)) same++
        else t.same(a, e, `step ${i} ${label(step)}`)
      }
      t.equal(same, STEPS.length, `${same} of ${STEPS.length} steps identical`)
      t.comment(`differential pubsub RESP${proto}: ${same}/${STEPS.length}`)
    })
}
