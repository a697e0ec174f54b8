// An independent model of the commands the crash simulator's server workloads send (issue 12
// item 2): sixteen plain Maps of key → { kind, value, expireAt }, and each command's effect
// written down directly from Redis 7.0.15's documented semantics — no engine code: no event, no
// `apply`, no Keyspace, no value codec, no canonical form of the engine. The crash oracles compare
// the engine's state (live, recovered after a crash, recovered a day later) with this model
// through `snapshot`, which reads an engine Keyspace into the same plain shape by iterating its
// values (reading, never applying). So a command that logs the wrong event — a TTL that depends
// on the replay clock, a lost member, an expiry dropped by a checkpoint — fails against the
// model even when the log's replay is consistent with itself.
// Expiry: a key whose expiry time is at or before `now` is gone (the engine's rule: lookup.ts;
// Redis 7.0.15 keeps a key alive AT its expiry millisecond, `now > when` in keyIsExpired — a
// one-millisecond difference noted, not modelled here). Expired keys are dropped from both sides
// before comparing, so lazy and active expiry are not modelled (they change no live state).
// Only what the workloads send is modelled; anything else throws (the model never guesses).
// Events too (`event`): the harness's event workloads (harness.ts) apply each committed event
// here as well, from the log format's documented meaning (the header comments of
// src/state/*-events.ts), never through the engine's `apply`; an event this model does not know
// marks it `unmodelled` (the harness then stops comparing and says so).

import type { Event } from '../../src/state/event.js'
import type { Keyspace } from '../../src/state/keyspace.js'

type Kind = 'string' | 'list' | 'hash' | 'set' | 'zset'
interface Item { kind: Kind; value: unknown; expireAt: number }
type Db = Map<string, Item>

const KIND_OF_TYPE: Record<number, Kind> = { 0: 'string', 1: 'list', 2: 'hash', 3: 'set', 4: 'zset' }

const hex = (b: Buffer): string => b.toString('hex')
const keyHex = (s: string): string => Buffer.from(s, 'latin1').toString('hex')

/** A value's plain text: order-free for hashes, sets and sorted sets. */
function show(kind: Kind, value: unknown): string {
  switch (kind) {
    case 'string': return hex(value as Buffer)
    case 'list': return [...(value as Iterable<Buffer>)].map(hex).join(',')
    case 'hash': return [...(value as Map<string, Buffer>)].map(([f, v]) => `${keyHex(f)}=${hex(v)}`)
      .sort().join(',')
    case 'set': return [...(value as Set<string>)].map(keyHex).sort().join(',')
    case 'zset': return [...(value as Iterable<[string, number]>)]
      .map(([m, s]) => `${keyHex(m)}=${s}`).sort().join(',')
  }
}

function render(rows: string[]): string {
  return rows.sort().join('\n')
}

/** The live state of an engine keyspace at `now`, in the model's plain text (reads only). */
export function snapshot(ks: Keyspace, now: number): string {
  const rows: string[] = []
  for (let db = 0; db < 16; db++) {
    for (const [key, e] of ks.db(db)) {
      if (e.expireAtMs !== 0 && e.expireAtMs < now) continue
      const kind = KIND_OF_TYPE[e.type]
      if (kind === undefined) throw new Error(`snapshot: unknown type ${e.type}`)
      rows.push(`${db} ${keyHex(key)} ${kind} ${e.expireAtMs} ${show(kind, e.value)}`)
    }
  }
  for (const [name, payload] of ks.functionLibraries) rows.push(`function ${keyHex(name)} ${hex(payload)}`)
  return render(rows)
}

const parseInteger = (b: Buffer): bigint | null => {
  const s = b.toString('latin1')
  return /^(0|-?[1-9][0-9]*)$/.test(s) && s.length <= 20 ? BigInt(s) : null
}

export class PlainModel {
  private dbs: Db[] = Array.from({ length: 16 }, () => new Map())
  private functions = new Map<string, Buffer>()
  /**
   * The first event code this model does not know, or minus a value type it does not know (null:
   * everything so far was modelled).
   */
  unmodelled: number | null = null

  /** A model holding what an engine keyspace holds (read value by value: the starting state). */
  static of(ks: Keyspace): PlainModel {
    const m = new PlainModel()
    for (let db = 0; db < 16; db++) {
      for (const [key, e] of ks.db(db)) {
        const kind = KIND_OF_TYPE[e.type]
        if (kind === undefined) {
          // A value type this model does not know (streams): like an unknown event, it stops
          // the comparison (the harness counts it as not modelled) rather than guessing.
          m.unmodelled ??= -e.type
          continue
        }
        m.put(db, key, { kind, value: plain(kind, e.value), expireAt: e.expireAtMs })
      }
    }
    for (const [name, payload] of ks.functionLibraries) m.functions.set(name, Buffer.from(payload))
    return m
  }

  /** The model's live state at `now` (same text as `snapshot`). */
  snapshot(now: number): string {
    const rows: string[] = []
    this.dbs.forEach((m, db) => {
      for (const [key, it] of m) {
        if (it.expireAt !== 0 && it.expireAt < now) continue
        rows.push(`${db} ${keyHex(key)} ${it.kind} ${it.expireAt} ${show(it.kind, it.value)}`)
      }
    })
    for (const [name, payload] of this.functions) rows.push(`function ${keyHex(name)} ${hex(payload)}`)
    return render(rows)
  }

  /** One committed event, from the log format's documented meaning (never the engine's apply). */
  event(event: Event): void {
    const e = event as unknown as Ev
    switch (e.code) {
      case 1: // PUT: a string value replaces any old one
        this.put(e.db, e.key, { kind: 'string', value: Buffer.from(e.value as Buffer), expireAt: e.expireAtMs })
        return
      case 2: this.del(e.db, e.key); return // DEL
      case 3: { // EXPIRE: 0 removes the expiry; a missing key: nothing
        const it = this.dbs[e.db]?.get(e.key)
        if (it !== undefined) it.expireAt = e.expireAtMs
        return
      }
      case 4: this.dbs[e.db] = new Map(); return // FLUSHDB
      case 5: this.dbs = Array.from({ length: 16 }, () => new Map()); return // FLUSHALL (keys)
      case 6: { // SWAPDB
        const t = this.dbs[e.a] as Db
        this.dbs[e.a] = this.dbs[e.b] as Db
        this.dbs[e.b] = t
        return
      }
      case 7: { // RESTORE: a whole value of any type
        const kind = KIND_OF_TYPE[e.type]
        if (kind === undefined) break
        this.put(e.db, e.key, { kind, value: plain(kind, e.value), expireAt: e.expireAtMs })
        return
      }
      case 110: this.functions.set(e.name, Buffer.from(e.payload)); return
      case 111: this.functions.delete(e.name); return
      case 112: this.functions.clear(); return
      default:
        if (this.collectionEvent(e)) return
    }
    this.unmodelled ??= e.code
  }

  /** A list, hash, set or sorted-set delta; false for a code this model does not know. */
  private collectionEvent(e: Ev): boolean {
    const kind: Kind | undefined = e.code >= 20 && e.code <= 27 ? 'list'
      : e.code === 40 || e.code === 41 ? 'hash' : e.code === 50 || e.code === 51 ? 'set'
        : e.code === 60 || e.code === 61 ? 'zset' : undefined
    if (kind === undefined) return false
    const it = this.dbs[e.db]?.get(e.key)
    // Another type is left alone; only pushes and adds create a missing key.
    if (it !== undefined && it.kind !== kind) return true
    if (it === undefined && ![20, 21, 40, 50, 60].includes(e.code)) return true
    const value = it?.value ?? (kind === 'list' ? [] : kind === 'set' ? new Set() : new Map())
    if (kind === 'list') listEvent(e, value as Buffer[])
    else if (e.code === 40) for (const [f, v] of e.fields) (value as Map<string, Buffer>).set(f, Buffer.from(v))
    else if (e.code === 50) for (const m of e.members) (value as Set<string>).add(m)
    else if (e.code === 60) {
      for (const [score, m] of e.entries) if (!Number.isNaN(score)) (value as Map<string, number>).set(m, score)
    } else for (const m of e.code === 41 ? e.fields as unknown as string[] : e.members) {
      (value as Set<string>).delete(m)
    }
    const size = (value as { size?: number; length?: number })
    if ((size.size ?? size.length) === 0) this.del(e.db, e.key) // empty collections are deleted
    else if (it === undefined) this.put(e.db, e.key, { kind, value, expireAt: 0 })
    return true
  }

  private live(db: number, key: string, now: number): Item | undefined {
    const it = this.dbs[db]?.get(key)
    if (it !== undefined && it.expireAt !== 0 && it.expireAt < now) {
      this.dbs[db]?.delete(key)
      return undefined
    }
    return it
  }

  private put(db: number, key: string, it: Item): void {
    (this.dbs[db] as Db).set(key, it)
  }

  private del(db: number, key: string): boolean {
    return (this.dbs[db] as Db).delete(key)
  }

  /** The collection at key of `kind` (created empty when missing), or null for another kind. */
  private coll<T>(db: number, key: string, kind: Kind, now: number, empty: () => T): T | null {
    const it = this.live(db, key, now)
    if (it === undefined) {
      const value = empty()
      this.put(db, key, { kind, value, expireAt: 0 })
      return value
    }
    return it.kind === kind ? it.value as T : null
  }

  /** Drop a collection left empty (Redis deletes empty collections). */
  private dropEmpty(db: number, key: string): void {
    const it = this.dbs[db]?.get(key)
    if (it === undefined || it.kind === 'string') return
    const v = it.value as { size?: number; length?: number }
    if ((v.size ?? v.length) === 0) this.del(db, key)
  }

  /** One command from client db `db` at time `now`; returns the client's db afterwards. */
  command(argv: string[], db: number, now: number): number {
    const name = (argv[0] as string).toUpperCase()
    const a = argv.slice(1)
    const k = a[0] as string
    const buf = (s: string): Buffer => Buffer.from(s, 'latin1')
    switch (name) {
      case 'SELECT': return Number(a[0])
      case 'GET': case 'EXISTS': case 'TTL': case 'PTTL': case 'TYPE': case 'STRLEN': case 'LLEN':
      case 'HGETALL': case 'SCARD': case 'ZCARD': return db
      case 'SET': this.set(db, a, now); return db
      case 'PEXPIRE': case 'EXPIRE': case 'PEXPIREAT': case 'EXPIREAT':
        this.expire(name, db, a, now); return db
      case 'PERSIST': {
        const it = this.live(db, k, now)
        if (it !== undefined) it.expireAt = 0
        return db
      }
      case 'DEL': for (const key of a) { this.live(db, key, now); this.del(db, key) } return db
      case 'RENAME': case 'RENAMENX': this.rename(db, k, a[1] as string, name === 'RENAMENX', now)
        return db
      case 'COPY': this.copy(db, a, now); return db
      case 'MOVE': this.move(db, k, Number(a[1]), now); return db
      case 'SWAPDB': {
        const x = Number(a[0])
        const y = Number(a[1])
        const t = this.dbs[x] as Db
        this.dbs[x] = this.dbs[y] as Db
        this.dbs[y] = t
        return db
      }
      case 'FLUSHDB': this.dbs[db] = new Map(); return db
      case 'FLUSHALL': this.dbs = Array.from({ length: 16 }, () => new Map()); return db
      case 'INCR': case 'APPEND': this.stringUpdate(name, db, k, a[1], now); return db
      default: return this.collectionCommand(name, db, k, a.slice(1).map(buf), now)
    }
  }

  private collectionCommand(name: string, db: number, k: string, args: Buffer[], now: number):
    number {
    const str = (b: Buffer): string => b.toString('latin1')
    switch (name) {
      case 'LPUSH': case 'RPUSH': {
        const list = this.coll<Buffer[]>(db, k, 'list', now, () => [])
        if (list !== null) for (const v of args) name === 'LPUSH' ? list.unshift(v) : list.push(v)
        break
      }
      case 'LPOP': {
        const it = this.live(db, k, now)
        if (it?.kind === 'list') (it.value as Buffer[]).shift()
        break
      }
      case 'HSET': {
        const h = this.coll<Map<string, Buffer>>(db, k, 'hash', now, () => new Map())
        for (let i = 0; h !== null && i + 1 < args.length; i += 2) {
          h.set(str(args[i] as Buffer), args[i + 1] as Buffer)
        }
        break
      }
      case 'HDEL': case 'SREM': case 'ZREM': {
        const it = this.live(db, k, now)
        const kind = name === 'HDEL' ? 'hash' : name === 'SREM' ? 'set' : 'zset'
        if (it?.kind === kind) for (const m of args) (it.value as Set<string>).delete(str(m))
        break
      }
      case 'SADD': {
        const s = this.coll<Set<string>>(db, k, 'set', now, () => new Set())
        for (const m of args) s?.add(str(m))
        break
      }
      case 'ZADD': {
        const z = this.coll<Map<string, number>>(db, k, 'zset', now, () => new Map())
        for (let i = 0; z !== null && i + 1 < args.length; i += 2) {
          z.set(str(args[i + 1] as Buffer), Number(str(args[i] as Buffer)))
        }
        break
      }
      default: throw new Error(`PlainModel: command ${name} is not modelled`)
    }
    this.dropEmpty(db, k)
    return db
  }

  /** SET key value [PX ms | EX s] [NX | XX] [KEEPTTL] [GET]. */
  private set(db: number, a: string[], now: number): void {
    const [k, v] = a as [string, string]
    const opts = a.slice(2).map((o) => o.toUpperCase())
    const old = this.live(db, k, now)
    if (opts.includes('GET') && old !== undefined && old.kind !== 'string') return // WRONGTYPE
    if (opts.includes('NX') && old !== undefined) return
    if (opts.includes('XX') && old === undefined) return
    let expireAt = opts.includes('KEEPTTL') ? old?.expireAt ?? 0 : 0
    const px = opts.indexOf('PX')
    const ex = opts.indexOf('EX')
    if (px >= 0) expireAt = now + Number(a[2 + px + 1])
    if (ex >= 0) expireAt = now + 1000 * Number(a[2 + ex + 1])
    this.put(db, k, { kind: 'string', value: Buffer.from(v, 'latin1'), expireAt })
  }

  /** [P]EXPIRE[AT] key time [NX | XX | GT | LT]: a time at or before now deletes the key. */
  private expire(name: string, db: number, a: string[], now: number): void {
    const [k, t] = a as [string, string]
    const n = Number(t)
    const when = name === 'PEXPIRE' ? now + n : name === 'EXPIRE' ? now + 1000 * n
      : name === 'PEXPIREAT' ? n : 1000 * n
    const it = this.live(db, k, now)
    if (it === undefined) return
    const flag = a[2]?.toUpperCase()
    const ttl = it.expireAt === 0 ? Infinity : it.expireAt
    if (flag === 'NX' && it.expireAt !== 0) return
    if (flag === 'XX' && it.expireAt === 0) return
    if (flag === 'GT' && !(when > ttl)) return
    if (flag === 'LT' && !(when < ttl)) return
    if (when <= now) this.del(db, k)
    else it.expireAt = when
  }

  private rename(db: number, k: string, k2: string, nx: boolean, now: number): void {
    const it = this.live(db, k, now)
    if (it === undefined || k === k2) return // ERR no such key / same key: nothing changes
    if (nx && this.live(db, k2, now) !== undefined) return
    this.del(db, k)
    this.put(db, k2, it)
  }

  /** COPY source destination [DB n] [REPLACE]. */
  private copy(db: number, a: string[], now: number): void {
    const [k, k2] = a as [string, string]
    const opts = a.slice(2).map((o) => o.toUpperCase())
    const i = opts.indexOf('DB')
    const dst = i >= 0 ? Number(a[2 + i + 1]) : db
    const it = this.live(db, k, now)
    if (it === undefined || (dst === db && k === k2)) return
    if (!opts.includes('REPLACE') && this.live(dst, k2, now) !== undefined) return
    this.put(dst, k2, { kind: it.kind, value: clone(it.kind, it.value), expireAt: it.expireAt })
  }

  private move(db: number, k: string, dst: number, now: number): void {
    const it = this.live(db, k, now)
    if (it === undefined || dst === db || this.live(dst, k, now) !== undefined) return
    this.del(db, k)
    this.put(dst, k, it)
  }

  /** INCR key (keeps the TTL; not an integer: error) and APPEND key value (keeps the TTL). */
  private stringUpdate(name: string, db: number, k: string, v: string | undefined, now: number):
    void {
    const it = this.live(db, k, now)
    if (it !== undefined && it.kind !== 'string') return // WRONGTYPE
    const old = it === undefined ? Buffer.alloc(0) : it.value as Buffer
    let value: Buffer
    if (name === 'APPEND') {
      value = Buffer.concat([old, Buffer.from(v as string, 'latin1')])
    } else {
      const n = it === undefined ? 0n : parseInteger(old)
      if (n === null || n + 1n > 9223372036854775807n) return // not an integer / overflow
      value = Buffer.from(String(n + 1n), 'latin1')
    }
    this.put(db, k, { kind: 'string', value, expireAt: it?.expireAt ?? 0 })
  }
}

/** The fields of every event kind (each kind uses its own). */
interface Ev {
  code: number; db: number; key: string; value: unknown; expireAtMs: number; type: number
  a: number; b: number; items: Buffer[]; count: number; index: number; item: Buffer
  left: number; right: number; fields: [string, Buffer][]; members: string[]
  entries: [number, string][]; name: string; payload: Buffer
}

/** A list delta (codes 20–27), as list-events.ts's header documents it. */
function listEvent(e: Ev, list: Buffer[]): void {
  switch (e.code) {
    case 20: for (const x of e.items) list.unshift(Buffer.from(x)); break // LPUSH: each at the head
    case 21: for (const x of e.items) list.push(Buffer.from(x)); break
    case 22: list.splice(0, Math.min(e.count, list.length)); break
    case 23: list.splice(list.length - Math.min(e.count, list.length)); break
    case 24: if (e.index < list.length) list[e.index] = Buffer.from(e.item); break
    case 25: if (e.index <= list.length) list.splice(e.index, 0, Buffer.from(e.item)); break
    case 26: { // LREM: > 0 the first |count| matches from the head, < 0 from the tail, 0 all
      let n = e.count === 0 ? Infinity : Math.abs(e.count)
      const order = [...list.keys()]
      if (e.count < 0) order.reverse()
      const drop = new Set<number>()
      for (const i of order) if (n > 0 && (list[i] as Buffer).equals(e.item)) { drop.add(i); n-- }
      const kept = list.filter((_, i) => !drop.has(i))
      list.splice(0, list.length, ...kept)
      break
    }
    case 27: { // LTRIM: `left` items off the head and `right` off the tail
      list.splice(0, Math.min(e.left, list.length))
      list.splice(list.length - Math.min(e.right, list.length))
      break
    }
  }
}

function clone(kind: Kind, v: unknown): unknown {
  switch (kind) {
    case 'string': return Buffer.from(v as Buffer)
    case 'list': return [...(v as Buffer[])]
    case 'hash': return new Map(v as Map<string, Buffer>)
    case 'set': return new Set(v as Set<string>)
    case 'zset': return new Map(v as Map<string, number>)
  }
}

/** A plain copy of an engine (or event) value: Deque → array, ZSet → Map member → score. */
function plain(kind: Kind, v: unknown): unknown {
  switch (kind) {
    case 'string': return Buffer.from(v as Buffer)
    case 'list': return [...(v as Iterable<Buffer>)]
    case 'hash': return new Map([...(v as Map<string, Buffer>)].map(([f, x]) => [f, Buffer.from(x)]))
    case 'set': return new Set(v as Set<string>)
    case 'zset': return new Map(v as Iterable<[string, number]>)
  }
}
