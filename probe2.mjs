import { WasmLuaEngine } from './dist/src/scripting/wasm-lua.js'
import { load } from 'lua-redis-wasm'
const m = await load({ profile: 'redis-7.0' })
const raw = m.create({ redisCall: (a) => ({ok: Buffer.from('OK')}), redisPcall: (a)=>({ok:Buffer.from('OK')}), log(){} })
function t(name, f, n=2000){ for(let i=0;i<200;i++)f(); const s=performance.now(); for(let i=0;i<n;i++)f(); console.log(name, ((performance.now()-s)/n*1000).toFixed(1),'us') }
t('raw return 1', ()=>raw.evalWithArgs('return 1',[],[]))
t('raw 1 call', ()=>raw.evalWithArgs("return redis.call('x')",[],[]))
t('raw 10 calls', ()=>raw.evalWithArgs("for i=1,10 do redis.call('x') end return 1",[],[]))
const e = await WasmLuaEngine.create()
const host = { call: ()=>({ok:Buffer.from('OK')}), log(){}, setResp(){} }
t('adapter return 1', ()=>e.runScript(Buffer.from('return 1'),'x',[],[],host))
t('adapter 10 calls', ()=>e.runScript(Buffer.from("for i=1,10 do redis.call('x') end return 1"),'x',[],[],host))
