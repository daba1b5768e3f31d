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
//! [tcp.tls]                   # TLS on the TCP port (rustls); the same table exists for
//! enabled = false             # [websocket.tls] (wss://)
//! cert_file = ""              # PEM certificate chain
//! key_file = ""               # PEM private key
//!
//! [websocket]
//! enabled = true
//! address = "127.0.0.1:8092"
//! allowed_origins = []        # browser origins allowed besides the server's own (see below);
//!                             # "*" allows every origin. Requests without Origin are allowed.
//! dashboard = true            # serve the web dashboard on plain GETs of this port (`/`)
//!
//! [storage]
//! fsync = true                # true: fdatasync before every SEND_MESSAGES reply (see durability)
//! segment_size = 1073741824   # bytes; a partition rolls to a new segment file past this
//! retention_interval_ms = 10000 # how often topics' message_expiry and max_topic_size are
//!                             # enforced (sealed segments deleted); 0 = never
//!
//! [limits]
//! max_request_size = 67108864 # bytes; larger requests are refused before any allocation
//! max_pre_login_request_size = 65536 # bytes a request may have before the connection logged in
//! max_unsent_reply_bytes = 4194304   # replies a connection may hold unsent; past it the server
//!                             # writes them before it runs the connection's next request
//! max_connections = 10000     # open client connections per server (both transports)
//! max_connections_per_ip = 1000
//! login_timeout_ms = 10000    # a connection not logged in by then is closed
//! request_timeout_ms = 30000  # a request begun but not completed for this long closes it
//! max_poll_wait_ms = 30000    # the longest a POLL_MESSAGES_DEFERRED waits (at most 600 s)
//! max_subscriptions = 64      # push subscriptions one connection may hold
//! listen_backlog = 4096
//!
//! [auth]
//! root_username = "iggy"
//! root_password = ""          # "" = generated at first start, printed once and stored hashed
//!                             # in <data_dir>/root_password.phc; set it (e.g. "iggy") to choose
//! max_failed_logins = 5       # per connection; the next failure closes it
//! login_backoff_max_ms = 30000 # per-IP back-off after failures, doubling from 100 ms up to this
//! max_tokens_per_user = 100   # personal access tokens one user may hold
//! max_users = 1000            # users besides root
//! ```
//! The server's own WebSocket origin is always allowed: `http://` (and `https://`) with the
//! bound address, plus `localhost`, `127.0.0.1` and `[::1]` with the port when it listens on a
//! loopback or unspecified address.
//! Environment: `EDDY_STORAGE_FSYNC=false`, `EDDY_TCP_ADDRESS=0.0.0.0:8090`,
//! `EDDY_WEBSOCKET_TLS_CERT_FILE=cert.pem`, … (`_TLS_` reaches the section's `tls` table). Values
//! are parsed as TOML (numbers, booleans) and fall back to strings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::storage::durability::FsyncPolicy;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub system: SystemConfig,
    pub tcp: TcpConfig,
    pub websocket: WebSocketConfig,
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
#[serde(default, deny_unknown_fields)]
pub struct TcpConfig {
    pub enabled: bool,
    pub address: SocketAddr,
    pub tls: TlsConfig,
}

/// TLS on a listener.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub enabled: bool,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocketConfig {
    pub enabled: bool,
    pub address: SocketAddr,
    /// Origins (`scheme://host[:port]`, compared case-insensitively) allowed besides the
    /// server's own; `"*"` allows any.
    pub allowed_origins: Vec<String>,
    /// Serve the dashboard (files compiled into the binary) to GETs without `Upgrade`.
    pub dashboard: bool,
    pub tls: TlsConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub fsync: bool,
    pub segment_size: u64,
    pub retention_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_request_size: usize,
    pub max_pre_login_request_size: usize,
    pub max_unsent_reply_bytes: usize,
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
    pub login_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub max_poll_wait_ms: u64,
    pub max_subscriptions: usize,
    pub listen_backlog: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub root_username: String,
    /// Empty: use the generated one stored in the data directory (made at first start).
    pub root_password: String,
    pub max_failed_logins: u32,
    pub login_backoff_max_ms: u64,
    pub max_tokens_per_user: usize,
    pub max_users: usize,
}

/// The password Iggy ships for its root user: never a default here, only when set explicitly.
pub const IGGY_DEFAULT_ROOT_PASSWORD: &str = "iggy";

impl Default for SystemConfig {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("local_data"), shards: 0 }
    }
}

impl Default for TcpConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            address: SocketAddr::from(([127, 0, 0, 1], 8090)),
            tls: TlsConfig::default(),
        }
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            address: SocketAddr::from(([127, 0, 0, 1], 8092)),
            allowed_origins: Vec::new(),
            dashboard: true,
            tls: TlsConfig::default(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { fsync: true, segment_size: 1 << 30, retention_interval_ms: 10_000 }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_request_size: 64 << 20,
            max_pre_login_request_size: 64 << 10,
            max_unsent_reply_bytes: 4 << 20,
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            login_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_poll_wait_ms: 30_000,
            max_subscriptions: 64,
            listen_backlog: 4096,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            root_username: "iggy".into(),
            root_password: String::new(),
            max_failed_logins: 5,
            login_backoff_max_ms: 30_000,
            max_tokens_per_user: 100,
            max_users: 1000,
        }
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
            let mut entry =
                table.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            // `<SECTION>_TLS_<KEY>` sets `[section.tls] key`.
            let field = match field.strip_prefix("tls_") {
                Some(key) => {
                    if let toml::Value::Table(t) = entry {
                        entry = t
                            .entry("tls")
                            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                    }
                    key.to_owned()
                }
                None => field,
            };
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

    /// How long a connection may stay without logging in.
    pub fn login_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.limits.login_timeout_ms)
    }

    /// The longest wait a deferred poll gets (µs), within the protocol's 600 s.
    pub fn max_poll_wait_us(&self) -> u64 {
        self.limits
            .max_poll_wait_ms
            .saturating_mul(1000)
            .min(eddy_wire::commands::messages::MAX_DEFERRED_WAIT_US)
    }

    /// How long a begun request may wait for its next bytes.
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.limits.request_timeout_ms)
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
            ("EDDY_WEBSOCKET_TLS_ENABLED".to_string(), "true".to_string()),
            ("EDDY_WEBSOCKET_TLS_CERT_FILE".to_string(), "c.pem".to_string()),
            ("UNRELATED".to_string(), "1".to_string()),
        ];
        let c = Config::load(Some(&file), env).unwrap();
        assert!(!c.storage.fsync);
        assert_eq!(c.storage.segment_size, 8192);
        assert_eq!(c.system.data_dir, PathBuf::from("/tmp/x y"));
        assert_eq!(c.tcp.address.port(), 0);
        assert_eq!(c.websocket.address.port(), 8092);
        assert!(c.websocket.tls.enabled && !c.tcp.tls.enabled);
        assert_eq!(c.websocket.tls.cert_file, PathBuf::from("c.pem"));
        assert!(Config::load(None, [("EDDY_STORAGE_NOPE".into(), "1".into())]).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
