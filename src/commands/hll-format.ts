// Redis 7.0.15's HyperLogLog string format (hyperloglog.c), byte for byte, so an HLL moved
// between Redis and capykv with GET/SET or DUMP/RESTORE counts the same. Written from the
// format's description; no code copied.
//
// Layout (a plain string value):
//   [0..4)   "HYLL"
//   [4]      encoding: 0 dense, 1 sparse (anything else is not an HLL)
//   [5..8)   unused, zero
//   [8..16)  cached cardinality, uint64 little endian; bit 7 of byte 15 set = cache invalid
//   [16..)   registers:
//     dense:  16384 registers of 6 bits, register i at bit 6i, least significant bit first
//             (exactly 12288 bytes; the value is 12304 bytes long)
//     sparse: opcodes covering the 16384 registers in order
//             00xxxxxx          ZERO:  xxxxxx+1 (1..64) registers at 0
//             01xxxxxx yyyyyyyy XZERO: (xxxxxx<<8 | yyyyyyyy)+1 (1..16384) registers at 0
//             1vvvvvxx          VAL:   xx+1 (1..4) registers at vvvvv+1 (1..32)
// An element's register and value: MurmurHash64A (seed 0xadc83b19) of its bytes; the low 14 bits
// are the register, the value is 1 + the number of trailing zeros of the remaining 50 bits (51
// when all are zero).
// Invariants: a sparse value larger than hll-sparse-max-bytes after a write, or holding a
// register above 32, is promoted to dense; sparse writes split and re-merge opcodes exactly as
// Redis does (the bytes of a value depend on the order of its writes, as in Redis), so the same
// commands give the same string in both servers. A value whose opcodes do not cover exactly
// 16384 registers is corrupt: readers report it (INVALIDOBJ), never guess.

export const HLL_P = 14
export const HLL_REGISTERS = 1 << HLL_P
export const HLL_HDR = 16
export const HLL_DENSE_SIZE = HLL_HDR + ((HLL_REGISTERS * 6 + 7) >> 3)
export const HLL_DENSE = 0
export const HLL_SPARSE = 1
const SPARSE_VAL_MAX_VALUE = 32
const SPARSE_VAL_MAX_LEN = 4
const SPARSE_ZERO_MAX_LEN = 64
const SPARSE_XZERO_MAX_LEN = 16384

// ---------------------------------------------------------------------------------------------
// MurmurHash64A on 32-bit halves (no BigInt: PFADD hashes every element).

const M_HI = 0xc6a4a793
const M_LO = 0x5bd1e995
let rHi = 0
let rLo = 0

/** (aHi:aLo * bHi:bLo) mod 2^64 into rHi:rLo. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const a0 = aLo & 0xffff
  const a1 = aLo >>> 16
  const b0 = bLo & 0xffff
  const b1 = bLo >>> 16
  const p00 = a0 * b0
  const p01 = a0 * b1
  const p10 = a1 * b0
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  rLo = (((mid & 0xffff) << 16) | (p00 & 0xffff)) >>> 0
  const hi = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)
  rHi = (hi + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0
}

/** MurmurHash64A(data, seed 0xadc83b19): the hash's halves in rHi:rLo. */
function murmur64a(data: Buffer): void {
  const len = data.length
  mul64(0, len >>> 0, M_HI, M_LO)
  let hHi = rHi
  let hLo = (rLo ^ 0xadc83b19) >>> 0
  const whole = len - (len & 7)
  for (let i = 0; i < whole; i += 8) {
    mul64(data.readUInt32LE(i + 4), data.readUInt32LE(i), M_HI, M_LO)
    let kHi = rHi
    let kLo = rLo
    kLo = (kLo ^ (kHi >>> 15)) >>> 0 // k ^= k >> 47
    mul64(kHi, kLo, M_HI, M_LO)
    kHi = rHi
    kLo = rLo
    hHi = (hHi ^ kHi) >>> 0
    hLo = (hLo ^ kLo) >>> 0
    mul64(hHi, hLo, M_HI, M_LO)
    hHi = rHi
    hLo = rLo
  }
  const rest = len & 7
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) {
      const b = data[whole + j] as number
      if (j >= 4) hHi = (hHi ^ (b << ((j - 4) * 8))) >>> 0
      else hLo = (hLo ^ (b << (j * 8))) >>> 0
    }
    mul64(hHi, hLo, M_HI, M_LO)
    hHi = rHi
    hLo = rLo
  }
  hLo = (hLo ^ (hHi >>> 15)) >>> 0
  mul64(hHi, hLo, M_HI, M_LO)
  hHi = rHi
  hLo = (rLo ^ (hHi >>> 15)) >>> 0
  rHi = hHi
  rLo = hLo
}

let patIndex = 0

/** hllPatLen: the element's run length (1..51); its register in patIndex. */
function patLen(ele: Buffer): number {
  murmur64a(ele)
  patIndex = rLo & (HLL_REGISTERS - 1)
  const low = rLo >>> HLL_P // the remaining 18 low bits
  if (low !== 0) return 32 - Math.clz32(low & -low)
  if (rHi !== 0) return 18 + 32 - Math.clz32(rHi & -rHi)
  return 64 - HLL_P + 1
}

/** The element's register and run length (for tests and PFDEBUG). */
export function hllHashOf(ele: Buffer): { index: number; count: number } {
  const count = patLen(ele)
  return { index: patIndex, count }
}

// ---------------------------------------------------------------------------------------------
// Values

/** A working copy of an HLL value: bytes [0, len) of buf; buf has room to grow. */
export interface Hll { buf: Buffer; len: number }

export function hllWorkingCopy(value: Buffer): Hll {
  const buf = Buffer.alloc(value.length + 64)
  value.copy(buf, 0)
  return { buf, len: value.length }
}

export function hllBytes(h: Hll): Buffer {
  return Buffer.from(h.buf.subarray(0, h.len))
}

/** createHLLObject: a sparse HLL of XZERO opcodes, cache bytes zero. */
export function hllCreate(): Hll {
  const h = hllWorkingCopy(Buffer.alloc(HLL_HDR))
  h.buf.write('HYLL', 0, 'latin1')
  h.buf[4] = HLL_SPARSE
  let left = HLL_REGISTERS
  while (left > 0) {
    const n = Math.min(left, SPARSE_XZERO_MAX_LEN)
    ensureRoom(h, 2)
    h.buf[h.len] = ((n - 1) >> 8) | 0x40
    h.buf[h.len + 1] = (n - 1) & 0xff
    h.len += 2
    left -= n
  }
  return h
}

/** isHLLObjectOrReply's checks on a string: magic, encoding, a dense value's exact length. */
export function isHll(value: Buffer): boolean {
  if (value.length < HLL_HDR) return false
  if (value[0] !== 0x48 || value[1] !== 0x59 || value[2] !== 0x4c || value[3] !== 0x4c) return false
  const enc = value[4] as number
  if (enc > HLL_SPARSE) return false
  return enc !== HLL_DENSE || value.length === HLL_DENSE_SIZE
}

export function hllEncoding(h: Hll | Buffer): number {
  return ('buf' in h ? h.buf[4] : h[4]) as number
}

export function hllInvalidateCache(h: Hll): void {
  h.buf[15] = (h.buf[15] as number) | 0x80
}

/** The cached cardinality, or null when the cache is invalid. */
export function hllCachedCard(value: Buffer): bigint | null {
  if (((value[15] as number) & 0x80) !== 0) return null
  return value.readBigUInt64LE(8)
}

export function hllSetCachedCard(value: Buffer, card: bigint): void {
  value.writeBigUInt64LE(BigInt.asUintN(64, card), 8)
}

function ensureRoom(h: Hll, n: number): void {
  if (h.len + n + 1 <= h.buf.length) return
  const grown = Buffer.alloc((h.len + n + 1) * 2)
  h.buf.copy(grown, 0, 0, h.len + 1)
  h.buf = grown
}

// Dense registers ------------------------------------------------------------------------------

export function denseGet(p: Buffer, at: number, reg: number): number {
  const bit = reg * 6
  const byte = at + (bit >> 3)
  const fb = bit & 7
  const b0 = p[byte] as number
  const b1 = byte + 1 < p.length ? p[byte + 1] as number : 0
  return ((b0 >> fb) | (b1 << (8 - fb))) & 63
}

export function denseSetRaw(p: Buffer, at: number, reg: number, val: number): void {
  const bit = reg * 6
  const byte = at + (bit >> 3)
  const fb = bit & 7
  p[byte] = ((p[byte] as number) & ~(63 << fb)) | ((val << fb) & 0xff)
  if (byte + 1 < p.length) {
    p[byte + 1] = ((p[byte + 1] as number) & ~(63 >> (8 - fb))) | (val >> (8 - fb))
  }
}

/** hllDenseSet: 1 when the register grew. */
function denseSet(p: Buffer, reg: number, count: number): number {
  if (count <= denseGet(p, HLL_HDR, reg)) return 0
  denseSetRaw(p, HLL_HDR, reg, count)
  return 1
}

// Sparse registers -----------------------------------------------------------------------------

function isZero(op: number): boolean { return (op & 0xc0) === 0 }
function isXzero(op: number): boolean { return (op & 0xc0) === 0x40 }
function valByte(value: number, len: number): number { return 0x80 | ((value - 1) << 2) | (len - 1) }

/** hllSparseToDense on h in place; false when the opcodes do not cover 16384 registers. */
export function hllToDense(h: Hll): boolean {
  if (h.buf[4] === HLL_DENSE) return true
  const dense = Buffer.alloc(HLL_DENSE_SIZE)
  h.buf.copy(dense, 0, 0, HLL_HDR)
  dense[4] = HLL_DENSE
  const b = h.buf
  let idx = 0
  let p = HLL_HDR
  while (p < h.len) {
    const op = b[p] as number
    if (isZero(op)) {
      idx += (op & 0x3f) + 1
      p++
    } else if (isXzero(op)) {
      idx += (((op & 0x3f) << 8) | (p + 1 < h.len ? b[p + 1] as number : 0)) + 1
      p += 2
    } else {
      let run = (op & 3) + 1
      const val = ((op >> 2) & 0x1f) + 1
      if (run + idx > HLL_REGISTERS) break
      while (run-- > 0) denseSetRaw(dense, HLL_HDR, idx++, val)
      p++
    }
  }
  if (idx !== HLL_REGISTERS) return false
  h.buf = dense
  h.len = HLL_DENSE_SIZE
  return true
}

/** The opcodes replacing the one covering `index` (first..last) when it becomes `count`. */
function splitSeq(op: number, first: number, last: number, index: number, count: number): number[] {
  const seq: number[] = []
  const zeros = (n: number): void => {
    if (n > SPARSE_ZERO_MAX_LEN) seq.push(((n - 1) >> 8) | 0x40, (n - 1) & 0xff)
    else seq.push(n - 1)
  }
  if (isZero(op) || isXzero(op)) {
    if (index !== first) zeros(index - first)
    seq.push(valByte(count, 1))
    if (index !== last) zeros(last - index)
  } else {
    const cur = ((op >> 2) & 0x1f) + 1
    if (index !== first) seq.push(valByte(cur, index - first))
    seq.push(valByte(count, 1))
    if (index !== last) seq.push(valByte(cur, last - index))
  }
  return seq
}

/**
 * hllSparseSet: raise register `index` to `count` if lower. 1 when it changed (the value may
 * have been promoted to dense), 0 when not, -1 when the opcodes are corrupt.
 */
function sparseSet(h: Hll, index: number, count: number, maxBytes: number): number {
  if (count > SPARSE_VAL_MAX_VALUE) return promote(h, index, count)
  ensureRoom(h, 3)
  const b = h.buf
  let end = h.len
  let p = HLL_HDR
  let first = 0
  let prev = -1
  let span = 0
  while (p < end) {
    const op = b[p] as number
    let oplen = 1
    if (isZero(op)) span = (op & 0x3f) + 1
    else if ((op & 0x80) !== 0) span = (op & 3) + 1
    else {
      span = (((op & 0x3f) << 8) | (b[p + 1] as number)) + 1
      oplen = 2
    }
    if (index <= first + span - 1) break
    prev = p
    p += oplen
    first += span
  }
  if (span === 0 || p >= end) return -1
  const op = b[p] as number
  const oldlen = isXzero(op) ? 2 : 1
  const next = p + oldlen >= end ? -1 : p + oldlen
  const runlen = isZero(op) ? (op & 0x3f) + 1 : isXzero(op) ? span : (op & 3) + 1
  if ((op & 0x80) !== 0) {
    if (((op >> 2) & 0x1f) + 1 >= count) return 0
  }
  if (((op & 0x80) !== 0 || isZero(op)) && runlen === 1) {
    b[p] = valByte(count, 1)
  } else {
    const seq = splitSeq(op, first, first + span - 1, index, count)
    const delta = seq.length - oldlen
    if (delta > 0 && h.len + delta > maxBytes) return promote(h, index, count)
    if (delta !== 0 && next !== -1) b.copyWithin(next + delta, next, end)
    h.len += delta
    end += delta
    // sdsIncrLen's terminator first, then the sequence: when a corrupt value ends in half an
    // XZERO the sequence's last byte lands past the end, where Redis's next read finds it.
    b[end] = 0
    for (let i = 0; i < seq.length; i++) b[p + i] = seq[i] as number
  }
  mergeAdjacentVals(h, prev >= 0 ? prev : HLL_HDR, end)
  hllInvalidateCache(h)
  return 1
}

/** Step 4 of hllSparseSet: merge equal adjacent VAL opcodes, scanning up to 5 from `p`. */
function mergeAdjacentVals(h: Hll, p: number, end: number): void {
  const b = h.buf
  let scan = 5
  while (p < end && scan-- > 0) {
    const op = b[p] as number
    if (isXzero(op)) {
      p += 2
      continue
    }
    if (isZero(op)) {
      p++
      continue
    }
    const nx = b[p + 1] as number
    if (p + 1 < end && (nx & 0x80) !== 0) {
      const v1 = ((op >> 2) & 0x1f) + 1
      const v2 = ((nx >> 2) & 0x1f) + 1
      const len = (op & 3) + 1 + (nx & 3) + 1
      if (v1 === v2 && len <= SPARSE_VAL_MAX_LEN) {
        b[p + 1] = valByte(v1, len)
        b.copyWithin(p, p + 1, end + 1)
        h.len--
        end--
        b[end] = 0
        continue
      }
    }
    p++
  }
}

function promote(h: Hll, index: number, count: number): number {
  if (!hllToDense(h)) return -1
  return denseSet(h.buf, index, count)
}

/** hllAdd: 1 when a register changed, 0 when not, -1 on a corrupt value. */
export function hllAdd(h: Hll, ele: Buffer, maxBytes: number): number {
  const count = patLen(ele)
  const index = patIndex
  if (h.buf[4] === HLL_DENSE) return denseSet(h.buf, index, count)
  if (h.buf[4] === HLL_SPARSE) return sparseSet(h, index, count, maxBytes)
  return -1
}

/**
 * PFADD of elements[from..] to a dense value without a working copy: each element's register is
 * compared with the value's, and only the first one that grows gets the value copied (`value`
 * itself is never written: stored Buffers are shared). Returns the new value, or `value` itself
 * when no register grew; the new value's cached cardinality is not yet invalidated.
 */
export function hllDenseAdd(value: Buffer, elements: readonly Buffer[], from: number): Buffer {
  let out = value
  for (let j = from; j < elements.length; j++) {
    const count = patLen(elements[j] as Buffer)
    if (count <= denseGet(out, HLL_HDR, patIndex)) continue
    if (out === value) {
      out = Buffer.allocUnsafe(value.length) // every byte copied from value next
      value.copy(out, 0)
    }
    denseSetRaw(out, HLL_HDR, patIndex, count)
  }
  return out
}

/** Set register `index` to at least `count` whatever the encoding (PFMERGE's write step). */
export function hllSetRegister(h: Hll, index: number, count: number, maxBytes: number): void {
  if (h.buf[4] === HLL_DENSE) denseSet(h.buf, index, count)
  else sparseSet(h, index, count, maxBytes)
}

/** hllMerge: max[i] = max(max[i], register i of value); false on corrupt sparse opcodes. */
export function hllMergeInto(max: Uint8Array, value: Buffer): boolean {
  if (value[4] === HLL_DENSE) {
    // Four 6-bit registers in every 3 bytes (isHll checked the dense length).
    for (let i = 0, p = HLL_HDR; i < HLL_REGISTERS; i += 4, p += 3) {
      const b0 = value[p] as number
      const b1 = value[p + 1] as number
      const b2 = value[p + 2] as number
      const r0 = b0 & 63
      const r1 = (b0 >> 6) | ((b1 & 15) << 2)
      const r2 = (b1 >> 4) | ((b2 & 3) << 4)
      const r3 = b2 >> 2
      if (r0 > (max[i] as number)) max[i] = r0
      if (r1 > (max[i + 1] as number)) max[i + 1] = r1
      if (r2 > (max[i + 2] as number)) max[i + 2] = r2
      if (r3 > (max[i + 3] as number)) max[i + 3] = r3
    }
    return true
  }
  let i = 0
  let p = HLL_HDR
  while (p < value.length) {
    const op = value[p] as number
    if (isZero(op)) {
      i += (op & 0x3f) + 1
      p++
    } else if (isXzero(op)) {
      i += (((op & 0x3f) << 8) | (p + 1 < value.length ? value[p + 1] as number : 0)) + 1
      p += 2
    } else {
      let run = (op & 3) + 1
      const val = ((op >> 2) & 0x1f) + 1
      if (run + i > HLL_REGISTERS) break
      while (run-- > 0) {
        if (val > (max[i] as number)) max[i] = val
        i++
      }
      p++
    }
  }
  return i === HLL_REGISTERS
}

// Counting -------------------------------------------------------------------------------------

/** The register histogram of a value (64 slots); null when sparse opcodes are corrupt. */
function histogram(value: Buffer): number[] | null {
  const histo = new Array<number>(64).fill(0)
  if (value[4] === HLL_DENSE) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const r = denseGet(value, HLL_HDR, i)
      histo[r] = (histo[r] as number) + 1
    }
    return histo
  }
  let idx = 0
  let p = HLL_HDR
  while (p < value.length) {
    const op = value[p] as number
    let run: number
    let val = 0
    if (isZero(op)) {
      run = (op & 0x3f) + 1
      p++
    } else if (isXzero(op)) {
      run = (((op & 0x3f) << 8) | (p + 1 < value.length ? value[p + 1] as number : 0)) + 1
      p += 2
    } else {
      run = (op & 3) + 1
      val = ((op >> 2) & 0x1f) + 1
      p++
    }
    idx += run
    histo[val] = (histo[val] as number) + run
  }
  return idx === HLL_REGISTERS ? histo : null
}

function rawHistogram(regs: Uint8Array): number[] {
  const histo = new Array<number>(64).fill(0)
  for (let i = 0; i < HLL_REGISTERS; i++) {
    const r = (regs[i] as number) & 63
    histo[r] = (histo[r] as number) + 1
  }
  return histo
}

function sigma(x: number): number {
  if (x === 1) return Infinity
  let y = 1
  let z = x
  let zPrime: number
  do {
    x *= x
    zPrime = z
    z += x * y
    y += y
  } while (zPrime !== z)
  return z
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0
  let y = 1
  let z = 1 - x
  let zPrime: number
  do {
    x = Math.sqrt(x)
    zPrime = z
    y *= 0.5
    z -= Math.pow(1 - x, 2) * y
  } while (zPrime !== z)
  return z / 3
}

const ALPHA_INF = 0.721347520444481703680

/** hllCount's estimator (Ertl's) over a register histogram; Redis's llroundl of the estimate. */
function estimate(histo: number[]): bigint {
  const m = HLL_REGISTERS
  const q = 64 - HLL_P
  let z = m * tau((m - (histo[q + 1] as number)) / m)
  for (let j = q; j >= 1; j--) {
    z += histo[j] as number
    z *= 0.5
  }
  z += m * sigma((histo[0] as number) / m)
  const e = ALPHA_INF * m * m / z
  // llroundl of an estimate past INT64_MAX (registers of a tampered value) is LLONG_MIN.
  if (!Number.isFinite(e) || e >= 2 ** 63) return -(1n << 63n)
  return BigInt(Math.round(e))
}

/** The cardinality of a valid HLL value; null when its sparse opcodes are corrupt. */
export function hllCount(value: Buffer): bigint | null {
  const histo = histogram(value)
  return histo === null ? null : estimate(histo)
}

/** The cardinality of merged raw registers (PFCOUNT of several keys). */
export function hllCountRaw(regs: Uint8Array): bigint {
  return estimate(rawHistogram(regs))
}
