// Values the keyspace keeps must not keep their input alive (issue 19). A request's arguments
// are views of the request reader's 16 KiB input or argument slabs (src/resp/reader.ts), which
// also hold the rest of the reads they came in; a one-byte value stored as such a view pinned
// its whole slab (measured: 100,000 one-byte SETs, each arriving in its own ~8 KiB read, cost
// ~10 KB of RSS per key against Redis's ~110 B).
// Invariants:
// - keptValue(v) returns v itself when v's backing store is small (Node's 8 KiB Buffer pool,
//   where decoded values live) or at most twice v's length; otherwise a copy holding exactly v's
//   bytes: values up to KEPT_SLAB_VALUE_BYTES_MAX in a shared slab that holds nothing but kept
//   values (so a live value pins only other kept values' bytes, as malloc fragmentation would),
//   larger ones in a buffer of their own.
// - A slab is never written below its fill offset: values carved from it stay intact.

const EMPTY = Buffer.alloc(0)
/** Backing stores this small are Node's Buffer pool (or exact copies): kept as they are. */
const POOL_BYTES_MAX = 8192
/** A view whose backing store is more than this many times its length is copied. */
const PIN_RATIO_MAX = 2
const KEPT_SLAB_BYTES = 64 * 1024
const KEPT_SLAB_VALUE_BYTES_MAX = 1024

let slab: Buffer = EMPTY
let slabUsed = 0

export function keptValue(v: Buffer): Buffer {
  const backing = v.buffer.byteLength
  if (backing <= POOL_BYTES_MAX || backing <= v.length * PIN_RATIO_MAX) return v
  const length = v.length
  if (length > KEPT_SLAB_VALUE_BYTES_MAX) {
    const own = Buffer.alloc(length)
    v.copy(own)
    return own
  }
  if (slab.length - slabUsed < length) {
    slab = Buffer.alloc(KEPT_SLAB_BYTES)
    slabUsed = 0
  }
  const offset = slabUsed
  v.copy(slab, offset)
  slabUsed = offset + length
  const out = slab.subarray(offset, offset + length)
  if (out.length !== length) throw new Error('keptValue: copy length mismatch')
  return out
}
