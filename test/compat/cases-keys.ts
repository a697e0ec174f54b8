// Differential cases for the keyspace commands (see script.ts for the line syntax).
import type { Case } from './script.js'

const many = (n: number, prefix = 'key'): string =>
  `MSET ${Array.from({ length: n }, (_, i) => `${prefix}:${i} v${i}`).join(' ')}`

export const keyCases: Case[] = [
  { name: 'DEL, UNLINK, EXISTS', lines: [
    'DEL a', 'MSET a 1 b 2 c 3', 'EXISTS a b c d', 'EXISTS a a a', 'DEL a b d', 'EXISTS a b c',
    'UNLINK c c', 'EXISTS c', 'MSET x 1 y 2', 'DEL x x y', 'RPUSH l a', 'DEL l', 'EXISTS l',
    'DEL', 'UNLINK', 'EXISTS',
  ] },
  { name: 'TYPE of every kind', lines: [
    'TYPE nope', 'SET s v', 'TYPE s', 'RPUSH l a', 'TYPE l', 'HSET h f v', 'TYPE h', 'SADD st m',
    'TYPE st', 'ZADD z 1 m', 'TYPE z', 'TYPE', 'TYPE a b',
  ] },
  { name: 'RENAME', lines: [
    'RENAME nope x', 'SET a 1', 'RENAME a b', 'GET a', 'GET b', 'SET c 3', 'RENAME b c', 'GET c',
    'RENAME c c', 'RENAME nope nope', 'SET t v EX 100', 'RENAME t u', 'TTL u #ttl', 'TTL t',
    'RPUSH l x y', 'RENAME l l2', 'LRANGE l2 0 -1', 'TYPE l', 'SET over v', 'RENAME l2 over',
    'TYPE over', 'RENAME a', 'RENAME',
  ] },
  { name: 'RENAMENX', lines: [
    'RENAMENX nope x', 'SET a 1', 'SET b 2', 'RENAMENX a b', 'GET a', 'RENAMENX a c', 'GET c',
    'EXISTS a', 'RENAMENX c c', 'RENAMENX nope nope', 'SET t v PX 100000', 'RENAMENX t u',
    'PTTL u #pttl',
  ] },
  { name: 'COPY', lines: [
    'COPY nope x', 'SET a 1', 'COPY a b', 'GET b', 'COPY a b', 'COPY a b REPLACE', 'COPY a a',
    'COPY a a DB 0', 'COPY a a DB 1', 'SET t v EX 100', 'COPY t t2', 'TTL t2 #ttl',
    'RPUSH l x y', 'COPY l l2', 'RPUSH l2 z', 'LRANGE l 0 -1', 'LRANGE l2 0 -1',
    'HSET h f v', 'COPY h h2', 'HSET h2 g w', 'HLEN h', 'HLEN h2', 'SADD s m', 'COPY s s2',
    'SADD s2 n', 'SCARD s', 'ZADD z 1 m', 'COPY z z2', 'ZADD z2 2 n', 'ZCARD z',
    'COPY a b BOGUS', 'COPY a b DB', 'COPY a b DB x', 'COPY a b DB 16', 'COPY a b DB -1',
    'COPY a b DB 99999999999', 'COPY a b REPLACE REPLACE', 'COPY a', 'COPY',
  ] },
  { name: 'COPY and MOVE across databases', server: true, lines: [
    'SET a 1', 'COPY a a DB 1', 'SELECT 1', 'GET a', 'SELECT 0', 'COPY a a DB 1', 'MOVE a 1',
    'SET b 2', 'MOVE b 1', 'EXISTS b', 'SELECT 1', 'GET b', 'MOVE b 1', 'MOVE b 0', 'SELECT 0',
    'GET b', 'MOVE nope 1', 'MOVE b 16', 'MOVE b -1', 'MOVE b x', 'MOVE b 4294967296',
    'SET t v EX 100', 'MOVE t 2', 'SELECT 2', 'TTL t #ttl', 'SELECT 0', 'MOVE',
  ] },
  { name: 'MOVE in one database', lines: [
    'SET a 1', 'MOVE a 0', 'MOVE a x', 'MOVE a 16', 'MOVE nope 0', 'MOVE a',
  ] },
  { name: 'KEYS patterns', lines: [
    'MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 "h[a]llo" 6 "h*llo" 7 "h\\\\llo" 8 "" 9',
    'KEYS * #set', 'KEYS h?llo #set', 'KEYS h*llo #set', 'KEYS h[ae]llo #set',
    'KEYS h[^e]llo #set', 'KEYS h[a-b]llo #set', 'KEYS h[b-a]llo #set', 'KEYS "h\\\\*llo" #set',
    'KEYS "h\\\\[a\\\\]llo" #set', 'KEYS "h[a" #set', 'KEYS h[ #set', 'KEYS "h\\\\" #set',
    'KEYS "*" #set', 'KEYS "" #set', 'KEYS ** #set', 'KEYS *o #set', 'KEYS h*** #set',
    'KEYS *l*l* #set', 'KEYS [h #set', 'KEYS "[\\\\]]" #set', 'KEYS "[a-]" #set',
    'KEYS "h[\\\\-]llo" #set', 'KEYS nomatch #set', 'KEYS', 'KEYS a b',
  ] },
  { name: 'KEYS with binary keys and ranges over high bytes', lines: [
    'MSET "\\x80" 1 "\\xff" 2 "a" 3 "\\x00" 4 "z" 5', 'KEYS * #set',
    'KEYS "[\\x01-\\x7f]" #set', 'KEYS "[\\x80-\\xff]" #set', 'KEYS "[a-\\x80]" #set',
    'KEYS "[\\x00-a]" #set', 'KEYS ? #set',
  ] },
  { name: 'KEYS skips expired keys', lines: [
    'SET a 1 PX 1', 'SET b 2', '!sleep 15', 'KEYS * #set', 'DBSIZE #ignore', 'EXISTS a',
    'DBSIZE',
  ] },
  { name: 'SCAN covers every key', lines: [
    many(250), '!scan', '!scan COUNT 1', '!scan COUNT 7', '!scan COUNT 1000', '!scan MATCH key:1*',
    '!scan MATCH *9 COUNT 3', '!scan MATCH nope', '!scan TYPE string', '!scan TYPE list',
    '!scan type STRING', '!scan TYPE nosuchtype',
  ] },
  { name: 'SCAN with mixed types', lines: [
    'MSET a 1 b 2', 'RPUSH l x', 'HSET h f v', 'SADD s m', 'ZADD z 1 m', '!scan TYPE list',
    '!scan TYPE hash', '!scan TYPE set', '!scan TYPE zset', '!scan TYPE string MATCH ?',
    '!scan', 'SCAN 0 COUNT 100 #set',
  ] },
  { name: 'SCAN errors and cursor parsing', lines: [
    'SCAN', 'SCAN x', 'SCAN 1.5', 'SCAN " 0"', 'SCAN 0 COUNT 0', 'SCAN 0 COUNT -1',
    'SCAN 0 COUNT x', 'SCAN 0 COUNT', 'SCAN 0 MATCH', 'SCAN 0 TYPE', 'SCAN 0 BOGUS 1',
    'SCAN 18446744073709551616', 'SCAN 0x1', 'SCAN 0', 'SCAN ""', 'SCAN 0 COUNT 10 COUNT 20',
  ] },
  { name: 'RANDOMKEY and DBSIZE', lines: [
    'RANDOMKEY', 'DBSIZE', 'SET only v', 'RANDOMKEY', 'DBSIZE', many(20), 'RANDOMKEY #shape',
    'DBSIZE', 'DEL only', 'DBSIZE', 'RANDOMKEY x', 'DBSIZE x',
  ] },
  { name: 'RANDOMKEY skips expired keys', lines: [
    'SET a 1 PX 1', '!sleep 15', 'RANDOMKEY', 'SET b 2', 'SET c 3 PX 1', '!sleep 15',
    'RANDOMKEY', 'RANDOMKEY',
  ] },
  { name: 'TOUCH', lines: [
    'TOUCH a', 'MSET a 1 b 2', 'TOUCH a b c', 'TOUCH a a', 'TOUCH',
  ] },
  { name: 'OBJECT ENCODING of strings', lines: [
    'SET i 123', 'OBJECT ENCODING i', 'SET neg -5', 'OBJECT ENCODING neg',
    'SET big 9223372036854775807', 'OBJECT ENCODING big', 'SET over 9223372036854775808',
    'OBJECT ENCODING over', 'SET lz 0123', 'OBJECT ENCODING lz', 'SET sp " 1"',
    'OBJECT ENCODING sp', 'SET s hello', 'OBJECT ENCODING s',
    'SET s44 12345678901234567890123456789012345678901234', 'OBJECT ENCODING s44',
    'SET s45 123456789012345678901234567890123456789012345', 'OBJECT ENCODING s45',
    'SET e ""', 'OBJECT ENCODING e', 'APPEND s x', 'OBJECT ENCODING s', 'APPEND i 4',
    'OBJECT ENCODING i', 'SETRANGE neg 0 7', 'OBJECT ENCODING neg', 'INCR c', 'OBJECT ENCODING c',
    'INCRBYFLOAT f 3', 'OBJECT ENCODING f', 'INCRBYFLOAT f2 1.5', 'OBJECT ENCODING f2',
    'APPEND new 42', 'OBJECT ENCODING new', 'SETRANGE sr 0 42', 'OBJECT ENCODING sr',
    'MSET m1 7 m2 abc', 'OBJECT ENCODING m1', 'OBJECT ENCODING m2', 'GETSET g 8',
    'GETSET g 9', 'OBJECT ENCODING g', 'SETEX x 100 10', 'OBJECT ENCODING x', 'APPEND e ""',
    'OBJECT ENCODING e', 'COPY i ci', 'OBJECT ENCODING ci', 'COPY c cc', 'OBJECT ENCODING cc',
    'COPY f cf', 'OBJECT ENCODING cf', 'RENAME s45 r45', 'OBJECT ENCODING r45',
    'OBJECT ENCODING nope',
  ] },
  { name: 'OBJECT REFCOUNT', lines: [
    'SET a 5', 'OBJECT REFCOUNT a', 'SET b 10000', 'OBJECT REFCOUNT b', 'SET c 9999',
    'OBJECT REFCOUNT c', 'SET d -1', 'OBJECT REFCOUNT d', 'SET e hello', 'OBJECT REFCOUNT e',
    'INCR n', 'OBJECT REFCOUNT n', 'INCRBY m 20000', 'OBJECT REFCOUNT m', 'COPY a a2',
    'OBJECT REFCOUNT a2', 'INCRBYFLOAT f 5', 'OBJECT REFCOUNT f', 'RPUSH l x',
    'OBJECT REFCOUNT l', 'OBJECT REFCOUNT nope',
  ] },
  { name: 'OBJECT ENCODING of collections', lines: [
    'RPUSH l a', 'OBJECT ENCODING l', 'HSET h f v', 'OBJECT ENCODING h', 'SADD si 1 2 3',
    'OBJECT ENCODING si', 'SADD ss a', 'OBJECT ENCODING ss', 'ZADD z 1 m', 'OBJECT ENCODING z',
    'HSET hb f 12345678901234567890123456789012345678901234567890123456789012345',
    'OBJECT ENCODING hb',
    'ZADD zb 1 12345678901234567890123456789012345678901234567890123456789012345',
    'OBJECT ENCODING zb', 'SADD sneg -1 0 9223372036854775807', 'OBJECT ENCODING sneg',
    'SADD sx 01', 'OBJECT ENCODING sx',
  ] },
  { name: 'OBJECT subcommands and errors', lines: [
    'SET k v', 'OBJECT HELP', 'object help', 'OBJECT FREQ k', 'OBJECT IDLETIME k #ttl',
    'OBJECT IDLETIME nope', 'OBJECT FREQ nope', 'OBJECT ENCODING', 'OBJECT ENCODING a b',
    'OBJECT HELP x', 'OBJECT', 'OBJECT FOO', 'OBJECT FOO k',
  ] },
  { name: 'SWAPDB', server: true, lines: [
    'SET a 0', 'SELECT 1', 'SET a 1', 'SET b 1', 'SWAPDB 0 1', 'GET a', 'DBSIZE', 'SELECT 0',
    'GET a', 'GET b', 'DBSIZE', 'SWAPDB 0 0', 'GET a', 'SWAPDB 0 16', 'SWAPDB -1 0',
    'SWAPDB x 0', 'SWAPDB 0 x', 'SWAPDB 4294967296 0', 'SWAPDB 0 9999999999', 'SWAPDB 0',
    'SWAPDB 15 1', 'SELECT 15', 'GET b', 'SELECT 0',
  ] },
  { name: 'FLUSHDB and FLUSHALL', server: true, lines: [
    'MSET a 1 b 2', 'SELECT 1', 'SET c 3', 'FLUSHDB', 'DBSIZE', 'SELECT 0', 'DBSIZE',
    'SELECT 1', 'SET c 3', 'FLUSHALL', 'DBSIZE', 'SELECT 0', 'DBSIZE', 'FLUSHDB ASYNC',
    'FLUSHDB sync', 'FLUSHALL ASYNC', 'FLUSHALL SYNC', 'FLUSHDB BOGUS', 'FLUSHALL BOGUS',
    'FLUSHDB ASYNC SYNC', 'FLUSHALL ASYNC x', 'FLUSHDB', 'FLUSHALL',
  ] },
  { name: 'FLUSHDB in one database', lines: [
    'MSET a 1 b 2', 'FLUSHDB', 'DBSIZE', 'SET a 1', 'FLUSHALL', 'DBSIZE', 'FLUSHDB x',
  ] },
  { name: 'keyspace replies in RESP3', resp3: true, server: true, lines: [
    'RANDOMKEY', 'SET a 1', 'TYPE a', 'OBJECT ENCODING a', 'OBJECT ENCODING nope',
    'OBJECT HELP', 'SCAN 0 MATCH nope', 'KEYS * #set', 'EXISTS a b', 'COPY a b', 'RENAME b c',
    'RENAME nope x', 'DBSIZE', 'OBJECT REFCOUNT nope',
  ] },
  { name: 'SCAN in RESP3', resp3: true, server: true, lines: [
    many(40, 'r3'), '!scan', '!scan COUNT 3 MATCH r3:1*',
  ] },
]
