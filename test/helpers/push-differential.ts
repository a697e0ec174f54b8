// The harness of the push differential tests (pub/sub, client-side caching): the same steps go
// to redis-server 7.0.15 and to capykv over several connections, and after each step every
// connection's output (replies, and what was pushed to it: messages, invalidations) is read up
// to a barrier and normalized for comparison. Steps marked 'set' compare one array reply as a
// multiset, 'frames' the frames of the output as a multiset (where Redis's order is a hash
// table's or a pointer's).

import { replyLength } from '../compat/resp.js'
import { RawClient } from './servers.js'

export type Arg = string | Buffer
/** 'set': the reply is one array whose elements are compared as a multiset. 'frames': the
 * top-level frames of each connection as a multiset (their trailing counts in order). */
export type Order = 'exact' | 'set' | 'frames'
export interface Step {
  conn: number
  argv: Arg[]
  order?: Order
  only?: 2 | 3
  sleepMs?: number
  /** Client ids in the output are written `<id:N>` (connection N): they differ per server. */
  ids?: boolean
  /** More commands sent with argv in one write, before the barrier (CLIENT CACHING's next). */
  then?: Arg[][]
}

export const s = (conn: number, ...argv: Arg[]): Step => ({ conn, argv })
export const set = (conn: number, ...argv: Arg[]): Step => ({ conn, argv, order: 'set' })
export const frames = (conn: number, ...argv: Arg[]): Step => ({ conn, argv, order: 'frames' })
/** Wait `ms` before sending (an expiry passing). */
export const after = (ms: number, conn: number, ...argv: Arg[]): Step =>
  ({ conn, argv, sleepMs: ms })
/** A step whose output names client ids (see Step.ids). */
export const ids = (conn: number, ...argv: Arg[]): Step => ({ conn, argv, ids: true })
/** An argument replaced by connection n's client id on each server. */
export const idOf = (n: number): string => `<id:${n}>`
/** Several commands of one connection in one write (nothing runs between them). */
export const pipe = (conn: number, first: Arg[], ...then: Arg[][]): Step =>
  ({ conn, argv: first, then })
export const bin = (text: string): Buffer => Buffer.from(text, 'latin1')

/** Output of a connection that gets no barrier (inside MULTI, replies off) is read until quiet. */
const QUIET_MS = 100
const BARRIER_TIMEOUT_MS = 5000

/** Top-level frames of `b`. */
function splitFrames(b: Buffer): Buffer[] {
  const out: Buffer[] = []
  let pos = 0
  while (pos < b.length) {
    const n = replyLength(b, pos)
    if (n < 0) {
      out.push(b.subarray(pos))
      break
    }
    out.push(b.subarray(pos, pos + n))
    pos += n
  }
  return out
}

/** One array reply with its elements sorted. */
function sortedArray(frame: Buffer): string {
  const nl = frame.indexOf('\r\n')
  const header = frame.toString('latin1', 0, nl + 2)
  return header + splitFrames(frame.subarray(nl + 2)).map((e) => e.toString('latin1')).sort()
    .join('')
}

/** Frames as a multiset; each frame's trailing integer (a count) kept apart, in order. */
function framesMultiset(b: Buffer): string {
  const counts: string[] = []
  const rest = splitFrames(b).map((f) => {
    const text = f.toString('latin1')
    const m = /:(\d+)\r\n$/.exec(text)
    if (m !== null) counts.push(m[1] as string)
    return m === null ? text : text.slice(0, m.index)
  })
  return `${rest.sort().join('|')} counts ${counts.join(',')}`
}

function normalize(b: Buffer, order: Order): string {
  if (order === 'set') return splitFrames(b).map(sortedArray).join('')
  if (order === 'frames') return framesMultiset(b)
  return b.toString('latin1')
}

/**
 * Everything a step causes has arrived on a connection once the reply to a PING sent after it
 * arrived (a server answers one connection in order, and a message pushed by another client's
 * command is written before that command's reply is). The PING's reply is cut off: a bulk
 * string, or RESP2 subscribed mode's ["pong", marker]. Connections inside MULTI or under
 * CLIENT REPLY OFF get no PING (it would be queued or unanswered): they are read until quiet.
 */
async function readAll(clients: RawClient[], barrier: boolean[], n: number, acting: number):
  Promise<Buffer[]> {
  const marker = `sync:${n}`
  const bulk = `$${marker.length}\r\n${marker}\r\n`
  const subscribed = `*2\r\n$4\r\npong\r\n${bulk}`
  const read = async (i: number): Promise<Buffer> => {
    const c = clients[i] as RawClient
    if (!barrier[i] || c.isClosed) return c.readFor(QUIET_MS, 1000)
    c.send(RawClient.encode('PING', marker))
    const text = await c.readUntil(bulk, BARRIER_TIMEOUT_MS)
    if (text.endsWith(subscribed)) return Buffer.from(text.slice(0, -subscribed.length), 'latin1')
    if (text.endsWith(bulk)) return Buffer.from(text.slice(0, -bulk.length), 'latin1')
    return Buffer.from(`${text} (no barrier reply)`, 'latin1')
  }
  // The acting connection first: once its command is done, what it pushed to others is
  // written, and their PINGs come after it.
  const first = await read(acting)
  const rest = await Promise.all(clients.map((_, i) => i === acting ? first : read(i)))
  return rest
}

/** Runs the steps on one server; per step, per connection, the normalized output. */
export async function runSteps(port: number, proto: 2 | 3, steps: Step[], connections = 3):
  Promise<string[][]> {
  const clients: RawClient[] = []
  for (let i = 0; i < connections; i++) clients.push(await RawClient.connect(port))
  if (proto === 3) {
    for (const c of clients) await c.command(['HELLO', '3'], 10)
  }
  const clientIds: string[] = []
  for (const c of clients) clientIds.push((await c.command(['CLIENT', 'ID'], 10)).slice(1, -2))
  const resolve = (a: Arg): Arg => {
    const m = typeof a === 'string' ? /^<id:(\d)>$/.exec(a) : null
    return m === null ? a : clientIds[Number(m[1])] as string
  }
  const named = (text: string): string => clientIds.reduce((acc, id, n) =>
    acc.split(`:${id}\r\n`).join(`:<id:${n}>\r\n`), text)
  // Which connections may get a barrier PING (see readAll).
  const barrier = clients.map(() => true)
  const out: string[][] = []
  for (const [n, step] of steps.entries()) {
    if (step.only !== undefined && step.only !== proto) {
      out.push([])
      continue
    }
    if (step.sleepMs !== undefined) await new Promise((r) => setTimeout(r, step.sleepMs))
    const name = step.argv.map((a) => String(a).toUpperCase()).join(' ')
    if (name === 'MULTI' || name === 'CLIENT REPLY OFF') barrier[step.conn] = false
    if (['EXEC', 'DISCARD', 'RESET', 'CLIENT REPLY ON'].includes(name)) barrier[step.conn] = true
    const requests = [step.argv, ...(step.then ?? [])]
      .map((argv) => RawClient.encode(...argv.map(resolve)))
    ;(clients[step.conn] as RawClient).send(Buffer.concat(requests))
    const got = await readAll(clients, barrier, n, step.conn)
    out.push(got.map((g) => {
      const text = normalize(g, step.order ?? 'exact')
      return step.ids === true ? named(text) : text
    }))
  }
  for (const c of clients) c.close()
  return out
}

export function label(step: Step): string {
  return `${'ABCDEFGH'[step.conn]}: ${step.argv.map((a) => JSON.stringify(
    typeof a === 'string' ? a : a.toString('latin1'))).join(' ')}`
}

