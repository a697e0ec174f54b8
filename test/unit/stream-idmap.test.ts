// IdMap (src/state/stream.ts), the PELs' sorted map, against a plain sorted array of pairs: seeded
// random sets and deletes biased like a work queue (appends at the end, removals near the front)
// and arbitrary ones (XCLAIM moving older ids), checking every lookup, the order and lowerBound.
import t from 'tap'
import { IdMap } from '../../src/state/stream.js'
import { Prng } from '../sim/prng.js'

t.test('IdMap agrees with a sorted array under queue-like and random operations', (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const rng = new Prng(seed)
    const map = new IdMap<number>()
    let model: [bigint, number][] = []
    let next = 1n
    let bad = ''
    for (let step = 0; step < 4000 && bad === ''; step++) {
      const r = rng.float()
      if (r < (step < 2500 ? 0.6 : 0.3)) {
        const id = rng.bool(0.8) ? next++ : BigInt(rng.int(Number(next) + 5))
        map.set(id, step)
        const at = model.findIndex(([k]) => k >= id)
        if (at >= 0 && (model[at] as [bigint, number])[0] === id) (model[at] as [bigint, number])[1] = step
        else if (at < 0) model.push([id, step])
        else model.splice(at, 0, [id, step])
      } else if (model.length > 0) {
        const front = rng.bool(0.7)
        const k = front ? rng.int(Math.min(4, model.length)) : rng.int(model.length)
        const id = rng.bool(0.9) ? (model[k] as [bigint, number])[0] : BigInt(rng.int(Number(next)))
        const want = model.find(([x]) => x === id)?.[1]
        const got = map.delete(id)
        if (got !== want) bad = `step ${step}: delete ${id} gave ${String(got)}, want ${String(want)}`
        model = model.filter(([x]) => x !== id)
      }
      if (map.size !== model.length) bad ||= `step ${step}: size ${map.size} != ${model.length}`
      const probe = BigInt(rng.int(Number(next) + 2))
      const lb = model.findIndex(([x]) => x >= probe)
      if (map.lowerBound(probe) !== (lb < 0 ? model.length : lb)) bad ||= `step ${step}: lowerBound(${probe})`
      if (map.get(probe) !== model.find(([x]) => x === probe)?.[1]) bad ||= `step ${step}: get(${probe})`
    }
    const keys = map.keyList()
    if (bad === '' && keys.join() !== model.map(([k]) => k).join()) bad = 'final order differs'
    for (let i = 0; bad === '' && i < model.length; i++) {
      if (map.keyAt(i) !== (model[i] as [bigint, number])[0] || map.valAt(i) !== (model[i] as [bigint, number])[1]) bad = `index ${i}`
    }
    t.equal(bad, '', `seed ${seed}: ${model.length} ids left, every operation as the model`)
  }
  t.end()
})
