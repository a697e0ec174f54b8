// Real processes (issue 5, "Must show" 2): N unique tokens start in four lists of a capykv
// server; several clients move them around with LMOVE / RPOPLPUSH (pipelined), while another
// adds members with SMOVE between two sets and ZINCRBY-transfers score between two sorted-set
// members inside MULTI/EXEC; the server is SIGKILLed at a seeded random moment and restarted on
// the same pool, KILLS times. After every restart: every token is in exactly one list exactly
// once (never lost, never duplicated), every set member in exactly one of the two sets, and the
// two sorted-set scores still sum to their starting total — whatever the kill interrupted.
// Needs the built server (dist/src/main.js); the seed is printed (CAPYKV_LMOVE_KILL9_SEED).

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SERVER_MAIN, startCapykv, type CapykvServer } from '../helpers/servers.js'
import { parseReply, type Value } from '../compat/resp.js'
import { SocketTarget, type Conn } from '../compat/targets.js'
import { Prng } from '../sim/prng.js'

const LISTS = ['q0', 'q1', 'q2', 'q3']
const TOKENS = 200
const MEMBERS = 50
const TOTAL_SCORE = 1000
const KILLS = Number(process.env.CAPYKV_LMOVE_KILLS ?? 6)
const seed = Number(process.env.CAPYKV_LMOVE_KILL9_SEED ?? (Date.now() % 2 ** 31))

function strings(v: Value): string[] {
  return Array.isArray(v) ? v.map((x) => (Buffer.isBuffer(x) ? x.toString('latin1') : String(x))) : []
}

async function invariants(conn: Conn): Promise<string | null> {
  const replies = await conn.send([...LISTS.map((l) => ['LRANGE', l, '0', '-1']),
    ['SMEMBERS', 'sa'], ['SMEMBERS', 'sb'], ['ZSCORE', 'z', 'a'], ['ZSCORE', 'z', 'b']])
  const seen = new Map<string, number>()
  for (let i = 0; i < LISTS.length; i++) {
    for (const item of strings(parseReply(replies[i] as Buffer))) seen.set(item, (seen.get(item) ?? 0) + 1)
  }
  for (let i = 0; i < TOKENS; i++) {
    if (seen.get(`t${i}`) !== 1) return `token t${i} present ${seen.get(`t${i}`) ?? 0} times`
  }
  if (seen.size !== TOKENS) return `${seen.size - TOKENS} foreign items`
  const sa = strings(parseReply(replies[4] as Buffer))
  const sb = strings(parseReply(replies[5] as Buffer))
  const all = new Set([...sa, ...sb])
  if (sa.length + sb.length !== MEMBERS || all.size !== MEMBERS) {
    return `sets hold ${sa.length} + ${sb.length} members (${all.size} distinct), want ${MEMBERS}`
  }
  const a = Number((parseReply(replies[6] as Buffer) as Buffer).toString())
  const b = Number((parseReply(replies[7] as Buffer) as Buffer).toString())
  if (a + b !== TOTAL_SCORE) return `scores ${a} + ${b} != ${TOTAL_SCORE}`
  return null
}

/** One mover: pipelined LMOVEs (and friends) until the connection dies. */
async function mover(conn: Conn, rng: Prng): Promise<number> {
  let sent = 0
  for (;;) {
    const batch: string[][] = []
    for (let i = 0; i < 50; i++) {
      const from = rng.pick(LISTS)
      const to = rng.pick(LISTS)
      const k = rng.int(4)
      if (k === 0) batch.push(['RPOPLPUSH', from, to])
      else if (k === 1) batch.push(['SMOVE', rng.bool(0.5) ? 'sa' : 'sb', rng.bool(0.5) ? 'sa' : 'sb', `m${rng.int(MEMBERS)}`])
      else if (k === 2) {
        const d = String(rng.int(7) - 3)
        batch.push(['MULTI'], ['ZINCRBY', 'z', d, 'a'], ['ZINCRBY', 'z', String(-Number(d)), 'b'], ['EXEC'])
      } else batch.push(['LMOVE', from, to, rng.pick(['LEFT', 'RIGHT']), rng.pick(['LEFT', 'RIGHT'])])
    }
    try {
      await conn.send(batch)
    } catch {
      return sent
    }
    sent += batch.length
  }
}

t.test(`LMOVE / SMOVE / MULTI transfers survive kill -9 (seed ${seed})`, async (t) => {
  if (!existsSync(SERVER_MAIN)) {
    if (process.env.CI === 'true') t.fail(`${SERVER_MAIN} missing (build first)`)
    else t.test(`${SERVER_MAIN} missing: skipped`, { skip: true }, () => {})
    return
  }
  t.comment(`lmove kill9 seed ${seed} (rerun with CAPYKV_LMOVE_KILL9_SEED=${seed})`)
  const rng = new Prng(seed)
  const dir = mkdtempSync(join(tmpdir(), 'capykv-lmove-kill9-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let server: CapykvServer = await startCapykv({ dir, poolSize: '64mb' })
  t.teardown(async () => { await server.kill() })
  {
    const conn = await new SocketTarget('capykv', server.port).connect()
    const setup: string[][] = [['FLUSHALL']]
    for (let l = 0; l < LISTS.length; l++) {
      const per = TOKENS / LISTS.length
      setup.push(['RPUSH', LISTS[l] as string, ...Array.from({ length: per }, (_, i) => `t${l * per + i}`)])
    }
    setup.push(['SADD', 'sa', ...Array.from({ length: MEMBERS }, (_, i) => `m${i}`)])
    setup.push(['ZADD', 'z', String(TOTAL_SCORE), 'a', '0', 'b'])
    await conn.send(setup)
    t.equal(await invariants(conn), null, 'invariants hold at the start')
    conn.close()
  }
  let moved = 0
  for (let kill = 0; kill < KILLS; kill++) {
    const target = new SocketTarget('capykv', server.port)
    const conns = await Promise.all([0, 1, 2].map(() => target.connect()))
    const movers = conns.map((c) => mover(c, rng.fork()))
    await new Promise((r) => setTimeout(r, rng.range(30, 400)))
    await server.kill()
    moved += (await Promise.all(movers)).reduce((a, x) => a + x, 0)
    for (const c of conns) c.close()
    server = await startCapykv({ dir, poolSize: '64mb' })
    const check = await new SocketTarget('capykv', server.port).connect()
    const why = await invariants(check)
    check.close()
    t.equal(why, null, `after kill ${kill + 1}: ${why ?? 'every token, member and point accounted for'}`)
    if (why !== null) break
  }
  t.comment(`kills: ${KILLS} (LMOVE/SMOVE/MULTI transfers, ${moved} commands acknowledged)`)
})
