// Differential tests against a real redis-server 7.0.15 (DESIGN.md, "Differential tests"): the
// same command scripts go to redis-server and to capykv, each on fresh connections after a
// FLUSHALL, and every reply must be byte-identical except where Redis itself is not
// deterministic (script.ts: multisets, TTL ±1, shapes). capykv runs as a real server
// (dist/src/main.js) when it can be built and started; otherwise its command handlers run
// in-process (targets.ts), and the cases that need a whole server are skipped, saying so.
// No redis-server on PATH: skipped with the reason, or a failure when CI=true.
import { existsSync } from 'node:fs'
import t from 'tap'
import { SERVER_MAIN, hasBinary, startCapykv, startRedis } from '../helpers/servers.js'
import type { CommandSpec } from '../../src/commands/spec.js'
import { expireCases } from './cases-expire.js'
import { generatedCases } from './cases-generated.js'
import { keyCases } from './cases-keys.js'
import { sortCases } from './cases-sort.js'
import { bitopsCases } from './cases-bitops.js'
import { hllCases } from './cases-hll.js'
import { geoCases } from './cases-geo.js'
import { latencyCases } from './cases-latency.js'
import { stringCases } from './cases-string.js'
import { txnCases } from './cases-txn.js'
import { runCase, type Case } from './script.js'
import { InProcTarget, SocketTarget, type Target } from './targets.js'

const ALL_CASES: Case[] = [
  ...stringCases, ...keyCases, ...expireCases, ...txnCases, ...generatedCases, ...sortCases,
  ...bitopsCases, ...hllCases, ...geoCases, ...latencyCases,
]

/** Every `*Commands` array the command modules export (for the in-process target). */
async function commandSpecs(): Promise<CommandSpec[]> {
  const modules = ['string', 'keys', 'expire', 'list', 'hash', 'set', 'zset', 'sort',
    'bitops', 'hyperloglog', 'geo']
  const specs: CommandSpec[] = []
  for (const m of modules) {
    let mod: Record<string, unknown>
    try {
      mod = await import(`../../src/commands/${m}.js`) as Record<string, unknown>
    } catch {
      continue
    }
    for (const [name, value] of Object.entries(mod)) {
      if (name.endsWith('Commands') && Array.isArray(value)) specs.push(...(value as CommandSpec[]))
    }
  }
  return specs
}

t.test('differential: capykv answers as redis-server 7.0.15', async (t) => {
  if (!hasBinary('redis-server')) {
    const reason = 'redis-server not found on PATH'
    if (process.env.CI === 'true') t.fail(`${reason} (required when CI=true)`)
    else t.test(`${reason}: differential tests skipped`, { skip: true }, () => {})
    return
  }
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const reference = new SocketTarget('redis-server', redis.port)

  let subject: Target
  if (existsSync(SERVER_MAIN) && process.env.CAPYKV_INPROC !== '1') {
    const server = await startCapykv()
    t.teardown(async () => { await server.stop() })
    subject = new SocketTarget('capykv', server.port)
  } else {
    t.comment(`${SERVER_MAIN} missing: running capykv's handlers in-process`)
    const inproc = await InProcTarget.open(await commandSpecs())
    t.teardown(() => inproc.close())
    subject = inproc
  }

  let compared = 0
  let passed = 0
  for (const c of ALL_CASES) {
    if (!subject.fullServer && (c.server === true || c.resp3 === true)) {
      t.test(c.name, { skip: 'needs the whole server (in-process handlers only)' }, () => {})
      continue
    }
    await t.test(c.name, async (t) => {
      const result = await runCase(c, reference, subject)
      compared += result.compared
      passed += result.compared - result.failures.length
      t.same(result.failures, [], `${result.compared} replies compared`)
    })
  }
  t.comment(`differential: ${passed} of ${compared} replies identical (${ALL_CASES.length} cases)`)
})
