// A request's arguments without an object per argument (issue 15 stage 2): byte ranges
// (offset, length) of one buffer, filled by RequestReader.nextArgs, or an argv of Buffers (a
// request the reader had to copy, a queued MULTI command, a script's redis.call).
//
// Invariants, and why:
// - A view-mode Args ranges over a buffer that is never written again (the reader's shared input
//   slab, written only above its fill offset), so bytes(i) and toArgv() hand out views a handler
//   may keep as stored values, exactly as the argv of Buffers did.
// - The reader reuses one Args per connection: its ranges are valid until the next nextArgs()
//   call on it. Whoever keeps the arguments past the request (MULTI's queue, SLOWLOG, MONITOR)
//   takes toArgv(), made once per request and only when asked for.
// - Both modes answer every accessor identically (test/unit/args.test.ts).

const EMPTY = Buffer.alloc(0)
const NO_RANGES = new Int32Array(0)

/** Buffer's own latin1Slice (what toString('latin1', …) ends in, minus its argument checks). */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string
}

export class Args {
  /** The number of arguments, the command name included. */
  count = 0
  /** View mode: the buffer the ranges index. */
  buf: Buffer = EMPTY
  /** View mode: argument i is buf[off[i], off[i] + len[i]). */
  readonly off: Int32Array
  readonly len: Int32Array
  /** Argv mode: the arguments; view mode: toArgv()'s result once made, else null. */
  private argv: Buffer[] | null = null
  /** True in view mode (buf, off, len); false when the arguments are an argv. */
  viewMode = false

  /** `capacity`: the most arguments a view-mode request may have (0: argv mode only). */
  constructor(capacity = 0) {
    this.off = capacity === 0 ? NO_RANGES : new Int32Array(capacity)
    this.len = capacity === 0 ? NO_RANGES : new Int32Array(capacity)
  }

  /** Args over an argv of Buffers. */
  static of(argv: Buffer[]): Args {
    const args = new Args()
    args.setArgv(argv)
    return args
  }

  get capacity(): number {
    return this.off.length
  }

  setArgv(argv: Buffer[]): void {
    this.argv = argv
    this.count = argv.length
    this.viewMode = false
    this.buf = EMPTY
  }

  /** View mode over `buf`; off[0, count) and len[0, count) are already filled. */
  setViews(buf: Buffer, count: number): void {
    this.buf = buf
    this.count = count
    this.argv = null
    this.viewMode = true
  }

  /** Argument i's length in bytes. */
  length(i: number): number {
    return this.viewMode ? this.len[i] as number : (this.argv as Buffer[])[i]?.length ?? 0
  }

  /** Argument i as a Buffer (a view in view mode: no copy). */
  bytes(i: number): Buffer {
    if (!this.viewMode) return (this.argv as Buffer[])[i] as Buffer
    const o = this.off[i] as number
    return this.buf.subarray(o, o + (this.len[i] as number))
  }

  /** Argument i as a key: a latin1 string, one char per byte (keyOf's encoding). */
  key(i: number): string {
    if (!this.viewMode) return ((this.argv as Buffer[])[i] as Buffer).toString('latin1')
    const o = this.off[i] as number
    return (this.buf as unknown as Latin1Slicer).latin1Slice(o, o + (this.len[i] as number))
  }

  /** The byte at `at` of argument i (at < length(i)). */
  byteAt(i: number, at: number): number {
    if (!this.viewMode) return ((this.argv as Buffer[])[i] as Buffer)[at] as number
    return this.buf[(this.off[i] as number) + at] as number
  }

  /** The arguments as an argv of Buffers (views in view mode), made once per request. */
  toArgv(): Buffer[] {
    let argv = this.argv
    if (argv === null) {
      argv = new Array<Buffer>(this.count)
      for (let i = 0; i < this.count; i++) argv[i] = this.bytes(i)
      this.argv = argv
    }
    return argv
  }
}
