// Long scripts (Redis's "busy" state). The Lua engine runs in a worker thread
// (scripting/worker-engine.ts). A script call waits for its script synchronously, up to
// busy-reply-threshold (lua-time-limit) ms, the usual case: other clients wait, as in Redis. Past
// it the command (or the EXEC it is queued in) is suspended (CommandContext.suspend): the script
// goes on in the worker while this thread serves its redis.calls in slices of BUSY_SLICE_MS
// between event-loop turns, and meanwhile
// - dispatch answers every command without the allow_busy flag -BUSY (the text names SCRIPT
//   KILL or FUNCTION KILL by the script's kind); the allow_busy ones run outside the script's
//   transaction, which stays open;
// - SCRIPT KILL / FUNCTION KILL stop a script that has not written (its thread is terminated
//   and replaced; it replies 'ERR Script killed by user with SCRIPT KILL...'); a script that has
//   written answers UNKILLABLE; SHUTDOWN NOSAVE (and a signal's shutdown) drop it: its
//   transaction is aborted, nothing of it is logged and nothing waiting on its commit (its
//   PUBLISHes) is delivered; its client gets no reply;
// - the server's background writers (active expiry, checkpoint slices) stay idle.
// Durability: the script's writes stay one transaction, committed (and its reply released after
// the group commit) only when the script ends, whatever the number of turns it took.
// Invariant: at most one busy script (a script cannot start while one is busy: EVAL/FCALL are
// not allow_busy).

import type { ScriptOutcome } from '../scripting/engine.js'
import type { RunningJob } from '../scripting/worker-engine.js'
import type { ServerServices } from './services.js'
import type { CommandContext, ReplySink, SuspendedCall } from './spec.js'

export interface BusyScript {
  /** EVAL-family or FCALL-family: which KILL may stop it, and which -BUSY text others get. */
  readonly kind: 'eval' | 'function'
  readonly name: string
  readonly command: readonly Buffer[]
  readonly startedMs: number
  /** SCRIPT KILL (byEval) / FUNCTION KILL: the reply for the killer ('OK' or an error text). */
  kill(byEval: boolean): string
  /** SHUTDOWN NOSAVE: stop it whatever it wrote (its transaction is dropped). */
  abandon(): void
}

export const busyState: { current: BusyScript | null } = { current: null }

export const BUSY_EVAL = 'BUSY Redis is busy running a script. You can only call SCRIPT KILL ' +
  'or SHUTDOWN NOSAVE.'
export const BUSY_FUNCTION = 'BUSY Redis is busy running a script. You can only call FUNCTION ' +
  'KILL or SHUTDOWN NOSAVE.'
const ERR_NOTBUSY = 'NOTBUSY No scripts in execution right now.'
const ERR_KILLED = 'ERR Script killed by user with SCRIPT KILL...'
const ERR_UNKILLABLE = 'UNKILLABLE Sorry the script already executed write commands against ' +
  'the dataset. You can either wait the script termination or kill the server in a hard way ' +
  'using the SHUTDOWN NOSAVE command.'
/** How long a busy script holds this thread at a time (the latency others see meanwhile). */
const BUSY_SLICE_MS = 5
/** At most this long for a fresh engine thread to load before a script's time starts. */
const ENGINE_START_MS = 30_000

/** The -BUSY error for the script running now, or null when none is busy. */
export function busyError(): string | null {
  const busy = busyState.current
  if (busy === null) return null
  return busy.kind === 'eval' ? BUSY_EVAL : BUSY_FUNCTION
}

/** What a script run needs from scripting.ts. */
export interface ScriptRun {
  readonly kind: 'eval' | 'function'
  /** The SHA1 of an EVAL body, or the function's name. */
  readonly name: string
  readonly job: RunningJob<ScriptOutcome>
  /** A write command ran (Redis's SCRIPT_WRITE_DIRTY): the script can no longer be killed. */
  wrote(): boolean
  /** Write the script's reply. */
  reply(outcome: ScriptOutcome): void
}

/** Wait for a script; past busy-reply-threshold, suspend the command (see the top comment). */
export function completeScript(ctx: CommandContext, argv: Buffer[], run: ScriptRun): void {
  const config = (ctx.server as ServerServices | undefined)?.config
  const threshold = config === undefined ? 0 : config.getNumber('busy-reply-threshold')
  run.job.waitReady(ENGINE_START_MS)
  const startedMs = Date.now()
  const deadline = ctx.suspend !== undefined ? performance.now() + threshold : Infinity
  const first = run.job.pump(deadline)
  if (first !== null) {
    run.reply(first)
    return
  }
  const call = (ctx.suspend as () => SuspendedCall)()
  let dropped = false
  busyState.current = {
    kind: run.kind, name: run.name, command: argv, startedMs,
    kill(byEval: boolean): string {
      if (run.wrote()) return ERR_UNKILLABLE
      if (byEval && run.kind === 'function') return BUSY_FUNCTION
      if (!byEval && run.kind === 'eval') return BUSY_EVAL
      run.job.kill({ ok: false, error: ERR_KILLED })
      return 'OK'
    },
    abandon(): void {
      dropped = true
      busyState.current = null
      run.job.kill({ ok: false, error: ERR_KILLED })
      call.drop()
    },
  }
  const tick = (): void => {
    if (dropped) return
    const outcome = run.job.pump(performance.now() + BUSY_SLICE_MS)
    if (outcome === null) {
      setImmediate(tick)
      return
    }
    busyState.current = null
    run.reply(outcome)
    call.resume()
  }
  setImmediate(tick)
}

/** SCRIPT KILL (byEval) and FUNCTION KILL. */
export function killScript(ctx: CommandContext, byEval: boolean): void {
  const busy = busyState.current
  if (busy === null) {
    ctx.reply.error(ERR_NOTBUSY)
    return
  }
  const reply = busy.kill(byEval)
  if (reply === 'OK') ctx.reply.simple('OK')
  else ctx.reply.error(reply)
}

/** FUNCTION STATS' running_script: the busy function, or null (an EVAL's is not shown). */
export function writeRunningScript(r: ReplySink): void {
  const busy = busyState.current
  if (busy === null || busy.kind !== 'function') {
    r.nullBulk()
    return
  }
  r.mapHeader(3)
  r.bulk('name')
  r.bulk(Buffer.from(busy.name, 'latin1'))
  r.bulk('command')
  r.arrayHeader(busy.command.length)
  for (const a of busy.command) r.bulk(a)
  r.bulk('duration_ms')
  r.integer(Date.now() - busy.startedMs)
}
