// RESTORE's decoder (src/state/rdb-value.ts) on corrupted payloads: valid DUMPs of every type
// with bytes flipped, inserted, deleted or truncated, their footer re-sealed so the decoder (not
// the CRC) meets the damage. Every input must end in a valid value or an RdbError: never another
// exception, never a hang (tap's timeout bounds the file), and a decoded value
// must re-dump and decode to itself. Seeded: the seed is printed on failure.

import t from 'tap'
import { Deque } from '../../src/state/deque.js'
import { TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET } from '../../src/state/keyspace.js'
import { RandomMap, RandomSet } from '../../src/state/random-access.js'
import { RdbError, sealPayload, verifyPayload } from '../../src/state/rdb-format.js'
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

const SEED = Number(process.env.FUZZ_SEED ?? 20261207)
const ROUNDS = 4000

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    return x / 2 ** 32
  }
}

function samples(): [number, unknown, string | null][] {
  const b = (s: string): Buffer => Buffer.from(s)
  const z = new ZSet()
  for (let i = 0; i < 20; i++) z.add(`m${i}`, i * 1.5 - 7)
  const s = new Stream()
  s.append(idOf(5n, 0n), [b('a'), b('1')], true)
  s.append(idOf(5n, 1n), [b('a'), b('2')], false)
  s.append(idOf(6n, 0n), [b('b'), b('x'), b('c'), b('y')], false)
  const g = new ConsumerGroup(idOf(5n, 1n), 2n)
  const c = new Consumer('c1', 10)
  const n = new Nack(c, 20, 1)
  g.pel.set(idOf(5n, 1n), n)
  c.pel.set(idOf(5n, 1n), n)
  g.consumers.set('c1', c)
  s.groups.set('g', g)
  return [
    [TYPE_STRING, b('a string that is long enough to be compressed compressed compressed'), null],
    [TYPE_STRING, b('123'), null],
    [TYPE_LIST, new Deque<Buffer>([b('x'), b('12'), b('-300'), b('y'.repeat(100))]), 'quicklist'],
    [TYPE_HASH, mapOf([['f', b('1')], ['g', b('hello')]]), 'listpack'],
    [TYPE_HASH, mapOf([['f', b('1')], ['g', b('hello')]]), 'hashtable'],
    [TYPE_SET, setOf(['1', '2', '-70000']), 'intset'],
    [TYPE_SET, setOf(['p', 'q']), 'hashtable'],
    [TYPE_ZSET, z, 'listpack'],
    [TYPE_ZSET, z, 'skiplist'],
    [TYPE_STREAM, s, 'stream'],
  ]
}

function corrupt(body: Buffer, rnd: () => number): Buffer {
  const out = [...body]
  const edits = 1 + Math.floor(rnd() * 3)
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (out.length + 1))
    const kind = Math.floor(rnd() * 5)
    if (kind === 0 && at < out.length) out[at] = Math.floor(rnd() * 256)
    else if (kind === 1 && at < out.length) out[at] = (out[at] as number) ^ (1 << Math.floor(rnd() * 8))
    else if (kind === 2) out.splice(at, 0, Math.floor(rnd() * 256))
    else if (kind === 3) out.splice(at, 1)
    else out.length = Math.min(out.length, at)
  }
  return Buffer.from(out)
}

t.test(`corrupted payloads decode to a valid value or RdbError (seed ${SEED})`, async (t) => {
  const rnd = prng(SEED)
  const bodies = samples().map(([type, value, enc]) => {
    const p = dumpValue(type, value, enc)
    return p.subarray(0, p.length - 10)
  })
  let refused = 0
  let accepted = 0
  for (let i = 0; i < ROUNDS; i++) {
    const body = bodies[i % bodies.length] as Buffer
    const payload = sealPayload(corrupt(body, rnd))
    t.ok(verifyPayload(payload) || payload.length < 10, 'resealed')
    try {
      const v = restoreValue(payload)
      const again = restoreValue(dumpValue(v.type, v.value, null))
      if (valueType(again.type).canonical(again.value) !== valueType(v.type).canonical(v.value)) {
        t.fail(`round ${i} (seed ${SEED}): a decoded value does not survive its own DUMP`)
      }
      accepted++
    } catch (e) {
      if (!(e instanceof RdbError)) {
        t.fail(`round ${i} (seed ${SEED}): ${String(e)} on ${payload.toString('hex')}`)
        break
      }
      refused++
    }
  }
  t.ok(refused > 0, `refused ${refused}`)
  t.ok(accepted > 0, `accepted ${accepted}`)
  // Declared lengths far beyond the payload are refused before anything is allocated for them.
  const huge = sealPayload(Buffer.from([0x00, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))
  t.throws(() => restoreValue(huge), RdbError)
  const lzfBomb = sealPayload(Buffer.from([0x00, 0xc3, 0x01, 0x80, 0x7f, 0xff, 0xff, 0xff, 0x00]))
  t.throws(() => restoreValue(lzfBomb), RdbError)
})
