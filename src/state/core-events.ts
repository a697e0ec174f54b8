// The core events: whole-key writes, deletes, expiry and database-wide operations. Payload
// layouts (after the u8 event code; db is u8 0..15, key is varuint length + latin1 bytes,
// expireAtMs is an f64 absolute time in ms, 0 = none):
//   1 PUT      db, key, value (varuint length + bytes), expireAtMs   — string value, any old type
//   2 DEL      db, key
//   3 EXPIRE   db, key, expireAtMs                                    — 0 removes the expiry
//   4 FLUSHDB  db
//   5 FLUSHALL (nothing)
//   6 SWAPDB   db a, db b
//   7 RESTORE  db, key, u8 type, expireAtMs, value (value-codec.ts layout of that type)
// RESTORE carries a whole value of any type: checkpoint chunks, RENAME, COPY and MOVE use it, so
// replay never depends on another key's state (fuzzy checkpoints rely on this; see event.ts).

import { keptValue } from './kept-value.js'
import { ByteReader, ByteWriter } from './bytes.js'
import { readDb } from './coll-common.js'
import { carryEncodingHints, stringEncodingHints } from './encoding-hints.js'
import type { EventType, Undo } from './event.js'
import type { UndoLog } from './undo-log.js'
import { Entry, KeyMap, type Keyspace, TYPE_STRING, DB_COUNT, ENTRY_OVERHEAD_BYTES, keyHashBytes } from './keyspace.js'
import { valueType } from './value-codec.js'

export const EV_PUT = 1
export const EV_DEL = 2
export const EV_EXPIRE = 3
export const EV_FLUSHDB = 4
export const EV_FLUSHALL = 5
export const EV_SWAPDB = 6
export const EV_RESTORE = 7

export interface PutEvent {
  readonly code: typeof EV_PUT; db: number; key: string; value: Buffer; expireAtMs: number
}
export interface DelEvent { readonly code: typeof EV_DEL; db: number; key: string }
export interface ExpireEvent {
  readonly code: typeof EV_EXPIRE; db: number; key: string; expireAtMs: number
}
export interface FlushDbEvent { readonly code: typeof EV_FLUSHDB; db: number }
export interface FlushAllEvent { readonly code: typeof EV_FLUSHALL }
export interface SwapDbEvent { readonly code: typeof EV_SWAPDB; a: number; b: number }
export interface RestoreEvent {
  readonly code: typeof EV_RESTORE; db: number; key: string; type: number; expireAtMs: number
  value: unknown
}

// The constructors (one per event; plain object literals, nothing else allocated).
export const putEv = (db: number, key: string, value: Buffer, expireAtMs: number): PutEvent =>
  ({ code: EV_PUT, db, key, value, expireAtMs })
export const delEv = (db: number, key: string): DelEvent => ({ code: EV_DEL, db, key })
export const expireEv = (db: number, key: string, expireAtMs: number): ExpireEvent =>
  ({ code: EV_EXPIRE, db, key, expireAtMs })
export const flushDbEv = (db: number): FlushDbEvent => ({ code: EV_FLUSHDB, db })
export const flushAllEv = (): FlushAllEvent => ({ code: EV_FLUSHALL })
export const swapDbEv = (a: number, b: number): SwapDbEvent => ({ code: EV_SWAPDB, a, b })
export const restoreEv = (db: number, key: string, type: number, expireAtMs: number,
  value: unknown): RestoreEvent => ({ code: EV_RESTORE, db, key, type, expireAtMs, value })

/** Put an entry, returning the undo that restores the previous one. */
export function putEntry(ks: Keyspace, db: number, key: string, entry: Entry): Undo {
  const previous = ks.set(db, key, entry)
  return previous === undefined ? () => { ks.delete(db, key) } : () => { ks.set(db, key, previous) }
}

export function deleteEntry(ks: Keyspace, db: number, key: string): Undo | null {
  const previous = ks.delete(db, key)
  return previous === undefined ? null : () => { ks.set(db, key, previous) }
}

/** putEntry with its undo recorded as data (EventType.applyLogged). */
export function putEntryLogged(ks: Keyspace, db: number, key: string, entry: Entry,
  undo: UndoLog): true {
  undo.entry(db, key, ks.set(db, key, entry))
  return true
}

/** deleteEntry with its undo recorded as data; false when the key was absent. */
export function deleteEntryLogged(ks: Keyspace, db: number, key: string, undo: UndoLog): boolean {
  const previous = ks.delete(db, key)
  if (previous === undefined) return false
  undo.entry(db, key, previous)
  return true
}

/** The entry a PUT stores when its value carries an encoding hint. */
function entryOfPut(e: PutEvent): Entry {
  return new Entry(TYPE_STRING, keptValue(e.value), e.expireAtMs, e.value.length + 2)
}

/**
 * Apply a PUT; returns the previous entry. A value without an encoding hint (the usual one) is
 * kept in the key index itself, no Entry (Keyspace.setString); a hinted one needs its Buffer.
 */
function applyPut(ks: Keyspace, e: PutEvent): Entry | undefined {
  if (stringEncodingHints.has(e.value)) return ks.set(e.db, e.key, entryOfPut(e))
  return ks.setString(e.db, e.key, e.value, e.expireAtMs)
}

export const putEvent: EventType<PutEvent> = {
  code: EV_PUT, name: 'put', shrinks: false,
  encode(w: ByteWriter, e) {
    w.u8(e.db); w.str(e.key); w.bytes(e.value); w.f64(e.expireAtMs)
  },
  decode: (r) => ({ code: EV_PUT, db: readDb(r), key: r.str(), value: r.bytes(), expireAtMs: r.f64() }),
  apply(ks, e) {
    const previous = applyPut(ks, e)
    return previous === undefined
      ? () => { ks.delete(e.db, e.key) }
      : () => { ks.set(e.db, e.key, previous) }
  },
  applyLogged(ks, e, undo) {
    undo.entry(e.db, e.key, applyPut(ks, e))
    return true
  },
  deferInto: (ks, r) => deferStringWrite(ks, r, EV_PUT),

}

export const delEvent: EventType<DelEvent> = {
  code: EV_DEL, name: 'del', shrinks: true,
  encode(w, e) { w.u8(e.db); w.str(e.key) },
  decode: (r) => ({ code: EV_DEL, db: readDb(r), key: r.str() }),
  apply: (ks, e) => deleteEntry(ks, e.db, e.key),
  applyLogged: (ks, e, undo) => deleteEntryLogged(ks, e.db, e.key, undo),
}

export const expireEvent: EventType<ExpireEvent> = {
  code: EV_EXPIRE, name: 'expire', shrinks: false,
  encode(w, e) { w.u8(e.db); w.str(e.key); w.f64(e.expireAtMs) },
  decode: (r) => ({ code: EV_EXPIRE, db: readDb(r), key: r.str(), expireAtMs: r.f64() }),
  apply(ks, e) {
    const map = ks.findKey(e.db, e.key)
    const h = ks.foundHandle
    if (h !== -1 && map.isValue(h)) return expireKept(ks, e, map, h)
    const entry = ks.get(e.db, e.key)
    if (entry === undefined || entry.expireAtMs === e.expireAtMs) return null
    const previous = entry.expireAtMs
    ks.setExpiry(e.db, e.key, entry, e.expireAtMs)
    ks.touch(e.db, e.key)
    return () => { ks.setExpiry(e.db, e.key, entry, previous); ks.touch(e.db, e.key) }
  },
}

/**
 * EXPIRE of a string kept in the key index (record h of map): its expiry changes in place, no
 * Entry made. The undo sets the previous expiry on whatever record holds the key then (undos
 * run in reverse order: the key is as this EXPIRE left it, kept or, after a later undo, an
 * Entry).
 */
function expireKept(ks: Keyspace, e: ExpireEvent, map: KeyMap, h: number): Undo | null {
  const previous = map.expireAtOf(h)
  if (previous === e.expireAtMs) return null
  map.setExpiryAt(h, e.expireAtMs)
  ks.touch(e.db, e.key)
  return () => {
    const now = ks.findKey(e.db, e.key)
    if (ks.foundHandle === -1) return
    now.setExpiryAt(ks.foundHandle, previous)
    ks.touch(e.db, e.key)
  }
}

export const flushDbEvent: EventType<FlushDbEvent> = {
  code: EV_FLUSHDB, name: 'flushdb', shrinks: true,
  encode(w, e) { w.u8(e.db) },
  decode: (r) => ({ code: EV_FLUSHDB, db: readDb(r) }),
  apply(ks, e) {
    if (ks.isEmpty(e.db)) return null
    const old = ks.replaceDb(e.db, new KeyMap())
    return () => { ks.replaceDb(e.db, old) }
  },
}

export const flushAllEvent: EventType<FlushAllEvent> = {
  code: EV_FLUSHALL, name: 'flushall', shrinks: true,
  encode() {},
  decode: () => ({ code: EV_FLUSHALL }),
  apply(ks) {
    const undos: Undo[] = []
    for (let db = 0; db < DB_COUNT; db++) {
      if (ks.isEmpty(db)) continue
      const old = ks.replaceDb(db, new KeyMap())
      undos.push(() => { ks.replaceDb(db, old) })
    }
    return undos.length === 0 ? null : () => { for (const u of undos.reverse()) u() }
  },
}

export const swapDbEvent: EventType<SwapDbEvent> = {
  code: EV_SWAPDB, name: 'swapdb', shrinks: false,
  encode(w, e) { w.u8(e.a); w.u8(e.b) },
  decode: (r) => ({ code: EV_SWAPDB, a: readDb(r), b: readDb(r) }),
  apply(ks, e) {
    ks.swapDbs(e.a, e.b)
    return () => { ks.swapDbs(e.a, e.b) }
  },
}

// A checkpoint is RESTOREs: string ones (the bulk of most pools) join the deferred index.
// Their layout is `db, key, u8 type, f64 expireAtMs, varuint length + bytes` (value-codec.ts's
// string layout), read here directly so a deferred one costs no event, key or value object.
export const restoreEvent: EventType<RestoreEvent> = {
  code: EV_RESTORE, name: 'restore', shrinks: false,
  encode(w, e) {
    w.u8(e.db); w.str(e.key); w.u8(e.type); w.f64(e.expireAtMs)
    valueType(e.type).encode(w, e.value)
  },
  decode(r) {
    const db = readDb(r)
    const key = r.str()
    const type = r.u8()
    const expireAtMs = r.f64()
    const value = valueType(type).decode(r)
    const event: RestoreEvent = { code: EV_RESTORE, db, key, type, expireAtMs, value }
    // Strings are owned anyway (apply never copies them): keeping the 1M string RESTOREs of a
    // checkpoint out of the WeakSet took a third off their replay (bench/recovery.ts).
    if (type !== TYPE_STRING) decodedRestores.add(event)
    return event
  },
  apply(ks, e) {
    const vt = valueType(e.type)
    // The keyspace must not share a mutable value with an event still to be encoded: a later
    // event of the same transaction (RENAME then RPUSH, COPY then SADD…) would change what this
    // RESTORE encodes at commit, and replay would apply that change twice. A decoded event
    // (replay) owns its fresh value and needs no copy; strings are never changed in place.
    const owned = e.type === TYPE_STRING || decodedRestores.has(e)
    const value = owned ? e.value : copyValue(e.type, e.value)
    return putEntry(ks, e.db, e.key, new Entry(e.type, value, e.expireAtMs, vt.bytes(value)))
  },
  deferInto: (ks, r) => deferStringWrite(ks, r, EV_RESTORE),

}

/**
 * deferInto of the two whole-key string writes (the deferred index, keyspace.ts). Their fields:
 *   PUT      db, key, value, f64 expireAtMs
 *   RESTORE  db, key, u8 type, f64 expireAtMs, value    — deferred only when type is string
 * Bounds are checked as decode() checks them; the estimate is entryBytes of the entry it makes.
 */
function deferStringWrite(ks: Keyspace, r: ByteReader, code: number): boolean {
  const at = r.pos
  const db = readDb(r)
  const keyBytes = r.varuint()
  const keyAt = r.skip(keyBytes)
  if (code === EV_RESTORE) {
    if (r.u8() !== TYPE_STRING) return false
    r.skip(8)
  }
  const valueBytes = r.varuint()
  r.skip(valueBytes)
  if (code === EV_PUT) r.skip(8)
  ks.defer(db, keyHashBytes(r.buf, keyAt, keyAt + keyBytes), r.buf, at, code,
    keyBytes + valueBytes + 2 + ENTRY_OVERHEAD_BYTES, applyDeferredStringWrite)
  return true
}

/** The deferred apply of both (Keyspace.defer's DeferredApply): into `db`, the database now holding the event (SWAPDB may move it). */
function applyDeferredStringWrite(ks: Keyspace, db: number, buf: Buffer, offset: number, code: number): void {
  const r = new ByteReader(buf, offset + 1) // past the event's own db byte
  const key = r.str()
  let expireAtMs = 0
  if (code === EV_RESTORE) {
    r.u8()
    expireAtMs = r.f64()
  }
  const value = r.bytes()
  if (code === EV_PUT) expireAtMs = r.f64()
  ks.setMaterialized(db, key, new Entry(TYPE_STRING, value, expireAtMs, value.length + 2))
}

/** RESTORE events produced by decode (their values are fresh, owned by nobody else). */
const decodedRestores = new WeakSet<RestoreEvent>()

/** A deep copy of a value through its codec. */
function copyValue(type: number, value: unknown): unknown {
  const vt = valueType(type)
  const w = new ByteWriter(256)
  vt.encode(w, value)
  const bytes = w.view()
  const copy = vt.decode(new ByteReader(bytes, 0, bytes.length))
  carryEncodingHints(value, copy)
  return copy
}

/** A RESTORE event holding a copy of an entry's current value (RENAME, COPY, MOVE, checkpoints). */
export function restoreOf(db: number, key: string, entry: Entry): RestoreEvent {
  return { code: EV_RESTORE, db, key, type: entry.type, expireAtMs: entry.expireAtMs, value: entry.value }
}
