// Differential test of pub/sub against a real redis-server 7.0.15, in RESP2 and in RESP3: the
// same steps go to both servers over three connections (A, B, C), and after each step every
// connection's output (replies, subscribe confirmations, messages pushed to it) is compared byte
// for byte. It covers every pub/sub command and PUBSUB subcommand, their errors, RESP2
// subscribed mode (what is refused and with which text, PING's shape), RESP3 pushes beside
// ordinary commands, pattern messages, sharded channels, binary-safe names and payloads,
// MULTI/EXEC, CLIENT REPLY OFF, RESET and QUIT.
// Where Redis's order is a hash table's (PUBSUB CHANNELS, UNSUBSCRIBE of every channel) the
// step is marked and compared as a multiset. Skips with a visible reason without redis-server;
// fails under CI=true.

import t from 'tap'
import {
  bin, frames, label, runSteps, s, set, type Arg, type Step,
} from '../helpers/push-differential.js'
import { requireBinary, startCapykv, startRedis } from '../helpers/servers.js'

/** A step of the RESP3 run only (a RESP2 client in subscribed mode cannot run it). */
const r3 = (conn: number, ...argv: Arg[]): Step => ({ conn, argv, only: 3 })
const A = 0
const B = 1
const C = 2

export const STEPS: Step[] = [
  // arity and argument errors
  s(A, 'SUBSCRIBE'), s(A, 'PSUBSCRIBE'), s(A, 'SSUBSCRIBE'), s(B, 'PUBLISH', 'a'),
  s(B, 'PUBLISH', 'a', 'b', 'c'), s(B, 'SPUBLISH', 'a'), s(B, 'PUBSUB'),
  s(B, 'PUBSUB', 'FOO'), s(B, 'PUBSUB', 'NUMPAT', 'x'), s(B, 'PUBSUB', 'CHANNELS', 'a', 'b'),
  s(B, 'PUBSUB', 'SHARDCHANNELS', 'a', 'b'), s(B, 'PUBSUB', 'HELP'), s(B, 'PUBSUB', 'help', 'x'),
  s(B, 'pubsub', 'Channels'), s(B, 'PUBSUB', 'NUMSUB'), s(B, 'PUBSUB', 'NUMPAT'),
  s(B, 'PUBSUB', 'SHARDNUMSUB'), s(B, 'PUBSUB', 'SHARDCHANNELS'),
  // the command table's metadata
  s(B, 'COMMAND', 'INFO', 'subscribe', 'unsubscribe', 'psubscribe', 'punsubscribe', 'publish'),
  s(B, 'COMMAND', 'INFO', 'ssubscribe', 'sunsubscribe', 'spublish'),
  // (PUBSUB's subcommands come in the order of a hash table with a random seed: one by one)
  s(B, 'COMMAND', 'INFO', 'pubsub|channels', 'pubsub|numsub', 'pubsub|numpat', 'pubsub|help'),
  s(B, 'COMMAND', 'INFO', 'pubsub|shardchannels', 'pubsub|shardnumsub'),
  s(B, 'COMMAND', 'GETKEYS', 'spublish', 'a', 'b'), s(B, 'COMMAND', 'GETKEYS', 'ssubscribe', 'a'),
  s(B, 'COMMAND', 'GETKEYS', 'publish', 'a', 'b'),
  // unsubscribing from nothing
  s(A, 'UNSUBSCRIBE'), s(A, 'PUNSUBSCRIBE'), s(A, 'SUNSUBSCRIBE'), s(A, 'UNSUBSCRIBE', 'x', 'y'),
  s(A, 'PING'),
  // channels
  s(A, 'SUBSCRIBE', 'ch1'), s(A, 'SUBSCRIBE', 'ch1', 'ch2'), s(B, 'PUBLISH', 'ch1', 'hello'),
  s(B, 'PUBLISH', 'nochan', 'x'), s(B, 'PUBLISH', 'ch2', ''), s(A, 'PING'), s(A, 'PING', 'x'),
  s(A, 'ping', 'a', 'b'),
  // subscribed mode: RESP2 refuses, RESP3 runs
  s(A, 'GET', 'k'), s(A, 'SET', 'k', 'v'), s(B, 'GET', 'k'), s(A, 'CLIENT', 'GETNAME'),
  s(A, 'MULTI'), s(A, 'DISCARD'), s(A, 'ECHO', 'e'), s(A, 'PUBLISH', 'ch1', 'self'),
  s(A, 'PUBSUB', 'NUMSUB', 'ch1'), s(A, 'nosuchcommand'), s(A, 'SUBSCRIBE'),
  s(A, 'CLIENT', 'REPLY', 'ON'), s(A, 'CONFIG', 'GET', 'hz'),
  // patterns
  s(A, 'PSUBSCRIBE', 'ch*', 'h?llo', '[a-c]x'), s(A, 'PSUBSCRIBE', 'ch*'),
  s(B, 'PUBLISH', 'ch1', 'm'), s(B, 'PUBLISH', 'hello', 'x'), s(B, 'PUBLISH', 'bx', 'y'),
  s(B, 'PUBLISH', 'dx', 'y'), s(B, 'PUBSUB', 'NUMPAT'),
  s(B, 'PUBSUB', 'NUMSUB', 'ch1', 'ch2', 'nochan', 'ch*'), set(B, 'PUBSUB', 'CHANNELS'),
  set(B, 'PUBSUB', 'CHANNELS', 'ch?'), s(B, 'PUBSUB', 'CHANNELS', 'ch1'),
  s(B, 'PUBSUB', 'CHANNELS', 'zz*'), s(C, 'PSUBSCRIBE', 'h*'), s(B, 'PUBLISH', 'hello', 'two'),
  s(B, 'PUBSUB', 'NUMPAT'), s(C, 'PUNSUBSCRIBE', 'h*', 'nope'), s(B, 'PUBSUB', 'NUMPAT'),
  // sharded channels
  s(C, 'SSUBSCRIBE', 's1', 's2'), s(C, 'SSUBSCRIBE', 's1'), s(B, 'SPUBLISH', 's1', 'm'),
  s(B, 'PUBLISH', 's1', 'm'), s(B, 'SPUBLISH', 'ch1', 'x'), set(B, 'PUBSUB', 'SHARDCHANNELS'),
  s(B, 'PUBSUB', 'SHARDCHANNELS', 's1'), s(B, 'PUBSUB', 'SHARDNUMSUB', 's1', 's2', 'x'),
  s(B, 'PUBSUB', 'NUMSUB', 's1'), s(C, 'SUBSCRIBE', 'ch1'), s(B, 'PUBLISH', 'ch1', 'both'),
  s(C, 'PING'), s(C, 'UNSUBSCRIBE'), s(C, 'SUNSUBSCRIBE', 's1'), s(C, 'PING'),
  s(C, 'SUNSUBSCRIBE'), s(C, 'SUNSUBSCRIBE'), s(C, 'PING'),
  // unsubscribing, in subscription order for patterns
  s(A, 'UNSUBSCRIBE', 'ch2', 'never'), s(A, 'PUNSUBSCRIBE', 'h?llo'), s(A, 'PUNSUBSCRIBE'),
  s(A, 'UNSUBSCRIBE'), s(A, 'UNSUBSCRIBE'), s(A, 'PING'), s(B, 'PUBSUB', 'NUMSUB', 'ch1'),
  s(A, 'SUBSCRIBE', 'x', 'y', 'z'), frames(A, 'UNSUBSCRIBE'),
  s(A, 'PSUBSCRIBE', 'p1', 'p2', 'p3'), s(A, 'PUNSUBSCRIBE', 'p2'), s(A, 'PSUBSCRIBE', 'p2'),
  s(A, 'PUNSUBSCRIBE'),
  // binary-safe names and payloads; glob quirks
  s(A, 'SUBSCRIBE', bin('\x00\xff\r\n')), s(B, 'PUBLISH', bin('\x00\xff\r\n'), bin('b\x00\r\n')),
  s(A, 'PSUBSCRIBE', bin('\x00*')), s(B, 'PUBLISH', bin('\x00zz'), 'p'), s(A, 'SUBSCRIBE', ''),
  s(B, 'PUBLISH', '', 'empty'), s(A, 'PSUBSCRIBE', '*'), s(B, 'PUBLISH', 'any', 'thing'),
  s(A, 'PSUBSCRIBE', 'a[', 'b\\', '[^x]y', 'Q*'), s(B, 'PUBLISH', 'a', '1'),
  frames(B, 'PUBLISH', 'b\\', '2'), frames(B, 'PUBLISH', 'zy', '3'), s(B, 'PUBLISH', 'q', '4'),
  s(B, 'PUBLISH', 'a[', '5'), s(A, 'PUNSUBSCRIBE'), frames(A, 'UNSUBSCRIBE'),
  // MULTI/EXEC
  s(A, 'MULTI'), s(A, 'SUBSCRIBE', 'm1'), s(A, 'EXEC'), s(A, 'PING'), s(C, 'MULTI'),
  s(C, 'EXEC', 'x'),
  s(B, 'MULTI'), s(B, 'PUBLISH', 'm1', 'in-exec'), s(B, 'SET', 'mk', '1'), s(B, 'EXEC'),
  s(A, 'UNSUBSCRIBE'), s(A, 'MULTI'), s(A, 'SSUBSCRIBE', 'sx'), s(A, 'PSUBSCRIBE', 'mp'),
  s(A, 'EXEC'), s(A, 'PUNSUBSCRIBE'),
  // CLIENT REPLY OFF does not silence pushes
  s(A, 'CLIENT', 'REPLY', 'OFF'), s(A, 'SUBSCRIBE', 'q'), s(B, 'PUBLISH', 'q', 'z'),
  s(A, 'PING'), s(A, 'GET', 'k'), s(A, 'RESET'), s(B, 'PUBLISH', 'q', 'gone'),
  // RESET leaves every subscription; HELLO in subscribed mode
  s(A, 'SUBSCRIBE', 'r1'), s(A, 'PSUBSCRIBE', 'r*'), s(A, 'SSUBSCRIBE', 'rs'),
  s(A, 'HELLO', '2'), s(A, 'RESET'), s(B, 'PUBSUB', 'NUMSUB', 'r1'), s(B, 'PUBSUB', 'NUMPAT'),
  s(B, 'PUBSUB', 'SHARDNUMSUB', 'rs'), s(B, 'PUBLISH', 'r1', 'x'), s(A, 'PING'),
  s(A, 'GET', 'k'),
  // a RESP3 client's own keyspace notifications come before its reply (also inside EXEC)
  s(B, 'CONFIG', 'SET', 'notify-keyspace-events', 'KEA'), r3(C, 'SUBSCRIBE', '__keyspace@0__:own'),
  r3(C, 'SET', 'own', 'v'), r3(C, 'MULTI'), r3(C, 'SET', 'own', 'w'), r3(C, 'DEL', 'own'),
  r3(C, 'EXEC'), s(B, 'SET', 'own', 'x'), r3(C, 'GET', 'own'), r3(C, 'UNSUBSCRIBE'),
  s(B, 'CONFIG', 'SET', 'notify-keyspace-events', ''),
  // QUIT in subscribed mode; the channel is gone once the connection is
  s(C, 'SUBSCRIBE', 'gone'), s(C, 'QUIT'), s(B, 'PUBSUB', 'NUMSUB', 'gone'),
  s(B, 'PUBLISH', 'gone', 'x'),
]

for (const proto of [2, 3] as const) {
  t.test(`pub/sub in RESP${proto} replies and pushes as Redis 7.0.15, byte for byte`,
    async (t) => {
      if (!requireBinary(t, 'redis-server')) return
      const redis = await startRedis()
      t.teardown(() => redis.stop())
      const capykv = await startCapykv()
      t.teardown(() => capykv.stop())
      const [expected, actual] = await Promise.all([runSteps(redis.port, proto, STEPS),
        runSteps(capykv.port, proto, STEPS)])
      let same = 0
      for (let i = 0; i < STEPS.length; i++) {
        const step = STEPS[i] as Step
        const e = expected[i] as string[]
        const a = actual[i] as string[]
        if (JSON.stringify(e) === JSON.stringify(a)) same++
        else t.same(a, e, `step ${i} ${label(step)}`)
      }
      t.equal(same, STEPS.length, `${same} of ${STEPS.length} steps identical`)
      t.comment(`differential pubsub RESP${proto}: ${same}/${STEPS.length}`)
    })
}
