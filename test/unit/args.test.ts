// Args (src/resp/args.ts) and RequestReader.nextArgs: a request read as ranges of the input slab
// must be the very request next() reads, whatever the bytes and however they are split.
//
// Invariants checked, and why:
// - nextArgs() and next() agree on every request and every protocol error, for well-formed and
//   odd framings (leading zeros, signs, a bare LF, inline, big bulks, too many arguments), fed
//   whole and in random pieces: the dispatcher runs whichever the reader hands out.
// - View mode and argv mode answer every accessor identically (count, length, bytes, key,
//   byteAt, toArgv), and the bytes a view hands out stay intact after later feeds (stored values
//   keep them).
// - The fuzz is seeded; the seed is in the test name.
import t from 'tap'
import { Args } from '../../src/resp/args.js'
import { ProtocolError, RequestReader } from '../../src/resp/reader.js'
import { prng } from '../helpers/mulberry32.js'

const SEED = Number(process.env['ARGS_FUZZ_SEED'] ?? 20261207)


type Outcome = string[] | { error: string }

function describe(args: Args): string[] {
  const out: string[] = []
  for (let i = 0; i < args.count; i++) out.push(args.bytes(i).toString('latin1'))
  return out
}

/** Feeds `pieces` and drains with next() or nextArgs(); the outcomes in order. */
function drain(pieces: Buffer[], viaArgs: boolean, capacity = 8): Outcome[] {
  const reader = new RequestReader({}, { reusedChunks: true })
  const args = new Args(capacity)
  const out: Outcome[] = []
  for (const piece of pieces) {
    const chunk = Buffer.from(piece) // the caller's static buffer: overwritten after feed()
    reader.feed(chunk)
    chunk.fill(0x21)
    for (;;) {
      if (viaArgs) {
        const r = reader.nextArgs(args)
        if (r === false) break
        if (r instanceof ProtocolError) {
          out.push({ error: r.message })
          return out
        }
        out.push(describe(args))
      } else {
        const r = reader.next()
        if (r === null) break
        if (r instanceof ProtocolError) {
          out.push({ error: r.message })
          return out
        }
        out.push(r.map((b) => b.toString('latin1')))
      }
    }
  }
  return out
}

const CASES: string[] = [
  '*1\r\n$4\r\nPING\r\n',
  '*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n',
  '*2\r\n$3\r\nGET\r\n$0\r\n\r\n',
  '*02\r\n$3\r\nGET\r\n$1\r\nk\r\n', // leading zero: next() decides
  '*2\r\n$03\r\nGET\r\n$1\r\nk\r\n',
  '*+2\r\n$3\r\nGET\r\n$1\r\nk\r\n',
  '*2\r\n$3\r\nGETxx$1\r\nk\r\n', // the two bytes after a bulk are skipped unchecked
  '*2\n$3\r\nGET\r\n$1\r\nk\r\n',
  '*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n',
  'PING\r\nSET a "b c"\r\n',
  '*2\r\n$3\r\nGET\r\n$-1\r\n',
  '*1\r\n%4\r\nPING\r\n',
  `*9\r\n${'$1\r\na\r\n'.repeat(9)}`, // more than the capacity (8)
  `*2\r\n$3\r\nSET\r\n$40000\r\n${'v'.repeat(40000)}\r\n`, // a big bulk
  '*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPI',
]

t.test('nextArgs reads what next() reads, whole and in pieces', async (t) => {
  for (const text of CASES) {
    const bytes = Buffer.from(text, 'latin1')
    t.same(drain([bytes], true), drain([bytes], false), `whole: ${JSON.stringify(text.slice(0, 60))}`)
    for (let cut = 1; cut < Math.min(bytes.length, 80); cut++) {
      const pieces = [bytes.subarray(0, cut), bytes.subarray(cut)]
      t.same(drain(pieces, true), drain(pieces, false), `cut at ${cut}: ${JSON.stringify(text.slice(0, 40))}`)
    }
  }
})

t.test(`nextArgs agrees with next() on random pipelines (seed ${SEED})`, async (t) => {
  const random = prng(SEED)
  const pick = (n: number): number => Math.floor(random() * n)
  let mismatches = 0
  for (let round = 0; round < 300; round++) {
    const parts: string[] = []
    for (let r = 0; r < 1 + pick(6); r++) {
      const argc = 1 + pick(10)
      let req = `*${argc}\r\n`
      for (let a = 0; a < argc; a++) {
        const length = pick(4) === 0 ? pick(300) : pick(12)
        let value = ''
        for (let i = 0; i < length; i++) value += String.fromCharCode(pick(256))
        req += `$${length}\r\n${value}\r\n`
      }
      if (pick(20) === 0) req = 'SET k v\r\n'
      parts.push(req)
    }
    const bytes = Buffer.from(parts.join(''), 'latin1')
    const pieces: Buffer[] = []
    for (let at = 0; at < bytes.length;) {
      const size = pick(3) === 0 ? bytes.length : 1 + pick(64)
      pieces.push(bytes.subarray(at, at + size))
      at += size
    }
    const a = drain(pieces, true)
    const b = drain(pieces, false)
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      mismatches++
      t.same(a, b, `round ${round}`)
    }
  }
  t.equal(mismatches, 0, 'every round agreed')
})

t.test('view mode and argv mode answer alike; views stay intact', async (t) => {
  const reader = new RequestReader({}, { reusedChunks: true })
  const args = new Args(8)
  reader.feed(Buffer.from('*3\r\n$3\r\nset\r\n$4\r\nk\xe9y\x00\r\n$5\r\nvalue\r\n', 'latin1'))
  t.equal(reader.nextArgs(args), true)
  t.equal(args.viewMode, true, 'a plainly framed request in the slab is read as ranges')
  const kept = args.bytes(2)
  const other = Args.of([Buffer.from('set'), Buffer.from('k\xe9y\x00', 'latin1'), Buffer.from('value')])
  t.equal(other.viewMode, false)
  for (const a of [args, other]) {
    t.equal(a.count, 3)
    t.equal(a.length(1), 4)
    t.equal(a.key(1), 'k\xe9y\x00')
    t.equal(a.byteAt(1, 1), 0xe9)
    t.same(a.toArgv().map((b) => b.toString('latin1')), ['set', 'k\xe9y\x00', 'value'])
    t.equal(a.toArgv(), a.toArgv(), 'toArgv is made once')
  }
  for (let i = 0; i < 400; i++) reader.feed(Buffer.from('*1\r\n$4\r\nPING\r\n'))
  while (reader.nextArgs(args) === true) { /* drain */ }
  t.equal(kept.toString(), 'value', 'a kept view is not overwritten by later reads')
})
