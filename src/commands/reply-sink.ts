// ReplySink over the RESP writer's OutputBuffer (src/resp/writer.ts). The target buffer can be
// switched between commands: dispatch points a write command at a scratch buffer so that a
// transaction refused at commit (out of space) leaves no trace of the handler's replies.
// The sink counts the errors it writes (commandstats failed_calls, errorstats) and can be
// muted (CLIENT REPLY OFF / SKIP). It never buffers by itself: every call appends to `target`.

import { OutputBuffer, type Protocol } from '../resp/writer.js'
import type { ReplySink } from './spec.js'

/** Where muted replies go. Never read; take() keeps it small. */
const DISCARD = new OutputBuffer(2, 1024)

export class OutputSink implements ReplySink {
  target: OutputBuffer
  /** Errors written since creation (dispatch reads the difference around each command). */
  errorCount = 0
  /** The last error written (its code feeds errorstats). */
  lastError = ''
  private saved: OutputBuffer | null = null

  constructor(target: OutputBuffer) {
    this.target = target
  }

  get proto(): Protocol {
    return this.target.proto
  }

  /** Change the encoding of this and later replies (HELLO). */
  switchProto(proto: Protocol): void {
    this.target.proto = proto
  }

  /** Drop replies until unmute() (CLIENT REPLY OFF/SKIP). */
  mute(): void {
    if (this.saved !== null) return
    DISCARD.proto = this.target.proto
    this.saved = this.target
    this.target = DISCARD
  }

  unmute(): void {
    if (this.saved === null) return
    this.target = this.saved
    this.saved = null
    DISCARD.take()
  }

  /** Where pushes go even while muted (Redis 7.0's CLIENT_PUSHING bypasses CLIENT REPLY). */
  get unmutedTarget(): OutputBuffer {
    return this.saved ?? this.target
  }

  get muted(): boolean {
    return this.saved !== null
  }

  simple(s: string): void {
    this.target.writeSimple(s)
  }

  error(msg: string): void {
    this.errorCount++
    this.lastError = msg
    this.target.writeError(msg)
  }

  integer(n: number | bigint): void {
    this.target.writeInteger(n)
  }

  bulk(b: Buffer | string): void {
    this.target.writeBulk(b)
  }

  bulkRange(src: Uint8Array, start: number, end: number): void {
    this.target.writeBulkRange(src, start, end)
  }

  nullBulk(): void {
    this.target.writeNull()
  }

  nullArray(): void {
    this.target.writeNullArray()
  }

  arrayHeader(n: number): void {
    this.target.writeArrayHeader(n)
  }

  mapHeader(n: number): void {
    this.target.writeMapHeader(n)
  }

  setHeader(n: number): void {
    this.target.writeSetHeader(n)
  }

  double(x: number): void {
    this.target.writeDouble(x)
  }

  doubleText(text: string): void {
    if (this.target.proto === 3) this.target.writeRaw(Buffer.from(`,${text}\r\n`, 'latin1'))
    else this.target.writeBulk(Buffer.from(text, 'latin1'))
  }

  boolean(b: boolean): void {
    this.target.writeBoolean(b)
  }

  verbatim(text: string): void {
    this.target.writeVerbatim(text)
  }

  /** Pre-encoded bytes (shared replies, a scratch buffer's contents). */
  raw(bytes: Buffer): void {
    this.target.writeRaw(bytes)
  }
}
