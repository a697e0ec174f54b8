// ACL, AUTH and protected mode against a real redis-server 7.0.15: the same commands to both,
// replies compared (errors by their text). Covers every ACL subcommand and rule form, the
// NOPERM texts at top level, inside MULTI/EXEC and from a script, the ACL LOG's entries, AUTH
// and HELLO AUTH as ACL users, and an ACL fuzz: random users (random rules) × random commands,
// ACL DRYRUN's verdict (the same check dispatch runs) equal on every pair.
// Where Redis's order is its command dict's (seeded at random per process), the single-command
// rules of a description ("+get -set") are compared as a multiset; categories stay in order.
// Protected mode: a client connecting from 127.0.0.2 is remote to Redis (islocalClient accepts
// only 127.0.0.1 and ::1), so both servers, on 127.0.0.1, must refuse it with the same bytes.

import net from 'node:net'
import t from 'tap'
import { Redis } from 'ioredis'
import { prng } from '../helpers/mulberry32.js'
import { requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

type Reply = unknown

/** A description's single-command rules sorted (they follow Redis's random dict order). */
function normalize(r: Reply): Reply {
  if (Array.isArray(r)) return r.map(normalize)
  if (typeof r !== 'string' || !/[+-]@all/.test(r)) return r
  return r.split(/(\(|\))/).map((part) => {
    const words = part.split(' ')
    const singles = words.filter((w) => /^[+-][a-z]/.test(w)).sort()
    let i = 0
    return words.map((w) => /^[+-][a-z]/.test(w) ? singles[i++] : w).join(' ')
  }).join('')
}

async function call(c: Redis, argv: (string | Buffer)[]): Promise<Reply> {
  try {
    return normalize(await c.call(argv[0] as string, ...argv.slice(1)))
  } catch (e) {
    return `ERROR: ${(e as Error).message}`
  }
}

/** ACL LOG entries without their times and client info (those differ by nature). */
function logShape(r: Reply): Reply {
  if (!Array.isArray(r)) return r
  return r.map((e) => {
    if (!Array.isArray(e)) return e
    const out: unknown[] = []
    for (let i = 0; i < e.length; i += 2) {
      if (e[i] === 'age-seconds' || e[i] === 'client-info') continue
      out.push(e[i], e[i + 1])
    }
    return out
  })
}

const HASH = 'a'.repeat(64)
const ADMIN_STEPS: string[][] = [
  ['ACL', 'WHOAMI'], ['ACL', 'USERS'], ['ACL', 'LIST'], ['ACL', 'GETUSER', 'default'],
  ['ACL', 'GETUSER', 'nobody'], ['ACL', 'CAT'], ['ACL', 'CAT', 'nosuch'], ['ACL', 'HELP'],
  ['ACL'], ['ACL', 'NOSUCH'], ['ACL', 'WHOAMI', 'x'], ['ACL', 'GENPASS', '0'],
  ['ACL', 'GENPASS', '4097'], ['ACL', 'GENPASS', 'x'], ['ACL', 'LOG', 'x'],
  ['ACL', 'SAVE'], ['ACL', 'LOAD'], ['ACL', 'DELUSER', 'default'], ['ACL', 'DELUSER', 'nobody'],
  ['ACL', 'SETUSER', 'a b'], ['ACL', 'SETUSER', 'alice'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'on', '>p1', '>p2', '#' + HASH, '<p2', '!' + HASH],
  ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', '<nope'], ['ACL', 'SETUSER', 'alice', '!' + 'b'.repeat(64)],
  ['ACL', 'SETUSER', 'alice', '#xyz'], ['ACL', 'SETUSER', 'alice', '#' + 'A'.repeat(64)],
  ['ACL', 'SETUSER', 'alice', 'nopass'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'resetpass', 'off'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', '~k*', '%R~r*', '%W~w*', '%RW~b*', '%WR~c*', '~k*', '%R~k*'],
  ['ACL', 'GETUSER', 'alice'], ['ACL', 'SETUSER', 'alice', '%X~a'], ['ACL', 'SETUSER', 'alice', '%~a'],
  ['ACL', 'SETUSER', 'alice', '%RR~a'], ['ACL', 'SETUSER', 'alice', 'allkeys', '~x'],
  ['ACL', 'SETUSER', 'alice', 'allkeys'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'resetkeys', '&c1', '&c*'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'allchannels', '&x'], ['ACL', 'SETUSER', 'alice', 'resetchannels'],
  ['ACL', 'SETUSER', 'alice', '+@string', '-append', '+client|id', '+select|0', '+select|1'],
  ['ACL', 'GETUSER', 'alice'], ['ACL', 'LIST'],
  ['ACL', 'SETUSER', 'alice', '+@nosuch'], ['ACL', 'SETUSER', 'alice', '+nosuch'],
  ['ACL', 'SETUSER', 'alice', '-select|0'], ['ACL', 'SETUSER', 'alice', '+client|id|x'],
  ['ACL', 'SETUSER', 'alice', '+client|nosuch'], ['ACL', 'SETUSER', 'alice', '+select|'],
  ['ACL', 'SETUSER', 'alice', 'bogus'], ['ACL', 'SETUSER', 'alice', ''],
  ['ACL', 'SETUSER', 'alice', 'allcommands', '-@dangerous', '-config'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'nocommands', '+@read', '+@write', '-@keyspace'],
  ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', '+@all', '-@all', '+get'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', '(~s*', '+set)', '(+get', '%R~g*)'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', '(~s*'], ['ACL', 'SETUSER', 'alice', '(nope)'],
  ['ACL', 'LIST'], ['ACL', 'SETUSER', 'alice', 'clearselectors'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'skip-sanitize-payload'], ['ACL', 'GETUSER', 'alice'],
  ['ACL', 'SETUSER', 'alice', 'reset'], ['ACL', 'GETUSER', 'alice'], ['ACL', 'LIST'],
  ['ACL', 'SETUSER', 'bob', 'on', '>pw', '~k*', '%R~r*', '+@read', '-get', '+set',
    '+config|get', '+select|0', '&ch*', '+publish', '+subscribe', '+psubscribe', '+multi',
    '+exec', '+eval'],
  ['ACL', 'DRYRUN', 'bob', 'get', 'k1'], ['ACL', 'DRYRUN', 'bob', 'set', 'k1', 'v'],
  ['ACL', 'DRYRUN', 'bob', 'set', 'r1', 'v'], ['ACL', 'DRYRUN', 'bob', 'mget', 'k1', 'r1', 'x'],
  ['ACL', 'DRYRUN', 'bob', 'mget', 'x', 'k1'], ['ACL', 'DRYRUN', 'bob', 'publish', 'ch1', 'm'],
  ['ACL', 'DRYRUN', 'bob', 'publish', 'zz', 'm'], ['ACL', 'DRYRUN', 'bob', 'subscribe', 'ch', 'zz'],
  ['ACL', 'DRYRUN', 'bob', 'psubscribe', 'ch*'], ['ACL', 'DRYRUN', 'bob', 'psubscribe', 'ch1'],
  ['ACL', 'DRYRUN', 'bob', 'config', 'get', 'x'], ['ACL', 'DRYRUN', 'bob', 'config', 'set', 'a', 'b'],
  ['ACL', 'DRYRUN', 'bob', 'select', '0'], ['ACL', 'DRYRUN', 'bob', 'select', '1'],
  ['ACL', 'DRYRUN', 'nob', 'get', 'a'], ['ACL', 'DRYRUN', 'bob', 'nocmd', 'a'],
  ['ACL', 'DRYRUN', 'bob', 'get'], ['ACL', 'DRYRUN', 'bob', 'auth', 'x'],
  ['ACL', 'DRYRUN', 'bob', 'eval', 'return 1', '1', 'r1'],
  ['ACL', 'DRYRUN', 'bob', 'eval', 'return 1', '1', 'zz'],
  ['ACL', 'DRYRUN', 'bob', 'getrange', 'r1', '0', '1'],
  ['ACL', 'DRYRUN', 'bob', 'sort', 'r1'], ['ACL', 'DRYRUN', 'bob', 'zunionstore', 'k', '1', 'r'],
  ['CLIENT', 'KILL', 'USER', 'nosuch'], ['CLIENT', 'KILL', 'USER', 'alice'],
  ['ACL', 'LOG', 'RESET'],
]

/** What a client authenticated as bob sees (NOPERM texts) — and what the log then holds. */
const BOB_STEPS: string[][] = [
  ['AUTH', 'bob', 'wrong'], ['AUTH', 'nobody', 'pw'], ['AUTH', 'bob', 'pw'], ['ACL', 'WHOAMI'],
  ['GET', 'k1'], ['SET', 'k1', 'v'], ['SET', 'zz', 'v'], ['GETRANGE', 'r1', '0', '1'],
  ['MGET', 'k1', 'x'], ['PUBLISH', 'zz', 'm'], ['PUBLISH', 'ch1', 'm'], ['CONFIG', 'SET', 'a', 'b'],
  ['SELECT', '1'], ['SELECT', '0'], ['MULTI'], ['GET', 'k'], ['SET', 'k1', 'x'], ['EXEC'],
  ['MULTI'], ['SET', 'k2', 'x'], ['EXEC'],
  ['EVAL', "return redis.pcall('get', 'k1')", '0'],
  ['EVAL', "return redis.pcall('set', 'zz', '1')", '0'],
  ['EVAL', "return redis.pcall('getrange', KEYS[1], 0, 1)", '1', 'k1'],
  ['HELLO', '2', 'AUTH', 'bob', 'nope'], ['HELLO', '2', 'AUTH', 'default', 'x'],
  ['ACL', 'WHOAMI'], ['AUTH', 'bob', 'pw'],
]

t.test('ACL and AUTH replies equal redis-server 7.0.15', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const conns = [redis.port, capykv.port].map((port) => new Redis({ port, host: '127.0.0.1',
    enableOfflineQueue: true, maxRetriesPerRequest: 0 }))
  t.teardown(() => conns.forEach((c) => c.disconnect()))
  const [a, b] = conns as [Redis, Redis]
  for (const argv of ADMIN_STEPS) {
    const ra = await call(a, argv)
    const rb = await call(b, argv)
    // GENPASS is random: compare its length only.
    if (argv[1] === 'GENPASS' && typeof ra === 'string' && !ra.startsWith('ERROR')) {
      t.equal((rb as string).length, ra.length, argv.join(' '))
    } else {
      t.same(rb, ra, argv.join(' '))
    }
  }
  t.equal(((await b.call('ACL', 'GENPASS')) as string).length, 64, 'GENPASS: 256 bits')
  t.equal(((await b.call('ACL', 'GENPASS', '5')) as string).length, 2, 'GENPASS 5: 2 chars')
  const bobs = [redis.port, capykv.port].map((port) => new Redis({ port, host: '127.0.0.1',
    retryStrategy: () => null, maxRetriesPerRequest: 0 }))
  t.teardown(() => bobs.forEach((c) => c.disconnect()))
  for (const argv of BOB_STEPS) {
    const ra = await call(bobs[0] as Redis, argv)
    const rb = await call(bobs[1] as Redis, argv)
    // HELLO's client ids differ by nature.
    if (argv[0] === 'HELLO' && Array.isArray(ra) && Array.isArray(rb)) ra[7] = rb[7]
    t.same(rb, ra, `as bob: ${argv.join(' ')}`)
  }
  t.same(logShape(await call(b, ['ACL', 'LOG'])), logShape(await call(a, ['ACL', 'LOG'])),
    'ACL LOG entries (reason, context, object, user, count)')
  t.same(await call(b, ['ACL', 'LOG', '2']).then(logShape),
    await call(a, ['ACL', 'LOG', '2']).then(logShape), 'ACL LOG 2')
  // DELUSER closes bob's connection.
  t.same(await call(b, ['ACL', 'DELUSER', 'bob', 'alice', 'x']),
    await call(a, ['ACL', 'DELUSER', 'bob', 'alice', 'x']), 'DELUSER')
  t.match(await call(bobs[1] as Redis, ['PING']), /ERROR/, 'a deleted user\'s client is closed')
  // requirepass is the default user's password.
  for (const c of conns) await c.call('CONFIG', 'SET', 'requirepass', 'secret')
  t.same(await call(b, ['ACL', 'GETUSER', 'default']), await call(a, ['ACL', 'GETUSER', 'default']),
    'requirepass sets the default user\'s password')
  const fresh = [redis.port, capykv.port].map((port) => new Redis({ port, host: '127.0.0.1',
    maxRetriesPerRequest: 0, enableReadyCheck: false }))
  t.teardown(() => fresh.forEach((c) => c.disconnect()))
  for (const argv of [['GET', 'x'], ['AUTH', 'nope'], ['AUTH', 'default', 'secret'], ['GET', 'x'],
    ['CONFIG', 'SET', 'requirepass', ''], ['AUTH', 'x']]) {
    t.same(await call(fresh[1] as Redis, argv), await call(fresh[0] as Redis, argv),
      `requirepass: ${argv.join(' ')}`)
  }
})

const FUZZ_COMMANDS: string[][] = [
  ['get', 'k1'], ['set', 'k1', 'v'], ['set', 'r1', 'v'], ['mget', 'k1', 'w1'], ['del', 'a', 'k2'],
  ['lpush', 'w1', 'x'], ['lrange', 'r1', '0', '1'], ['hset', 'h', 'f', 'v'], ['hget', 'k', 'f'],
  ['sadd', 's', 'm'], ['zadd', 'z', '1', 'm'], ['incr', 'k1'], ['expire', 'w2', '10'],
  ['config', 'get', 'x'], ['config', 'set', 'x', 'y'], ['client', 'id'], ['client', 'kill', 'x'],
  ['select', '0'], ['select', '2'], ['ping'], ['info'], ['flushall'], ['keys', '*'],
  ['publish', 'c1', 'm'], ['subscribe', 'c1', 'd'], ['psubscribe', 'c*'], ['multi'],
  ['eval', 'return 1', '1', 'k1'], ['rename', 'r1', 'w1'], ['copy', 'k1', 'w1'],
  ['sort', 'k1'], ['object', 'encoding', 'r2'], ['scan', '0'], ['acl', 'whoami'],
  ['acl', 'setuser', 'x'], ['debug', 'sleep', '0'], ['bitop', 'and', 'w1', 'k1', 'r1'],
  ['smove', 'k1', 'r1', 'm'], ['getdel', 'r1'], ['lmove', 'k1', 'w1', 'left', 'right'],
]
const FUZZ_RULES = ['+@all', '-@all', '+@read', '-@read', '+@write', '-@write', '+@string',
  '-@string', '+@keyspace', '-@keyspace', '+@admin', '-@dangerous', '+@pubsub', '+@fast',
  '-@slow', '+@list', '+@hash', '+@set', '-@sortedset', '+@scripting', '+@connection',
  '+get', '-get', '+set', '-set', '+config|get', '-config', '+client', '-client|kill',
  '+select|0', '+mget', '-del', '+publish', '~*', '~k*', '%R~r*', '%W~w*', '%RW~k1', 'resetkeys',
  'allkeys', '&c1', '&c*', 'allchannels', 'resetchannels', '(+set ~w*)', '(%R~k* +@read)',
  'clearselectors', 'nocommands', 'allcommands', '+@bitmap', '+sort', '+eval']

t.test('ACL fuzz: DRYRUN verdicts equal redis-server 7.0.15 on random users × commands',
  async (t) => {
    if (!requireBinary(t, 'redis-server')) return
    const redis = await startRedis()
    t.teardown(() => redis.stop())
    const capykv = await startCapykv()
    t.teardown(() => capykv.stop())
    const conns = [redis.port, capykv.port].map((port) => new Redis({ port, host: '127.0.0.1' }))
    t.teardown(() => conns.forEach((c) => c.disconnect()))
    const [a, b] = conns as [Redis, Redis]
    const seed = 19
    const rand = prng(seed)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
    let pairs = 0
    let mismatches = 0
    for (let u = 0; u < 40; u++) {
      const rules = Array.from({ length: 1 + Math.floor(rand() * 7) }, () => pick(FUZZ_RULES))
      const name = `u${u}`
      const argv = ['ACL', 'SETUSER', name, 'reset', ...rules]
      const sa = await call(a, argv)
      const sb = await call(b, argv)
      t.same(sb, sa, `seed ${seed}: ${argv.join(' ')}`)
      const ga = await call(a, ['ACL', 'GETUSER', name])
      const gb = await call(b, ['ACL', 'GETUSER', name])
      if (JSON.stringify(ga) !== JSON.stringify(gb)) t.same(gb, ga, `GETUSER after ${rules.join(' ')}`)
      for (const cmd of FUZZ_COMMANDS) {
        const dry = ['ACL', 'DRYRUN', name, ...cmd]
        const da = await call(a, dry)
        const db = await call(b, dry)
        pairs++
        if (JSON.stringify(da) !== JSON.stringify(db)) {
          mismatches++
          t.same(db, da, `seed ${seed}, rules ${rules.join(' ')}: ${cmd.join(' ')}`)
        }
      }
    }
    t.equal(mismatches, 0, `${pairs} user × command pairs, same verdicts`)
  })

/** Bytes a client connecting from `localAddress` receives before the server closes. */
function connectFrom(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress })
    let got = ''
    const timer = setTimeout(() => { s.destroy(); resolve(`(open) ${got}`) }, 3000)
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => { got += d.toString('latin1') })
    s.on('close', () => { clearTimeout(timer); resolve(got) })
    // A reset after the reply (the server closed with our PING unread) ends it like a close.
    s.on('error', (e) => { clearTimeout(timer); if (got === '') reject(e); else resolve(got) })
  })
}

t.test('protected mode: a peer other than 127.0.0.1 gets Redis\'s DENIED text', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const fromRedis = await connectFrom(redis.port, '127.0.0.2')
  t.match(fromRedis, /^-DENIED Redis is running in protected mode/, 'redis refuses 127.0.0.2')
  t.equal(await connectFrom(capykv.port, '127.0.0.2'), fromRedis, 'capykv: the same bytes, closed')
  t.equal(await connectFrom(capykv.port, '127.0.0.1'), '(open) +PONG\r\n', 'loopback is served')
  const c = new Redis({ port: capykv.port, host: '127.0.0.1' })
  t.teardown(() => c.disconnect())
  t.match(await c.info('stats'), /rejected_connections:1\r\n/, 'counted as rejected')
  // A password on the default user, or protected-mode no, lets the remote peer in.
  await c.config('SET', 'requirepass', 'pw')
  t.equal(await connectFrom(capykv.port, '127.0.0.2'), '(open) -NOAUTH Authentication required.\r\n',
    'with a password: served (NOAUTH)')
  await c.call('AUTH', 'pw')
  await c.config('SET', 'requirepass', '')
  await c.config('SET', 'protected-mode', 'no')
  t.equal(await connectFrom(capykv.port, '127.0.0.2'), '(open) +PONG\r\n', 'protected-mode no')
})

/** Pipeline `count` wrong AUTHs without reading; whether the server closed the connection. */
function unreadWrongAuths(port: number, count: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    s.pause()
    let closed = false
    s.on('close', () => { closed = true })
    s.on('error', () => { closed = true })
    s.on('connect', () => { s.write('AUTH wrongpassword\r\n'.repeat(count)) })
    // A paused socket notices no close: read (and drop) after the server had its time.
    setTimeout(() => { s.on('data', () => undefined); s.resume() }, 1500)
    setTimeout(() => { s.destroy(); resolve(closed) }, 3000)
  })
}

t.test('an unauthenticated client that does not read its replies is closed', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis(['--requirepass', 'secret'])
  t.teardown(() => redis.stop())
  const capykv = await startCapykv({ args: ['--requirepass', 'secret'] })
  t.teardown(() => capykv.stop())
  const redisClosed = await unreadWrongAuths(redis.port, 20000)
  t.equal(await unreadWrongAuths(capykv.port, 20000), redisClosed,
    `20,000 wrong AUTHs unread: closed as by redis-server (${String(redisClosed)})`)
  t.equal(await unreadWrongAuths(capykv.port, 100), false, '100 (6 KB of replies): kept')
})
