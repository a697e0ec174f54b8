// XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP (Redis 7.0.15 t_stream.c
// xinfoCommand): read-only views of a stream, its groups and consumers, in Redis's field order
// and rax order (bytewise by name). capykv keeps Redis's node boundaries (radix-tree-keys) and
// derives radix-tree-nodes from them as Redis's compressed radix tree would hold them.

import { type Consumer, type ConsumerGroup, ID_MAX, INVALID_ENTRIES_READ, type Stream } from '../state/stream.js'
import { writeHelp } from './connection.js'
import { big, int64OrReply, optionName } from './numeric.js'
import { helpLines } from './services.js'
import { keyOf, type CommandSpec, type Handler, type ReplySink } from './spec.js'
import { spec, subcommandError } from './stream-group.js'
import { replyEntry, replyId, replyName, sortedNames, streamOf } from './stream-util.js'

const XINFO_HELP = helpLines('xinfo', [
  'CONSUMERS <key> <groupname>',
  '    Show consumers of <groupname>.',
  'GROUPS <key>',
  '    Show the stream consumer groups.',
  'STREAM <key> [FULL [COUNT <count>]',
  '    Show information about the stream.',
])

function field(reply: ReplySink, name: string): void {
  reply.bulk(name)
}

function entryRead(reply: ReplySink, n: bigint): void {
  if (n === INVALID_ENTRIES_READ) reply.nullBulk()
  else reply.integer(n)
}

function lagReply(reply: ReplySink, s: Stream, g: ConsumerGroup): void {
  const lag = s.lag(g)
  if (lag === null) reply.nullBulk()
  else reply.integer(lag)
}

/**
 * rax->numnodes of the stream's node index: the nodes of a compressed radix tree over the nodes'
 * 16-byte big-endian master ids (a one-child chain is one compressed node, a key ends in a node of
 * its own), as Redis's rax keeps it.
 */
export function raxNodes(s: Stream): number {
  const keys = s.nodes.map((n) => {
    const b = Buffer.alloc(16)
    b.writeBigUInt64BE(n.master >> 64n, 0)
    b.writeBigUInt64BE(n.master & ((1n << 64n) - 1n), 8)
    return b
  })
  if (keys.length === 0) return 1
  const count = (set: Buffer[], depth: number): number => {
    if (depth === 16) return 1
    if (set.length === 1) return 2
    let lcp = 0
    const first = set[0] as Buffer
    while (depth + lcp < 16 && set.every((k) => k[depth + lcp] === first[depth + lcp])) lcp++
    if (lcp > 0) return 1 + count(set, depth + lcp)
    const byByte = new Map<number, Buffer[]>()
    for (const k of set) {
      const c = k[depth] as number
      const list = byByte.get(c)
      if (list === undefined) byByte.set(c, [k])
      else list.push(k)
    }
    let n = 1
    for (const sub of byByte.values()) n += count(sub, depth + 1)
    return n
  }
  return count(keys, 0)
}

const xinfoStream: Handler = (ctx, argv) => {
  const s = streamOf(ctx, keyOf(argv[2] as Buffer))
  if (s === false) return
  if (s === null) {
    ctx.reply.error('ERR no such key')
    return
  }
  let full = false
  let count = 10n
  const opts = argv.length - 3
  if (opts !== 0) {
    if ((opts !== 1 && opts !== 3) || optionName(argv[3] as Buffer) !== 'full' ||
      (opts === 3 && optionName(argv[4] as Buffer) !== 'count')) {
      subcommandError(ctx, argv[1] as Buffer, 'XINFO')
      return
    }
    full = true
    if (opts === 3) {
      const n = int64OrReply(ctx, argv[5] as Buffer)
      if (n === null) return
      count = big(n) < 0n ? 10n : big(n)
    }
  }
  const r = ctx.reply
  r.mapHeader(full ? 9 : 10)
  field(r, 'length'); r.integer(s.length)
  field(r, 'radix-tree-keys'); r.integer(s.nodes.length)
  field(r, 'radix-tree-nodes'); r.integer(raxNodes(s))
  field(r, 'last-generated-id'); replyId(r, s.lastId)
  field(r, 'max-deleted-entry-id'); replyId(r, s.maxDeletedId)
  field(r, 'entries-added'); r.integer(s.entriesAdded)
  field(r, 'recorded-first-entry-id'); replyId(r, s.firstId)
  if (!full) {
    field(r, 'groups'); r.integer(s.groups.size)
    for (const [name, rev] of [['first-entry', false], ['last-entry', true]] as const) {
      field(r, name)
      let written = false
      s.range(0n, ID_MAX, rev, 1, (id, pairs) => {
        replyEntry(r, id, pairs)
        written = true
      })
      if (!written) r.nullBulk()
    }
    return
  }
  const n = count > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(count)
  field(r, 'entries')
  const found: [bigint, Buffer[]][] = []
  s.range(0n, ID_MAX, false, n, (id, pairs) => { found.push([id, pairs]) })
  r.arrayHeader(found.length)
  for (const [id, pairs] of found) replyEntry(r, id, pairs)
  field(r, 'groups')
  r.arrayHeader(s.groups.size)
  for (const name of sortedNames(s.groups)) fullGroup(r, s, name, s.groups.get(name) as ConsumerGroup, n)
}

function fullGroup(r: ReplySink, s: Stream, name: string, g: ConsumerGroup, n: number): void {
  r.mapHeader(7)
  field(r, 'name'); replyName(r, name)
  field(r, 'last-delivered-id'); replyId(r, g.lastId)
  field(r, 'entries-read'); entryRead(r, g.entriesRead)
  field(r, 'lag'); lagReply(r, s, g)
  field(r, 'pel-count'); r.integer(g.pel.size)
  field(r, 'pending')
  const pending = n === 0 ? g.pel.size : Math.min(n, g.pel.size)
  r.arrayHeader(pending)
  for (let i = 0; i < pending; i++) {
    const nack = g.pel.valAt(i)
    r.arrayHeader(4)
    replyId(r, g.pel.keyAt(i))
    replyName(r, nack?.consumer.name ?? '')
    r.integer(nack?.deliveryTime ?? 0)
    r.integer(nack?.deliveryCount ?? 0)
  }
  field(r, 'consumers')
  r.arrayHeader(g.consumers.size)
  for (const cname of sortedNames(g.consumers)) {
    const c = g.consumers.get(cname) as Consumer
    r.mapHeader(4)
    field(r, 'name'); replyName(r, cname)
    field(r, 'seen-time'); r.integer(c.seenTime)
    field(r, 'pel-count'); r.integer(c.pel.size)
    field(r, 'pending')
    const own = n === 0 ? c.pel.size : Math.min(n, c.pel.size)
    r.arrayHeader(own)
    for (let i = 0; i < own; i++) {
      const nack = c.pel.valAt(i)
      r.arrayHeader(3)
      replyId(r, c.pel.keyAt(i))
      r.integer(nack?.deliveryTime ?? 0)
      r.integer(nack?.deliveryCount ?? 0)
    }
  }
}

const xinfoGroups: Handler = (ctx, argv) => {
  const s = streamOf(ctx, keyOf(argv[2] as Buffer))
  if (s === false) return
  if (s === null) {
    ctx.reply.error('ERR no such key')
    return
  }
  const r = ctx.reply
  r.arrayHeader(s.groups.size)
  for (const name of sortedNames(s.groups)) {
    const g = s.groups.get(name) as ConsumerGroup
    r.mapHeader(6)
    field(r, 'name'); replyName(r, name)
    field(r, 'consumers'); r.integer(g.consumers.size)
    field(r, 'pending'); r.integer(g.pel.size)
    field(r, 'last-delivered-id'); replyId(r, g.lastId)
    field(r, 'entries-read'); entryRead(r, g.entriesRead)
    field(r, 'lag'); lagReply(r, s, g)
  }
}

const xinfoConsumers: Handler = (ctx, argv) => {
  const key = keyOf(argv[2] as Buffer)
  const s = streamOf(ctx, key)
  if (s === false) return
  if (s === null) {
    ctx.reply.error('ERR no such key')
    return
  }
  const group = keyOf(argv[3] as Buffer)
  const g = s.groups.get(group)
  if (g === undefined) {
    ctx.reply.error(`NOGROUP No such consumer group '${group}' for key name '${key}'`)
    return
  }
  const r = ctx.reply
  r.arrayHeader(g.consumers.size)
  for (const name of sortedNames(g.consumers)) {
    const c = g.consumers.get(name) as Consumer
    r.mapHeader(3)
    field(r, 'name'); replyName(r, name)
    field(r, 'pending'); r.integer(c.pel.size)
    field(r, 'idle'); r.integer(Math.max(0, ctx.nowMs - c.seenTime))
  }
}

const K0: [number, number, number] = [0, 0, 0]
const K2: [number, number, number] = [2, 2, 1]
const R = ['read', 'stream']
const container: Handler = (ctx, argv) => subcommandError(ctx, argv[1] as Buffer, 'XINFO')

export const streamInfoCommands: CommandSpec[] = [
  spec('xinfo', -2, [], K0, ['slow'], container, [
    spec('xinfo|stream', -3, ['readonly'], K2, [...R, 'slow'], xinfoStream),
    spec('xinfo|groups', 3, ['readonly'], K2, [...R, 'slow'], xinfoGroups),
    spec('xinfo|consumers', 4, ['readonly'], K2, [...R, 'slow'], xinfoConsumers),
    spec('xinfo|help', 2, ['loading', 'stale'], K0, ['stream', 'slow'], (ctx) => writeHelp(ctx, XINFO_HELP)),
  ]),
]
