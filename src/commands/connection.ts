// Connection commands: PING ECHO QUIT RESET HELLO AUTH SELECT and CLIENT, with Redis 7.0.15's
// replies and error texts. Additions from Redis 7.2 (documented as differences): CLIENT SETINFO,
// CLIENT NO-TOUCH, and lib-name/lib-ver in CLIENT LIST. Authentication goes through the ACL
// users (commands/acl.ts): passwords compared as SHA-256 digests in constant time; a failure is
// WRONGPASS and an ACL LOG entry (reason auth).
// CLIENT LIST's lines: client-info.ts.
// These handlers touch client state only, never the keyspace, so most carry `loading` and
// answer while the pool is recovered.

import { clientPause, clientUnpause } from './client-pause.js'
import { parseRedisInteger } from '../resp/reader.js'
import type { AclUser } from './acl-model.js'
import { DB_COUNT } from '../state/keyspace.js'
import { helpLines, services, type ClientHandle, type ServerServices } from './services.js'
import { discardTransaction } from './transactions.js'
import { trackingHandlers } from './tracking.js'
import { clientInfoLine, clientType } from './client-info.js'
import {
  ERR_NOT_INTEGER, ERR_SYNTAX, type ClientState, type CommandContext, type CommandFlag,
  type CommandSpec, type Handler,
} from './spec.js'

export const SERVER_NAME = 'redis'
export const REDIS_VERSION = '7.0.15'
const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.'

/** Redis's string2ll on an argument: null unless a canonical 64-bit decimal. */
export function parseLongLong(arg: Buffer): number | null {
  const n = parseRedisInteger(arg, 0, arg.length)
  return Number.isNaN(n) ? null : n
}

function lower(arg: Buffer | undefined): string {
  return arg === undefined ? '' : arg.toString('latin1').toLowerCase()
}

/** Redis's validateClientAttr / clientSetName check: every byte in '!'..'~'. */
function validClientAttr(value: Buffer): boolean {
  for (const c of value) if (c < 0x21 || c > 0x7e) return false
  return true
}

function handleOf(ctx: CommandContext): ClientHandle {
  return services(ctx).handleOf(ctx.client)
}

const ping: Handler = (ctx, argv) => {
  if (argv.length > 2) {
    ctx.reply.error("ERR wrong number of arguments for 'ping' command")
    return
  }
  if (ctx.client.proto === 2 && services(ctx).pubsub.isSubscribed(ctx.client.id)) {
    // RESP2 subscribed mode: a two-element array, so it reads like the pushes around it.
    ctx.reply.arrayHeader(2)
    ctx.reply.bulk('pong')
    ctx.reply.bulk(argv.length === 2 ? argv[1] as Buffer : '')
    return
  }
  if (argv.length === 2) ctx.reply.bulk(argv[1] as Buffer)
  else ctx.reply.simple('PONG')
}

const echo: Handler = (ctx, argv) => {
  ctx.reply.bulk(argv[1] as Buffer)
}

const quit: Handler = (ctx) => {
  ctx.reply.simple('OK')
  handleOf(ctx).closeAfterReply()
}

/** A fresh connection's state (Redis's createClient): the default user, authenticated when it
 * needs no password and is on. */
export function defaultAuthenticated(sv: ServerServices): boolean {
  const d = sv.acl.defaultUser
  return d.nopass && d.enabled
}

const reset: Handler = (ctx) => {
  const sv = services(ctx)
  const handle = handleOf(ctx)
  const client = ctx.client
  handle.monitor = false
  client.db = 0
  client.proto = 2
  ctx.reply.switchProto?.(2)
  client.authenticated = defaultAuthenticated(sv)
  client.user = sv.acl.defaultUser
  discardTransaction(client, sv.watch)
  sv.pubsub.removeClient(client.id)
  sv.tracking.disable(client.id)
  client.name = null
  handle.noTouch = false
  handle.noEvict = false
  handle.replyMode = 'on'
  ;(ctx.reply as { unmute?: () => void }).unmute?.()
  ctx.reply.simple('RESET')
}

/** AUTH's and HELLO AUTH's check; the caller replies. */
function authenticate(ctx: CommandContext, user: string, password: Buffer, argv0: Buffer):
  boolean {
  const sv = services(ctx)
  const found = sv.acl.credentials(user, password)
  if (found === null) {
    sv.acl.addLog({ reason: 'auth', context: ctx.client.multi === null ? 'toplevel' : 'multi',
      object: argv0.toString('latin1'), username: user, ctimeMs: Date.now(),
      clientInfo: clientInfoLine(sv, handleOf(ctx), ctx.nowMs) })
    return false
  }
  ctx.client.authenticated = true
  ctx.client.user = found
  return true
}

const auth: Handler = (ctx, argv) => {
  if (argv.length > 3) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  let user = 'default'
  let password = argv[1] as Buffer
  if (argv.length === 2) {
    if (services(ctx).acl.defaultUser.nopass) {
      ctx.reply.error('ERR AUTH <password> called without any password configured for the ' +
        'default user. Are you sure your configuration is correct?')
      return
    }
  } else {
    user = (argv[1] as Buffer).toString('latin1')
    password = argv[2] as Buffer
  }
  if (authenticate(ctx, user, password, argv[0] as Buffer)) ctx.reply.simple('OK')
  else ctx.reply.error(WRONGPASS)
}

/** The HELLO reply map (also used by tests). */
function writeHello(ctx: CommandContext): void {
  const r = ctx.reply
  r.mapHeader(7)
  r.bulk('server'); r.bulk(SERVER_NAME)
  r.bulk('version'); r.bulk(REDIS_VERSION)
  r.bulk('proto'); r.integer(ctx.client.proto)
  r.bulk('id'); r.integer(ctx.client.id)
  r.bulk('mode'); r.bulk('standalone')
  r.bulk('role'); r.bulk('master')
  r.bulk('modules'); r.arrayHeader(0)
}

const hello: Handler = (ctx, argv) => {
  let version = 0
  let next = 1
  if (argv.length >= 2) {
    const v = parseLongLong(argv[next++] as Buffer)
    if (v === null) {
      ctx.reply.error('ERR Protocol version is not an integer or out of range')
      return
    }
    if (v < 2 || v > 3) {
      ctx.reply.error('NOPROTO unsupported protocol version')
      return
    }
    version = v
  }
  let user: Buffer | null = null
  let password: Buffer | null = null
  let name: Buffer | null = null
  for (let j = next; j < argv.length; j++) {
    const more = argv.length - 1 - j
    const opt = lower(argv[j])
    if (opt === 'auth' && more >= 2) {
      user = argv[j + 1] as Buffer
      password = argv[j + 2] as Buffer
      j += 2
    } else if (opt === 'setname' && more >= 1) {
      name = argv[j + 1] as Buffer
      j++
    } else {
      const opt = (argv[j] as Buffer).toString('latin1')
      ctx.reply.error(`ERR Syntax error in HELLO option '${opt}'`)
      return
    }
  }
  if (user !== null && password !== null) {
    if (!authenticate(ctx, user.toString('latin1'), password, argv[0] as Buffer)) {
      ctx.reply.error(WRONGPASS)
      return
    }
  }
  if (!ctx.client.authenticated) {
    ctx.reply.error('NOAUTH HELLO must be called with the client already authenticated, ' +
      'otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the ' +
      'client and select the RESP protocol version at the same time')
    return
  }
  if (name !== null && !setName(ctx, name)) return
  if (version !== 0) {
    ctx.client.proto = version as 2 | 3
    ctx.reply.switchProto?.(version as 2 | 3)
  }
  writeHello(ctx)
}

const select: Handler = (ctx, argv) => {
  const id = parseLongLong(argv[1] as Buffer)
  if (id === null) {
    ctx.reply.error(ERR_NOT_INTEGER)
    return
  }
  if (id < -2147483648 || id > 2147483647) {
    ctx.reply.error('ERR value is out of range, value must between -2147483648 and 2147483647')
    return
  }
  if (id < 0 || id >= DB_COUNT) {
    ctx.reply.error('ERR DB index is out of range')
    return
  }
  ctx.client.db = id
  ctx.reply.simple('OK')
}

// ---- CLIENT ---------------------------------------------------------------------------------

function setName(ctx: CommandContext, name: Buffer): boolean {
  if (name.length === 0) {
    ctx.client.name = null
    return true
  }
  if (!validClientAttr(name)) {
    ctx.reply.error('ERR Client names cannot contain spaces, newlines or special characters.')
    return false
  }
  ctx.client.name = name.toString('latin1')
  return true
}

const CLIENT_TYPES = new Set(['normal', 'slave', 'replica', 'pubsub', 'master'])

function clientList(ctx: CommandContext, argv: Buffer[]): void {
  const sv = services(ctx)
  let handles = Array.from(sv.clients.values())
  if (argv.length === 4 && lower(argv[2]) === 'type') {
    const type = lower(argv[3])
    if (!CLIENT_TYPES.has(type)) {
      ctx.reply.error(`ERR Unknown client type '${(argv[3] as Buffer).toString('latin1')}'`)
      return
    }
    handles = handles.filter((h) => clientType(sv, h) === type)
  } else if (argv.length > 3 && lower(argv[2]) === 'id') {
    const picked: ClientHandle[] = []
    for (let j = 3; j < argv.length; j++) {
      const id = parseLongLong(argv[j] as Buffer)
      if (id === null) {
        ctx.reply.error('ERR Invalid client ID')
        return
      }
      const h = sv.clients.get(id)
      if (h !== undefined) picked.push(h)
    }
    handles = picked
  } else if (argv.length !== 2) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const now = ctx.nowMs
  ctx.reply.verbatim(handles.map((h) => clientInfoLine(sv, h, now,
    h.state.id === ctx.client.id ? argv : undefined) + '\n').join(''))
}

interface KillFilter {
  id: number | null
  type: string | null
  addr: string | null
  laddr: string | null
  user: AclUser | null
  skipme: boolean
}

function parseKillFilter(ctx: CommandContext, argv: Buffer[]): KillFilter | null {
  const f: KillFilter = {
    id: null, type: null, addr: null, laddr: null, user: null, skipme: true,
  }
  if (argv.length === 3) {
    f.addr = (argv[2] as Buffer).toString('latin1')
    f.skipme = false
    return f
  }
  if (!(argv.length > 3 && argv.length % 2 === 0)) {
    ctx.reply.error(ERR_SYNTAX)
    return null
  }
  for (let i = 2; i < argv.length; i += 2) {
    const opt = lower(argv[i])
    const value = argv[i + 1] as Buffer
    if (opt === 'id') {
      const id = parseLongLong(value)
      if (id === null || id < 1) {
        ctx.reply.error('ERR client-id should be greater than 0')
        return null
      }
      f.id = id
    } else if (opt === 'type') {
      const type = lower(value)
      if (!CLIENT_TYPES.has(type)) {
        ctx.reply.error(`ERR Unknown client type '${value.toString('latin1')}'`)
        return null
      }
      f.type = type
    } else if (opt === 'addr') {
      f.addr = value.toString('latin1')
    } else if (opt === 'laddr') {
      f.laddr = value.toString('latin1')
    } else if (opt === 'user') {
      const u = services(ctx).acl.users.get(value.toString('latin1'))
      if (u === undefined) {
        ctx.reply.error(`ERR No such user '${value.toString('latin1')}'`)
        return null
      }
      f.user = u
    } else if (opt === 'skipme') {
      const v = lower(value)
      if (v !== 'yes' && v !== 'no') {
        ctx.reply.error(ERR_SYNTAX)
        return null
      }
      f.skipme = v === 'yes'
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return f
}

function clientKill(ctx: CommandContext, argv: Buffer[]): void {
  const f = parseKillFilter(ctx, argv)
  if (f === null) return
  const sv = services(ctx)
  const self = sv.handleOf(ctx.client)
  let killed = 0
  let closeSelf = false
  for (const h of Array.from(sv.clients.values())) {
    if (f.addr !== null && h.addr !== f.addr) continue
    if (f.laddr !== null && h.laddr !== f.laddr) continue
    if (f.user !== null && h.state.user !== f.user) continue
    if (f.type !== null && f.type !== clientType(sv, h)) continue
    if (f.id !== null && h.state.id !== f.id) continue
    if (h === self && f.skipme) continue
    if (h === self) closeSelf = true
    else h.kill()
    killed++
  }
  if (argv.length === 3) {
    if (killed === 0) ctx.reply.error('ERR No such client')
    else ctx.reply.simple('OK')
  } else {
    ctx.reply.integer(killed)
  }
  if (closeSelf) self.closeAfterReply()
}

function onOff(ctx: CommandContext, arg: Buffer | undefined, set: (on: boolean) => void): void {
  const v = lower(arg)
  if (v !== 'on' && v !== 'off') {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  set(v === 'on')
  ctx.reply.simple('OK')
}

const CLIENT_HELP = helpLines('CLIENT', [
  'CACHING (YES|NO)',
  '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
  'GETREDIR',
  '    Return the client ID we are redirecting to when tracking is enabled.',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  '    Suspend all, or just write, clients for <timeout> milliseconds.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'SETINFO <option> <value>',
  '    Set client meta attr. Options are:',
  '    * LIB-NAME: the client lib name.',
  '    * LIB-VER: the client lib version.',
  'UNBLOCK <clientid> [TIMEOUT|ERROR]',
  '    Unblock the specified blocked client.',
  'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
  '         [OPTIN] [OPTOUT] [NOLOOP]',
  '    Control server assisted client side caching.',
  'TRACKINGINFO',
  '    Report tracking status for the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Protect current client connection from eviction.',
  'NO-TOUCH (ON|OFF)',
  '    Will not touch LRU/LFU stats when this mode is on.',
])

export function writeHelp(ctx: CommandContext, lines: readonly string[]): void {
  ctx.reply.arrayHeader(lines.length)
  for (const l of lines) ctx.reply.simple(l)
}

const clientHandlers: Record<string, Handler> = {
  id: (ctx) => ctx.reply.integer(ctx.client.id),
  getname: (ctx) => {
    if (ctx.client.name === null) ctx.reply.nullBulk()
    else ctx.reply.bulk(Buffer.from(ctx.client.name, 'latin1'))
  },
  setname: (ctx, argv) => {
    if (setName(ctx, argv[2] as Buffer)) ctx.reply.simple('OK')
  },
  list: clientList,
  info: (ctx, argv) => ctx.reply.verbatim(clientInfoLine(services(ctx), handleOf(ctx), ctx.nowMs,
    argv) +
    '\n'),
  kill: clientKill,
  setinfo: (ctx, argv) => {
    const attr = lower(argv[2])
    const value = argv[3] as Buffer
    if (attr !== 'lib-name' && attr !== 'lib-ver') {
      ctx.reply.error(`ERR Unrecognized option '${(argv[2] as Buffer).toString('latin1')}'`)
      return
    }
    if (!validClientAttr(value)) {
      ctx.reply.error(`ERR ${(argv[2] as Buffer).toString('latin1')} cannot contain spaces, ` +
        'newlines or special characters.')
      return
    }
    const h = handleOf(ctx)
    if (attr === 'lib-name') h.libName = value.toString('latin1')
    else h.libVersion = value.toString('latin1')
    ctx.reply.simple('OK')
  },
  'no-evict': (ctx, argv) => onOff(ctx, argv[2], (on) => { handleOf(ctx).noEvict = on }),
  'no-touch': (ctx, argv) => onOff(ctx, argv[2], (on) => { handleOf(ctx).noTouch = on }),
  reply: (ctx, argv) => {
    const h = handleOf(ctx)
    const mode = lower(argv[2])
    const sink = ctx.reply as { mute?: () => void; unmute?: () => void }
    if (mode === 'on') {
      h.replyMode = 'on'
      sink.unmute?.()
      ctx.reply.simple('OK')
    } else if (mode === 'off') {
      h.replyMode = 'off'
      sink.mute?.()
    } else if (mode === 'skip') {
      if (h.replyMode !== 'off') h.replyMode = 'skip'
      sink.mute?.()
    } else {
      ctx.reply.error(ERR_SYNTAX)
    }
  },
  ...trackingHandlers,
  unblock: (ctx, argv) => {
    if (argv.length > 4) {
      ctx.reply.error("ERR unknown subcommand or wrong number of arguments for 'unblock'. " +
        'Try CLIENT HELP.')
      return
    }
    let withError = false
    if (argv.length === 4) {
      const reason = lower(argv[3])
      if (reason === 'error') withError = true
      else if (reason !== 'timeout') {
        ctx.reply.error('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR')
        return
      }
    }
    const id = parseLongLong(argv[2] as Buffer)
    if (id === null) {
      ctx.reply.error(ERR_NOT_INTEGER)
      return
    }
    ctx.reply.integer(services(ctx).unblockClient(id, withError) ? 1 : 0)
  },
  help: (ctx) => writeHelp(ctx, CLIENT_HELP),
  pause: clientPause, unpause: clientUnpause,
}

const CONN = ['noscript', 'loading', 'stale'] as const
const CONN_ADMIN = ['admin', 'noscript', 'loading', 'stale'] as const
const AUTHLESS = ['noscript', 'loading', 'stale', 'fast', 'no_auth', 'allow_busy'] as const

function conn(name: string, arity: number, flags: readonly CommandFlag[], handler: Handler,
  extra: Partial<CommandSpec> = {}): CommandSpec {
  const admin = flags.includes('admin')
  const fast = flags.includes('fast')
  return {
    name, arity, flags, firstKey: 0, lastKey: 0, step: 0,
    categories: admin ? ['admin', 'slow', 'dangerous', 'connection']
      : [fast ? 'fast' : 'slow', 'connection'],
    handler, ...extra,
  }
}

function sub(name: string, arity: number, flags: readonly CommandFlag[]): CommandSpec {
  return conn(`client|${name}`, arity, flags, clientHandlers[name] as Handler)
}

const clientParent: Handler = (ctx) => {
  ctx.reply.error("ERR wrong number of arguments for 'client' command")
}

// Summaries, arguments and tips: command-docs.ts.
export const connectionCommands: readonly CommandSpec[] = Object.freeze([
  conn('ping', -1, ['fast'], ping, { subscribedContext: true }),
  conn('echo', 2, ['loading', 'stale', 'fast'], echo),
  conn('quit', -1, AUTHLESS, quit, { subscribedContext: true }),
  conn('reset', 1, AUTHLESS, reset, { subscribedContext: true }),
  conn('hello', -1, AUTHLESS, hello),
  conn('auth', -2, AUTHLESS, auth),
  conn('select', 2, ['loading', 'stale', 'fast'], select),
  {
    name: 'client', arity: -2, flags: [], firstKey: 0, lastKey: 0, step: 0, categories: ['slow'],
    handler: clientParent,
    subcommands: [
      sub('id', 2, CONN),
      sub('getname', 2, CONN),
      sub('setname', 3, CONN),
      sub('list', -2, CONN_ADMIN),
      sub('info', 2, CONN),
      sub('kill', -3, CONN_ADMIN),
      sub('setinfo', 4, CONN),
      sub('no-evict', 3, CONN_ADMIN),
      sub('no-touch', 3, CONN),
      sub('reply', 3, CONN),
      sub('getredir', 2, CONN),
      sub('tracking', -3, CONN),
      sub('caching', 3, CONN),
      sub('trackinginfo', 2, CONN),
      sub('unblock', -3, CONN_ADMIN),
      sub('pause', -3, CONN_ADMIN), sub('unpause', 2, CONN_ADMIN),
      sub('help', 2, ['loading', 'stale']),
    ],
  },
] as CommandSpec[])

/** A fresh client's state. */
export function newClientState(id: number, user: AclUser): ClientState {
  return {
    id, name: null, db: 0, proto: 2, authenticated: user.nopass && user.enabled, user,
    multi: null, watchDirty: false,
    watched: new Map(),
  }
}
