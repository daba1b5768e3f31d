//! Storage: append/read/reopen, and recovery from each kind of damage: a torn tail, a truncated
//! or missing index, a corrupt message in the middle.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use eddy_server::storage::StorageError;
use eddy_server::storage::log::PartitionLog;
use eddy_wire::message::{HEADER_LEN, MessageHeader, checksum, encode_message};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eddy-storage-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir
}

fn batch(first_id: u128, sizes: &[usize]) -> (BytesMut, Vec<u32>) {
    let mut out = BytesMut::new();
    let mut lengths = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let before = out.len();
        let payload: Vec<u8> = (0..size).map(|b| (b + i) as u8).collect();
        encode_message(&mut out, first_id + i as u128, 7, &payload, b"hdr");
        lengths.push((out.len() - before) as u32);
    }
    (out, lengths)
}

/// Reads everything back and checks ids, offsets and checksums.
async fn read_all(log: &PartitionLog) -> Vec<(u64, u128)> {
    let read = log.read(0, 1_000_000).await.unwrap();
    let mut out = Vec::new();
    for chunk in read.chunks {
        let mut pos = 0;
        while pos < chunk.len() {
            let h = MessageHeader::parse(&chunk[pos..]).unwrap();
            let len = h.total_len() as usize;
            assert_eq!(h.checksum, checksum(&chunk[pos..pos + len]));
            out.push((h.offset, h.id));
            pos += len;
        }
    }
    assert_eq!(out.len(), read.count);
    out
}

fn log_file(dir: &Path, start: u64) -> PathBuf {
    dir.join(format!("{start:020}.log"))
}

#[compio::test]
async fn appends_read_back_across_segments_and_survive_reopen() {
    let dir = temp_dir("roll");
    let mut log = PartitionLog::open(&dir, 4096).await.unwrap();
    let mut ids = Vec::new();
    for b in 0..20u128 {
        let (bytes, lengths) = batch(b * 10, &[100, 200, 50]);
        let first = log.append(bytes, &lengths, 1_000 + b as u64).await.unwrap();
        assert_eq!(first, b as u64 * 3);
        ids.extend([b * 10, b * 10 + 1, b * 10 + 2]);
    }
    log.sync().await.unwrap();
    assert!(log.segments_count() > 1, "rolled at 4 KiB");
    let expected: Vec<(u64, u128)> =
        ids.iter().enumerate().map(|(i, &id)| (i as u64, id)).collect();
    assert_eq!(read_all(&log).await, expected);
    assert_eq!(log.offset_at_or_after(1_005), Some(15));
    drop(log);
    let log = PartitionLog::open(&dir, 4096).await.unwrap();
    assert_eq!(log.next_offset(), 60);
    assert_eq!(read_all(&log).await, expected);
    // A read from the middle returns exactly the asked count.
    let part = log.read(25, 7).await.unwrap();
    assert_eq!(part.count, 7);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_torn_tail_is_cut_back_to_the_last_whole_message() {
    let dir = temp_dir("torn");
    let mut log = PartitionLog::open(&dir, 1 << 30).await.unwrap();
    let (bytes, lengths) = batch(1, &[100, 100]);
    log.append(bytes, &lengths, 5).await.unwrap();
    drop(log);
    // A crash mid-write: half of a third message, then zeros the file system left.
    let path = log_file(&dir, 0);
    let mut data = std::fs::read(&path).unwrap();
    let good_len = data.len();
    let (extra, _) = batch(3, &[500]);
    data.extend_from_slice(&extra[..200]);
    data.extend_from_slice(&[0u8; 300]);
    std::fs::write(&path, &data).unwrap();
    let mut log = PartitionLog::open(&dir, 1 << 30).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, good_len);
    assert_eq!(read_all(&log).await, vec![(0, 1), (1, 2)]);
    // Writes continue at the right offset.
    let (bytes, lengths) = batch(9, &[10]);
    assert_eq!(log.append(bytes, &lengths, 6).await.unwrap(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_lagging_or_missing_index_is_rebuilt() {
    let dir = temp_dir("index");
    let mut log = PartitionLog::open(&dir, 1 << 30).await.unwrap();
    let (bytes, lengths) = batch(1, &[10, 20, 30, 40]);
    log.append(bytes, &lengths, 5).await.unwrap();
    drop(log);
    let index = dir.join(format!("{:020}.index", 0));
    let full = std::fs::read(&index).unwrap();
    assert_eq!(full.len(), 4 * 16);
    std::fs::write(&index, &full[..20]).unwrap();
    let log = PartitionLog::open(&dir, 1 << 30).await.unwrap();
    assert_eq!(log.next_offset(), 4);
    assert_eq!(std::fs::read(&index).unwrap(), full, "index rebuilt byte for byte");
    drop(log);
    std::fs::remove_file(&index).unwrap();
    let log = PartitionLog::open(&dir, 1 << 30).await.unwrap();
    assert_eq!(read_all(&log).await.len(), 4);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_corrupt_message_in_the_middle_is_reported_with_its_path() {
    let dir = temp_dir("corrupt");
    let mut log = PartitionLog::open(&dir, 1 << 30).await.unwrap();
    let (bytes, lengths) = batch(1, &[100, 100, 100]);
    log.append(bytes, &lengths, 5).await.unwrap();
    drop(log);
    let path = log_file(&dir, 0);
    let mut data = std::fs::read(&path).unwrap();
    let second = lengths[0] as usize;
    data[second + HEADER_LEN + 10] ^= 0xFF; // a payload bit flip in message 1
    std::fs::write(&path, &data).unwrap();
    match PartitionLog::open(&dir, 1 << 30).await {
        Err(StorageError::Corrupt { path: p, offset, position, .. }) => {
            assert_eq!(p, path);
            assert_eq!((offset, position), (1, second as u64));
            let message =
                StorageError::Corrupt { path: p, offset, position, reason: "x" }.to_string();
            assert!(message.contains(&path.display().to_string()));
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), data, "nothing was cut");
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_failed_roll_is_an_error_retried_on_the_next_append_not_a_poisoned_partition() {
    let dir = temp_dir("roll-retry");
    let mut log = PartitionLog::open(&dir, 1024).await.unwrap();
    let (bytes, lengths) = batch(1, &[900]);
    assert_eq!(log.append(bytes, &lengths, 1).await.unwrap(), 0);
    // The next segment's file cannot be created (a directory squats its name), as when the
    // process is out of file descriptors.
    let squatter = log_file(&dir, 1);
    std::fs::create_dir(&squatter).unwrap();
    let (bytes, lengths) = batch(2, &[900]);
    assert!(log.append(bytes, &lengths, 2).await.is_err(), "the roll fails");
    std::fs::remove_dir(&squatter).unwrap();
    let (bytes, lengths) = batch(3, &[900]);
    assert_eq!(log.append(bytes, &lengths, 3).await.unwrap(), 1, "retried, offsets continue");
    log.sync().await.unwrap();
    assert_eq!(read_all(&log).await, vec![(0, 1), (1, 3)]);
    std::fs::remove_dir_all(&dir).ok();
}
