// TLS (src/server-tls.ts) with certificates made by the test with openssl: a CA, a server
// certificate for 127.0.0.1 and a client certificate, both signed by the CA. Checks: the TCP and
// TLS ports serve the same data; tls-auth-clients yes refuses a client without a certificate,
// optional and no accept it; CONFIG SET tls-cert-file reloads the certificate for new
// connections; a bad certificate file stops the start with one line (no stack trace); and the
// same commands give the same replies over TLS from capykv and from redis-server 7.0.15 started
// with the same certificates.

import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import net from 'node:net'
import t from 'tap'
import { Redis } from 'ioredis'
import { SERVER_MAIN, freePort, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr.toString()}`)
}

/** ca.crt, server.{crt,key} (IP 127.0.0.1), client.{crt,key}, and server2.{crt,key}. */
function makeCerts(dir: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out',
    'ca.crt', '-days', '2', '-subj', '/CN=capykv test CA'])
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n')
  for (const name of ['server', 'server2', 'client']) {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out',
      `${name}.csr`, '-subj', `/CN=${name}`])
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key',
      '-CAcreateserial', '-out', `${name}.crt`, '-days', '2',
      ...(name === 'client' ? [] : ['-extfile', 'ext'])])
  }
}

/** The fingerprint of the certificate a TLS server presents. */
function peerFingerprint(port: number, dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ port, host: '127.0.0.1', ca: readFileSync(join(dir, 'ca.crt')),
      cert: readFileSync(join(dir, 'client.crt')), key: readFileSync(join(dir, 'client.key')) },
    () => {
      resolve(s.getPeerCertificate().fingerprint256)
      s.end()
    })
    s.on('error', reject)
  })
}

function fingerprintOf(file: string): string {
  const pem = readFileSync(file, 'latin1')
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
  return (createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g) ?? []).join(':')
}

t.test('TLS port: same request path, client certificates, reload', async (t) => {
  if (!requireBinary(t, 'openssl')) return
  const dir = mkdtempSync(join(tmpdir(), 'capykv-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  makeCerts(dir)
  const tlsPort = await freePort()
  const f = (n: string): string => join(dir, n)
  const capykv = await startCapykv({ args: ['--tls-port', String(tlsPort), '--tls-cert-file',
    f('server.crt'), '--tls-key-file', f('server.key'), '--tls-ca-cert-file', f('ca.crt')] })
  t.teardown(() => capykv.stop())
  const tlsOptions = { ca: readFileSync(f('ca.crt')), cert: readFileSync(f('client.crt')),
    key: readFileSync(f('client.key')) }
  const overTls = new Redis({ port: tlsPort, host: '127.0.0.1', tls: tlsOptions })
  const overTcp = new Redis({ port: capykv.port, host: '127.0.0.1' })
  t.teardown(() => { overTls.disconnect(); overTcp.disconnect() })
  t.equal(await overTls.set('k', 'over tls'), 'OK')
  t.equal(await overTcp.get('k'), 'over tls', 'the TCP port sees the TLS write')
  await overTcp.rpush('l', 'a', 'b')
  t.same(await overTls.lrange('l', 0, -1), ['a', 'b'])
  const big = 'x'.repeat(3 * 1024 * 1024)
  await overTls.set('big', big)
  t.equal((await overTls.get('big'))?.length, big.length, 'a 3 MiB value both ways')
  await t.rejects(peerFingerprint(tlsPort, dir).then(() => new Promise((resolve, reject) => {
    const s = tls.connect({ port: tlsPort, host: '127.0.0.1', ca: tlsOptions.ca }, () => {
      s.write('PING\r\n')
    })
    s.on('data', (d) => resolve(d.toString()))
    s.on('error', reject)
    s.on('close', () => reject(new Error('closed without a reply')))
  })), 'tls-auth-clients yes: no client certificate, no service')
  t.equal(await peerFingerprint(tlsPort, dir), fingerprintOf(f('server.crt')), 'first cert')
  await overTcp.config('SET', 'tls-cert-file', f('server2.crt'), 'tls-key-file', f('server2.key'))
  t.equal(await peerFingerprint(tlsPort, dir), fingerprintOf(f('server2.crt')),
    'CONFIG SET tls-cert-file: new connections get the new certificate')
  t.equal(await overTls.ping(), 'PONG', 'an open TLS connection goes on')
  await overTcp.config('SET', 'tls-auth-clients', 'optional')
  const anonymous = new Redis({ port: tlsPort, host: '127.0.0.1', tls: { ca: tlsOptions.ca } })
  t.teardown(() => anonymous.disconnect())
  t.equal(await anonymous.get('k'), 'over tls', 'tls-auth-clients optional: no certificate needed')
  t.equal(await overTcp.config('SET', 'tls-port', String(tlsPort)), 'OK', 'tls-port: same value')
  // CONFIG SET tls-port re-listens (Redis's applyTLSPort; src/server-listen.ts).
  const movedPort = await freePort()
  t.equal(await overTcp.config('SET', 'tls-port', String(movedPort)), 'OK',
    'tls-port: another value at runtime moves the TLS listener')
  t.equal(await overTls.ping(), 'PONG', 'an open TLS connection stays')
  const moved = new Redis({ port: movedPort, host: '127.0.0.1', tls: tlsOptions })
  t.teardown(() => moved.disconnect())
  t.equal(await moved.get('k'), 'over tls', 'the new TLS port serves with the same certificates')
  t.equal(await overTcp.config('SET', 'tls-port', '0'), 'OK', 'tls-port 0')
  t.equal(await moved.ping(), 'PONG', 'tls-port 0 closes the listener, not its clients')
  t.ok(await new Promise<boolean>((resolve) => {
    const s = net.connect(movedPort, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(false) })
    s.once('error', () => resolve(true))
  }), 'tls-port 0: new connections are refused')
})

t.test('a bad certificate stops the start with one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-tls-bad-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'bad.crt'), 'not a certificate\n')
  const port = await freePort()
  const r = spawnSync(process.execPath, [SERVER_MAIN, '--port', String(port), '--bind',
    '127.0.0.1', '--dir', dir, '--pool-size', '16mb', '--tls-port', String(await freePort()),
    '--tls-cert-file', join(dir, 'bad.crt'), '--tls-key-file', join(dir, 'missing.key'),
    '--tls-auth-clients', 'no'], { timeout: 30_000 })
  const out = r.stdout.toString() + r.stderr.toString()
  t.equal(r.status, 1, 'exit code 1')
  t.match(out, /missing\.key|bad\.crt|certificate|key/i, 'names what is wrong')
  t.notMatch(out, /\n\s+at /, 'no stack trace')
})

t.test('the same replies over TLS as redis-server with the same certificates', async (t) => {
  if (!requireBinary(t, 'openssl') || !requireBinary(t, 'redis-server')) return
  const dir = mkdtempSync(join(tmpdir(), 'capykv-tls-diff-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  makeCerts(dir)
  const f = (n: string): string => join(dir, n)
  const certArgs = ['--tls-cert-file', f('server.crt'), '--tls-key-file', f('server.key'),
    '--tls-ca-cert-file', f('ca.crt')]
  const redisTls = await freePort()
  const redis = await startRedis(['--tls-port', String(redisTls), ...certArgs])
  t.teardown(() => redis.stop())
  const capyTls = await freePort()
  const capykv = await startCapykv({ args: ['--tls-port', String(capyTls), ...certArgs] })
  t.teardown(() => capykv.stop())
  const tlsOptions = { ca: readFileSync(f('ca.crt')), cert: readFileSync(f('client.crt')),
    key: readFileSync(f('client.key')) }
  const a = new Redis({ port: redisTls, host: '127.0.0.1', tls: tlsOptions })
  const b = new Redis({ port: capyTls, host: '127.0.0.1', tls: tlsOptions })
  t.teardown(() => { a.disconnect(); b.disconnect() })
  const steps: string[][] = [['PING'], ['SET', 'a', '1'], ['INCR', 'a'], ['GET', 'a'],
    ['HSET', 'h', 'f', 'v'], ['HGETALL', 'h'], ['MULTI'], ['INCR', 'a'], ['EXEC'],
    ['ACL', 'WHOAMI'], ['GET', 'nope'], ['NOSUCH'], ['CONFIG', 'GET', 'tls-auth-clients']]
  for (const argv of steps) {
    const run = async (c: Redis): Promise<unknown> => {
      try { return await c.call(argv[0] as string, ...argv.slice(1)) } catch (e) { return String(e) }
    }
    t.same(await run(b), await run(a), argv.join(' '))
  }
})
