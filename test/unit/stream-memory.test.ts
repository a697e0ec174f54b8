// The stream's DRAM model (src/state/stream-memory.ts) is kept by counters the stream updates in
// append, XDEL's node drop and whole-node trimming: seeded random histories check that every
// undo brings the model back to its figure before the change, and that a stream rebuilt from its
// codec (a checkpoint's RESTORE) has the figure of the stream it was encoded from.
import t from 'tap'
import { ByteReader, ByteWriter } from '../../src/state/bytes.js'
import { entryEstimate, Stream, TYPE_STREAM } from '../../src/state/stream.js'
import { streamValueMemory } from '../../src/state/stream-memory.js'
import { valueType } from '../../src/state/value-codec.js'
import { Prng } from '../sim/prng.js'

t.test('the stream memory model follows appends, drops and undos, and survives the codec', (t) => {
  for (const seed of [1, 2, 3, 4]) {
    const rng = new Prng(seed)
    const s = new Stream()
    let next = 1n
    let bad = ''
    for (let step = 0; step < 600 && bad === ''; step++) {
      const before = streamValueMemory(s)
      let undo: () => void
      const r = rng.float()
      if (r < 0.7 || s.nodes.length === 0) {
        const fields = rng.bool(0.8) ? ['f'] : ['f', `g${rng.int(3)}`]
        const fv = fields.flatMap((f) => [Buffer.from(f), rng.bytes(rng.int(40))])
        next += BigInt(rng.range(1, 3)) + (rng.bool(0.2) ? 1n << 64n : 0n)
        const { lastId, firstId } = s
        const estimate = entryEstimate(fv)
        const size = s.append(next, fv, rng.bool(0.1), estimate)
        undo = () => s.unappend(size, estimate, lastId, firstId)
        if (streamValueMemory(s) <= before) bad = `step ${step}: an append did not grow the model`
      } else if (r < 0.85) {
        const ni = rng.int(s.nodes.length)
        const node = s.nodes[ni]
        const ei = node === undefined ? -1 : node.dead.indexOf(false)
        if (ei < 0) continue
        undo = s.markDeleted(ni, ei, true)
      } else {
        undo = s.dropHeadNodes(rng.range(1, Math.min(2, s.nodes.length)))
      }
      if (rng.bool(0.3)) {
        undo()
        if (streamValueMemory(s) !== before) bad = `step ${step}: undo left ${streamValueMemory(s)}, was ${before}`
      }
    }
    const vt = valueType(TYPE_STREAM)
    const w = new ByteWriter()
    vt.encode(w, s)
    const copy = vt.decode(new ByteReader(w.view())) as Stream
    if (bad === '' && streamValueMemory(copy) !== streamValueMemory(s)) {
      bad = `decoded ${streamValueMemory(copy)} != ${streamValueMemory(s)}`
    }
    t.equal(bad, '', `seed ${seed}: ${s.length} entries in ${s.nodes.length} nodes, model ${streamValueMemory(s)} B`)
  }
  t.end()
})
