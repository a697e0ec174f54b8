// The collection events (list-, hash-, set-, zset-events.ts) against the invariants of
// state/event.ts, on seeded random keyspaces that include missing keys, keys of every other
// type and out-of-range arguments (the seed is in each test's name and failure message):
// - TOTAL: apply never throws, whatever state it meets;
// - undo restores the exact previous state (canonical form, expiry, liveBytes);
// - liveBytes stays exact: equal to the sum recomputed from the value codecs;
// - encode/decode round-trips byte for byte, and the decoded event applied to a copy of the
//   keyspace gives the same state as the original (deterministic replay);
// - canonical equality does not depend on history (hash/set order), and no empty collection
//   is ever left behind (removing the last element deletes the key).
import t from 'tap'
import { Prng } from '../sim/prng.js'
import { ByteReader, ByteWriter } from '../../src/state/bytes.js'
import '../../src/state/core-events.js'
import { Deque } from '../../src/state/deque.js'
import { applyEvent, decodeEvents, encodeEvents, type Event } from '../../src/state/event.js'
import {
  Entry, Keyspace, TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, entryBytes,
} from '../../src/state/keyspace.js'
import { valueType } from '../../src/state/value-codec.js'
import { ZSet } from '../../src/state/zset.js'
import {
  EV_LINSERT, EV_LPOP, EV_LPUSH, EV_LREM, EV_LSET, EV_LTRIM, EV_RPOP, EV_RPUSH,
} from '../../src/state/list-events.js'
import { EV_HDEL, EV_HSET } from '../../src/state/hash-events.js'
import { EV_SADD, EV_SREM } from '../../src/state/set-events.js'
import { EV_ZADD, EV_ZREM } from '../../src/state/zset-events.js'

const KEYS = ['a', 'b', 'c', 'd', '\u0000k', '']
const ITEMS = ['', 'x', 'y', 'z', '\u00ff', 'long'.repeat(20)]

function canonical(ks: Keyspace): string {
  const parts: string[] = []
  ks.dbs.forEach((map, db) => {
    for (const key of [...map.keys()].sort()) {
      const e = map.get(key) as Entry
      parts.push(`${db}/${Buffer.from(key, 'latin1').toString('hex')}:${e.type}:${e.expireAtMs}:` +
        valueType(e.type).canonical(e.value))
    }
  })
  return parts.join('\n')
}

function recomputedBytes(ks: Keyspace): number {
  let n = 0
  for (const map of ks.dbs) {
    for (const [key, e] of map) n += key.length + valueType(e.type).bytes(e.value) + 24
  }
  return n
}

function emptyCollections(ks: Keyspace): string[] {
  const out: string[] = []
  for (const map of ks.dbs) {
    for (const [key, e] of map) {
      const size = e.type === TYPE_LIST ? (e.value as Deque<Buffer>).length
        : e.type === TYPE_HASH ? (e.value as Map<string, Buffer>).size
          : e.type === TYPE_SET ? (e.value as Set<string>).size
            : e.type === TYPE_ZSET ? (e.value as ZSet).length : 1
      if (size === 0) out.push(key)
    }
  }
  return out
}

function copyKeyspace(ks: Keyspace): Keyspace {
  const out = new Keyspace()
  ks.dbs.forEach((map, db) => {
    for (const [key, e] of map) {
      const vt = valueType(e.type)
      const w = new ByteWriter(64)
      vt.encode(w, e.value)
      const value = vt.decode(new ByteReader(w.view()))
      out.set(db, key, new Entry(e.type, value, e.expireAtMs, vt.bytes(value)))
    }
  })
  return out
}

function pick<T>(r: Prng, xs: readonly T[]): T {
  return xs[r.int(xs.length)] as T
}

function buf(s: string): Buffer {
  return Buffer.from(s, 'latin1')
}

/** A random keyspace: each key missing or of a random type, in db 0 and db 1. */
function randomKeyspace(r: Prng): Keyspace {
  const ks = new Keyspace()
  for (const db of [0, 1]) {
    for (const key of KEYS) {
      const kind = r.int(6)
      const expire = r.int(4) === 0 ? 1_900_000_000_000 : 0
      if (kind === 0) continue
      if (kind === 1) ks.set(db, key, new Entry(TYPE_STRING, buf('v'), expire, 3))
      if (kind === 2) {
        const list = new Deque<Buffer>()
        for (let i = r.int(6) + 1; i > 0; i--) list.pushBack(buf(pick(r, ITEMS)))
        ks.set(db, key, new Entry(TYPE_LIST, list, expire, valueType(TYPE_LIST).bytes(list)))
      }
      if (kind === 3) {
        const h = new Map<string, Buffer>()
        for (let i = r.int(5) + 1; i > 0; i--) h.set(pick(r, ITEMS), buf(pick(r, ITEMS)))
        ks.set(db, key, new Entry(TYPE_HASH, h, expire, valueType(TYPE_HASH).bytes(h)))
      }
      if (kind === 4) {
        const s = new Set<string>()
        for (let i = r.int(5) + 1; i > 0; i--) s.add(pick(r, ITEMS))
        ks.set(db, key, new Entry(TYPE_SET, s, expire, valueType(TYPE_SET).bytes(s)))
      }
      if (kind === 5) {
        const z = new ZSet()
        for (let i = r.int(5) + 1; i > 0; i--) z.add(pick(r, ITEMS), r.int(5) - 2)
        ks.set(db, key, new Entry(TYPE_ZSET, z, expire, valueType(TYPE_ZSET).bytes(z)))
      }
    }
  }
  return ks
}

const COUNTS = [0, 1, 2, 3, 7, 1000, 2 ** 40]
const SCORES = [0, -0, 1, -1, 2.5, Infinity, -Infinity, NaN, 1e300]

function randomEvent(r: Prng): Event {
  const db = r.int(2)
  const key = pick(r, KEYS)
  const items = (): Buffer[] => Array.from({ length: r.int(4) }, () => buf(pick(r, ITEMS)))
  const members = (): string[] => Array.from({ length: r.int(4) }, () => pick(r, ITEMS))
  switch (r.int(12)) {
    case 0: return { code: EV_LPUSH, db, key, items: items() } as Event
    case 1: return { code: EV_RPUSH, db, key, items: items() } as Event
    case 2: return { code: EV_LPOP, db, key, count: pick(r, COUNTS) } as Event
    case 3: return { code: EV_RPOP, db, key, count: pick(r, COUNTS) } as Event
    case 4: return { code: pick(r, [EV_LSET, EV_LINSERT]), db, key, index: pick(r, COUNTS), item: buf(pick(r, ITEMS)) } as Event
    case 5: return { code: EV_LREM, db, key, count: pick(r, [0, 1, -1, 2, -2, 100, -100, NaN]), item: buf(pick(r, ITEMS)) } as Event
    case 6: return { code: EV_LTRIM, db, key, left: pick(r, COUNTS), right: pick(r, COUNTS) } as Event
    case 7: return { code: EV_HSET, db, key, fields: members().map((f) => [f, buf(pick(r, ITEMS))]) } as Event
    case 8: return { code: EV_HDEL, db, key, fields: members() } as Event
    case 9: return { code: pick(r, [EV_SADD, EV_SREM]), db, key, members: members() } as Event
    case 10: return { code: EV_ZADD, db, key, entries: members().map((m) => [pick(r, SCORES), m]) } as Event
    default: return { code: EV_ZREM, db, key, members: members() } as Event
  }
}

function encode(events: readonly Event[]): Buffer {
  const w = new ByteWriter(64)
  encodeEvents(w, events)
  return Buffer.from(w.view())
}

for (const seed of [11, 12, 13, 14, 15]) {
  t.test(`collection events keep event.ts's invariants (seed ${seed})`, (t) => {
    const r = new Prng(seed)
    let failures = 0
    const fail = (msg: string): void => {
      if (failures++ < 8) t.fail(`seed ${seed}: ${msg}`)
    }
    let applied = 0
    for (let round = 0; round < 300; round++) {
      const ks = randomKeyspace(r)
      const replica = copyKeyspace(ks)
      const undos: (() => void)[] = []
      const before = canonical(ks)
      const bytesBefore = ks.liveBytes
      const history: string[] = []
      const events: Event[] = []
      for (let i = 0; i < 20; i++) {
        const e = randomEvent(r)
        const snapshot = canonical(ks)
        const snapBytes = ks.liveBytes
        let undo: (() => void) | null = null
        try {
          undo = applyEvent(ks, e)
        } catch (err) {
          fail(`apply threw on ${JSON.stringify(e)}: ${String(err)}`)
          continue
        }
        applied++
        if (undo === null && canonical(ks) !== snapshot) fail(`null undo but the state changed: ${JSON.stringify(e)}`)
        if (ks.liveBytes !== recomputedBytes(ks)) {
          fail(`liveBytes ${ks.liveBytes} != recomputed ${recomputedBytes(ks)} after ${JSON.stringify(e)}`)
        }
        const empty = emptyCollections(ks)
        if (empty.length > 0) fail(`empty collection left at ${JSON.stringify(empty)} by ${JSON.stringify(e)}`)
        // encode/decode round trip of the single event
        const bytes = encode([e])
        const decoded = decodeEvents(bytes, 0, bytes.length)
        if (!encode(decoded).equals(bytes)) fail(`re-encoding differs for ${JSON.stringify(e)}`)
        // a single apply/undo round trip leaves the exact previous state
        if (undo !== null) {
          undo()
          if (canonical(ks) !== snapshot || ks.liveBytes !== snapBytes) fail(`undo of ${JSON.stringify(e)} is not exact`)
          undo = applyEvent(ks, e)
        }
        if (undo !== null) {
          undos.push(undo)
          events.push(e)
        }
        history.push(canonical(ks))
      }
      // replay of the decoded log on a copy of the original gives the same state
      const log = encode(events)
      for (const e of decodeEvents(log, 0, log.length)) applyEvent(replica, e)
      if (canonical(replica) !== canonical(ks)) fail(`replay differs in round ${round}`)
      if (replica.liveBytes !== ks.liveBytes) fail(`replay liveBytes differ in round ${round}`)
      // undo everything, newest first: back to the start
      for (let i = undos.length - 1; i >= 0; i--) (undos[i] as () => void)()
      if (canonical(ks) !== before) fail(`undoing round ${round} is not exact`)
      if (ks.liveBytes !== bytesBefore) fail(`liveBytes after undoing round ${round}`)
    }
    t.equal(failures, 0, `seed ${seed}: ${applied} events applied`)
    t.end()
  })
}

t.test('decoding garbage never yields a half-applied event: DecodeError or a total event', (t) => {
  const r = new Prng(99)
  let decodedOk = 0
  let refused = 0
  let inexact = 0
  for (let i = 0; i < 5000; i++) {
    const e = randomEvent(r)
    const bytes = encode([e])
    const cut = Buffer.from(bytes.subarray(0, 1 + r.int(bytes.length)))
    if (cut.length > 2) {
      const at = 2 + r.int(cut.length - 2)
      cut.writeUInt8(cut.readUInt8(at) ^ (1 << r.int(8)), at)
    }
    let events: Event[]
    try {
      events = decodeEvents(cut, 0, cut.length)
    } catch {
      refused++
      continue
    }
    decodedOk++
    const ks = randomKeyspace(r)
    for (const ev of events) applyEvent(ks, ev) // must not throw
    if (ks.liveBytes !== recomputedBytes(ks)) inexact++
  }
  t.ok(refused > 0, `${refused} refused, ${decodedOk} decoded and applied`)
  t.equal(inexact, 0, 'liveBytes exact after every decoded garbage event')
  t.end()
})

t.test('canonical form does not depend on history', (t) => {
  const a = new Keyspace()
  const b = new Keyspace()
  applyEvent(a, { code: EV_HSET, db: 0, key: 'h', fields: [['x', buf('1')], ['y', buf('2')]] } as Event)
  applyEvent(b, { code: EV_HSET, db: 0, key: 'h', fields: [['y', buf('2')]] } as Event)
  applyEvent(b, { code: EV_HSET, db: 0, key: 'h', fields: [['x', buf('0')], ['x', buf('1')]] } as Event)
  applyEvent(a, { code: EV_SADD, db: 0, key: 's', members: ['p', 'q'] } as Event)
  applyEvent(b, { code: EV_SADD, db: 0, key: 's', members: ['q', 'r', 'p'] } as Event)
  applyEvent(b, { code: EV_SREM, db: 0, key: 's', members: ['r'] } as Event)
  t.equal(canonical(a), canonical(b))
  t.equal(a.liveBytes, b.liveBytes)
  t.end()
})

t.test('removing the last element deletes the key, with its expiry', (t) => {
  const ks = new Keyspace()
  applyEvent(ks, { code: EV_RPUSH, db: 0, key: 'l', items: [buf('a')] } as Event)
  ks.get(0, 'l')!.expireAtMs = 123
  const undo = applyEvent(ks, { code: EV_LPOP, db: 0, key: 'l', count: 5 } as Event)
  t.equal(ks.get(0, 'l'), undefined)
  undo?.()
  t.equal(ks.get(0, 'l')?.expireAtMs, 123, 'undo brings the key back with its expiry')
  applyEvent(ks, { code: EV_ZADD, db: 0, key: 'z', entries: [[1, 'm']] } as Event)
  applyEvent(ks, { code: EV_ZREM, db: 0, key: 'z', members: ['m', 'm'] } as Event)
  t.equal(ks.get(0, 'z'), undefined)
  t.equal(ks.liveBytes, recomputedBytes(ks))
  t.end()
})

t.test('WATCH sees every in-place change and its undo', (t) => {
  const ks = new Keyspace()
  const touched: string[] = []
  ks.observer = {
    touched: (_ks, db, key) => { touched.push(`${db}:${key}`) },
    touchedDb: () => {},
  }
  applyEvent(ks, { code: EV_RPUSH, db: 0, key: 'l', items: [buf('a'), buf('b')] } as Event)
  touched.length = 0
  const undo = applyEvent(ks, { code: EV_LSET, db: 0, key: 'l', index: 1, item: buf('c') } as Event)
  t.same(touched, ['0:l'])
  undo?.()
  t.same(touched, ['0:l', '0:l'])
  t.equal(entryBytes('l', ks.get(0, 'l')!), ks.liveBytes)
  t.end()
})

t.test('LPUSH and RPUSH events put their items in Redis\'s order', (t) => {
  // Redis: LPUSH l a b c inserts a, then b, then c at the head: c b a. The invariants above are
  // all self-consistent (replay equals apply), so they cannot see an order bug; this can
  // (mutant lpush-apply-reversed).
  const ks = new Keyspace()
  const list = (): string[] =>
    (ks.get(0, 'l')!.value as Deque<Buffer>).toArray().map((b) => b.toString('latin1'))
  applyEvent(ks, { code: EV_LPUSH, db: 0, key: 'l', items: [buf('a'), buf('b'), buf('c')] } as Event)
  t.same(list(), ['c', 'b', 'a'], 'LPUSH a b c on a new key: c b a')
  applyEvent(ks, { code: EV_RPUSH, db: 0, key: 'l', items: [buf('x'), buf('y')] } as Event)
  t.same(list(), ['c', 'b', 'a', 'x', 'y'], 'RPUSH x y: appended in order')
  applyEvent(ks, { code: EV_LPUSH, db: 0, key: 'l', items: [buf('1'), buf('2')] } as Event)
  t.same(list(), ['2', '1', 'c', 'b', 'a', 'x', 'y'], 'LPUSH 1 2 on an existing list: 2 1 first')
  t.end()
})
