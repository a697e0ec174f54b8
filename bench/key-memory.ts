// `node dist/bench/key-memory.js [--keys 1000000] [--value 100]` — what one key really costs the
// capykv process, against what its accounting charges (issue 17: the model in
// src/state/memory-model.ts must not over-charge). Starts capykv on emulated PM (/dev/shm,
// 2 GiB pool), writes 20,000 keys to warm V8's young generation, measures, writes --keys keys
// of 16 bytes with --value-byte values (pipelined SETs), measures again; each measurement after
// MEMORY PURGE (a full GC) twice. Prints per key: used_memory / used_memory_dataset growth (the
// accounting), resident memory less the pool's mapping (/proc/<pid>/smaps: the real DRAM), its
// V8 heap and array-buffer parts (INFO used_memory_vm_heap, used_memory_array_buffers), and the
// pool's live bytes. Perf's typed-array keyspace should lower the DRAM figure: rerun this and
// update KEY_MEMORY_OVERHEAD / STRING_BYTE_FACTOR in memory-model.ts to what it prints.

import { Redis } from 'ioredis'
import { residentOfMapping, rssBytes, startServer } from './launch.js'

function flag(name: string, fallback: string): string {
  const argv = process.argv.slice(2)
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] ?? fallback : fallback
}

const info = (text: string, name: string): number =>
  Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN)

async function main(): Promise<void> {
  const keys = Number(flag('--keys', '1000000'))
  const value = 'x'.repeat(Number(flag('--value', '100')))
  const server = await startServer('capykv-pm', { poolSize: '2gb' })
  const r = new Redis({ port: server.port, host: '127.0.0.1' })
  const write = async (from: number, count: number): Promise<void> => {
    for (let i = 0; i < count; i += 1000) {
      const p = r.pipeline()
      for (let j = i; j < Math.min(count, i + 1000); j++) {
        p.set(`key:${String(from + j).padStart(12, '0')}`, value)
      }
      await p.exec()
    }
  }
  const measure = async (): Promise<Record<string, number>> => {
    await r.call('MEMORY', 'PURGE')
    await new Promise((res) => setTimeout(res, 500))
    await r.call('MEMORY', 'PURGE')
    const text = await r.info()
    const dram = rssBytes(server.pid) - residentOfMapping(server.pid, 'capykv.pool')
    return {
      used: info(text, 'used_memory'), dataset: info(text, 'used_memory_dataset'), dram,
      v8heap: info(text, 'used_memory_vm_heap'), arrayBuffers: info(text, 'used_memory_array_buffers'),
      poolLive: info(text, 'pool_live_bytes_estimate'),
    }
  }
  try {
    await write(0, 20_000)
    const before = await measure()
    await write(1_000_000_000, keys)
    const after = await measure()
    const per = (k: string): string => (((after[k] ?? 0) - (before[k] ?? 0)) / keys).toFixed(1)
    console.log(`${keys} keys of 16 B with ${value.length}-byte values, bytes per key:`)
    console.log(`  accounted: used_memory ${per('used')}, used_memory_dataset ${per('dataset')}`)
    console.log(`  measured: resident less pool ${per('dram')} (V8 heap ${per('v8heap')}, ` +
      `array buffers ${per('arrayBuffers')}) + pool live ${per('poolLive')} = ` +
      `${(Number(per('dram')) + Number(per('poolLive'))).toFixed(1)}`)
  } finally {
    r.disconnect()
    await server.stop()
  }
}

void main()
