// Differential cases for SORT and SORT_RO (see script.ts for the line syntax).
import type { Case } from './script.js'

export const sortCases: Case[] = [
  { name: 'SORT numeric, ALPHA, DESC, LIMIT', lines: [
    'SORT nope', 'RPUSH l 3 1 2 10 1.5 -4 0x10 " 7" inf -inf', 'SORT l', 'SORT l DESC',
    'SORT l ALPHA', 'SORT l ALPHA DESC', 'SORT l LIMIT 2 3', 'SORT l LIMIT -5 2',
    'SORT l LIMIT 0 0', 'SORT l LIMIT 8 100', 'SORT l LIMIT 100 2', 'SORT l LIMIT 2 -1',
    'SORT l LIMIT x 1', 'SORT l LIMIT 1', 'SORT l ASC DESC ASC', 'SORT l BOGUS',
    'RPUSH bad 1 2 abc', 'SORT bad', 'SORT bad ALPHA', 'RPUSH n 1 nan', 'SORT n',
    'RPUSH e 2 "" 1', 'SORT e', 'RPUSH z0 "3\\x00x" 2', 'SORT z0', 'RPUSH t "1 " 2', 'SORT t',
    'SET s v', 'SORT s', 'HSET h f v', 'SORT h', 'SORT', 'SORT_RO l', 'SORT_RO l STORE d',
  ] },
  { name: 'SORT of sets and sorted sets', lines: [
    'SADD s 5 3 9 1 x', 'SORT s', 'SORT s ALPHA', 'SORT s ALPHA DESC LIMIT 1 2',
    'SADD i 5 3 9 1 20', 'SORT i', 'SORT i DESC', 'SORT i BY nosort #set',
    'ZADD z 1 a 5 b 2 c 10 d 3 e', 'SORT z ALPHA', 'SORT z ALPHA DESC', 'SORT z BY nosort',
    'SORT z BY nosort DESC', 'SORT z BY nosort LIMIT 1 2', 'SORT z BY nosort DESC LIMIT 1 2',
    'SORT z BY nosort LIMIT 5 10', 'SORT z BY nosort LIMIT -10 100', 'SORT z BY nosort DESC LIMIT 4 9',
    'RPUSH l 2 1 4 3 5', 'SORT l BY nosort', 'SORT l BY nosort DESC', 'SORT l BY nosort LIMIT 1 3',
    'SORT l BY nosort DESC LIMIT 1 3', 'SORT l BY nosort LIMIT 9 3',
  ] },
  { name: 'SORT BY and GET patterns', lines: [
    'RPUSH l 1 2 3 4', 'MSET w_1 40 w_2 10 w_3 30 w_4 20', 'SORT l BY w_*', 'SORT l BY w_* DESC',
    'SORT l BY w_* LIMIT 1 2', 'HSET o_1 k 4', 'HSET o_2 k 3', 'HSET o_3 k 2', 'HSET o_4 k 1',
    'SORT l BY o_*->k', 'SORT l BY o_*->nofield', 'SORT l GET #', 'SORT l GET w_* GET # GET o_*->k',
    'SORT l GET nostar', 'SORT l GET missing_*', 'SET x:1-> 100', 'SORT l BY nosort GET x:*->',
    'MSET a_1 b a_2 a a_3 c', 'SORT l BY a_* ALPHA', 'SORT l BY a_* ALPHA DESC',
    'SORT l BY w_* GET #', 'SET w_4 notanumber', 'SORT l BY w_*', 'SORT l BY w_* ALPHA',
    'RPUSH h w_2', 'SORT l BY o_* ', 'SORT_RO l BY w_* ALPHA GET #', 'SORT l BY', 'SORT l GET',
  ] },
  { name: 'SORT STORE', lines: [
    'RPUSH l 3 1 2', 'SORT l STORE d', 'LRANGE d 0 -1', 'TYPE d', 'SET d v EX 100',
    'SORT l DESC STORE d', 'TTL d', 'LRANGE d 0 -1', 'SORT l LIMIT 10 10 STORE d', 'EXISTS d',
    'SORT nope STORE d2', 'EXISTS d2', 'MSET g_1 x g_3 z', 'SORT l GET g_* GET # STORE d',
    'LRANGE d 0 -1', 'SADD s b c a', 'SORT s BY nosort STORE d', 'LRANGE d 0 -1',
    'SORT l STORE a STORE b', 'EXISTS a', 'LRANGE b 0 -1', 'SORT l STORE l', 'LRANGE l 0 -1',
    'RPUSH bad x', 'SORT bad STORE d', 'LRANGE d 0 -1', 'SORT l STORE',
    'COMMAND GETKEYS SORT abc STORE def', 'COMMAND GETKEYS SORT abc STORE x STORE y',
    'COMMAND GETKEYS SORT abc LIMIT store x STORE y', 'COMMAND GETKEYS SORT_RO abc',
  ] },
  { name: 'SORT in MULTI and scripts', server: true, lines: [
    'SADD s a b c d e f g h i l m n o p q r s t u v z aa aaa azz',
    'EVAL "return redis.call(\'sort\', KEYS[1], \'by\', \'_\')" 1 s',
    'ZADD z 1 a 5 b 2 c', 'MULTI', 'SORT z BY nosort', 'SORT z BY nosort DESC', 'EXEC',
  ] },
]
