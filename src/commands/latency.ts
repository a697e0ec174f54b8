// The latency monitor (Redis 7.0.15 latency.c) and per-command latency histograms: LATENCY
// LATEST HISTORY RESET GRAPH DOCTOR HISTOGRAM HELP.
// Invariants:
// - An event is recorded when latency-monitor-threshold is > 0 and a sample reaches it: command
//   and fast-command (a command's run time), expire-cycle (one active expire pass). Each event
//   keeps its last 160 samples (one per second: a later sample of the same second keeps the max)
//   and its all-time max, as Redis's latencyAddSample.
// - Each command's calls are counted in an HDR histogram of nanoseconds as Redis's
//   (latency-histogram.ts) while latency-tracking is yes: a call of d whole microseconds is
//   recorded as d × 1000 ns, as Redis records its duration; CONFIG RESETSTAT clears them with the
//   command stats they live in. LATENCY HISTOGRAM and INFO latencystats read them.
// State is per server (keyed by the services object), never logged.

import { LatencyHistogram } from './latency-histogram.js'
import {
  latencyDoctor, latencyGraph, processAnonHugePages, type LatencySample, type LatencySeries,
} from './latency-report.js'
import type { CommandStat, ServerServices } from './services.js'
import type { CommandContext, CommandSpec, Handler } from './spec.js'

const SAMPLES = 160

type Sample = LatencySample
type EventSeries = LatencySeries

const STATES = new WeakMap<object, Map<string, EventSeries>>()

function eventsOf(server: unknown): Map<string, EventSeries> {
  const key = (server ?? {}) as object
  let s = STATES.get(key)
  if (s === undefined) {
    s = new Map()
    STATES.set(key, s)
  }
  return s
}

/** latencyAddSampleIfNeeded: `ms` for `event` when it reaches the threshold. */
export function latencySample(server: ServerServices, event: string, ms: number): void {
  const threshold = server.config.getNumber('latency-monitor-threshold')
  if (threshold <= 0 || ms < threshold) return
  const events = eventsOf(server)
  let e = events.get(event)
  if (e === undefined) {
    e = { samples: [], max: 0 }
    events.set(event, e)
  }
  const latency = Math.round(ms)
  const time = Math.floor(Date.now() / 1000)
  if (latency > e.max) e.max = latency
  const last = e.samples[e.samples.length - 1]
  if (last !== undefined && last.time === time) {
    if (latency > last.latency) last.latency = latency
    return
  }
  e.samples.push({ time, latency })
  if (e.samples.length > SAMPLES) e.samples.shift()
}

/** A command's run of `usec` whole microseconds: its histogram, and the command / fast-command
 * latency event. */
export function latencyCommand(server: ServerServices, stat: CommandStat, usec: number,
  fast: boolean): void {
  if (server.config.get('latency-tracking') === 'yes') {
    (stat.histogram ??= new LatencyHistogram()).record(usec * 1000)
  }
  latencySample(server, fast ? 'fast-command' : 'command', usec / 1000)
}

function latestReply(ctx: CommandContext): void {
  const events = eventsOf(ctx.server)
  ctx.reply.arrayHeader(events.size)
  for (const [name, e] of events) {
    const last = e.samples[e.samples.length - 1] as Sample
    ctx.reply.arrayHeader(4)
    ctx.reply.bulk(name)
    ctx.reply.integer(last.time)
    ctx.reply.integer(last.latency)
    ctx.reply.integer(e.max)
  }
}

function histogramOf(ctx: CommandContext, name: string, h: LatencyHistogram): void {
  ctx.reply.bulk(name)
  ctx.reply.mapHeader(2)
  ctx.reply.bulk('calls')
  ctx.reply.integer(h.total)
  ctx.reply.bulk('histogram_usec')
  const buckets = h.buckets()
  ctx.reply.mapHeader(buckets.length)
  for (const [usec, calls] of buckets) {
    ctx.reply.integer(usec)
    ctx.reply.integer(calls)
  }
}

/**
 * INFO latencystats' lines (genRedisInfoStringLatencyStats): for each command timed, its
 * percentiles of latency-tracking-info-percentiles in microseconds, printed as Redis prints them
 * ("p99.9=1.003"); none while latency-tracking is no.
 */
export function latencystatsLines(sv: ServerServices): string[] {
  if (sv.config.get('latency-tracking') !== 'yes') return []
  const percentiles = sv.config.get('latency-tracking-info-percentiles').split(' ')
    .filter((w) => w !== '')
  const lines: string[] = []
  for (const [name, stat] of sv.stats.commands) {
    const h = stat.histogram
    if (h === undefined || h.total === 0) continue
    const values = percentiles.map((p) =>
      `p${p}=${(h.valueAtPercentile(Number(p)) / 1000).toFixed(3)}`)
    lines.push(`latency_percentiles_usec_${name.replace(/[:\r\n]/g, '_')}:${values.join(',')}`)
  }
  return lines
}

/** LATENCY HISTOGRAM [command ...]: the commands (and a container's subcommands) called. */
function histogramReply(ctx: CommandContext, argv: Buffer[]): void {
  const sv = ctx.server as ServerServices
  const names: string[] = []
  const called = (n: string): boolean => (sv.stats.commands.get(n)?.histogram?.total ?? 0) > 0
  if (argv.length === 2) {
    for (const n of sv.stats.commands.keys()) if (called(n)) names.push(n)
  } else {
    for (let j = 2; j < argv.length; j++) {
      const [parent = '', child] = (argv[j] as Buffer).toString('latin1').toLowerCase().split('|')
      const spec = child === undefined ? sv.table.byName.get(parent)
        : sv.table.subcommands.get(parent)?.get(child)
      if (spec === undefined) continue
      const subs = child === undefined ? spec.subcommands ?? [] : []
      for (const s of subs.length > 0 ? subs : [spec]) {
        if (called(s.name) && !names.includes(s.name)) names.push(s.name)
      }
    }
  }
  ctx.reply.mapHeader(names.length)
  for (const n of names) histogramOf(ctx, n, sv.stats.commandStat(n).histogram as LatencyHistogram)
}

const LATENCY_HELP = [
  'LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
  'DOCTOR',
  '    Return a human readable latency analysis report.',
  'GRAPH <event>',
  '    Return an ASCII latency graph for the <event> class.',
  'HISTORY <event>',
  '    Return time-latency samples for the <event> class.',
  'LATEST',
  '    Return the latest latency samples for all events.',
  'RESET [<event> ...]',
  '    Reset latency data of one or more <event> classes.',
  '    (default: reset all data for all event classes)',
  'HISTOGRAM [COMMAND ...]',
  '    Return a cumulative distribution of latencies in the format of a histogram for the ' +
    'specified command names.',
  '    If no commands are specified then all histograms are replied.',
  'HELP',
  '    Prints this help.',
]

const latencyHandlers: Record<string, Handler> = {
  latest: (ctx) => latestReply(ctx),
  history: (ctx, argv) => {
    const e = eventsOf(ctx.server).get((argv[2] as Buffer).toString('latin1'))
    ctx.reply.arrayHeader(e?.samples.length ?? 0)
    for (const s of e?.samples ?? []) {
      ctx.reply.arrayHeader(2)
      ctx.reply.integer(s.time)
      ctx.reply.integer(s.latency)
    }
  },
  reset: (ctx, argv) => {
    const events = eventsOf(ctx.server)
    let n = 0
    if (argv.length === 2) {
      n = events.size
      events.clear()
    } else {
      for (let j = 2; j < argv.length; j++) {
        if (events.delete((argv[j] as Buffer).toString('latin1'))) n++
      }
    }
    ctx.reply.integer(n)
  },
  graph: (ctx, argv) => {
    const name = (argv[2] as Buffer).toString('latin1')
    const e = eventsOf(ctx.server).get(name)
    if (e === undefined || e.samples.length === 0) {
      ctx.reply.error(`ERR No samples available for event '${name}'`)
      return
    }
    ctx.reply.verbatim(latencyGraph(name, e, Math.floor(Date.now() / 1000)))
  },
  doctor: (ctx) => {
    const sv = ctx.server as ServerServices
    ctx.reply.verbatim(latencyDoctor(eventsOf(ctx.server), {
      threshold: sv.config.getNumber('latency-monitor-threshold'),
      slowlogSlowerThan: sv.config.getNumber('slowlog-log-slower-than'),
      hz: sv.config.getNumber('hz'),
      nowSec: Math.floor(Date.now() / 1000),
      anonHugePages: processAnonHugePages,
    }))
  },
  histogram: histogramReply,
  help: (ctx) => {
    ctx.reply.arrayHeader(LATENCY_HELP.length)
    for (const l of LATENCY_HELP) ctx.reply.simple(l)
  },
}

function sub(name: string, arity: number): CommandSpec {
  const help = name === 'help'
  return {
    name: `latency|${name}`, arity,
    flags: help ? ['loading', 'stale'] : ['admin', 'noscript', 'loading', 'stale'],
    firstKey: 0, lastKey: 0, step: 0, categories: help ? ['slow'] : ['admin', 'slow', 'dangerous'],
    handler: latencyHandlers[name] as Handler,
  }
}

export const latencyCommands: CommandSpec[] = [
  {
    name: 'latency', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, categories: ['slow'],
    handler: (ctx) => ctx.reply.error("ERR wrong number of arguments for 'latency' command"),
    subcommands: [sub('latest', 2), sub('history', 3), sub('reset', -2), sub('graph', 3),
      sub('doctor', 2), sub('histogram', -2), sub('help', 2)],
  },
]
