// Bad and greedy clients cannot hurt the others: maxclients (the client past the limit gets
// Redis's error and is closed), ~10,000 idle connections plus a working one, a client that never
// reads its replies (the server stops reading it; its memory stays bounded), malformed frames,
// giant lengths and binary junk (Redis's protocol errors, no crash).

import t from 'tap'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { execSync } from 'node:child_process'
import { RawClient, skipWithReason, startCapykv } from '../helpers/servers.js'

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m === null ? 0 : Number(m[1]) * 1024
}

function openLimit(): number {
  try {
    return Number(execSync('ulimit -n', { shell: '/bin/sh', encoding: 'latin1' }).trim())
  } catch {
    return 0
  }
}

/** Opens `n` idle connections (in batches), resolving once all are connected. */
async function openIdle(port: number, n: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = []
  const batch = 500
  for (let i = 0; i < n; i += batch) {
    const count = Math.min(batch, n - i)
    await Promise.all(Array.from({ length: count }, () => new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => resolve())
      s.once('error', reject)
      sockets.push(s)
    })))
  }
  return sockets
}

t.test('maxclients: the client past the limit gets the error and is closed', async (t) => {
  const server = await startCapykv({ args: ['--maxclients', '20'] })
  t.teardown(() => server.stop())
  const idle = await openIdle(server.port, 20)
  t.teardown(() => { for (const s of idle) s.destroy() })
  await new Promise((r) => setTimeout(r, 200))
  const extra = await RawClient.connect(server.port)
  const got = await extra.readUntil('\r\n')
  await extra.closed
  t.equal(got, '-ERR max number of clients reached\r\n')
  t.ok(extra.isClosed, 'closed')
  idle.pop()?.destroy()
  await new Promise((r) => setTimeout(r, 200))
  const ok = await RawClient.connect(server.port)
  t.teardown(() => ok.close())
  t.equal(await ok.command(['PING']), '+PONG\r\n', 'a freed slot is usable again')
  t.match(await ok.command(['INFO', 'stats']), /rejected_connections:1\r\n/)
})

t.test('9,999 idle connections, one working client, the 10,001st refused', async (t) => {
  const limit = openLimit()
  if (limit < 10_100) {
    skipWithReason(t, `open-file limit ${limit} is under 10,100`)
    return
  }
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const rssBefore = rssBytes(server.pid)
  const idle = await openIdle(server.port, 9_999)
  t.teardown(() => { for (const s of idle) s.destroy() })
  const worker = await RawClient.connect(server.port)
  t.teardown(() => worker.close())
  t.equal(await worker.command(['SET', 'k', 'v']), '+OK\r\n')
  t.equal(await worker.command(['GET', 'k']), '$1\r\nv\r\n')
  const refused = await RawClient.connect(server.port)
  t.equal(await refused.readUntil('\r\n'), '-ERR max number of clients reached\r\n')
  await refused.closed
  t.match(await worker.command(['INFO', 'clients']), /connected_clients:10000\r\n/)
  const rssAfter = rssBytes(server.pid)
  t.ok(rssAfter < rssBefore + 200 * 1024 * 1024,
    `RSS ${rssAfter} below start ${rssBefore} + 200 MiB`)
})

t.test('a client that never reads: bounded memory, other clients unaffected', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const setup = await RawClient.connect(server.port)
  t.teardown(() => setup.close())
  const big = Buffer.alloc(1024 * 1024, 'x')
  t.equal(await setup.command(['SET', 'big', big]), '+OK\r\n')
  const rssBefore = rssBytes(server.pid)
  // 4,000 GETs of 1 MiB: 4 GB of replies the client never reads.
  const greedy = net.connect(server.port, '127.0.0.1')
  t.teardown(() => greedy.destroy())
  await new Promise<void>((r) => greedy.once('connect', () => r()))
  greedy.pause()
  const request = RawClient.encode('GET', 'big')
  const burst = Buffer.concat(Array.from({ length: 4000 }, () => request))
  greedy.write(burst)
  await new Promise((r) => setTimeout(r, 2000))
  t.equal(await setup.command(['PING']), '+PONG\r\n', 'another client is served')
  t.equal(await setup.command(['INCR', 'n']), ':1\r\n')
  const rssAfter = rssBytes(server.pid)
  t.ok(rssAfter < rssBefore + 200 * 1024 * 1024,
    `RSS ${rssAfter} below start ${rssBefore} + 200 MiB`)
  const list = await setup.command(['CLIENT', 'LIST'])
  t.match(list, /omem=\d+/)
  greedy.destroy()
  await new Promise((r) => setTimeout(r, 200))
  t.match(await setup.command(['INFO', 'clients']), /connected_clients:1\r\n/)
})

t.test('client-output-buffer-limit normal hard limit closes a greedy client', async (t) => {
  // The hard limit must sit under the 1 MiB read pause to be reachable at all.
  const server = await startCapykv({
    args: ['--client-output-buffer-limit', 'normal', '256kb', '0', '0'],
  })
  t.teardown(() => server.stop())
  const setup = await RawClient.connect(server.port)
  t.teardown(() => setup.close())
  t.equal(await setup.command(['CONFIG', 'GET', 'client-output-buffer-limit']),
    '*2\r\n$26\r\nclient-output-buffer-limit\r\n$72\r\n' +
    'normal 262144 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60\r\n')
  t.equal(await setup.command(['SET', 'big', Buffer.alloc(512 * 1024, 'y')]), '+OK\r\n')
  const greedy = net.connect(server.port, '127.0.0.1')
  t.teardown(() => greedy.destroy())
  greedy.on('error', () => {})
  await new Promise<void>((r) => greedy.once('connect', () => r()))
  greedy.pause()
  greedy.write(Buffer.concat(Array.from({ length: 200 }, () => RawClient.encode('GET', 'big'))))
  let clients = ''
  for (let i = 0; i < 100; i++) {
    clients = await setup.command(['INFO', 'clients'])
    if (/connected_clients:1\r\n/.test(clients)) break
    await new Promise((r) => setTimeout(r, 100))
  }
  t.match(clients, /connected_clients:1\r\n/, 'the greedy client was closed')
  t.equal(await setup.command(['PING']), '+PONG\r\n')
})

t.test('malformed frames, giant lengths, binary junk: errors, no crash', async (t) => {
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const cases: [string | Buffer, RegExp][] = [
    ['*2147483648\r\n', /^-ERR Protocol error: invalid multibulk length\r\n$/],
    ['*1\r\n$536870913\r\n', /^-ERR Protocol error: invalid bulk length\r\n$/],
    ['*1\r\n$-5\r\n', /^-ERR Protocol error: invalid bulk length\r\n$/],
    ['*3\r\n$3\r\nSET\r\n:1\r\n', /^-ERR Protocol error: expected '\$', got ':'\r\n$/],
    [Buffer.concat([Buffer.from('*'), Buffer.alloc(70_000, 0x31)]),
      /^-ERR Protocol error: too big mbulk count string\r\n$/],
    [Buffer.alloc(70_000, 0x61), /^-ERR Protocol error: too big inline request\r\n$/],
  ]
  for (const [input, expected] of cases) {
    const raw = await RawClient.connect(server.port)
    raw.send(input)
    const got = await raw.readUntil('\r\n')
    await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 2000))])
    t.match(got, expected, String(input).slice(0, 30))
    t.ok(raw.isClosed, 'closed')
    raw.close()
  }
  // Seeded junk: whatever the server answers, it keeps serving.
  let seed = 12345
  for (let round = 0; round < 50; round++) {
    const junk = Buffer.alloc(256)
    for (let i = 0; i < junk.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      junk[i] = seed & 0xff
    }
    const raw = await RawClient.connect(server.port)
    raw.send(junk)
    await raw.readFor(20, 200)
    raw.close()
  }
  const ok = await RawClient.connect(server.port)
  t.teardown(() => ok.close())
  t.equal(await ok.command(['PING']), '+PONG\r\n', 'still serving after 50 rounds of junk')
  const truncated = await RawClient.connect(server.port)
  truncated.send('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc')
  truncated.close()
  t.equal(await ok.command(['EXISTS', 'k']), ':0\r\n', 'a truncated request is never run')
})
