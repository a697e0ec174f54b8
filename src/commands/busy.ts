// The script running past busy-reply-threshold, if any (Redis's "busy" state): while it runs,
// dispatch answers every command without the allow_busy flag with -BUSY, the script's own client
// waits (its session is parked like a blocked client), and the server's background writers
// (active expiry) stay idle: the script's transaction is open. Set and cleared by
// commands/scripting.ts; read by dispatch and the server.

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
