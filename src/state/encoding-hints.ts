// The sticky half of OBJECT ENCODING (commands/encoding.ts): Redis converts a hash from listpack
// to hashtable, or a set from intset to hashtable, once it outgrows a threshold, and never back.
// A value that did is marked here, beside the value (a WeakSet: no field on Map/Set values).
// The mark is memory-only (after a restart the encoding is derived from the size, as Redis's is
// after loading an RDB); copies of a value made by the engine (RESTORE apply) carry it over,
// as Redis's RENAME and COPY keep the encoding. Sorted sets keep theirs in ZSet.everBig.

import { ZSet } from './zset.js'

const converted = new WeakSet<object>()

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
