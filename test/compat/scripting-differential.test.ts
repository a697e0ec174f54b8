// Scripting against redis-server 7.0.15 (test/compat/cases-scripting.ts): the Lua engine's
// fidelity probes and the EVAL / SCRIPT / FUNCTION / FCALL commands, reply by reply. Needs the
// built server and redis-server on PATH (skipped with the reason, a failure when CI=true).
import t from 'tap'
import { hasBinary, startCapykv, startRedis } from '../helpers/servers.js'
import { scriptingCases } from './cases-scripting.js'
import { runCase } from './script.js'
import { SocketTarget } from './targets.js'

t.test('scripting: capykv answers as redis-server 7.0.15', async (t) => {
  if (!hasBinary('redis-server')) {
    const reason = 'redis-server not found on PATH'
    if (process.env.CI === 'true') t.fail(`${reason} (required when CI=true)`)
    else t.test(`${reason}: scripting differential tests skipped`, { skip: true }, () => {})
    return
  }
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const server = await startCapykv()
  t.teardown(async () => { await server.stop() })
  const reference = new SocketTarget('redis-server', redis.port)
  const subject = new SocketTarget('capykv', server.port)
  let compared = 0
  let failed = 0
  for (const c of scriptingCases) {
    await t.test(c.name, async (t) => {
      const result = await runCase(c, reference, subject)
      compared += result.compared
      failed += result.failures.length
      t.same(result.failures, [], `${result.compared} replies compared`)
    })
  }
  t.comment(`scripting differential: ${compared - failed} of ${compared} replies identical`)
})
