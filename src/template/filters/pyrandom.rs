//! A reimplementation of CPython's `random.Random` (MT19937 with CPython's
//! seeding), so seeded `random` / `shuffle` filters produce exactly the
//! values Ansible produces (e.g. `59 | random(seed=inventory_hostname)`).

use sha2::{Digest, Sha512};

const N: usize = 624;
const M: usize = 397;

pub struct PyRandom {
    mt: [u32; N],
    index: usize,
}

impl PyRandom {
    fn init_genrand(s: u32) -> PyRandom {
        let mut mt = [0u32; N];
        mt[0] = s;
        for i in 1..N {
            mt[i] = 1812433253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        PyRandom { mt, index: N }
    }

    fn init_by_array(key: &[u32]) -> PyRandom {
        let mut r = PyRandom::init_genrand(19650218);
        let mt = &mut r.mt;
        let mut i = 1usize;
        let mut j = 0usize;
        let klen = key.len().max(1);
        let mut k = N.max(klen);
        while k > 0 {
            let kj = key.get(j).copied().unwrap_or(0);
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1664525))
                .wrapping_add(kj)
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= klen {
                j = 0;
            }
            k -= 1;
        }
        k = N - 1;
        while k > 0 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1566083941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            k -= 1;
        }
        mt[0] = 0x80000000;
        r
    }

    /// Seeds from the magnitude of an integer given as big-endian bytes.
    fn from_be_bytes(bytes: &[u8]) -> PyRandom {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        let mut key = Vec::new();
        let mut end = trimmed.len();
        while end > 0 {
            let start = end.saturating_sub(4);
            let mut word = 0u32;
            for &b in &trimmed[start..end] {
                word = (word << 8) | b as u32;
            }
            key.push(word);
            end = start;
        }
        if key.is_empty() {
            key.push(0);
        }
        PyRandom::init_by_array(&key)
    }

    /// `random.Random(n)` for an integer seed.
    pub fn from_int(n: i128) -> PyRandom {
        PyRandom::from_be_bytes(&n.unsigned_abs().to_be_bytes())
    }

    /// `random.Random(s)` for a string seed (version 2 seeding).
    pub fn from_str(s: &str) -> PyRandom {
        let mut bytes = s.as_bytes().to_vec();
        bytes.extend_from_slice(&Sha512::digest(s.as_bytes()));
        PyRandom::from_be_bytes(&bytes)
    }

    /// `random.Random(f)` for a float seed (seeded by `hash(f)`).
    pub fn from_float(f: f64) -> PyRandom {
        PyRandom::from_int(py_hash_float(f) as i128)
    }

    fn genrand_u32(&mut self) -> u32 {
        if self.index >= N {
            for kk in 0..N {
                let y = (self.mt[kk] & 0x80000000) | (self.mt[(kk + 1) % N] & 0x7fffffff);
                let mut v = self.mt[(kk + M) % N] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908b0df;
                }
                self.mt[kk] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for k <= 128.
    pub fn getrandbits(&mut self, k: u32) -> u128 {
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return (self.genrand_u32() >> (32 - k)) as u128;
        }
        let mut result: u128 = 0;
        let mut remaining = k;
        let mut shift = 0;
        while remaining > 0 && shift < 128 {
            let mut r = self.genrand_u32();
            if remaining < 32 {
                r >>= 32 - remaining;
            }
            result |= (r as u128) << shift;
            shift += 32;
            remaining = remaining.saturating_sub(32);
        }
        result
    }

    /// `_randbelow(n)` (getrandbits based rejection sampling).
    pub fn randbelow(&mut self, n: u128) -> u128 {
        if n == 0 {
            return 0;
        }
        let k = 128 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randrange(start, stop, step)`.
    pub fn randrange(&mut self, start: i128, stop: i128, step: i128) -> Result<i128, String> {
        let width = stop - start;
        if step == 1 {
            if width > 0 {
                return Ok(start + self.randbelow(width as u128) as i128);
            }
            return Err(format!("empty range in randrange({start}, {stop})"));
        }
        let n = if step > 0 {
            (width + step - 1).div_euclid(step)
        } else if step < 0 {
            (width + step + 1).div_euclid(step)
        } else {
            return Err("zero step for randrange()".into());
        };
        if n <= 0 {
            return Err(format!("empty range in randrange({start}, {stop}, {step})"));
        }
        Ok(start + step * self.randbelow(n as u128) as i128)
    }

    /// In-place `shuffle`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow((i + 1) as u128) as usize;
            items.swap(i, j);
        }
    }

    /// A generator seeded from the system clock and process state.
    pub fn unseeded() -> PyRandom {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        let mut h = RandomState::new().build_hasher();
        if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(d.as_nanos());
        }
        h.write_u32(std::process::id());
        let a = h.finish();
        let mut h2 = RandomState::new().build_hasher();
        h2.write_u64(a);
        let b = h2.finish();
        PyRandom::from_int(((a as i128) << 64) | b as i128)
    }
}

/// CPython's `hash(float)`.
fn py_hash_float(v: f64) -> i64 {
    const BITS: u32 = 61;
    const MODULUS: u64 = (1u64 << BITS) - 1;
    if v.is_infinite() {
        return if v > 0.0 { 314159 } else { -314159 };
    }
    if v.is_nan() {
        return 0;
    }
    let (mut m, mut e) = frexp(v);
    let mut sign = 1i64;
    if m < 0.0 {
        sign = -1;
        m = -m;
    }
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & MODULUS) | (x >> (BITS - 28));
        m *= 268435456.0;
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        x += y;
        if x >= MODULUS {
            x -= MODULUS;
        }
    }
    let e = if e >= 0 {
        (e as u32) % BITS
    } else {
        BITS - 1 - (((-1 - e) as u32) % BITS)
    };
    x = ((x << e) & MODULUS) | (x >> (BITS - e));
    let mut r = (x as i64) * sign;
    if r == -1 {
        r = -2;
    }
    r
}

/// C's `frexp`: v = m * 2^e with 0.5 <= |m| < 1.
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 || !v.is_finite() {
        return (v, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // subnormal: normalize
        let (m, e) = frexp(v * f64::from_bits(0x4350000000000000)); // 2^54
        return (m, e - 54);
    }
    let e = exp - 1022;
    let m_bits = (bits & !(0x7ffu64 << 52)) | (1022u64 << 52);
    (f64::from_bits(m_bits), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_matches_cpython() {
        // random.Random(42).getrandbits(32) == 2746317213
        let mut r = PyRandom::from_int(42);
        assert_eq!(r.getrandbits(32), 2746317213);
        // random.Random(0).randrange(0, 100) == 49
        let mut r = PyRandom::from_int(0);
        assert_eq!(r.randrange(0, 100, 1), Ok(49));
        assert_eq!(py_hash_float(1.5), 1152921504606846977);
        assert_eq!(py_hash_float(2.0), 2);
        // random.Random('web01').randrange(0, 60) == 22
        let mut r = PyRandom::from_str("web01");
        assert_eq!(r.randrange(0, 60, 1), Ok(22));
        // l = list(range(10)); random.Random('x').shuffle(l)
        let mut l: Vec<i32> = (0..10).collect();
        PyRandom::from_str("x").shuffle(&mut l);
        assert_eq!(l, vec![0, 8, 2, 9, 4, 3, 6, 1, 7, 5]);
    }
}
