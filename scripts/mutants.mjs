#!/usr/bin/env node
// `npm run mutants [-- --only ID,ID] [--jobs N] [--all] [--scale S] [--keep] [--list] [--check]`: the mutation gate (issue 12
// item 4). Each mutant below is a realistic bug in the durable path — flush order, fences,
// checksum coverage and identity binding, ring arithmetic at the wrap, head moves, reply
// release, event determinism, torn tail versus corruption — in TypeScript or in the native addon.
// Each is applied to a TEMPORARY COPY of the built tree, never to the working tree, and must be
// killed (a failing assertion, not a crash at load) by the test files listed for it; `need` of
// them for the audit's cases (issue 12: each killed by at least two files). The script fails
// when any mutant survives, and prints the table mutant → killing test files.
// How:
// - The tree (git's files, dist/, native/pmem.node) is copied to /tmp once per worker, with
//   node_modules as a symlink (never written). A TypeScript mutant edits the copy's .ts source
//   and re-emits only that file's dist .js with TypeScript's transpileModule (the project's
//   compiler options; the pristine files are first checked to transpile to exactly their
//   dist output, so the mutant's .js differs from the shipped one only by the mutation); the
//   pristine .js is written back after the mutant's run.
// - Native mutants are compiled into ONE build of the addon (mutant schemata): each mutated site
//   becomes `if crate::mutant_on("ID") { mutated } else { original }`, selected at run time by
//   CAPYKV_MUTANT, so all native mutants cost one cargo build. Unset, the build is the original.
// - Every `find` must occur exactly once in its file (a stale mutant fails the gate loudly).
// - Every test file a mutant names first runs unmutated and must pass (at the gate's scale).
// - Tests run as `node dist/test/...test.js` with TAP_BAIL=1 (stop at the first failure),
//   CAPYKV_SIM_SCALE=0.1 (--scale) and a timeout; a timeout or a pass is a survival.

import { spawn, spawnSync } from 'node:child_process'
import {
  cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

// Test files (compiled), short names.
const T = {
  boundaries: 'dist/test/sim/boundaries.test.js',
  crash: 'dist/test/sim/crash.test.js',
  random: 'dist/test/sim/crash-random.test.js',
  recovery: 'dist/test/sim/crash-recovery.test.js',
  collections: 'dist/test/sim/crash-collections.test.js',
  collectionEvents: 'dist/test/unit/collection-events.test.js',
  commands: 'dist/test/sim/crash-commands.test.js',
  faults: 'dist/test/sim/faults.test.js',
  serverCrash: 'dist/test/sim/server-crash.test.js',
  cdb: 'dist/test/unit/cdb.test.js',
  check: 'dist/test/unit/check.test.js',
  string: 'dist/test/unit/commands-string.test.js',
  durableReplies: 'dist/test/server/durable-replies.test.js',
  native: 'dist/test/unit/native.test.js',
  redundancy: 'dist/test/unit/redundancy.test.js',
  deferredVerify: 'dist/test/unit/deferred-verify.test.js',
  fallback: 'dist/test/sim/fallback.test.js',
  scrub: 'dist/test/unit/scrub.test.js',
  corruptKey: 'dist/test/server/corrupt-key.test.js',
  damagedPool: 'dist/test/process/damaged-pool.test.js',
  evict: 'dist/test/sim/crash-evict.test.js',
}

/** The native commit's four steps (pool_commit in native/lib.rs), and a mutant's reordering. */
const COMMIT_STEPS = {
  flush: '            p.region.flush(offset as usize, length as usize)?;\n',
  flushShort: '            p.region.flush(offset as usize, (length as usize).saturating_sub(8))?;\n',
  drain: '            p.region.drain();\n',
  store: '            p.region.store64(word as usize, lo as u64 | (hi as u64) << 32);\n',
  persist: '            p.region.persist(word as usize, 8)?;\n',
}
function commitSite(steps) {
  return { file: 'native/lib.rs',
    find: ['flush', 'drain', 'store', 'persist'].map((k) => COMMIT_STEPS[k]).join(''),
    replace: steps.map((k) => COMMIT_STEPS[k]).join('') }
}

/**
 * The mutants. edits: { file, find, replace } (find exactly once in file). tests: files to run,
 * in order, until `need` (default 1) of them kill the mutant. audit: the issue's audit case it
 * reproduces.
 */
const MUTANTS = [
  // --- the native commit protocol (native/lib.rs), checked through the simulator's trace ----
  {
    id: 'native-commit-no-flush', audit: 'escape: flush before the commit store removed', need: 2,
    edits: [commitSite(['drain', 'store', 'persist'])],
    tests: [T.crash, T.random, T.recovery],
  },
  {
    id: 'native-commit-no-fence', what: 'commit: no drain between the records\' flush and the store',
    edits: [commitSite(['flush', 'store', 'persist'])],
    tests: [T.crash, T.random],
  },
  {
    id: 'native-commit-word-unpersisted', what: 'commit: the commit word is stored but not persisted',
    edits: [commitSite(['flush', 'drain', 'store'])],
    tests: [T.crash, T.random],
  },
  {
    id: 'native-commit-store-first', what: 'commit: the commit word stored before the records flush',
    edits: [commitSite(['store', 'flush', 'drain', 'persist'])],
    tests: [T.crash, T.random],
  },
  {
    id: 'native-commit-flush-short', what: 'commit: the flush stops one chunk short of the range',
    edits: [commitSite(['flushShort', 'drain', 'store', 'persist'])],
    tests: [T.crash, T.random],
  },
  {
    id: 'native-persist-no-fence', what: 'persist (head move, wrap flush) without its drain',
    edits: [{ file: 'native/lib.rs',
      find: '            p.region.check_range(offset, length)?;\n' +
        '            p.region.persist(offset as usize, length as usize)?;\n',
      replace: '            p.region.check_range(offset, length)?;\n' +
        '            p.region.flush(offset as usize, length as usize)?;\n' }],
    tests: [T.recovery, T.random, T.crash],
  },
  {
    id: 'native-seal-crc-short', what: 'writeSealed: the CRC skips the record\'s last payload chunk',
    edits: [{ file: 'native/lib.rs',
      find: 'crc64::crc64(seed, &src[..body])', expr: true,
      replace: 'crc64::crc64(seed, &src[..body.saturating_sub(8)])' }],
    tests: [T.crash, T.faults],
  },
  // --- the log's commit and the ring (src/storage/log.ts, record-codec.ts) -------------------
  {
    id: 'log-commit-word-first', what: 'Log.commit stores the tail word before flushing records',
    edits: [{ file: 'src/storage/log.ts', find: 'if (this.hooks.commitBeforeFlush === true) {',
      replace: 'if (true) {' }],
    tests: [T.crash, T.random],
  },
  {
    id: 'log-commit-flush-short', what: 'Log.commit flushes one chunk short of the appended range',
    edits: [{ file: 'src/storage/log.ts',
      find: 'this.region.commit(LOG_OFFSET + from, to - from, TAIL_COPY0, word.lo, word.hi)',
      replace: 'this.region.commit(LOG_OFFSET + from, to - from - 8, TAIL_COPY0, word.lo, word.hi)' }],
    tests: [T.crash, T.random],
  },
  {
    id: 'ring-wrap-flush-short', what: 'wrapped commit: the part after the ring end flushed short by one chunk',
    edits: [{ file: 'src/storage/log.ts',
      find: '      if (to > 0) this.region.flush(LOG_OFFSET, to)\n      this.region.commit(',
      replace: '      if (to > 8) this.region.flush(LOG_OFFSET, to - 8)\n      this.region.commit(' }],
    tests: [T.random, T.recovery, T.collections, T.commands],
  },
  {
    id: 'ring-gap-off-by-one', audit: 'marginal: ring-wrap off-by-one (one seed in one file)', need: 2,
    what: 'Log.costAt swallows a gap of exactly one minimal record at the ring end',
    edits: [{ file: 'src/storage/log.ts',
      find: 'return left - total < MIN_RECORD_BYTES ? left : total',
      replace: 'return left - total <= MIN_RECORD_BYTES ? left : total' }],
    tests: [T.boundaries, T.random, T.crash, T.recovery, T.collections, T.commands],
  },
  {
    id: 'ring-full-off-by-one', what: 'Log.fits lets the log fill the whole ring (tail meets head)',
    edits: [{ file: 'src/storage/log.ts',
      find: '+ reserveBytes <\n      this.ringBytes',
      replace: '+ reserveBytes <=\n      this.ringBytes' }],
    tests: [T.boundaries, T.random, T.recovery],
  },
  {
    id: 'ring-normalize-off-by-one', what: 'recovery skips a position with exactly 24 bytes left',
    edits: [{ file: 'src/storage/record-codec.ts',
      find: 'return left < MIN_RECORD_BYTES ? lsn + left : lsn',
      replace: 'return left <= MIN_RECORD_BYTES ? lsn + left : lsn' }],
    tests: [T.boundaries, T.random, T.faults],
  },
  // --- checksums and identity ----------------------------------------------------------------
  {
    id: 'record-crc-unbound', audit: 'escape: record CRC not bound to the pool id', need: 2,
    edits: [
      { file: 'src/storage/log.ts',
        find: 'this.region.writeSealed(LOG_OFFSET + at, this.writer.buf, total, this.seed, \'blanket\')',
        replace: 'this.region.writeSealed(LOG_OFFSET + at, this.writer.buf, total, 0n, \'blanket\')' },
      { file: 'src/storage/log.ts', find: 'padRecord(this.tailLsn, this.seed, this.seq)',
        replace: 'padRecord(this.tailLsn, 0n, this.seq)' },
      { file: 'src/storage/record-codec.ts',
        find: 'crc64Seal(w.buf, 0, total - RECORD_CRC_BYTES, seed, total - RECORD_CRC_BYTES)',
        replace: 'crc64Seal(w.buf, 0, total - RECORD_CRC_BYTES, 0n, total - RECORD_CRC_BYTES)' },
      { file: 'src/storage/record-codec.ts',
        find: 'crc64Verify(bytes, 0, total - RECORD_CRC_BYTES, seed, total - RECORD_CRC_BYTES)',
        replace: 'crc64Verify(bytes, 0, total - RECORD_CRC_BYTES, 0n, total - RECORD_CRC_BYTES)' },
    ],
    tests: [T.faults, T.boundaries],
  },
  {
    // Back in the gate since 2026-12-07 (out from fe98f33): not an equivalent mutant. The CRC's
    // seed is the pool's, not the position's, so a record an earlier lap wrote at the same place
    // verifies for its own lsn; only this check refuses it in the scrub (which does not follow
    // the txn sequence) and in format 1 and 2 records (sequence 0). Since format 3 the recovery
    // walk also refuses it by the sequence chain, which is why faults and boundaries no longer kill
    // it; scrub.test and redundancy.test put an earlier lap's record of the same length in place.
    id: 'record-lsn-unchecked', need: 2,
    what: 'a record whose CRC verifies is accepted at any position (a stale record of an earlier lap)',
    edits: [{ file: 'src/storage/record-codec.ts',
      find: 'if (at !== lsn) return',
      replace: 'if (at !== lsn && false) return' }],
    tests: [T.scrub, T.redundancy],
  },
  {
    id: 'word-tag-ignored', need: 2,
    what: 'root word check ignores the tag (head and tail words interchangeable)',
    edits: [{ file: 'src/storage/cdb.ts',
      find: 'const byte = (i < 4 ? tag >>> (8 * i) : value >>> (8 * (i - 4))) & 0xff',
      replace: 'const byte = (i < 4 ? 0 : value >>> (8 * (i - 4))) & 0xff' }],
    tests: [T.cdb, T.boundaries, T.redundancy, T.faults],
  },
  {
    id: 'deferred-apply-unverified',
    what: 'the deferred index applies a pending write without verifying its record again',
    edits: [{ file: 'src/state/keyspace.ts',
      find: '    if (this.verifier !== null) {\n',
      replace: '    if (this.verifier !== null && false) {\n' }],
    tests: [T.deferredVerify, T.corruptKey],
  },
  // --- torn tail versus corruption (src/recovery/recover.ts) ---------------------------------
  {
    id: 'recover-bad-record-as-torn-tail',
    what: 'recovery ends the log at a bad committed record instead of reporting corruption',
    edits: [{ file: 'src/recovery/walk.ts',
      find: '    if (!rec.ok) {\n',
      replace: "    if (!rec.ok) {\n      log.tailLsn = lsn\n      return { kind: 'ok', result: { kind: 'ok', keyspace, log }, skipped }\n" }],
    tests: [T.faults, T.check, T.boundaries],
  },
  // --- head moves and checkpoints ------------------------------------------------------------
  {
    id: 'head-move-unflushed', what: 'Log.moveHead stores the head (and prev) words without flushing them',
    edits: [{ file: 'src/storage/log.ts',
      find: '      this.region.flush(offsets[c] as number, 8)\n',
      replace: '' }],
    tests: [T.recovery, T.random, T.crash],
  },
  {
    id: 'tail-copy1-unflushed', need: 2,
    what: 'Log.commit stores copy 1 of the tail word without flushing it',
    edits: [{ file: 'src/storage/log.ts',
      find: '    this.region.flush(TAIL_COPY1, 8)\n',
      replace: '' }],
    tests: [T.crash, T.redundancy, T.random],
  },
  {
    id: 'head-copy1-unflushed', need: 2,
    what: 'Log.moveHead flushes copy 0 of the head (and prev) word but not copy 1',
    edits: [{ file: 'src/storage/log.ts',
      find: '      this.region.flush(offsets[c] as number, 8)\n',
      replace: '      if (c === 0) this.region.flush(offsets[c] as number, 8)\n' }],
    tests: [T.random, T.redundancy, T.recovery],
  },
  {
    id: 'head-move-before-end-commit',
    what: 'a checkpoint slice moves the head before its END record is committed',
    edits: [
      { file: 'src/txn/engine.ts',
        find: '    this.flush()\n    this.checkpointer.finish()\n',
        replace: '    this.checkpointer.finish()\n    this.flush()\n' },
      { file: 'src/storage/checkpoint.ts',
        find: "    assert(!this.log.hasUncommitted, 'END must be committed before the head moves')\n",
        replace: '' },
    ],
    tests: [T.recovery, T.random, T.collections],
  },
  {
    id: 'evict-first-unlogged',
    what: 'evictions made first for a big transaction are applied and compacted but never logged',
    edits: [{ file: 'src/txn/make-room.ts',
      find: '      appended = store.appendSide(side)\n',
      replace: '      appended = true\n' }],
    tests: [T.evict],
  },
  // --- the checkpoint fallback (docs/checkpoint-fallback.md, src/recovery/walk.ts) ----------
  {
    id: 'fallback-skip-unproven', need: 2,
    what: 'a damaged record is skipped without the txn sequence proving it held no transaction',
    edits: [{ file: 'src/recovery/walk.ts',
      find: '      if (seqBefore === 0 || check.seq !== expected) {\n',
      replace: '      if (false) {\n' }],
    tests: [T.fallback, T.faults],
  },
  {
    id: 'fallback-skip-in-start-checkpoint', need: 2,
    what: 'a walk skips a damaged record of the checkpoint it starts from (before its END)',
    edits: [{ file: 'src/recovery/walk.ts',
      find: '      if (log.headCheckpointEndLsn === -2 || lsn >= proofTailLsn) {\n',
      replace: '      if (lsn === startLsn || lsn >= proofTailLsn) {\n' }],
    tests: [T.fallback, T.boundaries, T.faults],
  },
  {
    id: 'fallback-prev-ignored', need: 2,
    what: 'recovery never reads the prev word (no fallback to the previous checkpoint)',
    edits: [{ file: 'src/recovery/recover.ts',
      find: '    if (prev !== null) prevPhys = prev\n',
      replace: '    if (prev !== null) prevPhys = headPhys\n' }],
    tests: [T.fallback, T.check],
  },
  {
    id: 'fallback-space-reused',
    what: 'the ring reuses the fallback\'s space without dropping it (prev still names it)',
    edits: [{ file: 'src/storage/log.ts',
      find: '      this.dropFallback()\n',
      replace: '' }],
    tests: [T.boundaries, T.random, T.recovery],
  },
  {
    id: 'fallback-drop-unstored',
    what: 'dropping the fallback forgets prev in memory without storing the prev words',
    edits: [{ file: 'src/storage/log.ts',
      find: '    if (this.prevLsn === this.headLsn) return\n    this.storeWords(PREV_WORD_OFFSETS, PREV_TAGS, this.headLsn)\n',
      replace: '    if (this.prevLsn === this.headLsn) return\n' }],
    tests: [T.boundaries, T.random, T.recovery],
  },
  {
    id: 'fallback-mark-missing',
    what: 'a commit ends with a checkpoint record, no MARK after it (a damaged END or chunk last ' +
      'in the log)',
    edits: [{ file: 'src/storage/log.ts',
      find: '    this.sealGroup()\n',
      replace: '' }],
    tests: [T.fallback, T.damagedPool],
  },
  {
    id: 'checkpoint-drops-ttl', what: 'checkpoint chunks carry values without their expiry',
    edits: [{ file: 'src/state/core-events.ts',
      find: 'type: entry.type, expireAtMs: entry.expireAtMs, value: entry.value',
      replace: 'type: entry.type, expireAtMs: 0, value: entry.value' }],
    tests: [T.crash, T.random, T.commands],
  },
  // --- replies and event determinism ---------------------------------------------------------
  {
    id: 'reply-before-durable', what: 'afterDurable releases replies before the group commit',
    edits: [{ file: 'src/txn/engine.ts',
      find: '    if (!this.log.hasUncommitted) cb()\n    else this.callbacks.push(cb)\n',
      replace: '    cb()\n' }],
    tests: [T.durableReplies, T.serverCrash],
  },
  {
    id: 'incr-clock-ttl', audit: 'marginal: INCR logs a clock-dependent delta', need: 2,
    what: 'INCR logs the TTL left as a delta that replay resolves against the clock',
    edits: [
      { file: 'src/commands/string.ts',
        find: "putNotify(ctx, key, text, expireAtMs, created, 'incrby')",
        replace: "putNotify(ctx, key, text, expireAtMs === 0 ? 0 : ctx.nowMs - expireAtMs, created, 'incrby')" },
      { file: 'src/state/core-events.ts',
        find: 'return ks.setString(e.db, e.key, e.value, e.expireAtMs)',
        replace: 'return ks.setString(e.db, e.key, e.value, e.expireAtMs < 0 ? nowMs() - e.expireAtMs : e.expireAtMs)' },
      { file: 'src/state/core-events.ts',
        find: 'new Entry(TYPE_STRING, keptValue(e.value), e.expireAtMs, e.value.length + 2)',
        replace: 'new Entry(TYPE_STRING, keptValue(e.value), e.expireAtMs < 0 ? nowMs() - e.expireAtMs : e.expireAtMs, e.value.length + 2)' },
      { file: 'src/state/core-events.ts',
        find: "import { ByteReader, ByteWriter } from './bytes.js'\n",
        replace: "import { nowMs } from '../clock.js'\nimport { ByteReader, ByteWriter } from './bytes.js'\n" },
    ],
    tests: [T.commands, T.string, T.boundaries],
  },
  // --- wrong events that replay consistently: only an independent model sees them -----------
  {
    id: 'append-drops-ttl', what: 'APPEND logs the new value without the key\'s expiry',
    edits: [{ file: 'src/commands/string.ts',
      find: "putNotify(ctx, key, value, entry.expireAtMs, false, 'append')",
      replace: "putNotify(ctx, key, value, 0, false, 'append')" }],
    tests: [T.commands, T.string],
  },
  {
    id: 'expire-zero-ignored', what: 'an EXPIRE event removing the expiry (0) is applied as nothing',
    edits: [{ file: 'src/state/core-events.ts',
      find: 'if (entry === undefined || entry.expireAtMs === e.expireAtMs) return null',
      replace: 'if (entry === undefined || entry.expireAtMs === e.expireAtMs || e.expireAtMs === 0) return null' },
    { file: 'src/state/core-events.ts', // the same bug on a string kept in the key index
      find: 'if (previous === e.expireAtMs) return null',
      replace: 'if (previous === e.expireAtMs || e.expireAtMs === 0) return null' }],
    tests: [T.random, T.recovery],
  },
  {
    id: 'lpush-apply-reversed', what: 'the LPUSH event applies its items in reverse order',
    edits: [{ file: 'src/state/list-events.ts',
      find: '  for (const item of items) {\n    if (atHead) list.pushFront(item)',
      replace: '  for (const item of atHead ? [...items].reverse() : items) {\n    if (atHead) list.pushFront(item)' }],
    tests: [T.commands, T.collectionEvents],
  },
]

// ---------------------------------------------------------------------------------------------

function arg(name) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const only = arg('only')?.split(',')
const jobs = Number(arg('jobs') ?? 2)
const keep = process.argv.includes('--keep')
// --all: the on-demand tier. Every mutant runs against every test file listed for it (the full
// kill matrix; CI stops at the `need` first killers), and the table shows the files that did
// not kill it too.
const all = process.argv.includes('--all')
const timeoutMs = Number(arg('timeout') ?? 600) * 1000
// The simulator's work multiplier for the gate's runs (test/sim/prng.ts simScale): a mutant must
// die at a fraction of the CI scale.
const simScale = arg('scale') ?? '0.1'
const selected = only === undefined ? MUTANTS : MUTANTS.filter((m) => only.includes(m.id))

if (process.argv.includes('--list')) {
  for (const m of MUTANTS) console.log(`${m.id}\t${m.audit ?? m.what}`)
  process.exit(0)
}

function countOf(text, find) {
  return text.split(find).length - 1
}

function fail(msg) {
  console.error(`mutants: ${msg}`)
  process.exit(2)
}

// Check every mutant against the sources before anything runs (--check: only that).
for (const m of MUTANTS) {
  for (const e of m.edits) {
    const text = readFileSync(join(ROOT, e.file), 'utf8')
    const n = countOf(text, e.find)
    if (n !== 1) {
      fail(`${m.id}: the text to mutate occurs ${n} times in ${e.file} (want 1): the code it ` +
        'mutates changed, so move the mutant along (its find and replace above)')
    }
  }
  for (const f of m.tests) {
    if (!existsSync(join(ROOT, f))) fail(`${m.id}: test file ${f} not built (npm run build:ts)`)
  }
}
if (process.argv.includes('--check')) {
  console.log(`mutants: ${MUTANTS.length} mutants, every site found once`)
  process.exit(0)
}

const ts = require(join(ROOT, 'node_modules/typescript'))
const tsconfig = ts.parseJsonConfigFileContent(
  ts.readConfigFile(join(ROOT, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, ROOT)

const distOf = (file) => join('dist', file.replace(/\.ts$/, '.js'))

const { rootDir: _rootDir, ...compilerOptions } = tsconfig.options
function emit(source, file) {
  return ts.transpileModule(source, {
    compilerOptions: { ...compilerOptions, sourceMap: false, inlineSourceMap: false, module: ts.ModuleKind.ESNext },
    fileName: join(ROOT, file),
  }).outputText
}

const stripMap = (js) => js.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n').trimEnd()

// The TypeScript files the mutants touch must transpile to exactly their shipped output.
const tsFiles = [...new Set(selected.flatMap((m) => m.edits.map((e) => e.file)))]
  .filter((f) => f.endsWith('.ts'))
for (const f of tsFiles) {
  const shipped = readFileSync(join(ROOT, distOf(f)), 'utf8')
  if (stripMap(emit(readFileSync(join(ROOT, f), 'utf8'), f)) !== stripMap(shipped)) {
    fail(`${f}: transpileModule does not reproduce ${distOf(f)} (rebuild with npm run build:ts)`)
  }
}

// ---------------------------------------------------------------------------------------------
// Temporary trees.

const base = mkdtempSync(join(tmpdir(), 'capykv-mutants-'))
/** Process groups of the test runs in flight: killed if the gate itself is stopped. */
const running = new Set()
process.on('exit', () => {
  for (const pid of running) { try { process.kill(-pid, 'SIGKILL') } catch { /* gone */ } }
  if (!keep) rmSync(base, { recursive: true, force: true })
})
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130))

function makeTree(dir) {
  mkdirSync(dir, { recursive: true })
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout
    .split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)))
  for (const f of files) cpSync(join(ROOT, f), join(dir, f), { recursive: true })
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(ROOT, 'native/pmem.node'), join(dir, 'native/pmem.node'))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
}

const started = Date.now()
const workers = []
for (let i = 0; i < Math.max(1, jobs); i++) {
  const dir = join(base, `tree${i}`)
  makeTree(dir)
  workers.push(dir)
}

// The native schemata build: every native mutant in one addon, chosen by CAPYKV_MUTANT.
const nativeMutants = selected.filter((m) => m.edits.some((e) => e.file.startsWith('native/')))
/** The schemata addon's path once built (null: no native mutant selected). */
let nativeBuild = Promise.resolve(null)
if (nativeMutants.length > 0) {
  const dir = join(base, 'native-build')
  mkdirSync(dir)
  cpSync(join(ROOT, 'Cargo.toml'), join(dir, 'Cargo.toml'))
  if (existsSync(join(ROOT, 'Cargo.lock'))) cpSync(join(ROOT, 'Cargo.lock'), join(dir, 'Cargo.lock'))
  cpSync(join(ROOT, 'native'), join(dir, 'native'), { recursive: true })
  const texts = new Map()
  const read = (f) => texts.get(f) ?? readFileSync(join(dir, f), 'utf8')
  // Mutants of the same site (same file and text) become one if / else if chain.
  const sites = new Map()
  for (const m of nativeMutants) {
    for (const e of m.edits) {
      const key = `${e.file}\0${e.find}`
      sites.set(key, [...(sites.get(key) ?? []), { id: m.id, e }])
    }
  }
  for (const variants of sites.values()) {
    const { file, find } = variants[0].e
    const text = read(file)
    if (countOf(text, find) !== 1) {
      fail(`${variants[0].id}: ${file}: its site overlaps another site (use the same text)`)
    }
    const chain = variants.map(({ id, e }) => `if crate::mutant_on("${id}") {\n${e.replace}}`)
      .join(' else ')
    // A statement site becomes an if statement; an expression site (expr) an if expression.
    texts.set(file, text.replace(find, variants[0].e.expr === true ? `${chain} else { ${find} }`
      : `${chain} else {\n${find}}\n`))
  }
  texts.set('native/lib.rs', read('native/lib.rs').replace('\nmod crc64;\n',
    '\nmod crc64;\n\n/// Mutation gate only (scripts/mutants.mjs): the mutant selected by CAPYKV_MUTANT.\n' +
    'pub fn mutant_on(id: &str) -> bool {\n' +
    '    std::env::var("CAPYKV_MUTANT").map(|v| v == id).unwrap_or(false)\n}\n'))
  for (const [f, text] of texts) writeFileSync(join(dir, f), text)
  console.log(`mutants: building the native schemata (${nativeMutants.length} mutants, one build)`)
  const t0 = Date.now()
  // In the background: the unmutated runs below use the shipped addon meanwhile (the schemata
  // build with no mutant selected is the original, so they need not wait for it).
  nativeBuild = new Promise((done) => {
    const build = spawn('cargo', ['build', '--release', '--quiet'], {
      cwd: dir, stdio: 'inherit', env: { ...process.env, CARGO_TARGET_DIR: join(dir, 'target') },
    })
    build.on('close', (code) => {
      if (code !== 0) fail('the native schemata build failed')
      console.log(`mutants: native build ${((Date.now() - t0) / 1000).toFixed(0)} s`)
      done(join(dir, 'target/release/libcapykv_pmem.so'))
    })
  })
}

// ---------------------------------------------------------------------------------------------
// Running.

function runTest(dir, file, env) {
  return new Promise((done) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [file], {
      cwd: dir,
      env: { ...process.env, CAPYKV_SIM_SCALE: simScale, ...env, TAP_BAIL: '1', TAP_TIMEOUT: '0',
        CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    })
    running.add(child.pid)
    let out = ''
    // The first failed assertion's line, kept apart from the tail: a long failure message after
    // it (a PoWER violation's state diff, tens of KB) would push it out of the tail.
    let firstFailure = null
    const keepTail = (b) => {
      const joined = out.slice(-2000) + b.toString()
      out = (out + b.toString()).slice(-20000)
      firstFailure ??= joined.match(/^\s*not ok \d+ - ((?!timeout!).*)$/m)?.[1] ?? null
    }
    child.stdout.on('data', keepTail)
    child.stderr.on('data', keepTail)
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      try { process.kill(-child.pid, 'SIGKILL') } catch { /* gone */ }
    }, timeoutMs)
    child.on('close', (code) => {
      running.delete(child.pid)
      clearTimeout(timer)
      // A failed assertion kills; tap's own timeout (or a crash at load) does not.
      const killed = !timedOut && code !== 0 && firstFailure !== null
      const why = killed ? (firstFailure ?? '').slice(0, 100)
        : timedOut ? 'timeout' : code === 0 ? 'passed' : `exit ${code} without a failed assertion`
      done({ killed, why, seconds: (Date.now() - t0) / 1000, tail: out.slice(-1500) })
    })
  })
}

async function runMutant(m, dir) {
  const saved = []
  const result = { id: m.id, killers: [], spared: [], ran: [], need: m.need ?? 1 }
  try {
    const tsEdits = m.edits.filter((e) => e.file.endsWith('.ts'))
    const byFile = new Map()
    for (const e of tsEdits) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e])
    for (const [file, edits] of byFile) {
      let text = readFileSync(join(dir, file), 'utf8')
      for (const e of edits) text = text.replace(e.find, e.replace)
      const js = join(dir, distOf(file))
      saved.push([js, readFileSync(js, 'utf8')])
      writeFileSync(js, emit(text, file))
      const syntax = spawnSync(process.execPath, ['--check', js], { encoding: 'utf8' })
      if (syntax.status !== 0) throw new Error(`${m.id}: ${file} does not parse: ${syntax.stderr}`)
    }
    const env = m.edits.some((e) => e.file.startsWith('native/')) ? { CAPYKV_MUTANT: m.id } : {}
    for (const f of m.tests) {
      if (!all && result.killers.length >= result.need) break
      const r = await runTest(dir, f, { ...env, ...(m.env ?? {}) })
      result.ran.push(`${f.replace(/^dist\/test\//, '')} ${r.killed ? 'KILLED' : r.why} ` +
        `(${r.seconds.toFixed(0)} s)`)
      if (r.killed) result.killers.push(`${f.replace(/^dist\/test\//, '')}: ${r.why}`)
      else result.spared.push(f.replace(/^dist\/test\//, ''))
      if (!r.killed && process.env.MUTANTS_VERBOSE === '1') console.log(r.tail)
    }
  } finally {
    for (const [js, text] of saved) writeFileSync(js, text)
  }
  return result
}

// Every test file must pass unmutated at the gate's scale, or its failures would kill mutants.
{
  const files = [...new Set(selected.flatMap((m) => m.tests))]
  const broken = []
  await Promise.all(workers.map(async (dir) => {
    for (let f = files.shift(); f !== undefined; f = files.shift()) {
      // A file that fails unmutated is run once more, and both failures are reported: CI saw one
      // unmutated failure that a rerun did not repeat (a flake must not fail the gate, and a
      // file that fails twice is broken). Mutants themselves are never retried.
      let r = await runTest(dir, f, {})
      if (r.why !== 'passed') {
        const first = `${f}: ${r.why}\n${r.tail}`
        r = await runTest(dir, f, {})
        if (r.why !== 'passed') broken.push(`${first}\n(again) ${f}: ${r.why}\n${r.tail}`)
        else console.log(`mutants: ${f} failed once unmutated and passed when rerun:\n${first}`)
      }
    }
  }))
  if (broken.length > 0) fail(`test files fail without a mutant:\n${broken.join('\n')}`)
  console.log(`mutants: the ${new Set(selected.flatMap((m) => m.tests)).size} test files pass ` +
    `unmutated (${((Date.now() - started) / 1000).toFixed(0)} s so far)`)
}

{
  const addon = await nativeBuild
  if (addon !== null) for (const w of workers) cpSync(addon, join(w, 'native/pmem.node'))
}

const queue = [...selected]
const results = []
await Promise.all(workers.map(async (dir) => {
  for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
    const r = await runMutant(m, dir)
    const ok = r.killers.length >= r.need
    console.log(`${ok ? 'killed  ' : 'SURVIVED'} ${m.id}: ${r.ran.join('; ')}`)
    results.push({ m, r, ok })
  }
}))

// ---------------------------------------------------------------------------------------------

results.sort((a, b) => MUTANTS.indexOf(a.m) - MUTANTS.indexOf(b.m))
console.log(`\n| mutant | bug | killed by (first failure) |${all ? ' not killed by |' : ''}`)
console.log(`|---|---|---|${all ? '---|' : ''}`)
const cell = (s) => s.replace(/\|/g, '\\|')
for (const { m, r, ok } of results) {
  console.log(`| ${m.id}${m.audit !== undefined ? ' (audit)' : ''} | ${cell(m.audit ?? m.what)} | ` +
    `${cell(ok ? r.killers.join('; ') : `SURVIVED (${r.killers.length}/${r.need}): ${r.ran.join('; ')}`)} |` +
    `${all ? ` ${r.spared.join(', ') || '—'} |` : ''}`)
}
const survivors = results.filter((x) => !x.ok)
console.log(`\nmutants: ${results.length} run, ${results.length - survivors.length} killed, ` +
  `${survivors.length} survived, ${((Date.now() - started) / 1000).toFixed(0)} s`)
process.exitCode = survivors.length === 0 ? 0 : 1
