// DUMP / RESTORE / MIGRATE between redis-server 7.0.15 and capykv (issue 14): every type and
// encoding is built by the same commands on both, DUMPed from Redis and RESTOREd into capykv,
// DUMPed from capykv and RESTOREd into Redis, and moved both ways by MIGRATE; after each move the
// value is read back on both sides with the type's read commands and compared (unordered replies
// as sorted element lists), with OBJECT ENCODING. capykv's DUMP must equal Redis's byte for byte
// (LZF compression, quicklist nodes and stream nodes included), except where Redis's own bytes
// depend on its hash-table order or on the time (each case says which). Times (XINFO's seen and delivery times) differ
// between the two servers' own builds, so each restored copy is compared with its source.
// Corrupted payloads get Redis's errors from both. No redis-server on PATH: skipped with the
// reason, or a failure when CI=true.

import net from 'node:net'
import t from 'tap'
import { requireBinary, startCapykv, startRedis } from '../helpers/servers.js'
import type { Arg } from './resp.js'
import { SocketTarget, type Conn } from './targets.js'

interface Case {
  key: string
  setup: Arg[][]
  /** The read commands (KEY stands for the key) and whether their reply is unordered. */
  reads: [Arg[], 'ordered' | 'set' | 'pairs'][]
  /** Why capykv's DUMP of it may differ from Redis's bytes (else it must not). */
  differs?: string
}

function range<T>(n: number, f: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => f(i))
}

const STRING = (key: string, value: string): Case =>
  ({ key, setup: [['SET', key, value]], reads: [[['GET', 'KEY'], 'ordered']] })
const LIST_READ: Case['reads'] = [[['LRANGE', 'KEY', '0', '-1'], 'ordered']]
const HASH_READ: Case['reads'] = [[['HGETALL', 'KEY'], 'pairs']]
const SET_READ: Case['reads'] = [[['SMEMBERS', 'KEY'], 'set']]
const ZSET_READ: Case['reads'] = [[['ZRANGE', 'KEY', '0', '-1', 'WITHSCORES'], 'ordered']]
const STREAM_READ: Case['reads'] = [
  [['XRANGE', 'KEY', '-', '+'], 'ordered'],
  [['XINFO', 'STREAM', 'KEY', 'FULL'], 'ordered'],
]

const CASES: Case[] = [
  STRING('s:raw', 'hello world'),
  STRING('s:empty', ''),
  STRING('s:int8', '-12'),
  STRING('s:int32', '2147483647'),
  STRING('s:int64', '9223372036854775807'),
  STRING('s:lead0', '007'),
  STRING('s:lzf', 'abcabcabcabc'.repeat(50)),
  STRING('s:lzf2', range(300, (i) => String(i % 17)).join(',')),
  STRING('s:incompressible', range(40, (i) => String.fromCharCode(33 + ((i * 37) % 90))).join('')),
  { key: 'hll:sparse', setup: [['PFADD', 'hll:sparse', 'a', 'b', 'c']],
    reads: [[['PFCOUNT', 'KEY'], 'ordered'], [['GET', 'KEY'], 'ordered']] },
  { key: 'hll:dense', setup: [['PFADD', 'hll:dense', ...range(3000, (i) => `e${i}`)]],
    reads: [[['PFCOUNT', 'KEY'], 'ordered'], [['GET', 'KEY'], 'ordered']] },
  { key: 'l:small', setup: [['RPUSH', 'l:small', 'a', '1', '-1', '300', '-70000', '2147483648',
    '9223372036854775807', '-9223372036854775808', 'x'.repeat(63), 'y'.repeat(64), '']],
  reads: LIST_READ },
  { key: 'l:many', setup: [['RPUSH', 'l:many', ...range(3000, (i) => `item-${i}-${'v'.repeat(i % 50)}`)]],
    reads: LIST_READ },
  { key: 'l:big', setup: [['RPUSH', 'l:big', 'a', 'z'.repeat(70000), 'b']], reads: LIST_READ },
  { key: 'h:lp', setup: [['HSET', 'h:lp', 'f1', 'v1', 'n', '12', 'neg', '-5000', 'e', '']],
    reads: HASH_READ },
  { key: 'h:ht', setup: [['HSET', 'h:ht', ...range(1200, (i) => (i % 2 === 0 ? `f${i}` : `v${i}`))]],
    reads: HASH_READ, differs: 'hash-table order' },
  { key: 'h:bigval', setup: [['HSET', 'h:bigval', 'f', 'q'.repeat(100), 'g', '1']], reads: HASH_READ,
    differs: 'hash-table order' },
  { key: 'set:is', setup: [['SADD', 'set:is', '1', '-40000', '3000000000', '7']], reads: SET_READ, },
  { key: 'set:is16', setup: [['SADD', 'set:is16', '1', '2', '3']], reads: SET_READ },
  { key: 'set:isbig', setup: [['SADD', 'set:isbig', ...range(600, (i) => String(i * 3))]],
    reads: SET_READ, differs: 'hash-table order' },
  { key: 'set:ht', setup: [['SADD', 'set:ht', 'a', 'b', 'c', '1']], reads: SET_READ,
    differs: 'hash-table order' },
  { key: 'z:lp', setup: [['ZADD', 'z:lp', '1', 'a', '2.5', 'b', '-3', 'c', 'inf', 'd', '-inf', 'e',
    '0.1', 'f', '1e300', 'g']], reads: ZSET_READ },
  { key: 'z:sl', setup: [['ZADD', 'z:sl', ...range(400, (i) => (i % 2 === 0 ? String(i / 7) : `m${i}`))]],
    reads: ZSET_READ },
  { key: 'z:long', setup: [['ZADD', 'z:long', '1', 'm'.repeat(100), '2', 'n']], reads: ZSET_READ },
  { key: 'x:s', setup: [
    ['XADD', 'x:s', '1-1', 'f', 'v', 'g', 'w'],
    ['XADD', 'x:s', '1-2', 'f', 'v2', 'g', 'w2'],
    ['XADD', 'x:s', '2-0', 'other', '12'],
    ['XADD', 'x:s', '3-0', 'f', 'v3', 'g', 'w3'],
    ['XDEL', 'x:s', '1-2'],
    ['XGROUP', 'CREATE', 'x:s', 'g1', '0'],
    ['XGROUP', 'CREATE', 'x:s', 'g2', '$'],
    ['XREADGROUP', 'GROUP', 'g1', 'alice', 'COUNT', '2', 'STREAMS', 'x:s', '>'],
    ['XREADGROUP', 'GROUP', 'g1', 'bob', 'COUNT', '1', 'STREAMS', 'x:s', '>'],
    ['XACK', 'x:s', 'g1', '1-1'],
    ['XGROUP', 'CREATECONSUMER', 'x:s', 'g1', 'carol'],
  ], reads: STREAM_READ, differs: 'seen and delivery times' },
  { key: 'x:many', setup: range(250, (i) => ['XADD', 'x:many', `${i + 1}-0`, 'a', String(i), 'b', `x${i}`]),
    reads: STREAM_READ },
  { key: 'x:empty', setup: [['XGROUP', 'CREATE', 'x:empty', 'g', '$', 'MKSTREAM']], reads: STREAM_READ },
]

/** A flat array reply's elements (bulk strings), for unordered comparisons. */
function elements(reply: Buffer): string[] {
  const out: string[] = []
  let pos = reply.indexOf('\r\n') + 2
  while (pos < reply.length) {
    const end = reply.indexOf('\r\n', pos)
    const n = Number(reply.toString('latin1', pos + 1, end))
    out.push(reply.toString('latin1', end + 2, end + 2 + n))
    pos = end + 2 + n + 2
  }
  return out
}

function normalized(reply: Buffer, kind: 'ordered' | 'set' | 'pairs'): string {
  if (kind === 'ordered') return reply.toString('latin1')
  const els = elements(reply)
  if (kind === 'set') return els.sort().join('\n')
  const pairs: string[] = []
  for (let i = 0; i < els.length; i += 2) pairs.push(`${els[i]}=${els[i + 1]}`)
  return pairs.sort().join('\n')
}

/** A reply with its millisecond times (integers from 2020 on) masked. */
const untimed = (s: string): string => s.replace(/:1[6-9]\d{11}\r\n/g, ':<ms>\r\n')

/** The bulk string a reply carries. */
function bulkOf(reply: Buffer): Buffer {
  const end = reply.indexOf('\r\n')
  const n = Number(reply.toString('latin1', 1, end))
  return reply.subarray(end + 2, end + 2 + n)
}

async function reads(conn: Conn, c: Case, key: string): Promise<string[]> {
  const cmds = c.reads.map(([cmd]) => cmd.map((a) => (a === 'KEY' ? key : a)))
  const replies = await conn.send([...cmds, ['OBJECT', 'ENCODING', key], ['TYPE', key]])
  return replies.map((r, i) => normalized(r, c.reads[i]?.[1] ?? 'ordered'))
}

t.test('DUMP / RESTORE and MIGRATE move every type and encoding both ways', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const r = await new SocketTarget('redis', redis.port).connect()
  const k = await new SocketTarget('capykv', capykv.port).connect()
  t.teardown(() => { r.close(); k.close() })
  for (const c of CASES) {
    for (const conn of [r, k]) await conn.send(c.setup)
    const original = await reads(r, c, c.key)
    const mine = await reads(k, c, c.key)
    t.same(mine.map(untimed), original.map(untimed), `${c.key}: built alike`)
    const [fromRedis] = await r.send([['DUMP', c.key]])
    const [fromCapykv] = await k.send([['DUMP', c.key]])
    if (fromRedis === undefined || fromCapykv === undefined) throw new Error('no reply')
    if (c.differs === undefined) t.same(bulkOf(fromCapykv), bulkOf(fromRedis), `${c.key}: same DUMP bytes`)
    const [ok1] = await k.send([['RESTORE', `${c.key}:r`, '0', bulkOf(fromRedis)]])
    t.equal(ok1?.toString(), '+OK\r\n', `${c.key}: Redis's DUMP restores into capykv`)
    t.same(await reads(k, c, `${c.key}:r`), original, `${c.key}: Redis → capykv value`)
    const [ok2] = await r.send([['RESTORE', `${c.key}:k`, '0', bulkOf(fromCapykv)]])
    t.equal(ok2?.toString(), '+OK\r\n', `${c.key}: capykv's DUMP restores into Redis`)
    t.same(await reads(r, c, `${c.key}:k`), mine, `${c.key}: capykv → Redis value`)
    // MIGRATE both ways, then back where it came from.
    const [m1] = await k.send([['MIGRATE', '127.0.0.1', String(redis.port), `${c.key}:r`, '0', '5000']])
    t.equal(m1?.toString(), '+OK\r\n', `${c.key}: MIGRATE capykv → Redis`)
    t.same(await reads(r, c, `${c.key}:r`), original, `${c.key}: migrated into Redis`)
    const [gone] = await k.send([['EXISTS', `${c.key}:r`]])
    t.equal(gone?.toString(), ':0\r\n', `${c.key}: MIGRATE deleted the source`)
    const [m2] = await r.send([['MIGRATE', '127.0.0.1', String(capykv.port), `${c.key}:r`, '0', '5000']])
    t.equal(m2?.toString(), '+OK\r\n', `${c.key}: MIGRATE Redis → capykv`)
    t.same(await reads(k, c, `${c.key}:r`), original, `${c.key}: migrated into capykv`)
  }
})

t.test('TTLs, options and refused payloads answer as Redis', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const r = await new SocketTarget('redis', redis.port).connect()
  const k = await new SocketTarget('capykv', capykv.port).connect()
  t.teardown(() => { r.close(); k.close() })
  const [dumped] = await r.send([['SET', 'src', 'value'], ['DUMP', 'src']]).then((x) => x.slice(1))
  if (dumped === undefined) throw new Error('no reply')
  const good = bulkOf(dumped)
  const flipped = Buffer.from(good)
  flipped[1] = (flipped[1] as number) ^ 1
  const badBody = Buffer.from(good)
  badBody[0] = 200 // an unknown RDB type; the CRC is then wrong too
  const script: Arg[][] = [
    ['RESTORE', 'a', '0', good], ['RESTORE', 'a', '0', good], ['RESTORE', 'a', '0', good, 'REPLACE'],
    ['RESTORE', 'b', '-1', good], ['RESTORE', 'b', 'x', good], ['RESTORE', 'b', '0', flipped],
    ['RESTORE', 'b', '0', badBody], ['RESTORE', 'b', '0', 'short'],
    ['RESTORE', 'b', '0', good, 'IDLETIME', '-1'], ['RESTORE', 'b', '0', good, 'FREQ', '256'],
    ['RESTORE', 'b', '0', good, 'IDLETIME', '10', 'FREQ', '3'], ['RESTORE', 'b', '0', good, 'BOGUS'],
    ['RESTORE', 'c', '100000', good], ['PTTL', 'c'],
    ['RESTORE', 'd', '1', good, 'ABSTTL'], ['EXISTS', 'd'],
    ['RESTORE', 'e', '0', good, 'IDLETIME', '1000'], ['OBJECT', 'IDLETIME', 'e'],
    ['DUMP', 'nokey'],
    ['MIGRATE', '127.0.0.1', '1', 'nokey', '0', '100'],
    ['MIGRATE', '127.0.0.1', '1', 'a', '0', '100', 'KEYS', 'a'],
    ['MIGRATE', '127.0.0.1', '1', '', '0', '100', 'BOGUS'],
  ]
  const mine = await k.send(script)
  const theirs = await r.send(script)
  script.forEach((cmd, i) => {
    let a = mine[i]?.toString('latin1') ?? ''
    let b = theirs[i]?.toString('latin1') ?? ''
    if (cmd[0] === 'PTTL') { a = String(Math.round(Number(a.slice(1)) / 1000)); b = String(Math.round(Number(b.slice(1)) / 1000)) }
    t.equal(a, b, cmd.map((x) => (Buffer.isBuffer(x) ? '<payload>' : x)).join(' '))
  })
})

t.test('FUNCTION DUMP is Redis\'s bytes and restores both ways (the same RDB codec)', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const r = await new SocketTarget('redis', redis.port).connect()
  const k = await new SocketTarget('capykv', capykv.port).connect()
  t.teardown(() => { r.close(); k.close() })
  const lib = "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return 'hello' end)" +
    `\n-- ${'padding '.repeat(20)}`
  const [, mine] = await k.send([['FUNCTION', 'LOAD', lib], ['FUNCTION', 'DUMP']])
  const [, theirs] = await r.send([['FUNCTION', 'LOAD', lib], ['FUNCTION', 'DUMP']])
  if (mine === undefined || theirs === undefined) throw new Error('no reply')
  t.same(bulkOf(mine), bulkOf(theirs), 'FUNCTION DUMP bytes (LZF-compressed library source)')
  const back = await k.send([['FUNCTION', 'FLUSH'], ['FUNCTION', 'RESTORE', bulkOf(theirs)],
    ['FCALL', 'f1', '0']])
  t.equal(back[2]?.toString(), '$5\r\nhello\r\n', 'Redis\'s FUNCTION DUMP restores into capykv')
  const there = await r.send([['FUNCTION', 'FLUSH'], ['FUNCTION', 'RESTORE', bulkOf(mine)],
    ['FCALL', 'f1', '0']])
  t.equal(there[2]?.toString(), '$5\r\nhello\r\n', 'capykv\'s FUNCTION DUMP restores into Redis')
})

t.test('MIGRATE to a target that never answers times out, and the next MIGRATE works', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const silent = net.createServer((socket) => { socket.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { silent.close() })
  const port = (silent.address() as net.AddressInfo).port
  const k = await new SocketTarget('capykv', capykv.port).connect()
  t.teardown(() => { k.close() })
  const replies = await k.send([
    ['SET', 'a', '1'], ['MIGRATE', '127.0.0.1', String(port), 'a', '0', '200'], ['EXISTS', 'a'],
    ['MIGRATE', '127.0.0.1', String(redis.port), 'a', '0', '2000'], ['EXISTS', 'a'],
  ])
  t.same(replies.map((b) => b.toString()), ['+OK\r\n',
    '-IOERR error or timeout reading to target instance\r\n', ':1\r\n', '+OK\r\n', ':0\r\n'])
})
