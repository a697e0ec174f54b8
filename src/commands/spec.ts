// The command table's record type and what a handler sees (STYLE §6, §7). Dispatch checks
// existence, arity and flags from these records before any handler runs; MULTI queueing,
// write admission (denyoom) and -LOADING decisions read flags, never names.
// Handlers see the transaction view only (ctx.txn / ctx.keyspace), never storage. A handler
// VALIDATES FIRST and then applies events through ctx.txn.apply(): a command that fails (wrong
// type, syntax, not an integer…) replies its error and applies nothing (DESIGN rule 3).

import { Args } from '../resp/args.js'
import type { Keyspace } from '../state/keyspace.js'
import type { AclUser } from './acl-model.js'
import type { Store, Transaction } from '../txn/engine.js'

/** Where replies go; encodes RESP2 or RESP3 per the client's protocol. */
export interface ReplySink {
  readonly proto: 2 | 3
  /** +s */
  simple(s: string): void
  /** -msg (msg includes its code, e.g. 'ERR syntax error', 'WRONGTYPE Operation …') */
  error(msg: string): void
  integer(n: number | bigint): void
  /** $len bulk; a string is written as UTF-8 unless it is a latin1 key (use Buffer then) */
  bulk(b: Buffer | string): void
  /**
   * bulk() of bytes src[start, end), copied before it returns (a value kept in the key index);
   * sinks without it are given a copy through bulk().
   */
  bulkRange?(src: Uint8Array, start: number, end: number): void
  /** RESP2 $-1, RESP3 _ */
  nullBulk(): void
  /** RESP2 *-1, RESP3 _ */
  nullArray(): void
  arrayHeader(n: number): void
  /** n pairs follow (2n elements); RESP2 writes *2n, RESP3 %n */
  mapHeader(n: number): void
  /** RESP2 *n, RESP3 ~n */
  setHeader(n: number): void
  /** RESP3 ,x ; RESP2 a bulk string with Redis's formatting */
  double(x: number): void
  /**
   * A double already formatted by Redis's rules (addReplyHumanLongDouble): RESP3 ,text ; RESP2 a
   * bulk of text. Sinks without it reply double(Number(text)).
   */
  doubleText?(text: string): void
  /** RESP3 #t/#f ; RESP2 :1/:0 */
  boolean(b: boolean): void
  /** RESP3 =len\r\ntxt:... ; RESP2 a bulk string */
  verbatim(text: string): void
  /** Switch this and later replies to another protocol (HELLO); optional for test sinks. */
  switchProto?(proto: 2 | 3): void
}

export interface ClientState {
  readonly id: number
  name: string | null
  db: number
  proto: 2 | 3
  authenticated: boolean
  /** The ACL user (commands/acl.ts); undefined (in-process tests) runs anything. */
  user?: AclUser | undefined
  /** Set while inside MULTI. */
  multi: { queue: { spec: CommandSpec; argv: Buffer[] }[]; dirty: boolean } | null
  /** WATCHed keys touched since WATCH: EXEC must fail. */
  watchDirty: boolean
  readonly watched: Map<string, { db: number; key: string; expiredAtWatch: boolean }>
  /** CLIENT NO-TOUCH (Redis 7.2): its lookups leave the keys' access state (state/lru.ts). */
  noTouch?: boolean
}

export interface CommandContext {
  readonly store: Store
  /** The tentative state (the store's keyspace). */
  readonly keyspace: Keyspace
  /** The transaction this command runs in: its own, or the EXEC's. */
  readonly txn: Transaction
  readonly client: ClientState
  readonly reply: ReplySink
  /** Time of this command (ms), read once, as Redis does per command. */
  readonly nowMs: number
  /** Server-wide services (config, clients, stats); typed by the server module. */
  readonly server: unknown
  /**
   * Block this client (src/txn/blocking.ts documents the protocol). Present only where a command
   * may block: undefined inside MULTI/EXEC, scripts and replay, where blocking commands answer
   * as on a timeout at once (as Redis's CLIENT_DENY_BLOCKING).
   */
  readonly block?: BlockFn | undefined
  /** Set for a command called by a script (Redis's CLIENT_SCRIPT): SORT orders sets then. */
  readonly script?: boolean
  /**
   * Redis looks this command's keys up for reading (lookupKeyRead: a readonly command, or
   * asReader for the read lookups of a write command): a miss notifies `keymiss`.
   */
  readonly readLookups?: boolean
  /**
   * Finish this command later (a script past busy-reply-threshold, commands/busy.ts): until
   * `resume()` (called once its replies are written) the transaction stays open, the client
   * waits and dispatch answers others -BUSY; `drop()` (SHUTDOWN NOSAVE) aborts the transaction
   * and forgets what waited for its commit. Inside EXEC it suspends the whole EXEC: the rest of
   * its queue runs after resume(), and drop() aborts the EXEC's transaction.
   */
  readonly suspend?: (() => SuspendedCall) | undefined
}

/** A command finishing later (CommandContext.suspend). */
export interface SuspendedCall {
  resume(): void
  drop(): void
}

/**
 * Park the client on `keys` (its current db) for `timeoutMs` (0 = forever). When one of the keys
 * may have become servable, `serve(ctx, key)` runs in a fresh transaction of that client: it
 * either serves (applies its events, writes the reply, returns true: the client is unblocked)
 * or returns false (stay blocked). On timeout `onTimeout(reply)` writes the timeout reply.
 */
export type BlockFn = (keys: readonly string[], timeoutMs: number,
  serve: (ctx: CommandContext, key: string) => boolean, onTimeout: (reply: ReplySink) => void) => void

export type Handler = (ctx: CommandContext, argv: Buffer[]) => void

/**
 * A handler over the request's arguments as src/resp/args.ts's Args (issue 15 stage 2): dispatch
 * calls it with the reader's ranges, so the request needs no argv and no Buffer per argument.
 * Arguments are valid during the call; a handler that keeps one (a stored value) keeps
 * args.bytes(i), which stays valid (see args.ts).
 */
export type ArgsHandler = (ctx: CommandContext, args: Args) => void

/** A spec's handler and run for an ArgsHandler: the argv form (EXEC, scripts) wraps its argv. */
export function argsHandler(run: ArgsHandler): { handler: Handler; run: ArgsHandler } {
  return { handler: (ctx, argv) => run(ctx, Args.of(argv)), run }
}

export type CommandFlag =
  | 'write' | 'readonly' | 'denyoom' | 'admin' | 'pubsub' | 'noscript' | 'blocking' | 'loading'
  | 'stale' | 'skip_monitor' | 'skip_slowlog' | 'fast' | 'no_auth' | 'may_replicate'
  | 'no_mandatory_keys' | 'no_multi' | 'allow_busy' | 'movablekeys' | 'no_async_loading' | 'asking'
  /** Not shown by COMMAND: refused unless enable-debug-command allows it (Redis's CMD_PROTECTED). */
  | 'protected'

export interface CommandSpec {
  /** Lower case. For a subcommand: 'parent|sub'. */
  readonly name: string
  /** Redis convention: N = exactly N args (with the name), -N = at least N. */
  readonly arity: number
  readonly flags: readonly CommandFlag[]
  readonly firstKey: number
  readonly lastKey: number
  readonly step: number
  /** ACL categories without '@', e.g. ['write', 'string', 'slow']. */
  readonly categories: readonly string[]
  readonly handler: Handler
  /** The same command over Args (see ArgsHandler); dispatch prefers it when present. */
  readonly run?: ArgsHandler
  readonly subcommands?: readonly CommandSpec[]
  /**
   * Allowed while a RESP2 client is subscribed (Redis's processCommand list: (P|S)SUBSCRIBE,
   * (P|S)UNSUBSCRIBE, PING, QUIT, RESET); every other command is refused there.
   */
  readonly subscribedContext?: boolean
  /** Key positions in argv for 'movablekeys' commands (COMMAND GETKEYS, cluster-style checks). */
  readonly keys?: (argv: readonly Buffer[]) => number[]
}

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
export const ERR_SYNTAX = 'ERR syntax error'
export const ERR_NOT_INTEGER = 'ERR value is not an integer or out of range'
export const ERR_NOT_FLOAT = 'ERR value is not a valid float'

/** Keys travel as latin1 strings (one char per byte): exact for binary keys. */
export function keyOf(arg: Buffer): string {
  return arg.toString('latin1')
}

export function keyBuffer(key: string): Buffer {
  return Buffer.from(key, 'latin1')
}
