// The DRAM a stream takes in capykv's heap, the stream's case of memory-model.ts's valueMemory
// (what used_memory and MEMORY USAGE charge it): a model of the objects of stream.ts and
// stream-node.ts, O(1) from counters the stream keeps (nodes, entries stored, packed bytes, the
// groups' share of its liveBytes estimate), deterministic, so the keyspace keeps its sum exact
// through adjustBytes. Calibrated by measuring the objects (heapUsed + arrayBuffers after two
// full GCs, node --expose-gc, 300k appends): nodes of 10 and 100 entries of one 14-byte and one
// 100-byte value: within 2 %; 2 or 3 fields of 8-30 bytes: 10-14 % under. docs/server.md puts it
// beside Redis's MEMORY USAGE of the same stream.

import type { Stream } from './stream.js'
import { STREAM_BASE_BYTES } from './stream-node.js'

/** The Stream object, its node array and groups Map. */
const STREAM_BYTES = 240
/** A node beyond its entries: the object, its three per-entry arrays' headers, the master
 *  fields' Buffers and its data's ArrayBuffer (measured 755 B). */
const NODE_BYTES = 760
/** Per entry: its id (a two-digit BigInt) and its slots in ids, dead and offsets, with the
 *  arrays' growth slack (measured 79 B). */
const ENTRY_BYTES = 80
/** Per byte of packed records: the data's capacity beyond its length and ArrayBuffer
 *  bookkeeping (measured 1.68). */
const PACKED_BYTE_FACTOR = 1.68
/** DRAM per byte of the groups' liveBytes estimate (a NACK, estimated 32 B, is a Nack object and
 *  a slot in two PELs: about 88 B). */
const GROUP_BYTE_FACTOR = 2.75

export function streamValueMemory(s: Stream): number {
  const groups = s.bytes - STREAM_BASE_BYTES - s.storedEstimate
  return STREAM_BYTES + NODE_BYTES * s.nodes.length + ENTRY_BYTES * s.stored +
    Math.round(PACKED_BYTE_FACTOR * s.packedBytes) + Math.round(GROUP_BYTE_FACTOR * groups)
}
