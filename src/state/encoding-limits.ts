// The thresholds Redis's encodings convert at (hash-max-listpack-entries/value,
// set-max-intset-entries, zset-max-listpack-entries/value), read by OBJECT ENCODING's bookkeeping
// (commands/encoding.ts, ZSet.noteSize). They start at Redis 7.0.15's defaults; the server sets
// them from its configuration at startup and on CONFIG SET (commands/encoding.ts
// applyEncodingConfig), so they are per process: one capykv server per process, as main.ts runs.
// They shape only what OBJECT ENCODING (and the reply orders that follow the encoding) report,
// never the stored data; the stream node limits shape where XADD starts a node, a choice XADD
// logs (state/stream-events.ts), so replay never reads them.

export const encodingLimits = {
  hashMaxListpackEntries: 512,
  hashMaxListpackValue: 64,
  setMaxIntsetEntries: 512,
  zsetMaxListpackEntries: 128,
  zsetMaxListpackValue: 64,
  /** Where a stream's next entry starts a new node (XADD; node boundaries shape MAXLEN ~). */
  streamNodeMaxBytes: 4096,
  streamNodeMaxEntries: 100,
}
