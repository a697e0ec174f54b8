// Issue 10: command-docs.ts is the one source of COMMAND DOCS and of COMMAND INFO's tips and key
// specs; these checks keep it in step with the command table without a server (the comparison
// with redis-server 7.0.15 is test/server/command-docs.test.ts):
// - every command and subcommand of the table has an entry, and every entry a command;
// - each argument's key_spec_index names a key spec (not every key spec is an argument's: the
//   shard channel of SPUBLISH is none), and only oneof and block arguments nest;
// - the table's legacy first/last/step and its movablekeys flag are what Redis derives from
//   the key specs (server.c populateCommandLegacyRangeSpec), so COMMAND INFO agrees with itself;
// - the summaries are ours: one line each.

import t from 'tap'
import { COMMAND_DOCS, type ArgDoc, type KeySpec } from '../../src/commands/command-docs.js'
import type { CommandSpec } from '../../src/commands/spec.js'
import { loadCommandTable } from '../../src/commands/table.js'

async function allSpecs(): Promise<CommandSpec[]> {
  const table = await loadCommandTable()
  const out: CommandSpec[] = []
  for (const spec of table.all) {
    out.push(spec)
    for (const sub of spec.subcommands ?? []) out.push(sub)
  }
  return out
}

t.test('every command of the table has docs, and every docs entry a command', async (t) => {
  const names = (await allSpecs()).map((s) => s.name).sort()
  t.same(names.filter((n) => COMMAND_DOCS[n] === undefined), [], 'commands without docs')
  t.same(Object.keys(COMMAND_DOCS).filter((n) => !names.includes(n)), [], 'docs of no command')
})

/** The key spec indexes the arguments name; `badNesting` gets arguments nested wrongly. */
function keySpecIndexes(args: readonly ArgDoc[], badNesting: string[], out: number[] = []):
  number[] {
  for (const a of args) {
    if (a.keySpecIndex !== undefined) out.push(a.keySpecIndex)
    keySpecIndexes(a.arguments ?? [], badNesting, out)
    if ((a.arguments !== undefined) !== (a.type === 'oneof' || a.type === 'block')) {
      badNesting.push(a.name)
    }
  }
  return out
}

t.test('arguments name existing key specs; only oneof and block nest', async (t) => {
  for (const [name, doc] of Object.entries(COMMAND_DOCS)) {
    const badNesting: string[] = []
    const used = new Set(keySpecIndexes(doc.arguments ?? [], badNesting))
    t.same(badNesting, [], `${name}: nested arguments exactly for oneof and block`)
    const specs = doc.keySpecs ?? []
    t.same([...used].filter((i) => i < 0 || i >= specs.length), [], `${name}: indexes in range`)
  }
})

/** populateCommandLegacyRangeSpec: [first, last, step] and whether keys are movable. */
function legacyRange(specs: readonly KeySpec[]):
  { range: [number, number, number]; movable: boolean } {
  const plain = (ks: KeySpec): ks is KeySpec & { beginSearch: { index: number },
    findKeys: { lastkey: number; keystep: number } } =>
    ks.beginSearch !== 'unknown' && 'index' in ks.beginSearch &&
    ks.findKeys !== 'unknown' && 'lastkey' in ks.findKeys
  if (specs.length === 0) return { range: [0, 0, 0], movable: false }
  const only = specs[0] as KeySpec
  if (specs.length === 1 && plain(only)) {
    const first = only.beginSearch.index
    const last = only.findKeys.lastkey
    return {
      range: [first, last >= 0 ? last + first : last, only.findKeys.keystep],
      movable: only.flags.includes('incomplete'),
    }
  }
  let movable = false
  let first = Number.MAX_SAFE_INTEGER
  let last = 0
  let prevLast = 0
  for (const ks of specs) {
    if (!plain(ks)) {
      movable = true
      continue
    }
    if (ks.findKeys.keystep !== 1 || (prevLast !== 0 && prevLast !== ks.beginSearch.index - 1)) {
      movable = true
      continue
    }
    if (ks.flags.includes('incomplete')) movable = true
    first = Math.min(first, ks.beginSearch.index)
    const abs = ks.findKeys.lastkey >= 0 ? ks.findKeys.lastkey + ks.beginSearch.index
      : ks.findKeys.lastkey
    // Redis compares as unsigned: a negative (count from the end) wins.
    last = (abs >>> 0) > (last >>> 0) ? abs : last
    prevLast = last
  }
  if (first === Number.MAX_SAFE_INTEGER) return { range: [0, 0, 0], movable: true }
  return { range: [first, last, 1], movable }
}

t.test('the legacy key range and movablekeys agree with the key specs', async (t) => {
  for (const spec of await allSpecs()) {
    const doc = COMMAND_DOCS[spec.name]
    if (doc === undefined) continue
    const derived = legacyRange(doc.keySpecs ?? [])
    t.same([spec.firstKey, spec.lastKey, spec.step], derived.range, `${spec.name}: first/last/step`)
    t.equal(spec.flags.includes('movablekeys'), derived.movable, `${spec.name}: movablekeys`)
  }
})

t.test('summaries are ours: one line each, without Redis\'s wording of a container', async (t) => {
  for (const [name, doc] of Object.entries(COMMAND_DOCS)) {
    t.ok(doc.summary.length > 0 && doc.summary.length <= 120 && !doc.summary.includes('\n'),
      `${name}: one line`)
    t.notMatch(doc.summary, /^A container for /, `${name}: in our words`)
  }
})
