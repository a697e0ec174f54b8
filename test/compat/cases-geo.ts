// Differential cases for the geo commands (see script.ts for the line syntax): scores (the
// 52-bit geohashes), distances, geohash strings, coordinates, the unsorted order of a search
// (Redis's cell scan) and the STORE forms.
import type { Case } from './script.js'

const SICILY = 'GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania'

/** A deterministic cloud of points around (lon, lat). */
function cloud(key: string, n: number, lon: number, lat: number): string {
  const parts: string[] = []
  for (let i = 0; i < n; i++) {
    const a = (i * 137.508) % 360
    const r = ((i % 17) + 1) * 0.07 + i * 1e-5
    const x = lon + r * Math.cos(a * Math.PI / 180)
    const y = lat + r * Math.sin(a * Math.PI / 180)
    parts.push(`${x.toFixed(6)} ${y.toFixed(6)} p${i}`)
  }
  return `GEOADD ${key} ${parts.join(' ')}`
}

export const geoCases: Case[] = [
  { name: 'GEOADD, GEOPOS, GEOHASH, GEODIST', lines: [
    SICILY, 'ZRANGE Sicily 0 -1 WITHSCORES', 'GEOPOS Sicily Palermo nope Catania', 'GEOPOS nope a',
    'GEOHASH Sicily Palermo Catania nope', 'GEOHASH nope a', 'GEODIST Sicily Palermo Catania',
    'GEODIST Sicily Palermo Catania km', 'GEODIST Sicily Palermo Catania MI',
    'GEODIST Sicily Palermo Catania ft', 'GEODIST Sicily Palermo nope', 'GEODIST nope a b',
    'GEODIST Sicily Palermo Catania yd', 'GEODIST Sicily Palermo Catania km x',
    'GEOADD Sicily NX 13.4 38.2 Palermo 14 37 Other', 'GEOADD Sicily XX CH 13.4 38.2 Palermo',
    'GEOADD Sicily CH XX 13.4 38.2 Palermo 1 1 New', 'ZCARD Sicily', 'GEOADD Sicily NX XX 1 1 a',
    'GEOADD Sicily GT 1 1 a', 'GEOADD Sicily 1 1', 'GEOADD Sicily 200 1 a', 'GEOADD Sicily 1 86 a',
    'GEOADD Sicily x 1 a', 'GEOADD Sicily 1 inf a', 'GEOADD Sicily 180 85.05112878 edge',
    'GEOADD Sicily -180 -85.05112878 edge2', 'GEOPOS Sicily edge edge2', 'GEOHASH Sicily edge',
    'ZADD Sicily 0 zero 4503599627370495 top 1.5 frac', 'GEOPOS Sicily zero top frac',
    'GEOHASH Sicily zero top', 'GEODIST Sicily zero top', 'SET s x', 'GEOADD s 1 1 a',
    'GEOPOS s a', 'GEODIST s a b', 'GEOHASH s a',
  ] },
  { name: 'GEORADIUS and GEORADIUSBYMEMBER', lines: [
    SICILY, 'GEORADIUS Sicily 15 37 200 km', 'GEORADIUS Sicily 15 37 200 km ASC',
    'GEORADIUS Sicily 15 37 200 km DESC WITHDIST', 'GEORADIUS Sicily 15 37 200 km WITHCOORD',
    'GEORADIUS Sicily 15 37 200 km WITHHASH WITHDIST WITHCOORD COUNT 1',
    'GEORADIUS Sicily 15 37 200 km COUNT 1 ANY', 'GEORADIUS Sicily 15 37 200 km ANY',
    'GEORADIUS Sicily 15 37 200 km COUNT 0', 'GEORADIUS Sicily 15 37 200 km COUNT',
    'GEORADIUS Sicily 15 37 -1 km', 'GEORADIUS Sicily 15 37 x km', 'GEORADIUS Sicily 15 37 1 yd',
    'GEORADIUS Sicily 15 37 200 km FOO', 'GEORADIUS Sicily 15 37 200 km STORE d',
    'ZRANGE d 0 -1 WITHSCORES', 'GEORADIUS Sicily 15 37 200 km STOREDIST d',
    'ZRANGE d 0 -1 WITHSCORES', 'GEORADIUS Sicily 15 37 200 km STORE d WITHDIST',
    'GEORADIUS Sicily 15 37 1 km STORE d', 'EXISTS d', 'GEORADIUS nope 15 37 1 km STORE Sicily',
    'EXISTS Sicily', SICILY, 'GEORADIUS_RO Sicily 15 37 200 km STORE d',
    'GEORADIUSBYMEMBER Sicily Palermo 200 km WITHDIST', 'GEORADIUSBYMEMBER Sicily nope 200 km',
    'GEORADIUSBYMEMBER nope nope 200 km', 'GEORADIUSBYMEMBER_RO Sicily Catania 100 mi WITHDIST',
    'GEORADIUS Sicily 0 0 50000 km', 'GEORADIUS Sicily 15 37 0 km',
  ] },
  { name: 'GEOSEARCH and GEOSEARCHSTORE', lines: [
    cloud('pts', 150, 12.5, 41.9), 'GEOSEARCH pts FROMLONLAT 12.5 41.9 BYRADIUS 30 km',
    'GEOSEARCH pts FROMLONLAT 12.5 41.9 BYBOX 60 20 km', 'GEOSEARCH pts FROMMEMBER p3 BYRADIUS 10 km ASC WITHDIST',
    'GEOSEARCH pts FROMMEMBER p3 BYBOX 40 40 km DESC COUNT 5 WITHCOORD WITHHASH',
    'GEOSEARCH pts FROMLONLAT 12.5 41.9 BYRADIUS 100 km COUNT 7 ANY',
    'GEOSEARCH pts FROMLONLAT 12.5 41.9 FROMMEMBER p1 BYRADIUS 1 km',
    'GEOSEARCH pts FROMMEMBER p1 FROMLONLAT 12.5 41.9 BYRADIUS 1 km', 'GEOSEARCH pts BYRADIUS 1 km',
    'GEOSEARCH pts FROMMEMBER p1', 'GEOSEARCH pts FROMMEMBER p1 BYRADIUS 1 km BYBOX 1 1 km',
    'GEOSEARCH pts FROMMEMBER nope BYRADIUS 1 km', 'GEOSEARCH pts FROMMEMBER p1 BYBOX -1 1 km',
    'GEOSEARCH pts FROMMEMBER p1 BYBOX 1 x km', 'GEOSEARCH pts FROMMEMBER p1 BYRADIUS 1 km STORE d',
    'GEOSEARCH nope FROMMEMBER p1 BYRADIUS 1 km', 'GEOSEARCHSTORE d pts FROMMEMBER p1 BYRADIUS 20 km',
    'ZRANGE d 0 -1 WITHSCORES', 'GEOSEARCHSTORE d pts FROMMEMBER p1 BYRADIUS 20 km STOREDIST COUNT 3',
    'ZRANGE d 0 -1 WITHSCORES', 'GEOSEARCHSTORE d pts FROMMEMBER p1 BYRADIUS 20 km WITHDIST',
    'GEOSEARCHSTORE d nope FROMLONLAT 1 1 BYRADIUS 20 km', 'EXISTS d',
    'GEOSEARCH pts FROMLONLAT 179.9 0 BYBOX 400 400 km', cloud('pole', 40, 170, 80),
    'GEOSEARCH pole FROMLONLAT 175 80 BYRADIUS 300 km', 'GEOSEARCH pole FROMLONLAT -179 80 BYRADIUS 500 km ASC',
  ] },
  { name: 'geo in RESP3', resp3: true, lines: [
    SICILY, 'GEOPOS Sicily Palermo nope', 'GEORADIUS Sicily 15 37 200 km WITHCOORD WITHDIST',
    'GEODIST Sicily Palermo Catania', 'GEOHASH Sicily nope',
  ] },
]
