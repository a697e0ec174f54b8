// MEMORY STATS, MEMORY DOCTOR and MEMORY MALLOC-STATS with Redis 7.0.15's reply shapes
// (object.c: memoryCommand, getMemoryOverheadData, getMemoryDoctorReport), over capykv's memory
// accounting — the same figures INFO memory reports (docs/server.md "Memory and eviction"):
// - total.allocated = used_memory: the dataset model plus the clients' memory; startup.allocated
//   = used_memory_startup = 0 (the process's own heap is not counted); overhead.total =
//   used_memory_overhead = clients.normal, the only overhead capykv counts; dataset.bytes =
//   used_memory_dataset. Each key's index record is charged to the dataset (MEMORY USAGE includes
//   it, as Redis's does), so the db.N hash-table overheads are 0; so are the replication, AOF,
//   cluster and script caches, which capykv has not or does not count in used_memory.
// - the allocator figures are V8's (mem_allocator:v8): allocated = heap used + external memory
//   (array buffers, the values), active = heap total + external, resident = the process's RSS.
//   The ratios are computed as Redis computes them, in single precision (its fields are floats).
// - MEMORY DOCTOR runs Redis's checks over these figures, with Redis's texts; MALLOC-STATS answers
//   as a Redis built without jemalloc does.

import { DB_COUNT } from '../state/keyspace.js'
import type { ServerServices } from './services.js'
import type { CommandContext } from './spec.js'

const MB = 1024 * 1024

interface MemoryOverhead {
  peakAllocated: number
  totalAllocated: number
  startupAllocated: number
  clientsNormal: number
  dbs: { db: number; keys: number }[]
  overheadTotal: number
  totalKeys: number
  bytesPerKey: number
  dataset: number
  datasetPerc: number
  peakPerc: number
  allocated: number
  active: number
  resident: number
  rss: number
}

/** getMemoryOverheadData over capykv's accounting (see the top comment). */
export function memoryOverhead(sv: ServerServices): MemoryOverhead {
  const m = process.memoryUsage()
  const ev = sv.evictor
  const dataset = ev === undefined ? 0 : ev.datasetMemory()
  const used = ev === undefined ? m.heapUsed : ev.usedMemory()
  sv.peakMemoryBytes = Math.max(sv.peakMemoryBytes, used)
  const clientsNormal = used - dataset
  const dbs: { db: number; keys: number }[] = []
  let totalKeys = 0
  const ks = sv.store?.keyspace
  for (let db = 0; ks !== undefined && db < DB_COUNT; db++) {
    const keys = ks.db(db).size
    if (keys === 0) continue
    dbs.push({ db, keys })
    totalKeys += keys
  }
  const startup = 0
  const netUsage = used > startup ? used - startup : 1
  return {
    peakAllocated: sv.peakMemoryBytes, totalAllocated: used, startupAllocated: startup,
    clientsNormal, dbs, overheadTotal: startup + clientsNormal, totalKeys,
    bytesPerKey: totalKeys === 0 ? 0 : Math.floor(netUsage / totalKeys),
    dataset: used - (startup + clientsNormal),
    datasetPerc: Math.fround(Math.fround(used - (startup + clientsNormal)) * 100 / netUsage),
    peakPerc: Math.fround(Math.fround(used) * 100 / sv.peakMemoryBytes),
    allocated: m.heapUsed + m.external, active: m.heapTotal + m.external, resident: m.rss,
    rss: m.rss,
  }
}

/** Redis's float ratio a / b (inf or nan on a zero divisor, as C's division). */
const ratio = (a: number, b: number): number => Math.fround(a / b)

export function memoryStatsReply(ctx: CommandContext, sv: ServerServices): void {
  const mh = memoryOverhead(sv)
  const r = ctx.reply
  const int = (name: string, n: number): void => { r.bulk(name); r.integer(n) }
  const dbl = (name: string, x: number): void => { r.bulk(name); r.double(x) }
  r.mapHeader(27 + mh.dbs.length)
  int('peak.allocated', mh.peakAllocated)
  int('total.allocated', mh.totalAllocated)
  int('startup.allocated', mh.startupAllocated)
  int('replication.backlog', 0)
  int('clients.slaves', 0)
  int('clients.normal', mh.clientsNormal)
  int('cluster.links', 0)
  int('aof.buffer', 0)
  int('lua.caches', 0)
  int('functions.caches', 0)
  for (const { db } of mh.dbs) {
    r.bulk(`db.${db}`)
    r.mapHeader(3)
    int('overhead.hashtable.main', 0)
    int('overhead.hashtable.expires', 0)
    int('overhead.hashtable.slot-to-keys', 0)
  }
  int('overhead.total', mh.overheadTotal)
  int('keys.count', mh.totalKeys)
  int('keys.bytes-per-key', mh.bytesPerKey)
  int('dataset.bytes', mh.dataset)
  dbl('dataset.percentage', mh.datasetPerc)
  dbl('peak.percentage', mh.peakPerc)
  int('allocator.allocated', mh.allocated)
  int('allocator.active', mh.active)
  int('allocator.resident', mh.resident)
  dbl('allocator-fragmentation.ratio', ratio(mh.active, mh.allocated))
  int('allocator-fragmentation.bytes', mh.active - mh.allocated)
  dbl('allocator-rss.ratio', ratio(mh.resident, mh.active))
  int('allocator-rss.bytes', mh.resident - mh.active)
  dbl('rss-overhead.ratio', ratio(mh.rss, mh.resident))
  int('rss-overhead.bytes', mh.rss - mh.resident)
  dbl('fragmentation', ratio(mh.rss, mh.totalAllocated))
  int('fragmentation.bytes', mh.rss - mh.totalAllocated)
}

const DOCTOR_TEXTS = {
  none: "Hi Sam, I can't find any memory issue in your instance. I can only account for what " +
    'occurs on this base.\n',
  empty: 'Hi Sam, this instance is empty or is using very little memory, my issues detector ' +
    "can't be used in these conditions. Please, leave for your mission on Earth and fill it " +
    'with some data. The new Sam and I will be back to our programming as soon as I finished ' +
    'rebooting.\n',
  head: 'Sam, I detected a few issues in this Redis instance memory implants:\n\n',
  bigPeak: ' * Peak memory: In the past this instance used more than 150% the memory that is ' +
    'currently using. The allocator is normally not able to release memory after a peak, so ' +
    'you can expect to see a big fragmentation ratio, however this is actually harmless and is ' +
    'only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is ' +
    'currently bigger than expected, the memory will be used as soon as you fill the Redis ' +
    'instance with more data. If the memory peak was only occasional and you want to try to ' +
    'reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is ' +
    'to shutdown and restart the instance.\n\n',
  highFrag: ' * High total RSS: This instance has a memory fragmentation and RSS overhead ' +
    'greater than 1.4 (this means that the Resident Set Size of the Redis process is much ' +
    'larger than the sum of the logical allocations Redis performed). This problem is usually ' +
    'due either to a large peak memory (check if there is a peak memory entry above in the ' +
    'report) or may result from a workload that causes the allocator to fragment memory a ' +
    'lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure ' +
    'you are using the Jemalloc allocator and not the default libc malloc. Note: The currently ' +
    'used allocator is "v8".\n\n',
  highAllocFrag: ' * High allocator fragmentation: This instance has an allocator external ' +
    'fragmentation greater than 1.1. This problem is usually due either to a large peak memory ' +
    '(check if there is a peak memory entry above in the report) or may result from a workload ' +
    "that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' " +
    'config option.\n\n',
  highAllocRss: ' * High allocator RSS overhead: This instance has an RSS memory overhead is ' +
    'greater than 1.1 (this means that the Resident Set Size of the allocator is much larger ' +
    'than the sum what the allocator actually holds). This problem is usually due to a large ' +
    'peak memory (check if there is a peak memory entry above in the report), you can try the ' +
    'MEMORY PURGE command to reclaim it.\n\n',
  highProcRss: ' * High process RSS overhead: This instance has non-allocator RSS memory ' +
    'overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process ' +
    'is much larger than the RSS the allocator holds). This problem may be due to Lua scripts ' +
    'or Modules.\n\n',
  bigClientBuf: ' * Big client buffers: The clients output buffers in this instance are ' +
    'greater than 200K per client (on average). This may result from different causes, like ' +
    'Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data ' +
    'piles on the Redis instance output buffer, or clients sending commands with large replies ' +
    'or very large sequences of commands in the same pipeline. Please use the CLIENT LIST ' +
    'command in order to investigate the issue if it causes problems in your instance, or to ' +
    'understand better why certain clients are using a big amount of memory.\n\n',
  manyScripts: ' * Many scripts: There seem to be many cached scripts in this instance (more ' +
    'than 1000). This may be because scripts are generated and `EVAL`ed, instead of being ' +
    'parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT ' +
    "FLUSH` is called periodically, the scripts' caches may end up consuming most of your " +
    'memory.\n\n',
  tail: "I'm here to keep you safe, Sam. I want to help you.\n",
}

/**
 * getMemoryDoctorReport's checks over memoryOverhead's figures: under 5 MB the instance is
 * "empty"; else a peak over 150 %, each fragmentation / RSS ratio over its bound by more than
 * 10 MB, clients averaging over 200 KB, more than 1000 cached scripts (`scripts`).
 */
export function memoryDoctorText(sv: ServerServices, scripts: number): string {
  const mh = memoryOverhead(sv)
  if (mh.totalAllocated < 5 * MB) return DOCTOR_TEXTS.empty
  const over = (r: number, bound: number, bytes: number): boolean => r > bound && bytes > 10 * MB
  const clients = Math.max(1, sv.clients.size)
  const found: string[] = []
  if (mh.peakAllocated / mh.totalAllocated > 1.5) found.push(DOCTOR_TEXTS.bigPeak)
  if (over(ratio(mh.rss, mh.totalAllocated), 1.4, mh.rss - mh.totalAllocated)) {
    found.push(DOCTOR_TEXTS.highFrag)
  }
  if (over(ratio(mh.active, mh.allocated), 1.1, mh.active - mh.allocated)) {
    found.push(DOCTOR_TEXTS.highAllocFrag)
  }
  if (over(ratio(mh.resident, mh.active), 1.1, mh.resident - mh.active)) {
    found.push(DOCTOR_TEXTS.highAllocRss)
  }
  if (over(ratio(mh.rss, mh.resident), 1.1, mh.rss - mh.resident)) {
    found.push(DOCTOR_TEXTS.highProcRss)
  }
  if (Math.floor(mh.clientsNormal / clients) > 200 * 1024) found.push(DOCTOR_TEXTS.bigClientBuf)
  if (scripts > 1000) found.push(DOCTOR_TEXTS.manyScripts)
  if (found.length === 0) return DOCTOR_TEXTS.none
  return DOCTOR_TEXTS.head + found.join('') + DOCTOR_TEXTS.tail
}

/** MEMORY MALLOC-STATS: what a Redis built without jemalloc answers (V8 has no such report). */
export const MALLOC_STATS_TEXT = 'Stats not supported for the current allocator'
