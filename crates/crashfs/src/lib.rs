//! # eddy-crashfs
//!
//! A test-only FUSE filesystem for proving durability: it holds everything in memory and keeps,
//! per file, the content as of its last `fsync`/`fdatasync`, and per directory, the entries as of
//! its last `fsync` (the strict POSIX rule: a created, renamed or unlinked name is durable only
//! once its parent directory was synced). [`CrashFs::power_cut`] then does what a power loss
//! does: every file goes back to its synced content and every directory to its synced entries
//! (with [`Cut::Torn`], a seeded, reproducible subset of the unsynced 4 KiB pages survives).
//! [`CrashFs::inject`] fails chosen operations on chosen paths with `EIO` (fsync), `ENOSPC`
//! (write) or `EMFILE` (open/create).
//!
//! Mounted in the test's own process (a FUSE session thread); the program under test runs in a
//! child process on the mount point: kill it (`SIGKILL`), cut, restart it. Reads bypass the
//! kernel's page cache (`direct_io`, no attribute or entry caching), so what a restarted process
//! reads is what survived. Needs `/dev/fuse` and the right to mount (root); [`CrashFs::mount`]
//! says why when it cannot, and tests skip on that.
//!
//! Not simulated: reordering of writes within one file beyond page granularity, metadata-only
//! syncs (`fdatasync` syncs size and data like `fsync`), hard links, xattrs, `mmap`.

mod fs;
mod state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use state::{Cut, Fault, FaultOp, Stats};

/// Why the filesystem could not be mounted.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("/dev/fuse is not available")]
    NoFuse,
    #[error("mounting {path}: {source}")]
    Mount { path: PathBuf, source: std::io::Error },
}

/// A mounted crash-simulating filesystem; unmounted on drop.
pub struct CrashFs {
    state: Arc<Mutex<state::State>>,
    mountpoint: PathBuf,
    _session: fuser::BackgroundSession,
}

impl CrashFs {
    /// Mounts an empty filesystem on `mountpoint` (created if missing).
    pub fn mount(mountpoint: &Path) -> Result<Self, MountError> {
        if !Path::new("/dev/fuse").exists() {
            return Err(MountError::NoFuse);
        }
        let err = |source| MountError::Mount { path: mountpoint.to_path_buf(), source };
        std::fs::create_dir_all(mountpoint).map_err(err)?;
        let state = Arc::new(Mutex::new(state::State::new()));
        let mut config = fuser::Config::default();
        config.mount_options = vec![fuser::MountOption::FSName("eddy-crashfs".into())];
        config.n_threads = Some(2);
        let session =
            fuser::spawn_mount(fs::Fs::new(state.clone()), mountpoint, &config).map_err(err)?;
        Ok(Self { state, mountpoint: mountpoint.to_path_buf(), _session: session })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Simulates a power loss: what was not synced is gone (see [`Cut`]). Stop every process
    /// writing to the filesystem first: a cut is what the disk holds when the power comes back.
    pub fn power_cut(&self, cut: Cut) -> Stats {
        self.lock().power_cut(cut)
    }

    /// Fails operations as `fault` says until it has fired `fault.times` times.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Counters since mount.
    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, state::State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}
