// Where the differential scripts run: a server over TCP (redis-server, capykv), or capykv's
// command handlers in-process (a store on a temp pool, a minimal dispatcher) for when the
// server cannot be started. Every target answers raw reply bytes, one Buffer per command,
// in order; a batch is written at once (pipelined) and its replies read back together.
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nowMs } from '../../src/clock.js'
import { OutputSink } from '../../src/commands/reply-sink.js'
import type { ClientState, CommandContext, CommandSpec } from '../../src/commands/spec.js'
import { OutputBuffer } from '../../src/resp/writer.js'
import { Store } from '../../src/txn/engine.js'
import { encodeCommand, ReplyFramer, type Arg } from './resp.js'

export interface Conn {
  /** Send the commands pipelined; resolves with one raw reply per command. */
  send(commands: readonly (readonly Arg[])[]): Promise<Buffer[]>
  close(): void
}

export interface Target {
  readonly name: string
  /** True when the target is a whole server (MULTI, SELECT, HELLO, WATCH work). */
  readonly fullServer: boolean
  connect(): Promise<Conn>
}

// ---------------------------------------------------------------------------------------------
// Over TCP

export class SocketTarget implements Target {
  readonly fullServer = true
  constructor(readonly name: string, readonly port: number) {}

  connect(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, '127.0.0.1')
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.removeListener('error', reject)
        resolve(new SocketConn(socket))
      })
    })
  }
}

class SocketConn implements Conn {
  private readonly framer = new ReplyFramer()
  private replies: Buffer[] = []
  private wake: (() => void) | null = null
  private failure: Error | null = null

  constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.feed(chunk)
      for (let r = this.framer.next(); r !== null; r = this.framer.next()) this.replies.push(r)
      this.notify()
    })
    socket.on('error', (e) => { this.failure = e; this.notify() })
    socket.on('close', () => { this.failure ??= new Error('connection closed'); this.notify() })
  }

  private notify(): void {
    const wake = this.wake
    this.wake = null
    if (wake !== null) wake()
  }

  async send(commands: readonly (readonly Arg[])[]): Promise<Buffer[]> {
    this.socket.write(Buffer.concat(commands.map((c) => encodeCommand(c))))
    const deadline = nowMs() + 10_000
    while (this.replies.length < commands.length) {
      if (this.failure !== null) throw this.failure
      if (nowMs() > deadline) throw new Error('timed out waiting for replies')
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, 200)
      })
    }
    return this.replies.splice(0, commands.length)
  }

  close(): void {
    this.socket.destroy()
  }
}

// ---------------------------------------------------------------------------------------------
// In-process: the handlers over a real store, without the server

export class InProcTarget implements Target {
  readonly name = 'capykv (in-process handlers)'
  readonly fullServer = false
  private nextId = 1
  private readonly byName = new Map<string, CommandSpec>()

  private constructor(readonly store: Store, readonly dir: string, specs: readonly CommandSpec[]) {
    for (const s of specs) this.byName.set(s.name, s)
  }

  static async open(specs: readonly CommandSpec[]): Promise<InProcTarget> {
    const dir = mkdtempSync(join(tmpdir(), 'capykv-inproc-'))
    const store = await Store.open(join(dir, 'pool'), { sizeBytes: 32 * 1024 * 1024 })
    return new InProcTarget(store, dir, specs)
  }

  close(): void {
    this.store.close()
    rmSync(this.dir, { recursive: true, force: true })
  }

  async connect(): Promise<Conn> {
    const state: ClientState = {
      id: this.nextId++, name: null, db: 0, proto: 2, authenticated: true, multi: null,
      watchDirty: false, watched: new Map(),
    }
    const out = new OutputBuffer(2)
    const sink = new OutputSink(out)
    return {
      send: async (commands) => commands.map((c) => this.run(state, out, sink, c)),
      close: () => {},
    }
  }

  private run(
    state: ClientState, out: OutputBuffer, sink: OutputSink, command: readonly Arg[],
  ): Buffer {
    const argv = command.map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : a))
    const name = (argv[0] as Buffer).toString('latin1').toLowerCase()
    if (name === 'select') {
      state.db = Number((argv[1] as Buffer).toString())
      out.writeOk()
    } else if (name === 'hello') {
      state.proto = (argv[1] as Buffer).toString() === '3' ? 3 : 2
      sink.switchProto(state.proto)
      out.writeOk()
    } else if (name === 'ping') {
      out.writeSimple('PONG')
    } else {
      this.dispatch(state, sink, name, argv)
    }
    return out.take()
  }

  private dispatch(state: ClientState, sink: OutputSink, name: string, argv: Buffer[]): void {
    let spec = this.byName.get(name)
    if (spec === undefined) {
      sink.error(`ERR unknown command '${name}'`)
      return
    }
    if (spec.subcommands !== undefined && argv.length >= 2) {
      const sub = `${name}|${(argv[1] as Buffer).toString('latin1').toLowerCase()}`
      const found = spec.subcommands.find((s) => s.name === sub)
      if (found === undefined) {
        sink.error(`ERR unknown subcommand '${(argv[1] as Buffer).toString('latin1')}'. ` +
          `Try ${name.toUpperCase()} HELP.`)
        return
      }
      spec = found
    }
    const ok = spec.arity > 0 ? argv.length === spec.arity : argv.length >= -spec.arity
    if (!ok) {
      sink.error(`ERR wrong number of arguments for '${spec.name}' command`)
      return
    }
    const txn = this.store.begin()
    const ctx: CommandContext = {
      store: this.store, keyspace: this.store.keyspace, txn, client: state, reply: sink,
      nowMs: nowMs(), server: undefined,
    }
    try {
      spec.handler(ctx, argv)
      txn.commitNoWait()
    } catch (e) {
      txn.abort()
      throw e
    }
    this.store.flush()
  }
}
