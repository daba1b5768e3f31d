//! Which shard owns a partition: a pure function of the partition's address and the shard count.
//! XXH3 of the three ids spreads the partitions of one topic over the shards (so a 3-partition
//! topic uses 3 cores when it can) and is stable across restarts, so a partition's files are
//! always opened by the same shard. No state, no I/O.

use crate::metadata::PartitionKey;

/// The shard that owns `key` among `shards`.
pub fn owner(key: PartitionKey, shards: usize) -> usize {
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&key.stream.to_le_bytes());
    bytes[4..8].copy_from_slice(&key.topic.to_le_bytes());
    bytes[8..].copy_from_slice(&key.partition.to_le_bytes());
    (xxhash_rust::xxh3::xxh3_64(&bytes) % shards.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_stable_in_range_and_spread() {
        let keys: Vec<PartitionKey> =
            (0..64).map(|p| PartitionKey { stream: 1, topic: 2, partition: p }).collect();
        let owners: Vec<usize> = keys.iter().map(|k| owner(*k, 2)).collect();
        assert!(owners.iter().all(|&o| o < 2));
        assert_eq!(owners, keys.iter().map(|k| owner(*k, 2)).collect::<Vec<_>>());
        let on_zero = owners.iter().filter(|&&o| o == 0).count();
        assert!((16..=48).contains(&on_zero), "{on_zero} of 64 on shard 0");
        assert_eq!(owner(keys[0], 1), 0);
    }
}
