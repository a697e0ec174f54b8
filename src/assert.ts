// Assertions are for programmer errors and are always on (STYLE §9): a failed assertion means the
// code is wrong, not that the input is bad. Operating errors (bad input, full pool, corruption)
// are typed values from errors.ts instead. O(n) checks run only when VERIFY is set.

export const VERIFY: boolean = process.env.VERIFY === '1'

export class AssertionError extends Error {
  override name = 'AssertionError'
}

export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new AssertionError(message)
}

export function unreachable(what: never | string): never {
  throw new AssertionError(`unreachable: ${String(what)}`)
}
