// Redis 7.0.15's geohash arithmetic (geohash.c, geohash_helper.c), written from its description:
// the 52-bit interleaved score of a point, the cells a radius or box search scans, and the
// haversine distance. The sorted set's scores are these hashes, so the same GEOADD gives the same
// score in both servers, and a search scans the same cells in the same order (its unsorted reply
// order is Redis's).
// Invariants:
// - A cell is (lat index, lon index, step): the hash interleaves them, latitude in the even bits
//   and longitude in the odd ones. Indexes are kept as Redis computes them (a point on the
//   range's upper edge gets index 2^step, one past the last cell, as Redis's does); moving to a
//   neighbour wraps the moved index modulo 2^step.
// - Floating point follows Redis's expressions operation by operation (double precision).

export const GEO_STEP_MAX = 26
export const GEO_LAT_MIN = -85.05112878
export const GEO_LAT_MAX = 85.05112878
export const GEO_LONG_MIN = -180
export const GEO_LONG_MAX = 180
const D_R = Math.PI / 180.0
const EARTH_RADIUS_IN_METERS = 6372797.560856
const MERCATOR_MAX = 20037726.37

export interface Cell { lat: number; lon: number; step: number }
interface Range { min: number; max: number }
export interface Area { lat: Range; lon: Range }

export const WGS84_LAT: Range = { min: GEO_LAT_MIN, max: GEO_LAT_MAX }
export const WGS84_LON: Range = { min: GEO_LONG_MIN, max: GEO_LONG_MAX }

const deg2rad = (a: number): number => a * D_R
const rad2deg = (a: number): number => a / D_R

/** geohashEncode: the cell of a point at `step`, or null out of the ranges. */
export function geohashEncode(lonRange: Range, latRange: Range, lon: number, lat: number,
  step: number): Cell | null {
  if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN) {
    return null
  }
  if (lat < latRange.min || lat > latRange.max || lon < lonRange.min || lon > lonRange.max) {
    return null
  }
  let latOffset = (lat - latRange.min) / (latRange.max - latRange.min)
  let lonOffset = (lon - lonRange.min) / (lonRange.max - lonRange.min)
  latOffset *= 2 ** step
  lonOffset *= 2 ** step
  return { lat: Math.trunc(latOffset) >>> 0, lon: Math.trunc(lonOffset) >>> 0, step }
}

/** The interleaved bits of a cell as [hi, lo] 32-bit halves (latitude in the even bits). */
function interleave(lat: number, lon: number): [number, number] {
  let hi = 0
  let lo = 0
  for (let i = 0; i < 32; i++) {
    const a = (lat >>> i) & 1
    const b = (lon >>> i) & 1
    if (i < 16) lo |= (a << (2 * i)) | (b << (2 * i + 1))
    else hi |= (a << (2 * i - 32)) | (b << (2 * i - 31))
  }
  return [hi >>> 0, lo >>> 0]
}

/** The cell's bits as a number (exact while below 2^53; every step <= 26 cell of a score is). */
export function cellBits(c: Cell): number {
  const [hi, lo] = interleave(c.lat, c.lon)
  return hi * 2 ** 32 + lo
}

/** geohashAlign52Bits as Redis's decimal text of the 64-bit integer. */
export function scoreText(c: Cell): string {
  const [hi, lo] = interleave(c.lat, c.lon)
  return ((BigInt(hi) << 32n | BigInt(lo)) << BigInt(52 - c.step * 2)).toString()
}

/** (uint64_t)score: C's conversion on x86-64, out-of-range values as its 2^63 result. */
function scoreHalves(score: number): [number, number] {
  const t = Math.trunc(score)
  if (t >= 0 && t < 2 ** 64) {
    const hi = Math.floor(t / 2 ** 32)
    return [hi >>> 0, (t - hi * 2 ** 32) >>> 0]
  }
  if (t < 0 && t > -(2 ** 63)) {
    const u = BigInt.asUintN(64, BigInt(t))
    return [Number(u >> 32n) >>> 0, Number(u & 0xffffffffn) >>> 0]
  }
  return [0x80000000, 0]
}

/** deinterleave64 of a sorted-set score: the cell at step 26 (32-bit indexes as Redis's). */
export function cellOfScore(score: number): Cell {
  const [hi, lo] = scoreHalves(score)
  let lat = 0
  let lon = 0
  for (let i = 0; i < 16; i++) {
    lat |= ((lo >>> (2 * i)) & 1) << i
    lon |= ((lo >>> (2 * i + 1)) & 1) << i
    lat |= ((hi >>> (2 * i)) & 1) << (i + 16)
    lon |= ((hi >>> (2 * i + 1)) & 1) << (i + 16)
  }
  return { lat: lat >>> 0, lon: lon >>> 0, step: GEO_STEP_MAX }
}

/** geohashDecode: the cell's area. */
export function geohashDecode(lonRange: Range, latRange: Range, c: Cell): Area {
  const latScale = latRange.max - latRange.min
  const lonScale = lonRange.max - lonRange.min
  const div = 2 ** c.step
  return {
    lat: { min: latRange.min + (c.lat * 1.0 / div) * latScale,
      max: latRange.min + (((c.lat + 1) >>> 0) * 1.0 / div) * latScale },
    lon: { min: lonRange.min + (c.lon * 1.0 / div) * lonScale,
      max: lonRange.min + (((c.lon + 1) >>> 0) * 1.0 / div) * lonScale },
  }
}

/** decodeGeohash of a score: [longitude, latitude], the centre of its cell, clamped. */
export function decodeScore(score: number): [number, number] {
  const a = geohashDecode(WGS84_LON, WGS84_LAT, cellOfScore(score))
  let x = (a.lon.min + a.lon.max) / 2
  if (x > GEO_LONG_MAX) x = GEO_LONG_MAX
  if (x < GEO_LONG_MIN) x = GEO_LONG_MIN
  let y = (a.lat.min + a.lat.max) / 2
  if (y > GEO_LAT_MAX) y = GEO_LAT_MAX
  if (y < GEO_LAT_MIN) y = GEO_LAT_MIN
  return [x, y]
}

/** The neighbour of a cell moved by dx (longitude) and dy (latitude) cells. */
function moved(c: Cell, dx: number, dy: number): Cell {
  const mask = c.step === 32 ? 0xffffffff : 2 ** c.step - 1
  const lon = dx === 0 ? c.lon : ((c.lon + dx) & mask) >>> 0
  const lat = dy === 0 ? c.lat : ((c.lat + dy) & mask) >>> 0
  return { lat, lon, step: c.step }
}

function lonLatDistance(lat1d: number, lat2d: number): number {
  return EARTH_RADIUS_IN_METERS * Math.abs(deg2rad(lat2d) - deg2rad(lat1d))
}

/** geohashGetDistance: haversine on Redis's earth radius, in meters. */
export function geoDistance(lon1d: number, lat1d: number, lon2d: number, lat2d: number): number {
  const lon1r = deg2rad(lon1d)
  const lon2r = deg2rad(lon2d)
  const v = Math.sin((lon2r - lon1r) / 2)
  if (v === 0.0) return lonLatDistance(lat1d, lat2d)
  const lat1r = deg2rad(lat1d)
  const lat2r = deg2rad(lat2d)
  const u = Math.sin((lat2r - lat1r) / 2)
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v
  return 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(a))
}

/** A search: a circle (radius) or a box (width, height), in units of `conversion` meters. */
export interface Shape {
  circle: boolean
  lon: number
  lat: number
  radius: number
  width: number
  height: number
  conversion: number
}

/** geoWithinShape's test of a point: its distance when inside, else null. */
export function distanceInShape(s: Shape, lon: number, lat: number): number | null {
  if (s.circle) {
    const d = geoDistance(s.lon, s.lat, lon, lat)
    return d > s.radius * s.conversion ? null : d
  }
  const widthM = s.width * s.conversion
  const heightM = s.height * s.conversion
  if (lonLatDistance(s.lat, lat) > heightM / 2) return null
  if (geoDistance(lon, lat, s.lon, lat) > widthM / 2) return null
  return geoDistance(s.lon, s.lat, lon, lat)
}

function estimateSteps(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26
  let step = 1
  while (rangeMeters < MERCATOR_MAX) {
    rangeMeters *= 2
    step++
  }
  step -= 2
  if (lat > 66 || lat < -66) {
    step--
    if (lat > 80 || lat < -80) step--
  }
  return Math.min(26, Math.max(1, step))
}

/** geohashBoundingBox: [min lon, min lat, max lon, max lat]. */
function boundingBox(s: Shape): [number, number, number, number] {
  const height = s.conversion * (s.circle ? s.radius : s.height / 2)
  const width = s.conversion * (s.circle ? s.radius : s.width / 2)
  const latDelta = rad2deg(height / EARTH_RADIUS_IN_METERS)
  const lonDeltaTop = rad2deg(width / EARTH_RADIUS_IN_METERS / Math.cos(deg2rad(s.lat + latDelta)))
  const lonDeltaBottom = rad2deg(width / EARTH_RADIUS_IN_METERS /
    Math.cos(deg2rad(s.lat - latDelta)))
  const south = s.lat < 0
  return [south ? s.lon - lonDeltaBottom : s.lon - lonDeltaTop, s.lat - latDelta,
    south ? s.lon + lonDeltaBottom : s.lon + lonDeltaTop, s.lat + latDelta]
}

/**
 * geohashCalculateAreasByShapeWGS84 and membersOfAllNeighbors' order: the cells to scan (centre,
 * N, S, E, W, NE, NW, SE, SW), null for the ones excluded.
 */
export function searchCells(s: Shape): (Cell | null)[] {
  const [minLon, minLat, maxLon, maxLat] = boundingBox(s)
  const radiusM = s.conversion * (s.circle ? s.radius
    : Math.sqrt((s.width / 2) * (s.width / 2) + (s.height / 2) * (s.height / 2)))
  let steps = estimateSteps(radiusM, s.lat)
  let hash = geohashEncode(WGS84_LON, WGS84_LAT, s.lon, s.lat, steps) as Cell
  const around = (h: Cell): Cell[] => [h, moved(h, 0, 1), moved(h, 0, -1), moved(h, 1, 0),
    moved(h, -1, 0), moved(h, 1, 1), moved(h, -1, 1), moved(h, 1, -1), moved(h, -1, -1)]
  let cells = around(hash)
  const decode = (c: Cell): Area => geohashDecode(WGS84_LON, WGS84_LAT, c)
  const [, north, south, east, west] = cells as [Cell, Cell, Cell, Cell, Cell]
  const decrease = decode(north).lat.max < maxLat || decode(south).lat.min > minLat ||
    decode(east).lon.max < maxLon || decode(west).lon.min > minLon
  if (steps > 1 && decrease) {
    steps--
    hash = geohashEncode(WGS84_LON, WGS84_LAT, s.lon, s.lat, steps) as Cell
    cells = around(hash)
  }
  const area = decode(hash)
  const out: (Cell | null)[] = cells
  if (steps >= 2) {
    // indexes: 0 centre, 1 N, 2 S, 3 E, 4 W, 5 NE, 6 NW, 7 SE, 8 SW
    const drop = (...i: number[]): void => { for (const k of i) out[k] = null }
    if (area.lat.min < minLat) drop(2, 8, 7)
    if (area.lat.max > maxLat) drop(1, 5, 6)
    if (area.lon.min < minLon) drop(4, 8, 6)
    if (area.lon.max > maxLon) drop(3, 7, 5)
  }
  return out
}

/** scoresOfGeoHashBox: the score range [min, max) of the points in a cell. */
export function cellScoreRange(c: Cell): [number, number] {
  const shift = 2 ** (52 - c.step * 2)
  const bits = cellBits(c)
  return [bits * shift, (bits + 1) * shift]
}
