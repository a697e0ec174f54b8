// Scripts under kill -9 (issue 13, must-show 3): ioredis clients run EVALSHA transfers between
// accounts (and FCALL transfers through a library loaded once, before the first kill) while the
// server is SIGKILLed at random moments, then restarted from its pool. Each script also writes a
// receipt key; after every restart every acknowledged script's receipt must be there and the
// accounts' total must be unchanged (a script is one transaction: all of it or nothing). The
// library must survive every kill (function libraries are durable); the EVAL cache is not, so the
// EVALSHA clients load their script again after each restart, as Redis clients do.

import t from 'tap'
import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { freePort, startCapykv, type CapykvServer } from '../helpers/servers.js'

const KILLS = 8
const ACCOUNTS = 10
const START_BALANCE = 1000
const EVAL_CLIENTS = 2
const FCALL_CLIENTS = 1

const TRANSFER = `
local amount = tonumber(ARGV[1])
local from = tonumber(redis.call('GET', KEYS[1]))
redis.call('SET', KEYS[1], from - amount)
redis.call('INCRBY', KEYS[2], amount)
redis.call('SET', KEYS[3], ARGV[2])
return from - amount`

const LIBRARY = `#!lua name=bank
redis.register_function('transfer', function(keys, args)
  redis.call('DECRBY', keys[1], args[1])
  redis.call('INCRBY', keys[2], args[1])
  redis.call('SET', keys[3], args[2])
  return 1
end)`

let seed = 20261207
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

/** Receipt key → the value its acknowledged script wrote. */
type Acked = Map<string, string>

async function transferrer(r: Redis, id: number, round: number, sha: string | null,
  acked: Acked, stop: { now: boolean }): Promise<void> {
  for (let seq = 0; !stop.now; seq++) {
    const from = Math.floor(random() * ACCOUNTS)
    const to = (from + 1 + Math.floor(random() * (ACCOUNTS - 1))) % ACCOUNTS
    const amount = String(1 + Math.floor(random() * 50))
    const receipt = `r:${id}:${round}:${seq}`
    const keys = [`acct:${from}`, `acct:${to}`, receipt]
    try {
      if (sha !== null) await r.evalsha(sha, 3, ...keys, amount, String(seq))
      else await r.fcall('transfer', 3, ...keys, amount, String(seq))
      acked.set(receipt, String(seq))
    } catch {
      return
    }
  }
}

t.test(`${KILLS} SIGKILLs under EVALSHA and FCALL transfers: scripts are all or nothing`,
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
    await init.call('FUNCTION', 'LOAD', LIBRARY)
    init.disconnect()
    const acked: Acked = new Map()
    let checkedLibraries = 0
    for (let round = 0; round < KILLS; round++) {
      const n = EVAL_CLIENTS + FCALL_CLIENTS
      const clients = Array.from({ length: n }, () => connect(port))
      await Promise.all(clients.map((c) => c.connect()))
      const sha = await (clients[0] as Redis).script('LOAD', TRANSFER) as string
      const stop = { now: false }
      const load = clients.map((c, i) =>
        transferrer(c, i, round, i < EVAL_CLIENTS ? sha : null, acked, stop))
      await new Promise((r) => setTimeout(r, 150 + Math.floor(random() * 400)))
      await server.kill()
      stop.now = true
      await Promise.all(load)
      for (const c of clients) c.disconnect()
      server = await startCapykv({ dir, port, poolSize: '128mb' })
      const check = connect(port)
      await check.connect()
      const balances = await check.mget(...Array.from({ length: ACCOUNTS }, (_, i) => `acct:${i}`))
      const total = balances.reduce((sum, b) => sum + Number(b), 0)
      t.equal(total, ACCOUNTS * START_BALANCE, `round ${round}: the accounts' total`)
      const keys = Array.from(acked.keys())
      const lost: string[] = []
      for (let i = 0; i < keys.length; i += 1000) {
        const chunk = keys.slice(i, i + 1000)
        const values = await check.mget(...chunk)
        chunk.forEach((k, j) => { if (values[j] !== acked.get(k)) lost.push(k) })
      }
      t.same(lost.slice(0, 5), [], `round ${round}: every acknowledged script's receipt`)
      const libs = await check.call('FUNCTION', 'LIST') as unknown[]
      t.equal(libs.length, 1, `round ${round}: the library survived`)
      checkedLibraries++
      check.disconnect()
    }
    t.ok(acked.size > 0, `${acked.size} acknowledged scripts checked after ${checkedLibraries} kills`)
  })
