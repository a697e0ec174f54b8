// The ACL registry (users by name, the default user, the ACL LOG) and the ACL command, as
// Redis 7.0.15's acl.c answers it: SETUSER GETUSER DELUSER USERS LIST WHOAMI CAT GENPASS
// DRYRUN LOG SAVE LOAD HELP.
// Invariants:
// - `default` always exists; requirepass sets its passwords (resetpass, then >pass or nopass),
//   as Redis's ACLUpdateDefaultUserPassword. A client's state points at its AclUser object:
//   SETUSER changes the user in place (the client sees it at its next command) and closes the
//   user's subscribers whose channels it takes away; DELUSER (and ACL LOAD, for every replaced
//   user) closes every client authenticated as the user.
// - `authRequired` is Redis's authRequired without the client part: the default user needs a
//   password or is off. Dispatch refuses NOAUTH only then.
// - Users live in memory; they are not in the pool. They persist in the aclfile (ACL SAVE /
//   ACL LOAD / startup) or as `user` lines of the config file (CONFIG REWRITE): acl-file.ts.

import { randomBytes } from 'node:crypto'
import { string2llText } from '../int64.js'
import {
  ACL_CATEGORIES, AclResult, AclUser, aclCommandsOf, describeChannels, describeCommandRules,
  describeKeys, describeUser, hasSpaces, stageRules, userFlags, type AclCommand, type AclCommands,
} from './acl-model.js'
import { checkUserCommand } from './acl-check.js'
import { globMatch } from './glob.js'
import { readAclFile, replaceUsers, saveAclFile } from './acl-file.js'
import { helpLines, services, type CommandTable, type ServerServices } from './services.js'
import type { CommandContext, CommandSpec, Handler } from './spec.js'

export interface AclLogEntry {
  count: number
  reason: 'command' | 'key' | 'channel' | 'auth'
  context: 'toplevel' | 'multi' | 'lua'
  object: string
  username: string
  ctimeMs: number
  clientInfo: string
}

/** Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA. */
const LOG_GROUPING_MS = 60000

export class AclRegistry {
  readonly users = new Map<string, AclUser>()
  readonly defaultUser: AclUser
  readonly commands: AclCommands
  log: AclLogEntry[] = []
  authRequired = false

  constructor(private readonly sv: Pick<ServerServices, 'config' | 'table'>) {
    this.commands = aclCommandsOf(sv.table)
    const d = new AclUser('default', this.commands, true)
    d.enabled = true
    d.nopass = true
    d.root.setAll(true)
    d.root.allKeys = true
    d.root.allChannels = true
    d.assign(d)
    this.defaultUser = d
    this.users.set('default', d)
    this.setDefaultPassword(sv.config.get('requirepass'))
  }

  get pubsubAll(): boolean {
    return this.sv.config.get('acl-pubsub-default') === 'allchannels'
  }

  /** requirepass: '' makes the default user nopass. */
  setDefaultPassword(password: string): void {
    const staged = stageRules(this.defaultUser,
      ['resetpass', password === '' ? 'nopass' : `>${password}`], this.pubsubAll)
    if (typeof staged !== 'string') this.defaultUser.assign(staged)
    this.changed()
  }

  changed(): void {
    const d = this.defaultUser
    this.authRequired = !d.nopass || !d.enabled
  }

  /** ACLCheckUserCredentials: the user, or null (unknown, off, or no password matched). */
  credentials(name: string, password: Buffer): AclUser | null {
    const u = this.users.get(name)
    if (u === undefined) {
      // As much work as a known user's check, so a name's existence does not show in timing.
      this.defaultUser.clone().passwordMatches(password)
      return null
    }
    if (!u.enabled) return null
    return u.passwordMatches(password) ? u : null
  }

  addLog(entry: Omit<AclLogEntry, 'count'>): void {
    const max = this.sv.config.getNumber('acllog-max-len')
    for (let i = 0; i < Math.min(10, this.log.length); i++) {
      const e = this.log[i] as AclLogEntry
      if (e.reason === entry.reason && e.context === entry.context &&
          Math.abs(e.ctimeMs - entry.ctimeMs) <= LOG_GROUPING_MS && e.object === entry.object &&
          e.username === entry.username) {
        this.log.splice(i, 1)
        this.log.unshift({ ...e, count: e.count + 1, ctimeMs: entry.ctimeMs,
          clientInfo: entry.clientInfo })
        return
      }
    }
    this.log.unshift({ count: 1, ...entry })
    if (this.log.length > max) this.log.length = max
  }

  sortedUsers(): AclUser[] {
    return Array.from(this.users.values()).sort((a, b) =>
      Buffer.compare(Buffer.from(a.name, 'latin1'), Buffer.from(b.name, 'latin1')))
  }

}

/** The registry of the server a command runs in. */
export function aclOf(ctx: CommandContext): AclRegistry {
  return services(ctx).acl
}

/** The NOPERM text processCommand replies for a denial. */
export function nopermText(result: AclResult, cmd: AclCommand): string {
  if (result === AclResult.DENIED_CMD) {
    return `NOPERM this user has no permissions to run the '${cmd.name}' command`
  }
  if (result === AclResult.DENIED_KEY) {
    return 'NOPERM this user has no permissions to access one of the keys used as arguments'
  }
  return 'NOPERM this user has no permissions to access one of the channels used as arguments'
}

/** getAclErrorMessage (scripts: "The user executing the script " + this). */
export function aclErrorMessage(result: AclResult): string {
  if (result === AclResult.DENIED_CMD) return "can't run this command or subcommand"
  if (result === AclResult.DENIED_KEY) {
    return "can't access at least one of the keys mentioned in the command arguments"
  }
  return "can't publish to the channel mentioned in the command"
}

/** EXEC's text for a queued command the ACL now denies. */
export function execDeniedText(result: AclResult): string {
  const reason = result === AclResult.DENIED_CMD
    ? 'no permission to execute the command or subcommand'
    : result === AclResult.DENIED_KEY ? 'no permission to touch the specified keys'
      : 'no permission to access one of the channels used as arguments'
  return 'NOPERM ACLs rules changed between the moment the transaction was accumulated and ' +
    `the EXEC call. This command is no longer allowed for the following reason: ${reason}`
}

/**
 * Check a command for a client's user; on denial, log it (ACL LOG) and return the denial.
 * `clientInfo` is computed only on denial.
 */
export function checkAndLog(acl: AclRegistry, user: AclUser, spec: CommandSpec,
  argv: readonly Buffer[], context: AclLogEntry['context'], clientInfo: () => string):
  { result: AclResult; cmd: AclCommand } | null {
  const cmd = acl.commands.of(spec)
  if (cmd === undefined) return null
  const [result, idx] = checkUserCommand(user, cmd, argv)
  if (result === AclResult.OK) return null
  const object = result === AclResult.DENIED_CMD ? cmd.name
    : (argv[idx] as Buffer).toString('latin1')
  acl.addLog({
    reason: result === AclResult.DENIED_CMD ? 'command'
      : result === AclResult.DENIED_KEY ? 'key' : 'channel',
    context, object, username: user.name, ctimeMs: Date.now(), clientInfo: clientInfo(),
  })
  return { result, cmd }
}

// ---- the ACL command ----

const arg = (argv: Buffer[], i: number): string => (argv[i] as Buffer).toString('latin1')

/** Redis's lookupCommand over the table (a container with arguments → its subcommand). */
function lookupSpec(table: CommandTable, argv: readonly Buffer[]): CommandSpec | undefined {
  const name = (argv[0] as Buffer).toString('latin1').toLowerCase()
  const spec = table.byName.get(name)
  const subs = table.subcommands.get(name)
  if (spec === undefined || subs === undefined || argv.length < 2) return spec
  return subs.get((argv[1] as Buffer).toString('latin1').toLowerCase())
}

function arityOk(spec: CommandSpec, argc: number): boolean {
  return spec.arity > 0 ? argc === spec.arity : argc >= -spec.arity
}

const setuser: Handler = (ctx, argv) => {
  const acl = aclOf(ctx)
  const name = arg(argv, 2)
  if (hasSpaces(name)) {
    ctx.reply.error("ERR Usernames can't contain spaces or null characters")
    return
  }
  const existing = acl.users.get(name)
  const base = existing ?? new AclUser(name, acl.commands, acl.pubsubAll)
  const staged = stageRules(base, argv.slice(3).map((a) => a.toString('latin1')), acl.pubsubAll)
  if (typeof staged === 'string') {
    ctx.reply.error(staged)
    return
  }
  if (existing !== undefined) closeRevokedSubscribers(ctx, staged, existing)
  base.assign(staged)
  if (existing === undefined) acl.users.set(name, base)
  acl.changed()
  ctx.reply.simple('OK')
}

/**
 * ACLKillPubsubClientsIfNeeded: a SETUSER that takes channels away closes the user's clients
 * whose subscriptions the new rules no longer allow — a pattern subscription must be one of the
 * new channel patterns literally, a channel or shard channel must match one. Nothing when any
 * new selector allows every channel. (Redis's "superset" shortcut compares list nodes by
 * pointer and so never applies; the clients' check decides, as here.)
 */
function closeRevokedSubscribers(ctx: CommandContext, next: AclUser, original: AclUser): void {
  if (next.selectors.some((s) => s.allChannels)) return
  const sv = services(ctx)
  if (sv.pubsub.subscribedClientCount === 0) return
  const upcoming = next.selectors.flatMap((s) => s.channels)
  const matches = (name: string): boolean =>
    upcoming.some((p) => globMatch(Buffer.from(p, 'latin1'), Buffer.from(name, 'latin1')))
  for (const h of sv.clients.values()) {
    const id = h.state.id
    if (h.state.user !== original || !sv.pubsub.isSubscribed(id)) continue
    const revoked = sv.pubsub.subscriptionsOf(id, 'pattern').some((p) => !upcoming.includes(p)) ||
      !sv.pubsub.subscriptionsOf(id, 'channel').every(matches) ||
      !sv.pubsub.subscriptionsOf(id, 'shard').every(matches)
    // Redis frees the client at once, the calling one too (it gets no reply).
    if (revoked) h.kill()
  }
}

const deluser: Handler = (ctx, argv) => {
  const acl = aclOf(ctx)
  const names = argv.slice(2).map((a) => a.toString('latin1'))
  if (names.includes('default')) {
    ctx.reply.error("ERR The 'default' user cannot be removed")
    return
  }
  const gone = new Set<AclUser>()
  for (const name of names) {
    const u = acl.users.get(name)
    if (u === undefined) continue
    acl.users.delete(name)
    gone.add(u)
  }
  closeClientsOf(ctx, gone)
  ctx.reply.integer(gone.size)
}

/**
 * ACLFreeUserAndKillClients for each of `users`: their clients are closed (the calling client
 * after this reply) and left unauthenticated as the default user meanwhile, as Redis does.
 */
export function closeClientsOf(ctx: CommandContext, users: ReadonlySet<AclUser>): void {
  if (users.size === 0) return
  const sv = services(ctx)
  for (const h of sv.clients.values()) {
    const u = h.state.user
    if (u === undefined || !users.has(u)) continue
    h.state.user = sv.acl.defaultUser
    h.state.authenticated = false
    if (h.state.id === ctx.client.id) h.closeAfterReply()
    else h.kill()
  }
}

const getuser: Handler = (ctx, argv) => {
  const u = aclOf(ctx).users.get(arg(argv, 2))
  const r = ctx.reply
  if (u === undefined) {
    r.nullBulk()
    return
  }
  r.mapHeader(6)
  r.bulk('flags')
  const flags = userFlags(u)
  r.setHeader(flags.length)
  for (const f of flags) r.bulk(f)
  r.bulk('passwords')
  r.arrayHeader(u.passwords.length)
  for (const p of u.passwords) r.bulk(p)
  writeSelector(ctx, u.root)
  r.bulk('selectors')
  r.arrayHeader(u.selectors.length - 1)
  for (const s of u.selectors.slice(1)) {
    r.mapHeader(3)
    writeSelector(ctx, s)
  }
}

function writeSelector(ctx: CommandContext, s: AclUser['root']): void {
  const r = ctx.reply
  r.bulk('commands')
  r.bulk(describeCommandRules(s))
  r.bulk('keys')
  r.bulk(Buffer.from(describeKeys(s), 'latin1'))
  r.bulk('channels')
  r.bulk(Buffer.from(describeChannels(s), 'latin1'))
}

const list: Handler = (ctx) => {
  const users = aclOf(ctx).sortedUsers()
  ctx.reply.arrayHeader(users.length)
  for (const u of users) ctx.reply.bulk(Buffer.from(`user ${u.name} ${describeUser(u)}`, 'latin1'))
}

const users: Handler = (ctx) => {
  const all = aclOf(ctx).sortedUsers()
  ctx.reply.arrayHeader(all.length)
  for (const u of all) ctx.reply.bulk(Buffer.from(u.name, 'latin1'))
}

const whoami: Handler = (ctx) => {
  const u = ctx.client.user
  if (u === undefined) ctx.reply.nullBulk()
  else ctx.reply.bulk(Buffer.from(u.name, 'latin1'))
}

const NO_ACLFILE = 'ERR This Redis instance is not configured to use an ACL file. You may want ' +
  'to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you ' +
  'have a Redis configuration file set) in order to store users in the Redis configuration.'

const load: Handler = (ctx) => {
  const path = services(ctx).config.get('aclfile')
  if (path === '') {
    ctx.reply.error(NO_ACLFILE)
    return
  }
  const sv = services(ctx)
  const staged = readAclFile(sv.acl, sv.config.get('dir'), path)
  if (typeof staged === 'string') {
    ctx.reply.error(`ERR ${staged}`)
    return
  }
  closeClientsOf(ctx, replaceUsers(sv.acl, staged))
  ctx.reply.simple('OK')
}

const save: Handler = (ctx) => {
  const path = services(ctx).config.get('aclfile')
  if (path === '') {
    ctx.reply.error(NO_ACLFILE)
    return
  }
  const sv = services(ctx)
  const failure = saveAclFile(sv.acl, sv.config.get('dir'), path, process.pid, Date.now())
  if (failure === null) ctx.reply.simple('OK')
  else {
    sv.log?.('warning', failure)
    ctx.reply.error('ERR There was an error trying to save the ACLs. Please check the server ' +
      'logs for more information')
  }
}

const cat: Handler = (ctx, argv) => {
  if (argv.length === 2) {
    ctx.reply.arrayHeader(ACL_CATEGORIES.length)
    for (const c of ACL_CATEGORIES) ctx.reply.bulk(c)
    return
  }
  const name = arg(argv, 2)
  const i = ACL_CATEGORIES.indexOf(name.toLowerCase())
  if (i < 0) {
    ctx.reply.error(`ERR Unknown category '${name.slice(0, 128)}'`)
    return
  }
  const names = aclOf(ctx).commands.byId.filter((c) => (c.categoryMask & (1 << i)) !== 0)
  ctx.reply.arrayHeader(names.length)
  for (const c of names) ctx.reply.bulk(c.name)
}

const GENPASS_MAX_BITS = 4096

const genpass: Handler = (ctx, argv) => {
  let bits = 256
  if (argv.length === 3) {
    const text = arg(argv, 2)
    const n = string2llText(text)
    if (n === null) {
      ctx.reply.error('ERR value is not an integer or out of range')
      return
    }
    bits = Number(n) // beyond 2^53 only the range check below reads it
  }
  if (bits <= 0 || bits > GENPASS_MAX_BITS) {
    ctx.reply.error('ERR ACL GENPASS argument must be the number of bits for the output ' +
      `password, a positive number up to ${GENPASS_MAX_BITS}`)
    return
  }
  const chars = Math.floor((bits + 3) / 4)
  ctx.reply.bulk(randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars))
}

const log: Handler = (ctx, argv) => {
  const acl = aclOf(ctx)
  let count = 10
  if (argv.length === 3) {
    const text = arg(argv, 2)
    if (text.toLowerCase() === 'reset') {
      acl.log = []
      ctx.reply.simple('OK')
      return
    }
    const n = string2llText(text)
    if (n === null) {
      ctx.reply.error('ERR value is not an integer or out of range')
      return
    }
    count = Math.max(0, Number(n))
  }
  const entries = acl.log.slice(0, count)
  const r = ctx.reply
  r.arrayHeader(entries.length)
  const now = Date.now()
  for (const e of entries) {
    r.mapHeader(7)
    r.bulk('count'); r.integer(e.count)
    r.bulk('reason'); r.bulk(e.reason)
    r.bulk('context'); r.bulk(e.context)
    r.bulk('object'); r.bulk(Buffer.from(e.object, 'latin1'))
    r.bulk('username'); r.bulk(Buffer.from(e.username, 'latin1'))
    r.bulk('age-seconds'); r.double((now - e.ctimeMs) / 1000)
    r.bulk('client-info'); r.bulk(e.clientInfo)
  }
}

const dryrun: Handler = (ctx, argv) => {
  const acl = aclOf(ctx)
  const u = acl.users.get(arg(argv, 2))
  if (u === undefined) {
    ctx.reply.error(`ERR User '${arg(argv, 2)}' not found`)
    return
  }
  const cmdArgv = argv.slice(3)
  const spec = lookupSpec(services(ctx).table, cmdArgv)
  const cmd = spec === undefined ? undefined : acl.commands.of(spec)
  if (spec === undefined || cmd === undefined) {
    ctx.reply.error(`ERR Command '${arg(argv, 3)}' not found`)
    return
  }
  if (!arityOk(spec, cmdArgv.length)) {
    ctx.reply.error(`ERR wrong number of arguments for '${spec.name}' command`)
    return
  }
  const [result, idx] = checkUserCommand(u, cmd, cmdArgv)
  if (result === AclResult.OK) {
    ctx.reply.simple('OK')
    return
  }
  const what = result === AclResult.DENIED_CMD ? `run the '${cmd.name}' command`
    : `access the '${arg(cmdArgv, idx)}' ${result === AclResult.DENIED_KEY ? 'key' : 'channel'}`
  ctx.reply.bulk(Buffer.from(`This user has no permissions to ${what}`, 'latin1'))
}

const ACL_HELP = helpLines('ACL', [
  'CAT [<category>]',
  '    List all commands that belong to <category>, or all command categories',
  '    when no category is specified.',
  'DELUSER <username> [<username> ...]',
  '    Delete a list of users.',
  'DRYRUN <username> <command> [<arg> ...]',
  '    Returns whether the user can execute the given command without executing the command.',
  'GETUSER <username>',
  "    Get the user's details.",
  'GENPASS [<bits>]',
  '    Generate a secure 256-bit user password. The optional `bits` argument can',
  '    be used to specify a different size.',
  'LIST',
  '    Show users details in config file format.',
  'LOAD',
  '    Reload users from the ACL file.',
  'LOG [<count> | RESET]',
  '    Show the ACL log entries.',
  'SAVE',
  '    Save the current config to the ACL file.',
  'SETUSER <username> <attribute> [<attribute> ...]',
  '    Create or modify a user with the specified attributes.',
  'USERS',
  '    List all the registered usernames.',
  'WHOAMI',
  '    Return the current connection username.',
])

const help: Handler = (ctx) => {
  ctx.reply.arrayHeader(ACL_HELP.length)
  for (const l of ACL_HELP) ctx.reply.simple(l)
}

const ADMIN = ['admin', 'noscript', 'loading', 'stale'] as const
const PLAIN = ['noscript', 'loading', 'stale'] as const

function sub(name: string, arity: number, flags: readonly string[], handler: Handler):
  CommandSpec {
  const admin = flags.includes('admin')
  return {
    name: `acl|${name}`, arity, flags: flags as CommandSpec['flags'], firstKey: 0, lastKey: 0,
    step: 0, categories: admin ? ['admin', 'slow', 'dangerous'] : ['slow'], handler,
  }
}

const parent: Handler = (ctx) => {
  ctx.reply.error("ERR wrong number of arguments for 'acl' command")
}

// Summaries and arguments: command-docs.ts.

export const aclCommands: readonly CommandSpec[] = Object.freeze([{
  name: 'acl', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, categories: ['slow'],
  handler: parent,
  subcommands: [
    sub('setuser', -3, ADMIN, setuser),
    sub('getuser', 3, ADMIN, getuser),
    sub('list', 2, ADMIN, list),
    sub('dryrun', -4, ADMIN, dryrun),
    sub('save', 2, ADMIN, save),
    sub('whoami', 2, PLAIN, whoami),
    sub('cat', -2, PLAIN, cat),
    sub('help', 2, ['loading', 'stale'], help),
    sub('log', -2, ADMIN, log),
    sub('genpass', -2, PLAIN, genpass),
    sub('deluser', -3, ADMIN, deluser),
    sub('load', 2, ADMIN, load),
    sub('users', 2, ADMIN, users),
  ],
}] as CommandSpec[])

// ---- protected mode ----

/**
 * Redis's islocalClient: the peer is exactly 127.0.0.1 or ::1 (an IPv4-mapped ::ffff:127.0.0.1
 * too: Node reports IPv4 peers of a dual-stack socket that way). Other 127.x addresses are
 * remote to Redis, and so here.
 */
export function isLocalAddress(address: string | undefined): boolean {
  const a = (address ?? '').replace(/^::ffff:/i, '')
  return a === '127.0.0.1' || a === '::1'
}

/** Redis 7.0.15's clientAcceptHandler check: refuse a remote peer while the default user
 * needs no password and protected-mode is on. */
export function protectedModeDenies(protectedMode: string, defaultUser: AclUser,
  remoteAddress: string | undefined): boolean {
  return protectedMode === 'yes' && defaultUser.nopass && !isLocalAddress(remoteAddress)
}

export const DENIED_TEXT = '-DENIED Redis is running in protected mode because protected mode ' +
  'is enabled and no password is set for the default user. In this mode connections are only ' +
  'accepted from the loopback interface. If you want to connect from external computers to ' +
  'Redis you may adopt one of the following solutions: 1) Just disable protected mode sending ' +
  "the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to " +
  'Redis from the same host the server is running, however MAKE SURE Redis is not publicly ' +
  'accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. ' +
  '2) Alternatively you can just disable the protected mode by editing the Redis configuration ' +
  "file, and setting the protected mode option to 'no', and then restarting the server. 3) If " +
  "you started the server manually just for testing, restart it with the '--protected-mode no' " +
  'option. 4) Setup a an authentication password for the default user. NOTE: You only need to ' +
  'do one of the above things in order for the server to start accepting connections from the ' +
  'outside.\r\n'
