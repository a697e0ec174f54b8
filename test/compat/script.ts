// The differential scripts: a case is a list of command lines run on a reference server and on
// capykv, reply by reply. Replies must be byte-identical unless the line says otherwise, for
// the places where Redis itself is not deterministic (DESIGN.md, "Differential tests").
//
// Line syntax (redis-cli-like):   [A:|B:] COMMAND arg "quoted \x00 arg" 'literal'  [#mode]
//   A: / B:      the connection (two clients, for WATCH and MULTI interleavings); A by default
//   #set         arrays compared as multisets, nested ones too (KEYS, one SCAN call)
//   #ttl         an integer within ±1 (TTL, EXPIRETIME); #pttl within ±250 ms
//   #shape       same reply type and, for aggregates, length (RANDOMKEY, IDLETIME, HELLO…)
//   #ignore      sent to both, reply not compared
// Pseudo-commands:   !sleep MS      wait
//                    !scan ARGS…    a whole SCAN iteration (cursor 0 to 0) with the options
//                                   given; the union of the keys returned is compared as a set
//                                   (every key must be returned; duplicates are allowed)
import { parseReply, show, type Arg, type Value } from './resp.js'
import type { Conn, Target } from './targets.js'

export type Mode = 'exact' | 'set' | 'ttl' | 'pttl' | 'shape' | 'ignore'

export interface Case {
  readonly name: string
  readonly lines: readonly string[]
  /** Switch both connections to RESP3 (HELLO 3) first. */
  readonly resp3?: boolean
  /** Send every line (all on connection A, no pseudo-commands) in one write. */
  readonly pipeline?: boolean
  /** Needs a whole server (MULTI/EXEC, WATCH, SELECT, HELLO): skipped in-process. */
  readonly server?: boolean
}

interface Line {
  readonly conn: 'A' | 'B'
  readonly argv: Buffer[]
  readonly mode: Mode
  readonly pseudo: 'sleep' | 'scan' | null
  readonly text: string
}

/** redis-cli's argument splitting (sdssplitargs): quotes, \xHH and the usual escapes. */
export function splitArgs(text: string): Buffer[] {
  const out: Buffer[] = []
  let i = 0
  while (i < text.length) {
    while (i < text.length && text[i] === ' ') i++
    if (i >= text.length) break
    const bytes: number[] = []
    const quote = text[i] === '"' || text[i] === "'" ? text[i] : null
    if (quote !== null) i++
    while (i < text.length) {
      const c = text[i] as string
      if (quote === null && c === ' ') break
      if (quote !== null && c === quote) { i++; break }
      if (quote === '"' && c === '\\' && i + 1 < text.length) {
        const n = text[i + 1] as string
        if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
          bytes.push(parseInt(text.slice(i + 2, i + 4), 16))
          i += 4
          continue
        }
        const map: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, a: 7, '\\': 92, '"': 34 }
        bytes.push(map[n] ?? n.charCodeAt(0))
        i += 2
        continue
      }
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b)
      i++
    }
    out.push(Buffer.from(bytes))
  }
  return out
}

function parseLine(text: string): Line {
  let body = text
  let mode: Mode = 'exact'
  const m = / #(set|ttl|pttl|shape|ignore)$/.exec(body)
  if (m !== null) {
    mode = m[1] as Mode
    body = body.slice(0, m.index)
  }
  let conn: 'A' | 'B' = 'A'
  if (body.startsWith('A:') || body.startsWith('B:')) {
    conn = body[0] as 'A' | 'B'
    body = body.slice(2)
  }
  const argv = splitArgs(body.trim())
  let pseudo: Line['pseudo'] = null
  const head = (argv[0] as Buffer).toString()
  if (head === '!sleep') pseudo = 'sleep'
  else if (head === '!scan') pseudo = 'scan'
  return { conn, argv, mode, pseudo, text }
}

/** A canonical text of a value in which every array counts as a multiset (sorted). */
function hex(v: Value): string {
  if (Buffer.isBuffer(v)) return v.toString('hex')
  const items = elements(v)
  if (items !== null) return `[${items.map(hex).sort().join(',')}]`
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))
}

/** Elements of an array / set reply, or null when the reply is not one. */
function elements(v: Value): Value[] | null {
  if (Array.isArray(v)) return v
  if (Buffer.isBuffer(v)) return null
  if (v !== null && typeof v === 'object' && 'set' in v) return v.set
  return null
}

/** null when the replies agree under `mode`, else why not. */
export function compare(mode: Mode, expected: Buffer, actual: Buffer): string | null {
  if (mode === 'ignore') return null
  if (mode === 'exact' || expected.equals(actual)) {
    return expected.equals(actual) ? null : `expected ${show(expected)}, got ${show(actual)}`
  }
  if (expected[0] !== actual[0]) return `reply types differ: ${show(expected)} vs ${show(actual)}`
  const e = parseReply(expected)
  const a = parseReply(actual)
  if (mode === 'set') {
    const ea = elements(e)
    const aa = elements(a)
    if (ea === null || aa === null) return `not arrays: ${show(expected)} vs ${show(actual)}`
    const es = ea.map(hex).sort().join(',')
    const as = aa.map(hex).sort().join(',')
    return es === as ? null : `multisets differ: ${show(expected)} vs ${show(actual)}`
  }
  if (mode === 'ttl' || mode === 'pttl') {
    if (typeof e !== 'number' || typeof a !== 'number') return `not integers: ${show(actual)}`
    if (e < 0 || a < 0) return e === a ? null : `expected ${e}, got ${a}`
    return Math.abs(e - a) <= (mode === 'ttl' ? 1 : 250) ? null : `expected ~${e}, got ${a}`
  }
  // shape
  const ee = elements(e)
  const ae = elements(a)
  if (ee !== null && ae !== null && ee.length !== ae.length) {
    return `lengths differ: ${show(expected)} vs ${show(actual)}`
  }
  return null
}

interface Session { A: Conn | null; B: Conn | null }

async function connOf(target: Target, s: Session, which: 'A' | 'B', resp3: boolean): Promise<Conn> {
  const existing = s[which]
  if (existing !== null) return existing
  const conn = await target.connect()
  if (resp3) await conn.send([['HELLO', '3']])
  s[which] = conn
  return conn
}

/** A whole SCAN iteration: the set of keys returned (the cursor's format is the server's). */
async function scanAll(
  conn: Conn, options: Buffer[],
): Promise<{ keys: Set<string>; error?: Buffer }> {
  const keys = new Set<string>()
  let cursor: Arg = '0'
  for (let round = 0; round < 100_000; round++) {
    const [reply] = await conn.send([['SCAN', cursor, ...options]])
    const v = parseReply(reply as Buffer)
    if (!Array.isArray(v)) return { keys, error: reply as Buffer }
    for (const k of v[1] as Buffer[]) keys.add(k.toString('hex'))
    cursor = v[0] as Buffer
    if (cursor.toString() === '0') return { keys }
  }
  throw new Error('SCAN did not finish')
}

export interface CaseResult {
  readonly failures: string[]
  readonly compared: number
}

/** Run one case on both targets (fresh connections, after FLUSHALL) and compare every reply. */
export async function runCase(c: Case, reference: Target, subject: Target): Promise<CaseResult> {
  const failures: string[] = []
  let compared = 0
  const sessions: [Session, Session] = [{ A: null, B: null }, { A: null, B: null }]
  const targets: [Target, Target] = [reference, subject]
  const resp3 = c.resp3 === true
  try {
    await Promise.all(targets.map(async (t) => {
      const conn = await t.connect()
      await conn.send([['FLUSHALL']])
      conn.close()
    }))
    const lines = c.lines.map(parseLine)
    if (c.pipeline === true) {
      const replies = await Promise.all(targets.map(async (t, i) =>
        (await connOf(t, sessions[i] as Session, 'A', resp3)).send(lines.map((l) => l.argv))))
      lines.forEach((l, j) => {
        compared++
        const why = compare(l.mode, (replies[0] as Buffer[])[j] as Buffer,
          (replies[1] as Buffer[])[j] as Buffer)
        if (why !== null) failures.push(`${l.text}: ${why}`)
      })
      return { failures, compared }
    }
    for (const l of lines) {
      if (l.pseudo === 'sleep') {
        await new Promise((r) => setTimeout(r, Number((l.argv[1] as Buffer).toString())))
        continue
      }
      const conns = await Promise.all(targets.map((t, i) =>
        connOf(t, sessions[i] as Session, l.conn, resp3)))
      compared++
      if (l.pseudo === 'scan') {
        const [e, a] = await Promise.all(conns.map((conn) => scanAll(conn, l.argv.slice(1))))
        if (e === undefined || a === undefined) throw new Error('unreachable')
        if (e.error !== undefined || a.error !== undefined) {
          const array = Buffer.from('array')
          const why = compare('exact', e.error ?? array, a.error ?? array)
          if (why !== null) failures.push(`${l.text}: ${why}`)
          continue
        }
        const es = [...e.keys].sort().join(',')
        const as = [...a.keys].sort().join(',')
        if (es !== as) failures.push(`${l.text}: scanned keys differ: [${es}] vs [${as}]`)
        continue
      }
      const [expected, actual] = await Promise.all(conns.map(async (conn) =>
        (await conn.send([l.argv]))[0] as Buffer))
      const why = compare(l.mode, expected as Buffer, actual as Buffer)
      if (why !== null) failures.push(`${l.text}: ${why}`)
    }
  } finally {
    for (const s of sessions) {
      s.A?.close()
      s.B?.close()
    }
  }
  return { failures, compared }
}
