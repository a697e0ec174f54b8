// The one registry of events: every event type the log may hold, listed here and nowhere else
// (no module registers itself by being imported). `AnyEvent` is the union of their shapes, each
// with its literal code, so a handler builds one through its constructor (core-events.ts
// putEv, delEv…) and the type checker knows which fields it has; Transaction.apply takes only
// these. Adding an event: define its EventType and constructor beside its apply, then list it
// here. event.ts builds its lookup table from EVENT_TYPES (codes must be unique: checked there).

import {
  delEvent, expireEvent, flushAllEvent, flushDbEvent, putEvent, restoreEvent, swapDbEvent,
} from './core-events.js'
import type { EventType } from './event.js'
import {
  functionDelEvent, functionFlushEvent, functionPutEvent,
} from './function-events.js'
import { hdelEvent, hsetEvent } from './hash-events.js'
import {
  linsertEvent, lpopEvent, lpushEvent, lremEvent, lsetEvent, ltrimEvent, rpopEvent, rpushEvent,
} from './list-events.js'
import { saddEvent, sremEvent } from './set-events.js'
import {
  xackEvent, xaddEvent, xclaimEvent, xconsumerEvent, xdelEvent, xgroupDelEvent, xgroupNewEvent,
  xgroupSetEvent, xsetidEvent, xtrimEvent,
} from './stream-events.js'
import { zaddEvent, zremEvent } from './zset-events.js'

const TYPES = [
  putEvent, delEvent, expireEvent, flushDbEvent, flushAllEvent, swapDbEvent, restoreEvent,
  lpushEvent, rpushEvent, lpopEvent, rpopEvent, lsetEvent, linsertEvent, lremEvent, ltrimEvent,
  hsetEvent, hdelEvent, saddEvent, sremEvent, zaddEvent, zremEvent,
  xaddEvent, xtrimEvent, xdelEvent, xsetidEvent, xgroupNewEvent, xgroupSetEvent, xgroupDelEvent,
  xconsumerEvent, xclaimEvent, xackEvent,
  functionPutEvent, functionDelEvent, functionFlushEvent,
] as const

type EventOf<T> = T extends EventType<infer E> ? E : never

/** Every event the log may hold: derived from the list above, so the two cannot disagree. */
export type AnyEvent = EventOf<(typeof TYPES)[number]>

/** The list with each entry's event type erased: event.ts dispatches on the code. */
export const EVENT_TYPES = TYPES as readonly unknown[] as readonly EventType[]
