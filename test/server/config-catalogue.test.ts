// The configuration catalogue against a real redis-server 7.0.15: CONFIG GET * lists the same
// parameters (names and aliases) with the same defaults; CONFIG SET of every one of them, with
// its current value and with a set of bad or edge values, answers what Redis answers (text of
// the error included) and leaves the same values; the encoding thresholds steer OBJECT ENCODING
// as in Redis; parameters without effect in capykv are listed in INFO (config_no_effect).
// Skips with a visible reason without redis-server; fails under CI=true.

import t from 'tap'
import { Redis } from 'ioredis'
import { requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

/** Parameters whose value legitimately differs: the listening address, files, save points. */
const OWN_VALUES = new Set(['port', 'dir', 'save'])
/** capykv's own parameters (the pool), absent from Redis. */
const CAPYKV_ONLY = new Set(['pool-size', 'pool-file', 'scrub-rate'])
/**
 * Not probed with other values: changing them changes the connection under the test (password,
 * listening address) — capykv refuses another port or bind address (docs/server.md).
 */
const NOT_PROBED = new Set(['requirepass', 'bind', 'port'])
const BAD_VALUES = ['x', '-1', '0', '100000000000000000000', '5%', '', '1k', '0777', 'yes',
  'no one', '1 2 3']

async function reply(r: Redis, args: string[]): Promise<string> {
  try {
    const v = await r.call(args[0] as string, ...args.slice(1))
    return JSON.stringify(v)
  } catch (e) {
    return `ERR: ${(e as Error).message}`
  }
}

function pairs(flat: unknown): Map<string, string> {
  const list = flat as string[]
  const m = new Map<string, string>()
  for (let i = 0; i + 1 < list.length; i += 2) m.set(list[i] as string, list[i + 1] as string)
  return m
}

t.test('CONFIG GET * and CONFIG SET of every parameter answer as Redis', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const a = new Redis({ port: redis.port, host: '127.0.0.1' })
  const b = new Redis({ port: capykv.port, host: '127.0.0.1' })
  t.teardown(() => { a.disconnect(); b.disconnect() })

  const before = pairs(await a.call('CONFIG', 'GET', '*'))
  const ours = pairs(await b.call('CONFIG', 'GET', '*'))
  t.same([...ours.keys()].filter((n) => !CAPYKV_ONLY.has(n)).sort(), [...before.keys()].sort(),
    'the same parameter names')
  for (const [name, value] of before) {
    if (!OWN_VALUES.has(name)) t.equal(ours.get(name), value, `default of ${name}`)
  }

  let same = 0
  let probes = 0
  for (const name of [...before.keys()].sort()) {
    const values = NOT_PROBED.has(name) ? [] : BAD_VALUES
    for (const value of [null, ...values]) {
      // First each server's own current value (a round trip), then the probes.
      const args = (v: string): string[] => ['CONFIG', 'SET', name, v]
      const expected = await reply(a, args(value ?? before.get(name) as string))
      const actual = await reply(b, args(value ?? ours.get(name) as string))
      probes++
      if (actual === expected) same++
      else t.equal(actual, expected, `CONFIG SET ${name} '${value ?? '(current)'}'`)
    }
  }
  t.equal(same, probes, `${same} of ${probes} CONFIG SET replies identical`)
  t.comment(`differential CONFIG SET: ${same}/${probes}`)

  const afterA = pairs(await a.call('CONFIG', 'GET', '*'))
  const afterB = pairs(await b.call('CONFIG', 'GET', '*'))
  for (const [name, value] of afterA) {
    if (!OWN_VALUES.has(name)) t.equal(afterB.get(name), value, `value of ${name} after the probes`)
  }

  for (const args of [['CONFIG', 'GET', 'MAXMEMORY'], ['CONFIG', 'GET', 'rdb-key-save-delay'],
    ['CONFIG', 'GET', 'rdb-key-*'], ['CONFIG', 'GET', 'list-max-ziplist-size'],
    ['CONFIG', 'SET', 'hash-max-ziplist-entries', '7', 'hash-max-listpack-entries', '8'],
    ['CONFIG', 'SET', 'rdb-key-save-delay', '100'], ['CONFIG', 'GET', 'rdb-key-save-delay'],
    ['CONFIG', 'SET', 'shutdown-on-sigterm', 'save nosave'],
    ['CONFIG', 'SET', 'shutdown-on-sigterm', 'force now'],
    ['CONFIG', 'GET', 'shutdown-on-sigterm'],
    ['CONFIG', 'SET', 'notify-keyspace-events', 'Ag'], ['CONFIG', 'GET', 'notify-keyspace-events'],
    ['CONFIG', 'SET', 'notify-keyspace-events', 'gx$'],
    ['CONFIG', 'GET', 'notify-keyspace-events'],
    ['CONFIG', 'SET', 'notify-keyspace-events', 'Q'],
    ['CONFIG', 'SET', 'latency-tracking-info-percentiles', '50.0 99.90 1e1'],
    ['CONFIG', 'GET', 'latency-tracking-info-percentiles'],
    ['CONFIG', 'SET', 'latency-tracking-info-percentiles', '101'],
    ['CONFIG', 'SET', 'maxmemory-clients', '10%'], ['CONFIG', 'GET', 'maxmemory-clients'],
    ['CONFIG', 'SET', 'maxmemory-clients', '101%'], ['CONFIG', 'SET', 'maxmemory-clients', '0'],
    ['CONFIG', 'SET', 'hz', '0'], ['CONFIG', 'GET', 'hz'], ['CONFIG', 'SET', 'hz', '100000'],
    ['CONFIG', 'GET', 'hz'], ['CONFIG', 'SET', 'hz', '10'],
    ['CONFIG', 'SET', 'slowlog-log-slower-than', '9223372036854775807'],
    ['CONFIG', 'GET', 'slowlog-log-slower-than'],
    ['CONFIG', 'SET', 'slowlog-log-slower-than', '9223372036854775808'],
    ['CONFIG', 'SET', 'maxmemory', '18446744073709551615'],
    ['CONFIG', 'SET', 'list-max-ziplist-size', '-2147483649'],
    ['CONFIG', 'SET', 'list-max-ziplist-size', '-0'],
    ['CONFIG', 'SET', 'list-max-ziplist-size', '01']]) {
    t.equal(await reply(b, args), await reply(a, args), args.join(' '))
  }
})

t.test('encoding thresholds set by CONFIG steer OBJECT ENCODING as in Redis', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const a = new Redis({ port: redis.port, host: '127.0.0.1' })
  const b = new Redis({ port: capykv.port, host: '127.0.0.1' })
  t.teardown(() => { a.disconnect(); b.disconnect() })
  const script: string[][] = [
    ['CONFIG', 'SET', 'hash-max-ziplist-entries', '2', 'hash-max-ziplist-value', '4'],
    ['HSET', 'h', 'a', '1', 'b', '2'], ['OBJECT', 'ENCODING', 'h'],
    ['HSET', 'h', 'c', '3'], ['OBJECT', 'ENCODING', 'h'],
    ['HSET', 'h2', 'a', '12345'], ['OBJECT', 'ENCODING', 'h2'],
    ['CONFIG', 'SET', 'set-max-intset-entries', '3'],
    ['SADD', 's', '1', '2', '3'], ['OBJECT', 'ENCODING', 's'], ['SMEMBERS', 's'],
    ['SADD', 's', '4'], ['OBJECT', 'ENCODING', 's'],
    ['CONFIG', 'SET', 'zset-max-ziplist-entries', '2', 'zset-max-ziplist-value', '3'],
    ['ZADD', 'z', '1', 'a', '2', 'b'], ['OBJECT', 'ENCODING', 'z'],
    ['ZADD', 'z', '3', 'c'], ['OBJECT', 'ENCODING', 'z'],
    ['ZADD', 'z2', '1', 'abcd'], ['OBJECT', 'ENCODING', 'z2'],
    ['CONFIG', 'SET', 'zset-max-ziplist-entries', '0'],
    ['ZADD', 'z3', '1', 'a'], ['OBJECT', 'ENCODING', 'z3'],
    ['CONFIG', 'SET', 'zset-max-ziplist-entries', '128', 'zset-max-ziplist-value', '64'],
    ['ZUNIONSTORE', 'z4', '1', 'z'], ['OBJECT', 'ENCODING', 'z4'],
    ['CONFIG', 'SET', 'list-max-ziplist-size', '1', 'list-compress-depth', '1'],
    ['RPUSH', 'l', 'a', 'b', 'c'], ['OBJECT', 'ENCODING', 'l'], ['LRANGE', 'l', '0', '-1'],
  ]
  for (const args of script) {
    t.equal(await reply(b, args), await reply(a, args), args.join(' '))
  }
})

t.test('INFO lists the parameters set that have no effect in capykv', async (t) => {
  const capykv = await startCapykv({ args: ['--active-expire-effort', '3'] })
  t.teardown(() => capykv.stop())
  const b = new Redis({ port: capykv.port, host: '127.0.0.1' })
  t.teardown(() => b.disconnect())
  const field = async (): Promise<string> =>
    /config_no_effect:(.*)\r\n/.exec(await b.info('server'))?.[1] ?? 'missing'
  t.equal(await field(), 'active-expire-effort', 'set at startup')
  t.equal(await b.call('CONFIG', 'SET', 'appendonly', 'yes', 'repl-timeout', '61'), 'OK')
  t.equal(await field(), 'active-expire-effort,appendonly,repl-timeout')
  t.equal(await b.call('CONFIG', 'SET', 'appendonly', 'no', 'hash-max-ziplist-entries', '3'),
    'OK')
  t.equal(await field(), 'active-expire-effort,repl-timeout', 'back to the default; encodings apply')
  t.match(capykv.log(), /active-expire-effort is accepted but has no effect in capykv/)
  t.match(capykv.log(), /CONFIG SET repl-timeout: accepted, no effect in capykv/)
})
