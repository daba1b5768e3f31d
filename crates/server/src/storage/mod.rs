//! Durable storage of one partition: an append-only log of segment files holding messages in the
//! wire layout, an offset/time index per segment, the durability policy, and startup recovery.
//! Knows nothing of topics, users, shards or the network.
//!
//! On disk, per partition directory: `{start_offset:020}.log` (messages back to back, exactly as
//! polls return them) and `{start_offset:020}.index` (16 bytes per message: relative offset u32,
//! position u32, timestamp u64, little-endian), and one `checkpoint` (`checkpoint.rs`): what
//! was synced when it was written, so a start trusts that unread. The index is derived data:
//! recovery rebuilds it from the log; it is synced only before a checkpoint names it.

pub mod checkpoint;
pub mod dir_lock;
pub mod dirs;
pub mod durability;
pub mod index;
pub mod log;
pub mod recovery;
pub mod segment;

use std::path::PathBuf;

/// A storage failure. Carries the path involved so operators can find it.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The file system refused an operation.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A message in the middle of a log failed its checks while valid messages follow it: not a
    /// torn tail but damage. The partition is not served rather than silently cut.
    #[error("corrupt log {path}: message at byte {position} (offset {offset}): {reason}")]
    Corrupt { path: PathBuf, position: u64, offset: u64, reason: &'static str },
    /// An earlier write or sync failed; the partition refuses writes until restarted, because what
    /// reached the disk is unknown.
    #[error("partition poisoned by an earlier failure: {0}")]
    Poisoned(String),
    /// A segment would exceed the 4 GiB the index's 32-bit positions can address.
    #[error("batch of {0} bytes does not fit in a segment")]
    BatchTooLarge(usize),
}

impl StorageError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }
}
