// The log record's durable format (one encoder/decoder pair, here). A record sits at ring
// offset lsn % ringBytes, never straddles the ring's end, and is 8-aligned:
//    0  u8 kind: 1 TXN, 2 PAD, 3 CKPT_BEGIN, 4 CKPT_END, 5 CKPT_CHUNK, 6 MARK (format 3)
//    1  u24 txn sequence (pool format 3; 0 in records written by formats 1 and 2, whose u32 kind
//       had these bytes zero): 1 + the number of TXN records appended before this record, plus
//       1 for a TXN itself, wrapping from SEQ_MAX to 1 (nextSeq). So a TXN carries its own
//       number and any other record the number of the TXN before it: a walk that must skip a
//       damaged record (the checkpoint fallback, recover.ts) proves the skipped bytes held no
//       transaction when the next record it can verify carries the sequence it expects
//       (seqAfter). Sound while a skip covers fewer than SEQ_MAX records (MAX_SKIP_BYTES).
//    4  u32 payload bytes (n)
//    8  u64 lsn: the record's position in the unbounded log (bytes since the pool was made)
//   16  payload (n bytes), then zeros to the next multiple of 8
//   16 + pad8(n)  u64 CRC-64 of every byte before it, seeded with the pool seed
// So the CRC covers content and identity: the pool (seed), the position (lsn, checked against
// the position the reader expects) and the kind. A stale record from an earlier lap of the ring
// or a record written to the wrong place fails the lsn check; a torn one fails the CRC. The seed
// is the pool's, not the position's: a stale record's CRC verifies (for its own lsn), so the lsn
// check in checkRecord is what refuses it — the only defence in the scrub and for records of
// formats 1 and 2 (sequence 0); the recovery walk's txn sequence chain is a second one in format
// 3 (mutant record-lsn-unchecked; test/unit/scrub.test.ts and redundancy.test.ts).
// Payloads: TXN and CKPT_CHUNK hold events (state/event.ts). CKPT_BEGIN holds `varuint flags`
// (CKPT_FLAG_EMPTY) then `varuint key count estimate` (informational); CKPT_END holds
// `varuint BEGIN lsn` (the checkpoint it completes) then `varuint keys written` (informational):
// encodeCheckpointBegin/End and decodeCheckpointBegin/End below, the only code that knows them.
// PAD has no payload and means "continue at the next lap". MARK has no payload and changes
// nothing: a commit whose last record would be a checkpoint record (BEGIN, chunk, END) gets one
// after it (log.ts sealGroup), so that a damaged checkpoint record is never the last committed
// record (the record after a skip proves it, recover/walk.ts).
// A position closer than 24 bytes to the ring's end is skipped without a PAD (normalizeLsn).

import { VERIFY, assert } from '../assert.js'
import { ByteReader, ByteWriter } from '../state/bytes.js'
import { crc64Seal, crc64Verify } from './crc.js'

export const REC_TXN = 1
export const REC_PAD = 2
export const REC_CKPT_BEGIN = 3
export const REC_CKPT_END = 4
export const REC_CKPT_CHUNK = 5
export const REC_MARK = 6
export const RECORD_KIND_NAMES: Readonly<Record<number, string>> = {
  1: 'txn', 2: 'pad', 3: 'checkpoint-begin', 4: 'checkpoint-end', 5: 'checkpoint-chunk', 6: 'mark',
}

/** The txn sequence wraps from SEQ_MAX to 1; 0 means "none" (a format 1 or 2 record). */
export const SEQ_MAX = 2 ** 24 - 1
export function nextSeq(seq: number): number {
  return seq >= SEQ_MAX ? 1 : seq + 1
}
/** The sequence a record of `kind` carries when the record before it carried `seq`. */
export function seqAfter(seq: number, kind: number): number {
  return kind === REC_TXN ? nextSeq(seq) : seq
}

export const RECORD_HEADER_BYTES = 16
export const RECORD_CRC_BYTES = 8
export const MIN_RECORD_BYTES = RECORD_HEADER_BYTES + RECORD_CRC_BYTES
/** A skip shorter than this covers fewer than SEQ_MAX records, so the sequence proves it. */
export const MAX_SKIP_BYTES = SEQ_MAX * MIN_RECORD_BYTES

/** Arithmetic, not bit operations: a corrupt u32 length must not wrap to a negative size. */
export const pad8 = (n: number): number => Math.ceil(n / 8) * 8

export function recordBytes(payloadBytes: number): number {
  return RECORD_HEADER_BYTES + pad8(payloadBytes) + RECORD_CRC_BYTES
}

/** The position a record at `lsn` really starts at: too close to the ring's end skips a lap. */
export function normalizeLsn(lsn: number, ringBytes: number): number {
  const left = ringBytes - (lsn % ringBytes)
  return left < MIN_RECORD_BYTES ? lsn + left : lsn
}

/** Start a record in `w`: the caller then writes the payload and calls frameRecord. */
export function beginRecord(w: ByteWriter): void {
  // No zeroing: frameRecord writes every header byte.
  w.reset()
  w.ensure(RECORD_HEADER_BYTES)
  w.length = RECORD_HEADER_BYTES
}

/**
 * Complete the record in `w` except its CRC: header, zero padding, and room for the CRC; returns
 * its total bytes. The record is then SEALED — the CRC of every byte before the last 8 written
 * as those 8 bytes — by PmRegion.writeSealed as it is written (the log's append), or by
 * finishRecord.
 */
export function frameRecord(w: ByteWriter, kind: number, lsn: number, seq = 0): number {
  assert(Number.isInteger(seq) && seq >= 0 && seq <= SEQ_MAX, 'txn sequence out of range')
  const payloadBytes = w.length - RECORD_HEADER_BYTES
  const total = recordBytes(payloadBytes)
  w.ensure(total - w.length)
  const buf = w.buf
  // At most 7 bytes of padding: a loop, where fill() would be a call into C++.
  for (let i = w.length; i < total - RECORD_CRC_BYTES; i++) buf[i] = 0
  buf.writeUInt32LE(kind + seq * 256, 0)
  buf.writeUInt32LE(payloadBytes, 4)
  buf.writeUInt32LE(lsn >>> 0, 8) // ToUint32: lsn mod 2^32, exact for integers below 2^53
  buf.writeUInt32LE(Math.floor(lsn / 2 ** 32), 12)
  w.length = total
  return total
}

/** Complete and seal the record in `w`; returns its bytes (a view of w's buffer). */
export function finishRecord(
  w: ByteWriter, kind: number, lsn: number, seed: bigint, seq = 0,
): Buffer {
  const total = frameRecord(w, kind, lsn, seq)
  crc64Seal(w.buf, 0, total - RECORD_CRC_BYTES, seed, total - RECORD_CRC_BYTES)
  return w.buf.subarray(0, total)
}

export function padRecord(lsn: number, seed: bigint, seq = 0): Buffer {
  const w = new ByteWriter(MIN_RECORD_BYTES)
  beginRecord(w)
  return Buffer.from(finishRecord(w, REC_PAD, lsn, seed, seq))
}

/** CKPT_BEGIN flag: the snapshot is empty and complete by itself (the pool's creation). */
export const CKPT_FLAG_EMPTY = 1

export interface CheckpointBegin {
  readonly flags: number
  /** Informational: the keyspace's size when the checkpoint began. */
  readonly keyCountEstimate: number
}

export interface CheckpointEnd {
  /** The lsn of the CKPT_BEGIN record this END completes. */
  readonly beginLsn: number
  /** Informational: the keys the checkpoint's chunks hold. */
  readonly keys: number
}

/** Write a CKPT_BEGIN payload into `w` (after beginRecord). */
export function encodeCheckpointBegin(w: ByteWriter, begin: CheckpointBegin): void {
  assert(begin.flags === 0 || begin.flags === CKPT_FLAG_EMPTY, 'unknown checkpoint flags')
  const start = w.length
  w.varuint(begin.flags)
  w.varuint(begin.keyCountEstimate)
  if (VERIFY) {
    const back = decodeCheckpointBegin(w.buf, start, w.length)
    assert(back.flags === begin.flags, 'checkpoint BEGIN flags round trip')
    assert(back.keyCountEstimate === begin.keyCountEstimate, 'checkpoint BEGIN count round trip')
  }
}

/** Read a CKPT_BEGIN payload; throws DecodeError when it is short. */
export function decodeCheckpointBegin(bytes: Buffer, start: number, end: number): CheckpointBegin {
  const r = new ByteReader(bytes, start, end)
  const flags = r.varuint()
  return { flags, keyCountEstimate: r.varuint() }
}

/** Write a CKPT_END payload into `w` (after beginRecord). */
export function encodeCheckpointEnd(w: ByteWriter, end: CheckpointEnd): void {
  assert(Number.isSafeInteger(end.beginLsn) && end.beginLsn >= 0, 'checkpoint END names a BEGIN lsn')
  const start = w.length
  w.varuint(end.beginLsn)
  w.varuint(end.keys)
  if (VERIFY) {
    const back = decodeCheckpointEnd(w.buf, start, w.length)
    assert(back.beginLsn === end.beginLsn, 'checkpoint END lsn round trip')
    assert(back.keys === end.keys, 'checkpoint END keys round trip')
  }
}

/** Read a CKPT_END payload; throws DecodeError when it is short. */
export function decodeCheckpointEnd(bytes: Buffer, start: number, end: number): CheckpointEnd {
  const r = new ByteReader(bytes, start, end)
  const beginLsn = r.varuint()
  return { beginLsn, keys: r.varuint() }
}

export type RecordCheck =
  | { ok: true; kind: number; payloadBytes: number; totalBytes: number; seq: number }
  | { ok: false; reason: string }

/** The payload length a header claims, before any check (to know how much to read). */
export function claimedPayloadBytes(head: Buffer): number {
  return head.readUInt32LE(4)
}

/** The kind a header claims, before any check (reports of a damaged record). */
export function claimedKind(head: Buffer): number {
  return head[0] as number
}

/**
 * Validate the record in `bytes` (which must hold recordBytes(claimed length) bytes) as the
 * record expected at `lsn`. `spaceBytes` is the room left before the ring's end.
 */
export function checkRecord(bytes: Buffer, lsn: number, seed: bigint, spaceBytes: number): RecordCheck {
  const payloadBytes = bytes.readUInt32LE(4)
  const total = recordBytes(payloadBytes)
  if (total > spaceBytes || total > bytes.length) {
    return { ok: false, reason: `record length ${payloadBytes} runs past the ring's end` }
  }
  if (!crc64Verify(bytes, 0, total - RECORD_CRC_BYTES, seed, total - RECORD_CRC_BYTES)) {
    return { ok: false, reason: 'record checksum mismatch' }
  }
  const kind = bytes[0] as number
  const seq = bytes.readUIntLE(1, 3)
  const at = bytes.readUInt32LE(8) + bytes.readUInt32LE(12) * 2 ** 32
  if (at !== lsn) return { ok: false, reason: `stale or misdirected record (lsn ${at})` }
  if (RECORD_KIND_NAMES[kind] === undefined) return { ok: false, reason: `unknown record kind ${kind}` }
  if ((kind === REC_PAD || kind === REC_MARK) && payloadBytes !== 0) {
    return { ok: false, reason: `${RECORD_KIND_NAMES[kind] as string} record with payload` }
  }
  return { ok: true, kind, payloadBytes, totalBytes: total, seq }
}
