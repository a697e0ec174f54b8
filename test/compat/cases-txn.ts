// Differential cases for pipelining and MULTI/EXEC/WATCH interleavings between two clients,
// over the commands of strings/keys/expiry (see script.ts for the line syntax).
import type { Case } from './script.js'

export const txnCases: Case[] = [
  { name: 'pipelined strings', pipeline: true, lines: [
    'SET a 1', 'INCR a', 'INCRBY a 10', 'GET a', 'APPEND a x', 'GET a', 'INCR a', 'MSET b 1 c 2',
    'MGET a b c d', 'GETDEL b', 'EXISTS b c', 'DEL c', 'SET e v EX 100', 'TTL e', 'PERSIST e',
    'TTL e', 'GETEX e PX 100000', 'RENAME e f', 'TYPE f', 'KEYS nomatch', 'DBSIZE',
  ] },
  { name: 'pipelined errors keep their order', pipeline: true, lines: [
    'SET k v', 'INCR k', 'GET k', 'SET k v EX 0', 'SET k v BOGUS', 'GETRANGE k a b', 'STRLEN k',
    'EXPIRE k 10 NX XX', 'RENAME nope x', 'GET k', 'SETRANGE k -1 x', 'LCS k k LEN IDX',
  ] },
  { name: 'pipelined in RESP3', pipeline: true, resp3: true, server: true, lines: [
    'GET nope', 'SET k v', 'GET k', 'MGET k nope', 'TTL k', 'TYPE k', 'INCRBYFLOAT f 2.5',
  ] },
  { name: 'MULTI/EXEC of string commands', server: true, lines: [
    'MULTI', 'SET a 1', 'INCR a', 'INCRBY a 5', 'GET a', 'APPEND a z', 'GET a', 'EXEC',
    'GET a',
  ] },
  { name: 'run-time error inside EXEC leaves the others applied', server: true, lines: [
    'SET s abc', 'MULTI', 'SET a 1', 'INCR s', 'INCR a', 'LPUSH s x', 'SET b 2', 'EXEC',
    'MGET a b s',
  ] },
  { name: 'queue-time error aborts EXEC', server: true, lines: [
    'MULTI', 'SET a 1', 'GET', 'SET b 2', 'EXEC', 'EXISTS a b', 'MULTI', 'SET a 1',
    'NOSUCHCOMMAND', 'EXEC', 'EXISTS a',
  ] },
  { name: 'WATCH: another client writes the key', server: true, lines: [
    'A:SET k 1', 'A:WATCH k', 'B:SET k 2', 'A:MULTI', 'A:SET k 3', 'A:EXEC', 'A:GET k',
  ] },
  { name: 'WATCH: untouched key lets EXEC run', server: true, lines: [
    'A:SET k 1', 'A:WATCH k', 'B:SET other 2', 'A:MULTI', 'A:INCR k', 'A:EXEC', 'A:GET k',
  ] },
  { name: 'WATCH: INCR, APPEND, SETRANGE, GETDEL by another client', server: true, lines: [
    'A:MSET a 1 b x c x d x', 'A:WATCH a', 'B:INCR a', 'A:MULTI', 'A:SET a 9', 'A:EXEC',
    'A:WATCH b', 'B:APPEND b y', 'A:MULTI', 'A:SET b 9', 'A:EXEC', 'A:WATCH c',
    'B:SETRANGE c 0 z', 'A:MULTI', 'A:SET c 9', 'A:EXEC', 'A:WATCH d', 'B:GETDEL d', 'A:MULTI',
    'A:SET d 9', 'A:EXEC', 'A:MGET a b c d',
  ] },
  { name: 'WATCH: EXPIRE, PERSIST, RENAME, DEL by another client', server: true, lines: [
    'A:MSET a 1 b 2 c 3 d 4', 'A:EXPIRE b 100', 'A:WATCH a', 'B:EXPIRE a 100', 'A:MULTI',
    'A:SET a 9', 'A:EXEC', 'A:WATCH b', 'B:PERSIST b', 'A:MULTI', 'A:SET b 9', 'A:EXEC',
    'A:WATCH c', 'B:RENAME c c2', 'A:MULTI', 'A:SET c 9', 'A:EXEC', 'A:WATCH d', 'B:DEL d',
    'A:MULTI', 'A:SET d 9', 'A:EXEC', 'A:MGET a b c c2 d',
  ] },
  { name: 'WATCH: a no-op by another client does not abort', server: true, lines: [
    'A:SET a 1', 'A:WATCH a', 'B:GET a', 'B:EXISTS a', 'B:TTL a', 'B:SETNX a 2', 'B:PERSIST a',
    'B:EXPIRE nope 10', 'A:MULTI', 'A:INCR a', 'A:EXEC',
  ] },
  { name: 'WATCH: FLUSHALL and SWAPDB by another client', server: true, lines: [
    'A:SET a 1', 'A:WATCH a', 'B:FLUSHALL', 'A:MULTI', 'A:SET a 2', 'A:EXEC', 'A:SET a 1',
    'A:WATCH a', 'B:SWAPDB 0 1', 'A:MULTI', 'A:SET a 2', 'A:EXEC', 'B:SWAPDB 0 1',
    'A:WATCH nope', 'B:FLUSHDB', 'A:MULTI', 'A:SET x 1', 'A:EXEC',
  ] },
  { name: 'WATCH: MOVE and COPY REPLACE by another client', server: true, lines: [
    'A:MSET a 1 b 2 src 3', 'A:WATCH a', 'B:MOVE a 1', 'A:MULTI', 'A:SET a 9', 'A:EXEC',
    'A:WATCH b', 'B:COPY src b REPLACE', 'A:MULTI', 'A:SET b 9', 'A:EXEC', 'A:GET b',
    'B:SELECT 1', 'B:DEL a',
  ] },
  { name: 'WATCH: a key that expires', server: true, lines: [
    'A:SET k v PX 200', 'A:WATCH k', '!sleep 500', 'A:MULTI', 'A:SET x 1', 'A:EXEC', 'A:GET x',
  ] },
  { name: 'two clients interleave MULTI blocks', server: true, lines: [
    'A:MULTI', 'B:MULTI', 'A:INCR n', 'B:INCRBY n 10', 'A:INCR n', 'B:EXEC', 'A:EXEC', 'A:GET n',
    'B:MULTI', 'B:SET t v EX 100', 'B:TTL t', 'A:SET t x', 'B:EXEC', 'B:TTL t',
  ] },
  { name: 'MULTI with SET options and expiry', server: true, lines: [
    'MULTI', 'SET k v NX', 'SET k v2 NX', 'SET k v3 XX GET', 'EXPIRE k 100', 'TTL k',
    'PERSIST k', 'GETEX k PXAT 1', 'EXISTS k', 'EXEC',
  ] },
  { name: 'EXEC replies in RESP3', resp3: true, server: true, lines: [
    'MULTI', 'GET nope', 'SET k v', 'MGET k nope', 'TTL k', 'INCRBYFLOAT f 1.5', 'LCS k k IDX',
    'EXEC',
  ] },
]
