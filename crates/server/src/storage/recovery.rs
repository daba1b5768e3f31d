//! Startup recovery of one segment: walk the log message by message, verifying lengths, the
//! XXH3 checksum and the offset sequence; cut a torn tail (the end of a write a crash
//! interrupted) back to the last complete, verified message; refuse a log whose damage is
//! followed by valid messages (that is corruption, not a torn write); rebuild the index from what
//! survived. Synchronous: it runs before the shard serves anything. Never panics.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use eddy_wire::message::{self, HEADER_LEN, MAX_PAYLOAD_LEN, MAX_USER_HEADERS_LEN, MessageHeader};

use super::StorageError;
use super::index::{Index, IndexEntry};

/// What recovery found in a segment.
#[derive(Debug)]
pub struct Recovered {
    /// One entry per verified message.
    pub index: Index,
    /// Bytes of verified messages: the log's length after recovery.
    pub size: u64,
    /// Bytes cut from a torn tail (0 if the log was clean).
    pub truncated: u64,
}

/// Why one message failed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    /// The message does not fit in the file: a write that never finished.
    Incomplete,
    /// The message fits but is wrong.
    Invalid(&'static str),
}

/// Verifies the message at `pos`, returning its header and length.
fn check_message(
    file: &File,
    pos: u64,
    file_len: u64,
    expected_offset: u64,
    buf: &mut Vec<u8>,
) -> std::io::Result<Result<(MessageHeader, u64), Defect>> {
    if file_len - pos < HEADER_LEN as u64 {
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

/// Recovers the segment whose log is `log_path` and whose first offset is `start_offset`, and
/// rewrites `index_path` from the verified messages.
pub fn recover_segment(
    log_path: &Path,
    index_path: &Path,
    start_offset: u64,
) -> Result<Recovered, StorageError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(log_path)
        .map_err(StorageError::io("open", log_path))?;
    let file_len = file.metadata().map_err(StorageError::io("stat", log_path))?.len();
    let mut index = Index::default();
    let mut pos = 0u64;
    let mut buf = Vec::new();
    let mut last_timestamp = 0;
    while pos < file_len {
        let expected = start_offset + index.len() as u64;
        let checked = check_message(&file, pos, file_len, expected, &mut buf)
            .map_err(StorageError::io("read", log_path))?;
        match checked {
            Ok((header, total)) => {
                if pos > u64::from(u32::MAX) {
                    return Err(StorageError::BatchTooLarge(pos as usize));
                }
                last_timestamp = last_timestamp.max(header.timestamp);
                index.push(IndexEntry {
                    relative_offset: index.len() as u32,
                    position: pos as u32,
                    timestamp: last_timestamp,
                });
                pos += total;
            }
            Err(defect)
                if matches!(defect, Defect::Invalid(_))
                    && followed_by_valid_message(&file, pos, file_len, expected)
                    || indexed_successor_is_valid(
                        &file,
                        index_path,
                        pos,
                        file_len,
                        expected,
                        start_offset,
                    ) =>
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
    let truncated = file_len - pos;
    if truncated > 0 {
        tracing::warn!(path = %log_path.display(), at = pos, bytes = truncated, "cutting a torn tail");
        file.set_len(pos).map_err(StorageError::io("truncate", log_path))?;
        file.sync_all().map_err(StorageError::io("sync", log_path))?;
    }
    std::fs::write(index_path, index.encode_all())
        .map_err(StorageError::io("write", index_path))?;
    Ok(Recovered { index, size: pos, truncated })
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
        .chunks_exact(super::index::ENTRY_LEN)
        .find(|e| u32::from_le_bytes([e[0], e[1], e[2], e[3]]) == next_relative);
    let Some(entry) = entry else { return false };
    let next = u64::from(u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]));
    if next <= pos || next >= file_len {
        return false;
    }
    let mut buf = Vec::new();
    matches!(check_message(file, next, file_len, bad_offset + 1, &mut buf), Ok(Ok(_)))
}
