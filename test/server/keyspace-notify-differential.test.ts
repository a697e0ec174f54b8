// Differential test of keyspace notifications against a real redis-server 7.0.15: the same steps
// go to both servers, and after each step the messages received by two subscribers of
// `__keyspace@*__:*` and `__keyevent@*__:*` (one in RESP2, one in RESP3), the acting
// connection's reply and a blocked client's reply are compared byte for byte — so the event
// names, their classes, their count (once per effect) and their order are Redis's.
// It covers strings, bitmaps, keys (DEL/UNLINK, EXPIRE family, RENAME, MOVE, COPY), lazy and
// active expiry, lists with blocking pops served by a push, hashes, sets, sorted sets, their STORE
// forms and SORT STORE, expired keys met by other commands, FLUSHDB/FLUSHALL/SWAPDB (no events),
// MULTI/EXEC, EVAL, several databases, every class filter, the `new` and `keymiss` classes, and
// CONFIG GET's normalisation.
// Barriers: a PING with a marker after each step, on the acting connection first (its command
// is done), then on each subscriber (whatever that command published was written before).
// Active expiry is off (DEBUG SET-ACTIVE-EXPIRE 0) except in its own step, so a key's `expired`
// comes from the step that touches it on both servers. Skips with a visible reason without
// redis-server; fails under CI=true.

import t from 'tap'
import { RawClient, requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

/** A: acting connection; C: a connection that blocks (read until quiet, no barrier). */
type Conn = 'A' | 'C'
interface Step {
  conn: Conn
  argv: string[]
  sleepMs?: number
  /** Wait after sending, before the barriers (the active expire cycle running). */
  sleepAfterMs?: number
  unordered?: boolean
}

const a = (...argv: string[]): Step => ({ conn: 'A', argv })
const c = (...argv: string[]): Step => ({ conn: 'C', argv })
/** Wait before sending (a key's expiry time passing; the active expire cycle running). */
const wait = (ms: number, ...argv: string[]): Step => ({ conn: 'A', argv, sleepMs: ms })
/**
 * Send, then let the active expire cycle run; its order is a hash table's in Redis, so its
 * messages are compared as a multiset.
 */
const thenWaitUnordered = (ms: number, ...argv: string[]): Step =>
  ({ conn: 'A', argv, sleepAfterMs: ms, unordered: true })

export const STEPS: Step[] = [
  a('CONFIG', 'SET', 'notify-keyspace-events', 'KEA'),
  a('CONFIG', 'GET', 'notify-keyspace-events'),
  // strings
  a('SET', 's1', 'v'), a('SET', 's1', 'w', 'EX', '100'), a('SET', 's1', 'x', 'NX'),
  a('SET', 's2', 'x', 'XX'), a('SET', 's1', 'y', 'GET'), a('SET', 's1', 'y', 'KEEPTTL'),
  a('SETEX', 's3', '100', 'v'), a('PSETEX', 's4', '100000', 'v'), a('SETNX', 's5', 'v'),
  a('SETNX', 's5', 'v'), a('GETSET', 's5', 'w'), a('MSET', 'm1', '1', 'm2', '2', 'm1', '3'),
  a('MSETNX', 'm3', '1', 'm1', '2'), a('MSETNX', 'm3', '1', 'm4', '2'), a('INCR', 'n1'),
  a('INCRBY', 'n1', '5'), a('DECR', 'n1'), a('DECRBY', 'n1', '2'), a('INCRBYFLOAT', 'n1', '1.5'),
  a('INCR', 's1'), a('APPEND', 'ap', 'x'), a('APPEND', 'ap', 'y'), a('SETRANGE', 'sr', '2', 'x'),
  a('SETRANGE', 'sr', '0', ''), a('SETRANGE', 'nosr', '0', ''), a('SETRANGE', 'sr', '1', 'ab'),
  a('GET', 's1'), a('GETDEL', 's5'), a('GETDEL', 's5'), a('GETEX', 's1', 'EX', '50'),
  a('GETEX', 's1', 'PERSIST'), a('GETEX', 's1', 'PERSIST'), a('GETEX', 's1'),
  a('GETEX', 's1', 'PXAT', '1'), a('STRLEN', 'ap'), a('GETRANGE', 'ap', '0', '1'),
  // keys
  a('DEL', 'm1', 'm2', 'nokey'), a('UNLINK', 'm3', 'm4'), a('SET', 'k', 'v'),
  a('EXPIRE', 'k', '100'), a('PEXPIRE', 'k', '200000', 'GT'), a('EXPIRE', 'k', '10', 'NX'),
  a('PERSIST', 'k'), a('PERSIST', 'k'), a('EXPIREAT', 'k', '1'), a('SET', 'k', 'v'),
  a('PEXPIREAT', 'k', '1'), a('EXPIRE', 'nokey', '10'), a('SET', 'k', 'v'), a('SET', 'k2', 'v'),
  a('RENAME', 'k', 'k2'), a('RENAME', 'k2', 'k3'), a('RENAMENX', 'k3', 'ap'),
  a('RENAMENX', 'k3', 'k4'), a('RENAME', 'k4', 'k4'), a('MOVE', 'k4', '1'), a('MOVE', 'k4', '1'),
  a('SELECT', '1'), a('COPY', 'k4', 'k5'), a('COPY', 'k4', 'k5'), a('COPY', 'k4', 'k5', 'REPLACE'),
  a('COPY', 'k4', 'k4', 'DB', '2'), a('SELECT', '0'), a('TOUCH', 'ap', 'nokey'),
  a('EXISTS', 'ap'), a('TYPE', 'ap'),
  // lazy expiry: the access that finds the key expired deletes it (`expired`)
  a('SET', 'e1', 'v', 'PX', '1'), a('SET', 'e2', 'v', 'PX', '1'), a('SET', 'e3', 'v', 'PX', '1'),
  // PEXPIRE with 1 ms races Redis's own "already expired" check (a millisecond boundary passing
  // between its two clock reads turns it into a DEL), so the relative expiries here are 10 ms.
  a('HSET', 'e4', 'f', 'v'), a('PEXPIRE', 'e4', '10'), a('RPUSH', 'e5', 'x'), a('PEXPIRE', 'e5', '10'),
  wait(40, 'GET', 'e1'), a('SET', 'e2', 'again'), a('DEL', 'e3'), a('HSET', 'e4', 'g', 'v'),
  a('LPUSH', 'e5', 'y'),
  // lists
  a('LPUSH', 'l1', 'a', 'b'), a('RPUSH', 'l1', 'c'), a('LPUSHX', 'nol', 'x'), a('RPUSHX', 'l1', 'd'),
  a('LINSERT', 'l1', 'BEFORE', 'c', 'z'), a('LINSERT', 'l1', 'AFTER', 'nope', 'z'),
  a('LSET', 'l1', '0', 'B'), a('LREM', 'l1', '0', 'nope'), a('LREM', 'l1', '1', 'z'),
  a('LTRIM', 'l1', '0', '-1'), a('LTRIM', 'l1', '1', '-1'), a('LPOP', 'l1'),
  a('RPOP', 'l1', '5'), a('LPOP', 'l1'), a('RPUSH', 'l2', '1', '2', '3'),
  a('LMOVE', 'l2', 'l3', 'LEFT', 'RIGHT'), a('LMOVE', 'l2', 'l2', 'LEFT', 'RIGHT'),
  a('RPOPLPUSH', 'l3', 'l3'), a('LMOVE', 'l3', 'l2', 'RIGHT', 'LEFT'), a('LMPOP', '2', 'nol', 'l2',
    'LEFT', 'COUNT', '2'), a('LMPOP', '1', 'l2', 'RIGHT'), a('LTRIM', 'nol', '0', '1'),
  a('RPUSH', 'l4', 'x'), a('LTRIM', 'l4', '1', '0'), a('RPUSH', 'l4', 'x'), a('LREM', 'l4', '0', 'x'),
  // blocking pops served by a push (the push's events, then the pop's)
  c('BLPOP', 'bl', '0'), a('RPUSH', 'bl', 'x'), c('BRPOP', 'bl', 'bl2', '0'),
  a('LPUSH', 'bl2', 'x', 'y'), c('BLMOVE', 'bl2', 'bl3', 'LEFT', 'LEFT', '0'), a('DEL', 'bl2'),
  a('RPUSH', 'bl2', 'q'), c('BRPOPLPUSH', 'bl4', 'bl3', '0'), a('LPUSH', 'bl4', 'z'),
  c('BLMPOP', '0', '1', 'bl5', 'RIGHT', 'COUNT', '3'), a('RPUSH', 'bl5', '1', '2'),
  c('BLPOP', 'bl3', '0'), c('BZPOPMIN', 'bz', '0'), a('ZADD', 'bz', '1', 'a', '2', 'b'),
  c('BZMPOP', '0', '1', 'bz', 'MAX'), a('ZADD', 'bz', '3', 'c'),
  a('MULTI'), a('RPUSH', 'bl6', 'x'), a('EXEC'), c('BLPOP', 'bl6', '0'),
  // hashes
  a('HSET', 'h1', 'a', '1', 'b', '2'), a('HSET', 'h1', 'a', '1'), a('HMSET', 'h1', 'c', '3'),
  a('HSETNX', 'h1', 'a', 'x'), a('HSETNX', 'h1', 'd', 'x'), a('HSETNX', 'h2', 'a', 'x'),
  a('HINCRBY', 'h1', 'a', '5'), a('HINCRBY', 'h3', 'a', '5'), a('HINCRBYFLOAT', 'h1', 'b', '0.5'),
  a('HINCRBYFLOAT', 'h4', 'b', '0.5'), a('HINCRBY', 'h1', 'd', '1'), a('HDEL', 'h1', 'nope'),
  a('HDEL', 'h1', 'a', 'b'), a('HDEL', 'h2', 'a'), a('HGET', 'h1', 'c'),
  // sets
  a('SADD', 'st1', 'a', 'b', 'c'), a('SADD', 'st1', 'a'), a('SADD', 'st2', '1', '2'),
  a('SREM', 'st1', 'nope'), a('SREM', 'st1', 'a'), a('SMOVE', 'st1', 'st3', 'b'),
  a('SMOVE', 'st1', 'st3', 'nope'), a('SADD', 'st1', 'b'), a('SMOVE', 'st1', 'st3', 'b'),
  a('SMOVE', 'st3', 'st3', 'b'), a('SPOP', 'st2', '5'), a('SADD', 'st2', 'x'), a('SPOP', 'st2'),
  a('SPOP', 'st2', '0'), a('SADD', 'st4', 'a', 'b'), a('SADD', 'st5', 'b', 'c'),
  a('SINTERSTORE', 'sd', 'st4', 'st5'), a('SUNIONSTORE', 'sd', 'st4', 'st5'),
  a('SDIFFSTORE', 'sd2', 'st4', 'st5'), a('SINTERSTORE', 'sd', 'st4', 'nokey'),
  a('SINTERSTORE', 'sd', 'st4', 'nokey'), a('SUNIONSTORE', 'sd', 'nokey'),
  // sorted sets
  a('ZADD', 'z1', '1', 'a', '2', 'b', '3', 'c'), a('ZADD', 'z1', 'XX', '5', 'nope'),
  a('ZADD', 'z1', '1', 'a'), a('ZADD', 'z1', 'CH', '9', 'a'), a('ZADD', 'zx', 'XX', '1', 'a'),
  a('ZINCRBY', 'z1', '1', 'b'), a('ZINCRBY', 'z2', '1', 'b'), a('ZADD', 'z1', 'INCR', '1', 'c'),
  a('ZADD', 'z1', 'NX', 'INCR', '1', 'c'), a('ZREM', 'z1', 'nope'), a('ZREM', 'z1', 'a'),
  a('ZADD', 'z3', '1', 'a', '2', 'b', '3', 'c', '4', 'd'), a('ZREMRANGEBYSCORE', 'z3', '1', '1'),
  a('ZREMRANGEBYRANK', 'z3', '0', '0'), a('ZREMRANGEBYLEX', 'z3', '[a', '[c'),
  a('ZREMRANGEBYSCORE', 'z3', '100', '200'), a('ZREMRANGEBYLEX', 'z3', '-', '+'),
  a('ZADD', 'z4', '1', 'a', '2', 'b', '3', 'c'), a('ZPOPMIN', 'z4'), a('ZPOPMAX', 'z4', '5'),
  a('ZPOPMIN', 'z4'), a('ZADD', 'z4', '1', 'a'), a('ZMPOP', '2', 'nokey', 'z4', 'MIN'),
  a('ZADD', 'z5', '1', 'a', '2', 'b'), a('ZADD', 'z6', '2', 'b', '3', 'c'),
  a('ZUNIONSTORE', 'zd', '2', 'z5', 'z6'), a('ZINTERSTORE', 'zd', '2', 'z5', 'z6'),
  a('ZDIFFSTORE', 'zd2', '2', 'z5', 'z6'), a('ZRANGESTORE', 'zd3', 'z5', '0', '-1'),
  a('ZRANGESTORE', 'zd3', 'z5', '5', '6'), a('ZINTERSTORE', 'zd', '2', 'z5', 'nokey'),
  a('ZRANGESTORE', 'zd', 'nokey', '0', '-1'),
  // SORT STORE
  a('RPUSH', 'so', '3', '1', '2'), a('SORT', 'so', 'STORE', 'sod'), a('SORT', 'so', 'STORE', 'sod'),
  a('SORT', 'nokey', 'STORE', 'sod'), a('SORT', 'nokey', 'STORE', 'sod'), a('SORT', 'so'),
  a('SET', 'sod', 'v', 'PX', '1'), wait(20, 'SORT', 'so', 'STORE', 'sod'),
  a('SET', 'sod', 'v', 'PX', '1'), wait(20, 'SORT', 'nokey', 'STORE', 'sod'),
  // bitmaps
  a('SETBIT', 'b1', '7', '1'), a('SETBIT', 'b1', '7', '1'), a('SETBIT', 'b1', '7', '0'),
  a('SETBIT', 'b1', '100', '0'), a('GETBIT', 'b1', '3'), a('BITFIELD', 'b2', 'SET', 'u8', '0', '5'),
  a('BITFIELD', 'b2', 'SET', 'u8', '0', '5'), a('BITFIELD', 'b2', 'INCRBY', 'u8', '0', '1'),
  a('BITFIELD', 'b2', 'GET', 'u8', '0'), a('BITFIELD', 'b3', 'OVERFLOW', 'FAIL', 'INCRBY', 'u2',
    '0', '9'), a('BITFIELD', 'b2', 'OVERFLOW', 'FAIL', 'INCRBY', 'u8', '100', '300'),
  a('BITOP', 'AND', 'b4', 'b1', 'b2'), a('BITOP', 'OR', 'b4', 'nokey'),
  a('BITOP', 'OR', 'b4', 'nokey'), a('BITOP', 'NOT', 'b5', 'b1'),
  // expired keys met by other commands: the expiry first, then the command's own events
  a('SET', 'x5', 'v', 'PX', '1'), wait(20, 'RENAME', 'ap', 'x5'), a('SET', 'x6', 'v', 'PX', '1'),
  wait(20, 'SETRANGE', 'x6', '1', 'a'), a('SET', 'x7', 'v', 'PX', '1'),
  wait(20, 'SUNIONSTORE', 'x7', 'nokey'), a('SET', 'x8', 'v', 'PX', '1'),
  wait(20, 'ZUNIONSTORE', 'x8', '1', 'z5'), a('SET', 'x9', 'v', 'PX', '1'),
  wait(20, 'EXISTS', 'x9'), a('SET', 'x10', 'v', 'PX', '1'), wait(20, 'TTL', 'x10'),
  a('SET', 'x11', 'v', 'PX', '1'), wait(20, 'GETEX', 'x11', 'EX', '5'),
  a('SET', 'x12', 'v', 'PX', '1'), wait(20, 'HINCRBY', 'x12', 'f', '1'),
  a('SET', 'x13', 'v', 'PX', '1'), wait(20, 'SCAN', '0', 'MATCH', 'x13', 'COUNT', '1000'),
  a('SET', 'x14', 'v', 'PX', '1'), wait(20, 'MSET', 'x14', '1', 'x15', '2'),
  a('SET', 'x16', 'v', 'PX', '1'), wait(20, 'COPY', 'x15', 'x16'),
  // no events
  a('SWAPDB', '0', '1'), a('SWAPDB', '0', '1'), a('FLUSHDB'), a('SET', 'f', '1'), a('FLUSHALL'),
  // transactions and scripts: Redis's order, all after the commit
  a('MULTI'), a('SET', 'x1', '1'), a('LPUSH', 'x2', 'a'), a('INCR', 'x1'), a('DEL', 'x2', 'x1'),
  a('HSET', 'x3', 'f', 'v'), a('EXPIRE', 'x3', '100'), a('EXEC'),
  a('MULTI'), a('SET', 'x1', '1'), a('LPUSH', 'x1', 'a'), a('SADD', 'x4', 'm'), a('EXEC'),
  a('EVAL', "redis.call('set', KEYS[1], 'v'); redis.call('rpush', KEYS[2], 'a', 'b'); " +
    "redis.call('lpop', KEYS[2], 2); return redis.call('del', KEYS[1])", '2', 'ev1', 'ev2'),
  a('EVAL', "return redis.call('incr', KEYS[1])", '1', 'ev3'),
  // other databases
  a('SELECT', '3'), a('SET', 'd3', 'v'), a('DEL', 'd3'), a('SELECT', '0'),
  // classes one at a time (and the `new` class, which A leaves out)
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Kg'), a('SET', 'c1', 'v'), a('DEL', 'c1'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'E$'), a('SET', 'c1', 'v'), a('EXPIRE', 'c1', '9'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Kl'), a('RPUSH', 'c2', 'a'), a('LPOP', 'c2'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Eh'), a('HSET', 'c3', 'a', '1'), a('DEL', 'c3'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Ks'), a('SADD', 'c4', 'a'), a('SPOP', 'c4'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Ez'), a('ZADD', 'c5', '1', 'a'),
  a('ZPOPMIN', 'c5'), a('CONFIG', 'SET', 'notify-keyspace-events', 'Kx'),
  a('SET', 'c6', 'v', 'PX', '1'), wait(20, 'GET', 'c6'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'KEn'), a('SET', 'c7', 'v'), a('SET', 'c7', 'w'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'AnKE'), a('CONFIG', 'GET', 'notify-keyspace-events'),
  a('SET', 'c8', 'v'), a('RPUSH', 'c9', 'a'), a('RENAME', 'c8', 'c9'), a('MOVE', 'c9', '4'),
  a('COPY', 'c7', 'c10'), a('HINCRBY', 'c11', 'f', '1'), a('ZADD', 'c12', '1', 'a'),
  a('SUNIONSTORE', 'c13', 'c14'), a('SADD', 'c14', 'a'), a('SUNIONSTORE', 'c13', 'c14'),
  a('LMOVE', 'c9x', 'c15', 'LEFT', 'LEFT'), a('RPUSH', 'c16', 'a'),
  a('LMOVE', 'c16', 'c15', 'LEFT', 'LEFT'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'K'), a('SET', 'c1', 'v'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'g$'), a('SET', 'c1', 'v'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'g$lshzxet'),
  a('CONFIG', 'GET', 'notify-keyspace-events'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'g$lshzxetd'),
  a('CONFIG', 'GET', 'notify-keyspace-events'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Q'),
  a('CONFIG', 'SET', 'notify-keyspace-events', 'ElzxeKtd$m'),
  a('CONFIG', 'GET', 'notify-keyspace-events'),
  // keymiss (class m): misses of Redis's read lookups, in readonly commands and in the read
  // lookups of write commands (SET GET, GETSET, GETDEL, GETEX, STORE sources, SORT, COPY, BITOP)
  a('CONFIG', 'SET', 'notify-keyspace-events', 'KEm'), a('CONFIG', 'GET', 'notify-keyspace-events'),
  a('SET', 'mk', 'v'), a('GET', 'mk'), a('GET', 'mm'), a('MGET', 'mk', 'mm', 'mn'),
  a('EXISTS', 'mm', 'mk'), a('TYPE', 'mm'), a('TTL', 'mm'), a('PTTL', 'mk'), a('STRLEN', 'mm'),
  a('GETRANGE', 'mm', '0', '1'), a('LRANGE', 'mm', '0', '-1'), a('LLEN', 'mm'),
  a('LINDEX', 'mm', '0'), a('LPOS', 'mm', 'a'), a('HGET', 'mm', 'f'), a('HGETALL', 'mm'),
  a('HLEN', 'mm'), a('HEXISTS', 'mm', 'f'), a('SMEMBERS', 'mm'), a('SISMEMBER', 'mm', 'a'),
  a('SMISMEMBER', 'mm', 'a'), a('SCARD', 'mm'), a('SINTER', 'mm', 'mn'),
  a('SINTERCARD', '2', 'mm', 'mn'), a('SUNIONSTORE', 'md', 'mm', 'mn'),
  a('ZRANGE', 'mm', '0', '-1'), a('ZSCORE', 'mm', 'a'), a('ZCARD', 'mm'),
  a('ZUNIONSTORE', 'md', '2', 'mm', 'mn'), a('ZINTERCARD', '1', 'mm'),
  a('ZRANGESTORE', 'md', 'mm', '0', '-1'), a('SORT', 'mm'), a('SORT', 'mm', 'STORE', 'md'),
  a('RPUSH', 'ml', '1', '2'), a('SORT', 'ml', 'BY', 'w_*', 'GET', 'o_*', 'GET', '#'),
  a('BITCOUNT', 'mm'), a('GETBIT', 'mm', '1'), a('BITFIELD_RO', 'mm', 'GET', 'u8', '0'),
  a('BITOP', 'OR', 'md', 'mm'), a('COPY', 'mm', 'md'), a('SET', 'mm', 'v', 'GET'), a('DEL', 'mm'),
  a('GETSET', 'mm2', 'v'), a('GETDEL', 'mm3'), a('GETEX', 'mm4'), a('INCR', 'mm5'),
  a('LPOP', 'mm'), a('HINCRBY', 'mm6', 'f', '1'), a('OBJECT', 'ENCODING', 'mm'), a('TOUCH', 'mm'),
  a('HRANDFIELD', 'mm'), a('SRANDMEMBER', 'mm'), a('ZRANDMEMBER', 'mm'), a('LCS', 'mm', 'mk'),
  a('SELECT', '9'), a('RANDOMKEY'), a('SELECT', '0'),
  a('EVAL', "return redis.call('get', KEYS[1])", '1', 'mm'),
  a('MULTI'), a('GET', 'mm'), a('SET', 'mm', 'x', 'GET'), a('EXEC'),
  a('SET', 'mx', 'v', 'PX', '1'), wait(20, 'GET', 'mx'), a('SET', 'my', 'v', 'PX', '1'),
  wait(20, 'SET', 'my', 'w'), a('CONFIG', 'SET', 'notify-keyspace-events', 'Em'),
  a('GET', 'mm7'), a('CONFIG', 'SET', 'notify-keyspace-events', 'AKEm'),
  a('CONFIG', 'GET', 'notify-keyspace-events'), a('GET', 'mm8'),
  // active expiry
  a('CONFIG', 'SET', 'notify-keyspace-events', 'Ex'), a('SET', 'ax', 'v', 'PX', '1'),
  a('SET', 'ay', 'v', 'PX', '1'), a('SET', 'az', 'v'),
  thenWaitUnordered(500, 'DEBUG', 'SET-ACTIVE-EXPIRE', '1'), a('DEBUG', 'SET-ACTIVE-EXPIRE', '0'),
  a('DBSIZE'),
  a('CONFIG', 'SET', 'notify-keyspace-events', ''), a('SET', 'c1', 'v'),
  a('CONFIG', 'GET', 'notify-keyspace-events'),
]

const QUIET_MS = 100
const BARRIER_TIMEOUT_MS = 5000

interface Conns { A: RawClient; C: RawClient; S2: RawClient; S3: RawClient }

/** PING <marker>, then everything up to its reply (cut off); `subscribed`: RESP2 ["pong", m]. */
async function barrier(client: RawClient, marker: string, shape: 'plain' | 'sub2' | 'sub3'):
  Promise<string> {
  const bulk = `$${marker.length}\r\n${marker}\r\n`
  const end = shape === 'sub2' ? `*2\r\n$4\r\npong\r\n${bulk}` : bulk
  client.send(RawClient.encode('PING', marker))
  const text = await client.readUntil(end, BARRIER_TIMEOUT_MS)
  return text.endsWith(end) ? text.slice(0, -end.length) : `${text} (no barrier reply)`
}

/** Runs the steps; per step [A's reply, C's reply, RESP2 subscriber, RESP3 subscriber]. */
export async function runSteps(port: number, steps: Step[]): Promise<string[][]> {
  const conns: Conns = {
    A: await RawClient.connect(port), C: await RawClient.connect(port),
    S2: await RawClient.connect(port), S3: await RawClient.connect(port),
  }
  await conns.A.command(['DEBUG', 'SET-ACTIVE-EXPIRE', '0'], 10)
  await conns.S3.command(['HELLO', '3'], 10)
  for (const s of [conns.S2, conns.S3]) {
    await s.command(['PSUBSCRIBE', '__keyspace@*__:*', '__keyevent@*__:*'], 10)
  }
  const out: string[][] = []
  let inMulti = false
  let blocked = false
  for (const [n, step] of steps.entries()) {
    const marker = `sync:${n}`
    if (step.sleepMs !== undefined) await new Promise((r) => setTimeout(r, step.sleepMs))
    conns[step.conn].send(RawClient.encode(...step.argv))
    if (step.sleepAfterMs !== undefined) {
      await new Promise((r) => setTimeout(r, step.sleepAfterMs))
    }
    const name = (step.argv[0] as string).toUpperCase()
    let replyC = ''
    if (step.conn === 'C') {
      // Served at once (its reply) or blocked (nothing, until an A step serves it).
      replyC = (await conns.C.readFor(QUIET_MS, QUIET_MS * 3)).toString('latin1')
      blocked = replyC === ''
    }
    if (step.conn === 'A' && name === 'MULTI') inMulti = true
    // Inside MULTI a PING would be queued: read until quiet instead.
    const replyA = step.conn === 'A' && inMulti
      ? (await conns.A.readFor(QUIET_MS, QUIET_MS * 3)).toString('latin1')
      : await barrier(conns.A, marker, 'plain')
    if (step.conn === 'A' && (name === 'EXEC' || name === 'DISCARD')) inMulti = false
    if (step.conn === 'A' && blocked) {
      replyC = (await conns.C.readFor(QUIET_MS, QUIET_MS * 3)).toString('latin1')
      blocked = replyC === ''
    }
    let s2 = await barrier(conns.S2, marker, 'sub2')
    let s3 = await barrier(conns.S3, marker, 'sub3')
    if (step.unordered === true) {
      s2 = messages(s2, '*4\r\n').sort().join('')
      s3 = messages(s3, '>4\r\n').sort().join('')
    }
    out.push([replyA, replyC, s2, s3])
  }
  for (const cl of Object.values(conns)) cl.close()
  return out
}

/** A subscriber's output split into its messages (each starting with `head`). */
function messages(text: string, head: string): string[] {
  return text.split(head).slice(1).map((m) => head + m)
}

/** The pmessage frames of a subscriber's output, as readable "channel payload" lines. */
function readable(text: string): string {
  return text.split('pmessage\r\n').slice(1).map((m) => {
    const parts = m.split('\r\n').filter((_, i) => i % 2 === 1)
    return `${parts[1] ?? '?'} ${parts[2] ?? '?'}`
  }).join('; ')
}

function label(step: Step): string {
  return `${step.conn}: ${step.argv.map((x) => JSON.stringify(x)).join(' ')}`
}

t.test('keyspace notifications as Redis 7.0.15: names, classes, count and order', async (t) => {
  if (!requireBinary(t, 'redis-server')) return
  const redis = await startRedis(['--enable-debug-command', 'yes'])
  t.teardown(() => redis.stop())
  const capykv = await startCapykv({ args: ['--enable-debug-command', 'yes'] })
  t.teardown(() => capykv.stop())
  const [expected, actual] = await Promise.all([runSteps(redis.port, STEPS),
    runSteps(capykv.port, STEPS)])
  let same = 0
  let messages = 0
  for (let i = 0; i < STEPS.length; i++) {
    const step = STEPS[i] as Step
    const e = expected[i] as string[]
    const got = actual[i] as string[]
    messages += (e[2] ?? '').split('pmessage\r\n').length - 1
    if (JSON.stringify(e) === JSON.stringify(got)) {
      same++
      continue
    }
    t.same(got, e, `step ${i} ${label(step)}: redis [${readable(e[2] ?? '')}] capykv ` +
      `[${readable(got[2] ?? '')}]`)
  }
  t.ok(messages > 300, `the steps make Redis publish many notifications (${messages})`)
  t.equal(same, STEPS.length, `${same} of ${STEPS.length} steps identical`)
  t.comment(`differential keyspace notifications: ${same}/${STEPS.length} steps, ` +
    `${messages} messages per subscriber`)
})
