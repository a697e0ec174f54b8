// Randomness for the commands that pick at random (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER):
// one xorshift128+ generator seeded once from the OS. It is read only by command handlers, never
// inside an event's apply: what a random pick removes is logged as its effect (DESIGN rule 1).
// Tests may fix the seed (setRandomSeed) to make a run reproducible.

import { randomBytes } from 'node:crypto'
import { RandomMap, RandomSet } from '../state/random-access.js'

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

/** A random member of a set value: O(1) for a RandomSet (every stored set), a walk otherwise. */
export function randomSetMember(set: Set<string>): string {
  if (set instanceof RandomSet) return set.randomMember(randomIndex)
  let k = randomIndex(set.size)
  for (const m of set) if (k-- === 0) return m
  return set.values().next().value as string
}

/** A random field of a hash value: O(1) for a RandomMap (every stored hash), a walk otherwise. */
export function randomHashField<V>(hash: Map<string, V>): string {
  if (hash instanceof RandomMap) return (hash as RandomMap<V>).randomKey(randomIndex)
  let k = randomIndex(hash.size)
  for (const f of hash.keys()) if (k-- === 0) return f
  return hash.keys().next().value as string
}

/**
 * `count` distinct random picks out of `size` (count < size): repeated random picks while they
 * are cheap (count at most a third of size: few repeats), else a partial Fisher–Yates over a
 * copy — O(count) expected either way, as Redis's SRANDMEMBER/SPOP/HRANDFIELD with a count.
 */
export function distinctRandom(size: number, count: number, pick: () => string,
  all: () => string[]): string[] {
  if (count * 3 <= size) {
    const chosen = new Set<string>()
    while (chosen.size < count) chosen.add(pick())
    return [...chosen]
  }
  const copy = all()
  for (let i = 0; i < count; i++) {
    const j = i + randomIndex(copy.length - i)
    const t = copy[i] as string
    copy[i] = copy[j] as string
    copy[j] = t
  }
  copy.length = count
  return copy
}
