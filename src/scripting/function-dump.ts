// FUNCTION DUMP / RESTORE payloads in Redis's format (so a dump taken from redis-server restores
// here and the other way round): for each library, the RDB opcode FUNCTION2 (245) and the
// library's whole source as an RDB string, then the RDB version (10, u16 little-endian) and a
// CRC-64 (Jones polynomial, reflected, as Redis's crc64.c computes it) of everything before it,
// little-endian. RDB strings read here: plain (length-prefixed, the 6/14/32/64-bit length
// encodings) and LZF-compressed (Redis compresses strings over 20 bytes); written: plain.

const RDB_OPCODE_FUNCTION2 = 245
const RDB_VERSION = 10

const CRC_TABLE: bigint[] = (() => {
  const poly = 0x95ac9329ac4bc9b5n // 0xad93d23594c935a9 reflected
  const table: bigint[] = []
  for (let i = 0n; i < 256n; i++) {
    let crc = i
    for (let j = 0; j < 8; j++) crc = (crc & 1n) !== 0n ? (crc >> 1n) ^ poly : crc >> 1n
    table.push(crc)
  }
  return table
})()

/** Redis's crc64 (crc64(0, p, len)). */
export function crc64Jones(data: Uint8Array): bigint {
  let crc = 0n
  for (const b of data) crc = (CRC_TABLE[Number((crc ^ BigInt(b)) & 0xffn)] as bigint) ^ (crc >> 8n)
  return crc
}

function rdbLength(n: number): Buffer {
  if (n < 64) return Buffer.from([n])
  if (n < 16384) return Buffer.from([0x40 | (n >> 8), n & 0xff])
  const b = Buffer.alloc(5)
  b[0] = 0x80
  b.writeUInt32BE(n, 1)
  return b
}

/** The payload FUNCTION DUMP replies for these library sources. */
export function dumpLibraries(payloads: readonly Buffer[]): Buffer {
  const parts: Buffer[] = []
  for (const p of payloads) parts.push(Buffer.from([RDB_OPCODE_FUNCTION2]), rdbLength(p.length), p)
  const footer = Buffer.alloc(2)
  footer.writeUInt16LE(RDB_VERSION)
  parts.push(footer)
  const body = Buffer.concat(parts)
  const crc = Buffer.alloc(8)
  crc.writeBigUInt64LE(crc64Jones(body))
  return Buffer.concat([body, crc])
}

/** Redis's verifyDumpPayload: version not newer than ours, checksum right. */
export function verifyDumpPayload(p: Buffer): boolean {
  if (p.length < 10) return false
  const footer = p.length - 10
  if (p.readUInt16LE(footer) > RDB_VERSION) return false
  return p.readBigUInt64LE(footer + 2) === crc64Jones(p.subarray(0, p.length - 8))
}

class Reader {
  pos = 0
  constructor(readonly buf: Buffer, readonly end: number) {}

  byte(): number | null {
    return this.pos < this.end ? this.buf[this.pos++] as number : null
  }

  /** An RDB length; `encoded` set for the special string encodings (0xC0…). */
  length(): { n: number; encoded: boolean } | null {
    const first = this.byte()
    if (first === null) return null
    const kind = first >> 6
    if (kind === 0) return { n: first & 0x3f, encoded: false }
    if (kind === 1) {
      const second = this.byte()
      return second === null ? null : { n: ((first & 0x3f) << 8) | second, encoded: false }
    }
    if (kind === 3) return { n: first & 0x3f, encoded: true }
    if (first === 0x80) {
      if (this.pos + 4 > this.end) return null
      const n = this.buf.readUInt32BE(this.pos)
      this.pos += 4
      return { n, encoded: false }
    }
    if (first === 0x81) {
      if (this.pos + 8 > this.end) return null
      const n = Number(this.buf.readBigUInt64BE(this.pos))
      this.pos += 8
      return { n, encoded: false }
    }
    return null
  }

  bytes(n: number): Buffer | null {
    if (n < 0 || this.pos + n > this.end) return null
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }

  /** An RDB string (plain, integer-encoded or LZF-compressed). */
  string(): Buffer | null {
    const len = this.length()
    if (len === null) return null
    if (!len.encoded) return this.bytes(len.n)
    switch (len.n) {
      case 0: { const b = this.bytes(1); return b === null ? null : Buffer.from(String(b.readInt8(0))) }
      case 1: { const b = this.bytes(2); return b === null ? null : Buffer.from(String(b.readInt16LE(0))) }
      case 2: { const b = this.bytes(4); return b === null ? null : Buffer.from(String(b.readInt32LE(0))) }
      case 3: {
        const clen = this.length()
        const ulen = this.length()
        if (clen === null || ulen === null || clen.encoded || ulen.encoded) return null
        const compressed = this.bytes(clen.n)
        return compressed === null ? null : lzfDecompress(compressed, ulen.n)
      }
      default: return null
    }
  }
}

/** LZF decompression (liblzf's format, as Redis writes compressed RDB strings). */
function lzfDecompress(input: Buffer, outLength: number): Buffer | null {
  const out = Buffer.alloc(outLength)
  let ip = 0
  let op = 0
  while (ip < input.length) {
    let ctrl = input[ip++] as number
    if (ctrl < 32) {
      ctrl++
      if (op + ctrl > outLength || ip + ctrl > input.length) return null
      input.copy(out, op, ip, ip + ctrl)
      op += ctrl
      ip += ctrl
    } else {
      let len = ctrl >> 5
      let ref = op - ((ctrl & 0x1f) << 8) - 1
      if (len === 7) {
        if (ip >= input.length) return null
        len += input[ip++] as number
      }
      if (ip >= input.length) return null
      ref -= input[ip++] as number
      len += 2
      if (ref < 0 || op + len > outLength) return null
      for (let i = 0; i < len; i++) out[op++] = out[ref++] as number
    }
  }
  return op === outLength ? out : null
}

/** The library sources of a verified payload, or Redis's error text. */
export function parseDumpPayload(p: Buffer): { libraries: Buffer[] } | { error: string } {
  const r = new Reader(p, p.length - 10)
  const libraries: Buffer[] = []
  while (r.pos < r.end) {
    const type = r.byte()
    if (type === null) return { error: 'can not read data type' }
    if (type !== RDB_OPCODE_FUNCTION2) return { error: 'given type is not a function' }
    const lib = r.string()
    if (lib === null) return { error: 'Failed loading library payload' }
    libraries.push(Buffer.from(lib))
  }
  return { libraries }
}
