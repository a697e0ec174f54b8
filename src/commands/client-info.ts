// CLIENT LIST / CLIENT INFO lines (Redis 7.0.15's catClientInfoString fields, plus 7.2's
// lib-name and lib-ver) and Redis's client type, for CLIENT LIST / INFO / KILL (connection.ts),
// the ACL log (dispatch.ts) and scripts. Pure reads of a client's handle and the registries.

import type { ClientHandle, ServerServices } from './services.js'
import { trackingListFields } from './tracking.js'

/** Redis's getClientType: 'pubsub' while subscribed, else 'normal' (MONITOR included). */
export function clientType(sv: ServerServices, h: ClientHandle): 'normal' | 'pubsub' {
  return sv.pubsub.isSubscribed(h.state.id) ? 'pubsub' : 'normal'
}

function clientFlags(sv: ServerServices, h: ClientHandle): string {
  let f = ''
  const s = h.state
  if (h.monitor) f += 'O'
  if (sv.pubsub.isSubscribed(s.id)) f += 'P'
  if (s.multi !== null) f += 'x'
  if (h.blocked) f += 'b'
  f += trackingListFields(sv.tracking, s.id).flags
  if (s.watchDirty) f += 'd'
  if (h.noEvict) f += 'e'
  if (h.noTouch) f += 'T'
  return f === '' ? 'N' : f
}

/** The bytes of `argv` as a multibulk request (what Redis's query buffer holds for it). */
function requestBytes(argv: readonly Buffer[]): number {
  let n = 3 + String(argv.length).length
  for (const a of argv) n += 5 + String(a.length).length + a.length
  return n
}

/**
 * One CLIENT LIST line (Redis 7.0.15's fields, plus 7.2's lib-name and lib-ver). `running` is
 * the request this client is executing (CLIENT LIST/INFO asked by it): its qbuf counts it, as
 * Redis's query buffer still holds the command being executed.
 */
export function clientInfoLine(sv: ServerServices, h: ClientHandle, now: number,
  running?: readonly Buffer[]): string {
  const s = h.state
  const qbuf = h.queryBufferBytes() + (running === undefined ? 0 : requestBytes(running))
  const qbufFree = h.queryBufferFreeBytes(qbuf)
  const omem = h.outputBytes()
  const subs = sv.pubsub.counts(s.id)
  return `id=${s.id} addr=${h.addr} laddr=${h.laddr} fd=${h.fd} name=${s.name ?? ''} ` +
    `age=${Math.floor((now - h.createdAtMs) / 1000)} ` +
    `idle=${Math.floor((now - h.lastInteractionMs) / 1000)} flags=${clientFlags(sv, h)} ` +
    `db=${s.db} sub=${subs.channels} psub=${subs.patterns} ssub=${subs.shardChannels} multi=${s.multi === null ? -1 : s.multi.queue.length} qbuf=${qbuf} ` +
    `qbuf-free=${qbufFree} argv-mem=0 multi-mem=0 ` +
    `rbs=16384 rbp=${qbuf} obl=0 oll=0 omem=${omem} tot-mem=${qbuf + qbufFree + omem + 22000} ` +
    'events=r ' +
    `cmd=${h.lastCommand === '' ? 'NULL' : h.lastCommand} user=${s.user?.name ?? 'default'} ` +
    `redir=${trackingListFields(sv.tracking, s.id).redir} resp=${s.proto} ` +
    `lib-name=${h.libName} lib-ver=${h.libVersion}`
}
