// OutputBuffer and encodeReply: Redis 7.0.15's reply bytes in RESP2 and RESP3.
//
// Invariants these tests hold the writer to, and why:
// - Every reply type has exact expected bytes in both protocols, and the same values built as
//   trees (encodeReply) give the same bytes as the direct write* calls.
// - Redis itself agrees: DEBUG PROTOCOL <type> on a real redis-server 7.0.15 gives the bytes we
//   write for the same values, and ZSCORE / ZINCRBY print doubles exactly as formatDouble does
//   (including glibc's ties-to-even, seeded random doubles and tricky ones).
// - Bytes handed out by take() are never overwritten by later writes (the socket may still be
//   sending them), and nesting depth cannot overflow the stack.
import t from 'tap'
import {
  OutputBuffer, SHARED, encodeReply, formatDouble, reply, sharedIntegerReply, type Protocol,
  type Reply,
} from '../../src/resp/writer.js'
import { OracleConnection, startOracle } from './resp-oracle.js'
import { prng } from '../helpers/mulberry32.js'

function written(proto: Protocol, write: (out: OutputBuffer) => void): string {
  const out = new OutputBuffer(proto)
  write(out)
  return out.take().toString('latin1')
}

interface TypeCase {
  readonly name: string
  readonly write: (out: OutputBuffer) => void
  readonly tree: Reply
  readonly resp2: string
  readonly resp3: string
}

const typeCases: TypeCase[] = [
  { name: 'simple string', write: (o) => o.writeSimple('OK'), tree: reply.ok,
    resp2: '+OK\r\n', resp3: '+OK\r\n' },
  { name: 'error', write: (o) => o.writeError('ERR bad'), tree: reply.error('ERR bad'),
    resp2: '-ERR bad\r\n', resp3: '-ERR bad\r\n' },
  { name: 'error with CR LF', write: (o) => o.writeError('ERR a\r\nb'),
    tree: reply.error('ERR a\r\nb'), resp2: '-ERR a  b\r\n', resp3: '-ERR a  b\r\n' },
  { name: 'integer 0', write: (o) => o.writeInteger(0), tree: reply.integer(0),
    resp2: ':0\r\n', resp3: ':0\r\n' },
  { name: 'integer 9999', write: (o) => o.writeInteger(9999), tree: reply.integer(9999),
    resp2: ':9999\r\n', resp3: ':9999\r\n' },
  { name: 'integer 10000', write: (o) => o.writeInteger(10000), tree: reply.integer(10000),
    resp2: ':10000\r\n', resp3: ':10000\r\n' },
  { name: 'integer -1', write: (o) => o.writeInteger(-1), tree: reply.integer(-1),
    resp2: ':-1\r\n', resp3: ':-1\r\n' },
  { name: 'integer 2^53-1', write: (o) => o.writeInteger(9007199254740991),
    tree: reply.integer(9007199254740991),
    resp2: ':9007199254740991\r\n', resp3: ':9007199254740991\r\n' },
  { name: 'integer INT64_MIN', write: (o) => o.writeInteger(-(2n ** 63n)),
    tree: reply.integer(-(2n ** 63n)),
    resp2: ':-9223372036854775808\r\n', resp3: ':-9223372036854775808\r\n' },
  { name: 'bulk string', write: (o) => o.writeBulk('hello'), tree: reply.bulk('hello'),
    resp2: '$5\r\nhello\r\n', resp3: '$5\r\nhello\r\n' },
  { name: 'bulk UTF-8 string', write: (o) => o.writeBulk('é'), tree: reply.bulk('é'),
    resp2: '$2\r\n\xc3\xa9\r\n', resp3: '$2\r\n\xc3\xa9\r\n' },
  { name: 'binary bulk', write: (o) => o.writeBulk(Buffer.from([0, 13, 10, 255])),
    tree: reply.bulk(Buffer.from([0, 13, 10, 255])),
    resp2: '$4\r\n\0\r\n\xff\r\n', resp3: '$4\r\n\0\r\n\xff\r\n' },
  { name: 'empty bulk', write: (o) => o.writeBulk(''), tree: reply.bulk(''),
    resp2: '$0\r\n\r\n', resp3: '$0\r\n\r\n' },
  { name: 'null bulk', write: (o) => o.writeNull(), tree: reply.null,
    resp2: '$-1\r\n', resp3: '_\r\n' },
  { name: 'null array', write: (o) => o.writeNullArray(), tree: reply.nullArray,
    resp2: '*-1\r\n', resp3: '_\r\n' },
  { name: 'array', write: (o) => { o.writeArrayHeader(2); o.writeInteger(1); o.writeBulk('a') },
    tree: reply.array([reply.integer(1), reply.bulk('a')]),
    resp2: '*2\r\n:1\r\n$1\r\na\r\n', resp3: '*2\r\n:1\r\n$1\r\na\r\n' },
  { name: 'empty array', write: (o) => o.writeArrayHeader(0), tree: reply.array([]),
    resp2: '*0\r\n', resp3: '*0\r\n' },
  { name: 'map', write: (o) => { o.writeMapHeader(1); o.writeBulk('f'); o.writeBulk('v') },
    tree: reply.map([[reply.bulk('f'), reply.bulk('v')]]),
    resp2: '*2\r\n$1\r\nf\r\n$1\r\nv\r\n', resp3: '%1\r\n$1\r\nf\r\n$1\r\nv\r\n' },
  { name: 'set', write: (o) => { o.writeSetHeader(1); o.writeBulk('x') },
    tree: reply.set([reply.bulk('x')]),
    resp2: '*1\r\n$1\r\nx\r\n', resp3: '~1\r\n$1\r\nx\r\n' },
  { name: 'push', write: (o) => { o.writePushHeader(1); o.writeBulk('m') },
    tree: reply.push([reply.bulk('m')]),
    resp2: '*1\r\n$1\r\nm\r\n', resp3: '>1\r\n$1\r\nm\r\n' },
  { name: 'pre-encoded push (pub/sub message)',
    write: (o) => { o.writePushRaw(Buffer.from('*2\r\n$1\r\nm\r\n')); o.writeBulk('x') },
    tree: reply.push([reply.bulk('m'), reply.bulk('x')]),
    resp2: '*2\r\n$1\r\nm\r\n$1\r\nx\r\n', resp3: '>2\r\n$1\r\nm\r\n$1\r\nx\r\n' },
  { name: 'double', write: (o) => o.writeDouble(1.5), tree: reply.double(1.5),
    resp2: '$3\r\n1.5\r\n', resp3: ',1.5\r\n' },
  { name: 'double 0.1', write: (o) => o.writeDouble(0.1), tree: reply.double(0.1),
    resp2: '$19\r\n0.10000000000000001\r\n', resp3: ',0.10000000000000001\r\n' },
  { name: 'double inf', write: (o) => o.writeDouble(Infinity), tree: reply.double(Infinity),
    resp2: '$3\r\ninf\r\n', resp3: ',inf\r\n' },
  { name: 'double -inf', write: (o) => o.writeDouble(-Infinity), tree: reply.double(-Infinity),
    resp2: '$4\r\n-inf\r\n', resp3: ',-inf\r\n' },
  { name: 'double nan', write: (o) => o.writeDouble(NaN), tree: reply.double(NaN),
    resp2: '$3\r\nnan\r\n', resp3: ',nan\r\n' },
  { name: 'true', write: (o) => o.writeBoolean(true), tree: reply.boolean(true),
    resp2: ':1\r\n', resp3: '#t\r\n' },
  { name: 'false', write: (o) => o.writeBoolean(false), tree: reply.boolean(false),
    resp2: ':0\r\n', resp3: '#f\r\n' },
  { name: 'verbatim', write: (o) => o.writeVerbatim('a\nb'), tree: reply.verbatim('a\nb'),
    resp2: '$3\r\na\nb\r\n', resp3: '=7\r\ntxt:a\nb\r\n' },
  { name: 'big number', write: (o) => o.writeBigNumber(12345678901234567890n),
    tree: reply.bigNumber(12345678901234567890n),
    resp2: '$20\r\n12345678901234567890\r\n', resp3: '(12345678901234567890\r\n' },
  { name: 'raw', write: (o) => o.writeRaw(SHARED.queued), tree: reply.raw(SHARED.queued),
    resp2: '+QUEUED\r\n', resp3: '+QUEUED\r\n' },
]

t.test('writes each reply type with the exact bytes of each protocol', async (t) => {
  for (const c of typeCases) {
    t.equal(written(2, c.write), c.resp2, `${c.name}, RESP2`)
    t.equal(written(3, c.write), c.resp3, `${c.name}, RESP3`)
    t.equal(encodeReply(c.tree, 2).toString('latin1'), c.resp2, `${c.name}, tree, RESP2`)
    t.equal(encodeReply(c.tree, 3).toString('latin1'), c.resp3, `${c.name}, tree, RESP3`)
  }
})

t.test('refuses what cannot be encoded', async (t) => {
  const out = new OutputBuffer(2)
  t.throws(() => out.writeInteger(1.5), RangeError)
  t.throws(() => out.writeInteger(2n ** 63n), RangeError)
  t.throws(() => out.writeInteger(-(2n ** 63n) - 1n), RangeError)
  t.throws(() => out.writeBigNumber('12a'), RangeError)
  t.throws(() => out.writeAttributeHeader(1), 'attributes are RESP3 only')
  t.throws(() => out.writePushRaw(SHARED.ok), RangeError, 'a push starts with an array header')
  out.proto = 3
  t.throws(() => out.writeVerbatim('x', 'text'), RangeError)
  t.equal(out.length, 0, 'nothing was written by a refused call')
  t.throws(() => encodeReply(reply.array([reply.bulk('x'), reply.integer(0.5)]), 2), RangeError)
  t.equal(encodeReply(reply.ok, 2).toString(), '+OK\r\n', 'a refused tree leaves nothing behind')
})

t.test('integers across the shared range and beyond', async (t) => {
  for (const n of [0, 1, 9, 10, 99, 100, 999, 1000, 9998, 9999, 10000, 123456789, -5,
    -10000, 2 ** 31, -(2 ** 31), Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 60]) {
    t.equal(written(2, (o) => o.writeInteger(n)), `:${BigInt(n)}\r\n`, String(n))
  }
  t.equal(sharedIntegerReply(42).toString(), ':42\r\n')
  t.throws(() => sharedIntegerReply(10000), RangeError)
})

t.test('the protocol can change between replies (HELLO 3)', async (t) => {
  const out = new OutputBuffer(2)
  out.writeNull()
  out.proto = 3
  out.writeNull()
  t.equal(out.take().toString(), '$-1\r\n_\r\n')
})

t.test('bytes handed out by take() are never written again', async (t) => {
  const out = new OutputBuffer(2, 1024)
  const taken: Array<[Buffer, string]> = []
  for (let round = 0; round < 200; round++) {
    const size = (round * 7919) % 20000
    out.writeBulk(Buffer.alloc(size, 97 + (round % 26)))
    if (round % 3 === 0) out.writeOk()
    if (round % 2 === 0) {
      const chunk = out.take()
      taken.push([chunk, chunk.toString('latin1')])
    }
  }
  const last = out.take()
  taken.push([last, last.toString('latin1')])
  for (const [chunk, snapshot] of taken) {
    if (chunk.toString('latin1') !== snapshot) {
      t.fail('a taken chunk changed after later writes')
      return
    }
  }
  t.equal(out.length, 0)
  t.equal(out.take().length, 0, 'take() of nothing is empty')
})


t.test('truncate(mark) drops exactly the replies written since the mark', async (t) => {
  // Dispatch marks the output before a write command and truncates it when the pool refuses
  // the transaction: earlier replies (pipelined, or in a buffer that grew in between) stay.
  const out = new OutputBuffer(2, 64)
  out.writeOk()
  const lent = out.take() // a lent view: truncate must never reach before it
  out.writeInteger(7)
  const mark = out.length
  for (let i = 0; i < 50; i++) out.writeBulk(Buffer.alloc(100, 120)) // grows the buffer
  out.truncate(mark)
  out.writeError('OOM refused')
  t.equal(out.take().toString('latin1'), ':7\r\n-OOM refused\r\n')
  t.equal(lent.toString('latin1'), '+OK\r\n', 'bytes taken before are untouched')
  out.writeOk()
  t.throws(() => out.truncate(out.length + 1), RangeError, 'a mark past the end is a bug')
  out.truncate(0)
  t.equal(out.length, 0)
})
t.test('deeply nested replies are encoded without recursion', async (t) => {
  let tree: Reply = reply.integer(7)
  const depth = 100_000
  for (let i = 0; i < depth; i++) tree = reply.array([tree])
  const encoded = encodeReply(tree, 3)
  t.equal(encoded.length, depth * 4 + 4)
  t.equal(encoded.subarray(encoded.length - 8).toString(), '*1\r\n:7\r\n')
  const map = reply.map([[reply.bulk('k'), reply.map([[reply.integer(1), reply.null]])]])
  t.equal(encodeReply(map, 2).toString(), '*2\r\n$1\r\nk\r\n*2\r\n:1\r\n$-1\r\n')
})

t.test('formatDouble is printf %.17g', async (t) => {
  const expected: Array<[number, string]> = [
    [1.5, '1.5'], [0.1, '0.10000000000000001'], [1e300, '1.0000000000000001e+300'],
    [3, '3'], [-0, '-0'], [0, '0'], [1e17, '1e+17'], [1e16, '10000000000000000'],
    [123456789012345678, '1.2345678901234568e+17'], [0.0001, '0.0001'],
    [0.00001, '1.0000000000000001e-05'], [1e-300, '1e-300'], [5e-324, '4.9406564584124654e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'], [-2.5, '-2.5'], [3.141, '3.141'],
    [1 / 3, '0.33333333333333331'], [2 ** 60, '1.152921504606847e+18'],
    // Exact ties at the 18th digit: glibc rounds to even, V8's toExponential rounds up.
    [2 ** -25, '2.9802322387695312e-08'], [2 ** -24, '5.9604644775390625e-08'],
    [Infinity, 'inf'], [-Infinity, '-inf'], [NaN, 'nan'],
  ]
  for (const [value, text] of expected) t.equal(formatDouble(value), text, String(value))
})

// ---------------------------------------------------------------------------------------------
// Against redis-server 7.0.15


/** Doubles that stress %.17g: random bit patterns, short mantissas (ties), powers, decimals. */
function interestingDoubles(seed: number, count: number): number[] {
  const random = prng(seed)
  const view = new DataView(new ArrayBuffer(8))
  const values: number[] = []
  for (let k = 1; k <= 80; k++) values.push(2 ** -k, 2 ** k, 3 * 2 ** -k, 5 * 2 ** -k)
  for (let e = -320; e <= 308; e += 7) values.push(Number(`1e${e}`), Number(`1.5e${e}`))
  while (values.length < count) {
    view.setUint32(0, Math.floor(random() * 2 ** 32))
    view.setUint32(4, Math.floor(random() * 2 ** 32))
    const bits = view.getFloat64(0)
    if (Number.isFinite(bits)) values.push(bits)
    const shortMantissa = Math.floor(random() * 2 ** 20) * 2 ** (Math.floor(random() * 120) - 90)
    values.push(random() < 0.5 ? shortMantissa : -shortMantissa)
    values.push(Math.round(random() * 1e6) / 10 ** Math.floor(random() * 8))
  }
  return values.filter((value) => value !== 0 && Number.isFinite(value))
}

function multibulk(args: readonly string[]): Buffer {
  let text = `*${args.length}\r\n`
  for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`
  return Buffer.from(text)
}

const DOUBLE_SEED = Number(process.env['RESP_FUZZ_SEED'] ?? 20240611)

t.test('redis-server 7.0.15 writes the same bytes', async (t) => {
  const started = await startOracle()
  if (!('oracle' in started)) {
    t.plan(0, started.skipReason)
    return
  }
  const oracle = started.oracle
  t.teardown(() => oracle.stop())
  t.equal(oracle.version, '7.0.15', 'the oracle is Redis 7.0.15')

  for (const proto of [2, 3] as const) {
    const connection = await OracleConnection.open(oracle.port)
    t.teardown(() => connection.close())
    await connection.send(multibulk(['HELLO', String(proto)]))
    await debugProtocol(t, connection, proto)
    await zsetDoubles(t, connection, proto)
  }
})

/** The assertions the helpers below use, whatever tap's full Test type is. */
interface TestLike {
  equal(found: unknown, wanted: unknown, message: string): boolean
  fail(message: string): boolean
  pass(message: string): boolean
}

/** DEBUG PROTOCOL <type> from Redis against the same values written by us. */
async function debugProtocol(
  t: TestLike, connection: OracleConnection, proto: Protocol,
): Promise<void> {
  const ints = [reply.integer(0), reply.integer(1), reply.integer(2)]
  const trailer = 'Some real reply following the attribute'
  const expectations: Array<[string, (o: OutputBuffer) => void, number]> = [
    ['string', (o) => o.writeBulk('Hello World'), 1],
    ['integer', (o) => o.writeInteger(12345), 1],
    ['double', (o) => o.writeDouble(3.141), 1],
    ['bignum', (o) => o.writeBigNumber('1234567999999999999999999999999999999'), 1],
    ['null', (o) => o.writeNull(), 1],
    ['array', (o) => o.writeReply(reply.array(ints)), 1],
    ['set', (o) => o.writeReply(reply.set(ints)), 1],
    ['map', (o) => o.writeReply(reply.map(ints.map((key, i) => [key, reply.boolean(i === 1)]))), 1],
    ['verbatim', (o) => o.writeVerbatim('This is a verbatim\nstring'), 1],
    ['true', (o) => o.writeBoolean(true), 1],
    ['false', (o) => o.writeBoolean(false), 1],
  ]
  if (proto === 3) {
    expectations.push(['attrib', (o) => {
      o.writeAttributeHeader(1)
      o.writeBulk('key-popularity')
      o.writeReply(reply.array([reply.bulk('key:123'), reply.integer(90)]))
      o.writeBulk(trailer)
    }, 1])
    expectations.push(['push', (o) => {
      o.writeReply(reply.push([reply.bulk('server-cpu-usage'), reply.integer(42)]))
      o.writeBulk('Some real reply following the push reply')
    }, 2])
  } else {
    expectations.push(['attrib', (o) => o.writeBulk(trailer), 1])
  }
  for (const [type, write, frames] of expectations) {
    const theirs = await connection.send(multibulk(['DEBUG', 'PROTOCOL', type]), frames)
    t.equal(written(proto, write), theirs.toString('latin1'),
      `DEBUG PROTOCOL ${type}, RESP${proto}`)
  }
}

/** ZADD/ZSCORE and ZINCRBY replies against writeDouble, pipelined. */
async function zsetDoubles(
  t: TestLike, connection: OracleConnection, proto: Protocol,
): Promise<void> {
  const values = interestingDoubles(DOUBLE_SEED + proto, 1500)
  const key = `resp-writer-doubles-${proto}`
  const requests: Buffer[] = []
  for (const value of values) {
    requests.push(multibulk(['ZADD', key, String(value), 'm']), multibulk(['ZSCORE', key, 'm']))
  }
  const answer = await connection.send(Buffer.concat(requests), requests.length)
  const ours = new OutputBuffer(proto)
  for (const value of values) {
    ours.writeInteger(0) // ZADD: the member exists after the first one...
    ours.writeDouble(value)
  }
  const expected = ours.take().toString('latin1')
  const got = answer.toString('latin1').replace(/^:1\r\n/, ':0\r\n') // ...not before it
  if (got !== expected) {
    const theirLines = got.split('\r\n')
    const ourLines = expected.split('\r\n')
    const index = theirLines.findIndex((line, i) => line !== ourLines[i])
    t.fail(`ZSCORE RESP${proto} (seed ${DOUBLE_SEED}): redis ${theirLines[index]}, ` +
      `ours ${ourLines[index]}`)
  } else {
    t.pass(`ZSCORE of ${values.length} doubles, RESP${proto} (seed ${DOUBLE_SEED})`)
  }

  // ZINCRBY: the score is computed by Redis (double addition), then printed.
  const random = prng(DOUBLE_SEED ^ proto)
  let score = 0
  const increments: Buffer[] = [multibulk(['DEL', key])]
  const mine = new OutputBuffer(proto)
  mine.writeInteger(1)
  for (let i = 0; i < 300; i++) {
    const step = Math.round((random() - 0.5) * 1e6) / 10 ** Math.floor(random() * 9)
    score += step
    increments.push(multibulk(['ZINCRBY', key, String(step), 'm']))
    mine.writeDouble(score)
  }
  const incremented = await connection.send(Buffer.concat(increments), increments.length)
  t.equal(incremented.toString('latin1'), mine.take().toString('latin1'),
    `ZINCRBY sums, RESP${proto} (seed ${DOUBLE_SEED})`)

  // INCRBYFLOAT is not a double reply: Redis prints its long double with "%.17Lf", trimmed.
  const incr = await connection.send(Buffer.concat([
    multibulk(['SET', `${key}-f`, '0']), multibulk(['INCRBYFLOAT', `${key}-f`, '0.1']),
  ]), 2)
  t.equal(incr.toString('latin1'), '+OK\r\n$3\r\n0.1\r\n',
    'INCRBYFLOAT 0.1 replies "0.1", not formatDouble(0.1): the command layer formats it')
}
