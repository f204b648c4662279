//! Which consumer groups one lag replica measures: `--lag.shard I/N` parsed
//! into a [`Shard`], and a group id in, "mine or not" out. Pure.
//!
//! A group belongs to shard `toPositive(murmur2(UTF-8 bytes of the group id))
//! % N`, the hash and arithmetic Kafka's own default partitioner applies to a
//! record key (`org.apache.kafka.common.utils.Utils.murmur2`, seed
//! `0x9747b28c`, and `toPositive` = `& 0x7fffffff`). It depends on nothing but
//! the group id and N, so it is the same on every replica and in every
//! version, and one can check where a group goes with Kafka's own classes.
//! Shards are numbered from 0: `0/2` and `1/2` split the groups in two.

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (0 <= index < count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The shard `group` belongs to among `count`.
    pub fn of(group: &str, count: u32) -> u32 {
        (to_positive(murmur2(group.as_bytes())) as u32) % count.max(1)
    }

    /// Does this replica measure `group`?
    pub fn contains(&self, group: &str) -> bool {
        Shard::of(group, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?}: expected I/N with 0 <= I < N, e.g. 0/2 and 1/2");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// Kafka's murmur2 (`Utils.murmur2`): 32-bit MurmurHash2 with seed
/// 0x9747b28c, tail bytes folded in little-endian order, signed result.
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Kafka's UtilsTest.testMurmur2 vectors.
        let cases: [(&str, i32); 8] = [
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58897971,
            ),
            ("abc", 479470107),
            // Checked with kafka-clients 4.4.0's Utils.murmur2.
            ("é-ü", -994418976),
            ("zmart-app", -236256640),
        ];
        for (s, want) in cases {
            assert_eq!(murmur2(s.as_bytes()), want, "{s}");
        }
        // Utils.toPositive(murmur2) % 2, from Kafka's classes.
        assert_eq!(Shard::of("a-little-bit-long-string", 2), 0);
        assert_eq!(Shard::of("a-little-bit-longer-string", 2), 1);
        assert_eq!(Shard::of("abc", 2), 1);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("1/3".parse::<Shard>(), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(" 0 / 1 ".parse::<Shard>(), Ok(Shard { index: 0, count: 1 }));
        for bad in ["", "1", "3/3", "0/0", "-1/2", "a/2", "1/2/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: 2 }.to_string(), "1/2");
    }

    #[test]
    fn every_group_in_exactly_one_shard() {
        let groups: Vec<String> = (0..2_000).map(|i| format!("app-{i}")).collect();
        for n in [1u32, 2, 3, 7] {
            let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
            let mut sizes = vec![0usize; n as usize];
            for g in &groups {
                let owners: Vec<&Shard> = shards.iter().filter(|s| s.contains(g)).collect();
                assert_eq!(owners.len(), 1, "{g} in {n} shards");
                sizes[owners[0].index as usize] += 1;
            }
            // A hash, not a round robin: roughly even, none empty.
            let even = groups.len() / n as usize;
            assert!(sizes.iter().all(|s| *s > even / 2), "{n}: {sizes:?}");
        }
    }
}
