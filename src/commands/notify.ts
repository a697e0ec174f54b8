// Keyspace notifications (Redis 7.0.15's notify.c): `__keyspace@<db>__:<key>` with the event
// name as message, and `__keyevent@<db>__:<event>` with the key as message, published when the
// event's class is on in notify-keyspace-events (PubSub.keyspaceFlags, kept by the server from
// CONFIG). Handlers call notifyKeyspaceEvent where Redis calls it, with Redis's event names and
// in Redis's order; the `new` event (Redis's dbAdd) is notifyNew, called where a key is created.
// Invariants, and why:
// - DURABILITY (DESIGN rule 2): a notification reveals a write, so it is never handed to a
//   subscriber inside the command. Its deliveries wait for the transaction's commit
//   (services.afterCommit: after the command, the EXEC or the script, dropped when the pool
//   refuses the transaction) and then leave with the subscribers' output, which the server holds
//   until the group commit is durable (pubsub.ts). The acting client's own notifications (RESP3,
//   subscribed to its own keys) are written into its reply buffer at once, before its reply as
//   in Redis: that buffer is held the same way, and dropped with the reply when the pool refuses
//   the transaction (ownOutput). The active expire cycle, which runs outside any
//   command, delivers after its own transaction was appended (deliverAfterCommit).
// - Recipients are chosen when the event happens, as Redis publishes then (a subscription made
//   later in the same EXEC does not receive it).
// - Off (the default) or without any subscriber, a notification costs a few loads: nothing is
//   built.

import {
  NOTIFY_CLASS_BITS,
} from '../server-config.js'
import type { OutputBuffer } from '../resp/writer.js'
import { Deliveries, Push, type PubSub } from './pubsub.js'
import { OutputSink } from './reply-sink.js'
import type { ClientHandle, ServerServices } from './services.js'
import type { CommandContext } from './spec.js'

export const NOTIFY_KEYSPACE = NOTIFY_CLASS_BITS.K as number
export const NOTIFY_KEYEVENT = NOTIFY_CLASS_BITS.E as number
export const NOTIFY_GENERIC = NOTIFY_CLASS_BITS.g as number
export const NOTIFY_STRING = NOTIFY_CLASS_BITS.$ as number
export const NOTIFY_LIST = NOTIFY_CLASS_BITS.l as number
export const NOTIFY_SET = NOTIFY_CLASS_BITS.s as number
export const NOTIFY_HASH = NOTIFY_CLASS_BITS.h as number
export const NOTIFY_ZSET = NOTIFY_CLASS_BITS.z as number
export const NOTIFY_EXPIRED = NOTIFY_CLASS_BITS.x as number
export const NOTIFY_NEW = NOTIFY_CLASS_BITS.n as number
export const NOTIFY_KEY_MISS = NOTIFY_CLASS_BITS.m as number
export const NOTIFY_EVICTED = NOTIFY_CLASS_BITS.e as number

/** Event names as bytes, made once per name (event names are few). */
const eventBytes = new Map<string, Buffer>()

function bytesOfEvent(event: string): Buffer {
  let b = eventBytes.get(event)
  if (b === undefined) {
    b = Buffer.from(event, 'latin1')
    eventBytes.set(event, b)
  }
  return b
}

/** A keyevent channel: its name and bytes, made once per event and database. */
interface EventChannel {
  readonly name: string
  readonly bytes: Buffer
}

const eventChannels = new Map<string, EventChannel[]>()

function keyeventChannel(event: string, db: number): EventChannel {
  let perDb = eventChannels.get(event)
  if (perDb === undefined) {
    perDb = []
    eventChannels.set(event, perDb)
  }
  let c = perDb[db]
  if (c === undefined) {
    const name = `__keyevent@${db}__:${event}`
    c = { name, bytes: Buffer.from(name, 'latin1') }
    perDb[db] = c
  }
  return c
}

/** publish()'s source message (each recipient group gets its own copy: Deliveries). */
const scratch = new Push()
const EMPTY = Buffer.alloc(0)

function publishLater(ps: PubSub, name: string, channel: Buffer, message: Buffer,
  out: Deliveries): void {
  scratch.setChannel(channel, 0, channel.length)
  scratch.setMessage(message, 0, message.length)
  ps.publish(name, scratch, false, out)
  scratch.setChannel(EMPTY, 0, 0)
  scratch.setMessage(EMPTY, 0, 0)
}

/** The deliveries of one event (keyspace channel first, then keyevent, as Redis publishes). */
export function keyspaceDeliveries(ps: PubSub, type: number, event: string, key: string,
  db: number): Deliveries | null {
  const flags = ps.keyspaceFlags
  if ((flags & type) === 0 || !ps.hasSubscriptions) return null
  let out: Deliveries | null = null
  if ((flags & NOTIFY_KEYSPACE) !== 0) {
    const name = `__keyspace@${db}__:${key}`
    if (ps.mayReceive(name, false)) {
      out = new Deliveries()
      publishLater(ps, name, Buffer.from(name, 'latin1'), bytesOfEvent(event), out)
    }
  }
  if ((flags & NOTIFY_KEYEVENT) !== 0) {
    const channel = keyeventChannel(event, db)
    if (ps.mayReceive(channel.name, false)) {
      out ??= new Deliveries()
      publishLater(ps, channel.name, channel.bytes, Buffer.from(key, 'latin1'), out)
    }
  }
  return out !== null && out.size > 0 ? out : null
}

function pubsubOf(ctx: CommandContext): ServerServices | null {
  const sv = ctx.server as ServerServices | undefined | null
  return sv === undefined || sv === null || sv.pubsub === undefined ? null : sv
}

/**
 * Redis's notifyKeyspaceEvent(type, event, key, db): delivered once the transaction the
 * command runs in has committed (see the durability invariant above).
 */
export function notifyKeyspaceEvent(ctx: CommandContext, type: number, event: string,
  key: string, db = ctx.client.db): void {
  const sv = pubsubOf(ctx)
  if (sv === null || (sv.pubsub.keyspaceFlags & type) === 0) return
  const deliveries = keyspaceDeliveries(sv.pubsub, type, event, key, db)
  if (deliveries === null) return
  const own = ownOutput(ctx)
  if (own === null) {
    sv.afterCommit(() => deliveries.deliver())
    return
  }
  let others: Deliveries | null = null
  const { handles, pushes } = deliveries
  for (let i = 0; i < handles.length; i++) {
    const handle = handles[i] as ClientHandle
    const push = pushes[i] as Push
    if (handle.state.id === ctx.client.id) push.writeIn(own, handle.state.proto)
    else (others ??= new Deliveries()).add(handle, push)
  }
  if (others !== null) {
    const later = others
    sv.afterCommit(() => later.deliver())
  }
}

/**
 * Where the acting client's own notifications go at once, in its output before its reply (as
 * Redis publishes during the command): its reply buffer — the session's output, EXEC's or a
 * served blocked client's scratch — which the server holds until the commit is durable and which
 * dispatch drops when the pool refuses a write command's, EXEC's or a serve's transaction (a
 * read-only command's lazy-expiry delete, and a CLIENT REPLY OFF client's writes, keep theirs:
 * the pool keeps room for deletes, and only an I/O failure, which stops the server, refuses
 * one). Null in a script (its sink is the
 * script's redis.call reply) or outside the server: then they wait for the commit like others'.
 */
function ownOutput(ctx: CommandContext): OutputBuffer | null {
  if (ctx.script === true || !(ctx.reply instanceof OutputSink)) return null
  return ctx.reply.unmutedTarget
}

/** Redis's dbAdd notification: `key` was created in `db`. */
export function notifyNew(ctx: CommandContext, key: string, db = ctx.client.db): void {
  notifyKeyspaceEvent(ctx, NOTIFY_NEW, 'new', key, db)
}

/** Whether any class of `type` is on: skip building what only a notification needs. */
export function notifying(ctx: CommandContext, type: number): boolean {
  const sv = pubsubOf(ctx)
  return sv !== null && (sv.pubsub.keyspaceFlags & type) !== 0
}

/** `del` when the command's events removed the key (a collection they emptied). */
export function notifyIfDeleted(ctx: CommandContext, db: number, key: string): void {
  const sv = pubsubOf(ctx)
  if (sv === null || (sv.pubsub.keyspaceFlags & NOTIFY_GENERIC) === 0) return
  if (ctx.keyspace.get(db, key) === undefined) {
    notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, db)
  }
}
