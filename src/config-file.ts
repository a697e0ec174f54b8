// Configuration text as redis-server reads it: a config file's lines, then each command-line
// `--name value ...` as one more line (values quoted with sdscatrepr), parsed with sdssplitargs
// (src/resp/reader.ts splitArgs) into the parameters of src/server-config.ts. Errors carry the
// line number and text for Redis's "*** FATAL CONFIG FILE ERROR ***" report. `user` lines are
// checked as they are read (their rules need the command table: the caller's check) and kept in
// ServerConfig.usersToLoad for startup.

import { readFileSync } from 'node:fs'
import { splitArgs } from './resp/reader.js'
import { ConfigValueError, findParam, type ServerConfig } from './server-config.js'

/** Thrown for a configuration that cannot be used; printed as Redis prints it. */
export class FatalConfigError extends Error {
  constructor(readonly lineNumber: number, readonly line: string, reason: string) {
    super(reason)
  }
}

/** The config text: the file's lines, then one line per --option (values quoted as Redis does). */
export function configText(argv: readonly string[]): { text: string; file: string | null } {
  let file: string | null = null
  let i = 0
  if (argv[0] !== undefined && !argv[0].startsWith('--')) {
    file = argv[0]
    i = 1
  }
  let text = ''
  if (file !== null) {
    text = file === '-' ? readFileSync(0, 'latin1') : readFileSync(file, 'latin1')
  }
  let options = ''
  for (; i < argv.length; i++) {
    const a = argv[i] as string
    if (a.startsWith('--')) {
      options += `${options === '' ? '' : '\n'}${a.slice(2)}`
    } else {
      options += ` ${reprConfigValue(a)}`
    }
  }
  return { text: options === '' ? text : `${text}\n${options}`, file }
}

/** sdscatrepr, for the values of command-line options. */
function reprConfigValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`
}

/**
 * Checks a `user` line (its words after `user`) against the users before it: the text after
 * "Error in user declaration ", or null (commands/acl-file.ts checkConfigUser).
 */
export type UserLineCheck = (words: string[], earlier: string[], config: ServerConfig) =>
  string | null

/** Applies config text to `config` (Redis's loadServerConfigFromString). */
export function loadConfig(config: ServerConfig, text: string, checkUser?: UserLineCheck): void {
  const lines = text.split('\n')
  const seen = new Set<string>()
  for (let n = 0; n < lines.length; n++) {
    const line = (lines[n] as string).trim()
    if (line === '' || line.startsWith('#')) continue
    const buf = Buffer.from(line, 'latin1')
    const words = splitArgs(buf, 0, buf.length)
    if (words === null) {
      throw new FatalConfigError(n + 1, line, 'Unbalanced quotes in configuration line')
    }
    const [first, ...rest] = words.map((w) => w.toString('latin1'))
    if (first === undefined) continue
    const name = first.toLowerCase()
    if (name === 'user' && rest.length > 0) {
      const earlier = config.usersToLoad.map((u) => u.name)
      const err = checkUser?.(rest, earlier, config) ??
        (earlier.includes(rest[0] as string) ? `'${rest[0] as string}': Duplicate user` : null)
      if (err !== null) throw new FatalConfigError(n + 1, line, `Error in user declaration ${err}`)
      config.usersToLoad.push({ name: rest[0] as string, rules: rest.slice(1) })
      continue
    }
    const param = findParam(name)
    if (param === undefined || name === 'include' || name === 'rename-command') {
      throw new FatalConfigError(n + 1, line, 'Bad directive or wrong number of arguments')
    }
    const arity = param.arity ?? 1
    if ((arity === 'rest' && rest.length === 0) || (arity !== 'rest' && rest.length !== arity)) {
      throw new FatalConfigError(n + 1, line, 'wrong number of arguments')
    }
    let args = rest
    // Repeated lines accumulate (save points, output buffer classes), as in redis.conf;
    // `save ""` clears the save points.
    const clears = rest.length === 1 && rest[0] === ''
    if (seen.has(param.name) && !clears && (param.name === 'save' || param.name === 'bind')) {
      args = [config.get(param.name), ...rest]
    }
    if (param.name === 'client-output-buffer-limit') args = [config.get(param.name), ...rest]
    seen.add(param.name)
    try {
      config.setAtStartup(param.name, args)
    } catch (e) {
      if (!(e instanceof ConfigValueError)) throw e
      throw new FatalConfigError(n + 1, line, e.message)
    }
  }
}

