//! The users other than root: names, Argon2id password hashes, status and Iggy's permissions,
//! with the rules for changing them (unique names, Iggy's length bounds, ids never reused, at
//! most `max` users) and their file, `<data_dir>/users.json` (owner-only, replaced atomically).
//! The root user (id 0) is not here: its name is configured and its password is
//! `root_password`'s. Pure data and a file: no sockets, no wire framing, no password hashing
//! (callers hash off the shard's thread and hand the PHC string in).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eddy_wire::Identifier;
use eddy_wire::commands::users::{Permissions, USER_STATUS_ACTIVE, USER_STATUS_INACTIVE};
use serde::{Deserialize, Serialize};

use super::store_private;

/// The file holding the users.
pub const FILE: &str = "users.json";
/// The root user's id (Iggy's ids start at 0).
pub const ROOT_USER_ID: u32 = 0;
/// Username lengths Iggy allows.
const USERNAME_LEN: std::ops::RangeInclusive<usize> = 3..=50;
/// Password lengths Iggy allows.
pub const PASSWORD_LEN: std::ops::RangeInclusive<usize> = 3..=100;

/// Why a user command failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user {0} not found")]
    NotFound(Identifier),
    #[error("a username has 3 to 50 characters")]
    InvalidUsername,
    #[error("a password has 3 to 100 characters")]
    InvalidPassword,
    #[error("invalid user status {0}")]
    InvalidStatus(u8),
    #[error("a user named {0:?} exists")]
    Exists(String),
    #[error("at most {0} users")]
    LimitReached(usize),
    #[error("the root user cannot be deleted")]
    CannotDeleteRoot,
    #[error("the root user's permissions and status cannot be changed")]
    CannotChangeRoot,
    #[error("the password changed meanwhile")]
    PasswordChanged,
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0} is not a user list")]
    Corrupt(PathBuf),
}

/// One user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: u32,
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub active: bool,
    /// µs since the Unix epoch.
    pub created_at: u64,
    /// None: none at all.
    pub permissions: Option<Permissions>,
}

impl User {
    /// The status byte on the wire.
    pub fn status(&self) -> u8 {
        if self.active { USER_STATUS_ACTIVE } else { USER_STATUS_INACTIVE }
    }
}

/// A status byte from the wire: whether it means active.
pub fn parse_status(status: u8) -> Result<bool, UserError> {
    match status {
        USER_STATUS_ACTIVE => Ok(true),
        USER_STATUS_INACTIVE => Ok(false),
        other => Err(UserError::InvalidStatus(other)),
    }
}

/// Fails unless `username` has an allowed length.
pub fn check_username(username: &str) -> Result<(), UserError> {
    match USERNAME_LEN.contains(&username.chars().count()) {
        true => Ok(()),
        false => Err(UserError::InvalidUsername),
    }
}

/// Fails unless `password` has an allowed length.
pub fn check_password(password: &str) -> Result<(), UserError> {
    match PASSWORD_LEN.contains(&password.chars().count()) {
        true => Ok(()),
        false => Err(UserError::InvalidPassword),
    }
}

/// Every user but root.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Users {
    pub users: BTreeMap<u32, User>,
    /// Invariant: greater than every id ever used (root's 0 included).
    pub next_id: u32,
}

impl Users {
    /// The users saved in `dir` (none yet: none).
    pub fn load(dir: &Path) -> Result<Self, UserError> {
        let path = dir.join(FILE);
        let mut users: Self = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| UserError::Corrupt(path))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(source) => return Err(UserError::Io { what: "reading", path, source }),
        };
        let past = users.users.keys().next_back().map_or(ROOT_USER_ID, |&id| id);
        users.next_id = users.next_id.max(past.saturating_add(1)).max(ROOT_USER_ID + 1);
        Ok(users)
    }

    /// Saves the users atomically and durably, readable by the owner only.
    pub fn save(&self, dir: &Path) -> Result<(), UserError> {
        let path = dir.join(FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| UserError::Io {
            what: "encoding",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        store_private(dir, FILE, &bytes).map_err(|(what, path, source)| UserError::Io {
            what,
            path,
            source,
        })
    }

    /// The id `id` names: root's (named as configured) or a user's.
    pub fn resolve(&self, id: &Identifier, root_name: &str) -> Result<u32, UserError> {
        let found = match id {
            Identifier::Numeric(n) if *n == ROOT_USER_ID => Some(ROOT_USER_ID),
            Identifier::Numeric(n) => self.users.get(n).map(|u| u.id),
            Identifier::Name(name) if name == root_name => Some(ROOT_USER_ID),
            Identifier::Name(name) => self.by_name(name).map(|u| u.id),
        };
        found.ok_or_else(|| UserError::NotFound(id.clone()))
    }

    pub fn by_name(&self, name: &str) -> Option<&User> {
        self.users.values().find(|u| u.username == name)
    }

    /// Adds a user; returns its id.
    pub fn create(&mut self, new: NewUser, root_name: &str, max: usize) -> Result<u32, UserError> {
        check_username(&new.username)?;
        if new.username == root_name || self.by_name(&new.username).is_some() {
            return Err(UserError::Exists(new.username));
        }
        if self.users.len() >= max {
            return Err(UserError::LimitReached(max));
        }
        let id = self.next_id;
        self.next_id = id.checked_add(1).ok_or(UserError::LimitReached(max))?;
        let NewUser { username, password_hash, active, created_at, permissions } = new;
        let user = User { id, username, password_hash, active, created_at, permissions };
        self.users.insert(id, user);
        Ok(id)
    }

    /// Removes a user (never root).
    pub fn delete(&mut self, id: u32) -> Result<User, UserError> {
        if id == ROOT_USER_ID {
            return Err(UserError::CannotDeleteRoot);
        }
        self.users.remove(&id).ok_or(UserError::NotFound(Identifier::Numeric(id)))
    }

    fn get_mut(&mut self, id: u32) -> Result<&mut User, UserError> {
        if id == ROOT_USER_ID {
            return Err(UserError::CannotChangeRoot);
        }
        self.users.get_mut(&id).ok_or(UserError::NotFound(Identifier::Numeric(id)))
    }

    /// Renames a user and/or changes its status (not root's).
    pub fn update(
        &mut self,
        id: u32,
        username: Option<String>,
        active: Option<bool>,
        root_name: &str,
    ) -> Result<(), UserError> {
        if let Some(name) = &username {
            check_username(name)?;
            let taken = self.by_name(name).is_some_and(|u| u.id != id);
            if taken || name == root_name {
                return Err(UserError::Exists(name.clone()));
            }
        }
        let user = self.get_mut(id)?;
        if let Some(name) = username {
            user.username = name;
        }
        if let Some(active) = active {
            user.active = active;
        }
        Ok(())
    }

    /// Replaces a user's permissions (not root's).
    pub fn set_permissions(
        &mut self,
        id: u32,
        permissions: Option<Permissions>,
    ) -> Result<(), UserError> {
        self.get_mut(id)?.permissions = permissions;
        Ok(())
    }

    /// Replaces a user's password hash if it is still `expected` (the one the current password
    /// was checked against).
    pub fn set_password(&mut self, id: u32, expected: &str, hash: String) -> Result<(), UserError> {
        let user = self.users.get_mut(&id).ok_or(UserError::NotFound(Identifier::Numeric(id)))?;
        if user.password_hash != expected {
            return Err(UserError::PasswordChanged);
        }
        user.password_hash = hash;
        Ok(())
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password_hash: String,
    pub active: bool,
    pub created_at: u64,
    pub permissions: Option<Permissions>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewUser {
        NewUser {
            username: name.into(),
            password_hash: "$argon2id$x".into(),
            active: true,
            created_at: 1,
            permissions: None,
        }
    }

    #[test]
    fn names_are_unique_ids_never_reused_and_root_untouchable() {
        let mut users = Users { next_id: 1, ..Users::default() };
        let a = users.create(new("alice"), "iggy", 10).unwrap();
        assert_eq!(a, 1);
        assert!(matches!(users.create(new("alice"), "iggy", 10), Err(UserError::Exists(_))));
        assert!(matches!(users.create(new("iggy"), "iggy", 10), Err(UserError::Exists(_))));
        assert!(matches!(users.create(new("al"), "iggy", 10), Err(UserError::InvalidUsername)));
        users.delete(a).unwrap();
        assert_eq!(users.create(new("alice"), "iggy", 10).unwrap(), 2, "ids are not reused");
        assert!(matches!(users.delete(ROOT_USER_ID), Err(UserError::CannotDeleteRoot)));
        assert!(matches!(users.set_permissions(0, None), Err(UserError::CannotChangeRoot)));
        assert!(matches!(
            users.update(0, None, Some(false), "iggy"),
            Err(UserError::CannotChangeRoot)
        ));
        assert!(matches!(
            users.update(2, Some("iggy".into()), None, "iggy"),
            Err(UserError::Exists(_))
        ));
        users.update(2, Some("alicia".into()), Some(false), "iggy").unwrap();
        assert_eq!(users.resolve(&Identifier::Name("alicia".into()), "iggy").unwrap(), 2);
        assert_eq!(users.resolve(&Identifier::Name("iggy".into()), "iggy").unwrap(), 0);
        assert!(users.resolve(&Identifier::Numeric(1), "iggy").is_err());
        assert!(!users.users[&2].active);
        users.create(new("bob"), "iggy", 2).unwrap();
        assert!(matches!(users.create(new("carol"), "iggy", 2), Err(UserError::LimitReached(2))));
    }

    #[test]
    fn a_password_changes_only_from_the_hash_it_was_checked_against() {
        let mut users = Users { next_id: 1, ..Users::default() };
        let id = users.create(new("alice"), "iggy", 10).unwrap();
        assert!(matches!(
            users.set_password(id, "other", "h2".into()),
            Err(UserError::PasswordChanged)
        ));
        users.set_password(id, "$argon2id$x", "h2".into()).unwrap();
        assert_eq!(users.users[&id].password_hash, "h2");
    }

    #[test]
    fn saved_users_load_back_private_and_next_id_stays_ahead() {
        let dir = std::env::temp_dir().join(format!("eddy-users-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut users = Users::load(&dir).unwrap();
        assert_eq!(users.next_id, 1, "root has 0");
        let mut perms = Permissions::default();
        perms.global.read_streams = true;
        let id = users.create(NewUser { permissions: Some(perms), ..new("alice") }, "iggy", 10);
        users.save(&dir).unwrap();
        let back = Users::load(&dir).unwrap();
        assert_eq!(back, users);
        assert!(back.users[&id.unwrap()].permissions.as_ref().unwrap().global.read_streams);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.join(FILE), b"{not json").unwrap();
        assert!(matches!(Users::load(&dir), Err(UserError::Corrupt(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
