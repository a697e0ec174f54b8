// The stream events (state/stream-events.ts) against the invariants of state/event.ts, on seeded
// random runs over a keyspace holding streams, a key of another type and missing keys (the seed
// is in each test's name):
// - TOTAL: apply never throws, whatever state it meets;
// - undo restores the exact previous state (canonical form and liveBytes);
// - liveBytes stays exact: equal to the estimate of each stream rebuilt by its codec;
// - encode/decode round-trips, and the decoded event applied to a copy of the keyspace (made
//   through the value codec, as a checkpoint makes it) gives the same state (deterministic
//   replay, and the codec keeps node boundaries, tombstones, groups, consumers and PELs).
import t from 'tap'
import { Prng } from '../sim/prng.js'
import { ByteReader, ByteWriter } from '../../src/state/bytes.js'
import { putEv } from '../../src/state/core-events.js'
import {
  applyEvent, applyEventLogged, decodeEvents, encodeEvents, type Event,
} from '../../src/state/event.js'
import { UndoLog } from '../../src/state/undo-log.js'
import { Entry, Keyspace } from '../../src/state/keyspace.js'
import { canonical } from '../../src/state/canonical.js'
import { type Stream, TYPE_STREAM } from '../../src/state/stream.js'
import {
  xackEv, xaddEv, xclaimEv, xconsumerEv, xdelEv, xgroupDelEv, xgroupNewEv, xgroupSetEv, xsetidEv,
  xtrimEv,
} from '../../src/state/stream-events.js'
import { valueType } from '../../src/state/value-codec.js'

const KEYS = ['s', 't', 'str', 'none']
const GROUPS = ['g1', 'g2']
const CONSUMERS = ['alice', 'bob', '']

function copyKeyspace(ks: Keyspace): Keyspace {
  const out = new Keyspace()
  ks.dbs.forEach((map, db) => {
    for (const [key, e] of map) {
      const vt = valueType(e.type)
      const w = new ByteWriter()
      vt.encode(w, e.value)
      const value = vt.decode(new ByteReader(w.view()))
      out.set(db, key, new Entry(e.type, value, e.expireAtMs, vt.bytes(value)))
    }
  })
  return out
}

/** liveBytes recomputed: every value rebuilt by its codec gives its own estimate. */
function recomputedBytes(ks: Keyspace): number {
  const copy = copyKeyspace(ks)
  let n = 0
  for (const map of copy.dbs) for (const [key, e] of map) n += key.length + e.bytes + 24
  return n
}

function randomEvent(p: Prng, ks: Keyspace, nowMs: number): Event {
  const key = p.pick(KEYS)
  const entry = ks.get(0, key)
  const s = entry !== undefined && entry.type === TYPE_STREAM ? entry.value as Stream : null
  const last = s?.lastId ?? 0n
  const anyId = (): bigint => {
    if (s !== null && s.length > 0 && p.int(3) > 0) {
      const node = s.nodes[p.int(s.nodes.length)]
      if (node !== undefined) return node.ids[p.int(node.ids.length)] ?? 1n
    }
    return BigInt(p.int(40)) << 64n | BigInt(p.int(3))
  }
  const group = p.pick(GROUPS)
  const consumer = p.pick(CONSUMERS)
  switch (p.int(11)) {
    case 0: case 1: case 2: {
      const id = p.int(4) === 0 ? anyId() : last + BigInt(1 + p.int(3)) + (BigInt(p.int(2)) << 64n)
      const pairs = p.int(2) === 0 ? [Buffer.from('f'), Buffer.from(String(p.int(100)))]
        : [Buffer.from('a'), Buffer.from('x'), Buffer.from('b'), Buffer.alloc(p.int(50), 7)]
      return xaddEv(0, key, id, p.int(4) === 0, pairs)
    }
    case 3: return xtrimEv(0, key, p.int(3), p.int(4))
    case 4: return xdelEv(0, key, [anyId(), anyId()])
    case 5: return xsetidEv(0, key, last + BigInt(p.int(3)), BigInt(p.int(50)), p.int(2) === 0 ? 0n : anyId())
    case 6: return xgroupNewEv(0, key, group, anyId(), BigInt(p.int(5) - 1), p.int(2) === 0)
    case 7: return xgroupSetEv(0, key, group, anyId(), BigInt(p.int(5) - 1))
    case 8: return p.int(3) === 0 ? xgroupDelEv(0, key, group)
      : xconsumerEv(0, key, group, consumer, nowMs, p.int(2) === 0)
    case 9: return xclaimEv(0, key, group, consumer, p.int(3) === 0 ? -1 : nowMs,
      p.int(2) === 0 ? null : [anyId(), BigInt(p.int(4) - 1)],
      [[anyId(), nowMs - p.int(100), 1 + p.int(3)], [anyId(), nowMs, 1]])
    default: return xackEv(0, key, group, [anyId(), anyId()])
  }
}

for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
  t.test(`seed ${seed}: total, undo exact, liveBytes exact, replay and codec deterministic`, (tt) => {
    const p = new Prng(seed)
    const ks = new Keyspace()
    ks.set(0, 'str', new Entry(0, Buffer.from('v'), 0, 3))
    for (let step = 0; step < 400; step++) {
      const e = randomEvent(p, ks, 1_000_000 + step)
      const before = canonical(ks)
      const bytesBefore = ks.liveBytes
      const replica = copyKeyspace(ks)
      const undo = applyEvent(ks, e)
      tt.equal(ks.liveBytes, recomputedBytes(ks), `step ${step}: liveBytes exact after ${e.code}`)
      const w = new ByteWriter()
      encodeEvents(w, [e])
      const bytes = w.view()
      const decoded = decodeEvents(bytes, 0, bytes.length)
      for (const d of decoded) applyEvent(replica, d)
      tt.equal(canonical(replica), canonical(ks), `step ${step}: replay of event ${e.code} is the same state`)
      if (undo !== null && p.int(4) === 0) {
        undo()
        tt.equal(canonical(ks), before, `step ${step}: undo of ${e.code} restores the state`)
        tt.equal(ks.liveBytes, bytesBefore, `step ${step}: undo of ${e.code} restores liveBytes`)
      } else if (undo === null) {
        tt.equal(canonical(ks), before, `step ${step}: event ${e.code} that changed nothing`)
      }
    }
    tt.end()
  })
}

for (const seed of [11, 12, 13, 14]) {
  t.test(`seed ${seed}: transactions of logged events (UndoLog records, XADD's XaddUndo) give ` +
    "apply's state and undo newest first to the exact state before them", (tt) => {
    const p = new Prng(seed)
    const ks = new Keyspace()
    ks.set(0, 'str', new Entry(0, Buffer.from('v'), 0, 3))
    const log = new UndoLog()
    let undone = 0
    for (let round = 0; round < 150; round++) {
      const before = canonical(ks)
      const bytesBefore = ks.liveBytes
      const replica = copyKeyspace(ks)
      const n = 1 + p.int(6)
      for (let i = 0; i < n; i++) {
        const e = randomEvent(p, ks, 1_000_000 + round)
        applyEventLogged(ks, e, log)
        applyEvent(replica, e)
      }
      tt.equal(canonical(ks), canonical(replica), `round ${round}: logged apply = apply`)
      if (p.int(3) === 0) {
        log.undo(ks)
        undone++
        tt.equal(canonical(ks), before, `round ${round}: undo of ${n} events restores the state`)
        tt.equal(ks.liveBytes, bytesBefore, `round ${round}: and liveBytes`)
      } else {
        log.clear()
      }
    }
    tt.ok(undone > 20, `${undone} transactions undone`)
    tt.end()
  })
}

t.test('a stream of another type is left alone (totality) and an XADD never goes backwards', (tt) => {
  const ks = new Keyspace()
  applyEvent(ks, putEv(0, 'k', Buffer.from('x'), 0))
  tt.equal(applyEvent(ks, xaddEv(0, 'k', 5n << 64n, false, [Buffer.from('f'), Buffer.from('v')])), null)
  applyEvent(ks, xaddEv(0, 's', 5n << 64n, false, [Buffer.from('f'), Buffer.from('v')]))
  tt.equal(applyEvent(ks, xaddEv(0, 's', 4n << 64n, false, [Buffer.from('f'), Buffer.from('v')])), null)
  tt.equal((ks.get(0, 's')?.value as Stream).length, 1)
  tt.end()
})
