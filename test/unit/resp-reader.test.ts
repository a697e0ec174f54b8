// RequestReader: Redis 7.0.15's request parsing, checked against itself under every chunking and
// against a real redis-server.
//
// Invariants these tests hold the reader to, and why:
// - Chunking never changes the outcome: every case is parsed whole, split at every point, and
//   byte by byte, and the three must agree (a socket may cut a request anywhere).
// - Each case's outcome is what Redis 7.0.15 does with the same bytes: the differential test
//   replays the cases to a real redis-server and predicts its replies from our parse.
// - Limits hold before allocation: giant claimed lengths and counts cost nothing up front, and
//   what the reader holds is reported, so the caller can enforce client-query-buffer-limit.
// - The fuzz tests are seeded; the seed is in the test name and in every failure message.
import t from 'tap'
import {
  ARG_OVERHEAD_BYTES, PROTO_INLINE_MAX_BYTES, ProtocolError, RequestReader, parseRedisInteger,
  type ReaderLimits,
} from '../../src/resp/reader.js'
import { OracleConnection, rawExchange, startOracle, type Oracle } from './resp-oracle.js'
import { prng } from '../helpers/mulberry32.js'

/** How long an exchange whose answer ends in a close waits for it (it ends at the close). */
const CLOSE_WAIT_MS = 3000

/** Every seeded test derives its PRNG from this; set RESP_FUZZ_SEED to replay another run. */
const FUZZ_SEED = Number(process.env['RESP_FUZZ_SEED'] ?? 20240611)


function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below)
}

/** One thing next() produced: an argv (as latin1 strings) or a protocol error's text. */
type Outcome = string[] | { error: string }

interface Parsed {
  outcomes: Outcome[]
  bufferedBytes: number
}

function toOutcome(result: Buffer[] | ProtocolError): Outcome {
  if (result instanceof ProtocolError) return { error: result.message }
  return result.map((arg) => arg.toString('latin1'))
}

/** Feeds the chunks in order, draining next() after each, as a server's data handler does. */
function parseChunks(chunks: readonly Buffer[], setup?: (reader: RequestReader) => void,
  limits?: Partial<ReaderLimits>): Parsed {
  const reader = new RequestReader(limits)
  setup?.(reader)
  const outcomes: Outcome[] = []
  for (const chunk of chunks) {
    reader.feed(chunk)
    for (;;) {
      const result = reader.next()
      if (result === null) break
      outcomes.push(toOutcome(result))
      if (result instanceof ProtocolError) return { outcomes, bufferedBytes: 0 }
    }
  }
  return { outcomes, bufferedBytes: reader.bufferedBytes }
}

/**
 * As the server reads (one static buffer for every socket): each chunk is read into the same
 * buffer and fed, then the buffer is scribbled over before the reader is drained. The argvs are
 * turned into strings only at the end, so an argument aliasing the buffer would show.
 */
function parseChunksReused(chunks: readonly Buffer[]): Parsed {
  const reader = new RequestReader({}, { reusedChunks: true })
  const shared = Buffer.alloc(Math.max(1, ...chunks.map((chunk) => chunk.length)))
  const results: Array<Buffer[] | ProtocolError> = []
  let failed = false
  for (const chunk of chunks) {
    chunk.copy(shared)
    reader.feed(shared.subarray(0, chunk.length))
    shared.fill(0x21)
    for (;;) {
      const result = reader.next()
      if (result === null) break
      results.push(result)
      if (result instanceof ProtocolError) {
        failed = true
        break
      }
    }
    if (failed) break
  }
  return { outcomes: results.map(toOutcome), bufferedBytes: failed ? 0 : reader.bufferedBytes }
}

function bytes(text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

/** The chunkings every case is run under: whole, each 2-way split, and byte by byte. */
function* chunkings(input: Buffer, maxSplits = Infinity): Generator<[string, Buffer[]]> {
  yield ['whole', [input]]
  const step = Math.max(1, Math.floor(input.length / Math.min(maxSplits, input.length + 1)))
  for (let i = 0; i <= input.length; i += step) {
    yield [`split at ${i}`, [input.subarray(0, i), input.subarray(i)]]
  }
  if (input.length <= 4096) {
    const single: Buffer[] = []
    for (let i = 0; i < input.length; i++) single.push(input.subarray(i, i + 1))
    yield ['byte by byte', single]
  }
}

interface Case {
  readonly name: string
  readonly input: Buffer
  readonly outcomes: Outcome[]
  /** Bytes the reader still holds at the end (a request waiting for more). */
  readonly pending?: number
}

const invalidMbulk = { error: 'Protocol error: invalid multibulk length' }
const invalidBulk = { error: 'Protocol error: invalid bulk length' }
const unbalanced = { error: 'Protocol error: unbalanced quotes in request' }

function setPipeline(count: number): Buffer {
  let text = ''
  for (let i = 0; i < count; i++) {
    const key = `key:${i}`
    const value = `value-${i}`
    text += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`
  }
  return bytes(text)
}

const cases: Case[] = [
  { name: 'an inline command', input: bytes('PING\r\n'), outcomes: [['PING']] },
  { name: 'an inline command ended by a lone \\n', input: bytes('PING\n'), outcomes: [['PING']] },
  { name: 'a multibulk command', input: bytes('*1\r\n$4\r\nPING\r\n'), outcomes: [['PING']] },
  {
    name: 'a 16-command SET pipeline',
    input: setPipeline(16),
    outcomes: Array.from({ length: 16 }, (_, i) => ['SET', `key:${i}`, `value-${i}`]),
  },
  {
    name: 'binary bulks holding CR, LF, NUL and high bytes',
    input: bytes('*3\r\n$3\r\nSET\r\n$4\r\n\r\n\0\xff\r\n$0\r\n\r\n'),
    outcomes: [['SET', '\r\n\0\xff', '']],
  },
  {
    name: 'the byte after a header CR and the two bytes after a bulk are skipped unchecked',
    input: bytes('*1\rx$4\r\nPINGxx*1\r\n$4\r\nPING\r\n'),
    outcomes: [['PING'], ['PING']],
  },
  {
    name: 'a bulk followed by junk then an empty line',
    input: bytes('*1\r\n$4\r\nPINGxx\r\n'),
    outcomes: [['PING']],
  },
  { name: '*-1 and *0 are skipped', input: bytes('*-1\r\n*0\r\nPING\r\n'), outcomes: [['PING']] },
  {
    name: 'the most negative 64-bit count is skipped',
    input: bytes('*-9223372036854775808\r\nPING\r\n'),
    outcomes: [['PING']],
  },
  { name: 'empty inline lines are skipped', input: bytes('\n\n\r\n'), outcomes: [] },
  { name: 'blank inline lines are skipped', input: bytes(' \t\x0b\r\n'), outcomes: [] },
  {
    name: 'a NUL before the LF hides it: the inline request waits',
    input: bytes('ECHO a\0b\r\nPING\r\n'),
    outcomes: [],
    pending: 16,
  },
  {
    name: 'a NUL before the CR hides it: the multibulk request waits',
    input: bytes('*1\r\n$4\0\r\nPING\r\n'),
    outcomes: [],
    pending: 11,
  },
  { name: '*-0 is not a number', input: bytes('*-0\r\n'), outcomes: [invalidMbulk] },
  { name: '*+1 is not a number', input: bytes('*+1\r\n'), outcomes: [invalidMbulk] },
  { name: '* 1 is not a number', input: bytes('* 1\r\n'), outcomes: [invalidMbulk] },
  { name: '*01 has a leading zero', input: bytes('*01\r\n'), outcomes: [invalidMbulk] },
  { name: 'a bare * is not a number', input: bytes('*\r\n'), outcomes: [invalidMbulk] },
  { name: 'a count above INT_MAX', input: bytes('*2147483648\r\n'), outcomes: [invalidMbulk] },
  {
    name: 'a count below the 64-bit range',
    input: bytes('*-9223372036854775809\r\n'),
    outcomes: [invalidMbulk],
  },
  {
    name: 'a count of INT_MAX waits for its arguments',
    input: bytes('*2147483647\r\n'),
    outcomes: [],
    pending: 0,
  },
  {
    name: 'an LF instead of CR: the count runs to the next CR',
    input: bytes('*1\n$4\r\nPING\r\n'),
    outcomes: [invalidMbulk],
  },
  {
    name: 'a bulk above proto-max-bulk-len',
    input: bytes('*1\r\n$536870913\r\n'),
    outcomes: [invalidBulk],
  },
  {
    name: 'a bulk of exactly proto-max-bulk-len waits for its data',
    input: bytes('*1\r\n$536870912\r\n'),
    outcomes: [],
    pending: 0,
  },
  { name: 'a negative bulk length', input: bytes('*1\r\n$-1\r\n'), outcomes: [invalidBulk] },
  { name: 'a bulk length of -0', input: bytes('*1\r\n$-0\r\n'), outcomes: [invalidBulk] },
  {
    name: 'a bulk length with a leading zero',
    input: bytes('*1\r\n$01\r\n'),
    outcomes: [invalidBulk],
  },
  { name: 'an empty bulk length', input: bytes('*1\r\n$\r\n'), outcomes: [invalidBulk] },
  {
    name: 'a bulk header without $',
    input: bytes('*1\r\nx\r\n'),
    outcomes: [{ error: "Protocol error: expected '$', got 'x'" }],
  },
  {
    name: 'a missing $ shows CR as a space',
    input: bytes('*1\r\n\r\n'),
    outcomes: [{ error: "Protocol error: expected '$', got ' '" }],
  },
  {
    name: 'a missing $ shows LF as a space',
    input: bytes('*1\r\n\n\r\n'),
    outcomes: [{ error: "Protocol error: expected '$', got ' '" }],
  },
  {
    name: 'a payload that overruns into the next header',
    input: bytes('*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n'),
    outcomes: [{ error: "Protocol error: expected '$', got 'f'" }],
  },
  {
    name: 'commands before a protocol error are returned first',
    input: bytes('PING\r\n*1\r\n$4\r\nPING\r\n*x\r\nPING\r\n'),
    outcomes: [['PING'], ['PING'], invalidMbulk],
  },
  {
    name: 'double quotes with escapes',
    input: bytes('ECHO "a\\x41\\n\\q\\r\\t\\b\\a\\\\\\""\r\n'),
    outcomes: [['ECHO', 'aA\nq\r\t\b\x07\\"']],
  },
  {
    name: 'a \\x without two hex digits',
    input: bytes('ECHO "\\xZZ"\r\n'),
    outcomes: [['ECHO', 'xZZ']],
  },
  {
    name: 'single quotes with \\\'',
    input: bytes("ECHO 'a\\'b'\r\n"),
    outcomes: [['ECHO', "a'b"]],
  },
  {
    name: 'single quotes keep \\n',
    input: bytes("ECHO 'a\\nb'\r\n"),
    outcomes: [['ECHO', 'a\\nb']],
  },
  { name: 'an empty quoted argument', input: bytes('ECHO ""\r\n'), outcomes: [['ECHO', '']] },
  { name: 'quotes inside a token', input: bytes('ECHO a"b"\r\n'), outcomes: [['ECHO', 'ab']] },
  { name: 'a closing quote then \\v', input: bytes('ECHO "x"\x0b\r\n'), outcomes: [['ECHO', 'x']] },
  { name: 'a closing quote then \\f', input: bytes('ECHO "x"\x0c\r\n'), outcomes: [['ECHO', 'x']] },
  {
    name: 'a closing quote then a letter',
    input: bytes('ECHO "abc"x\r\n'),
    outcomes: [unbalanced],
  },
  { name: 'an unterminated double quote', input: bytes('ECHO "abc\r\n'), outcomes: [unbalanced] },
  { name: 'an unterminated single quote', input: bytes("ECHO 'abc\r\n"), outcomes: [unbalanced] },
  { name: 'a trailing backslash in quotes', input: bytes('ECHO "a\\\r\n'), outcomes: [unbalanced] },
  {
    name: 'blank lines, then \\v inside a token',
    input: bytes('  \r\n\n ECHO\x0bx\r\n'),
    outcomes: [['ECHO\x0bx']],
  },
  { name: 'leading \\v is a blank', input: bytes('\x0bECHO  x\n'), outcomes: [['ECHO', 'x']] },
  {
    name: 'a CR inside an inline line splits',
    input: bytes('PING\rPING\n'),
    outcomes: [['PING', 'PING']],
  },
  {
    name: 'a CR inside an inline line with CRLF',
    input: bytes('ECHO a\rb\r\n'),
    outcomes: [['ECHO', 'a', 'b']],
  },
  {
    name: 'an inline line of exactly 64 KiB',
    input: bytes('a'.repeat(PROTO_INLINE_MAX_BYTES - 1) + '\r\n'),
    outcomes: [['a'.repeat(PROTO_INLINE_MAX_BYTES - 1)]],
  },
  {
    name: 'an inline line of 64 KiB + 1 without LF',
    input: bytes('a'.repeat(PROTO_INLINE_MAX_BYTES + 1)),
    outcomes: [{ error: 'Protocol error: too big inline request' }],
  },
  {
    name: 'an inline line with more than 64 KiB before its LF',
    input: bytes('a'.repeat(PROTO_INLINE_MAX_BYTES) + '\r\n'),
    outcomes: [{ error: 'Protocol error: too big inline request' }],
  },
  {
    name: 'a count line of 64 KiB + 1 without CR',
    input: bytes('*' + '1'.repeat(PROTO_INLINE_MAX_BYTES)),
    outcomes: [{ error: 'Protocol error: too big mbulk count string' }],
  },
  {
    name: 'a bulk length line of 64 KiB + 1 without CR',
    input: bytes('*1\r\n$' + '1'.repeat(PROTO_INLINE_MAX_BYTES)),
    outcomes: [{ error: 'Protocol error: too big bulk count string' }],
  },
  {
    name: 'a big bulk that spans chunks',
    input: bytes('*2\r\n$4\r\nECHO\r\n$40000\r\n' + 'z'.repeat(40000) + '\r\nPING\r\n'),
    outcomes: [['ECHO', 'z'.repeat(40000)], ['PING']],
  },
]

t.test('parses each case the same under every chunking', async (t) => {
  for (const c of cases) {
    const maxSplits = c.input.length > 4096 ? 64 : Infinity
    for (const [how, chunks] of chunkings(c.input, maxSplits)) {
      const where = `${c.name} (${how})`
      for (const [mode, parsed] of [['', parseChunks(chunks)],
        [', one reused read buffer', parseChunksReused(chunks)]] as const) {
        t.same(parsed.outcomes, c.outcomes, where + mode)
        if (c.pending !== undefined) {
          t.equal(parsed.bufferedBytes, c.pending, `${where}${mode}: pending`)
        }
      }
    }
  }
})

t.test('parseRedisInteger follows string2ll', async (t) => {
  const valid: Array<[string, number]> = [
    ['0', 0], ['1', 1], ['-1', -1], ['2147483647', 2147483647],
    ['9223372036854775807', 9223372036854775807], ['-9223372036854775808', -9223372036854775808],
  ]
  for (const [text, value] of valid) t.equal(parseRedisInteger(bytes(text), 0, text.length), value)
  const invalid = ['', '-', '-0', '00', '01', '+1', ' 1', '1 ', '1a', '9223372036854775808',
    '-9223372036854775809', '123456789012345678901', '0x10']
  for (const text of invalid) {
    t.ok(Number.isNaN(parseRedisInteger(bytes(text), 0, text.length)), `"${text}" is invalid`)
  }
})

t.test('unauthenticated clients are limited to 10 arguments of 16 KiB', async (t) => {
  const unauthenticated = (reader: RequestReader): void => {
    reader.authRequired = true
  }
  t.same(parseChunks([bytes('*11\r\n')], unauthenticated).outcomes,
    [{ error: 'Protocol error: unauthenticated multibulk length' }])
  t.same(parseChunks([bytes('*10\r\n')], unauthenticated).outcomes, [])
  t.same(parseChunks([bytes('*1\r\n$16385\r\n')], unauthenticated).outcomes,
    [{ error: 'Protocol error: unauthenticated bulk length' }])
  t.same(parseChunks([bytes('*1\r\n$16384\r\n')], unauthenticated).outcomes, [])
  t.same(parseChunks([bytes('*1\r\n$536870913\r\n')], unauthenticated).outcomes, [invalidBulk],
    'the length check comes first')
  t.same(parseChunks([bytes('*11\r\n')]).outcomes, [], 'no limit once authenticated')

  const reader = new RequestReader()
  reader.authRequired = true
  reader.feed(bytes('*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*20\r\n'))
  t.same(toOutcome(reader.next() ?? []), ['AUTH', 'pw'])
  reader.authRequired = false // AUTH succeeded: the next header is parsed without the limit
  t.equal(reader.next(), null)
  t.equal(reader.protocolError, null)
})

t.test('proto-max-bulk-len is configurable', async (t) => {
  const limits = { maxBulkBytes: 10 }
  t.same(parseChunks([bytes('*1\r\n$10\r\n0123456789\r\n')], undefined, limits).outcomes,
    [['0123456789']])
  t.same(parseChunks([bytes('*1\r\n$11\r\n')], undefined, limits).outcomes, [invalidBulk])
})

t.test('reports whether the last request was inline', async (t) => {
  const reader = new RequestReader()
  reader.feed(bytes('PING\r\n*1\r\n$4\r\nPING\r\n'))
  reader.next()
  t.equal(reader.lastRequestInline, true)
  reader.next()
  t.equal(reader.lastRequestInline, false)
})

t.test('a protocol error is sticky and the reader drops further input', async (t) => {
  const reader = new RequestReader()
  reader.feed(bytes('*x\r\n'))
  const error = reader.next()
  t.ok(error instanceof ProtocolError)
  t.same(error instanceof ProtocolError ? error.reply : null,
    bytes('-ERR Protocol error: invalid multibulk length\r\n'))
  reader.feed(bytes('PING\r\n'))
  t.equal(reader.next(), error)
  t.equal(reader.bufferedBytes, 0)
})

t.test('giant claimed lengths allocate nothing up front', async (t) => {
  const before = process.memoryUsage().arrayBuffers
  const readers: RequestReader[] = []
  for (let i = 0; i < 64; i++) {
    const reader = new RequestReader()
    reader.feed(bytes(`*2147483647\r\n$536870912\r\n`))
    t.equal(reader.next(), null)
    readers.push(reader)
  }
  const grownBytes = process.memoryUsage().arrayBuffers - before
  t.ok(grownBytes < 16 * 1024 * 1024, `64 readers claiming 512 MiB each grew ${grownBytes} bytes`)
  t.equal(readers[0]?.bufferedBytes, 0)
})

t.test('a big bulk is held as it arrives and counted against the query buffer limit', async (t) => {
  const reader = new RequestReader({ queryBufferLimitBytes: 1024 * 1024 })
  reader.feed(bytes('*1\r\n$2000000\r\n'))
  const chunk = Buffer.alloc(64 * 1024, 0x61)
  let fed = 0
  while (!reader.queryBufferLimitReached) {
    reader.feed(chunk)
    fed += chunk.length
    t.equal(reader.next(), null)
    if (fed > 4 * 1024 * 1024) break
  }
  t.equal(reader.bufferedBytes, fed)
  t.ok(fed > 1024 * 1024 && fed <= 1024 * 1024 + chunk.length, 'trips just past the limit')
})

t.test('a huge argument count is bounded by the query buffer limit', async (t) => {
  const reader = new RequestReader({ queryBufferLimitBytes: 100_000 })
  reader.feed(bytes('*2147483647\r\n'))
  let args = 0
  while (!reader.queryBufferLimitReached) {
    reader.feed(bytes('$0\r\n\r\n'))
    t.equal(reader.next(), null)
    args++
  }
  t.equal(args, Math.floor(100_000 / ARG_OVERHEAD_BYTES) + 1)
})

t.test('returned arguments never alias the fed chunks', async (t) => {
  const big = 'q'.repeat(100_000)
  const input = bytes(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${big.length}\r\n${big}\r\n`)
  const chunks: Buffer[] = []
  for (let i = 0; i < input.length; i += 7000) chunks.push(Buffer.from(input.subarray(i, i + 7000)))
  const reader = new RequestReader()
  let argv: Buffer[] | null = null
  for (const chunk of chunks) {
    reader.feed(chunk)
    const result = reader.next()
    if (Array.isArray(result)) argv = result
  }
  for (const chunk of chunks) chunk.fill(0x21)
  t.same(argv?.map((arg) => arg.toString('latin1')), ['SET', 'k', big])
})

t.test('a long line arriving a byte at a time is scanned in linear time', async (t) => {
  const lines = [['', 'too big inline request'], ['*', 'too big mbulk count string'],
    ['*1\r\n$', 'too big bulk count string']] as const
  for (const [prefix, error] of lines) {
    const reader = new RequestReader()
    reader.feed(bytes(prefix))
    t.equal(reader.next(), null)
    const started = process.hrtime.bigint()
    let result: ReturnType<RequestReader['next']> = null
    const one = bytes('1')
    for (let i = 0; i <= PROTO_INLINE_MAX_BYTES && result === null; i++) {
      reader.feed(one)
      result = reader.next()
    }
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
    t.equal(result instanceof ProtocolError ? result.message : null, `Protocol error: ${error}`)
    t.ok(elapsedMs < 2000, `64 KiB fed a byte at a time took ${elapsedMs.toFixed(0)} ms`)
  }
})

t.test('big bulks arrive intact however they are cut', async (t) => {
  const random = prng(FUZZ_SEED ^ 0x2545f491)
  for (const size of [32 * 1024, 40_000, 65_536, 100_000, 300_000]) {
    const data = Buffer.alloc(size)
    for (let i = 0; i < size; i++) data[i] = randomInt(random, 256)
    const header = bytes(`*2\r\n$3\r\nSET\r\n$${size}\r\n`)
    const input = Buffer.concat([header, data, bytes('\r\nPING\r\n')])
    const cuttings: Array<[string, number[]]> = [
      ['a byte at a time', [1]], ['mixed small and big pieces', [1, 20_000, 3, 17_000, 700]],
      ['4 KiB reads', [4096]], ['64 KiB reads', [65_536]],
    ]
    for (const [how, sizes] of cuttings) {
      const chunks: Buffer[] = []
      for (let at = 0, k = 0; at < input.length; k++) {
        const length = sizes[k % sizes.length] ?? 1
        chunks.push(Buffer.from(input.subarray(at, at + length)))
        at += length
      }
      for (const reused of [false, true]) {
        const reader = new RequestReader({}, { reusedChunks: reused })
        const shared = Buffer.alloc(Math.max(...sizes))
        const results: Buffer[][] = []
        const started = process.hrtime.bigint()
        for (const chunk of chunks) {
          // Reused: each chunk is read into the one buffer, scribbled over once fed.
          const fed = reused ? shared.subarray(0, chunk.copy(shared)) : Buffer.from(chunk)
          reader.feed(fed)
          if (reused) shared.fill(0)
          for (let r = reader.next(); r !== null; r = reader.next()) {
            if (Array.isArray(r)) results.push(r)
          }
        }
        const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
        const where = `${size} bytes, ${how}${reused ? ', one reused read buffer' : ''}`
        t.equal(results.length, 2, `${where}: two requests`)
        t.ok(results[0]?.[1]?.equals(data), `${where}: the bulk is intact and owned`)
        t.same(results[1]?.map(String), ['PING'], `${where}: the next request follows`)
        t.ok(elapsedMs < 3000, `${where}: took ${elapsedMs.toFixed(0)} ms`)
      }
    }
  }
})

t.test('bulks of a MiB and more get their own buffer as they arrive, intact however cut',
  async (t) => {
    const random = prng(FUZZ_SEED ^ 0x1b873593)
    for (const size of [1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 5]) {
      const data = Buffer.allocUnsafe(size)
      for (let i = 0; i < size; i += 997) data[i] = randomInt(random, 256)
      for (let i = 0; i < size; i++) if (i % 997 !== 0) data[i] = i & 0xff
      const input = Buffer.concat([bytes(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n`), data,
        bytes('\r\nPING\r\n')])
      const cuttings: Array<[string, number[]]> = [
        ['mixed small and big pieces', [1, 20_000, 3, 17_000, 700]], ['64 KiB reads', [65_536]],
        ['the header, then all of it', [30, input.length]], ['700-byte reads', [700]],
      ]
      for (const [how, sizes] of cuttings) {
        for (const reused of [false, true]) {
          const reader = new RequestReader({}, { reusedChunks: reused })
          const shared = Buffer.alloc(Math.max(...sizes))
          const results: Buffer[][] = []
          let most = 0
          for (let at = 0, k = 0; at < input.length; k++) {
            const length = Math.min(sizes[k % sizes.length] ?? 1, input.length - at)
            const piece = input.subarray(at, at + length)
            at += length
            const fed = reused ? shared.subarray(0, piece.copy(shared)) : Buffer.from(piece)
            reader.feed(fed)
            if (reused) shared.fill(0)
            most = Math.max(most, reader.bufferedBytes)
            for (let r = reader.next(); r !== null; r = reader.next()) {
              if (Array.isArray(r)) results.push(r)
            }
          }
          const where = `${size} bytes, ${how}${reused ? ', one reused read buffer' : ''}`
          t.equal(results.length, 2, `${where}: two requests`)
          t.ok(results[0]?.[2]?.equals(data), `${where}: the bulk is intact and owned`)
          t.same(results[1]?.map(String), ['PING'], `${where}: the next request follows`)
          t.ok(most <= input.length + 3 * ARG_OVERHEAD_BYTES,
            `${where}: held ${most} bytes, no more than arrived`)
          t.equal(reader.bufferedBytes, 0, `${where}: nothing held after`)
        }
      }
    }
  })

t.test('a request split across chunks survives the scratch buffer being reused', async (t) => {
  const reader = new RequestReader()
  const seen: string[] = []
  for (let i = 0; i < 2000; i++) {
    const request = bytes(`*2\r\n$4\r\nECHO\r\n$${String(i).length}\r\n${i}\r\n`)
    const cut = 1 + (i % (request.length - 1))
    reader.feed(request.subarray(0, cut))
    reader.feed(request.subarray(cut))
    const result = reader.next()
    if (Array.isArray(result)) seen.push(result[1]?.toString('latin1') ?? '')
  }
  t.same(seen, Array.from({ length: 2000 }, (_, i) => String(i)))
})

// ---------------------------------------------------------------------------------------------
// Seeded fuzzing

function randomArg(random: () => number): Buffer {
  const roll = random()
  const length = roll < 0.01 ? 32 * 1024 + randomInt(random, 20000)
    : roll < 0.2 ? 0 : randomInt(random, 40)
  const arg = Buffer.alloc(length)
  for (let i = 0; i < length; i++) arg[i] = randomInt(random, 256)
  return arg
}

const PLAIN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_'

/** A random valid request and the argv it must parse to (null: a skipped request). */
function randomRequest(random: () => number): [Buffer, string[] | null] {
  const roll = random()
  const skipped = ['*0\r\n', '*-1\r\n', '\r\n', '\n', '  \r\n']
  if (roll < 0.05) return [bytes(skipped[randomInt(random, skipped.length)] ?? ''), null]
  if (roll < 0.3) {
    const argv: string[] = []
    const count = 1 + randomInt(random, 5)
    for (let i = 0; i < count; i++) {
      let token = ''
      const length = 1 + randomInt(random, 12)
      for (let j = 0; j < length; j++) token += PLAIN[randomInt(random, PLAIN.length)]
      argv.push(token)
    }
    const ending = random() < 0.8 ? '\r\n' : '\n'
    return [bytes(argv.join(' '.repeat(1 + randomInt(random, 2))) + ending), argv]
  }
  const count = 1 + randomInt(random, 6)
  const parts: Buffer[] = [bytes(`*${count}\r\n`)]
  const argv: string[] = []
  for (let i = 0; i < count; i++) {
    const arg = randomArg(random)
    parts.push(bytes(`$${arg.length}\r\n`), arg, bytes('\r\n'))
    argv.push(arg.toString('latin1'))
  }
  return [Buffer.concat(parts), argv]
}

/** Splits input at `cuts` random points. */
function randomSplit(random: () => number, input: Buffer, cuts: number): Buffer[] {
  const points = Array.from({ length: cuts }, () => randomInt(random, input.length + 1))
  points.sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let last = 0
  for (const point of points) {
    chunks.push(input.subarray(last, point))
    last = point
  }
  chunks.push(input.subarray(last))
  return chunks
}

const FUZZ_ITERATIONS = 300

t.test(`random pipelines parse the same split or whole (seed ${FUZZ_SEED})`, async (t) => {
  const random = prng(FUZZ_SEED)
  let failures = 0
  for (let iteration = 0; iteration < FUZZ_ITERATIONS && failures < 5; iteration++) {
    const requests = 1 + randomInt(random, 20)
    const parts: Buffer[] = []
    const expected: Outcome[] = []
    for (let i = 0; i < requests; i++) {
      const [request, argv] = randomRequest(random)
      parts.push(request)
      if (argv !== null) expected.push(argv)
    }
    const input = Buffer.concat(parts)
    const whole = parseChunks([input])
    const chunks = randomSplit(random, input, 1 + randomInt(random, 12))
    const split = parseChunks(chunks)
    const reused = parseChunksReused(chunks)
    const where = `seed ${FUZZ_SEED}, iteration ${iteration}`
    const ok = t.same(whole.outcomes, expected, `${where}: whole`) &&
      t.same(split.outcomes, expected, `${where}: split`) &&
      t.same(reused.outcomes, expected, `${where}: split, one reused read buffer`)
    if (!ok) failures++
  }
})

t.test(`random junk parses the same split or whole (seed ${FUZZ_SEED})`, async (t) => {
  const random = prng(FUZZ_SEED ^ 0x5bd1e995)
  const alphabet = bytes('*$\r\n\r\n0123456789-+ "\'\\x\0\x0bab\xff')
  for (let iteration = 0; iteration < FUZZ_ITERATIONS; iteration++) {
    const length = randomInt(random, 200)
    const input = Buffer.alloc(length)
    for (let i = 0; i < length; i++) {
      input[i] = random() < 0.9 ? alphabet[randomInt(random, alphabet.length)] ?? 0
        : randomInt(random, 256)
    }
    const whole = parseChunks([input])
    const chunks = randomSplit(random, input, 1 + randomInt(random, 8))
    const split = parseChunks(chunks)
    if (!t.same(split, whole, `seed ${FUZZ_SEED}, iteration ${iteration}`)) break
    const reused = parseChunksReused(chunks)
    if (!t.same(reused, whole, `seed ${FUZZ_SEED}, iteration ${iteration}, reused buffer`)) break
  }
})

// ---------------------------------------------------------------------------------------------
// Against redis-server 7.0.15

/**
 * What Redis answers to an argv, for the few commands the differential cases use (PING, ECHO,
 * EVAL "return ARGV", unknown commands); null when the case uses anything else.
 */
function predictReply(argv: readonly string[]): string | null {
  const name = (argv[0] ?? '').toLowerCase()
  const bulk = (text: string): string => `$${text.length}\r\n${text}\r\n`
  const arity = (): string => `-ERR wrong number of arguments for '${name}' command\r\n`
  if (name === 'ping') {
    if (argv.length === 1) return '+PONG\r\n'
    return argv.length === 2 ? bulk(argv[1] ?? '') : arity()
  }
  if (name === 'echo') return argv.length === 2 ? bulk(argv[1] ?? '') : arity()
  if (name === 'eval' && argv[1] === 'return ARGV' && argv[2] === '0') {
    const rest = argv.slice(3)
    return `*${rest.length}\r\n` + rest.map(bulk).join('')
  }
  if (['set', 'auth', 'hello'].includes(name)) return null
  let args = ''
  for (let i = 1; i < argv.length && args.length < 128; i++) {
    args += `'${(argv[i] ?? '').slice(0, 128 - args.length)}' `
  }
  const name128 = (argv[0] ?? '').slice(0, 128)
  const text = `unknown command '${name128}', with args beginning with: ${args}`
  return `-ERR ${text.replace(/[\r\n]/g, ' ')}\r\n`
}

/** Redis's whole answer to `input` sent at once, predicted from our parse; null: unpredictable. */
function predictExchange(input: Buffer): { bytes: string, closed: boolean } | null {
  const parsed = parseChunks([input])
  let answer = ''
  for (const outcome of parsed.outcomes) {
    if (!Array.isArray(outcome)) {
      return { bytes: answer + `-ERR ${outcome.error}\r\n`, closed: true }
    }
    const reply = predictReply(outcome)
    if (reply === null) return null
    answer += reply
  }
  return { bytes: answer, closed: false }
}

/**
 * Cases whose outcome Redis gives whatever its read sizes. A line with more than 64 KiB before
 * its LF is refused only if some read ends before the LF arrives (see reader.ts).
 */
function chunkingIndependentInRedis(c: Case): boolean {
  return !c.name.includes('more than 64 KiB before')
}

t.test('redis-server 7.0.15 agrees with every case', async (t) => {
  const started = await startOracle()
  if (!('oracle' in started)) {
    t.plan(0, started.skipReason)
    return
  }
  const oracle: Oracle = started.oracle
  t.teardown(() => oracle.stop())
  t.equal(oracle.version, '7.0.15', 'the oracle is Redis 7.0.15')
  for (const c of cases.filter(chunkingIndependentInRedis)) {
    const predicted = predictExchange(c.input)
    if (predicted === null) continue
    // A close is waited for longer than silence (a loaded machine may deliver it late).
    const answer = await rawExchange(oracle.port, c.input, predicted.closed ? CLOSE_WAIT_MS : 150)
    t.equal(answer.bytes.toString('latin1'), predicted.bytes, `${c.name}: reply`)
    t.equal(answer.closed, predicted.closed, `${c.name}: connection closed`)
  }

  // The unauthenticated limits need requirepass; set last, as every other case runs without it.
  const admin = await OracleConnection.open(oracle.port)
  const configured = await admin.send(bytes('CONFIG SET requirepass pw\r\n'))
  t.equal(configured.toString(), '+OK\r\n', 'redis now requires a password')
  admin.close()
  const limited: Array<[string, string]> = [
    ['*11\r\n', 'Protocol error: unauthenticated multibulk length'],
    ['*1\r\n$16385\r\n', 'Protocol error: unauthenticated bulk length'],
  ]
  for (const [request, error] of limited) {
    const reader = new RequestReader()
    reader.authRequired = true
    reader.feed(bytes(request))
    const ours = reader.next()
    t.equal(ours instanceof ProtocolError ? ours.message : null, error, `ours: ${error}`)
    const answer = await rawExchange(oracle.port, bytes(request), CLOSE_WAIT_MS)
    t.equal(answer.bytes.toString('latin1'), `-ERR ${error}\r\n`, `redis: ${error}`)
    t.equal(answer.closed, true, `redis closes after: ${error}`)
  }
  const within = await rawExchange(oracle.port, bytes('*10\r\n'))
  t.same([within.bytes.length, within.closed], [0, false], 'redis waits on *10 before AUTH')
})

t.test(`redis-server splits random inline lines as we do (seed ${FUZZ_SEED})`, async (t) => {
  const started = await startOracle()
  if (!('oracle' in started)) {
    t.plan(0, started.skipReason)
    return
  }
  const oracle = started.oracle
  t.teardown(() => oracle.stop())
  const random = prng(FUZZ_SEED ^ 0x1234567)
  // Mostly plain bytes and blanks, so that most lines parse; quotes and escapes now and then.
  const pieces = ['a', 'b', 'x', '0', 'f', '9', 'Z', '\xe9', ' ', ' ', ' ', '\t', '\x0b', '\x0c',
    '\r', '\\', '\\x4', '\\n', '"', "'", 'A', 'q']
  let connection = await OracleConnection.open(oracle.port)
  t.teardown(() => connection.close())
  for (let iteration = 0; iteration < 200; iteration++) {
    let text = ''
    const length = randomInt(random, 24)
    for (let i = 0; i < length; i++) text += pieces[randomInt(random, pieces.length)]
    const tail = bytes(text)
    const line = Buffer.concat([bytes('EVAL "return ARGV" 0 '), tail, bytes('\r\n')])
    const predicted = predictExchange(line)
    if (predicted === null) continue
    const where = `seed ${FUZZ_SEED}, line ${JSON.stringify(line.toString('latin1'))}`
    if (predicted.closed) {
      const answer = await rawExchange(oracle.port, line, CLOSE_WAIT_MS)
      t.equal(answer.bytes.toString('latin1'), predicted.bytes, where)
      t.equal(answer.closed, true, `${where}: closed`)
    } else {
      const answer = await connection.send(line)
      if (!t.equal(answer.toString('latin1'), predicted.bytes, where)) {
        connection.close()
        connection = await OracleConnection.open(oracle.port)
      }
    }
  }
})
