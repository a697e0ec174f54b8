// bench/bare: the floor — how little CPU per request a RESP server on Node's own `net` can spend.
// It is the reference line in every bench table (bench/compare.ts, bench/ab.ts): the gap between
// it and Redis is Node's, the gap between capykv and it is capykv's own.
//
// Run: node dist/bench/bare.js --port 6390 [--mode kv|net]   (prints "ready <port>")
//
// What it does, per socket read (the lean loop of issue 15, stage 1):
// - every socket reads into ONE static 64 KiB buffer through net.Socket's `onread` option (no
//   Buffer, push or 'data' emit per read; the accepted handle moves into a new net.Socket the
//   way src/server.ts's adoptSocket does it);
// - RESP framing with no allocation: argument offsets and lengths go into two preallocated
//   Int32Arrays, the command is looked up by its folded bytes packed into a number;
// - replies are serialized into one preallocated output buffer, and the read's replies leave in
//   ONE socket.write of a fresh copy (the copy is needed: a write that does not complete at once
//   keeps its buffer, so the shared output buffer cannot be handed out);
// - a request split across reads is carried over in a per-connection buffer (allocated on the
//   first split only, grown by doubling), so any client works, not only well-aligned ones.
// Modes:
// - kv (default): SET, GET, INCR, MSET, EXISTS and DEL work on an open-addressing string table
//   over typed arrays (key hash, key bytes inline up to 32 bytes else in an arena, value bytes in
//   an arena, rewritten in place when they fit). This is the floor for a string keyspace.
// - net: framing only; SET answers +OK, GET a fixed bulk of the requested size: the network floor.
// In both modes every other command redis-benchmark sends (LPUSH, RPUSH, LPOP, RPOP, SADD, SPOP,
// HSET, ZADD, LRANGE …) gets a canned reply of the right type and size and does NO work: for those
// tests the floor line is the cost of the network and the framing only, never of a data structure.
// Not a product: no expiry, no errors beyond framing, no durability, no DB selection; the value
// arena never compacts (a value that outgrows its slot moves to the arena's end).
//
// Invariants, and why:
// - No allocation per request on any path above (bytes allocated per request is what the
//   stage-2 work measures capykv against); per read: one reply copy and nothing else.
// - The static read buffer is consumed before the callback returns (a leftover partial request
//   is copied out), so the next read of any socket may overwrite it.

import net from 'node:net'

const READ_BUFFER_BYTES = 64 * 1024
/** Arguments per request the framing accepts (redis-benchmark's MSET sends 21). */
const ARGS_MAX = 4096
/** Output is written out once it passes this, so a read of many big replies stays bounded. */
const OUT_FLUSH_BYTES = 256 * 1024
/** A bulk argument larger than this is a protocol error (Redis: proto-max-bulk-len, 512 MB). */
const BULK_MAX = 512 * 1024 * 1024

type Mode = 'kv' | 'net'

function parseArgs(argv: readonly string[]): { port: number; host: string; mode: Mode } {
  let port = 6390
  let host = '127.0.0.1'
  let mode: Mode = 'kv'
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i])
    else if (argv[i] === '--bind') host = String(argv[++i])
    else if (argv[i] === '--mode') {
      const m = argv[++i]
      if (m !== 'kv' && m !== 'net') throw new Error(`--mode kv|net, not ${m}`)
      mode = m
    }
  }
  return { port, host, mode }
}

// ---- the string table (mode kv) --------------------------------------------------------------

const KEY_INLINE = 32

/**
 * Open addressing with linear probing over typed arrays. Slot i: hash[i] (0 = empty; stored
 * hashes are odd, so never 0), keyLen[i], key bytes at keys[i*32] when ≤ 32 bytes else at
 * keyArena[keyOff[i]], value bytes at values[valOff[i]] with capacity valCap[i]. Doubles (one
 * rehash) when over half full: rare, and the floor's keyspace is bounded by redis-benchmark's -r.
 */
class StringTable {
  mask: number
  count = 0
  hash: Int32Array
  keyLen: Int32Array
  keyOff: Int32Array
  keys: Uint8Array
  valOff: Int32Array
  valLen: Int32Array
  valCap: Int32Array
  keyArena = new Uint8Array(1 << 16)
  keyArenaUsed = 0
  values = new Uint8Array(1 << 22)
  valuesUsed = 0

  constructor(slotsLog2 = 18) {
    const n = 1 << slotsLog2
    this.mask = n - 1
    this.hash = new Int32Array(n)
    this.keyLen = new Int32Array(n)
    this.keyOff = new Int32Array(n)
    this.keys = new Uint8Array(n * KEY_INLINE)
    this.valOff = new Int32Array(n)
    this.valLen = new Int32Array(n)
    this.valCap = new Int32Array(n)
  }

  /** FNV-1a of the key, made odd (0 marks an empty slot). */
  static hashOf(src: Uint8Array, off: number, len: number): number {
    let h = 0x811c9dc5
    for (let i = 0; i < len; i++) h = Math.imul(h ^ (src[off + i] as number), 0x01000193)
    return h | 1
  }

  /** The home slot of stored hash `h`: its bits above bit 0 (bit 0 is always set), mixed. */
  home(h: number): number {
    return ((h >>> 1) ^ (h >>> 17)) & this.mask
  }

  private keyEquals(slot: number, src: Uint8Array, off: number, len: number): boolean {
    if (this.keyLen[slot] !== len) return false
    const bytes = len <= KEY_INLINE ? this.keys : this.keyArena
    const base = len <= KEY_INLINE ? slot * KEY_INLINE : this.keyOff[slot] as number
    for (let i = 0; i < len; i++) if (bytes[base + i] !== src[off + i]) return false
    return true
  }

  /** The slot holding the key, or -1. */
  find(src: Uint8Array, off: number, len: number): number {
    const h = StringTable.hashOf(src, off, len)
    const mask = this.mask
    for (let i = this.home(h); ; i = (i + 1) & mask) {
      const s = this.hash[i] as number
      if (s === 0) return -1
      if (s === h && this.keyEquals(i, src, off, len)) return i
    }
  }

  /** The key's slot, made (with an empty value) if it was absent. */
  upsert(src: Uint8Array, off: number, len: number): number {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow()
    const h = StringTable.hashOf(src, off, len)
    const mask = this.mask
    let i = this.home(h)
    for (; ; i = (i + 1) & mask) {
      const s = this.hash[i] as number
      if (s === 0) break
      if (s === h && this.keyEquals(i, src, off, len)) return i
    }
    this.hash[i] = h
    this.keyLen[i] = len
    if (len <= KEY_INLINE) {
      this.keys.set(src.subarray(off, off + len), i * KEY_INLINE)
    } else {
      this.keyArena = ensure(this.keyArena, this.keyArenaUsed + len)
      this.keyArena.set(src.subarray(off, off + len), this.keyArenaUsed)
      this.keyOff[i] = this.keyArenaUsed
      this.keyArenaUsed += len
    }
    this.valLen[i] = 0
    this.valCap[i] = 0
    this.count++
    return i
  }

  /** Copies the value in, in place when it fits its slot's capacity. */
  setValue(slot: number, src: Uint8Array, off: number, len: number): void {
    if (len > (this.valCap[slot] as number)) {
      const cap = len < 24 ? 24 : len
      this.values = ensure(this.values, this.valuesUsed + cap)
      this.valOff[slot] = this.valuesUsed
      this.valCap[slot] = cap
      this.valuesUsed += cap
    }
    // A copy loop: `set(subarray(...))` would allocate a view per call.
    const v = this.values
    const base = this.valOff[slot] as number
    for (let i = 0; i < len; i++) v[base + i] = src[off + i] as number
    this.valLen[slot] = len
  }

  /** Removes the slot's key, moving later entries of its probe run back (no tombstones). */
  remove(slot: number): void {
    const mask = this.mask
    let hole = slot
    for (let j = (slot + 1) & mask; this.hash[j] !== 0; j = (j + 1) & mask) {
      const home = this.home(this.hash[j] as number)
      // j may move into the hole only if its home is not in (hole, j] (cyclically).
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j
      if (between) continue
      this.moveSlot(j, hole)
      hole = j
    }
    this.hash[hole] = 0
    this.count--
  }

  private moveSlot(from: number, to: number): void {
    this.hash[to] = this.hash[from] as number
    this.keyLen[to] = this.keyLen[from] as number
    this.keyOff[to] = this.keyOff[from] as number
    this.keys.copyWithin(to * KEY_INLINE, from * KEY_INLINE, from * KEY_INLINE + KEY_INLINE)
    this.valOff[to] = this.valOff[from] as number
    this.valLen[to] = this.valLen[from] as number
    this.valCap[to] = this.valCap[from] as number
  }

  private grow(): void {
    const old = { hash: this.hash, keyLen: this.keyLen, keyOff: this.keyOff, keys: this.keys,
      valOff: this.valOff, valLen: this.valLen, valCap: this.valCap }
    const n = (this.mask + 1) * 2
    this.mask = n - 1
    this.hash = new Int32Array(n)
    this.keyLen = new Int32Array(n)
    this.keyOff = new Int32Array(n)
    this.keys = new Uint8Array(n * KEY_INLINE)
    this.valOff = new Int32Array(n)
    this.valLen = new Int32Array(n)
    this.valCap = new Int32Array(n)
    for (let j = 0; j < old.hash.length; j++) {
      const h = old.hash[j] as number
      if (h === 0) continue
      let i = this.home(h)
      while (this.hash[i] !== 0) i = (i + 1) & this.mask
      this.hash[i] = h
      this.keyLen[i] = old.keyLen[j] as number
      this.keyOff[i] = old.keyOff[j] as number
      this.keys.set(old.keys.subarray(j * KEY_INLINE, (j + 1) * KEY_INLINE), i * KEY_INLINE)
      this.valOff[i] = old.valOff[j] as number
      this.valLen[i] = old.valLen[j] as number
      this.valCap[i] = old.valCap[j] as number
    }
  }
}

function ensure<T extends Uint8Array>(a: T, size: number): T {
  if (size <= a.length) return a
  let n = a.length * 2
  while (n < size) n *= 2
  const b = new Uint8Array(n) as T
  b.set(a)
  return b
}

// ---- replies ---------------------------------------------------------------------------------

let out = Buffer.allocUnsafe(1 << 20)
let outLen = 0

function reserve(n: number): void {
  if (outLen + n <= out.length) return
  let size = out.length * 2
  while (size < outLen + n) size *= 2
  const bigger = Buffer.allocUnsafe(size)
  bigger.set(out.subarray(0, outLen))
  out = bigger
}

function putAscii(s: string): void {
  reserve(s.length)
  for (let i = 0; i < s.length; i++) out[outLen++] = s.charCodeAt(i)
}

function putBytes(src: Uint8Array, off: number, len: number): void {
  reserve(len)
  for (let i = 0; i < len; i++) out[outLen + i] = src[off + i] as number
  outLen += len
}

/** Writes `n` (a safe integer) in decimal without a string. */
function putInt(n: number): void {
  reserve(24)
  if (n < 0) {
    out[outLen++] = 45
    n = -n
  }
  if (n === 0) {
    out[outLen++] = 48
    return
  }
  let digits = 0
  for (let m = n; m > 0; m = Math.floor(m / 10)) digits++
  for (let i = digits - 1; i >= 0; i--) {
    out[outLen + i] = 48 + (n % 10)
    n = Math.floor(n / 10)
  }
  outLen += digits
}

function putCrlf(): void {
  reserve(2)
  out[outLen++] = 13
  out[outLen++] = 10
}

function replyInt(n: number): void {
  reserve(1)
  out[outLen++] = 58 // ':'
  putInt(n)
  putCrlf()
}

function replyBulk(src: Uint8Array, off: number, len: number): void {
  reserve(1)
  out[outLen++] = 36 // '$'
  putInt(len)
  putCrlf()
  putBytes(src, off, len)
  putCrlf()
}

const OK = Buffer.from('+OK\r\n')
const NIL = Buffer.from('$-1\r\n')
const PONG = Buffer.from('+PONG\r\n')
const EMPTY_ARRAY = Buffer.from('*0\r\n')
/** The canned bulk reply of a `fillerLen`-byte value ('x' × -d, as redis-benchmark sends). */
let filler = Buffer.from('$3\r\nxxx\r\n')
let fillerLen = 3

function replyConst(b: Buffer): void {
  putBytes(b, 0, b.length)
}

/** A bulk of `len` filler bytes (a canned value of the benchmark's value size), one memcpy. */
function replyFiller(len: number): void {
  if (len !== fillerLen) {
    filler = Buffer.from(`$${len}\r\n${'x'.repeat(len)}\r\n`)
    fillerLen = len
  }
  reserve(filler.length)
  out.set(filler, outLen)
  outLen += filler.length
}

// ---- command lookup by folded bytes ----------------------------------------------------------

/** A name of up to 6 bytes, ASCII-lowercased, packed into a number (< 2^48); -1 if longer. */
function nameCode(src: Uint8Array, off: number, len: number): number {
  if (len > 6) return -1
  let code = 0
  for (let i = 0; i < len; i++) code = code * 256 + ((src[off + i] as number) | 0x20)
  return code
}

function codeOf(name: string): number {
  const b = Buffer.from(name)
  return nameCode(b, 0, b.length)
}

const C = {
  get: codeOf('get'), set: codeOf('set'), incr: codeOf('incr'), mset: codeOf('mset'),
  del: codeOf('del'), exists: codeOf('exists'), ping: codeOf('ping'), config: codeOf('config'),
  lpush: codeOf('lpush'), rpush: codeOf('rpush'), lpop: codeOf('lpop'), rpop: codeOf('rpop'),
  sadd: codeOf('sadd'), spop: codeOf('spop'), hset: codeOf('hset'), zadd: codeOf('zadd'),
  lrange: codeOf('lrange'), mget: codeOf('mget'),
}

// ---- framing and execution -------------------------------------------------------------------

const argOff = new Int32Array(ARGS_MAX)
const argLen = new Int32Array(ARGS_MAX)
/** The value size the last SET/MSET carried: net mode's GET and the canned pops answer with it. */
let lastValueLen = 3

/** Parses a decimal integer argument; NaN when it is not one. */
function argInt(src: Uint8Array, i: number): number {
  const off = argOff[i] as number
  const len = argLen[i] as number
  if (len === 0 || len > 18) return NaN
  let k = 0
  let neg = false
  if (src[off] === 45) {
    neg = true
    k = 1
    if (len === 1) return NaN
  }
  let n = 0
  for (; k < len; k++) {
    const c = (src[off + k] as number) - 48
    if (c < 0 || c > 9) return NaN
    n = n * 10 + c
  }
  return neg ? -n : n
}

function execute(table: StringTable | null, src: Uint8Array, argc: number): void {
  const code = nameCode(src, argOff[0] as number, argLen[0] as number)
  const k = argOff[1] as number
  const kl = argLen[1] as number
  switch (code) {
    case C.set: {
      if (argc < 3) break
      lastValueLen = argLen[2] as number
      if (table !== null) table.setValue(table.upsert(src, k, kl), src, argOff[2] as number, lastValueLen)
      replyConst(OK)
      return
    }
    case C.mset: {
      if (argc < 3) break
      for (let i = 1; i + 1 < argc; i += 2) {
        lastValueLen = argLen[i + 1] as number
        if (table !== null) {
          table.setValue(table.upsert(src, argOff[i] as number, argLen[i] as number), src,
            argOff[i + 1] as number, lastValueLen)
        }
      }
      replyConst(OK)
      return
    }
    case C.get: {
      if (argc < 2) break
      if (table === null) {
        replyFiller(lastValueLen)
        return
      }
      const slot = table.find(src, k, kl)
      if (slot < 0) replyConst(NIL)
      else replyBulk(table.values, table.valOff[slot] as number, table.valLen[slot] as number)
      return
    }
    case C.incr: {
      if (argc < 2) break
      if (table === null) {
        replyInt(1)
        return
      }
      const slot = table.upsert(src, k, kl)
      let n = 0
      const base = table.valOff[slot] as number
      const len = table.valLen[slot] as number
      const v = table.values
      for (let i = len > 0 && v[base] === 45 ? 1 : 0; i < len; i++) n = n * 10 + (v[base + i] as number) - 48
      if (len > 0 && v[base] === 45) n = -n
      n++
      // The new value's digits straight into the slot (capacity ≥ 24 bytes).
      const mark = outLen
      putInt(n)
      table.setValue(slot, out, mark, outLen - mark)
      outLen = mark
      replyInt(n)
      return
    }
    case C.del: case C.exists: {
      let hits = 0
      for (let i = 1; i < argc; i++) {
        const slot = table === null ? -1 : table.find(src, argOff[i] as number, argLen[i] as number)
        if (slot < 0) continue
        hits++
        if (code === C.del) (table as StringTable).remove(slot)
      }
      replyInt(hits)
      return
    }
    case C.mget: {
      reserve(16)
      out[outLen++] = 42 // '*'
      putInt(argc - 1)
      putCrlf()
      for (let i = 1; i < argc; i++) {
        const slot = table === null ? -1 : table.find(src, argOff[i] as number, argLen[i] as number)
        if (slot < 0) replyConst(NIL)
        else replyBulk(table!.values, table!.valOff[slot] as number, table!.valLen[slot] as number)
      }
      return
    }
    case C.ping:
      replyConst(PONG)
      return
    case C.config: {
      // CONFIG GET name → [name, ""] (redis-benchmark asks for save and appendonly).
      if (argc < 3) break
      putAscii('*2\r\n')
      replyBulk(src, argOff[2] as number, argLen[2] as number)
      putAscii('$0\r\n\r\n')
      return
    }
    // Canned replies of the right type and size, no work (see the top comment).
    case C.lpush: case C.rpush: case C.sadd: case C.hset: case C.zadd:
      replyInt(1)
      return
    case C.lpop: case C.rpop: case C.spop:
      replyFiller(lastValueLen)
      return
    case C.lrange: {
      const start = argc > 2 ? argInt(src, 2) : 0
      const stop = argc > 3 ? argInt(src, 3) : -1
      const count = start >= 0 && stop >= start ? stop - start + 1 : 0
      if (count === 0) {
        replyConst(EMPTY_ARRAY)
        return
      }
      reserve(16)
      out[outLen++] = 42
      putInt(count)
      putCrlf()
      for (let i = 0; i < count; i++) replyFiller(lastValueLen)
      return
    }
    default:
      replyConst(OK)
      return
  }
  putAscii('-ERR wrong number of arguments\r\n')
}

/** A protocol error: reply (Redis's text) and close. */
class Framing {
  error = ''
}

/**
 * Frames and executes every complete request in src[from, end); returns where the first
 * incomplete request starts (end when none), or -1 after a protocol error (framing.error set).
 */
function run(table: StringTable | null, src: Uint8Array, from: number, end: number,
  framing: Framing): number {
  let p = from
  for (;;) {
    if (p >= end) return p
    const start = p
    if (src[p] !== 42) { // '*'
      framing.error = 'Protocol error: expected \'*\', got something else'
      return -1
    }
    // *<argc>\r\n
    let argc = 0
    p++
    while (p < end && src[p] !== 13) {
      const c = (src[p] as number) - 48
      if (c < 0 || c > 9 || argc > ARGS_MAX) {
        framing.error = 'Protocol error: invalid multibulk length'
        return -1
      }
      argc = argc * 10 + c
      p++
    }
    if (p + 1 >= end) return start
    p += 2
    if (argc === 0) continue
    if (argc > ARGS_MAX) {
      framing.error = 'Protocol error: invalid multibulk length'
      return -1
    }
    let complete = true
    for (let a = 0; a < argc; a++) {
      if (p >= end) {
        complete = false
        break
      }
      if (src[p] !== 36) { // '$'
        framing.error = `Protocol error: expected '$', got '${String.fromCharCode(src[p] as number)}'`
        return -1
      }
      p++
      let len = 0
      while (p < end && src[p] !== 13) {
        const c = (src[p] as number) - 48
        if (c < 0 || c > 9 || len > BULK_MAX) {
          framing.error = 'Protocol error: invalid bulk length'
          return -1
        }
        len = len * 10 + c
        p++
      }
      if (p + 1 >= end || p + 2 + len + 2 > end) {
        complete = false
        break
      }
      p += 2
      argOff[a] = p
      argLen[a] = len
      p += len + 2
    }
    if (!complete) return start
    execute(table, src, argc)
    if (outLen > OUT_FLUSH_BYTES) return p
  }
}

// ---- sockets ---------------------------------------------------------------------------------

const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES)

class Conn {
  /** A partial request carried to the next read (allocated at the first split). */
  carry: Uint8Array | null = null
  carryLen = 0
  closing = false
  readonly framing = new Framing()
  constructor(readonly socket: net.Socket, readonly table: StringTable | null) {}

  flush(): void {
    if (outLen === 0) return
    const copy = Buffer.allocUnsafe(outLen)
    copy.set(out.subarray(0, outLen))
    outLen = 0
    this.socket.write(copy)
  }

  onRead(nread: number): void {
    let src: Uint8Array = readBuffer
    let end = nread
    if (this.carryLen > 0) {
      const carry = ensure(this.carry as Uint8Array, this.carryLen + nread)
      carry.set(readBuffer.subarray(0, nread), this.carryLen)
      this.carry = carry
      src = carry
      end = this.carryLen + nread
    }
    if (this.closing) return
    let p = 0
    // run() stops early once the output passes OUT_FLUSH_BYTES: write it out and go on.
    for (;;) {
      const q = run(this.table, src, p, end, this.framing)
      if (q < 0) {
        putAscii(`-ERR ${this.framing.error}\r\n`)
        this.flush()
        this.closing = true
        this.socket.end()
        return
      }
      const progressed = q !== p
      p = q
      if (outLen <= OUT_FLUSH_BYTES || !progressed || p === end) break
      this.flush()
    }
    this.flush()
    const rest = end - p
    if (rest === 0) {
      this.carryLen = 0
    } else if (src === readBuffer) {
      this.carry = ensure(this.carry ?? new Uint8Array(1024), rest)
      this.carry.set(readBuffer.subarray(p, end))
      this.carryLen = rest
    } else {
      (this.carry as Uint8Array).copyWithin(0, p, end)
      this.carryLen = rest
    }
  }
}

function adopt(accepted: net.Socket, table: StringTable | null): void {
  const internal = accepted as unknown as { _handle: object | null }
  const handle = internal._handle
  if (handle === null || accepted.destroyed) return
  internal._handle = null
  accepted.destroy()
  let conn: Conn | null = null
  const socket = new net.Socket({
    handle, readable: true, writable: true,
    onread: { buffer: readBuffer, callback: (nread: number) => { conn?.onRead(nread) } },
  } as net.SocketConstructorOpts)
  conn = new Conn(socket, table)
  socket.setNoDelay(true)
  socket.on('error', () => socket.destroy())
}

const { port, host, mode } = parseArgs(process.argv.slice(2))
const table = mode === 'kv' ? new StringTable() : null
const server = net.createServer({ pauseOnConnect: true }, (s) => adopt(s, table))
server.listen(port, host, () => process.stdout.write(`ready ${port} (mode ${mode})\n`))
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close()
    process.exit(0)
  })
}
