// capykv-check: verify a pool read-only and, on request, repair it: in place when nothing is lost
// (a redundant metadata copy, a grown file), else salvage the longest undamaged committed history
// into a NEW pool (DESIGN rule 5; like redis-check-aof --fix, but never in place).
// Invariants and why:
// - The pool is read through plain read(2) calls on a file opened O_RDONLY (FileRegionReader):
//   checking can never modify it, works on read-only files and on pools of any size (> 4 GiB).
// - Every fact comes from recover() (the one pure function startup uses) plus the record codec:
//   the report states what startup would see, never a second interpretation of the format.
// - In-place repair only when the state is whole and nothing can be lost: a file that grew is
//   truncated to its pool length; damaged or lagging redundant metadata copies (layout.ts) are
//   rewritten from the copies recovery used (repairInPlace, metadataPatches).
// - Salvage = recover(pool, {prefix: true}) → a freshly created pool of the same size (blocks
//   allocated, formatted like any new pool), written under a temporary name as ONE checkpoint of
//   that keyspace (the engine's own Checkpointer and Log), closed, checked and recovered again
//   and compared (canonical form) before it is linked to its final name. link(2) refuses to replace
//   an existing file, so the output is never overwritten, even by a racing writer.
// - "Commits lost" counts the TXN records that verify between the damage and the committed tail
//   (a forward scan at every 8-byte position; a record counts only when its CRC, its lsn and its
//   length all check). It is exact only when the verified records tile the whole range after the
//   damaged record and the damaged record itself reads as a transaction; otherwise a lower bound.
// - Exit codes (documented in --help and docs/capykv-check.md): 0 clean, 1 damage found or repair
//   declined / impossible, 2 usage or I/O error, 3 not a pool, 4 repaired (new pool written).

import { randomBytes } from 'node:crypto'
import {
  closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, linkSync, openSync, readSync, rmSync,
  writeSync,
} from 'node:fs'
import { nowMs } from '../clock.js'
import { canonical } from '../state/canonical.js'
import { DB_COUNT, type Keyspace } from '../state/keyspace.js'
import { Checkpointer } from '../storage/checkpoint.js'
import { encodeWord, HEAD_TAGS, PREV_TAGS, TAIL_TAGS } from '../storage/cdb.js'
import {
  encodeHeader, FORMAT_VERSION, HEAD_WORD_OFFSETS, HEADER_OFFSETS, LOG_OFFSET, poolSeed,
  PREV_WORD_OFFSETS, TAIL_WORD_OFFSETS, type PoolHeader,
} from '../storage/layout.js'
import { Log } from '../storage/log.js'
import { createNativeRegion, openNativeRegion } from '../storage/pm-region.js'
import {
  checkRecord, claimedKind, claimedPayloadBytes, decodeCheckpointEnd, MIN_RECORD_BYTES, normalizeLsn,
  REC_CKPT_END, REC_PAD, REC_TXN, RECORD_HEADER_BYTES, RECORD_KIND_NAMES, recordBytes,
} from '../storage/record-codec.js'
import { formatRegion, syncMetadata } from '../storage/setup.js'
import {
  recover, type RecoveredLog, type RecoveryResult, type RegionReader,
} from './recover.js'

export const EXIT_CLEAN = 0
export const EXIT_DAMAGED = 1
export const EXIT_USAGE = 2
export const EXIT_NOT_A_POOL = 3
export const EXIT_REPAIRED = 4

/** A RegionReader over a file opened read-only; reads go through a window of WINDOW_BYTES. */
export class FileRegionReader implements RegionReader {
  static readonly WINDOW_BYTES = 4 * 1024 * 1024
  readonly sizeBytes: number
  private fd: number
  private window: Buffer = Buffer.alloc(0)
  private windowStart = 0
  bytesRead = 0

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r')
    try {
      const st = fstatSync(this.fd)
      if (!st.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' })
      this.sizeBytes = st.size
    } catch (e) {
      closeSync(this.fd)
      throw e
    }
  }

  private readInto(buf: Buffer, offset: number): void {
    let done = 0
    while (done < buf.length) {
      const n = readSync(this.fd, buf, done, buf.length - done, offset + done)
      if (n === 0) throw new RangeError(`unexpected end of ${this.path} at ${offset + done}`)
      done += n
    }
    this.bytesRead += buf.length
  }

  /** Bytes [offset, offset+length): a view of the window (valid until the next read) or a copy. */
  read(offset: number, length: number): Buffer {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.sizeBytes)) {
      throw new RangeError(`range [${offset}, +${length}) outside file of ${this.sizeBytes}`)
    }
    const inWindow = offset - this.windowStart
    if (inWindow >= 0 && inWindow + length <= this.window.length) {
      return this.window.subarray(inWindow, inWindow + length)
    }
    if (length > FileRegionReader.WINDOW_BYTES / 2) {
      const out = Buffer.allocUnsafe(length)
      this.readInto(out, offset)
      return out
    }
    // A fresh buffer per window: a view handed out earlier keeps its bytes.
    const start = offset - (offset % 4096)
    const size = Math.min(FileRegionReader.WINDOW_BYTES, this.sizeBytes - start)
    this.window = Buffer.allocUnsafe(size)
    this.windowStart = start
    this.readInto(this.window, start)
    return this.window.subarray(offset - start, offset - start + length)
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd)
    this.fd = -1
  }
}

export interface Damage {
  what: string
  /** Byte offset in the pool file. */
  offset: number
  lsn: number | null
  reason: string
}

export interface HeadCheckpoint {
  beginLsn: number
  offset: number
  /** True for the empty checkpoint written when the pool was created. */
  creation: boolean
  endLsn: number | null
  /** Keys the checkpoint's END record says it holds (null when unknown). */
  keys: number | null
}

export interface LostCommits {
  /** Transactions lost by salvaging the prefix: exact when `exact`, else a lower bound. */
  commits: number
  exact: boolean
  /** Records that verified between the damage and the committed tail. */
  verifiedRecordsAfter: number
  /** Bytes in that range that belong to no verified record (the damaged record included). */
  unverifiedBytes: number
  /** What the damaged record's own (unverified) header claims, when it is readable. */
  damagedKindClaim: string | null
}

export interface PrefixFacts {
  /** The prefix ends just before this lsn (the damaged record). */
  endLsn: number
  records: number
  txns: number
  keys: number
  keysPerDb: Record<string, number>
}

export interface CheckReport {
  pool: string
  status: 'clean' | 'damaged' | 'not-a-pool'
  fileBytes: number
  /** The pool's format version (1: the next start upgrades it in place to 2). */
  formatVersion: number | null
  /** Facts that are not damage: a root word copy lagging after a crash, an old format. */
  notes: string[]
  /**
   * What --repair does in place, nothing lost: 'truncate' a file that grew back to the pool's
   * length; 'copies' rewrite damaged redundant metadata copies from the intact ones; 'fallback'
   * write a fresh checkpoint of the state rebuilt from the previous checkpoint (a record of the
   * head's checkpoint is damaged, docs/checkpoint-fallback.md), as the next start would. Null when
   * the state is damaged (salvage into a new pool) or clean.
   */
  inPlace: 'truncate' | 'copies' | 'fallback' | null
  /** Set when the status is not-a-pool. */
  notPoolReason?: string
  poolId: string | null
  poolBytes: number | null
  ringBytes: number | null
  createdAt: string | null
  /** Committed records verified (up to the damage when damaged). */
  records: number
  txns: number
  checkpointChunks: number
  checkpointEnds: number
  /** Committed log range [head, tail) as lsns; null when the root words are unreadable. */
  lsn: { head: number; tail: number } | null
  headCheckpoint: HeadCheckpoint | null
  /** Live keys per database (only databases with keys), and their total; null when damaged. */
  keysPerDb: Record<string, number> | null
  keys: number | null
  damage: Damage[]
  /** The longest consistent committed prefix (damaged pools; null when none exists). */
  prefix?: PrefixFacts | null
  /** Why no consistent state can be rebuilt (damaged pools without a prefix). */
  unrepairableReason?: string
  lost?: LostCommits
}

function keysPerDb(ks: Keyspace): { perDb: Record<string, number>; total: number } {
  const perDb: Record<string, number> = {}
  let total = 0
  for (let db = 0; db < DB_COUNT; db++) {
    const n = ks.db(db).size
    if (n > 0) perDb[String(db)] = n
    total += n
  }
  return { perDb, total }
}

/** The verified record at `lsn`, or null (reads only within [lsn, limit)). */
function verifiedRecordAt(
  region: RegionReader, ring: number, seed: bigint, lsn: number, limit: number,
): { kind: number; totalBytes: number; payloadOffset: number; bytes: Buffer } | null {
  const phys = lsn % ring
  const space = ring - phys
  if (space < MIN_RECORD_BYTES || lsn + MIN_RECORD_BYTES > limit) return null
  const offset = LOG_OFFSET + phys
  const total = recordBytes(claimedPayloadBytes(region.read(offset, RECORD_HEADER_BYTES)))
  if (total > space || lsn + total > limit) return null
  const bytes = region.read(offset, total)
  const check = checkRecord(bytes, lsn, seed, space)
  if (!check.ok) return null
  return { kind: check.kind, totalBytes: check.totalBytes, payloadOffset: RECORD_HEADER_BYTES, bytes }
}

function nextLsn(lsn: number, kind: number, totalBytes: number, ring: number): number {
  return kind === REC_PAD ? lsn + (ring - (lsn % ring)) : normalizeLsn(lsn + totalBytes, ring)
}

/** Facts about the checkpoint the head names (the END record is re-read and verified). */
function headCheckpointOf(region: RegionReader, log: Partial<RecoveredLog>): HeadCheckpoint | null {
  if (log.header === undefined || log.seed === undefined || log.headLsn === undefined) return null
  const ring = log.header.ringBytes
  const begin: HeadCheckpoint = {
    beginLsn: log.headLsn, offset: LOG_OFFSET + (log.headLsn % ring), creation: false,
    endLsn: null, keys: null,
  }
  const endLsn = log.headCheckpointEndLsn
  if (endLsn === -1) return { ...begin, creation: true, keys: 0 }
  if (endLsn === undefined || endLsn < 0) return begin
  const rec = verifiedRecordAt(region, ring, log.seed, endLsn, Number.MAX_SAFE_INTEGER)
  if (rec === null || rec.kind !== REC_CKPT_END) return { ...begin, endLsn }
  try {
    const { keys } = decodeCheckpointEnd(rec.bytes, RECORD_HEADER_BYTES, rec.bytes.length)
    return { ...begin, endLsn, keys }
  } catch {
    return { ...begin, endLsn }
  }
}

/**
 * Scan (damageLsn, tailLsn) for records that verify: the commits a prefix salvage loses.
 * Also returns the unverifiable ranges after the damaged record's own claimed extent.
 */
export function scanAfterDamage(
  region: RegionReader, log: Partial<RecoveredLog>, damageLsn: number,
): { lost: LostCommits; gaps: { fromLsn: number; toLsn: number }[] } {
  const header = log.header
  const seed = log.seed
  const tail = log.tailLsn
  const none: LostCommits = {
    commits: 0, exact: false, verifiedRecordsAfter: 0, unverifiedBytes: 0, damagedKindClaim: null,
  }
  if (header === undefined || seed === undefined || tail === undefined) return { lost: none, gaps: [] }
  const ring = header.ringBytes
  if (damageLsn >= tail) return { lost: { ...none, exact: true }, gaps: [] }
  // What the damaged record's header claims (unverified: a hint for exactness only).
  const phys = damageLsn % ring
  const space = ring - phys
  let claimedEnd = -1
  let damagedKindClaim: string | null = null
  let damagedIsTxn = false
  if (space >= MIN_RECORD_BYTES) {
    const head = region.read(LOG_OFFSET + phys, RECORD_HEADER_BYTES)
    const kind = claimedKind(head)
    const total = recordBytes(claimedPayloadBytes(head))
    damagedKindClaim = RECORD_KIND_NAMES[kind] ?? null
    damagedIsTxn = kind === REC_TXN
    if (total <= space && damageLsn + total <= tail) {
      claimedEnd = kind === REC_PAD ? damageLsn + space : normalizeLsn(damageLsn + total, ring)
    }
  }
  let lsn = claimedEnd > damageLsn ? claimedEnd : damageLsn + 8
  let txns = 0
  let records = 0
  let unverified = lsn - damageLsn
  let contiguous = claimedEnd > damageLsn
  const gaps: { fromLsn: number; toLsn: number }[] = []
  let gapFrom = -1
  while (lsn < tail) {
    const rec = verifiedRecordAt(region, ring, seed, lsn, tail)
    if (rec === null) {
      if (gapFrom < 0) gapFrom = lsn
      contiguous = false
      // Positions too close to the ring's end hold no record: go on at the next lap.
      const left = ring - (lsn % ring)
      const step = left < MIN_RECORD_BYTES ? left : 8
      unverified += Math.min(step, tail - lsn)
      lsn += step
      continue
    }
    if (gapFrom >= 0) {
      gaps.push({ fromLsn: gapFrom, toLsn: lsn })
      gapFrom = -1
    }
    records++
    if (rec.kind === REC_TXN) txns++
    lsn = nextLsn(lsn, rec.kind, rec.totalBytes, ring)
  }
  if (gapFrom >= 0) gaps.push({ fromLsn: gapFrom, toLsn: tail })
  const exact = contiguous && damagedIsTxn && lsn === tail
  return {
    lost: {
      commits: txns + (exact ? 1 : 0), exact, verifiedRecordsAfter: records,
      unverifiedBytes: unverified, damagedKindClaim,
    },
    gaps,
  }
}

export interface CheckResult {
  report: CheckReport
  /** The prefix keyspace (for --repair), when one exists. */
  prefixKeyspace: Keyspace | null
  /** The recovered log of a pool whose state is whole (for an in-place repair of copies). */
  log?: RecoveredLog
}

/** Verify the pool at `path` (read-only). Throws only for I/O errors (open, read). */
export function checkPool(path: string): CheckResult {
  const region = new FileRegionReader(path)
  try {
    return checkRegion(region, path)
  } finally {
    region.close()
  }
}

/**
 * A file of the wrong length: one that grew is checked over the pool's own length (the bytes
 * past it are not pool data) and --repair truncates it; a short one cannot be read.
 */
function checkWrongLength(
  region: RegionReader, path: string, base: CheckReport,
  result: RecoveryResult & { kind: 'corrupt' },
): CheckResult {
  const h = result.partial?.header as PoolHeader
  const poolBytes = h.poolBytes
  const lengthDamage: Damage = { what: result.what, offset: result.offset, lsn: null,
    reason: result.reason }
  if (region.sizeBytes > poolBytes) {
    const inner = checkRegion({ sizeBytes: poolBytes, read: (o, l) => region.read(o, l) }, path)
    const r = inner.report
    r.fileBytes = region.sizeBytes
    r.damage.unshift(lengthDamage)
    if (r.status === 'clean' || r.inPlace !== null) r.inPlace = 'truncate'
    r.status = 'damaged'
    return inner
  }
  return {
    report: {
      ...base, status: 'damaged', poolId: h.poolId.toString('hex'), poolBytes,
      ringBytes: h.ringBytes, createdAt: new Date(h.createdAtMs).toISOString(),
      damage: [lengthDamage], prefix: null, unrepairableReason: result.reason,
    },
    prefixKeyspace: null,
  }
}

/** The report's facts from what recovery walked (whole or partial): format, copies, counts. */
function reportOfLog(region: RegionReader, base: CheckReport, log: Partial<RecoveredLog>): CheckReport {
  const report: CheckReport = { ...base, notes: [], damage: [] }
  report.formatVersion = log.formatVersion ?? null
  if (log.formatVersion !== undefined && log.formatVersion !== FORMAT_VERSION) {
    report.notes.push(`format version ${log.formatVersion}: the next start of this build ` +
      `upgrades it in place to version ${FORMAT_VERSION} (redundant header and root words)`)
  }
  for (const d of log.metaDamage ?? []) {
    if (d.damaged) {
      report.damage.push({ what: d.what, offset: d.offset, lsn: null,
        reason: `${d.reason} (the other copy is intact and used)` })
    } else {
      report.notes.push(`${d.what} at offset ${d.offset} ${d.reason}; the next start rewrites it`)
    }
  }
  if (log.header !== undefined) {
    report.poolId = log.header.poolId.toString('hex')
    report.poolBytes = log.header.poolBytes
    report.ringBytes = log.header.ringBytes
    report.createdAt = new Date(log.header.createdAtMs).toISOString()
  }
  report.records = log.records ?? 0
  report.txns = log.txns ?? 0
  report.checkpointChunks = log.chunks ?? 0
  report.checkpointEnds = log.checkpointEnds ?? 0
  if (log.headLsn !== undefined && log.tailLsn !== undefined) {
    report.lsn = { head: log.headLsn, tail: log.tailLsn }
  }
  report.headCheckpoint = headCheckpointOf(region, log)
  return report
}

/** The report of a pool whose state is whole (damage, if any, only needs an in-place repair). */
function wholeState(report: CheckReport, keyspace: Keyspace, log: RecoveredLog): CheckResult {
  const k = keysPerDb(keyspace)
  report.keysPerDb = k.perDb
  report.keys = k.total
  const f = log.fallback
  const ranges = log.skipped.map(([a, b]) => `lsn ${a}..${b}`).join(', ')
  if (f !== null) {
    report.damage.push({ what: f.what, offset: f.offset, lsn: f.lsn, reason: `${f.reason} (in ` +
      'the newest checkpoint: the state is whole, rebuilt from the previous checkpoint at lsn ' +
      `${log.prevLsn} and the log after it, skipping ${ranges})` })
  }
  for (const [a, b] of f === null ? log.skipped : []) {
    report.damage.push({ what: 'log record', offset: LOG_OFFSET + (a % log.header.ringBytes),
      lsn: a, reason: `damaged, skipped to lsn ${b}: the txn sequence proves it held no ` +
        'transaction (the state is whole)' })
  }
  if (f !== null || log.skipped.length > 0) {
    report.status = 'damaged'
    report.inPlace = 'fallback'
    return { report, prefixKeyspace: null, log }
  }
  if (report.damage.length > 0) {
    report.status = 'damaged'
    report.inPlace = 'copies'
  }
  return { report, prefixKeyspace: null, log }
}

export function checkRegion(region: RegionReader, path: string): CheckResult {
  const base: CheckReport = {
    pool: path, status: 'clean', fileBytes: region.sizeBytes, formatVersion: null, notes: [],
    inPlace: null, poolId: null, poolBytes: null,
    ringBytes: null, createdAt: null, records: 0, txns: 0, checkpointChunks: 0, checkpointEnds: 0,
    lsn: null, headCheckpoint: null, keysPerDb: null, keys: null, damage: [],
  }
  const result = recover(region, { prefix: true })
  if (result.kind === 'format') {
    return { report: { ...base, status: 'not-a-pool', notPoolReason: result.reason }, prefixKeyspace: null }
  }
  if (result.kind === 'corrupt' && result.what === 'pool file length' &&
      result.partial?.header !== undefined) {
    return checkWrongLength(region, path, base, result)
  }
  const log: Partial<RecoveredLog> = result.kind === 'ok' ? result.log : (result.partial ?? {})
  const report = reportOfLog(region, base, log)
  if (result.kind === 'ok') return wholeState(report, result.keyspace, result.log)
  report.status = 'damaged'
  report.damage.push({
    what: result.what, offset: result.offset, lsn: result.lsn ?? null, reason: result.reason,
  })
  if (result.partial === undefined || result.partial.tailLsn === undefined) {
    // Damage before the log could be walked at all (header or root words).
    report.prefix = null
    report.unrepairableReason = `the ${result.what} is damaged: without it no committed state ` +
      'can be located'
    return { report, prefixKeyspace: null }
  }
  const damageLsn = result.lsn ?? log.tailLsn ?? 0
  const scan = scanAfterDamage(region, log, damageLsn)
  report.lost = scan.lost
  const ring = log.header?.ringBytes ?? 1
  for (const gap of scan.gaps) {
    report.damage.push({
      what: 'log bytes', offset: LOG_OFFSET + (gap.fromLsn % ring), lsn: gap.fromLsn,
      reason: `${gap.toLsn - gap.fromLsn} bytes before the committed tail hold no verifiable record`,
    })
  }
  const prefix = result.prefix ?? null
  if (prefix === null) {
    report.prefix = null
    report.unrepairableReason = 'the damage lies inside the checkpoint the head names, before ' +
      'its END record: no complete snapshot precedes it'
    return { report, prefixKeyspace: null }
  }
  const k = keysPerDb(prefix.keyspace)
  report.prefix = {
    endLsn: prefix.log.tailLsn, records: prefix.log.records, txns: prefix.log.txns, keys: k.total,
    keysPerDb: k.perDb,
  }
  return { report, prefixKeyspace: prefix.keyspace }
}

// ---- repair ------------------------------------------------------------------------------------

export interface RepairResult {
  output: string
  poolId: string
  keys: number
  records: number
}

/**
 * Write `keyspace` into a NEW pool at `output` (poolBytes big) as one checkpoint. Refuses when
 * `output` exists. The pool is built under a temporary name, verified by recover(), then linked.
 */
export function writeRepairedPool(keyspace: Keyspace, poolBytes: number, output: string): RepairResult {
  if (existsSync(output)) {
    throw Object.assign(new Error(`${output} exists: refusing to overwrite it`), { code: 'EEXIST' })
  }
  const temporary = `${output}.tmp-${process.pid}`
  rmSync(temporary, { force: true })
  try {
    const region = createNativeRegion(temporary, poolBytes)
    try {
      formatRegion(region, randomBytes(16), nowMs())
      const fresh = recover(region)
      if (fresh.kind !== 'ok') throw new Error('a freshly formatted pool does not recover')
      const log = new Log(region, fresh.log.seed, fresh.log.header.ringBytes,
        { headLsn: fresh.log.headLsn, tailLsn: fresh.log.tailLsn })
      // The salvaged keyspace becomes the pool's first checkpoint; the head then names it.
      const checkpointer = new Checkpointer(log, () => keyspace)
      if (!checkpointer.start() || checkpointer.step(Number.MAX_SAFE_INTEGER) !== 'done') {
        throw new Error(`the salvaged state does not fit into a new pool of ${poolBytes} bytes`)
      }
      log.commit()
      checkpointer.finish()
    } finally {
      region.close()
    }
    const check = checkPool(temporary)
    if (check.report.status !== 'clean') {
      throw new Error(`the new pool does not verify: ${JSON.stringify(check.report.damage)}`)
    }
    const reread = new FileRegionReader(temporary)
    let same: boolean
    try {
      const again = recover(reread)
      same = again.kind === 'ok' && canonical(again.keyspace) === canonical(keyspace)
    } finally {
      reread.close()
    }
    if (!same) throw new Error('the new pool does not hold the salvaged state')
    linkSync(temporary, output) // EEXIST if someone created it meanwhile: never replaced
    return {
      output, poolId: check.report.poolId ?? '', keys: check.report.keys ?? 0,
      records: check.report.records,
    }
  } finally {
    rmSync(temporary, { force: true })
  }
}

/** The bytes that restore each damaged or lagging metadata copy, from the copies recovery used. */
export function metadataPatches(log: RecoveredLog): { what: string; offset: number; bytes: Buffer }[] {
  const ring = log.header.ringBytes
  const seed = poolSeed(log.header.poolId)
  return log.metaDamage.map((d) => {
    const header = HEADER_OFFSETS.indexOf(d.offset)
    const tail = TAIL_WORD_OFFSETS.indexOf(d.offset)
    const head = HEAD_WORD_OFFSETS.indexOf(d.offset)
    const prev = PREV_WORD_OFFSETS.indexOf(d.offset)
    if (header >= 0) return { what: d.what, offset: d.offset, bytes: encodeHeader(log.header, header) }
    if (tail < 0 && head < 0 && prev < 0) {
      throw new Error(`no in-place repair for ${d.what} at offset ${d.offset}`)
    }
    const w = tail >= 0 ? encodeWord(TAIL_TAGS[tail] as number, log.tailLsn % ring, seed)
      : head >= 0 ? encodeWord(HEAD_TAGS[head] as number, log.headLsn % ring, seed)
        : encodeWord(PREV_TAGS[prev] as number, log.prevLsn % ring, seed)
    const bytes = Buffer.alloc(8)
    bytes.writeUInt32LE(w.lo, 0)
    bytes.writeUInt32LE(w.hi, 4)
    return { what: d.what, offset: d.offset, bytes }
  })
}

/**
 * In-place repairs that lose nothing (the pool's state is whole): truncate a file that grew to
 * the pool's length, or rewrite the damaged (or lagging) redundant metadata copies from the
 * copies recovery used. Plain pwrite(2) and fsync(2) on the pool file; the server must not have
 * the pool open meanwhile. Each write replaces bytes recovery does not use, so a crash during
 * the repair leaves the pool as it was or repaired.
 */
export function repairInPlace(path: string, checked: CheckResult): string {
  const r = checked.report
  if (r.inPlace === 'fallback') return repairFallback(path)
  const fd = openSync(path, 'r+')
  try {
    if (r.inPlace === 'truncate') {
      const to = r.poolBytes as number
      ftruncateSync(fd, to)
      fsyncSync(fd)
      return `truncated ${path} from ${r.fileBytes} to ${to} bytes`
    }
    const log = checked.log
    if (r.inPlace !== 'copies' || log === undefined) throw new Error('nothing to repair in place')
    const done: string[] = []
    for (const patch of metadataPatches(log)) {
      if (writeSync(fd, patch.bytes, 0, patch.bytes.length, patch.offset) !== patch.bytes.length) {
        throw new Error(`short write at offset ${patch.offset}`)
      }
      done.push(`${patch.what} (offset ${patch.offset})`)
    }
    fsyncSync(fd)
    return `rewrote ${done.join(', ')} in place from the intact copies`
  } finally {
    closeSync(fd)
  }
}

/**
 * The fallback's repair: what Store.open does after a fallback, without a server. The pool is
 * mapped read-write and recovered (from the previous checkpoint); the root-word copies are
 * brought in sync; a fresh checkpoint of that state is appended and committed; then the prev
 * word names where the walk started and the head the fresh checkpoint (log.ts moveHead: every
 * crash image on the way recovers the same state, and the damaged records are skipped by a
 * fallback walk from prev, recovery/walk.ts).
 */
export function repairFallback(path: string): string {
  const region = openNativeRegion(path)
  try {
    const r = recover(region)
    if (r.kind !== 'ok' || (r.log.fallback === null && r.log.skipped.length === 0)) {
      throw new Error('no fallback to repair')
    }
    syncMetadata(region, r.log)
    const fellBack = r.log.fallback !== null // then the log starts at prev, as in Store.open
    const log = new Log(region, r.log.seed, r.log.header.ringBytes, { headLsn: fellBack
      ? r.log.prevLsn : r.log.headLsn, prevLsn: r.log.prevLsn, tailLsn: r.log.tailLsn, seq: r.log.seq })
    const checkpointer = new Checkpointer(log, () => r.keyspace)
    if (!checkpointer.start() || checkpointer.step(Number.MAX_SAFE_INTEGER) !== 'done') {
      throw new Error('no room in the pool for a fresh checkpoint (start the server: it ' +
        'serves the state and compacts once deletes make room)')
    }
    log.commit()
    checkpointer.finish()
    return `wrote a fresh checkpoint at lsn ${log.headLsn} of the state rebuilt ` +
      (fellBack ? `from the previous checkpoint (lsn ${r.log.prevLsn}); the damaged one is no ` +
        'longer used' : 'past the skipped damaged records')
  } finally {
    region.close()
  }
}

// ---- command line ------------------------------------------------------------------------------

export const USAGE = `usage: capykv-check [--json] POOL
       capykv-check --repair [--yes] [--output PATH] [--json] POOL

Verifies a capykv pool read-only and prints a report: pool id and size, committed records,
transactions, checkpoint chunks, the LSN range (head..tail), the checkpoint the head names,
live keys per database, and any damage (what, offset, lsn, reason).

  --json          print the report as one JSON object on stdout
  --repair        when the state is whole: truncate a file that grew, rewrite damaged
                  redundant copies of the header and root words, in place (nothing lost);
                  otherwise write a NEW pool holding the longest undamaged committed history
                  (the damaged pool untouched). Asks for confirmation on a terminal
  --yes, -y       repair without asking
  --output PATH   where to write the repaired pool (default POOL.repaired; never overwritten)
  --help, -h      this text

exit codes:
  0  clean (with --repair: nothing to repair, nothing written)
  1  damage found; or the repair was declined or is impossible (nothing written)
  2  usage or I/O error (missing file, output exists, ...)
  3  not a capykv pool (or a format version this build does not read)
  4  repaired: a new pool was written, or the pool repaired in place
`

export interface CliIo {
  out(text: string): void
  err(text: string): void
  /** Whether a person can be asked (stdin is a terminal). */
  interactive: boolean
  /** Ask a yes/no question; resolves true only on an explicit yes. */
  confirm(question: string): Promise<boolean>
}

interface CliOptions {
  pool: string
  json: boolean
  repair: boolean
  yes: boolean
  output: string | null
}

function parseArgs(argv: readonly string[]): CliOptions | { help: true } | { error: string } {
  const o: CliOptions = { pool: '', json: false, repair: false, yes: false, output: null }
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    if (a === '--help' || a === '-h') return { help: true }
    else if (a === '--json') o.json = true
    else if (a === '--repair' || a === '--fix') o.repair = true
    else if (a === '--yes' || a === '-y') o.yes = true
    else if (a === '--output' || a === '-o') {
      const v = argv[++i]
      if (v === undefined || v === '') return { error: `${a} needs a path` }
      o.output = v
    } else if (a.startsWith('--output=')) o.output = a.slice('--output='.length)
    else if (a === '--') {
      positional.push(...argv.slice(i + 1))
      break
    } else if (a.startsWith('-') && a !== '-') return { error: `unknown option ${a}` }
    else positional.push(a)
  }
  if (positional.length !== 1) {
    return { error: positional.length === 0 ? 'no pool given' : 'one pool at a time' }
  }
  o.pool = positional[0] as string
  if (!o.repair && (o.yes || o.output !== null)) return { error: '--yes and --output need --repair' }
  return o
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

function dbList(perDb: Record<string, number>): string {
  const parts = Object.entries(perDb).map(([db, n]) => `db${db}: ${n}`)
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

export function lostText(lost: LostCommits): string {
  const n = lost.exact ? `exactly ${plural(lost.commits, 'commit')}` :
    `at least ${plural(lost.commits, 'commit')}`
  return lost.exact ? n : `${n} (${plural(lost.unverifiedBytes, 'byte')} after the damage could ` +
    'not be verified, and the damaged record itself may have been a commit)'
}

/** The human-readable report. */
export function formatReport(r: CheckReport): string {
  const lines: string[] = [`capykv-check ${r.pool}`]
  const row = (label: string, text: string): void => { lines.push(`${label.padEnd(12)} ${text}`) }
  if (r.status === 'not-a-pool') {
    row('status', `not a capykv pool: ${r.notPoolReason ?? ''} (${r.fileBytes} bytes)`)
    return `${lines.join('\n')}\n`
  }
  if (r.poolId !== null) {
    row('pool id', r.poolId)
    row('size', `${r.poolBytes} bytes (log ring ${r.ringBytes} bytes), created ${r.createdAt}`)
  } else {
    row('size', `${r.fileBytes} bytes (header unreadable)`)
  }
  if (r.lsn !== null) {
    row('log', `lsn ${r.lsn.head} .. ${r.lsn.tail} (${r.lsn.tail - r.lsn.head} bytes committed)`)
  }
  const other = r.records - r.txns - r.checkpointChunks - r.checkpointEnds
  row('records', `${r.records} verified${r.status === 'damaged' ? ' before the damage' : ''}: ` +
    `${plural(r.txns, 'transaction')}, ${plural(r.checkpointChunks, 'checkpoint chunk')}, ` +
    `${plural(r.checkpointEnds, 'checkpoint end')}, ${other} other (checkpoint begin, pad)`)
  const c = r.headCheckpoint
  if (c !== null) {
    row('checkpoint', c.creation
      ? `head names the creation checkpoint at lsn ${c.beginLsn} (offset ${c.offset}): empty`
      : `head names the checkpoint beginning at lsn ${c.beginLsn} (offset ${c.offset}), ` +
        (c.endLsn === null ? 'its END not reached' :
          `ending at lsn ${c.endLsn}, ${c.keys === null ? '? keys' : plural(c.keys, 'key')}`))
  }
  if (r.keys !== null && r.keysPerDb !== null) row('live keys', `${r.keys}${dbList(r.keysPerDb)}`)
  if (r.formatVersion !== null) row('format', `version ${r.formatVersion}`)
  for (const n of r.notes) row('note', n)
  for (const d of r.damage) {
    row('DAMAGE', `${d.what} at offset ${d.offset}${d.lsn === null ? '' : ` (lsn ${d.lsn})`}: ` +
      d.reason)
  }
  if (r.status === 'damaged' && r.inPlace !== null) {
    row('status', r.inPlace === 'truncate'
      ? `DAMAGED: the file is longer than its pool; startup refuses it; \`capykv-check --repair\` ` +
        `truncates it to ${r.poolBytes} bytes in place (nothing lost)`
      : r.inPlace === 'fallback'
        ? 'DAMAGED (the newest checkpoint): startup rebuilds the whole state from the previous ' +
          'checkpoint and the log after it, then writes a fresh checkpoint; `capykv-check ' +
          '--repair` writes that checkpoint in place (nothing lost)'
        : 'DAMAGED (a redundant copy): startup uses the intact copy and serves the whole state; ' +
        '`capykv-check --repair` rewrites the damaged copy in place (nothing lost)')
  } else if (r.status === 'damaged') {
    if (r.prefix === null || r.prefix === undefined) {
      row('prefix', `none: ${r.unrepairableReason ?? 'no consistent state can be rebuilt'}`)
    } else {
      row('prefix', `consistent committed history up to lsn ${r.prefix.endLsn}: ` +
        `${plural(r.prefix.txns, 'transaction')}, ${plural(r.prefix.keys, 'key')}` +
        dbList(r.prefix.keysPerDb))
      if (r.lost !== undefined) row('lost', `salvaging it loses ${lostText(r.lost)}`)
    }
    row('status', 'DAMAGED: startup refuses this pool' + (r.prefix ?
      '; `capykv-check --repair` writes a new pool holding the prefix' :
      '; no consistent state can be rebuilt'))
  } else {
    row('status', 'clean')
  }
  return `${lines.join('\n')}\n`
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

/** The whole command: returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(argv)
  if ('help' in parsed) {
    io.out(USAGE)
    return EXIT_CLEAN
  }
  if ('error' in parsed) {
    io.err(`capykv-check: ${parsed.error}\n${USAGE}`)
    return EXIT_USAGE
  }
  let checked: CheckResult
  try {
    checked = checkPool(parsed.pool)
  } catch (e) {
    io.err(`capykv-check: cannot read ${parsed.pool}: ${errorText(e)}\n`)
    return EXIT_USAGE
  }
  let r = checked.report
  const emit = (extra: Record<string, unknown> = {}): void => {
    if (parsed.json) io.out(`${JSON.stringify({ ...r, ...extra })}\n`)
  }
  if (!parsed.json) io.out(formatReport(r))
  if (r.status === 'not-a-pool') {
    emit()
    return EXIT_NOT_A_POOL
  }
  if (!parsed.repair) {
    emit()
    return r.status === 'clean' ? EXIT_CLEAN : EXIT_DAMAGED
  }
  // --repair
  const say = (text: string): void => { (parsed.json ? io.err : io.out)(`${text}\n`) }
  /** Asks before a repair writes (never without a terminal: then --yes is needed). */
  const agreed = async (plan: string): Promise<boolean> => {
    if (!io.interactive) {
      say(`repair: would ${plan}.\nrepair declined: not asked on a terminal; pass --yes`)
      return false
    }
    if (await io.confirm(`${plan[0]?.toUpperCase()}${plan.slice(1)}. Continue? [y/N] `)) return true
    say('repair declined; nothing written')
    return false
  }
  if (r.status === 'clean') {
    say('repair: the pool is clean; nothing to repair, nothing written')
    emit({ repair: { written: false, reason: 'clean' } })
    return EXIT_CLEAN
  }
  if (r.inPlace !== null) {
    // Nothing is lost: truncate a grown file and/or rewrite damaged copies, then check again.
    const what = r.inPlace === 'truncate' ? `truncate ${parsed.pool} to its pool length of ` +
      `${r.poolBytes} bytes` : r.inPlace === 'fallback' ? `write a fresh checkpoint into ` +
      `${parsed.pool} of the state rebuilt from the previous checkpoint` : `rewrite the damaged metadata copies of ${parsed.pool} in place ` +
      'from the intact ones'
    const plan = `${what} (nothing is lost; stop any server using the pool first)`
    if (!parsed.yes && !(await agreed(plan))) {
      emit({ repair: { written: false, reason: 'declined' } })
      return EXIT_DAMAGED
    }
    const steps: string[] = []
    let current: CheckResult = checked
    try {
      for (let i = 0; i < 3 && current.report.inPlace !== null; i++) {
        steps.push(repairInPlace(parsed.pool, current))
        current = checkPool(parsed.pool)
      }
    } catch (e) {
      io.err(`capykv-check: in-place repair failed: ${errorText(e)}\n`)
      emit({ repair: { written: false, reason: errorText(e), inPlace: steps } })
      return EXIT_USAGE
    }
    for (const step of steps) say(`repaired: ${step}`)
    if (current.report.status === 'clean') {
      say(`repaired in place: ${parsed.pool} is clean again; nothing lost`)
      emit({ repair: { written: true, inPlace: steps, output: parsed.pool, lostCommits: 0 } })
      return EXIT_REPAIRED
    }
    // What remains is damage of the state itself: report it and go on with the salvage.
    checked = current
    r = current.report
    if (!parsed.json) io.out(formatReport(r))
  }
  if (checked.prefixKeyspace === null || r.prefix === null || r.prefix === undefined) {
    say(`repair: no consistent state can be rebuilt (${r.unrepairableReason ?? 'unknown'}); ` +
      'nothing written')
    emit({ repair: { written: false, reason: 'impossible' } })
    return EXIT_DAMAGED
  }
  const output = parsed.output ?? `${parsed.pool}.repaired`
  if (existsSync(output)) {
    io.err(`capykv-check: ${output} exists: refusing to overwrite it (choose --output PATH)\n`)
    emit({ repair: { written: false, reason: 'output exists' } })
    return EXIT_USAGE
  }
  const lost = r.lost === undefined ? 'an unknown number of commits' : lostText(r.lost)
  const plan = `write a new pool ${output} (${r.poolBytes} bytes) holding the committed history ` +
    `up to lsn ${r.prefix.endLsn} (${plural(r.prefix.keys, 'key')}); this loses ${lost}`
  if (!parsed.yes && !(await agreed(plan))) {
    emit({ repair: { written: false, reason: 'declined' } })
    return EXIT_DAMAGED
  }
  let repaired: RepairResult
  try {
    repaired = writeRepairedPool(checked.prefixKeyspace, r.poolBytes ?? r.fileBytes, output)
  } catch (e) {
    io.err(`capykv-check: repair failed, nothing written: ${errorText(e)}\n`)
    emit({ repair: { written: false, reason: errorText(e) } })
    return EXIT_USAGE
  }
  say(`repaired: wrote ${repaired.output} (pool id ${repaired.poolId}, ` +
    `${plural(repaired.keys, 'key')}); ${lost} lost; the damaged pool ${parsed.pool} is unchanged`)
  emit({
    repair: {
      written: true, output: repaired.output, poolId: repaired.poolId, keys: repaired.keys,
      lostCommits: r.lost?.commits ?? null, lostExact: r.lost?.exact ?? false,
    },
  })
  return EXIT_REPAIRED
}
