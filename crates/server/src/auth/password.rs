//! Password hashing: Argon2id (the argon2 crate's defaults) in PHC strings with a 16-byte salt
//! from the OS CSPRNG. Slow on purpose: callers run it off the shard's thread. No I/O.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("the OS random number generator failed: {0}")]
    Random(String),
    #[error("hashing the password: {0}")]
    Hash(String),
}

/// The PHC string of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (false for a malformed one).
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Whether `phc` is a PHC string argon2 can check against.
pub fn is_phc(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_salts_differ() {
        let a = hash("secret").unwrap();
        let b = hash("secret").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify(&a, "secret") && verify(&b, "secret"));
        assert!(!verify(&a, "secreT"));
        assert!(!verify("not a hash", "secret"));
        assert!(is_phc(&a) && !is_phc("x"));
    }
}
