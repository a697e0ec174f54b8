import { WasmLuaEngine } from './dist/src/scripting/wasm-lua.js'
function t(name, f, n=2000){ for(let i=0;i<200;i++)f(); const s=performance.now(); for(let i=0;i<n;i++)f(); console.log(name, ((performance.now()-s)/n*1000).toFixed(1),'us') }
const e = await WasmLuaEngine.create()
const host = { call: ()=>({ok:Buffer.from('OK')}), log(){}, setResp(){} }
t('adapter return 1', ()=>e.runScript(Buffer.from('return 1'),'x',[],[],host))
t('adapter 1 calls', ()=>e.runScript(Buffer.from("redis.call('x') return 1"),'x',[],[],host))
t('adapter 10 calls', ()=>e.runScript(Buffer.from("for i=1,10 do redis.call('x') end return 1"),'x',[],[],host))
t('adapter 100 loop', ()=>e.runScript(Buffer.from("local x=0 for i=1,100 do x=x+i end return 1"),'x',[],[],host))
t('adapter 1000 loop', ()=>e.runScript(Buffer.from("local x=0 for i=1,1000 do x=x+i end return 1"),'x',[],[],host))
