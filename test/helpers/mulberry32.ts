// mulberry32: a small seeded PRNG returning floats in [0, 1), so that every seeded test failure
// can be replayed from its seed. One copy for the unit tests that fuzz the RESP reader and writer.

export function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let x = state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
