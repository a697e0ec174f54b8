// A key's value in the in-memory databases (state/keyspace.ts): the Entry object, the type
// numbers and the per-entry estimates. Invariant: an Entry's fields change only through the
// Keyspace that holds it (expireAtMs by setExpiry, bytes by adjustBytes, lru by state/lru.ts).

import { fnv1a, fnv1aBytes } from './key-table.js'
import { accessSettings } from './lru.js'

export const TYPE_STRING = 0
export const TYPE_LIST = 1
export const TYPE_HASH = 2
export const TYPE_SET = 3
export const TYPE_ZSET = 4

/** Fixed per-entry overhead in the checkpoint estimate (event header, type, expiry, lengths). */
export const ENTRY_OVERHEAD_BYTES = 24

export class Entry {
  /**
   * Access state for OBJECT IDLETIME/FREQ and eviction: a 24-bit LRU clock or LFU word, read and
   * written only through state/lru.ts. Volatile, as Redis's robj.lru: never logged.
   */
  lru = accessSettings.initial
  /** The value's DRAM estimate counted in Keyspace.memBytes (state/memory-model.ts). */
  mem = 0
  constructor(
    public type: number,
    public value: unknown,
    /** Absolute expiry time in ms since the epoch; 0 = no expiry. Changed via Keyspace.setExpiry. */
    public expireAtMs: number,
    /** Estimated encoded size of the value. */
    public bytes: number,
  ) {}
}

export function entryBytes(key: string, entry: Entry): number {
  return key.length + entry.bytes + ENTRY_OVERHEAD_BYTES
}

/** FNV-1a (32-bit) of a key's bytes: the deferred index's shards, the key index's hash. */
export const keyHash = fnv1a

/** keyHash of the latin1 string of buf[start, end) — the same key, without building it. */
export const keyHashBytes = fnv1aBytes
