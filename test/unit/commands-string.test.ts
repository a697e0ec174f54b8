// Unit tests of the string command handlers in-process: replies, and the events they log
// (whole-value PUTs with absolute expiry; nothing at all when a command fails).
import t from 'tap'
import { stringCommands } from '../../src/commands/string.js'
import { keyCommands } from '../../src/commands/keys.js'
import { expireCommands } from '../../src/commands/expire.js'
import {
  formatHuman, parseLongDouble, addLongDouble,
} from '../../src/commands/long-double.js'
import { parseInt64 } from '../../src/commands/numeric.js'
import { EV_DEL, EV_EXPIRE, EV_PUT } from '../../src/state/core-events.js'
import { T0, openHarness } from './commands-helpers.js'

const specs = [...stringCommands, ...keyCommands, ...expireCommands]

t.test('SET EX logs one PUT whose expiry is absolute (now + ttl)', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  const r = h.run(['SET', 'k', 'v', 'EX', '100'], T0)
  t.same(r.calls, [['simple', 'OK']])
  t.equal(r.events.length, 1)
  t.match(r.events[0], { code: EV_PUT, db: 0, key: 'k', expireAtMs: T0 + 100_000 })
  t.same(h.run(['PTTL', 'k'], T0 + 1000).calls, [['integer', 99_000]])
  t.same(h.run(['TTL', 'k'], T0 + 1499).calls, [['integer', 99]])
  t.same(h.run(['TTL', 'k'], T0 + 1500).calls, [['integer', 99]])
  t.same(h.run(['TTL', 'k'], T0 + 1501).calls, [['integer', 98]])
})

t.test('a failing SET replies its error and logs nothing', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  for (const [argv, error] of [
    [['SET', 'k', 'v', 'EX', '0'], "ERR invalid expire time in 'set' command"],
    [['SET', 'k', 'v', 'NX', 'XX'], 'ERR syntax error'],
    [['SET', 'k', 'v', 'EX', '10', 'KEEPTTL'], 'ERR syntax error'],
    [['SET', 'k', 'v', 'EX', 'x'], 'ERR value is not an integer or out of range'],
    [['SETEX', 'k', '-1', 'v'], "ERR invalid expire time in 'setex' command"],
    [['SET', 'k', 'v', 'PX', '9223372036854775807'], "ERR invalid expire time in 'set' command"],
  ] as [string[], string][]) {
    const r = h.run(argv)
    t.same(r.calls, [['error', error]], argv.join(' '))
    t.same(r.events, [], `${argv.join(' ')} logs nothing`)
  }
})

t.test('SET KEEPTTL keeps the expiry; plain SET and GETSET clear it', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'v', 'PX', '5000'])
  t.match(h.run(['SET', 'k', 'w', 'KEEPTTL']).events[0], { expireAtMs: T0 + 5000 })
  t.match(h.run(['GETSET', 'k', 'x']).events[0], { expireAtMs: 0 })
})

t.test('SET GET, NX, XX reply as Redis', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  t.same(h.run(['SET', 'k', 'v', 'XX']).calls, [['nullBulk']])
  t.same(h.run(['SET', 'k', 'v', 'NX', 'GET']).calls, [['nullBulk']])
  t.same(h.run(['SET', 'k', 'w', 'NX', 'GET']).calls, [['bulk', 'v']])
  t.same(h.run(['SET', 'k', 'w', 'GET']).calls, [['bulk', 'v']])
  t.same(h.run(['SETNX', 'k', 'z']).calls, [['integer', 0]])
})

t.test('INCR logs its result as a PUT and keeps the expiry; int64 is exact', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'n', '41', 'EX', '10'])
  const r = h.run(['INCR', 'n'])
  t.same(r.calls, [['integer', 42]])
  t.match(r.events[0], { code: EV_PUT, key: 'n', expireAtMs: T0 + 10_000 })
  t.equal((r.events[0] as unknown as { value: Buffer }).value.toString(), '42')
  h.run(['SET', 'b', '9223372036854775806'])
  t.same(h.run(['INCR', 'b']).calls, [['integer', 9223372036854775807n]])
  t.same(h.run(['INCR', 'b']).calls, [['error', 'ERR increment or decrement would overflow']])
  t.same(h.run(['INCRBY', 'c', '9007199254740993']).calls, [['integer', 9007199254740993n]])
  t.same(h.run(['INCR', 'c']).calls, [['integer', 9007199254740994n]])
  t.same(h.run(['DECRBY', 'c', '-9223372036854775808']).calls,
    [['error', 'ERR decrement would overflow']])
  h.run(['SET', 's', '01'])
  t.same(h.run(['INCR', 's']).calls, [['error', 'ERR value is not an integer or out of range']])
})

t.test('INCRBYFLOAT computes in 80-bit long double and formats as %.17Lf trimmed', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  const steps: [string, string, string][] = [
    ['a', '10.5', '10.5'], ['a', '0.1', '10.6'], ['b', '0.1', '0.1'], ['b', '0.2', '0.3'],
    ['c', '1e20', '100000000000000000000'], ['c', '1', '100000000000000000000'],
    ['d', '3.0', '3'], ['e', '1.23456789012345678901234567890', '1.23456789012345679'],
    ['f', '0x1p-3', '0.125'], ['g', '-0.0', '0'], ['h', '5.0e3', '5000'],
    ['h', '2.0e-3', '5000.00199999999999978'], ['i', '3.6e-4951', '0'],
  ]
  for (const [key, incr, expected] of steps) {
    t.same(h.run(['INCRBYFLOAT', key, incr]).calls, [['bulk', expected]], `${key} += ${incr}`)
  }
  t.same(h.run(['INCRBYFLOAT', 'x', 'inf']).calls,
    [['error', 'ERR increment would produce NaN or Infinity']])
  for (const bad of ['nan', '1e5000', '1e-5000', ' 1', '1 ', '', '1\x00', '0x']) {
    t.same(h.run(['INCRBYFLOAT', 'x', bad]).calls, [['error', 'ERR value is not a valid float']],
      JSON.stringify(bad))
  }
})

t.test('long double helpers', async (t) => {
  const v = (s: string) => parseLongDouble(Buffer.from(s))
  t.equal(formatHuman(v('1.18973149535723176502e+4932') ?? t.fail('parse') as never).length, 4933)
  t.equal(v('1.2e4933'), null, 'overflow is refused (ERANGE)')
  const third = addLongDouble(v('1') as never, v('-0.6666666666666666666666') as never)
  t.equal(formatHuman(third as never), '0.33333333333333333')
  t.equal(parseInt64(Buffer.from('-0')), null)
  t.equal(parseInt64(Buffer.from('-9223372036854775808')), -9223372036854775808n)
  t.equal(parseInt64(Buffer.from('9223372036854775808')), null)
  t.equal(parseInt64(Buffer.from('123456789012345')), 123456789012345)
})

t.test('APPEND and SETRANGE log the whole new value and keep the expiry', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'hello', 'PX', '9000'])
  const r = h.run(['APPEND', 'k', ' world'])
  t.same(r.calls, [['integer', 11]])
  t.match(r.events[0], { code: EV_PUT, expireAtMs: T0 + 9000 })
  t.same(h.run(['SETRANGE', 'k', '0', 'J']).calls, [['integer', 11]])
  t.same(h.run(['GET', 'k']).calls, [['bulk', 'Jello world']])
  t.same(h.run(['SETRANGE', 'k', '536870912', 'x']).calls,
    [['error', 'ERR string exceeds maximum allowed size (proto-max-bulk-len)']])
  t.same(h.run(['SETRANGE', 'z', '3', 'ab']).calls, [['integer', 5]])
  t.same(h.run(['GET', 'z']).calls, [['bulk', '\x00\x00\x00ab']])
  t.same(h.run(['OBJECT', 'ENCODING', 'k']).calls, [['bulk', 'raw']])
})

t.test('GETEX with a past absolute time deletes; PERSIST logs expiry 0', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'v', 'EX', '100'])
  const p = h.run(['GETEX', 'k', 'PERSIST'])
  t.same(p.calls, [['bulk', 'v']])
  t.match(p.events[0], { code: EV_EXPIRE, expireAtMs: 0 })
  const d = h.run(['GETEX', 'k', 'PXAT', String(T0 - 1)])
  t.same(d.calls, [['bulk', 'v']])
  t.match(d.events[0], { code: EV_DEL, key: 'k' })
  t.same(h.run(['GET', 'k']).calls, [['nullBulk']])
})

t.test('lazy expiry: an expired key reads as missing and is logged as a DEL', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'v', 'PX', '10'])
  // Redis 7.0.15 (keyIsExpired: now > when): the key lives through its expiry millisecond.
  const alive = h.run(['GET', 'k'], T0 + 10)
  t.same(alive.calls, [['bulk', 'v']])
  t.same(alive.events, [])
  const r = h.run(['GET', 'k'], T0 + 11)
  t.same(r.calls, [['nullBulk']])
  t.match(r.events, [{ code: EV_DEL, key: 'k' }])
})

t.test('MSETNX sets nothing when one key exists; LCS as Redis', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'b', '1'])
  const r = h.run(['MSETNX', 'a', '1', 'b', '2'])
  t.same(r.calls, [['integer', 0]])
  t.same(r.events, [])
  h.run(['MSET', 'x', 'ohmytext', 'y', 'mynewtext'])
  t.same(h.run(['LCS', 'x', 'y']).calls, [['bulk', 'mytext']])
  t.same(h.run(['LCS', 'x', 'y', 'LEN']).calls, [['integer', 6]])
  t.same(h.run(['LCS', 'x', 'y', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN']).calls, [
    ['map', 2], ['bulk', 'matches'], ['array', 1], ['array', 3], ['array', 2], ['integer', 4],
    ['integer', 7], ['array', 2], ['integer', 5], ['integer', 8], ['integer', 4],
    ['bulk', 'len'], ['integer', 6],
  ])
})

t.test('reads and expiry changes of a string kept in the index leave it there (issue 15)', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  const ks = h.store.keyspace
  /** Whether `key` is a string kept in the key index (no Entry). */
  const kept = (key: string): boolean => {
    const map = ks.findKey(0, key)
    return ks.foundHandle !== -1 && map.isValue(ks.foundHandle)
  }
  h.run(['SET', 'k', 'hello'])
  h.run(['SET', 'o', 'other'])
  t.ok(kept('k'), 'SET keeps it in the index')
  const steps: [string[], unknown[]][] = [
    [['GETEX', 'k'], [['bulk', 'hello']]],
    [['STRLEN', 'k'], [['integer', 5]]],
    [['EXISTS', 'k', 'nope', 'k'], [['integer', 2]]],
    [['TYPE', 'k'], [['simple', 'string']]],
    [['TTL', 'k'], [['integer', -1]]],
    [['GETEX', 'k', 'EX', '100'], [['bulk', 'hello']]],
    [['TTL', 'k'], [['integer', 100]]],
    [['EXPIRE', 'k', '50', 'GT'], [['integer', 0]]],
    [['EXPIRE', 'k', '200', 'GT'], [['integer', 1]]],
    [['PTTL', 'k'], [['integer', 200_000]]],
    [['GETEX', 'k', 'PERSIST'], [['bulk', 'hello']]],
    [['PERSIST', 'k'], [['integer', 0]]],
    [['PEXPIRE', 'k', '5000'], [['integer', 1]]],
    [['PERSIST', 'k'], [['integer', 1]]],
    [['TTL', 'k'], [['integer', -1]]],
    [['GETEX', 'k', 'EX', 'x'], [['error', 'ERR value is not an integer or out of range']]],
    [['SET', 'k', 'world', 'GET'], [['bulk', 'hello']]],
    [['GETSET', 'k', 'again'], [['bulk', 'world']]],
    [['MSETNX', 'k', 'x', 'new', 'y'], [['integer', 0]]],
    [['MSET', 'k', 'last', 'o', 'o2'], [['simple', 'OK']]],
    [['MGET', 'k', 'o', 'nope'], [['array', 3], ['bulk', 'last'], ['bulk', 'o2'], ['nullBulk']]],
  ]
  for (const [argv, calls] of steps) {
    t.same(h.run(argv).calls, calls, argv.join(' '))
    if (!kept('k') || !kept('o')) t.fail(`${argv.join(' ')} made an Entry of a kept string`)
  }
  t.same(h.run(['GETDEL', 'k']).calls, [['bulk', 'last']])
  t.same(h.run(['EXISTS', 'k']).calls, [['integer', 0]])
  // An expired kept string reads as missing and is deleted (lazy expiry), as an Entry is.
  h.run(['SET', 'e', 'v', 'PX', '10'])
  t.ok(kept('e'))
  t.same(h.run(['TTL', 'e'], T0 + 11).calls, [['integer', -2]])
  t.same(h.run(['EXISTS', 'e'], T0 + 11).events.length, 0, 'already deleted by TTL')
  h.run(['SET', 'e', 'v', 'PX', '10'])
  const r = h.run(['EXPIRE', 'e', '100'], T0 + 11)
  t.same(r.calls, [['integer', 0]], 'EXPIRE of an expired key')
  t.match(r.events, [{ code: EV_DEL, key: 'e' }], 'which it deletes')
})
