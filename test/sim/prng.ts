// The simulator's only source of randomness (STYLE §12): a seeded sfc32 generator. Every random
// choice of a simulated run comes from one Prng built from one seed, so printing the seed is
// enough to reproduce a failure (`npm run sim -- --seed N`). fork() derives an independent
// stream from the parent's next outputs, so adding draws in one phase does not shift another.

export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number
  readonly seed: number

  constructor(seed: number) {
    this.seed = seed >>> 0
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = this.seed ^ 0x5bd1e995
    for (let i = 0; i < 16; i++) this.u32()
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** A uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }

  bool(p = 0.5): boolean {
    return this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from nothing')
    return items[this.int(items.length)] as T
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n)
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff
    return out
  }

  /** An independent generator seeded from this one. */
  fork(): Prng {
    return new Prng(this.u32())
  }
}

/** The seed for a run: `--seed N` / CAPYKV_SIM_SEED when given, else a fresh one (printed). */
export function seedFromEnv(fallback?: number): number {
  const fromEnv = process.env.CAPYKV_SIM_SEED
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0
  if (fallback !== undefined) return fallback >>> 0
  return (Date.now() ^ (process.pid << 16)) >>> 0
}

/** Work multiplier: CAPYKV_SIM_SCALE (default 1 = CI scale). */
export function simScale(): number {
  const s = Number(process.env.CAPYKV_SIM_SCALE ?? '1')
  return Number.isFinite(s) && s > 0 ? s : 1
}
