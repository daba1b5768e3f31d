//! The per-segment index: one 16-byte entry per message (relative offset u32, start position
//! u32, timestamp u64), kept in memory for lookups and appended to the segment's `.index` file,
//! with a running XXH3 digest of the entries' bytes (what a checkpoint records, so a reopened
//! index can be trusted without re-reading the log). Touches only its own entries; the segment
//! writes the file.

use bytes::{BufMut, BytesMut};
use xxhash_rust::xxh3::Xxh3Default;

/// Bytes per index entry on disk.
pub const ENTRY_LEN: usize = 16;

/// One message's place in its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset minus the segment's start offset.
    pub relative_offset: u32,
    /// Byte position of the message in the log file.
    pub position: u32,
    /// The server timestamp (µs since the Unix epoch).
    pub timestamp: u64,
}

impl IndexEntry {
    pub fn to_bytes(self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[..4].copy_from_slice(&self.relative_offset.to_le_bytes());
        out[4..8].copy_from_slice(&self.position.to_le_bytes());
        out[8..].copy_from_slice(&self.timestamp.to_le_bytes());
        out
    }

    pub fn from_bytes(b: &[u8; ENTRY_LEN]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[8..]);
        Self { relative_offset: u32_at(0), position: u32_at(4), timestamp: u64::from_le_bytes(ts) }
    }

    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&self.to_bytes());
    }
}

/// The entries of one segment. Invariant: entry `i` has relative offset `i`, positions strictly
/// increase, timestamps never decrease; `digest` has seen exactly the entries' encoded bytes.
#[derive(Clone, Default)]
pub struct Index {
    entries: Vec<IndexEntry>,
    digest: Xxh3Default,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("entries", &self.entries.len()).finish()
    }
}

impl Index {
    pub fn from_entries(entries: Vec<IndexEntry>) -> Self {
        let mut index = Self::default();
        for e in entries {
            index.push(e);
        }
        index
    }

    /// Decodes the first `count` entries of an index file, if their digest is `digest` and they
    /// keep the invariant inside a log of `log_size` bytes; `None` means the file cannot be
    /// trusted (short, torn, stale).
    pub fn decode_trusted(bytes: &[u8], count: u64, digest: u64, log_size: u64) -> Option<Self> {
        let len = usize::try_from(count).ok()?.checked_mul(ENTRY_LEN)?;
        let bytes = bytes.get(..len)?;
        let mut index = Self::default();
        index.entries.reserve(len / ENTRY_LEN);
        index.digest.update(bytes);
        if index.digest.digest() != digest {
            return None;
        }
        for (i, chunk) in bytes.chunks_exact(ENTRY_LEN).enumerate() {
            let e = IndexEntry::from_bytes(chunk.try_into().ok()?);
            let ordered = match index.entries.last() {
                Some(prev) => e.position > prev.position && e.timestamp >= prev.timestamp,
                None => e.position == 0,
            };
            if u64::try_from(i).ok()? != u64::from(e.relative_offset)
                || !ordered
                || u64::from(e.position) >= log_size
            {
                return None;
            }
            index.entries.push(e);
        }
        Some(index)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn push(&mut self, entry: IndexEntry) {
        self.digest.update(&entry.to_bytes());
        self.entries.push(entry);
    }

    pub fn get(&self, i: usize) -> Option<&IndexEntry> {
        self.entries.get(i)
    }

    pub fn last(&self) -> Option<&IndexEntry> {
        self.entries.last()
    }

    /// XXH3-64 of every entry's encoded bytes, in order.
    pub fn digest(&self) -> u64 {
        self.digest.digest()
    }

    /// The first entry whose timestamp is ≥ `timestamp`.
    pub fn first_at_or_after(&self, timestamp: u64) -> Option<usize> {
        let i = self.entries.partition_point(|e| e.timestamp < timestamp);
        (i < self.entries.len()).then_some(i)
    }

    /// Encodes the entries from `from` on (to write an index file's tail).
    pub fn encode_from(&self, from: usize) -> BytesMut {
        let tail = self.entries.get(from..).unwrap_or_default();
        let mut out = BytesMut::with_capacity(tail.len() * ENTRY_LEN);
        for e in tail {
            e.encode(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Index {
        Index::from_entries(
            [10, 20, 20, 30]
                .iter()
                .enumerate()
                .map(|(i, &t)| IndexEntry {
                    relative_offset: i as u32,
                    position: i as u32 * 100,
                    timestamp: t,
                })
                .collect(),
        )
    }

    #[test]
    fn timestamp_lookup_returns_the_first_match() {
        let idx = sample();
        assert_eq!(idx.first_at_or_after(0), Some(0));
        assert_eq!(idx.first_at_or_after(20), Some(1));
        assert_eq!(idx.first_at_or_after(21), Some(3));
        assert_eq!(idx.first_at_or_after(31), None);
        assert_eq!(idx.encode_from(0).len(), 64);
        assert_eq!(idx.encode_from(3).len(), 16);
    }

    #[test]
    fn the_running_digest_is_the_digest_of_the_file_bytes() {
        let idx = sample();
        let bytes = idx.encode_from(0);
        assert_eq!(idx.digest(), xxhash_rust::xxh3::xxh3_64(&bytes));
        let back = Index::decode_trusted(&bytes, 4, idx.digest(), 400).unwrap();
        assert_eq!(back.digest(), idx.digest());
        assert_eq!(back.last(), idx.last());
        // A prefix is trusted against its own digest; anything else is refused.
        let two = Index::from_entries(vec![*idx.get(0).unwrap(), *idx.get(1).unwrap()]);
        assert!(Index::decode_trusted(&bytes, 2, two.digest(), 400).is_some());
        assert!(Index::decode_trusted(&bytes, 4, two.digest(), 400).is_none(), "wrong digest");
        assert!(Index::decode_trusted(&bytes[..60], 4, idx.digest(), 400).is_none(), "short");
        assert!(Index::decode_trusted(&bytes, 4, idx.digest(), 300).is_none(), "past the log");
        let mut flipped = bytes.to_vec();
        flipped[20] ^= 1;
        assert!(Index::decode_trusted(&flipped, 4, idx.digest(), 400).is_none(), "bit flip");
    }
}
