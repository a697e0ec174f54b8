// Operating errors as typed values from one registry (STYLE §10). Each code has its RESP prefix
// and message; the engine throws StoreError for conditions that abort a whole transaction
// (out of space, corruption), never for logical errors, which leave state unchanged.

export type StoreErrorCode =
  | 'OUT_OF_SPACE' // the pool cannot hold the transaction: nothing applied (Redis: -OOM)
  | 'CORRUPTION' // a checksum or self-checking word did not verify: refused, never served
  | 'POOL_FORMAT' // the file is not a capykv pool of a version we read
  | 'CLOSED' // the store was closed
  | 'TXN_STATE' // begin/commit/abort out of order (a programmer error surfaced as a value)
  | 'IO_ERROR' // a flush failed: the pool stops accepting writes; nothing unflushed is acknowledged

export const STORE_ERROR_MESSAGES: Readonly<Record<StoreErrorCode, string>> = Object.freeze({
  OUT_OF_SPACE: 'command not allowed when used memory > \'maxmemory\'.',
  CORRUPTION: 'pool corruption detected',
  POOL_FORMAT: 'not a capykv pool',
  CLOSED: 'store is closed',
  TXN_STATE: 'transaction used out of order',
  IO_ERROR: 'pool I/O error',
})

export class StoreError extends Error {
  override name = 'StoreError'
  readonly code: StoreErrorCode
  /** Where the problem is, when known: byte offset in the pool and log sequence number. */
  readonly offset: number | undefined
  readonly lsn: number | undefined
  /** What went wrong, without the code's message and the place. */
  readonly detail: string | undefined
  constructor(code: StoreErrorCode, detail?: string, where?: { offset?: number | undefined; lsn?: number | undefined }) {
    const place = where === undefined ? '' :
      ` (offset ${where.offset ?? '?'}${where.lsn === undefined ? '' : `, lsn ${where.lsn}`})`
    super(`${STORE_ERROR_MESSAGES[code]}${detail === undefined ? '' : `: ${detail}`}${place}`)
    this.code = code
    this.detail = detail
    this.offset = where?.offset
    this.lsn = where?.lsn
  }
}
