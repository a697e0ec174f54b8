// ACL users as Redis 7.0.15 keeps them (acl.c): a user is flags (on/off, nopass,
// [skip-]sanitize-payload), SHA-256 password digests, and selectors — the root selector first,
// then those added by `(...)` rules. A selector holds a command bitmap (one slot per command
// and subcommand of the table, plus the "future commands" bit only +@all sets), first-args
// allowed for commands without subcommands (+select|0), key patterns with read/write flags,
// channel patterns, and the allkeys / allchannels / allcommands flags.
// Invariants:
// - Passwords are kept only as lower-case hex SHA-256 digests and compared in constant time
//   (crypto.timingSafeEqual over equal-length digests), as Redis's time_independent_strcmp.
// - A rule either applies entirely or not at all: applyRules works on a copy (setUserRules).
// - describeCommandRules reproduces Redis's best-fit description (categories first, then
//   single commands); its final bitmap must equal the user's (asserted), as Redis panics
//   otherwise. Single commands come in table order where Redis uses its dict's random order.
// - `unrestricted` is true exactly when the root selector allows every command, key and
//   channel: dispatch skips every check for such a user (the default user, usually).
// Checking a command against a user: acl-check.ts.
// Commands Redis 7.0.15 has and the table lacks (streams, geo…) are known to the model
// without a spec (acl-redis-commands.ts): rules and descriptions count them as Redis does.

import { createHash, timingSafeEqual } from 'node:crypto'
import { assert } from '../assert.js'
import { COMMAND_DOCS, type KeySpec } from './command-docs.js'
import { REDIS_COMMAND_CATEGORIES } from './acl-redis-commands.js'
import type { CommandTable } from './services.js'
import type { CommandSpec } from './spec.js'

/** Redis's ACLCommandCategories, in its order (ACL CAT, and the describe algorithm's). */
export const ACL_CATEGORIES: readonly string[] = Object.freeze(['keyspace', 'read', 'write',
  'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog', 'geo', 'stream',
  'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection', 'transaction',
  'scripting'])

export const enum AclResult { OK = 0, DENIED_CMD = 1, DENIED_KEY = 2, DENIED_CHANNEL = 3 }

export const READ = 1
export const WRITE = 2
export const ALL = READ | WRITE

export interface AclCommand {
  readonly id: number
  /** 'get', 'config|get' */
  readonly name: string
  /** null: a Redis command the table lacks (rules only). */
  readonly spec: CommandSpec | null
  readonly categoryMask: number
  readonly parent: AclCommand | null
  readonly subs: AclCommand[]
  readonly noAuth: boolean
  readonly keySpecs: readonly KeySpec[]
  /** PUBLISH-like (1: arg 1), SUBSCRIBE-like (2: every arg), PSUBSCRIBE (3: patterns), else 0. */
  readonly channels: 0 | 1 | 2 | 3
}

const CHANNEL_KIND: Readonly<Record<string, 1 | 2 | 3>> = {
  publish: 1, spublish: 1, subscribe: 2, ssubscribe: 2, psubscribe: 3,
}

/** Every command and subcommand of a table, with an id (its bit in a selector). */
export class AclCommands {
  readonly top: AclCommand[] = []
  readonly byId: AclCommand[] = []
  private readonly byName = new Map<string, AclCommand>()
  private readonly bySpec = new Map<CommandSpec, AclCommand>()

  constructor(table: CommandTable) {
    for (const spec of table.all) this.add(spec, spec.name, spec.categories, null)
    // Redis's commands the table lacks: top-level ones first, so that subcommands find parents.
    const missing = Object.keys(REDIS_COMMAND_CATEGORIES).filter((n) => !this.byName.has(n))
      .sort((a, b) => Number(a.includes('|')) - Number(b.includes('|')))
    for (const name of missing) {
      const bar = name.indexOf('|')
      const parent = bar < 0 ? null : this.byName.get(name.slice(0, bar)) ?? null
      if (bar >= 0 && parent === null) continue
      const cmd = this.add(null, name,
        (REDIS_COMMAND_CATEGORIES[name] as string).split(' '), parent)
      parent?.subs.push(cmd)
    }
  }

  private add(spec: CommandSpec | null, name: string, categories: readonly string[],
    parent: AclCommand | null): AclCommand {
    let mask = 0
    for (const c of categories) {
      const i = ACL_CATEGORIES.indexOf(c)
      if (i >= 0) mask |= 1 << i
    }
    const subs: AclCommand[] = []
    const cmd: AclCommand = {
      id: this.byId.length, name, spec, categoryMask: mask, parent, subs,
      noAuth: spec?.flags.includes('no_auth') ?? false,
      keySpecs: COMMAND_DOCS[name]?.keySpecs ?? [],
      channels: parent === null ? CHANNEL_KIND[name] ?? 0 : 0,
    }
    this.byId.push(cmd)
    this.byName.set(name, cmd)
    if (spec !== null) this.bySpec.set(spec, cmd)
    if (parent === null) this.top.push(cmd)
    for (const s of spec?.subcommands ?? []) subs.push(this.add(s, s.name, s.categories, cmd))
    return cmd
  }

  get size(): number {
    return this.byId.length
  }

  /** ACLLookupCommand: 'get' or 'config|get' in any case. */
  lookup(name: string): AclCommand | undefined {
    return this.byName.get(name.toLowerCase())
  }

  of(spec: CommandSpec): AclCommand | undefined {
    return this.bySpec.get(spec)
  }
}

const TABLE_COMMANDS = new WeakMap<CommandTable, AclCommands>()

export function aclCommandsOf(table: CommandTable): AclCommands {
  let c = TABLE_COMMANDS.get(table)
  if (c === undefined) {
    c = new AclCommands(table)
    TABLE_COMMANDS.set(table, c)
  }
  return c
}

export function hashPassword(password: Buffer): string {
  return createHash('sha256').update(password).digest('hex')
}

function validHash(h: string): boolean {
  return /^[0-9a-f]{64}$/.test(h)
}

/** isspace or NUL: refused in names and patterns (ACLStringHasSpaces). */
export function hasSpaces(s: string): boolean {
  return /[\t\n\v\f\r \0]/.test(s)
}

export interface KeyPattern { pattern: string; flags: number; bytes: Buffer }

export class Selector {
  allowed: Uint8Array
  /** The reserved bit of +@all: future commands (and the describe's +@all start). */
  future = false
  allCommands = false
  firstArgs: Map<number, string[]> | null = null
  patterns: KeyPattern[] = []
  allKeys = false
  channels: string[] = []
  allChannels = false

  constructor(readonly commands: AclCommands, readonly root: boolean) {
    this.allowed = new Uint8Array(commands.size)
  }

  copy(): Selector {
    const s = new Selector(this.commands, this.root)
    s.allowed = this.allowed.slice()
    s.future = this.future
    s.allCommands = this.allCommands
    s.firstArgs = this.firstArgs === null ? null
      : new Map([...this.firstArgs].map(([k, v]) => [k, v.slice()]))
    s.patterns = this.patterns.map((p) => ({ ...p }))
    s.allKeys = this.allKeys
    s.channels = this.channels.slice()
    s.allChannels = this.allChannels
    return s
  }

  setBit(id: number, on: boolean): void {
    this.allowed[id] = on ? 1 : 0
    if (!on) this.allCommands = false
  }

  /** ACLChangeSelectorPerm: the command and its subcommands. */
  changePerm(cmd: AclCommand, on: boolean): void {
    this.setBit(cmd.id, on)
    this.firstArgs?.delete(cmd.id)
    for (const s of cmd.subs) this.setBit(s.id, on)
  }

  setCategory(mask: number, on: boolean): void {
    for (const cmd of this.commands.byId) if ((cmd.categoryMask & mask) !== 0) this.changePerm(cmd, on)
  }

  setAll(on: boolean): void {
    this.allowed.fill(on ? 1 : 0)
    this.future = on
    this.allCommands = on
    this.firstArgs = null
  }
}

/** Why a rule was refused: ACLSetUserStringError's texts. */
const RULE_ERRORS = {
  ENOENT: 'Unknown command or category name in ACL',
  EINVAL: 'Syntax error',
  EEXIST: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does " +
    "not have any effect. Try 'resetkeys' to start with an empty list of patterns",
  EISDIR: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and " +
    "does not have any effect. Try 'resetchannels' to start with an empty list of channels",
  ENODEV: 'The password you are trying to remove from the user does not exist',
  EBADMSG: 'The password hash must be exactly 64 characters and contain only lowercase ' +
    'hexadecimal characters',
  ECHILD: 'Allowing first-arg of a subcommand is not supported',
} as const
export type RuleError = keyof typeof RULE_ERRORS

/** ACLSetUserStringError's text for a refused rule. */
export function ruleErrorText(e: RuleError): string {
  return RULE_ERRORS[e]
}

/** ACLSetSelector: one rule on one selector; an error name or null. */
export function applySelectorRule(s: Selector, op: string): RuleError | null {
  const lower = op.toLowerCase()
  if (lower === 'allkeys' || op === '~*') {
    s.allKeys = true
    s.patterns = []
  } else if (lower === 'resetkeys') {
    s.allKeys = false
    s.patterns = []
  } else if (lower === 'allchannels' || op === '&*') {
    s.allChannels = true
    s.channels = []
  } else if (lower === 'resetchannels') {
    s.allChannels = false
    s.channels = []
  } else if (lower === 'allcommands' || lower === '+@all') {
    s.setAll(true)
  } else if (lower === 'nocommands' || lower === '-@all') {
    s.setAll(false)
  } else if (op.startsWith('~') || op.startsWith('%')) {
    return addKeyPattern(s, op)
  } else if (op.startsWith('&')) {
    if (s.allChannels) return 'EISDIR'
    const pattern = op.slice(1)
    if (hasSpaces(pattern)) return 'EINVAL'
    if (!s.channels.includes(pattern)) s.channels.push(pattern)
    s.allChannels = false
  } else if ((op[0] === '+' || op[0] === '-') && op[1] === '@') {
    const i = ACL_CATEGORIES.indexOf(op.slice(2).toLowerCase())
    if (i < 0) return 'ENOENT'
    s.setCategory(1 << i, op[0] === '+')
  } else if (op[0] === '+') {
    return allowCommand(s, op.slice(1))
  } else if (op[0] === '-') {
    const cmd = s.commands.lookup(op.slice(1))
    if (cmd === undefined) return 'ENOENT'
    s.changePerm(cmd, false)
  } else {
    return 'EINVAL'
  }
  return null
}

function addKeyPattern(s: Selector, op: string): RuleError | null {
  if (s.allKeys) return 'EEXIST'
  let flags = 0
  let offset = 1
  if (op[0] === '%') {
    for (; offset < op.length; offset++) {
      const c = (op[offset] as string).toUpperCase()
      if (c === 'R' && (flags & READ) === 0) flags |= READ
      else if (c === 'W' && (flags & WRITE) === 0) flags |= WRITE
      else if (op[offset] === '~') {
        offset++
        break
      } else return 'EINVAL'
    }
    // The installed 7.0.15 (Debian's) refuses %~x, %R and %R~ (no flag, or no pattern).
    if (flags === 0 || offset === op.length) return 'EINVAL'
  } else {
    flags = ALL
  }
  const pattern = op.slice(offset)
  if (hasSpaces(pattern)) return 'EINVAL'
  const found = s.patterns.find((p) => p.pattern === pattern)
  if (found !== undefined) found.flags |= flags
  else s.patterns.push({ pattern, flags, bytes: Buffer.from(pattern, 'latin1') })
  s.allKeys = false
  return null
}

function allowCommand(s: Selector, name: string): RuleError | null {
  const bar = name.lastIndexOf('|')
  if (bar < 0) {
    const cmd = s.commands.lookup(name)
    if (cmd === undefined) return 'ENOENT'
    s.changePerm(cmd, true)
    return null
  }
  const cmd = s.commands.lookup(name.slice(0, bar))
  if (cmd === undefined) return 'ENOENT'
  if (cmd.parent !== null) return 'ECHILD'
  const sub = name.slice(bar + 1)
  if (sub === '') return 'EINVAL'
  if (cmd.subs.length > 0) {
    const full = s.commands.lookup(name)
    if (full === undefined) return 'ENOENT'
    s.changePerm(full, true)
    return null
  }
  // A first argument of a command without subcommands (+select|0): Redis's deprecated form.
  s.firstArgs ??= new Map()
  const list = s.firstArgs.get(cmd.id) ?? []
  if (!list.some((a) => a.toLowerCase() === sub.toLowerCase())) list.push(sub)
  s.firstArgs.set(cmd.id, list)
  return null
}

export class AclUser {
  enabled = false
  nopass = false
  /** 'skip-sanitize-payload' / 'sanitize-payload' / neither (a new user). */
  sanitize: '' | 'skip' | 'sanitize' = ''
  passwords: string[] = []
  selectors: Selector[]
  /** Every command, key and channel: dispatch checks nothing. */
  unrestricted = false

  constructor(readonly name: string, commands: AclCommands, pubsubAll: boolean) {
    const root = new Selector(commands, true)
    root.allChannels = pubsubAll
    this.selectors = [root]
  }

  get root(): Selector {
    return this.selectors[0] as Selector
  }

  /** Copy everything of `from` into this user (ACLCopyUser). */
  assign(from: AclUser): void {
    this.enabled = from.enabled
    this.nopass = from.nopass
    this.sanitize = from.sanitize
    this.passwords = from.passwords.slice()
    this.selectors = from.selectors.map((s) => s.copy())
    this.settle()
  }

  /** Recompute what dispatch reads after rules were applied to this user directly. */
  settle(): void {
    const r = this.root
    this.unrestricted = r.allCommands && r.allKeys && r.allChannels
  }

  clone(): AclUser {
    const u = new AclUser(this.name, this.root.commands, false)
    u.assign(this)
    return u
  }

  /** ACLCheckUserCredentials past the enabled check: nopass, or one digest equal. */
  passwordMatches(password: Buffer): boolean {
    if (this.nopass) return true
    const digest = Buffer.from(hashPassword(password), 'latin1')
    let ok = false
    for (const p of this.passwords) {
      // Every digest is compared whole (no early exit on a match position).
      if (timingSafeEqual(digest, Buffer.from(p, 'latin1'))) ok = true
    }
    return ok
  }
}

/** ACLSetUser: one rule on a user; an error name or null. */
export function applyUserRule(u: AclUser, op: string, pubsubAll: boolean): RuleError | null {
  if (op === '') return null
  const lower = op.toLowerCase()
  switch (lower) {
    case 'on': u.enabled = true; return null
    case 'off': u.enabled = false; return null
    case 'skip-sanitize-payload': u.sanitize = 'skip'; return null
    case 'sanitize-payload': u.sanitize = 'sanitize'; return null
    case 'nopass': u.nopass = true; u.passwords = []; return null
    case 'resetpass': u.nopass = false; u.passwords = []; return null
    case 'clearselectors': u.selectors = [u.root]; return null
    case 'reset': {
      u.nopass = false
      u.passwords = []
      applySelectorRule(u.root, 'resetkeys')
      applySelectorRule(u.root, 'resetchannels')
      if (pubsubAll) applySelectorRule(u.root, 'allchannels')
      u.enabled = false
      u.sanitize = 'sanitize'
      u.selectors = [u.root]
      applySelectorRule(u.root, '-@all')
      return null
    }
  }
  const c = op[0]
  if (c === '>' || c === '#' || c === '<' || c === '!') {
    let digest: string
    if (c === '>' || c === '<') {
      digest = hashPassword(Buffer.from(op.slice(1), 'latin1'))
    } else {
      digest = op.slice(1)
      if (!validHash(digest)) return 'EBADMSG'
    }
    const at = u.passwords.indexOf(digest)
    if (c === '>' || c === '#') {
      if (at < 0) u.passwords.push(digest)
      u.nopass = false
    } else {
      if (at < 0) return 'ENODEV'
      u.passwords.splice(at, 1)
    }
    return null
  }
  if (c === '(' && op.endsWith(')')) {
    const s = new Selector(u.root.commands, false)
    s.allChannels = pubsubAll
    for (const rule of splitRules(op.slice(1, -1))) {
      const err = applySelectorRule(s, rule)
      if (err !== null) return err
    }
    u.selectors.push(s)
    return null
  }
  return applySelectorRule(u.root, op)
}

/** The rules inside a selector's parentheses, split on spaces (sdssplitargs for plain words). */
function splitRules(text: string): string[] {
  return text.split(/[ \t\r\n]+/).filter((w) => w !== '')
}

/**
 * ACLMergeSelectorArguments: `(` … `)` spread over several arguments become one rule. Returns
 * the rules, or the index of the argument whose parenthesis is not closed.
 */
export function mergeSelectorArgs(args: readonly string[]): string[] | number {
  const out: string[] = []
  let open = -1
  let current = ''
  for (let j = 0; j < args.length; j++) {
    const op = args[j] as string
    if (op.startsWith('(') && !op.endsWith(')')) {
      current = op
      open = j
      continue
    }
    if (open >= 0) {
      current += ` ${op}`
      if (op.endsWith(')')) {
        open = -1
        out.push(current)
      }
      continue
    }
    out.push(op)
  }
  return open >= 0 ? open : out
}

/** ACLStringSetUser's loop: all rules on a copy; the error text, or the staged user. */
export function stageRules(base: AclUser, args: readonly string[], pubsubAll: boolean):
  AclUser | string {
  const merged = mergeSelectorArgs(args)
  if (typeof merged === 'number') {
    return `ERR Unmatched parenthesis in acl selector starting at '${args[merged] as string}'.`
  }
  const temp = base.clone()
  for (const op of merged) {
    const err = applyUserRule(temp, op, pubsubAll)
    if (err !== null) return `ERR Error in ACL SETUSER modifier '${op}': ${RULE_ERRORS[err]}`
  }
  return temp
}

// ---- describing ----

function countCategory(s: { allowed: Uint8Array }, commands: AclCommands, bit: number):
  { on: number; off: number } {
  let on = 0
  let off = 0
  for (const cmd of commands.byId) {
    if ((cmd.categoryMask & bit) === 0) continue
    if (s.allowed[cmd.id] === 1) on++
    else off++
  }
  return { on, off }
}

/** ACLDescribeSelectorCommandRules. */
export function describeCommandRules(s: Selector): string {
  const commands = s.commands
  const fake = new Selector(commands, false)
  const additive = !s.future
  const rules: string[] = [additive ? '-@all' : '+@all']
  fake.setAll(!additive)
  const temp = new Selector(commands, false)
  temp.allowed = s.allowed.slice()
  const applied = new Set<number>()
  for (;;) {
    let best = -1
    let minDiff = Number.MAX_SAFE_INTEGER
    let maxSame = 0
    for (let j = 0; j < ACL_CATEGORIES.length; j++) {
      if (applied.has(j)) continue
      const { on, off } = countCategory(temp, commands, 1 << j)
      const diff = additive ? off : on
      const same = additive ? on : off
      if (same > diff && (diff < minDiff || (diff === minDiff && same > maxSame))) {
        best = j
        minDiff = diff
        maxSame = same
      }
    }
    if (best < 0) break
    fake.setCategory(1 << best, additive)
    temp.setCategory(1 << best, !additive)
    rules.push(`${additive ? '+' : '-'}@${ACL_CATEGORIES[best] as string}`)
    applied.add(best)
  }
  describeSingles(s, fake, commands.top, rules)
  for (let i = 0; i < s.allowed.length; i++) {
    assert(fake.allowed[i] === s.allowed[i], `ACL describe does not match the bitmap at ${i}`)
  }
  return rules.join(' ')
}

function describeSingles(s: Selector, fake: Selector, list: readonly AclCommand[],
  rules: string[]): void {
  for (const cmd of list) {
    const userBit = s.allowed[cmd.id] === 1
    if (userBit !== (fake.allowed[cmd.id] === 1)) {
      rules.push(`${userBit ? '+' : '-'}${cmd.name}`)
      fake.changePerm(cmd, userBit)
    }
    if (cmd.subs.length > 0) describeSingles(s, fake, cmd.subs, rules)
    const firsts = s.firstArgs?.get(cmd.id)
    if (!userBit && firsts !== undefined) {
      for (const a of firsts) rules.push(`+${cmd.name}|${a}`)
    }
  }
}

function patternString(p: KeyPattern): string {
  return (p.flags === ALL ? '~' : p.flags === READ ? '%R~' : '%W~') + p.pattern
}

export function describeKeys(s: Selector): string {
  return s.allKeys ? '~*' : s.patterns.map(patternString).join(' ')
}

export function describeChannels(s: Selector): string {
  return s.allChannels ? '&*' : s.channels.map((c) => `&${c}`).join(' ')
}

/** ACLDescribeSelector: keys, channels, commands (ACL LIST's form). */
function describeSelector(s: Selector): string {
  const parts: string[] = []
  if (s.allKeys) parts.push('~*')
  else for (const p of s.patterns) parts.push(patternString(p))
  if (s.allChannels) parts.push('&*')
  else {
    parts.push('resetchannels')
    for (const c of s.channels) parts.push(`&${c}`)
  }
  parts.push(describeCommandRules(s))
  return parts.join(' ')
}

/** The flags ACL GETUSER lists, in Redis's order. */
export function userFlags(u: AclUser): string[] {
  const flags = [u.enabled ? 'on' : 'off']
  if (u.nopass) flags.push('nopass')
  if (u.sanitize === 'skip') flags.push('skip-sanitize-payload')
  if (u.sanitize === 'sanitize') flags.push('sanitize-payload')
  return flags
}

/** ACLDescribeUser: ACL LIST's text after "user <name> ". */
export function describeUser(u: AclUser): string {
  let out = userFlags(u).map((f) => `${f} `).join('')
  for (const p of u.passwords) out += `#${p} `
  u.selectors.forEach((s, i) => {
    out += i === 0 ? describeSelector(s) : ` (${describeSelector(s)})`
  })
  return out
}
