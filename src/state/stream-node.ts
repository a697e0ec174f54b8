// One node of a stream (Redis's rax node holding one listpack): its entries' ids, deleted marks and
// field/value bytes, packed in one Buffer per node as Redis packs them in a listpack, so that an
// entry costs its bytes and a few words (no Buffer object, no array per entry: measured, the
// objects were most of a stream's memory and of XADD's garbage-collection time).
// Invariants:
// - ids are strictly increasing; ids, dead and offsets have one element per entry, dead ones
//   included (a deleted entry keeps its bytes, as in Redis's listpack).
// - data[0, dataLength) holds the records back to back; entry i's record starts at offsets[i].
//   Record layout: u8 flags (1: the fields are the node's master fields, only values follow),
//   varuint pair count (only when flags is 0), then per stored string varuint length and bytes
//   (field, value, field, value… or value, value… when flags is 1).
// - entryBytes is Redis's listpack size of the entries (stream-listpack.ts), which decides where
//   the command that appends starts a new node (logged, so replay never recomputes it).
// - estimate is the sum of the liveBytes estimates of every entry pushed (stream.ts).
// - masterFields are the first entry's fields, copied (never a view of a request or the pool).

import { splitId, splitMs, splitSeq } from './stream-id.js'
import { intEncodedSizeNum, lpDeltaSize, lpIntSize, lpStringSize, sameFields } from './stream-listpack.js'

const U64 = (1n << 64n) - 1n
/** A stream's liveBytes estimate before any entry or group (stream.ts `bytes`). */
export const STREAM_BASE_BYTES = 64
const EMPTY = Buffer.alloc(0)
const FLAG_SAME_FIELDS = 1
/** First capacity of a node's data (doubled as it grows; trimmed to size once sealed). */
const DATA_BYTES_FIRST = 256

const varuintSize = (v: number): number => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5)

export class StreamNode {
  readonly ids: bigint[] = []
  readonly dead: boolean[] = []
  live = 0
  deleted = 0
  /** Listpack bytes of the entries (the master entry and the header are added by lpBytes). */
  entryBytes = 0
  /** liveBytes estimate of the entries pushed (see the invariants). */
  estimate = 0
  readonly masterFields: readonly Buffer[]
  private readonly offsets: number[] = []
  private data: Buffer = EMPTY
  private dataLength = 0
  private readonly masterBytes: number
  private readonly masterMs: bigint
  private readonly masterSeq: bigint
  /** masterMs and masterSeq as numbers, NaN when not safe integers (entrySize's fast path). */
  private readonly masterMsNum: number
  private readonly masterSeqNum: number
  constructor(readonly master: bigint, masterFields: readonly Buffer[]) {
    this.masterFields = masterFields.map((f) => Buffer.from(f))
    this.masterMs = master >> 64n
    this.masterSeq = master & U64
    const split = splitId(master)
    this.masterMsNum = split ? splitMs : NaN
    this.masterSeqNum = split ? splitSeq : NaN
    let n = lpIntSize(masterFields.length) + lpIntSize(0)
    for (const f of masterFields) n += lpStringSize(f)
    this.masterBytes = n
  }

  /** Redis's lpBytes of this node's listpack. */
  lpBytes(): number {
    return 6 + lpIntSize(this.live) + lpIntSize(this.deleted) + this.masterBytes + this.entryBytes + 1
  }

  get first(): bigint {
    return this.ids[0] as bigint
  }

  get last(): bigint {
    return this.ids[this.ids.length - 1] as bigint
  }

  /** Bytes of DRAM the packed data takes (its capacity). */
  get dataBytes(): number {
    return this.data.length
  }

  /** Bytes of the packed records (their length, whatever the capacity). */
  get packedBytes(): number {
    return this.dataLength
  }

  /** Index of the first entry with id >= `id` (ids.length when none). */
  lowerBound(id: bigint): number {
    let lo = 0
    let hi = this.ids.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((this.ids[mid] as bigint) < id) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Listpack bytes of an entry (streamAppendItem's accounting); `same`: sameFields of it. */
  entrySize(id: bigint, fv: readonly Buffer[], same = sameFields(this.masterFields, fv)): number {
    let n = 2
    if (splitId(id) && !Number.isNaN(this.masterMsNum)) {
      // Both parts of both ids are safe: their differences are exact numbers.
      const dms = splitMs - this.masterMsNum
      n += (dms === 0 ? 2 : intEncodedSizeNum(dms) + 1) + intEncodedSizeNum(splitSeq - this.masterSeqNum) + 1
    } else {
      const ms = id >> 64n
      n += (ms === this.masterMs ? 2 : lpDeltaSize(ms - this.masterMs)) + lpDeltaSize((id & U64) - this.masterSeq)
    }
    if (!same) n += intEncodedSizeNum(fv.length / 2) + 1
    for (let i = 0; i < fv.length; i++) if (!same || i % 2 === 1) n += lpStringSize(fv[i] as Buffer)
    const pieces = fv.length / 2 + 3 + (same ? 0 : fv.length / 2 + 1)
    return n + intEncodedSizeNum(pieces) + 1
  }

  /** Append an entry (id above the last); returns its listpack size. */
  push(id: bigint, fv: readonly Buffer[], estimate: number): number {
    const same = sameFields(this.masterFields, fv)
    const size = this.entrySize(id, fv, same)
    const step = same ? 2 : 1
    let need = 1 + varuintSize(fv.length / 2)
    for (let i = same ? 1 : 0; i < fv.length; i += step) need += 5 + (fv[i] as Buffer).length
    this.reserve(need)
    const d = this.data
    let p = this.dataLength
    this.offsets.push(p)
    d[p++] = same ? FLAG_SAME_FIELDS : 0
    if (!same) p = putVaruint(d, p, fv.length / 2)
    for (let i = same ? 1 : 0; i < fv.length; i += step) {
      const b = fv[i] as Buffer
      p = putVaruint(d, p, b.length)
      if (b.length <= 32) for (let j = 0; j < b.length; j++) d[p + j] = b[j] as number
      else b.copy(d, p)
      p += b.length
    }
    this.dataLength = p
    this.ids.push(id)
    this.dead.push(false)
    this.live++
    this.entryBytes += size
    this.estimate += estimate
    return size
  }

  /** Undo the last push (its size and estimate as push had them). */
  pop(size: number, estimate: number): void {
    this.dataLength = this.offsets.pop() as number
    this.ids.pop()
    this.dead.pop()
    this.live--
    this.entryBytes -= size
    this.estimate -= estimate
  }

  /** Entry i's fields and values (views of the node's data; never written). */
  pairsAt(i: number): Buffer[] {
    const d = this.data
    let p = this.offsets[i] as number
    const same = d[p++] === FLAG_SAME_FIELDS
    const out: Buffer[] = []
    cursor = p
    if (same) {
      for (const f of this.masterFields) {
        const n = getVaruint(d)
        out.push(f, d.subarray(cursor, cursor + n))
        cursor += n
      }
      return out
    }
    const pieces = getVaruint(d) * 2
    for (let k = 0; k < pieces; k++) {
      const n = getVaruint(d)
      out.push(d.subarray(cursor, cursor + n))
      cursor += n
    }
    return out
  }

  /** The node gets no more entries: its data shrinks to its length. */
  seal(): void {
    if (this.data.length === this.dataLength) return
    const exact = Buffer.allocUnsafeSlow(this.dataLength)
    this.data.copy(exact, 0, 0, this.dataLength)
    this.data = exact
  }

  private reserve(extra: number): void {
    const need = this.dataLength + extra
    if (need <= this.data.length) return
    let size = Math.max(DATA_BYTES_FIRST, this.data.length * 2)
    while (size < need) size *= 2
    const next = Buffer.allocUnsafeSlow(size)
    this.data.copy(next, 0, 0, this.dataLength)
    this.data = next
  }
}

function putVaruint(d: Buffer, p: number, v: number): number {
  while (v >= 0x80) {
    d[p++] = (v & 0x7f) | 0x80
    v = Math.floor(v / 0x80)
  }
  d[p++] = v
  return p
}

/** Where getVaruint reads next (module state: no tuple per read). */
let cursor = 0

// The bytes were written by putVaruint (no bounds to check); advances cursor.
function getVaruint(d: Buffer): number {
  let v = 0
  let mul = 1
  for (;;) {
    const b = d[cursor++] as number
    v += (b & 0x7f) * mul
    if (b < 0x80) return v
    mul *= 0x80
  }
}
