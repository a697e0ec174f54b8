// RandomSet / RandomMap (state/random-access.ts): random picks in O(1) for SPOP, SRANDMEMBER and
// HRANDFIELD. Checked against a plain Set/Map under seeded random adds, deletes and clears, with
// the index built early, late or never: after every step the members are the model's, and a
// pick function that walks 0..size-1 returns every member exactly once (the index holds exactly
// the members). Then the commands' helpers: picks are members, distinct picks are distinct.

import t from 'tap'
import { RandomMap, RandomSet } from '../../src/state/random-access.js'
import { distinctRandom, randomHashField, randomSetMember } from '../../src/commands/random.js'
import { Prng } from '../sim/prng.js'

/** Every index once, in order: the members the index holds, each as often as it holds it. */
function allPicks(size: number, pickAt: (pick: (n: number) => number) => string): string[] {
  const out: string[] = []
  for (let i = 0; i < size; i++) out.push(pickAt(() => i))
  return out
}

for (const seed of [1, 2, 3, 4]) {
  t.test(`RandomSet and RandomMap follow a plain Set/Map (seed ${seed})`, async (t) => {
    const rng = new Prng(seed)
    const set = new RandomSet()
    const map = new RandomMap<number>()
    const modelSet = new Set<string>()
    const modelMap = new Map<string, number>()
    const indexFrom = rng.int(400) // the first random pick (index built) at this step
    let mismatches = 0
    for (let step = 0; step < 2000; step++) {
      const r = rng.float()
      const m = `m${rng.int(60)}`
      if (r < 0.5) {
        if (set.add(m) !== set) mismatches++
        modelSet.add(m)
        map.set(m, step)
        modelMap.set(m, step)
      } else if (r < 0.98) {
        if (set.delete(m) !== modelSet.delete(m)) mismatches++
        if (map.delete(m) !== modelMap.delete(m)) mismatches++
      } else {
        set.clear()
        modelSet.clear()
        map.clear()
        modelMap.clear()
      }
      if (step >= indexFrom && set.size > 0) {
        const picks = allPicks(set.size, (pick) => set.randomMember(pick)).sort()
        const keys = allPicks(map.size, (pick) => map.randomKey(pick)).sort()
        if (picks.join() !== [...modelSet].sort().join()) mismatches++
        if (keys.join() !== [...modelMap.keys()].sort().join()) mismatches++
      }
      if ([...set].sort().join() !== [...modelSet].sort().join()) mismatches++
      if (JSON.stringify([...map].sort()) !== JSON.stringify([...modelMap].sort())) mismatches++
    }
    t.equal(mismatches, 0, 'same members, and the index holds exactly them, at every step')
  })
}

t.test('the command helpers: members, distinct when asked', async (t) => {
  const set = new RandomSet()
  const hash = new RandomMap<Buffer>()
  for (let i = 0; i < 1000; i++) {
    set.add(`s${i}`)
    hash.set(`f${i}`, Buffer.from(String(i)))
  }
  const plain = new Set(set)
  for (let i = 0; i < 200; i++) {
    t.ok(set.has(randomSetMember(set)) && plain.has(randomSetMember(plain)), 'a member')
    t.ok(hash.has(randomHashField(hash)), 'a field')
  }
  for (const count of [1, 10, 333, 334, 999]) {
    const picked = distinctRandom(set.size, count, () => randomSetMember(set), () => [...set])
    t.equal(picked.length, count)
    t.equal(new Set(picked).size, count, `${count} distinct picks`)
    t.ok(picked.every((m) => set.has(m)))
  }
})
