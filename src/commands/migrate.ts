// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS k…]
// (Redis 7.0.15 cluster.c migrateCommand). The keys' DUMP payloads (state/rdb-value.ts) go to the
// target as RESTORE commands (standalone Redis sends RESTORE, not RESTORE-ASKING); a key the
// target accepted is deleted here unless COPY, in this command's transaction, so the reply waits
// for that delete to be durable. As in Redis the call is synchronous: the server waits for the
// target (each network step bounded by `timeout`), which a worker thread serves while this thread
// sleeps in Atomics.wait (commands/migrate-worker.ts, which also caches the connection per
// host:port for 10 s, as Redis's migrate_cached_sockets). Replies and errors are Redis's:
// +NOKEY, -IOERR …, "Target instance replied with error: …".

import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads'
import { nowMs } from '../clock.js'
import { delEv } from '../state/core-events.js'
import { dumpValue } from '../state/rdb-value.js'
import { encodingOf } from './encoding.js'
import type { MigrateJob, MigrateResult } from './migrate-worker.js'
import { asReader, lookupKey } from './lookup.js'
import { NOTIFY_GENERIC, notifyKeyspaceEvent } from './notify.js'
import { int64OrReply, optionName } from './numeric.js'
import { ERR_SYNTAX, keyOf, type CommandContext, type CommandSpec, type Handler } from './spec.js'

interface Channel { w: Worker; ctrl: Int32Array; results: MessagePort }
let channel: Channel | null = null
let nextId = 1

function ensureWorker(): Channel {
  if (channel === null) {
    const shared = new SharedArrayBuffer(4)
    const { port1, port2 } = new MessageChannel()
    const w = new Worker(new URL('./migrate-worker.js', import.meta.url))
    w.unref()
    port1.unref()
    w.on('error', () => { channel = null })
    w.postMessage({ ctrl: shared, results: port2 }, [port2])
    channel = { w, ctrl: new Int32Array(shared), results: port1 }
  }
  return channel
}

/**
 * Run one job on the worker, waiting for its result synchronously; null when it did not answer
 * in time (a late result of an earlier job is recognised by its id and dropped).
 */
function runJob(job: MigrateJob): MigrateResult | null {
  const { w, ctrl: c, results } = ensureWorker()
  w.postMessage({ job })
  // Connect, write and each read may take up to the timeout; a margin for the thread's start.
  const deadline = nowMs() + job.timeoutMs * (job.count + 4) + 2000
  for (;;) {
    for (let m = receiveMessageOnPort(results); m !== undefined; m = receiveMessageOnPort(results)) {
      const r = m.message as MigrateResult
      if (r.id === job.id) return r
    }
    const left = deadline - nowMs()
    if (left <= 0) return null
    const seen = Atomics.load(c, 0)
    Atomics.wait(c, 0, seen, seen === job.id ? 1 : left)
  }
}

function bulk(s: Buffer | string): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')])
}

interface MigrateOptions { copy: boolean; replace: boolean; auth: string[] | null; keys: Buffer[] }

function migrateOptions(ctx: CommandContext, argv: Buffer[]): MigrateOptions | null {
  const o: MigrateOptions = { copy: false, replace: false, auth: null, keys: [argv[3] as Buffer] }
  for (let j = 6; j < argv.length; j++) {
    const more = argv.length - 1 - j
    const opt = optionName(argv[j] as Buffer)
    if (opt === 'copy') o.copy = true
    else if (opt === 'replace') o.replace = true
    else if (opt === 'auth' && more >= 1) o.auth = [(argv[++j] as Buffer).toString('latin1')]
    else if (opt === 'auth2' && more >= 2) {
      o.auth = [(argv[j + 1] as Buffer).toString('latin1'), (argv[j + 2] as Buffer).toString('latin1')]
      j += 2
    } else if (opt === 'keys') {
      if ((argv[3] as Buffer).length !== 0) {
        ctx.reply.error('ERR When using MIGRATE KEYS option, the key argument must be set to the ' +
          'empty string')
        return null
      }
      o.keys = argv.slice(j + 1)
      break
    } else {
      ctx.reply.error(ERR_SYNTAX)
      return null
    }
  }
  return o
}

const migrateCommand: Handler = (ctx, argv) => {
  const o = migrateOptions(ctx, argv)
  if (o === null) return
  const timeoutArg = int64OrReply(ctx, argv[5] as Buffer)
  if (timeoutArg === null) return
  const dbArg = int64OrReply(ctx, argv[4] as Buffer)
  if (dbArg === null) return
  const timeoutMs = timeoutArg <= 0 ? 1000 : Math.min(Number(timeoutArg), 2 ** 31 - 1)
  const found: { key: string; raw: Buffer; payload: Buffer; ttl: number }[] = []
  for (const raw of o.keys) {
    const key = keyOf(raw)
    const entry = lookupKey(asReader(ctx), key)
    if (entry === undefined) continue
    let ttl = 0
    if (entry.expireAtMs !== 0) {
      ttl = entry.expireAtMs - ctx.nowMs
      if (ttl < 0) continue
      if (ttl < 1) ttl = 1
    }
    found.push({ key, raw, ttl, payload: dumpValue(entry.type, entry.value, encodingOf(entry)) })
  }
  if (found.length === 0) {
    ctx.reply.simple('NOKEY')
    return
  }
  const restores = Buffer.concat(found.map((k) => Buffer.concat([
    Buffer.from(`*${o.replace ? 5 : 4}\r\n`), bulk('RESTORE'), bulk(k.raw), bulk(String(k.ttl)),
    bulk(k.payload), o.replace ? bulk('REPLACE') : Buffer.alloc(0)])))
  const r = runJob({ id: nextId++, host: (argv[1] as Buffer).toString('latin1'),
    port: Number((argv[2] as Buffer).toString('latin1')) | 0, timeoutMs, db: Number(dbArg),
    auth: o.auth, restores, count: found.length })
  finish(ctx, o, found.map((k) => k.key), r)
}

function finish(ctx: CommandContext, o: MigrateOptions, keys: string[], r: MigrateResult | null):
  void {
  if (r === null || r.ioError === 'connect') {
    ctx.reply.error(r === null ? 'IOERR error or timeout reading to target instance'
      : 'IOERR error or timeout connecting to the client')
    return
  }
  let targetError: string | null = null
  const headerError = r.authReply?.startsWith('-') === true ? r.authReply
    : r.selectReply?.startsWith('-') === true ? r.selectReply : null
  for (let j = 0; j < r.replies.length; j++) {
    const line = r.replies[j] as string
    if (headerError !== null || line.startsWith('-')) {
      targetError ??= (headerError ?? line).slice(1)
    } else if (!o.copy) {
      const key = keys[j] as string
      ctx.txn.apply(delEv(ctx.client.db, key))
      notifyKeyspaceEvent(ctx, NOTIFY_GENERIC, 'del', key, ctx.client.db)
    }
  }
  if (targetError !== null) ctx.reply.error(`ERR Target instance replied with error: ${targetError}`)
  else if (r.ioError !== null) {
    ctx.reply.error(`IOERR error or timeout ${r.ioError === 'write' ? 'writing' : 'reading'} to ` +
      'target instance')
  } else ctx.reply.simple('OK')
}

/** MIGRATE's keys: argv[3], or everything after KEYS (Redis's migrateGetKeys). */
function migrateKeys(argv: readonly Buffer[]): number[] {
  for (let j = 6; j < argv.length; j++) {
    const opt = optionName(argv[j] as Buffer)
    if (opt === 'auth') j++
    else if (opt === 'auth2') j += 2
    else if (opt === 'keys' && (argv[3] as Buffer).length === 0) {
      return Array.from({ length: argv.length - j - 1 }, (_, i) => j + 1 + i)
    }
  }
  return [3]
}

export const migrateCommands: CommandSpec[] = [{
  name: 'migrate', arity: -6, flags: ['write', 'movablekeys'], firstKey: 3, lastKey: 3, step: 1,
  categories: ['keyspace', 'write', 'slow', 'dangerous'], handler: migrateCommand, keys: migrateKeys,
}]
