//! Startup recovery of a segment whose log holds arbitrary bytes (and whose index is stale):
//! never panics; it either reports damage or keeps a prefix of the file, every kept message
//! indexed. Then a checkpoint mark of what was kept, more arbitrary bytes appended after it (a
//! tail written since the checkpoint), and recovery again: it never cuts into the marked
//! prefix, and the marked index always loads. The first byte picks where the log starts among
//! a few offsets, how much of it is the stale index and how much is appended.

#![no_main]

use std::path::PathBuf;

use eddy_server::storage::checkpoint::SegmentMark;
use eddy_server::storage::recovery::{load_trusted_index, recover_segment};
use libfuzzer_sys::fuzz_target;

fn scratch() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("eddy-fuzz-recovery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, log)) = data.split_first() else { return };
    let dir = scratch();
    let (log_path, index_path) = (dir.join("segment.log"), dir.join("segment.index"));
    std::fs::write(&log_path, log).expect("write the log");
    std::fs::write(&index_path, &log[..log.len().min(usize::from(control))]).expect("index");
    let start = [0u64, 1, 1000, u64::MAX - 10][usize::from(control & 3)];
    let Ok(recovered) = recover_segment(&log_path, &index_path, start, None, true) else {
        return;
    };
    assert!(recovered.size <= log.len() as u64);
    assert_eq!(recovered.size + recovered.truncated, log.len() as u64);
    let on_disk = std::fs::metadata(&log_path).expect("the log").len();
    assert_eq!(on_disk, recovered.size, "the log is cut to what was kept");
    let mark = SegmentMark {
        start,
        size: recovered.size,
        count: recovered.count,
        last_timestamp: recovered.last_timestamp,
        index_digest: recovered.index_digest,
    };
    let tail = &log[..log.len().min(usize::from(control) * 4)];
    let mut grown = std::fs::read(&log_path).expect("the log");
    grown.extend_from_slice(tail);
    std::fs::write(&log_path, &grown).expect("append a tail");
    if let Ok(again) = recover_segment(&log_path, &index_path, start, Some(&mark), control & 4 != 0)
    {
        assert!(again.size >= mark.size && again.count >= mark.count, "the marked prefix stays");
        let on_disk = std::fs::metadata(&log_path).expect("the log").len();
        assert_eq!(on_disk, again.size);
    }
    let index = load_trusted_index(&log_path, &index_path, &mark).expect("the marked index loads");
    assert_eq!(index.len() as u64, mark.count);
});
