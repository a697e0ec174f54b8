// Strings kept in the key index (issue 15: state/key-map.ts, no Entry per string): a Keyspace
// whose PUTs keep values in the table must read, iterate, sample, undo and count exactly as one
// whose every key is an Entry. fast-check runs random sequences of string writes (kept in the
// table, or as Entries), Entry writes of other types, reads (which promote a kept value into an
// Entry), deletes, expiry changes (through an Entry, and the EXPIRE event, which changes a kept
// string in place, and its undo), sampling and iteration over two keyspaces — one through
// setString, one through set(Entry) only — and after every step compares their canonical state,
// liveBytes, the access word a read sees and the previous entries the writes return (the undo
// data); memBytes differs exactly by the kept strings' lower per-key estimate (memory-model.ts,
// VALUE_KEY_MEMORY_OVERHEAD; a promotion changes no estimate). Also: a transaction of PUTs over
// kept values, aborted through its UndoLog, restores every previous value. ~3 s (10-20 loaded).

import fc from 'fast-check'
import t from 'tap'
import { canonical } from '../../src/state/canonical.js'
import { Entry, Keyspace, TYPE_STRING } from '../../src/state/keyspace.js'
import { UndoLog } from '../../src/state/undo-log.js'
import {
  EV_EXPIRE, expireEvent, putEvent, type ExpireEvent, type PutEvent,
} from '../../src/state/core-events.js'
import { KEY_MEMORY_OVERHEAD, VALUE_KEY_MEMORY_OVERHEAD } from '../../src/state/memory-model.js'

const KEYS = ['', 'a', 'key:1', 'key:2', 'x'.repeat(40), '\x00\xff', 'k'.repeat(1100)]

type Op =
  | { kind: 'str'; key: number; len: number; seed: number; expire: number }
  | { kind: 'hash'; key: number }
  | { kind: 'get'; key: number }
  | { kind: 'del'; key: number }
  | { kind: 'expire'; key: number; expire: number }
  | { kind: 'expireEv'; key: number; expire: number; undo: boolean }
  | { kind: 'sample'; at: number }
  | { kind: 'iterate' }

const keyArb = fc.nat(KEYS.length - 1)
const expireArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e13 }))
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('str' as const), key: keyArb, len: fc.oneof(fc.nat(30), fc.nat(1200)), seed: fc.nat(255), expire: expireArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('hash' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('get' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('del' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), key: keyArb, expire: expireArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expireEv' as const), key: keyArb, expire: expireArb, undo: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sample' as const), at: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('iterate' as const) }) },
)

function value(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = (seed + i * 7) & 255
  return b
}

/** What a previous entry says (the undo data): null for none. */
function describe(e: Entry | undefined): string | null {
  if (e === undefined) return null
  const v = e.type === TYPE_STRING ? (e.value as Buffer).toString('hex') : 'hash'
  return `${e.type} ${v} ${e.expireAtMs} ${e.bytes} ${e.lru}`
}

/** Keys last written as kept strings (memory-model.ts: counted at VALUE_KEY_MEMORY_OVERHEAD). */
let keptKeys = new Set<string>()

function step(kept: Keyspace, plain: Keyspace, op: Op): string | null {
  const key = KEYS[op.kind === 'sample' || op.kind === 'iterate' ? 0 : op.key] as string
  if (op.kind === 'str') {
    const v = value(op.len, op.seed)
    const a = kept.setString(0, key, v, op.expire)
    keptKeys.add(key)
    v.fill(0) // the index holds a copy
    const b = plain.set(0, key, new Entry(TYPE_STRING, value(op.len, op.seed), op.expire, op.len + 2))
    if (describe(a) !== describe(b)) return `str: previous ${describe(a)} != ${describe(b)}`
  } else if (op.kind === 'hash') {
    const a = kept.set(0, key, new Entry(2, new Map<string, Buffer>(), 0, 10))
    keptKeys.delete(key)
    const b = plain.set(0, key, new Entry(2, new Map<string, Buffer>(), 0, 10))
    if (describe(a) !== describe(b)) return `hash: previous ${describe(a)} != ${describe(b)}`
  } else if (op.kind === 'get') {
    const a = kept.get(0, key)
    const b = plain.get(0, key)
    if (describe(a) !== describe(b)) return `get: ${describe(a)} != ${describe(b)}`
    if (a !== undefined && kept.get(0, key) !== a) return 'get: a promoted entry is the key\'s'
  } else if (op.kind === 'del') {
    if (describe(kept.delete(0, key)) !== describe(plain.delete(0, key))) return 'del: previous'
    keptKeys.delete(key)
  } else if (op.kind === 'expire') {
    for (const ks of [kept, plain]) {
      const e = ks.get(0, key)
      if (e !== undefined) ks.setExpiry(0, key, e, op.expire)
    }
  } else if (op.kind === 'expireEv') {
    // The EXPIRE event: a kept string's expiry changes in place (no Entry made); its undo.
    const e: ExpireEvent = { code: EV_EXPIRE, db: 0, key, expireAtMs: op.expire }
    const wasKept = isKept(kept, key)
    const a = expireEvent.apply(kept, e)
    const b = expireEvent.apply(plain, e)
    if ((a === null) !== (b === null)) return 'expireEv: undo presence'
    if (wasKept && !isKept(kept, key)) return 'expireEv: made an Entry of a kept string'
    if (op.undo) {
      a?.()
      b?.()
    }
  } else if (op.kind === 'sample') {
    const a = kept.db(0)
    if (a.size !== plain.db(0).size) return 'size'
    if (a.size > 0) {
      const i = op.at % a.size
      const e = a.sampleEntry(i, false)
      if (a.sampleEntry(i, false) !== e) return 'sample: a sampled entry keeps its identity'
      if (describe(e) !== describe(plain.get(0, a.sampleKey(i, false)))) return 'sample: entry'
    }
  } else {
    const seen = new Map<string, string | null>()
    for (const [k, e] of kept.db(0).entries()) seen.set(k, describe(e))
    for (const [k, e] of plain.db(0).entries()) if (seen.get(k) !== describe(e)) return `iterate ${k}`
  }
  return null
}

/** Whether `key` (database 0) is a string kept in the index. */
function isKept(ks: Keyspace, key: string): boolean {
  const map = ks.findKey(0, key)
  return ks.foundHandle !== -1 && map.isValue(ks.foundHandle)
}

function compare(kept: Keyspace, plain: Keyspace): string | null {
  kept.db(0).check()
  if (canonical(kept) !== canonical(plain)) return 'canonical state'
  if (kept.liveBytes !== plain.liveBytes) return `liveBytes ${kept.liveBytes} != ${plain.liveBytes}`
  // A kept string is counted at VALUE_KEY_MEMORY_OVERHEAD, also once promoted by a read.
  const expected = plain.memBytes - keptKeys.size * (KEY_MEMORY_OVERHEAD - VALUE_KEY_MEMORY_OVERHEAD)
  if (kept.memBytes !== expected) return `memBytes ${kept.memBytes} != ${expected}`
  return null
}

t.test('strings kept in the index read, iterate, sample and count as Entries do', async (t) => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 120, size: 'max' }), (ops) => {
    const kept = new Keyspace()
    const plain = new Keyspace()
    keptKeys = new Set()
    for (const op of ops) {
      const bad = step(kept, plain, op) ?? compare(kept, plain)
      if (bad !== null) throw new Error(`${bad} after ${JSON.stringify(op)}`)
    }
  }), { numRuns: 200 })
  t.pass('200 runs')
})

t.test('an aborted transaction of PUTs over kept values restores each previous value', async (t) => {
  fc.assert(fc.property(
    fc.array(fc.record({ key: keyArb, len: fc.nat(60), seed: fc.nat(255) }), { minLength: 1, maxLength: 30 }),
    fc.array(fc.record({ key: keyArb, len: fc.nat(60), seed: fc.nat(255) }), { minLength: 1, maxLength: 30 }),
    (before, txn) => {
      const ks = new Keyspace()
      const put = (p: { key: number; len: number; seed: number }): PutEvent =>
        ({ code: 1, db: 0, key: KEYS[p.key] as string, value: value(p.len, p.seed), expireAtMs: 0 })
      for (const p of before) putEvent.apply(ks, put(p))
      const state = canonical(ks)
      const live = ks.liveBytes
      const undo = new UndoLog()
      for (const p of txn) putEvent.applyLogged?.(ks, put(p), undo)
      undo.undo(ks)
      if (canonical(ks) !== state) throw new Error('state after undo')
      if (ks.liveBytes !== live) throw new Error('liveBytes after undo')
      ks.db(0).check()
    }), { numRuns: 200 })
  t.pass('200 runs')
})
