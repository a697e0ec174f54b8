// Checking one command for one ACL user, as Redis 7.0.15's ACLCheckAllUserCommandPerm: any
// selector that allows the command, every key it names (found by the command's key specs, with
// their read/write flags: access → read; insert, delete, update → write) and every channel
// (PUBLISH, SUBSCRIBE… arguments; PSUBSCRIBE patterns compared literally) allows it.
// Invariants: a pure function of the user, the command and its arguments; when every selector
// denies, the denial reported is Redis's "most relevant" one (a key or channel denial over a
// command denial, the later argument over the earlier).

import type { KeySpec } from './command-docs.js'
import { keysBySpecs } from './command-keys.js'
import { globMatch } from './glob.js'
import {
  ALL, AclResult, READ, WRITE, type AclCommand, type AclUser, type Selector,
} from './acl-model.js'

function keyFlagsOf(spec: KeySpec): number {
  let f = 0
  if (spec.flags.includes('access')) f |= READ
  if (spec.flags.includes('insert') || spec.flags.includes('delete') ||
      spec.flags.includes('update')) f |= WRITE
  return f
}

/**
 * getKeysFromCommandWithSpecs: [position, R/W flags] pairs. Key specs first; a command whose
 * specs cannot find its keys (incomplete, variable flags) falls back to its spec.keys (movable
 * keys) or first/last/step, with RW for a write command and R otherwise.
 */
export function keysOf(cmd: AclCommand, argv: readonly Buffer[]): number[] {
  const spec = cmd.spec
  if (spec === null) return []
  const specs = cmd.keySpecs.filter((k) => !k.flags.includes('not_key'))
  const out: number[] = []
  if (specs.length > 0 && !specs.some((k) => k.flags.includes('variable_flags'))) {
    if (keysBySpecs(specs, argv, (pos, ks) => out.push(pos, keyFlagsOf(ks)))) return out
    out.length = 0
  }
  const flags = spec.flags.includes('write') ? ALL : READ
  if (spec.keys !== undefined) {
    for (const i of spec.keys(argv)) out.push(i, flags)
    return out
  }
  if (spec.firstKey <= 0) return out
  const last = spec.lastKey < 0 ? argv.length + spec.lastKey : spec.lastKey
  for (let i = spec.firstKey; i <= last && i < argv.length; i += Math.max(1, spec.step)) {
    out.push(i, flags)
  }
  return out
}

function keyAllowed(s: Selector, key: Buffer, need: number): boolean {
  if (s.allKeys) return true
  for (const p of s.patterns) {
    if ((p.flags & need) !== need) continue
    if (globMatch(p.bytes, key)) return true
  }
  return false
}

function channelAllowed(s: Selector, channel: Buffer, isPattern: boolean): boolean {
  if (s.allChannels) return true
  const text = channel.toString('latin1')
  for (const c of s.channels) {
    if (isPattern ? c === text : globMatch(Buffer.from(c, 'latin1'), channel)) return true
  }
  return false
}

/** ACLSelectorCheckCmd: [result, argument index]. */
function checkSelector(s: Selector, cmd: AclCommand, argv: readonly Buffer[]): [AclResult, number] {
  if (!s.allCommands && !cmd.noAuth && s.allowed[cmd.id] !== 1) {
    const firsts = s.firstArgs?.get(cmd.id)
    const arg = argv[cmd.parent === null ? 1 : 2]
    if (argv.length < 2 || firsts === undefined || arg === undefined) return [AclResult.DENIED_CMD, 0]
    const a = arg.toString('latin1').toLowerCase()
    if (!firsts.some((f) => f.toLowerCase() === a)) return [AclResult.DENIED_CMD, 0]
  }
  if (!s.allKeys) {
    const keys = keysOf(cmd, argv)
    for (let j = 0; j < keys.length; j += 2) {
      const pos = keys[j] as number
      if (!keyAllowed(s, argv[pos] as Buffer, keys[j + 1] as number)) {
        return [AclResult.DENIED_KEY, pos]
      }
    }
  }
  if (!s.allChannels && cmd.channels !== 0) {
    const lastArg = cmd.channels === 1 ? 1 : argv.length - 1
    for (let i = 1; i <= lastArg && i < argv.length; i++) {
      if (!channelAllowed(s, argv[i] as Buffer, cmd.channels === 3)) {
        return [AclResult.DENIED_CHANNEL, i]
      }
    }
  }
  return [AclResult.OK, 0]
}

/** ACLCheckAllUserCommandPerm: OK if any selector allows; else the most relevant denial. */
export function checkUserCommand(u: AclUser, cmd: AclCommand, argv: readonly Buffer[]):
  [AclResult, number] {
  let relevant = AclResult.DENIED_CMD
  let lastIdx = 0
  for (const s of u.selectors) {
    const [result, idx] = checkSelector(s, cmd, argv)
    if (result === AclResult.OK) return [AclResult.OK, 0]
    if (result > relevant || (result === relevant && idx > lastIdx)) {
      relevant = result
      lastIdx = idx
    }
  }
  return [relevant, lastIdx]
}
