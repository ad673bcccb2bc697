//! A hash map keyed by dump ids (`u32`), with a multiplicative hash instead of SipHash: the keys
//! come from crates.io's own database, and lookups run once per dependency row (millions).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of one integer key.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

pub type IdMap<V> = HashMap<u32, V, BuildHasherDefault<IdHasher>>;
pub type IdSet = HashSet<u32, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_map() {
        let mut m: IdMap<u32> = IdMap::default();
        for i in 0..10_000u32 {
            m.insert(i * 7, i);
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get(&(9_999 * 7)), Some(&9_999));
        assert_eq!(m.get(&1), None);
    }
}
