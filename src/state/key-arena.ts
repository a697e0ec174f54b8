// Key bytes (and string values) for the typed-array key index (state/key-table.ts), and the
// hashes it uses.
// KeyArena keeps each key's bytes in a chunk of a size class (8-byte steps up to ARENA_CLASS_MAX),
// in pages that never move, so storing a key never copies the others (no pause while growing);
// a freed chunk goes on its class's free list and is reused by the next key of that class.
// Longer keys get a Buffer of their own. Invariants: a chunk is owned by one key or is on one
// free list, never both; an address is page * PAGE_MAX + offset with offset + chunk size <= the
// page's length (a chunk never crosses a page), or -(index + 1) of a long key.

/** Keys longer than this are kept as Buffers of their own, not in the arena's size classes. */
export const ARENA_CLASS_MAX = 1024
/** Values this long that own their whole buffer are adopted by storeBytes, not copied. */
export const ADOPT_MIN_BYTES = 1024 * 1024
/** Arena pages grow from PAGE_MIN to PAGE_MAX bytes; an address is page * PAGE_MAX + offset. */
const PAGE_MIN = 1024
const PAGE_MAX = 1 << 20

/** FNV-1a (32-bit) of a latin1 string's chars (= keyHash in keyspace.ts). */
export function fnv1a(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** FNV-1a (32-bit) of bytes [start, end) (= fnv1a of their latin1 string). */
export function fnv1aBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i++) {
    h ^= buf[i] as number
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The table's hash of a key whose FNV-1a is `fnv`: murmur3's finalizer (all bits mixed). */
export function mixHash(fnv: number): number {
  let h = fnv
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A Buffer with its own latin1Slice (toString('latin1', …) minus its argument checks). */
export type Latin1Page = Buffer & { latin1Slice(start: number, end: number): string }

function newPage(bytes: number): Latin1Page {
  return Buffer.alloc(bytes) as Latin1Page
}

/**
 * Key bytes in size classes. A chunk of class c holds up to 8 * (c + 1) bytes; an address is
 * page * PAGE_MAX + offset (a chunk never crosses a page). Keys over ARENA_CLASS_MAX bytes get
 * a Buffer of their own and a negative address -(index + 1).
 */
export class KeyArena {
  private readonly pages: Latin1Page[] = []
  /** Bytes used in the newest page. */
  private top = 0
  private readonly free: number[][] = []
  private readonly big: (Latin1Page | null)[] = []
  private readonly bigFree: number[] = []

  constructor() {
    for (let c = 0; c < ARENA_CLASS_MAX / 8; c++) this.free.push([])
    this.pages.push(newPage(PAGE_MIN))
  }

  /** Store latin1 string `key`; returns its address. */
  storeString(key: string): number {
    const n = key.length
    if (n > ARENA_CLASS_MAX) return this.storeBig(Buffer.from(key, 'latin1') as Latin1Page)
    const at = this.alloc(n)
    const page = this.pages[Math.floor(at / PAGE_MAX)] as Uint8Array
    const off = at % PAGE_MAX
    for (let i = 0; i < n; i++) page[off + i] = key.charCodeAt(i)
    return at
  }

  /**
   * Store bytes [start, end) of `buf`; returns its address. A Buffer of at least ADOPT_MIN_BYTES
   * that is exactly the bytes and owns its whole ArrayBuffer (the request reader's buffer of a
   * big bulk, a fresh concat) is kept as it is, not copied: the caller hands it over and never
   * writes it again (issue 19: a 512 MiB SET held the reader's buffer and this copy, 1 GiB).
   * A view into anything larger (an input slab, the pool's mapping) is copied.
   */
  storeBytes(buf: Uint8Array, start: number, end: number): number {
    const n = end - start
    if (n >= ADOPT_MIN_BYTES && start === 0 && end === buf.length && buf.byteOffset === 0 &&
        buf.buffer.byteLength === n && Buffer.isBuffer(buf)) {
      return this.storeBig(buf as Latin1Page)
    }
    if (n > ARENA_CLASS_MAX) return this.storeBig(Buffer.from(buf.subarray(start, end)) as Latin1Page)
    const at = this.alloc(n)
    const page = this.pages[Math.floor(at / PAGE_MAX)] as Uint8Array
    page.set(buf.subarray(start, end), at % PAGE_MAX)
    return at
  }

  private storeBig(b: Latin1Page): number {
    const i = this.bigFree.pop()
    if (i !== undefined) {
      this.big[i] = b
      return -(i + 1)
    }
    this.big.push(b)
    return -this.big.length
  }

  private alloc(n: number): number {
    const c = n === 0 ? 0 : (n - 1) >>> 3
    const reuse = (this.free[c] as number[]).pop()
    if (reuse !== undefined) return reuse
    const size = (c + 1) * 8
    let page = this.pages[this.pages.length - 1] as Latin1Page
    if (this.top + size > page.length) {
      if (page.length < PAGE_MAX) {
        // Grow the newest page in place of itself while it is small (copies at most 512 KiB).
        const bigger = newPage(Math.min(PAGE_MAX, page.length * 4))
        bigger.set(page.subarray(0, this.top))
        this.pages[this.pages.length - 1] = bigger
        page = bigger
      }
      if (this.top + size > page.length) {
        this.pages.push(newPage(PAGE_MAX))
        this.top = 0
      }
    }
    const at = (this.pages.length - 1) * PAGE_MAX + this.top
    this.top += size
    return at
  }

  /** Release the chunk of a key of length n at `at`. */
  release(at: number, n: number): void {
    if (at < 0) {
      this.big[-at - 1] = null
      this.bigFree.push(-at - 1)
      return
    }
    ;(this.free[n === 0 ? 0 : (n - 1) >>> 3] as number[]).push(at)
  }

  /** The bytes holding the chunk at `at` (from offset(at) on). */
  page(at: number): Uint8Array {
    return at < 0 ? this.big[-at - 1] as Latin1Page : this.pages[Math.floor(at / PAGE_MAX)] as Latin1Page
  }

  /** Where the chunk at `at` starts in page(at). */
  offset(at: number): number {
    return at < 0 ? 0 : at % PAGE_MAX
  }

  /** The key at `at` (length n) equals latin1 string `key` (of length n). */
  equalsString(at: number, n: number, key: string): boolean {
    if (at < 0) return (this.big[-at - 1] as Latin1Page).latin1Slice(0, n) === key
    const page = this.pages[Math.floor(at / PAGE_MAX)] as Uint8Array
    const off = at % PAGE_MAX
    for (let i = 0; i < n; i++) if (page[off + i] !== key.charCodeAt(i)) return false
    return true
  }

  /** The key at `at` (length n) equals bytes buf[start, start + n). */
  equalsBytes(at: number, n: number, buf: Uint8Array, start: number): boolean {
    const page = at < 0 ? this.big[-at - 1] as Buffer : this.pages[Math.floor(at / PAGE_MAX)] as Uint8Array
    const off = at < 0 ? 0 : at % PAGE_MAX
    for (let i = 0; i < n; i++) if (page[off + i] !== buf[start + i]) return false
    return true
  }

  /** The key at `at` (length n) as a latin1 string. */
  string(at: number, n: number): string {
    if (at < 0) return (this.big[-at - 1] as Latin1Page).latin1Slice(0, n)
    const page = this.pages[Math.floor(at / PAGE_MAX)] as Latin1Page
    const off = at % PAGE_MAX
    return page.latin1Slice(off, off + n)
  }

  /** Bytes held by the arena's pages and long keys (DRAM accounting, tests). */
  get bytes(): number {
    let n = 0
    for (const p of this.pages) n += p.length
    for (const b of this.big) if (b !== null) n += b.length
    return n
  }
}
