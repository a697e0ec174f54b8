// src/int64.ts's string2ll against a reference written from util.c's rules (a regex for the
// canonical form, BigInt for the range), over edge cases and seeded random inputs.

import t from 'tap'
import { INT64_MAX, INT64_MIN, string2ll, string2llText } from '../../src/int64.js'

/** The reference: canonical decimal (no '+', no leading zeros, no "-0"), < 21 bytes, int64. */
function reference(text: string): bigint | null {
  if (text.length >= 21 || !/^(0|-?[1-9][0-9]*)$/.test(text)) return null
  const v = BigInt(text)
  return v < INT64_MIN || v > INT64_MAX ? null : v
}

function asBig(v: number | bigint | null): bigint | null {
  if (v === null) return null
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`unsafe number ${v}`)
    return BigInt(v)
  }
  if (Number.isSafeInteger(Number(v))) throw new Error(`safe value ${v} came back as a bigint`)
  return v
}

function check(t: { fail(message: string): void }, text: string): void {
  const want = reference(text)
  const got = asBig(string2llText(text))
  const bytes = Buffer.from(`xx${text}yy`, 'latin1')
  const sliced = asBig(string2ll(bytes, 2, 2 + text.length))
  if (got !== want || sliced !== want) {
    t.fail(`${JSON.stringify(text)}: want ${want}, got ${got} / sliced ${sliced}`)
  }
}

t.test('edge cases', (t) => {
  const cases = ['', '0', '-0', '00', '01', '-', '+1', ' 1', '1 ', '1\0', '9', '-9',
    '9007199254740991', '9007199254740992', '-9007199254740993', '999999999999999',
    '1000000000000000', '9223372036854775807', '9223372036854775808', '-9223372036854775808',
    '-9223372036854775809', '18446744073709551615', '99999999999999999999',
    '-99999999999999999999', '123456789012345678901', '1e3', '0x10', '１', 'Ā1']
  for (const c of cases) check(t, c)
  t.equal(string2llText('9223372036854775807'), INT64_MAX)
  t.equal(string2llText('-9223372036854775808'), INT64_MIN)
  t.equal(string2llText('12'), 12)
  t.equal(string2llText('Ĳ'), null, 'a character past latin1 is never a digit')
  t.end()
})

t.test('seeded random inputs', (t) => {
  let seed = 0x2545f491
  const next = (n: number): number => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5
    return (seed >>> 0) % n
  }
  const alphabet = '0123456789-+ x'
  for (let i = 0; i < 20000; i++) {
    const len = next(23)
    let s = ''
    for (let j = 0; j < len; j++) s += alphabet[next(i % 3 === 0 ? alphabet.length : 11)] as string
    check(t, s)
  }
  t.pass('20000 random strings agree with the reference')
  t.end()
})
