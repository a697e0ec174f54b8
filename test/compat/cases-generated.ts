// Generated differential cases: seeded random scripts over a small key space, so that commands
// meet each other's values (ints, floats, binary strings, other types, expiries) in orders no
// hand-written case thought of. The seed is fixed (CAPYKV_DIFF_SEED overrides it); a failure
// prints the exact line, which replays by itself in a hand-written case.
import { Prng } from '../sim/prng.js'
import type { Case } from './script.js'

const SEED = Number(process.env.CAPYKV_DIFF_SEED ?? 20261124)

/** A line argument, quoted with \xHH escapes for every byte outside plain printable ASCII. */
function q(bytes: Buffer | string): string {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes
  let out = '"'
  for (const c of b) {
    out += c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c)
      : `\\x${c.toString(16).padStart(2, '0')}`
  }
  return `${out}"`
}

function numberText(r: Prng): string {
  const digits = (n: number): string => Array.from({ length: n }, () => String(r.int(10))).join('')
  switch (r.int(8)) {
    case 0: return String(r.range(-20, 20))
    case 1: return digits(1 + r.int(18)).replace(/^0+(?=\d)/, '')
    case 2: return `${digits(1 + r.int(6))}.${digits(1 + r.int(19))}`
    case 3: return `${r.int(100)}e${r.range(-30, 30)}`
    case 4: return `-${digits(1 + r.int(4))}.${digits(1 + r.int(6))}`
    case 5: return `0.${'0'.repeat(r.int(18))}${digits(1 + r.int(4))}`
    case 6: return r.pick(['9223372036854775807', '-9223372036854775808', '0', '-0', '01', ' 1'])
    default: return `0x${r.int(65536).toString(16)}p${r.range(-20, 20)}`
  }
}

function value(r: Prng): string {
  switch (r.int(4)) {
    case 0: return q(numberText(r))
    case 1: return q(r.bytes(r.int(6)))
    case 2: return q('x'.repeat(r.pick([1, 20, 44, 45, 100])))
    default: return q(r.pick(['a', 'hello', 'ohmytext', 'mynewtext', '']))
  }
}

/** One random command line over keys k0..k5 (strings mostly, a list, expiries). */
function randomLine(r: Prng): string {
  const k = (): string => `k${r.int(6)}`
  const n = (): string => q(numberText(r))
  // Expiry times that cannot pass during a script (a few ms apart on the two servers would
  // make the outcome a race), or that are already past (deterministic deletes).
  const ttl = (): string => String(r.pick([3000, 100000, 5000000]))
  const choices: (() => string)[] = [
    () => `SET ${k()} ${value(r)}`,
    () => `SET ${k()} ${value(r)} ${r.pick(['NX', 'XX', 'GET', 'KEEPTTL', 'NX GET', 'XX GET'])}`,
    () => `SET ${k()} ${value(r)} ${r.pick(['EX', 'PX'])} ${ttl()}`,
    () => `SET ${k()} ${value(r)} ${r.pick(['EXAT', 'PXAT'])} ${r.pick(['1', '4102444800'])}`,
    () => `GET ${k()}`, () => `MGET ${k()} ${k()} ${k()}`,
    () => `MSET ${k()} ${value(r)} ${k()} ${value(r)}`,
    () => `MSETNX ${k()} ${value(r)} ${k()} ${value(r)}`, () => `GETSET ${k()} ${value(r)}`,
    () => `GETDEL ${k()}`, () => `GETEX ${k()} ${r.pick(['', 'PERSIST', `PX ${ttl()}`])}`,
    () => `INCR ${k()}`, () => `DECR ${k()}`, () => `INCRBY ${k()} ${n()}`,
    () => `DECRBY ${k()} ${n()}`, () => `INCRBYFLOAT ${k()} ${n()}`,
    () => `APPEND ${k()} ${value(r)}`, () => `STRLEN ${k()}`,
    () => `GETRANGE ${k()} ${r.range(-8, 8)} ${r.range(-8, 8)}`,
    () => `SETRANGE ${k()} ${r.range(-1, 8)} ${value(r)}`, () => `LCS ${k()} ${k()}`,
    () => `LCS ${k()} ${k()} ${r.pick(['LEN', 'IDX', 'IDX WITHMATCHLEN', 'IDX MINMATCHLEN 2'])}`,
    () => `DEL ${k()} ${k()}`, () => `EXISTS ${k()} ${k()}`, () => `TYPE ${k()}`,
    () => `RENAME ${k()} ${k()}`, () => `RENAMENX ${k()} ${k()}`,
    () => `COPY ${k()} ${k()}${r.bool() ? ' REPLACE' : ''}`, () => `RPUSH ${k()} ${value(r)}`,
    () => `EXPIRE ${k()} ${r.pick([-1, 0, 3, 50, 200])}${
      r.bool() ? '' : ` ${r.pick(['NX', 'XX', 'GT', 'LT'])}`}`,
    () => `PEXPIRE ${k()} ${ttl()}`, () => `PERSIST ${k()}`, () => `TTL ${k()} #ttl`,
    () => `PTTL ${k()} #pttl`, () => `OBJECT ENCODING ${k()}`, () => `OBJECT REFCOUNT ${k()}`,
    // Not DBSIZE: it counts expired keys until a cron of each server removes them.
    () => `KEYS k* #set`, () => `TOUCH ${k()} ${k()}`,
  ]
  return r.pick(choices)()
}

function randomCases(count: number, length: number): Case[] {
  const root = new Prng(SEED)
  const cases: Case[] = []
  for (let c = 0; c < count; c++) {
    const r = root.fork()
    const lines: string[] = []
    for (let i = 0; i < length; i++) lines.push(randomLine(r))
    cases.push({ name: `random script ${c} (seed ${SEED})`, lines })
  }
  return cases
}

/** INCRBYFLOAT chains: the long double emulation against the real x87 arithmetic. */
function floatCases(count: number, length: number): Case[] {
  const root = new Prng(SEED + 1)
  const cases: Case[] = []
  for (let c = 0; c < count; c++) {
    const r = root.fork()
    const lines: string[] = []
    for (let i = 0; i < length; i++) {
      const key = `f${r.int(3)}`
      const command = r.bool(0.15) ? 'SET' : 'INCRBYFLOAT'
      lines.push(`${command} ${key} ${q(numberText(r))}`)
    }
    cases.push({ name: `INCRBYFLOAT chain ${c} (seed ${SEED})`, lines })
  }
  return cases
}

/** KEYS with random patterns (stringmatchlen's quirks) over random keys. */
function globCases(count: number): Case[] {
  const root = new Prng(SEED + 2)
  const alphabet = ['a', 'b', 'c', '*', '?', '[', ']', '^', '-', '\\', '\x80', '\xff', 'a', 'b']
  const cases: Case[] = []
  for (let c = 0; c < count; c++) {
    const r = root.fork()
    const word = (n: number): string => Array.from({ length: n }, () => r.pick(alphabet)).join('')
    const keys = new Set<string>()
    for (let i = 0; i < 60; i++) keys.add(word(1 + r.int(5)))
    const lines = [`MSET ${[...keys].map((key) => `${q(key)} v`).join(' ')}`]
    for (let i = 0; i < 40; i++) lines.push(`KEYS ${q(word(1 + r.int(7)))} #set`)
    cases.push({ name: `KEYS glob patterns ${c} (seed ${SEED})`, lines })
  }
  return cases
}

export const generatedCases: Case[] = [
  ...randomCases(40, 60), ...floatCases(6, 80), ...globCases(6),
]
