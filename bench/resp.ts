// Micro-benchmarks of the protocol layer: parsing a 16-command SET pipeline and writing replies.
//
// Invariants, and why:
// - Each benchmark checks its own result once before timing (a fast wrong parser is worthless),
//   and every timed function consumes its output so the work cannot be optimised away.
// - Figures are ops/s on this machine, printed with the node version and CPU: absolute numbers
//   drift on shared machines, so compare runs made side by side (DESIGN.md, "Performance").
// - redis-parser (a reply parser, which can read this pipeline because arrays of bulks are valid
//   replies too) is timed as a reference point, not as a competitor with the same job.
//
// Run: npx tsc -p . && node dist/bench/resp.js
import os from 'node:os'
import { createRequire } from 'node:module'
import Benchmark from 'benchmark'
import { ProtocolError, RequestReader } from '../src/resp/reader.js'
import { OutputBuffer, encodeReply, formatDouble, reply } from '../src/resp/writer.js'

const require = createRequire(import.meta.url)

interface ReplyParser {
  execute(buffer: Buffer): void
}
type ReplyParserConstructor = new (options: {
  returnReply: (value: unknown) => void
  returnError: (error: unknown) => void
  returnBuffers: boolean
}) => ReplyParser

const PIPELINE_COMMANDS = 16

function setPipeline(): Buffer {
  let text = ''
  for (let i = 0; i < PIPELINE_COMMANDS; i++) {
    const key = `key:${String(i).padStart(6, '0')}`
    const value = `value-${String(i).padStart(10, '0')}`
    text += `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${value.length}\r\n${value}\r\n`
  }
  return Buffer.from(text)
}

const pipeline = setPipeline()
const reader = new RequestReader()
let sink = 0

function parsePipeline(): void {
  reader.feed(pipeline)
  for (;;) {
    const argv = reader.next()
    if (argv === null) break
    if (argv instanceof ProtocolError) throw new Error(argv.message)
    sink += argv.length
  }
}

const splitPoint = Math.floor(pipeline.length / 2) + 3
const firstHalf = pipeline.subarray(0, splitPoint)
const secondHalf = pipeline.subarray(splitPoint)

function parsePipelineInTwoChunks(): void {
  reader.feed(firstHalf)
  let argv = reader.next()
  while (argv !== null) {
    sink += Array.isArray(argv) ? argv.length : 0
    argv = reader.next()
  }
  reader.feed(secondHalf)
  for (argv = reader.next(); argv !== null; argv = reader.next()) {
    sink += Array.isArray(argv) ? argv.length : 0
  }
}

const inlinePipeline = Buffer.from('PING\r\n'.repeat(PIPELINE_COMMANDS))

function parseInlinePipeline(): void {
  reader.feed(inlinePipeline)
  for (let argv = reader.next(); argv !== null; argv = reader.next()) {
    sink += Array.isArray(argv) ? argv.length : 0
  }
}

const Parser = require('redis-parser') as ReplyParserConstructor
const replyParser = new Parser({
  returnReply: (value) => { sink += Array.isArray(value) ? value.length : 1 },
  returnError: (error) => { throw error },
  returnBuffers: true,
})

const out = new OutputBuffer(2)
const values = Array.from({ length: PIPELINE_COMMANDS },
  (_, i) => Buffer.from(`value-${String(i).padStart(10, '0')}`))

function writeOks(): void {
  for (let i = 0; i < PIPELINE_COMMANDS; i++) out.writeOk()
  sink += out.take().length
}

function writeBulks(): void {
  for (const value of values) out.writeBulk(value)
  sink += out.take().length
}

function writeMixed(): void {
  out.writeArrayHeader(PIPELINE_COMMANDS)
  for (let i = 0; i < PIPELINE_COMMANDS; i++) out.writeInteger(i * 1234567)
  out.writeNull()
  out.writeBulk('a string reply')
  out.writeError('ERR something went wrong')
  sink += out.take().length
}

const tree = reply.array(values.map((value) => reply.bulk(value)))

function encodeTree(): void {
  sink += encodeReply(tree, 3).length
}

const doubles = [1.5, 0.1, 3.141592653589793, 1e300, 123.456, 2 ** -25]

function formatDoubles(): void {
  for (const value of doubles) sink += formatDouble(value).length
}

function selfCheck(): void {
  const check = new RequestReader()
  check.feed(pipeline)
  let count = 0
  for (let argv = check.next(); argv !== null; argv = check.next()) {
    if (!Array.isArray(argv) || argv.length !== 3 || argv[0]?.toString() !== 'SET') {
      throw new Error('the pipeline did not parse as 16 SETs')
    }
    count++
  }
  if (count !== PIPELINE_COMMANDS) throw new Error(`parsed ${count} commands`)
  writeOks()
  const probe = new OutputBuffer(2)
  probe.writeOk()
  if (probe.take().toString() !== '+OK\r\n') throw new Error('+OK is wrong')
}

selfCheck()
console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, ` +
  `${os.cpus().length} CPUs`)

const suite = new Benchmark.Suite('resp')
suite
  .add('parse 16-command SET pipeline (one chunk)', parsePipeline)
  .add('parse 16-command SET pipeline (two chunks)', parsePipelineInTwoChunks)
  .add('parse 16 inline PINGs', parseInlinePipeline)
  .add('reference: redis-parser on the same bytes', () => replyParser.execute(pipeline))
  .add('write 16 +OK and take', writeOks)
  .add('write 16 bulk replies and take', writeBulks)
  .add('write array of 16 integers + null + bulk + error', writeMixed)
  .add('encodeReply: array of 16 bulks (RESP3)', encodeTree)
  .add('formatDouble x6', formatDoubles)
  .on('cycle', (event: Benchmark.Event) => {
    const bench = event.target
    const hz = bench.hz ?? 0
    const rme = bench.stats?.rme ?? 0
    const perCommand = bench.name?.includes('16') ? `, ${Math.round(hz * 16).toLocaleString()} ` +
      'commands or replies/s' : ''
    console.log(`${bench.name}: ${Math.round(hz).toLocaleString()} ops/s ` +
      `±${rme.toFixed(1)}%${perCommand}`)
  })
  .on('complete', () => {
    if (sink === -1) console.log('unreachable')
  })
  .run({ async: false })
