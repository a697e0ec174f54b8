// The process that kill9.test.ts kills: it opens (or creates) a pool through the embedded API and
// commits the transfer workload (transfer-workload.ts) from id --start on, with --workers
// concurrent committers, until it is SIGKILLed. Protocol on stdout, one line each:
//   ready <backend> <isPmem> <recoveredKeys> <recoveryMs>   after Store.open resolved
//   <id>                                                    after transaction id's commit() resolved
// Invariants and why:
// - an id is printed only after its commit() promise resolved (the transaction is durable),
//   with write(2) on fd 1 (fs.writeSync, retried until every byte went: the fd may be
//   non-blocking): once say() returns the id is in the pipe and SIGKILL cannot lose it.
//   (process.stdout.write queues in memory when the pipe is full: acknowledgements would be
//   lost at the kill, and the parent could no longer bound how far the durable state may run
//   ahead of the last acknowledgement: at most one group, i.e. --workers transactions);
// - each committer takes the next id and runs begin/apply/commit synchronously, so the log holds
//   the transactions in id order, and the committers of one event-loop turn share a group commit;
// - the store runs with its defaults (automatic checkpoints on), so kills land during
//   checkpoints as well as during commits.

import { writeSync } from 'node:fs'
import { Store } from '../../src/txn/engine.js'
import { eventsOf, keyspaceTarget } from './transfer-workload.js'

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? process.argv[i + 1] : fallback
  if (v === undefined) throw new Error(`child-writer: --${name} is required`)
  return v
}

const pool = arg('pool')
const sizeBytes = Number(arg('size', String(2 * 1024 * 1024)))
const seed = Number(arg('seed'))
let next = Number(arg('start'))
const workers = Number(arg('workers', '8'))

const pause = new Int32Array(new SharedArrayBuffer(4))

/** Write all of `line` to fd 1 before returning (the fd may be non-blocking: wait on EAGAIN). */
function say(line: string): void {
  let bytes = Buffer.from(line, 'latin1')
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(writeSync(1, bytes))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e
      Atomics.wait(pause, 0, 0, 1) // the pipe is full: sleep 1 ms, synchronously
    }
  }
}

const store = await Store.open(pool, { sizeBytes })
const stats = store.stats()
say(`ready ${stats.backend} ${stats.isPmem} ${stats.recoveredKeys} ` +
  `${stats.recoveryMs.toFixed(2)}\n`)

async function committer(): Promise<void> {
  for (;;) {
    const id = next++
    const txn = store.begin()
    for (const e of eventsOf(seed, id, keyspaceTarget(store.keyspace))) txn.apply(e)
    await txn.commit()
    say(`${id}\n`)
  }
}

await Promise.all(Array.from({ length: workers }, () => committer()))
