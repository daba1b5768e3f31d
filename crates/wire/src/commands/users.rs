//! LOGIN_USER and the identity reply; the user commands (GET_USER 31 … CHANGE_PASSWORD 37),
//! their replies, and Iggy's permission model with its wire form. No domain logic: who may do
//! what, and how passwords are kept, is the server's.

use std::collections::BTreeMap;

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// A user's status on the wire: active (may log in).
pub const USER_STATUS_ACTIVE: u8 = 1;
/// A user's status on the wire: inactive (may not log in).
pub const USER_STATUS_INACTIVE: u8 = 2;
/// Most stream and topic entries one permission set may hold (a bound on what a request can
/// make the server keep; Iggy has none).
pub const MAX_PERMISSION_ENTRIES: usize = 10_000;

/// What a user may do everywhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GlobalPermissions {
    pub manage_servers: bool,
    pub read_servers: bool,
    pub manage_users: bool,
    pub read_users: bool,
    pub manage_streams: bool,
    pub read_streams: bool,
    pub manage_topics: bool,
    pub read_topics: bool,
    pub poll_messages: bool,
    pub send_messages: bool,
}

/// What a user may do in one stream (adding to the global permissions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StreamPermissions {
    pub manage_stream: bool,
    pub read_stream: bool,
    pub manage_topics: bool,
    pub read_topics: bool,
    pub poll_messages: bool,
    pub send_messages: bool,
    /// By topic id.
    pub topics: BTreeMap<u32, TopicPermissions>,
}

/// What a user may do in one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TopicPermissions {
    pub manage_topic: bool,
    pub read_topic: bool,
    pub poll_messages: bool,
    pub send_messages: bool,
}

/// A user's permissions: `[10 global flags u8][has_streams u8]` then, while the previous
/// "has next" byte is 1, `[stream_id u32][6 flags][has_topics u8]` (then, while 1,
/// `[topic_id u32][4 flags][has_next_topic u8]`) `[has_next_stream u8]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Permissions {
    pub global: GlobalPermissions,
    /// By stream id.
    pub streams: BTreeMap<u32, StreamPermissions>,
}

fn flag(c: &mut Cursor<'_>) -> Result<bool, WireError> {
    match c.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Invalid("permission flag")),
    }
}

fn flags<const N: usize>(c: &mut Cursor<'_>) -> Result<[bool; N], WireError> {
    let mut out = [false; N];
    for f in &mut out {
        *f = flag(c)?;
    }
    Ok(out)
}

fn put_flags(out: &mut BytesMut, flags: &[bool]) {
    for &f in flags {
        out.put_u8(u8::from(f));
    }
}

/// Puts the "has next" byte before each of `n` entries and after the last.
fn put_chain<T>(
    out: &mut BytesMut,
    items: impl ExactSizeIterator<Item = T>,
    mut each: impl FnMut(&mut BytesMut, T),
) {
    let n = items.len();
    out.put_u8(u8::from(n > 0));
    for (i, item) in items.enumerate() {
        each(out, item);
        if i + 1 < n {
            out.put_u8(1);
        }
    }
    if n > 0 {
        out.put_u8(0);
    }
}

impl Permissions {
    /// Every permission (the root user's).
    pub fn all() -> Self {
        let t = true;
        Self {
            global: GlobalPermissions {
                manage_servers: t,
                read_servers: t,
                manage_users: t,
                read_users: t,
                manage_streams: t,
                read_streams: t,
                manage_topics: t,
                read_topics: t,
                poll_messages: t,
                send_messages: t,
            },
            streams: BTreeMap::new(),
        }
    }

    pub fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let [a, b, cc, d, e, f, g, h, i, j] = flags(c)?;
        let global = GlobalPermissions {
            manage_servers: a,
            read_servers: b,
            manage_users: cc,
            read_users: d,
            manage_streams: e,
            read_streams: f,
            manage_topics: g,
            read_topics: h,
            poll_messages: i,
            send_messages: j,
        };
        let mut streams = BTreeMap::new();
        let mut entries = 0usize;
        let mut more = flag(c)?;
        while more {
            let id = c.u32()?;
            let [a, b, cc, d, e, f] = flags(c)?;
            let mut topics = BTreeMap::new();
            let mut more_topics = flag(c)?;
            while more_topics {
                let tid = c.u32()?;
                let [a, b, cc, d] = flags(c)?;
                entries += 1;
                if entries > MAX_PERMISSION_ENTRIES {
                    return Err(WireError::Invalid("permissions: too many entries"));
                }
                let t = TopicPermissions {
                    manage_topic: a,
                    read_topic: b,
                    poll_messages: cc,
                    send_messages: d,
                };
                topics.insert(tid, t);
                more_topics = flag(c)?;
            }
            entries += 1;
            if entries > MAX_PERMISSION_ENTRIES {
                return Err(WireError::Invalid("permissions: too many entries"));
            }
            let s = StreamPermissions {
                manage_stream: a,
                read_stream: b,
                manage_topics: cc,
                read_topics: d,
                poll_messages: e,
                send_messages: f,
                topics,
            };
            streams.insert(id, s);
            more = flag(c)?;
        }
        Ok(Self { global, streams })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        let g = &self.global;
        put_flags(
            out,
            &[
                g.manage_servers,
                g.read_servers,
                g.manage_users,
                g.read_users,
                g.manage_streams,
                g.read_streams,
                g.manage_topics,
                g.read_topics,
                g.poll_messages,
                g.send_messages,
            ],
        );
        put_chain(out, self.streams.iter(), |out, (id, s)| {
            out.put_u32_le(*id);
            put_flags(
                out,
                &[
                    s.manage_stream,
                    s.read_stream,
                    s.manage_topics,
                    s.read_topics,
                    s.poll_messages,
                    s.send_messages,
                ],
            );
            put_chain(out, s.topics.iter(), |out, (tid, t)| {
                out.put_u32_le(*tid);
                put_flags(out, &[t.manage_topic, t.read_topic, t.poll_messages, t.send_messages]);
            });
        });
    }

    /// `[has u8]` then, if 1, `[len u32][permissions]` whose length must match.
    fn decode_optional(c: &mut Cursor<'_>) -> Result<Option<Self>, WireError> {
        match c.u8()? {
            0 => Ok(None),
            1 => {
                let len = c.u32()? as usize;
                let mut inner = Cursor::new(c.bytes(len)?);
                let p = Self::decode(&mut inner)?;
                inner.finish()?;
                Ok(Some(p))
            }
            _ => Err(WireError::Invalid("permissions flag")),
        }
    }

    fn encode_optional(this: Option<&Self>, out: &mut BytesMut) {
        match this {
            None => out.put_u8(0),
            Some(p) => {
                let mut body = BytesMut::new();
                p.encode(&mut body);
                out.put_u8(1);
                out.put_u32_le(body.len() as u32);
                out.put_slice(&body);
            }
        }
    }
}

/// A `[len u8][utf-8]` password (possibly empty: its length is the server's rule).
fn password(c: &mut Cursor<'_>, what: &'static str) -> Result<String, WireError> {
    let len = usize::from(c.u8()?);
    Ok(c.str(len, what)?.to_owned())
}

fn put_short(out: &mut BytesMut, s: &str) {
    let n = s.len().min(255);
    out.put_u8(n as u8);
    out.put_slice(&s.as_bytes()[..n]);
}

/// GET_USER and DELETE_USER: `[user Identifier]`.
pub fn decode_user_id(payload: &[u8]) -> Result<Identifier, WireError> {
    let mut c = Cursor::new(payload);
    let id = Identifier::decode(&mut c)?;
    c.finish()?;
    Ok(id)
}

/// CREATE_USER: `[username: len u8 + utf-8][password: len u8 + utf-8][status u8]`
/// `[has_permissions u8][len u32][permissions]?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    pub status: u8,
    pub permissions: Option<Permissions>,
}

impl CreateUser {
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let username = c.name("username")?.to_owned();
        let password = password(&mut c, "password")?;
        let status = c.u8()?;
        let permissions = Permissions::decode_optional(&mut c)?;
        c.finish()?;
        Ok(Self { username, password, status, permissions })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        put_short(out, &self.username);
        put_short(out, &self.password);
        out.put_u8(self.status);
        Permissions::encode_optional(self.permissions.as_ref(), out);
    }
}

/// UPDATE_USER: `[user Identifier][has_username u8][username: len u8 + utf-8]?`
/// `[has_status u8][status u8]?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateUser {
    pub user: Identifier,
    pub username: Option<String>,
    pub status: Option<u8>,
}

impl UpdateUser {
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let user = Identifier::decode(&mut c)?;
        let username = match c.u8()? {
            0 => None,
            1 => Some(c.name("username")?.to_owned()),
            _ => return Err(WireError::Invalid("username flag")),
        };
        let status = match c.u8()? {
            0 => None,
            1 => Some(c.u8()?),
            _ => return Err(WireError::Invalid("status flag")),
        };
        c.finish()?;
        Ok(Self { user, username, status })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        self.user.encode(out);
        match &self.username {
            Some(name) => {
                out.put_u8(1);
                put_short(out, name);
            }
            None => out.put_u8(0),
        }
        match self.status {
            Some(s) => {
                out.put_u8(1);
                out.put_u8(s);
            }
            None => out.put_u8(0),
        }
    }
}

/// UPDATE_PERMISSIONS: `[user Identifier][has_permissions u8][len u32][permissions]?`.
pub fn decode_update_permissions(
    payload: &[u8],
) -> Result<(Identifier, Option<Permissions>), WireError> {
    let mut c = Cursor::new(payload);
    let user = Identifier::decode(&mut c)?;
    let permissions = Permissions::decode_optional(&mut c)?;
    c.finish()?;
    Ok((user, permissions))
}

/// Appends UPDATE_PERMISSIONS's payload (for clients).
pub fn encode_update_permissions(
    user: &Identifier,
    permissions: Option<&Permissions>,
    out: &mut BytesMut,
) {
    user.encode(out);
    Permissions::encode_optional(permissions, out);
}

/// CHANGE_PASSWORD: `[user Identifier][current: len u8 + utf-8][new: len u8 + utf-8]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePassword {
    pub user: Identifier,
    pub current: String,
    pub new: String,
}

impl ChangePassword {
    pub fn decode(payload: &[u8]) -> Result<Self, WireError> {
        let mut c = Cursor::new(payload);
        let user = Identifier::decode(&mut c)?;
        let current = password(&mut c, "current password")?;
        let new = password(&mut c, "new password")?;
        c.finish()?;
        Ok(Self { user, current, new })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        self.user.encode(out);
        put_short(out, &self.current);
        put_short(out, &self.new);
    }
}

/// A user as GET_USERS lists it: `[id u32][created_at u64][status u8][username: len u8 +
/// utf-8]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub id: u32,
    pub created_at: u64,
    pub status: u8,
    pub username: String,
}

impl UserSummary {
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.id);
        out.put_u64_le(self.created_at);
        out.put_u8(self.status);
        put_short(out, &self.username);
    }

    pub fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let id = c.u32()?;
        let created_at = c.u64()?;
        let status = c.u8()?;
        let username = c.name("username")?.to_owned();
        Ok(Self { id, created_at, status, username })
    }
}

/// GET_USER's and CREATE_USER's reply: the summary, then `[0 u32]` without permissions or
/// `[1 u8][len u32][permissions]`.
pub fn encode_user_details(
    user: &UserSummary,
    permissions: Option<&Permissions>,
    out: &mut BytesMut,
) {
    user.encode(out);
    match permissions {
        None => out.put_u32_le(0),
        Some(p) => Permissions::encode_optional(Some(p), out),
    }
}

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

    fn sample() -> Permissions {
        let mut p = Permissions::default();
        p.global.read_streams = true;
        p.global.send_messages = true;
        let mut s = StreamPermissions { poll_messages: true, ..Default::default() };
        s.topics.insert(7, TopicPermissions { send_messages: true, ..Default::default() });
        s.topics.insert(9, TopicPermissions { manage_topic: true, ..Default::default() });
        p.streams.insert(3, s);
        p.streams.insert(4, StreamPermissions { read_stream: true, ..Default::default() });
        p
    }

    #[test]
    fn permissions_round_trip_in_iggys_layout() {
        let mut out = BytesMut::new();
        Permissions::default().encode(&mut out);
        assert_eq!(&out[..], &[0u8; 11][..], "10 flags and no streams");
        let p = sample();
        let mut out = BytesMut::new();
        p.encode(&mut out);
        // 10 + 1, stream 3: 4 + 6 + 1 + 2 topics x 9 + 1, stream 4: 4 + 6 + 1 + 1.
        assert_eq!(out.len(), 11 + 30 + 12);
        assert_eq!(out[10], 1, "has streams");
        assert_eq!(&out[11..15], &3u32.to_le_bytes());
        assert_eq!(out[out.len() - 1], 0, "no stream after the last");
        let mut c = Cursor::new(&out);
        assert_eq!(Permissions::decode(&mut c), Ok(p));
        assert_eq!(c.remaining(), 0);
        for cut in 0..out.len() {
            assert!(Permissions::decode(&mut Cursor::new(&out[..cut])).is_err(), "cut at {cut}");
        }
        let mut bad = out.clone();
        bad[0] = 2;
        assert!(Permissions::decode(&mut Cursor::new(&bad)).is_err(), "a flag is 0 or 1");
    }

    #[test]
    fn permission_entries_are_bounded() {
        let mut out = BytesMut::new();
        put_flags(&mut out, &[false; 10]);
        for i in 0..=MAX_PERMISSION_ENTRIES as u32 {
            out.put_u8(1);
            out.put_u32_le(i);
            put_flags(&mut out, &[false; 6]);
            out.put_u8(0);
        }
        out.put_u8(0);
        let e = Permissions::decode(&mut Cursor::new(&out));
        assert_eq!(e, Err(WireError::Invalid("permissions: too many entries")));
    }

    #[test]
    fn user_requests_round_trip() {
        let create = CreateUser {
            username: "alice".into(),
            password: "pw123".into(),
            status: USER_STATUS_ACTIVE,
            permissions: Some(sample()),
        };
        let mut out = BytesMut::new();
        create.encode(&mut out);
        assert_eq!(CreateUser::decode(&out), Ok(create.clone()));
        let none = CreateUser { permissions: None, ..create };
        let mut out = BytesMut::new();
        none.encode(&mut out);
        assert_eq!(CreateUser::decode(&out), Ok(none));
        assert!(CreateUser::decode(&out[..out.len() - 1]).is_err());

        let update = UpdateUser { user: Identifier::Numeric(2), username: None, status: Some(2) };
        let mut out = BytesMut::new();
        update.encode(&mut out);
        assert_eq!(UpdateUser::decode(&out), Ok(update));

        let mut out = BytesMut::new();
        encode_update_permissions(&Identifier::Name("bob".into()), Some(&sample()), &mut out);
        assert_eq!(
            decode_update_permissions(&out),
            Ok((Identifier::Name("bob".into()), Some(sample())))
        );
        // A length that disagrees with the permissions is refused.
        let at = out.len() - 53 - 4;
        out[at] += 1;
        assert!(decode_update_permissions(&out).is_err());

        let change =
            ChangePassword { user: Identifier::Numeric(1), current: "a".into(), new: "b".into() };
        let mut out = BytesMut::new();
        change.encode(&mut out);
        assert_eq!(ChangePassword::decode(&out), Ok(change));
    }

    #[test]
    fn user_details_carry_permissions_or_four_zero_bytes() {
        let user = UserSummary {
            id: 5,
            created_at: 9,
            status: USER_STATUS_INACTIVE,
            username: "carol".into(),
        };
        let mut out = BytesMut::new();
        encode_user_details(&user, None, &mut out);
        assert_eq!(out.len(), 13 + 1 + 5 + 4);
        assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 0]);
        let mut c = Cursor::new(&out);
        assert_eq!(UserSummary::decode(&mut c), Ok(user.clone()));
        let mut out = BytesMut::new();
        encode_user_details(&user, Some(&sample()), &mut out);
        let mut c = Cursor::new(&out);
        UserSummary::decode(&mut c).unwrap();
        assert_eq!(Permissions::decode_optional(&mut c), Ok(Some(sample())));
        assert_eq!(c.remaining(), 0);
    }

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
