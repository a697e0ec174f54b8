// Redis's own tools against capykv, unchanged: redis-cli one-shot commands, `--pipe` mass insert
// of 100k keys, `--scan`, and redis-benchmark (PING_INLINE, PING_MBULK, SET, GET, INCR, MSET)
// with no error. Each test skips with a visible reason when the tool is missing, and fails when
// CI=true.

import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { requireBinary, startCapykv } from '../helpers/servers.js'

function cli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'latin1' })
  return (r.stdout ?? '') + (r.stderr ?? '')
}

/** Runs a tool with `input` on stdin; resolves with its exit code and output. */
function run(cmd: string, args: string[], input: Buffer | null, timeoutMs: number):
  Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString('latin1') })
    p.stderr.on('data', (d: Buffer) => { out += d.toString('latin1') })
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
    if (input !== null) p.stdin.end(input)
    else p.stdin.end()
  })
}

t.test('redis-cli one-shot commands', async (t) => {
  if (!requireBinary(t, 'redis-cli')) return
  const server = await startCapykv()
  t.teardown(() => server.stop())
  const p = server.port
  t.equal(cli(p, 'PING').trim(), 'PONG')
  t.equal(cli(p, 'SET', 'greeting', 'hello world').trim(), 'OK')
  t.equal(cli(p, 'GET', 'greeting').trim(), 'hello world')
  t.equal(cli(p, 'INCRBY', 'n', '41').trim(), '41')
  t.equal(cli(p, 'DBSIZE').trim(), '2')
  t.match(cli(p, 'NOSUCHCMD', 'x'),
    /ERR unknown command 'NOSUCHCMD', with args beginning with: 'x'/)
  t.match(cli(p, 'INFO', 'server'), /redis_version:7\.0\.15/)
  t.equal(cli(p, '-n', '3', 'SET', 'in3', 'x').trim(), 'OK')
  t.equal(cli(p, '-n', '3', 'DBSIZE').trim(), '1')
  t.equal(cli(p, 'CONFIG', 'GET', 'port').trim().split('\n')[1], String(p))
  const multi = await run('redis-cli', ['-p', String(p)],
    Buffer.from('MULTI\nINCR c\nINCR c\nEXEC\n'), 10_000)
  t.match(multi.out.replace(/\n/g, ' '), /OK QUEUED QUEUED 1 2/)
})

t.test('redis-cli --pipe inserts 100k keys; --scan lists them', async (t) => {
  if (!requireBinary(t, 'redis-cli')) return
  const server = await startCapykv({ poolSize: '256mb' })
  t.teardown(() => server.stop())
  const parts: string[] = []
  for (let i = 0; i < 100_000; i++) {
    const k = `key:${i}`
    const v = `value:${i}`
    parts.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`)
  }
  const r = await run('redis-cli', ['-p', String(server.port), '--pipe'],
    Buffer.from(parts.join('')), 120_000)
  t.equal(r.code, 0, r.out)
  t.match(r.out, /errors: 0, replies: 100000/)
  t.equal(cli(server.port, 'DBSIZE').trim(), '100000')
  t.equal(cli(server.port, 'GET', 'key:99999').trim(), 'value:99999')
  const scan = await run('redis-cli', ['-p', String(server.port), '--scan', '--pattern',
    'key:9999*'], null, 60_000)
  t.same(scan.out.trim().split('\n').sort(),
    ['key:9999', 'key:99990', 'key:99991', 'key:99992', 'key:99993', 'key:99994', 'key:99995',
      'key:99996', 'key:99997', 'key:99998', 'key:99999'])
})

t.test('redis-benchmark -t ping,set,get,incr,mset -n 10000 runs with no error', async (t) => {
  if (!requireBinary(t, 'redis-benchmark')) return
  const server = await startCapykv({ poolSize: '256mb' })
  t.teardown(() => server.stop())
  const r = await run('redis-benchmark', ['-p', String(server.port), '-t',
    'ping,set,get,incr,mset', '-n', '10000', '-q'], null, 240_000)
  const lines = r.out.split(/[\r\n]+/).filter((l) => /requests per second/.test(l))
  t.equal(r.code, 0, 'exit code')
  t.notMatch(r.out, /error|ERR/i, 'no error reply')
  for (const test of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR', 'MSET (10 keys)']) {
    t.ok(lines.some((l) => l.startsWith(`${test}:`)), `${test} ran`)
  }
  t.comment(lines.join('\n'))
  t.equal(cli(server.port, 'GET', 'counter:__rand_int__').trim(), '10000',
    'every INCR was applied once')
})

// Issue 5, "must show" 3: redis-benchmark's whole default test set (no -t), which covers the
// list, set, hash and sorted-set commands (LPUSH RPUSH LPOP RPOP SADD HSET SPOP ZADD ZPOPMIN
// LPUSH+LRANGE_100/300/500/600 MSET), completes with no error reply.
t.test('redis-benchmark -n 10000 with its full default test set runs with no error', async (t) => {
  if (!requireBinary(t, 'redis-benchmark')) return
  const server = await startCapykv({ poolSize: '256mb' })
  t.teardown(() => server.stop())
  const r = await run('redis-benchmark', ['-p', String(server.port), '-n', '10000', '-q'], null,
    600_000)
  const lines = r.out.split(/[\r\n]+/).filter((l) => /requests per second/.test(l))
  t.equal(r.code, 0, 'exit code')
  t.notMatch(r.out, /error|ERR/i, 'no error reply')
  for (const test of ['PING_INLINE', 'SET', 'GET', 'INCR', 'LPUSH', 'RPUSH', 'LPOP', 'RPOP',
    'SADD', 'HSET', 'SPOP', 'ZADD', 'ZPOPMIN', 'LPUSH (needed to benchmark LRANGE)',
    'LRANGE_100 (first 100 elements)', 'LRANGE_600 (first 600 elements)', 'MSET (10 keys)']) {
    t.ok(lines.some((l) => l.startsWith(`${test}:`)), `${test} ran`)
  }
  t.comment(lines.join('\n'))
})
