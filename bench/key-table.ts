// Micro-benchmark of the typed-array key index (src/state/key-table.ts, issue 15 stage 3) beside
// a Map<string, object> in the same run: ns per insert, per random lookup by string, and per
// random lookup from a request's bytes (the request path: the Map needs a latin1 string built
// first, the table hashes the bytes), at each size; then the longest single insert while
// growing to --grow keys (the "no pause over 2 ms" target; timing every insert adds ~50 ns to
// each, not to the maximum's meaning) and the heap each structure holds per key.
// Keys are `key:NNNNNNNNNNNN` (16 bytes, redis-benchmark's -r form); lookups follow a seeded
// random order over the present keys. Ratios matter, not absolute ns (a shared 2-core VM).
// Run: node --expose-gc dist/bench/key-table.js [--sizes 100000,1000000] [--grow 10000000]

import { performance } from 'node:perf_hooks'
import { fnv1aBytes, KeyTable } from '../src/state/key-table.js'

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] ?? dflt : dflt
}
const SIZES = arg('--sizes', '100000,1000000').split(',').map(Number)
const GROW = Number(arg('--grow', '10000000'))
const LOOKUPS = Number(arg('--lookups', '1000000'))

interface Value { v: number }
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => {})

function keyName(i: number): string {
  return `key:${String(i).padStart(12, '0')}`
}

/** A seeded random order of `count` indexes in [0, n). */
function order(n: number, count: number): Int32Array {
  let seed = 12345
  const out = new Int32Array(count)
  for (let i = 0; i < count; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
    out[i] = seed % n
  }
  return out
}

function heapUsed(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
}

function runSize(n: number): void {
  const keys = Array.from({ length: n }, (_, i) => keyName(i))
  // The request's bytes: every key in one buffer, 16 bytes apart.
  const bytes = Buffer.from(keys.join(''), 'latin1')
  const ord = order(n, LOOKUPS)
  let sink = 0

  const base = heapUsed()
  let t0 = performance.now()
  const map = new Map<string, Value>()
  for (let i = 0; i < n; i++) map.set(keys[i] as string, { v: i })
  const mapInsert = (performance.now() - t0) * 1e6 / n
  const mapBytes = heapUsed() - base

  t0 = performance.now()
  for (let i = 0; i < LOOKUPS; i++) sink += (map.get(keys[ord[i] as number] as string) as Value).v
  const mapGet = (performance.now() - t0) * 1e6 / LOOKUPS
  t0 = performance.now()
  for (let i = 0; i < LOOKUPS; i++) {
    const at = (ord[i] as number) * 16
    sink += (map.get(bytes.toString('latin1', at, at + 16)) as Value).v
  }
  const mapGetBytes = (performance.now() - t0) * 1e6 / LOOKUPS
  map.clear()

  const base2 = heapUsed()
  t0 = performance.now()
  const table = new KeyTable<number>()
  for (let i = 0; i < n; i++) table.set(keys[i] as string, i, 0)
  const tableInsert = (performance.now() - t0) * 1e6 / n
  const tableBytes = heapUsed() - base2

  t0 = performance.now()
  for (let i = 0; i < LOOKUPS; i++) sink += table.get(keys[ord[i] as number] as string) as number
  const tableGet = (performance.now() - t0) * 1e6 / LOOKUPS
  t0 = performance.now()
  for (let i = 0; i < LOOKUPS; i++) {
    const at = (ord[i] as number) * 16
    sink += table.ref(table.findBytes(bytes, at, at + 16, fnv1aBytes(bytes, at, at + 16)))
  }
  const tableGetBytes = (performance.now() - t0) * 1e6 / LOOKUPS
  if (sink === -1) console.log('unreachable')

  const r = (a: number, b: number): string => `${(a / b).toFixed(2)}×`
  console.log(`| ${n} | insert | ${mapInsert.toFixed(0)} | ${tableInsert.toFixed(0)} | ${r(tableInsert, mapInsert)} |`)
  console.log(`| ${n} | lookup (string) | ${mapGet.toFixed(0)} | ${tableGet.toFixed(0)} | ${r(tableGet, mapGet)} |`)
  console.log(`| ${n} | lookup (request bytes) | ${mapGetBytes.toFixed(0)} | ${tableGetBytes.toFixed(0)} | ${r(tableGetBytes, mapGetBytes)} |`)
  console.log(`| ${n} | heap bytes per key | ${(mapBytes / n).toFixed(0)} | ${(tableBytes / n).toFixed(0)} | ${r(tableBytes, mapBytes)} |`)
}

/** Insert n keys into `set`, timing each: the longest insert and how many took over 2 ms. */
function growthOf(n: number, set: (key: string, i: number) => void): string {
  let max = 0
  let maxAt = 0
  let over2 = 0
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    const key = keyName(i)
    const s = performance.now()
    set(key, i)
    const d = performance.now() - s
    if (d > 2) over2++
    if (d > max) { max = d; maxAt = i }
  }
  const total = performance.now() - t0
  return `${(total / 1000).toFixed(1)} s, longest insert ${max.toFixed(2)} ms (at key ${maxAt}), ${over2} inserts over 2 ms`
}

function growth(n: number): void {
  const map = new Map<string, Value>()
  console.log(`\ngrowth to ${n} keys, Map<string, object>: ${growthOf(n, (k, i) => map.set(k, { v: i }))}`)
  map.clear()
  gc()
  const table = new KeyTable<number>()
  console.log(`growth to ${n} keys, KeyTable: ${growthOf(n, (k, i) => table.set(k, i, 0))}`)
  if (table.size !== n) throw new Error('lost keys')
}

console.log(`node ${process.version}, ${LOOKUPS} random lookups per size, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`)
console.log('\n| keys | op | Map<string, object> ns | KeyTable ns | KeyTable ÷ Map |\n|---|---|---|---|---|')
for (const n of SIZES) runSize(n)
if (GROW > 0) growth(GROW)
