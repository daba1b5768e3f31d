//! Personal access tokens: created for a logged-in user (shown once), kept only as SHA-256
//! digests in `<data_dir>/personal_access_tokens.json` (a token is 256 random bits, so a slow
//! password hash would buy nothing), with an optional expiry; LOGIN_WITH_PERSONAL_ACCESS_TOKEN
//! logs in as the token's user. Every change is saved atomically before it is answered. Bounded:
//! at most `max_per_user` tokens per user. No sockets, no wire types.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{constant_time_eq, random_alphanumeric, store_private};

/// The file holding the tokens' digests.
pub const FILE: &str = "personal_access_tokens.json";
/// Characters of a token (an alphabet of 62: ~256 bits).
pub const TOKEN_LEN: usize = 43;
/// Shortest and longest token names (Iggy's bounds).
const NAME_LEN: std::ops::RangeInclusive<usize> = 3..=30;

/// Why a token command failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token name has 3 to 30 characters")]
    InvalidName,
    #[error("a token named {0:?} exists")]
    NameExists(String),
    #[error("at most {0} tokens per user")]
    LimitReached(usize),
    #[error("no such token")]
    Invalid,
    #[error("the token {0:?} has expired")]
    Expired(String),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0} is not a token list")]
    Corrupt(PathBuf),
    #[error("the OS random number generator failed: {0}")]
    Random(String),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    user_id: u32,
    name: String,
    /// Hex SHA-256 of the token.
    digest: String,
    /// µs since the Unix epoch; none: never.
    expiry_at: Option<u64>,
}

/// Every user's tokens.
#[derive(Debug)]
pub struct Tokens {
    dir: PathBuf,
    max_per_user: usize,
    entries: Vec<Entry>,
}

fn digest(token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

impl Tokens {
    /// The tokens saved in `dir` (none yet: an empty list).
    pub fn load(dir: &Path, max_per_user: usize) -> Result<Self, TokenError> {
        let path = dir.join(FILE);
        let entries = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| TokenError::Corrupt(path))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(TokenError::Io { what: "reading", path, source }),
        };
        Ok(Self { dir: dir.to_path_buf(), max_per_user, entries })
    }

    fn save(&self, entries: &[Entry]) -> Result<(), TokenError> {
        let bytes = serde_json::to_vec_pretty(entries).map_err(|e| TokenError::Io {
            what: "encoding",
            path: self.dir.join(FILE),
            source: std::io::Error::other(e),
        })?;
        store_private(&self.dir, FILE, &bytes).map_err(|(what, path, source)| TokenError::Io {
            what,
            path,
            source,
        })
    }

    /// Applies `change` to a copy, saves it, and only then keeps it.
    fn commit(&mut self, change: impl FnOnce(&mut Vec<Entry>)) -> Result<(), TokenError> {
        let mut next = self.entries.clone();
        change(&mut next);
        self.save(&next)?;
        self.entries = next;
        Ok(())
    }

    /// A new token for `user` named `name`, expiring at `expiry_at` (µs; none: never). The
    /// token is returned here only. Expired tokens are dropped first.
    pub fn create(
        &mut self,
        user_id: u32,
        name: &str,
        expiry_at: Option<u64>,
        now: u64,
    ) -> Result<String, TokenError> {
        if !NAME_LEN.contains(&name.chars().count()) || name.trim() != name {
            return Err(TokenError::InvalidName);
        }
        let live = |e: &Entry| e.expiry_at.is_none_or(|at| at > now);
        let mine = || self.entries.iter().filter(|e| e.user_id == user_id && live(e));
        if mine().any(|e| e.name == name) {
            return Err(TokenError::NameExists(name.to_owned()));
        }
        if mine().count() >= self.max_per_user {
            return Err(TokenError::LimitReached(self.max_per_user));
        }
        let token =
            random_alphanumeric(TOKEN_LEN).map_err(|e| TokenError::Random(e.to_string()))?;
        let entry = Entry { user_id, name: name.to_owned(), digest: digest(&token), expiry_at };
        self.commit(|entries| {
            entries.retain(|e| live(e) && !(e.user_id == user_id && e.name == name));
            entries.push(entry);
        })?;
        Ok(token)
    }

    /// Removes `user`'s token `name`.
    pub fn delete(&mut self, user_id: u32, name: &str) -> Result<(), TokenError> {
        if !self.entries.iter().any(|e| e.user_id == user_id && e.name == name) {
            return Err(TokenError::Invalid);
        }
        self.commit(|entries| entries.retain(|e| !(e.user_id == user_id && e.name == name)))
    }

    /// Removes every token of a deleted user.
    pub fn forget_user(&mut self, user_id: u32) -> Result<(), TokenError> {
        if !self.entries.iter().any(|e| e.user_id == user_id) {
            return Ok(());
        }
        self.commit(|entries| entries.retain(|e| e.user_id != user_id))
    }

    /// `user`'s tokens that have not expired: `(name, expiry_at)`.
    pub fn list(&self, user_id: u32, now: u64) -> Vec<(String, Option<u64>)> {
        self.entries
            .iter()
            .filter(|e| e.user_id == user_id && e.expiry_at.is_none_or(|at| at > now))
            .map(|e| (e.name.clone(), e.expiry_at))
            .collect()
    }

    /// The user `token` logs in as. Every stored digest is compared (in constant time), so how
    /// long this takes says nothing about which token came close.
    pub fn login(&self, token: &str, now: u64) -> Result<u32, TokenError> {
        let presented = digest(token);
        let mut found = None;
        for e in &self.entries {
            if constant_time_eq(presented.as_bytes(), e.digest.as_bytes()) {
                found = Some(e);
            }
        }
        let e = found.ok_or(TokenError::Invalid)?;
        match e.expiry_at {
            Some(at) if at <= now => Err(TokenError::Expired(e.name.clone())),
            _ => Ok(e.user_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("eddy-tokens-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&d).ok();
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_token_logs_in_until_it_expires_or_is_deleted_and_only_its_digest_is_stored() {
        let d = dir("life");
        let mut t = Tokens::load(&d, 2).unwrap();
        let forever = t.create(0, "ci-forever", None, 100).unwrap();
        let brief = t.create(0, "ci-brief", Some(200), 100).unwrap();
        assert_eq!(forever.len(), TOKEN_LEN);
        assert_ne!(forever, brief);
        assert_eq!(t.login(&forever, 150).unwrap(), 0);
        assert_eq!(t.login(&brief, 150).unwrap(), 0);
        assert!(matches!(t.login(&brief, 200), Err(TokenError::Expired(n)) if n == "ci-brief"));
        assert!(matches!(t.login("nope", 150), Err(TokenError::Invalid)));
        assert!(matches!(t.create(0, "ci-third", None, 150), Err(TokenError::LimitReached(2))));
        assert!(matches!(t.create(0, "ci-forever", None, 250), Err(TokenError::NameExists(_))));
        assert!(matches!(t.create(0, "ab", None, 0), Err(TokenError::InvalidName)));
        // The expired one no longer counts against the limit.
        t.create(0, "ci-third", None, 250).unwrap();
        assert_eq!(t.list(0, 250).len(), 2);
        let stored = std::fs::read_to_string(d.join(FILE)).unwrap();
        assert!(!stored.contains(&forever), "the token itself is never stored");
        assert!(stored.contains(&digest(&forever)));
        // A restart keeps them; a deleted one no longer logs in.
        let mut again = Tokens::load(&d, 2).unwrap();
        assert_eq!(again.login(&forever, 300).unwrap(), 0);
        again.delete(0, "ci-forever").unwrap();
        assert!(matches!(again.delete(0, "ci-forever"), Err(TokenError::Invalid)));
        assert!(Tokens::load(&d, 2).unwrap().login(&forever, 300).is_err());
        std::fs::write(d.join(FILE), "{").unwrap();
        assert!(matches!(Tokens::load(&d, 2), Err(TokenError::Corrupt(_))));
        std::fs::remove_dir_all(&d).ok();
    }
}
