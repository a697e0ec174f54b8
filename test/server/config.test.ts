// Configuration as redis-server takes it: redis.conf lines and --flags, Redis's refusal texts
// for unknown or bad directives (exit 1), CONFIG GET glob patterns, CONFIG SET all-or-nothing,
// CONFIG REWRITE of the file the server was started with.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configText, FatalConfigError, loadConfig } from '../../src/config-file.js'
import { globMatch, parseMemory, ServerConfig } from '../../src/server-config.js'
import { RawClient, SERVER_MAIN, startCapykv } from '../helpers/servers.js'

t.test('memory values and globs as Redis parses them', async (t) => {
  t.equal(parseMemory('1gb'), 1024 ** 3)
  t.equal(parseMemory('1GB'), 1024 ** 3)
  t.equal(parseMemory('1G'), 1000 ** 3, 'units are case-insensitive: g is 10^9')
  t.equal(parseMemory('100mb'), 100 * 1024 * 1024)
  t.equal(parseMemory('42'), 42)
  t.equal(parseMemory('1xb'), null)
  t.ok(globMatch('max*', 'maxclients'))
  t.ok(globMatch('*max*', 'proto-max-bulk-len'))
  t.ok(globMatch('h?', 'hz'))
  t.ok(globMatch('[a-c]*', 'bind'))
  t.notOk(globMatch('[^a-c]*', 'bind'))
  t.ok(globMatch('MAX*', 'maxclients', true))
  t.notOk(globMatch('MAX*', 'maxclients'))
  t.ok(globMatch('a\\*b', 'a*b'))
  t.notOk(globMatch('a\\*b', 'axb'))
  t.ok(globMatch('*', ''))
  t.ok(globMatch('a*b*c', 'aXbYbZc'))
})

t.test('config text: file lines, then --options quoted as Redis does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-conf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'capykv.conf')
  writeFileSync(file, '# comment\nport 7000\nsave 900 1\nsave 300 10\nmaxmemory 1mb\n')
  const { text } = configText([file, '--maxclients', '77', '--save', ''])
  const config = new ServerConfig()
  loadConfig(config, text)
  t.equal(config.get('port'), '7000')
  t.equal(config.get('maxclients'), '77')
  t.equal(config.get('maxmemory'), '1048576')
  t.equal(config.get('save'), '', 'a later save "" clears the save points')
  const config2 = new ServerConfig()
  loadConfig(config2, 'save 900 1\nsave 300 10\n')
  t.equal(config2.get('save'), '900 1 300 10', 'save lines accumulate')
  const bad: [string, number, string][] = [
    ['foo bar', 1, 'Bad directive or wrong number of arguments'],
    ['port', 1, 'wrong number of arguments'],
    ['\n\nport abc', 3, "argument couldn't be parsed into an integer"],
    ['maxmemory 1xb', 1, 'argument must be a memory value'],
    ['appendonly maybe', 1, "argument must be 'yes' or 'no'"],
    ['maxclients 0', 1, 'argument must be between 1 and 4294967295 inclusive'],
  ]
  for (const [input, line, reason] of bad) {
    try {
      loadConfig(new ServerConfig(), input)
      t.fail(`accepted ${input}`)
    } catch (e) {
      t.ok(e instanceof FatalConfigError, input)
      t.equal((e as FatalConfigError).lineNumber, line)
      t.equal((e as Error).message, reason)
    }
  }
})

t.test('capykv-server refuses unknown options like redis-server (exit 1)', async (t) => {
  const r = spawnSync(process.execPath, [SERVER_MAIN, '--port', '0', '--foo', 'bar'],
    { encoding: 'latin1' })
  t.equal(r.status, 1)
  t.match(r.stderr, new RegExp('\\*\\*\\* FATAL CONFIG FILE ERROR ' +
    '\\(capykv [0-9.]+\\) \\*\\*\\*\n' +
    'Reading the configuration file, at line 3\n>>> \'foo "bar"\'\n' +
    'Bad directive or wrong number of arguments\n'))
  const r2 = spawnSync(process.execPath, [SERVER_MAIN, '--port', 'abc'], { encoding: 'latin1' })
  t.equal(r2.status, 1)
  t.match(r2.stderr, />>> 'port "abc"'\nargument couldn't be parsed into an integer/)
  const v = spawnSync(process.execPath, [SERVER_MAIN, '--version'], { encoding: 'latin1' })
  t.equal(v.status, 0)
  t.match(v.stdout, /^capykv server v=/)
})

t.test('CONFIG GET patterns, CONFIG SET all or nothing, CONFIG REWRITE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-conf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'capykv.conf')
  writeFileSync(file, '# my settings\nmaxclients 123\n')
  const server = await startCapykv({ args: [file] })
  t.teardown(() => server.stop())
  const c = await RawClient.connect(server.port)
  t.teardown(() => c.close())
  t.equal(await c.command(['CONFIG', 'GET', 'maxclients']),
    '*2\r\n$10\r\nmaxclients\r\n$3\r\n123\r\n')
  t.match(await c.command(['CONFIG', 'GET', 'slowlog*', 'hz']), /^\*6\r\n/)
  t.equal(await c.command(['CONFIG', 'SET', 'timeout', '7', 'maxclients', 'x']),
    "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't " +
    'be parsed into an integer\r\n')
  t.equal(await c.command(['CONFIG', 'GET', 'timeout']), '*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n',
    'nothing applied when one value is bad')
  t.equal(await c.command(['CONFIG', 'SET', 'timeout', '7', 'maxclients', '321']), '+OK\r\n')
  t.equal(await c.command(['CONFIG', 'REWRITE']), '+OK\r\n')
  const text = readFileSync(file, 'latin1')
  t.match(text, /# my settings/)
  t.match(text, /\nmaxclients 321\n/)
  t.match(text, /\ntimeout 7\n/)
  t.notMatch(text, /maxclients 123/)
  const server2 = await startCapykv({ args: [file] })
  t.teardown(() => server2.stop())
  const c2 = await RawClient.connect(server2.port)
  t.teardown(() => c2.close())
  t.equal(await c2.command(['CONFIG', 'GET', 'timeout']), '*2\r\n$7\r\ntimeout\r\n$1\r\n7\r\n',
    'the rewritten file is read back')
  const noFile = await startCapykv()
  t.teardown(() => noFile.stop())
  const c3 = await RawClient.connect(noFile.port)
  t.teardown(() => c3.close())
  t.equal(await c3.command(['CONFIG', 'REWRITE']),
    '-ERR The server is running without a config file\r\n')
})
