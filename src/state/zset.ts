// The sorted-set value (type 4): a skiplist with span counts (Redis's zskiplist, t_zset.c) plus a
// Map member → score, so membership and score are O(1) and rank, range-by-rank, range-by-score
// and range-by-lex are O(log n). This file also registers the zset's whole-value codec.
// Invariants:
// - Order is (score, member bytes) exactly as Redis: scores compared as doubles (so -0 == 0 and
//   ties fall to the member), members compared as memcmp then length. Members are latin1 strings
//   (one char per byte), whose JS `<` is exactly that byte order.
// - No score is NaN (the commands refuse NaN results; decode drops them).
// - map.size === length === the number of nodes on level 0; for every node and level i,
//   span[i] is the number of level-0 steps from the node to next[i] (or to the end + 1).
// - Node levels come from a private xorshift generator: they shape only the cost, never what a
//   reader can observe, and they are reproducible (no Math.random, STYLE §15).
// - `everBig` is the sticky half of OBJECT ENCODING: once the set outgrew Redis's listpack
//   thresholds (state/encoding-limits.ts) it is reported as a skiplist until rebuilt (as Redis
//   never converts back).
// Codec layout (value-codec.ts): count, then count × (f64 score, member bytes), in zset order.

import { type ByteReader, type ByteWriter } from './bytes.js'
import { TYPE_ZSET } from './keyspace.js'
import { registerValueType } from './value-codec.js'
import { encodingLimits } from './encoding-limits.js'

export const ZSKIPLIST_MAXLEVEL = 32

export class ZNode {
  readonly next: (ZNode | null)[]
  readonly span: number[]
  prev: ZNode | null = null
  constructor(public member: string, public score: number, level: number) {
    this.next = new Array<ZNode | null>(level).fill(null)
    this.span = new Array<number>(level).fill(0)
  }
}

/** A score range as ZRANGEBYSCORE parses it. */
export interface ScoreRange { min: number; max: number; minex: boolean; maxex: boolean }
/**
 * A lex range: null bound = '-' (min) or '+' (max) infinity; ex = exclusive ('(').
 * minInf/maxInf: the special '+' as min or '-' as max (an empty range).
 */
export interface LexRange {
  min: string | null; max: string | null; minex: boolean; maxex: boolean
  minPlusInf?: boolean; maxMinusInf?: boolean
}

function before(score: number, member: string, nscore: number, nmember: string): boolean {
  return nscore < score || (nscore === score && nmember < member)
}

export function scoreGteMin(score: number, r: ScoreRange): boolean {
  return r.minex ? score > r.min : score >= r.min
}
export function scoreLteMax(score: number, r: ScoreRange): boolean {
  return r.maxex ? score < r.max : score <= r.max
}
export function lexGteMin(member: string, r: LexRange): boolean {
  if (r.minPlusInf === true) return false
  if (r.min === null) return true
  return r.minex ? member > r.min : member >= r.min
}
export function lexLteMax(member: string, r: LexRange): boolean {
  if (r.maxMinusInf === true) return false
  if (r.max === null) return true
  return r.maxex ? member < r.max : member <= r.max
}
export function scoreRangeEmpty(r: ScoreRange): boolean {
  return r.min > r.max || (r.min === r.max && (r.minex || r.maxex))
}
export function lexRangeEmpty(r: LexRange): boolean {
  if (r.minPlusInf === true || r.maxMinusInf === true) return true
  if (r.min === null || r.max === null) return false
  return r.min > r.max || (r.min === r.max && (r.minex || r.maxex))
}

/** Scratch for insert/unlink (single-threaded, never re-entered): no allocation per update. */
const UPDATE: ZNode[] = new Array<ZNode>(ZSKIPLIST_MAXLEVEL)
const RANK: number[] = new Array<number>(ZSKIPLIST_MAXLEVEL).fill(0)

export class ZSet {
  readonly map = new Map<string, number>()
  private readonly header = new ZNode('', 0, ZSKIPLIST_MAXLEVEL)
  private tail: ZNode | null = null
  private level = 1
  private seed = 0x9e3779b9
  everBig = false

  get length(): number {
    return this.map.size
  }

  private randomLevel(): number {
    let level = 1
    for (;;) {
      let x = this.seed
      x ^= x << 13; x >>>= 0
      x ^= x >>> 17
      x ^= x << 5; x >>>= 0
      this.seed = x
      // Two bits per draw: p = 1/4 as ZSKIPLIST_P.
      if ((x & 3) !== 0 || level >= ZSKIPLIST_MAXLEVEL) return level
      level++
    }
  }

  score(member: string): number | undefined {
    return this.map.get(member)
  }

  has(member: string): boolean {
    return this.map.has(member)
  }

  /** Insert or update; returns the previous score (undefined when new). NaN is refused. */
  add(member: string, score: number): number | undefined {
    if (Number.isNaN(score)) return this.map.get(member)
    const old = this.map.get(member)
    if (old !== undefined) {
      if (old === score) return old // -0 == 0 as in C: the stored score keeps its sign
      this.unlink(member, old)
    }
    this.insert(member, score)
    this.map.set(member, score)
    this.noteSize(member)
    return old
  }

  /** Remove; returns the removed score or undefined. */
  delete(member: string): number | undefined {
    const old = this.map.get(member)
    if (old === undefined) return undefined
    this.unlink(member, old)
    this.map.delete(member)
    return old
  }

  noteSize(member: string): void {
    if (this.map.size > encodingLimits.zsetMaxListpackEntries ||
      member.length > encodingLimits.zsetMaxListpackValue) {
      this.everBig = true
    }
  }

  private insert(member: string, score: number): void {
    const update = UPDATE
    const rank = RANK
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : (rank[i + 1] as number)
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || !before(score, member, n.score, n.member)) break
        rank[i] = (rank[i] as number) + (x.span[i] as number)
        x = n
      }
      update[i] = x
    }
    const level = this.randomLevel()
    if (level > this.level) {
      for (let i = this.level; i < level; i++) {
        rank[i] = 0
        update[i] = this.header
        this.header.span[i] = this.map.size
      }
      this.level = level
    }
    const node = new ZNode(member, score, level)
    const rank0 = rank[0] as number
    for (let i = 0; i < level; i++) {
      const u = update[i] as ZNode
      node.next[i] = u.next[i] as ZNode | null
      u.next[i] = node
      const ri = rank[i] as number
      node.span[i] = (u.span[i] as number) - (rank0 - ri)
      u.span[i] = rank0 - ri + 1
    }
    for (let i = level; i < this.level; i++) {
      const u = update[i] as ZNode
      u.span[i] = (u.span[i] as number) + 1
    }
    node.prev = update[0] === this.header ? null : update[0] as ZNode
    const after = node.next[0] as ZNode | null
    if (after !== null) after.prev = node
    else this.tail = node
  }

  private unlink(member: string, score: number): void {
    const update = UPDATE
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || !before(score, member, n.score, n.member)) break
        x = n
      }
      update[i] = x
    }
    const node = x.next[0] as ZNode | null
    if (node === null || node.member !== member) return // cannot happen while map and list agree
    for (let i = 0; i < this.level; i++) {
      const u = update[i] as ZNode
      if (u.next[i] === node) {
        u.span[i] = (u.span[i] as number) + (node.span[i] as number) - 1
        u.next[i] = node.next[i] as ZNode | null
      } else {
        u.span[i] = (u.span[i] as number) - 1
      }
    }
    const after = node.next[0] as ZNode | null
    if (after !== null) after.prev = node.prev
    else this.tail = node.prev
    while (this.level > 1 && this.header.next[this.level - 1] === null) this.level--
  }

  /** 0-based rank of a member, or -1. */
  rank(member: string): number {
    const score = this.map.get(member)
    if (score === undefined) return -1
    let r = 0
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null) break
        if (!(n.score < score || (n.score === score && n.member <= member))) break
        r += x.span[i] as number
        x = n
      }
      if (x !== this.header && x.member === member) return r - 1
    }
    return -1
  }

  /** Node at 0-based rank, or null. */
  byRank(rank: number): ZNode | null {
    if (rank < 0 || rank >= this.map.size) return null
    const target = rank + 1
    let traversed = 0
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || traversed + (x.span[i] as number) > target) break
        traversed += x.span[i] as number
        x = n
      }
      if (traversed === target) return x
    }
    return null
  }

  first(): ZNode | null {
    return this.header.next[0] as ZNode | null
  }

  last(): ZNode | null {
    return this.tail
  }

  /** First node with score in range (the lowest), or null. */
  firstInScoreRange(r: ScoreRange): ZNode | null {
    if (scoreRangeEmpty(r)) return null
    const last = this.tail
    const first = this.first()
    if (last === null || first === null) return null
    if (!scoreGteMin(last.score, r) || !scoreLteMax(first.score, r)) return null
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || scoreGteMin(n.score, r)) break
        x = n
      }
    }
    const n = x.next[0] as ZNode | null
    return n !== null && scoreLteMax(n.score, r) ? n : null
  }

  /** Last node with score in range (the highest), or null. */
  lastInScoreRange(r: ScoreRange): ZNode | null {
    if (scoreRangeEmpty(r)) return null
    const last = this.tail
    const first = this.first()
    if (last === null || first === null) return null
    if (!scoreGteMin(last.score, r) || !scoreLteMax(first.score, r)) return null
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || !scoreLteMax(n.score, r)) break
        x = n
      }
    }
    return x !== this.header && scoreGteMin(x.score, r) ? x : null
  }

  firstInLexRange(r: LexRange): ZNode | null {
    if (lexRangeEmpty(r)) return null
    const last = this.tail
    const first = this.first()
    if (last === null || first === null) return null
    if (!lexGteMin(last.member, r) || !lexLteMax(first.member, r)) return null
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || lexGteMin(n.member, r)) break
        x = n
      }
    }
    const n = x.next[0] as ZNode | null
    return n !== null && lexLteMax(n.member, r) ? n : null
  }

  lastInLexRange(r: LexRange): ZNode | null {
    if (lexRangeEmpty(r)) return null
    const last = this.tail
    const first = this.first()
    if (last === null || first === null) return null
    if (!lexGteMin(last.member, r) || !lexLteMax(first.member, r)) return null
    let x = this.header
    for (let i = this.level - 1; i >= 0; i--) {
      for (;;) {
        const n = x.next[i] as ZNode | null
        if (n === null || !lexLteMax(n.member, r)) break
        x = n
      }
    }
    return x !== this.header && lexGteMin(x.member, r) ? x : null
  }

  /** Rank of a node known to be in the set. */
  rankOf(node: ZNode): number {
    return this.rank(node.member)
  }

  *[Symbol.iterator](): Iterator<[string, number]> {
    for (let x = this.first(); x !== null; x = x.next[0] as ZNode | null) yield [x.member, x.score]
  }

  /** Check every structural invariant (tests, VERIFY). Returns a problem or null. */
  check(): string | null {
    let count = 0
    let prev: ZNode | null = null
    for (let x = this.first(); x !== null; x = x.next[0] as ZNode | null) {
      if (x.prev !== prev) return `prev link broken at ${count}`
      if (prev !== null && !before(x.score, x.member, prev.score, prev.member)) {
        return `order broken at ${count}`
      }
      if (this.map.get(x.member) !== x.score) return `map disagrees at ${count}`
      prev = x
      count++
    }
    if (this.tail !== prev) return 'tail broken'
    if (count !== this.map.size) return `count ${count} != map ${this.map.size}`
    // spans: walk each level and compare with level-0 positions
    const pos = new Map<ZNode, number>()
    let i = 1
    for (let x = this.first(); x !== null; x = x.next[0] as ZNode | null) pos.set(x, i++)
    for (let l = 0; l < this.level; l++) {
      let x: ZNode = this.header
      let at = 0
      for (;;) {
        const n = x.next[l] as ZNode | null
        const to = n === null ? count + 1 : pos.get(n) ?? -1
        if (n !== null && (x.span[l] as number) !== to - at) return `span broken at level ${l}`
        if (n === null) break
        at = to
        x = n
      }
    }
    return null
  }
}

/** Deep copy (COPY, RESTORE of a value still in use). */
export function cloneZSet(z: ZSet): ZSet {
  const out = new ZSet()
  for (const [m, s] of z) out.add(m, s)
  return out
}

export function zsetBytes(z: ZSet): number {
  let n = 4
  for (const m of z.map.keys()) n += m.length + 10
  return n
}

/** Per-member contribution to the liveBytes estimate (kept in step with zsetBytes). */
export function zsetMemberBytes(member: string): number {
  return member.length + 10
}

registerValueType({
  type: TYPE_ZSET,
  name: 'zset',
  encode: (w: ByteWriter, v: unknown) => {
    const z = v as ZSet
    w.varuint(z.length)
    for (const [m, s] of z) {
      w.f64(s)
      w.str(m)
    }
  },
  decode: (r: ByteReader) => {
    const n = r.varuint()
    const z = new ZSet()
    for (let i = 0; i < n; i++) {
      const s = r.f64()
      z.add(r.str(), s)
    }
    return z
  },
  bytes: (v) => zsetBytes(v as ZSet),
  canonical: (v) => {
    const parts: string[] = []
    for (const [m, s] of v as ZSet) {
      parts.push(`${Buffer.from(m, 'latin1').toString('hex')}=${Object.is(s, -0) ? '-0' : s}`)
    }
    return parts.join(',')
  },
})
