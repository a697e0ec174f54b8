// A seeded generator of random commands over lists, hashes, sets, sorted sets and streams, for the
// lockstep test against redis-server (types-lockstep.test.ts). Small key and element domains
// make collisions, WRONGTYPE, empty results and deletions of the last element frequent; a few
// arguments are deliberately invalid (bad numbers, bad options) to compare error paths too.
// Stream ids are explicit and grow with a counter (Redis's `*` ids are time-based); stream
// commands whose replies show times (XPENDING's list, XINFO CONSUMERS / FULL) are not sent.
// Each command says how its reply compares: 'exact' bytes, 'multiset' (unordered aggregate),
// 'pairs' (an unordered aggregate of field/value pairs, e.g. HGETALL), or 'random' (a random
// pick: validated against Redis's state, and its effect replayed into Redis).
import { type Prng } from '../sim/prng.js'

export type Compare = 'exact' | 'multiset' | 'pairs' | 'scan' | 'scanpairs' | 'random'

export interface GenCommand {
  argv: string[]
  compare: Compare
}

const LIST_KEYS = ['l0', 'l1', 'l2']
const HASH_KEYS = ['h0', 'h1', 'h2']
const SET_KEYS = ['s0', 's1', 's2', 's3']
const ZSET_KEYS = ['z0', 'z1', 'z2', 'z3']
const STREAM_KEYS = ['x0', 'x1']
const ALL_KEYS = [...LIST_KEYS, ...HASH_KEYS, ...SET_KEYS, ...ZSET_KEYS, ...STREAM_KEYS, 'str', 'none']
/** Big collections cross Redis's encoding thresholds (listpack/intset → hashtable/skiplist). */
const BIG_INTS = Array.from({ length: 800 }, (_, i) => String(i))
const BIG_FIELDS = Array.from({ length: 700 }, (_, i) => `f${i}`)
const BIG_MEMBERS = Array.from({ length: 300 }, (_, i) => `m${i}`)
const ELEMS = ['a', 'b', 'c', 'd', 'e', 'f', '1', '2', '3', '10', '-5', '', 'x y', '\u00ff\u0000']
const INT_ELEMS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '-1', '100']
const SCORES = ['0', '1', '2', '-1', '2.5', '0.1', '-0', '1e3', 'inf', '-inf', '3', '3', '1', '0.5']
const BAD_NUMBERS = ['x', '', '1.5', '9223372036854775808', ' 1']
const RANGE_BOUNDS = ['-inf', '+inf', '0', '1', '(1', '2', '(2.5', '3', '-1', '(0', '1e3']
const LEX_BOUNDS = ['-', '+', '[a', '(a', '[c', '(d', '[1', '[x y', '(', '[']

export class CommandGen {
  /**
   * Sorted sets a lex range must not read: in Redis a lex range over unequal scores in a
   * skiplist depends on the skiplist's random levels (unspecified, and not the same twice), so
   * only listpack-encoded keys (scanned in order: deterministic) are asked. The runner refreshes
   * this from the reference before each batch (`lexUnsafe`); within a batch, any key a STORE
   * command writes joins it, as the store may have made it a skiplist.
   */
  private readonly lexUnsafe = new Set<string>(['zbig'])

  /** withBlocking false: blocking commands are replaced by a push (same random draws). */
  constructor(private readonly r: Prng, private readonly withBlocking = true) {}

  /** Before a batch: the sorted sets that are (or may become within one batch) skiplists. */
  setLexUnsafe(keys: Iterable<string>): void {
    this.lexUnsafe.clear()
    this.lexUnsafe.add('zbig')
    for (const k of keys) this.lexUnsafe.add(k)
  }

  /** The key a lex range reads: `k` unless it may be a skiplist, then a safe one (no draw). */
  private lexSafe(k: string): string {
    if (!this.lexUnsafe.has(k)) return k
    return ZSET_KEYS.find((z) => !this.lexUnsafe.has(z)) ?? 'none'
  }

  /** A STORE command's destination may now be a skiplist until the runner says otherwise. */
  private stored(dst: string): string {
    this.lexUnsafe.add(dst)
    return dst
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.r.int(xs.length)] as T
  }

  private chance(p: number): boolean {
    return this.r.float() < p
  }

  private int(lo: number, hi: number): string {
    return String(lo + this.r.int(hi - lo + 1))
  }

  private key(own: readonly string[]): string {
    return this.chance(0.06) ? this.pick(ALL_KEYS) : this.pick(own)
  }

  private elems(n: number, domain = ELEMS): string[] {
    return Array.from({ length: n }, () => this.pick(domain))
  }

  private num(lo: number, hi: number): string {
    return this.chance(0.02) ? this.pick(BAD_NUMBERS) : this.int(lo, hi)
  }

  next(): GenCommand {
    const x = this.r.float()
    if (x < 0.28) return this.list()
    if (x < 0.48) return this.hash()
    if (x < 0.7) return this.set()
    if (x < 0.9) return this.zset()
    if (x < 0.97) return this.stream()
    return this.misc()
  }

  /** Stream ids grow with this counter (both servers get the same ids; `*` is time-based). */
  private streamMs = 1

  private streamId(): string {
    if (this.chance(0.1)) return `${this.int(0, this.streamMs)}-${this.int(0, 2)}`
    this.streamMs += this.r.int(3)
    return this.chance(0.3) ? `${this.streamMs}-*` : `${this.streamMs}-${this.int(0, 2)}`
  }

  /** An id near the stream's recent ones (for ranges, XDEL, XACK, XCLAIM). */
  private nearId(): string {
    const ms = Math.max(0, this.streamMs - this.r.int(12))
    return this.chance(0.5) ? String(ms) : `${ms}-${this.int(0, 2)}`
  }

  private stream(): GenCommand {
    const k = this.key(STREAM_KEYS)
    const g = this.pick(['g1', 'g2'])
    const c = this.pick(['c1', 'c2', 'c3'])
    const exact = (...argv: string[]): GenCommand => ({ argv, compare: 'exact' })
    const fields = (): string[] => this.chance(0.8) ? ['f', this.pick(ELEMS)] : ['a', this.pick(ELEMS), 'b', this.pick(ELEMS)]
    const trim = (): string[] => [this.pick(['MAXLEN', 'MINID']), this.pick(['=', '~', '']),
      this.chance(0.5) ? this.int(0, 8) : this.nearId()].filter((a) => a !== '')
    switch (this.r.int(20)) {
      case 0: case 1: case 2: return exact('XADD', k, this.streamId(), ...fields())
      case 3: return exact('XADD', k, ...(this.chance(0.3) ? ['NOMKSTREAM'] : []), ...trim(), this.streamId(), ...fields())
      case 4: return exact('XLEN', k)
      case 5: return exact(this.pick(['XRANGE', 'XREVRANGE']), k, ...(this.chance(0.5) ? ['-', '+'] : ['+', '-']),
        ...(this.chance(0.5) ? ['COUNT', this.num(0, 5)] : []))
      case 6: return exact('XRANGE', k, this.pick(['-', '(', '']) + this.nearId(), this.pick(['+', '(' + this.nearId(), this.nearId()]))
      case 7: return exact('XDEL', k, this.nearId(), this.nearId())
      case 8: return exact('XTRIM', k, ...trim())
      case 9: return exact('XREAD', 'COUNT', this.int(1, 4), 'STREAMS', k, this.pick(STREAM_KEYS), this.nearId(), this.pick(['0', '$']))
      case 10: return exact('XGROUP', 'CREATE', k, g, this.pick(['$', '0', this.nearId()]), ...(this.chance(0.5) ? ['MKSTREAM'] : []))
      case 11: return this.chance(0.3) ? exact('XGROUP', 'DESTROY', k, g)
        : exact('XGROUP', 'SETID', k, g, this.pick(['$', '0', this.nearId()]))
      case 12: return exact('XGROUP', this.pick(['CREATECONSUMER', 'DELCONSUMER']), k, g, c)
      case 13: case 14: return exact('XREADGROUP', 'GROUP', g, c, 'COUNT', this.int(1, 4), ...(this.chance(0.2) ? ['NOACK'] : []),
        'STREAMS', k, this.pick(['>', '>', '0', this.nearId()]))
      case 15: return exact('XACK', k, g, this.nearId(), this.nearId())
      case 16: return exact('XPENDING', k, g)
      case 17: return this.chance(0.5) ? exact('XCLAIM', k, g, c, '0', this.nearId(), this.nearId(), 'JUSTID')
        : exact('XAUTOCLAIM', k, g, c, '0', this.pick(['0', this.nearId()]), 'COUNT', this.int(1, 5), 'JUSTID')
      case 18: return exact('XINFO', this.pick(['GROUPS', 'STREAM']), k)
      default: return exact('XSETID', k, this.nearId())
    }
  }

  private misc(): GenCommand {
    const k = this.pick(ALL_KEYS)
    switch (this.r.int(5)) {
      case 0: return { argv: ['DEL', this.chance(0.05) ? this.pick(['hbig', 'sbig', 'zbig']) : k], compare: 'exact' }
      case 1: return { argv: ['TYPE', k], compare: 'exact' }
      case 2: return { argv: ['SET', 'str', 'v'], compare: 'exact' }
      case 3: return { argv: ['OBJECT', 'ENCODING', this.chance(0.5) ? this.pick(['hbig', 'sbig', 'zbig']) : k],
        compare: 'exact' }
      default: return { argv: ['EXISTS', k, this.pick(ALL_KEYS)], compare: 'exact' }
    }
  }

  private list(): GenCommand {
    const k = this.key(LIST_KEYS)
    const e = (): string => this.pick(ELEMS)
    const side = (): string => this.pick(['LEFT', 'RIGHT', 'left'])
    const exact = (...argv: string[]): GenCommand => ({ argv, compare: 'exact' })
    switch (this.r.int(22)) {
      case 0: case 1: return exact('RPUSH', k, ...this.elems(1 + this.r.int(4)))
      case 2: return exact('LPUSH', k, ...this.elems(1 + this.r.int(3)))
      case 3: return exact(this.pick(['LPUSHX', 'RPUSHX']), k, e())
      case 4: return this.chance(0.5) ? exact('LPOP', k) : exact('LPOP', k, this.num(0, 4))
      case 5: return this.chance(0.5) ? exact('RPOP', k) : exact('RPOP', k, this.num(0, 4))
      case 6: return exact('LLEN', k)
      case 7: return exact('LRANGE', k, this.num(-6, 6), this.num(-6, 6))
      case 8: return exact('LINDEX', k, this.num(-6, 6))
      case 9: return exact('LSET', k, this.num(-6, 6), e())
      case 10: return exact('LINSERT', k, this.pick(['BEFORE', 'AFTER', 'after']), e(), e())
      case 11: return exact('LREM', k, this.num(-3, 3), e())
      case 12: return exact('LTRIM', k, this.num(-8, 8), this.num(-8, 8))
      case 13: {
        const argv = ['LPOS', k, e()]
        if (this.chance(0.5)) argv.push('RANK', this.pick(['1', '2', '-1', '-2', '0']))
        if (this.chance(0.5)) argv.push('COUNT', this.pick(['0', '1', '2']))
        if (this.chance(0.3)) argv.push('MAXLEN', this.pick(['0', '2', '5']))
        return exact(...argv)
      }
      case 14: return exact('LMOVE', k, this.key(LIST_KEYS), side(), side())
      case 15: return exact('RPOPLPUSH', k, this.key(LIST_KEYS))
      case 16: {
        const n = 1 + this.r.int(3)
        const argv = ['LMPOP', String(n), ...Array.from({ length: n }, () => this.key(LIST_KEYS)), side()]
        if (this.chance(0.5)) argv.push('COUNT', this.num(1, 4))
        return exact(...argv)
      }
      case 17: case 18: case 19: {
        if (!this.chance(0.1)) return exact('RPUSH', k, e())
        const b = this.blockingList(k, side)
        return this.withBlocking ? b : exact('RPUSH', k, e())
      }
      default: return exact('RPUSH', k, ...this.elems(2))
    }
  }

  /** Rare (a blocked Redis stalls the pipeline for the 10 ms timeout). */
  private blockingList(k: string, side: () => string): GenCommand {
    const exact = (...argv: string[]): GenCommand => ({ argv, compare: 'exact' })
    switch (this.r.int(3)) {
      case 0: return exact(this.pick(['BLPOP', 'BRPOP']), k, this.key(LIST_KEYS),
        this.chance(0.98) ? '0.01' : 'x')
      case 1: return exact('BLMOVE', k, this.key(LIST_KEYS), side(), side(), '0.01')
      default: return exact('BLMPOP', '0.01', '2', k, this.key(LIST_KEYS), side(), 'COUNT', '2')
    }
  }

  private hash(): GenCommand {
    const big = this.chance(0.04)
    const k = big ? 'hbig' : this.key(HASH_KEYS)
    const f = (): string => this.pick(big ? BIG_FIELDS : ELEMS)
    const exact = (...argv: string[]): GenCommand => ({ argv, compare: 'exact' })
    if (big && this.chance(0.5)) {
      return exact('HSET', k, ...Array.from({ length: 20 }, () => [f(), this.pick(ELEMS)]).flat())
    }
    switch (this.r.int(18)) {
      case 0: case 1: {
        const n = 1 + this.r.int(3)
        return exact('HSET', k, ...Array.from({ length: n }, () => [f(), this.pick(ELEMS)]).flat())
      }
      case 2: return exact('HSETNX', k, f(), this.pick(ELEMS))
      case 3: return exact('HGET', k, f())
      case 4: return exact('HMGET', k, f(), f(), f())
      case 5: return exact('HMSET', k, f(), this.pick(INT_ELEMS))
      case 6: return exact('HDEL', k, f(), f())
      case 7: return exact(this.pick(['HLEN', 'HSTRLEN', 'HEXISTS']), k, ...(this.chance(0.3) ? [] : [f()]))
      case 8: return { argv: [this.pick(['HKEYS', 'HVALS']), k], compare: 'multiset' }
      case 9: return { argv: ['HGETALL', k], compare: 'pairs' }
      case 10: case 11: return exact('HINCRBY', k, this.pick(['n1', 'n2', f()]), this.num(-100, 100))
      case 12: return exact('HINCRBYFLOAT', k, this.pick(['f1', 'f2', 'n1', f()]),
        this.pick(['0.1', '-0.25', '1.5', '10', '1e-3', '3.333', 'x', '-7']))
      case 13: {
        if (this.chance(0.3)) return { argv: ['HRANDFIELD', k], compare: 'random' }
        const argv = ['HRANDFIELD', k, this.pick(['0', '1', '2', '5', '-1', '-3', '-6'])]
        if (this.chance(0.5)) argv.push('WITHVALUES')
        return { argv, compare: 'random' }
      }
      case 14: {
        const argv = ['HSCAN', k, '0', 'COUNT', '1000']
        if (this.chance(0.3)) argv.push('MATCH', this.pick(['a*', '*', '[a-c]', '1?']))
        return { argv, compare: 'scanpairs' }
      }
      default: return exact('HSET', k, f(), this.pick(ELEMS))
    }
  }

  private set(): GenCommand {
    const big = this.chance(0.04)
    const k = big ? 'sbig' : this.key(SET_KEYS)
    const domain = big ? BIG_INTS : k === 's0' || k === 's1' ? INT_ELEMS : ELEMS
    if (big && this.chance(0.5)) {
      return { argv: ['SADD', k, ...this.elems(20, domain), ...(this.chance(0.05) ? ['x'] : [])],
        compare: 'exact' }
    }
    const m = (): string => this.pick(domain)
    const exact = (...argv: string[]): GenCommand => ({ argv, compare: 'exact' })
    const keys = (n: number): string[] => Array.from({ length: n }, () => this.key(SET_KEYS))
    switch (this.r.int(20)) {
      case 0: case 1: case 2: return exact('SADD', k, ...this.elems(1 + this.r.int(4), domain))
      case 3: return exact('SREM', k, m(), m())
      case 4: return exact('SCARD', k)
      case 5: return exact('SISMEMBER', k, m())
      case 6: return exact('SMISMEMBER', k, m(), m(), m())
      case 7: return { argv: ['SMEMBERS', k], compare: 'multiset' }
      case 8: return { argv: this.chance(0.5) ? ['SPOP', k] : ['SPOP', k, this.pick(['0', '1', '2', '5'])],
        compare: 'random' }
      case 9: return { argv: this.chance(0.3) ? ['SRANDMEMBER', k]
        : ['SRANDMEMBER', k, this.pick(['0', '1', '2', '5', '-1', '-4', '20'])], compare: 'random' }
      case 10: return exact('SMOVE', k, this.key(SET_KEYS), m())
      case 11: return { argv: [this.pick(['SINTER', 'SUNION', 'SDIFF']), ...keys(1 + this.r.int(3))],
        compare: 'multiset' }
      case 12: return exact(this.pick(['SINTERSTORE', 'SUNIONSTORE', 'SDIFFSTORE']), this.key(SET_KEYS),
        ...keys(1 + this.r.int(3)))
      case 13: {
        const argv = ['SINTERCARD', '2', ...keys(2)]
        if (this.chance(0.5)) argv.push('LIMIT', this.pick(['0', '1', '2']))
        return exact(...argv)
      }
      case 14: {
        const argv = ['SSCAN', k, '0', 'COUNT', '1000']
        if (this.chance(0.3)) argv.push('MATCH', this.pick(['1*', '*', '[a-c]']))
        return { argv, compare: 'scan' }
      }
      default: return exact('SADD', k, m())
    }
  }

  private zset(): GenCommand {
    const big = this.chance(0.04)
    const k = big ? 'zbig' : this.key(ZSET_KEYS)
    const m = (): string => this.pick(big ? BIG_MEMBERS : ELEMS)
    if (big && this.chance(0.5)) {
      return { argv: ['ZADD', k, ...Array.from({ length: 20 }, () => [this.pick(SCORES), m()]).flat()],
        compare: 'exact' }
    }
    // Lex ranges over unequal scores in a skiplist are not deterministic in Redis itself.
    const lexKey = this.lexSafe(big ? this.pick(ZSET_KEYS) : k)
    const s = (): string => (this.chance(0.02) ? this.pick(['x', 'nan', '']) : this.pick(SCORES))
    const exact = (...argv: string[]): GenCommand => ({ argv, compare: 'exact' })
    const keys = (n: number): string[] => Array.from({ length: n }, () =>
      this.chance(0.15) ? this.pick(SET_KEYS) : this.key(ZSET_KEYS))
    const bound = (): string => this.pick(RANGE_BOUNDS)
    const lex = (): string => this.pick(LEX_BOUNDS)
    const limit = (): string[] => (this.chance(0.3) ? ['LIMIT', this.int(-1, 3), this.int(-1, 4)] : [])
    const ws = (): string[] => (this.chance(0.5) ? ['WITHSCORES'] : [])
    switch (this.r.int(34)) {
      case 0: case 1: case 2: {
        const opts = this.chance(0.3) ? [this.pick(['NX', 'XX', 'GT', 'LT', 'CH', 'GT CH', 'XX LT'])] : []
        const n = 1 + this.r.int(3)
        return exact('ZADD', k, ...opts.flatMap((o) => o.split(' ')),
          ...Array.from({ length: n }, () => [s(), m()]).flat())
      }
      case 3: return exact('ZADD', k, 'INCR', s(), m())
      case 4: return exact('ZINCRBY', k, s(), m())
      case 5: return exact('ZREM', k, m(), m())
      case 6: return exact('ZCARD', k)
      case 7: return exact('ZSCORE', k, m())
      case 8: return exact('ZMSCORE', k, m(), m())
      case 9: return exact(this.pick(['ZRANK', 'ZREVRANK']), k, m())
      case 10: return exact('ZCOUNT', k, bound(), bound())
      case 11: return exact('ZLEXCOUNT', lexKey, lex(), lex())
      case 12: return exact('ZRANGE', k, this.num(-5, 5), this.num(-5, 5), ...ws(),
        ...(this.chance(0.3) ? ['REV'] : []))
      case 13: return exact('ZRANGE', k, bound(), bound(), 'BYSCORE', ...ws(), ...limit(),
        ...(this.chance(0.3) ? ['REV'] : []))
      case 14: return exact('ZRANGE', lexKey, lex(), lex(), 'BYLEX', ...limit(), ...(this.chance(0.3) ? ['REV'] : []))
      case 15: return exact('ZRANGESTORE', this.stored(this.key(ZSET_KEYS)), k, this.num(-3, 3), this.num(-3, 3))
      case 16: return exact('ZREVRANGE', k, this.num(-4, 4), this.num(-4, 4), ...ws())
      case 17: return exact(this.pick(['ZRANGEBYSCORE', 'ZREVRANGEBYSCORE']), k, bound(), bound(), ...ws(), ...limit())
      case 18: return exact(this.pick(['ZRANGEBYLEX', 'ZREVRANGEBYLEX']), lexKey, lex(), lex(), ...limit())
      case 19: return exact(this.pick(['ZPOPMIN', 'ZPOPMAX']), k, ...(this.chance(0.5) ? [this.num(0, 3)] : []))
      case 20: {
        const n = 1 + this.r.int(2)
        return exact('ZMPOP', String(n), ...keys(n), this.pick(['MIN', 'MAX']),
          ...(this.chance(0.5) ? ['COUNT', this.num(1, 3)] : []))
      }
      case 21: {
        if (this.chance(0.3)) return { argv: ['ZRANDMEMBER', k], compare: 'random' }
        return { argv: ['ZRANDMEMBER', k, this.pick(['0', '1', '3', '-2', '-5', '10']), ...ws()],
          compare: 'random' }
      }
      case 22: case 23: {
        const op = this.pick(['ZUNION', 'ZINTER', 'ZDIFF'])
        const n = 1 + this.r.int(3)
        const argv = [op, String(n), ...keys(n)]
        if (op !== 'ZDIFF' && this.chance(0.4)) argv.push('WEIGHTS', ...Array.from({ length: n }, () => this.pick(['1', '2', '-1', '0.5', '0'])))
        if (op !== 'ZDIFF' && this.chance(0.4)) argv.push('AGGREGATE', this.pick(['SUM', 'MIN', 'MAX']))
        argv.push(...ws())
        return exact(...argv)
      }
      case 24: {
        const op = this.pick(['ZUNIONSTORE', 'ZINTERSTORE', 'ZDIFFSTORE'])
        const n = 1 + this.r.int(3)
        const argv = [op, this.stored(this.key(ZSET_KEYS)), String(n), ...keys(n)]
        if (op !== 'ZDIFFSTORE' && this.chance(0.4)) argv.push('WEIGHTS', ...Array.from({ length: n }, () => this.pick(['1', '2', '-1'])))
        if (op !== 'ZDIFFSTORE' && this.chance(0.4)) argv.push('AGGREGATE', this.pick(['SUM', 'MIN', 'MAX']))
        return exact(...argv)
      }
      case 25: return exact('ZINTERCARD', '2', ...keys(2), ...(this.chance(0.5) ? ['LIMIT', this.int(0, 2)] : []))
      case 26: return exact('ZREMRANGEBYRANK', k, this.num(-3, 3), this.num(-3, 3))
      case 27: return exact('ZREMRANGEBYSCORE', k, bound(), bound())
      case 28: return exact('ZREMRANGEBYLEX', lexKey, lex(), lex())
      case 29: {
        const argv = ['ZSCAN', k, '0', 'COUNT', '1000']
        if (this.chance(0.3)) argv.push('MATCH', this.pick(['a*', '*', '[a-c]']))
        return { argv, compare: 'scanpairs' }
      }
      case 30: return this.chance(0.1) && this.withBlocking
        ? exact(this.pick(['BZPOPMIN', 'BZPOPMAX']), k, this.key(ZSET_KEYS), '0.01')
        : exact('ZADD', k, s(), m())
      case 31: return this.chance(0.1) && this.withBlocking
        ? exact('BZMPOP', '0.01', '1', k, this.pick(['MIN', 'MAX']), 'COUNT', '2')
        : exact('ZADD', k, s(), m())
      default: return exact('ZADD', k, s(), m(), s(), m())
    }
  }
}

/** Commands whose random pick must be validated and replayed rather than compared. */
export function isRandom(c: GenCommand): boolean {
  return c.compare === 'random'
}
