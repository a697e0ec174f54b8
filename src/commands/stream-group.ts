// Consumer groups and stream introspection (Redis 7.0.15 t_stream.c): XGROUP (CREATE SETID
// DESTROY CREATECONSUMER DELCONSUMER HELP), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO (STREAM
// [FULL] GROUPS CONSUMERS HELP). Handlers validate in Redis's order, then log stream events
// (state/stream-events.ts) whose values are absolute: a claim logs each NACK's new owner,
// delivery time and count, an entry found deleted logs its NACK's removal (XACK event).
// Groups and consumers are listed in Redis's rax order (bytewise by name).

import {
  type Consumer, type ConsumerGroup, ID_MAX, INVALID_ENTRIES_READ, type Stream,
} from '../state/stream.js'
import { xackEv, xclaimEv, xconsumerEv, xgroupDelEv, xgroupNewEv, xgroupSetEv } from '../state/stream-events.js'
import { NOTIFY_NEW, notifyKeyspaceEvent, notifying, notifyNew } from './notify.js'
import { big, int64OrReply, optionName, parseInt64 } from './numeric.js'
import { helpLines } from './services.js'
import { writeHelp } from './connection.js'
import {
  ERR_SYNTAX, keyOf, type CommandContext, type CommandFlag, type CommandSpec, type Handler,
  type ReplySink,
} from './spec.js'
import {
  idOrReply, intervalOrReply, NOTIFY_STREAM, parseId, replyEntry, replyId, replyName,
  sortedNames, streamOf,
} from './stream-util.js'

export const subcommandError = (ctx: CommandContext, sub: Buffer, cmd: string): void => {
  ctx.reply.error(`ERR unknown subcommand or wrong number of arguments for '${
    sub.toString('latin1').slice(0, 128)}'. Try ${cmd} HELP.`)
}

function nogroup(ctx: CommandContext, key: string, group: string, tail = ''): void {
  ctx.reply.error(`NOGROUP No such key '${key}' or consumer group '${group}'${tail}`)
}

// ---------------------------------------------------------------------------------------------
// XGROUP

interface GroupTarget { key: string; group: string; s: Stream | null; entriesRead: bigint; mkstream: boolean }

/** xgroupCommand's common part: options, the key and, unless MKSTREAM, its existence. */
function groupTargetOrReply(ctx: CommandContext, argv: Buffer[], needGroup: boolean): GroupTarget | null {
  const sub = optionName(argv[1] as Buffer)
  let mkstream = false
  let entriesRead = INVALID_ENTRIES_READ
  for (let i = 5; i < argv.length;) {
    const opt = optionName(argv[i] as Buffer)
    if (sub === 'create' && opt === 'mkstream') {
      mkstream = true
      i++
    } else if ((sub === 'create' || sub === 'setid') && opt === 'entriesread' && i + 1 < argv.length) {
      const n = int64OrReply(ctx, argv[i + 1] as Buffer)
      if (n === null) return null
      if (n < 0 && n !== -1) {
        ctx.reply.error('ERR value for ENTRIESREAD must be positive or -1')
        return null
      }
      entriesRead = big(n)
      i += 2
    } else {
      subcommandError(ctx, argv[1] as Buffer, 'XGROUP')
      return null
    }
  }
  const key = keyOf(argv[2] as Buffer)
  const s = streamOf(ctx, key)
  if (s === false) return null
  const group = keyOf(argv[3] as Buffer)
  if (!mkstream) {
    if (s === null) {
      ctx.reply.error('ERR The XGROUP subcommand requires the key to exist. Note that for CREATE ' +
        'you may want to use the MKSTREAM option to create an empty stream automatically.')
      return null
    }
    if (needGroup && !s.groups.has(group)) {
      ctx.reply.error(`NOGROUP No such consumer group '${group}' for key name '${key}'`)
      return null
    }
  }
  return { key, group, s, entriesRead, mkstream }
}

const xgroupCreate: Handler = (ctx, argv) => {
  const t = groupTargetOrReply(ctx, argv, false)
  if (t === null) return
  if (argv.length > 8) {
    subcommandError(ctx, argv[1] as Buffer, 'XGROUP')
    return
  }
  let id: bigint
  if ((argv[4] as Buffer).toString('latin1') === '$') {
    id = t.s === null ? 0n : t.s.lastId
  } else {
    const parsed = idOrReply(ctx, argv[4] as Buffer, 0n, true)
    if (parsed === null) return
    id = parsed
  }
  if (t.s !== null && t.s.groups.has(t.group)) {
    ctx.reply.error('BUSYGROUP Consumer Group name already exists')
    return
  }
  const created = t.s === null && notifying(ctx, NOTIFY_NEW)
  ctx.txn.apply(xgroupNewEv(ctx.client.db, t.key, t.group, id, t.entriesRead, true))
  if (created) notifyNew(ctx, t.key)
  ctx.reply.simple('OK')
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-create', t.key, ctx.client.db)
}

const xgroupSetid: Handler = (ctx, argv) => {
  const t = groupTargetOrReply(ctx, argv, true)
  if (t === null || t.s === null) return
  if (argv.length !== 5 && argv.length !== 7) {
    subcommandError(ctx, argv[1] as Buffer, 'XGROUP')
    return
  }
  let id: bigint
  if ((argv[4] as Buffer).toString('latin1') === '$') {
    id = t.s.lastId
  } else {
    const parsed = idOrReply(ctx, argv[4] as Buffer, 0n, false)
    if (parsed === null) return
    id = parsed
  }
  ctx.txn.apply(xgroupSetEv(ctx.client.db, t.key, t.group, id, t.entriesRead))
  ctx.reply.simple('OK')
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-setid', t.key, ctx.client.db)
}

const xgroupDestroy: Handler = (ctx, argv) => {
  const t = groupTargetOrReply(ctx, argv, false)
  if (t === null || t.s === null) return
  if (!t.s.groups.has(t.group)) {
    ctx.reply.integer(0)
    return
  }
  ctx.txn.apply(xgroupDelEv(ctx.client.db, t.key, t.group))
  ctx.reply.integer(1)
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-destroy', t.key, ctx.client.db)
}

const xgroupCreateConsumer: Handler = (ctx, argv) => {
  const t = groupTargetOrReply(ctx, argv, true)
  if (t === null || t.s === null) return
  const g = t.s.groups.get(t.group) as ConsumerGroup
  const name = keyOf(argv[4] as Buffer)
  if (g.consumers.has(name)) {
    ctx.reply.integer(0)
    return
  }
  ctx.txn.apply(xconsumerEv(ctx.client.db, t.key, t.group, name, ctx.nowMs, false))
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-createconsumer', t.key, ctx.client.db)
  ctx.reply.integer(1)
}

const xgroupDelConsumer: Handler = (ctx, argv) => {
  const t = groupTargetOrReply(ctx, argv, true)
  if (t === null || t.s === null) return
  const g = t.s.groups.get(t.group) as ConsumerGroup
  const name = keyOf(argv[4] as Buffer)
  const c = g.consumers.get(name)
  if (c === undefined) {
    ctx.reply.integer(0)
    return
  }
  const pending = c.pel.size
  ctx.txn.apply(xconsumerEv(ctx.client.db, t.key, t.group, name, 0, true))
  notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-delconsumer', t.key, ctx.client.db)
  ctx.reply.integer(pending)
}

const XGROUP_HELP = helpLines('xgroup', [
  'CREATE <key> <groupname> <id|$> [option]',
  '    Create a new consumer group. Options are:',
  '    * MKSTREAM',
  '      Create the empty stream if it does not exist.',
  '    * ENTRIESREAD entries_read',
  "      Set the group's entries_read counter (internal use).",
  'CREATECONSUMER <key> <groupname> <consumer>',
  '    Create a new consumer in the specified group.',
  'DELCONSUMER <key> <groupname> <consumer>',
  '    Remove the specified consumer.',
  'DESTROY <key> <groupname>',
  '    Remove the specified group.',
  'SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]',
  '    Set the current group ID and entries_read counter.',
])

// ---------------------------------------------------------------------------------------------
// XACK XPENDING

/** The stream and group for XACK/XCLAIM-like commands; null when missing (no reply), false after an error. */
function groupOf(ctx: CommandContext, key: string, group: string): [Stream, ConsumerGroup] | null | false {
  const s = streamOf(ctx, key)
  if (s === false) return false
  const g = s?.groups.get(group)
  return s === null || g === undefined ? null : [s, g]
}

/** argv[1]'s stream and argv[2]'s group, or null once the error is replied (NOGROUP if missing). */
function groupOrReply(
  ctx: CommandContext, argv: Buffer[],
): [Stream, ConsumerGroup, string, string] | null {
  const key = keyOf(argv[1] as Buffer)
  const group = keyOf(argv[2] as Buffer)
  const at = groupOf(ctx, key, group)
  if (at === false) return null
  if (at === null) {
    nogroup(ctx, key, group)
    return null
  }
  return [at[0], at[1], key, group]
}

const xack: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const group = keyOf(argv[2] as Buffer)
  const at = groupOf(ctx, key, group)
  if (at === false) return
  if (at === null) {
    ctx.reply.integer(0)
    return
  }
  const ids: bigint[] = []
  for (let j = 3; j < argv.length; j++) {
    const id = idOrReply(ctx, argv[j] as Buffer, 0n, true)
    if (id === null) return
    ids.push(id)
  }
  const g = at[1]
  const seen = new Set<bigint>()
  const acked = ids.filter((id) => {
    if (seen.has(id) || g.pel.get(id) === undefined) return false
    seen.add(id)
    return true
  })
  if (acked.length > 0) ctx.txn.apply(xackEv(ctx.client.db, key, group, acked))
  ctx.reply.integer(acked.length)
}

const xpending: Handler = (ctx, argv) => {
  const justInfo = argv.length === 3
  if (argv.length !== 3 && (argv.length < 6 || argv.length > 9)) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  let start = 0n
  let end = ID_MAX
  let count = 0n
  let minIdle = 0n
  let consumer: string | null = null
  if (argv.length >= 6) {
    let at = 3
    if (optionName(argv[3] as Buffer) === 'idle') {
      const n = int64OrReply(ctx, argv[4] as Buffer)
      if (n === null) return
      minIdle = big(n)
      if (argv.length < 8) {
        ctx.reply.error(ERR_SYNTAX)
        return
      }
      at += 2
    }
    const n = int64OrReply(ctx, argv[at + 2] as Buffer)
    if (n === null) return
    count = big(n) < 0n ? 0n : big(n)
    const s0 = intervalOrReply(ctx, argv[at] as Buffer, true)
    if (s0 === null) return
    const e0 = intervalOrReply(ctx, argv[at + 1] as Buffer, false)
    if (e0 === null) return
    start = s0
    end = e0
    if (at + 3 < argv.length) consumer = keyOf(argv[at + 3] as Buffer)
  }
  const found = groupOrReply(ctx, argv)
  if (found === null) return
  const g = found[1]
  if (justInfo) {
    pendingSummary(ctx.reply, g)
    return
  }
  let pel = g.pel
  if (consumer !== null) {
    const c = g.consumers.get(consumer)
    if (c === undefined) {
      ctx.reply.arrayHeader(0)
      return
    }
    pel = c.pel
  }
  const rows: [bigint, string, number, number][] = []
  for (let i = pel.lowerBound(start); i < pel.size && BigInt(rows.length) < count; i++) {
    const id = pel.keyAt(i)
    if (id > end) break
    const nack = pel.valAt(i)
    if (nack === undefined) continue
    const idle = ctx.nowMs - nack.deliveryTime
    if (minIdle !== 0n && BigInt(idle) < minIdle) continue
    rows.push([id, nack.consumer.name, Math.max(0, idle), nack.deliveryCount])
  }
  ctx.reply.arrayHeader(rows.length)
  for (const [id, name, idle, n] of rows) {
    ctx.reply.arrayHeader(4)
    replyId(ctx.reply, id)
    replyName(ctx.reply, name)
    ctx.reply.integer(idle)
    ctx.reply.integer(n)
  }
}

function pendingSummary(reply: ReplySink, g: ConsumerGroup): void {
  reply.arrayHeader(4)
  reply.integer(g.pel.size)
  if (g.pel.size === 0) {
    reply.nullBulk()
    reply.nullBulk()
    reply.nullArray()
    return
  }
  replyId(reply, g.pel.keyAt(0))
  replyId(reply, g.pel.keyAt(g.pel.size - 1))
  const owners = sortedNames(g.consumers).map((n) => g.consumers.get(n) as Consumer).filter((c) => c.pel.size > 0)
  reply.arrayHeader(owners.length)
  for (const c of owners) {
    reply.arrayHeader(2)
    replyName(reply, c.name)
    reply.bulk(String(c.pel.size))
  }
}

// ---------------------------------------------------------------------------------------------
// XCLAIM XAUTOCLAIM

interface ClaimOpts { minIdle: bigint; time: bigint; retry: bigint; force: boolean; justId: boolean; lastId: bigint }

/** XCLAIM's ids (until the first argument that is not one) and options. */
function claimArgsOrReply(ctx: CommandContext, argv: Buffer[]): [bigint[], ClaimOpts] | null {
  const idle = parseInt64(argv[4] as Buffer)
  if (idle === null) {
    ctx.reply.error('ERR Invalid min-idle-time argument for XCLAIM')
    return null
  }
  const o: ClaimOpts = { minIdle: big(idle) < 0n ? 0n : big(idle), time: -1n, retry: -1n, force: false, justId: false, lastId: 0n }
  const ids: bigint[] = []
  let j = 5
  for (; j < argv.length; j++) {
    const p = parseId(argv[j] as Buffer, 0n, true)
    if (p === null) break
    ids.push(p.id)
  }
  const now = BigInt(ctx.nowMs)
  for (; j < argv.length; j++) {
    const more = argv.length - 1 - j
    const opt = optionName(argv[j] as Buffer)
    if (opt === 'force') {
      o.force = true
    } else if (opt === 'justid') {
      o.justId = true
    } else if ((opt === 'idle' || opt === 'time' || opt === 'retrycount') && more > 0) {
      j++
      const n = int64OrReply(ctx, argv[j] as Buffer, `ERR Invalid ${opt.toUpperCase()} option argument for XCLAIM`)
      if (n === null) return null
      if (opt === 'idle') o.time = now - big(n)
      else if (opt === 'time') o.time = big(n)
      else o.retry = big(n)
    } else if (opt === 'lastid' && more > 0) {
      j++
      const id = idOrReply(ctx, argv[j] as Buffer, 0n, true)
      if (id === null) return null
      o.lastId = id
    } else {
      ctx.reply.error(`ERR Unrecognized XCLAIM option '${(argv[j] as Buffer).toString('latin1')}'`)
      return null
    }
  }
  if (o.time === -1n || o.time < 0n || o.time > now) o.time = now
  return [ids, o]
}

const xclaim: Handler = (ctx, argv) => {
  const at = groupOrReply(ctx, argv)
  if (at === null) return
  const [s, g, key, group] = at
  const parsed = claimArgsOrReply(ctx, argv)
  if (parsed === null) return
  const [ids, o] = parsed
  const name = keyOf(argv[3] as Buffer)
  const db = ctx.client.db
  // The effect, computed on a view of the PEL as the claims so far leave it.
  const view = new Map<bigint, { owner: string | null; time: number; count: number } | null>()
  const stateOf = (id: bigint): { owner: string | null; time: number; count: number } | null => {
    if (view.has(id)) return view.get(id) ?? null
    const n = g.pel.get(id)
    return n === undefined ? null : { owner: n.consumer.name, time: n.deliveryTime, count: n.deliveryCount }
  }
  const removed: bigint[] = []
  const claimed: bigint[] = []
  let touched = false
  for (const id of ids) {
    let nack = stateOf(id)
    if (s.fields(id) === null) {
      if (nack !== null) {
        view.set(id, null)
        removed.push(id)
      }
      continue
    }
    if (o.force && nack === null) nack = { owner: null, time: ctx.nowMs, count: 1 }
    if (nack === null) continue
    if (nack.owner !== null && o.minIdle !== 0n && BigInt(ctx.nowMs - nack.time) < o.minIdle) continue
    touched = true
    const count = o.retry >= 0n ? Number(o.retry) : o.justId ? nack.count : nack.count + 1
    view.set(id, { owner: name, time: Number(o.time), count })
    claimed.push(id)
  }
  if (removed.length > 0) ctx.txn.apply(xackEv(db, key, group, removed))
  const last: [bigint, bigint] | null = o.lastId > g.lastId ? [o.lastId, g.entriesRead] : null
  if (touched || last !== null) {
    if (touched && !g.consumers.has(name)) {
      ctx.txn.apply(xconsumerEv(db, key, group, name, ctx.nowMs, false))
      notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-createconsumer', key, db)
    }
    const nacks: [bigint, number, number][] = []
    for (const [id, v] of view) if (v !== null && v.owner === name) nacks.push([id, v.time, v.count])
    if (touched) ctx.txn.apply(xclaimEv(db, key, group, name, ctx.nowMs, last, nacks))
    else if (last !== null) ctx.txn.apply(xgroupSetEv(db, key, group, last[0], last[1]))
  }
  ctx.reply.arrayHeader(claimed.length)
  for (const id of claimed) {
    if (o.justId) replyId(ctx.reply, id)
    else replyEntry(ctx.reply, id, s.fields(id) ?? [])
  }
}

const xautoclaim: Handler = (ctx, argv) => {
  const idle = parseInt64(argv[4] as Buffer)
  if (idle === null) {
    ctx.reply.error('ERR Invalid min-idle-time argument for XAUTOCLAIM')
    return
  }
  const minIdle = big(idle) < 0n ? 0n : big(idle)
  const start = intervalOrReply(ctx, argv[5] as Buffer, true)
  if (start === null) return
  let count = 100
  let justId = false
  const maxCount = (2n ** 63n - 1n) / 16n
  for (let j = 6; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    if (opt === 'count' && argv.length - 1 - j > 0) {
      const n = parseInt64(argv[j + 1] as Buffer)
      if (n === null || big(n) < 1n || big(n) > maxCount) {
        ctx.reply.error('ERR COUNT must be > 0')
        return
      }
      count = Number(n)
      j++
    } else if (opt === 'justid') {
      justId = true
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return
    }
  }
  const at = groupOrReply(ctx, argv)
  if (at === null) return
  const [s, g, key, group] = at
  const name = keyOf(argv[3] as Buffer)
  const db = ctx.client.db
  let attempts = count * 10
  const removed: bigint[] = []
  const claimed: [bigint, number][] = []
  let i = g.pel.lowerBound(start)
  for (; attempts > 0 && count > 0 && i < g.pel.size; i++) {
    attempts--
    const id = g.pel.keyAt(i)
    const nack = g.pel.valAt(i)
    if (nack === undefined) continue
    if (s.fields(id) === null) {
      removed.push(id)
      count--
      continue
    }
    if (minIdle !== 0n && BigInt(ctx.nowMs - nack.deliveryTime) < minIdle) continue
    claimed.push([id, justId ? nack.deliveryCount : nack.deliveryCount + 1])
    count--
  }
  const next = i < g.pel.size ? g.pel.keyAt(i) : 0n
  if (removed.length > 0) ctx.txn.apply(xackEv(db, key, group, removed))
  if (claimed.length > 0) {
    if (!g.consumers.has(name)) {
      ctx.txn.apply(xconsumerEv(db, key, group, name, ctx.nowMs, false))
      notifyKeyspaceEvent(ctx, NOTIFY_STREAM, 'xgroup-createconsumer', key, db)
    }
    ctx.txn.apply(xclaimEv(db, key, group, name, ctx.nowMs, null,
      claimed.map(([id, n]) => [id, ctx.nowMs, n])))
  }
  ctx.reply.arrayHeader(3)
  replyId(ctx.reply, next)
  ctx.reply.arrayHeader(claimed.length)
  for (const [id] of claimed) {
    if (justId) replyId(ctx.reply, id)
    else replyEntry(ctx.reply, id, s.fields(id) ?? [])
  }
  ctx.reply.arrayHeader(removed.length)
  for (const id of removed) replyId(ctx.reply, id)
}

// ---------------------------------------------------------------------------------------------
// The table

export function spec(name: string, arity: number, flags: CommandFlag[], keys: [number, number, number],
  categories: string[], handler: Handler, subcommands?: CommandSpec[]): CommandSpec {
  return Object.freeze({
    name, arity, flags, firstKey: keys[0], lastKey: keys[1], step: keys[2], categories, handler,
    ...(subcommands === undefined ? {} : { subcommands }),
  })
}

const K1: [number, number, number] = [1, 1, 1]
const K2: [number, number, number] = [2, 2, 1]
const K0: [number, number, number] = [0, 0, 0]
const W = ['write', 'stream']
const R = ['read', 'stream']

const container = (cmd: string): Handler => (ctx, argv) => subcommandError(ctx, argv[1] as Buffer, cmd)

export const streamGroupCommands: CommandSpec[] = [
  spec('xack', -4, ['write', 'fast'], K1, [...W, 'fast'], xack),
  spec('xpending', -3, ['readonly'], K1, [...R, 'slow'], xpending),
  spec('xclaim', -6, ['write', 'fast'], K1, [...W, 'fast'], xclaim),
  spec('xautoclaim', -6, ['write', 'fast'], K1, [...W, 'fast'], xautoclaim),
  spec('xgroup', -2, [], K0, ['slow'], container('XGROUP'), [
    spec('xgroup|create', -5, ['write', 'denyoom'], K2, [...W, 'slow'], xgroupCreate),
    spec('xgroup|setid', -5, ['write'], K2, [...W, 'slow'], xgroupSetid),
    spec('xgroup|destroy', 4, ['write'], K2, [...W, 'slow'], xgroupDestroy),
    spec('xgroup|createconsumer', 5, ['write', 'denyoom'], K2, [...W, 'slow'], xgroupCreateConsumer),
    spec('xgroup|delconsumer', 5, ['write'], K2, [...W, 'slow'], xgroupDelConsumer),
    spec('xgroup|help', 2, ['loading', 'stale'], K0, ['stream', 'slow'], (ctx) => writeHelp(ctx, XGROUP_HELP)),
  ]),
]

