import { WorkerLuaEngine } from './dist/src/scripting/worker-engine.js'
const e = new WorkerLuaEngine('x')
const host = { call: (a)=>Buffer.from('+OK\r\n'), log(l,m){console.log('log',l,m.toString())} }
const sha='abc'
console.log(e.compileScript(sha, Buffer.from('return 1')))
console.log(e.runScript(sha, Buffer.from('return 1'), [], [], host))
console.log(e.runScript('s2', Buffer.from("return {redis.call('x', 1.5), KEYS[1], ARGV[1]}"), [Buffer.from('k')], [Buffer.from('a')], host))
console.log(e.runScript('s3', Buffer.from("return x"), [], [], host))
console.log(e.runScript('s4', Buffer.from("error('boom')"), [], [], host))
process.exit(0)
