//! Storage: append/read/reopen, and recovery from each kind of damage: a torn tail (also ones
//! torn mid-message or just before one, with later sectors on disk), a truncated or missing
//! index, a corrupt message in the middle.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use eddy_server::storage::StorageError;
use eddy_server::storage::durability::FsyncPolicy;
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
async fn read_all(log: &mut PartitionLog) -> Vec<(u64, u128)> {
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

/// Writes one batch of messages of `sizes` into a fresh log in `dir`, then damages the log file
/// on disk with `damage(bytes, message lengths)`; returns the file and the lengths.
async fn write_then_damage(
    dir: &Path,
    sizes: &[usize],
    damage: impl FnOnce(&mut Vec<u8>, &[u32]),
) -> (PathBuf, Vec<u32>) {
    let mut log = PartitionLog::open(dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    let (bytes, lengths) = batch(1, sizes);
    log.append(bytes, &lengths, 5).await.unwrap();
    drop(log);
    let path = log_file(dir, 0);
    let mut data = std::fs::read(&path).unwrap();
    damage(&mut data, &lengths);
    std::fs::write(&path, &data).unwrap();
    (path, lengths)
}

#[compio::test]
async fn appends_read_back_across_segments_and_survive_reopen() {
    let dir = temp_dir("roll");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
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
    assert_eq!(read_all(&mut log).await, expected);
    assert_eq!(log.offset_at_or_after(1_005).await.unwrap(), Some(15));
    drop(log);
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.next_offset(), 60);
    assert_eq!(read_all(&mut log).await, expected);
    // A read from the middle returns exactly the asked count.
    let part = log.read(25, 7).await.unwrap();
    assert_eq!(part.count, 7);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_torn_tail_is_cut_back_to_the_last_whole_message() {
    let dir = temp_dir("torn");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
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
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, good_len);
    assert_eq!(read_all(&mut log).await, vec![(0, 1), (1, 2)]);
    // Writes continue at the right offset.
    let (bytes, lengths) = batch(9, &[10]);
    assert_eq!(log.append(bytes, &lengths, 6).await.unwrap(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_lagging_or_missing_index_is_rebuilt() {
    let dir = temp_dir("index");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    let (bytes, lengths) = batch(1, &[10, 20, 30, 40]);
    log.append(bytes, &lengths, 5).await.unwrap();
    drop(log);
    let index = dir.join(format!("{:020}.index", 0));
    let full = std::fs::read(&index).unwrap();
    assert_eq!(full.len(), 4 * 16);
    std::fs::write(&index, &full[..20]).unwrap();
    let log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.next_offset(), 4);
    assert_eq!(std::fs::read(&index).unwrap(), full, "index rebuilt byte for byte");
    drop(log);
    std::fs::remove_file(&index).unwrap();
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(read_all(&mut log).await.len(), 4);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_corrupt_message_in_the_middle_is_reported_with_its_path() {
    let dir = temp_dir("corrupt");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    let (bytes, lengths) = batch(1, &[100, 100, 100]);
    log.append(bytes, &lengths, 5).await.unwrap();
    drop(log);
    let path = log_file(&dir, 0);
    let mut data = std::fs::read(&path).unwrap();
    let second = lengths[0] as usize;
    data[second + HEADER_LEN + 10] ^= 0xFF; // a payload bit flip in message 1
    std::fs::write(&path, &data).unwrap();
    match PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await {
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

/// A power cut tore a multi-sector write: a sector in the middle of a message never reached the
/// disk (zeros), the sectors after it did, so a valid message follows the damaged one. That is a
/// torn tail, written after the last sync: cut from the damaged message, not refused (the
/// power-loss loop's partitions went unserved on this before). A flipped bit instead stays
/// refused (`a_corrupt_message_in_the_middle_is_reported_with_its_path`).
#[compio::test]
async fn a_write_torn_mid_message_with_later_sectors_on_disk_is_cut_not_refused() {
    let dir = temp_dir("torn-sector");
    let (path, lengths) = write_then_damage(&dir, &[100, 3000, 100], |data, lengths| {
        let (second, len) = (lengths[0] as usize, lengths[1] as usize);
        let sector = (second + HEADER_LEN).next_multiple_of(512);
        assert!(sector + 512 < second + len, "a whole sector inside message 1");
        data[sector..sector + 512].fill(0);
    })
    .await;
    let second = lengths[0] as usize;
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(read_all(&mut log).await, vec![(0, 1)], "cut at the torn message");
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, second);
    assert_eq!(log.next_offset(), 1, "the cut messages' offsets are given again: never acked");
    std::fs::remove_dir_all(&dir).ok();
}

/// The same tear at a message's very start: the message began 21 bytes before a sector boundary,
/// the sector before it never reached the disk, so only the message's first 21 bytes (its
/// checksum and part of its id) read zeros while its offset, lengths and the next message
/// survived. Also a torn write, cut, not refused (the power-loss loop went unserved on this once
/// whole zero sectors were already judged torn).
#[compio::test]
async fn a_write_torn_just_before_a_message_is_cut_not_refused() {
    let dir = temp_dir("torn-head");
    let overhead = batch(1, &[0]).1[0] as usize;
    let (path, lengths) =
        write_then_damage(&dir, &[512 - 21 - overhead, 3000, 100], |data, lengths| {
            let second = lengths[0] as usize;
            assert_eq!(second, 512 - 21, "message 1 starts 21 bytes before a sector boundary");
            data[second..512].fill(0);
        })
        .await;
    let second = lengths[0] as usize;
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(read_all(&mut log).await, vec![(0, 1)], "cut at the torn message");
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, second);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_failed_roll_is_an_error_retried_on_the_next_append_not_a_poisoned_partition() {
    let dir = temp_dir("roll-retry");
    let mut log = PartitionLog::open(&dir, 1024, FsyncPolicy::Always).await.unwrap();
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
    assert_eq!(read_all(&mut log).await, vec![(0, 1), (1, 3)]);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_sync_covers_every_segment_written_since_the_last_one() {
    let dir = temp_dir("sync-all");
    // Without per-roll syncs (fsync off), a run of appends rolls through many segments; one
    // sync must then cover all of them, not just the last two.
    let mut log = PartitionLog::open(&dir, 1024, FsyncPolicy::Never).await.unwrap();
    for b in 0..5u128 {
        let (bytes, lengths) = batch(b, &[900]);
        log.append(bytes, &lengths, 1).await.unwrap();
    }
    assert_eq!(log.segments_count(), 5);
    assert_eq!(log.unsynced_segments(), 5);
    log.sync().await.unwrap();
    assert_eq!(log.unsynced_segments(), 0);
    drop(log);
    // With fsync on, a roll syncs the segment it leaves before the next takes writes.
    std::fs::remove_dir_all(&dir).ok();
    let mut log = PartitionLog::open(&dir, 1024, FsyncPolicy::Always).await.unwrap();
    for b in 0..5u128 {
        let (bytes, lengths) = batch(b, &[900]);
        log.append(bytes, &lengths, 1).await.unwrap();
        assert_eq!(log.unsynced_segments(), 1, "only the active segment is unsynced");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_purge_whose_delete_fails_keeps_the_offsets_and_the_partition_working() {
    let dir = temp_dir("purge-fail");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    let (bytes, lengths) = batch(1, &[100, 100, 100]);
    log.append(bytes, &lengths, 1).await.unwrap();
    // The old segment's index cannot be removed (a non-empty directory squats its name).
    let index = dir.join(format!("{:020}.index", 0));
    std::fs::remove_file(&index).unwrap();
    std::fs::create_dir(&index).unwrap();
    std::fs::write(index.join("x"), b"").unwrap();
    assert!(log.purge().await.is_err());
    assert_eq!(log.next_offset(), 3, "offsets never restart");
    let (bytes, lengths) = batch(9, &[100]);
    assert_eq!(log.append(bytes, &lengths, 2).await.unwrap(), 3);
    log.sync().await.unwrap();
    assert_eq!(read_all(&mut log).await, vec![(3, 9)], "the purged messages are gone");
    drop(log);
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(read_all(&mut log).await, vec![(3, 9)], "and stay gone after a restart");
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_torn_tail_in_an_earlier_segment_cuts_there_and_drops_the_later_segments() {
    let dir = temp_dir("torn-middle");
    let mut log = PartitionLog::open(&dir, 1024, FsyncPolicy::Never).await.unwrap();
    for b in 0..3u128 {
        let (bytes, lengths) = batch(b * 10, &[400, 400]);
        log.append(bytes, &lengths, 1).await.unwrap();
    }
    assert_eq!(log.segments_count(), 3);
    drop(log);
    // Power cut: the second segment lost its last message's tail, the third (written later,
    // flushed by the kernel first) survived.
    let second = log_file(&dir, 2);
    let len = std::fs::metadata(&second).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&second).unwrap().set_len(len - 100).unwrap();
    // With fsync on, a segment is synced before the next takes writes: data after a torn
    // segment is damage, and the partition is refused rather than cut.
    let refused = PartitionLog::open(&dir, 1024, FsyncPolicy::Always).await;
    assert!(matches!(refused, Err(StorageError::Corrupt { .. })), "{refused:?}");
    let mut log = PartitionLog::open(&dir, 1024, FsyncPolicy::Never).await.expect("served");
    assert_eq!(read_all(&mut log).await, vec![(0, 0), (1, 1), (2, 10)]);
    assert!(!log_file(&dir, 4).exists(), "the later segment is dropped");
    let (bytes, lengths) = batch(99, &[10]);
    assert_eq!(log.append(bytes, &lengths, 2).await.unwrap(), 3, "offsets continue from the cut");
    std::fs::remove_dir_all(&dir).ok();
}

/// Storage on eddy-crashfs, for faults a real disk cannot be asked for; `None` (skipped) where
/// FUSE cannot be mounted.
fn crashfs(name: &str) -> Option<eddy_crashfs::CrashFs> {
    match eddy_crashfs::CrashFs::mount(&temp_dir(name)) {
        Ok(fs) => Some(fs),
        Err(e) => {
            eprintln!("SKIPPED: cannot mount FUSE here: {e}");
            None
        }
    }
}

#[compio::test]
async fn after_a_failed_sync_nothing_past_the_last_synced_offset_is_served() {
    use eddy_crashfs::{Cut, Fault, FaultOp};
    let Some(fs) = crashfs("eio") else { return };
    let dir = fs.path().join("p");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    let (bytes, lengths) = batch(1, &[100, 100]);
    log.append(bytes, &lengths, 1).await.unwrap();
    log.sync().await.unwrap();
    fs.inject(Fault { op: FaultOp::FsyncEio, path_contains: ".log".into(), times: 1 });
    let (bytes, lengths) = batch(3, &[100]);
    log.append(bytes, &lengths, 2).await.unwrap();
    assert!(log.sync().await.is_err(), "the sync fails: the append is never acknowledged");
    assert_eq!(
        read_all(&mut log).await,
        vec![(0, 1), (1, 2)],
        "the unsynced message is not served"
    );
    let (bytes, lengths) = batch(4, &[100]);
    assert!(log.append(bytes, &lengths, 3).await.is_err(), "poisoned: no more writes");
    drop(log);
    // After a power cut and a restart, the acknowledged messages are all there.
    fs.power_cut(Cut::Clean);
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(read_all(&mut log).await, vec![(0, 1), (1, 2)]);
}

#[compio::test]
async fn a_damaged_length_mid_log_is_reported_not_cut() {
    let dir = temp_dir("bad-length");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    let (bytes, lengths) = batch(1, &[100, 100, 100]);
    log.append(bytes, &lengths, 5).await.unwrap();
    // Dropped unsynced (no checkpoint vouches for it): the next start verifies all of it.
    drop(log);
    // A flipped bit in the second message's payload length: judged by its own lengths the next
    // message would start in the wrong place, but the index knows where it really is.
    let path = log_file(&dir, 0);
    let mut data = std::fs::read(&path).unwrap();
    let second = lengths[0] as usize;
    data[second + 52 + 1] ^= 0x04;
    std::fs::write(&path, &data).unwrap();
    let opened = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await;
    assert!(matches!(opened, Err(StorageError::Corrupt { offset: 1, .. })), "{opened:?}");
    assert_eq!(std::fs::read(&path).unwrap(), data, "no acknowledged message was cut");
    std::fs::remove_dir_all(&dir).ok();
}

/// Appends `batches` batches of three messages (ids from `first_id`), timestamps from 1_000.
async fn fill(log: &mut PartitionLog, first_id: u128, batches: u128) -> Vec<u128> {
    let mut ids = Vec::new();
    for b in 0..batches {
        let id = first_id + b * 3;
        let (bytes, lengths) = batch(id, &[100, 200, 50]);
        log.append(bytes, &lengths, 1_000 + b as u64).await.unwrap();
        ids.extend([id, id + 1, id + 2]);
    }
    ids
}

fn numbered(ids: &[u128]) -> Vec<(u64, u128)> {
    ids.iter().enumerate().map(|(i, &id)| (i as u64, id)).collect()
}

#[compio::test]
async fn after_a_clean_close_the_next_start_reads_no_log_byte() {
    let dir = temp_dir("clean-start");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let ids = fill(&mut log, 0, 40).await;
    let segments = log.segments_count();
    assert!(segments > 3);
    log.close().await.unwrap();
    drop(log);
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let stats = log.open_stats();
    assert_eq!(stats.segments, segments);
    assert_eq!(stats.scanned_bytes, 0, "{stats:?}");
    assert_eq!(stats.trusted_segments, segments - 1, "all but the active one stay unloaded");
    // Sealed indexes load on first use: reads and timestamp lookups see everything.
    assert_eq!(log.offset_at_or_after(1_005).await.unwrap(), Some(15));
    assert_eq!(read_all(&mut log).await, numbered(&ids));
    let more = fill(&mut log, 1_000, 2).await;
    assert_eq!(log.next_offset(), (ids.len() + more.len()) as u64);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn an_unclean_stop_verifies_only_what_the_last_checkpoint_does_not_cover() {
    let dir = temp_dir("unclean-start");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let mut ids = Vec::new();
    for round in 0..40u128 {
        ids.extend(fill(&mut log, round * 3, 1).await);
        log.sync().await.unwrap();
    }
    let total = log.size_bytes();
    drop(log); // no close: a crash
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let stats = log.open_stats();
    // Checkpoints follow each roll, so at most the active segment is re-read.
    assert!(stats.scanned_bytes > 0 && stats.scanned_bytes <= 4096, "{stats:?} of {total}");
    assert_eq!(read_all(&mut log).await, numbered(&ids));
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn a_checkpoint_that_does_not_match_the_files_is_not_trusted() {
    let dir = temp_dir("bad-checkpoint");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let ids = fill(&mut log, 0, 40).await;
    log.close().await.unwrap();
    drop(log);
    // A damaged checkpoint: everything is verified again.
    let checkpoint = dir.join("checkpoint");
    let good = std::fs::read(&checkpoint).unwrap();
    let mut bad = good.clone();
    bad[20] ^= 1;
    std::fs::write(&checkpoint, &bad).unwrap();
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.open_stats().scanned_bytes, log.size_bytes());
    assert_eq!(read_all(&mut log).await, numbered(&ids));
    log.close().await.unwrap();
    drop(log);
    // A sealed segment's index that no longer matches its mark is rebuilt from the log when
    // first used; the active segment's is checked at the start.
    std::fs::write(dir.join(format!("{:020}.index", 0)), [0u8; 40]).unwrap();
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.open_stats().scanned_bytes, 0);
    assert_eq!(read_all(&mut log).await, numbered(&ids));
    drop(log);
    // A log shorter than its mark (cut behind the checkpoint's back) is verified, not trusted.
    let first = log_file(&dir, 0);
    let len = std::fs::metadata(&first).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&first).unwrap().set_len(len - 10).unwrap();
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Never).await.unwrap();
    assert!(log.open_stats().truncated_bytes > 0);
    assert!(!dir.join("checkpoint").exists(), "a cut removes the checkpoint naming it");
    let kept = read_all(&mut log).await;
    assert!(!kept.is_empty() && kept.len() < ids.len());
    assert_eq!(kept, numbered(&ids[..kept.len()]), "a prefix, nothing reordered");
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn purging_twice_keeps_the_offsets_going_across_a_restart() {
    let dir = temp_dir("purge-twice");
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    fill(&mut log, 0, 1).await;
    log.sync().await.unwrap();
    log.purge().await.unwrap();
    // The active segment is now empty and starts at 3: a second purge must keep its file.
    log.purge().await.unwrap();
    assert_eq!(log.append(batch(9, &[10]).0, &batch(9, &[10]).1, 2).await.unwrap(), 3);
    log.sync().await.unwrap();
    drop(log);
    let mut log = PartitionLog::open(&dir, 1 << 30, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.next_offset(), 4, "offsets never restart");
    assert_eq!(read_all(&mut log).await, vec![(3, 9)]);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn deleting_the_oldest_segments_keeps_the_rest_and_the_offsets_going() {
    let dir = temp_dir("delete-oldest");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let ids = fill(&mut log, 0, 40).await;
    log.sync().await.unwrap();
    let segments = log.segments_count();
    assert!(segments > 4, "{segments}");
    let second = log.sealed_segments()[1].start_offset;
    let third = log.sealed_segments()[2].start_offset;
    // Stops where `deletable` says no: the prefix before it goes, nothing after.
    let removed = log.delete_oldest(10, |s| s.start_offset < third).await.unwrap();
    assert_eq!(removed.segments, 2);
    assert_eq!(removed.messages, third);
    assert_eq!(log.first_offset(), third);
    assert!(!log_file(&dir, 0).exists() && !log_file(&dir, second).exists());
    let kept = numbered(&ids)[third as usize..].to_vec();
    assert_eq!(read_all(&mut log).await, kept, "a read from 0 starts at the new first offset");
    assert_eq!(log.messages_count(), ids.len() as u64 - third);
    // Never the active segment, however much is asked.
    let removed = log.delete_oldest(usize::MAX, |_| true).await.unwrap();
    assert_eq!(removed.segments, segments - 3);
    assert_eq!(log.segments_count(), 1);
    let active = log.first_offset();
    assert_eq!(read_all(&mut log).await, numbered(&ids)[active as usize..].to_vec());
    drop(log);
    // A restart finds the same log, and offsets go on from where they were.
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.first_offset(), active);
    let (bytes, lengths) = batch(1_000, &[10]);
    assert_eq!(log.append(bytes, &lengths, 9_999).await.unwrap(), ids.len() as u64);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn an_index_left_by_a_deletion_a_crash_cut_short_is_removed_at_open() {
    let dir = temp_dir("orphan-index");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    fill(&mut log, 0, 20).await;
    log.close().await.unwrap();
    drop(log);
    // The log file of the oldest segment went, its index did not.
    std::fs::remove_file(log_file(&dir, 0)).unwrap();
    let index = dir.join(format!("{:020}.index", 0));
    assert!(index.exists());
    let log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    assert!(!index.exists(), "the orphan index is gone");
    assert!(log.first_offset() > 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn deleted_segments_stay_deleted_after_a_power_cut() {
    use eddy_crashfs::Cut;
    let Some(fs) = crashfs("delete-power") else { return };
    let dir = fs.path().join("p");
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    let ids = fill(&mut log, 0, 40).await;
    log.sync().await.unwrap();
    let removed = log.delete_oldest(3, |_| true).await.unwrap();
    assert_eq!(removed.segments, 3);
    let first = log.first_offset();
    drop(log);
    fs.power_cut(Cut::Clean);
    // The deletion was answered: it is durable. Every other (synced) message is there.
    let mut log = PartitionLog::open(&dir, 4096, FsyncPolicy::Always).await.unwrap();
    assert_eq!(log.first_offset(), first, "an answered deletion survives power loss");
    assert_eq!(read_all(&mut log).await, numbered(&ids)[first as usize..].to_vec());
}
