//! Who may log in and what they may do: the root user's credentials (a configured password
//! compared in constant time, or the generated one stored as an Argon2id hash in the data
//! directory), the other users and their permissions, personal access tokens, and the per-IP
//! back-off after failed logins. No sockets, no wire framing.

pub mod access;
pub mod password;
pub mod root_password;
pub mod throttle;
pub mod tokens;
pub mod users;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use root_password::{RootCredentials, RootPasswordError};
pub use throttle::LoginThrottle;
pub use tokens::{TokenError, Tokens};
pub use users::{UserError, Users};

/// The 62 characters of generated secrets.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters from the OS CSPRNG, each of the 62 alphanumerics equally likely.
pub fn random_alphanumeric(len: usize) -> Result<String, getrandom::Error> {
    let mut out = String::with_capacity(len);
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - (256 % ALPHABET.len());
    while out.len() < len {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes)?;
        for b in bytes {
            if (b as usize) < limit && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Replaces `dir/name` with `bytes` atomically and durably, readable by the owner only: a
/// temporary file (mode 0600), synced, renamed over the old one, the directory synced. An
/// error says what failed on which path.
pub fn store_private(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), (&'static str, PathBuf, std::io::Error)> {
    let at = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| (what, path, source)
    };
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(at("creating", &tmp))?;
    file.write_all(bytes).map_err(at("writing", &tmp))?;
    file.sync_all().map_err(at("syncing", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(at("renaming", &path))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(at("syncing", dir))?;
    Ok(())
}

/// Compares two byte strings in time that depends only on their lengths, never on where they
/// first differ (a length mismatch still walks the longer input).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().max(b.len());
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_bytes_and_lengths_match() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret\0"));
        assert!(!constant_time_eq(b"secret\0", b"secret"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
