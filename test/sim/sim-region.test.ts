// The simulator's crash model is the trusted part of every crash test, so it is tested on its
// own: outstanding chunks and their possible values (DESIGN rule 4), partial writes composing,
// flushes honouring their ranges, store64 never torn, exhaustive enumeration counting the
// product of the choices, targeted shapes beyond the limit, overlays reading like materialized
// images, and image hashes equal exactly for equal images.

import t from 'tap'
import { Prng } from './prng.js'
import { DEFAULT_POLICY, SimRegion, type CrashPolicy, type OverlayImage } from './sim-region.js'

const policy = (overrides: Partial<CrashPolicy> = {}): CrashPolicy =>
  ({ ...DEFAULT_POLICY, ...overrides })

function images(sim: SimRegion, p = policy()): { bytes: Buffer[]; hashes: string[] } {
  const bytes: Buffer[] = []
  const hashes: string[] = []
  sim.forEachImage((img: OverlayImage) => {
    bytes.push(img.materialize())
    hashes.push(`${img.hashA}:${img.hashB}`)
  }, p)
  return { bytes, hashes }
}

const u64 = (b: Buffer, at: number): string => b.subarray(at, at + 8).toString('hex')

t.test('a chunk written since its last flush may hold its durable or any written value', (t) => {
  const sim = new SimRegion(64, policy(), new Prng(1))
  sim.write(8, Buffer.alloc(8, 1), 'blanket')
  sim.write(8, Buffer.alloc(8, 2), 'blanket')
  const { bytes } = images(sim)
  t.same(bytes.map((b) => u64(b, 8)).sort(),
    ['0000000000000000', '0101010101010101', '0202020202020202'], 'three choices')
  t.ok(bytes.every((b) => b.subarray(0, 8).equals(Buffer.alloc(8))), 'other chunks durable')
  t.end()
})

t.test('partial writes to one chunk compose: either half may land alone', (t) => {
  const sim = new SimRegion(16, policy(), new Prng(2))
  sim.write(0, Buffer.alloc(4, 0xaa), 'blanket')
  sim.write(4, Buffer.alloc(4, 0xbb), 'blanket')
  const values = images(sim).bytes.map((b) => u64(b, 0)).sort()
  t.same(values, ['0000000000000000', '00000000bbbbbbbb', 'aaaaaaaa00000000', 'aaaaaaaabbbbbbbb'])
  t.end()
})

t.test('flush makes durable exactly the chunks its range overlaps', (t) => {
  const sim = new SimRegion(64, policy(), new Prng(3))
  sim.write(0, Buffer.alloc(32, 7), 'blanket')
  sim.flush(8, 9) // chunks 1 and 2
  t.equal(sim.outstandingChunks, 2, 'chunks 0 and 3 stay outstanding')
  t.equal(u64(sim.durable, 8), '0707070707070707')
  t.equal(u64(sim.durable, 16), '0707070707070707')
  t.equal(u64(sim.durable, 0), '0000000000000000')
  t.equal(images(sim).bytes.length, 4, 'two outstanding chunks: four images')
  sim.flush(0, 64)
  t.equal(sim.outstandingChunks, 0)
  t.equal(images(sim).bytes.length, 1, 'nothing outstanding: the durable image alone')
  t.end()
})

t.test('the addon\'s flush only starts the write-back: the fence (drain) makes it durable', (t) => {
  const sim = new SimRegion(64, policy(), new Prng(4))
  sim.write(0, Buffer.alloc(16, 9), 'blanket')
  sim.pool.flush(0, 16)
  t.equal(sim.outstandingChunks, 2, 'flushed but not fenced: still outstanding')
  t.equal(images(sim).bytes.length, 4, 'a crash may still keep either value of each chunk')
  sim.write(8, Buffer.alloc(8, 3), 'blanket')
  sim.pool.drain()
  t.equal(sim.outstandingChunks, 1, 'the fence made the flushed chunk durable; the rewritten one not')
  t.equal(u64(sim.durable, 0), '0909090909090909')
  t.equal(u64(sim.durable, 8), '0000000000000000', 'a write after its flush needs a new flush')
  t.end()
})

t.test('a commit runs the addon\'s steps: its records are durable before the word is stored', (t) => {
  const sim = new SimRegion(64, policy(), new Prng(5))
  sim.write(16, Buffer.alloc(24, 5), 'blanket')
  const flushes = sim.stats.flushes
  sim.commit(16, 24, 0, 1, 2)
  t.equal(sim.outstandingChunks, 0, 'records and word durable')
  t.equal(u64(sim.durable, 0), '0100000002000000', 'the word')
  t.equal(sim.stats.flushes - flushes, 2, 'two flushes (records, word) as the addon issues them')
  t.end()
})

t.test('store64 is one chunk: a crash keeps all of it or none', (t) => {
  const sim = new SimRegion(32, policy(), new Prng(4))
  sim.store64(8, 0x11223344, 0x55667788, 'commit')
  const values = images(sim).bytes.map((b) => u64(b, 8)).sort()
  t.same(values, ['0000000000000000', '4433221188776655'])
  t.throws(() => sim.store64(4, 1, 1, 'blanket'), 'unaligned store64 is refused')
  t.end()
})

t.test('exhaustive enumeration visits the product of the choices, each image once', (t) => {
  const sim = new SimRegion(256, policy(), new Prng(5))
  sim.write(0, Buffer.alloc(40, 1), 'blanket') // 5 chunks
  sim.write(0, Buffer.alloc(8, 2), 'blanket') // chunk 0 gets a third value
  const { bytes, hashes } = images(sim)
  t.equal(bytes.length, 3 * 2 ** 4, '3 × 2^4 images')
  t.equal(new Set(bytes.map((b) => b.toString('hex'))).size, bytes.length, 'all distinct')
  t.equal(new Set(hashes).size, hashes.length, 'distinct hashes')
  t.end()
})

t.test('beyond the limit: targeted shapes and seeded random subsets', (t) => {
  const sim = new SimRegion(1024, policy(), new Prng(6))
  for (let i = 0; i < 20; i++) sim.write(i * 8, Buffer.alloc(8, i + 1), 'blanket')
  const p = policy({ exhaustiveLimit: 64, shapeChunks: 4, cuts: 3, random: 5 })
  const { bytes } = images(sim, p)
  const landed = (b: Buffer): number[] => {
    const out: number[] = []
    for (let i = 0; i < 20; i++) if (b[i * 8] !== 0) out.push(i)
    return out
  }
  const shapes = bytes.map((b) => landed(b).join(','))
  t.ok(shapes.includes(''), 'none landed')
  t.ok(shapes.includes([...Array(20).keys()].join(',')), 'all landed')
  t.ok(shapes.includes('0'), 'the first chunk alone')
  t.ok(shapes.includes([...Array(19).keys()].map((i) => i + 1).join(',')), 'all but the first')
  t.ok(shapes.some((s) => s === [...Array(5).keys()].join(',')), 'a write-order prefix')
  t.ok(shapes.some((s) => s === [...Array(5).keys()].map((i) => i + 15).join(',')),
    'a write-order suffix')
  t.equal(bytes.length, 2 + 4 * 2 + 3 * 2 + 5,
    'none, all, 4 × (alone, all-but-one), 3 cuts × (prefix, suffix), 5 random')
  t.end()
})

t.test('overlays read exactly like the materialized image', (t) => {
  const rng = new Prng(7)
  const sim = new SimRegion(512, policy({ exhaustiveLimit: 1, random: 20 }), rng)
  sim.write(0, rng.bytes(512), 'blanket')
  sim.flush(0, 512)
  for (let i = 0; i < 12; i++) sim.write(rng.int(60) * 8, rng.bytes(8 * rng.range(1, 3)), 'blanket')
  let checked = 0
  sim.forEachImage((img) => {
    const full = img.materialize()
    for (let k = 0; k < 50; k++) {
      const off = rng.int(512)
      const len = rng.int(512 - off + 1)
      if (!img.read(off, len).equals(full.subarray(off, off + len))) t.fail(`read ${off}+${len}`)
      checked++
    }
  })
  t.ok(checked > 0, `${checked} reads compared`)
  t.end()
})

t.test('image hashes follow the bytes, whatever history made them', (t) => {
  const a = new SimRegion(128, policy(), new Prng(8))
  const b = new SimRegion(128, policy(), new Prng(8))
  a.write(0, Buffer.alloc(16, 3), 'blanket')
  a.flush(0, 128)
  b.write(0, Buffer.alloc(8, 3), 'blanket')
  b.flush(0, 8)
  b.write(8, Buffer.alloc(8, 3), 'blanket') // outstanding: images with and without it
  const ha = images(a).hashes
  const hb = images(b).hashes
  t.equal(ha.length, 1)
  t.ok(hb.includes(ha[0] as string), 'the image equal to a\'s durable bytes has a\'s hash')
  t.equal(new Set(hb).size, 2)
  t.end()
})
