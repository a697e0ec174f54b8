// The only source of wall-clock time (STYLE §8): event application never reads the clock, so
// replay is deterministic; the server and the simulator read time through here, and tests can
// substitute a fake clock.

export interface Clock {
  nowMs(): number
}

export const systemClock: Clock = { nowMs: () => Date.now() }

let current: Clock = systemClock

export function nowMs(): number {
  return current.nowMs()
}

/** Replace the clock (tests only); returns the previous one. */
export function setClock(clock: Clock): Clock {
  const previous = current
  current = clock
  return previous
}
