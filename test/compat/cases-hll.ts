// Differential cases for the HyperLogLog commands (see script.ts for the line syntax). GET after
// each write compares the HLL strings byte for byte: sparse opcodes, the promotion to dense,
// the cached cardinality and its invalid bit.
import type { Case } from './script.js'

/** `n` distinct elements named `prefix0`… */
function elements(prefix: string, n: number, from = 0): string {
  return Array.from({ length: n }, (_, i) => `${prefix}${from + i}`).join(' ')
}

export const hllCases: Case[] = [
  { name: 'PFADD, PFCOUNT and the cached cardinality', lines: [
    'PFADD h', 'GET h', 'PFCOUNT h', 'GET h', 'PFADD h a b c', 'GET h', 'PFADD h a b c',
    'PFCOUNT h', 'GET h', 'PFADD h ""', 'PFCOUNT h', 'PFADD h a', 'GETRANGE h 15 15',
    `PFADD h ${elements('x', 40)}`, 'GET h', 'PFCOUNT h', 'GET h', 'PFCOUNT nope',
    'PFADD h "\\x00\\xff" "longer element of more than eight bytes"', 'GET h',
    'SET t v', 'PFADD t a', 'PFCOUNT t', 'RPUSH l a', 'PFADD l a', 'PFCOUNT l', 'PFADD',
    'SET e x EX 100', 'DEL e', 'PFADD e a', 'EXPIRE e 100', 'PFADD e b', 'TTL e #ttl',
    'PFCOUNT e', 'TTL e #ttl', 'OBJECT ENCODING h', 'TYPE h',
  ] },
  { name: 'sparse to dense, at hll-sparse-max-bytes and past register 32', lines: [
    `PFADD s ${elements('a', 200)}`, 'GET s', 'PFCOUNT s', `PFADD s ${elements('a', 400, 200)}`,
    'GET s', 'STRLEN s', 'PFCOUNT s', `PFADD s ${elements('b', 2000)}`, 'STRLEN s', 'GET s',
    'PFCOUNT s', 'GET s', 'CONFIG SET hll-sparse-max-bytes 100', `PFADD t ${elements('c', 60)}`,
    'STRLEN t', 'GET t', 'CONFIG SET hll-sparse-max-bytes 3000',
  ] },
  { name: 'PFADD to a dense HLL: no register grows, some grow, the expiry kept', lines: [
    `PFADD d ${elements('z', 3000)}`, 'STRLEN d', 'PFADD d z1 z2 z3', 'PFCOUNT d', 'GET d',
    'PFADD d z4', 'PFADD d', 'GET d', `PFADD d z5 ${elements('y', 30)}`, 'GET d', 'PFCOUNT d',
    'GET d', 'EXPIRE d 100', `PFADD d ${elements('q', 30)}`, 'TTL d #ttl', 'GET d',
    `PFADD d2 ${elements('y', 4000)}`, 'PFCOUNT d d2', 'PFCOUNT d2 d nope', 'OBJECT ENCODING d',
  ] },
  { name: 'PFMERGE and PFCOUNT of several keys', lines: [
    'PFADD h1 a b c', 'PFADD h2 b c d', 'PFADD h3 c d e', 'PFMERGE h h1 h2 h3', 'GET h',
    'PFCOUNT h', 'PFCOUNT h1 h2 h3', 'PFCOUNT h1 nope', `PFADD big ${elements('z', 3000)}`,
    'PFMERGE h h1 big', 'GET h', 'PFCOUNT h', 'PFMERGE n nope nope2', 'GET n', 'PFMERGE h1',
    'GET h1', 'PFCOUNT h1 big h2', 'SET s x', 'PFMERGE s h1', 'PFMERGE h1 s', 'PFCOUNT h1 s',
    'PFMERGE', 'PFMERGE d big', 'GET d',
  ] },
  { name: 'tampered HyperLogLogs', lines: [
    'PFADD h a b c', 'APPEND h hello', 'PFCOUNT h', 'PFADD h z', 'DEL h', 'PFADD h a b c',
    'SETRANGE h 0 0123', 'PFCOUNT h', 'PFADD h q', 'DEL h', 'PFADD h a b c', 'SETRANGE h 4 x',
    'PFCOUNT h', 'DEL h', 'PFADD h a b c', 'SETRANGE h 4 "\\x00"', 'PFCOUNT h', 'PFMERGE d h',
    'SET short HYLL', 'PFCOUNT short', 'DEL h', 'PFADD h a b c', 'SETRANGE h 17 "\\x05"',
    'PFCOUNT h', 'PFCOUNT h h', `PFADD d ${elements('w', 2000)}`, 'SETRANGE d 20 "\\xff\\xff"',
    'PFCOUNT d', 'GET d', 'SETRANGE d 15 "\\x00"', 'PFCOUNT d',
  ] },
]
