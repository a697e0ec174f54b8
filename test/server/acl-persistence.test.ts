// ACL persistence against a real redis-server 7.0.15 (issue 19): `user` lines in the config
// file (the users they make, the FATAL CONFIG errors of bad ones, the startup errors of rules
// that only fail at load, the exclusion with aclfile), CONFIG REWRITE writing the users back,
// and the aclfile: ACL LOAD's replies and error texts for the same files (both servers read
// one shared file, so the paths in the texts agree), ACL SAVE's file, ACL LOAD closing the
// clients of the replaced users. Single-command rules of a description are compared as a
// multiset (Redis's order is its command dict's, random per process).

import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Redis } from 'ioredis'
import {
  SERVER_MAIN, freePort, requireBinary, startCapykv, startRedis,
} from '../helpers/servers.js'

/** A description's single-command rules sorted (they follow Redis's random dict order). */
function normalize(r: unknown): unknown {
  if (Array.isArray(r)) return r.map(normalize)
  if (typeof r !== 'string' || !/[+-]@all/.test(r)) return r
  return r.split(/(\(|\))/).map((part) => {
    const words = part.split(' ')
    const singles = words.filter((w) => /^[+-][a-z]/.test(w)).sort()
    let i = 0
    return words.map((w) => /^[+-][a-z]/.test(w) ? singles[i++] : w).join(' ')
  }).join('')
}

async function call(c: Redis, ...argv: string[]): Promise<unknown> {
  try {
    return normalize(await c.call(argv[0] as string, ...argv.slice(1)))
  } catch (e) {
    return `ERROR: ${(e as Error).message}`
  }
}

/** The `user` lines of a config file, normalized and sorted. */
function userLinesOf(path: string): string[] {
  return readFileSync(path, 'latin1').split('\n').filter((l) => l.startsWith('user '))
    .map((l) => normalize(l) as string).sort()
}

const USERS_CONF = [
  'user default on >pw ~* &* +@all',
  'user alice on >a1 ~k* &ch* +get +set (~r* +@read) ( %W~w* +@write )',
  'user bob off nopass',
  'user carol on #' + 'a'.repeat(64) + ' allkeys +@all -@dangerous +config|get',
  'user  dave  on  >d  ',
].join('\n') + '\n'

t.test('config user lines: the same users, CONFIG REWRITE writes them, a restart reads them',
  async (t) => {
    if (!requireBinary(t, 'redis-server')) return
    const dir = mkdtempSync(join(tmpdir(), 'capykv-aclconf-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const capConf = join(dir, 'capykv.conf')
    const redisConf = join(dir, 'redis.conf')
    writeFileSync(capConf, USERS_CONF)
    writeFileSync(redisConf, USERS_CONF)
    const cap = await startCapykv({ args: [capConf], poolSize: '16mb', keepDir: false })
    t.teardown(() => cap.stop())
    const redis = await startRedis([redisConf])
    t.teardown(() => redis.stop())
    const c = new Redis({ port: cap.port, password: 'pw', lazyConnect: true })
    const r = new Redis({ port: redis.port, password: 'pw', lazyConnect: true })
    t.teardown(() => { c.disconnect(); r.disconnect() })
    await c.connect()
    await r.connect()
    t.same(await call(c, 'ACL', 'LIST'), await call(r, 'ACL', 'LIST'), 'ACL LIST from the config')
    for (const steps of [['ACL', 'SETUSER', 'erin', 'on', '>e', '~e*', '+@list'],
      ['ACL', 'DELUSER', 'bob'], ['CONFIG', 'REWRITE']]) {
      t.same(await call(c, ...steps), await call(r, ...steps), steps.join(' '))
    }
    t.same(userLinesOf(capConf), userLinesOf(redisConf), 'CONFIG REWRITE: the same user lines')
    const before = await call(c, 'ACL', 'LIST')
    c.disconnect()
    await cap.stop()
    const again = await startCapykv({ args: [capConf], poolSize: '16mb' })
    t.teardown(() => again.stop())
    const c2 = new Redis({ port: again.port, password: 'pw' })
    t.teardown(() => c2.disconnect())
    t.same(await call(c2, 'ACL', 'LIST'), before, 'the users after a restart from the rewrite')
    t.same(await call(c2, 'CONFIG', 'REWRITE'), 'OK', 'a second rewrite')
    t.same(userLinesOf(capConf), userLinesOf(redisConf), 'still the same user lines')
  })

/** Start a server on `config`; it must exit (killed after 30 s): its status and its output. */
async function mustFail(binary: 'capykv' | 'redis', config: string): Promise<{
  status: number | null; out: string
}> {
  const port = String(await freePort())
  const child = binary === 'capykv'
    ? spawn(process.execPath, [SERVER_MAIN, config, '--port', port, '--pool-size', '16mb',
      '--dir', join(config, '..', 'data')])
    : spawn('redis-server', [config, '--port', port, '--save', ''])
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
  clearTimeout(timer)
  return { status, out }
}

/** The lines that say why (FATAL CONFIG block, or the log lines' messages). */
function reasons(out: string): string[] {
  return out.split('\n').map((l) => l.replace(/^\d+:[A-Z] [^#*]*[#*] /, ''))
    .filter((l) => /^(Reading|>>>|Error|Spaces|Critical|Configuring|Aborting)/.test(l))
}

t.test('config user lines: startup errors as redis-server reports them', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const dir = mkdtempSync(join(tmpdir(), 'capykv-aclbad-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'users.acl'), 'user default on nopass ~* +@all\n')
  const cases = [
    'user alice on badrule', 'user alice badrule', 'user alice on >p\nuser alice off',
    'user alice on (~x +get', 'user alice on +nosuch', 'user "a b" on',
    'user alice on allkeys ~x', 'user alice on #abc', 'user alice <nothere',
    `user default off\naclfile ${join(dir, 'users.acl')}`, 'user',
    'port 7000\nuser alice on >p\nuser bob on &x allchannels &y',
  ]
  // Three cases at a time, each one's two servers at once (short-lived processes).
  type Outcome = Awaited<ReturnType<typeof mustFail>>
  const runs: Promise<[Outcome, Outcome]>[] = []
  for (const [i, text] of cases.entries()) {
    const config = join(dir, `c${i}.conf`)
    writeFileSync(config, `${text}\n`)
    if (i >= 3) await runs[i - 3]
    runs.push(Promise.all([mustFail('capykv', config), mustFail('redis', config)]))
  }
  for (const [i, text] of cases.entries()) {
    const [cap, redis] = await (runs[i] as Promise<[Outcome, Outcome]>)
    t.equal(cap.status, 1, `${text}: capykv exits 1`)
    t.equal(redis.status, 1, `${text}: redis exits 1`)
    t.not(reasons(redis.out).length, 0, `${text}: redis gives a reason`)
    t.same(reasons(cap.out), reasons(redis.out), `${text}: the same reason`)
    t.notMatch(cap.out, /\n\s+at /, `${text}: no stack trace`)
  }
})

const LOAD_CASES: string[] = [
  'user default on nopass ~* &* +@all\nuser alice on >a1 ~k* +get\n',
  'user alice on >pw\n# comment\n',
  'user alice on >pw\nuser alice off\n',
  'user alice on >pw bogus +nosuch +nosuch2 bogus2 ~x allkeys ~y\n',
  'usr alice\nuser\n',
  'user alice (~x +get\n',
  'user alice  on\n',
  'user \x0bx on\n',
  '\n\n  user alice on >pw  \t\r\n',
  'user bob on nopass\tallkeys\n',
  'user alice on (~x +get) (+set %R~y*)\nuser default on >secret +@all ~*\n',
  'user default off +@all ~* &*\n',
  '',
  'user alice on >p1 ~a*\nuser bob on >p2 &b*\nuser default on nopass +@all ~* &*\n',
]

t.test('aclfile: ACL LOAD and ACL SAVE as redis-server', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const dir = mkdtempSync(join(tmpdir(), 'capykv-aclfile-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'users.acl')
  writeFileSync(file, 'user default on nopass ~* &* +@all\n')
  const cap = await startCapykv({ args: ['--aclfile', file], poolSize: '16mb' })
  t.teardown(() => cap.stop())
  const redis = await startRedis(['--aclfile', file])
  t.teardown(() => redis.stop())
  const admin = async (port: number): Promise<Redis> => {
    const c = new Redis({ port, lazyConnect: true, retryStrategy: () => null })
    await c.connect()
    return c
  }
  for (const text of LOAD_CASES) {
    writeFileSync(file, text)
    const c = await admin(cap.port)
    const r = await admin(redis.port)
    const name = JSON.stringify(text)
    t.same(await call(c, 'ACL', 'LOAD'), await call(r, 'ACL', 'LOAD'), `ACL LOAD ${name}`)
    t.same(await call(c, 'ACL', 'LIST'), await call(r, 'ACL', 'LIST'), `ACL LIST after ${name}`)
    // Back to a passwordless default user for the next case.
    writeFileSync(file, 'user default on nopass ~* &* +@all\n')
    await call(c, 'AUTH', 'default', 'secret')
    await call(r, 'AUTH', 'default', 'secret')
    t.same(await call(c, 'ACL', 'LOAD'), 'OK')
    t.same(await call(r, 'ACL', 'LOAD'), 'OK')
    c.disconnect()
    r.disconnect()
  }
  const c = await admin(cap.port)
  const r = await admin(redis.port)
  t.teardown(() => { c.disconnect(); r.disconnect() })
  for (const s of [['ACL', 'SETUSER', 'zed', 'on', '>z', '~z*', '+@hash', '(+get ~g*)'],
    ['ACL', 'SETUSER', 'amy', 'off', '#' + 'b'.repeat(64), '&news', '-@all', '+ping']]) {
    t.same(await call(c, ...s), await call(r, ...s), s.join(' '))
  }
  t.same(await call(r, 'ACL', 'SAVE'), 'OK')
  const redisSaved = readFileSync(file, 'latin1').split('\n').map((l) => normalize(l))
  writeFileSync(file, '')
  t.same(await call(c, 'ACL', 'SAVE'), 'OK')
  const capSaved = readFileSync(file, 'latin1').split('\n').map((l) => normalize(l))
  t.same(capSaved, redisSaved, 'ACL SAVE: the same file')
  t.same(readdirSync(dir).sort(), ['users.acl'], 'no temporary file left')
  rmSync(file)
  t.same(await call(c, 'ACL', 'LOAD'), await call(r, 'ACL', 'LOAD'), 'ACL LOAD of a missing file')
})

t.test('ACL LOAD closes the clients of the replaced users (default user clients stay)',
  async (t) => {
    if (!requireBinary(t, 'redis-server')) return
    const dir = mkdtempSync(join(tmpdir(), 'capykv-aclkill-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'users.acl')
    writeFileSync(file, 'user default on nopass ~* &* +@all\nuser alice on >a +@all ~*\n')
    const cap = await startCapykv({ args: ['--aclfile', file], poolSize: '16mb' })
    t.teardown(() => cap.stop())
    const redis = await startRedis(['--aclfile', file])
    t.teardown(() => redis.stop())
    for (const [name, port] of [['capykv', cap.port], ['redis', redis.port]] as const) {
      const opts = { port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 }
      const alice = new Redis({ ...opts, username: 'alice', password: 'a' })
      const plain = new Redis(opts)
      const aliceLoads = new Redis({ ...opts, username: 'alice', password: 'a' })
      await Promise.all([alice.connect(), plain.connect(), aliceLoads.connect()])
      const closed = new Promise<void>((resolve) => alice.once('close', () => resolve()))
      const loaderClosed = new Promise<void>((resolve) => aliceLoads.once('close', () => resolve()))
      t.equal(await aliceLoads.call('ACL', 'LOAD'), 'OK', `${name}: ACL LOAD by alice answers`)
      await closed
      t.pass(`${name}: alice's other connection is closed`)
      await loaderClosed
      t.pass(`${name}: the loading client is closed after its reply`)
      t.equal(await plain.ping(), 'PONG', `${name}: the default user's client stays`)
      for (const c of [alice, plain, aliceLoads]) c.disconnect()
    }
  })

t.test('capykv only: an unmatched parenthesis after rules (redis-server 7.0.15 crashes)',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'capykv-aclparen-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'users.acl')
    writeFileSync(file, '')
    const cap = await startCapykv({ args: ['--aclfile', file], poolSize: '16mb' })
    t.teardown(() => cap.stop())
    const c = new Redis({ port: cap.port })
    t.teardown(() => c.disconnect())
    writeFileSync(file, 'user alice on (~x +get\n')
    t.same(await call(c, 'ACL', 'LOAD'), `ERROR: ERR ${file}:1: Unmatched parenthesis in ` +
      'selector definition.WARNING: ACL errors detected, no change to the previously active ' +
      'ACL rules was performed')
    t.same(await call(c, 'ACL', 'USERS'), ['default'], 'nothing loaded')
  })
