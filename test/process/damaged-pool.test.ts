// Damage in the last committed records of a pool, with the real capykv-server and capykv-check
// (issue 12; docs/checkpoint-fallback.md, "Limits"):
// - a crash inside an incremental checkpoint leaves its BEGIN, a chunk and the MARK sealing that
//   commit (log.ts sealGroup) last in the log; a byte changed in the chunk: the server starts,
//   serves every key exactly, says in its log that it recovered around the damage and wrote a
//   fresh checkpoint; capykv-check then finds the pool clean;
// - a byte changed in the last committed transaction (an acknowledged commit): the server refuses
//   to start, exit 1, naming the record's offset and lsn and the capykv-check path; capykv-check
//   reports the damage and that salvaging loses exactly 1 commit; `--repair --yes` writes a new
//   pool, on which the server serves every key but that transaction's.
// Invariants: pools are built by the engine in this process and closed before any server opens
// them; servers on free ports bound to 127.0.0.1, stopped by their own pid; every directory made
// here is removed at teardown. The expected values are the test's own. About 10 s.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import {
  closeSync, existsSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import {
  REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_MARK, REC_TXN,
} from '../../src/storage/record-codec.js'
import { Store } from '../../src/txn/engine.js'
import { PROJECT_ROOT, SERVER_MAIN, freePort, startCapykv } from '../helpers/servers.js'
import { poolRecords, type PoolRecord } from '../sim/pool-records.js'
import { put } from '../sim/workload.js'

const dirs: string[] = []
t.teardown(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
const SHM = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
const POOL_BYTES = 4 * 1024 * 1024
const CHECK = join(PROJECT_ROOT, 'dist', 'src', 'recovery', 'check-cli.js')
const KEYS = 200
// About 1 KiB each: the keys fill several 64 KiB checkpoint chunks.
const valueOf = (k: number): string => `value-${k}-${'v'.repeat(1000 + k % 50)}`

/** A pool in a new directory: KEYS keys, a checkpoint, then `then` on the open store. */
async function buildPool(then: (store: Store, expected: Map<string, string>) => void):
  Promise<{ dir: string; path: string; expected: Map<string, string> }> {
  const dir = mkdtempSync(join(SHM, 'capykv-damaged-'))
  dirs.push(dir)
  const path = join(dir, 'capykv.pool')
  const store = await Store.open(path, { sizeBytes: POOL_BYTES, groupCommit: 'manual',
    autoCheckpoint: false })
  const expected = new Map<string, string>()
  const write = (key: string, value: string): void => {
    const txn = store.begin()
    txn.apply(put(0, key, Buffer.from(value)))
    txn.commitNoWait()
    store.flush()
    expected.set(key, value)
  }
  for (let k = 0; k < KEYS; k++) write(`k${k}`, valueOf(k))
  t.ok(store.checkpointNow(), 'a checkpoint')
  for (let k = 0; k < KEYS; k += 7) write(`k${k}`, `${valueOf(k)}-again`)
  then(store, expected)
  store.close()
  return { dir, path, expected }
}

/** XOR one byte of the file at `offset`. */
function flipByte(path: string, offset: number): void {
  const bytes = readFileSync(path)
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.from([(bytes[offset] as number) ^ 0x10]), 0, 1, offset)
  closeSync(fd)
}

type Tap = Pick<typeof t, 'equal'>

async function servesExactly(t: Tap, dir: string, expected: Map<string, string>,
  absent: string[] = []): Promise<string> {
  const server = await startCapykv({ dir, poolSize: '4mb' })
  const client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true })
  await client.connect()
  let wrong = 0
  for (const [key, value] of expected) if (await client.get(key) !== value) wrong++
  t.equal(wrong, 0, `every one of ${expected.size} keys has its exact value`)
  for (const key of absent) t.equal(await client.get(key), null, `${key} is absent`)
  t.equal(await client.dbsize(), expected.size, 'and no other key')
  await client.quit()
  const log = server.log()
  t.equal(await server.stop(), 0, 'the server stops cleanly')
  return log
}

function check(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CHECK, ...args], { timeout: 60_000 })
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() }
}

t.test('a crash inside a checkpoint, its last chunk damaged: the server starts whole', async (t) => {
  const pool = await buildPool((store) => {
    t.notOk(store.checkpointSlice(1024), 'an incremental checkpoint, one slice of it, runs on')
    store.flush()
  })
  const recs = poolRecords(readFileSync(pool.path)).recs
  t.same(recs.slice(-3).map((r) => r.kind), [REC_CKPT_BEGIN, REC_CKPT_CHUNK, REC_MARK],
    'BEGIN, a chunk and the MARK sealing the commit end the log')
  const chunk = recs.at(-2) as PoolRecord
  flipByte(pool.path, chunk.offset + Math.floor(chunk.bytes / 2))
  const log = await servesExactly(t, pool.dir, pool.expected)
  t.match(log, new RegExp(`Pool log damage: .*lsn ${chunk.lsn}.*The state is whole; a fresh ` +
    'checkpoint was written'), 'the log names the damage and the fresh checkpoint')
  const after = check([pool.path])
  t.equal(after.status, 0, `capykv-check: clean after that start\n${after.out}`)
})

t.test('the last transaction damaged: refused, capykv-check names the loss, --repair', async (t) => {
  const pool = await buildPool((store) => {
    const txn = store.begin()
    txn.apply(put(0, 'last', Buffer.from('the last transaction')))
    txn.commitNoWait()
    store.flush()
  })
  const last = poolRecords(readFileSync(pool.path)).recs.at(-1) as PoolRecord
  t.equal(last.kind, REC_TXN, 'a transaction ends the log')
  flipByte(pool.path, last.offset + 20)
  const refused = spawnSync(process.execPath, [SERVER_MAIN, '--port', String(await freePort()),
    '--bind', '127.0.0.1', '--dir', pool.dir, '--pool-size', '4mb'], { timeout: 60_000 })
  const out = refused.stdout.toString() + refused.stderr.toString()
  t.equal(refused.status, 1, 'the server exits 1')
  t.match(out, new RegExp('Refusing to start: pool corruption detected: log record: record ' +
    `checksum mismatch \\(offset ${last.offset}, lsn ${last.lsn}\\)\\. The pool is not served; ` +
    `inspect it with capykv-check ${pool.path} \\(and --repair`), 'naming the place and the tool')
  t.notMatch(out, /\n\s+at /, 'no stack trace')

  const report = check([pool.path])
  t.equal(report.status, 1, 'capykv-check: exit 1 (damage)')
  t.match(report.out, new RegExp(`DAMAGE +log record at offset ${last.offset} \\(lsn ${last.lsn}\\)`))
  t.match(report.out, /lost +salvaging it loses exactly 1 commit/, 'exactly the last commit')
  const repaired = check(['--repair', '--yes', pool.path])
  t.equal(repaired.status, 4, `--repair: a new pool written\n${repaired.out}`)
  renameSync(`${pool.path}.repaired`, pool.path)
  await servesExactly(t, pool.dir, pool.expected, ['last'])
})
