// Blocking commands through src/txn/blocking.ts, in-process: a minimal host wires the registry
// exactly as its header asks a server to (ctx.block outside MULTI, serveBlocked(txn.events)
// after each command, host.run / host.timedOut), then the expected bytes are Redis 7.0.15's:
// BLPOP/BRPOP/BLMPOP/BLMOVE/BRPOPLPUSH/BZPOPMIN/BZPOPMAX/BZMPOP woken by pushes of another
// client (also several in one transaction, as EXEC), FIFO fairness, chains (BLMOVE wakes a
// waiter on its destination), WRONGTYPE at wake-up, timeouts (null array), disconnects, and
// no blocking inside MULTI.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { OutputSink } from '../../src/commands/reply-sink.js'
import type { ClientState, CommandContext, CommandSpec, ReplySink } from '../../src/commands/spec.js'
import { listCommands } from '../../src/commands/list.js'
import { zsetCommands } from '../../src/commands/zset.js'
import { OutputBuffer } from '../../src/resp/writer.js'
import type { Event } from '../../src/state/event.js'
import { BlockingRegistry } from '../../src/txn/blocking.js'
import { Store } from '../../src/txn/engine.js'

interface Client { state: ClientState; out: OutputBuffer; sink: OutputSink; inMulti: boolean }

class Host {
  readonly registry: BlockingRegistry<CommandContext, ReplySink>
  readonly byName = new Map<string, CommandSpec>()
  private nextId = 1
  constructor(readonly store: Store, specs: readonly CommandSpec[]) {
    for (const s of specs) this.byName.set(s.name, s)
    this.registry = new BlockingRegistry<CommandContext, ReplySink>({
      run: (blocked, fn) => {
        const c = this.clients.get(blocked.id) as Client
        const txn = this.store.begin()
        const served = fn(this.ctx(c, txn, false))
        const events = txn.events.slice()
        txn.commitNoWait()
        this.store.flush()
        return { served, events }
      },
      timedOut: (w) => {
        const c = this.clients.get(w.client.id) as Client
        w.onTimeout(c.sink)
      },
    })
  }

  readonly clients = new Map<number, Client>()

  connect(proto: 2 | 3 = 2): Client {
    const state: ClientState = {
      id: this.nextId++, name: null, db: 0, proto, authenticated: true, multi: null,
      watchDirty: false, watched: new Map(),
    }
    const out = new OutputBuffer(proto)
    const c = { state, out, sink: new OutputSink(out), inMulti: false }
    this.clients.set(state.id, c)
    return c
  }

  private ctx(c: Client, txn: ReturnType<Store['begin']>, mayBlock: boolean): CommandContext {
    return {
      store: this.store, keyspace: this.store.keyspace, txn, client: c.state, reply: c.sink,
      nowMs: Date.now(), server: undefined,
      block: mayBlock
        ? (keys, timeoutMs, serve, onTimeout) => this.registry.block(c.state, c.state.db, keys,
          timeoutMs, Date.now(), serve, onTimeout)
        : undefined,
    }
  }

  /** Run commands for a client in one transaction (several = as EXEC runs them). */
  exec(c: Client, ...commands: string[][]): void {
    const txn = this.store.begin()
    const ctx = this.ctx(c, txn, commands.length === 1 && !c.inMulti)
    if (commands.length > 1) c.sink.arrayHeader(commands.length)
    for (const argv of commands) {
      const spec = this.byName.get((argv[0] as string).toLowerCase()) as CommandSpec
      spec.handler(ctx, argv.map((a) => Buffer.from(a)))
    }
    const events: Event[] = txn.events.slice()
    txn.commitNoWait()
    this.store.flush()
    this.registry.serveBlocked(events)
  }

  take(c: Client): string {
    return c.out.take().toString('latin1')
  }
}

async function open(t: { teardown(fn: () => void): void }): Promise<Host> {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-blocking-'))
  const store = await Store.open(join(dir, 'pool'), { sizeBytes: 16 * 1024 * 1024, groupCommit: 'manual' })
  t.teardown(() => {
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return new Host(store, [...listCommands, ...zsetCommands])
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

t.test('BLPOP blocks on empty keys and is woken by another client\'s push', async (t) => {
  const h = await open(t)
  const a = h.connect()
  const b = h.connect()
  h.exec(a, ['BLPOP', 'q1', 'q2', '0'])
  t.equal(h.take(a), '', 'no reply while blocked')
  t.ok(h.registry.isBlocked(a.state.id))
  h.exec(b, ['RPUSH', 'q2', 'x', 'y'])
  t.equal(h.take(b), ':2\r\n')
  t.equal(h.take(a), '*2\r\n$2\r\nq2\r\n$1\r\nx\r\n')
  t.notOk(h.registry.isBlocked(a.state.id))
  h.exec(b, ['LRANGE', 'q2', '0', '-1'])
  t.equal(h.take(b), '*1\r\n$1\r\ny\r\n')
  t.equal(h.registry.size, 0)
})

t.test('FIFO: waiters are served in the order they blocked, one element each', async (t) => {
  const h = await open(t)
  const [w1, w2, w3] = [h.connect(), h.connect(), h.connect()]
  const p = h.connect()
  h.exec(w1 as Client, ['BRPOP', 'q', '0'])
  h.exec(w2 as Client, ['BLPOP', 'q', '0'])
  h.exec(w3 as Client, ['BLPOP', 'q', '0'])
  h.exec(p, ['RPUSH', 'q', 'a', 'b'])
  t.equal(h.take(w1 as Client), '*2\r\n$1\r\nq\r\n$1\r\nb\r\n', 'first waiter, BRPOP takes the tail')
  t.equal(h.take(w2 as Client), '*2\r\n$1\r\nq\r\n$1\r\na\r\n')
  t.equal(h.take(w3 as Client), '', 'third still blocked: nothing left')
  t.ok(h.registry.isBlocked((w3 as Client).state.id))
  h.exec(p, ['LPUSH', 'q', 'c'])
  t.equal(h.take(w3 as Client), '*2\r\n$1\r\nq\r\n$1\r\nc\r\n')
})

t.test('pushes inside one transaction (EXEC) wake waiters after it, in key-ready order', async (t) => {
  const h = await open(t)
  const w = h.connect()
  const p = h.connect()
  h.exec(w, ['BLPOP', 'a', 'b', '0'])
  h.exec(p, ['RPUSH', 'b', '1'], ['RPUSH', 'a', '2'], ['RPUSH', 'b', '3'])
  t.equal(h.take(w), '*2\r\n$1\r\nb\r\n$1\r\n1\r\n', 'served from the key that became ready first')
  h.exec(p, ['LRANGE', 'b', '0', '-1'])
  t.match(h.take(p), /\*1\r\n\$1\r\n3\r\n$/)
})

t.test('BLMOVE chain: the moved item wakes a waiter on the destination', async (t) => {
  const h = await open(t)
  const mover = h.connect()
  const tail = h.connect()
  const p = h.connect()
  h.exec(mover, ['BLMOVE', 'src', 'dst', 'RIGHT', 'LEFT', '0'])
  h.exec(tail, ['BLPOP', 'dst', '0'])
  h.exec(p, ['RPUSH', 'src', 'x'])
  t.equal(h.take(mover), '$1\r\nx\r\n')
  t.equal(h.take(tail), '*2\r\n$3\r\ndst\r\n$1\r\nx\r\n')
  h.exec(p, ['LLEN', 'src'])
  h.exec(p, ['LLEN', 'dst'])
  t.equal(h.take(p), ':1\r\n:0\r\n:0\r\n')
})

t.test('BLMOVE to a destination of the wrong type: WRONGTYPE at wake-up, nothing popped', async (t) => {
  const h = await open(t)
  const w = h.connect()
  const p = h.connect()
  h.exec(p, ['ZADD', 'dst', '1', 'm'])
  h.take(p)
  h.exec(w, ['BRPOPLPUSH', 'src', 'dst', '0'])
  h.exec(p, ['RPUSH', 'src', 'a'])
  t.equal(h.take(w), '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n')
  t.notOk(h.registry.isBlocked(w.state.id))
  h.exec(p, ['LLEN', 'src'])
  t.match(h.take(p), /:1\r\n$/)
})

t.test('BLMPOP and BZMPOP with COUNT; BZPOPMIN/BZPOPMAX shapes in RESP2 and RESP3', async (t) => {
  const h = await open(t)
  const lm = h.connect()
  const zm = h.connect(3)
  const zmin = h.connect()
  const p = h.connect()
  h.exec(lm, ['BLMPOP', '0', '2', 'x', 'y', 'RIGHT', 'COUNT', '5'])
  h.exec(zmin, ['BZPOPMIN', 'z', '0'])
  h.exec(zm, ['BZMPOP', '0', '1', 'z', 'MAX', 'COUNT', '2'])
  h.exec(p, ['RPUSH', 'y', '1', '2', '3'])
  t.equal(h.take(lm), '*2\r\n$1\r\ny\r\n*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n')
  h.exec(p, ['ZADD', 'z', '1', 'a', '2', 'b', '3', 'c', '4', 'd'])
  t.equal(h.take(zmin), '*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n')
  t.equal(h.take(zm), '*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nd\r\n,4\r\n*2\r\n$1\r\nc\r\n,3\r\n')
})

t.test('a key of another type does not serve; a later push does', async (t) => {
  const h = await open(t)
  const w = h.connect()
  const p = h.connect()
  h.exec(w, ['BLPOP', 'k', '0'])
  h.exec(p, ['ZADD', 'k', '1', 'm'])
  t.equal(h.take(w), '')
  h.exec(p, ['ZPOPMIN', 'k'])
  h.exec(p, ['RPUSH', 'k', 'v'])
  t.equal(h.take(w), '*2\r\n$1\r\nk\r\n$1\r\nv\r\n')
})

t.test('timeouts reply a null array (RESP2 *-1, RESP3 _) after the timeout', async (t) => {
  const h = await open(t)
  const w2 = h.connect(2)
  const w3 = h.connect(3)
  const mv = h.connect(2)
  const t0 = Date.now()
  h.exec(w2, ['BLPOP', 'nope', '0.05'])
  h.exec(w3, ['BZPOPMAX', 'nope', '0.05'])
  h.exec(mv, ['BLMOVE', 'nope', 'x', 'LEFT', 'LEFT', '0.05'])
  t.equal(h.take(w2), '')
  await sleep(150)
  t.equal(h.take(w2), '*-1\r\n')
  t.equal(h.take(w3), '_\r\n')
  t.equal(h.take(mv), '*-1\r\n', 'BLMOVE times out with a null array too, as Redis 7.0')
  t.ok(Date.now() - t0 >= 50)
  t.equal(h.registry.size, 0)
})

t.test('inside MULTI (no ctx.block) blocking commands answer at once', async (t) => {
  const h = await open(t)
  const c = h.connect()
  c.inMulti = true
  h.exec(c, ['BLPOP', 'nope', '0'])
  h.exec(c, ['BLMOVE', 'nope', 'x', 'LEFT', 'LEFT', '0'])
  h.exec(c, ['BZMPOP', '0', '1', 'nope', 'MIN'])
  t.equal(h.take(c), '*-1\r\n$-1\r\n*-1\r\n')
  t.equal(h.registry.size, 0)
})

t.test('a disconnected waiter is forgotten; the next one is served', async (t) => {
  const h = await open(t)
  const gone = h.connect()
  const next = h.connect()
  const p = h.connect()
  h.exec(gone, ['BLPOP', 'q', '0'])
  h.exec(next, ['BLPOP', 'q', '0'])
  h.registry.unblock(gone.state.id)
  h.exec(p, ['RPUSH', 'q', 'v'])
  t.equal(h.take(gone), '')
  t.equal(h.take(next), '*2\r\n$1\r\nq\r\n$1\r\nv\r\n')
  h.exec(gone, ['BLPOP', 'q2', '5'])
  t.ok(h.registry.unblockWithTimeout(gone.state.id), 'CLIENT UNBLOCK: the timeout reply')
  t.equal(h.take(gone), '*-1\r\n')
})
