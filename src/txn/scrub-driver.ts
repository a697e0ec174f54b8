// Drives the background scrub (storage/scrub.ts) of an open Store at a rate in bytes per second
// (the server's `scrub-rate`), from the server's cron, and heals what it finds.
// Invariants and why:
// - Rate: each tick earns rate x elapsed bytes of credit (at most one second's worth, so a
//   stalled loop never bursts) and a step spends what it verifies; a record larger than the
//   credit is verified whole and paid back by later ticks, so the average is the rate. A tick
//   also stops after STEP_MAX_MS of wall time, so the rate is a ceiling: a log of small records
//   costs more per byte, and a scrub never holds requests back for long.
// - The scrub runs only while the store serves from memory alone: not while deferred events
//   still point into the pool (the startup index, state/keyspace.ts) and not on a failed store.
//   Every value served then is the in-memory copy recovery verified at startup, so damage the
//   scrub finds is in the durable copy only: no reply can carry it.
// - Healing: damage in the committed log would stop the next start. A checkpoint writes the
//   in-memory state anew after the damaged record and moves the head past it, so the damaged
//   bytes leave what recovery reads. The driver asks for one whenever damage is unhealed and no
//   checkpoint runs; a checkpoint that started before the damage does not heal it (its head is
//   not past it), and the next one does. A pool too full for a checkpoint leaves it unhealed
//   (INFO scrub_damage_unhealed; the driver keeps asking).

import type { ScrubDamage } from '../storage/scrub.js'
import { Scrubber } from '../storage/scrub.js'
import type { Store } from './engine.js'

/**
 * Wall time one tick may spend verifying (small records cost more per byte: about 0.5 us of
 * JavaScript each); a tick cut short keeps its credit, capped at one second's worth.
 */
export const STEP_MAX_MS = 3

export class ScrubDriver {
  readonly scrubber: Scrubber
  private lastTickMs: number
  private credit = 0
  private healing = false
  /** Checkpoints asked for to heal damage. */
  healCheckpoints = 0

  constructor(private readonly store: Store, nowMs: number) {
    this.scrubber = new Scrubber(store.region, store.log.ringBytes, store.log.seed)
    this.lastTickMs = nowMs
  }

  /**
   * One cron tick at `ratePerSecond` (0: off). Returns damage found by this tick and damage
   * this tick saw healed, for the caller to log.
   */
  tick(ratePerSecond: number, nowMs: number): { found: ScrubDamage[]; healed: ScrubDamage[] } {
    const elapsed = Math.max(0, Math.min(1000, nowMs - this.lastTickMs))
    this.lastTickMs = nowMs
    const none = { found: [], healed: [] }
    const store = this.store
    if (ratePerSecond <= 0 || store.failed !== null || store.keyspace.pendingEvents > 0) {
      this.credit = 0
      return none
    }
    this.credit = Math.min(ratePerSecond, this.credit + ratePerSecond * elapsed / 1000)
    const unhealedBefore = this.scrubber.unhealed()
    this.scrubber.noteHead(store.log.headLsn, nowMs)
    let found: ScrubDamage[] = []
    if (this.credit > 0) {
      const r = this.scrubber.step(
        { headLsn: store.log.headLsn, committedLsn: store.log.committedLsn }, this.credit, nowMs,
        STEP_MAX_MS)
      this.credit -= r.bytes
      found = r.found
    }
    const healed = unhealedBefore.filter((d) => d.healedAtMs !== null)
    if (this.scrubber.unhealed().length > 0) this.heal()
    return { found, healed }
  }

  private heal(): void {
    if (this.healing || this.store.checkpointer.active !== null) return
    this.healing = true
    this.healCheckpoints++
    void this.store.checkpoint().finally(() => { this.healing = false })
  }
}
