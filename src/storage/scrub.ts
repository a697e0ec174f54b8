// The background scrub (issue 12, part 7): re-verify, at a bounded rate, every record of the
// committed log — the bytes the next start will read — so media damage after startup is found
// while the server still holds the verified state in memory, not at the next restart.
// Invariants and why:
// - A pass walks [head, committed tail) record by record exactly as recover() does (length,
//   ring end, PAD, lsn and pool-bound CRC: checkRecord), so "the scrub found nothing" means
//   "recovery would read these bytes as they were committed". Bytes past the committed tail are
//   never read (recovery never reads them either).
// - Steps are synchronous slices between requests (the server's cron), each at most `budget`
//   bytes. Between steps the log moves: the cursor is only ever at a record boundary the walk
//   verified, the head may pass it (then the walk resumes at the head: what lies before it is
//   free space), and a pass ends at the committed tail it saw when it started.
// - A record that fails its check cannot be stepped over (its length is not trusted): the pass
//   ends there and the damage is reported once per record (by lsn). The caller heals it (a
//   checkpoint of the in-memory state, verified at startup, moves the head past the record);
//   the damage counts as healed once the head is past it.
// - Reading only: the scrub never writes the pool.

import { LOG_OFFSET } from './layout.js'
import {
  checkRecord, claimedKind, claimedPayloadBytes, MIN_RECORD_BYTES, normalizeLsn, REC_PAD, RECORD_HEADER_BYTES,
  RECORD_KIND_NAMES, recordBytes,
} from './record-codec.js'

/** What the scrub reads through (a PmRegion, or any reader of the pool's bytes). */
export interface ScrubReader {
  read(offset: number, length: number): Buffer
}

export interface ScrubDamage {
  lsn: number
  /** File offset of the record. */
  offset: number
  reason: string
  /** The claimed kind (from the damaged bytes: a hint, not a fact). */
  kind: string
  foundAtMs: number
  /** Set once the head has moved past the record (a checkpoint rewrote the state). */
  healedAtMs: number | null
}

export interface ScrubStats {
  passes: number
  /** When the last pass over the whole committed log finished (ms), 0 = never. */
  lastCompletedMs: number
  /** Bytes of records verified since start. */
  bytesVerified: number
  /** Records found damaged since start (each counted once). */
  corruptionFound: number
  damage: ScrubDamage[]
}

export interface LogBounds {
  headLsn: number
  committedLsn: number
}

export class Scrubber {
  private cursor = -1
  private passEnd = -1
  readonly stats: ScrubStats = {
    passes: 0, lastCompletedMs: 0, bytesVerified: 0, corruptionFound: 0, damage: [],
  }

  constructor(
    private readonly region: ScrubReader,
    private readonly ringBytes: number,
    private readonly seed: bigint,
  ) {}

  /** Damage not yet healed (the head has not moved past it). */
  unhealed(): ScrubDamage[] {
    return this.stats.damage.filter((d) => d.healedAtMs === null)
  }

  /** Damage the head has moved past is healed: recovery no longer reads it. */
  noteHead(headLsn: number, nowMs: number): void {
    for (const d of this.stats.damage) {
      if (d.healedAtMs === null && headLsn > d.lsn) d.healedAtMs = nowMs
    }
  }

  /**
   * Verify records until `budget` bytes are spent (at least one record when budget > 0) or
   * `maxMs` of wall time has passed (checked every 64 records: a step is a pause between
   * requests); returns the damage new to this step (also kept in stats) and the bytes verified.
   */
  step(
    bounds: LogBounds, budget: number, nowMs: number, maxMs = Infinity,
  ): { found: ScrubDamage[]; bytes: number } {
    this.noteHead(bounds.headLsn, nowMs)
    const found: ScrubDamage[] = []
    const started = performance.now()
    let spent = 0
    let records = 0
    while (spent < budget) {
      if (++records % 64 === 0 && performance.now() - started > maxMs) break
      if (this.cursor < 0) {
        // A new pass: from the head to the committed tail as they are now.
        this.cursor = bounds.headLsn
        this.passEnd = bounds.committedLsn
        if (this.cursor >= this.passEnd) {
          this.cursor = -1
          break
        }
      }
      if (this.cursor < bounds.headLsn) {
        // A checkpoint moved the head past the cursor: what lies before it is free space now.
        this.cursor = bounds.headLsn
        if (this.cursor >= this.passEnd) {
          this.completePass(nowMs)
          break
        }
      }
      const r = this.verifyOne(this.cursor, nowMs)
      if (r.kind === 'damage') {
        if (!this.stats.damage.some((d) => d.lsn === r.damage.lsn)) {
          this.stats.damage.push(r.damage)
          this.stats.corruptionFound++
          found.push(r.damage)
        }
        // The pass cannot go on past a record whose length is not trusted.
        this.cursor = -1
        break
      }
      spent += r.bytes
      this.stats.bytesVerified += r.bytes
      this.cursor = r.next
      if (this.cursor >= this.passEnd) {
        this.completePass(nowMs)
        break
      }
    }
    return { found, bytes: spent }
  }

  private completePass(nowMs: number): void {
    this.stats.passes++
    this.stats.lastCompletedMs = nowMs
    this.cursor = -1
  }

  private verifyOne(
    lsn: number, nowMs: number,
  ): { kind: 'ok'; bytes: number; next: number } | { kind: 'damage'; damage: ScrubDamage } {
    const ring = this.ringBytes
    const phys = lsn % ring
    const space = ring - phys
    const offset = LOG_OFFSET + phys
    const damage = (reason: string, kind: string): { kind: 'damage'; damage: ScrubDamage } =>
      ({ kind: 'damage', damage: { lsn, offset, reason, kind, foundAtMs: nowMs, healedAtMs: null } })
    if (space < MIN_RECORD_BYTES) return damage('record position too close to the ring end', '?')
    const head = this.region.read(offset, RECORD_HEADER_BYTES)
    const kindClaim = RECORD_KIND_NAMES[claimedKind(head)] ?? `kind ${claimedKind(head)}`
    const total = recordBytes(claimedPayloadBytes(head))
    if (total > space || lsn + total > this.passEnd) {
      return damage(`length ${claimedPayloadBytes(head)} runs past the ${total > space ? 'ring end'
        : 'committed tail'}`, kindClaim)
    }
    const check = checkRecord(this.region.read(offset, total), lsn, this.seed, space)
    if (!check.ok) return damage(check.reason, kindClaim)
    const next = check.kind === REC_PAD ? lsn + space : normalizeLsn(lsn + total, ring)
    return { kind: 'ok', bytes: total, next }
  }
}
