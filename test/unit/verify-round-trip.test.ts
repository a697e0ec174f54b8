// VERIFY mode (src/assert.ts): the encode/decode pairs of the durable formats check their own
// round trip when VERIFY=1 — every event payload (transactions and checkpoint chunks alike:
// state/event.ts encodeEvents, which covers the value codecs through RESTORE), the root words
// (storage/cdb.ts) and the pool header (storage/layout.ts). npm test runs with VERIFY=1 (the
// crash simulator included); production does not. These tests show the checks can fail: a
// decode that disagrees with its encode is caught at the encode, before anything is logged.

process.env.VERIFY = '1'
const t = (await import('tap')).default
const { AssertionError } = await import('../../src/assert.js')
const { ByteWriter } = await import('../../src/state/bytes.js')
const { delEv, putEv, EV_DEL } = await import('../../src/state/core-events.js')
const { encodeEvents, eventType } = await import('../../src/state/event.js')
const { decodeWord, encodeWord, TAIL_TAG } = await import('../../src/storage/cdb.js')

t.test('an event payload that decodes to something else fails at encode', (t) => {
  const events = [putEv(3, 'k', Buffer.from('v'), 0), delEv(3, 'k')]
  const w = new ByteWriter(64)
  encodeEvents(w, events)
  t.ok(w.length > 0, 'an honest codec passes its round trip')
  const del = eventType(EV_DEL) as { decode: (r: never) => unknown }
  const honest = del.decode
  // The bug VERIFY is for: decode reads back another database than encode wrote.
  del.decode = (r: never) => ({ ...(honest(r) as object), db: 0 })
  t.teardown(() => { del.decode = honest })
  t.throws(() => encodeEvents(new ByteWriter(64), events), AssertionError,
    'a decode that loses the database is caught')
  t.end()
})

t.test('a root word names an aligned offset and decodes to it', (t) => {
  const seed = 0x1234_5678_9abc_def0n
  const word = encodeWord(TAIL_TAG, 4096, seed)
  const bytes = Buffer.alloc(8)
  bytes.writeUInt32LE(word.lo, 0)
  bytes.writeUInt32LE(word.hi, 4)
  t.equal(decodeWord(bytes, 0, TAIL_TAG, seed), 4096)
  t.throws(() => encodeWord(TAIL_TAG, 4100, seed), AssertionError, 'an unaligned offset is caught')
  t.end()
})
