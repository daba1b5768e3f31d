//! A partition's checkpoint: what was durable at a moment, so the next start can trust it
//! without re-reading it. One file, `checkpoint`, per partition directory, replaced atomically
//! (temporary file, sync, rename, directory sync) and written only after every byte it names
//! was synced: the logs up to the recorded sizes and the index files up to the recorded counts.
//!
//! Layout (little-endian): `EDDYCKP1`, segment count u32, then per segment start offset u64,
//! log size u64, message count u64, last timestamp u64, XXH3-64 of its index entries u64, and
//! last an XXH3-64 of everything before it. A file that fails to decode (torn, foreign) is
//! ignored: the start then verifies everything, as without a checkpoint.
//!
//! A mark is a claim about a prefix: appends after the checkpoint never change it, so it stays
//! true until the segment is deleted (purge, partition removal) or cut by recovery (which then
//! removes the checkpoint). Knows nothing of the log's types beyond these numbers.

use std::path::Path;

use super::StorageError;

/// The file's name in a partition directory.
pub const FILE: &str = "checkpoint";
const MAGIC: &[u8; 8] = b"EDDYCKP1";
const MARK_LEN: usize = 40;

/// What a checkpoint says of one segment: its first `count` messages occupy its log's first
/// `size` bytes, the last has `last_timestamp`, and the index file's first `count` entries hash
/// to `index_digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentMark {
    pub start: u64,
    pub size: u64,
    pub count: u64,
    pub last_timestamp: u64,
    pub index_digest: u64,
}

/// The marks of a partition's segments, ordered by start offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    pub segments: Vec<SegmentMark>,
}

impl Checkpoint {
    /// The mark of the segment starting at `start`.
    pub fn get(&self, start: u64) -> Option<&SegmentMark> {
        let i = self.segments.binary_search_by_key(&start, |m| m.start).ok()?;
        self.segments.get(i)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + self.segments.len() * MARK_LEN + 8);
        out.extend_from_slice(MAGIC);
        let count = u32::try_from(self.segments.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for m in self.segments.iter().take(count as usize) {
            for v in [m.start, m.size, m.count, m.last_timestamp, m.index_digest] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let digest = xxhash_rust::xxh3::xxh3_64(&out);
        out.extend_from_slice(&digest.to_le_bytes());
        out
    }

    /// `None` unless `bytes` is a whole, intact checkpoint with ordered marks.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let body_len = bytes.len().checked_sub(8)?;
        let (body, trailer) = bytes.split_at(body_len);
        if xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() != trailer {
            return None;
        }
        let rest = body.strip_prefix(MAGIC)?;
        let (count, marks) = rest.split_at_checked(4)?;
        let count = u32::from_le_bytes(count.try_into().ok()?) as usize;
        if marks.len() != count.checked_mul(MARK_LEN)? {
            return None;
        }
        let u64_at = |b: &[u8], i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(b.get(i * 8..i * 8 + 8)?.try_into().ok()?))
        };
        let mut segments: Vec<SegmentMark> = Vec::with_capacity(count);
        for m in marks.chunks_exact(MARK_LEN) {
            let mark = SegmentMark {
                start: u64_at(m, 0)?,
                size: u64_at(m, 1)?,
                count: u64_at(m, 2)?,
                last_timestamp: u64_at(m, 3)?,
                index_digest: u64_at(m, 4)?,
            };
            if segments.last().is_some_and(|prev| prev.start >= mark.start) {
                return None;
            }
            segments.push(mark);
        }
        Some(Self { segments })
    }
}

/// Loads the checkpoint in `dir`; `None` when there is none or it cannot be trusted.
pub fn load(dir: &Path) -> Option<Checkpoint> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "checkpoint unreadable; verifying every segment");
            return None;
        }
    };
    let decoded = Checkpoint::decode(&bytes);
    if decoded.is_none() {
        tracing::warn!(path = %path.display(), "checkpoint damaged; verifying every segment");
    }
    decoded
}

/// Replaces the checkpoint in `dir`, durably. The caller has synced everything it names.
pub async fn save(dir: &Path, checkpoint: &Checkpoint) -> Result<(), StorageError> {
    super::dirs::replace_file(&dir.join(FILE), checkpoint.encode(), true).await
}

/// Removes the checkpoint in `dir`, durably (after recovery cut what it names).
pub async fn remove(dir: &Path) -> Result<(), StorageError> {
    let path = dir.join(FILE);
    match compio::fs::remove_file(&path).await {
        Ok(()) => super::dirs::sync_dir_async(dir).await,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io("remove", &path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_anything_damaged() {
        let c = Checkpoint {
            segments: vec![
                SegmentMark { start: 0, size: 10, count: 2, last_timestamp: 5, index_digest: 9 },
                SegmentMark { start: 2, size: 0, count: 0, last_timestamp: 0, index_digest: 1 },
            ],
        };
        let bytes = c.encode();
        assert_eq!(Checkpoint::decode(&bytes), Some(c.clone()));
        assert_eq!(c.get(2).map(|m| m.size), Some(0));
        assert!(c.get(1).is_none());
        for cut in 0..bytes.len() {
            assert!(Checkpoint::decode(&bytes[..cut]).is_none(), "torn at {cut}");
        }
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(Checkpoint::decode(&flipped).is_none(), "flip at {i}");
        }
        assert_eq!(
            Checkpoint::decode(&Checkpoint::default().encode()),
            Some(Checkpoint::default())
        );
    }
}
