// Events: the unit of the durable log (DESIGN rule 1). A transaction is a list of events; its log
// record's payload is `varuint count, then count × (u8 code, the event's own layout)`. Each data
// type defines its events (code, encode, decode, apply, a constructor) beside its state, and
// state/event-registry.ts lists them all (the one registry), so new types never touch the
// engine. Invariants every registered event keeps:
// - apply is deterministic: a function of the keyspace and the event only (no clock, no random);
// - apply is TOTAL: it never throws, whatever state it meets. Replay from a fuzzy checkpoint
//   (storage/checkpoint.ts) may apply a delta to a key whose full value arrives later in a RESTORE
//   event; the RESTORE overwrites whatever the delta produced, so totality is all it needs;
// - apply returns an undo closure that restores the exact previous state (abort, out of space),
//   or null when the event changed nothing; applyLogged, where a type has it, does the same
//   change and records its undo as data in an UndoLog instead (no closure per event: the
//   string path's PUT and DEL, issue 15 stage 2). Both forms leave the same state.

import { VERIFY, assert } from '../assert.js'
import { ByteReader, ByteWriter, DecodeError } from './bytes.js'
import { EVENT_TYPES } from './event-registry.js'
import type { Keyspace } from './keyspace.js'
import type { Undo, UndoLog } from './undo-log.js'

export type { Undo } from './undo-log.js'

export interface Event {
  readonly code: number
}

export interface EventType<E extends Event = Event> {
  readonly code: number
  readonly name: string
  /** True when the event can only shrink live data (admitted into a full pool). */
  readonly shrinks: boolean
  encode(w: ByteWriter, e: E): void
  decode(r: ByteReader): E
  apply(ks: Keyspace, e: E): Undo | null
  /**
   * Optional: apply as apply() does, recording the undo into `undo` rather than returning a
   * closure; false when the event changed nothing (apply's null).
   */
  applyLogged?(ks: Keyspace, e: E, undo: UndoLog): boolean
  /**
   * Optional, for whole-key writes (the deferred index, keyspace.ts): read the event's fields
   * from `r` (positioned just after the code byte) and either hand it to ks.defer and return
   * true (handing it the function that applies it later), or return false to have it decoded
   * and applied now. Must throw DecodeError on exactly the payloads decode() rejects, so
   * startup still refuses an undecodable record.
   */
  deferInto?(ks: Keyspace, r: ByteReader): boolean
}

/** Code → event type, built once from the registry (state/event-registry.ts). */
const registry: (EventType | undefined)[] = []
for (const et of EVENT_TYPES) {
  if (et.code < 1 || et.code > 255) throw new Error(`event code ${et.code} out of range`)
  if (registry[et.code] !== undefined) throw new Error(`event code ${et.code} registered twice`)
  registry[et.code] = et
}

export function eventType(code: number): EventType {
  const et = registry[code]
  if (et === undefined) throw new DecodeError(`unknown event code ${code}`)
  return et
}

/** The first `count` events (all of them by default) as one record's payload. */
export function encodeEvents(w: ByteWriter, events: readonly Event[],
  count = events.length): void {
  assert(count <= events.length, 'encode only events that exist')
  const start = w.length
  w.varuint(count)
  for (let i = 0; i < count; i++) {
    const e = events[i] as Event
    w.u8(e.code)
    eventType(e.code).encode(w, e)
  }
  if (VERIFY) verifyRoundTrip(w.buf, start, w.length, count)
}

/**
 * VERIFY: the payload just written decodes to `count` events that encode to the same bytes
 * (encode → decode → encode), so no event type's decode can read back something else than its
 * encode wrote. O(payload); never on in production (src/assert.ts).
 */
function verifyRoundTrip(buf: Buffer, start: number, end: number, count: number): void {
  const back = decodeEvents(buf, start, end)
  assert(back.length === count, 'an event payload decodes to as many events as were encoded')
  const again = new ByteWriter(Math.max(16, end - start))
  again.varuint(back.length)
  for (const e of back) {
    again.u8(e.code)
    eventType(e.code).encode(again, e)
  }
  assert(again.length === end - start && again.buf.subarray(0, again.length)
    .equals(buf.subarray(start, end)), 'an event payload re-encodes to the same bytes')
}

export function decodeEvents(buf: Buffer, start: number, end: number): Event[] {
  const r = new ByteReader(buf, start, end)
  const count = r.varuint()
  const events: Event[] = []
  for (let i = 0; i < count; i++) events.push(eventType(r.u8()).decode(r))
  if (r.pos !== end) throw new DecodeError(`${end - r.pos} stray bytes after ${count} events`)
  return events
}

/**
 * Replay one record's events into `ks` (the layout of decodeEvents), deferring the whole-key
 * writes whose event type can defer (recovery with the deferred index).
 */
export function replayEventsDeferred(ks: Keyspace, buf: Buffer, start: number, end: number): void {
  const r = new ByteReader(buf, start, end)
  const count = r.varuint()
  for (let i = 0; i < count; i++) {
    const et = eventType(r.u8())
    if (et.deferInto !== undefined) {
      const at = r.pos
      if (et.deferInto(ks, r)) continue
      r.pos = at
    }
    et.apply(ks, et.decode(r))
  }
  if (r.pos !== end) throw new DecodeError(`${end - r.pos} stray bytes after ${count} events`)
}

/** Apply events in order (replay); no undo kept. */
export function applyEvents(ks: Keyspace, events: readonly Event[]): void {
  for (const e of events) eventType(e.code).apply(ks, e)
}

export function applyEvent(ks: Keyspace, e: Event): Undo | null {
  return eventType(e.code).apply(ks, e)
}

/** Apply one event tentatively, its undo recorded in `undo`; false when nothing changed. */
export function applyEventLogged(ks: Keyspace, e: Event, undo: UndoLog): boolean {
  const et = eventType(e.code)
  if (et.applyLogged !== undefined) return et.applyLogged(ks, e, undo)
  const fn = et.apply(ks, e)
  if (fn === null) return false
  undo.closure(fn)
  return true
}

/** Whether the first `count` events can only shrink live data. */
export function eventsShrinkOnly(events: readonly Event[], count = events.length): boolean {
  for (let i = 0; i < count; i++) if (!eventType((events[i] as Event).code).shrinks) return false
  return true
}
