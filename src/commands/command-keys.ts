// Finding a command's keys in its arguments, with each key's flags, as Redis 7.0.15's
// getKeysFromCommandWithSpecs (db.c): COMMAND GETKEYS / GETKEYSANDFLAGS answer from here, and
// ACL checks (acl-check.ts) read the same key specs through keysBySpecs.
// Invariants, and why:
// - Key specs first (command-docs.ts holds Redis's), when the command has one that is not
//   not_key and none with variable_flags; a spec that cannot find its keys in these arguments
//   (unknown begin or find, a count out of range, incomplete) makes the whole search fall back,
//   as getKeysUsingKeySpecs returns -1.
// - The fallback is the command's own key finder where Redis has one (getkeys_proc: EVAL*,
//   FCALL*, SORT, SET, BITFIELD, MIGRATE, the *MPOP, Z*STORE…), with the flags Redis's finder
//   gives: SET, BITFIELD, SORT, SORT_RO and MIGRATE set theirs, the others give none. A command
//   without a finder has no keys then (Redis returns 0 keys).
// - Positions are indexes into the argv given (argv[0] is the command's name).

import { string2ll } from '../int64.js'
import { COMMAND_DOCS, type KeySpec, type KeySpecFlag } from './command-docs.js'
import type { CommandSpec } from './spec.js'

export interface KeyRef {
  readonly pos: number
  readonly flags: readonly KeySpecFlag[]
}

/**
 * getKeysUsingKeySpecs: calls found(position, spec) for each key of each spec that is not
 * not_key; false when a spec is invalid or incomplete for these arguments (Redis's -1).
 */
export function keysBySpecs(specs: readonly KeySpec[], argv: readonly Buffer[],
  found: (pos: number, spec: KeySpec) => void): boolean {
  const argc = argv.length
  for (const spec of specs) {
    if (spec.flags.includes('not_key')) continue
    let first = 0
    const bs = spec.beginSearch
    if (bs === 'unknown') return false
    if ('index' in bs) {
      first = bs.index
    } else {
      first = keywordEnd(bs.keyword, bs.startfrom, argv)
      if (first === 0) continue
    }
    const fk = spec.findKeys
    if (fk === 'unknown') return false
    let last: number
    const step = fk.keystep
    if ('lastkey' in fk) {
      if (fk.lastkey >= 0) last = first + fk.lastkey
      else if (fk.limit === 0) last = argc + fk.lastkey
      else last = first + (Math.floor((argc - first) / fk.limit) + fk.lastkey)
    } else {
      if (fk.keynumidx >= argc) return false
      const n = strictInt(argv[first + fk.keynumidx])
      if (n === null || n < 0) return false
      first += fk.firstkey
      last = first + n - 1
    }
    if (last >= argc || last < first || first >= argc) return false
    for (let i = first; i <= last; i += step) {
      if (i >= argc || i < first) continue
      found(i, spec)
    }
    if (spec.flags.includes('incomplete')) return false
  }
  return true
}

/** The index after a keyword search's match (0: not found), as getKeysUsingKeySpecs scans. */
function keywordEnd(keyword: string, startfrom: number, argv: readonly Buffer[]): number {
  const argc = argv.length
  const start = startfrom > 0 ? startfrom : argc + startfrom
  const end = startfrom > 0 ? argc - 1 : 1
  const want = keyword.toLowerCase()
  for (let i = start; i !== end; i = start <= end ? i + 1 : i - 1) {
    if (i >= argc || i < 1) break
    if ((argv[i] as Buffer).toString('latin1').toLowerCase() === want) return i + 1
  }
  return 0
}

/** string2ll: a whole decimal integer, no sign but '-', no leading zero, or null. */
function strictInt(raw: Buffer | undefined): number | null {
  if (raw === undefined) return null
  const n = string2ll(raw)
  return typeof n === 'number' ? n : null
}

/**
 * genericGetKeys(storeKeyOfs, keyCountOfs, firstKeyOfs, keyStep) of the commands whose finder
 * is it: the count is read with atoi, no key at all when it is below 1 or past the arguments,
 * the destination (when there is one) after the sources; no flags.
 */
const COUNTED: Readonly<Record<string, readonly [number, number, number]>> = {
  sintercard: [0, 1, 2], zunionstore: [1, 2, 3], zinterstore: [1, 2, 3], zdiffstore: [1, 2, 3],
  zunion: [0, 1, 2], zinter: [0, 1, 2], zintercard: [0, 1, 2], zdiff: [0, 1, 2],
  eval: [0, 2, 3], eval_ro: [0, 2, 3], evalsha: [0, 2, 3], evalsha_ro: [0, 2, 3],
  fcall: [0, 2, 3], fcall_ro: [0, 2, 3], lmpop: [0, 1, 2], blmpop: [0, 2, 3], zmpop: [0, 1, 2],
  bzmpop: [0, 2, 3],
}

/** C's atoi: optional blanks and sign, then digits, 0 when there are none. */
function atoi(raw: Buffer | undefined): number {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)/.exec(raw?.toString('latin1') ?? '')
  return m === null ? 0 : Number(m[1])
}

function countedKeys(argv: readonly Buffer[], store: number, count: number,
  first: number): KeyRef[] {
  const num = atoi(argv[count])
  if (num < 1 || num > argv.length - first) return []
  const out: KeyRef[] = []
  for (let i = 0; i < num; i++) out.push({ pos: first + i, flags: [] })
  if (store > 0) out.push({ pos: store, flags: [] })
  return out
}

const RO_ACCESS: readonly KeySpecFlag[] = ['RO', 'access']
const OW_UPDATE: readonly KeySpecFlag[] = ['OW', 'update']
const RW_ACCESS_UPDATE: readonly KeySpecFlag[] = ['RW', 'access', 'update']
const RW_ACCESS_DELETE: readonly KeySpecFlag[] = ['RW', 'access', 'delete']

function lowerAt(argv: readonly Buffer[], i: number): string {
  return (argv[i] as Buffer).toString('latin1').toLowerCase()
}

/** setGetKeys: RW when a GET option is given, else OW. */
function setKeys(argv: readonly Buffer[]): KeyRef[] {
  for (let i = 3; i < argv.length; i++) {
    if (lowerAt(argv, i) === 'get') return [{ pos: 1, flags: RW_ACCESS_UPDATE }]
  }
  return [{ pos: 1, flags: OW_UPDATE }]
}

/** bitfieldGetKeys: RO while every operation is a GET (OVERFLOW aside). */
function bitfieldKeys(argv: readonly Buffer[]): KeyRef[] {
  let readonly = true
  for (let i = 2; i < argv.length; i++) {
    const rest = argv.length - i - 1
    const a = lowerAt(argv, i)
    if (a === 'get' && rest >= 2) {
      i += 2
    } else if ((a === 'set' || a === 'incrby') && rest >= 3) {
      readonly = false
      break
    } else if (a === 'overflow' && rest >= 1) {
      i += 1
    } else {
      readonly = false
      break
    }
  }
  return [{ pos: 1, flags: readonly ? RO_ACCESS : RW_ACCESS_UPDATE }]
}

/** sortGetKeys: the sorted key, and the last STORE's destination (LIMIT, GET, BY skipped). */
function sortKeys(argv: readonly Buffer[]): KeyRef[] {
  const out: KeyRef[] = [{ pos: 1, flags: RO_ACCESS }]
  let store = 0
  const skip: Record<string, number> = { limit: 2, get: 1, by: 1 }
  for (let i = 2; i < argv.length; i++) {
    const a = lowerAt(argv, i)
    const n = skip[a]
    if (n !== undefined) i += n
    else if (a === 'store' && i + 1 < argv.length) store = i + 1
  }
  if (store > 0) out.push({ pos: store, flags: OW_UPDATE })
  return out
}

/** migrateGetKeys: argv[3], or the keys after KEYS when argv[3] is empty. */
function migrateKeys(argv: readonly Buffer[]): KeyRef[] {
  let first = 3
  let num = 1
  const skip: Record<string, number> = { copy: 0, replace: 0, auth: 1, auth2: 2 }
  if (argv.length > 6) {
    for (let i = 6; i < argv.length; i++) {
      const a = lowerAt(argv, i)
      if (a === 'keys') {
        if ((argv[3] as Buffer).length > 0) {
          num = 0
        } else {
          first = i + 1
          num = argv.length - first
        }
        break
      }
      i += skip[a] ?? 0
    }
  }
  const out: KeyRef[] = []
  for (let i = 0; i < num; i++) out.push({ pos: first + i, flags: RW_ACCESS_DELETE })
  return out
}

/** The command's own finder (Redis's getkeys_proc), or [] when Redis has none. */
function finderKeys(spec: CommandSpec, argv: readonly Buffer[]): KeyRef[] {
  const counted = COUNTED[spec.name]
  if (counted !== undefined) return countedKeys(argv, ...counted)
  switch (spec.name) {
    case 'set': return setKeys(argv)
    case 'bitfield': return bitfieldKeys(argv)
    case 'sort': return sortKeys(argv)
    case 'sort_ro': return [{ pos: 1, flags: RO_ACCESS }]
    case 'migrate': return migrateKeys(argv)
    case 'georadius': case 'georadiusbymember': return georadiusKeys(argv)
    case 'xread': case 'xreadgroup': return xreadKeys(argv)
    default: return []
  }
}

/** georadiusGetKeys: the source, and the last STORE / STOREDIST destination. */
function georadiusKeys(argv: readonly Buffer[]): KeyRef[] {
  let stored = -1
  for (let i = 5; i < argv.length; i++) {
    const a = lowerAt(argv, i)
    if ((a === 'store' || a === 'storedist') && i + 1 < argv.length) {
      stored = i + 1
      i++
    }
  }
  const out: KeyRef[] = [{ pos: 1, flags: [] }]
  if (stored > 0) out.push({ pos: stored, flags: [] })
  return out
}

/** xreadGetKeys: the first half of what follows STREAMS, after BLOCK, COUNT, GROUP, NOACK. */
function xreadKeys(argv: readonly Buffer[]): KeyRef[] {
  let streams = -1
  for (let i = 1; i < argv.length; i++) {
    const a = lowerAt(argv, i)
    if (a === 'block' || a === 'count') i++
    else if (a === 'group') i += 2
    else if (a === 'streams') {
      streams = i
      break
    } else if (a !== 'noack') break
  }
  const num = streams < 0 ? 0 : argv.length - streams - 1
  if (num === 0 || num % 2 !== 0) return []
  const out: KeyRef[] = []
  for (let i = streams + 1; i < argv.length - num / 2; i++) out.push({ pos: i, flags: [] })
  return out
}

/** Whether Redis 7.0.15 has a getkeys_proc for the command (its JSON's get_keys_function). */
function hasFinder(name: string): boolean {
  return COUNTED[name] !== undefined || ['set', 'bitfield', 'sort', 'sort_ro', 'migrate',
    'georadius', 'georadiusbymember', 'xread', 'xreadgroup'].includes(name)
}

/** The first/last/step range (getKeysUsingLegacyRangeSpec, without flags). */
function legacyRange(spec: CommandSpec, argv: readonly Buffer[]): KeyRef[] {
  const out: KeyRef[] = []
  if (spec.firstKey <= 0) return out
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey
  for (let i = spec.firstKey; i <= last; i += Math.max(1, spec.step)) {
    if (i >= argv.length) return []
    out.push({ pos: i, flags: [] })
  }
  return out
}

/** A command's key specs; none for a command without documentation (a test's own spec). */
export function keySpecsOf(spec: CommandSpec): readonly KeySpec[] {
  return COMMAND_DOCS[spec.name]?.keySpecs ?? []
}

/** doesCommandHaveKeys: a finder, or a key spec that is not not_key. */
export function commandHasKeys(spec: CommandSpec): boolean {
  const specs = keySpecsOf(spec)
  if (specs.length === 0) return spec.firstKey > 0 || spec.keys !== undefined
  return hasFinder(spec.name) || specs.some((k) => !k.flags.includes('not_key'))
}

/** getKeysFromCommandWithSpecs: the keys of `argv` (argv[0] is the command), with flags. */
export function keysWithFlags(spec: CommandSpec, argv: readonly Buffer[]): KeyRef[] {
  const specs = keySpecsOf(spec)
  if (specs.length === 0) return legacyRange(spec, argv)
  const usable = specs.some((k) => !k.flags.includes('not_key'))
  const variable = specs.some((k) => k.flags.includes('variable_flags'))
  if (usable && !variable) {
    const out: KeyRef[] = []
    if (keysBySpecs(specs, argv, (pos, ks) => out.push({ pos, flags: ks.flags }))) return out
  }
  return finderKeys(spec, argv)
}
