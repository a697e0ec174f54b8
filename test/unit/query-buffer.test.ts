// The query buffer model (src/resp/query-buffer.ts) through the cases of Redis's querybuf unit
// and the figures redis-server 7.0.15 shows for them (CLIENT LIST qbuf-free, measured: 20474
// after a first small request, 458742 after a 400000-byte argument, 40954 after a 40000-byte
// one); test/server/introspection-differential.test.ts compares the live figures.

import t from 'tap'
import { QueryBufferModel, jemallocSize, sdsAllocFor } from '../../src/resp/query-buffer.js'

t.test('jemalloc size classes and sds headers as Redis reports sdsalloc', async (t) => {
  t.same([1, 8, 9, 17, 128, 129, 160, 161, 257, 16390, 20480, 20481].map(jemallocSize),
    [8, 8, 16, 32, 128, 160, 160, 192, 320, 20480, 20480, 24576])
  t.equal(sdsAllocFor(16384), 20474, 'a first read of 16 KiB')
  t.equal(sdsAllocFor(400002), 458742, 'a 400000-byte bulk and its CRLF')
  t.equal(sdsAllocFor(40002), 40954)
  t.equal(sdsAllocFor(200), 220, 'a type-8 header: 224 - 3 - 1')
  t.equal(sdsAllocFor(254), 255, 'capped at the type-8 maximum (320 - 4 would be more)')
})

t.test('a first small request gets a non-greedy 16 KiB; an idle client loses the room', async (t) => {
  const m = new QueryBufferModel()
  t.equal(m.freeBytes(0), 0, 'nothing before the first read')
  m.onRead(0, 40, -1)
  m.afterParse(0, -1, 0, -1)
  t.equal(m.freeBytes(0), 20474)
  m.cron(0, 2)
  t.equal(m.freeBytes(0), 20474, 'under 32 KiB and not idle over 2 s: kept')
  m.cron(0, 3)
  t.equal(m.freeBytes(0), 0, 'idle over 2 s: freed (sdsRemoveFreeSpace)')
  m.onRead(0, 40, -1)
  t.equal(m.freeBytes(40), 20474 - 40, 'the next read gets 16 KiB again')
})

t.test('a big argument sizes the buffer; the cron trims it to the peak', async (t) => {
  const m = new QueryBufferModel()
  // A 400000-byte SET arrives in 64 KiB chunks: the header is parsed after the first one.
  m.onRead(0, 65536, -1)
  m.afterParse(65536 - 35, 400000, 1, 400000)
  t.ok(m.freeBytes(0) >= 400002, 'room for the whole bulk')
  let held = 65536 - 35
  while (held < 400002) {
    const chunk = Math.min(65536, 400002 - held)
    m.onRead(held, held + chunk, 400000)
    held += chunk
  }
  m.afterParse(0, -1, 1, 400000)
  t.equal(m.freeBytes(0), 458742, 'a fresh buffer the size of the finished bulk')
  m.cron(0, 0)
  t.equal(m.freeBytes(0), 458742, 'the peak since the last cron is the bulk: kept')
  m.onRead(0, 130, -1)
  m.afterParse(0, -1, 1, 400000)
  m.cron(0, 0)
  t.equal(m.freeBytes(0), 130, 'over 32 KiB and more than twice the peak: trimmed to it')
  m.onRead(0, 130, -1)
  t.equal(m.freeBytes(130), sdsAllocFor(130 + 16384) - 130, 'then a non-greedy 16 KiB read')
})

t.test('greedy growth past the first 16 KiB doubles the need under 1 MiB', async (t) => {
  const m = new QueryBufferModel()
  m.onRead(0, 16384, -1)
  t.equal(m.freeBytes(16384), 20474 - 16384)
  m.onRead(16384, 20000, -1)
  t.equal(m.freeBytes(0), sdsAllocFor((16384 + 16384) * 2), 'sdsMakeRoomFor: (len + 16 KiB) * 2')
  t.throws(() => m.onRead(-1, 0, -1), RangeError)
})
