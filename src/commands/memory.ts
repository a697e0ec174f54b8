// MEMORY USAGE and MEMORY HELP, with Redis 7.0.15's syntax, replies and errors.
// MEMORY USAGE key [SAMPLES count] answers an estimate of the bytes the key and its value take in
// capykv's heap (V8), not jemalloc's figures: the key's characters and its keyspace entry, plus
// for a string its bytes, and for a collection a per-element cost (the element's bytes and the
// structure around it: deque slot, Map entry, skiplist node) measured on up to `count` elements
// (default 5, 0 = all) and scaled to the whole collection, as Redis samples nested values.
// The constants are modelled on V8's object layout (docs/server.md); they are an estimate, like
// Redis's objectComputeSize, and say nothing about the pool (INFO persistence has its sizes).
// Like Redis (dictFind), the lookup does not expire a key or touch its access time.

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Deque } from '../state/deque.js'
import {
  TYPE_HASH, TYPE_LIST, TYPE_SET, TYPE_STRING, TYPE_ZSET, type Entry,
} from '../state/keyspace.js'
import type { ZSet } from '../state/zset.js'
import { type Stream, TYPE_STREAM } from '../state/stream.js'
import { helpLines } from './services.js'
import { parseLongLong, writeHelp } from './connection.js'
import {
  ERR_NOT_INTEGER, ERR_SYNTAX, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'

/** A keyspace entry (Map slot, Entry object) plus the key string's header. */
const KEY_OVERHEAD = 72
/** A Buffer object and its backing store's header. */
const BUFFER_OVERHEAD = 96
/** Per element: a deque slot and a Buffer. */
const LIST_ELEMENT = 8 + BUFFER_OVERHEAD
/** Per field: a Map entry, the field string's header and the value Buffer. */
const HASH_FIELD = 40 + 16 + BUFFER_OVERHEAD
/** Per member: a Set entry and the member string's header. */
const SET_MEMBER = 32 + 16
/** Per member: a Map entry, the member string's header and a skiplist node (≈ 2 levels). */
const ZSET_MEMBER = 40 + 16 + 96
const DEFAULT_SAMPLES = 5

/** Sum of `cost` over the first `samples` elements, scaled to `size` elements. */
function sampled<T>(items: Iterable<T>, size: number, samples: number,
  cost: (item: T) => number): number {
  if (size === 0) return 0
  let n = 0
  let sum = 0
  for (const item of items) {
    if (n >= samples) break
    sum += cost(item)
    n++
  }
  return n === 0 ? 0 : Math.round((sum / n) * size)
}

/** The estimate MEMORY USAGE answers for `key` holding `entry`. */
export function memoryUsage(key: string, entry: Entry, samples: number): number {
  let value = 0
  switch (entry.type) {
    case TYPE_STRING:
      value = BUFFER_OVERHEAD + (entry.value as Buffer).length
      break
    case TYPE_LIST: {
      const list = entry.value as Deque<Buffer>
      value = 48 + sampled(list, list.length, samples, (b) => LIST_ELEMENT + b.length)
      break
    }
    case TYPE_HASH: {
      const hash = entry.value as Map<string, Buffer>
      value = 64 + sampled(hash, hash.size, samples,
        ([f, v]) => HASH_FIELD + f.length + v.length)
      break
    }
    case TYPE_SET: {
      const set = entry.value as Set<string>
      value = 64 + sampled(set, set.size, samples, (m) => SET_MEMBER + m.length)
      break
    }
    case TYPE_ZSET: {
      const z = entry.value as ZSet
      value = 128 + sampled(z.map.keys(), z.length, samples, (m) => ZSET_MEMBER + m.length)
      break
    }
    case TYPE_STREAM:
      // The stream's own estimate (state/stream.ts: entries with their fields, groups,
      // consumers, NACKs), not sampled; not yet compared with Redis's listpack figures.
      value = 96 + (entry.value as Stream).bytes
      break
    default:
      value = 64
  }
  return KEY_OVERHEAD + key.length + value
}

const memoryUsageCommand: Handler = (ctx: CommandContext, argv) => {
  let samples = DEFAULT_SAMPLES
  for (let j = 3; j < argv.length; j++) {
    if ((argv[j] as Buffer).toString('latin1').toLowerCase() === 'samples' &&
      j + 1 < argv.length) {
      const n = parseLongLong(argv[j + 1] as Buffer)
      if (n === null) {
        ctx.reply.error(ERR_NOT_INTEGER)
        return
      }
      if (n < 0) {
        ctx.reply.error(ERR_SYNTAX)
        return
      }
      samples = n === 0 ? Number.MAX_SAFE_INTEGER : n
      j++
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  const key = (argv[2] as Buffer).toString('latin1')
  const entry = ctx.keyspace.get(ctx.client.db, key)
  if (entry === undefined) {
    ctx.reply.nullBulk()
    return
  }
  ctx.reply.integer(memoryUsage(key, entry, samples))
}

/** V8's full collection, made callable once (Redis's MEMORY PURGE asks jemalloc to purge). */
let fullGc: (() => void) | null = null
function collectGarbage(): void {
  if (fullGc === null) {
    setFlagsFromString('--expose-gc')
    fullGc = runInNewContext('gc') as () => void
  }
  fullGc()
}

const MEMORY_HELP = helpLines('MEMORY', [
  'USAGE <key> [SAMPLES <count>]',
  '    Return memory in bytes used by <key> and its value. Nested values are',
  '    sampled up to <count> times (default: 5, 0 means sample all).',
  'PURGE',
  '    Attempt to purge dirty pages for reclamation by the allocator.',
])

function spec(name: string, arity: number, flags: CommandSpec['flags'],
  keys: [number, number, number], categories: string[], handler: Handler, tips?: string[],
  subcommands?: CommandSpec[]): CommandSpec {
  return Object.freeze({
    name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], categories, handler,
    ...(tips === undefined ? {} : { tips }),
    ...(subcommands === undefined ? {} : { subcommands }),
  }) as CommandSpec
}

export const memoryCommands: CommandSpec[] = [
  spec('memory', -2, [], [0, 0, 0], ['slow'], (ctx, argv) => {
    ctx.reply.error(`ERR unknown subcommand or wrong number of arguments for '${
      (argv[1] as Buffer | undefined)?.toString('latin1') ?? ''}'. Try MEMORY HELP.`)
  }, undefined, [
    spec('memory|usage', -3, ['readonly'], [2, 2, 1], ['read', 'slow'], memoryUsageCommand),
    // capykv: a full V8 garbage collection (the resident memory then reflects live objects).
    spec('memory|purge', 2, [], [0, 0, 0], ['slow'], (ctx) => {
      collectGarbage()
      ctx.reply.simple('OK')
    }),
    spec('memory|help', 2, ['loading', 'stale'], [0, 0, 0], ['slow'],
      (ctx) => writeHelp(ctx, MEMORY_HELP)),
  ]),
]
