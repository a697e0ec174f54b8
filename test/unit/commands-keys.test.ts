// Unit tests of the keyspace and expiry handlers in-process: RENAME/COPY/MOVE events, deep
// copies, SCAN completeness under concurrent changes, glob matching, and the active expire cycle.
import t from 'tap'
import { activeExpireCycle, expireCommands } from '../../src/commands/expire.js'
import { globMatch } from '../../src/commands/glob.js'
import { keyCommands } from '../../src/commands/keys.js'
import { stringCommands } from '../../src/commands/string.js'
import {
  EV_DEL, EV_EXPIRE, EV_FLUSHALL, EV_RESTORE, EV_SWAPDB, restoreOf,
} from '../../src/state/core-events.js'
import { Deque } from '../../src/state/deque.js'
import { Entry, KeyMap, TYPE_LIST } from '../../src/state/keyspace.js'
import { valueType } from '../../src/state/value-codec.js'
import { T0, openHarness, type Harness } from './commands-helpers.js'

const specs = [...stringCommands, ...keyCommands, ...expireCommands]

/** Put a list value directly (the list commands are another module's). */
function putList(h: Harness, key: string, items: string[]): void {
  const list = new Deque<Buffer>()
  for (const i of items) list.pushBack(Buffer.from(i))
  const txn = h.store.begin()
  txn.apply(restoreOf(0, key, new Entry(TYPE_LIST, list, 0, valueType(TYPE_LIST).bytes(list))))
  txn.commitNoWait()
}

t.test('RENAME logs a RESTORE of the value with its expiry, then a DEL', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'a', 'v', 'EX', '50'])
  const r = h.run(['RENAME', 'a', 'b'])
  t.same(r.calls, [['simple', 'OK']])
  t.match(r.events, [
    { code: EV_RESTORE, key: 'b', expireAtMs: T0 + 50_000 }, { code: EV_DEL, key: 'a' },
  ])
  t.same(h.run(['RENAME', 'a', 'b']).calls, [['error', 'ERR no such key']])
  t.same(h.run(['RENAMENX', 'b', 'b']).calls, [['integer', 0]])
})

t.test('COPY deep-copies: the two keys never share a mutable value', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  putList(h, 'l', ['x', 'y'])
  const r = h.run(['COPY', 'l', 'l2'])
  t.same(r.calls, [['integer', 1]])
  t.match(r.events, [{ code: EV_RESTORE, key: 'l2' }])
  const a = h.store.keyspace.get(0, 'l')
  const b = h.store.keyspace.get(0, 'l2')
  t.not(a?.value, b?.value, 'different objects')
  t.equal(valueType(TYPE_LIST).canonical(a?.value), valueType(TYPE_LIST).canonical(b?.value))
  ;(b?.value as Deque<Buffer>).pushBack(Buffer.from('z'))
  t.equal((a?.value as Deque<Buffer>).length, 2, 'the source is unchanged')
  t.same(h.run(['COPY', 'l', 'l', 'DB', '0']).calls,
    [['error', 'ERR source and destination objects are the same']])
  t.same(h.run(['COPY', 'l', 'x', 'DB', '16']).calls, [['error', 'ERR DB index is out of range']])
})

t.test('MOVE restores into the target db and deletes the source', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'v', 'PX', '7000'])
  const r = h.run(['MOVE', 'k', '3'])
  t.same(r.calls, [['integer', 1]])
  t.match(r.events, [
    { code: EV_RESTORE, db: 3, key: 'k', expireAtMs: T0 + 7000 }, { code: EV_DEL, db: 0 },
  ])
  t.same(h.run(['MOVE', 'k', '99999999999']).calls,
    [['error', 'ERR value is out of range, value must between -2147483648 and 2147483647']])
})

t.test('SWAPDB, FLUSHDB and FLUSHALL log their database events', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'v'])
  t.match(h.run(['SWAPDB', '0', '1']).events, [{ code: EV_SWAPDB, a: 0, b: 1 }])
  t.same(h.run(['SWAPDB', '2', '2']).events, [], 'same db: nothing to log')
  t.same(h.run(['SWAPDB', 'x', '1']).calls, [['error', 'ERR invalid first DB index']])
  t.match(h.run(['FLUSHALL']).events, [{ code: EV_FLUSHALL }])
  t.same(h.run(['FLUSHDB', 'x']).calls, [['error', 'ERR syntax error']])
})

t.test('SCAN returns every key present for the whole scan, across changes and restarts',
  async (t) => {
    const h = await openHarness(specs)
    t.teardown(() => h.close())
    const stable = Array.from({ length: 600 }, (_, i) => `stable:${i}`)
    const churn = Array.from({ length: 300 }, (_, i) => `churn:${i}`)
    h.run(['MSET', ...stable.flatMap((k) => [k, 'v'])])
    h.run(['MSET', ...churn.flatMap((k) => [k, 'v'])])
    const seen = new Set<string>()
    let cursor = '0'
    let round = 0
    do {
      const calls = h.run(['SCAN', cursor, 'COUNT', '7']).calls
      cursor = calls[1]?.[1] as string
      for (const c of calls.slice(3)) seen.add(c[1] as string)
      // Churn between calls: delete some keys, add new ones.
      h.run(['DEL', `churn:${round}`])
      h.run(['SET', `new:${round}`, 'v'])
      if (round === 20) {
        // A "restart": the database rebuilt in another order (a new map, no snapshot).
        const ks = h.store.keyspace
        const entries = [...ks.db(0)].reverse()
        ks.replaceDb(0, new KeyMap(entries))
      }
      round++
    } while (cursor !== '0' && round < 10_000)
    t.equal(cursor, '0', 'the scan ends')
    const missing = stable.filter((k) => !seen.has(k))
    t.same(missing, [], 'every key present for the whole scan was returned')
  })

t.test('SCAN MATCH / TYPE filter, errors as Redis', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['MSET', 'a1', '1', 'a2', '2', 'b1', '3'])
  putList(h, 'al', ['x'])
  const keysOf = (argv: string[]): string[] =>
    h.run(argv).calls.slice(3).map((c) => c[1] as string).sort()
  t.same(keysOf(['SCAN', '0', 'MATCH', 'a*', 'COUNT', '100']), ['a1', 'a2', 'al'])
  t.same(keysOf(['SCAN', '0', 'TYPE', 'list', 'COUNT', '100']), ['al'])
  t.same(h.run(['SCAN', 'x']).calls, [['error', 'ERR invalid cursor']])
  t.same(h.run(['SCAN', '0', 'COUNT', '0']).calls, [['error', 'ERR syntax error']])
})

t.test('glob matching follows stringmatchlen', async (t) => {
  const m = (p: string, s: string): boolean =>
    globMatch(Buffer.from(p, 'latin1'), Buffer.from(s, 'latin1'))
  t.ok(m('h?llo', 'hello'))
  t.ok(m('h*llo', 'hllo'))
  t.ok(m('h[^e]llo', 'hallo'))
  t.notOk(m('h[^e]llo', 'hello'))
  t.ok(m('h[a-b]llo', 'hbllo'))
  t.ok(m('h[b-a]llo', 'hallo'), 'reversed range')
  t.ok(m('h\\*llo', 'h*llo'))
  t.notOk(m('*', ''), '"*" does not match the empty string')
  t.ok(m('', ''))
  t.ok(m('[abc', 'c'), 'unterminated class')
  t.ok(m('a\\', 'a\\'), 'trailing backslash is literal')
  t.notOk(m('[\x01-\x7f]', '\x80'), 'signed chars: 0x80 is below 0x01')
  t.ok(m('[\x80-\xff]', '\x90'))
  t.ok(m('*'.repeat(100_000) + 'a', 'ba'), 'no recursion')
})

t.test('EXPIRE logs absolute times; a past time logs a DEL; flags and errors', async (t) => {
  const h = await openHarness(specs)
  t.teardown(() => h.close())
  h.run(['SET', 'k', 'v'])
  t.match(h.run(['EXPIRE', 'k', '10']).events, [{ code: EV_EXPIRE, expireAtMs: T0 + 10_000 }])
  t.same(h.run(['EXPIRE', 'k', '5', 'GT']).calls, [['integer', 0]])
  t.same(h.run(['EXPIRE', 'k', '5', 'LT']).calls, [['integer', 1]])
  t.same(h.run(['EXPIRE', 'k', '5', 'NX', 'XX']).calls,
    [['error', 'ERR NX and XX, GT or LT options at the same time are not compatible']])
  t.same(h.run(['EXPIRE', 'k', '5', 'FOO']).calls, [['error', 'ERR Unsupported option FOO']])
  t.same(h.run(['PEXPIRETIME', 'k']).calls, [['integer', T0 + 5000]])
  t.match(h.run(['PERSIST', 'k']).events, [{ code: EV_EXPIRE, expireAtMs: 0 }])
  t.match(h.run(['EXPIREAT', 'k', '1']).events, [{ code: EV_DEL, key: 'k' }])
  t.same(h.run(['TTL', 'k']).calls, [['integer', -2]])
})

t.test('the active expire cycle deletes expired keys in one transaction, within budget',
  async (t) => {
    const h = await openHarness(specs)
    t.teardown(() => h.close())
    for (let i = 0; i < 300; i++) h.run(['SET', `e:${i}`, 'v', 'PX', '100'])
    for (let i = 0; i < 300; i++) h.run(['SET', `p:${i}`, 'v'])
    for (let i = 0; i < 50; i++) h.run(['SET', `f:${i}`, 'v', 'EX', '1000'])
    const ks = h.store.keyspace
    t.equal(activeExpireCycle(h.store, T0 + 50, 100), 0, 'nothing expired yet')
    const first = activeExpireCycle(h.store, T0 + 200, 100)
    t.ok(first > 0 && first <= 100, `within the budget (${first})`)
    let total = first
    for (let i = 0; i < 20; i++) total += activeExpireCycle(h.store, T0 + 200, 100)
    t.equal(total, 300, 'every expired key deleted')
    t.equal(ks.db(0).size, 350, 'keys without a due expiry stay')
    // Keys that get an expiry after the index exists are found too, in any database.
    h.client.db = 5
    h.run(['SET', 'late', 'v'])
    h.run(['PEXPIRE', 'late', '10'], T0 + 200)
    h.client.db = 0
    let late = 0
    for (let i = 0; i < DB_CYCLES; i++) late += activeExpireCycle(h.store, T0 + 300, 100)
    t.equal(late, 1)
    t.equal(ks.db(5).size, 0)
  })

const DB_CYCLES = 20
