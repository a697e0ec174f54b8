// The plain-text replies of the latency monitor (Redis 7.0.15 latency.c, sparkline.c, written
// from their behaviour): LATENCY GRAPH's ASCII sparkline and LATENCY DOCTOR's report.
// Invariants:
// - GRAPH: a header (high and low of the samples kept, the all-time high), 80 dashes, then the
//   samples oldest first in blocks of 80 columns, 4 rows each, filled bars (`_ o #` for the three
//   steps of a row, `|` below the top), one blank row, and each sample's age (`12s`, `3m`, `5h`,
//   `2d`) written vertically under it. A sample's height is its share of (max - min) of all the
//   samples in 12 steps, truncated twice as Redis's int cast does.
// - DOCTOR: one line per event with its spikes, average, mean deviation and period, then the
//   advice that applies to the events capykv records (command, fast-command, expire-cycle,
//   eviction-del, eviction-cycle; Redis's fork and AOF advice has no event here to trigger it)
//   and to transparent huge pages held by this process (/proc/self/smaps_rollup), with Redis's
//   texts. Events are listed in the order they were first recorded (Redis: its dict's order).

import { readFileSync } from 'node:fs'

export interface LatencySample { time: number; latency: number }
export interface LatencySeries { samples: LatencySample[]; max: number }

const COLUMNS = 80
const ROWS = 4
const FILL = '_o#'

/** The age of a sample `seconds` old as the graph labels it. */
function ageLabel(seconds: number): string {
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.trunc(seconds / 60)}m`
  if (seconds < 86400) return `${Math.trunc(seconds / 3600)}h`
  return `${Math.trunc(seconds / 86400)}d`
}

/** One block of at most COLUMNS samples: ROWS rows of bars, a blank row, the labels. */
function renderBlock(values: readonly number[], labels: readonly string[], min: number,
  relmax: number): string[] {
  const steps = FILL.length * ROWS
  const heights = values.map((v) => {
    const step = Math.trunc(Math.trunc((v - min) * steps) / relmax)
    return Math.min(steps - 1, Math.max(0, step))
  })
  const lines: string[] = []
  for (let row = 0; row < ROWS; row++) {
    lines.push(heights.map((step) => {
      const i = step - (ROWS - row - 1) * FILL.length
      return i < 0 ? ' ' : i < FILL.length ? FILL[i] as string : '|'
    }).join(''))
  }
  lines.push(' '.repeat(values.length))
  const longest = Math.max(...labels.map((l) => l.length))
  for (let c = 0; c < longest; c++) lines.push(labels.map((l) => l[c] ?? ' ').join(''))
  return lines
}

/** LATENCY GRAPH's text for `event` at `nowSec`. */
export function latencyGraph(event: string, e: LatencySeries, nowSec: number): string {
  const values = e.samples.map((s) => s.latency)
  const labels = e.samples.map((s) => ageLabel(nowSec - s.time))
  const min = Math.min(...values)
  const max = Math.max(...values)
  const relmax = max - min === 0 ? 1 : max - min
  let text = `${event} - high ${max} ms, low ${min} ms (all time high ${e.max} ms)\n` +
    `${'-'.repeat(COLUMNS)}\n`
  for (let j = 0; j < values.length; j += COLUMNS) {
    if (j !== 0) text += '\n'
    text += renderBlock(values.slice(j, j + COLUMNS), labels.slice(j, j + COLUMNS), min, relmax)
      .map((l) => `${l}\n`).join('')
  }
  return text
}

/** What DOCTOR reads of the server. */
export interface DoctorContext {
  threshold: number
  slowlogSlowerThan: number
  hz: number
  nowSec: number
  /** Bytes of transparent huge pages this process holds (AnonHugePages). */
  anonHugePages(): number
}

/** AnonHugePages of /proc/self/smaps_rollup in bytes; 0 where it cannot be read. */
export function processAnonHugePages(): number {
  try {
    const m = /^AnonHugePages:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'latin1'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

/** analyzeLatencyForEvent's figures: whole ms (integer division), the period in seconds. */
function eventLine(n: number, name: string, e: LatencySeries, nowSec: number): string {
  const count = e.samples.length
  const sum = e.samples.reduce((a, s) => a + s.latency, 0)
  const avg = Math.trunc(sum / count)
  const mad = Math.trunc(e.samples.reduce((a, s) => a + Math.abs(avg - s.latency), 0) / count)
  const oldest = Math.min(...e.samples.map((s) => s.time))
  const period = Math.max(1, nowSec - oldest)
  return `${n}. ${name}: ${count} latency spikes (average ${avg}ms, mean deviation ${mad}ms, ` +
    `period ${twoDecimals(period, count)} sec). Worst all time event ${e.max}ms.\n`
}

/** a / b as printf's %.2f writes it: to nearest, an exact tie to even (toFixed rounds it up). */
function twoDecimals(a: number, b: number): string {
  let q = Math.trunc((a * 100) / b)
  const r = a * 100 - q * b
  if (2 * r > b || (2 * r === b && q % 2 === 1)) q++
  return `${Math.trunc(q / 100)}.${String(q % 100).padStart(2, '0')}`
}

const ADVICE = {
  slowlogInspect: '- Check your Slow Log to understand what are the commands you are running ' +
    'which are too slow to execute. Please check https://redis.io/commands/slowlog for more ' +
    'information.\n',
  scheduler: '- The system is slow to execute Redis code paths not containing system calls. ' +
    'This usually means the system does not provide Redis CPU time to run for long periods. ' +
    'You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis ' +
    'if you are running other software in the same system.\n  3) Check if you have a "noisy ' +
    'neighbour" problem.\n  4) Check with \'redis-cli --intrinsic-latency 100\' what is the ' +
    'intrinsic latency in your system.\n  5) Check if the problem is allocator-related by ' +
    'recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create ' +
    'fragmentation problems.\n',
  hz: "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' " +
    "configuration parameter to 100 using 'CONFIG SET hz 100'.\n",
  largeObjects: '- Deleting, expiring or evicting (because of maxmemory policy) large objects is ' +
    'a blocking operation. If you have very large objects that are often deleted, expired, or ' +
    'evicted, try to fragment those objects into multiple smaller objects.\n',
  massEviction: "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of " +
    'large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster ' +
    'large keys migrations (RESTORE command), may create sudden memory pressure forcing the ' +
    'server to block trying to evict keys. \n',
  thp: '- I detected a non zero amount of anonymous huge pages used by your process. This ' +
    'creates very serious latency events in different conditions, especially when Redis is ' +
    "persisting on disk. To disable THP support use the command 'echo never > " +
    "/sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local " +
    'so that the command will be executed again after a reboot. Note that even if you have ' +
    'already disabled THP, you still need to restart the Redis process to get rid of the huge ' +
    'pages already created.\n',
}

/** LATENCY DOCTOR's report over `events` (createLatencyReport). */
export function latencyDoctor(events: ReadonlyMap<string, LatencySeries>, d: DoctorContext): string {
  if (events.size === 0 && d.threshold === 0) {
    return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis " +
      'instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to ' +
      "enable it. If we weren't in a deep space mission I'd suggest to take a look at " +
      'https://redis.io/topics/latency-monitor.\n'
  }
  let report = ''
  let n = 0
  let advices = 0
  const advise = new Set<string>()
  for (const [name, e] of events) {
    if (e.samples.length === 0) continue
    if (++n === 1) {
      report += "Dave, I have observed latency spikes in this Redis instance. You don't mind " +
        'talking about it, do you Dave?\n\n'
    }
    report += eventLine(n, name, e, d.nowSec)
    const event = name.toLowerCase()
    if (event === 'command') {
      if (d.slowlogSlowerThan < 0) {
        advise.add('slowlogEnabled')
        advices++
      } else if (Math.trunc(d.slowlogSlowerThan / 1000) > d.threshold) {
        advise.add('slowlogTuning')
        advices++
      }
      advise.add('slowlogInspect').add('largeObjects')
      advices += 2
    } else if (event === 'fast-command') {
      advise.add('scheduler')
      advices++
    } else if (event === 'expire-cycle') {
      advise.add('hz').add('largeObjects')
      advices += 2
    } else if (event === 'eviction-del') {
      advise.add('largeObjects')
      advices++
    } else if (event === 'eviction-cycle') {
      advise.add('massEviction')
      advices++
    }
  }
  if (d.anonHugePages() > 0) {
    advise.add('thp')
    advices++
  }
  if (n === 0 && advices === 0) {
    return 'Dave, no latency spike was observed during the lifetime of this Redis instance, not ' +
      'in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, ' +
      'and think things over.\n'
  }
  if (advices === 0) {
    return report + "\nWhile there are latency events logged, I'm not able to suggest any easy " +
      'fix. Please use the Redis community to get some help, providing this report in your help ' +
      'request.\n'
  }
  return report + '\nI have a few advices for you:\n\n' + adviceText(advise, d)
}

function adviceText(advise: ReadonlySet<string>, d: DoctorContext): string {
  let text = ''
  const us = d.threshold * 1000
  if (advise.has('slowlogEnabled')) {
    text += '- There are latency issues with potentially slow commands you are using. Try to ' +
      `enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than ` +
      `${us}'. If the Slow log is disabled Redis is not able to log slow commands execution ` +
      'for you.\n'
  }
  if (advise.has('slowlogTuning')) {
    text += '- Your current Slow Log configuration only logs events that are slower than your ' +
      `configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than ${us}'.\n`
  }
  if (advise.has('slowlogInspect')) text += ADVICE.slowlogInspect
  if (advise.has('scheduler')) text += ADVICE.scheduler
  if (advise.has('hz') && d.hz < 100) text += ADVICE.hz
  if (advise.has('largeObjects')) text += ADVICE.largeObjects
  if (advise.has('massEviction')) text += ADVICE.massEviction
  if (advise.has('thp')) text += ADVICE.thp
  return text
}
