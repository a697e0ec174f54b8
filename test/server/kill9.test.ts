// Durability end to end with real processes: ioredis clients write single commands and
// MULTI/EXEC transfers between accounts while the server is SIGKILLed at random moments, then
// restarted from its pool. Every acknowledged write must be there, and no transfer may be
// partial: the accounts' total never changes. (kill -9 cannot catch a reply sent before its
// flush — stores to a shared mapping outlive the process; durable-replies.test.ts covers
// that.)

import t from 'tap'
import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { freePort, startCapykv, type CapykvServer } from '../helpers/servers.js'

const KILLS = 20
const ACCOUNTS = 10
const START_BALANCE = 1000
const WRITERS = 2
const TRANSFERRERS = 2

let seed = 20261124
function random(): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x80000000
}

function connect(port: number): Redis {
  return new Redis({
    port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: false,
    retryStrategy: () => null, lazyConnect: true,
  })
}

interface Acked {
  writes: Map<string, string>
  transfers: number
}

/** Load until `stop` is set; records only acknowledged effects. */
async function writer(r: Redis, id: number, round: number, acked: Acked,
  stop: { now: boolean }): Promise<void> {
  for (let seq = 0; !stop.now; seq++) {
    const key = `w:${id}:${round}:${seq}`
    try {
      if (await r.set(key, String(seq)) === 'OK') acked.writes.set(key, String(seq))
    } catch {
      return
    }
  }
}

async function transferrer(r: Redis, acked: Acked, stop: { now: boolean }): Promise<void> {
  while (!stop.now) {
    const from = Math.floor(random() * ACCOUNTS)
    const to = (from + 1 + Math.floor(random() * (ACCOUNTS - 1))) % ACCOUNTS
    const amount = 1 + Math.floor(random() * 50)
    try {
      const res = await r.multi().decrby(`acct:${from}`, amount).incrby(`acct:${to}`, amount).exec()
      if (res !== null) acked.transfers++
    } catch {
      return
    }
  }
}

t.test(`${KILLS} SIGKILLs under load: acknowledged writes survive, transfers are atomic`,
  async (t) => {
    const port = await freePort()
    let server: CapykvServer = await startCapykv({ port, keepDir: true, poolSize: '128mb' })
    const dir = server.dir
    t.teardown(async () => {
      await server.kill()
      rmSync(dir, { recursive: true, force: true })
    })
    const init = connect(port)
    await init.connect()
    for (let i = 0; i < ACCOUNTS; i++) await init.set(`acct:${i}`, String(START_BALANCE))
    init.disconnect()
    const acked: Acked = { writes: new Map(), transfers: 0 }
    for (let round = 0; round < KILLS; round++) {
      const clients = Array.from({ length: WRITERS + TRANSFERRERS }, () => connect(port))
      await Promise.all(clients.map((c) => c.connect()))
      const stop = { now: false }
      const load = clients.map((c, i) => i < WRITERS ? writer(c, i, round, acked, stop)
        : transferrer(c, acked, stop))
      await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 400)))
      await server.kill()
      stop.now = true
      await Promise.all(load)
      for (const c of clients) c.disconnect()
      server = await startCapykv({ dir, port, poolSize: '128mb' })
      const check = connect(port)
      await check.connect()
      const balances = await check.mget(...Array.from({ length: ACCOUNTS }, (_, i) => `acct:${i}`))
      const total = balances.reduce((sum, b) => sum + Number(b), 0)
      if (total !== ACCOUNTS * START_BALANCE) {
        t.fail(`round ${round}: total ${total} != ${ACCOUNTS * START_BALANCE} (${balances})`)
      }
      const keys = Array.from(acked.writes.keys())
      const lost: string[] = []
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000)
        const values = await check.mget(...chunk)
        chunk.forEach((k, j) => { if (values[j] !== acked.writes.get(k)) lost.push(k) })
      }
      if (lost.length > 0) {
        t.fail(`round ${round}: ${lost.length} acknowledged writes lost: ${lost.slice(0, 5)}`)
      }
      check.disconnect()
    }
    t.pass(`${acked.writes.size} acknowledged writes and ${acked.transfers} acknowledged ` +
      'transfers checked after every kill')
    t.comment(`kills: ${KILLS}`)
  })
