// The main thread's Lua engine (src/scripting/inline-engine.ts, issue 13): past its wall-clock
// deadline a job goes on until it has used a window more of CPU, so a job stretched by waiting
// (a loaded machine's preemption; here a host call that sleeps) runs to its end on the main
// thread, and a job that keeps running (a host call that spins) is stopped. Outcomes only, no
// timing assertion: the windows are far from what each job needs either way.

import t from 'tap'
import type { ScriptHost } from '../../src/scripting/engine.js'
import { InlineLuaEngine } from '../../src/scripting/inline-engine.js'

const OK = Buffer.from('+OK\r\n')
const LOOP = Buffer.from("for i = 1, tonumber(ARGV[1]) do redis.call('PING') end return 1")

function host(onCall: () => void): ScriptHost {
  return {
    call: () => {
      onCall()
      return OK
    },
    aclCheck: () => OK,
    log: () => {},
  }
}

async function ready(engine: InlineLuaEngine): Promise<void> {
  for (let i = 0; i < 600 && !engine.ready; i++) await new Promise((r) => setTimeout(r, 50))
  if (!engine.ready) throw new Error('the engine did not load')
}

const sleeper = new Int32Array(new SharedArrayBuffer(4))

t.test('a job that waits past its deadline is not stopped; one that runs is', async (t) => {
  const engine = new InlineLuaEngine()
  await ready(engine)
  const windowMs = 20
  // Six host calls of 3 windows' sleep each: 18 windows of wall clock, next to no CPU.
  const waiting = engine.tryScript('a'.repeat(40), LOOP, [], [Buffer.from('6')],
    host(() => { Atomics.wait(sleeper, 0, 0, 3 * windowMs) }),
    performance.now() + windowMs, Infinity)
  t.same(waiting, { ok: true, value: 1 }, 'the waiting job ran to its end')
  t.equal(engine.aborts, 0, 'nothing stopped')
  // 500 host calls that spin 2 ms each (1 s of CPU): stopped after about a window of CPU.
  const running = engine.tryScript('a'.repeat(40), LOOP, [], [Buffer.from('500')],
    host(() => {
      const end = performance.now() + 2
      while (performance.now() < end) { /* spin */ }
    }),
    performance.now() + windowMs, Infinity)
  t.equal(running, null, 'the running job was stopped')
  t.equal(engine.aborts, 1, 'once')
  await ready(engine)
})
