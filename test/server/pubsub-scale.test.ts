// 10,000 subscribers on one channel (issue 16, "Must show" 5): capykv started with maxclients
// above 10,000, 10,000 connections each SUBSCRIBE to one channel, PUBSUB NUMSUB and INFO count
// them, one PUBLISH reaches every one of them (its reply counts 10,000 receivers and each
// connection receives the message), and once they disconnect the channel is gone. Needs about
// 10,100 file descriptors in this process and as many in the server: skipped with a visible
// reason where the soft limit (`ulimit -n`, inherited by the server) is lower.

import { execFileSync } from 'node:child_process'
import net from 'node:net'
import t from 'tap'
import { RawClient, skipWithReason, startCapykv } from '../helpers/servers.js'

const SUBSCRIBERS = 10_000
/** Connections opened at a time (a burst of SYNs larger than the backlog is retried slowly). */
const CONNECT_BATCH = 250
const MESSAGE = '*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n'
const CONFIRMED = '*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n'

function softFileLimit(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'latin1' }).trim()
  return out === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(out)
}

/** A subscriber: resolves `confirmed` and then `received` as the bytes arrive. */
interface Subscriber {
  readonly socket: net.Socket
  readonly confirmed: Promise<void>
  readonly received: Promise<void>
}

function subscriber(port: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let onConfirmed: () => void = () => {}
    let onReceived: () => void = () => {}
    const confirmed = new Promise<void>((r) => { onConfirmed = r })
    const received = new Promise<void>((r) => { onReceived = r })
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      if (text.startsWith(CONFIRMED)) onConfirmed()
      if (text === CONFIRMED + MESSAGE) onReceived()
    })
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.write(RawClient.encode('SUBSCRIBE', 'news'))
      resolve({ socket, confirmed, received })
    })
  })
}

t.test(`${SUBSCRIBERS} subscribers on one channel all receive one PUBLISH`, async (t) => {
  const limit = softFileLimit()
  if (limit < SUBSCRIBERS + 200) {
    skipWithReason(t, `needs ${SUBSCRIBERS + 200} open files per process, ulimit -n is ${limit}`)
    return
  }
  const server = await startCapykv({ args: ['--maxclients', String(SUBSCRIBERS + 100)] })
  t.teardown(() => server.stop())
  const subs: Subscriber[] = []
  t.teardown(() => { for (const s of subs) s.socket.destroy() })
  for (let i = 0; i < SUBSCRIBERS; i += CONNECT_BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH,
      SUBSCRIBERS - i) }, () => subscriber(server.port)))
    subs.push(...batch)
    await Promise.all(batch.map((s) => s.confirmed))
  }
  const pub = await RawClient.connect(server.port)
  t.teardown(() => pub.close())
  t.equal(await pub.command(['PUBSUB', 'NUMSUB', 'news'], 20),
    `*2\r\n$4\r\nnews\r\n:${SUBSCRIBERS}\r\n`, 'PUBSUB NUMSUB counts every subscriber')
  t.equal(await pub.command(['PUBLISH', 'news', 'hello'], 20), `:${SUBSCRIBERS}\r\n`,
    'PUBLISH counts every receiver')
  let got = 0
  await Promise.race([
    Promise.all(subs.map((s) => s.received.then(() => { got++ }))),
    new Promise((r) => setTimeout(r, 60_000)),
  ])
  t.equal(got, SUBSCRIBERS, 'every subscriber received the message')
  for (const s of subs) s.socket.destroy()
  let channels = ''
  for (let i = 0; i < 200; i++) {
    channels = await pub.command(['PUBSUB', 'NUMSUB', 'news'], 20)
    if (channels.endsWith(':0\r\n')) break
  }
  t.equal(channels, '*2\r\n$4\r\nnews\r\n:0\r\n', 'the channel is gone with its subscribers')
})
