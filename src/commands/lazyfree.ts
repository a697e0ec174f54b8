// INFO's lazyfree_pending_objects and lazyfreed_objects. capykv frees nothing itself: a deleted
// value is unreferenced at once and V8's garbage collector reclaims it concurrently, off the
// request path, which is what Redis's lazy free buys (its main thread never walks a big value
// to free it). So nothing is ever pending (lazyfree_pending_objects:0), and lazyfreed_objects
// counts the deletions Redis would have handed to its background thread: an asynchronous
// delete (UNLINK; DEL under lazyfree-lazy-user-del yes) of a value whose free effort is over
// Redis's LAZYFREE_THRESHOLD, and every key of a database dropped by FLUSHDB / FLUSHALL ASYNC
// (or under lazyfree-lazy-user-flush yes), as Redis's emptyDbAsync counts them.
// Invariants: the effort is Redis 7.0.15's lazyfreeGetFreeEffort over the value capykv holds —
// exact for sets, sorted sets and hashes (their size, 1 in a compact encoding), the stream's
// radix tree node estimate XINFO shows for streams, and for lists the number of quicklist nodes
// Redis would have under list-max-listpack-size (an estimate from sampled element sizes: capykv
// lists have no nodes). A count is added once its transaction has committed.

import {
  TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_ZSET, type Entry,
} from '../state/keyspace.js'
import type { Deque } from '../state/deque.js'
import type { ZSet } from '../state/zset.js'
import { type Stream, TYPE_STREAM } from '../state/stream.js'
import { hashIsListpack, setIsIntset, zsetIsListpack } from './encoding.js'
import { raxNodes } from './stream-info.js'
import type { ServerServices } from './services.js'
import type { CommandContext } from './spec.js'

/** Redis's LAZYFREE_THRESHOLD: a value freed with more effort than this goes to a thread. */
export const LAZYFREE_THRESHOLD = 64

/** Elements sampled to estimate a list's bytes. */
const LIST_SAMPLES = 16
/** quicklist's per-node listpack byte limits for fill -1 … -5 (optimization_level). */
const NODE_BYTES = [4096, 8192, 16384, 32768, 65536]
/** A listpack entry's header and back-length bytes, roughly (lpEncodeBacklen, lpEncodeString). */
const ENTRY_OVERHEAD = 2
/** A listpack's header and end byte. */
const LISTPACK_OVERHEAD = 7

/** quicklist->len: how many nodes Redis's quicklist holds for this list under `fill`. */
function quicklistNodes(list: Deque<Buffer>, fill: number): number {
  const n = list.length
  if (n === 0) return 0
  if (fill > 0) return Math.ceil(n / fill)
  let sampled = 0
  const step = Math.max(1, Math.floor(n / LIST_SAMPLES))
  let count = 0
  for (let i = 0; i < n && count < LIST_SAMPLES; i += step, count++) {
    sampled += (list.get(i) as Buffer).length + ENTRY_OVERHEAD
  }
  const bytes = (sampled / count) * n
  const limit = NODE_BYTES[Math.min(NODE_BYTES.length, Math.max(1, -fill)) - 1] as number
  return Math.max(1, Math.ceil(bytes / (limit - LISTPACK_OVERHEAD)))
}

/** lazyfreeGetFreeEffort for the value capykv holds. */
export function freeEffort(entry: Entry, listFill: number): number {
  switch (entry.type) {
    case TYPE_LIST: return quicklistNodes(entry.value as Deque<Buffer>, listFill)
    case TYPE_SET: {
      const set = entry.value as Set<string>
      return setIsIntset(set) ? 1 : set.size
    }
    case TYPE_ZSET: {
      const z = entry.value as ZSet
      return zsetIsListpack(z) ? 1 : z.length
    }
    case TYPE_HASH: {
      const h = entry.value as Map<string, Buffer>
      return hashIsListpack(h) ? 1 : h.size
    }
    case TYPE_STREAM: {
      const s = entry.value as Stream
      let effort = raxNodes(s)
      const first = s.groups.values().next()
      if (first.done !== true) effort += s.groups.size * (1 + first.value.pel.size)
      return effort
    }
    default: return 1
  }
}

/** The server's services; none when a handler runs on the embedded engine alone. */
function serverOf(ctx: CommandContext): ServerServices | null {
  return (ctx.server as ServerServices | null | undefined) ?? null
}

/** A config parameter that is yes. */
export function configYes(ctx: CommandContext, name: string): boolean {
  return serverOf(ctx)?.config.get(name) === 'yes'
}

/** freeObjAsync's choice: whether Redis would free this value in its background thread. */
export function freedLazily(ctx: CommandContext, entry: Entry): boolean {
  const sv = serverOf(ctx)
  if (sv === null) return false
  const fill = Number(sv.config.get('list-max-listpack-size'))
  return freeEffort(entry, fill) > LAZYFREE_THRESHOLD
}

/** Counts `objects` in lazyfreed_objects once the command's transaction has committed. */
export function countLazyFreed(ctx: CommandContext, objects: number): void {
  const sv = serverOf(ctx)
  if (objects === 0 || sv === null) return
  sv.afterCommit(() => { sv.stats.lazyfreedObjects += objects })
}
