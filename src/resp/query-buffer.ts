// The size Redis 7.0.15's query buffer would have for a connection, as CLIENT LIST's qbuf-free
// shows it (sdsavail of c->querybuf) and as clientsCronResizeQueryBuffer trims it. capykv's
// reader (reader.ts) keeps its own buffers, shaped for zero-copy parsing; this model replays
// Redis's sds growth rules over the same reads, so the figure a client or a test reads means what
// it means on Redis: how much room the connection's query buffer holds.
// Invariants, and why:
// - A pure model of numbers: it is told the bytes pending before and after each socket read and
//   after each processing pass (RequestReader.bufferedBytes, and the length of a bulk being read),
//   and allocates nothing.
// - The rules are Redis 7.0.15's (networking.c readQueryFromClient, processMultibulkBuffer;
//   server.c clientsCronResizeQueryBuffer; sds.c): a first read gets a non-greedy 16 KiB, later
//   reads grow greedily (double under 1 MiB), a bulk of 32 KiB or more gets a buffer of exactly
//   its size and the next one is as big ("we'll see another one likely"); the cron frees the
//   room of a client idle over 2 s, and trims a buffer over 32 KiB that is more than twice its
//   peak since the last cron. Allocations are rounded as jemalloc's size classes round them,
//   minus sds's header, as Redis's sdsalloc reports; a resize is exact (sdsResize).
// - What it cannot know exactly: Redis reads at most 16 KiB (or the rest of a big bulk) per read
//   and parses between reads, where Node hands over up to 64 KiB at once; a bigger chunk is
//   taken as more reads of the greedy kind.

/** PROTO_IOBUF_LEN: a read's size. */
export const PROTO_IOBUF_BYTES = 16 * 1024
/** PROTO_MBULK_BIG_ARG: a bulk this long is read into a buffer of its own size. */
const BIG_ARG_BYTES = 32 * 1024
/** PROTO_RESIZE_THRESHOLD: buffers above this are trimmed to their peak. */
const RESIZE_THRESHOLD_BYTES = 32 * 1024
/** SDS_MAX_PREALLOC: greedy growth doubles below it, adds it above. */
const SDS_MAX_PREALLOC_BYTES = 1024 * 1024
/** The cron only trims a buffer wasting more than this. */
const WASTE_MIN_BYTES = 4 * 1024
/** A client idle longer than this (seconds) has its buffer's room freed. */
const IDLE_FREE_S = 2

/** jemalloc's size class for a request of `n` bytes (8, 16…128 by 16, then 4 per doubling). */
export function jemallocSize(n: number): number {
  if (n <= 8) return 8
  if (n <= 128) return Math.ceil(n / 16) * 16
  const step = 2 ** (Math.floor(Math.log2(n - 1)) - 2)
  return Math.ceil(n / step) * step
}

/** sdsReqType's header bytes for a string of `n` bytes (type 5 promoted to 8, as for growth). */
function sdsHeaderBytes(n: number): number {
  if (n < 256) return 3
  if (n < 65536) return 5
  return n < 2 ** 32 ? 9 : 17
}

/** sdsalloc after an allocation for `n` bytes: the usable size less the header and the NUL. */
export function sdsAllocFor(n: number): number {
  const header = sdsHeaderBytes(n)
  const usable = jemallocSize(header + n + 1) - header - 1
  const typeMax = header === 3 ? 255 : header === 5 ? 65535 : Infinity
  return Math.min(usable, typeMax)
}

export class QueryBufferModel {
  /** sdsalloc(c->querybuf). */
  private allocBytes = 0
  /** c->querybuf_peak: the most bytes held since the last cron. */
  private peakBytes = 0
  /** The big bulk (≥ 32 KiB) being read at the last observation, or -1. */
  private bigBulkBytes = -1
  /** The reader's count of big bulks begun, at the last observation. */
  private bigSeen = 0

  /** sdsavail: the room left, with `pendingBytes` held. */
  freeBytes(pendingBytes: number): number {
    return Math.max(0, this.allocBytes - pendingBytes)
  }

  /** sdsZmallocSize: what the buffer takes, for tot-mem (0 when it holds no room). */
  get allocatedBytes(): number {
    return this.allocBytes
  }

  /**
   * One socket read: `beforeBytes` were held, `afterBytes` are now; `bulkBytes` is the length of
   * the bulk being read when the read came (-1: none, or its header is not parsed yet).
   */
  onRead(beforeBytes: number, afterBytes: number, bulkBytes: number): void {
    assertCount(beforeBytes)
    assertCount(afterBytes)
    if (bulkBytes >= BIG_ARG_BYTES) {
      this.makeRoom(beforeBytes, Math.max(PROTO_IOBUF_BYTES, bulkBytes + 2 - beforeBytes), false)
    } else {
      this.makeRoom(beforeBytes, PROTO_IOBUF_BYTES, this.allocBytes >= PROTO_IOBUF_BYTES)
    }
    while (afterBytes > this.allocBytes) this.makeRoom(this.allocBytes, PROTO_IOBUF_BYTES, true)
    if (afterBytes > this.peakBytes) this.peakBytes = afterBytes
  }

  /**
   * After the pending requests were parsed: `pendingBytes` are held, `bulkBytes` is the bulk
   * being read (-1: none), `bigSeen` and `lastBigBytes` the reader's count of big bulks (≥ 32 KiB)
   * begun and the last one's length. A big bulk begun gets a buffer of exactly its size, and one
   * finished leaves a fresh buffer of its size (Redis made the finished one the argument itself:
   * "we'll see another one likely").
   */
  afterParse(pendingBytes: number, bulkBytes: number, bigSeen: number, lastBigBytes: number): void {
    assertCount(pendingBytes)
    const big = bulkBytes >= BIG_ARG_BYTES ? bulkBytes : -1
    if (bigSeen !== this.bigSeen || big !== this.bigBulkBytes) {
      if (big >= 0) this.makeRoom(0, big + 2, false)
      else if (lastBigBytes >= 0) this.allocBytes = sdsAllocFor(lastBigBytes + 2)
    }
    this.bigSeen = bigSeen
    this.bigBulkBytes = big
    while (pendingBytes > this.allocBytes) this.makeRoom(this.allocBytes, PROTO_IOBUF_BYTES, true)
  }

  /** clientsCronResizeQueryBuffer, with `pendingBytes` held and the client idle `idleS`. */
  cron(pendingBytes: number, idleS: number): void {
    assertCount(pendingBytes)
    const bulk = Math.max(0, this.bigBulkBytes)
    if (this.allocBytes - pendingBytes > WASTE_MIN_BYTES) {
      if (idleS > IDLE_FREE_S) {
        this.allocBytes = pendingBytes
      } else if (this.allocBytes > RESIZE_THRESHOLD_BYTES &&
        this.allocBytes / 2 > this.peakBytes) {
        this.allocBytes = Math.max(pendingBytes, this.peakBytes, bulk)
      }
    }
    this.peakBytes = Math.max(pendingBytes, bulk)
  }

  /** sdsMakeRoomFor / sdsMakeRoomForNonGreedy with `lengthBytes` held. */
  private makeRoom(lengthBytes: number, addBytes: number, greedy: boolean): void {
    if (this.allocBytes - lengthBytes >= addBytes) return
    let wanted = lengthBytes + addBytes
    if (greedy) wanted = wanted < SDS_MAX_PREALLOC_BYTES ? wanted * 2 : wanted + SDS_MAX_PREALLOC_BYTES
    this.allocBytes = sdsAllocFor(wanted)
  }
}

function assertCount(n: number): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new RangeError(`bad byte count ${n}`)
}
