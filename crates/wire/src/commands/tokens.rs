//! Personal access token commands (41–44) and their replies. No domain logic: how tokens are
//! made, stored and checked is the server's.

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};

/// CREATE_PERSONAL_ACCESS_TOKEN's `expiry` meaning "the server's default".
pub const EXPIRY_SERVER_DEFAULT: u64 = 0;
/// CREATE_PERSONAL_ACCESS_TOKEN's `expiry` meaning "never expires".
pub const EXPIRY_NEVER: u64 = u64::MAX;
/// GET_PERSONAL_ACCESS_TOKENS's `expiry_at` of a token that never expires.
pub const NO_EXPIRY_AT: u64 = 0;

/// CREATE_PERSONAL_ACCESS_TOKEN: `[name_len u8][name][expiry u64]` (µs from now, or one of the
/// `EXPIRY_*` values).
pub fn decode_create(payload: &[u8]) -> Result<(String, u64), WireError> {
    let mut c = Cursor::new(payload);
    let name = c.name("token name")?.to_owned();
    let expiry = c.u64()?;
    c.finish()?;
    Ok((name, expiry))
}

/// DELETE_PERSONAL_ACCESS_TOKEN: `[name_len u8][name]`; LOGIN_WITH_PERSONAL_ACCESS_TOKEN:
/// `[token_len u8][token]`.
pub fn decode_name(payload: &[u8], what: &'static str) -> Result<String, WireError> {
    let mut c = Cursor::new(payload);
    let name = c.name(what)?.to_owned();
    c.finish()?;
    Ok(name)
}

/// CREATE_PERSONAL_ACCESS_TOKEN's reply: `[token_len u8][token]` (the only time it is sent).
pub fn encode_token(token: &str, out: &mut BytesMut) {
    out.put_u8(token.len().min(255) as u8);
    out.put_slice(&token.as_bytes()[..token.len().min(255)]);
}

/// One entry of GET_PERSONAL_ACCESS_TOKENS's reply (back to back, no count):
/// `[name_len u8][name][expiry_at u64]` (µs since the Unix epoch, or `NO_EXPIRY_AT`).
pub fn encode_info(name: &str, expiry_at: u64, out: &mut BytesMut) {
    out.put_u8(name.len().min(255) as u8);
    out.put_slice(&name.as_bytes()[..name.len().min(255)]);
    out.put_u64_le(expiry_at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_requests_decode_and_replies_encode_as_iggy_lays_them_out() {
        let mut p = vec![3u8];
        p.extend_from_slice(b"ci1");
        p.extend_from_slice(&7u64.to_le_bytes());
        assert_eq!(decode_create(&p).unwrap(), ("ci1".to_owned(), 7));
        assert!(decode_create(&p[..p.len() - 1]).is_err(), "truncated expiry");
        assert_eq!(decode_name(&p[..4], "token name").unwrap(), "ci1");
        assert!(decode_name(&p, "token name").is_err(), "trailing bytes");
        let mut out = BytesMut::new();
        encode_token("abc", &mut out);
        encode_info("n", 9, &mut out);
        assert_eq!(&out[..], &[3, b'a', b'b', b'c', 1, b'n', 9, 0, 0, 0, 0, 0, 0, 0]);
    }
}
