// Little-endian byte writer and bounds-checked reader for the durable formats. Keys and hash
// fields travel as latin1 strings (one char per byte, so any binary key round-trips); values
// are Buffers. The reader never reads past its end: a short or malformed payload throws
// DecodeError, which recovery reports as corruption (it can only happen to bytes whose CRC
// verified if the format code has a bug, or on an undetected corruption).

export class DecodeError extends Error {
  override name = 'DecodeError'
}

/** Strings up to this length are encoded by a JS loop (measured: ~3 ns a char, ~100 ns a call). */
const SHORT_STRING_CHARS = 48

/** Past this, ByteWriter grows to what it needs (plus the slack), not to a power of two. */
const EXACT_GROWTH_BYTES = 4 * 1024 * 1024
const EXACT_GROWTH_SLACK_BYTES = 64 * 1024

export class ByteWriter {
  buf: Buffer
  length = 0
  constructor(initialBytes = 4096) {
    this.buf = Buffer.alloc(initialBytes)
  }
  reset(): void {
    this.length = 0
  }
  ensure(extra: number): void {
    const need = this.length + extra
    if (need <= this.buf.length) return
    let next: Buffer
    if (need > EXACT_GROWTH_BYTES) {
      // A big value: its size and some slack, not the next power of two (a 512 MiB value made a
      // zeroed 1 GiB buffer, issue 19), not zeroed (every byte below `length` is written).
      next = Buffer.allocUnsafeSlow(need + EXACT_GROWTH_SLACK_BYTES)
    } else {
      let size = this.buf.length * 2
      while (size < need) size *= 2
      next = Buffer.alloc(size)
    }
    next.set(this.buf.subarray(0, this.length), 0)
    this.buf = next
  }
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.length++] = v
  }
  u32(v: number): void {
    this.ensure(4)
    this.buf.writeUInt32LE(v, this.length)
    this.length += 4
  }
  /** Unsigned LEB128, up to 2^53 - 1. */
  varuint(v: number): void {
    this.ensure(8)
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80
      v = Math.floor(v / 0x80)
    }
    this.buf[this.length++] = v
  }
  f64(v: number): void {
    this.ensure(8)
    this.buf.writeDoubleLE(v, this.length)
    this.length += 8
  }
  /** A signed integer of up to 53 bits, as a double (exact). */
  i53(v: number): void {
    this.f64(v)
  }
  bytes(b: Buffer): void {
    this.varuint(b.length)
    this.ensure(b.length)
    // TypedArray.set is a plain memmove, without Buffer.copy's argument handling.
    this.buf.set(b, this.length)
    this.length += b.length
  }
  str(s: string): void {
    this.varuint(s.length)
    this.ensure(s.length)
    if (s.length <= SHORT_STRING_CHARS) {
      // A short key is written faster by this loop than by a call into C++ (every log record
      // holds one). A Uint8Array store keeps the low byte of each char, as latin1 encoding does.
      const buf = this.buf
      const at = this.length
      for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i)
    } else {
      this.buf.write(s, this.length, s.length, 'latin1')
    }
    this.length += s.length
  }
  view(): Buffer {
    return this.buf.subarray(0, this.length)
  }
}

export class ByteReader {
  pos: number
  constructor(readonly buf: Buffer, start = 0, readonly end = buf.length) {
    this.pos = start
  }
  get done(): boolean {
    return this.pos >= this.end
  }
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new DecodeError(`short payload at ${this.pos}`)
  }
  u8(): number {
    this.need(1)
    return this.buf[this.pos++] as number
  }
  u32(): number {
    this.need(4)
    const v = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }
  varuint(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      result += (b & 0x7f) * scale
      if (b < 0x80) return result
      scale *= 0x80
    }
    throw new DecodeError(`varint too long at ${this.pos}`)
  }
  f64(): number {
    this.need(8)
    const v = this.buf.readDoubleLE(this.pos)
    this.pos += 8
    return v
  }
  i53(): number {
    return this.f64()
  }
  /** Step over n bytes (checked like a read); returns where they start. */
  skip(n: number): number {
    this.need(n)
    const at = this.pos
    this.pos += n
    return at
  }
  /** A copy: decoded values outlive the pool mapping they were read from. */
  bytes(): Buffer {
    const n = this.varuint()
    this.need(n)
    const out = Buffer.allocUnsafe(n)
    this.buf.copy(out, 0, this.pos, this.pos + n)
    this.pos += n
    return out
  }
  str(): string {
    const n = this.varuint()
    this.need(n)
    const s = this.buf.toString('latin1', this.pos, this.pos + n)
    this.pos += n
    return s
  }
}
