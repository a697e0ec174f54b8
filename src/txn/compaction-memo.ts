// When a transaction refused at a full pool is worth a synchronous compaction (Store's
// appendTransaction): a whole checkpoint on the request path stalls every client (issue 19: 50
// refused SETs took 1 s, Redis 1 ms), so it runs only when it might make room.
// Invariants, and why:
// - Right after a compaction that could not make room (the basis: the log's tail, liveBytes and
//   checkpointsCompleted then), the log holds that checkpoint and what was appended since
//   (`appended` bytes). A new checkpoint can free at most those bytes plus what they removed
//   from the live state: freed <= appended - (encoding added) + (estimate removed), and the
//   estimate removed is (live then - live now) + (estimate added); an estimate exceeds its
//   encoding by at most ENTRY_OVERHEAD + 2 = 26 bytes per entry and every entry added took an
//   event of at least 12 bytes in a record, so freed <= 4 * appended + max(0, live then - live
//   now), plus `slack` for framing and a pad at the ring's end. A shortfall above that cannot be
//   met by compacting: the refusal is what the compaction would have led to, without its cost.
// - With nothing committed since the basis, a compaction rebuilds the same checkpoint: futile
//   whatever the shortfall (the memo of 37fe16e).
// - Pad luck is not worth a checkpoint: with a shortfall within the slack, every refusal after a
//   tiny commit (an INCR between two refused SETs) ran a whole checkpoint (issue 19: one per
//   refusal under noeviction) that could only fit the write through a pad or framing difference.
//   So, when refusing (`bounded`), a compaction is also skipped when what it could free (the
//   bound above, without the slack) is below the shortfall and below max(slack, liveBytes / 64).
//   The price: such a write (one a compaction might have fitted by at most the slack) is
//   refused, at a pool full to within that much, until deletes or history free more.
// - The bound holds only while that checkpoint is the head: once any other checkpoint completed
//   (or one is running, whose extra reserve a compaction would release), compaction is tried.

export class CompactionMemo {
  private events = -1
  private tailLsn = 0
  private liveBytes = 0
  private completed = -1

  /** A compaction for a refused transaction ran, and the transaction still did not fit. */
  noteFutile(events: number, tailLsn: number, liveBytes: number, completed: number): void {
    this.events = events
    this.tailLsn = tailLsn
    this.liveBytes = liveBytes
    this.completed = completed
  }

  /**
   * True when compacting now cannot make room: nothing committed since the futile compaction,
   * or (`bounded`: the caller refuses rather than evicts) a `shortfall` of log bytes larger
   * than a compaction could free (see the invariants).
   */
  futile(events: number, tailLsn: number, liveBytes: number, completed: number,
    shortfall: number, slack: number, bounded: boolean): boolean {
    if (this.events === events) return true
    if (!bounded || this.completed !== completed) return false
    const appended = tailLsn - this.tailLsn
    const freeable = 4 * appended + Math.max(0, this.liveBytes - liveBytes)
    if (shortfall > freeable + slack) return true
    return shortfall > freeable && freeable < Math.max(slack, liveBytes / 64)
  }
}
