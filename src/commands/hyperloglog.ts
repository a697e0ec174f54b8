// The HyperLogLog commands (Redis 7.0.15 hyperloglog.c): PFADD PFCOUNT PFMERGE PFDEBUG. The value
// is a plain string in Redis's HLL format (hll-format.ts), so GET/SET/DUMP move it unchanged.
// Invariants, and why:
// - A write builds the new value on a working copy and PUTs it whole, keeping the key's expiry
//   (stored Buffers are never modified in place: undo and checkpoints share them). PFADD that
//   changes no register applies no event, as Redis leaves the key untouched then.
// - PFCOUNT of one key whose cached cardinality is invalid stores the value with the count
//   cached (Redis modifies the string and propagates it): one PUT in the command's transaction,
//   so the string a later GET returns is Redis's byte for byte.
// - A corrupt value (sparse opcodes not covering the 16384 registers) replies Redis's
//   INVALIDOBJ error and changes nothing (DESIGN rule 3; Redis may keep registers already
//   raised in memory then); a string that is not an HLL replies Redis's WRONGTYPE text.

import { TYPE_STRING, type Entry } from '../state/keyspace.js'
import {
  HLL_DENSE, HLL_REGISTERS, HLL_HDR, denseGet, hllAdd, hllDenseAdd, hllBytes, hllCachedCard, hllCount,
  hllCountRaw, hllCreate, hllEncoding, hllInvalidateCache, hllMergeInto, hllSetCachedCard,
  hllSetRegister, hllToDense, hllWorkingCopy, isHll, type Hll,
} from './hll-format.js'
import { commandSpec } from './list.js'
import { asReader, lookupKey } from './lookup.js'
import { NOTIFY_STRING, notifyKeyspaceEvent, notifyNew } from './notify.js'
import { optionName } from './numeric.js'
import type { ServerServices } from './services.js'
import { WRONGTYPE, keyOf, type CommandContext, type CommandSpec, type Handler } from './spec.js'
import { markRawString, putString } from './string.js'

const ERR_INVALID_HLL = 'INVALIDOBJ Corrupted HLL object detected'
const ERR_NOT_HLL = 'WRONGTYPE Key is not a valid HyperLogLog string value.'

/** The key's HLL value: undefined when missing, null after replying the error. */
function hllOrReply(ctx: CommandContext, key: string): Entry | undefined | null {
  const entry = lookupKey(ctx, key)
  if (entry === undefined) return undefined
  if (entry.type !== TYPE_STRING) {
    ctx.reply.error(WRONGTYPE)
    return null
  }
  if (!isHll(entry.value as Buffer)) {
    ctx.reply.error(ERR_NOT_HLL)
    return null
  }
  return entry
}

export function sparseMaxBytes(ctx: CommandContext): number {
  const sv = ctx.server as ServerServices | undefined
  return sv === undefined ? 3000 : sv.config.getNumber('hll-sparse-max-bytes')
}

function putHll(ctx: CommandContext, key: string, entry: Entry | undefined, value: Buffer): void {
  markRawString(value)
  putString(ctx, ctx.client.db, key, value, entry === undefined ? 0 : entry.expireAtMs)
}

/** PFADD key [element ...] */
const pfaddCommand: Handler = (ctx, argv) => {
  const key = keyOf(argv[1] as Buffer)
  const entry = hllOrReply(ctx, key)
  if (entry === null) return
  if (entry !== undefined && hllEncoding(entry.value as Buffer) === HLL_DENSE) {
    // Dense: no working copy unless a register grows (most adds to a full HLL change nothing).
    const value = entry.value as Buffer
    const next = hllDenseAdd(value, argv, 2)
    if (next !== value) {
      next[15] = (next[15] as number) | 0x80 // the cached cardinality is invalid
      putHll(ctx, key, entry, next)
      notifyKeyspaceEvent(ctx, NOTIFY_STRING, 'pfadd', key)
    }
    ctx.reply.integer(next !== value ? 1 : 0)
    return
  }
  const h = entry === undefined ? hllCreate() : hllWorkingCopy(entry.value as Buffer)
  let updated = entry === undefined ? 1 : 0
  const maxBytes = sparseMaxBytes(ctx)
  for (let j = 2; j < argv.length; j++) {
    const r = hllAdd(h, argv[j] as Buffer, maxBytes)
    if (r === -1) {
      ctx.reply.error(ERR_INVALID_HLL)
      return
    }
    updated += r
  }
  if (updated > 0) {
    hllInvalidateCache(h)
    putHll(ctx, key, entry, hllBytes(h))
    if (entry === undefined) notifyNew(ctx, key)
    notifyKeyspaceEvent(ctx, NOTIFY_STRING, 'pfadd', key)
  }
  ctx.reply.integer(updated > 0 ? 1 : 0)
}

/** PFCOUNT key [key ...] */
const pfcountCommand: Handler = (ctx, argv) => {
  if (argv.length > 2) {
    const max = new Uint8Array(HLL_REGISTERS)
    for (let j = 1; j < argv.length; j++) {
      const entry = hllOrReply(ctx, keyOf(argv[j] as Buffer))
      if (entry === null) return
      if (entry === undefined) continue
      if (!hllMergeInto(max, entry.value as Buffer)) {
        ctx.reply.error(ERR_INVALID_HLL)
        return
      }
    }
    ctx.reply.integer(BigInt.asIntN(64, hllCountRaw(max)))
    return
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = hllOrReply(ctx, key)
  if (entry === null) return
  if (entry === undefined) {
    ctx.reply.integer(0)
    return
  }
  const value = entry.value as Buffer
  const cached = hllCachedCard(value)
  if (cached !== null) {
    markRawString(value) // Redis unshares the value first (dbUnshareStringValue): raw
    ctx.reply.integer(cached)
    return
  }
  const card = hllCount(value)
  if (card === null) {
    ctx.reply.error(ERR_INVALID_HLL)
    return
  }
  const next = Buffer.from(value)
  hllSetCachedCard(next, card)
  putHll(ctx, key, entry, next)
  ctx.reply.integer(BigInt.asIntN(64, card))
}

/** PFMERGE destkey [sourcekey ...]: the destination is merged as a source too, as in Redis. */
const pfmergeCommand: Handler = (ctx, argv) => {
  const max = new Uint8Array(HLL_REGISTERS)
  let useDense = false
  const reader = asReader(ctx)
  for (let j = 1; j < argv.length; j++) {
    const entry = hllOrReply(reader, keyOf(argv[j] as Buffer))
    if (entry === null) return
    if (entry === undefined) continue
    const value = entry.value as Buffer
    if (hllEncoding(value) === HLL_DENSE) useDense = true
    if (!hllMergeInto(max, value)) {
      ctx.reply.error(ERR_INVALID_HLL)
      return
    }
  }
  const key = keyOf(argv[1] as Buffer)
  const entry = lookupKey(ctx, key)
  const h: Hll = entry === undefined ? hllCreate() : hllWorkingCopy(entry.value as Buffer)
  if (useDense && !hllToDense(h)) {
    ctx.reply.error(ERR_INVALID_HLL)
    return
  }
  const maxBytes = sparseMaxBytes(ctx)
  for (let j = 0; j < HLL_REGISTERS; j++) {
    const v = max[j] as number
    if (v !== 0) hllSetRegister(h, j, v, maxBytes)
  }
  hllInvalidateCache(h)
  putHll(ctx, key, entry, hllBytes(h))
  if (entry === undefined) notifyNew(ctx, key)
  notifyKeyspaceEvent(ctx, NOTIFY_STRING, 'pfadd', key)
  ctx.reply.simple('OK')
}

/** PFDEBUG GETREG|DECODE|ENCODING|TODENSE key (Redis's debugging subcommands). */
const pfdebugCommand: Handler = (ctx, argv) => {
  const cmd = optionName(argv[1] as Buffer)
  const key = keyOf(argv[2] as Buffer)
  const entry = lookupKey(ctx, key)
  if (entry === undefined) {
    ctx.reply.error('ERR The specified key does not exist')
    return
  }
  if (entry.type !== TYPE_STRING || !isHll(entry.value as Buffer)) {
    ctx.reply.error(entry.type !== TYPE_STRING ? WRONGTYPE : ERR_NOT_HLL)
    return
  }
  const value = entry.value as Buffer
  if (cmd === 'getreg' || cmd === 'todense') {
    const h = hllWorkingCopy(value)
    const converted = hllEncoding(h) !== HLL_DENSE
    if (!hllToDense(h)) {
      ctx.reply.error(ERR_INVALID_HLL)
      return
    }
    if (converted) putHll(ctx, key, entry, hllBytes(h))
    if (cmd === 'todense') {
      ctx.reply.integer(converted ? 1 : 0)
      return
    }
    ctx.reply.arrayHeader(HLL_REGISTERS)
    for (let i = 0; i < HLL_REGISTERS; i++) ctx.reply.integer(denseGet(h.buf, HLL_HDR, i))
  } else if (cmd === 'encoding') {
    ctx.reply.simple(hllEncoding(value) === HLL_DENSE ? 'dense' : 'sparse')
  } else if (cmd === 'decode') {
    if (hllEncoding(value) === HLL_DENSE) {
      ctx.reply.error('ERR HLL encoding is not sparse')
      return
    }
    ctx.reply.bulk(decodeSparse(value))
  } else {
    ctx.reply.error(`ERR Unknown PFDEBUG subcommand '${(argv[1] as Buffer).toString('latin1')}'`)
  }
}

/** PFDEBUG DECODE's text: z:len Z:len v:value,len per opcode. */
function decodeSparse(value: Buffer): string {
  const parts: string[] = []
  let p = HLL_HDR
  while (p < value.length) {
    const op = value[p] as number
    if ((op & 0xc0) === 0) {
      parts.push(`z:${(op & 0x3f) + 1}`)
      p++
    } else if ((op & 0xc0) === 0x40) {
      parts.push(`Z:${(((op & 0x3f) << 8) | (value[p + 1] ?? 0)) + 1}`)
      p += 2
    } else {
      parts.push(`v:${((op >> 2) & 0x1f) + 1},${(op & 3) + 1}`)
      p++
    }
  }
  return parts.join(' ')
}

const W = ['write', 'hyperloglog']

export const hyperloglogCommands: CommandSpec[] = [
  commandSpec('pfadd', -2, ['write', 'denyoom', 'fast'], 1, 1, 1, [...W, 'fast'], pfaddCommand),
  commandSpec('pfcount', -2, ['readonly', 'may_replicate'], 1, -1, 1,
    ['read', 'hyperloglog', 'slow'], pfcountCommand),
  commandSpec('pfmerge', -2, ['write', 'denyoom'], 1, -1, 1, [...W, 'slow'], pfmergeCommand),
  commandSpec('pfdebug', 3, ['write', 'denyoom', 'admin'], 2, 2, 1,
    ['write', 'hyperloglog', 'admin', 'slow', 'dangerous'], pfdebugCommand),
]
