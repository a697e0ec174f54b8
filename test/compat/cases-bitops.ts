// Differential cases for the bitmap commands (see script.ts for the line syntax).
import type { Case } from './script.js'

export const bitopsCases: Case[] = [
  { name: 'SETBIT and GETBIT', lines: [
    'SETBIT b 7 1', 'GET b', 'SETBIT b 7 1', 'SETBIT b 0 1', 'SETBIT b 100 1', 'STRLEN b',
    'GETBIT b 0', 'GETBIT b 1', 'GETBIT b 100', 'GETBIT b 99999', 'GETBIT nope 3',
    'SET n 12', 'SETBIT n 6 1', 'GET n', 'OBJECT ENCODING n', 'SET t v EX 100', 'SETBIT t 1 0',
    'TTL t #ttl', 'SETBIT b -1 1', 'SETBIT b 4294967296 1',
    'GETBIT b 4294967296', 'SETBIT b x 1', 'SETBIT b 1 2', 'SETBIT b 1 -1', 'SETBIT b 1 x',
    'GETBIT b -1', 'RPUSH l a', 'SETBIT l 0 1', 'GETBIT l 0', 'SETBIT b', 'GETBIT b',
  ] },
  { name: 'BITCOUNT and BITPOS', lines: [
    'SET s "\\xff\\xf0\\x00\\x0f\\x81"', 'BITCOUNT s', 'BITCOUNT s 1 2', 'BITCOUNT s -2 -1',
    'BITCOUNT s -1 -2', 'BITCOUNT s 5 100', 'BITCOUNT s 3 9 BIT', 'BITCOUNT s 0 -1 BIT',
    'BITCOUNT s -5 -3 BIT', 'BITCOUNT s 1 2 BYTE', 'BITCOUNT s 1 2 FOO', 'BITCOUNT s 1',
    'BITCOUNT s x 1', 'BITCOUNT nope', 'BITCOUNT nope x y', 'BITPOS s 0', 'BITPOS s 1',
    'BITPOS s 0 1', 'BITPOS s 1 2', 'BITPOS s 0 2 3', 'BITPOS s 1 0 -1 BIT', 'BITPOS s 0 3 9 BIT',
    'BITPOS s 1 17 30 BIT', 'BITPOS s 0 0 7 BIT', 'BITPOS s 1 2 2', 'BITPOS s 0 9', 'BITPOS s 2',
    'BITPOS s x', 'BITPOS s 1 0 1 FOO', 'BITPOS nope 1', 'BITPOS nope 0', 'SET ones "\\xff\\xff"',
    'BITPOS ones 0', 'BITPOS ones 0 0', 'BITPOS ones 0 0 -1', 'BITPOS ones 0 0 -1 BIT',
    'SET z "\\x00\\x00"', 'BITPOS z 1', 'BITPOS z 0 1 1', 'SET i 255', 'BITCOUNT i', 'BITPOS i 0',
    'BITPOS s 1 1 2 3 4',
  ] },
  { name: 'BITCOUNT of longer strings (whole words and the bytes around them)', lines: [
    'SET w "\xff\x01\x80\x7f\x0f\xf0\xaa\x55\x33\xcc\x12\x34\x56\x78\x9a\xbc\xde\xf0\x01\x02\x03"',
    'BITCOUNT w', 'BITCOUNT w 1 -1', 'BITCOUNT w 2 17', 'BITCOUNT w 3 -3', 'BITCOUNT w 4 11',
    'BITCOUNT w 5 100 BIT', 'BITCOUNT w 9 150 BIT', 'BITCOUNT w 31 64 BIT', 'SETBIT w 400 1',
    'BITCOUNT w', 'BITCOUNT w 0 -1 BIT', 'APPEND w "\xff\xff\xff\xff\xff"', 'BITCOUNT w 1 60',
    'GETRANGE w 3 40', 'SETBIT w 1000 0', 'STRLEN w', 'GET w', 'BITCOUNT w -70 -2',
  ] },
  { name: 'BITOP', lines: [
    'SET a "\\x0f\\xf0\\xaa"', 'SET b "\\xff"', 'BITOP AND d a b', 'GET d', 'BITOP OR d a b',
    'GET d', 'BITOP XOR d a b nope', 'GET d', 'BITOP NOT d a', 'GET d', 'BITOP NOT d a b',
    'BITOP FOO d a', 'BITOP AND d nope nope2', 'EXISTS d', 'SET d x EX 100', 'BITOP OR d a',
    'TTL d', 'RPUSH l x', 'BITOP AND d a l', 'BITOP and d', 'OBJECT ENCODING d',
  ] },
  { name: 'BITFIELD and BITFIELD_RO', lines: [
    'BITFIELD bf SET i8 0 100 GET i8 0', 'BITFIELD bf INCRBY i8 0 100', 'BITFIELD bf INCRBY i8 0 -300',
    'BITFIELD bf OVERFLOW SAT INCRBY i8 0 1000 INCRBY u4 3 -20', 'BITFIELD bf OVERFLOW FAIL INCRBY u2 0 10',
    'BITFIELD bf SET u8 #2 255 GET u8 16 GET i8 #2', 'BITFIELD bf SET u5 7 23 GET u5 7 GET i64 0',
    'BITFIELD bf SET i64 0 -1 INCRBY i64 0 -9223372036854775807', 'BITFIELD bf GET u63 1',
    'BITFIELD bf OVERFLOW WRAP SET u8 100 -1 OVERFLOW SAT SET u8 120 -1 SET i4 130 100',
    'GET bf', 'BITFIELD bf', 'BITFIELD bf GET u64 0', 'BITFIELD bf GET i65 0', 'BITFIELD bf GET x8 0',
    'BITFIELD bf GET u0 0', 'BITFIELD bf GET u8 -1', 'BITFIELD bf GET u8 #x', 'BITFIELD bf GET u8',
    'BITFIELD bf SET u8 0 x', 'BITFIELD bf OVERFLOW FOO', 'BITFIELD bf FOO', 'BITFIELD new OVERFLOW FAIL SET u2 0 7',
    'GET new', 'BITFIELD_RO bf GET u8 0 GET i16 4', 'BITFIELD_RO bf SET u8 0 1', 'BITFIELD_RO nope GET u8 0',
    'BITFIELD bf GET u8 4294967296', 'SET t v EX 100', 'BITFIELD t SET u8 0 65', 'TTL t #ttl', 'GET t',
    'RPUSH l x', 'BITFIELD l GET u8 0', 'BITFIELD_RO l GET u8 0',
  ] },
]
