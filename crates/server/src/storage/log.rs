//! A partition's log: its segments in order (each owning its index), offset and timestamp
//! assignment, rolling to a new segment at a size limit, reads across segments, checkpoints
//! (what a restart may trust unread) and the poisoned state after a failed write or sync. No
//! wire types beyond the message layout.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use eddy_wire::message;

use super::StorageError;
use super::checkpoint::{self, Checkpoint};
use super::durability::FsyncPolicy;
use super::recovery::recover_segment;
use super::segment::{Segment, paths};

/// Most bytes one read returns (a poll of many large messages is cut here; the client polls
/// again from the next offset).
pub const MAX_READ_BYTES: u64 = 64 << 20;

/// A checkpoint is written after a sync once this many bytes were synced since the last one
/// (or a segment was added or removed): an unclean stop then re-verifies at most about this
/// much per partition at the next start.
pub const CHECKPOINT_EVERY_BYTES: u64 = 64 << 20;

/// What opening a log did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenStats {
    pub segments: usize,
    /// Segments the checkpoint vouched for whole: not read at all.
    pub trusted_segments: usize,
    /// Log bytes read and verified.
    pub scanned_bytes: u64,
    /// Bytes cut from torn tails.
    pub truncated_bytes: u64,
}

/// The log of one partition.
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    /// Invariant: non-empty, ordered by start offset, contiguous (each starts where the previous
    /// ends); only the last receives appends.
    segments: Vec<Segment>,
    segment_size: u64,
    /// Under `Always`, a segment is synced before the next one takes writes (so a later segment
    /// never holds data while an earlier one has an unsynced tail).
    policy: FsyncPolicy,
    /// The first segment written since the last sync, if any: `sync` covers it and every later
    /// one, however many a group of appends rolled through.
    dirty_from: Option<usize>,
    /// The timestamp given to the last batch; later batches never get an earlier one.
    last_timestamp: u64,
    /// Set after a failed write or sync: what reached the disk is unknown.
    poisoned: Option<String>,
    /// Reads stop here: the end of what the policy made durable (synced under `Always`,
    /// written under `Never`). After a failed sync the bytes past it are of unknown durability
    /// and were never acknowledged, so they are never served.
    readable_end: u64,
    /// Bytes appended since the last checkpoint.
    since_checkpoint: u64,
    /// Segment count the last checkpoint named (`None`: none names this log's current state).
    checkpointed_segments: Option<usize>,
    opened: OpenStats,
}

/// What [`PartitionLog::delete_oldest`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub segments: usize,
    pub messages: u64,
    pub bytes: u64,
}

/// Messages read from the log.
#[derive(Debug, Default)]
pub struct ReadResult {
    /// Message bytes, one chunk per segment touched, in order.
    pub chunks: Vec<Bytes>,
    /// How many messages.
    pub count: usize,
}

impl PartitionLog {
    /// Opens (and recovers) the log in `dir`, creating it if needed. What the checkpoint vouches
    /// for is trusted unread; the rest is verified (see `recovery`).
    pub async fn open(
        dir: &Path,
        segment_size: u64,
        policy: FsyncPolicy,
    ) -> Result<Self, StorageError> {
        super::dirs::create_dir_all_durable(dir).map_err(StorageError::io("create", dir))?;
        let mut starts = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(StorageError::io("list", dir))?;
        for entry in entries {
            let entry = entry.map_err(StorageError::io("list", dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(start) = name.strip_suffix(".log").and_then(|s| s.parse::<u64>().ok()) {
                starts.push(start);
            }
        }
        starts.sort_unstable();
        remove_orphan_indexes(dir, &starts)?;
        let checkpoint = checkpoint::load(dir).unwrap_or_default();
        let mut stats = OpenStats::default();
        let mut segments: Vec<Segment> = Vec::new();
        let mut last_timestamp = 0;
        let mut torn = false;
        let mut dropped = false;
        let mut dirty_from = None;
        for (i, &start) in starts.iter().enumerate() {
            if let Some(prev) = segments.last()
                && (torn || prev.end_offset() != start)
            {
                // The previous segment lost its tail (torn, or cut back to a prefix: a power loss
                // dropped its unsynced end). What follows was written after it. With fsync off
                // that is the documented loss window: drop it. With fsync on a segment is synced
                // before the next takes writes, so later data here means damage, not a torn
                // write: refuse the partition rather than destroy acknowledged messages (empty
                // later segments, made by a roll that wrote nothing yet, are dropped).
                let later = &starts[i..];
                let later_is_empty = later
                    .iter()
                    .all(|&s| std::fs::metadata(paths(dir, s).0).is_ok_and(|m| m.len() == 0));
                if !policy.sync_before_ack() || later_is_empty {
                    drop_segments(dir, later)?;
                    dropped = true;
                    break;
                }
                let (log_path, _) = paths(dir, start);
                return Err(StorageError::Corrupt {
                    path: log_path,
                    position: 0,
                    offset: start,
                    reason: "segment does not start where the previous one ends",
                });
            }
            let (log_path, index_path) = paths(dir, start);
            let is_last = i + 1 == starts.len();
            let mark = checkpoint.get(start);
            let recovered = recover_segment(&log_path, &index_path, start, mark, is_last)?;
            last_timestamp = last_timestamp.max(recovered.last_timestamp);
            torn = recovered.truncated > 0;
            stats.segments += 1;
            stats.trusted_segments += usize::from(recovered.index.is_none());
            stats.scanned_bytes += recovered.scanned;
            stats.truncated_bytes += recovered.truncated;
            if recovered.scanned > 0 && dirty_from.is_none() {
                // Verified but not known to be synced (a kill leaves it in the page cache): the
                // next sync covers it before a checkpoint may name it.
                dirty_from = Some(segments.len());
            }
            segments.push(Segment::open(dir, start, recovered).await?);
        }
        if torn || dropped {
            // What the checkpoint named may be gone: never let it outlive the cut.
            checkpoint::remove(dir).await?;
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, 0).await?);
        }
        // Everything recovery kept is on disk: all of it may be read.
        let readable_end = segments.last().map_or(0, Segment::end_offset);
        let covered = !torn
            && !dropped
            && checkpoint.segments.len() == segments.len()
            && segments.iter().all(|s| checkpoint.get(s.start_offset) == Some(&s.mark()));
        tracing::debug!(dir = %dir.display(), ?stats, "partition log opened");
        Ok(Self {
            dir: dir.to_path_buf(),
            segments,
            segment_size,
            policy,
            dirty_from,
            last_timestamp,
            poisoned: None,
            readable_end,
            since_checkpoint: 0,
            checkpointed_segments: covered.then_some(checkpoint.segments.len()),
            opened: stats,
        })
    }

    /// What opening the log did.
    pub fn open_stats(&self) -> OpenStats {
        self.opened
    }

    /// The end of what may be read (see the field).
    pub fn readable_end(&self) -> u64 {
        self.readable_end
    }

    /// The first offset still stored.
    pub fn first_offset(&self) -> u64 {
        self.segments[0].start_offset
    }

    fn active(&self) -> &Segment {
        &self.segments[self.segments.len() - 1]
    }

    /// The offset the next message gets.
    pub fn next_offset(&self) -> u64 {
        self.active().end_offset()
    }

    /// Messages stored.
    pub fn messages_count(&self) -> u64 {
        self.segments.iter().map(Segment::len).sum()
    }

    /// Bytes stored.
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(Segment::size).sum()
    }

    pub fn segments_count(&self) -> usize {
        self.segments.len()
    }

    /// Stamps and appends a batch: consecutive offsets from [`Self::next_offset`], one server
    /// timestamp (µs, never earlier than the previous batch's), checksums. Returns the first
    /// offset. Does not sync: see `durability`.
    pub async fn append(
        &mut self,
        mut batch: BytesMut,
        lengths: &[u32],
        now_micros: u64,
    ) -> Result<u64, StorageError> {
        if let Some(reason) = &self.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        if self.active().size() > 0 && self.active().size() + batch.len() as u64 > self.segment_size
        {
            // Nothing of this batch is written yet: a failed roll (no file descriptors, no
            // space for a new file) is answered with the error and retried on the next append,
            // never a poisoned partition.
            if self.policy.sync_before_ack() {
                self.sync().await?;
            }
            let start = self.next_offset();
            let segment = Segment::create(&self.dir, start).await.inspect_err(|e| {
                tracing::warn!(dir = %self.dir.display(), error = %e, "segment roll failed; will retry");
            })?;
            self.segments.push(segment);
        }
        let timestamp = now_micros.max(self.last_timestamp);
        let first = self.next_offset();
        let mut pos = 0usize;
        for (i, &len) in lengths.iter().enumerate() {
            let end = pos + len as usize;
            message::stamp(&mut batch[pos..end], first + i as u64, timestamp);
            pos = end;
        }
        let last = self.segments.len() - 1;
        self.dirty_from = Some(self.dirty_from.map_or(last, |d| d.min(last)));
        let len = batch.len() as u64;
        let result = self.segments[last].append(batch, lengths, timestamp).await;
        match result {
            Ok(_) => {
                self.last_timestamp = timestamp;
                self.since_checkpoint += len;
                if !self.policy.sync_before_ack() {
                    self.readable_end = self.next_offset();
                }
                Ok(first)
            }
            Err(e) => {
                self.poison(&e);
                Err(e)
            }
        }
    }

    /// Syncs every segment written since the last sync, in order (a group of appends may have
    /// rolled through several).
    pub async fn sync(&mut self) -> Result<(), StorageError> {
        if let Some(reason) = &self.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        let Some(from) = self.dirty_from else { return Ok(()) };
        for i in from..self.segments.len() {
            if let Err(e) = self.segments[i].sync().await {
                self.poison(&e);
                return Err(e);
            }
        }
        self.dirty_from = None;
        self.readable_end = self.next_offset();
        if self.checkpoint_due() {
            // Only an optimisation for the next start: a failure is logged, never an error
            // for the appends this sync made durable.
            if let Err(e) = self.checkpoint().await {
                tracing::warn!(dir = %self.dir.display(), error = %e, "checkpoint failed");
            }
        }
        Ok(())
    }

    fn checkpoint_due(&self) -> bool {
        self.checkpointed_segments != Some(self.segments.len())
            || self.since_checkpoint >= CHECKPOINT_EVERY_BYTES
    }

    /// Writes a checkpoint naming every segment as it is. Only after a successful sync of
    /// everything (`dirty_from` is `None`): it vouches for every byte it names.
    async fn checkpoint(&mut self) -> Result<(), StorageError> {
        if self.dirty_from.is_some() || self.poisoned.is_some() {
            return Ok(());
        }
        let mut marks = Vec::with_capacity(self.segments.len());
        for segment in &mut self.segments {
            segment.sync_index().await?;
            marks.push(segment.mark());
        }
        checkpoint::save(&self.dir, &Checkpoint { segments: marks }).await?;
        self.since_checkpoint = 0;
        self.checkpointed_segments = Some(self.segments.len());
        Ok(())
    }

    /// A clean stop: syncs what is unsynced and checkpoints everything, so the next start
    /// verifies nothing. A poisoned log writes nothing (the next start verifies its tail).
    pub async fn close(&mut self) -> Result<(), StorageError> {
        if let Some(reason) = &self.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        self.sync().await?;
        if self.checkpointed_segments != Some(self.segments.len()) || self.since_checkpoint > 0 {
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// Segments with writes not yet synced (for tests of the sync rule).
    pub fn unsynced_segments(&self) -> usize {
        self.dirty_from.map_or(0, |from| self.segments.len() - from)
    }

    fn poison(&mut self, e: &StorageError) {
        tracing::error!(dir = %self.dir.display(), error = %e, "partition poisoned: refusing writes");
        self.poisoned = Some(e.to_string());
    }

    /// Bytes of the readable messages from `offset` on, when that is known without I/O (the
    /// offset is in the active segment); `None` otherwise.
    pub fn readable_bytes_from(&self, offset: u64) -> Option<u64> {
        let active = self.active();
        if offset >= self.readable_end {
            return Some(0);
        }
        let from = offset.checked_sub(active.start_offset)?;
        let to = self.readable_end.checked_sub(active.start_offset)?;
        Some(active.position(to)?.saturating_sub(active.position(from)?))
    }

    /// Reads up to `count` messages from `offset` (clamped to the first stored one), never past
    /// [`Self::readable_end`].
    pub async fn read(&mut self, offset: u64, count: usize) -> Result<ReadResult, StorageError> {
        self.read_at_most(offset, count, MAX_READ_BYTES).await
    }

    /// [`Self::read`] with at most `max_bytes` (and never over [`MAX_READ_BYTES`]) unless
    /// that would return nothing: one message is returned whatever its size.
    pub async fn read_at_most(
        &mut self,
        offset: u64,
        count: usize,
        max_bytes: u64,
    ) -> Result<ReadResult, StorageError> {
        let mut out = ReadResult::default();
        let mut offset = offset.max(self.segments[0].start_offset);
        let readable =
            usize::try_from(self.readable_end.saturating_sub(offset)).unwrap_or(usize::MAX);
        let count = count.min(readable);
        let mut budget = max_bytes.clamp(1, MAX_READ_BYTES);
        let first = self.segments.partition_point(|s| s.end_offset() <= offset);
        for segment in &mut self.segments[first..] {
            if out.count >= count || budget == 0 {
                break;
            }
            let from = (offset - segment.start_offset) as usize;
            let (bytes, n) = segment.read(from, count - out.count, budget).await?;
            if n == 0 {
                continue;
            }
            if out.count > 0 && bytes.len() as u64 > budget {
                // Only the first message may exceed the budget (a segment returns at least one).
                break;
            }
            budget = budget.saturating_sub(bytes.len() as u64);
            out.count += n;
            offset += n as u64;
            out.chunks.push(bytes);
        }
        Ok(out)
    }

    /// The first offset whose timestamp is ≥ `timestamp`.
    pub async fn offset_at_or_after(
        &mut self,
        timestamp: u64,
    ) -> Result<Option<u64>, StorageError> {
        let first =
            self.segments.partition_point(|s| s.is_empty() || s.last_timestamp() < timestamp);
        let Some(segment) = self.segments.get_mut(first) else { return Ok(None) };
        let start = segment.start_offset;
        Ok(segment.index().await?.first_at_or_after(timestamp).map(|i| start + i as u64))
    }

    /// Deletes every message and keeps the offsets going (never reused): first the empty
    /// segment that starts at the next offset is created, durably, then the old segments are
    /// deleted oldest first and the directory synced. A crash in between leaves old segments
    /// followed by the new one (contiguous: nothing restarts at 0); a failed delete reopens the
    /// log from what is on disk, so memory and disk agree (the leftovers stay readable). An
    /// empty active segment already starts at the next offset: it is kept, not re-created
    /// (its file is the fresh one).
    pub async fn purge(&mut self) -> Result<(), StorageError> {
        if let Some(reason) = &self.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        let next = self.next_offset();
        let fresh = match self.segments.pop_if(|s| s.is_empty()) {
            Some(empty) => empty,
            None => Segment::create(&self.dir, next).await?,
        };
        let old = std::mem::replace(&mut self.segments, vec![fresh]);
        self.dirty_from = None;
        self.readable_end = next;
        let mut failed = None;
        for segment in old {
            if let Err(e) = segment.delete().await {
                failed = Some(e);
                break;
            }
        }
        super::dirs::sync_dir(&self.dir).map_err(StorageError::io("sync", &self.dir))?;
        match failed {
            None => Ok(()),
            Some(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "purge could not delete every segment; reopening");
                let (dir, size, policy) = (self.dir.clone(), self.segment_size, self.policy);
                match Self::open(&dir, size, policy).await {
                    Ok(reopened) => *self = reopened,
                    Err(reopen) => self.poison(&reopen),
                }
                Err(e)
            }
        }
    }

    /// Deletes sealed segments from the start of the log, oldest first, while `deletable` says
    /// so and at most `max` of them; never the active (last) one. Each goes durably before the
    /// next (its log file, then its index, then the directory is synced), so whatever a crash
    /// or power loss keeps is still a contiguous log: at worst an oldest segment comes back.
    /// Offsets are never reused; reads before the new first offset start at it.
    pub async fn delete_oldest(
        &mut self,
        max: usize,
        mut deletable: impl FnMut(&Segment) -> bool,
    ) -> Result<Removed, StorageError> {
        if let Some(reason) = &self.poisoned {
            return Err(StorageError::Poisoned(reason.clone()));
        }
        let mut removed = Removed::default();
        while removed.segments < max && self.segments.len() > 1 && deletable(&self.segments[0]) {
            let segment = self.segments.remove(0);
            let (messages, bytes) = (segment.len(), segment.size());
            self.dirty_from = self.dirty_from.map(|d| d.saturating_sub(1));
            // The checkpoint names a segment that is gone: the next sync writes a new one.
            self.checkpointed_segments = None;
            segment.delete().await?;
            super::dirs::sync_dir(&self.dir).map_err(StorageError::io("sync", &self.dir))?;
            removed.segments += 1;
            removed.messages += messages;
            removed.bytes += bytes;
        }
        Ok(removed)
    }

    /// The sealed segments (every one but the active), oldest first.
    pub fn sealed_segments(&self) -> &[Segment] {
        &self.segments[..self.segments.len() - 1]
    }

    /// Deletes the partition's directory.
    pub async fn delete(self) -> Result<(), StorageError> {
        let dir = self.dir.clone();
        drop(self);
        super::dirs::remove_dir_all_durable(&dir).map_err(StorageError::io("remove", &dir))
    }
}

/// Removes index files whose log file is gone (a deletion of the oldest segment removes its log
/// first; a crash may leave the index behind), then syncs the directory if it removed any. Only
/// tidiness: what cannot be removed stays, with a warning (an index without its log is never
/// read).
fn remove_orphan_indexes(dir: &Path, starts: &[u64]) -> Result<(), StorageError> {
    let mut removed = false;
    for entry in std::fs::read_dir(dir).map_err(StorageError::io("list", dir))? {
        let entry = entry.map_err(StorageError::io("list", dir))?;
        let name = entry.file_name();
        let start = name.to_string_lossy().strip_suffix(".index").and_then(|s| s.parse().ok());
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if let Some(start) = start
            && is_file
            && starts.binary_search(&start).is_err()
        {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed the index of a deleted segment");
                    removed = true;
                }
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove the index of a deleted segment")
                }
            }
        }
    }
    if removed {
        super::dirs::sync_dir(dir).map_err(StorageError::io("sync", dir))?;
    }
    Ok(())
}

/// Removes the segments starting at `starts` (log and index) and syncs the directory.
fn drop_segments(dir: &Path, starts: &[u64]) -> Result<(), StorageError> {
    for &start in starts {
        let (log_path, index_path) = paths(dir, start);
        tracing::warn!(path = %log_path.display(), "dropping a segment after a torn one");
        std::fs::remove_file(&log_path).map_err(StorageError::io("remove", &log_path))?;
        match std::fs::remove_file(&index_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StorageError::io("remove", &index_path)(e));
            }
            _ => {}
        }
    }
    super::dirs::sync_dir(dir).map_err(StorageError::io("sync", dir))
}
