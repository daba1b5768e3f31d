//! The filesystem mounted for real: a program's writes, syncs, renames and removals through the
//! kernel, then a power cut, and what survives. Skips (with the reason) where FUSE cannot mount.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::PathBuf;

use eddy_crashfs::{CrashFs, Cut, Fault, FaultOp};

fn mount(name: &str) -> Option<CrashFs> {
    let dir = std::env::temp_dir().join(format!("eddy-crashfs-{name}-{}", std::process::id()));
    match CrashFs::mount(&dir) {
        Ok(fs) => Some(fs),
        Err(e) => {
            eprintln!("SKIPPED: cannot mount FUSE here: {e}");
            None
        }
    }
}

fn read(path: &PathBuf) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    File::open(path).ok()?.read_to_end(&mut out).ok()?;
    Some(out)
}

fn sync_dir(path: &std::path::Path) {
    File::open(path).unwrap().sync_all().unwrap();
}

#[test]
fn unsynced_data_and_names_are_gone_after_a_cut_synced_ones_stay() {
    let Some(fs) = mount("cut") else { return };
    let root = fs.path().to_path_buf();
    let dir = root.join("partition");
    std::fs::create_dir(&dir).unwrap();
    sync_dir(&root);
    let log = dir.join("0.log");
    let mut f = File::create(&log).unwrap();
    f.write_all(b"acknowledged").unwrap();
    f.sync_data().unwrap();
    sync_dir(&dir);
    f.write_all(b" and lost").unwrap();
    assert_eq!(read(&log).unwrap(), b"acknowledged and lost", "visible before the cut");
    let orphan = dir.join("1.log");
    File::create(&orphan).unwrap().write_all(b"x").unwrap();
    drop(f);
    let stats = fs.power_cut(Cut::Clean);
    assert_eq!(read(&log).unwrap(), b"acknowledged");
    assert!(read(&orphan).is_none(), "created without a directory sync");
    assert_eq!(stats.dropped_bytes, 9 + 1);
    assert!(stats.reverted_entries >= 1);
    // Writes go on after the cut.
    OpenOptions::new().append(true).open(&log).unwrap().write_all(b"!").unwrap();
    assert_eq!(read(&log).unwrap(), b"acknowledged!");
}

#[test]
fn a_rename_without_a_directory_sync_is_undone() {
    let Some(fs) = mount("rename") else { return };
    let root = fs.path().to_path_buf();
    std::fs::write(root.join("meta.tmp"), b"new").unwrap();
    File::open(root.join("meta.tmp")).unwrap().sync_all().unwrap();
    std::fs::write(root.join("meta.json"), b"old").unwrap();
    File::open(root.join("meta.json")).unwrap().sync_all().unwrap();
    sync_dir(&root);
    std::fs::rename(root.join("meta.tmp"), root.join("meta.json")).unwrap();
    fs.power_cut(Cut::Clean);
    assert_eq!(read(&root.join("meta.json")).unwrap(), b"old");
    std::fs::rename(root.join("meta.tmp"), root.join("meta.json")).unwrap();
    sync_dir(&root);
    fs.power_cut(Cut::Clean);
    assert_eq!(read(&root.join("meta.json")).unwrap(), b"new");
    assert!(read(&root.join("meta.tmp")).is_none());
}

#[test]
fn injected_faults_reach_the_program_as_errno() {
    let Some(fs) = mount("faults") else { return };
    let root = fs.path().to_path_buf();
    let mut f = File::create(root.join("seg.log")).unwrap();
    fs.inject(Fault { op: FaultOp::WriteEnospc, path_contains: "seg.log".into(), times: 1 });
    let e = f.write_all(b"data").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
    f.write_all(b"data").unwrap();
    fs.inject(Fault { op: FaultOp::FsyncEio, path_contains: "seg.log".into(), times: 1 });
    assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(libc::EIO));
    f.sync_data().unwrap();
    fs.inject(Fault { op: FaultOp::OpenEmfile, path_contains: "next.log".into(), times: 1 });
    assert_eq!(File::create(root.join("next.log")).unwrap_err().raw_os_error(), Some(libc::EMFILE));
    File::create(root.join("next.log")).unwrap();
    assert_eq!(fs.stats().faults_fired, 3);
}
