#!/usr/bin/env node
// Regenerates src/commands/command-docs.ts, the one source of COMMAND DOCS and of COMMAND INFO's
// tips and key specs, for every command capykv's table has.
//
//   npx tsc -p tsconfig.json && node scripts/gen-command-docs.mjs <redis>/src/commands \
//     [--summaries FILE.tsv] [--notes FILE.tsv] [--history FILE.tsv] [--extra FILE.json]
//
// The facts (arguments and their structure, flags, tokens, since, group, complexity, history,
// doc flags, deprecation, tips, key specs) are read at development time from Redis 7.0.15's
// src/commands/*.json, given as the first argument; nothing of Redis is stored in this script.
// The prose is ours and is never taken from Redis: each command's summary, each key spec's
// notes and each history entry's description of the change are kept from the current data file
// (dist/src/commands/command-docs.js), or given as tab-separated files (name<TAB>summary;
// name#index<TAB>notes; name#index<TAB>change). Only the complexity, which must equal Redis's
// (clients and the differential test compare it), is taken as it is. A command the 7.0.15 files do
// not have (a documented 7.2 addition) keeps its current entry, or comes from --extra (a JSON
// file in the Redis format). The script refuses to write a command without a summary.

import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(root, 'src', 'commands', 'command-docs.ts')
const WIDTH = 100

function usage(msg) {
  console.error(`${msg}\nusage: node scripts/gen-command-docs.mjs <redis>/src/commands ` +
    '[--summaries FILE.tsv] [--notes FILE.tsv] [--history FILE.tsv] [--extra FILE.json]')
  process.exit(2)
}

const argv = process.argv.slice(2)
const jsonDir = argv[0]
if (jsonDir === undefined || !existsSync(jsonDir)) usage('the Redis commands folder is missing')
const option = (name) => {
  const i = argv.indexOf(name)
  return i < 0 ? undefined : argv[i + 1]
}

function readTsv(file) {
  const map = new Map()
  if (file === undefined) return map
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue
    const tab = line.indexOf('\t')
    if (tab < 0) usage(`${file}: no tab in ${JSON.stringify(line)}`)
    map.set(line.slice(0, tab), line.slice(tab + 1))
  }
  return map
}

// ---- what capykv has, and what we already wrote ---------------------------------------------

const { loadCommandTable } = await import(
  pathToFileURL(join(root, 'dist', 'src', 'commands', 'table.js')).href)
const table = await loadCommandTable()
const names = []
for (const spec of table.all) {
  names.push(spec.name)
  for (const sub of spec.subcommands ?? []) names.push(sub.name)
}

let current = {}
const currentFile = join(root, 'dist', 'src', 'commands', 'command-docs.js')
if (existsSync(currentFile)) {
  current = (await import(pathToFileURL(currentFile).href)).COMMAND_DOCS ?? {}
}
const summaries = readTsv(option('--summaries'))
const notes = readTsv(option('--notes'))
// name#index -> our description of that history entry's change; a kept one carries its version.
const changes = readTsv(option('--history'))
const changeSince = new Map()
for (const [name, doc] of Object.entries(current)) {
  if (!summaries.has(name)) summaries.set(name, doc.summary)
  for (const [i, [since, change]] of (doc.history ?? []).entries()) {
    if (!changes.has(`${name}#${i}`)) {
      changes.set(`${name}#${i}`, change)
      changeSince.set(`${name}#${i}`, since)
    }
  }
  for (const [i, ks] of (doc.keySpecs ?? []).entries()) {
    if (ks.notes !== undefined && !notes.has(`${name}#${i}`)) notes.set(`${name}#${i}`, ks.notes)
  }
}

// ---- Redis's JSON facts, converted ----------------------------------------------------------

const redis = new Map()
const addJson = (obj) => {
  for (const [name, c] of Object.entries(obj)) {
    if ((c.command_flags ?? []).includes('ONLY_SENTINEL')) continue
    const full = (c.container === undefined ? '' : `${c.container.toLowerCase()}|`) +
      name.toLowerCase()
    redis.set(full, c)
  }
}
for (const f of readdirSync(jsonDir)) {
  if (f.endsWith('.json')) addJson(JSON.parse(readFileSync(join(jsonDir, f), 'utf8')))
}
const extra = new Map()
if (option('--extra') !== undefined) {
  const obj = JSON.parse(readFileSync(option('--extra'), 'utf8'))
  for (const [name, c] of Object.entries(obj)) {
    const full = (c.container === undefined ? '' : `${c.container.toLowerCase()}|`) +
      name.toLowerCase()
    extra.set(full, c)
  }
}

// COMMAND INFO writes key spec flags in this order, whatever the JSON's order.
const KEY_FLAGS = [['RO', 'RO'], ['RW', 'RW'], ['OW', 'OW'], ['RM', 'RM'], ['ACCESS', 'access'],
  ['UPDATE', 'update'], ['INSERT', 'insert'], ['DELETE', 'delete'], ['NOT_KEY', 'not_key'],
  ['INCOMPLETE', 'incomplete'], ['VARIABLE_FLAGS', 'variable_flags']]
const DOC_FLAGS = [['DEPRECATED', 'deprecated'], ['SYSCMD', 'syscmd']]

function orderedFlags(flags, order) {
  for (const f of flags) {
    if (!order.some(([k]) => k === f)) throw new Error(`unknown flag ${f}`)
  }
  return order.filter(([k]) => flags.includes(k)).map(([, v]) => v)
}

// As Redis's utils/generate-command-code.py builds its table: argument names in lower case,
// tokens in upper case, an empty string or list is no field at all.
const given = (v) => v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0)

function convertArgs(args) {
  return args.map((a) => {
    const out = { name: a.name.toLowerCase(), type: a.type }
    if (a.key_spec_index !== undefined) out.keySpecIndex = a.key_spec_index
    // MIGRATE's `""` token: Redis 7.0.15's generated commands.c turns it into an empty C string,
    // so COMMAND DOCS replies an empty token.
    if (a.token === '""') out.token = ''
    else if (given(a.token)) out.token = a.token.toUpperCase()
    if (given(a.since)) out.since = a.since
    if (given(a.deprecated_since)) out.deprecatedSince = a.deprecated_since
    if (a.optional === true) out.optional = true
    if (a.multiple === true) out.multiple = true
    if (a.multiple_token === true) out.multipleToken = true
    if (a.type === 'oneof' || a.type === 'block') out.arguments = convertArgs(a.arguments ?? [])
    for (const k of Object.keys(a)) {
      if (!['name', 'type', 'key_spec_index', 'token', 'since', 'deprecated_since', 'optional',
        'multiple', 'multiple_token', 'arguments'].includes(k)) throw new Error(`argument ${k}`)
    }
    return out
  })
}

function convertKeySpec(name, ks, i) {
  const out = {}
  if (ks.notes !== undefined) {
    const ours = notes.get(`${name}#${i}`)
    if (ours === undefined) throw new Error(`${name}: key spec ${i} has notes: give ours`)
    out.notes = ours
  }
  out.flags = orderedFlags(ks.flags, KEY_FLAGS)
  const bs = ks.begin_search
  if (bs.index !== undefined) out.beginSearch = { index: bs.index.pos }
  else if (bs.keyword !== undefined) {
    out.beginSearch = { keyword: bs.keyword.keyword, startfrom: bs.keyword.startfrom }
  } else out.beginSearch = 'unknown'
  const fk = ks.find_keys
  if (fk.range !== undefined) {
    out.findKeys = { lastkey: fk.range.lastkey, keystep: fk.range.step, limit: fk.range.limit }
  } else if (fk.keynum !== undefined) {
    out.findKeys = { keynumidx: fk.keynum.keynumidx, firstkey: fk.keynum.firstkey,
      keystep: fk.keynum.step }
  } else out.findKeys = 'unknown'
  return out
}

function convert(name, c) {
  const summary = summaries.get(name)
  if (summary === undefined || summary === '') throw new Error(`${name}: no summary of ours`)
  const doc = { summary, since: c.since, group: c.group === 'sorted_set' ? 'sorted-set' : c.group }
  if (given(c.complexity)) doc.complexity = c.complexity
  if (given(c.doc_flags)) doc.docFlags = orderedFlags(c.doc_flags, DOC_FLAGS)
  if (given(c.deprecated_since)) doc.deprecatedSince = c.deprecated_since
  if (given(c.replaced_by)) doc.replacedBy = c.replaced_by
  if (given(c.history)) {
    doc.history = c.history.map(([since], i) => {
      const ours = changes.get(`${name}#${i}`)
      const kept = changeSince.get(`${name}#${i}`)
      if (ours === undefined || ours === '' || (kept !== undefined && kept !== since)) {
        throw new Error(`${name}: history ${i} (${since}): give our description of the change`)
      }
      return [since, ours]
    })
  }
  if (given(c.command_tips)) doc.tips = c.command_tips.map((t) => t.toLowerCase())
  if (given(c.key_specs)) doc.keySpecs = c.key_specs.map((ks, i) => convertKeySpec(name, ks, i))
  if (given(c.arguments)) doc.arguments = convertArgs(c.arguments)
  return doc
}

const docs = {}
for (const name of names.sort()) {
  const c = redis.get(name) ?? extra.get(name)
  if (c !== undefined) docs[name] = convert(name, c)
  else if (current[name] !== undefined) docs[name] = current[name]
  else throw new Error(`${name}: not in ${jsonDir}, no current entry, no --extra entry`)
}

// ---- readable TypeScript --------------------------------------------------------------------

const ident = (k) => /^[A-Za-z_$][\w$]*$/.test(k) ? k : `'${k}'`
const str = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

function inline(v) {
  if (typeof v === 'string') return str(v)
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`
  return `{ ${Object.entries(v).map(([k, x]) => `${ident(k)}: ${inline(x)}`).join(', ')} }`
}

/** `prefix` + value + `suffix` on one line when it fits, else one member per line. */
function block(v, indent, prefix, suffix) {
  const one = `${indent}${prefix}${inline(v)}${suffix}`
  if (one.length <= WIDTH || typeof v !== 'object') return [one]
  const inner = indent + '  '
  const lines = [`${indent}${prefix}${Array.isArray(v) ? '[' : '{'}`]
  if (Array.isArray(v)) for (const x of v) lines.push(...block(x, inner, '', ','))
  else for (const [k, x] of Object.entries(v)) lines.push(...block(x, inner, `${ident(k)}: `, ','))
  lines.push(`${indent}${Array.isArray(v) ? ']' : '}'}${suffix}`)
  return lines
}

const header = readFileSync(OUT, 'utf8').split('\n// ---- data')[0]
const body = []
body.push('// ---- data (generated by scripts/gen-command-docs.mjs; summaries and notes are ours) ----')
body.push('')
body.push('export const COMMAND_DOCS: Readonly<Record<string, CommandDoc>> = frozen({')
for (const [name, doc] of Object.entries(docs)) body.push(...block(doc, '  ', `${ident(name)}: `, ','))
body.push('})')
body.push('')
writeFileSync(OUT, `${header}\n${body.join('\n')}`)
console.log(`wrote ${OUT}: ${Object.keys(docs).length} commands`)
