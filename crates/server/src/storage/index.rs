//! The per-segment index: one 16-byte entry per message (relative offset u32, start position
//! u32, timestamp u64), kept in memory for lookups and appended to the segment's `.index` file.
//! Touches only its own entries; the segment writes the file.

use bytes::{BufMut, BytesMut};

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
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.relative_offset);
        out.put_u32_le(self.position);
        out.put_u64_le(self.timestamp);
    }
}

/// The entries of one segment. Invariant: entry `i` has relative offset `i`, positions strictly
/// increase, timestamps never decrease.
#[derive(Debug, Clone, Default)]
pub struct Index {
    entries: Vec<IndexEntry>,
}

impl Index {
    pub fn from_entries(entries: Vec<IndexEntry>) -> Self {
        Self { entries }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn push(&mut self, entry: IndexEntry) {
        self.entries.push(entry);
    }

    pub fn get(&self, i: usize) -> Option<&IndexEntry> {
        self.entries.get(i)
    }

    pub fn last(&self) -> Option<&IndexEntry> {
        self.entries.last()
    }

    /// The first entry whose timestamp is ≥ `timestamp`.
    pub fn first_at_or_after(&self, timestamp: u64) -> Option<usize> {
        let i = self.entries.partition_point(|e| e.timestamp < timestamp);
        (i < self.entries.len()).then_some(i)
    }

    /// Encodes every entry (to rewrite an index file).
    pub fn encode_all(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(self.entries.len() * ENTRY_LEN);
        for e in &self.entries {
            e.encode(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_lookup_returns_the_first_match() {
        let idx = Index::from_entries(
            [10, 20, 20, 30]
                .iter()
                .enumerate()
                .map(|(i, &t)| IndexEntry {
                    relative_offset: i as u32,
                    position: i as u32 * 100,
                    timestamp: t,
                })
                .collect(),
        );
        assert_eq!(idx.first_at_or_after(0), Some(0));
        assert_eq!(idx.first_at_or_after(20), Some(1));
        assert_eq!(idx.first_at_or_after(21), Some(3));
        assert_eq!(idx.first_at_or_after(31), None);
        assert_eq!(idx.encode_all().len(), 64);
    }
}
