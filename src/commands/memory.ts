// MEMORY USAGE, PURGE, HELP (and STATS, DOCTOR, MALLOC-STATS from memory-stats.ts), with Redis
// 7.0.15's syntax, replies and errors.
// MEMORY USAGE key [SAMPLES count] answers the bytes capykv's accounting charges the key: what
// used_memory_dataset sums and maxmemory evicts by (memoryUsage below; docs/server.md "Memory
// and eviction" lists the figures beside Redis's per type). SAMPLES is parsed as Redis parses it
// and ignored: the figure is exact, kept per key by the keyspace.
// Like Redis (dictFind), the lookup does not expire a key or touch its access time.

import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { entryBytes, type Entry } from '../state/keyspace.js'
import { KEY_MEMORY_OVERHEAD } from '../state/memory-model.js'
import { helpLines, services } from './services.js'
import { MALLOC_STATS_TEXT, memoryDoctorText, memoryStatsReply } from './memory-stats.js'
import { scriptingMemoryInfo } from './scripting.js'
import { parseLongLong, writeHelp } from './connection.js'
import {
  ERR_NOT_INTEGER, ERR_SYNTAX, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'

/**
 * What MEMORY USAGE answers for `key` holding `entry`: the bytes capykv's accounting charges the
 * key — the very figure used_memory_dataset adds up and eviction counts (Keyspace.memBytes +
 * Keyspace.liveBytes): its DRAM model (state/memory-model.ts: the per-key overhead, the key, the
 * value's estimate) plus its bytes in the pool (the checkpoint estimate, keyspace.ts
 * entryBytes). Exact, not sampled: SAMPLES is accepted with Redis's syntax and changes nothing.
 */
export function memoryUsage(key: string, entry: Entry): number {
  return KEY_MEMORY_OVERHEAD + key.length + entry.mem + entryBytes(key, entry)
}

const memoryUsageCommand: Handler = (ctx: CommandContext, argv) => {
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
  ctx.reply.integer(memoryUsage(key, entry))
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
  'DOCTOR',
  '    Return memory problems reports.',
  'MALLOC-STATS',
  '    Return internal statistics report from the memory allocator.',
  'PURGE',
  '    Attempt to purge dirty pages for reclamation by the allocator.',
  'STATS',
  '    Return information about the memory usage of the server.',
  'USAGE <key> [SAMPLES <count>]',
  '    Return memory in bytes used by <key> and its value. Nested values are',
  '    sampled up to <count> times (default: 5, 0 means sample all).',
])

/** The scripts cached for EVALSHA (INFO number_of_cached_scripts), for MEMORY DOCTOR. */
function cachedScripts(ctx: CommandContext): number {
  const line = scriptingMemoryInfo(ctx.server as object, ctx.store.keyspace)
    .find((l) => l.startsWith('number_of_cached_scripts:'))
  return Number(line?.split(':')[1] ?? 0)
}

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
    spec('memory|stats', 2, [], [0, 0, 0], ['slow'],
      (ctx) => memoryStatsReply(ctx, services(ctx))),
    spec('memory|doctor', 2, [], [0, 0, 0], ['slow'],
      (ctx) => ctx.reply.verbatim(memoryDoctorText(services(ctx), cachedScripts(ctx)))),
    // A Redis built without jemalloc answers this bulk string (V8 has no such report).
    spec('memory|malloc-stats', 2, [], [0, 0, 0], ['slow'],
      (ctx) => ctx.reply.bulk(MALLOC_STATS_TEXT)),
    spec('memory|help', 2, ['loading', 'stale'], [0, 0, 0], ['slow'],
      (ctx) => writeHelp(ctx, MEMORY_HELP)),
  ]),
]
