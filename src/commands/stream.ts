// Stream commands (Redis 7.0.15 t_stream.c): XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID XREAD
// XREADGROUP; the consumer-group administration and XINFO are in stream-group.ts. Handlers
// validate in Redis's order, then log stream events (state/stream-events.ts) carrying resolved
// effects: XADD's generated id and node choice, a trim's node and entry counts, a group read's
// NACKs and delivery times (DESIGN rule 1), then reply.
// Blocking XREAD/XREADGROUP park through ctx.block (txn/blocking.ts); a wake-up is served in its
// own transaction after the write that made the key ready, so the reply is released only once
// that write and the read's own effects are durable (DESIGN rule 2).

import { encodingLimits } from '../state/encoding-limits.js'
import { type Stream, ID_MAX, type StreamNode, TYPE_STREAM, U64 } from '../state/stream.js'
import { xaddEv, xdelEv, xsetidEv, xtrimEv } from '../state/stream-events.js'
import { idOfMs, rememberId, splitId, splitMs, splitSeq } from '../state/stream-id.js'
import { commandSpec } from './list.js'
import { NOTIFY_NEW, notifyKeyspaceEvent, notifying, notifyNew } from './notify.js'
import { big, int64OrReply, optionName } from './numeric.js'
import {
  ERR_SYNTAX, keyOf, type CommandContext, type CommandSpec, type Handler,
} from './spec.js'
import {
  ERR_INVALID_ID, idOrReply, intervalOrReply, NOTIFY_STREAM, parseId, replyId, replyRange, streamOf, trimPlan, type TrimArgs,
} from './stream-util.js'

const STREAM_LISTPACK_MAX_SIZE = 1 << 30

interface AddArgs extends TrimArgs {
  id: bigint
  idGiven: boolean
  seqGiven: boolean
  noMkstream: boolean
  /** Index of the ID argument (XADD). */
  idPos: number
}

/** streamParseAddOrTrimArgsOrReply. */
function addTrimArgsOrReply(ctx: CommandContext, argv: Buffer[], xadd: boolean): AddArgs | null {
  const a: AddArgs = {
    strategy: 'none', approx: false, limit: 0, maxlen: 0n, minid: 0n, id: 0n, idGiven: false,
    seqGiven: true, noMkstream: false, idPos: argv.length,
  }
  let limitGiven = false
  let i = 2
  for (; i < argv.length; i++) {
    const more = argv.length - 1 - i
    const arg = argv[i] as Buffer
    if (xadd && arg.length === 1 && arg[0] === 0x2a) break
    const opt = optionName(arg)
    if ((opt === 'maxlen' || opt === 'minid') && more > 0) {
      if (a.strategy !== 'none') {
        ctx.reply.error('ERR syntax error, MAXLEN and MINID options at the same time are not compatible')
        return null
      }
      a.approx = false
      const next = (argv[i + 1] as Buffer).toString('latin1')
      if (more >= 2 && next === '~') {
        a.approx = true
        i++
      } else if (more >= 2 && next === '=') {
        i++
      }
      if (opt === 'maxlen') {
        const n = int64OrReply(ctx, argv[i + 1] as Buffer)
        if (n === null) return null
        if (n < 0) {
          ctx.reply.error('ERR The MAXLEN argument must be >= 0.')
          return null
        }
        a.maxlen = big(n)
      } else {
        const p = parseId(argv[i + 1] as Buffer, 0n, true)
        if (p === null) {
          ctx.reply.error(ERR_INVALID_ID)
          return null
        }
        a.minid = p.id
      }
      i++
      a.strategy = opt
    } else if (opt === 'limit' && more > 0) {
      const n = int64OrReply(ctx, argv[i + 1] as Buffer)
      if (n === null) return null
      if (n < 0) {
        ctx.reply.error('ERR The LIMIT argument must be >= 0.')
        return null
      }
      a.limit = Number(n)
      limitGiven = true
      i++
    } else if (xadd && opt === 'nomkstream') {
      a.noMkstream = true
    } else if (xadd) {
      const p = parseId(arg, 0n, true, true)
      if (p === null) {
        ctx.reply.error(ERR_INVALID_ID)
        return null
      }
      a.id = p.id
      a.seqGiven = p.seqGiven
      a.idGiven = true
      break
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  a.idPos = i
  if (a.limit !== 0 && a.strategy === 'none') {
    ctx.reply.error('ERR syntax error, LIMIT cannot be used without specifying a trimming strategy')
    return null
  }
  if (!xadd && a.strategy === 'none') {
    ctx.reply.error('ERR syntax error, XTRIM must be called with a trimming strategy')
    return null
  }
  if (limitGiven) {
    if (!a.approx) {
      ctx.reply.error('ERR syntax error, LIMIT cannot be used without the special ~ option')
      return null
    }
  } else if (a.approx) {
    a.limit = 100 * nodeMaxEntries()
    if (a.limit <= 0) a.limit = 10000
    if (a.limit > 1000000) a.limit = 1000000
  } else {
    a.limit = 0
  }
  return a
}

function nodeMaxEntries(): number {
  return encodingLimits.streamNodeMaxEntries
}

/** Whether an entry of `pairs` starts a new node (streamAppendItem's test). */
function needsNewNode(s: Stream, totalLength: number): boolean {
  const node = s.nodes[s.nodes.length - 1] as StreamNode | undefined
  if (node === undefined) return true
  let maxBytes = encodingLimits.streamNodeMaxBytes
  if (maxBytes === 0 || maxBytes > STREAM_LISTPACK_MAX_SIZE) maxBytes = STREAM_LISTPACK_MAX_SIZE
  if (node.lpBytes() + totalLength >= maxBytes) return true
  const maxEntries = nodeMaxEntries()
  return maxEntries !== 0 && node.live + node.deleted >= maxEntries
}

/** The id XADD gives, or the error text (streamAppendItem). */
function resolveId(s: Stream | null, a: AddArgs, nowMs: number): bigint | string {
  const last = s?.lastId ?? 0n
  if (!a.idGiven && splitId(last) && splitSeq < Number.MAX_SAFE_INTEGER) {
    // `*` with safe parts (stream-id.ts): Redis's rule in numbers, one bigint made.
    const lastMsNum = splitMs
    const seq = nowMs > lastMsNum ? 0 : splitSeq + 1
    const ms = seq === 0 ? nowMs : lastMsNum
    const made = seq === 0 ? idOfMs(ms) : last + 1n
    rememberId(made, ms, seq)
    return made
  }
  const lastMs = last >> 64n
  let id: bigint
  if (a.idGiven) {
    if (a.seqGiven) {
      id = a.id
    } else if (lastMs === a.id >> 64n) {
      // streamAppendItem fails here without setting errno: Redis's reply is its ERANGE text.
      if ((last & U64) === U64) return 'ERR Elements are too large to be stored'
      id = last + 1n
    } else {
      id = a.id
    }
  } else {
    const ms = BigInt(nowMs)
    id = ms > lastMs ? ms << 64n : last + 1n
  }
  if (id <= last) return 'ERR The ID specified in XADD is equal or smaller than the target stream top item'
  return id
}

/** Apply a trim, with its notification; returns the number of entries removed. */
function trim(ctx: CommandContext, key: string, s: Stream, a: TrimArgs): number {
  const plan = trimPlan(s, a)
  if (plan.deleted === 0) return 0
  ctx.txn.apply(xtrimEv(ctx.client.db, key, plan.nodes, plan.marks))
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xtrim', key, ctx.client.db)
  return plan.deleted
}

/** What addTrimArgsOrReply returns for `XADD key * …` (no option before the id): shared, read only. */
const PLAIN_XADD: Readonly<AddArgs> = Object.freeze({
  strategy: 'none', approx: false, limit: 0, maxlen: 0n, minid: 0n, id: 0n, idGiven: false,
  seqGiven: true, noMkstream: false, idPos: 2,
})

const xadd: Handler = (ctx, argv) => {
  const third = argv[2] as Buffer
  const a = third.length === 1 && third[0] === 0x2a ? PLAIN_XADD : addTrimArgsOrReply(ctx, argv, true)
  if (a === null) return
  const fieldPos = a.idPos + 1
  const rest = argv.length - fieldPos
  if (rest < 2 || rest % 2 === 1) {
    ctx.reply.error("ERR wrong number of arguments for 'xadd' command")
    return
  }
  if (a.idGiven && a.seqGiven && a.id === 0n) {
    ctx.reply.error('ERR The ID specified in XADD must be greater than 0-0')
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const db = ctx.client.db
  const s = streamOf(ctx, key)
  if (s === false) return
  if (s === null && a.noMkstream) {
    ctx.reply.nullBulk()
    return
  }
  if (s !== null && s.lastId === ID_MAX) {
    ctx.reply.error('ERR The stream has exhausted the last possible ID, unable to add more items')
    return
  }
  const pairs = argv.slice(fieldPos)
  let total = 0
  for (const b of pairs) total += b.length
  const id = resolveId(s, a, ctx.nowMs)
  if (typeof id === 'string' || total > STREAM_LISTPACK_MAX_SIZE) {
    ctx.reply.error(typeof id === 'string' ? id : 'ERR Elements are too large to be stored')
    return
  }
  const created = s === null && notifying(ctx, NOTIFY_NEW)
  ctx.txn.apply(xaddEv(db, key, id, s === null || needsNewNode(s, total), pairs))
  if (created) notifyNew(ctx, key, db)
  replyId(ctx.reply, id)
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xadd', key, db)
  if (a.strategy !== 'none') {
    const now = ctx.keyspace.get(db, key)
    if (now !== undefined && now.type === TYPE_STREAM) trim(ctx, key, now.value as Stream, a)
  }
}

const xtrim: Handler = (ctx, argv) => {
  const a = addTrimArgsOrReply(ctx, argv, false)
  if (a === null) return
  const key = keyOf(argv[1] as Buffer)
  const s = streamOf(ctx, key)
  if (s === false) return
  ctx.reply.integer(s === null ? 0 : trim(ctx, key, s, a))
}

const xlen: Handler = (ctx, argv) => {
  const s = streamOf(ctx, keyOf(argv[1] as Buffer))
  if (s === false) return
  ctx.reply.integer(s === null ? 0 : s.length)
}

function xrangeGeneric(rev: boolean): Handler {
  return (ctx, argv) => {
    const start = intervalOrReply(ctx, argv[rev ? 3 : 2] as Buffer, true)
    if (start === null) return
    const end = intervalOrReply(ctx, argv[rev ? 2 : 3] as Buffer, false)
    if (end === null) return
    let count = -1n
    for (let j = 4; j < argv.length; j++) {
      if (optionName(argv[j] as Buffer) === 'count' && argv.length - j - 1 >= 1) {
        const n = int64OrReply(ctx, argv[j + 1] as Buffer)
        if (n === null) return
        count = big(n) < 0n ? 0n : big(n)
        j++
      } else {
        ctx.reply.error(ERR_SYNTAX)
        return
      }
    }
    const s = streamOf(ctx, keyOf(argv[1] as Buffer))
    if (s === false) return
    if (s === null) {
      ctx.reply.arrayHeader(0)
      return
    }
    if (count === 0n) {
      ctx.reply.nullArray()
      return
    }
    const n = count === -1n ? 0 : count > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(count)
    replyRange(ctx.reply, s, start, end, rev, n)
  }
}

const xdel: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const s = streamOf(ctx, key)
  if (s === false) return
  if (s === null) {
    ctx.reply.integer(0)
    return
  }
  const ids: bigint[] = []
  for (let j = 2; j < argv.length; j++) {
    const id = idOrReply(ctx, argv[j] as Buffer, 0n, true)
    if (id === null) return
    ids.push(id)
  }
  const seen = new Set<bigint>()
  const deleted = ids.filter((id) => {
    if (seen.has(id) || s.find(id) === null) return false
    seen.add(id)
    return true
  })
  if (deleted.length > 0) {
    ctx.txn.apply(xdelEv(ctx.client.db, key, deleted))
    notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xdel', key, ctx.client.db)
  }
  ctx.reply.integer(deleted.length)
}

const xsetid: Handler = (ctx, argv) => {
  const id = idOrReply(ctx, argv[2] as Buffer, 0n, true)
  if (id === null) return
  let entriesAdded = -1n
  let maxDeleted = 0n
  for (let i = 3; i < argv.length;) {
    const more = argv.length - 1 - i
    const opt = optionName(argv[i] as Buffer)
    if (opt === 'entriesadded' && more > 0) {
      const n = int64OrReply(ctx, argv[i + 1] as Buffer)
      if (n === null) return
      if (n < 0) {
        ctx.reply.error('ERR entries_added must be positive')
        return
      }
      entriesAdded = big(n)
    } else if (opt === 'maxdeletedid' && more > 0) {
      const m = idOrReply(ctx, argv[i + 1] as Buffer, 0n, true)
      if (m === null) return
      if (id < m) {
        ctx.reply.error('ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id')
        return
      }
      maxDeleted = m
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
    i += 2
  }
  const key = keyOf(argv[1] as Buffer)
  const s = streamOf(ctx, key)
  if (s === false) return
  if (s === null) {
    ctx.reply.error('ERR no such key')
    return
  }
  if (s.length > 0) {
    if (id < (s.edgeId(false) ?? 0n)) {
      ctx.reply.error('ERR The ID specified in XSETID is smaller than the target stream top item')
      return
    }
    if (entriesAdded !== -1n && BigInt(s.length) > entriesAdded) {
      ctx.reply.error('ERR The entries_added specified in XSETID is smaller than the target stream length')
      return
    }
  }
  ctx.txn.apply(xsetidEv(ctx.client.db, key, id, entriesAdded === -1n ? s.entriesAdded : entriesAdded,
    maxDeleted === 0n ? s.maxDeletedId : maxDeleted))
  ctx.reply.simple('OK')
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xsetid', key, ctx.client.db)
}

const R = ['read', 'stream']
const W = ['write', 'stream']

export const streamCommands: CommandSpec[] = [
  commandSpec('xadd', -5, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], xadd),
  commandSpec('xtrim', -4, ['write'], 1, 1, 1, [...W, 'slow'], xtrim),
  commandSpec('xdel', -3, ['write', 'fast'], 1, 1, 1, [...W, 'fast'], xdel),
  commandSpec('xsetid', -3, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], xsetid),
  commandSpec('xlen', 2, ['readonly', 'fast'], 1, 1, 1, [...R, 'fast'], xlen),
  commandSpec('xrange', -4, ['readonly'], 1, 1, 1, [...R, 'slow'], xrangeGeneric(false)),
  commandSpec('xrevrange', -4, ['readonly'], 1, 1, 1, [...R, 'slow'], xrangeGeneric(true)),
]

