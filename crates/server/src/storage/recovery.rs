//! Startup recovery of one segment. What the partition's checkpoint vouches for (a prefix that
//! was synced, with the digest of its index entries) is trusted without reading the log: a
//! sealed segment it covers whole costs one `stat`, and its index is loaded only when first
//! used. Everything else (the tail written since the checkpoint, or the whole segment when the
//! checkpoint is missing or does not match) is walked message by message, verifying lengths,
//! the XXH3 checksum and the offset sequence; a torn tail (the end of a write a crash
//! interrupted) is cut back to the last complete, verified message; damage followed by valid
//! messages is refused (corruption, not a torn write) unless the damaged message's share of a
//! sector reads all zeros, what a power cut leaves of a multi-sector write whose later sectors
//! reached the disk and earlier ones did not; the index file is rewritten from what survived.
//! Synchronous: it runs before the shard serves anything. Never panics.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use eddy_wire::message::{self, HEADER_LEN, MAX_PAYLOAD_LEN, MAX_USER_HEADERS_LEN, MessageHeader};

use super::StorageError;
use super::checkpoint::SegmentMark;
use super::index::{ENTRY_LEN, Index, IndexEntry};
/// What recovery found in a segment.
#[derive(Debug)]
pub struct Recovered {
    /// One entry per verified message; `None` for a sealed segment the checkpoint vouches for
    /// whole (loaded on first use with [`load_trusted_index`]).
    pub index: Option<Index>,
    /// Bytes of messages: the log's length after recovery.
    pub size: u64,
    /// Messages in the segment.
    pub count: u64,
    /// The last message's timestamp (0 when empty).
    pub last_timestamp: u64,
    /// XXH3-64 of the index entries (see `Index::digest`).
    pub index_digest: u64,
    /// Bytes cut from a torn tail (0 if the log was clean).
    pub truncated: u64,
    /// Log bytes read and verified (0 when the checkpoint vouched for all of it).
    pub scanned: u64,
}

impl Recovered {
    fn from_index(index: Index, size: u64, truncated: u64, scanned: u64) -> Self {
        Self {
            size,
            count: index.len() as u64,
            last_timestamp: index.last().map_or(0, |e| e.timestamp),
            index_digest: index.digest(),
            index: Some(index),
            truncated,
            scanned,
        }
    }
}

/// Why one message failed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    /// The message does not fit in the file: a write that never finished.
    Incomplete,
    /// The message fits but is wrong.
    Invalid(&'static str),
}

/// The sector size a disk writes atomically (at least): a torn write is torn at these bounds.
const SECTOR: u64 = 512;

/// How long a message's last share of a sector must be for its zeros to count as a lost sector.
const MIN_TAIL_SHARE: u64 = 64;

/// Verifies the message at `pos`, returning its header and length.
fn check_message(
    file: &File,
    pos: u64,
    file_len: u64,
    expected_offset: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<Result<(MessageHeader, u64), Defect>> {
    if file_len.saturating_sub(pos) < HEADER_LEN as u64 {
        return Ok(Err(Defect::Incomplete));
    }
    let mut head = [0u8; HEADER_LEN];
    file.read_exact_at(&mut head, pos)?;
    let Some(header) = MessageHeader::parse(&head) else {
        return Ok(Err(Defect::Incomplete));
    };
    if header.payload_len > MAX_PAYLOAD_LEN || header.user_headers_len > MAX_USER_HEADERS_LEN {
        return Ok(Err(Defect::Invalid("impossible lengths")));
    }
    let total = header.total_len();
    if pos + total > file_len {
        return Ok(Err(Defect::Incomplete));
    }
    buf.clear();
    buf.resize(total as usize, 0);
    file.read_exact_at(buf, pos)?;
    if message::checksum(buf) != header.checksum {
        return Ok(Err(Defect::Invalid("checksum mismatch")));
    }
    if header.offset != expected_offset {
        return Ok(Err(Defect::Invalid("offset out of sequence")));
    }
    Ok(Ok((header, total)))
}

/// The index file's first `mark.count` entries, if they match the mark.
fn read_trusted_index(index_path: &Path, mark: &SegmentMark) -> Option<Index> {
    let bytes = std::fs::read(index_path).ok()?;
    Index::decode_trusted(&bytes, mark.count, mark.index_digest, mark.size)
}

/// Recovers the segment whose log is `log_path` and whose first offset is `start_offset`,
/// trusting what `mark` (from the checkpoint) vouches for; `load_index` asks for the index even
/// when nothing needs verifying (the active segment). Rewrites the index file's unverified part.
pub fn recover_segment(
    log_path: &Path,
    index_path: &Path,
    start_offset: u64,
    mark: Option<&SegmentMark>,
    load_index: bool,
) -> Result<Recovered, StorageError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(log_path)
        .map_err(StorageError::io("open", log_path))?;
    let file_len = file.metadata().map_err(StorageError::io("stat", log_path))?.len();
    let mut index = Index::default();
    let mut pos = 0u64;
    match mark {
        Some(m) if m.start == start_offset && file_len >= m.size => {
            if file_len == m.size && !load_index {
                return Ok(Recovered {
                    index: None,
                    size: m.size,
                    count: m.count,
                    last_timestamp: m.last_timestamp,
                    index_digest: m.index_digest,
                    truncated: 0,
                    scanned: 0,
                });
            }
            match read_trusted_index(index_path, m) {
                Some(trusted) => {
                    index = trusted;
                    pos = m.size;
                }
                None => {
                    tracing::warn!(path = %index_path.display(), "index does not match the checkpoint; verifying the whole segment");
                }
            }
        }
        Some(_) => {
            tracing::warn!(path = %log_path.display(), "log shorter than its checkpoint says; verifying the whole segment");
        }
        None => {}
    }
    let trusted_entries = index.len();
    let scanned_from = pos;
    let end = scan(&file, file_len, log_path, index_path, start_offset, &mut index, pos)?;
    let truncated = file_len - end;
    if truncated > 0 {
        tracing::warn!(path = %log_path.display(), at = end, bytes = truncated, "cutting a torn tail");
        file.set_len(end).map_err(StorageError::io("truncate", log_path))?;
        file.sync_all().map_err(StorageError::io("sync", log_path))?;
    }
    write_index_tail(index_path, &index, trusted_entries)?;
    Ok(Recovered::from_index(index, end, truncated, file_len - scanned_from))
}

/// Loads the index of a segment the checkpoint vouches for whole. If the index file does not
/// match the mark, it is rebuilt from the log, which must then hold exactly what the mark says.
pub fn load_trusted_index(
    log_path: &Path,
    index_path: &Path,
    mark: &SegmentMark,
) -> Result<Index, StorageError> {
    if let Some(index) = read_trusted_index(index_path, mark) {
        return Ok(index);
    }
    tracing::warn!(path = %index_path.display(), "index does not match the checkpoint; rebuilding it from the log");
    let file = File::open(log_path).map_err(StorageError::io("open", log_path))?;
    let mut index = Index::default();
    let end = scan(&file, mark.size, log_path, index_path, mark.start, &mut index, 0)?;
    if end != mark.size || index.len() as u64 != mark.count {
        return Err(StorageError::Corrupt {
            path: log_path.to_path_buf(),
            position: end,
            offset: mark.start + index.len() as u64,
            reason: "the log does not hold what its checkpoint says",
        });
    }
    write_index_tail(index_path, &index, 0)?;
    Ok(index)
}

/// Walks messages from `pos` (the next expected one is `start_offset + index.len()`) up to
/// `file_len`, pushing an entry per verified message. Returns where the verified messages end
/// (a torn tail starts there), or `Corrupt` when a bad message is followed by valid ones.
fn scan(
    file: &File,
    file_len: u64,
    log_path: &Path,
    index_path: &Path,
    start_offset: u64,
    index: &mut Index,
    mut pos: u64,
) -> Result<u64, StorageError> {
    let mut buf = Vec::new();
    let mut last_timestamp = index.last().map_or(0, |e| e.timestamp);
    while pos < file_len {
        let expected = start_offset + index.len() as u64;
        let checked = check_message(file, pos, file_len, expected, &mut buf)
            .map_err(StorageError::io("read", log_path))?;
        match checked {
            Ok((header, total)) => {
                let Ok(position) = u32::try_from(pos) else {
                    return Err(StorageError::BatchTooLarge(pos as usize));
                };
                last_timestamp = last_timestamp.max(header.timestamp);
                index.push(IndexEntry {
                    relative_offset: index.len() as u32,
                    position,
                    timestamp: last_timestamp,
                });
                pos += total;
            }
            Err(defect)
                if (matches!(defect, Defect::Invalid(_))
                    && followed_by_valid_message(file, pos, file_len, expected)
                    || indexed_successor_is_valid(
                        file,
                        index_path,
                        pos,
                        file_len,
                        expected,
                        start_offset,
                    ))
                    && !torn_by_a_lost_sector(file, pos, file_len) =>
            {
                let reason = match defect {
                    Defect::Invalid(reason) => reason,
                    Defect::Incomplete => "length runs past the next indexed message",
                };
                return Err(StorageError::Corrupt {
                    path: log_path.to_path_buf(),
                    position: pos,
                    offset: expected,
                    reason,
                });
            }
            Err(_) => break,
        }
    }
    Ok(pos)
}

/// Writes the index entries from `from` on into the index file and cuts it after the last.
fn write_index_tail(index_path: &Path, index: &Index, from: usize) -> Result<(), StorageError> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(index_path)
        .map_err(StorageError::io("open", index_path))?;
    let tail = index.encode_from(from);
    file.write_all_at(&tail, (from * ENTRY_LEN) as u64)
        .map_err(StorageError::io("write", index_path))?;
    file.set_len((index.len() * ENTRY_LEN) as u64).map_err(StorageError::io("truncate", index_path))
}

/// Whether the bad message at `pos` (as long as its header says, cut at the file's end) shows
/// the mark of a write torn by a power cut: its share of some sector, aligned in the file, reads
/// all zeros. Unsynced sectors of appended data that never reached the disk read back as zeros
/// (new space), and a disk may persist a later sector of one write without an earlier one
/// (crashfs's torn cut does the same per 4 KiB page), so valid messages after such a sector were
/// written with it and were never synced either: with fsync on, none was acknowledged, and the
/// tail is cut from here. Which shares count: a whole sector; the message's first share, however
/// short (it starts with the checksum, zero by chance once in 2^64, and a lost sector before a
/// message that began just short of a boundary leaves only that much zeroed: the header's offset
/// and lengths past the boundary survive, so the message looks merely damaged); a last share of
/// at least `MIN_TAIL_SHARE` bytes (payloads end in a few zeros often enough). Bit rot (flipped
/// bits) in synced data leaves no such share, and stays refused; only rot in a message whose
/// payload also holds zeros over such a share would be misjudged, and cut with a warning.
fn torn_by_a_lost_sector(file: &File, pos: u64, file_len: u64) -> bool {
    let mut head = [0u8; HEADER_LEN];
    if file.read_exact_at(&mut head, pos).is_err() {
        return false;
    }
    let Some(header) = MessageHeader::parse(&head) else {
        return false;
    };
    let end = pos.saturating_add(header.total_len()).min(file_len);
    let mut sector = [0u8; SECTOR as usize];
    let mut at = pos - pos % SECTOR;
    while at < end {
        let lo = at.max(pos);
        let hi = at.saturating_add(SECTOR).min(end);
        let share = hi - lo;
        let counts = share == SECTOR || lo == pos || (hi == end && share >= MIN_TAIL_SHARE);
        // `share` is at most SECTOR, so it indexes the buffer.
        let bytes = &mut sector[..share as usize];
        if counts && file.read_exact_at(bytes, lo).is_ok() && bytes.iter().all(|&b| b == 0) {
            return true;
        }
        at = at.saturating_add(SECTOR);
    }
    false
}

/// Whether a valid message (with the next offset after the bad one) starts right after the
/// message at `pos`, judging the bad one by its own length fields.
fn followed_by_valid_message(file: &File, pos: u64, file_len: u64, bad_offset: u64) -> bool {
    let mut head = [0u8; HEADER_LEN];
    if file.read_exact_at(&mut head, pos).is_err() {
        return false;
    }
    let Some(header) = MessageHeader::parse(&head) else {
        return false;
    };
    let next = pos + header.total_len();
    if next >= file_len {
        return false;
    }
    let mut buf = Vec::new();
    matches!(check_message(file, next, file_len, bad_offset + 1, &mut buf), Ok(Ok(_)))
}

/// Whether the index written before the crash places a valid message (with the next offset)
/// after the bad one at `pos`. This catches damage to the bad message's own length fields, which
/// `followed_by_valid_message` trusts: the index knows where the next message really starts. The
/// index is not synced, so after a power loss it may be short; then this says nothing and a bad
/// message at the end is cut as a torn tail.
fn indexed_successor_is_valid(
    file: &File,
    index_path: &Path,
    pos: u64,
    file_len: u64,
    bad_offset: u64,
    start_offset: u64,
) -> bool {
    // Only a message whose header is otherwise intact (its own offset, a server timestamp) can
    // be judged this way: what a torn write leaves (zeros, stale bytes) never carries the
    // expected offset, and a torn batch whose later pages survived must still be cut, not
    // called damage.
    let mut head = [0u8; HEADER_LEN];
    if file.read_exact_at(&mut head, pos).is_err() {
        return false;
    }
    match MessageHeader::parse(&head) {
        Some(h) if h.offset == bad_offset && h.timestamp != 0 => {}
        _ => return false,
    }
    let Ok(index) = std::fs::read(index_path) else { return false };
    let Some(next_relative) = bad_offset.checked_sub(start_offset).and_then(|r| r.checked_add(1))
    else {
        return false;
    };
    let Ok(next_relative) = u32::try_from(next_relative) else { return false };
    let entry = index
        .chunks_exact(ENTRY_LEN)
        .find(|e| u32::from_le_bytes([e[0], e[1], e[2], e[3]]) == next_relative);
    let Some(entry) = entry else { return false };
    let next = u64::from(u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]));
    if next <= pos || next >= file_len {
        return false;
    }
    let mut buf = Vec::new();
    matches!(check_message(file, next, file_len, bad_offset + 1, &mut buf), Ok(Ok(_)))
}
