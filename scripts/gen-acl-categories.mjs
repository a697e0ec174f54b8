#!/usr/bin/env node
// Prints the body of src/commands/acl-redis-commands.ts: every command and subcommand of a running
// redis-server 7.0.15 with its ACL categories, from its COMMAND reply (facts, no code).
//   node scripts/gen-acl-categories.mjs <port>
import { Redis } from 'ioredis'
const r = new Redis({ port: Number(process.argv[2]) })
const all = await r.call('COMMAND')
const out = []
const walk = (c) => {
  const name = c[0], cats = c[6].map((x) => x.replace(/^@/, ''))
  out.push([name, cats.join(' ')])
  for (const s of c[9] ?? []) walk(s)
}
for (const c of all) walk(c)
out.sort((a, b) => a[0] < b[0] ? -1 : 1)
r.disconnect()
let text = ''
let line = ' '
for (const [n, c] of out) {
  const item = ` ${JSON.stringify(n).replace(/"/g, "'")}: '${c}',`
  if (line.length + item.length > 99) { text += line.trimEnd() + '\n'; line = ' ' }
  line += item
}
text += line.trimEnd() + '\n'
console.log(text)
