// In-process harness for handler unit tests: a store on a temporary pool, a ReplySink that
// records every call, and run() that executes one command in its own transaction at a given
// time and returns the replies and the events it committed.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClientState, CommandSpec, ReplySink } from '../../src/commands/spec.js'
import type { Event } from '../../src/state/event.js'
import { Store } from '../../src/txn/engine.js'

export type Call = [string, ...unknown[]]

export class RecordingSink implements ReplySink {
  proto: 2 | 3 = 2
  calls: Call[] = []
  simple(s: string): void { this.calls.push(['simple', s]) }
  error(msg: string): void { this.calls.push(['error', msg]) }
  integer(n: number | bigint): void { this.calls.push(['integer', n]) }
  bulk(b: Buffer | string): void {
    this.calls.push(['bulk', typeof b === 'string' ? b : b.toString('latin1')])
  }
  nullBulk(): void { this.calls.push(['nullBulk']) }
  nullArray(): void { this.calls.push(['nullArray']) }
  arrayHeader(n: number): void { this.calls.push(['array', n]) }
  mapHeader(n: number): void { this.calls.push(['map', n]) }
  setHeader(n: number): void { this.calls.push(['set', n]) }
  double(x: number): void { this.calls.push(['double', x]) }
  boolean(b: boolean): void { this.calls.push(['boolean', b]) }
  verbatim(text: string): void { this.calls.push(['verbatim', text]) }
}

export interface Harness {
  store: Store
  client: ClientState
  /** Run argv (strings or Buffers) at time `nowMs`; the command's replies and events. */
  run(argv: (string | Buffer)[], nowMs?: number): { calls: Call[]; events: Event[] }
  close(): void
}

export const T0 = 1_700_000_000_000

export async function openHarness(specs: readonly CommandSpec[]): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-unit-'))
  const store = await Store.open(join(dir, 'pool'), { sizeBytes: 16 * 1024 * 1024 })
  const byName = new Map<string, CommandSpec>()
  for (const s of specs) {
    byName.set(s.name, s)
    for (const sub of s.subcommands ?? []) byName.set(sub.name, sub)
  }
  const client: ClientState = {
    id: 1, name: null, db: 0, proto: 2, authenticated: true, multi: null, watchDirty: false,
    watched: new Map(),
  }
  return {
    store,
    client,
    run(argv, nowMs = T0) {
      const args = argv.map((a) => (typeof a === 'string' ? Buffer.from(a, 'latin1') : a))
      const name = (args[0] as Buffer).toString().toLowerCase()
      const sub = args.length > 1 ? `${name}|${(args[1] as Buffer).toString().toLowerCase()}` : ''
      const spec = byName.get(sub) ?? byName.get(name)
      if (spec === undefined) throw new Error(`no command ${name}`)
      const sink = new RecordingSink()
      sink.proto = client.proto
      const txn = store.begin()
      spec.handler({
        store, keyspace: store.keyspace, txn, client, reply: sink, nowMs, server: undefined,
      }, args)
      const events = txn.events.slice()
      txn.commitNoWait()
      store.flush()
      return { calls: sink.calls, events }
    },
    close() {
      store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
