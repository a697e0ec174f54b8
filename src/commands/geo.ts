// The geo commands (Redis 7.0.15 geo.c) on sorted sets whose scores are 52-bit geohashes
// (geohash.ts): GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUSBYMEMBER (and _RO) GEOSEARCH
// GEOSEARCHSTORE.
// Invariants, and why:
// - GEOADD is ZADD of the encoded scores (its options, replies and events are ZADD's), so a geo
//   set is an ordinary sorted set with nothing new to log.
// - A search scans the cells Redis scans, in Redis's order, over the score range of each cell,
//   so an unsorted reply (no ASC/DESC, no COUNT, or ANY) lists the members in Redis's order.
//   Sorting by distance is stable (glibc's qsort of this size is a merge sort).
// - The STORE forms build the result and store it as one RESTORE of a fresh sorted set (or a
//   DEL when empty), notified as georadiusstore / geosearchstore: one transaction.
// - Distances are replied with 4 decimals (Redis's fixedpoint_d2string: llrint, ties to even);
//   coordinates as "%.17Lf" with trailing zeros trimmed.

import { TYPE_ZSET, type Entry } from '../state/keyspace.js'
import { ZSet } from '../state/zset.js'
import { doubleOrReply, lookupOfType } from './coll-util.js'
import {
  GEO_LAT_MAX, GEO_LAT_MIN, GEO_LONG_MAX, GEO_LONG_MIN, GEO_STEP_MAX, WGS84_LAT, WGS84_LON,
  cellScoreRange, decodeScore, distanceInShape, geoDistance, geohashEncode, scoreText,
  searchCells, type Cell, type Shape,
} from './geohash.js'
import { commandSpec } from './list.js'
import { asReader } from './lookup.js'
import { optionName, parseInt64 } from './numeric.js'
import {
  ERR_SYNTAX, keyOf, type CommandContext, type CommandSpec, type Handler, type ReplySink,
} from './spec.js'
import { storeZSet, zsetCommands } from './zset.js'

/** C's printf %f. */
function fixed6(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf'
  if (Math.abs(x) >= 1e21) return `${BigInt(x).toString()}.000000`
  const s = x.toFixed(6)
  return Object.is(x, -0) || (x < 0 && !s.startsWith('-')) ? `-${s}` : s
}

/** extractLongLatOrReply: [lon, lat] of argv[i], argv[i+1]; null after the error. */
function lonLatOrReply(ctx: CommandContext, argv: Buffer[], i: number): [number, number] | null {
  const lon = doubleOrReply(ctx, argv[i] as Buffer)
  if (lon === null) return null
  const lat = doubleOrReply(ctx, argv[i + 1] as Buffer)
  if (lat === null) return null
  if (lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX) {
    ctx.reply.error(`ERR invalid longitude,latitude pair ${fixed6(lon)},${fixed6(lat)}`)
    return null
  }
  return [lon, lat]
}

/** extractUnitOrReply: meters per unit; null after the error. */
function unitOrReply(ctx: CommandContext, arg: Buffer): number | null {
  const u = optionName(arg)
  const m = u === 'm' ? 1 : u === 'km' ? 1000 : u === 'ft' ? 0.3048 : u === 'mi' ? 1609.34 : -1
  if (m < 0) {
    ctx.reply.error('ERR unsupported unit provided. please use M, KM, FT, MI')
    return null
  }
  return m
}

/** fixedpoint_d2string(d, 4): llrint(d * 10^4) (ties to even) printed with 4 decimals. */
export function distanceText(d: number): string {
  if (d === 0) return '0.0000'
  const scaled = d * 10000
  let r = Math.round(scaled)
  if (Math.abs(scaled % 1) === 0.5 && r % 2 !== 0) r -= 1 // ties to even (Math.round goes up)
  const neg = r < 0
  const v = BigInt(Math.abs(r)).toString().padStart(5, '0')
  return `${neg ? '-' : ''}${v.slice(0, -4)}.${v.slice(-4)}`
}

/** ld2string(LD_STR_HUMAN) of a double: "%.17Lf", trailing zeros and point trimmed. */
function humanText(x: number): string {
  let s = x.toFixed(17)
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '')
  return s === '-0' ? '-0' : s
}

function humanDouble(reply: ReplySink, x: number): void {
  if (reply.doubleText !== undefined) reply.doubleText(humanText(x))
  else reply.double(x)
}

// ---------------------------------------------------------------------------------------------
// GEOADD GEODIST GEOHASH GEOPOS

const zaddHandler = (zsetCommands.find((s) => s.name === 'zadd') as CommandSpec).handler

/** GEOADD key [NX|XX] [CH] longitude latitude member [...]: ZADD of the encoded scores. */
const geoaddCommand: Handler = (ctx, argv) => {
  let longIdx = 2
  let nx = false
  let xx = false
  for (; longIdx < argv.length; longIdx++) {
    const opt = optionName(argv[longIdx] as Buffer)
    if (opt === 'nx') nx = true
    else if (opt === 'xx') xx = true
    else if (opt !== 'ch') break
  }
  if ((argv.length - longIdx) % 3 !== 0 || (xx && nx)) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const zargv: Buffer[] = [Buffer.from('zadd'), ...argv.slice(1, longIdx)]
  for (let i = longIdx; i < argv.length; i += 3) {
    const xy = lonLatOrReply(ctx, argv, i)
    if (xy === null) return
    const cell = geohashEncode(WGS84_LON, WGS84_LAT, xy[0], xy[1], GEO_STEP_MAX) as Cell
    zargv.push(Buffer.from(scoreText(cell)), argv[i + 2] as Buffer)
  }
  zaddHandler(ctx, zargv)
}

/** The sorted set at argv[1] for reading: undefined when missing, null after WRONGTYPE. */
function geoSetOrReply(ctx: CommandContext, key: Buffer): ZSet | undefined | null {
  const e = lookupOfType(asReader(ctx), keyOf(key), TYPE_ZSET)
  if (e === false) return null
  return e === null ? undefined : (e as Entry).value as ZSet
}

const geodistCommand: Handler = (ctx, argv) => {
  let toMeter = 1
  if (argv.length === 5) {
    const u = unitOrReply(ctx, argv[4] as Buffer)
    if (u === null) return
    toMeter = u
  } else if (argv.length > 5) {
    ctx.reply.error(ERR_SYNTAX)
    return
  }
  const z = geoSetOrReply(ctx, argv[1] as Buffer)
  if (z === null) return
  const s1 = z?.score(keyOf(argv[2] as Buffer))
  const s2 = z?.score(keyOf(argv[3] as Buffer))
  if (s1 === undefined || s2 === undefined) {
    ctx.reply.nullBulk()
    return
  }
  const a = decodeScore(s1)
  const b = decodeScore(s2)
  ctx.reply.bulk(distanceText(geoDistance(a[0], a[1], b[0], b[1]) / toMeter))
}

const GEOALPHABET = '0123456789bcdefghjkmnpqrstuvwxyz'

/**
 * GEOHASH's and GEOPOS's shape: an array with one element per member argv[2..] of the geo set
 * argv[1], `missing()` for a member that is not there, `found(lon, lat)` for one that is.
 */
function eachMemberPosition(
  ctx: CommandContext, argv: Buffer[], missing: () => void,
  found: (lon: number, lat: number) => void,
): void {
  const z = geoSetOrReply(ctx, argv[1] as Buffer)
  if (z === null) return
  ctx.reply.arrayHeader(argv.length - 2)
  for (let j = 2; j < argv.length; j++) {
    const score = z?.score(keyOf(argv[j] as Buffer))
    if (score === undefined) {
      missing()
      continue
    }
    const [lon, lat] = decodeScore(score)
    found(lon, lat)
  }
}

const geohashCommand: Handler = (ctx, argv) => {
  eachMemberPosition(ctx, argv, () => ctx.reply.nullBulk(), (lon, lat) => {
    const cell = geohashEncode({ min: -180, max: 180 }, { min: -90, max: 90 }, lon, lat, 26)
    const bits = cell === null ? 0n : BigInt(scoreText(cell))
    let text = ''
    for (let i = 0; i < 11; i++) {
      const idx = i === 10 ? 0 : Number((bits >> BigInt(52 - (i + 1) * 5)) & 0x1fn)
      text += GEOALPHABET[idx] as string
    }
    ctx.reply.bulk(text)
  })
}

const geoposCommand: Handler = (ctx, argv) => {
  eachMemberPosition(ctx, argv, () => ctx.reply.nullArray(), (lon, lat) => {
    ctx.reply.arrayHeader(2)
    humanDouble(ctx.reply, lon)
    humanDouble(ctx.reply, lat)
  })
}

// ---------------------------------------------------------------------------------------------
// GEORADIUS GEORADIUSBYMEMBER GEOSEARCH GEOSEARCHSTORE

const RADIUS_COORDS = 1
const RADIUS_MEMBER = 2
const RADIUS_NOSTORE = 4
const GEOSEARCH = 8
const GEOSEARCHSTORE = 16

interface Search {
  shape: Shape
  storeKey: string | null
  storeDist: boolean
  withDist: boolean
  withHash: boolean
  withCoords: boolean
  sort: 'none' | 'asc' | 'desc'
  any: boolean
  count: number
  fromMember: boolean
  fromLoc: boolean
  byRadius: boolean
  byBox: boolean
}

interface Point { member: string; score: number; lon: number; lat: number; dist: number }

const ERR_DECODE_MEMBER = 'ERR could not decode requested zset member'

/** The member's coordinates as the search centre; false after the error. */
function centreOfMember(ctx: CommandContext, z: ZSet, member: Buffer, s: Shape): boolean {
  const score = z.score(keyOf(member))
  if (score === undefined) {
    ctx.reply.error(ERR_DECODE_MEMBER)
    return false
  }
  [s.lon, s.lat] = decodeScore(score)
  return true
}

/** extractDistanceOrReply into the shape (a circle); false after the error. */
function radiusOrReply(ctx: CommandContext, argv: Buffer[], i: number, s: Shape): boolean {
  const r = doubleOrReply(ctx, argv[i] as Buffer, 'ERR need numeric radius')
  if (r === null) return false
  if (r < 0) {
    ctx.reply.error('ERR radius cannot be negative')
    return false
  }
  const unit = unitOrReply(ctx, argv[i + 1] as Buffer)
  if (unit === null) return false
  s.circle = true
  s.radius = r
  s.conversion = unit
  return true
}

/** extractBoxOrReply into the shape; false after the error. */
function boxOrReply(ctx: CommandContext, argv: Buffer[], i: number, s: Shape): boolean {
  const w = doubleOrReply(ctx, argv[i] as Buffer, 'ERR need numeric width')
  if (w === null) return false
  const h = doubleOrReply(ctx, argv[i + 1] as Buffer, 'ERR need numeric height')
  if (h === null) return false
  if (h < 0 || w < 0) {
    ctx.reply.error('ERR height or width cannot be negative')
    return false
  }
  const unit = unitOrReply(ctx, argv[i + 2] as Buffer)
  if (unit === null) return false
  s.circle = false
  s.width = w
  s.height = h
  s.conversion = unit
  return true
}

/** One optional argument at argv[i] (georadiusGeneric's loop); the next index, or -1 on error. */
function searchOption(ctx: CommandContext, argv: Buffer[], i: number, flags: number,
  z: ZSet | undefined, o: Search): number {
  const arg = optionName(argv[i] as Buffer)
  const remaining = argv.length - i - 1
  const search = (flags & GEOSEARCH) !== 0
  const storeOk = (flags & RADIUS_NOSTORE) === 0 && !search
  if (arg === 'withdist') o.withDist = true
  else if (arg === 'withhash') o.withHash = true
  else if (arg === 'withcoord') o.withCoords = true
  else if (arg === 'any') o.any = true
  else if (arg === 'asc') o.sort = 'asc'
  else if (arg === 'desc') o.sort = 'desc'
  else if (arg === 'count' && remaining >= 1) {
    const n = parseInt64(argv[i + 1] as Buffer)
    if (n === null) return fail(ctx, 'ERR value is not an integer or out of range')
    if (n <= 0) return fail(ctx, 'ERR COUNT must be > 0')
    o.count = Number(n)
    return i + 2
  } else if ((arg === 'store' || arg === 'storedist') && remaining >= 1 && storeOk) {
    o.storeKey = keyOf(argv[i + 1] as Buffer)
    o.storeDist = arg === 'storedist'
    return i + 2
  } else if (arg === 'storedist' && search && (flags & GEOSEARCHSTORE) !== 0) {
    o.storeDist = true
  } else if (arg === 'frommember' && remaining >= 1 && search && !o.fromLoc) {
    if (z !== undefined && !centreOfMember(ctx, z, argv[i + 1] as Buffer, o.shape)) return -1
    o.fromMember = true
    return i + 2
  } else if (arg === 'fromlonlat' && remaining >= 2 && search && !o.fromMember) {
    const xy = lonLatOrReply(ctx, argv, i + 1)
    if (xy === null) return -1
    ;[o.shape.lon, o.shape.lat] = xy
    o.fromLoc = true
    return i + 3
  } else if (arg === 'byradius' && remaining >= 2 && search && !o.byBox) {
    if (!radiusOrReply(ctx, argv, i + 1, o.shape)) return -1
    o.byRadius = true
    return i + 3
  } else if (arg === 'bybox' && remaining >= 3 && search && !o.byRadius) {
    if (!boxOrReply(ctx, argv, i + 1, o.shape)) return -1
    o.byBox = true
    return i + 4
  } else {
    return fail(ctx, ERR_SYNTAX)
  }
  return i + 1
}

function fail(ctx: CommandContext, msg: string): number {
  ctx.reply.error(msg)
  return -1
}

/** georadiusGeneric's fixed arguments: the centre and radius of GEORADIUS*; false on error. */
function fixedArgsOrReply(ctx: CommandContext, argv: Buffer[], flags: number, z: ZSet | undefined,
  o: Search): number {
  if ((flags & RADIUS_COORDS) !== 0) {
    const xy = lonLatOrReply(ctx, argv, 2)
    if (xy === null) return -1
    ;[o.shape.lon, o.shape.lat] = xy
    return radiusOrReply(ctx, argv, 4, o.shape) ? 6 : -1
  }
  if ((flags & RADIUS_MEMBER) !== 0) {
    if (z === undefined) return 5
    if (!centreOfMember(ctx, z, argv[2] as Buffer, o.shape)) return -1
    return radiusOrReply(ctx, argv, 3, o.shape) ? 5 : -1
  }
  if ((flags & GEOSEARCHSTORE) !== 0) {
    o.storeKey = keyOf(argv[1] as Buffer)
    return 3
  }
  return 2
}

/** The whole request parsed and checked in Redis's order; null after the error. */
function searchOrReply(ctx: CommandContext, argv: Buffer[], flags: number,
  z: ZSet | undefined): Search | null {
  const o: Search = {
    shape: { circle: true, lon: 0, lat: 0, radius: 0, width: 0, height: 0, conversion: 1 },
    storeKey: null, storeDist: false, withDist: false, withHash: false, withCoords: false,
    sort: 'none', any: false, count: 0, fromMember: false, fromLoc: false, byRadius: false,
    byBox: false,
  }
  let i = fixedArgsOrReply(ctx, argv, flags, z, o)
  while (i >= 0 && i < argv.length) i = searchOption(ctx, argv, i, flags, z, o)
  if (i < 0) return null
  const name = (argv[0] as Buffer).toString('latin1')
  let error: string | null = null
  if (o.storeKey !== null && (o.withDist || o.withHash || o.withCoords)) {
    error = `ERR ${(flags & GEOSEARCHSTORE) !== 0 ? 'GEOSEARCHSTORE' : 'STORE option in GEORADIUS'}` +
      ' is not compatible with WITHDIST, WITHHASH and WITHCOORD options'
  } else if ((flags & GEOSEARCH) !== 0 && !(o.fromMember || o.fromLoc)) {
    error = `ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ${name}`
  } else if ((flags & GEOSEARCH) !== 0 && !(o.byRadius || o.byBox)) {
    error = `ERR exactly one of BYRADIUS and BYBOX can be specified for ${name}`
  } else if (o.any && o.count === 0) {
    error = 'ERR the ANY argument requires COUNT argument'
  }
  if (error !== null) {
    ctx.reply.error(error)
    return null
  }
  return o
}

/** membersOfAllNeighbors: the points inside the shape, cell by cell in Redis's order. */
function searchPoints(z: ZSet, shape: Shape, limit: number): Point[] {
  const cells = searchCells(shape)
  const found: Point[] = []
  let last = 0
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]
    if (c === null || c === undefined) continue
    const prev = cells[last]
    // Redis compares with the last processed cell only once one other than the centre was.
    if (last !== 0 && prev !== null && prev !== undefined && c.lat === prev.lat &&
      c.lon === prev.lon && c.step === prev.step) continue
    if (found.length > 0 && limit > 0 && found.length >= limit) break
    const [min, max] = cellScoreRange(c)
    let node = z.firstInScoreRange({ min, max, minex: false, maxex: true })
    while (node !== null && node.score < max) {
      const [lon, lat] = decodeScore(node.score)
      const dist = distanceInShape(shape, lon, lat)
      if (dist !== null) found.push({ member: node.member, score: node.score, lon, lat, dist })
      if (found.length > 0 && limit > 0 && found.length >= limit) break
      node = node.next[0] ?? null
    }
    last = i
  }
  return found
}

function replyPoints(ctx: CommandContext, o: Search, points: Point[], n: number): void {
  const options = (o.withDist ? 1 : 0) + (o.withCoords ? 1 : 0) + (o.withHash ? 1 : 0)
  ctx.reply.arrayHeader(n)
  for (let i = 0; i < n; i++) {
    const p = points[i] as Point
    if (options > 0) ctx.reply.arrayHeader(options + 1)
    ctx.reply.bulk(Buffer.from(p.member, 'latin1'))
    if (o.withDist) ctx.reply.bulk(distanceText(p.dist / o.shape.conversion))
    if (o.withHash) ctx.reply.integer(BigInt(Math.trunc(p.score)))
    if (o.withCoords) {
      ctx.reply.arrayHeader(2)
      humanDouble(ctx.reply, p.lon)
      humanDouble(ctx.reply, p.lat)
    }
  }
}

function georadiusGeneric(ctx: CommandContext, argv: Buffer[], srcIndex: number,
  flags: number): void {
  const z = geoSetOrReply(ctx, argv[srcIndex] as Buffer)
  if (z === null) return
  const o = searchOrReply(ctx, argv, flags, z)
  if (o === null) return
  const db = ctx.client.db
  if (z === undefined) {
    if (o.storeKey !== null) {
      storeZSet(ctx, db, o.storeKey, new ZSet(), '')
      ctx.reply.integer(0)
    } else {
      ctx.reply.arrayHeader(0)
    }
    return
  }
  if (o.count !== 0 && o.sort === 'none' && !o.any) o.sort = 'asc'
  const points = searchPoints(z, o.shape, o.any ? o.count : 0)
  if (points.length === 0 && o.storeKey === null) {
    ctx.reply.arrayHeader(0)
    return
  }
  const n = o.count === 0 || points.length < o.count ? points.length : o.count
  if (o.sort === 'asc') points.sort((a, b) => (a.dist > b.dist ? 1 : a.dist === b.dist ? 0 : -1))
  if (o.sort === 'desc') points.sort((a, b) => (a.dist < b.dist ? 1 : a.dist === b.dist ? 0 : -1))
  if (o.storeKey === null) {
    replyPoints(ctx, o, points, n)
    return
  }
  const result = new ZSet()
  for (let i = 0; i < n; i++) {
    const p = points[i] as Point
    result.add(p.member, o.storeDist ? p.dist / o.shape.conversion : p.score)
  }
  storeZSet(ctx, db, o.storeKey, result,
    (flags & GEOSEARCH) !== 0 ? 'geosearchstore' : 'georadiusstore')
  ctx.reply.integer(n)
}

/** georadiusGetKeys: the source and the last STORE / STOREDIST key. */
function georadiusKeys(from: number): (argv: readonly Buffer[]) => number[] {
  return (argv) => {
    let store = -1
    for (let i = from; i < argv.length; i++) {
      const a = optionName(argv[i] as Buffer)
      if ((a === 'store' || a === 'storedist') && i + 1 < argv.length) {
        store = i + 1
        i++
      }
    }
    return store < 0 ? [1] : [1, store]
  }
}

const G = (name: string, arity: number, write: boolean, handler: Handler,
  extra: Partial<Pick<CommandSpec, 'keys'>> = {}, first = 1, last = 1): CommandSpec =>
  commandSpec(name, arity, write ? ['write', 'denyoom'] : ['readonly'], first, last, 1,
    [write ? 'write' : 'read', 'geo', 'slow'], handler, extra)

export const geoCommands: CommandSpec[] = [
  G('geoadd', -5, true, geoaddCommand),
  G('geodist', -4, false, geodistCommand),
  G('geohash', -2, false, geohashCommand),
  G('geopos', -2, false, geoposCommand),
  commandSpec('georadius', -6, ['write', 'denyoom', 'movablekeys'], 1, 1, 1,
    ['write', 'geo', 'slow'], (ctx, argv) => georadiusGeneric(ctx, argv, 1, RADIUS_COORDS),
    { keys: georadiusKeys(5) }),
  commandSpec('georadiusbymember', -5, ['write', 'denyoom', 'movablekeys'], 1, 1, 1,
    ['write', 'geo', 'slow'], (ctx, argv) => georadiusGeneric(ctx, argv, 1, RADIUS_MEMBER),
    { keys: georadiusKeys(5) }),
  G('georadius_ro', -6, false,
    (ctx, argv) => georadiusGeneric(ctx, argv, 1, RADIUS_COORDS | RADIUS_NOSTORE)),
  G('georadiusbymember_ro', -5, false,
    (ctx, argv) => georadiusGeneric(ctx, argv, 1, RADIUS_MEMBER | RADIUS_NOSTORE)),
  G('geosearch', -7, false, (ctx, argv) => georadiusGeneric(ctx, argv, 1, GEOSEARCH)),
  G('geosearchstore', -8, true,
    (ctx, argv) => georadiusGeneric(ctx, argv, 2, GEOSEARCH | GEOSEARCHSTORE), {}, 1, 2),
]
