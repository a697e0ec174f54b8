// Issue 10: blocking timeouts in seconds through the real server, against redis-server 7.0.15.
// Redis computes the timeout as (long long)ceill(seconds * 1000.0), so a positive timeout under
// a millisecond waits 1 ms: it must answer nil, never park the client for ever (where it would
// later steal an element pushed for somebody else). Every blocking command that takes seconds
// is covered: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP.
// The tests assert outcomes only (which reply arrives, where the element goes), each wait
// bounded; no duration is measured. The exact millisecond values are unit-tested in
// test/unit/blocking-timeout.test.ts.

import net from 'node:net'
import t from 'tap'
import { requireBinary, startCapykv, startRedis } from '../helpers/servers.js'
import { ReplyFramer, encodeCommand } from '../compat/resp.js'

/** How long a reply that must come may take (generous: the machine is shared). */
const REPLY_BOUND_MS = 5000
/** How long we listen for a reply that must not come. */
const SILENCE_MS = 300

/** A client that hands out whole replies, with a bounded wait. */
class Client {
  private readonly framer = new ReplyFramer()
  private readonly replies: string[] = []
  private wake: (() => void) | null = null

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.framer.feed(d)
      for (let r = this.framer.next(); r !== null; r = this.framer.next()) {
        this.replies.push(r.toString('latin1'))
      }
      this.wake?.()
    })
    socket.on('error', () => { /* the test sees missing replies */ })
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => resolve(new Client(socket)))
      socket.once('error', reject)
    })
  }

  send(...argv: string[]): void {
    this.socket.write(encodeCommand(argv))
  }

  /** The next whole reply, or null when none came within waitMs. */
  async reply(waitMs = REPLY_BOUND_MS): Promise<string | null> {
    if (this.replies.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => { this.wake = null; resolve() }, waitMs)
        this.wake = () => { clearTimeout(timer); this.wake = null; resolve() }
      })
    }
    return this.replies.shift() ?? null
  }

  async call(...argv: string[]): Promise<string | null> {
    this.send(...argv)
    return this.reply()
  }

  close(): void {
    this.socket.destroy()
  }
}

interface Form {
  /** The request with this key and timeout argument. */
  request(key: string, timeout: string): string[]
  /** A push that makes the key servable. */
  push(key: string): string[]
  /** What the key and the command's destination hold afterwards. */
  contents(key: string): string[][]
}

const listForm = (request: (k: string, to: string) => string[]): Form => ({
  request,
  push: (k) => ['RPUSH', k, 'pushed'],
  contents: (k) => [['LRANGE', k, '0', '-1'], ['LRANGE', `${k}:dst`, '0', '-1']],
})
const zsetForm = (request: (k: string, to: string) => string[]): Form => ({
  request,
  push: (k) => ['ZADD', k, '1', 'pushed'],
  contents: (k) => [['ZRANGE', k, '0', '-1', 'WITHSCORES']],
})

const FORMS: Record<string, Form> = {
  BLPOP: listForm((k, to) => ['BLPOP', k, to]),
  BRPOP: listForm((k, to) => ['BRPOP', k, to]),
  BLMOVE: listForm((k, to) => ['BLMOVE', k, `${k}:dst`, 'LEFT', 'RIGHT', to]),
  BRPOPLPUSH: listForm((k, to) => ['BRPOPLPUSH', k, `${k}:dst`, to]),
  BLMPOP: listForm((k, to) => ['BLMPOP', to, '1', k, 'LEFT']),
  BZPOPMIN: zsetForm((k, to) => ['BZPOPMIN', k, to]),
  BZPOPMAX: zsetForm((k, to) => ['BZPOPMAX', k, to]),
  BZMPOP: zsetForm((k, to) => ['BZMPOP', to, '1', k, 'MIN']),
}

/** Timeouts that must answer nil: under a millisecond, and around a second (0.007: x87). */
const TIMEOUTS = ['0.001', '0.0001', '1e-9', '0x1p-30', '0.007', '0.9999', '1.0000001']
/** Timeouts Redis 7.0.15 refuses, and one it rounds up to 0 (forever): checked at once. */
const REFUSED = ['inf', '-inf', '+inf', 'Infinity', 'nan', '-1', '-0.0011', 'x', '', '1e400',
  '1e5000', '1e-5000', '9223372036854775.808', '1e16', '1 ', ' 1', '0.5\x00']

type Server = { name: string, port: number }

async function startBoth(t: { teardown(fn: () => unknown): void }):
  Promise<[Server, Server] | null> {
  if (!requireBinary(t, 'redis-server')) return null
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  return [{ name: 'redis-server', port: redis.port }, { name: 'capykv', port: capykv.port }]
}

/** Waits (bounded) until INFO reports `count` blocked clients. */
async function blockedClients(c: Client, count: number): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    const info = await c.call('INFO', 'clients') ?? ''
    if (info.includes(`blocked_clients:${count}\r\n`)) return true
    await new Promise((r) => setTimeout(r, 10))
  }
  return false
}

type Tap = Pick<typeof t, 'equal' | 'same' | 'match'>
type Check = (t: Tap, servers: [Server, Server]) => Promise<void>

const CHECKS: [string, Check][] = []
function check(name: string, fn: Check): void {
  CHECKS.push([name, fn])
}

check('fractional timeouts on every blocking command answer nil as Redis 7.0.15',
  async (t, servers) => {
    // Every case on its own connection and key, all at once: the longest (1.0000001 s) bounds
    // the run.
    const run = async (server: Server): Promise<Record<string, string | null>> => {
      const jobs: Promise<[string, string | null]>[] = []
      for (const [name, form] of Object.entries(FORMS)) {
        for (const timeout of TIMEOUTS) {
          for (const protocol of ['2', '3']) {
            jobs.push((async (): Promise<[string, string | null]> => {
              const c = await Client.connect(server.port)
              if (protocol === '3') await c.call('HELLO', '3')
              const label = `RESP${protocol} ${name} … ${timeout}`
              const reply = await c.call(...form.request(`k:${name}:${timeout}`, timeout))
              c.close()
              return [label, reply]
            })())
          }
        }
      }
      return Object.fromEntries(await Promise.all(jobs))
    }
    const [expected, actual] = await Promise.all(servers.map(run)) as
      [Record<string, string | null>, Record<string, string | null>]
    for (const label of Object.keys(expected)) {
      const nil = label.startsWith('RESP3') ? '_\r\n' : '*-1\r\n'
      t.equal(expected[label], nil, `redis-server: ${label} answers nil`)
      t.equal(actual[label], expected[label], `capykv: ${label}`)
    }
  })

check('refused timeouts answer Redis 7.0.15\'s errors byte for byte', async (t, servers) => {
  const run = async (server: Server): Promise<string[]> => {
    const c = await Client.connect(server.port)
    const out: string[] = []
    for (const [name, form] of Object.entries(FORMS)) {
      for (const timeout of REFUSED) {
        const reply = await c.call(...form.request('k', timeout))
        out.push(`${name} ${JSON.stringify(timeout)} → ${reply}`)
      }
    }
    c.close()
    return out
  }
  const [expected, actual] = await Promise.all(servers.map(run)) as [string[], string[]]
  t.match(expected.join('\n'), /BLPOP "inf" → -ERR timeout is negative\r\n/, 'the 7.0.15 text')
  t.same(actual, expected)
})

check('a timeout rounding up to 0 (-0.0009) blocks until a push, as in Redis 7.0.15',
  async (t, servers) => {
    const run = async (server: Server): Promise<string[]> => {
      const pusher = await Client.connect(server.port)
      const waiter = await Client.connect(server.port)
      const out: string[] = []
      for (const [name, form] of Object.entries(FORMS)) {
        const key = `neg:${name}`
        waiter.send(...form.request(key, '-0.0009'))
        out.push(`${name} blocked: ${await blockedClients(pusher, 1)}`)
        out.push(`${name} push: ${await pusher.call(...form.push(key))}`)
        out.push(`${name} served: ${await waiter.reply()}`)
      }
      pusher.close()
      waiter.close()
      return out
    }
    const [expected, actual] = await Promise.all(servers.map(run)) as [string[], string[]]
    t.same(actual, expected)
  })

check('a client that timed out never receives a later push', async (t, servers) => {
  const run = async (server: Server): Promise<string[]> => {
    const conns = await Promise.all([0, 1, 2].map(() => Client.connect(server.port)))
    const [pusher, early, next] = conns as [Client, Client, Client]
    const out: string[] = []
    const contents = async (form: Form, key: string): Promise<void> => {
      for (const req of form.contents(key)) {
        out.push(`${req.join(' ')}: ${await pusher.call(...req)}`)
      }
    }
    for (const [name, form] of Object.entries(FORMS)) {
      // Nobody else waits: the element stays in the key.
      const kept = `kept:${name}`
      out.push(`${name} timed out: ${await early.call(...form.request(kept, '0.001'))}`)
      out.push(`${name} no waiter left: ${await blockedClients(pusher, 0)}`)
      out.push(`${name} push: ${await pusher.call(...form.push(kept))}`)
      out.push(`${name} early gets: ${await early.reply(SILENCE_MS)}`)
      await contents(form, kept)
      // Another client waits: the element goes to it.
      const taken = `taken:${name}`
      out.push(`${name} timed out: ${await early.call(...form.request(taken, '0.0001'))}`)
      next.send(...form.request(taken, '0'))
      out.push(`${name} next blocked: ${await blockedClients(pusher, 1)}`)
      out.push(`${name} push: ${await pusher.call(...form.push(taken))}`)
      out.push(`${name} next gets: ${await next.reply()}`)
      out.push(`${name} early gets: ${await early.reply(SILENCE_MS)}`)
      await contents(form, taken)
    }
    for (const c of conns) c.close()
    return out
  }
  const [expected, actual] = await Promise.all(servers.map(run)) as [string[], string[]]
  for (const line of actual) {
    if (line.includes('early gets')) t.match(line, /: null$/, `capykv: ${line}`)
  }
  t.same(actual, expected)
})

t.test('issue 10: blocking timeouts in seconds against redis-server 7.0.15', async (t) => {
  const servers = await startBoth(t)
  if (servers === null) return
  for (const [name, fn] of CHECKS) await t.test(name, (t) => fn(t, servers))
})
