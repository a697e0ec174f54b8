// The sticky half of OBJECT ENCODING (commands/encoding.ts): Redis converts a hash from listpack
// to hashtable, or a set from intset to hashtable, once it outgrows a threshold, and never back.
// A value that did is marked here, beside the value (a WeakSet: no field on Map/Set values).
// The mark is memory-only (after a restart the encoding is derived from the size, as Redis's is
// after loading an RDB); copies of a value made by the engine (RESTORE apply) carry it over,
// as Redis's RENAME and COPY keep the encoding. Sorted sets keep theirs in ZSet.everBig.

import { ZSet } from './zset.js'

const converted = new WeakSet<object>()

/**
 * How Redis made the object holding a stored string Buffer (commands/string.ts reads and sets
 * them: OBJECT ENCODING / REFCOUNT): absent = by content, 'raw' = forced raw (APPEND, SETRANGE),
 * 'str' = embstr or raw by length (INCRBYFLOAT), 'int1' = an unshared int (COPY of an int). Here
 * so that the PUT event keeps a value WITHOUT a hint in the key index's columns (no Buffer, so
 * nothing to hang a hint on: state/key-map.ts) and one with a hint as an Entry.
 */
export type StringEncodingHint = 'raw' | 'str' | 'int1'
export const stringEncodingHints = new WeakMap<Buffer, StringEncodingHint>()

export function markConverted(value: object): void {
  converted.add(value)
}

export function isConverted(value: object): boolean {
  return converted.has(value)
}

/** After copying `from` into `to`: the copy keeps the original's encoding history. */
export function carryEncodingHints(from: unknown, to: unknown): void {
  if (from instanceof ZSet && to instanceof ZSet) {
    to.everBig = from.everBig
    return
  }
  if (typeof from === 'object' && from !== null && typeof to === 'object' && to !== null &&
    converted.has(from)) converted.add(to)
}
