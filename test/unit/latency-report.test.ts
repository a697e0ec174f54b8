// Issue 14: LATENCY GRAPH's sparkline and LATENCY DOCTOR's report (src/commands/latency-report.ts)
// on fixed samples, against the rendering a redis-server 7.0.15 printed for the same shape
// (`LATENCY GRAPH command` after DEBUG SLEEPs of 0.05+0.2, 0.1 and 0.03 s a second apart: samples
// 251, x, 31 ms gave the rows "#  ", "|  ", "|# ", "||_", a blank row, then "310" and "sss"; any x
// from 123 to 140 ms draws that middle column, 130 is used).
// The heights here are worked by hand: height = trunc(trunc((v - min) * 12) / (max - min)),
// capped at 11, drawn from the bottom row up with `_ o #` and `|` below the top.

import t from 'tap'
import { latencyDoctor, latencyGraph, type DoctorContext, type LatencySeries } from
  '../../src/commands/latency-report.js'

const NOW = 1_000_000

function series(latencies: number[], max = Math.max(...latencies)): LatencySeries {
  return { samples: latencies.map((latency, i) => ({ time: NOW - latencies.length + 1 + i, latency })), max }
}

t.test('GRAPH: header, dashes, four filled rows, a blank row, the ages vertically', async (t) => {
  const text = latencyGraph('command', series([10, 20, 40, 100], 120), NOW)
  t.equal(text, 'command - high 100 ms, low 10 ms (all time high 120 ms)\n' + '-'.repeat(80) + '\n' +
    '   #\n' + '   |\n' + '  o|\n' + '_o||\n' + '    \n' + '3210\n' + 'ssss\n')
})

t.test('GRAPH: Redis 7.0.15\'s own rendering of 251, 130, 31 ms', async (t) => {
  const rows = latencyGraph('command', series([251, 130, 31]), NOW).split('\n').slice(2, 7)
  t.same(rows, ['#  ', '|  ', '|# ', '||_', '   '])
})

t.test('GRAPH: equal samples sit on the bottom row; ages in m, h, d; 80 columns a block', async (t) => {
  const e: LatencySeries = { samples: [{ time: NOW - 90, latency: 5 }, { time: NOW - 7200, latency: 5 },
    { time: NOW - 200_000, latency: 5 }], max: 5 }
  e.samples.sort((a, b) => a.time - b.time)
  const lines = latencyGraph('x', e, NOW).split('\n')
  t.same(lines.slice(2, 10), ['   ', '   ', '   ', '___', '   ', '221', 'dhm', ''])
  const many = latencyGraph('x', series(Array.from({ length: 85 }, (_, i) => i + 1)), NOW).split('\n')
  t.equal(many[2]?.length, 80, 'the first block is 80 columns wide')
  // 4 rows + the blank row + 3 label rows (ages up to `84s`), then an empty separator line.
  t.equal(many[10], '', 'blocks are separated by an empty line')
  t.equal(many[11]?.length, 5, 'the second block holds the last 5 samples')
})

function context(over: Partial<DoctorContext> = {}): DoctorContext {
  return { threshold: 10, slowlogSlowerThan: 10000, hz: 10, nowSec: NOW, anonHugePages: () => 0, ...over }
}

t.test('DOCTOR: disabled, no spikes, and the per-event line with Redis\'s integer figures', async (t) => {
  t.match(latencyDoctor(new Map(), context({ threshold: 0 })), /^I'm sorry, Dave, I can't do that\./)
  t.match(latencyDoctor(new Map(), context()), /^Dave, no latency spike was observed.*think things over\.\n$/)
  // 8 samples over 1 s: period 0.125, printed 0.12 as printf's %.2f (a tie to even); average
  // trunc(141 / 8) = 17, mean deviation trunc((7+6+5+4+3+2+1+33) / 8) = 7.
  const events = new Map([['command', series([10, 11, 12, 13, 14, 15, 16, 50], 60)]])
  events.get('command')?.samples.forEach((s) => { s.time = NOW - 1 })
  const report = latencyDoctor(events, context())
  t.match(report, "1. command: 8 latency spikes (average 17ms, mean deviation 7ms, period 0.12 sec). " +
    'Worst all time event 60ms.\n')
  t.match(report, /I have a few advices for you:\n\n- Check your Slow Log/)
  t.notMatch(report, /slowlog-log-slower-than/, 'the slow log threshold is not above the monitor\'s')
  t.match(latencyDoctor(events, context({ slowlogSlowerThan: 20000 })),
    "Please use 'CONFIG SET slowlog-log-slower-than 10000'")
  t.match(latencyDoctor(events, context({ slowlogSlowerThan: -1 })), 'Try to enable the Slow Log')
})

t.test('DOCTOR: fast-command and expire-cycle advice, hz, huge pages, events without advice', async (t) => {
  const fast = latencyDoctor(new Map([['fast-command', series([3])]]), context())
  t.match(fast, '1) Lower the system load.')
  const expire = latencyDoctor(new Map([['expire-cycle', series([30])]]), context())
  t.match(expire, "CONFIG SET hz 100")
  t.notMatch(latencyDoctor(new Map([['expire-cycle', series([30])]]), context({ hz: 100 })), 'CONFIG SET hz')
  t.match(latencyDoctor(new Map(), context({ anonHugePages: () => 4096 })), /anonymous huge pages/)
  t.match(latencyDoctor(new Map([['group-commit', series([12])]]), context()),
    /I'm not able to suggest any easy fix/)
})
