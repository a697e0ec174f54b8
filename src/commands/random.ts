// Randomness for the commands that pick at random (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER):
// one xorshift128+ generator seeded once from the OS. It is read only by command handlers, never
// inside an event's apply: what a random pick removes is logged as its effect (DESIGN rule 1).
// Tests may fix the seed (setRandomSeed) to make a run reproducible.

import { randomBytes } from 'node:crypto'

let s0 = 0n
let s1 = 0n
/** A fast 32-bit state for the hot path, refreshed from the 128-bit one when it reaches 0. */
let x = 0
const MASK = (1n << 64n) - 1n

export function setRandomSeed(seed: bigint): void {
  s0 = (seed ^ 0x9e3779b97f4a7c15n) & MASK
  s1 = (seed * 0xbf58476d1ce4e5b9n + 1n) & MASK
  if (s0 === 0n && s1 === 0n) s1 = 1n
  x = 0
}

setRandomSeed(randomBytes(8).readBigUInt64LE(0))

function next32(): number {
  if (x === 0) {
    let a = s0
    const b = s1
    s0 = b
    a ^= (a << 23n) & MASK
    s1 = a ^ b ^ (a >> 17n) ^ (b >> 26n)
    x = Number((s1 + b) & 0xffffffffn) | 1
  }
  x ^= x << 13
  x ^= x >>> 17
  x ^= x << 5
  return x >>> 0
}

/** A uniform integer in [0, n) for n ≥ 1. */
export function randomIndex(n: number): number {
  if (n <= 1) return 0
  if (n <= 0x100000000) return Math.floor((next32() / 0x100000000) * n)
  return Math.floor(((next32() * 0x100000000 + next32()) / 2 ** 64) * n)
}
