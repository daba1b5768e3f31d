//! Consumer offsets of one partition: kept in memory, persisted one small file per consumer in
//! the partition's `offsets/` directory, replaced atomically (temporary file, rename) and, under
//! `FsyncPolicy::Always`, synced with its directory before the store is acknowledged.
//! No message bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use eddy_wire::Identifier;

use crate::shard::message::ConsumerId;
use crate::storage::StorageError;
use crate::storage::dirs;
use crate::storage::durability::FsyncPolicy;

/// The stored offsets of one partition.
#[derive(Debug)]
pub struct Offsets {
    dir: PathBuf,
    stored: HashMap<ConsumerId, u64>,
}

/// A file name for a consumer: its kind, then `n` and the number or `s` and the name in hex.
fn file_name(consumer: &ConsumerId) -> String {
    match &consumer.1 {
        Identifier::Numeric(n) => format!("{}-n-{n}", consumer.0),
        Identifier::Name(s) => {
            let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
            format!("{}-s-{hex}", consumer.0)
        }
    }
}

fn parse_name(name: &str) -> Option<ConsumerId> {
    let mut parts = name.splitn(3, '-');
    let kind: u8 = parts.next()?.parse().ok()?;
    let id = match (parts.next()?, parts.next()?) {
        ("n", n) => Identifier::Numeric(n.parse().ok()?),
        ("s", hex) if hex.len() % 2 == 0 => {
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            Identifier::Name(String::from_utf8(bytes?).ok()?)
        }
        _ => return None,
    };
    Some((kind, id))
}

impl Offsets {
    /// Loads the offsets stored under `partition_dir`.
    pub fn load(partition_dir: &Path) -> Result<Self, StorageError> {
        let dir = partition_dir.join("offsets");
        dirs::create_dir_all_durable(&dir).map_err(StorageError::io("create", &dir))?;
        let mut stored = HashMap::new();
        for entry in std::fs::read_dir(&dir).map_err(StorageError::io("list", &dir))? {
            let entry = entry.map_err(StorageError::io("list", &dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(consumer) = parse_name(&name) else { continue };
            let bytes =
                std::fs::read(entry.path()).map_err(StorageError::io("read", entry.path()))?;
            if let Ok(raw) = <[u8; 8]>::try_from(bytes.as_slice()) {
                stored.insert(consumer, u64::from_le_bytes(raw));
            } else {
                tracing::warn!(path = %entry.path().display(), "ignoring a malformed offset file");
            }
        }
        Ok(Self { dir, stored })
    }

    /// The lowest offset any consumer has stored (`None`: none has): retention deletes no
    /// message past it, as Iggy's does.
    pub fn min_stored(&self) -> Option<u64> {
        self.stored.values().copied().min()
    }

    pub fn get(&self, consumer: &ConsumerId) -> Option<u64> {
        self.stored.get(consumer).copied()
    }

    /// Stores `offset` for `consumer`, durably under `FsyncPolicy::Always`.
    pub async fn store(
        &mut self,
        consumer: ConsumerId,
        offset: u64,
        policy: FsyncPolicy,
    ) -> Result<(), StorageError> {
        let path = self.dir.join(file_name(&consumer));
        let bytes = offset.to_le_bytes().to_vec();
        dirs::replace_file(&path, bytes, policy.sync_before_ack()).await?;
        self.stored.insert(consumer, offset);
        Ok(())
    }

    /// Forgets `consumer`'s offset; `false` if none was stored.
    pub async fn delete(
        &mut self,
        consumer: &ConsumerId,
        policy: FsyncPolicy,
    ) -> Result<bool, StorageError> {
        if !self.stored.contains_key(consumer) {
            return Ok(false);
        }
        let path = self.dir.join(file_name(consumer));
        compio::fs::remove_file(&path).await.map_err(StorageError::io("remove", &path))?;
        self.stored.remove(consumer);
        if policy.sync_before_ack() {
            // Without this a removed offset can come back after a power loss.
            dirs::sync_dir_async(&self.dir).await?;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        for c in [(1u8, Identifier::Numeric(42)), (2, Identifier::Name("grüppe-1".into()))] {
            assert_eq!(parse_name(&file_name(&c)), Some(c));
        }
        assert_eq!(parse_name("junk"), None);
    }
}
