// Eviction's pieces in process: the LRU clock and LFU counter math of state/lru.ts against
// Redis 7.0.15's formulas (evict.c), the 16-entry eviction pool's placement, KeyMap's sampling
// arrays and Keyspace.memBytes under seeded random changes (checked against a recount), the
// tenacity's time limits, and the Evictor's choice under each policy over a real keyspace.

import t from 'tap'
import {
  accessSettings, idleMs, lfuDecayed, lfuFromFreq, lfuLogIncr, lfuMinutes, lruClock,
  lruFromIdleSeconds, LRU_CLOCK_MAX, touched,
} from '../../src/state/lru.js'
import { Entry, Keyspace, KeyMap, keyHash, TYPE_STRING } from '../../src/state/keyspace.js'
import { KEY_MEMORY_OVERHEAD, keptStringMem, valueMemory } from '../../src/state/memory-model.js'
import { putEv, delEv, expireEv } from '../../src/state/core-events.js'
import { applyEvent } from '../../src/state/event.js'
import {
  EVPOOL_SIZE, EvictionPool, Evictor, evictionTimeLimitUs, poolLimitBytes,
} from '../../src/commands/evict.js'
import { ServerConfig } from '../../src/server-config.js'
import type { ServerServices } from '../../src/commands/services.js'
import type { Store } from '../../src/txn/engine.js'
import { prng } from '../helpers/mulberry32.js'

type Checks = Pick<typeof t, 'equal' | 'fail'>

t.test('LRU clock: seconds modulo 2^24, idle time across the wrap', async (t) => {
  t.equal(lruClock(0), 0)
  t.equal(lruClock(1999), 1)
  t.equal(lruClock((LRU_CLOCK_MAX + 1) * 1000 + 5000), 5, 'wraps at 2^24 s')
  const now = 1_700_000_000_000
  t.equal(idleMs(lruClock(now - 30_000), now), 30_000)
  // A value written just before the wrap, read just after: Redis's formula
  // clock + (LRU_CLOCK_MAX - lru) ticks.
  const wrapAt = (LRU_CLOCK_MAX + 1) * 1000
  t.equal(idleMs(LRU_CLOCK_MAX - 2, wrapAt + 3000), (3 + 2) * 1000)
  t.equal(lruFromIdleSeconds(10, now), lruClock(now) - 10)
  const early = 5000 // clock 5: an idle time of 10 s underflows, half-way round the clock
  t.equal(lruFromIdleSeconds(10, early), (5 + Math.floor(LRU_CLOCK_MAX / 2)) % LRU_CLOCK_MAX)
})

t.test('LFU: logarithmic increment and decay by lfu-decay-time minutes', async (t) => {
  // p = 1 / ((counter - 5) * factor + 1); at or below LFU_INIT_VAL the increment is certain.
  t.equal(lfuLogIncr(5, 0.999, 10), 6)
  t.equal(lfuLogIncr(0, 0.999, 10), 1)
  t.equal(lfuLogIncr(15, 1 / 101 - 1e-9, 10), 16, 'r just under 1/101')
  t.equal(lfuLogIncr(15, 1 / 101 + 1e-9, 10), 15, 'r just over 1/101')
  t.equal(lfuLogIncr(255, 0, 10), 255, 'saturates')
  t.equal(lfuLogIncr(200, 0.5, 0), 201, 'factor 0: always')
  const now = 1_700_000_000_000
  const word = lfuFromFreq(20, now)
  t.equal(lfuDecayed(word, now, 1), 20)
  t.equal(lfuDecayed(word, now + 3 * 60_000, 1), 17, 'one per minute')
  t.equal(lfuDecayed(word, now + 3 * 60_000, 2), 19, 'one per two minutes')
  t.equal(lfuDecayed(word, now + 3 * 60_000, 0), 20, 'decay time 0: none')
  t.equal(lfuDecayed(word, now + 60 * 60_000, 1), 0, 'never below 0')
  // The minutes wrap at 2^16: elapsed is 65535 - ldt + now.
  const ldt = 65534
  const wrapped = (ldt << 8) | 9
  const nowWrapped = (65536 + 2) * 60_000 // minute 2 of the next round
  t.equal(lfuMinutes(nowWrapped), 2)
  t.equal(lfuDecayed(wrapped, nowWrapped, 1), 9 - (65535 - ldt + 2))
  // touched(): under LFU the decrement time moves to now and the counter decays then grows.
  const saved = { ...accessSettings }
  t.teardown(() => Object.assign(accessSettings, saved))
  Object.assign(accessSettings, { lfu: true, logFactor: 10, decayTime: 1, random: () => 0 })
  const after = touched(lfuFromFreq(10, now), now + 2 * 60_000)
  t.equal(after & 255, 9, '10, decayed by 2, then incremented (r = 0)')
  t.equal(after >>> 8, lfuMinutes(now + 2 * 60_000))
  accessSettings.lfu = false
  t.equal(touched(12345, now), lruClock(now), 'LRU: the clock')
})

t.test('eviction pool: ascending, best on the right, the worst dropped when full', async (t) => {
  const pool = new EvictionPool()
  const rnd = prng(17)
  const inserted: number[] = []
  for (let i = 0; i < 200; i++) {
    const score = Math.floor(rnd() * 1000)
    pool.insert(score, i % 16, `k${i}`)
    inserted.push(score)
    const keys = pool.key.filter((k) => k !== null)
    const scores = Array.from(pool.score.subarray(0, keys.length))
    t.equal(keys.length, Math.min(i + 1, EVPOOL_SIZE), 'filled from the left')
    for (let j = 1; j < scores.length; j++) {
      if ((scores[j - 1] as number) > (scores[j] as number)) t.fail(`not ascending at ${j}`)
    }
  }
  // The highest score ever inserted is kept (it can only be pushed out from the left).
  const best = pool.takeBest((_db, key) => key)
  t.equal(best === null ? -1 : inserted[Number(best.key.slice(1))], Math.max(...inserted))
  // A ghost is skipped and removed.
  const ghost = new EvictionPool()
  ghost.insert(5, 0, 'a')
  ghost.insert(9, 0, 'gone')
  t.same(ghost.takeBest((_db, key) => (key === 'gone' ? null : key)), { db: 0, key: 'a' })
  t.equal(ghost.takeBest((_db, key) => key), null, 'empty')
  // Full pool: a score below every entry is not inserted.
  const full = new EvictionPool()
  for (let i = 0; i < EVPOOL_SIZE; i++) full.insert(100 + i, 0, `f${i}`)
  full.insert(1, 0, 'low')
  t.notOk(full.key.includes('low'))
  full.insert(1000, 0, 'high')
  t.equal(full.key[EVPOOL_SIZE - 1], 'high')
  t.notOk(full.key.includes('f0'), 'the worst dropped')
})

t.test('tenacity: Redis evictionTimeLimitUs', async (t) => {
  t.equal(evictionTimeLimitUs(0), 0)
  t.equal(evictionTimeLimitUs(10), 500)
  t.equal(evictionTimeLimitUs(11), Math.floor(500 * 1.15))
  t.equal(evictionTimeLimitUs(100), Number.POSITIVE_INFINITY)
  t.ok(poolLimitBytes(256 * 1024 * 1024) > 60 * 1024 * 1024, 'a quarter of a 256 MiB ring, less reserves')
})

/** Every invariant of the sampling arrays and the accounting, by a full recount. */
function checkKeyspace(t: Checks, ks: Keyspace): void {
  let mem = 0
  for (let db = 0; db < 16; db++) {
    const map = ks.db(db)
    const seen = new Set<string>()
    for (let i = 0; i < map.size; i++) {
      const key = map.sampleKey(i, false)
      const entry = map.sampleEntry(i, false)
      if (map.get(key) !== entry) t.fail(`slot ${i} of db ${db}`)
      seen.add(key)
    }
    map.check()
    const vseen = new Set<string>()
    for (let i = 0; i < map.volatileSize; i++) {
      const key = map.sampleKey(i, true)
      if (map.get(key) !== map.sampleEntry(i, true) || map.sampleEntry(i, true).expireAtMs === 0) {
        t.fail(`volatile slot ${i} of db ${db}`)
      }
      vseen.add(key)
    }
    if (seen.size !== map.size) t.fail(`db ${db}: ${seen.size} sampled keys, ${map.size} keys`)
    let volatile = 0
    for (const [key, entry] of map) {
      // A string kept in the index (or promoted from it) is counted at its own, lower estimate.
      const kept = entry.type === 0 && entry.mem === keptStringMem(entry.bytes)
      mem += KEY_MEMORY_OVERHEAD + key.length + (kept ? entry.mem : valueMemory(entry))
      if (entry.expireAtMs !== 0) {
        volatile++
        if (!vseen.has(key)) t.fail(`volatile slot of ${key}`)
      } else if (vseen.has(key)) {
        t.fail(`${key} has no expiry but a volatile slot`)
      }
    }
    if (volatile !== map.volatileSize) t.fail(`db ${db}: volatile ${map.volatileSize} != ${volatile}`)
  }
  t.equal(ks.memBytes, mem, 'memBytes equals a recount')
}

t.test('KeyMap sampling arrays and memBytes under seeded changes and undos', async (t) => {
  const ks = new Keyspace()
  const rnd = prng(3)
  const undos: (() => void)[] = []
  for (let step = 0; step < 4000; step++) {
    const db = Math.floor(rnd() * 3)
    const key = `k${Math.floor(rnd() * 300)}`
    const r = rnd()
    const e = r < 0.5 ? putEv(db, key, Buffer.alloc(Math.floor(rnd() * 50)), rnd() < 0.3 ? 1e13 : 0)
      : r < 0.8 ? delEv(db, key) : expireEv(db, key, rnd() < 0.5 ? 0 : 2e13)
    const undo = applyEvent(ks, e)
    if (undo !== null) undos.push(undo)
    // Now and then undo the last few changes, as an aborted transaction does.
    if (rnd() < 0.05) for (let i = 0; i < 5 && undos.length > 0; i++) (undos.pop() as () => void)()
  }
  checkKeyspace(t, ks)
  for (let db = 0; db < 3; db++) for (const key of [...ks.db(db).keys()]) ks.delete(db, key)
  t.equal(ks.memBytes, 0, 'back to 0 when empty')
  t.equal(ks.liveBytes, 0)
  const map = new KeyMap()
  const e = new Entry(TYPE_STRING, Buffer.from('v'), 5, 3)
  map.set('a', e)
  t.equal(map.volatileSize, 1)
  map.setExpiry('a', e, 0)
  t.equal(map.volatileSize, 0)
})

/** An Evictor over a bare keyspace (no server): config, a store-like object, no clients. */
function evictorOver(t: Checks, ks: Keyspace, settings: Record<string, string>): Evictor {
  const config = new ServerConfig()
  t.equal(config.setMany(Object.entries(settings)), null)
  const store = { keyspace: ks, log: { ringBytes: 1 << 30 } } as unknown as Store
  const services = { config, store, pubsub: { keyspaceFlags: 0 } } as unknown as ServerServices
  const ev = new Evictor({ services, clientsMemory: () => 0 })
  ev.configure()
  return ev
}

t.test('the policies choose as Redis does when every key is sampled', async (t) => {
  const now = 1_700_000_000_000
  const ks = new Keyspace()
  for (let i = 0; i < 10; i++) {
    applyEvent(ks, putEv(i % 2, `k${i}`, Buffer.from('v'), i < 5 ? now + 1000 * (10 - i) : 0))
    const entry = ks.get(i % 2, `k${i}`) as Entry
    entry.lru = lruClock(now - 1000 * (i === 7 ? 100 : i)) // k7 idlest; k0 least idle
  }
  const samples = { 'maxmemory-samples': '1000' }
  const lru = evictorOver(t, ks, { ...samples, 'maxmemory-policy': 'allkeys-lru' })
  t.same(lru.pick(ks, now), { db: 1, key: 'k7' }, 'allkeys-lru: the idlest')
  const vlru = evictorOver(t, ks, { ...samples, 'maxmemory-policy': 'volatile-lru' })
  t.same(vlru.pick(ks, now), { db: 0, key: 'k4' }, 'volatile-lru: the idlest with an expiry')
  const ttl = evictorOver(t, ks, { ...samples, 'maxmemory-policy': 'volatile-ttl' })
  t.same(ttl.pick(ks, now), { db: 0, key: 'k4' }, 'volatile-ttl: the soonest expiry')
  for (let i = 0; i < 10; i++) (ks.get(i % 2, `k${i}`) as Entry).lru = lfuFromFreq(i === 3 ? 1 : 50, now)
  const lfu = evictorOver(t, ks, { ...samples, 'maxmemory-policy': 'allkeys-lfu' })
  t.same(lfu.pick(ks, now), { db: 1, key: 'k3' }, 'allkeys-lfu: the least frequent')
  const rnd = evictorOver(t, ks, { 'maxmemory-policy': 'volatile-random' })
  for (let i = 0; i < 20; i++) {
    const p = rnd.pick(ks, now)
    if (p === null || (ks.get(p.db, p.key) as Entry).expireAtMs === 0) t.fail('volatile-random picked a persistent key')
  }
  const none = new Keyspace()
  applyEvent(none, putEv(0, 'p', Buffer.from('v'), 0))
  t.equal(evictorOver(t, none, { 'maxmemory-policy': 'volatile-lru' }).pick(none, now), null,
    'volatile-* with no expiring key: nothing to evict')
})

t.test('pick skips pool candidates changed since they were sampled (ghosts)', async (t) => {
  const now = 1_700_000_000_000
  const ks = new Keyspace()
  // 40 keys in one database, k0 idlest, k39 least idle; a third with an expiry.
  for (let i = 0; i < 40; i++) {
    applyEvent(ks, putEv(0, `k${i}`, Buffer.from('v'), i % 3 === 0 ? now + 1e9 : 0))
    ;(ks.get(0, `k${i}`) as Entry).lru = lruClock(now - 1000 * (100 - i))
  }
  const all = { 'maxmemory-samples': '1000' }
  const ev = evictorOver(t, ks, { ...all, 'maxmemory-policy': 'allkeys-lru' })
  // The first pick samples every key: the 15 next idlest stay in the pool.
  t.same(ev.pick(ks, now), { db: 0, key: 'k0' })
  applyEvent(ks, delEv(0, 'k0'))
  applyEvent(ks, delEv(0, 'k1')) // deleted after it was sampled
  applyEvent(ks, putEv(0, 'k2', Buffer.from('w'), 0)) // overwritten: a fresh entry, not idle
  ;(ks.get(0, 'k2') as Entry).lru = lruClock(now)
  // Deletes move a part's last record into the freed place: every remaining candidate is
  // still found (by its entry), or is a ghost, never another key in its place.
  for (let i = 10; i < 14; i++) applyEvent(ks, delEv(0, `k${i}`))
  // A single sample: the pool's leftovers decide, the one new sample cannot beat them.
  const one = ev as unknown as { samples: number }
  one.samples = 1
  const next = ev.pick(ks, now)
  t.same(next, { db: 0, key: 'k3' }, 'k1 (deleted) and k2 (overwritten) are skipped')
  const volatile = evictorOver(t, ks, { ...all, 'maxmemory-policy': 'volatile-lru' })
  t.same(volatile.pick(ks, now), { db: 0, key: 'k3' }, 'volatile-lru: the idlest with an expiry')
  applyEvent(ks, delEv(0, 'k3'))
  applyEvent(ks, expireEv(0, 'k6', 0)) // PERSIST after it was sampled
  ;(volatile as unknown as { samples: number }).samples = 1
  t.same(volatile.pick(ks, now), { db: 0, key: 'k9' }, 'k6 lost its expiry: skipped')
})

/** Set the access word of `key` (database 0), a string kept in the index, without promoting it. */
function setKeptAccess(ks: Keyspace, key: string, access: number): void {
  const map = ks.db(0)
  const h = map.find(key, keyHash(key))
  if (h === -1 || !map.isValue(h)) throw new Error(`${key} is not a kept string`)
  map.setAccessOf(h, access)
}

/** The keys of database 0 held as Entries (promoted), not kept in the index. */
function promoted(ks: Keyspace): string[] {
  const map = ks.db(0)
  return [...map.keys()].filter((k) => !map.isValue(map.find(k, keyHash(k))))
}

t.test('pick scores strings kept in the index in place: no Entry made, ghosts skipped', async (t) => {
  const now = 1_700_000_000_000
  const ks = new Keyspace()
  for (let i = 0; i < 40; i++) {
    applyEvent(ks, putEv(0, `k${i}`, Buffer.from('v'), i % 3 === 0 ? now + 1e9 - i : 0))
    setKeptAccess(ks, `k${i}`, lruClock(now - 1000 * (100 - i)))
  }
  const all = { 'maxmemory-samples': '1000' }
  const ev = evictorOver(t, ks, { ...all, 'maxmemory-policy': 'allkeys-lru' })
  t.same(ev.pick(ks, now), { db: 0, key: 'k0' }, 'allkeys-lru: the idlest')
  t.same(promoted(ks), [], 'sampling every key promoted none')
  applyEvent(ks, delEv(0, 'k0'))
  applyEvent(ks, delEv(0, 'k1')) // deleted after it was sampled
  applyEvent(ks, putEv(0, 'k2', Buffer.from('w'), 0)) // overwritten: a new access word
  setKeptAccess(ks, 'k2', lruClock(now))
  setKeptAccess(ks, 'k3', lruClock(now)) // read since it was sampled: its score is stale
  for (let i = 10; i < 14; i++) applyEvent(ks, delEv(0, `k${i}`)) // last records move
  ;(ev as unknown as { samples: number }).samples = 1
  t.same(ev.pick(ks, now), { db: 0, key: 'k4' }, 'k1 (deleted), k2 (overwritten), k3 (read) skipped')
  t.same(promoted(ks), [], 'still none promoted')
  const ttl = evictorOver(t, ks, { ...all, 'maxmemory-policy': 'volatile-ttl' })
  t.same(ttl.pick(ks, now), { db: 0, key: 'k39' }, 'volatile-ttl: the soonest expiry')
  applyEvent(ks, expireEv(0, 'k39', 0)) // PERSIST after it was sampled
  ;(ttl as unknown as { samples: number }).samples = 1
  t.same(ttl.pick(ks, now), { db: 0, key: 'k36' }, 'k39 lost its expiry: skipped')
  // A candidate promoted to an Entry after it was sampled is still the same key: live.
  const lfu = evictorOver(t, ks, { ...all, 'maxmemory-policy': 'allkeys-lfu' })
  for (const k of ks.db(0).keys()) {
    const access = lfuFromFreq(k === 'k5' ? 1 : k === 'k6' ? 2 : 50, now)
    if (promoted(ks).includes(k)) (ks.get(0, k) as Entry).lru = access // k39: EXPIRE made one
    else setKeptAccess(ks, k, access)
  }
  t.same(lfu.pick(ks, now), { db: 0, key: 'k5' }, 'allkeys-lfu: the least frequent')
  const e6 = ks.get(0, 'k6') as Entry // promotes k6, access word unchanged
  t.equal(e6.lru, lfuFromFreq(2, now))
  ;(lfu as unknown as { samples: number }).samples = 1
  t.same(lfu.pick(ks, now), { db: 0, key: 'k6' }, 'k6, promoted since, is taken')
})
