//! The root user's password. Configured (`auth.root_password`): kept as given and compared in
//! constant time. Not configured: generated at the first start (24 characters from the OS
//! CSPRNG), returned once for the operator to see, and stored only as an Argon2id PHC string in
//! `<data_dir>/root_password.phc` (written to a temporary file, synced, renamed, directory
//! synced); later starts load that hash. No network, no logging of secrets.

use std::path::{Path, PathBuf};

use super::{constant_time_eq, password, random_alphanumeric, store_private};

/// The file holding the generated password's hash.
pub const HASH_FILE: &str = "root_password.phc";
/// Characters of a generated password (an alphabet of 62: ~143 bits).
const GENERATED_LEN: usize = 24;

/// How the root user's password is checked.
#[derive(Clone)]
pub enum RootCredentials {
    /// Set in the configuration.
    Configured(String),
    /// Generated at first start; only its Argon2id PHC string is kept.
    Hashed(String),
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Configured(_) => "Configured(..)",
            Self::Hashed(_) => "Hashed(..)",
        })
    }
}

/// Why the stored password could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum RootPasswordError {
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{path} does not hold an Argon2 password hash")]
    BadHash { path: PathBuf },
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    #[error("hashing the password: {0}")]
    Hash(String),
}

impl RootCredentials {
    /// The configured password, or the stored hash in `data_dir`, or a new password (returned
    /// beside the credentials, the only time it exists in clear).
    pub fn load_or_generate(
        configured: &str,
        data_dir: &Path,
    ) -> Result<(Self, Option<String>), RootPasswordError> {
        if !configured.is_empty() {
            return Ok((Self::Configured(configured.to_owned()), None));
        }
        let path = data_dir.join(HASH_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let phc = text.trim().to_owned();
                if !password::is_phc(&phc) {
                    return Err(RootPasswordError::BadHash { path });
                }
                Ok((Self::Hashed(phc), None))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let password = generate()?;
                let phc = hash(&password)?;
                store(data_dir, &phc)?;
                Ok((Self::Hashed(phc), Some(password)))
            }
            Err(source) => Err(RootPasswordError::Io { what: "reading", path, source }),
        }
    }

    /// Whether the check is expensive enough to run off the shard's thread.
    pub fn is_hashed(&self) -> bool {
        matches!(self, Self::Hashed(_))
    }

    /// Whether `password` is the root password.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            Self::Configured(expected) => {
                constant_time_eq(password.as_bytes(), expected.as_bytes())
            }
            Self::Hashed(phc) => password::verify(phc, password),
        }
    }
}

fn generate() -> Result<String, RootPasswordError> {
    random_alphanumeric(GENERATED_LEN).map_err(|e| RootPasswordError::Random(e.to_string()))
}

fn hash(secret: &str) -> Result<String, RootPasswordError> {
    password::hash(secret).map_err(|e| RootPasswordError::Hash(e.to_string()))
}

fn store(dir: &Path, phc: &str) -> Result<(), RootPasswordError> {
    let line = format!("{phc}\n");
    store_private(dir, HASH_FILE, line.as_bytes())
        .map_err(|(what, path, source)| RootPasswordError::Io { what, path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_password_is_stored_hashed_and_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("eddy-root-pw-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        let (creds, shown) = RootCredentials::load_or_generate("", &dir).unwrap();
        let password = shown.expect("first start shows the new password");
        assert_eq!(password.len(), GENERATED_LEN);
        assert!(password.bytes().all(|b| b.is_ascii_alphanumeric()));
        let stored = std::fs::read_to_string(dir.join(HASH_FILE)).unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains(&password));
        assert!(creds.verify(&password));
        assert!(!creds.verify("iggy"));
        let (again, shown) = RootCredentials::load_or_generate("", &dir).unwrap();
        assert!(shown.is_none(), "shown once only");
        assert!(again.verify(&password));
        std::fs::write(dir.join(HASH_FILE), "not a hash").unwrap();
        assert!(matches!(
            RootCredentials::load_or_generate("", &dir),
            Err(RootPasswordError::BadHash { .. })
        ));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_configured_password_is_used_as_given() {
        let (creds, shown) =
            RootCredentials::load_or_generate("iggy", Path::new("/nonexistent")).unwrap();
        assert!(shown.is_none());
        assert!(creds.verify("iggy"));
        assert!(!creds.verify("iggy2"));
        assert!(!creds.is_hashed());
    }
}
