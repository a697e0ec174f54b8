// keptValue (src/state/kept-value.ts, issue 19): a value stored by the keyspace never keeps a
// much larger buffer alive — a small view of a 16 KiB slab (the request reader's) is copied,
// pool-sized and exact buffers are kept as they are — and what it returns holds the same bytes
// whatever happens to the source afterwards. A PUT applied to a keyspace stores such a copy.

import t from 'tap'
import { keptValue } from '../../src/state/kept-value.js'

t.test('a small view of a 16 KiB slab is copied; small backings and exact buffers are not', (t) => {
  const slab = Buffer.alloc(16 * 1024, 7)
  slab.write('hello', 8000)
  const view = slab.subarray(8000, 8005)
  const kept = keptValue(view)
  t.equal(kept.toString(), 'hello')
  t.not(kept.buffer, slab.buffer, 'not a view of the slab')
  t.ok(kept.buffer.byteLength <= 64 * 1024, 'in a slab of kept values at most')
  slab.fill(0)
  t.equal(kept.toString(), 'hello', 'independent of the source')

  const big = slab.subarray(0, 3000)
  const keptBig = keptValue(big)
  t.equal(keptBig.buffer.byteLength, 3000, 'a value over 1 KiB gets a buffer of its own')

  const half = slab.subarray(0, 9000)
  t.equal(keptValue(half), half, 'a view of at least half its backing store is kept')
  const pooled = Buffer.from('abc')
  t.equal(keptValue(pooled), pooled, "Node's pool (decoded values) is kept")
  const own = Buffer.alloc(20000, 1)
  t.equal(keptValue(own), own, 'an exact buffer is kept')
  t.end()
})

t.test('consecutive kept values share slabs without overlapping', (t) => {
  const slab = Buffer.alloc(16 * 1024)
  const kept: Buffer[] = []
  for (let i = 0; i < 2000; i++) {
    slab.write(`v${i}:`.padEnd(40, '.'), 100)
    kept.push(keptValue(slab.subarray(100, 140)))
  }
  for (let i = 0; i < 2000; i++) t.equal(kept[i]?.toString().split(':')[0], `v${i}`)
  t.end()
})
