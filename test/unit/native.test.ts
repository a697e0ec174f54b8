// Tests of the native addon (native/*.rs through src/storage/native.ts): CRC-64/XZ against an
// independent reference (all three implementations, forced in child processes), pool round
// trips, every documented error code, close() and finalizer-driven unmapping, the mmap fallback,
// and backend/isPmem reporting under PMEM_IS_PMEM_FORCE.
// Invariants: every pool file lives in a fresh temp dir on /dev/shm (RAM) that teardown removes;
// the > 4 GiB pool is a sparse file (truncate), never allocated; backend choices are made once
// per process, so they are tested in child processes with their own environment.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import {
  chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync,
  rmSync, statSync, statfsSync, truncateSync, writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Worker } from 'node:worker_threads'
import {
  crc64, crc64Seal, crc64Verify, createPool, nativeInfo, openPool, SEGMENT_BYTES,
  type NativePool,
} from '../../src/storage/native.js'

const nativeUrl = new URL('../../src/storage/native.js', import.meta.url).href
const shmRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
const dir = mkdtempSync(join(shmRoot, 'capykv-native-test-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let fileNo = 0
const tmpFile = (): string => join(dir, `pool-${fileNo++}`)

const CHECK = 0x995dc9bbdf1939fan
const libpmemAvailable = nativeInfo.backendAvailable.includes('libpmem')

// ---- reference CRC-64/XZ on two 32-bit halves (independent of the Rust code) ----------------
const TLO = new Uint32Array(256)
const THI = new Uint32Array(256)
for (let i = 0; i < 256; i++) {
  let lo = i
  let hi = 0
  for (let k = 0; k < 8; k++) {
    const odd = lo & 1
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0
    hi = hi >>> 1
    if (odd) {
      lo = (lo ^ 0xd7870f42) >>> 0
      hi = (hi ^ 0xc96c5795) >>> 0
    }
  }
  TLO[i] = lo
  THI[i] = hi
}
function crcRef(bytes: Uint8Array, seed = 0n): bigint {
  let lo = ~Number(seed & 0xffffffffn) >>> 0
  let hi = ~Number(seed >> 32n) >>> 0
  for (const b of bytes) {
    const i = (lo ^ b) & 0xff
    lo = (((lo >>> 8) | (hi << 24)) ^ (TLO[i] as number)) >>> 0
    hi = ((hi >>> 8) ^ (THI[i] as number)) >>> 0
  }
  return (BigInt(~hi >>> 0) << 32n) | BigInt(~lo >>> 0)
}

function randomBytes(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.allocUnsafe(n)
  let s = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    out[i] = s & 0xff
  }
  return out
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (e) {
    return (e as { code?: string }).code ?? `no code: ${String(e)}`
  }
  return undefined
}

interface ChildResult {
  status: number | null
  stdout: string
  stderr: string
}
/** Run `code` in a child node (ESM, `n` = the native module) with extra environment. */
function child(code: string, env: Record<string, string | undefined>): ChildResult {
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, ...env })) {
    if (v !== undefined) childEnv[k] = v
  }
  const src = `const n = await import(${JSON.stringify(nativeUrl)});\n${code}`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], {
    env: childEnv,
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
function childJson(t: Tap, code: string, env: Record<string, string | undefined>): any {
  const r = child(code, env)
  t.equal(r.status, 0, `child exits 0 (stderr: ${r.stderr.slice(0, 2000)})`)
  try {
    return JSON.parse(r.stdout)
  } catch {
    t.fail(`child printed no JSON: ${r.stdout.slice(0, 500)}`)
    return {}
  }
}
type Tap = Pick<typeof t, 'equal' | 'fail'>

function mapsMention(path: string): boolean {
  return readFileSync('/proc/self/maps', 'utf8').includes(path)
}

// ---- CRC ------------------------------------------------------------------------------------

t.test('crc64 check values', async (t) => {
  t.equal(crcRef(Buffer.from('123456789')), CHECK, 'reference implementation')
  t.equal(crc64(Buffer.from('123456789'), 0, 9, 0n), CHECK, 'CRC-64/XZ("123456789")')
  t.equal(crc64(Buffer.alloc(0), 0, 0, 0n), 0n, 'empty input')
  t.equal(crc64(Buffer.from('abc'), 3, 0, 0n), 0n, 'empty range at the end')
  t.equal(crc64(Buffer.alloc(0), 0, 0, 12345n), 12345n, 'empty range keeps the seed')
  // A small Buffer shares Node's 8 KiB pool: byteOffset must be honoured.
  const pooled = Buffer.from('xx123456789yy')
  t.ok(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length, 'pooled buffer')
  t.equal(crc64(pooled, 2, 9, 0n), CHECK, 'range inside a pooled Buffer')
  t.equal(crc64(new Uint8Array(Buffer.from('123456789')), 0, 9, 0n), CHECK, 'Uint8Array')
  t.match(nativeInfo.crc64Impl, /^(vpclmulqdq|pclmulqdq|table)$/)
})

t.test('crc64 equals the reference on many lengths, offsets and seeds', async (t) => {
  const data = randomBytes((1 << 16) + 64)
  let bad = 0
  const lengths: number[] = []
  for (let n = 0; n <= 600; n++) lengths.push(n)
  lengths.push(1023, 1024, 1025, 4095, 4096, 4097, 65536)
  for (const n of lengths) {
    for (const off of [0, 1, 3, 7, 8, 13, 63]) {
      const seed = n % 3 === 0 ? 0n : BigInt(n) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn
      if (crc64(data, off, n, seed) !== crcRef(data.subarray(off, off + n), seed)) bad++
    }
  }
  t.equal(bad, 0, 'no mismatch')
  const mib = randomBytes(1 << 20, 7)
  t.equal(crc64(mib, 0, mib.length, 0n), crcRef(mib), '1 MiB')
})

t.test('crc64 continuation equals one-shot', async (t) => {
  const data = randomBytes(5000, 3)
  const whole = crc64(data, 0, data.length, 0n)
  for (const cut of [0, 1, 17, 128, 255, 256, 2500, 4999, 5000]) {
    const first = crc64(data, 0, cut, 0n)
    t.equal(crc64(data, cut, data.length - cut, first), whole, `split at ${cut}`)
  }
  // three pieces from different buffers
  const a = data.subarray(0, 100)
  const b = Buffer.from(data.subarray(100, 3000))
  const c = Buffer.from(data.subarray(3000))
  const s = crc64(c, 0, c.length, crc64(b, 0, b.length, crc64(a, 0, a.length, 0n)))
  t.equal(s, whole, 'a || b || c')
})

t.test('crc64Seal and crc64Verify', async (t) => {
  const rec = randomBytes(200, 11)
  crc64Seal(rec, 8, 150, 0n, 160)
  t.equal(rec.readBigUInt64LE(160), crcRef(rec.subarray(8, 158)), 'sealed little-endian')
  t.equal(crc64Verify(rec, 8, 150, 0n, 160), true, 'verifies')
  t.equal(crc64Verify(rec, 8, 150, 1n, 160), false, 'other seed fails')
  rec[50] = (rec[50] as number) ^ 0x10
  t.equal(crc64Verify(rec, 8, 150, 0n, 160), false, 'one flipped bit fails')
  rec[50] = (rec[50] as number) ^ 0x10
  rec[161] = (rec[161] as number) ^ 1
  t.equal(crc64Verify(rec, 8, 150, 0n, 160), false, 'damaged checksum fails')
  // seal over a pooled small buffer with a seed
  const small = Buffer.from('0123456789abcdefghij')
  crc64Seal(small, 0, 10, 99n, 12)
  t.equal(small.readBigUInt64LE(12), crcRef(small.subarray(0, 10), 99n), 'pooled + seed')
  t.equal(small.subarray(0, 12).toString(), '0123456789ab', 'nothing else written')
  t.equal(crc64Verify(small, 0, 10, 99n, 12), true)
  // seal at the very end
  const end = Buffer.alloc(16)
  crc64Seal(end, 0, 8, 0n, 8)
  t.equal(crc64Verify(end, 0, 8, 0n, 8), true, 'seal in the last 8 bytes')
})

t.test('crc64 bad arguments', async (t) => {
  const b = Buffer.alloc(32)
  const INV = 'ERR_INVALID_ARG'
  const OOR = 'ERR_OUT_OF_RANGE'
  const cases: [string, () => unknown, string][] = [
    ['buf string', () => crc64('abc' as unknown as Buffer, 0, 1, 0n), INV],
    ['buf number', () => crc64(5 as unknown as Buffer, 0, 1, 0n), INV],
    ['buf undefined', () => (crc64 as any)(), INV],
    ['buf Uint16Array', () => crc64(new Uint16Array(4) as unknown as Buffer, 0, 1, 0n), INV],
    ['buf array', () => crc64([1, 2] as unknown as Buffer, 0, 1, 0n), INV],
    ['offset -1', () => crc64(b, -1, 1, 0n), INV],
    ['offset NaN', () => crc64(b, NaN, 1, 0n), INV],
    ['offset 1.5', () => crc64(b, 1.5, 1, 0n), INV],
    ['offset string', () => crc64(b, '0' as unknown as number, 1, 0n), INV],
    ['offset Infinity', () => crc64(b, Infinity, 1, 0n), INV],
    ['offset 2^53', () => crc64(b, 2 ** 53, 0, 0n), INV],
    ['length -0.5', () => crc64(b, 0, -0.5, 0n), INV],
    ['length missing', () => (crc64 as any)(b, 0), INV],
    ['length past end', () => crc64(b, 0, 33, 0n), OOR],
    ['offset past end', () => crc64(b, 33, 0, 0n), OOR],
    ['offset+length past end', () => crc64(b, 30, 3, 0n), OOR],
    ['huge length', () => crc64(b, 1, 2 ** 53 - 1, 0n), OOR],
    ['seed number', () => crc64(b, 0, 1, 0 as unknown as bigint), INV],
    ['seed missing', () => (crc64 as any)(b, 0, 1), INV],
    ['seed -1n', () => crc64(b, 0, 1, -1n), INV],
    ['seed 2^64', () => crc64(b, 0, 1, 2n ** 64n), INV],
    ['seal dst past end', () => crc64Seal(b, 0, 8, 0n, 25), OOR],
    ['seal dst -1', () => crc64Seal(b, 0, 8, 0n, -1), INV],
    ['seal dst missing', () => (crc64Seal as any)(b, 0, 8, 0n), INV],
    ['seal range past end', () => crc64Seal(b, 0, 40, 0n, 0), OOR],
    ['verify dst past end', () => crc64Verify(b, 0, 8, 0n, 32), OOR],
    ['verify dst 1.5', () => crc64Verify(b, 0, 8, 0n, 1.5), INV],
  ]
  for (const [name, fn, code] of cases) t.equal(codeOf(fn), code, name)
  t.equal(codeOf(() => crc64Seal(b, 0, 8, 0n, 24)), undefined, 'seal at the last slot is fine')
})

t.test('every crc64 implementation agrees (forced in child processes)', async (t) => {
  const script = `
    const data = Buffer.alloc(20000)
    let s = 12345
    for (let i = 0; i < data.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0
      data[i] = s >>> 24
    }
    const crcs = []
    for (const len of [0, 1, 15, 16, 31, 32, 33, 100, 127, 128, 129, 255, 256, 257, 1000, 4096,
      19000]) for (const off of [0, 5]) crcs.push(n.crc64(data, off, len, 7n).toString(16))
    console.log(JSON.stringify({ impl: n.nativeInfo.crc64Impl, crcs }))`
  const results: Record<string, { impl: string; crcs: string[] }> = {}
  for (const impl of ['table', 'pclmulqdq', 'auto']) {
    results[impl] = childJson(t, script, { CAPYKV_CRC64_IMPL: impl })
  }
  t.equal(results.table?.impl, 'table', 'table forced')
  t.same(results.pclmulqdq?.crcs, results.table?.crcs, 'pclmulqdq = table')
  t.same(results.auto?.crcs, results.table?.crcs, `${results.auto?.impl} = table`)
  // and the parent's answer on the same data
  const data = Buffer.alloc(20000)
  let s = 12345
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    data[i] = s >>> 24
  }
  const lens = [0, 1, 15, 16, 31, 32, 33, 100, 127, 128, 129, 255, 256, 257, 1000, 4096, 19000]
  const mine: string[] = []
  for (const len of lens) for (const off of [0, 5]) {
    mine.push(crcRef(data.subarray(off, off + len), 7n).toString(16))
  }
  t.same(results.table?.crcs, mine, 'table = reference')
})

// ---- pools ----------------------------------------------------------------------------------

t.test('create, write, store64, persist, close, reopen', async (t) => {
  const file = tmpFile()
  const size = 1 << 20
  const pool = createPool(file, size)
  t.equal(pool.sizeBytes, size)
  t.equal(pool.backend, nativeInfo.backend, 'the process-wide backend')
  if (process.env.PMEM_IS_PMEM_FORCE === undefined || pool.backend === 'mmap') {
    t.equal(pool.isPmem, false, '/dev/shm is not PM unless forced')
  }
  t.equal(pool.segments.length, 1)
  t.equal(pool.segments[0]?.length, size)
  t.ok(Object.isFrozen(pool.segments), 'segments array is frozen')
  t.throws(() => {
    ;(pool as { sizeBytes: number }).sizeBytes = 1
  }, TypeError, 'properties are read-only')
  t.equal(statSync(file).size, size, 'file has the pool size')
  t.equal(statSync(file).blocks * 512 >= size, true, 'blocks allocated up front')
  const seg = pool.segments[0] as Buffer
  t.equal(seg.readBigUInt64LE(4096), 0n, 'fresh pool reads zero')
  seg.write('hello pool', 100)
  pool.store64(0, 0xdeadbeef, 0x01234567)
  pool.store64(size - 8, 0xffffffff, 0xffffffff)
  pool.store64(8, 0, 0)
  t.equal(seg.readBigUInt64LE(0), 0x01234567deadbeefn, 'store64 = lo | hi << 32')
  t.equal(seg.readBigUInt64LE(size - 8), 0xffffffffffffffffn, 'store64 in the last slot')
  pool.persist(0, 4096)
  pool.persist(100, 10)
  pool.persist(size - 1, 1)
  pool.persist(0, 0)
  pool.persist(size, 0)
  pool.flush(0, 128)
  pool.flush(size - 64, 64)
  pool.drain()
  // methods work detached from the object
  const { persist, store64 } = pool
  store64(16, 7, 0)
  persist(16, 8)
  const view = seg.subarray(100, 110)
  pool.close()
  t.equal(seg.length, 0, 'segment detached')
  t.equal(view.length, 0, 'views of the segment detached too')
  t.notOk(mapsMention(file), 'unmapped eagerly')
  const reopened = openPool(file)
  t.equal(reopened.sizeBytes, size, 'reopen keeps the size')
  t.equal(statSync(file).size, size, 'file not resized')
  const r = reopened.segments[0] as Buffer
  t.equal(r.toString('latin1', 100, 110), 'hello pool')
  t.equal(r.readBigUInt64LE(0), 0x01234567deadbeefn)
  t.equal(r.readBigUInt64LE(16), 7n)
  t.equal(r.readBigUInt64LE(size - 8), 0xffffffffffffffffn)
  reopened.close()
  t.equal(statSync(file).size, size, 'size unchanged after close')
})

t.test('writeSealed seals and copies; commit flushes, stores, flushes', async (t) => {
  const file = tmpFile()
  const size = 1 << 16
  const pool = createPool(file, size)
  const seg = pool.segments[0] as Buffer
  const src = Buffer.alloc(200, 0xaa)
  for (let i = 0; i < 152; i++) src[i] = (i * 7) & 0xff
  const seed = 0xfeedfacecafebeefn
  pool.writeSealed(src, 160, seed, 4096 + 8)
  t.equal(src.readBigUInt64LE(152), crcRef(src.subarray(0, 152), seed), 'the source is sealed')
  t.equal(src[160], 0xaa, 'nothing past length is touched')
  t.same(seg.subarray(4104, 4104 + 160), src.subarray(0, 160), 'and copied to the pool')
  t.equal(seg[4104 + 160], 0, 'nothing past length is copied')
  t.ok(crc64Verify(seg, 4104, 152, seed, 4104 + 152), 'the copy verifies in place')
  pool.writeSealed(Buffer.alloc(8, 1), 8, 0n, 0)
  t.equal(seg.readBigUInt64LE(0), crc64(Buffer.alloc(0), 0, 0, 0n), '8 bytes: the CRC of nothing')
  // A source inside the pool itself, overlapping its destination (a memmove).
  seg.fill(3, 8192, 8192 + 64)
  pool.writeSealed(seg.subarray(8192, 8192 + 64), 64, 5n, 8192 + 8)
  t.equal(seg[8192 + 8], 3, 'overlapping copy moved the bytes')
  pool.commit(4104, 160, 64, 0x01020304, 0xa0b0c0d0)
  t.equal(seg.readBigUInt64LE(64), 0xa0b0c0d001020304n, 'commit stored lo | hi << 32')
  pool.commit(0, 0, size - 8, 1, 2)
  t.equal(seg.readBigUInt64LE(size - 8), 0x0000000200000001n, 'empty flush range, last slot')
  pool.close()
  const r = openPool(file)
  const again = r.segments[0] as Buffer
  t.same(again.subarray(4104, 4104 + 160), src.subarray(0, 160), 'the record survives reopen')
  t.equal(again.readBigUInt64LE(64), 0xa0b0c0d001020304n, 'and the committed word')
  r.close()
  const closed = createPool(tmpFile(), 8192)
  closed.close()
  t.equal(codeOf(() => closed.writeSealed(src, 16, 0n, 0)), 'ERR_POOL_CLOSED', 'writeSealed closed')
  t.equal(codeOf(() => closed.commit(0, 8, 0, 1, 2)), 'ERR_POOL_CLOSED', 'commit closed')
})

t.test('writeSealed and commit: bad arguments change nothing', async (t) => {
  const size = 16384
  const pool = createPool(tmpFile(), size)
  t.teardown(() => pool.close())
  const seg = pool.segments[0] as Buffer
  const src = Buffer.alloc(64, 9)
  const INV = 'ERR_INVALID_ARG'
  const OOR = 'ERR_OUT_OF_RANGE'
  const cases: [string, () => unknown, string][] = [
    ['sealed length 7', () => pool.writeSealed(src, 7, 0n, 0), INV],
    ['sealed length past src', () => pool.writeSealed(src, 72, 0n, 0), OOR],
    ['sealed src not bytes', () => pool.writeSealed([1, 2] as unknown as Buffer, 8, 0n, 0), INV],
    ['sealed seed number', () => pool.writeSealed(src, 16, 0 as unknown as bigint, 0), INV],
    ['sealed seed 2^64', () => pool.writeSealed(src, 16, 2n ** 64n, 0), INV],
    ['sealed dst past end', () => pool.writeSealed(src, 16, 0n, size - 8), OOR],
    ['sealed dst -1', () => pool.writeSealed(src, 16, 0n, -1), INV],
    ['sealed dst missing', () => (pool.writeSealed as any)(src, 16, 0n), INV],
    ['commit word unaligned', () => pool.commit(0, 8, 4, 1, 1), INV],
    ['commit word at end', () => pool.commit(0, 8, size, 1, 1), OOR],
    ['commit flush past end', () => pool.commit(size - 8, 16, 0, 1, 1), OOR],
    ['commit lo 2^32', () => pool.commit(0, 8, 0, 2 ** 32, 1), INV],
    ['commit hi -1', () => pool.commit(0, 8, 0, 1, -1), INV],
    ['commit hi missing', () => (pool.commit as any)(0, 8, 0, 1), INV],
  ]
  for (const [name, fn, code] of cases) t.equal(codeOf(fn), code, name)
  t.equal(seg.readBigUInt64LE(0), 0n, 'no bad call wrote anything')
  t.equal(src.readBigUInt64LE(8), 0x0909090909090909n, 'nor sealed its source')
})

t.test('closed pool throws ERR_POOL_CLOSED', async (t) => {
  const pool = createPool(tmpFile(), 8192)
  pool.close()
  const C = 'ERR_POOL_CLOSED'
  t.equal(codeOf(() => pool.persist(0, 8)), C, 'persist')
  t.equal(codeOf(() => pool.flush(0, 8)), C, 'flush')
  t.equal(codeOf(() => pool.drain()), C, 'drain')
  t.equal(codeOf(() => pool.store64(0, 1, 2)), C, 'store64')
  t.equal(codeOf(() => pool.close()), C, 'close twice')
  t.equal(pool.sizeBytes, 8192, 'properties stay readable')
})

t.test('pool method bad arguments', async (t) => {
  const size = 16384
  const pool = createPool(tmpFile(), size)
  t.teardown(() => pool.close())
  const INV = 'ERR_INVALID_ARG'
  const OOR = 'ERR_OUT_OF_RANGE'
  const cases: [string, () => unknown, string][] = [
    ['persist offset string', () => pool.persist('0' as unknown as number, 1), INV],
    ['persist offset -1', () => pool.persist(-1, 1), INV],
    ['persist offset NaN', () => pool.persist(NaN, 1), INV],
    ['persist offset 1.5', () => pool.persist(1.5, 1), INV],
    ['persist length -1', () => pool.persist(0, -1), INV],
    ['persist length missing', () => (pool.persist as any)(0), INV],
    ['persist offset 2^53', () => pool.persist(2 ** 53, 0), INV],
    ['persist past end', () => pool.persist(size - 4, 5), OOR],
    ['persist offset past end', () => pool.persist(size + 1, 0), OOR],
    ['persist huge', () => pool.persist(8, 2 ** 53 - 1), OOR],
    ['flush bigint', () => pool.flush(0n as unknown as number, 1), INV],
    ['flush past end', () => pool.flush(0, size + 1), OOR],
    ['store64 unaligned', () => pool.store64(4, 0, 0), INV],
    ['store64 unaligned 1', () => pool.store64(1, 0, 0), INV],
    ['store64 at end', () => pool.store64(size, 0, 0), OOR],
    ['store64 far', () => pool.store64(2 ** 40, 0, 0), OOR],
    ['store64 offset -8', () => pool.store64(-8, 0, 0), INV],
    ['store64 lo -1', () => pool.store64(0, -1, 0), INV],
    ['store64 lo 2^32', () => pool.store64(0, 2 ** 32, 0), INV],
    ['store64 hi 1.5', () => pool.store64(0, 0, 1.5), INV],
    ['store64 hi missing', () => (pool.store64 as any)(0, 0), INV],
    ['store64 hi string', () => pool.store64(0, 0, '1' as unknown as number), INV],
  ]
  for (const [name, fn, code] of cases) t.equal(codeOf(fn), code, name)
  t.equal((pool.segments[0] as Buffer).readBigUInt64LE(0), 0n, 'no bad call wrote anything')
})

t.test('createPool and openPool errors', async (t) => {
  const INV = 'ERR_INVALID_ARG'
  const existing = tmpFile()
  writeFileSync(existing, 'precious')
  t.equal(codeOf(() => createPool(existing, 4096)), 'EEXIST', 'EEXIST')
  t.equal(readFileSync(existing, 'utf8'), 'precious', 'existing file untouched')
  t.equal(codeOf(() => openPool(join(dir, 'missing'))), 'ENOENT', 'open missing file')
  t.equal(codeOf(() => createPool(join(dir, 'no-dir', 'p'), 4096)), 'ENOENT', 'missing dir')
  t.equal(codeOf(() => openPool(dir)), 'EISDIR', 'open a directory')
  const empty = tmpFile()
  writeFileSync(empty, '')
  t.equal(codeOf(() => openPool(empty)), 'EINVAL', 'open an empty file')
  for (const size of [0, 100, 4095, 4097, -4096, NaN, 4096.5, 2 ** 53]) {
    const f = tmpFile()
    t.equal(codeOf(() => createPool(f, size)), INV, `size ${size}`)
    t.notOk(existsSync(f), `no file left for size ${size}`)
  }
  t.equal(codeOf(() => createPool(tmpFile(), '4096' as unknown as number)), INV, 'size string')
  t.equal(codeOf(() => createPool(42 as unknown as string, 4096)), INV, 'path number')
  t.equal(codeOf(() => (createPool as any)()), INV, 'no arguments')
  t.equal(codeOf(() => createPool(join(dir, 'a\0b'), 4096)), INV, 'NUL in path')
  t.equal(codeOf(() => (openPool as any)(undefined)), INV, 'open undefined')
  const err = (() => {
    try {
      openPool(join(dir, 'missing'))
    } catch (e) {
      return e as Error
    }
    return undefined
  })()
  t.ok(err instanceof Error, 'a real Error')
  t.match(err?.message, /^ENOENT: no such file or directory, open '.*missing'$/, 'Node-style')
})

t.test('ENOSPC: allocation larger than the filesystem fails and leaves no file', async (t) => {
  const free = (() => {
    const s = statfsSync(dir)
    return s.bavail * s.bsize
  })()
  const request = 64 * 2 ** 30
  if (free >= request) {
    t.pass(`skipped: ${dir} has ${free} bytes free, cannot provoke ENOSPC with ${request}`)
    return
  }
  const f = tmpFile()
  t.equal(codeOf(() => createPool(f, request)), 'ENOSPC', `createPool of ${request} bytes`)
  t.notOk(existsSync(f), 'the file of a failed create is removed')
})

t.test('EACCES', async (t) => {
  const locked = join(dir, 'locked')
  mkdirSync(locked)
  const file = join(locked, 'p')
  createPool(file, 4096).close()
  chmodSync(file, 0o600)
  chmodSync(locked, 0o755)
  if (process.getuid?.() === 0) {
    // root ignores permissions: ask an unprivileged child.
    const r = spawnSync(process.execPath, ['-e', `
      const n = require(${JSON.stringify(new URL('../../../native/pmem.node', import.meta.url)
        .pathname)})
      const code = (f) => { try { f(); return 'none' } catch (e) { return e.code } }
      console.log(JSON.stringify({
        open: code(() => n.openPool(${JSON.stringify(file)})),
        create: code(() => n.createPool(${JSON.stringify(join(locked, 'q'))}, 4096)),
      }))`], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' })
    if (r.error || r.status !== 0) {
      t.pass(`skipped: no child as nobody: ${r.error?.message ?? r.stderr.slice(0, 300)}`)
      return
    }
    t.same(JSON.parse(r.stdout), { open: 'EACCES', create: 'EACCES' })
  } else {
    chmodSync(file, 0o400)
    chmodSync(locked, 0o500)
    t.teardown(() => chmodSync(locked, 0o755))
    t.equal(codeOf(() => openPool(file)), 'EACCES', 'open read-only file')
    t.equal(codeOf(() => createPool(join(locked, 'q'), 4096)), 'EACCES', 'create in r-x dir')
  }
  t.notOk(existsSync(join(locked, 'q')), 'nothing created')
})

t.test('pool larger than 4 GiB: segments of 1 GiB (sparse file)', async (t) => {
  const file = tmpFile()
  const size = 5 * SEGMENT_BYTES + 8192
  writeFileSync(file, '')
  truncateSync(file, size) // sparse: no RAM used until touched
  const check = (pool: NativePool): void => {
    t.equal(pool.sizeBytes, size)
    t.same(pool.segments.map((s) => s.length), [1, 1, 1, 1, 1].map(() => SEGMENT_BYTES)
      .concat([8192]), 'five full segments and a tail')
    const last = pool.segments[5] as Buffer
    last.write('tail', 100)
    pool.store64(size - 8, 0x11223344, 0x55667788)
    pool.store64(3 * SEGMENT_BYTES + 64, 5, 6)
    t.equal((pool.segments[3] as Buffer).readBigUInt64LE(64), 0x0000000600000005n, 'segment 3')
    pool.persist(size - 8192, 8192)
    pool.persist(3 * SEGMENT_BYTES, 128)
    t.equal(codeOf(() => pool.store64(size, 0, 0)), 'ERR_OUT_OF_RANGE')
    pool.close()
  }
  check(openPool(file))
  const fd = openSync(file, 'r')
  const tail = Buffer.alloc(8)
  readSync(fd, tail, 0, 8, size - 8)
  const word = Buffer.alloc(8)
  readSync(fd, word, 0, 8, 3 * SEGMENT_BYTES + 64)
  closeSync(fd)
  t.equal(tail.readBigUInt64LE(0), 0x5566778811223344n, 'stored through the mapping')
  t.equal(word.readBigUInt64LE(0), 0x0000000600000005n)
  t.equal(statSync(file).size, size, 'never resized')
  // the same under the mmap backend
  const got = childJson(t, `
    const p = n.openPool(${JSON.stringify(file)})
    const r = { backend: p.backend, segs: p.segments.length, last: p.segments[5].length,
      tail: p.segments[5].toString('latin1', 100, 104),
      word: p.segments[5].readBigUInt64LE(8184).toString(16) }
    p.store64(${4 * SEGMENT_BYTES}, 1, 2); p.persist(${4 * SEGMENT_BYTES}, 8); p.close()
    console.log(JSON.stringify(r))`, { CAPYKV_PMEM_BACKEND: 'mmap' })
  t.same(got, { backend: 'mmap', segs: 6, last: 8192, tail: 'tail', word: '5566778811223344' })
  rmSync(file)
})

t.test('mappings are released by the finalizers when nothing refers to them', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const settle = async (done: () => boolean): Promise<boolean> => {
    for (let i = 0; i < 100 && !done(); i++) {
      gc()
      await new Promise((resolve) => setImmediate(resolve))
    }
    return done()
  }
  const a = tmpFile()
  let view: Buffer | undefined = ((): Buffer => {
    const p = createPool(a, 8192)
    return (p.segments[0] as Buffer).subarray(0, 16)
  })()
  const b = tmpFile()
  let persist: ((o: number, l: number) => void) | undefined = createPool(b, 4096).persist
  const c = tmpFile()
  void createPool(c, 4096) // dropped at once
  t.ok(await settle(() => !mapsMention(c)), 'an unreferenced pool is unmapped')
  t.ok(mapsMention(a) && mapsMention(b), 'pools still referenced stay mapped')
  view[0] = 42
  t.equal(view[0], 42, 'a surviving view still works')
  persist(0, 8)
  view = undefined
  persist = undefined
  t.ok(await settle(() => !mapsMention(a) && !mapsMention(b)), 'released with the last holder')
  // churn: many pools created and dropped (in a sync function: a suspended async function
  // keeps its last locals alive)
  ;((): void => {
    for (let i = 0; i < 200; i++) {
      const f = tmpFile()
      const p = createPool(f, 4096)
      if (i % 2 === 0) p.close()
      rmSync(f)
    }
  })()
  t.ok(await settle(() => !mapsMention(dir)), 'no mapping of this test left')
})

t.test('pools of a worker are unmapped when the worker exits (env teardown)', async (t) => {
  const wdir = join(dir, 'worker')
  mkdirSync(wdir)
  const code = `
    const { workerData, parentPort } = require('node:worker_threads')
    import(workerData.url).then((n) => {
      globalThis.keep = []
      for (let i = 0; i < 4; i++) {
        const p = n.createPool(workerData.dir + '/w' + i, 8192)
        keep.push(p, p.segments[0].subarray(0, 4), p.persist)
        if (i === 0) p.close()
      }
      parentPort.postMessage('ready')
    })`
  for (let round = 0; round < 2; round++) {
    const w = new Worker(code, { eval: true, workerData: { url: nativeUrl, dir: wdir } })
    const msg = await new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    t.equal(msg, 'ready')
    await w.terminate()
    t.notOk(mapsMention(wdir), `round ${round}: no mapping left`)
    rmSync(wdir, { recursive: true })
    mkdirSync(wdir)
  }
})

// ---- backends -------------------------------------------------------------------------------

const roundTrip = (file: string): string => `
  const p = n.createPool(${JSON.stringify(file)}, 65536)
  p.store64(64, 0xabcdef01, 0x23456789); p.persist(64, 8); p.flush(0, 4096); p.drain()
  p.segments[0].write('mmap!', 1000); p.persist(1000, 5)
  const first = { backend: p.backend, isPmem: p.isPmem }
  p.close()
  const q = n.openPool(${JSON.stringify(file)})
  const again = { size: q.sizeBytes, word: q.segments[0].readBigUInt64LE(64).toString(16),
    text: q.segments[0].toString('latin1', 1000, 1005) }
  q.close()
  console.log(JSON.stringify({ info: n.nativeInfo, first, again }))`

t.test('CAPYKV_PMEM_BACKEND=mmap forces the fallback', async (t) => {
  for (const force of [undefined, '1']) {
    const got = childJson(t, roundTrip(tmpFile()), {
      CAPYKV_PMEM_BACKEND: 'mmap',
      PMEM_IS_PMEM_FORCE: force,
    })
    t.same(got.info?.backendAvailable, ['mmap'], 'libpmem not even loaded')
    t.equal(got.info?.backend, 'mmap')
    t.same(got.first, { backend: 'mmap', isPmem: false }, `isPmem false (force=${force})`)
    t.same(got.again, { size: 65536, word: '23456789abcdef01', text: 'mmap!' }, 'round trip')
  }
})

t.test('without libpmem (dlopen fails) the mmap backend serves', async (t) => {
  const got = childJson(t, roundTrip(tmpFile()), {
    CAPYKV_PMEM_BACKEND: undefined,
    CAPYKV_LIBPMEM: '/nonexistent/libpmem.so.1',
    PMEM_IS_PMEM_FORCE: '1',
  })
  t.same(got.info?.backendAvailable, ['mmap'], 'libpmem unavailable')
  t.equal(got.info?.backend, 'mmap', 'auto falls back to mmap')
  t.same(got.first, { backend: 'mmap', isPmem: false })
  t.same(got.again, { size: 65536, word: '23456789abcdef01', text: 'mmap!' }, 'round trip')
  const forced = childJson(t, `
    const code = (f) => { try { f(); return 'none' } catch (e) { return e.code } }
    console.log(JSON.stringify({ backend: n.nativeInfo.backend,
      create: code(() => n.createPool(${JSON.stringify(tmpFile())}, 4096)) }))`,
  { CAPYKV_PMEM_BACKEND: 'libpmem', CAPYKV_LIBPMEM: '/nonexistent/libpmem.so.1' })
  t.same(forced, { backend: null, create: 'ERR_BACKEND_UNAVAILABLE' }, 'libpmem required')
})

t.test('libpmem backend and PMEM_IS_PMEM_FORCE', { skip: !libpmemAvailable && 'no libpmem' },
  async (t) => {
    const forced = childJson(t, roundTrip(tmpFile()), {
      CAPYKV_PMEM_BACKEND: undefined,
      PMEM_IS_PMEM_FORCE: '1',
    })
    t.equal(forced.info?.backend, 'libpmem', 'auto picks libpmem')
    t.same(forced.info?.backendAvailable, ['libpmem', 'mmap'])
    t.same(forced.first, { backend: 'libpmem', isPmem: true }, 'forced PM on /dev/shm')
    t.same(forced.again, { size: 65536, word: '23456789abcdef01', text: 'mmap!' })
    const plain = childJson(t, roundTrip(tmpFile()), {
      CAPYKV_PMEM_BACKEND: 'libpmem',
      PMEM_IS_PMEM_FORCE: '0',
    })
    t.same(plain.first, { backend: 'libpmem', isPmem: false }, 'tmpfs is not PM')
    t.same(plain.again, { size: 65536, word: '23456789abcdef01', text: 'mmap!' })
  })

t.test('an invalid CAPYKV_PMEM_BACKEND fails pool creation, not the module', async (t) => {
  const got = childJson(t, `
    const code = (f) => { try { f(); return 'none' } catch (e) { return e.code } }
    console.log(JSON.stringify({ backend: n.nativeInfo.backend,
      create: code(() => n.createPool(${JSON.stringify(tmpFile())}, 4096)),
      crc: n.crc64(Buffer.from('123456789'), 0, 9, 0n).toString(16) }))`,
  { CAPYKV_PMEM_BACKEND: 'bogus' })
  t.same(got, { backend: null, create: 'ERR_INVALID_BACKEND', crc: CHECK.toString(16) })
})
