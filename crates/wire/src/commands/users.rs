//! LOGIN_USER and the identity reply.

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};

/// `[ulen u8][username][plen u8][password][version_len u32][version][context_len u32][context]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
    pub version: Option<String>,
}

impl Login {
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let username = c.name("username")?.to_owned();
        let plen = usize::from(c.u8()?);
        let password = c.str(plen, "password")?.to_owned();
        // Older clients stop after the password.
        let version = if c.remaining() > 0 {
            Some(c.long_str("version")?.to_owned()).filter(|v| !v.is_empty())
        } else {
            None
        };
        if c.remaining() > 0 {
            c.long_str("context")?;
        }
        c.finish()?;
        Ok(Self { username, password, version })
    }

    /// Appends the request payload (for clients).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.username.len() as u8);
        out.put_slice(self.username.as_bytes());
        out.put_u8(self.password.len() as u8);
        out.put_slice(self.password.as_bytes());
        let version = self.version.as_deref().unwrap_or("");
        out.put_u32_le(version.len() as u32);
        out.put_slice(version.as_bytes());
        out.put_u32_le(0);
    }
}

/// The identity reply: `[user_id u32]`.
pub fn encode_identity(user_id: u32, out: &mut BytesMut) {
    out.put_u32_le(user_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_round_trips() {
        let login = Login {
            username: "iggy".into(),
            password: "secret".into(),
            version: Some("0.10.0".into()),
        };
        let mut out = BytesMut::new();
        login.encode(&mut out);
        assert_eq!(Login::decode(&out), Ok(login));
        assert!(Login::decode(&out[..out.len() - 1]).is_err());
    }
}
