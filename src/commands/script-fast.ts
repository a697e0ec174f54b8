// Scripts' fast path (issue 13): a script first runs on the main thread (scripting/
// inline-engine.ts), where each redis.call is a direct call, under a budget (instructions, and
// a wall-clock deadline checked at each redis.call). Past the budget it is stopped from outside
// Lua (no pcall can catch it), everything it did is rolled back, and the caller runs it again
// from the start on the worker thread (scripting/worker-engine.ts, commands/busy.ts), which keeps
// -BUSY, SCRIPT KILL and FUNCTION KILL as they were. A script that was stopped goes to the
// worker directly for its next runs (`slow`: 16, doubling at each further stop; forgotten at
// SCRIPT FLUSH), so a long script pays for a wasted attempt rarely.
// Why the rerun is a valid execution: nothing of the stopped attempt was observed. Its reply is
// written only when it ends; its keyspace notifications, PUBLISHes and blocked-client wake-ups
// wait for the transaction's commit (services.afterCommit, dropped here back to the mark); its
// writes are undone to the savepoint taken before it (Transaction.rollbackTo: a script in
// MULTI/EXEC keeps the EXEC's earlier commands); its redis.log lines wait for its end; what it
// counted in INFO (commandstats, errorstats, hits, misses, expired keys, error replies) is put
// back. A script is deterministic only up to TIME, random commands and math.random, but since
// nobody saw the first run, the second is simply the one that happened.
// Not put back (docs/scripting.md): a WATCHer of a key the stopped attempt wrote is marked
// dirty (its EXEC fails, as it would after the rerun's write of that key), and a client tracking
// such a key gets an invalidation — both only when the rerun does not write that key again.
// Invariants: an attempt runs synchronously inside its command; after a rollback the transaction,
// the afterCommit queue and the counters are as they were before the attempt.

import type { ScriptOutcome } from '../scripting/engine.js'
import { InlineLuaEngine } from '../scripting/inline-engine.js'
import type { ServerServices, ServerStats } from './services.js'
import type { CommandContext } from './spec.js'

/**
 * Wall-clock budget of an attempt (ms), checked at each redis.call; at most half of
 * busy-reply-threshold. Past it the engine checks the CPU used (inline-engine.ts overBudget):
 * an attempt stretched by a loaded machine's preemption goes on, in windows of this length, up
 * to half of busy-reply-threshold of wall clock. A stop still sends the script to the worker
 * only for a while (`slow`).
 */
const ATTEMPT_MS = 50

export const inline = new InlineLuaEngine()

/**
 * Scripts (e:<sha>) and functions (f:<name>) that ran past the budget: the next `skip` runs go
 * to the worker directly; each further stop doubles `next` (up to SKIP_MAX).
 */
const slow = new Map<string, { skip: number; next: number }>()
const SLOW_MAX = 10_000
const SKIP_FIRST = 16
const SKIP_MAX = 65_536

/** What an attempt counted, to put back if it is rolled back. */
export class AttemptRecord {
  readonly logs: [number, Buffer][] = []
  /** The MONITOR lines of the attempt's commands, shown once it succeeded: [db, argv]. */
  readonly monitored: [number, Buffer[]][] = []
  /** commandstats entries as they were before the attempt touched them (undefined: absent). */
  private commands: Map<string, [number, number, number, number] | undefined> | null = null
  /** errorstats counts as they were before the attempt touched them. */
  private errors: Map<string, number | undefined> | null = null

  command(stats: ServerStats, name: string): void {
    const commands = this.commands ??= new Map()
    if (commands.has(name)) return
    const s = stats.commands.get(name)
    commands.set(name, s === undefined ? undefined
      : [s.calls, s.usec, s.rejectedCalls, s.failedCalls])
  }

  error(stats: ServerStats, message: string): void {
    const space = message.indexOf(' ')
    const code = space < 0 ? message : message.slice(0, space)
    const errors = this.errors ??= new Map()
    if (!errors.has(code)) errors.set(code, stats.errors.get(code))
  }

  rollback(stats: ServerStats): void {
    for (const [name, was] of this.commands ?? []) {
      if (was === undefined) {
        stats.commands.delete(name)
        continue
      }
      const s = stats.commandStat(name)
      ;[s.calls, s.usec, s.rejectedCalls, s.failedCalls] = was
    }
    for (const [code, was] of this.errors ?? []) {
      if (was === undefined) stats.errors.delete(code)
      else stats.errors.set(code, was)
    }
    this.logs.length = 0
    this.monitored.length = 0
  }
}

interface Attemptable {
  readonly attempt: AttemptRecord | null
  flushLogs(): void
}

/** Whether to try the script or function `key` on the main thread now (counts a skip). */
export function fastEligible(key: string): boolean {
  const s = slow.get(key)
  if (s !== undefined && s.skip > 0) {
    s.skip--
    return false
  }
  return inline.ready
}

function markSlow(key: string): void {
  const s = slow.get(key)
  if (s !== undefined) {
    s.next = Math.min(SKIP_MAX, s.next * 2)
    s.skip = s.next
    return
  }
  if (slow.size >= SLOW_MAX) slow.clear()
  slow.set(key, { skip: SKIP_FIRST, next: SKIP_FIRST })
}

/**
 * Run `attempt` (a script on the main thread) for `key`: its outcome, or null when it did not
 * run there or was stopped — then nothing of it remains, and the caller runs it on the worker.
 */
export function tryFast(ctx: CommandContext, key: string, host: Attemptable,
  attempt: (deadline: number, cap: number) => ScriptOutcome | null): ScriptOutcome | null {
  const record = host.attempt
  if (record === null || !inline.ready) return null
  const srv = ctx.server as ServerServices | undefined
  // (A server of tests may have no config: Redis's default then.)
  const config = srv?.config as ServerServices['config'] | undefined
  const threshold = config === undefined ? 5000 : config.getNumber('busy-reply-threshold')
  const stats = srv?.stats
  const savepoint = ctx.txn.savepoint()
  const deferred = srv?.afterCommitMark?.()
  const counters = stats === undefined ? null
    : [stats.totalErrorReplies, stats.keyspaceHits, stats.keyspaceMisses, stats.expiredKeys]
  const uncounted = stats?.uncountedError ?? null
  const now = performance.now()
  const outcome = attempt(now + Math.min(ATTEMPT_MS, threshold / 2), now + threshold / 2)
  if (outcome !== null) {
    host.flushLogs()
    return outcome
  }
  ctx.txn.rollbackTo(savepoint)
  if (deferred !== undefined) srv?.dropAfterCommitFrom?.(deferred)
  if (stats !== undefined && counters !== null) {
    record.rollback(stats)
    ;[stats.totalErrorReplies, stats.keyspaceHits, stats.keyspaceMisses, stats.expiredKeys] =
      counters as [number, number, number, number]
    stats.uncountedError = uncounted
  }
  markSlow(key)
  return null
}

/** SCRIPT FLUSH / FUNCTION FLUSH: forget what was slow, and the main engine's caches. */
export function flushFast(): void {
  slow.clear()
  inline.flush()
}
