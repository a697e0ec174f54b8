// FUNCTION DUMP / RESTORE payloads in Redis's format (so a dump taken from redis-server restores
// here and the other way round): for each library, the RDB opcode FUNCTION2 (245) and the
// library's whole source as an RDB string, then the RDB version (10, u16 little-endian) and a
// CRC-64 (Jones polynomial, reflected, as Redis's crc64.c computes it) of everything before it,
// little-endian. The RDB primitives (strings plain, integer-encoded or LZF-compressed, the footer)
// are src/state/rdb-format.ts's, the one codec of Redis's serialization (DUMP/RESTORE use it
// too); strings are written as Redis's rdbSaveRawString writes them, so a dump is Redis's bytes.

import { RdbError, RdbReader, RdbWriter, sealPayload, verifyPayload } from '../state/rdb-format.js'

const RDB_OPCODE_FUNCTION2 = 245

/** The payload FUNCTION DUMP replies for these library sources (rdbSaveRawString each). */
export function dumpLibraries(payloads: readonly Buffer[]): Buffer {
  const w = new RdbWriter()
  for (const p of payloads) {
    w.byte(RDB_OPCODE_FUNCTION2)
    w.string(p)
  }
  return sealPayload(w.finish())
}

/** Redis's verifyDumpPayload: version not newer than ours, checksum right. */
export function verifyDumpPayload(p: Buffer): boolean {
  return verifyPayload(p)
}

/** The library sources of a verified payload, or Redis's error text. */
export function parseDumpPayload(p: Buffer): { libraries: Buffer[] } | { error: string } {
  const r = new RdbReader(p, p.length - 10)
  const libraries: Buffer[] = []
  while (r.left > 0) {
    if (r.byte() !== RDB_OPCODE_FUNCTION2) return { error: 'given type is not a function' }
    try {
      libraries.push(r.string())
    } catch (e) {
      if (!(e instanceof RdbError)) throw e
      return { error: 'Failed loading library payload' }
    }
  }
  return { libraries }
}
