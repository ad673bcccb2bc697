//! A hash map keyed by dump ids (`u32`), with a multiplicative hash instead of SipHash: the keys
//! come from crates.io's own database, and lookups run once per dependency row (millions). And
//! [`Names`], a map from id to name kept in one string.

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

/// Crate names by crate id, in one string: ~16 bytes a name plus its text, where an
/// `IdMap<Box<str>>` costs ~40 plus an allocation of at least 32 (~11 MB at 150,000 crates, ~5 MB
/// here). A name inserted again for the same id replaces the old one (whose text stays, unused).
#[derive(Debug, Default)]
pub struct Names {
    /// Id -> index into `ends`.
    index: IdMap<u32>,
    /// Name `i` is `text[ends[i - 1]..ends[i]]` (from 0 for the first).
    ends: Vec<u32>,
    text: String,
}

impl Names {
    pub fn insert(&mut self, id: u32, name: &str) {
        assert!(self.text.len() + name.len() <= u32::MAX as usize, "over 4 GiB of crate names");
        self.text.push_str(name);
        self.index.insert(id, self.ends.len() as u32);
        self.ends.push(self.text.len() as u32);
    }

    pub fn get(&self, id: &u32) -> Option<&str> {
        let i = *self.index.get(id)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start as usize..self.ends[i] as usize])
    }

    /// Distinct ids.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a plain map: replaced, empty and multi-byte names, ids absent.
    #[test]
    fn names_equal_a_plain_map() {
        let mut names = Names::default();
        let mut plain = std::collections::HashMap::new();
        for (id, name) in [(7, "serde"), (1, ""), (900_000, "grüße"), (7, "serde_json"), (2, "a"), (1, "x-y")] {
            names.insert(id, name);
            plain.insert(id, name);
        }
        for id in [0, 1, 2, 3, 7, 900_000, u32::MAX] {
            assert_eq!(names.get(&id), plain.get(&id).copied(), "id {id}");
        }
        assert_eq!(names.len(), plain.len());
    }

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
