// CLUSTER (every subcommand of Redis 7.0.15), READONLY, READWRITE and ASKING as a redis-server
// 7.0.15 started without cluster-enabled answers them: each one, CLUSTER HELP included, replies
// "ERR This instance has cluster support disabled" (clusterCommand, readonlyCommand…). capykv has
// no cluster mode (docs/server.md); the commands exist so that COMMAND, COMMAND LIST and ACL
// rules see Redis's command set, and a client probing for a cluster gets Redis's answer.
// Invariants: no handler here reads or changes anything; the arities, flags and categories are
// Redis's (test/server/command-docs.test.ts compares COMMAND INFO of each with redis-server).

import type { CommandFlag, CommandSpec, Handler } from './spec.js'

const disabled: Handler = (ctx) => {
  ctx.reply.error('ERR This instance has cluster support disabled')
}

function spec(name: string, arity: number, flags: readonly CommandFlag[],
  categories: readonly string[]): CommandSpec {
  return Object.freeze({
    name, arity, flags, firstKey: 0, lastKey: 0, step: 0, categories, handler: disabled,
  }) as CommandSpec
}

const NAL: readonly CommandFlag[] = ['no_async_loading', 'admin', 'stale']
const AS: readonly CommandFlag[] = ['admin', 'stale']
const ADMIN_CATS = ['admin', 'slow', 'dangerous']
const SLOW = ['slow']

/** [subcommand, arity, flags, categories], as Redis 7.0.15's commands/cluster-*.json. */
const SUBCOMMANDS: readonly [string, number, readonly CommandFlag[], string[]][] = [
  ['addslots', -3, NAL, ADMIN_CATS], ['addslotsrange', -4, NAL, ADMIN_CATS],
  ['bumpepoch', 2, NAL, ADMIN_CATS], ['count-failure-reports', 3, AS, ADMIN_CATS],
  ['countkeysinslot', 3, ['stale'], SLOW], ['delslots', -3, NAL, ADMIN_CATS],
  ['delslotsrange', -4, NAL, ADMIN_CATS], ['failover', -2, NAL, ADMIN_CATS],
  ['flushslots', 2, NAL, ADMIN_CATS], ['forget', 3, NAL, ADMIN_CATS],
  ['getkeysinslot', 4, ['stale'], SLOW], ['help', 2, ['loading', 'stale'], SLOW],
  ['info', 2, ['stale'], SLOW], ['keyslot', 3, ['stale'], SLOW], ['links', 2, ['stale'], SLOW],
  ['meet', -4, NAL, ADMIN_CATS], ['myid', 2, ['stale'], SLOW], ['nodes', 2, ['stale'], SLOW],
  ['replicas', 3, AS, ADMIN_CATS], ['replicate', 3, NAL, ADMIN_CATS],
  ['reset', -2, ['admin', 'stale', 'noscript'], ADMIN_CATS], ['saveconfig', 2, NAL, ADMIN_CATS],
  ['set-config-epoch', 3, NAL, ADMIN_CATS], ['setslot', -4, NAL, ADMIN_CATS],
  ['shards', 2, ['stale'], SLOW], ['slaves', 3, AS, ADMIN_CATS], ['slots', 2, ['stale'], SLOW],
]

const clusterSpec: CommandSpec = Object.freeze({
  ...spec('cluster', -2, [], SLOW),
  subcommands: SUBCOMMANDS.map(([sub, arity, flags, cats]) =>
    spec(`cluster|${sub}`, arity, flags, cats)),
}) as CommandSpec

export const clusterCommands: readonly CommandSpec[] = Object.freeze([
  clusterSpec,
  spec('readonly', 1, ['fast', 'loading', 'stale'], ['fast', 'connection']),
  spec('readwrite', 1, ['fast', 'loading', 'stale'], ['fast', 'connection']),
  spec('asking', 1, ['fast'], ['fast', 'connection']),
])
