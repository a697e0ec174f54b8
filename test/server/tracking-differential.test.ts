// Differential test of client-side caching (CLIENT TRACKING) against a real redis-server 7.0.15,
// in RESP2 and in RESP3: the same steps go to both servers over four connections — A tracks
// keys, B writes them, C is the redirect target (subscribed to __redis__:invalidate), D is a
// second tracking client — and after each step every connection's output (replies, invalidation
// pushes, `__redis__:invalidate` messages, tracking-redir-broken) is compared byte for byte.
// It covers CLIENT TRACKING's parsing and every error text, CLIENT CACHING / GETREDIR /
// TRACKINGINFO, invalidation on the tracker's own connection (after its reply, also after EXEC's)
// and by redirect, keys read inside MULTI, OPTIN / OPTOUT with CACHING (for the next command and
// for a whole transaction), NOLOOP, BCAST with prefixes (one message per prefix, keys in byte
// order), lazy expiry, FLUSHDB / FLUSHALL (null), scripts (a read inside EVAL tracks the script's
// keys; EVAL_RO alone does not), a redirect client that quits (tracking-redir-broken), RESET, and
// INFO keyspace_hits / keyspace_misses after a mix of reads. Client ids differ per server: they
// are passed and compared as `<id:N>`. Active expiry is off on both (DEBUG SET-ACTIVE-EXPIRE 0),
// so an expired key is deleted by the step that reads it. Skips with a visible reason without
// redis-server; fails under CI=true.

import t from 'tap'
import {
  after, idOf, ids, label, pipe, runSteps, s, type Step,
} from '../helpers/push-differential.js'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

const A = 0
const B = 1
const C = 2
const D = 3
const CT = ['CLIENT', 'TRACKING'] as const
const on = (...more: string[]): Step => s(A, ...CT, 'on', ...more)
const off = (): Step => s(A, ...CT, 'off')
const withIds = (step: Step): Step => ({ ...step, ids: true })
const redirOn = (...more: string[]): Step => ids(A, ...CT, 'on', 'REDIRECT', idOf(C), ...more)

export const STEPS: Step[] = [
  s(B, 'DEBUG', 'SET-ACTIVE-EXPIRE', '0'),
  // parsing and errors, in Redis's order of checks
  s(A, ...CT), s(A, ...CT, 'maybe'), s(A, ...CT, 'on', 'foo'), s(A, ...CT, 'on', 'REDIRECT'),
  s(A, ...CT, 'on', 'REDIRECT', 'abc'), s(A, ...CT, 'on', 'REDIRECT', '99999'),
  ids(A, ...CT, 'on', 'REDIRECT', idOf(C), 'REDIRECT', idOf(C)), on('PREFIX', 'a'),
  on('BCAST', 'OPTIN'), on('OPTIN', 'OPTOUT'), on('BCAST', 'PREFIX', 'ab', 'PREFIX', 'a'),
  on('BCAST', 'PREFIX', 'a', 'PREFIX', 'ab'), s(A, ...CT, 'maybe', 'BCAST'),
  s(A, 'CLIENT', 'CACHING', 'yes'), s(A, 'CLIENT', 'CACHING'), s(A, 'CLIENT', 'GETREDIR'),
  s(A, 'CLIENT', 'GETREDIR', 'x'), s(A, 'CLIENT', 'TRACKINGINFO'),
  s(A, 'CLIENT', 'TRACKINGINFO', 'x'), off(), off(),
  s(B, 'COMMAND', 'INFO', 'client|tracking', 'client|caching', 'client|trackinginfo',
    'client|getredir'),
  s(C, 'SUBSCRIBE', '__redis__:invalidate'),
  // the tracker's own connection
  on(), ids(A, 'CLIENT', 'TRACKINGINFO'), s(A, 'CLIENT', 'GETREDIR'),
  s(A, 'CLIENT', 'CACHING', 'yes'), s(A, 'CLIENT', 'CACHING', 'no'),
  s(B, 'SET', 'k1', 'v'), s(A, 'GET', 'k1'), s(B, 'SET', 'k1', 'w'), s(B, 'SET', 'k1', 'x'),
  s(A, 'GET', 'k1'), s(A, 'SET', 'k1', 'y'), s(A, 'MGET', 'k1', 'k2', 'k3'),
  s(B, 'DEL', 'k1', 'k2', 'k3'), s(A, 'HSET', 'h', 'f', '1'), s(A, 'HGET', 'h', 'f'),
  s(A, 'HDEL', 'h', 'f'), s(A, 'EXISTS', 'k9'), s(B, 'SET', 'k9', '1'),
  // inside MULTI: read after write stays tracked; the invalidation follows EXEC's reply
  s(A, 'GET', 'm1'), s(A, 'MULTI'), s(A, 'INCR', 'm1'), s(A, 'GET', 'm1'), s(A, 'EXEC'),
  s(B, 'SET', 'm1', 'z'), s(A, 'MULTI'), s(A, 'GET', 'm2'), s(A, 'SET', 'm2', '1'),
  s(A, 'EXEC'),
  // lazy expiry
  // (expiries long enough for a loaded machine to read the key before it)
  s(A, 'SET', 'e1', 'v', 'PX', '400'), s(A, 'GET', 'e1'), after(600, B, 'GET', 'e1'),
  s(A, 'SET', 'e2', 'v', 'PX', '400'), s(A, 'GET', 'e2'), after(600, A, 'MGET', 'e1', 'e2'),
  // redirect
  redirOn(), ids(A, 'CLIENT', 'GETREDIR'), ids(A, 'CLIENT', 'TRACKINGINFO'),
  s(A, 'GET', 'r1'), s(B, 'SET', 'r1', '1'), s(A, 'GET', 'r1'), s(A, 'SET', 'r1', '2'),
  // OPTIN
  off(), redirOn('OPTIN'), s(A, 'GET', 'o1'), s(B, 'SET', 'o1', '1'),
  withIds(pipe(A, ['CLIENT', 'CACHING', 'yes'], ['CLIENT', 'TRACKINGINFO'], ['GET', 'o1'],
    ['CLIENT', 'TRACKINGINFO'])),
  s(B, 'SET', 'o1', '2'),
  pipe(A, ['CLIENT', 'CACHING', 'yes'], ['MULTI'], ['GET', 'o2'], ['PING'], ['GET', 'o3'],
    ['EXEC'], ['GET', 'o4']),
  s(B, 'MSET', 'o2', '1', 'o3', '1', 'o4', '1'), s(A, 'CLIENT', 'CACHING', 'no'), on('OPTOUT'),
  // OPTOUT
  off(), redirOn('OPTOUT'),
  withIds(pipe(A, ['CLIENT', 'CACHING', 'no'], ['CLIENT', 'TRACKINGINFO'], ['GET', 'p1'],
    ['GET', 'p2'])),
  s(B, 'MSET', 'p1', '1', 'p2', '1'),
  // NOLOOP
  off(), redirOn('NOLOOP'), ids(A, 'CLIENT', 'TRACKINGINFO'), s(A, 'GET', 'n1'),
  s(A, 'SET', 'n1', '1'), s(A, 'GET', 'n1'), s(B, 'SET', 'n1', '2'),
  // BCAST
  on('BCAST'), off(), redirOn('BCAST', 'PREFIX', 'b:', 'PREFIX', 'c:'),
  ids(A, 'CLIENT', 'TRACKINGINFO'), s(B, 'MSET', 'b:1', '1', 'c:1', '1', 'd:1', '1'),
  redirOn('BCAST', 'PREFIX', 'b'), redirOn('BCAST', 'PREFIX', 'e:'),
  ids(A, 'CLIENT', 'TRACKINGINFO'), s(B, 'MULTI'), s(B, 'SET', 'e:2', '1'),
  s(B, 'SET', 'e:1', '1'), s(B, 'DEL', 'e:2'), s(B, 'EXEC'), off(),
  redirOn('BCAST', 'NOLOOP'), s(A, 'SET', 'x1', '1'), s(B, 'SET', 'x2', '1'),
  s(A, 'GET', 'x2'), s(B, 'SET', 'x2', '2'),
  // FLUSHDB / FLUSHALL: every tracking client gets a null
  off(), redirOn(), s(D, ...CT, 'on'), s(A, 'GET', 'g1'), s(D, 'GET', 'g1'),
  s(B, 'SET', 'g1', '1'), s(B, 'FLUSHDB'), s(B, 'FLUSHALL'), s(D, 'FLUSHALL'),
  s(D, 'MULTI'), s(D, 'FLUSHDB'), s(D, 'EXEC'), s(D, ...CT, 'off'),
  // scripts: a read in a script tracks the script's declared keys
  off(), on(), s(A, 'EVAL', "return redis.call('get', KEYS[1])", '1', 'sk1'),
  s(B, 'SET', 'sk1', '1'), s(A, 'EVAL', "return redis.call('set', 'sk3', '1')", '2', 'sk2', 'sk4'),
  s(B, 'MSET', 'sk2', '1', 'sk4', '1'), s(A, 'EVAL_RO', "return redis.call('ping')", '1', 'sk5'),
  s(B, 'SET', 'sk5', '1'), s(A, 'EVAL_RO', "return redis.call('get', KEYS[1])", '1', 'sk6'),
  s(B, 'SET', 'sk6', '1'),
  // the redirect client goes away
  off(), redirOn(), s(A, 'GET', 'q1'), s(C, 'QUIT'), ids(B, 'SET', 'q1', '1'),
  ids(A, 'CLIENT', 'TRACKINGINFO'), ids(A, 'CLIENT', 'GETREDIR'), s(A, 'GET', 'q1'),
  ids(B, 'SET', 'q1', '2'),
  // RESET turns tracking off
  s(A, 'RESET'), s(A, 'CLIENT', 'TRACKINGINFO'), s(B, 'SET', 'q1', '3'),
]

/** Reads (and misses) of several kinds; INFO's hit and miss counters are compared after. */
const STATS_COMMANDS: string[][] = [
  ['SET', 'a', '1'], ['GET', 'a'], ['GET', 'nope'], ['MGET', 'a', 'nope', 'a'],
  ['EXISTS', 'a', 'nope'], ['TYPE', 'a'], ['TYPE', 'nope'], ['STRLEN', 'a'], ['TTL', 'nope'],
  ['OBJECT', 'ENCODING', 'a'], ['OBJECT', 'ENCODING', 'nope'], ['SET', 'a', '2'],
  ['INCR', 'a'], ['APPEND', 'a', 'x'], ['GETSET', 'a', '3'], ['SET', 'a', '4', 'GET'],
  ['RPUSH', 'l', 'x', 'y'], ['LRANGE', 'l', '0', '-1'], ['LLEN', 'nolist'], ['HSET', 'h', 'f', 'v'],
  ['HGET', 'h', 'f'], ['HGETALL', 'noh'], ['SADD', 's', 'm'], ['SMEMBERS', 's'],
  ['SINTER', 's', 'nos'], ['SUNIONSTORE', 'd', 's', 'nos'], ['ZADD', 'z', '1', 'm'],
  ['ZSCORE', 'z', 'm'], ['ZRANGE', 'nz', '0', '-1'], ['DEL', 'a', 'nope'], ['RANDOMKEY'],
  ['SCAN', '0'], ['SCAN', '0', 'TYPE', 'string'], ['DBSIZE'], ['KEYS', '*'],
  ['COPY', 'l', 'l2'], ['SORT', 'l', 'ALPHA'], ['BITCOUNT', 'nob'], ['GETRANGE', 'l', '0', '1'],
]

async function hitsAndMisses(port: number): Promise<string> {
  const c = await RawClient.connect(port)
  await c.command(['CONFIG', 'RESETSTAT'], 10)
  for (const argv of STATS_COMMANDS) await c.command(argv, 5)
  const info = await c.command(['INFO', 'stats'], 20)
  c.close()
  return info.split('\r\n').filter((l) => /^keyspace_(hits|misses):/.test(l)).join(' ')
}

for (const proto of [2, 3] as const) {
  t.test(`client tracking in RESP${proto} replies and pushes as Redis 7.0.15, byte for byte`,
    async (t) => {
      if (!requireBinary(t, 'redis-server')) return
      const redis = await startRedis(['--enable-debug-command', 'yes'])
      t.teardown(() => redis.stop())
      const capykv = await startCapykv({ args: ['--enable-debug-command', 'yes'] })
      t.teardown(() => capykv.stop())
      const [expected, actual] = await Promise.all([runSteps(redis.port, proto, STEPS, 4),
        runSteps(capykv.port, proto, STEPS, 4)])
      let same = 0
      for (let i = 0; i < STEPS.length; i++) {
        const step = STEPS[i] as Step
        const e = expected[i] as string[]
        const a = actual[i] as string[]
        if (JSON.stringify(e) === JSON.stringify(a)) same++
        else t.same(a, e, `step ${i} ${label(step)}`)
      }
      t.equal(same, STEPS.length, `${same} of ${STEPS.length} steps identical`)
      t.comment(`differential tracking RESP${proto}: ${same}/${STEPS.length}`)
    })
}

t.test('INFO keyspace_hits and keyspace_misses count as Redis 7.0.15 does', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const [expected, actual] = await Promise.all([hitsAndMisses(redis.port),
    hitsAndMisses(capykv.port)])
  t.match(expected, /keyspace_hits:[1-9]/, 'the reads hit on the reference')
  t.equal(actual, expected, `${STATS_COMMANDS.length} commands: ${expected}`)
})
