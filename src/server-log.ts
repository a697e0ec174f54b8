// Logging in Redis's format: `pid:M 24 Nov 2026 08:43:01.221 * message`, with Redis's level
// marks ('.' debug, '-' verbose, '*' notice, '#' warning) and its loglevel filter. Lines go to
// stdout, or appended to `logfile` when one is configured. An L0 leaf.

import { appendFileSync } from 'node:fs'
import { nowMs } from './clock.js'

export type LogLevel = 'debug' | 'verbose' | 'notice' | 'warning'
const RANK: Record<LogLevel, number> = { debug: 0, verbose: 1, notice: 2, warning: 3 }
const MARK: Record<LogLevel, string> = { debug: '.', verbose: '-', notice: '*', warning: '#' }
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov',
  'Dec']

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

export function formatLogTime(ms: number): string {
  const d = new Date(ms)
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.` +
    `${pad(d.getMilliseconds(), 3)}`
}

export class Logger {
  level: LogLevel = 'notice'
  file = ''
  /** 'C' before the configuration is loaded, then 'M' (the main process), as Redis writes. */
  role = 'C'

  log(level: LogLevel, message: string): void {
    if (RANK[level] < RANK[this.level]) return
    const line = `${process.pid}:${this.role} ${formatLogTime(nowMs())} ${MARK[level]} ${message}\n`
    if (this.file === '') process.stdout.write(line)
    else appendFileSync(this.file, line)
  }

  notice(message: string): void {
    this.log('notice', message)
  }

  warning(message: string): void {
    this.log('warning', message)
  }

  verbose(message: string): void {
    this.log('verbose', message)
  }
}

export const logger = new Logger()
