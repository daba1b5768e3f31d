//! User requests and replies: the 0.8 layouts plus an options block (users have no options in
//! Eddy: a request's block must be empty, a reply's is). PATs, passwords and permissions travel
//! as on the 0.8 wire.
//!
//! CREATE_USER: the 0.8 body `[username: len u8 + utf-8][password: len u8 + utf-8][status u8]
//! [has_permissions u8][len u32 + permissions]?` then the options. UPDATE_USER: `[user
//! Identifier][has_username u8][username]?[has_status u8][status u8]?` then the options. A user
//! in a reply: `[id u32][created_at u64][status u8][username: len u8 + utf-8]` then the options
//! block (prefixed by its length), then (GET_USER, CREATE_USER) the permissions as on 0.8.

use bytes::{BufMut, BytesMut};

use super::options::{self, OptionsError, encode_empty_prefixed};
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// The 0.8 body of a CREATE_USER request.
pub fn create_to_v08(body: &[u8]) -> Result<BytesMut, OptionsError> {
    let mut c = Cursor::new(body);
    c.name("username")?;
    let plen = usize::from(c.u8()?);
    c.bytes(plen)?;
    c.u8()?; // status
    if c.u8()? == 1 {
        let len = c.u32()? as usize;
        c.bytes(len)?;
    }
    let end = c.position();
    options::require_none(c.rest())?;
    Ok(BytesMut::from(&body[..end]))
}

/// The 0.8 body of an UPDATE_USER request.
pub fn update_to_v08(body: &[u8]) -> Result<BytesMut, OptionsError> {
    let mut c = Cursor::new(body);
    Identifier::decode(&mut c)?;
    if c.u8()? == 1 {
        c.name("username")?;
    }
    if c.u8()? == 1 {
        c.u8()?;
    }
    let end = c.position();
    options::require_none(c.rest())?;
    Ok(BytesMut::from(&body[..end]))
}

fn user(c: &mut Cursor<'_>, out: &mut BytesMut) -> Result<(), WireError> {
    out.put_slice(c.bytes(4 + 8 + 1)?);
    let name = c.name("username")?;
    out.put_u8(name.len() as u8);
    out.put_slice(name.as_bytes());
    encode_empty_prefixed(out);
    Ok(())
}

/// GET_USER and CREATE_USER: the user, then its permissions as they are.
pub fn user_details(v08: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(v08);
    let mut out = BytesMut::with_capacity(v08.len() + 4);
    user(&mut c, &mut out)?;
    out.put_slice(c.rest());
    Ok(out)
}

/// GET_USERS.
pub fn users(v08: &[u8]) -> Result<BytesMut, WireError> {
    let mut c = Cursor::new(v08);
    let mut out = BytesMut::with_capacity(v08.len() + 16);
    while c.remaining() > 0 {
        user(&mut c, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::users::{CreateUser, UserSummary, encode_user_details};

    #[test]
    fn users_gain_an_options_block_and_requests_lose_theirs() {
        let create = CreateUser {
            username: "ann".into(),
            password: "secret".into(),
            status: 1,
            permissions: None,
        };
        let mut v08 = BytesMut::new();
        create.encode(&mut v08);
        let mut body = v08.clone();
        assert_eq!(&create_to_v08(&body).unwrap()[..], &v08[..]);
        options::encode_entry("k", options::kind::STRING, b"v", &mut body);
        assert!(matches!(create_to_v08(&body), Err(OptionsError::UnsupportedKey(_))));

        let summary = |id| UserSummary { id, created_at: 5, status: 1, username: format!("u{id}") };
        let mut reply = BytesMut::new();
        encode_user_details(&summary(3), None, &mut reply);
        let out = user_details(&reply).unwrap();
        assert_eq!(out.len(), reply.len() + 4);
        assert_eq!(&out[13..16], b"\x02u3");
        assert_eq!(&out[16..20], &[0, 0, 0, 0], "options");
        let mut list = BytesMut::new();
        summary(1).encode(&mut list);
        summary(2).encode(&mut list);
        assert_eq!(users(&list).unwrap().len(), list.len() + 8);
        assert!(users(&list[..list.len() - 1]).is_err());
    }
}
