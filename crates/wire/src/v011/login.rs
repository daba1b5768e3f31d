//! Session registration: LOGIN_REGISTER's body (a password or a personal access token, both
//! traveling as the `Register` operation) and its reply.
//!
//! Request: `[protocol_version u32][sdk_name: len u8 + utf-8][sdk_version: len u8 + utf-8]`,
//! then either `[username: len u8 + utf-8][password: len u8 + utf-8]` or `[token: len u8 +
//! utf-8]`, then `[client_context: len u32 + utf-8]`. Nothing in the header tells the two
//! apart, so a body is a password login if it parses as one to its last byte, else a token
//! login if it parses as that (the trailing `u32` context length makes the two shapes
//! exclusive for every body the SDK sends).
//!
//! Reply (after the result section): `[user_id u32][session u64][server_protocol_version u32]
//! [server_version: len u8 + utf-8]`.

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};

/// What the client says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientVersion {
    pub protocol_version: u32,
    pub sdk_name: String,
    pub sdk_version: String,
}

/// The credential of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Password { username: String, password: String },
    Token(String),
}

/// A decoded LOGIN_REGISTER body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    pub version: ClientVersion,
    pub credential: Credential,
}

fn version(c: &mut Cursor<'_>) -> Result<ClientVersion, WireError> {
    Ok(ClientVersion {
        protocol_version: c.u32()?,
        sdk_name: c.name("sdk name")?.to_owned(),
        sdk_version: c.name("sdk version")?.to_owned(),
    })
}

fn password(c: &mut Cursor<'_>) -> Result<Credential, WireError> {
    let username = c.name("username")?.to_owned();
    let password = c.name("password")?.to_owned();
    c.long_str("client context")?;
    c.finish()?;
    Ok(Credential::Password { username, password })
}

fn token(c: &mut Cursor<'_>) -> Result<Credential, WireError> {
    let token = c.name("token")?.to_owned();
    c.long_str("client context")?;
    c.finish()?;
    Ok(Credential::Token(token))
}

impl Register {
    /// Decodes a body; an error means a malformed login (the client is evicted).
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(body);
        let version = version(&mut c)?;
        let credential = password(&mut c.clone()).or_else(|_| token(&mut c))?;
        Ok(Self { version, credential })
    }

    /// Appends a body (for clients and tests).
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.version.protocol_version);
        for s in [&self.version.sdk_name, &self.version.sdk_version] {
            out.put_u8(s.len() as u8);
            out.put_slice(s.as_bytes());
        }
        match &self.credential {
            Credential::Password { username, password } => {
                for s in [username, password] {
                    out.put_u8(s.len() as u8);
                    out.put_slice(s.as_bytes());
                }
            }
            Credential::Token(token) => {
                out.put_u8(token.len() as u8);
                out.put_slice(token.as_bytes());
            }
        }
        out.put_u32_le(0);
    }
}

/// Appends the reply payload (after the result section).
pub fn encode_registered(user_id: u32, session: u64, server_version: &str, out: &mut BytesMut) {
    out.put_u32_le(user_id);
    out.put_u64_le(session);
    out.put_u32_le(super::header::PROTOCOL_VERSION);
    let v = &server_version.as_bytes()[..server_version.len().min(255)];
    out.put_u8(v.len() as u8);
    out.put_slice(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v() -> ClientVersion {
        ClientVersion {
            protocol_version: 11 << 10,
            sdk_name: "rust-sdk".into(),
            sdk_version: "0.11.0".into(),
        }
    }

    #[test]
    fn passwords_and_tokens_are_told_apart_by_their_shape() {
        let cases = [
            Credential::Password { username: "iggy".into(), password: "secret".into() },
            Credential::Password { username: "a".repeat(50), password: "p".repeat(100) },
            Credential::Token("t".repeat(50)),
            Credential::Token("x".into()),
        ];
        for credential in cases {
            let reg = Register { version: v(), credential };
            let mut out = BytesMut::new();
            reg.encode(&mut out);
            assert_eq!(Register::decode(&out), Ok(reg.clone()));
            for cut in 0..out.len() {
                assert!(Register::decode(&out[..cut]).is_err(), "cut at {cut}");
            }
        }
        let mut trailing = BytesMut::new();
        Register { version: v(), credential: Credential::Token("t".into()) }.encode(&mut trailing);
        trailing.put_u8(0);
        assert!(Register::decode(&trailing).is_err());
    }

    #[test]
    fn the_reply_carries_the_session_and_versions() {
        let mut out = BytesMut::new();
        encode_registered(7, 99, "eddy 0.1.0", &mut out);
        assert_eq!(&out[..4], &7u32.to_le_bytes());
        assert_eq!(&out[4..12], &99u64.to_le_bytes());
        assert_eq!(&out[12..16], &super::super::header::PROTOCOL_VERSION.to_le_bytes());
        assert_eq!(out[16] as usize, "eddy 0.1.0".len());
    }
}
