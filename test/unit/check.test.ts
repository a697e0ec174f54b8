// capykv-check (src/recovery/check.ts, bin check-cli.ts): the report of a clean pool, a flipped
// byte in a committed record reported with its offset and lsn (exit 1), --repair writing a new
// pool that opens with exactly the prefix state (exit 4) and leaving the damaged pool untouched,
// the lost-commit count (exact, and "at least" when more is damaged), and every refusal: output
// exists, no confirmation (non-terminal, or "no" on the terminal), every header copy destroyed,
// damage inside the head checkpoint, every tail word copy damaged, clean pool, not a pool, usage
// errors. Damage to ONE redundant copy and files of the wrong length: test/unit/redundancy.test.ts.
// Invariants: pools live in a temp dir on /dev/shm removed at teardown; the expected prefix state
// is computed by applying the same events to a fresh Keyspace (never by the code under test).

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync,
  closeSync, readSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  checkPool, EXIT_CLEAN, EXIT_DAMAGED, EXIT_NOT_A_POOL, EXIT_REPAIRED, EXIT_USAGE, FileRegionReader,
  runCli, type CheckReport,
} from '../../src/recovery/check.js'
import { canonical } from '../../src/state/canonical.js'
import { EV_DEL, EV_PUT } from '../../src/state/core-events.js'
import { applyEvents, type Event } from '../../src/state/event.js'
import { Keyspace } from '../../src/state/keyspace.js'
import {
  HEADER_OFFSETS, LOG_OFFSET, TAIL_WORD_OFFSET, TAIL_WORD_OFFSETS,
} from '../../src/storage/layout.js'
import {
  checkRecord, claimedPayloadBytes, normalizeLsn, REC_CKPT_CHUNK, REC_CKPT_END, REC_PAD, REC_TXN,
  RECORD_HEADER_BYTES, recordBytes,
} from '../../src/storage/record-codec.js'
import { recover } from '../../src/recovery/recover.js'
import { Store } from '../../src/txn/engine.js'

const here = dirname(fileURLToPath(import.meta.url))
const cliScript = join(here, '..', '..', 'src', 'recovery', 'check-cli.js')
const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'capykv-check-test-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let serial = 0
const fresh = (name: string): string => {
  const d = join(dir, `${serial++}`)
  mkdirSync(d)
  return join(d, name)
}

const POOL_BYTES = 1024 * 1024
const put = (db: number, key: string, value: string): Event =>
  ({ code: EV_PUT, db, key, value: Buffer.from(value), expireAtMs: 0 } as Event)
const del = (db: number, key: string): Event => ({ code: EV_DEL, db, key } as Event)

/** Transactions: txn i puts k<i> in db i % 3 and, from the third on, deletes an older key. */
function workload(n: number): Event[][] {
  return Array.from({ length: n }, (_, i) => [
    put(i % 3, `k${i}`, `value-${i}-${'x'.repeat(i % 7)}`),
    ...(i >= 3 && i % 4 === 0 ? [del((i - 3) % 3, `k${i - 3}`)] : []),
  ])
}

function stateAfter(txns: Event[][], count: number): string {
  const ks = new Keyspace()
  for (const events of txns.slice(0, count)) applyEvents(ks, events)
  return canonical(ks)
}

/** Write a pool holding `txns` (one group commit each); optionally checkpoint after `ckptAt`. */
async function makePool(path: string, txns: Event[][], ckptAt = -1, keepFallback = true): Promise<void> {
  const store = await Store.open(path, { sizeBytes: POOL_BYTES, groupCommit: 'manual', autoCheckpoint: false })
  for (const [i, events] of txns.entries()) {
    const txn = store.begin()
    for (const e of events) txn.apply(e)
    txn.commitNoWait()
    store.flush()
    if (i === ckptAt) t.ok(store.checkpointNow(), 'checkpoint written')
    if (i === ckptAt && !keepFallback) store.log.dropFallback()
  }
  store.close()
}

interface Rec { lsn: number; offset: number; kind: number; total: number }

/** The committed records, head to tail, as recover() walks them. */
function recordsOf(path: string): Rec[] {
  const region = new FileRegionReader(path)
  try {
    const r = recover(region)
    if (r.kind !== 'ok') throw new Error('recordsOf needs a clean pool')
    const ring = r.log.header.ringBytes
    const out: Rec[] = []
    for (let lsn = r.log.headLsn; lsn < r.log.tailLsn;) {
      const offset = LOG_OFFSET + (lsn % ring)
      const total = recordBytes(claimedPayloadBytes(region.read(offset, RECORD_HEADER_BYTES)))
      const check = checkRecord(region.read(offset, total), lsn, r.log.seed, ring - (lsn % ring))
      if (!check.ok) throw new Error(`record at ${lsn}: ${check.reason}`)
      out.push({ lsn, offset, kind: check.kind, total })
      lsn = check.kind === REC_PAD ? lsn + ring - (lsn % ring) : normalizeLsn(lsn + total, ring)
    }
    return out
  } finally {
    region.close()
  }
}

function xorByte(path: string, offset: number, mask = 0x20): void {
  const fd = openSync(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    b[0] = (b[0] as number) ^ mask
    writeSync(fd, b, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex')

interface Ran { code: number; out: string; err: string; asked: string[] }

async function cli(args: string[], opts: { interactive?: boolean; answer?: boolean } = {}): Promise<Ran> {
  const ran: Ran = { code: -1, out: '', err: '', asked: [] }
  ran.code = await runCli(args, {
    out: (s) => { ran.out += s },
    err: (s) => { ran.err += s },
    interactive: opts.interactive ?? false,
    confirm: async (q) => {
      ran.asked.push(q)
      return opts.answer ?? false
    },
  })
  return ran
}

function bin(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cliScript, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

const TXNS = workload(12)

t.test('a clean pool: the report, exit 0, --json', async (t) => {
  const pool = fresh('clean.pool')
  await makePool(pool, TXNS)
  const before = sha(pool)
  const { report } = checkPool(pool)
  t.equal(report.status, 'clean')
  t.equal(report.poolBytes, POOL_BYTES)
  t.match(report.poolId, /^[0-9a-f]{32}$/)
  t.equal(report.txns, 12)
  t.equal(report.records, 13, 'the creation checkpoint and 12 transactions')
  t.equal(report.checkpointChunks, 0)
  t.same(report.lsn?.head, 0)
  const recs = recordsOf(pool)
  const last = recs[recs.length - 1] as Rec
  t.equal(report.lsn?.tail, last.lsn + last.total)
  t.same(report.headCheckpoint, { beginLsn: 0, offset: LOG_OFFSET, creation: true, endLsn: null, keys: 0 })
  const expected = new Keyspace()
  for (const events of TXNS) applyEvents(expected, events)
  t.equal(report.keys, expected.keyCount())
  t.same(report.keysPerDb, { 0: expected.db(0).size, 1: expected.db(1).size, 2: expected.db(2).size })
  t.same(report.damage, [])
  const human = await cli([pool])
  t.equal(human.code, EXIT_CLEAN)
  t.match(human.out, /status\s+clean/)
  t.match(human.out, new RegExp(`pool id\\s+${report.poolId}`))
  const json = await cli(['--json', pool])
  t.equal(json.code, EXIT_CLEAN)
  const parsed = JSON.parse(json.out) as CheckReport
  t.same(parsed, JSON.parse(JSON.stringify(report)), '--json prints the report object')
  const viaBin = bin([pool])
  t.equal(viaBin.code, 0, 'the bin exits 0')
  t.match(viaBin.out, /status\s+clean/)
  t.equal(sha(pool), before, 'checking changed no byte')
  const repair = await cli(['--repair', '--yes', pool])
  t.equal(repair.code, EXIT_CLEAN, '--repair of a clean pool: nothing to do')
  t.notOk(existsSync(`${pool}.repaired`), 'nothing written')
})

t.test('a pool after a checkpoint names it', async (t) => {
  const pool = fresh('ckpt.pool')
  await makePool(pool, TXNS, 7)
  const { report } = checkPool(pool)
  t.equal(report.status, 'clean')
  t.equal(report.headCheckpoint?.creation, false)
  t.equal(report.headCheckpoint?.keys, stateAfter(TXNS, 8).split('\n').length)
  t.equal(report.checkpointEnds, 1)
  t.ok(report.checkpointChunks >= 1)
  t.equal(report.txns, 4, 'the transactions after the checkpoint began')
  t.ok((report.lsn?.head ?? 0) > 0, 'the head moved')
})

t.test('a flipped byte in a committed record: reported with offset and lsn, exit 1; --repair', async (t) => {
  const pool = fresh('flip.pool')
  await makePool(pool, TXNS)
  const txnRecs = recordsOf(pool).filter((r) => r.kind === REC_TXN)
  const victim = txnRecs[4] as Rec // the fifth transaction
  xorByte(pool, victim.offset + RECORD_HEADER_BYTES + 3)
  const before = sha(pool)
  const { report } = checkPool(pool)
  t.equal(report.status, 'damaged')
  t.same(report.damage, [{ what: 'log record', offset: victim.offset, lsn: victim.lsn,
    reason: 'record checksum mismatch' }])
  t.equal(report.txns, 4, 'four transactions verified before the damage')
  t.equal(report.prefix?.endLsn, victim.lsn)
  t.equal(report.prefix?.txns, 4)
  t.same(report.lost, { commits: 8, exact: true, verifiedRecordsAfter: 7, unverifiedBytes: victim.total,
    damagedKindClaim: 'txn' })
  // Startup refuses the same pool at the same place.
  await t.rejects(Store.open(pool, { create: false }), { code: 'CORRUPTION', offset: victim.offset, lsn: victim.lsn })
  const human = await cli([pool])
  t.equal(human.code, EXIT_DAMAGED)
  t.match(human.out, new RegExp(`DAMAGE\\s+log record at offset ${victim.offset} \\(lsn ${victim.lsn}\\): record checksum mismatch`))
  t.match(human.out, /loses exactly 8 commits/)
  t.equal(bin([pool]).code, 1, 'the bin exits 1')

  const out = join(dirname(pool), 'salvaged.pool')
  const repaired = await cli(['--repair', '--yes', '--output', out, pool])
  t.equal(repaired.code, EXIT_REPAIRED, repaired.err)
  t.match(repaired.out, /exactly 8 commits lost/)
  t.equal(sha(pool), before, 'the damaged pool is unchanged')
  t.same(readFileSync(out).length, POOL_BYTES, 'the new pool has the same size')
  const store = await Store.open(out, { create: false })
  t.equal(canonical(store.keyspace), stateAfter(TXNS, 4), 'it opens with exactly the prefix state')
  // ...and is a working pool: it takes writes and reopens.
  const txn = store.begin()
  txn.apply(put(0, 'after-repair', 'yes'))
  await txn.commit()
  store.close()
  const again = checkPool(out).report
  t.equal(again.status, 'clean')
  t.equal(again.keys, stateAfter(TXNS, 4).split('\n').length + 1)
  t.not(again.poolId, report.poolId, 'a new pool id')

  const viaBin = bin(['--repair', '--yes', pool])
  t.equal(viaBin.code, 4, 'the bin exits 4 after writing POOL.repaired')
  t.ok(existsSync(`${pool}.repaired`))
  const reopened = await Store.open(`${pool}.repaired`, { create: false })
  t.equal(canonical(reopened.keyspace), stateAfter(TXNS, 4))
  reopened.close()
})

t.test('more than one damaged record: lost commits are a lower bound, every damage listed', async (t) => {
  const pool = fresh('two.pool')
  await makePool(pool, TXNS)
  const txnRecs = recordsOf(pool).filter((r) => r.kind === REC_TXN)
  const first = txnRecs[2] as Rec
  const second = txnRecs[6] as Rec
  xorByte(pool, first.offset + RECORD_HEADER_BYTES + 1)
  xorByte(pool, second.offset + 4, 0x01) // the length field of a later record
  const { report } = checkPool(pool)
  t.equal(report.damage.length, 2)
  t.equal(report.damage[0]?.lsn, first.lsn)
  t.equal(report.damage[1]?.lsn, second.lsn, 'the later unverifiable bytes start at the second record')
  t.equal(report.lost?.exact, false)
  t.equal(report.lost?.commits, 12 - 3 - 1, 'the transactions that still verify after the damage')
  const human = await cli([pool])
  t.match(human.out, /loses at least 8 commits/)
})

t.test('refusals: output exists, no confirmation, answer no', async (t) => {
  const pool = fresh('refuse.pool')
  await makePool(pool, TXNS)
  const victim = recordsOf(pool).filter((r) => r.kind === REC_TXN)[6] as Rec
  xorByte(pool, victim.offset + victim.total - 1) // in the CRC itself
  const before = sha(pool)

  writeFileSync(`${pool}.repaired`, 'precious')
  const exists = await cli(['--repair', '--yes', pool])
  t.equal(exists.code, EXIT_USAGE)
  t.match(exists.err, /exists: refusing to overwrite/)
  t.equal(readFileSync(`${pool}.repaired`, 'utf8'), 'precious', 'the existing file is untouched')
  rmSync(`${pool}.repaired`)

  const noTty = await cli(['--repair', pool], { interactive: false })
  t.equal(noTty.code, EXIT_DAMAGED)
  t.match(noTty.out, /repair declined: not asked on a terminal; pass --yes/)
  t.same(noTty.asked, [])
  t.notOk(existsSync(`${pool}.repaired`))

  const no = await cli(['--repair', pool], { interactive: true, answer: false })
  t.equal(no.code, EXIT_DAMAGED)
  t.equal(no.asked.length, 1)
  t.match(no.asked[0], /loses exactly 6 commits\. Continue\? \[y\/N\]/)
  t.notOk(existsSync(`${pool}.repaired`))

  const yes = await cli(['--repair', pool], { interactive: true, answer: true })
  t.equal(yes.code, EXIT_REPAIRED)
  t.ok(existsSync(`${pool}.repaired`))
  t.equal(sha(pool), before, 'the damaged pool never changes')
  t.notOk(existsSync(`${pool}.repaired.tmp-${process.pid}`), 'no temporary file left')
})

t.test('no consistent state: header destroyed, damaged head checkpoint, damaged tail word', async (t) => {
  // The pool id in both header copies (inside their CRCs): recognisably ours, and unreadable.
  const header = fresh('header.pool')
  await makePool(header, TXNS)
  xorByte(header, 20)
  xorByte(header, HEADER_OFFSETS[1] as number + 20)
  const h = await cli(['--repair', '--yes', header])
  t.equal(h.code, EXIT_DAMAGED)
  t.match(h.out, /DAMAGE\s+pool header at offset 0: every copy is damaged \(copy 0: header checksum mismatch\)/)
  t.match(h.out, /no consistent state can be rebuilt/)
  t.notOk(existsSync(`${header}.repaired`), 'nothing written')

  // A chunk of the checkpoint the head names, before its END, with the previous checkpoint
  // kept: the state is whole (the fallback), and --repair writes a fresh checkpoint in place.
  const kept = fresh('ckpt-fallback.pool')
  await makePool(kept, TXNS, 9)
  const keptChunk = recordsOf(kept).find((r) => r.kind === REC_CKPT_CHUNK) as Rec
  xorByte(kept, keptChunk.offset + RECORD_HEADER_BYTES + 5)
  const k = checkPool(kept).report
  t.equal(k.inPlace, 'fallback')
  t.match(k.damage[0]?.reason ?? '', /rebuilt from the previous checkpoint at lsn 0/)
  const kc = await cli(['--repair', '--yes', kept])
  t.equal(kc.code, EXIT_REPAIRED)
  t.match(kc.out, /wrote a fresh checkpoint/)
  t.equal(checkPool(kept).report.status, 'clean', 'clean after the in-place repair')

  // The same with no fallback kept (dropped for space): no complete snapshot precedes it.
  const ckpt = fresh('ckpt-damage.pool')
  await makePool(ckpt, TXNS, 9, false)
  const recs = recordsOf(ckpt)
  const chunk = recs.find((r) => r.kind === REC_CKPT_CHUNK) as Rec
  const end = recs.find((r) => r.kind === REC_CKPT_END) as Rec
  t.ok(chunk.lsn < end.lsn)
  xorByte(ckpt, chunk.offset + RECORD_HEADER_BYTES + 5)
  const { report } = checkPool(ckpt)
  t.equal(report.prefix, null)
  t.match(report.unrepairableReason, /inside the checkpoint the head names/)
  const c = await cli(['--repair', '--yes', ckpt])
  t.equal(c.code, EXIT_DAMAGED)
  t.match(c.out, /no consistent state can be rebuilt/)
  t.notOk(existsSync(`${ckpt}.repaired`))

  const tail = fresh('tail.pool')
  await makePool(tail, TXNS)
  xorByte(tail, TAIL_WORD_OFFSET + 6, 0x01)
  xorByte(tail, TAIL_WORD_OFFSETS[1] as number + 2, 0x10)
  const w = await cli(['--repair', '--yes', tail])
  t.equal(w.code, EXIT_DAMAGED)
  t.match(w.out, /DAMAGE\s+tail word at offset 4096: check failed in every copy/)
  t.notOk(existsSync(`${tail}.repaired`))
})

t.test('not a pool, I/O and usage errors', async (t) => {
  const junk = fresh('junk.bin')
  writeFileSync(junk, Buffer.alloc(64 * 1024, 7))
  t.equal((await cli([junk])).code, EXIT_NOT_A_POOL)
  t.equal(bin([junk]).code, 3, 'the bin exits 3')
  const empty = fresh('empty.bin')
  writeFileSync(empty, '')
  const e = await cli(['--json', empty])
  t.equal(e.code, EXIT_NOT_A_POOL)
  t.equal((JSON.parse(e.out) as CheckReport).status, 'not-a-pool')
  t.equal((await cli(['--repair', '--yes', junk])).code, EXIT_NOT_A_POOL)
  t.notOk(existsSync(`${junk}.repaired`))

  t.equal((await cli([join(dir, 'missing.pool')])).code, EXIT_USAGE)
  t.equal((await cli([dir])).code, EXIT_USAGE, 'a directory')
  t.equal((await cli([])).code, EXIT_USAGE)
  t.equal((await cli(['--frobnicate', junk])).code, EXIT_USAGE)
  t.equal((await cli(['--yes', junk])).code, EXIT_USAGE, '--yes needs --repair')
  t.equal((await cli(['a', 'b'])).code, EXIT_USAGE)
  const help = await cli(['--help'])
  t.equal(help.code, EXIT_CLEAN)
  t.match(help.out, /exit codes:[\s\S]*4\s+repaired/)
  const usage = bin([])
  t.equal(usage.code, 2, 'the bin exits 2 on usage errors')
  t.match(usage.err, /usage: capykv-check/)
})
