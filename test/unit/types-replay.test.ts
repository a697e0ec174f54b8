// Durable replay of the collection commands: random commands of every type (the lockstep
// generator, seeded) run through the real handlers on a real store, with incremental (fuzzy)
// checkpoints interleaved; then the pool is recovered from its bytes (Store.reload, the same
// recover() as startup) and the rebuilt keyspace must equal the live one exactly — every
// event's encode/decode/apply is deterministic, RESTOREs of every type round-trip, and deltas
// replayed before a key's RESTORE are harmless (event.ts totality).
// Also: several commands in ONE transaction (as EXEC runs them), including a RENAME followed by
// a push to the renamed list.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Prng } from '../sim/prng.js'
import { OutputSink } from '../../src/commands/reply-sink.js'
import type { ClientState, CommandContext, CommandSpec } from '../../src/commands/spec.js'
import { type Entry, type Keyspace } from '../../src/state/keyspace.js'
import { valueType } from '../../src/state/value-codec.js'
import { OutputBuffer } from '../../src/resp/writer.js'
import { Store } from '../../src/txn/engine.js'
import { CommandGen } from '../compat/types-gen.js'

function canonical(ks: Keyspace): string {
  const parts: string[] = []
  ks.dbs.forEach((map, db) => {
    for (const key of [...map.keys()].sort()) {
      const e = map.get(key) as Entry
      parts.push(`${db}/${Buffer.from(key, 'latin1').toString('hex')}:${e.type}:${e.expireAtMs}:` +
        valueType(e.type).canonical(e.value))
    }
  })
  return parts.join('\n')
}

async function specs(): Promise<Map<string, CommandSpec>> {
  const byName = new Map<string, CommandSpec>()
  for (const m of ['string', 'keys', 'list', 'hash', 'set', 'zset', 'stream',
    'stream-read', 'stream-group', 'stream-info']) {
    try {
      const mod = await import(`../../src/commands/${m}.js`) as Record<string, unknown>
      for (const [name, value] of Object.entries(mod)) {
        if (!name.endsWith('Commands') || !Array.isArray(value)) continue
        for (const s of value as CommandSpec[]) {
          byName.set(s.name, s)
          for (const sub of s.subcommands ?? []) byName.set(sub.name, sub)
        }
      }
    } catch {
      continue
    }
  }
  return byName
}

interface Runner {
  store: Store
  /** Run commands in one transaction; returns the replies' bytes. */
  txn(commands: string[][]): Buffer
  close(): void
}

async function openRunner(): Promise<Runner> {
  const byName = await specs()
  const dir = mkdtempSync(join(tmpdir(), 'capykv-replay-'))
  const store = await Store.open(join(dir, 'pool'), { sizeBytes: 64 * 1024 * 1024, groupCommit: 'manual',
    autoCheckpoint: false })
  const client: ClientState = {
    id: 1, name: null, db: 0, proto: 2, authenticated: true, multi: null, watchDirty: false,
    watched: new Map(),
  }
  const out = new OutputBuffer(2)
  const sink = new OutputSink(out)
  return {
    store,
    txn(commands) {
      const txn = store.begin()
      const ctx: CommandContext = {
        store, keyspace: store.keyspace, txn, client, reply: sink, nowMs: 1_700_000_000_000,
        server: undefined,
      }
      for (const argv of commands) {
        const name = (argv[0] as string).toLowerCase()
        const sub = argv.length > 1 ? `${name}|${(argv[1] as string).toLowerCase()}` : ''
        const spec = byName.get(sub) ?? byName.get(name)
        if (spec === undefined) {
          sink.error(`ERR unknown command '${name}'`)
          continue
        }
        const ok = spec.arity > 0 ? argv.length === spec.arity : argv.length >= -spec.arity
        if (!ok) {
          sink.error(`ERR wrong number of arguments for '${spec.name}' command`)
          continue
        }
        spec.handler(ctx, argv.map((a) => Buffer.from(a, 'utf8')))
      }
      txn.commitNoWait()
      store.flush()
      return out.take()
    },
    close() {
      store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

for (const seed of [101, 202]) {
  t.test(`recovery rebuilds exactly the state the collection commands built (seed ${seed})`, async (t) => {
    const run = await openRunner()
    t.teardown(() => run.close())
    const gen = new CommandGen(new Prng(seed), false)
    const r = new Prng(seed + 1)
    let checkpoints = 0
    for (let i = 0; i < 20_000; i++) {
      const n = r.int(10) === 0 ? 2 + r.int(4) : 1 // some multi-command transactions, as EXEC
      run.txn(Array.from({ length: n }, () => gen.next().argv))
      if (i % 997 === 0 && run.store.checkpointer.active === null) run.store.checkpointer.start()
      if (run.store.checkpointer.active !== null && i % 7 === 0) {
        if (run.store.checkpointSlice(512)) checkpoints++
      }
      if (i % 5000 === 4999) {
        const live = canonical(run.store.keyspace)
        const bytes = run.store.keyspace.liveBytes
        run.store.reload()
        t.equal(canonical(run.store.keyspace), live, `state after recovery at command ${i + 1}`)
        t.equal(run.store.keyspace.liveBytes, bytes, `liveBytes after recovery at command ${i + 1}`)
      }
    }
    t.ok(checkpoints > 0, `${checkpoints} fuzzy checkpoints completed in between`)
  })
}

t.test('one transaction: RENAME of a list then a push to it recovers exactly', async (t) => {
  const run = await openRunner()
  t.teardown(() => run.close())
  run.txn([['RPUSH', 'a', 'x', 'y']])
  run.txn([['RENAME', 'a', 'b'], ['RPUSH', 'b', 'z'], ['LPOP', 'b']])
  run.txn([['COPY', 'b', 'c'], ['RPUSH', 'b', 'w'], ['RPUSH', 'c', 'v']])
  run.txn([['ZADD', 'z', '1', 'm'], ['RENAME', 'z', 'z2'], ['ZINCRBY', 'z2', '1', 'm']])
  const live = canonical(run.store.keyspace)
  run.store.reload()
  t.equal(canonical(run.store.keyspace), live)
})
