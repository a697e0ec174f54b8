#!/usr/bin/env node
// capykv-server: wiring only (STYLE §3 L5). Reads the configuration like redis-server
// (`capykv-server [config-file] [--name value ...]`: the file's lines, then each --option as one
// more line, in redis.conf syntax), refuses unknown directives with Redis's FATAL CONFIG FILE
// ERROR text and exit code 1, creates the pool on first start (<dir>/capykv.pool, default dir
// ./data), listens at once and serves -LOADING while the pool is recovered, then serves.
// SIGTERM/SIGINT/SHUTDOWN: stop accepting, finish in-flight commits, close the pool, exit 0.

import { accessSync, constants, existsSync, realpathSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { nowMs } from './clock.js'
import { makeDirectories, strerror } from './fs-util.js'
import { StoreError } from './errors.js'
import { CAPYKV_VERSION } from './commands/server-admin.js'
import { loadCommandTable } from './commands/table.js'
import type { CommandTable } from './commands/services.js'
import { aclCommandsOf } from './commands/acl-model.js'
import {
  checkConfigUser, loadConfiguredUsers, readAclFile, replaceUsers,
} from './commands/acl-file.js'
import { CapykvServer } from './server.js'
import { configText, FatalConfigError, loadConfig } from './config-file.js'
import { findParam, noEffectSettings, ServerConfig } from './server-config.js'
import { logger, type LogLevel } from './server-log.js'
import {
  type FlushMarker, flushMarkerRefusal, pmemForceWarning, readFlushMarker, removeFlushMarker, writeFlushMarker,
} from './storage/durability.js'
import { openNativeRegion } from './storage/pm-region.js'
import { Store } from './txn/engine.js'

const USAGE = `Usage: capykv-server [/path/to/capykv.conf] [options] [-]
       capykv-server - (read config from stdin)
       capykv-server -v or --version
       capykv-server -h or --help

Examples:
       capykv-server (run the server with default config: port 6379, pool under ./data)
       capykv-server /etc/capykv/6379.conf
       capykv-server --port 7777
       capykv-server --port 7777 --dir /mnt/pmem --pool-size 4gb
       capykv-server /etc/mycapykv.conf --loglevel verbose --requirepass secret
`

function fatalConfig(e: FatalConfigError): never {
  process.stderr.write(`\n*** FATAL CONFIG FILE ERROR (capykv ${CAPYKV_VERSION}) ***\n` +
    `Reading the configuration file, at line ${e.lineNumber}\n>>> '${e.line}'\n${e.message}\n`)
  process.exit(1)
}

function poolSizeBytes(config: ServerConfig): number {
  const size = config.getNumber('pool-size')
  return Math.ceil(size / 4096) * 4096
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '-v' || argv[0] === '--version') {
    process.stdout.write(`capykv server v=${CAPYKV_VERSION} redis_compat=7.0.15 ` +
      `node=${process.versions.node}\n`)
    return
  }
  if (argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write(USAGE)
    return
  }
  const config = new ServerConfig()
  let loaded: { text: string; file: string | null }
  try {
    loaded = configText(argv)
  } catch (e) {
    process.stderr.write(`Fatal error, can't open config file '${argv[0]}': ` +
      `${(e as Error).message}\n`)
    process.exit(1)
  }
  // CAPYKV_COMMAND_MODULES=string,keys limits the data files loaded (development and tests).
  const only = process.env.CAPYKV_COMMAND_MODULES
  const table = await loadCommandTable(only === undefined ? undefined : only.split(','))
  const commands = aclCommandsOf(table)
  try {
    loadConfig(config, loaded.text, (words, earlier, c) => checkConfigUser(words, earlier,
      commands, c.get('acl-pubsub-default') === 'allchannels'))
  } catch (e) {
    if (e instanceof FatalConfigError) fatalConfig(e)
    throw e
  }
  if (loaded.file !== null && loaded.file !== '-') config.configFile = realpathSync(loaded.file)
  logger.level = config.get('loglevel') as LogLevel
  logger.file = config.get('logfile')
  logger.warning('oO0OoO0OoO0Oo capykv is starting oO0OoO0OoO0Oo')
  logger.warning(`capykv version=${CAPYKV_VERSION}, redis_compat=7.0.15, bits=64, ` +
    `pid=${process.pid}, just started`)
  if (loaded.file === null) {
    logger.warning('Warning: no config file specified, using the default config. In order to ' +
      'specify a config file use capykv-server /path/to/capykv.conf')
  } else {
    logger.warning('Configuration loaded')
  }
  logger.role = 'M'
  for (const name of noEffectSettings(config)) {
    logger.warning(`Config ${name} is accepted but has no effect in capykv ` +
      `(${findParam(name)?.noEffect ?? ''})`)
  }
  await run(config, table)
}

/**
 * Before anything reads the pool: refuse when a flush failed on this boot (the page cache may
 * hold pool pages the disk never got, storage/durability.ts); create the pool when missing (or
 * adopt a complete POOL.creating). Returns the marker of a failure on an earlier boot, if any.
 */
function preparePoolFile(config: ServerConfig, poolPath: string): FlushMarker | null {
  const refusal = flushMarkerRefusal(poolPath)
  if (refusal !== null) {
    logger.warning(`Refusing to start: ${refusal}.`)
    process.exit(1)
  }
  const earlierFailure = readFlushMarker(poolPath)
  if (earlierFailure !== null) {
    logger.warning(`A flush of the pool failed on an earlier boot (${earlierFailure.error}): ` +
      'the pool is re-read from the media and every committed checksum verified.')
  }
  if (!existsSync(poolPath)) {
    const size = poolSizeBytes(config)
    logger.notice(`Creating pool ${poolPath} (${size} bytes)`)
    if (Store.create(poolPath, size) === 'adopted') {
      logger.warning(`Found ${poolPath}.creating holding a complete pool (a crash or power cut ` +
        'came between making the pool and renaming it): renamed it into place instead of ' +
        'making a new one.')
    }
  }
  return earlierFailure
}

/** A failed group-commit flush: leave the marker (storage/durability.ts) and stop. */
function stopAfterFlushFailure(poolPath: string, e: Error): never {
  // Nothing of the failed group was acknowledged. Stop, and leave the marker that keeps a
  // restart on this boot from serving cached pages the disk may not have.
  let marker = ''
  try {
    marker = writeFlushMarker(poolPath, e.message)
  } catch (m) {
    logger.warning(`Could not write the failed-flush marker: ${(m as Error).message}`)
  }
  logger.warning(`A flush of the pool failed (${e.message}): stopping. ` +
    (marker === '' ? '' : `${marker} keeps a start on this boot from using the pool.`))
  process.exit(1)
}

/** What the open found about the pool's redundant metadata, in the log and INFO. */
function reportMetadata(server: CapykvServer, store: Store, poolPath: string): void {
  for (const d of store.stats().metadataDamage) {
    server.services.stats.poolWarnings.push(`damaged copy: ${d}`)
    logger.warning(`Pool metadata: ${d}; the intact copy is used. Run capykv-check --repair ` +
      `${poolPath} (server stopped) to rewrite it.`)
  }
  if (store.rootCopiesRewritten > 0) {
    logger.warning(`Pool metadata: rewrote ${store.rootCopiesRewritten} root word copies ` +
      '(damaged, or lagging after a crash between the stores of the two copies).')
  }
  const fallback = store.stats().recoveredFromFallback
  if (fallback !== null) {
    server.services.stats.poolWarnings.push(`recovered around damage: ${fallback}`)
    logger.warning(`Pool log damage: ${fallback}. The state is whole; a fresh checkpoint was ` +
      (store.fallbackCheckpointFailed ? 'NOT written (no room): the next start does this again.'
        : 'written, so the damaged records are no longer needed.'))
  }
  if (store.upgradedFromVersion !== null) {
    logger.warning(`Pool upgraded in place from format version ${store.upgradedFromVersion} to ` +
      `${store.stats().formatVersion} (redundant header and root words, checkpoint fallback).`)
  }
}

/** Redis's ACLLoadUsersAtStartup: config users or the aclfile; an error stops the start. */
function loadAclUsers(server: CapykvServer): void {
  const sv = server.services
  const aclfile = sv.config.get('aclfile')
  if (aclfile !== '' && sv.config.usersToLoad.length > 0) {
    logger.warning('Configuring Redis with users defined in redis.conf and at the same ' +
      'setting an ACL file path is invalid. This setup is very likely to lead to configuration ' +
      'errors and security holes, please define either an ACL file or declare users directly ' +
      'in your redis.conf, but not both.')
    process.exit(1)
  }
  const configured = loadConfiguredUsers(sv.acl, sv.config.usersToLoad)
  if (configured.errors !== null) {
    for (const line of configured.errors) logger.warning(line)
    logger.warning('Critical error while loading ACLs. Exiting.')
    process.exit(1)
  }
  for (const name of configured.disabled) {
    logger.notice(`The user '${name}' is disabled (there is no 'on' modifier in the user ` +
      'description). Make sure this is not a configuration error.')
  }
  if (aclfile === '') return
  const staged = readAclFile(sv.acl, sv.config.get('dir'), aclfile)
  if (typeof staged === 'string') {
    logger.warning(`Aborting Redis startup because of ACL errors: ${staged}`)
    process.exit(1)
  }
  replaceUsers(sv.acl, staged)
}

/** The data directory exists (made if missing) and is writable, or the start stops, one line. */
function prepareDir(dir: string): void {
  try {
    makeDirectories(dir)
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (e) {
    logger.warning(`Can't chdir to '${dir}': ${strerror(e)}`)
    process.exit(1)
  }
}

async function run(config: ServerConfig, table: CommandTable): Promise<void> {
  const dir = resolve(config.get('dir'))
  prepareDir(dir)
  const poolPath = join(dir, config.get('pool-file'))
  const earlierFailure = preparePoolFile(config, poolPath)
  let region
  try {
    region = openNativeRegion(poolPath)
  } catch (e) {
    logger.warning(`Can't open the pool ${poolPath}: ${(e as Error).message}`)
    process.exit(1)
  }
  const server = new CapykvServer({ config, table, poolPath, executable: process.argv[1] })
  loadAclUsers(server)
  try {
    await server.listen()
  } catch (e) {
    logger.warning((e as Error).message)
    process.exit(1)
  }
  logger.notice(`Running mode=standalone, port=${server.boundPort}.`)
  logger.notice(`Pool ${poolPath}: backend=${region.backend} is_pmem=${region.isPmem ? 1 : 0} ` +
    `size=${region.sizeBytes}`)
  const forced = pmemForceWarning(poolPath, region.isPmem)
  if (forced !== null) {
    server.services.stats.poolWarnings.push(forced)
    logger.warning(`WARNING ${forced}.`)
  }
  installSignals(server)
  logger.warning('Server initialized')
  const loading = { startedAtMs: nowMs(), bytesTotal: 0, bytesDone: 0, records: 0 }
  server.setLoading(loading)
  let store: Store
  try {
    store = await Store.openRegion(region, {
      onFlushFailure: (e) => stopAfterFlushFailure(poolPath, e),
      onProgress: (p) => {
        loading.bytesDone = p.bytesDone
        loading.bytesTotal = p.bytesTotal
        loading.records = p.records
      },
    })
  } catch (e) {
    if (e instanceof StoreError) {
      server.services.stats.corruptionEvents++
      logger.warning(`Refusing to start: ${e.message}. The pool is not served; inspect it with ` +
        `capykv-check ${poolPath} (and --repair to salvage the prefix before the damage).`)
    } else {
      logger.warning(`Error loading the pool: ${(e as Error).stack ?? String(e)}`)
    }
    process.exit(1)
  }
  if (server.stopping) {
    store.close()
    return
  }
  reportMetadata(server, store, poolPath)
  if (earlierFailure !== null) removeFlushMarker(poolPath)
  server.attachStore(store)
  const pending = store.keyspace.pendingEvents
  logger.notice(`DB loaded from disk: ${(store.recoveryMs / 1000).toFixed(3)} seconds ` +
    `(${store.recoveredLog.records} records` +
    `${pending > 0 ? `; ${pending} keys being indexed in the background` : ''})`)
  logger.notice('Ready to accept connections tcp')
}

function installSignals(server: CapykvServer): void {
  const onSignal = (name: string): void => {
    if (server.stopping) {
      logger.warning(`You insist... exiting now.`)
      process.exit(1)
    }
    logger.warning(`Received ${name} scheduling shutdown...`)
    if (server.store === null) {
      logger.warning('capykv is now ready to exit, bye bye...')
      process.exit(0)
    }
    server.requestShutdown(server.services.config.get('save') !== '', 'User requested shutdown...')
  }
  process.on('SIGTERM', () => onSignal('SIGTERM'))
  process.on('SIGINT', () => onSignal('SIGINT'))
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // One line for the operator; the stack only at loglevel verbose or debug.
  logger.warning(`Fatal: ${e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e)}`)
  if (e instanceof Error && e.stack !== undefined) logger.verbose(e.stack)
  process.exit(1)
})
