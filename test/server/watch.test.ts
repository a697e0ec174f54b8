// WATCH as Redis 7.0.15 runs it: the WatchIndex unit (touch, expiry at WATCH time, FLUSHDB and
// SWAPDB with the databases' previous maps), and MULTI/EXEC/WATCH interleavings between two
// clients replayed against a real redis-server and capykv, replies compared byte for byte.

import t from 'tap'
import { Entry, KeyMap, Keyspace, TYPE_STRING } from '../../src/state/keyspace.js'
import { WatchIndex, type Watcher } from '../../src/txn/watch.js'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

function watcher(): Watcher {
  return { watchDirty: false, watched: new Map() }
}

function put(ks: Keyspace, db: number, key: string, expireAtMs = 0): void {
  ks.set(db, key, new Entry(TYPE_STRING, Buffer.from('v'), expireAtMs, 3))
}

t.test('WatchIndex: touches mark every watcher of the key dirty and unwatch it', async (t) => {
  const ks = new Keyspace()
  const index = new WatchIndex(() => 1000)
  ks.observer = index
  const a = watcher()
  const b = watcher()
  const c = watcher()
  index.watch(a, ks, 0, 'k')
  index.watch(b, ks, 0, 'k')
  index.watch(c, ks, 1, 'k')
  put(ks, 0, 'k')
  t.ok(a.watchDirty)
  t.ok(b.watchDirty)
  t.notOk(c.watchDirty, 'same key in another db is another key')
  t.equal(a.watched.size, 0, 'a dirty watcher watches nothing')
  t.equal(index.size, 1)
  index.unwatchAll(c)
  t.equal(index.size, 0)
})

t.test('WatchIndex: keys already expired at WATCH time (Redis 7.0 `expired` flag)', async (t) => {
  const now = 5000
  const ks = new Keyspace()
  const index = new WatchIndex(() => now)
  ks.observer = index
  put(ks, 0, 'gone', 4000) // logically expired, not yet deleted
  const a = watcher()
  const b = watcher()
  index.watch(a, ks, 0, 'gone')
  index.watch(b, ks, 0, 'gone')
  ks.delete(0, 'gone') // lazy or active expiry deletes it: no logical change
  t.notOk(a.watchDirty)
  t.notOk(b.watchDirty)
  put(ks, 0, 'gone') // now it is really written
  t.ok(a.watchDirty, 'first watcher dirty')
  t.ok(b.watchDirty, 'every watcher visited (no early break, unlike redis PR #14752)')
  const c = watcher()
  put(ks, 0, 'live', 9000)
  index.watch(c, ks, 0, 'live')
  t.notOk(index.dirtyByExpiry(c, ks))
  const later = new WatchIndex(() => 9500)
  t.ok(later.dirtyByExpiry(c, ks), 'a key live at WATCH and expired at EXEC')
})

t.test('WatchIndex: FLUSHDB and SWAPDB', async (t) => {
  const ks = new Keyspace()
  const index = new WatchIndex(() => 1000)
  ks.observer = index
  put(ks, 0, 'x')
  const a = watcher()
  const b = watcher()
  index.watch(a, ks, 0, 'x')
  index.watch(b, ks, 0, 'missing')
  ks.replaceDb(0, new KeyMap())
  t.ok(a.watchDirty, 'FLUSHDB of a db holding the key')
  t.notOk(b.watchDirty, 'a key in neither the old nor the new db is untouched')
  const c = watcher()
  const d = watcher()
  put(ks, 1, 'y')
  index.watch(c, ks, 0, 'y')
  index.watch(d, ks, 0, 'z')
  ks.swapDbs(0, 1)
  t.ok(c.watchDirty, 'SWAPDB brings the key in')
  t.notOk(d.watchDirty)
})

type Step = [0 | 1, ...string[]]

/** Two-client scripts (client index, argv); replies of both servers compared byte for byte. */
const SCRIPTS: Record<string, Step[]> = {
  'modified by the other client': [
    [0, 'SET', 'k', '1'], [0, 'WATCH', 'k'], [1, 'SET', 'k', '2'], [0, 'MULTI'],
    [0, 'GET', 'k'], [0, 'EXEC'], [0, 'GET', 'k'],
  ],
  'untouched key: EXEC runs': [
    [0, 'WATCH', 'k2'], [1, 'SET', 'other', '1'], [0, 'MULTI'], [0, 'INCR', 'k2'],
    [0, 'EXEC'],
  ],
  'own write before MULTI aborts too': [
    [0, 'WATCH', 'k3'], [0, 'SET', 'k3', 'x'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'write inside MULTI of another key': [
    [0, 'WATCH', 'a1'], [0, 'MULTI'], [0, 'SET', 'a1', '1'], [1, 'SET', 'b1', '2'],
    [0, 'EXEC'], [0, 'GET', 'a1'],
  ],
  'DEL of a missing key touches nothing': [
    [0, 'WATCH', 'nokey'], [1, 'DEL', 'nokey'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'DEL of a watched key': [
    [1, 'SET', 'dk', '1'], [0, 'WATCH', 'dk'], [1, 'DEL', 'dk'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'],
  ],
  'EXPIRE of a watched key': [
    [1, 'SET', 'ek', '1'], [0, 'WATCH', 'ek'], [1, 'EXPIRE', 'ek', '100'], [0, 'MULTI'],
    [0, 'PING'], [0, 'EXEC'],
  ],
  'FLUSHALL': [
    [1, 'SET', 'fa', '1'], [0, 'WATCH', 'fa'], [1, 'FLUSHALL'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'],
  ],
  'FLUSHDB without the key': [
    [0, 'WATCH', 'fb'], [1, 'SET', 'zz', '1'], [1, 'FLUSHDB'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'],
  ],
  'SWAPDB brings the key': [
    [1, 'SELECT', '1'], [1, 'SET', 'sw', '1'], [0, 'WATCH', 'sw'], [1, 'SWAPDB', '0', '1'],
    [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'], [1, 'SELECT', '0'], [1, 'FLUSHALL'],
  ],
  'WATCH in another db': [
    [0, 'SELECT', '3'], [0, 'WATCH', 'd3'], [1, 'SET', 'd3', 'x'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'], [1, 'SELECT', '3'], [1, 'SET', 'd3', 'x'], [0, 'WATCH', 'd3'],
    [1, 'SET', 'd3', 'y'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'], [0, 'SELECT', '0'],
    [1, 'SELECT', '0'],
  ],
  'DISCARD and UNWATCH clear the state': [
    [0, 'WATCH', 'u1'], [1, 'SET', 'u1', '1'], [0, 'MULTI'], [0, 'DISCARD'], [0, 'MULTI'],
    [0, 'PING'], [0, 'EXEC'], [0, 'WATCH', 'u2'], [1, 'SET', 'u2', '1'], [0, 'UNWATCH'],
    [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'WATCH after the key is dirty still OK': [
    [0, 'WATCH', 'w1'], [1, 'SET', 'w1', '1'], [0, 'WATCH', 'w2'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'],
  ],
  'queued errors and run-time errors': [
    [0, 'SET', 'str', 'v'], [0, 'MULTI'], [0, 'LPUSH', 'str', 'x'], [0, 'INCR', 'str'],
    [0, 'SET', 'ok', '1'], [0, 'EXEC'], [0, 'GET', 'ok'], [0, 'MULTI'], [0, 'NOPE'],
    [0, 'SET', 'never', '1'], [0, 'EXEC'], [0, 'EXISTS', 'never'],
  ],
  'RESET unwatches': [
    [0, 'WATCH', 'r1'], [0, 'RESET'], [1, 'SET', 'r1', '1'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'],
  ],
}

async function play(port: number, steps: Step[]): Promise<string[]> {
  const clients = [await RawClient.connect(port), await RawClient.connect(port)]
  const out: string[] = []
  for (const [who, ...argv] of steps) {
    out.push(`${who}> ${await (clients[who] as RawClient).command(argv, 15, 1000)}`)
  }
  for (const c of clients) c.close()
  return out
}

t.test('two-client MULTI/EXEC/WATCH interleavings match Redis 7.0.15', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  let steps = 0
  for (const [name, script] of Object.entries(SCRIPTS)) {
    const [expected, actual] = await Promise.all([play(redis.port, script),
      play(capykv.port, script)])
    t.same(actual, expected, name)
    steps += script.length
  }
  t.comment(`differential watch interleavings: ${Object.keys(SCRIPTS).length} scripts, ` +
    `${steps} steps`)
})

t.test('a key that expires after WATCH aborts EXEC (as Redis 7.0)', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  // The key must still exist when WATCH runs: 1 s of life leaves room for a loaded machine
  // (150 ms once expired before WATCH under CI load, and then EXEC rightly succeeds).
  const script: Step[] = [[0, 'SET', 'ttl', '1', 'PX', '1000'], [0, 'WATCH', 'ttl']]
  const tail: Step[] = [[0, 'MULTI'], [0, 'PING'], [0, 'EXEC']]
  const run = async (port: number): Promise<string[]> => {
    const c = await RawClient.connect(port)
    const out: string[] = []
    for (const [, ...argv] of script) out.push(await c.command(argv, 15))
    await new Promise((r) => setTimeout(r, 1300))
    for (const [, ...argv] of tail) out.push(await c.command(argv, 15))
    c.close()
    return out
  }
  const [expected, actual] = await Promise.all([run(redis.port), run(capykv.port)])
  t.same(actual, expected)
  t.equal(actual[actual.length - 1], '*-1\r\n')
})

/**
 * The keyspace's lifetime: DEBUG RELOAD replaces the Store's keyspace object, SWAPDB/FLUSHALL
 * replace database maps, a checkpoint reads them. WATCH must follow whatever the store holds.
 * In Redis DEBUG RELOAD empties every database first (signalFlushedDb), so a watched key that
 * existed makes EXEC fail even if nobody writes it afterwards.
 */
const LIFETIME: Record<string, Step[]> = {
  'WATCH, RELOAD, the other client\'s SET, EXEC': [
    [1, 'SET', 'l1', '1'], [0, 'WATCH', 'l1'], [1, 'DEBUG', 'RELOAD'], [1, 'SET', 'l1', '2'],
    [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'WATCH an existing key, RELOAD, EXEC (the reload empties the db)': [
    [1, 'SET', 'l2', '1'], [0, 'WATCH', 'l2'], [1, 'DEBUG', 'RELOAD'], [0, 'MULTI'],
    [0, 'PING'], [0, 'EXEC'],
  ],
  'WATCH a missing key, RELOAD, EXEC': [
    [0, 'WATCH', 'l3'], [1, 'DEBUG', 'RELOAD'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'RELOAD before WATCH, then the other client\'s SET': [
    [1, 'SET', 'l4', '1'], [1, 'DEBUG', 'RELOAD'], [0, 'WATCH', 'l4'], [1, 'SET', 'l4', '2'],
    [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'RELOAD before WATCH, nobody writes': [
    [1, 'SET', 'l5', '1'], [1, 'DEBUG', 'RELOAD'], [0, 'WATCH', 'l5'], [1, 'SET', 'other', '2'],
    [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'RELOAD, DEL, WATCH the deleted key, FLUSHALL (the key is in neither db)': [
    [1, 'SET', 'l6', '1'], [1, 'SET', 'keep', '1'], [1, 'DEBUG', 'RELOAD'], [1, 'DEL', 'l6'], [0, 'WATCH', 'l6'],
    [1, 'FLUSHALL'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'RELOAD, DEL, WATCH the deleted key, SWAPDB with an empty db': [
    [1, 'SET', 'l7', '1'], [1, 'SET', 'keep', '1'], [1, 'DEBUG', 'RELOAD'], [1, 'DEL', 'l7'], [0, 'WATCH', 'l7'],
    [1, 'SWAPDB', '0', '5'], [1, 'SWAPDB', '0', '5'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
    [1, 'FLUSHALL'],
  ],
  'RELOAD, WATCH, SWAPDB that brings the key in': [
    [1, 'SELECT', '2'], [1, 'SET', 'l8', '1'], [1, 'SELECT', '0'], [1, 'DEBUG', 'RELOAD'],
    [0, 'WATCH', 'l8'], [1, 'SWAPDB', '0', '2'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
    [1, 'FLUSHALL'],
  ],
  'WATCH, RELOAD NOSAVE, FLUSHALL, EXEC': [
    [0, 'WATCH', 'l9'], [1, 'SET', 'l10', '1'], [1, 'DEBUG', 'RELOAD'],
    [1, 'DEBUG', 'RELOAD', 'NOSAVE'], [1, 'FLUSHALL'], [0, 'MULTI'], [0, 'PING'], [0, 'EXEC'],
  ],
  'a checkpoint (SAVE) between WATCH and EXEC touches nothing': [
    [1, 'SET', 'c1', '1'], [0, 'WATCH', 'c1'], [1, 'SAVE'], [0, 'MULTI'], [0, 'PING'],
    [0, 'EXEC'],
  ],
  'a checkpoint (SAVE), then the other client\'s SET': [
    [1, 'SET', 'c2', '1'], [0, 'WATCH', 'c2'], [1, 'SAVE'], [1, 'SET', 'c2', '2'], [0, 'MULTI'],
    [0, 'PING'], [0, 'EXEC'],
  ],
}

t.test('WATCH across DEBUG RELOAD, SWAPDB, FLUSHALL and checkpoints matches Redis 7.0.15',
  async (t) => {
    if (!requireBinary(t, 'redis-server')) return
    const redis = await startRedis(['--enable-debug-command', 'yes'])
    t.teardown(() => redis.stop())
    const capykv = await startCapykv({ args: ['--enable-debug-command', 'yes'] })
    t.teardown(() => capykv.stop())
    for (const [name, script] of Object.entries(LIFETIME)) {
      // One script at a time: DEBUG RELOAD and FLUSHALL act on the whole server.
      const expected = await play(redis.port, script)
      const actual = await play(capykv.port, script)
      t.same(actual, expected, name)
    }
  })
