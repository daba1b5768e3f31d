//! One segment: a log file of messages and its index file, with positional appends and range
//! reads through compio (io_uring). A sealed segment the checkpoint vouched for at startup
//! holds no index until its first read. Knows nothing of topics, users or shards.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use compio::buf::BufResult;
use compio::fs::{File, OpenOptions};
use compio::io::{AsyncReadAtExt, AsyncWriteAtExt};

use super::StorageError;
use super::checkpoint::SegmentMark;
use super::index::{ENTRY_LEN, Index, IndexEntry};
use super::recovery::{Recovered, load_trusted_index};

/// The file names of the segment starting at `start_offset`.
pub fn paths(dir: &Path, start_offset: u64) -> (PathBuf, PathBuf) {
    (dir.join(format!("{start_offset:020}.log")), dir.join(format!("{start_offset:020}.index")))
}

/// A segment of a partition's log.
pub struct Segment {
    pub start_offset: u64,
    log_path: PathBuf,
    index_path: PathBuf,
    log: File,
    index_file: File,
    /// Invariant: the log's length; every byte before it belongs to one of the `count` messages.
    size: u64,
    count: u64,
    last_timestamp: u64,
    /// `None` until first used, for a sealed segment trusted from the checkpoint; then its
    /// entries are the ones `index_digest` names.
    index: Option<Index>,
    /// The digest of the entries when `index` is not loaded.
    index_digest: u64,
    /// Whether the index file holds every entry durably (a checkpoint may name the segment).
    index_synced: bool,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("start_offset", &self.start_offset)
            .field("size", &self.size)
            .field("messages", &self.count)
            .finish()
    }
}

async fn open_rw(path: &Path, create: bool) -> Result<File, StorageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .open(path)
        .await
        .map_err(StorageError::io("open", path))
}

impl Segment {
    /// Creates an empty segment and makes its directory entry durable.
    pub async fn create(dir: &Path, start_offset: u64) -> Result<Self, StorageError> {
        let (log_path, index_path) = paths(dir, start_offset);
        let log = open_rw(&log_path, true).await?;
        let index_file = open_rw(&index_path, true).await?;
        super::dirs::sync_dir_async(dir).await?;
        Ok(Self {
            start_offset,
            log_path,
            index_path,
            log,
            index_file,
            size: 0,
            count: 0,
            last_timestamp: 0,
            index: Some(Index::default()),
            index_digest: Index::default().digest(),
            index_synced: false,
        })
    }

    /// Opens a segment that recovery has verified.
    pub async fn open(
        dir: &Path,
        start_offset: u64,
        recovered: Recovered,
    ) -> Result<Self, StorageError> {
        let (log_path, index_path) = paths(dir, start_offset);
        let log = open_rw(&log_path, false).await?;
        let index_file = open_rw(&index_path, true).await?;
        Ok(Self {
            start_offset,
            log_path,
            index_path,
            log,
            index_file,
            size: recovered.size,
            count: recovered.count,
            last_timestamp: recovered.last_timestamp,
            index_synced: recovered.index.is_none() || recovered.scanned == 0,
            index: recovered.index,
            index_digest: recovered.index_digest,
        })
    }

    /// Bytes in the log.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Messages in the segment.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The offset after the last message.
    pub fn end_offset(&self) -> u64 {
        self.start_offset + self.count
    }

    /// The last message's timestamp (0 when empty).
    pub fn last_timestamp(&self) -> u64 {
        self.last_timestamp
    }

    /// What a checkpoint records of this segment as it is now.
    pub fn mark(&self) -> SegmentMark {
        SegmentMark {
            start: self.start_offset,
            size: self.size,
            count: self.count,
            last_timestamp: self.last_timestamp,
            index_digest: self.index.as_ref().map_or(self.index_digest, Index::digest),
        }
    }

    /// The index, loaded (and checked against the checkpoint's digest, or rebuilt from the
    /// log) on first use.
    pub async fn index(&mut self) -> Result<&Index, StorageError> {
        let index = match self.index.take() {
            Some(index) => index,
            None => {
                let mark = self.mark();
                let (log_path, index_path) = (self.log_path.clone(), self.index_path.clone());
                compio::runtime::spawn_blocking(move || {
                    load_trusted_index(&log_path, &index_path, &mark)
                })
                .await
                .map_err(|_| StorageError::Poisoned("index loading panicked".into()))??
            }
        };
        Ok(self.index.insert(index))
    }

    /// Where message `i` of this segment starts (the log's size for `i == len`), if its index
    /// is loaded.
    pub fn position(&self, i: u64) -> Option<u64> {
        let index = self.index.as_ref()?;
        if i == self.count {
            return Some(self.size);
        }
        index.get(usize::try_from(i).ok()?).map(|e| u64::from(e.position))
    }

    /// Makes the index file durable (before a checkpoint names this segment).
    pub async fn sync_index(&mut self) -> Result<(), StorageError> {
        if !self.index_synced {
            self.index_file
                .sync_data()
                .await
                .map_err(StorageError::io("sync", &self.index_path))?;
            self.index_synced = true;
        }
        Ok(())
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Appends stamped messages (`lengths` says where each ends) with their timestamp. The log
    /// write comes first; the index entries follow. Returns the batch buffer for reuse.
    pub async fn append(
        &mut self,
        batch: BytesMut,
        lengths: &[u32],
        timestamp: u64,
    ) -> Result<BytesMut, StorageError> {
        let new_size = self.size + batch.len() as u64;
        if new_size > u64::from(u32::MAX) {
            return Err(StorageError::BatchTooLarge(batch.len()));
        }
        let Some(index) = self.index.as_mut() else {
            // Only the active segment takes appends, and its index is always loaded (recovery
            // loads the last segment's; a new segment starts with an empty one).
            return Err(StorageError::Poisoned(
                "append to a segment whose index is unloaded".into(),
            ));
        };
        let BufResult(res, batch) = self.log.write_all_at(batch, self.size).await;
        res.map_err(StorageError::io("write", &self.log_path))?;
        let mut entries = BytesMut::with_capacity(lengths.len() * ENTRY_LEN);
        let index_pos = (index.len() * ENTRY_LEN) as u64;
        let mut position = self.size;
        for &len in lengths {
            let entry = IndexEntry {
                relative_offset: index.len() as u32,
                position: position as u32,
                timestamp,
            };
            entry.encode(&mut entries);
            index.push(entry);
            position += u64::from(len);
        }
        self.size = new_size;
        self.count = index.len() as u64;
        self.last_timestamp = timestamp;
        self.index_synced = false;
        let BufResult(res, _) = self.index_file.write_all_at(entries, index_pos).await;
        // The index is derived data (recovery rebuilds it), so a failed index write does not make
        // the batch less durable; it is logged, not returned.
        if let Err(e) = res {
            tracing::warn!(path = %self.index_path.display(), error = %e, "index write failed");
        }
        Ok(batch)
    }

    /// `fdatasync` of the log.
    pub async fn sync(&self) -> Result<(), StorageError> {
        self.log.sync_data().await.map_err(StorageError::io("sync", &self.log_path))
    }

    /// Reads messages `from..from + count` (indexes within the segment, clamped to what exists),
    /// with at most `max_bytes` bytes unless that would return nothing. Returns the bytes and the
    /// number of messages.
    pub async fn read(
        &mut self,
        from: usize,
        count: usize,
        max_bytes: u64,
    ) -> Result<(Bytes, usize), StorageError> {
        let size = self.size;
        let index = self.index().await?;
        let Some(first) = index.get(from) else {
            return Ok((Bytes::new(), 0));
        };
        let start = u64::from(first.position);
        let mut end_idx = (from + count).min(index.len());
        let pos_of = |i: usize| index.get(i).map_or(size, |e| u64::from(e.position));
        while end_idx > from + 1 && pos_of(end_idx) - start > max_bytes {
            end_idx = from + 1 + (end_idx - from - 1) / 2;
        }
        let end = pos_of(end_idx);
        let len = (end - start) as usize;
        let BufResult(res, buf) = self.log.read_exact_at(Vec::with_capacity(len), start).await;
        res.map_err(StorageError::io("read", &self.log_path))?;
        Ok((Bytes::from(buf), end_idx - from))
    }

    /// Removes both files.
    pub async fn delete(self) -> Result<(), StorageError> {
        drop(self.log);
        drop(self.index_file);
        compio::fs::remove_file(&self.log_path)
            .await
            .map_err(StorageError::io("remove", &self.log_path))?;
        compio::fs::remove_file(&self.index_path)
            .await
            .map_err(StorageError::io("remove", &self.index_path))?;
        Ok(())
    }
}
