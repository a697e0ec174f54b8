// The canonical form of a keyspace: one string that two keyspaces share exactly when they hold
// the same data, whatever history built them. The crash simulator, the fault tests and the
// model-based tests compare states through it. Invariants:
// - it covers every database, key, type, absolute expiry and value (value-codec.ts `canonical`,
//   which is insertion-order independent for hashes and sets);
// - keys are sorted (bytewise, as latin1) and empty databases contribute nothing, so the order
//   of Map insertion never shows; binary keys are hex-encoded, so no separator can be forged;
// - function libraries (name and payload) follow the keys, sorted by name;
// - it reads the keyspace only (liveBytes and epoch are bookkeeping, not data), and changes
//   nothing: not even a string kept in the key index becomes an Entry.

import { DB_COUNT, type Keyspace } from './keyspace.js'
import { valueType } from './value-codec.js'

const latin1Hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex')

/** One line per key: `db key type expireAtMs value`, sorted by db then key. */
export function canonical(ks: Keyspace): string {
  const lines: string[] = []
  for (let db = 0; db < DB_COUNT; db++) {
    const map = ks.db(db)
    if (map.size === 0) continue
    // entries(): a string kept in the key index is read as a copy, not promoted (state/key-map.ts).
    const entries = [...map.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    for (const [key, entry] of entries) {
      const value = valueType(entry.type).canonical(entry.value)
      lines.push(`${db} ${latin1Hex(key)} ${entry.type} ${entry.expireAtMs} ${value}`)
    }
  }
  const libraries = [...ks.functionLibraries.keys()].sort()
  for (const name of libraries) {
    lines.push(`function ${latin1Hex(name)} ${(ks.functionLibraries.get(name) as Buffer).toString('hex')}`)
  }
  return lines.join('\n')
}

/** A short, human-readable difference between two canonical forms (for failure messages). */
export function canonicalDiff(expected: string, actual: string, maxLines = 6): string {
  const a = new Set(expected === '' ? [] : expected.split('\n'))
  const b = new Set(actual === '' ? [] : actual.split('\n'))
  const missing = [...a].filter((l) => !b.has(l)).slice(0, maxLines)
  const extra = [...b].filter((l) => !a.has(l)).slice(0, maxLines)
  return `missing: [${missing.join(' | ')}] unexpected: [${extra.join(' | ')}]`
}
