#!/usr/bin/env node
// The `capykv-check` bin (package.json): argument handling, verification and repair live in
// check.ts (runCli); this file only binds them to the process: stdout/stderr, a yes/no question
// on the terminal, and the exit code (0 clean, 1 damage, 2 usage/IO, 3 not a pool, 4 repaired).

import { createInterface } from 'node:readline'
import { runCli, EXIT_USAGE } from './check.js'

function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close()
      resolve(/^\s*y(es)?\s*$/i.test(answer))
    })
    rl.on('close', () => resolve(false))
  })
}

runCli(process.argv.slice(2), {
  out: (text) => { process.stdout.write(text) },
  err: (text) => { process.stderr.write(text) },
  interactive: process.stdin.isTTY === true,
  confirm,
}).then((code) => {
  process.exitCode = code
}, (e: unknown) => {
  process.stderr.write(`capykv-check: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
  process.exitCode = EXIT_USAGE
})
