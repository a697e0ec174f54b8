// CRC-64/XZ (ECMA-182 polynomial, reflected: 0xC96C5795D7870F42; init and xorout all ones;
// check("123456789") = 0x995dc9bbdf1939fa), the checksum of every pool record.
// Invariants and why:
// - `crc64(seed, data)` continues a finished CRC: crc64(0, a) is the standard CRC of a, and
//   crc64(crc64(0, a), b) == crc64(0, a ++ b). Internally the register is !crc.
// - Three implementations that must agree bit for bit (test/unit/native.test.ts compares them
//   with a bigint reference on many lengths and alignments):
//   * slice-by-16 tables (portable; also every tail shorter than 16 bytes),
//   * PCLMULQDQ folding over 8 x 128-bit lanes (x86-64 with pclmulqdq + sse4.1),
//   * VPCLMULQDQ folding over 4 x 512-bit lanes (x86-64 with avx512f + vpclmulqdq),
//   chosen at run time by CPU feature detection (results are identical; only speed differs).
// - Folding math, reflected domain: a 64-bit value's bit i is the coefficient of x^(63-i), a
//   128-bit lane's bit k that of x^(127-k), and clmul(a, b) represents a*b*x. A lane
//   X = H*x^64 + L moved D bits forward is H*x^(D+64) + L*x^D
//   = clmul(H, K(D+63)) ^ clmul(L, K(D-1))  (mod P), with K(n) = x^n mod P computed below at
//   compile time. The last lane X, with every byte folded in, is reduced by feeding its 16 bytes
//   to the table CRC from a zero register, which computes X*x^64 mod P, the CRC register.

const POLY: u64 = 0xC96C_5795_D787_0F42;

const fn make_tables() -> [[u64; 256]; 16] {
    let mut t = [[0u64; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut j = 1;
    while j < 16 {
        i = 0;
        while i < 256 {
            let prev = t[j - 1][i];
            t[j][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        j += 1;
    }
    t
}

static T: [[u64; 256]; 16] = make_tables();

/// x^n mod P in the reflected 64-bit representation.
#[allow(dead_code)]
const fn xpow(n: u32) -> u64 {
    let mut c: u64 = 1 << 63; // x^0
    let mut i = 0;
    while i < n {
        c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
        i += 1;
    }
    c
}

/// Fold constants for moving a lane `bytes` forward: (for the low qword H, for the high L).
#[allow(dead_code)]
const fn fold_k(bytes: u32) -> (u64, u64) {
    let d = bytes * 8;
    (xpow(d + 63), xpow(d - 1))
}

#[inline(always)]
fn t8(v: u64, t: &[[u64; 256]; 16], hi: usize) -> u64 {
    t[hi][(v & 0xff) as usize]
        ^ t[hi - 1][((v >> 8) & 0xff) as usize]
        ^ t[hi - 2][((v >> 16) & 0xff) as usize]
        ^ t[hi - 3][((v >> 24) & 0xff) as usize]
        ^ t[hi - 4][((v >> 32) & 0xff) as usize]
        ^ t[hi - 5][((v >> 40) & 0xff) as usize]
        ^ t[hi - 6][((v >> 48) & 0xff) as usize]
        ^ t[hi - 7][(v >> 56) as usize]
}

/// Table update of the register (no pre/post inversion), slice-by-16.
fn update_table(mut crc: u64, data: &[u8]) -> u64 {
    let t = &T;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        let a = crc ^ u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let b = u64::from_le_bytes([c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15]]);
        crc = t8(a, t, 15) ^ t8(b, t, 7);
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 8 {
        let a = crc
            ^ u64::from_le_bytes([
                rest[0], rest[1], rest[2], rest[3], rest[4], rest[5], rest[6], rest[7],
            ]);
        crc = t8(a, t, 7);
        rest = &rest[8..];
    }
    for &b in rest {
        crc = t[0][((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{fold_k, update_table};
    use std::arch::x86_64::*;

    const K16: (u64, u64) = fold_k(16);
    const K32: (u64, u64) = fold_k(32);
    const K48: (u64, u64) = fold_k(48);
    const K64: (u64, u64) = fold_k(64);
    const K80: (u64, u64) = fold_k(80);
    const K96: (u64, u64) = fold_k(96);
    const K112: (u64, u64) = fold_k(112);
    const K128: (u64, u64) = fold_k(128);
    const K192: (u64, u64) = fold_k(192);
    const K256: (u64, u64) = fold_k(256);

    #[inline(always)]
    unsafe fn k(c: (u64, u64)) -> __m128i {
        _mm_set_epi64x(c.1 as i64, c.0 as i64)
    }

    #[inline(always)]
    unsafe fn fold(x: __m128i, k: __m128i) -> __m128i {
        _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11))
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> __m128i {
        _mm_loadu_si128(p as *const __m128i)
    }

    /// Fold 16-byte blocks into `x` (which ends at data[pos]), then reduce with the table.
    #[inline(always)]
    unsafe fn finish(mut x: __m128i, data: &[u8], mut pos: usize) -> u64 {
        let k16 = k(K16);
        while pos + 16 <= data.len() {
            x = _mm_xor_si128(fold(x, k16), load(data.as_ptr().add(pos)));
            pos += 16;
        }
        let mut bytes = [0u8; 16];
        _mm_storeu_si128(bytes.as_mut_ptr() as *mut __m128i, x);
        update_table(update_table(0, &bytes), &data[pos..])
    }

    /// One 128-bit lane. Requires data.len() >= 16.
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    pub unsafe fn update_clmul_short(state: u64, data: &[u8]) -> u64 {
        debug_assert!(data.len() >= 16);
        let x = _mm_xor_si128(load(data.as_ptr()), _mm_set_epi64x(0, state as i64));
        finish(x, data, 16)
    }

    /// 8 x 128-bit lanes. Requires data.len() >= 128.
    #[target_feature(enable = "pclmulqdq,sse2,sse4.1")]
    pub unsafe fn update_clmul(state: u64, data: &[u8]) -> u64 {
        debug_assert!(data.len() >= 128);
        let p = data.as_ptr();
        let mut x = [_mm_setzero_si128(); 8];
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = load(p.add(16 * i));
        }
        x[0] = _mm_xor_si128(x[0], _mm_set_epi64x(0, state as i64));
        let k128 = k(K128);
        let mut pos = 128;
        while pos + 128 <= data.len() {
            for (i, xi) in x.iter_mut().enumerate() {
                *xi = _mm_xor_si128(fold(*xi, k128), load(p.add(pos + 16 * i)));
            }
            pos += 128;
        }
        let ks = [K112, K96, K80, K64, K48, K32, K16];
        let mut acc = x[7];
        for i in 0..7 {
            acc = _mm_xor_si128(acc, fold(x[i], k(ks[i])));
        }
        finish(acc, data, pos)
    }

    #[inline(always)]
    unsafe fn k512(c: (u64, u64)) -> __m512i {
        _mm512_broadcast_i32x4(k(c))
    }

    #[inline(always)]
    unsafe fn fold512_xor(x: __m512i, k: __m512i, y: __m512i) -> __m512i {
        let a = _mm512_clmulepi64_epi128(x, k, 0x00);
        let b = _mm512_clmulepi64_epi128(x, k, 0x11);
        // ternary logic 0x96: a ^ b ^ y in one instruction
        _mm512_ternarylogic_epi64(a, b, y, 0x96)
    }

    /// 4 x 512-bit lanes (16 x 128). Requires data.len() >= 256.
    #[target_feature(enable = "avx512f,vpclmulqdq,pclmulqdq,sse2,sse4.1")]
    pub unsafe fn update_vpclmul(state: u64, data: &[u8]) -> u64 {
        debug_assert!(data.len() >= 256);
        let p = data.as_ptr();
        let ld = |off: usize| _mm512_loadu_si512(p.add(off) as *const _);
        let mut z = [ld(0), ld(64), ld(128), ld(192)];
        z[0] = _mm512_xor_si512(z[0], _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, state as i64));
        let k256 = k512(K256);
        let mut pos = 256;
        while pos + 256 <= data.len() {
            z[0] = fold512_xor(z[0], k256, ld(pos));
            z[1] = fold512_xor(z[1], k256, ld(pos + 64));
            z[2] = fold512_xor(z[2], k256, ld(pos + 128));
            z[3] = fold512_xor(z[3], k256, ld(pos + 192));
            pos += 256;
        }
        let mut acc = fold512_xor(z[0], k512(K192), z[3]);
        acc = fold512_xor(z[1], k512(K128), acc);
        acc = fold512_xor(z[2], k512(K64), acc);
        let k64 = k512(K64);
        while pos + 64 <= data.len() {
            acc = fold512_xor(acc, k64, ld(pos));
            pos += 64;
        }
        let l0 = _mm512_extracti32x4_epi32(acc, 0);
        let l1 = _mm512_extracti32x4_epi32(acc, 1);
        let l2 = _mm512_extracti32x4_epi32(acc, 2);
        let l3 = _mm512_extracti32x4_epi32(acc, 3);
        let mut x = _mm_xor_si128(l3, fold(l0, k(K48)));
        x = _mm_xor_si128(x, fold(l1, k(K32)));
        x = _mm_xor_si128(x, fold(l2, k(K16)));
        finish(x, data, pos)
    }

    /// 0: tables only, 1: pclmulqdq, 2: avx512 vpclmulqdq. Detected once.
    pub fn level() -> u8 {
        use std::sync::atomic::{AtomicU8, Ordering};
        static LEVEL: AtomicU8 = AtomicU8::new(0xff);
        let l = LEVEL.load(Ordering::Relaxed);
        if l != 0xff {
            return l;
        }
        let forced = std::env::var("CAPYKV_CRC64_IMPL").unwrap_or_default();
        let clmul = is_x86_feature_detected!("pclmulqdq") && is_x86_feature_detected!("sse4.1");
        let avx512 =
            clmul && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("vpclmulqdq");
        let l = match forced.as_str() {
            "table" => 0,
            "pclmulqdq" => clmul as u8,
            _ => {
                if avx512 {
                    2
                } else {
                    clmul as u8
                }
            }
        };
        LEVEL.store(l, Ordering::Relaxed);
        l
    }
}

/// Which implementation serves long inputs on this CPU ("vpclmulqdq", "pclmulqdq" or "table").
pub fn implementation() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        match x86::level() {
            2 => "vpclmulqdq",
            1 => "pclmulqdq",
            _ => "table",
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "table"
    }
}

// Below 32 bytes the table is faster than one folded lane plus its table reduction (measured).
const SHORT_MIN: usize = 32;

fn update(state: u64, data: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if data.len() >= SHORT_MIN {
            let level = x86::level();
            // SAFETY: the CPU has the features each function is compiled for (level()).
            if level == 2 && data.len() >= 256 {
                return unsafe { x86::update_vpclmul(state, data) };
            }
            if level >= 1 && data.len() >= 128 {
                return unsafe { x86::update_clmul(state, data) };
            }
            if level >= 1 {
                return unsafe { x86::update_clmul_short(state, data) };
            }
        }
    }
    update_table(state, data)
}

/// CRC-64/XZ of `data`, continuing from the finished CRC `seed` (0 for a fresh CRC).
pub fn crc64(seed: u64, data: &[u8]) -> u64 {
    !update(!seed, data)
}

/// The table implementation alone (tests compare it with the folding ones).
#[allow(dead_code)]
pub fn crc64_table(seed: u64, data: &[u8]) -> u64 {
    !update_table(!seed, data)
}
