// KeyTable (state/key-table.ts), the typed-array key index, against a Map model: fast-check
// runs random sequences of inserts, replacements, deletes, expiry changes and lookups (by string
// and by bytes) over a key pool that has the empty key, binary bytes and keys past the arena's
// size classes, and after every step checks every invariant (check(), O(n)) and that the table
// holds exactly the model's keys, references and expiries, and that sampling positions reach
// every key (and every volatile key) once. Then SCAN's guarantee under concurrent growth: a walk
// of scanStep from cursor 0, with random changes between its steps, returns every key present
// for the whole walk exactly once and nothing that was never present; the same for entries().
// Values (issue 15): records may hold a string value (insertValue, setValueAt) instead of a
// reference, and turn back into references (setRefAt, set); the model holds those values'
// bytes and access words, and every step compares them, so a value chunk shared by two
// records, or not moved with its record when a delete moves the last one, is caught.

import fc from 'fast-check'
import t from 'tap'
import { ARENA_CLASS_MAX, fnv1a, fnv1aBytes, type Handle, KeyTable, TABLE_PARTS } from '../../src/state/key-table.js'
import { ADOPT_MIN_BYTES, KeyArena } from '../../src/state/key-arena.js'

/** A key pool: short and long keys, binary bytes, the empty key, keys sharing a prefix. */
function keyPool(): string[] {
  const keys = ['', 'a', 'b', '\x00', '\xff\x00\x7f', 'key:0']
  for (let i = 0; i < 300; i++) keys.push(`key:${i}`)
  for (let i = 0; i < 20; i++) keys.push(`${'x'.repeat(ARENA_CLASS_MAX - 10 + i)}${i}`)
  for (let i = 0; i < 20; i++) keys.push(String.fromCharCode(...Array.from({ length: 9 + i }, (_, k) => (k * 37 + i) & 255)))
  return [...new Set(keys)]
}
const POOL = keyPool()

type Op =
  | { kind: 'set'; key: number; expire: number }
  | { kind: 'del'; key: number }
  | { kind: 'expire'; key: number; expire: number }
  | { kind: 'get'; key: number }
  | { kind: 'setv'; key: number; expire: number; len: number; seed: number }
  | { kind: 'toref'; key: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.nat(POOL.length - 1), expire: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e13 })) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('del' as const), key: fc.nat(POOL.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), key: fc.nat(POOL.length - 1), expire: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e13 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('get' as const), key: fc.nat(POOL.length - 1) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('setv' as const), key: fc.nat(POOL.length - 1), expire: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e13 })), len: fc.oneof(fc.nat(40), fc.integer({ min: 0, max: ARENA_CLASS_MAX + 20 })), seed: fc.nat(0xffffff) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('toref' as const), key: fc.nat(POOL.length - 1) }) },
)

/** A value of `len` bytes from `seed`, at offset 3 of a larger buffer (start/end are honoured). */
function valueBytes(len: number, seed: number): { buf: Buffer; value: Buffer } {
  const buf = Buffer.alloc(len + 6, 0xee)
  for (let i = 0; i < len; i++) buf[3 + i] = (seed + i * 131) & 255
  return { buf, value: Buffer.from(buf.subarray(3, 3 + len)) }
}

/** refs: a key's reference, or its value's bytes (a value record); acc: a value's access word. */
interface Model { refs: Map<string, number | Buffer>; expire: Map<string, number>; acc?: Map<string, number> }

/** The reference a table call returns for `key`: a value record's is undefined. */
function refIn(model: Model, key: string): number | undefined {
  const v = model.refs.get(key)
  return typeof v === 'number' ? v : undefined
}

/** Apply op to the table and the model; returns a mismatch description or null. */
function step(table: KeyTable<number>, model: Model, op: Op, stamp: number): string | null {
  const key = POOL[op.key] as string
  if (op.kind === 'set') {
    const prev = table.set(key, stamp, op.expire)
    if (prev !== refIn(model, key)) return `set ${op.key}: previous ${prev}`
    model.refs.set(key, stamp)
    model.expire.set(key, op.expire)
  } else if (op.kind === 'del') {
    const prev = table.delete(key)
    if (prev !== refIn(model, key)) return `del ${op.key}: previous ${prev}`
    model.refs.delete(key)
    model.expire.delete(key)
  } else if (op.kind === 'expire') {
    const present = table.setExpiry(key, op.expire)
    if (present !== model.refs.has(key)) return `expire ${op.key}: present ${present}`
    if (present) model.expire.set(key, op.expire)
  } else if (op.kind === 'setv') {
    const { buf, value } = valueBytes(op.len, op.seed)
    const fnv = fnv1a(key)
    const h = table.find(key, fnv)
    if (h === -1) table.insertValue(key, fnv, buf, 3, 3 + op.len, op.expire, op.seed)
    else table.setValueAt(h, buf, 3, 3 + op.len, op.expire, op.seed)
    buf.fill(0xdd) // the table holds a copy
    model.refs.set(key, value)
    model.expire.set(key, op.expire)
    ;(model.acc ??= new Map()).set(key, op.seed)
  } else if (op.kind === 'toref') {
    const h = table.find(key, fnv1a(key))
    if ((h === -1) !== !model.refs.has(key)) return `toref ${op.key}: present`
    if (h !== -1) {
      table.setRefAt(h, stamp)
      model.refs.set(key, stamp)
    }
  } else {
    if (table.get(key) !== refIn(model, key)) return `get ${op.key}`
    const b = Buffer.from(key, 'latin1')
    const h = table.findBytes(b, 0, b.length, fnv1aBytes(b, 0, b.length))
    if ((h === -1) !== !model.refs.has(key)) return `findBytes ${op.key}`
    if (h !== -1 && table.ref(h) !== refIn(model, key)) return `findBytes ref ${op.key}`
  }
  return null
}

/** Record h holds what the model has for `key`: its reference, or its value and access word. */
function sameHeld(table: KeyTable<number>, model: Model, key: string, h: Handle): string | null {
  const held = model.refs.get(key)
  if (typeof held === 'number') {
    if (table.isValue(h) || table.valueLength(h) !== -1) return `${JSON.stringify(key)}: a value`
    return table.ref(h) === held ? null : `${JSON.stringify(key)}: ref`
  }
  if (held === undefined) return `${JSON.stringify(key)}: not in the model`
  if (!table.isValue(h) || table.ref(h) !== undefined) return `${JSON.stringify(key)}: not a value`
  if (table.valueLength(h) !== held.length) return `${JSON.stringify(key)}: value length`
  if (!table.valueCopy(h).equals(held)) return `${JSON.stringify(key)}: value bytes`
  const at = table.valueAddress(h)
  const off = table.values.offset(at)
  if (!Buffer.from(table.values.page(at).subarray(off, off + held.length)).equals(held)) {
    return `${JSON.stringify(key)}: value page bytes`
  }
  if (table.access(h) !== model.acc?.get(key)) return `${JSON.stringify(key)}: access word`
  return null
}

/** The table equals the model: keys, refs, expiries, sizes, and the sampling positions. */
function compare(table: KeyTable<number>, model: Model): string | null {
  table.check()
  if (table.size !== model.refs.size) return `size ${table.size} != ${model.refs.size}`
  const sampled = new Set<string>()
  for (let i = 0; i < table.size; i++) {
    const h = table.sample(i, false)
    const key = table.keyOf(h)
    if (sampled.has(key)) return `sampled twice: ${i}`
    sampled.add(key)
    const held = sameHeld(table, model, key, h)
    if (held !== null) return `sample ${i}: ${held}`
    if (model.expire.get(key) !== table.expireAtMs(h)) return `sample ${i}: expire`
  }
  let volatile = 0
  for (const e of model.expire.values()) if (e !== 0) volatile++
  if (table.volatileSize !== volatile) return `volatile ${table.volatileSize} != ${volatile}`
  for (let i = 0; i < volatile; i++) {
    const h = table.sample(i, true)
    if (model.expire.get(table.keyOf(h)) === 0) return `volatile sample ${i} has no expiry`
  }
  const runs = compareRuns(table, false) ?? compareRuns(table, true)
  if (runs !== null) return runs
  const iterated = new Map(table.entries())
  if (iterated.size !== model.refs.size) return `entries ${iterated.size}`
  for (const k of model.refs.keys()) if (iterated.get(k) !== refIn(model, k)) return `entries: ${JSON.stringify(k)}`
  for (const [k, h] of table.handles()) {
    const held = sameHeld(table, model, k, h)
    if (held !== null) return `handles: ${held}`
  }
  return null
}

/** sampleRun from the first, a middle and the last position (wrapping) equals sample(); holds. */
function compareRuns(table: KeyTable<number>, volatile: boolean): string | null {
  const size = volatile ? table.volatileSize : table.size
  const out = new Float64Array(9)
  for (const i of size === 0 ? [] : [0, size >>> 1, size - 1]) {
    const n = Math.min(size, out.length)
    table.sampleRun(i, n, volatile, out)
    for (let j = 0; j < n; j++) {
      const h = table.sample((i + j) % size, volatile)
      if (out[j] !== h) return `sampleRun(${i}, ${n}, ${volatile})[${j}] != sample(${(i + j) % size})`
      if (!table.holds(h, table.ref(h))) return `holds(sample(${(i + j) % size}))`
      if (table.holds(h, -2)) return `holds(sample(${(i + j) % size}), another ref)`
    }
  }
  // Past the last record of a part: no record there.
  if (table.holds(table.size * 64 + 64 * 64, 0)) return 'holds a handle past every part'
  return null
}

t.test('KeyTable follows a Map model under random inserts, deletes, expiries and growth', async (t) => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 400, size: 'max' }), (ops) => {
    const table = new KeyTable<number>()
    const model: Model = { refs: new Map(), expire: new Map() }
    let stamp = 0
    for (const op of ops) {
      const bad = step(table, model, op, stamp++)
      if (bad !== null) throw new Error(bad)
    }
    const bad = compare(table, model)
    if (bad !== null) throw new Error(bad)
  }), { numRuns: 150 })
  t.pass('150 runs')
})

t.test('KeyTable checked after every step, through growth to 20,000 keys and back', async (t) => {
  const table = new KeyTable<number>()
  const model: Model = { refs: new Map(), expire: new Map() }
  const keys = Array.from({ length: 20000 }, (_, i) => `k${(i * 7919) % 20000}:${i}`)
  let mismatch: string | null = null
  for (let i = 0; i < keys.length && mismatch === null; i++) {
    const key = keys[i] as string
    table.set(key, i, i % 3 === 0 ? 1000 + i : 0)
    model.refs.set(key, i)
    model.expire.set(key, i % 3 === 0 ? 1000 + i : 0)
    if (i % 997 === 0) mismatch = compare(table, model)
  }
  t.equal(mismatch, null, 'growing')
  for (let i = 0; i < keys.length && mismatch === null; i += 2) {
    const key = keys[i] as string
    if (table.delete(key) !== i) mismatch = `delete ${i}`
    model.refs.delete(key)
    model.expire.delete(key)
    if (i % 1999 === 0 && mismatch === null) mismatch = compare(table, model)
  }
  t.equal(mismatch ?? compare(table, model), null, 'after deleting half')
})

t.test('a SCAN walk under concurrent changes and growth returns every key present throughout exactly once', async (t) => {
  fc.assert(fc.property(
    fc.nat(3000), fc.array(opArb, { minLength: 0, maxLength: 600 }), fc.integer({ min: 1, max: 40 }),
    (initial, ops, perStep) => {
      const table = new KeyTable<number>()
      const model: Model = { refs: new Map(), expire: new Map() }
      // Many keys (growth during the walk), then the pool's keys (changed during the walk).
      for (let i = 0; i < initial; i++) table.set(`init:${i}`, -1, 0)
      const ever = new Set<string>()
      for (let i = 0; i < initial; i++) ever.add(`init:${i}`)
      const present = new Set(ever)
      const returned = new Map<string, number>()
      const out: Handle[] = []
      let cursor = 0
      let at = 0
      let stamp = 0
      do {
        out.length = 0
        cursor = table.scanStep(cursor, out)
        for (const h of out) {
          const k = table.keyOf(h)
          returned.set(k, (returned.get(k) ?? 0) + 1)
        }
        for (let i = 0; i < perStep && at < ops.length; i++, at++) {
          const op = ops[at] as Op
          const key = POOL[op.key] as string
          step(table, model, op, stamp++)
          if (op.kind === 'set' || op.kind === 'setv') ever.add(key)
          if (op.kind === 'del') present.delete(key)
          // Growth under the walk: more initial-style keys, never deleted.
          if (op.kind === 'set') { table.set(`grow:${stamp}`, -2, 0); ever.add(`grow:${stamp}`) }
        }
      } while (cursor !== 0)
      table.check()
      for (const k of present) {
        if (POOL.includes(k)) continue // pool keys may have been deleted and re-added
        if (returned.get(k) !== 1) throw new Error(`${k} returned ${returned.get(k) ?? 0} times`)
      }
      for (const [k, n] of returned) {
        if (!ever.has(k)) throw new Error(`${JSON.stringify(k)} was never present`)
        if (n !== 1) throw new Error(`${JSON.stringify(k)} returned ${n} times`)
      }
    }), { numRuns: 60 })
  t.pass('60 walks')
})

t.test('entries() under changes between its steps: every key present throughout, exactly once, each current', async (t) => {
  const table = new KeyTable<number>()
  for (let i = 0; i < 5000; i++) table.set(`a:${i}`, i, 0)
  const seen = new Map<string, number>()
  let n = 0
  for (const [k, v] of table.entries()) {
    seen.set(k, (seen.get(k) ?? 0) + 1)
    if (table.get(k) !== v) t.fail(`stale pair for ${k}`)
    // Between steps: delete a later key, add new ones (growth), replace a value.
    table.delete(`a:${(n * 13) % 5000}`)
    table.set(`b:${n}`, n, 0)
    table.set(`a:${(n * 17) % 5000}`, -n, 0)
    n++
  }
  table.check()
  let missing = 0
  let twice = 0
  for (let i = 0; i < 5000; i++) {
    const k = `a:${i}`
    const deletedAt = Array.from({ length: n }, (_, s) => (s * 13) % 5000).includes(i)
    if (!deletedAt && seen.get(k) !== 1) missing++
  }
  for (const c of seen.values()) if (c > 1) twice++
  t.equal(missing, 0, 'every key never deleted was returned')
  t.equal(twice, 0, 'no key twice')
})

t.test('lookups by string and by bytes agree; FNV-1a of bytes equals that of the latin1 string', async (t) => {
  const table = new KeyTable<string>()
  let bad = 0
  for (const key of POOL) {
    table.set(key, key, 0)
    const b = Buffer.from(key, 'latin1')
    if (fnv1aBytes(b, 0, b.length) !== fnv1a(key)) bad++
  }
  for (const key of POOL) {
    const b = Buffer.concat([Buffer.from('pre'), Buffer.from(key, 'latin1')])
    const h = table.findBytes(b, 3, b.length, fnv1aBytes(b, 3, b.length))
    if (h === -1 || table.ref(h) !== key || table.keyOf(h) !== key) bad++
  }
  t.equal(bad, 0)
  t.equal(table.findBytes(Buffer.from('nope'), 0, 4, fnv1aBytes(Buffer.from('nope'), 0, 4)), -1)
  t.equal(TABLE_PARTS & (TABLE_PARTS - 1), 0, 'parts are a power of two')
})

t.test('a value of 1 MiB or more that owns its buffer is adopted, any other value is copied', async (t) => {
  const arena = new KeyArena()
  const own = Buffer.allocUnsafeSlow(ADOPT_MIN_BYTES).fill(1)
  const at = arena.storeBytes(own, 0, own.length)
  t.equal(arena.page(at), own, 'the buffer itself is kept (no second copy of a big value)')
  const slab = Buffer.alloc(ADOPT_MIN_BYTES + 16, 2)
  const view = slab.subarray(8, 8 + ADOPT_MIN_BYTES)
  const v = arena.storeBytes(view, 0, view.length)
  t.not(arena.page(v).buffer, slab.buffer, 'a view into a larger buffer is copied (no pinning)')
  slab.fill(3)
  t.equal(arena.page(v)[0], 2, 'and the copy does not change with the slab')
  const part = arena.storeBytes(own, 1, own.length)
  t.not(arena.page(part).buffer, own.buffer, 'a part of a buffer is copied')
  const small = Buffer.allocUnsafeSlow(ADOPT_MIN_BYTES - 1).fill(4)
  t.not(arena.page(arena.storeBytes(small, 0, small.length)), small, 'below the size: copied')
  const held = arena.bytes
  arena.release(at, own.length)
  t.equal(held - arena.bytes, ADOPT_MIN_BYTES, 'released: the adopted buffer is no longer held')
})
