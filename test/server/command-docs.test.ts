// Issue 10: COMMAND DOCS and COMMAND INFO of every command capykv has, against redis-server
// 7.0.15, in RESP2 and RESP3. The replies are compared as trees that keep every reply type
// (map, set, array, status, bulk, integer), so the shapes must be Redis's exactly; only these
// differ on purpose:
// - the summaries, the key spec notes and the history entries' descriptions of each change,
//   which are ours (each summary and each description must differ from Redis's, ignoring case
//   and punctuation, so none is copied); the history's versions must be Redis's;
// - the order of subcommands (Redis writes its dict order) and the subcommands capykv does not
//   implement (a container lists only ours);
// - WAITAOF, CLIENT SETINFO and CLIENT NO-TOUCH, which 7.0.15 lacks (documented 7.2 additions).
// redis-cli builds its hints and HELP from COMMAND DOCS: `redis-cli help @group` must print
// every command of ours with the same syntax line as against Redis.

import { spawnSync } from 'node:child_process'
import net from 'node:net'
import t from 'tap'
import { requireBinary, startCapykv, startRedis } from '../helpers/servers.js'
import { ReplyFramer, encodeCommand } from '../compat/resp.js'

/** Commands of ours that Redis 7.0.15 does not have. */
const ADDITIONS_72 = ['client|no-touch', 'client|setinfo', 'waitaof']

type Node = { t: string; v: string | null } | { t: string; items: Node[] }

/** One whole reply as a tree that keeps each reply's type character. */
function parseTree(buf: Buffer): Node {
  let pos = 0
  const read = (): Node => {
    const lineEnd = buf.indexOf('\r\n', pos)
    const t = String.fromCharCode(buf[pos] as number)
    const line = buf.toString('latin1', pos + 1, lineEnd)
    pos = lineEnd + 2
    if (t === '$' || t === '=' || t === '!') {
      const n = Number(line)
      if (n < 0) return { t, v: null }
      const v = buf.toString('latin1', pos, pos + n)
      pos += n + 2
      return { t, v }
    }
    if (t === '*' || t === '~' || t === '>' || t === '%' || t === '|') {
      const n = Number(line)
      if (n < 0) return { t, v: null }
      const items: Node[] = []
      for (let i = 0; i < (t === '%' || t === '|' ? 2 * n : n); i++) items.push(read())
      return { t, items }
    }
    return { t, v: line }
  }
  return read()
}

const text = (n: Node | undefined): string | null =>
  n !== undefined && 'v' in n ? n.v : null

/** Pairs of a map (RESP3 %) or of a flat RESP2 array. */
function pairs(n: Node): [Node, Node][] {
  if (!('items' in n)) return []
  const out: [Node, Node][] = []
  for (let i = 0; i + 1 < n.items.length; i += 2) out.push([n.items[i] as Node, n.items[i + 1] as Node])
  return out
}

interface Canon {
  /** Subcommands to keep: ours. */
  keep: (name: string) => boolean
  /** Summaries met, by command name. */
  summaries: Map<string, string>
  /** History descriptions met, by `name#index`. */
  changes: Map<string, string>
}

/** The history array with each entry's description replaced (its version kept). */
function canonHistory(name: string, history: Node, c: Canon): Node {
  if (!('items' in history)) return history
  return {
    t: history.t,
    items: history.items.map((entry, i) => {
      if (!('items' in entry)) return entry
      c.changes.set(`${name}#${i}`, text(entry.items[1]) ?? '')
      const change = entry.items[1]
      return { t: entry.t, items: [entry.items[0] as Node, { t: change?.t ?? '$', v: '<change>' }] }
    }),
  }
}

/** Prose compared for copying: lower case, letters and digits only. */
const bare = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim()

/**
 * A COMMAND DOCS entry with the summary replaced, and the subcommands filtered and sorted
 * (name: the command the entry documents).
 */
function canonDoc(name: string, doc: Node, c: Canon): Node {
  if (!('items' in doc)) return doc
  const items: Node[] = []
  for (const [k, v] of pairs(doc)) {
    const key = text(k)
    if (key === 'summary') {
      c.summaries.set(name, text(v) ?? '')
      items.push(k, { t: v.t, v: '<summary>' })
    } else if (key === 'subcommands') {
      items.push(k, canonDocMap(v, c))
    } else if (key === 'history') {
      items.push(k, canonHistory(name, v, c))
    } else {
      items.push(k, v)
    }
  }
  return { t: doc.t, items }
}

/** A map name → doc (COMMAND DOCS's reply, or a subcommands field), sorted and filtered. */
function canonDocMap(map: Node, c: Canon): Node {
  const kept = pairs(map).filter(([k]) => c.keep(text(k) ?? ''))
    .sort(([a], [b]) => (text(a) ?? '').localeCompare(text(b) ?? ''))
  const items: Node[] = []
  for (const [k, v] of kept) items.push(k, canonDoc(text(k) ?? '', v, c))
  // The header counts what is kept.
  return { t: map.t, items }
}

/** A COMMAND INFO entry with key spec notes replaced and subcommands filtered and sorted. */
function canonInfo(info: Node, c: Canon): Node {
  if (!('items' in info)) return info
  const items = info.items.slice()
  const specs = items[8]
  if (specs !== undefined && 'items' in specs) {
    items[8] = {
      t: specs.t,
      items: specs.items.map((ks) => {
        if (!('items' in ks)) return ks
        const out: Node[] = []
        for (const [k, v] of pairs(ks)) {
          out.push(k, text(k) === 'notes' ? { t: v.t, v: '<notes>' } : v)
        }
        return { t: ks.t, items: out }
      }),
    }
  }
  const subs = items[9]
  if (subs !== undefined && 'items' in subs) {
    const kept = subs.items.filter((s) => 'items' in s && c.keep(text(s.items[0]) ?? ''))
      .sort((a, b) => ('items' in a && 'items' in b
        ? (text(a.items[0]) ?? '').localeCompare(text(b.items[0]) ?? '') : 0))
    items[9] = { t: subs.t, items: kept.map((s) => canonInfo(s, c)) }
  }
  return { t: info.t, items }
}

/** A readable rendering, one value per line, for diffs that point at the field. */
function render(n: Node, indent = ''): string {
  if ('v' in n) return `${indent}${n.t}${n.v === null ? '<null>' : JSON.stringify(n.v)}`
  const inner = n.items.map((x) => render(x, indent + '  ')).join('\n')
  return `${indent}${n.t}${n.t === '%' ? n.items.length / 2 : n.items.length}` +
    (n.items.length > 0 ? `\n${inner}` : '')
}

/** A connection that hands out whole replies. */
class Conn {
  private readonly framer = new ReplyFramer()
  private readonly waiting: ((b: Buffer) => void)[] = []

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.framer.feed(d)
      for (let r = this.framer.next(); r !== null; r = this.framer.next()) this.waiting.shift()?.(r)
    })
  }

  static async open(port: number, proto: 2 | 3): Promise<Conn> {
    const socket = net.connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const c = new Conn(socket)
    if (proto === 3) await c.call('HELLO', '3')
    return c
  }

  call(...argv: string[]): Promise<Buffer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve)
      this.socket.write(encodeCommand(argv))
    })
  }

  async tree(...argv: string[]): Promise<Node> {
    return parseTree(await this.call(...argv))
  }

  close(): void {
    this.socket.destroy()
  }
}

t.test('issue 10: COMMAND DOCS and COMMAND INFO of every command match redis-server 7.0.15',
  async (t) => {
    if (!requireBinary(t, 'redis-server')) return
    const redis = await startRedis()
    t.teardown(() => redis.stop())
    const capykv = await startCapykv()
    t.teardown(() => capykv.stop())

    const probe = await Conn.open(capykv.port, 2)
    const listed = await probe.tree('COMMAND', 'LIST')
    probe.close()
    const names = ('items' in listed ? listed.items : []).map((n) => text(n) ?? '').sort()
    t.ok(names.length > 200, `capykv lists ${names.length} commands and subcommands`)
    const ours = new Set(names)

    for (const proto of [2, 3] as const) {
      const [a, b] = [await Conn.open(capykv.port, proto), await Conn.open(redis.port, proto)]
      // A container's subcommands: those both have.
      const keep = (n: string): boolean => ours.has(n) && !ADDITIONS_72.includes(n)
      const oursC: Canon = { keep, summaries: new Map(), changes: new Map() }
      const theirsC: Canon = { keep, summaries: new Map(), changes: new Map() }
      const additions: string[] = []
      for (const name of names) {
        const mine = await a.tree('COMMAND', 'DOCS', name)
        const theirs = await b.tree('COMMAND', 'DOCS', name)
        if ('items' in theirs && theirs.items.length === 0) {
          additions.push(name)
          t.match(render(mine), /"since"\n.*"7\.2\.0"/, `RESP${proto} ${name}: a 7.2 addition`)
          continue
        }
        t.equal(render(canonDocMap(mine, oursC)), render(canonDocMap(theirs, theirsC)),
          `RESP${proto} COMMAND DOCS ${name}`)
        t.equal(render(canonInfo(firstItem(await a.tree('COMMAND', 'INFO', name)), oursC)),
          render(canonInfo(firstItem(await b.tree('COMMAND', 'INFO', name)), theirsC)),
          `RESP${proto} COMMAND INFO ${name}`)
      }
      t.same(additions, ADDITIONS_72, `RESP${proto}: only the documented 7.2 additions`)
      if (proto === 2) {
        for (const [name, summary] of oursC.summaries) {
          const theirsSummary = theirsC.summaries.get(name)
          t.ok(summary.length > 0 && bare(summary) !== bare(theirsSummary ?? ''),
            `${name}: our own summary ("${summary}")`)
        }
        for (const [at, change] of oursC.changes) {
          t.ok(change.length > 0 && bare(change) !== bare(theirsC.changes.get(at) ?? ''),
            `${at}: our own description of the change ("${change}")`)
        }
      }
      // COMMAND DOCS without arguments: every command of ours, each as COMMAND DOCS <name>.
      const all = pairs(await a.tree('COMMAND', 'DOCS'))
      const top = names.filter((n) => !n.includes('|'))
      t.same(all.map(([k]) => text(k)).sort(), top, `RESP${proto}: COMMAND DOCS lists them all`)
      for (const [k, v] of all) {
        const one = pairs(await a.tree('COMMAND', 'DOCS', text(k) ?? ''))[0]
        if (render(v) !== render(one?.[1] ?? { t: '_', v: null })) {
          t.fail(`RESP${proto} COMMAND DOCS: ${text(k)} as COMMAND DOCS ${text(k)}`)
        }
      }
      a.close()
      b.close()
    }
  })

function firstItem(n: Node): Node {
  return 'items' in n && n.items[0] !== undefined ? n.items[0] : n
}

/** redis-cli's HELP entries: name → the syntax line and the since line (summaries differ). */
function helpEntries(port: number, group: string): Map<string, string> {
  const run = spawnSync('redis-cli', ['-p', String(port), 'help', `@${group}`],
    { encoding: 'latin1', timeout: 30_000 })
  if (run.status !== 0) throw new Error(`redis-cli help @${group}: ${run.status} ${run.stderr}`)
  const out = new Map<string, string>()
  const plain = run.stdout.replace(/\x1b\[[0-9;]*m/g, '')
  for (const entry of plain.split('\r\n\r\n')) {
    const m = /^\s*(\S+(?: [A-Z-]+)?) (.*)\r\n\s*summary: .*\r\n\s*since: (.*)/.exec(entry)
    if (m !== null) out.set((m[1] as string).toLowerCase().replace(' ', '|'), `${m[2]} | ${m[3]}`)
  }
  return out
}

t.test('issue 10: redis-cli builds the same hints from capykv\'s COMMAND DOCS', async (t) => {
  if (!requireBinary(t, 'redis-server') || !requireBinary(t, 'redis-cli')) return
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const capykv = await startCapykv()
  t.teardown(() => capykv.stop())
  const probe = await Conn.open(capykv.port, 2)
  const listed = await probe.tree('COMMAND', 'LIST')
  probe.close()
  const names = ('items' in listed ? listed.items : []).map((n) => text(n) ?? '')
  const seen = new Set<string>()
  for (const group of ['generic', 'string', 'list', 'set', 'sorted-set', 'hash', 'pubsub',
    'transactions', 'connection', 'server', 'scripting', 'bitmap', 'hyperloglog', 'geo', 'stream',
    'cluster']) {
    const mine = helpEntries(capykv.port, group)
    const theirs = helpEntries(redis.port, group)
    for (const [name, line] of mine) {
      seen.add(name)
      // A syntax starting with an upper-case token (XREADGROUP GROUP …) parses as a subcommand.
      seen.add(name.split('|')[0] as string)
      if (ADDITIONS_72.includes(name)) continue
      t.equal(line, theirs.get(name), `redis-cli help @${group}: ${name}`)
    }
  }
  // Containers have no HELP entry of their own in redis-cli when they have subcommands.
  const missing = names.filter((n) => !seen.has(n) &&
    !names.some((other) => other.startsWith(`${n}|`)))
  t.same(missing, [], 'every command of ours has a redis-cli HELP entry')
})
