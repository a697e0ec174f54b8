// The latency monitor (Redis 7.0.15 latency.c) and per-command latency histograms: LATENCY
// LATEST HISTORY RESET GRAPH DOCTOR HISTOGRAM HELP.
// Invariants:
// - An event is recorded when latency-monitor-threshold is > 0 and a sample reaches it: command
//   and fast-command (a command's run time), expire-cycle (one active expire pass). Each event
//   keeps its last 160 samples (one per second: a later sample of the same second keeps the max)
//   and its all-time max, as Redis's latencyAddSample.
// - Histograms count each command's calls by power-of-two microsecond buckets while
//   latency-tracking is yes; CONFIG RESETSTAT clears them with the command stats they live in.
// State is per server (keyed by the services object), never logged.

import type { CommandStat, ServerServices } from './services.js'
import type { CommandContext, CommandSpec, Handler } from './spec.js'

const SAMPLES = 160

interface Sample { time: number; latency: number }
interface EventSeries { samples: Sample[]; max: number }

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

/** A command's run: its histogram bucket, and the command / fast-command latency event. */
export function latencyCommand(server: ServerServices, stat: CommandStat, usec: number,
  fast: boolean): void {
  if (server.config.get('latency-tracking') === 'yes') {
    const h = stat.histogram ??= []
    const bucket = usec <= 1 ? 0 : Math.ceil(Math.log2(usec))
    while (h.length <= bucket) h.push(0)
    h[bucket] = (h[bucket] as number) + 1
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

function histogramOf(ctx: CommandContext, name: string, stat: CommandStat): void {
  const h = stat.histogram ?? []
  ctx.reply.bulk(name)
  ctx.reply.mapHeader(2)
  ctx.reply.bulk('calls')
  ctx.reply.integer(h.reduce((a, b) => a + b, 0))
  ctx.reply.bulk('histogram_usec')
  ctx.reply.mapHeader(h.length)
  let cumulative = 0
  for (let i = 0; i < h.length; i++) {
    cumulative += h[i] as number
    ctx.reply.integer(2 ** i)
    ctx.reply.integer(cumulative)
  }
}

/** LATENCY HISTOGRAM [command ...]: the commands (and a container's subcommands) called. */
function histogramReply(ctx: CommandContext, argv: Buffer[]): void {
  const sv = ctx.server as ServerServices
  const names: string[] = []
  const called = (n: string): boolean => (sv.stats.commands.get(n)?.histogram?.length ?? 0) > 0
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
  for (const n of names) histogramOf(ctx, n, sv.stats.commandStat(n))
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
    if (e === undefined) {
      ctx.reply.error(`ERR No samples available for event '${name}'`)
      return
    }
    const lines = [`${name} - high ${e.max} ms, low ${Math.min(...e.samples.map((s) => s.latency))} ms` +
      ' (all time high ' + `${e.max} ms)`, '-'.repeat(80)]
    for (const s of e.samples) lines.push(`${s.latency} ms at ${s.time}`)
    ctx.reply.verbatim(lines.join('\n') + '\n')
  },
  doctor: (ctx) => {
    const events = eventsOf(ctx.server)
    const text = events.size === 0
      ? 'Dave, no latency spike was observed during the lifetime of this Redis instance, not ' +
        'in the slightest bit. I honestly think you ought to sleep better. Good night.\n'
      : [...events].map(([n, e]) => `${n}: ${e.samples.length} latency spikes ` +
        `(average ${Math.round(e.samples.reduce((a, s) => a + s.latency, 0) / e.samples.length)}` +
        `ms, worst all time ${e.max}ms)`).join('\n') + '\n'
    ctx.reply.verbatim(text)
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
