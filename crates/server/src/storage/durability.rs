//! The durability policy: the one place that decides when data is fsynced.
//!
//! - [`FsyncPolicy::Always`]: a SEND_MESSAGES reply is sent only after `fdatasync` of the log
//!   returned success. What was acknowledged survives a process crash, a kernel crash and a power
//!   loss. Sends that queue up on a partition while a sync runs share the next one (group commit).
//! - [`FsyncPolicy::Never`]: the reply is sent once the batch is written to the log (the
//!   kernel's page cache). What was acknowledged survives a crash or `kill -9` of the server, but
//!   a kernel crash or power loss can lose what the kernel had not yet written back (by default up
//!   to ~30 s: `vm.dirty_expire_centisecs`).
//!
//! Either way, a failed write or sync is never acknowledged, and it poisons the partition: it
//! refuses writes until restart, when recovery re-verifies the log.

use serde::{Deserialize, Serialize};

/// When the log is synced to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// `fdatasync` before every acknowledgement (batched across concurrent sends).
    Always,
    /// Never sync explicitly; the kernel writes back on its own schedule.
    Never,
}

impl FsyncPolicy {
    /// From the `fsync = true|false` switch.
    pub fn from_flag(fsync: bool) -> Self {
        if fsync { Self::Always } else { Self::Never }
    }

    /// Whether an acknowledgement must wait for a sync.
    pub fn sync_before_ack(self) -> bool {
        self == Self::Always
    }
}
