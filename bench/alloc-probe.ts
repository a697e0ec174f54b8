// Loaded into a server process with `node --import <this file>` by bench/alloc.ts: on SIGUSR2 it
// writes to stderr how many bytes the process has allocated on V8's heap since it started:
//   alloc-probe <seq> <bytes> <gcs> <gcMs> <maxPauseMs>   (cumulative; the max since the last signal)
// Allocated bytes = heap used now + Σ over GCs (used before − used after): the heap's used size
// grows only by allocation and shrinks only in a GC, and v8.GCProfiler reports each GC's
// before/after statistics. Memory outside V8's heap (ArrayBuffer backing stores: Buffers from
// allocUnsafe's pool, typed arrays' bytes) is not counted; the Buffer and typed-array objects
// themselves are.
// Invariant: the probe allocates only when signalled, so it does not perturb what it measures.

import { GCProfiler, getHeapStatistics } from 'node:v8'

let profiler = new GCProfiler()
profiler.start()
let freed = 0
let gcs = 0
let gcMs = 0
let maxPauseMs = 0
let seq = 0

process.on('SIGUSR2', () => {
  const data = profiler.stop()
  profiler = new GCProfiler()
  profiler.start()
  for (const s of data.statistics) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize
    gcs++
    gcMs += s.cost / 1000 // cost is in µs
    if (s.cost / 1000 > maxPauseMs) maxPauseMs = s.cost / 1000
  }
  const allocated = getHeapStatistics().used_heap_size + freed
  process.stderr.write(`alloc-probe ${++seq} ${allocated} ${gcs} ${gcMs.toFixed(3)} ${maxPauseMs.toFixed(3)}\n`)
  maxPauseMs = 0
})
