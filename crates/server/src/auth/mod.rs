//! Who may log in: the root user's credentials (a configured password compared in constant
//! time, or the generated one stored as an Argon2id hash in the data directory) and the per-IP
//! back-off after failed logins. No sockets, no wire types.

pub mod root_password;
pub mod throttle;

pub use root_password::{RootCredentials, RootPasswordError};
pub use throttle::LoginThrottle;

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
