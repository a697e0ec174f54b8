// bench/bare: a bare Node RESP server with no storage, the floor under capykv's own cost.
//
// It reads requests with our parser (src/resp/reader.ts), keeps values in a Map, and answers
// the commands redis-benchmark sends (SET GET INCR LPUSH RPUSH LPOP SADD HSET ZADD LRANGE MSET,
// PING, CONFIG GET) with correct RESP, everything else with +OK. No durability, no command
// table, no expiry, no type checks: what it costs is the cost of Node, its sockets and the
// parser. It writes each socket read's replies in one socket.write (the batching any Node
// server can have for free), so the gap between bare and capykv is capykv's own work.
//
// Run: node dist/bench/bare.js --port 6390   (prints "ready <port>" once listening)

import net from 'node:net'
import { ProtocolError, RequestReader } from '../src/resp/reader.js'

/** A list: `front` holds the head reversed (LPUSH appends to it), `back` the tail from `start`. */
class List {
  front: Buffer[] = []
  back: Buffer[] = []
  start = 0
  get length(): number {
    return this.front.length + this.back.length - this.start
  }
  at(i: number): Buffer {
    const f = this.front.length
    return (i < f ? this.front[f - 1 - i] : this.back[this.start + i - f]) as Buffer
  }
  shift(): Buffer | undefined {
    if (this.front.length > 0) return this.front.pop()
    if (this.start >= this.back.length) return undefined
    const item = this.back[this.start++]
    if (this.start > 1024 && this.start * 2 > this.back.length) {
      this.back = this.back.slice(this.start)
      this.start = 0
    }
    return item
  }
}

type Value = Buffer | List | Set<string> | Map<string, Buffer>

const OK = Buffer.from('+OK\r\n')
const NIL = Buffer.from('$-1\r\n')
const CRLF = Buffer.from('\r\n')
const EMPTY_ARRAY = Buffer.from('*0\r\n')

function parseArgs(argv: readonly string[]): { port: number; host: string } {
  let port = 6390
  let host = '127.0.0.1'
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i])
    else if (argv[i] === '--bind') host = String(argv[++i])
  }
  return { port, host }
}

const db = new Map<string, Value>()

function bulk(out: Buffer[], value: Buffer): void {
  out.push(Buffer.from(`$${value.length}\r\n`), value, CRLF)
}

function int(out: Buffer[], n: number): void {
  out.push(Buffer.from(`:${n}\r\n`))
}

function list(key: string): List {
  let v = db.get(key)
  if (!(v instanceof List)) {
    v = new List()
    db.set(key, v)
  }
  return v
}

function execute(argv: Buffer[], out: Buffer[]): void {
  const name = (argv[0] as Buffer).toString('latin1').toLowerCase()
  const key = argv.length > 1 ? (argv[1] as Buffer).toString('latin1') : ''
  switch (name) {
    case 'set':
      db.set(key, argv[2] ?? Buffer.alloc(0))
      out.push(OK)
      return
    case 'mset':
      for (let i = 1; i + 1 < argv.length; i += 2) {
        db.set((argv[i] as Buffer).toString('latin1'), argv[i + 1] as Buffer)
      }
      out.push(OK)
      return
    case 'get': {
      const v = db.get(key)
      if (Buffer.isBuffer(v)) bulk(out, v)
      else out.push(NIL)
      return
    }
    case 'incr': {
      const v = db.get(key)
      const n = (Buffer.isBuffer(v) ? Number(v.toString('latin1')) : 0) + 1
      db.set(key, Buffer.from(String(n)))
      int(out, n)
      return
    }
    case 'lpush': case 'rpush': {
      const l = list(key)
      for (let i = 2; i < argv.length; i++) {
        if (name === 'lpush') l.front.push(argv[i] as Buffer)
        else l.back.push(argv[i] as Buffer)
      }
      int(out, l.length)
      return
    }
    case 'lpop': {
      const v = db.get(key)
      const item = v instanceof List ? v.shift() : undefined
      if (item === undefined) out.push(NIL)
      else bulk(out, item)
      return
    }
    case 'lrange': {
      const v = db.get(key)
      if (!(v instanceof List)) {
        out.push(EMPTY_ARRAY)
        return
      }
      const start = Math.max(0, Number((argv[2] as Buffer).toString('latin1')))
      const stopArg = Number((argv[3] as Buffer).toString('latin1'))
      const stop = stopArg < 0 ? v.length + stopArg : Math.min(stopArg, v.length - 1)
      const count = Math.max(0, stop - start + 1)
      out.push(Buffer.from(`*${count}\r\n`))
      for (let i = start; i <= stop; i++) bulk(out, v.at(i))
      return
    }
    case 'sadd': {
      let s = db.get(key)
      if (!(s instanceof Set)) {
        s = new Set<string>()
        db.set(key, s)
      }
      let added = 0
      for (let i = 2; i < argv.length; i++) {
        const m = (argv[i] as Buffer).toString('latin1')
        if (!s.has(m)) {
          s.add(m)
          added++
        }
      }
      int(out, added)
      return
    }
    case 'hset': case 'zadd': {
      let h = db.get(key)
      if (!(h instanceof Map)) {
        h = new Map<string, Buffer>()
        db.set(key, h)
      }
      let added = 0
      for (let i = 2; i + 1 < argv.length; i += 2) {
        // HSET key field value; ZADD key score member: the map is keyed by field / member.
        const f = (argv[name === 'hset' ? i : i + 1] as Buffer).toString('latin1')
        if (!h.has(f)) added++
        h.set(f, argv[name === 'hset' ? i + 1 : i] as Buffer)
      }
      int(out, added)
      return
    }
    case 'ping':
      out.push(Buffer.from('+PONG\r\n'))
      return
    case 'config': {
      // CONFIG GET name: [name, ""] (redis-benchmark asks for save and appendonly).
      const param = argv[2] ?? Buffer.alloc(0)
      out.push(Buffer.from('*2\r\n'))
      bulk(out, param)
      bulk(out, Buffer.alloc(0))
      return
    }
    default:
      out.push(OK)
  }
}

function serve(socket: net.Socket): void {
  socket.setNoDelay(true)
  const reader = new RequestReader()
  socket.on('data', (chunk: Buffer) => {
    reader.feed(chunk)
    const out: Buffer[] = []
    for (;;) {
      const argv = reader.next()
      if (argv === null) break
      if (argv instanceof ProtocolError) {
        out.push(argv.reply)
        socket.end(Buffer.concat(out))
        return
      }
      execute(argv, out)
    }
    if (out.length > 0) socket.write(out.length === 1 ? out[0] as Buffer : Buffer.concat(out))
  })
  socket.on('error', () => socket.destroy())
}

const { port, host } = parseArgs(process.argv.slice(2))
const server = net.createServer(serve)
server.listen(port, host, () => process.stdout.write(`ready ${port}\n`))
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close()
    process.exit(0)
  })
}
