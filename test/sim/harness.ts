// Drives the real engine (Store, manual group commit, no automatic checkpoints) over a SimRegion
// beside a sequential model, and checks the engine against it. Invariants the harness asserts:
// - the model is a second Keyspace fed a codec copy of every transaction the store accepted,
//   with no storage: its canonical form is the tentative state T the sim may commit;
// - a refused transaction (OUT_OF_SPACE) leaves the store's keyspace equal to the model;
// - after each group commit the sim's durable state D equals the model (every commit landed);
// - opening a store is recovery only: it writes and flushes nothing, and recovering the same
//   image twice yields the same state;
// - in PoWER mode every write the engine issues was checked by the sim (sim-region.ts); the
//   first violation is rethrown here even when the engine swallowed it (Store.flush turns
//   errors into IO_ERROR);
// - at an acknowledged point (after a group commit, in PoWER mode; every ROOT_FAULT_EVERY-th
//   one over the process), a crash keeping only the durable bytes plus one flipped bit in
//   copy 0 of the tail word, or of the head word, recovers the acknowledged state from copy 1,
//   with the store's head and tail (DESIGN rule 5 on the redundant root words: copy 1 must be
//   durable before any reply; a missing flush of copy 1 is invisible to PoWER, which recovers
//   from copy 0, and to kill -9).

import { assert } from '../../src/assert.js'
import { StoreError } from '../../src/errors.js'
import { recover } from '../../src/recovery/recover.js'
import { canonical, canonicalDiff } from '../../src/state/canonical.js'
import {
  applyEvents, decodeEvents, encodeEvents, eventsShrinkOnly, type Event,
} from '../../src/state/event.js'
import { ByteWriter } from '../../src/state/bytes.js'
import type { Keyspace } from '../../src/state/keyspace.js'
import { HEAD_WORD_OFFSETS, TAIL_WORD_OFFSETS } from '../../src/storage/layout.js'
import type { LogTestHooks } from '../../src/storage/log.js'
import { formatRegion } from '../../src/storage/setup.js'
import { Store } from '../../src/txn/engine.js'
import type { Prng } from './prng.js'
import { PlainModel, snapshot } from './plain-model.js'
import { DEFAULT_POLICY, SimRegion, type CrashPolicy, type Verifier } from './sim-region.js'

export interface HarnessOptions {
  poolBytes: number
  poolId: Buffer
  rng: Prng
  /** null: no PoWER checks (the engine runs over the sim, unchecked). */
  verifier: Verifier | null
  policy?: CrashPolicy
  hooks?: LogTestHooks
  context?: () => string
}

/** Check the root-word copy faults at every this-many-th acknowledged point of the process. */
export const ROOT_FAULT_EVERY = 16

export class HarnessError extends Error {
  override name = 'HarnessError'
}

/** A deep copy of events through the durable codec (the model never shares values). */
export function copyEvents(events: readonly Event[]): Event[] {
  const w = new ByteWriter(256)
  encodeEvents(w, events)
  const bytes = Buffer.from(w.view())
  return decodeEvents(bytes, 0, bytes.length)
}

export class Harness {
  readonly sim: SimRegion
  readonly store: Store
  readonly model: Keyspace
  /**
   * The independent model (plain-model.ts): every accepted transaction's events applied from the
   * log format's documented meaning, not through the engine's apply; compared with `model` at
   * every group commit while it knows every event seen (`plain.unmodelled`).
   */
  readonly plain: PlainModel
  /** Over all harnesses of the process: group commits compared with the independent model,
   * and those not compared because an event was not modelled. */
  static readonly plainTotals = { compared: 0, notModelled: 0 }
  /** Over all harnesses of the process: acknowledged points seen, and root-copy faults checked. */
  static readonly rootFaultTotals = { points: 0, faults: 0 }
  accepted = 0
  refused = 0
  /** Refused transactions that only delete (must stay 0: a full pool is never bricked). */
  refusedShrinking = 0
  /** Opens that moved the head to a checkpoint the crash left unadopted. */
  headMovesAtOpen = 0

  /** A freshly formatted pool (formatting is not checked: pools are made under a temp name). */
  static fresh(options: HarnessOptions): Harness {
    const sim = new SimRegion(options.poolBytes, options.policy ?? DEFAULT_POLICY, options.rng)
    formatRegion(sim, options.poolId, 0)
    assert(sim.outstandingChunks === 0, 'formatRegion left writes unflushed')
    return new Harness(sim, options)
  }

  /** Reopen from a crash image: the durable bytes are the image, nothing outstanding. */
  static fromImage(image: Buffer, options: HarnessOptions): Harness {
    return new Harness(new SimRegion(image, options.policy ?? DEFAULT_POLICY, options.rng), options)
  }

  private constructor(sim: SimRegion, readonly options: HarnessOptions) {
    this.sim = sim
    sim.context = options.context ?? (() => '')
    const first = recover(sim)
    if (first.kind !== 'ok') {
      throw new HarnessError(`recovery failed: ${first.kind === 'corrupt' ?
        `${first.what}: ${first.reason} at ${first.offset}` : first.reason} [${sim.context()}]`)
    }
    // The second time with the deferred index (state/keyspace.ts): it must build the same state.
    const second = recover(sim, { deferIndex: true })
    assert(second.kind === 'ok', 'second recovery of the same image failed')
    this.model = first.keyspace
    this.plain = PlainModel.of(this.model)
    const state = canonical(this.model)
    if (canonical(second.keyspace) !== state || second.log.tailLsn !== first.log.tailLsn ||
        second.log.headLsn !== first.log.headLsn) {
      throw new HarnessError(`recovering the same image twice differs [${sim.context()}]`)
    }
    if (options.verifier !== null) sim.enablePower(options.verifier, state)
    const writes = sim.stats.writes
    const flushes = sim.stats.flushes
    sim.phase = 'open'
    this.store = Store.openRegionSync(sim, {
      groupCommit: 'manual', autoCheckpoint: false, hooks: options.hooks,
    })
    sim.phase = 'txn'
    // Recovery wrote nothing (recover() ran twice above on the same bytes; so does open). The
    // store may then rewrite the root word copies recovery found damaged or lagging (one store
    // and one flush each) and move the head to a checkpoint completed just before the crash
    // (a store and a flush per head word copy), blanket writes checked by PoWER like any other.
    const moved = first.log.newestCheckpointLsn !== first.log.headLsn
    const rewritten = this.store.rootCopiesRewritten
    const rootDamage = first.log.metaDamage.filter((d) => / word copy /.test(d.what)).length
    // After a fallback (or skipped damage) the open writes a fresh checkpoint: PoWER checks it.
    const fresh = first.log.fallback !== null || first.log.skipped.length > 0
    // A head move stores and flushes both prev word copies, then both head word copies.
    if (!fresh && (rewritten > rootDamage ||
        sim.stats.writes - writes !== (moved ? 4 : 0) + rewritten ||
        sim.stats.flushes - flushes !== (moved ? 4 : 0) + rewritten)) {
      throw new HarnessError(`opening the store wrote more than a head move and root copies ` +
        `[${sim.context()}]`)
    }
    if (moved) this.headMovesAtOpen++
    this.expectEqual(canonical(this.store.keyspace), state, 'store opened on')
  }

  get state(): string {
    return canonical(this.model)
  }

  /** Run one transaction: true when accepted, false when refused for space (nothing applied). */
  txn(events: readonly Event[]): boolean {
    const txn = this.store.begin()
    for (const e of events) txn.apply(e)
    try {
      txn.commitNoWait()
    } catch (e) {
      this.raise()
      if (!(e instanceof StoreError) || e.code !== 'OUT_OF_SPACE') throw e
      this.refused++
      if (eventsShrinkOnly(events)) this.refusedShrinking++
      this.expectEqual(canonical(this.store.keyspace), this.state, 'refused transaction left')
      return false
    }
    this.raise()
    this.record(events)
    if (this.sim.powerEnabled) this.sim.expect(this.state)
    return true
  }

  /** An accepted transaction's events into both models. */
  record(events: readonly Event[]): void {
    const copy = copyEvents(events)
    for (const e of copy) this.plain.event(e)
    applyEvents(this.model, copy)
    this.accepted++
  }

  /** The group commit. */
  flush(): void {
    this.store.flush()
    this.raise()
    this.afterCommit()
    this.checkPlain()
  }

  /** The event model against the independent model (no expiry applied: events are raw). */
  private checkPlain(): void {
    if (this.plain.unmodelled !== null) {
      Harness.plainTotals.notModelled++
      return
    }
    const expected = this.plain.snapshot(-Infinity)
    const actual = snapshot(this.model, -Infinity)
    if (actual !== expected) {
      throw new HarnessError(`the model differs from the independent model: ` +
        `${canonicalDiff(expected, actual)} [${this.sim.context()}]`)
    }
    Harness.plainTotals.compared++
  }

  checkpointSlice(maxBytes: number): boolean {
    const finished = this.checkpointing(() => this.store.checkpointSlice(maxBytes))
    this.raise()
    this.afterCommit()
    return finished
  }

  checkpointNow(): boolean {
    const ok = this.checkpointing(() => this.store.checkpointNow())
    this.raise()
    this.afterCommit()
    return ok
  }

  /**
   * A checkpoint step in the sim's 'checkpoint' phase. An engine assertion it trips after a
   * PoWER violation the engine swallowed (Store.flush turns errors into IO_ERROR, so a failed
   * commit leaves END uncommitted) is reported as that violation, its cause.
   */
  private checkpointing(step: () => boolean): boolean {
    this.sim.phase = 'checkpoint'
    try {
      return step()
    } catch (e) {
      this.raise()
      throw e
    } finally {
      this.sim.phase = 'txn'
    }
  }

  /** A random crash image now (between operations: only the durable state may come back). */
  crashImage(rng: Prng): Buffer {
    return this.sim.randomImage(rng)
  }

  /** Throw the sim's first PoWER violation, or the store's failure. */
  raise(): void {
    if (this.sim.violation !== null) throw this.sim.violation
    if (this.store.failed !== null) throw this.store.failed
  }

  private afterCommit(): void {
    if (!this.sim.powerEnabled || this.store.hasUncommitted) return
    this.expectEqual(this.sim.durableState, this.state, 'after the group commit, durable state')
    if (Harness.rootFaultTotals.points++ % ROOT_FAULT_EVERY === 0) this.checkRootCopyFaults()
  }

  /**
   * A crash now (only the durable bytes kept) and one flipped bit in copy 0 of the tail word,
   * then of the head word: recovery uses copy 1 and must give the acknowledged state, head and
   * tail. The flipped bit walks through the word's 64 bits from one check to the next.
   */
  private checkRootCopyFaults(): void {
    const log = this.store.log
    for (const [name, offset] of [['tail', TAIL_WORD_OFFSETS[0]], ['head', HEAD_WORD_OFFSETS[0]]]) {
      const bytes = Buffer.from(this.sim.durable)
      const bit = Harness.rootFaultTotals.faults++ % 64
      const at = (offset as number) + (bit >> 3)
      bytes[at] = (bytes[at] as number) ^ (1 << (bit & 7))
      const r = recover({ sizeBytes: bytes.length, read: (o, l) => bytes.subarray(o, o + l) })
      const what = `a crash after the group commit with bit ${bit} of ${name as string} word ` +
        'copy 0 flipped'
      if (r.kind !== 'ok') {
        throw new HarnessError(`${what}: ${r.kind === 'corrupt' ? `${r.what}: ${r.reason}` :
          r.reason} [${this.sim.context()}]`)
      }
      if (r.log.headLsn !== log.headLsn || r.log.tailLsn !== log.committedLsn) {
        throw new HarnessError(`${what}: recovered log [${r.log.headLsn}, ${r.log.tailLsn}), ` +
          `the store's [${log.headLsn}, ${log.committedLsn}) [${this.sim.context()}]`)
      }
      this.expectEqual(canonical(r.keyspace), this.state, what)
    }
  }

  expectEqual(actual: string, expected: string, what: string): void {
    if (actual === expected) return
    throw new HarnessError(`${what} differs from the model: ${canonicalDiff(expected, actual)} ` +
      `[${this.sim.context()}]`)
  }
}
