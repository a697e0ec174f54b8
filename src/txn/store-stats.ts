// What Store.stats() reports (engine.ts): INFO persistence and the server's log read it.
// Invariants: plain data, computed on demand from the store, the log and the recovered log.

export interface StoreStats {
  backend: string
  isPmem: boolean
  poolBytes: number
  ringBytes: number
  logUsedBytes: number
  liveBytesEstimate: number
  recordsAppended: number
  bytesAppended: number
  groupCommits: number
  transactionsCommitted: number
  /** Events committed since the BEGIN of the newest completed checkpoint (INFO's dirty count). */
  eventsSinceCheckpoint: number
  checkpointsCompleted: number
  checkpointsAbandoned: number
  checkpointRunning: boolean
  lastCheckpointAtMs: number
  longestCheckpointSliceMs: number
  recoveryMs: number
  recoveredRecords: number
  /** Deferred events not yet indexed (0 once the keyspace is fully built after open). */
  indexPendingEvents: number
  /** ms from the start of open until the keyspace was fully built (recoveryMs when nothing was deferred). */
  indexedMs: number
  recoveredKeys: number
  outOfSpaceRefusals: number
  failed: string | null
  /** Format version (after an upgrade at open); damaged metadata copies found at open. */
  formatVersion: number
  upgradedFromVersion: number | null
  metadataDamage: string[]
  rootCopiesRewritten: number
  /** The previous checkpoint is kept for the fallback; the ring bytes it holds. */
  checkpointFallback: boolean
  checkpointFallbackBytes: number
  /** Times an append needed the fallback's space (it was dropped, nothing refused). */
  checkpointFallbackDrops: number
  /** This open rebuilt the state from the previous checkpoint: the damage it went around. */
  recoveredFromFallback: string | null
}
