// Redis 7.0.15's DUMP serialization in process (src/state/rdb-value.ts, rdb-format.ts,
// rdb-stream.ts, lzf.ts): the CRC's check value, payloads recorded from redis-server 7.0.15
// decoded, and every type and encoding through dumpValue → restoreValue unchanged (the canonical
// form the crash tests compare). The differential test against a live redis-server is
// test/compat/dump-differential.test.ts; corrupted payloads are rdb-value.fuzz.test.ts.

import t from 'tap'
import { Deque } from '../../src/state/deque.js'
import { TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET } from '../../src/state/keyspace.js'
import { lzfCompress, lzfDecompress } from '../../src/state/lzf.js'
import { RandomMap, RandomSet } from '../../src/state/random-access.js'
import {
  RdbError, buildListpack, crc64Jones, listpackElement, readListpack, verifyPayload,
} from '../../src/state/rdb-format.js'
import { dumpValue, restoreValue } from '../../src/state/rdb-value.js'
import { Consumer, ConsumerGroup, Nack, Stream, TYPE_STREAM, idOf } from '../../src/state/stream.js'
import { valueType } from '../../src/state/value-codec.js'
import { ZSet } from '../../src/state/zset.js'


function mapOf(pairs: [string, Buffer][]): RandomMap<Buffer> {
  const m = new RandomMap<Buffer>()
  for (const [k, v] of pairs) m.set(k, v)
  return m
}

function setOf(members: string[]): RandomSet {
  const s = new RandomSet()
  for (const m of members) s.add(m)
  return s
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex')

t.test('crc64 is Redis\'s (Jones, reflected): check value of "123456789"', async (t) => {
  t.equal(crc64Jones(Buffer.from('123456789')), 0xe9c6d914c4b8d9can)
  t.equal(crc64Jones(Buffer.alloc(0)), 0n)
})

t.test('payloads recorded from redis-server 7.0.15 decode to their values', async (t) => {
  const cases: [string, number, string][] = [
    ['000568656c6c6f0a006372df766534200a', TYPE_STRING, '68656c6c6f'], // SET s1 hello
    ['00c139300a009d94ea2793fc08b9', TYPE_STRING, Buffer.from('12345').toString('hex')],
    ['00c290eefeff0a002875de7b13eb2800', TYPE_STRING, Buffer.from('-70000').toString('hex')],
    ['02030163016101620a00d51bc2f0968e69c3', TYPE_SET, ['a', 'b', 'c'].map((m) =>
      Buffer.from(m).toString('hex')).join(',')],
  ]
  for (const [payload, type, canonical] of cases) {
    t.ok(verifyPayload(hex(payload)), `footer of ${payload}`)
    const v = restoreValue(hex(payload))
    t.equal(v.type, type)
    t.equal(valueType(v.type).canonical(v.value), canonical)
  }
  // The same payloads are what capykv's DUMP writes (byte for byte).
  t.same(dumpValue(TYPE_STRING, Buffer.from('hello'), null), hex(cases[0]?.[0] ?? ''))
  t.same(dumpValue(TYPE_STRING, Buffer.from('-70000'), null), hex(cases[2]?.[0] ?? ''))
})

function sampleStream(): Stream {
  const s = new Stream()
  const b = (x: string): Buffer => Buffer.from(x)
  s.append(idOf(1n, 0n), [b('f'), b('1'), b('g'), b('x')], true)
  s.append(idOf(1n, 5n), [b('f'), b('2'), b('g'), b('y')], false)
  s.append(idOf(2n, 0n), [b('other'), b('-7')], false)
  s.append(idOf(9n, 1n), [b('f'), b('3')], true)
  s.markDeleted(0, 1, false)
  s.maxDeletedId = idOf(1n, 5n)
  const g = new ConsumerGroup(idOf(2n, 0n), 3n)
  const c = new Consumer('alice', 1234)
  const nack = new Nack(c, 99, 2)
  g.pel.set(idOf(2n, 0n), nack)
  c.pel.set(idOf(2n, 0n), nack)
  g.consumers.set('alice', c)
  g.consumers.set('bob', new Consumer('bob', 5))
  s.groups.set('grp', g)
  s.groups.set('idle', new ConsumerGroup(0n, -1n))
  return s
}

t.test('every type and encoding survives dumpValue → restoreValue', async (t) => {
  const big = Buffer.alloc(20000, 'q')
  const list = new Deque<Buffer>([Buffer.from('a'), Buffer.from('-5'), Buffer.from('70000'),
    Buffer.from('9223372036854775807'), Buffer.from('9223372036854775808'), big, Buffer.alloc(0)])
  for (let i = 0; i < 3000; i++) list.pushBack(Buffer.from(`item-${i}`))
  const hash = mapOf([['f', Buffer.from('v')], ['n', Buffer.from('12')],
    ['', Buffer.alloc(70, 'z')]])
  const ints = setOf(['1', '-40000', '3000000000', '7'])
  const strs = setOf(['a', 'b', '1'])
  const z = new ZSet()
  z.add('a', 1)
  z.add('b', 2.5)
  z.add('c', -Infinity)
  z.add('d', 1e300)
  z.add('e', -0)
  z.add('f', 0.1)
  const cases: [string, number, unknown, string | null][] = [
    ['empty string', TYPE_STRING, Buffer.alloc(0), null],
    ['int string', TYPE_STRING, Buffer.from('-2147483648'), null],
    ['long string (LZF)', TYPE_STRING, Buffer.from('abc'.repeat(1000)), null],
    ['binary string', TYPE_STRING, Buffer.from([0, 255, 13, 10, 200]), null],
    ['list', TYPE_LIST, list, 'quicklist'],
    ['hash listpack', TYPE_HASH, hash, 'listpack'],
    ['hash hashtable', TYPE_HASH, hash, 'hashtable'],
    ['set intset', TYPE_SET, ints, 'intset'],
    ['set hashtable', TYPE_SET, strs, 'hashtable'],
    ['zset listpack', TYPE_ZSET, z, 'listpack'],
    ['zset skiplist', TYPE_ZSET, z, 'skiplist'],
    ['stream', TYPE_STREAM, sampleStream(), 'stream'],
    ['empty stream', TYPE_STREAM, new Stream(), 'stream'],
  ]
  for (const [name, type, value, encoding] of cases) {
    const payload = dumpValue(type, value, encoding)
    t.ok(verifyPayload(payload), `${name}: footer`)
    const back = restoreValue(payload)
    t.equal(back.type, type, `${name}: type`)
    t.equal(valueType(type).canonical(back.value), valueType(type).canonical(value), `${name}: value`)
  }
})

t.test('listpack and LZF round trips, and their refusals', async (t) => {
  const items = ['0', '127', '128', '-4096', '4095', '-32768', '8388607', '-2147483648',
    '9223372036854775807', '-9223372036854775808', 'x'.repeat(63), 'y'.repeat(64),
    'z'.repeat(4095), 'w'.repeat(4096), '', '01', '+1']
  const lp = buildListpack(items.map((s) => listpackElement(Buffer.from(s))))
  t.same(readListpack(lp).map((b) => b.toString()), items)
  const bad = Buffer.from(lp)
  bad[bad.length - 1] = 0
  t.throws(() => readListpack(bad), RdbError)
  const text = Buffer.from('hello hello hello hello hello world world world'.repeat(40))
  const packed = lzfCompress(text)
  t.ok(packed !== null && packed.length < text.length)
  if (packed !== null) {
    t.same(lzfDecompress(packed, 0, packed.length, text.length), text)
    t.equal(lzfDecompress(packed, 0, packed.length, text.length + 1), null, 'wrong length refused')
    t.equal(lzfDecompress(packed, 0, packed.length - 1, text.length), null, 'truncated refused')
  }
  t.equal(lzfCompress(Buffer.from('abcd')), null, 'too short to gain')
})
