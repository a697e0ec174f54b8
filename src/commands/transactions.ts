// MULTI, EXEC, DISCARD, WATCH, UNWATCH with Redis 7.0.15's replies. Queueing itself is done by
// dispatch (commands other than IMMEDIATE_IN_MULTI are queued with +QUEUED); EXEC's spec is
// recognised by identity and run by dispatch (one transaction, one commit for the whole block),
// so its handler here is never called. WATCH state lives in ClientState (`watched`,
// `watchDirty`) and in the server's WatchIndex (src/txn/watch.ts).

import type { WatchIndex } from '../txn/watch.js'
import { services } from './services.js'
import { keyOf, type ClientState, type CommandSpec, type Handler } from './spec.js'

/** Commands that run at once even inside MULTI (Redis's processCommand list). */
export const IMMEDIATE_IN_MULTI: ReadonlySet<string> =
  new Set(['exec', 'discard', 'multi', 'watch', 'quit', 'reset'])

/** Leave MULTI, forget the queue, unwatch everything (Redis's discardTransaction). */
export function discardTransaction(client: ClientState, watch: WatchIndex): void {
  client.multi = null
  watch.unwatchAll(client)
  client.watchDirty = false
}

const multi: Handler = (ctx) => {
  if (ctx.client.multi !== null) {
    ctx.reply.error('ERR MULTI calls can not be nested')
    return
  }
  ctx.client.multi = { queue: [], dirty: false }
  ctx.reply.simple('OK')
}

const exec: Handler = (ctx) => {
  // Dispatch runs EXEC itself (it owns the transaction); reaching here is a wiring bug.
  ctx.reply.error('ERR EXEC without MULTI')
}

const discard: Handler = (ctx) => {
  if (ctx.client.multi === null) {
    ctx.reply.error('ERR DISCARD without MULTI')
    return
  }
  discardTransaction(ctx.client, services(ctx).watch)
  ctx.reply.simple('OK')
}

const watch: Handler = (ctx, argv) => {
  if (ctx.client.multi !== null) {
    ctx.reply.error('ERR WATCH inside MULTI is not allowed')
    return
  }
  if (ctx.store === null) {
    ctx.reply.error('LOADING Redis is loading the dataset in memory')
    return
  }
  if (!ctx.client.watchDirty) {
    const index = services(ctx).watch
    for (let i = 1; i < argv.length; i++) {
      index.watch(ctx.client, ctx.keyspace, ctx.client.db, keyOf(argv[i] as Buffer))
    }
  }
  ctx.reply.simple('OK')
}

const unwatch: Handler = (ctx) => {
  services(ctx).watch.unwatchAll(ctx.client)
  ctx.client.watchDirty = false
  ctx.reply.simple('OK')
}

const TXN = ['noscript', 'loading', 'stale', 'fast', 'allow_busy'] as const

// Summaries and arguments: command-docs.ts.
export const EXEC_SPEC: CommandSpec = Object.freeze<CommandSpec>({
  name: 'exec', arity: 1, flags: ['noscript', 'loading', 'stale', 'skip_slowlog'],
  firstKey: 0, lastKey: 0, step: 0, categories: ['slow', 'transaction'], handler: exec,
})

export const transactionCommands: readonly CommandSpec[] = Object.freeze([
  { name: 'multi', arity: 1, flags: TXN, firstKey: 0, lastKey: 0, step: 0,
    categories: ['fast', 'transaction'], handler: multi },
  EXEC_SPEC,
  { name: 'discard', arity: 1, flags: TXN, firstKey: 0, lastKey: 0, step: 0,
    categories: ['fast', 'transaction'], handler: discard },
  { name: 'watch', arity: -2, flags: TXN, firstKey: 1, lastKey: -1, step: 1,
    categories: ['fast', 'transaction'], handler: watch },
  { name: 'unwatch', arity: 1, flags: TXN, firstKey: 0, lastKey: 0, step: 0,
    categories: ['fast', 'transaction'], handler: unwatch },
] as CommandSpec[])
