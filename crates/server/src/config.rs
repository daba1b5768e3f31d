//! The server's configuration: a typed, documented struct filled from defaults, then an optional
//! TOML file, then `EDDY_<SECTION>_<KEY>` environment variables, then command-line flags.
//! No side effects.
//!
//! Every key, with its default:
//! ```toml
//! [system]
//! data_dir = "local_data"     # where streams, topics, partitions and metadata live
//! shards = 0                  # compio runtimes (threads), one per core; 0 = one per available core
//!
//! [tcp]
//! enabled = true
//! address = "127.0.0.1:8090"  # port 0 picks a free port; the bound address is logged
//!
//! [websocket]
//! enabled = true
//! address = "127.0.0.1:8092"
//!
//! [storage]
//! fsync = true                # true: fdatasync before every SEND_MESSAGES reply (see durability)
//! segment_size = 1073741824   # bytes; a partition rolls to a new segment file past this
//!
//! [limits]
//! max_request_size = 67108864 # bytes; larger requests are refused before any allocation
//! listen_backlog = 4096
//!
//! [auth]
//! root_username = "iggy"
//! root_password = "iggy"      # a warning is logged while this default is in use
//! ```
//! Environment: `EDDY_STORAGE_FSYNC=false`, `EDDY_TCP_ADDRESS=0.0.0.0:8090`, … Values are parsed
//! as TOML (numbers, booleans) and fall back to strings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::durability::FsyncPolicy;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub system: SystemConfig,
    pub tcp: ListenerConfig,
    pub websocket: ListenerConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SystemConfig {
    pub data_dir: PathBuf,
    pub shards: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub enabled: bool,
    pub address: SocketAddr,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub fsync: bool,
    pub segment_size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_request_size: usize,
    pub listen_backlog: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub root_username: String,
    pub root_password: String,
}

/// The default root password, as Iggy ships it.
pub const DEFAULT_ROOT_PASSWORD: &str = "iggy";

impl Default for Config {
    fn default() -> Self {
        Self {
            system: SystemConfig::default(),
            tcp: ListenerConfig {
                enabled: true,
                address: SocketAddr::from(([127, 0, 0, 1], 8090)),
            },
            websocket: ListenerConfig {
                enabled: true,
                address: SocketAddr::from(([127, 0, 0, 1], 8092)),
            },
            storage: StorageConfig::default(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("local_data"), shards: 0 }
    }
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self { enabled: true, address: SocketAddr::from(([127, 0, 0, 1], 0)) }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { fsync: true, segment_size: 1 << 30 }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self { max_request_size: 64 << 20, listen_backlog: 4096 }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { root_username: "iggy".into(), root_password: DEFAULT_ROOT_PASSWORD.into() }
    }
}

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, overlaid with `file` (if given) and then the `EDDY_*` variables in `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| ConfigError::Invalid(e.to_string()))?
            }
            None => toml::Table::new(),
        };
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("EDDY_") else { continue };
            let Some((section, field)) = rest.split_once('_') else { continue };
            let section = section.to_ascii_lowercase();
            let field = field.to_ascii_lowercase();
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            let entry =
                table.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(t) = entry {
                t.insert(field, parsed);
            }
        }
        table.try_into::<Config>().map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// The fsync policy the `storage.fsync` switch selects.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        FsyncPolicy::from_flag(self.storage.fsync)
    }

    /// The number of shards to run.
    pub fn shard_count(&self) -> usize {
        match self.system.shards {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        let dir = std::env::temp_dir().join(format!("eddy-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("eddy.toml");
        std::fs::write(&file, "[storage]\nfsync = false\nsegment_size = 4096\n[tcp]\nenabled = true\naddress = \"127.0.0.1:0\"\n").unwrap();
        let env = [
            ("EDDY_STORAGE_SEGMENT_SIZE".to_string(), "8192".to_string()),
            ("EDDY_SYSTEM_DATA_DIR".to_string(), "/tmp/x y".to_string()),
            ("UNRELATED".to_string(), "1".to_string()),
        ];
        let c = Config::load(Some(&file), env).unwrap();
        assert!(!c.storage.fsync);
        assert_eq!(c.storage.segment_size, 8192);
        assert_eq!(c.system.data_dir, PathBuf::from("/tmp/x y"));
        assert_eq!(c.tcp.address.port(), 0);
        assert_eq!(c.websocket.address.port(), 8092);
        assert!(Config::load(None, [("EDDY_STORAGE_NOPE".into(), "1".into())]).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
