// Clients blocked on keys (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP), as
// Redis 7.0's blocked.c: a FIFO of waiters per (db, key), a deadline per waiter, and a serving
// pass after every command that changed data.
//
// API (the server / dispatcher side):
//   const blocking = new BlockingRegistry<CommandContext, ReplySink>(host)
//   - host.run(client, fn): run `fn(ctx)` for a blocked client, in a fresh transaction of its own
//     with a CommandContext whose reply goes to that client (no ctx.block), commit it, release
//     its replies after durability as for any command, and return { served: fn's result,
//     events: the events it applied }. If served, the client is unblocked: resume reading its
//     pipelined commands.
//   - host.timedOut(waiter): the waiter's deadline passed; it was already removed from the
//     registry. Write its timeout reply (waiter.onTimeout(sink)) and resume the client.
//   - In each command's context (outside MULTI/EXEC only) set
//       block: (keys, timeoutMs, serve, onTimeout) =>
//         blocking.block(client, client.db, keys, timeoutMs, nowMs, serve, onTimeout)
//     and stop executing that client's further commands until it is served or timed out.
//     Inside MULTI/EXEC leave ctx.block undefined: blocking commands then answer as a timeout.
//   - After every executed command or EXEC that committed, call
//       blocking.serveBlocked(txn.events)
//     with the events of that transaction: keys they touched are "ready"; waiters on them are
//     served in FIFO order (Redis's fairness), each in its own transaction. A serve may make
//     more keys ready (BLMOVE pushes to its destination): those are served in the same pass.
//   - blocking.unblock(clientId) on disconnect (no reply); blocking.unblockWithTimeout(clientId)
//     for CLIENT UNBLOCK [TIMEOUT] (the timeout reply); CLIENT UNBLOCK ERROR: unblock(), then
//     reply '-UNBLOCKED client unblocked via CLIENT UNBLOCK'. blocking.isBlocked(clientId) and
//     blocking.size (INFO blocked_clients).
// Invariants:
// - A client has at most one waiter; a waiter sits in the FIFO of each of its distinct keys and
//   is removed from all of them at once (served, timed out or unblocked).
// - FLUSHDB/FLUSHALL and SWAPDB make every waiter's key in the databases they change ready.
// - Keys are served in the order they became ready (the order of the events), each key's
//   waiters in the order they blocked; a waiter whose serve returns false stays blocked.
// - Timers never keep an idle process alive (unref) and are cleared when a waiter leaves.

import type { Event } from '../state/event.js'

/** The blocked client as the registry needs it. */
export interface BlockedClient {
  readonly id: number
}

export interface Waiter<C, R> {
  readonly client: BlockedClient
  readonly db: number
  readonly keys: readonly string[]
  /** Absolute deadline in ms, 0 = none. */
  readonly deadlineMs: number
  readonly serve: (ctx: C, key: string) => boolean
  readonly onTimeout: (reply: R) => void
  timer: ReturnType<typeof setTimeout> | null
}

export interface BlockingHost<C, R> {
  run(client: BlockedClient, fn: (ctx: C) => boolean): { served: boolean; events: readonly Event[] }
  timedOut(waiter: Waiter<C, R>): void
}

const FLUSHDB_CODE = 4
const FLUSHALL_CODE = 5
const SWAPDB_CODE = 6

function slot(db: number, key: string): string {
  return `${db}\u0000${key}`
}

export class BlockingRegistry<C, R> {
  private readonly byKey = new Map<string, Waiter<C, R>[]>()
  private readonly byClient = new Map<number, Waiter<C, R>>()

  constructor(private readonly host: BlockingHost<C, R>) {}

  get size(): number {
    return this.byClient.size
  }

  isBlocked(clientId: number): boolean {
    return this.byClient.has(clientId)
  }

  /** Waiters blocked on (db, key), in FIFO order (tests, DEBUG). */
  waitersOn(db: number, key: string): readonly Waiter<C, R>[] {
    return this.byKey.get(slot(db, key)) ?? []
  }

  block(client: BlockedClient, db: number, keys: readonly string[], timeoutMs: number,
    nowMs: number, serve: (ctx: C, key: string) => boolean, onTimeout: (reply: R) => void): void {
    this.unblock(client.id)
    const distinct = [...new Set(keys)]
    const waiter: Waiter<C, R> = {
      client, db, keys: distinct, deadlineMs: timeoutMs > 0 ? nowMs + timeoutMs : 0, serve,
      onTimeout, timer: null,
    }
    for (const key of distinct) {
      const s = slot(db, key)
      let fifo = this.byKey.get(s)
      if (fifo === undefined) {
        fifo = []
        this.byKey.set(s, fifo)
      }
      fifo.push(waiter)
    }
    this.byClient.set(client.id, waiter)
    if (timeoutMs > 0) {
      // setTimeout's limit is 2^31-1 ms: longer timeouts re-arm.
      const arm = (remaining: number): void => {
        const step = Math.min(remaining, 0x7fffffff)
        waiter.timer = setTimeout(() => {
          if (this.byClient.get(client.id) !== waiter) return
          if (remaining > step) {
            arm(remaining - step)
            return
          }
          this.remove(waiter)
          this.host.timedOut(waiter)
        }, step)
        waiter.timer.unref?.()
      }
      arm(timeoutMs)
    }
  }

  /** Remove the client's waiter without replying (disconnect, CLIENT UNBLOCK ERROR). */
  unblock(clientId: number): Waiter<C, R> | null {
    const w = this.byClient.get(clientId)
    if (w === undefined) return null
    this.remove(w)
    return w
  }

  /** CLIENT UNBLOCK [TIMEOUT]: as if the timeout fired now. */
  unblockWithTimeout(clientId: number): boolean {
    const w = this.unblock(clientId)
    if (w === null) return false
    this.host.timedOut(w)
    return true
  }

  private remove(w: Waiter<C, R>): void {
    if (w.timer !== null) clearTimeout(w.timer)
    w.timer = null
    if (this.byClient.get(w.client.id) === w) this.byClient.delete(w.client.id)
    for (const key of w.keys) {
      const s = slot(w.db, key)
      const fifo = this.byKey.get(s)
      if (fifo === undefined) continue
      const i = fifo.indexOf(w)
      if (i >= 0) fifo.splice(i, 1)
      if (fifo.length === 0) this.byKey.delete(s)
    }
  }

  /**
   * handleClientsBlockedOnKeys: serve the waiters on every key the events touched. Returns the
   * number of waiters served.
   */
  serveBlocked(events: readonly Event[]): number {
    if (this.byKey.size === 0 || events.length === 0) return 0
    const queue: [number, string][] = []
    const queued = new Set<string>()
    const signal = (evs: readonly Event[]): void => {
      for (const e of evs) {
        const ev = e as Event & { db?: unknown; key?: unknown; a?: unknown; b?: unknown }
        if (typeof ev.key === 'string' && typeof ev.db === 'number') {
          this.signal(queue, queued, ev.db, ev.key)
        } else if (e.code === FLUSHDB_CODE || e.code === FLUSHALL_CODE) {
          // Redis's scanDatabaseForDeletedStreams: a flush wakes the waiters whose serve answers
          // a deleted key (XREADGROUP); the others find nothing and stay blocked.
          for (const w of this.byClient.values()) {
            if (e.code === FLUSHDB_CODE && w.db !== ev.db) continue
            for (const key of w.keys) this.signal(queue, queued, w.db, key)
          }
        } else if (e.code === SWAPDB_CODE && typeof ev.a === 'number' && typeof ev.b === 'number') {
          for (const w of this.byClient.values()) {
            if (w.db !== ev.a && w.db !== ev.b) continue
            for (const key of w.keys) this.signal(queue, queued, w.db, key)
          }
        }
      }
    }
    signal(events)
    let served = 0
    while (queue.length > 0) {
      const [db, key] = queue.shift() as [number, string]
      queued.delete(slot(db, key))
      const fifo = this.byKey.get(slot(db, key))
      if (fifo === undefined) continue
      for (const w of [...fifo]) {
        if (this.byClient.get(w.client.id) !== w) continue
        const result = this.host.run(w.client, (ctx) => w.serve(ctx, key))
        if (!result.served) continue
        this.remove(w)
        served++
        signal(result.events)
      }
    }
    return served
  }

  private signal(queue: [number, string][], queued: Set<string>, db: number, key: string): void {
    const s = slot(db, key)
    if (!this.byKey.has(s) || queued.has(s)) return
    queued.add(s)
    queue.push([db, key])
  }
}
