// The command table: one frozen record per command (STYLE §6), built from every per-type file's
// exported CommandSpec arrays. The server's own commands (connection, transactions, server,
// pub/sub) are built in; the data-type files (string, keys, expire, list, hash, set, zset) are loaded by
// name when they exist, so each team member's file joins the table without editing this one.
// A data file may replace a built-in command of the same name (e.g. DBSIZE or SELECT written
// next to the keyspace commands); two data files defining one name is an error.

import type { CommandTable } from './services.js'
import type { CommandSpec } from './spec.js'
import { aclCommands } from './acl.js'
import { connectionCommands } from './connection.js'
import { pubsubCommands } from './pubsub.js'
import { serverAdminCommands } from './server-admin.js'
import { transactionCommands } from './transactions.js'

export const BUILTIN_COMMANDS: readonly CommandSpec[] = Object.freeze([
  ...connectionCommands, ...aclCommands, ...transactionCommands, ...serverAdminCommands, ...pubsubCommands,
])

/** The per-type command files, loaded when present (src/commands/<name>.ts). */
export const DATA_MODULES: readonly string[] =
  Object.freeze(['string', 'keys', 'expire', 'list', 'hash', 'set', 'zset', 'scripting',
    'memory', 'sort', 'bitops', 'hyperloglog', 'geo', 'latency', 'stream', 'stream-read', 'stream-group',
    'stream-info', 'cluster', 'dump', 'migrate', 'hll-selftest'])

function isSpec(v: unknown): v is CommandSpec {
  if (v === null || typeof v !== 'object') return false
  const s = v as Partial<CommandSpec>
  return typeof s.name === 'string' && typeof s.arity === 'number' &&
    typeof s.handler === 'function' && Array.isArray(s.flags)
}

/** Every CommandSpec array among a module's exports. */
export function specsOfModule(mod: Record<string, unknown>): CommandSpec[] {
  const out: CommandSpec[] = []
  for (const v of Object.values(mod)) {
    if (Array.isArray(v) && v.length > 0 && v.every(isSpec)) out.push(...(v as CommandSpec[]))
  }
  return out
}

/** A frozen table; `data` specs replace built-ins of the same name. */
export function buildCommandTable(builtin: readonly CommandSpec[],
  data: readonly CommandSpec[] = []): CommandTable {
  const byName = new Map<string, CommandSpec>()
  for (const s of builtin) {
    if (byName.has(s.name)) throw new Error(`command '${s.name}' is defined twice`)
    byName.set(s.name, s)
  }
  const fromData = new Set<string>()
  for (const s of data) {
    if (fromData.has(s.name)) throw new Error(`command '${s.name}' is defined twice`)
    if (s.name !== s.name.toLowerCase() || s.name.includes('|')) {
      throw new Error(`command name '${s.name}' must be lower case, without '|'`)
    }
    fromData.add(s.name)
    byName.set(s.name, s)
  }
  const subcommands = new Map<string, ReadonlyMap<string, CommandSpec>>()
  for (const [name, s] of byName) {
    if (s.subcommands === undefined || s.subcommands.length === 0) continue
    const subs = new Map<string, CommandSpec>()
    for (const sub of s.subcommands) {
      const prefix = `${name}|`
      if (!sub.name.startsWith(prefix)) throw new Error(`subcommand '${sub.name}' of '${name}'`)
      subs.set(sub.name.slice(prefix.length), sub)
    }
    subcommands.set(name, subs)
  }
  return Object.freeze({ byName, subcommands, all: Object.freeze(Array.from(byName.values())) })
}

/** Loads the data files that exist and builds the table. */
export async function loadCommandTable(modules: readonly string[] = DATA_MODULES):
  Promise<CommandTable> {
  const data: CommandSpec[] = []
  for (const m of modules) {
    const url = new URL(`./${m}.js`, import.meta.url)
    let mod: Record<string, unknown>
    try {
      mod = await import(url.href) as Record<string, unknown>
    } catch (e) {
      const err = e as { code?: string; message?: string }
      if (err.code === 'ERR_MODULE_NOT_FOUND' && (err.message ?? '').includes(url.pathname)) {
        continue
      }
      throw e
    }
    data.push(...specsOfModule(mod))
  }
  return buildCommandTable(BUILTIN_COMMANDS, data)
}
