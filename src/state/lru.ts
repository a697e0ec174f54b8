// Per-key access state for OBJECT IDLETIME / OBJECT FREQ and the eviction policies: Redis 7.0's
// approximations, one small integer per key (Entry.lru, a V8 small integer: no object, no
// boxing). This module is the only place that reads or writes it, so a later index (typed arrays
// instead of Entry objects) can take the field over by changing this file alone.
// Layout of the 24-bit value, as Redis's robj.lru:
// - LRU policies (and noeviction): the LRU clock at the last access, seconds since the epoch
//   modulo 2^24 (LRU_CLOCK_RESOLUTION 1000 ms, LRU_CLOCK_MAX 2^24 - 1);
// - LFU policies: (last decrement time in minutes modulo 2^16) << 8 | an 8-bit logarithmic
//   counter, incremented with probability 1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1)
//   and decremented by one per lfu-decay-time minutes since the last decrement time.
// A key created under an LFU policy starts at LFU_INIT_VAL (5) so it is not evicted at once.
// Switching policy at runtime reinterprets the values, as in Redis (they adjust over time).
// Invariants: a value is always an integer in [0, 2^24); touch() is O(1) and allocates nothing.
// The settings (policy kind, log factor, decay time) are process-wide, set by the server from its
// configuration (one server per process; tests that embed the engine get Redis's defaults).
// Volatile, as in Redis: never logged, never in a checkpoint; a restarted key starts fresh.

export const LRU_BITS = 24
export const LRU_CLOCK_MAX = (1 << LRU_BITS) - 1
export const LRU_CLOCK_RESOLUTION_MS = 1000
export const LFU_INIT_VAL = 5

/** The settings touch() follows (the server copies them from its configuration). */
export const accessSettings = {
  /** An LFU maxmemory-policy is selected. */
  lfu: false,
  logFactor: 10,
  decayTime: 1,
  /** The generator of LFU increments: uniform in [0, 1) (tests replace it). */
  random: Math.random,
  /** What a new key starts with: initialAccess at the last tick (Redis's cached lruclock). */
  initial: 0,
}

/** The server's clock tick (cron, configuration changes): refreshes what new keys start with. */
export function accessTick(nowMs: number): void {
  accessSettings.initial = initialAccess(nowMs)
}

/** Redis's getLRUClock for a time in ms. */
export function lruClock(nowMs: number): number {
  return Math.floor(nowMs / LRU_CLOCK_RESOLUTION_MS) & LRU_CLOCK_MAX
}

/** Redis's LFUGetTimeInMinutes (unixtime / 60, modulo 2^16). */
export function lfuMinutes(nowMs: number): number {
  return Math.floor(nowMs / 60000) & 0xffff
}

/** The value a key created at `nowMs` starts with (Redis's createObject). */
export function initialAccess(nowMs: number): number {
  return accessSettings.lfu ? (lfuMinutes(nowMs) << 8) | LFU_INIT_VAL : lruClock(nowMs)
}

/** Redis's estimateObjectIdleTime: ms since the last access, by the LRU clock (wraps). */
export function idleMs(lru: number, nowMs: number): number {
  const clock = lruClock(nowMs)
  const ticks = clock >= lru ? clock - lru : clock + (LRU_CLOCK_MAX - lru)
  return ticks * LRU_CLOCK_RESOLUTION_MS
}

/** Redis's LFUTimeElapsed: minutes since `ldt`, modulo 2^16. */
function lfuElapsed(ldt: number, nowMs: number): number {
  const now = lfuMinutes(nowMs)
  return now >= ldt ? now - ldt : 65535 - ldt + now
}

/** Redis's LFUDecrAndReturn: the counter after its decay (the stored value is not changed). */
export function lfuDecayed(lru: number, nowMs: number, decayTime = accessSettings.decayTime):
  number {
  const counter = lru & 255
  const periods = decayTime > 0 ? Math.floor(lfuElapsed(lru >>> 8, nowMs) / decayTime) : 0
  if (periods === 0) return counter
  return periods > counter ? 0 : counter - periods
}

/** Redis's LFULogIncr: `counter` + 1 with probability 1 / ((counter - 5) * factor + 1). */
export function lfuLogIncr(counter: number, r: number, logFactor = accessSettings.logFactor):
  number {
  if (counter === 255) return 255
  const base = Math.max(0, counter - LFU_INIT_VAL)
  const p = 1 / (base * logFactor + 1)
  return r < p ? counter + 1 : counter
}

/** The value after an access at `nowMs` (Redis's lookupKey: updateLFU, or LRU_CLOCK()). */
export function touched(lru: number, nowMs: number): number {
  if (!accessSettings.lfu) return lruClock(nowMs)
  const counter = lfuLogIncr(lfuDecayed(lru, nowMs), accessSettings.random())
  return (lfuMinutes(nowMs) << 8) | counter
}

/** An access to a key (a lookup that is not NOTOUCH): its access state moves. */
export function touchKey(entry: { lru: number }, nowMs: number): void {
  entry.lru = touched(entry.lru, nowMs)
}

/** A value replacing `previous` under the same key (Redis's dbOverwrite): LFU keeps the counter. */
export function inheritAccess(entry: { lru: number }, previous: { lru: number }): void {
  if (accessSettings.lfu) entry.lru = previous.lru
}

/**
 * The eviction pool's score of a key (Redis's evictionPoolPopulate "idle"): higher is evicted
 * first. LRU: idle ms; LFU: 255 - the decayed counter; TTL: a later expiry scores lower.
 */
export function evictionScore(kind: 'lru' | 'lfu' | 'ttl', lru: number, expireAtMs: number,
  nowMs: number): number {
  if (kind === 'lru') return idleMs(lru, nowMs)
  if (kind === 'lfu') return 255 - lfuDecayed(lru, nowMs)
  return Number.MAX_SAFE_INTEGER - expireAtMs
}

/** RESTORE … IDLETIME seconds (Redis's objectSetLRUOrLFU under an LRU policy). */
export function lruFromIdleSeconds(idleSeconds: number, nowMs: number): number {
  const clock = lruClock(nowMs)
  const abs = clock - Math.floor((idleSeconds * 1000) / LRU_CLOCK_RESOLUTION_MS)
  // Underflow: half-way round the wrapping clock, so the key stays idle for a long time.
  return abs >= 0 ? abs : (clock + Math.floor(LRU_CLOCK_MAX / 2)) % LRU_CLOCK_MAX
}

/** RESTORE … FREQ f (Redis: the counter set, its decrement time now). */
export function lfuFromFreq(freq: number, nowMs: number): number {
  return (lfuMinutes(nowMs) << 8) | (freq & 255)
}

/**
 * RESTORE … IDLETIME / FREQ (Redis's objectSetLRUOrLFU): FREQ under an LFU policy, IDLETIME
 * under any other; -1 = not given.
 */
export function restoreAccess(entry: { lru: number }, freq: number, idleSeconds: number,
  nowMs: number): void {
  if (accessSettings.lfu) {
    if (freq >= 0) entry.lru = lfuFromFreq(freq, nowMs)
  } else if (idleSeconds >= 0) {
    entry.lru = lruFromIdleSeconds(idleSeconds, nowMs)
  }
}

accessTick(Date.now())
