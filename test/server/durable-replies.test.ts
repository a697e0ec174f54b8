// DESIGN rule 2 at the server: a reply never leaves before every commit it depends on is
// durable. The server runs in-process over a store whose group commit is manual (nothing is
// durable until the test calls store.flush()): a write's reply, a read of the written value by
// another client, and EXEC's reply are all held until that flush, then arrive in order.

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadCommandTable } from '../../src/commands/table.js'
import { CapykvServer } from '../../src/server.js'
import { ServerConfig } from '../../src/server-config.js'
import { logger } from '../../src/server-log.js'
import { Store } from '../../src/txn/engine.js'
import { RawClient } from '../helpers/servers.js'

async function inProcessServer(t: { teardown(fn: () => unknown): void }):
  Promise<{ server: CapykvServer; store: Store }> {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-durable-'))
  const path = join(dir, 'capykv.pool')
  const store = await Store.open(path, { sizeBytes: 16 * 1024 * 1024, groupCommit: 'manual' })
  const config = new ServerConfig()
  config.setAtStartup('port', ['0'])
  logger.level = 'warning'
  const server = new CapykvServer({ config, table: await loadCommandTable(), poolPath: path })
  server.onExit = () => {}
  await server.listen()
  server.attachStore(store)
  t.teardown(async () => {
    server.requestShutdown(false, 'test over')
    await new Promise((r) => setTimeout(r, 100))
    rmSync(dir, { recursive: true, force: true })
  })
  return { server, store }
}

t.test('write, dependent read and EXEC replies wait for the group commit', async (t) => {
  const { server, store } = await inProcessServer(t)
  const a = await RawClient.connect(server.boundPort)
  const b = await RawClient.connect(server.boundPort)
  t.teardown(() => { a.close(); b.close() })
  t.equal(await a.command(['PING']), '+PONG\r\n', 'nothing pending: immediate')

  a.send(RawClient.encode('SET', 'k', 'v1'))
  await new Promise((r) => setTimeout(r, 150))
  t.equal(a.take().length, 0, 'no reply to SET before its commit is durable')
  t.ok(store.hasUncommitted)
  b.send(RawClient.encode('GET', 'k'))
  await new Promise((r) => setTimeout(r, 150))
  t.equal(b.take().length, 0, 'a read of the uncommitted value is held too')
  store.flush()
  t.equal(await a.readUntil('\r\n'), '+OK\r\n', 'released by the flush')
  t.equal(await b.readUntil('\r\n'), '$2\r\nv1\r\n')

  a.send(Buffer.concat([RawClient.encode('MULTI'), RawClient.encode('INCR', 'n'),
    RawClient.encode('INCR', 'n'), RawClient.encode('EXEC'), RawClient.encode('PING')]))
  await new Promise((r) => setTimeout(r, 150))
  t.equal(a.take().length, 0, 'the pipelined batch waits as a whole, in order')
  store.flush()
  t.equal(await a.readUntil('+PONG\r\n'),
    '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:2\r\n+PONG\r\n')
  t.equal(store.stats().recordsAppended, 2, 'one log record for SET, one for the whole EXEC')

  // Pipelined requests across two batches keep their order when the first waits.
  a.send(RawClient.encode('SET', 'x', '1'))
  await new Promise((r) => setTimeout(r, 50))
  a.send(RawClient.encode('ECHO', 'after'))
  await new Promise((r) => setTimeout(r, 100))
  t.equal(a.take().length, 0, 'ECHO waits behind the held SET reply')
  store.flush()
  t.equal(await a.readUntil('after\r\n'), '+OK\r\n$5\r\nafter\r\n')
})
