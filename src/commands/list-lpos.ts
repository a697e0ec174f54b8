// LPOS (Redis 7.0.15 t_list.c lposCommand), split from list.ts: RANK, COUNT and MAXLEN parsed
// in Redis's order with its error texts, then one scan from the head (or the tail for a negative
// rank).

import { type Deque } from '../state/deque.js'
import { TYPE_LIST } from '../state/keyspace.js'
import { longOrReply, positiveLongOrReply } from './coll-util.js'
import { lookupKey } from './lookup.js'
import { optionName, parseInt64 } from './numeric.js'
import { ERR_SYNTAX, WRONGTYPE, keyOf, type CommandContext, type Handler } from './spec.js'

type List = Deque<Buffer>

const LONG_MIN_RANK = -Infinity
const RANK_ZERO = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the " +
  'second ... or use negative to start from the end of the list'

interface LposOptions { rank: number; fromTail: boolean; count: number; maxlen: number }

/** LPOS's options (RANK, COUNT, MAXLEN) in Redis's order; null after the error. */
function lposOptionsOrReply(ctx: CommandContext, argv: Buffer[]): LposOptions | null {
  let rank = 1
  let count = -1
  let maxlen = 0
  for (let j = 3; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    const more = argv.length - 1 - j
    if (opt === 'rank' && more > 0) {
      j++
      const r = longOrReply(ctx, argv[j] as Buffer)
      if (r === null) return null
      if (r === 0) {
        ctx.reply.error(RANK_ZERO)
        return null
      }
      // 7.0.15 negates LONG_MIN into itself: it stays negative and every match qualifies.
      rank = parseInt64(argv[j] as Buffer) === -(2n ** 63n) ? LONG_MIN_RANK : r
    } else if (opt === 'count' && more > 0) {
      j++
      const c = positiveLongOrReply(ctx, argv[j] as Buffer, "COUNT can't be negative")
      if (c === null) return null
      count = c
    } else if (opt === 'maxlen' && more > 0) {
      j++
      const m = positiveLongOrReply(ctx, argv[j] as Buffer, "MAXLEN can't be negative")
      if (m === null) return null
      maxlen = m
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  const fromTail = rank < 0
  return { rank: rank === LONG_MIN_RANK ? 1 : Math.abs(rank), fromTail, count, maxlen }
}

export const lpos: Handler = (ctx, argv) => {
  const o = lposOptionsOrReply(ctx, argv)
  if (o === null) return
  const entry = lookupKey(ctx, keyOf(argv[1] as Buffer))
  if (entry === undefined) {
    if (o.count !== -1) ctx.reply.arrayHeader(0)
    else ctx.reply.nullBulk()
    return
  }
  if (entry.type !== TYPE_LIST) {
    ctx.reply.error(WRONGTYPE)
    return
  }
  const element = argv[2] as Buffer
  const list = entry.value as List
  const llen = list.length
  const found: number[] = []
  let matches = 0
  for (let index = 0; index < llen && (o.maxlen === 0 || index < o.maxlen); index++) {
    const pos = o.fromTail ? llen - index - 1 : index
    if (!(list.get(pos) as Buffer).equals(element) || ++matches < o.rank) continue
    found.push(pos)
    if (o.count === -1 || (o.count !== 0 && matches - o.rank + 1 >= o.count)) break
  }
  if (o.count !== -1) {
    ctx.reply.arrayHeader(found.length)
    for (const p of found) ctx.reply.integer(p)
  } else if (found.length > 0) {
    ctx.reply.integer(found[0] as number)
  } else {
    ctx.reply.nullBulk()
  }
}
