// CLIENT PAUSE timeout [WRITE|ALL] and CLIENT UNPAUSE (Redis 7.0.15 networking.c): while a
// pause lasts, dispatch postpones (Redis's BLOCKED_POSTPONE) every command of ALL, or for WRITE
// every command that may write or propagate (write or may_replicate flags, an EXEC of such
// commands, a script whose declared flags do not say no-writes), and runs them in arrival order
// when the pause ends (CLIENT UNPAUSE or its timeout). A postponed client counts in INFO
// blocked_clients. While paused, expired keys are neither deleted by lookups nor by the active
// cycle (they only read as missing), as Redis keeps the dataset static during a pause.
// Invariants: one pause state per server (keyed by the services object); a new pause keeps the
// stronger mode and the later end of the current one (pauseClients).

import type { CommandContext, Handler } from './spec.js'
import { parseInt64 } from './numeric.js'

export type PauseMode = 'off' | 'write' | 'all'

export class PauseState {
  mode: PauseMode = 'off'
  endMs = 0
  private timer: NodeJS.Timeout | null = null
  /** Called when the pause ends (dispatch runs the postponed commands). */
  onEnd: (() => void) | null = null

  /** The mode in force at `now` (a pause past its end is ended here). */
  current(now: number): PauseMode {
    if (this.mode !== 'off' && now >= this.endMs) this.end()
    return this.mode
  }

  pause(mode: 'write' | 'all', endMs: number, now: number): void {
    if (this.mode === 'off') {
      this.mode = mode
      this.endMs = endMs
    } else {
      if (mode === 'all') this.mode = 'all'
      this.endMs = Math.max(this.endMs, endMs)
    }
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (this.endMs <= now) {
      this.end()
      return
    }
    // Bounded by setTimeout's range; a longer pause re-arms when it fires.
    this.timer = setTimeout(() => this.current(Date.now()) === 'off' || this.rearm(),
      Math.min(this.endMs - now, 2 ** 31 - 1))
    this.timer.unref()
  }

  private rearm(): void {
    const now = Date.now()
    this.pause(this.mode === 'all' ? 'all' : 'write', this.endMs, now)
  }

  end(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (this.mode === 'off') return
    this.mode = 'off'
    this.endMs = 0
    this.onEnd?.()
  }
}

const STATES = new WeakMap<object, PauseState>()
const NO_SERVER = {}

export function pauseOf(server: unknown): PauseState {
  const key = (server ?? NO_SERVER) as object
  let s = STATES.get(key)
  if (s === undefined) {
    s = new PauseState()
    STATES.set(key, s)
  }
  return s
}

/** expireIfNeeded's pause check: expired keys stay while clients are paused. */
export function expiryPaused(server: unknown, now: number): boolean {
  if (server === undefined) return false
  const s = STATES.get(server as object)
  return s !== undefined && s.current(now) !== 'off'
}

/** CLIENT PAUSE timeout [WRITE|ALL] */
export const clientPause: Handler = (ctx: CommandContext, argv) => {
  let mode: 'write' | 'all' = 'all'
  if (argv.length === 4) {
    const m = (argv[3] as Buffer).toString('latin1').toLowerCase()
    if (m === 'write') mode = 'write'
    else if (m !== 'all') {
      ctx.reply.error('ERR CLIENT PAUSE mode must be WRITE or ALL')
      return
    }
  } else if (argv.length !== 3) {
    ctx.reply.error("ERR unknown subcommand or wrong number of arguments for 'pause'. " +
      'Try CLIENT HELP.')
    return
  }
  const v = parseInt64(argv[2] as Buffer)
  if (v === null) {
    ctx.reply.error('ERR timeout is not an integer or out of range')
    return
  }
  if (v < 0) {
    ctx.reply.error('ERR timeout is negative')
    return
  }
  const now = Date.now()
  if (typeof v === 'bigint' || v > Number.MAX_SAFE_INTEGER - now) {
    ctx.reply.error('ERR timeout is out of range')
    return
  }
  pauseOf(ctx.server).pause(mode, v > 0 ? v + now : 0, now)
  ctx.reply.simple('OK')
}

/** CLIENT UNPAUSE */
export const clientUnpause: Handler = (ctx) => {
  pauseOf(ctx.server).end()
  ctx.reply.simple('OK')
}

/**
 * Redis's getCommandFlags for a script call (EVAL*, FCALL*): true or false when the script or
 * function declares its flags (no-writes or not), undefined to use the command's own flags.
 * Set by the scripting module when it loads (it imports this file; dispatch cannot import it).
 */
export const scriptFlagsHook: {
  mayWrite: ((server: unknown, ctxKeyspace: unknown, name: string, argv: Buffer[]) =>
    boolean | undefined) | null
} = { mayWrite: null }
