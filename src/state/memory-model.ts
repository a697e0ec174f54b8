// The DRAM estimate of one keyspace entry: what used_memory counts for a key besides its bytes
// in the pool (Keyspace.liveBytes). A model of V8's objects for capykv's layout (64-bit, no
// pointer compression, as Node 20 ships), not a measurement per key: it must be O(1) per change
// and deterministic so that eviction is. Calibrated against the process's resident memory
// (test/server/maxmemory-accounting.test.ts checks the sum within 10 % of the measured growth);
// docs/server.md lists what is counted. Invariant: valueMemory depends only on the entry's type,
// its element count and entry.bytes, so Keyspace can keep the sum exact through adjustBytes.

import type { Deque } from './deque.js'
import type { Entry } from './keyspace.js'
import type { ZSet } from './zset.js'
import type { Stream } from './stream.js'
import { streamValueMemory } from './stream-memory.js'

/**
 * Per key: its KeyTable record (state/key-table.ts: 32 bytes with a key of up to 16 bytes
 * inline, the arena chunk of a longer key, the expiry, volatile-slot and key-address columns,
 * the reference slot, the bucket share, all at the tables' growth slack), the Entry object
 * (header and six fields), the Buffer object of a string value and its share of the input slab
 * it was carved from (src/resp/reader.ts: the request's framing besides the value). Measured
 * 2026-12-07 (MEMORY PURGE, then resident memory less the pool's mapping, after a warm-up that
 * grows V8's young generation): 418 bytes per key for 16-byte keys and 100-byte values with the
 * Map index; after issue 15 stage 3 step 2, with two purges 300 ms apart, 376-441 over four
 * runs (mean 420: the constant stands). One purge read as low as 287: V8 frees a collected
 * ArrayBuffer's backing store (the index's grown columns) after the collection, on a background
 * thread. The per-byte slope from 10 / 100 / 1000-byte values is about 1.1.
 * Re-measured after the KeyTable (2026-12-07 21:15-22:00, the same 16 + 100-byte keys):
 * resident less pool 396-398 B per key at 100,000 keys (maxmemory-accounting.test, twice) and
 * 366 at 1 M (node dist/bench/key-memory.js, twice); V8 heap plus array buffers 336-406 from 30 k
 * to 1 M keys (the index's columns grow by doubling per part, so their share per key varies with
 * the fill). 290 over-charged 1 M keys by 10.4 % (561 accounted, 508 measured); 260 puts the
 * model's DRAM (260 + 16 + 110 = 386) inside that range: 531 accounted, 4.5 % over at 1 M,
 * 1.7 % under at 100 k.
 */
export const KEY_MEMORY_OVERHEAD = 260
/**
 * Per key whose string value is kept in the key index itself (state/key-map.ts: no Entry, no
 * Buffer; the value's bytes in the value arena, counted by stringValueMemory): its record and
 * columns at the tables' growth slack. Measured 2026-12-07 as KEY_MEMORY_OVERHEAD above, 100-byte
 * values: 231 B/key above empty at 1M keys of ~10 bytes (node dist/bench/dram.js), 240 at 100k
 * keys of 16 bytes (test/server/maxmemory-accounting), less key and value estimates: ~110.
 */
export const VALUE_KEY_MEMORY_OVERHEAD = 110

/**
 * The `mem` of an Entry standing for a kept string (a copy, or the Entry a read promoted it
 * into): chosen so that KEY_MEMORY_OVERHEAD + key + mem is what the kept string was counted as.
 * A promoted key stays counted so (under-counted by the difference until it is next written).
 */
export function keptStringMem(bytes: number): number {
  return stringValueMemory(bytes) - (KEY_MEMORY_OVERHEAD - VALUE_KEY_MEMORY_OVERHEAD)
}

/** A string value's bytes in DRAM per byte (slab framing and alignment, measured as above). */
const STRING_BYTE_FACTOR = 1.1
/** Per element of a collection, beyond its bytes (entry.bytes counts those). */
const LIST_ELEMENT = 104
const HASH_FIELD = 160
const SET_MEMBER = 56
const ZSET_MEMBER = 160
/** A collection's own objects (Deque, Map, Set, ZSet with its skiplist head). */
const COLLECTION_BASE = 128

/** The DRAM estimate of a string value of `bytes` (its length + 2, as Entry.bytes). */
export function stringValueMemory(bytes: number): number {
  return Math.ceil(bytes * STRING_BYTE_FACTOR)
}

/** The DRAM estimate of an entry's value (without the key's share). */
export function valueMemory(entry: Entry): number {
  switch (entry.type) {
    case 0: // string: its bytes (the Buffer object is in the per-key overhead)
      return stringValueMemory(entry.bytes)
    case 1:
      return COLLECTION_BASE + entry.bytes + LIST_ELEMENT * (entry.value as Deque<Buffer>).length
    case 2:
      return COLLECTION_BASE + entry.bytes + HASH_FIELD * (entry.value as Map<string, Buffer>).size
    case 3:
      return COLLECTION_BASE + entry.bytes + SET_MEMBER * (entry.value as Set<string>).size
    case 4:
      return COLLECTION_BASE + entry.bytes + ZSET_MEMBER * (entry.value as ZSet).length
    case 5: // stream: its own O(1) model (stream-memory.ts)
      return streamValueMemory(entry.value as Stream)
    default:
      return COLLECTION_BASE + entry.bytes
  }
}
