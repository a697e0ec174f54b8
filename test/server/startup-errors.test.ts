// capykv-server stops with a one-line reason, never a stack trace, for startup errors: a data
// directory that is a file, a bad aclfile line, a missing aclfile (a bad certificate: tls.test.ts).

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SERVER_MAIN, freePort } from '../helpers/servers.js'

async function start(args: string[]): Promise<{ status: number | null; out: string }> {
  const r = spawnSync(process.execPath, [SERVER_MAIN, '--port', String(await freePort()),
    '--bind', '127.0.0.1', '--pool-size', '16mb', ...args], { timeout: 30_000 })
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() }
}

t.test('startup errors: one line each, exit code 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capykv-startup-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'a-file')
  writeFileSync(file, 'x')
  writeFileSync(join(dir, 'bad.acl'), 'user alice on +nosuchcommand\n')
  const cases: [string, string[], RegExp][] = [
    ['dir is a file', ['--dir', file], /Can't chdir to '.*a-file': Not a directory/],
    ['dir under a file', ['--dir', join(file, 'sub')], /Can't chdir to .*: Not a directory/],
    ['bad aclfile line', ['--dir', join(dir, 'd1'), '--aclfile', join(dir, 'bad.acl')],
      /ACL errors: .*bad\.acl:1: Error in applying operation '\+nosuchcommand': Unknown command/],
    ['dir under /proc (mkdir -p must not spin)', ['--dir', '/proc/1/capykv-nope'],
      /Can't chdir to '\/proc\/1\/capykv-nope': No such file or directory/],
    ['missing aclfile', ['--dir', join(dir, 'd2'), '--aclfile', join(dir, 'none.acl')],
      /ACL errors: .*none\.acl/],
  ]
  for (const [name, args, reason] of cases) {
    const r = await start(args)
    t.equal(r.status, 1, `${name}: exit 1`)
    t.match(r.out, reason, `${name}: the reason`)
    t.notMatch(r.out, /\n\s+at /, `${name}: no stack trace`)
  }
})
