// TLS for the server (Redis's tls-* settings through node:tls). A TLS connection is an ordinary
// Connection over a tls.TLSSocket: the same reader, dispatch, held replies and durability rule;
// only the bytes on the wire are encrypted.
// Settings read (Redis's names and defaults): tls-port, tls-cert-file, tls-key-file,
// tls-key-file-pass, tls-ca-cert-file, tls-ca-cert-dir, tls-auth-clients (yes: a client
// certificate signed by the CA is required; optional: verified when given; no: not asked),
// tls-protocols ("TLSv1.2 TLSv1.3" by default), tls-ciphers (TLS 1.2), tls-ciphersuites
// (TLS 1.3), tls-prefer-server-ciphers, tls-dh-params-file, tls-session-caching and
// tls-session-cache-timeout.
// Invariant: tlsContextOptions either returns complete options or throws an Error whose message
// is one line naming the setting and the file (startup prints it and exits; CONFIG SET of a
// tls-* setting logs it and keeps the previous context).

import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { SecureVersion, TlsOptions } from 'node:tls'
import type { ServerConfig } from './server-config.js'

const PROTOCOLS: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']

function readSetting(config: ServerConfig, name: string): Buffer {
  const path = config.get(name)
  try {
    return readFileSync(path)
  } catch (e) {
    throw new Error(`Failed to load ${name} '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
}

/** The CA certificates of tls-ca-cert-file and every file of tls-ca-cert-dir. */
function caCerts(config: ServerConfig): Buffer[] | undefined {
  const out: Buffer[] = []
  if (config.get('tls-ca-cert-file') !== '') out.push(readSetting(config, 'tls-ca-cert-file'))
  const dir = config.get('tls-ca-cert-dir')
  if (dir !== '') {
    try {
      for (const f of readdirSync(dir)) out.push(readFileSync(join(dir, f)))
    } catch (e) {
      throw new Error(`Failed to load tls-ca-cert-dir '${dir}': ${(e as Error).message}`)
    }
  }
  return out.length === 0 ? undefined : out
}

/** tls-protocols → min/max versions (Redis: the listed versions; default TLSv1.2 and 1.3). */
function versions(text: string): { minVersion: SecureVersion; maxVersion: SecureVersion } {
  const words = text.trim() === '' ? ['TLSv1.2', 'TLSv1.3'] : text.trim().split(/\s+/)
  const picked = words.map((w) => {
    const v = PROTOCOLS.find((p) => p.toLowerCase() === w.toLowerCase())
    if (v === undefined) throw new Error(`Invalid tls-protocols specified: '${w}'`)
    return PROTOCOLS.indexOf(v)
  })
  return {
    minVersion: PROTOCOLS[Math.min(...picked)] as SecureVersion,
    maxVersion: PROTOCOLS[Math.max(...picked)] as SecureVersion,
  }
}

/** The options of tls.createServer / setSecureContext from the configuration. */
export function tlsContextOptions(config: ServerConfig): TlsOptions {
  if (config.get('tls-cert-file') === '' || config.get('tls-key-file') === '') {
    throw new Error('TLS is configured (tls-port) but tls-cert-file or tls-key-file is not set')
  }
  const auth = config.get('tls-auth-clients')
  const ca = caCerts(config)
  if (auth !== 'no' && ca === undefined) {
    throw new Error('Either tls-ca-cert-file or tls-ca-cert-dir must be specified when ' +
      'tls-auth-clients is yes or optional')
  }
  const options: TlsOptions = {
    cert: readSetting(config, 'tls-cert-file'),
    key: readSetting(config, 'tls-key-file'),
    requestCert: auth !== 'no',
    rejectUnauthorized: auth === 'yes',
    honorCipherOrder: config.get('tls-prefer-server-ciphers') === 'yes',
    ...versions(config.get('tls-protocols')),
  }
  if (ca !== undefined) options.ca = ca
  const pass = config.get('tls-key-file-pass')
  if (pass !== '') options.passphrase = pass
  const ciphers = [config.get('tls-ciphersuites'), config.get('tls-ciphers')]
    .filter((c) => c !== '').join(':')
  if (ciphers !== '') options.ciphers = ciphers
  if (config.get('tls-dh-params-file') !== '') {
    options.dhparam = readSetting(config, 'tls-dh-params-file')
  }
  if (config.get('tls-session-caching') === 'no') options.sessionTimeout = 0
  else options.sessionTimeout = config.getNumber('tls-session-cache-timeout')
  return options
}

/** The tls-* settings whose change rebuilds the server's secure context. */
export function isTlsContextSetting(name: string): boolean {
  return name.startsWith('tls-') && name !== 'tls-port' && name !== 'tls-cluster' &&
    name !== 'tls-replication' && !name.startsWith('tls-client-')
}
