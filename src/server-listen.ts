// Listening sockets made at once, for CONFIG SET port / bind / tls-port (Redis's updatePort,
// applyBind and applyTLSPort): CONFIG SET answers in the same turn, so it must know whether the
// new port could be bound before it replies. net.Server.listen binds later (after an address
// lookup, on a later tick) and reports a port in use by an 'error' event; so each socket is made
// here as a libuv TCP handle, bound and put to listen synchronously (the handle's bind and listen
// return the error code), and only then given to a net.Server (listen(handle) adopts it).
// Invariants:
// - listenNow either returns one listening server per bind word (optional '-' words whose
//   address is missing left out, as Redis's listenToPort) or closes every socket it made and
//   returns the reason: never a partial set;
// - IPv6 sockets are v6-only, as Redis's anetTcp6Server, so `bind * ::*` takes both families;
// - only IP addresses are bound here (a host name needs a lookup, which would not answer in this
//   turn): a name fails with that reason, logged; names are resolved at startup (server.ts).
// A helper of src/server.ts (L6).

import net from 'node:net'
import { getSystemErrorName } from 'node:util'

/** The libuv TCP handle of node's tcp_wrap binding (the object net.Server.listen adopts). */
interface TcpHandle {
  bind(address: string, port: number): number
  bind6(address: string, port: number, flags: number): number
  listen(backlog: number): number
  close(): void
}

interface TcpWrap {
  TCP: new (type: number) => TcpHandle
  constants: { SERVER: number }
}

/** uv_tcp_bind's UV_TCP_IPV6ONLY. */
const UV_TCP_IPV6ONLY = 1

const tcpWrap = (): TcpWrap => (process as unknown as { binding(name: string): TcpWrap })
  .binding('tcp_wrap')

/** strerror(3) of the codes a bind or listen gives; the code's name for others. */
const BIND_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'Address already in use', EADDRNOTAVAIL: 'Cannot assign requested address',
  EACCES: 'Permission denied', EAFNOSUPPORT: 'Address family not supported by protocol',
  EINVAL: 'Invalid argument',
}

export type ListenResult =
  | { readonly ok: true; readonly servers: net.Server[]; readonly bound: string[] }
  | { readonly ok: false; readonly log: string }

/**
 * One listening server per bind word on `port`, each made by `make` and already accepting when
 * this returns; or, when one word cannot be bound, nothing (every socket made closed) and the
 * log line saying why (Redis's "Could not create server TCP listening socket" warning).
 */
export function listenNow(words: readonly string[], port: number, backlog: number,
  make: () => net.Server, kind: 'TCP' | 'TLS'): ListenResult {
  const { TCP, constants } = tcpWrap()
  const made: { handle: TcpHandle; word: string }[] = []
  const fail = (host: string, why: string): ListenResult => {
    for (const m of made) m.handle.close()
    return { ok: false, log: `Warning: Could not create server ${kind} listening socket ` +
      `${host}:${port}: ${why}` }
  }
  for (const word of words) {
    const optional = word.startsWith('-')
    let host = optional ? word.slice(1) : word
    if (host === '*') host = '0.0.0.0'
    if (host === '::*') host = '::'
    const family = net.isIP(host)
    if (family === 0) return fail(host, 'capykv binds a host name at startup only, not at runtime')
    const handle = new TCP(constants.SERVER)
    let code = family === 6 ? handle.bind6(host, port, UV_TCP_IPV6ONLY) : handle.bind(host, port)
    if (code === 0) code = handle.listen(backlog)
    if (code !== 0) {
      handle.close()
      const name = getSystemErrorName(code)
      if (optional && (name === 'EADDRNOTAVAIL' || name === 'EAFNOSUPPORT')) continue
      const verb = name === 'EADDRINUSE' || name === 'EADDRNOTAVAIL' ? 'bind' : 'listen'
      return fail(host, `${verb}: ${BIND_ERRORS[name] ?? name}`)
    }
    made.push({ handle, word })
  }
  const servers: net.Server[] = []
  const bound: string[] = []
  for (const { handle, word } of made) {
    const srv = make()
    srv.maxConnections = 1 << 30
    srv.listen(handle)
    servers.push(srv)
    bound.push(`${word}:${port}`)
  }
  return { ok: true, servers, bound }
}
