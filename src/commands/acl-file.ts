// ACL persistence as Redis 7.0.15's acl.c keeps it: the ACL file (ACLLoadFromFile for ACL LOAD
// and startup, ACLSaveToFile for ACL SAVE) and `user` lines of the config file
// (ACLAppendUserForLoading at parse, ACLLoadConfiguredUsers at startup), and the `user` lines
// CONFIG REWRITE writes (rewriteConfigUserOption).
// File format: one user per line, `user <name> <rule> <rule> ...`, words separated by single
// spaces (an empty word is a no-op rule), each line trimmed of " \t\r\n", blank lines skipped,
// nothing else allowed (a `#` comment is an error: the file is rewritten by ACL SAVE). A
// selector `(...)` may span words. ACL SAVE writes ACL LIST's lines, users in byte order.
// Invariants:
// - ACL LOAD is all or nothing: every line is checked into a fresh set of users; on any error
//   the reply lists them (Redis's texts, in Redis's order) and nothing changes. On success the
//   default user object is kept (its rules copied from the file's `default` line, or Redis's
//   fresh default — all commands, keys and channels, nopass — when the file has none) and every
//   other user is a new object: clients authenticated as any old non-default user are closed,
//   as Redis frees the old users with ACLFreeUserAndKillClients.
// - ACL SAVE replaces the file durably (fs-util writeFileDurably: temp, fsync, rename, dir
//   fsync); a crash leaves the old file or the new one.
// - The aclfile and config `user` lines exclude each other at startup, as in Redis.
// - Relative aclfile paths are resolved against `dir` (Redis chdirs there); errors show the
//   path as configured.

import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { strerror, writeFileDurably } from '../fs-util.js'
import {
  AclUser, applyUserRule, describeUser, hasSpaces, mergeSelectorArgs, ruleErrorText, type AclCommands,
  type RuleError,
} from './acl-model.js'
import type { AclRegistry } from './acl.js'

/** The path the server reads and writes for a configured file name. */
export function aclFilePath(dir: string, aclfile: string): string {
  return resolve(dir, aclfile)
}

/** Redis's fresh default user (ACLCreateDefaultUser): +@all ~* &* on nopass. */
export function freshDefaultUser(commands: AclCommands, pubsubAll: boolean): AclUser {
  const d = new AclUser('default', commands, pubsubAll)
  for (const op of ['+@all', '~*', '&*', 'on', 'nopass']) applyUserRule(d, op, pubsubAll)
  d.settle()
  return d
}

/** sdstrim: strip any of `chars` from both ends. */
function trimChars(s: string, chars: string): string {
  let a = 0
  let b = s.length
  while (a < b && chars.includes(s[a] as string)) a++
  while (b > a && chars.includes(s[b - 1] as string)) b--
  return s.slice(a, b)
}

/** One line's users and errors (ACLLoadFromFile's loop body). */
function loadLine(staged: Map<string, AclUser>, line: string, where: string, lineNumber: number,
  commands: AclCommands, pubsubAll: boolean): string {
  const argv = line.split(' ')
  const name = argv[1]
  if (argv[0] !== 'user' || name === undefined) {
    return `${where}:${lineNumber} should start with user keyword followed by the username. `
  }
  if (hasSpaces(name)) {
    return `'${where}:${lineNumber}: username '${name}' contains invalid characters. `
  }
  if (staged.has(name)) return `WARNING: Duplicate user '${name}' found on line ${lineNumber}. `
  const u = new AclUser(name, commands, pubsubAll)
  staged.set(name, u)
  const merged = mergeSelectorArgs(argv.slice(2))
  if (typeof merged === 'number') {
    // Redis 7.0.15 then walks a NULL array (a crash when rules precede the parenthesis);
    // capykv reports the line.
    return `${where}:${lineNumber}: Unmatched parenthesis in selector definition.`
  }
  let errors = ''
  let syntaxError = false
  for (const raw of merged) {
    const op = trimChars(raw, '\t\r\n')
    const err = applyUserRule(u, op, pubsubAll)
    if (err === null) continue
    if (err === 'ENOENT') {
      errors += `${where}:${lineNumber}: Error in applying operation '${op}': ` +
        `${ruleErrorText(err)}. `
    } else if (!syntaxError) {
      errors += `${where}:${lineNumber}: ${ruleErrorText(err)}. `
      syntaxError = true
    }
  }
  return errors
}

/**
 * ACLLoadFromFile's parse: the users of an ACL file's text, or the error text (without ERR).
 * `where` is the file name as configured.
 */
export function parseAclText(text: string, where: string, commands: AclCommands,
  pubsubAll: boolean): Map<string, AclUser> | string {
  const staged = new Map<string, AclUser>()
  let errors = ''
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = trimChars(lines[i] as string, ' \t\r\n')
    if (line === '') continue
    errors += loadLine(staged, line, where, i + 1, commands, pubsubAll)
  }
  if (errors !== '') {
    return `${errors}WARNING: ACL errors detected, no change to the previously active ACL ` +
      'rules was performed'
  }
  return staged
}

/** Read and parse the configured ACL file: the users, or Redis's error text. */
export function readAclFile(acl: AclRegistry, dir: string, aclfile: string):
  Map<string, AclUser> | string {
  let text: string
  try {
    text = readFileSync(aclFilePath(dir, aclfile), 'latin1')
  } catch (e) {
    return `Error loading ACLs, opening file '${aclfile}': ${strerror(e)}`
  }
  return parseAclText(text, aclfile, acl.commands, acl.pubsubAll)
}

/**
 * Make `staged` the users (the tail of ACLLoadFromFile on success). Returns the old users
 * other than default: their clients must be closed by the caller.
 */
export function replaceUsers(acl: AclRegistry, staged: Map<string, AclUser>): Set<AclUser> {
  const newDefault = staged.get('default') ?? freshDefaultUser(acl.commands, acl.pubsubAll)
  acl.defaultUser.assign(newDefault)
  const old = new Set<AclUser>()
  for (const u of acl.users.values()) if (u !== acl.defaultUser) old.add(u)
  acl.users.clear()
  acl.users.set('default', acl.defaultUser)
  for (const [name, u] of staged) {
    if (name === 'default') continue
    u.settle()
    acl.users.set(name, u)
  }
  acl.changed()
  return old
}

/** The lines ACL SAVE writes and CONFIG REWRITE appends: `user <name> <rules>` per user. */
export function userLines(acl: AclRegistry): string[] {
  return acl.sortedUsers().map((u) => `user ${u.name} ${describeUser(u)}`)
}

/** ACLSaveToFile, durably. Returns null, or the reason for the log. */
export function saveAclFile(acl: AclRegistry, dir: string, aclfile: string, pid: number,
  nowMs: number): string | null {
  const path = aclFilePath(dir, aclfile)
  const text = userLines(acl).map((l) => `${l}\n`).join('')
  try {
    writeFileDurably(path, text, `${path}.tmp-${pid}-${nowMs}`)
    return null
  } catch (e) {
    return `Writing ACL file for ACL SAVE: ${strerror(e)}`
  }
}

// ---- `user` lines of the config file ----

/** A `user` line of the config file, kept for ACLLoadConfiguredUsers. */
export interface ConfiguredUser { name: string; rules: string[] }

/**
 * ACLAppendUserForLoading's check at parse time: the text after "Error in user declaration "
 * or null. `words` are the line's words after `user` (the name first); `earlier` the names of
 * the user lines before it. An unknown command is not an error here (it is at load), as in
 * Redis. The word quoted is Redis's argv[index of the failing rule] — an index into the merged
 * rules used on the whole line, so it names a word two places earlier; kept for identical
 * output.
 */
export function checkConfigUser(words: readonly string[], earlier: readonly string[],
  commands: AclCommands, pubsubAll: boolean): string | null {
  const argv = ['user', ...words]
  const name = words[0] as string
  if (earlier.includes(name)) {
    return `'${name}': Duplicate user found. A user can only be defined once in config files`
  }
  const merged = mergeSelectorArgs(words.slice(1))
  if (typeof merged === 'number') {
    // Redis reports errno left over from before (ENOENT in every run we made).
    return `'${argv[merged] as string}': ${ruleErrorText('ENOENT')}`
  }
  const fake = new AclUser('fake', commands, pubsubAll)
  for (let j = 0; j < merged.length; j++) {
    const err: RuleError | null = applyUserRule(fake, merged[j] as string, pubsubAll)
    if (err !== null && err !== 'ENOENT') return `'${argv[j] as string}': ${ruleErrorText(err)}`
  }
  return null
}

/**
 * ACLLoadConfiguredUsers: create the config's users (the default user reset first). Returns
 * null, or the log lines of the failure (Redis exits after them).
 */
export function loadConfiguredUsers(acl: AclRegistry, configured: readonly ConfiguredUser[]):
  { errors: string[] | null; disabled: string[] } {
  const disabled: string[] = []
  for (const { name, rules } of configured) {
    if (hasSpaces(name)) return { errors: ['Spaces not allowed in ACL usernames'], disabled }
    let u = acl.users.get(name)
    if (u === undefined) {
      u = new AclUser(name, acl.commands, acl.pubsubAll)
      acl.users.set(name, u)
    } else {
      applyUserRule(u, 'reset', acl.pubsubAll)
    }
    const merged = mergeSelectorArgs(rules)
    const ops = typeof merged === 'number' ? rules : merged
    for (const op of ops) {
      const err = applyUserRule(u, op, acl.pubsubAll)
      if (err !== null) {
        acl.changed()
        return {
          errors: [`Error loading ACL rule '${op}' for the user named '${name}': ` +
            ruleErrorText(err)], disabled,
        }
      }
    }
    u.settle()
    if (!u.enabled) disabled.push(name)
  }
  acl.changed()
  return { errors: null, disabled }
}
