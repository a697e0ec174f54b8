// RESP helpers for the differential tests: encode a request, cut a byte stream into whole
// replies (RESP2 and RESP3, raw bytes kept so replies compare byte for byte), and parse a reply
// into a value tree when a comparison must look inside (multisets, TTL tolerance).
// RESP2 values are parsed with the `redis-parser` package (returnBuffers); RESP3 types, which
// redis-parser does not know, with the small parser below. Both are iterative over the input,
// so a deep reply cannot overflow the stack.
import RedisParser from 'redis-parser'

export type Arg = string | Buffer

export function encodeCommand(argv: readonly Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)]
  for (const arg of argv) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg, 'utf8') : arg
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/** Length of the first complete reply in buf[start..], or -1 when incomplete. */
export function replyLength(buf: Buffer, start = 0): number {
  let pos = start
  let pending = 1 // replies still to read
  while (pending > 0) {
    const lineEnd = buf.indexOf('\r\n', pos)
    if (lineEnd < 0) return -1
    const type = buf[pos] as number
    const header = buf.toString('latin1', pos + 1, lineEnd)
    pos = lineEnd + 2
    pending--
    switch (String.fromCharCode(type)) {
      case '$': case '=': case '!': {
        const n = Number(header)
        if (n >= 0) {
          pos += n + 2
          if (pos > buf.length) return -1
        }
        break
      }
      case '*': case '~': case '>': {
        const n = Number(header)
        if (n > 0) pending += n
        break
      }
      case '%': case '|': {
        const n = Number(header)
        if (n > 0) pending += 2 * n
        break
      }
      default: break // + - : _ , # ( : one line
    }
  }
  return pos - start
}

/** Cuts an incoming byte stream into whole replies. */
export class ReplyFramer {
  private buf: Buffer = Buffer.alloc(0)
  feed(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
  }
  next(): Buffer | null {
    if (this.buf.length === 0) return null
    const n = replyLength(this.buf)
    if (n < 0) return null
    const reply = Buffer.from(this.buf.subarray(0, n))
    this.buf = this.buf.subarray(n)
    return reply
  }
}

/** A parsed reply: strings as Buffers, errors as {error}, nulls as null, aggregates as arrays. */
export type Value = null | number | bigint | Buffer | { error: string } | { map: Value[] } |
  { set: Value[] } | { double: string } | boolean | Value[]

/** Parse one whole RESP2 reply with redis-parser. */
export function parseResp2(reply: Buffer): Value {
  let out: Value = null
  let done = false
  const parser = new RedisParser({
    returnBuffers: true,
    returnReply: (v: unknown) => { out = v as Value; done = true },
    returnError: (e: Error) => { out = { error: e.message }; done = true },
    returnFatalError: (e: Error) => { throw e },
  })
  parser.execute(reply)
  if (!done) throw new Error(`incomplete RESP2 reply: ${reply.toString('latin1')}`)
  return out
}

/** Parse one whole reply, RESP2 or RESP3 (iterative). */
export function parseReply(reply: Buffer): Value {
  const first = String.fromCharCode(reply[0] as number)
  if ('+-:$*'.includes(first) && !reply.includes('\r\n_') && !/[%~,#>|(]/.test(first)) {
    try {
      return parseResp2(reply)
    } catch {
      // fall through to the RESP3 parser (e.g. a RESP3 type nested in an array)
    }
  }
  return parseResp3(reply)
}

function parseResp3(reply: Buffer): Value {
  let pos = 0
  const stack: { kind: 'array' | 'map' | 'set'; left: number; items: Value[] }[] = []
  let result: Value | undefined
  const push = (v: Value): void => {
    let value = v
    for (;;) {
      const top = stack[stack.length - 1]
      if (top === undefined) {
        result = value
        return
      }
      top.items.push(value)
      top.left--
      if (top.left > 0) return
      stack.pop()
      value = top.kind === 'map' ? { map: top.items } : top.kind === 'set' ? { set: top.items }
        : top.items
    }
  }
  while (result === undefined) {
    const lineEnd = reply.indexOf('\r\n', pos)
    const type = String.fromCharCode(reply[pos] as number)
    const line = reply.subarray(pos + 1, lineEnd)
    pos = lineEnd + 2
    const text = line.toString('latin1')
    switch (type) {
      case '+': push(Buffer.from(line)); break
      case '-': push({ error: text }); break
      case ':': push(Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text)); break
      case '_': push(null); break
      case ',': push({ double: text }); break
      case '#': push(text === 't'); break
      case '(': push(BigInt(text)); break
      case '$': case '=': case '!': {
        const n = Number(text)
        if (n < 0) push(null)
        else {
          const body = Buffer.from(reply.subarray(pos, pos + n))
          pos += n + 2
          push(type === '!' ? { error: body.toString('latin1') } : body)
        }
        break
      }
      case '*': case '~': case '>': case '%': case '|': {
        const n = Number(text)
        const kind = type === '%' || type === '|' ? 'map' : type === '~' ? 'set' : 'array'
        const count = kind === 'map' ? 2 * n : n
        if (n < 0) push(null)
        else if (count === 0) push(kind === 'map' ? { map: [] } : kind === 'set' ? { set: [] } : [])
        else stack.push({ kind, left: count, items: [] })
        break
      }
      default: throw new Error(`bad reply type ${JSON.stringify(type)}`)
    }
  }
  return result
}

/** A printable form of a reply's bytes (for failure messages). */
export function show(reply: Buffer | undefined): string {
  if (reply === undefined) return '<none>'
  const text = reply.toString('latin1')
  return JSON.stringify(text.length > 400 ? text.slice(0, 400) + '…' : text)
}
