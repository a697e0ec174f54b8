// The kill -9 workload, shared by the child that writes (child-writer.ts) and the parent that
// checks (kill9.test.ts). Transaction ids form one global sequence 0, 1, 2, ...; what id i does is
// a pure function of (seed, i), so the parent can replay any prefix of the sequence into a model
// and compare it with the reopened pool. Invariants and why:
// - id 0 creates ACCOUNTS accounts holding INITIAL_BALANCE each; every later transfer moves a
//   non-zero amount between two distinct accounts in ONE transaction (two puts: the total is
//   invariant, and a torn transfer shows as a changed total);
// - puts write a value naming their id (and a length that varies with it), deletes remove a slot,
//   batches put 10 slots in one transaction: no two prefixes of the sequence leave the same state
//   (every id changes something), so "the state equals the replay of 0..M" pins M down exactly;
// - the child reads balances from its own tentative keyspace, so a transfer's result depends on
//   every transaction before it: a lost or reordered transaction cannot go unnoticed.

import type { Event } from '../../src/state/event.js'
import { EV_DEL, EV_PUT } from '../../src/state/core-events.js'
import { TYPE_STRING, type Keyspace } from '../../src/state/keyspace.js'

export const ACCOUNTS = 16
export const INITIAL_BALANCE = 1000
export const SLOTS = 64
const ACCOUNT_DB = 0
const SLOT_DB = 1

export const accountKey = (a: number): string => `acct:${a}`
const slotKey = (s: number): string => `slot:${s}`

/** A 32-bit mix of (seed, id, lane): the workload's only randomness. */
function mix(seed: number, id: number, lane: number): number {
  let h = (seed ^ Math.imul(id, 0x9e3779b1) ^ Math.imul(lane + 1, 0x85ebca6b)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return (h ^ (h >>> 16)) >>> 0
}

export type Op =
  | { kind: 'init' }
  | { kind: 'transfer'; from: number; to: number; amount: number }
  | { kind: 'put'; slot: number; value: string }
  | { kind: 'del'; slot: number }
  | { kind: 'batch'; slots: number[]; value: string }

export function opOf(seed: number, id: number): Op {
  if (id === 0) return { kind: 'init' }
  const r = mix(seed, id, 0) % 100
  const value = (): string => `${id}:${'x'.repeat(mix(seed, id, 9) % 300)}`
  if (r < 50) {
    const from = mix(seed, id, 1) % ACCOUNTS
    const to = (from + 1 + (mix(seed, id, 2) % (ACCOUNTS - 1))) % ACCOUNTS
    return { kind: 'transfer', from, to, amount: 1 + (mix(seed, id, 3) % 100) }
  }
  if (r < 85) return { kind: 'put', slot: mix(seed, id, 4) % SLOTS, value: value() }
  if (r < 92) return { kind: 'del', slot: mix(seed, id, 5) % SLOTS }
  const first = mix(seed, id, 6) % SLOTS
  return { kind: 'batch', slots: Array.from({ length: 10 }, (_, k) => (first + k * 7) % SLOTS), value: value() }
}

/** Reads and writes the workload needs: the engine's keyspace or the parent's model. */
export interface Target {
  get(db: number, key: string): string | undefined
}

/**
 * The events of transaction `id` against the state `t` (balances are read from it). A delete of
 * a missing slot is replaced by a put (every id must change the state).
 */
export function eventsOf(seed: number, id: number, t: Target): Event[] {
  const op = opOf(seed, id)
  const put = (db: number, key: string, value: string): Event =>
    ({ code: EV_PUT, db, key, value: Buffer.from(value, 'latin1'), expireAtMs: 0 } as Event)
  switch (op.kind) {
    case 'init':
      return Array.from({ length: ACCOUNTS }, (_, a) =>
        put(ACCOUNT_DB, accountKey(a), String(INITIAL_BALANCE)))
    case 'transfer': {
      const from = Number(t.get(ACCOUNT_DB, accountKey(op.from)) ?? 'NaN')
      const to = Number(t.get(ACCOUNT_DB, accountKey(op.to)) ?? 'NaN')
      return [
        put(ACCOUNT_DB, accountKey(op.from), String(from - op.amount)),
        put(ACCOUNT_DB, accountKey(op.to), String(to + op.amount)),
      ]
    }
    case 'put':
      return [put(SLOT_DB, slotKey(op.slot), op.value)]
    case 'del':
      return t.get(SLOT_DB, slotKey(op.slot)) === undefined
        ? [put(SLOT_DB, slotKey(op.slot), `${id}:refill`)]
        : [{ code: EV_DEL, db: SLOT_DB, key: slotKey(op.slot) } as Event]
    case 'batch':
      return op.slots.map((s) => put(SLOT_DB, slotKey(s), `${op.value}:${s}`))
  }
}

/** A Target over the engine's keyspace (string values only). */
export function keyspaceTarget(ks: Keyspace): Target {
  return {
    get(db, key) {
      const e = ks.get(db, key)
      return e === undefined || e.type !== TYPE_STRING ? undefined : (e.value as Buffer).toString('latin1')
    },
  }
}

/** The sequential model: a map `db:key` → value, fed the same events. */
export class Model implements Target {
  readonly data = new Map<string, string>()
  /** The last id applied (-1: nothing, not even the init). */
  last = -1
  constructor(readonly seed: number) {}
  get(db: number, key: string): string | undefined {
    return this.data.get(`${db}:${key}`)
  }
  /** Apply the next id of the sequence. */
  step(): void {
    const id = this.last + 1
    for (const e of eventsOf(this.seed, id, this) as (Event & { db: number; key: string; value?: Buffer })[]) {
      if (e.code === EV_PUT) this.data.set(`${e.db}:${e.key}`, (e.value as Buffer).toString('latin1'))
      else this.data.delete(`${e.db}:${e.key}`)
    }
    this.last = id
  }
  /** Every key of `ks` as the model spells it. */
  static snapshot(ks: Keyspace): Map<string, string> {
    const out = new Map<string, string>()
    for (let db = 0; db < ks.dbs.length; db++) {
      for (const [key, e] of ks.db(db)) {
        out.set(`${db}:${key}`, e.type === TYPE_STRING ? (e.value as Buffer).toString('latin1') : `<type ${e.type}>`)
      }
    }
    return out
  }
  equals(snapshot: Map<string, string>): boolean {
    if (snapshot.size !== this.data.size) return false
    for (const [k, v] of this.data) if (snapshot.get(k) !== v) return false
    return true
  }
  total(): number {
    let sum = 0
    for (let a = 0; a < ACCOUNTS; a++) sum += Number(this.get(ACCOUNT_DB, accountKey(a)) ?? 0)
    return sum
  }
}

/** Sum of the balances in `snapshot` (NaN when an account is missing or not a number). */
export function totalOf(snapshot: Map<string, string>): number {
  let sum = 0
  for (let a = 0; a < ACCOUNTS; a++) sum += Number(snapshot.get(`${ACCOUNT_DB}:${accountKey(a)}`))
  return sum
}
