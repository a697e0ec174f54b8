// Differential cases for LATENCY (see script.ts for the line syntax): the replies that do not
// depend on timing (no events recorded below the threshold, unknown events and commands, help,
// arity errors, the histogram's shape after CONFIG RESETSTAT).
import type { Case } from './script.js'

export const latencyCases: Case[] = [
  { name: 'LATENCY without events', server: true, lines: [
    'LATENCY RESET', 'LATENCY DOCTOR', 'LATENCY LATEST', 'LATENCY HISTORY command',
    'LATENCY GRAPH command',
    'LATENCY RESET nope other', 'LATENCY HISTOGRAM nope', 'LATENCY HELP', 'LATENCY HELP x',
    'LATENCY FOO', 'LATENCY', 'CONFIG RESETSTAT', 'SET a b', 'LATENCY HISTOGRAM nope blabla',
    'LATENCY HISTOGRAM set #shape', 'LATENCY HISTOGRAM client get #shape',
  ] },
]
