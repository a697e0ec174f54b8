// Style and structure rules, checked by a test instead of by review (STYLE §2.15; TigerBeetle's
// src/tidy.zig is the model). It reads the TypeScript sources of src/ (not the compiled output)
// with the TypeScript parser and fails on:
// - an import in src/ that runs upward in the layer map, or from a file the map does not place.
//   The map is the ```layers block of docs/ARCHITECTURE.md, parsed here: that block is the one
//   authority, and a new folder gets its line there in the commit that creates it;
// - a cycle among src/'s runtime imports (an `import type` is erased by tsc, so it closes no
//   cycle at run time; it still has to respect the layers);
// - a file of src/ over MAX_FILE_LINES lines, or a function over MAX_FUNCTION_LINES lines,
//   unless LONG_FILES / LONG_FUNCTIONS below names it with the reason it is long;
// - Node's private API (`_handle`, process.binding) outside the files that own it
//   (PRIVATE_API_FILES);
// - an allow-list entry that no longer matches anything (allow-lists only shrink by hand
//   otherwise);
// - bench/results/ in git holding more than the latest run of each benchmark (older raw runs
//   belong in a release artifact or nowhere), or README.md / docs/*.md naming a file under
//   bench/results/ that is not there;
// - a mutant of the mutation gate (scripts/mutants.mjs --check) whose code is gone: a refactor
//   of a mutated line must move its mutant along (docs/mutants.md), or CI's gate fails.
// Each failure message says how to fix it.

import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), '..', '..'))
const MAP_DOC = 'docs/ARCHITECTURE.md'

export const MAX_FILE_LINES = 600
export const MAX_FUNCTION_LINES = 70

/** Files of src/ allowed over MAX_FILE_LINES, each with the reason. */
const LONG_FILES: Readonly<Record<string, string>> = {
  'src/commands/zset.ts': 'its subject is long: 35 sorted-set commands share range/score parsing',
  'src/resp/reader.ts': 'its subject is long: one incremental parser (multibulk, inline, limits)',
  'src/resp/writer.ts': 'its subject is long: every RESP2/RESP3 reply type and its encoder',
  'src/state/key-table.ts': 'its subject is long: one table (columns, incremental growth, scan, sampling, invariant check)',
  'src/commands/server-admin.ts': 'open (issue 11): split INFO sections, CONFIG, DEBUG, CLIENT',
  'src/commands/dispatch.ts': 'open (issue 11): split dispatch, MULTI queueing and stats',
  'src/server.ts': 'open (issue 11): split socket adoption, connection and server lifecycle',
  'src/commands/string.ts': 'open: the SET family and the GETEX/GETDEL/bit-free string commands',
  'src/recovery/check.ts': 'open: verification, the report and the prefix salvage in one CLI core',
  'src/server-config.ts': "its subject is long: Redis 7.0.15's config catalogue, as data",
  'src/commands/command-docs.ts':
    'its subject is long: COMMAND DOCS/INFO facts of all 240 commands and subcommands, as data',
  'src/commands/scripting.ts': 'open: EVAL/EVALSHA, SCRIPT, FUNCTION and FCALL in one file: split',
}

/** Functions of src/ allowed over MAX_FUNCTION_LINES ('path#name'), each with the reason. */
const LONG_FUNCTIONS: Readonly<Record<string, string>> = {
  'src/commands/stream.ts#addTrimArgsOrReply':
    "streamParseAddOrTrimArgsOrReply's one option loop, kept whole so its order of errors is Redis's",
  'src/commands/stream-read.ts#readArgsOrReply':
    "xreadCommand's option loop and per-stream key/id checks, kept whole for Redis's error order",
  'src/commands/stream-group.ts#xautoclaim':
    "xautoclaimCommand's scan of the PEL with its attempts and count budget, one loop as Redis's",
  'src/recovery/walk.ts#walkLog':
    'the record walk is one generator (it yields progress) whose position, skip and sequence ' +
    'state live in locals; the per-kind replay is replayRecord',
  'src/recovery/check.ts#runCli': 'open: argument parsing, the report and --repair in one entry',
  'src/storage/checkpoint.ts#Checkpointer.step':
    'open (72 lines since function libraries joined checkpoints): move the END record out',
}

/**
 * The files that may touch Node's private API, each with the pattern it uses: pinned to Node 20
 * by `engines` (`_handle` of sockets; the tcp_wrap binding's handles, bound synchronously).
 */
const PRIVATE_API_FILES: ReadonlyMap<string, RegExp> = new Map([
  ['src/server.ts', /\b_handle\b/],
  ['src/server-listen.ts', /\.binding\('tcp_wrap'\)/],
])
/** What counts as Node's private API in any file of src/. */
const PRIVATE_API = /\b_handle\b|\bprocess\b[\s\S]{0,80}\.binding\(|\binternalBinding\(/

/** Imports allowed to run against the layer map ('from -> to'), each with the reason. */
const UPWARD_IMPORTS: Readonly<Record<string, string>> = {}

// ---- the layer map ---------------------------------------------------------------------------

interface LayerMap {
  /** Path prefixes ('src/state/') and files ('src/main.ts') with their layer number. */
  readonly entries: ReadonlyArray<{ readonly path: string; readonly layer: number }>
}

/** Parse the ```layers block: lines `L<n> path path …`, `#` comments; a line may repeat a layer. */
export function parseLayerMap(markdown: string): LayerMap {
  const block = /^```layers\n([\s\S]*?)^```/m.exec(markdown)
  if (block?.[1] === undefined) throw new Error(`${MAP_DOC} has no \`\`\`layers block`)
  const entries: Array<{ path: string; layer: number }> = []
  for (const raw of block[1].split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') continue
    const [head, ...paths] = line.split(/\s+/)
    const m = /^L(\d+)$/.exec(head ?? '')
    if (m?.[1] === undefined || paths.length === 0) {
      throw new Error(`${MAP_DOC} layers block: cannot read '${raw}' (want: L<n> path…)`)
    }
    for (const path of paths) entries.push({ path, layer: Number(m[1]) })
  }
  return { entries }
}

/** The layer of a file: its longest matching entry (a file entry, or a folder ending in '/'). */
export function layerOf(map: LayerMap, file: string): number | undefined {
  let best: { path: string; layer: number } | undefined
  for (const e of map.entries) {
    const hit = e.path.endsWith('/') ? file.startsWith(e.path) : file === e.path
    if (hit && (best === undefined || e.path.length > best.path.length)) best = e
  }
  return best?.layer
}

// ---- reading the sources ---------------------------------------------------------------------

function sourceFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(join(ROOT, dir)).sort()) {
    const path = `${dir}/${name}`
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sourceFiles(path))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

interface Import {
  readonly target: string
  readonly typeOnly: boolean
  readonly line: number
}

interface FunctionSpan {
  readonly name: string
  readonly line: number
  readonly lines: number
}

interface Source {
  readonly path: string
  readonly lines: number
  readonly imports: readonly Import[]
  readonly functions: readonly FunctionSpan[]
  readonly text: string
}

function resolveRelative(from: string, specifier: string): string {
  const target = normalize(join(dirname(from), specifier)).replace(/\.js$/, '.ts')
  return relative(ROOT, join(ROOT, target)).split('\\').join('/')
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause
  if (clause === undefined) return false // `import './x.js'`: a side effect, at run time
  if (clause.isTypeOnly) return true
  if (clause.name !== undefined) return false
  const bindings = clause.namedBindings
  if (bindings === undefined || !ts.isNamedImports(bindings)) return false
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)
}

function functionName(node: ts.Node): string {
  const named = node as ts.Node & { name?: ts.Node }
  let name = named.name !== undefined ? named.name.getText() : undefined
  if (ts.isConstructorDeclaration(node)) name = 'constructor'
  const parent = node.parent
  if (name === undefined && ts.isVariableDeclaration(parent)) name = parent.name.getText()
  if (name === undefined && ts.isPropertyAssignment(parent)) name = parent.name.getText()
  if (name === undefined && ts.isPropertyDeclaration(parent)) name = parent.name.getText()
  const owner = ts.isClassLike(parent) && parent.name !== undefined ? `${parent.name.text}.` : ''
  return `${owner}${name ?? '<anonymous>'}`
}

function readSource(path: string): Source {
  const text = readFileSync(join(ROOT, path), 'utf8')
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS)
  const imports: Import[] = []
  const functions: FunctionSpan[] = []
  const lineOf = (pos: number): number => file.getLineAndCharacterOfPosition(pos).line + 1
  const addImport = (specifier: ts.Expression, typeOnly: boolean, node: ts.Node): void => {
    if (!ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) return
    imports.push({
      target: resolveRelative(path, specifier.text), typeOnly, line: lineOf(node.getStart()),
    })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) addImport(node.moduleSpecifier, isTypeOnlyImport(node), node)
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined) {
      addImport(node.moduleSpecifier, node.isTypeOnly, node)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0]
      if (arg !== undefined) addImport(arg, false, node)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      addImport(node.argument.literal as ts.Expression, true, node)
    }
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const first = lineOf(node.getStart())
      functions.push({ name: functionName(node), line: first, lines: lineOf(node.end) - first + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  const lines = text.endsWith('\n') ? text.split('\n').length - 1 : text.split('\n').length
  return { path, lines, imports, functions, text }
}

// ---- the checks ------------------------------------------------------------------------------

const map = parseLayerMap(readFileSync(join(ROOT, MAP_DOC), 'utf8'))
const sources = sourceFiles('src').map(readSource)
const byPath = new Map(sources.map((s) => [s.path, s]))

const HOW_TO_PLACE =
  `add the file, or its folder ending in '/', to a line of the \`\`\`layers block in ${MAP_DOC} ` +
  '(the lowest layer whose files it needs: a folder of command handlers sits with ' +
  'src/commands/, a helper the server alone uses with src/server.ts), and say there what it holds'

t.test(`the layer map in ${MAP_DOC} places every file of src/, and names no missing file`, (t) => {
  for (const s of sources) {
    if (layerOf(map, s.path) === undefined) t.fail(`${s.path} is in no layer: ${HOW_TO_PLACE}`)
  }
  for (const e of map.entries) {
    if (!e.path.startsWith('src/')) t.fail(`${MAP_DOC} layers: '${e.path}' is not under src/`)
    // A folder may be listed before it exists (a feature under way); a file must exist.
    if (!e.path.endsWith('/') && !byPath.has(e.path)) {
      t.fail(`${MAP_DOC} layers: ${e.path} does not exist: remove or rename it there`)
    }
  }
  t.ok(map.entries.length > 0, 'the map has entries')
  t.end()
})

t.test('every import in src/ runs downhill (same layer or lower) to a file that exists', (t) => {
  const used = new Set<string>()
  let checked = 0
  for (const s of sources) {
    const from = layerOf(map, s.path)
    for (const imp of s.imports) {
      checked++
      const where = `${s.path}:${imp.line}`
      if (!byPath.has(imp.target)) {
        t.fail(`${where} imports ${imp.target}, which is not a source file of src/ ` +
          '(src/ must not import test/, bench/ or compiled output)')
        continue
      }
      const to = layerOf(map, imp.target)
      if (from === undefined || to === undefined || to <= from) continue
      const key = `${s.path} -> ${imp.target}`
      if (UPWARD_IMPORTS[key] !== undefined) {
        used.add(key)
        continue
      }
      t.fail(`${where} imports ${imp.target}: L${from} -> L${to} runs upward in ${MAP_DOC}. ` +
        'Move what is shared down to the lower layer (or the importing code up), or, if the map ' +
        `is what is wrong, change the map there; as a last resort add '${key}' with its ` +
        'reason to UPWARD_IMPORTS in test/tidy.test.ts')
    }
  }
  for (const key of Object.keys(UPWARD_IMPORTS)) {
    if (!used.has(key)) t.fail(`UPWARD_IMPORTS['${key}'] matches no import: remove the entry`)
  }
  t.ok(checked > 100, `${checked} imports checked`)
  t.end()
})

/** Cycles among runtime imports, each as a path a -> b -> … -> a (Tarjan's SCCs). */
export function runtimeCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const connect = (v: string): void => {
    index.set(v, next)
    low.set(v, next)
    next++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0))
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    for (;;) {
      const w = stack.pop()
      if (w === undefined) break
      onStack.delete(w)
      component.push(w)
      if (w === v) break
    }
    const selfLoop = (graph.get(v) ?? []).includes(v)
    if (component.length > 1 || selfLoop) cycles.push(component.reverse())
  }
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v)
  return cycles
}

t.test('the runtime imports of src/ form no cycle', (t) => {
  const graph = new Map<string, string[]>()
  for (const s of sources) {
    graph.set(s.path, s.imports.filter((i) => !i.typeOnly && byPath.has(i.target)).map((i) => i.target))
  }
  for (const cycle of runtimeCycles(graph)) {
    t.fail(`import cycle among ${cycle.join(', ')}: module initialisation order then depends on ` +
      'which file is loaded first. Move what they share into a file both import, or make the ' +
      "import that closes the circle `import type` if it only needs types")
  }
  t.end()
})

t.test(`no file of src/ over ${MAX_FILE_LINES} lines without a reason`, (t) => {
  for (const s of sources) {
    const listed = LONG_FILES[s.path] !== undefined
    if (s.lines > MAX_FILE_LINES && !listed) {
      t.fail(`${s.path} has ${s.lines} lines (limit ${MAX_FILE_LINES}): split it by concern, or ` +
        'add it to LONG_FILES in test/tidy.test.ts with the reason its subject needs the length')
    }
  }
  for (const path of Object.keys(LONG_FILES)) {
    const s = byPath.get(path)
    if (s === undefined || s.lines <= MAX_FILE_LINES) {
      t.fail(`LONG_FILES['${path}']: the file ${s === undefined ? 'is gone' : `has ${s.lines} lines`}` +
        ': remove the entry')
    }
  }
  t.end()
})

t.test(`no function of src/ over ${MAX_FUNCTION_LINES} lines without a reason`, (t) => {
  const used = new Set<string>()
  let functions = 0
  for (const s of sources) {
    for (const f of s.functions) {
      functions++
      if (f.lines <= MAX_FUNCTION_LINES) continue
      const key = `${s.path}#${f.name}`
      if (LONG_FUNCTIONS[key] !== undefined) {
        used.add(key)
        continue
      }
      t.fail(`${s.path}:${f.line} ${f.name} has ${f.lines} lines (limit ${MAX_FUNCTION_LINES}): ` +
        `split it, or add '${key}' to LONG_FUNCTIONS in test/tidy.test.ts with the reason`)
    }
  }
  for (const key of Object.keys(LONG_FUNCTIONS)) {
    if (!used.has(key)) t.fail(`LONG_FUNCTIONS['${key}'] matches no long function: remove the entry`)
  }
  t.ok(functions > 500, `${functions} functions measured`)
  t.end()
})

t.test('Node private API (_handle, process.binding) is used only where allowed', (t) => {
  for (const s of sources) {
    if (PRIVATE_API.test(s.text) && !PRIVATE_API_FILES.has(s.path)) {
      t.fail(`${s.path} uses Node's private API (_handle or process.binding): keep it in ` +
        `${[...PRIVATE_API_FILES.keys()].join(', ')} (package.json pins Node 20 for it) and call that`)
    }
  }
  for (const [path, pattern] of PRIVATE_API_FILES) {
    const s = byPath.get(path)
    if (s === undefined || !pattern.test(s.text)) {
      t.fail(`PRIVATE_API_FILES names ${path}, which does not use ${String(pattern)}: update the entry`)
    }
  }
  t.end()
})

/** Timestamped result files of one benchmark: at most one of each may be in git. */
export const RESULT_SERIES: ReadonlyArray<{ readonly name: string; readonly pattern: RegExp }> = [
  { name: 'npm run bench', pattern: /^\d{4}-\d\d-\d\dT[\d-]+Z\.json$/ },
  { name: 'bench:recovery-compare', pattern: /^recovery-compare-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/ },
]

const git = spawnSync('git', ['ls-files', 'bench/results'], { cwd: ROOT, encoding: 'utf8' })
// A source tree without git (an unpacked tarball) has no history to keep small.
const noGit = git.status === 0 ? false
  : `git ls-files failed (${git.stderr.trim() || String(git.error?.message)}): not a git checkout`

t.test('bench/results/ in git keeps only the latest run of each benchmark', { skip: noGit }, (t) => {
  const tracked = git.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('/').pop() ?? l)
  for (const series of RESULT_SERIES) {
    const runs = tracked.filter((f) => series.pattern.test(f)).sort()
    if (runs.length > 1) {
      t.fail(`bench/results/ keeps ${runs.length} runs of ${series.name}: keep the newest ` +
        `(${runs[runs.length - 1]}) and git rm ${runs.slice(0, -1).join(', ')}; the README ` +
        'cites the one it reports')
    }
  }
  t.end()
})

t.test('every bench/results/ file named in README.md and docs/ exists', (t) => {
  const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)]
  let named = 0
  for (const doc of docs) {
    const text = readFileSync(join(ROOT, doc), 'utf8')
    for (const m of text.matchAll(/bench\/results\/([\w.-]+\.(?:json|md|svg|png))/g)) {
      named++
      if (!existsSync(join(ROOT, 'bench', 'results', m[1] ?? ''))) {
        t.fail(`${doc} names bench/results/${m[1]}, which is not there: point it at the run kept`)
      }
    }
  }
  t.ok(named > 0, `${named} references checked`)
  t.end()
})

// The checks above must be able to fail: each is run once on a made-up input.
t.test('every mutant of the mutation gate still finds its code (npm run mutants -- --check)',
  (t) => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/mutants.mjs'), '--check'],
      { cwd: ROOT, encoding: 'utf8' })
    t.equal(r.status, 0, `${r.stdout}${r.stderr}`.trim() + (r.status === 0 ? '' : ' — the code ' +
      'a mutant edits changed: update its find/replace in scripts/mutants.mjs (docs/mutants.md)'))
    t.end()
  })

t.test('the checks catch what they are for (made-up inputs)', (t) => {
  const m = parseLayerMap('x\n```layers\n# c\nL0 src/a/\nL1 src/b/ src/b/c.ts\nL0 src/b/low.ts\n```\n')
  t.equal(layerOf(m, 'src/a/x.ts'), 0)
  t.equal(layerOf(m, 'src/b/c.ts'), 1)
  t.equal(layerOf(m, 'src/b/low.ts'), 0, 'the longest entry wins')
  t.equal(layerOf(m, 'src/z.ts'), undefined, 'an unplaced file has no layer')
  t.throws(() => parseLayerMap('no block'), /no ```layers block/)
  t.throws(() => parseLayerMap('```layers\nX1 src/\n```\n'), /cannot read/)
  const cyclic = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']], ['e', ['e']]])
  t.same(runtimeCycles(cyclic).map((c) => [...c].sort()), [['a', 'b', 'c'], ['e']])
  t.same(runtimeCycles(new Map([['a', ['b']], ['b', []]])), [])
  const probe = readSource('test/tidy.test.ts')
  t.ok(probe.functions.some((f) => f.name === 'readSource' && f.lines > 10), 'functions measured')
  t.ok(probe.imports.length === 0, 'bare specifiers are not project imports')
  const [compare, recovery] = RESULT_SERIES
  t.ok(compare?.pattern.test('2026-11-24T14-14-18-143Z.json'), 'a compare run is recognised')
  t.notOk(compare?.pattern.test('latest.md'), 'latest.md is no run')
  t.ok(recovery?.pattern.test('recovery-compare-2026-11-24T13-11-51-646Z.json'))
  t.end()
})
