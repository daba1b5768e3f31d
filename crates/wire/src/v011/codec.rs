//! The 0.11 codec: a request body in, the 0.8 command that does the same out, and how its
//! reply is re-encoded. Commands the two wires lay out alike pass through untouched.
//!
//! Served: every command of the 0.11 table a single node has, i.e. all but GET_SNAPSHOT_FILE
//! (as on the 0.8 wire) and the cluster routing commands (ATTACH_CONSUMER_SESSION,
//! GET_POLL_ROUTING, POLL_MESSAGES_ON_PRIMARY, GET_CONSUMER_OFFSET_ROUTING: an SDK asks for them
//! only when GET_CLUSTER_METADATA lists more than one node), which are answered "feature
//! unavailable"; the 0.8-only logins (LOGIN_USER, LOGIN_WITH_PERSONAL_ACCESS_TOKEN) too. Codes
//! outside the table are "invalid command" (Eddy's extensions are on the 0.8 wire only).

use bytes::{BufMut, BytesMut};

use super::batch;
use super::catalog;
use super::header::protocol_compatible;
use super::login::{Credential, Register};
use super::options::{self, OptionsError, TopicOptions};
use crate::codes::{command as c, command_v011 as c11, status};
use crate::cursor::{Cursor, WireError};
use crate::identifier::Identifier;

/// How a command's 0.8 reply becomes its 0.11 reply body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyShape {
    /// The same bytes.
    AsIs,
    /// Stream and its topics, with options blocks (`catalog::stream_details`).
    StreamDetails,
    /// A list of streams (`catalog::streams`).
    Streams,
    /// Topic and its partitions (`catalog::topic_details`).
    TopicDetails,
    /// A counted list of topics (`catalog::topics`).
    Topics,
    /// Polled messages as batches (`batch::encode_polled`).
    Polled,
    /// A send confirmation (`encode_sent`), from what the server appended.
    Sent,
    /// A registered session (`login::encode_registered`), from the 0.8 identity reply.
    Registered,
    /// A user and its permissions (`users::user_details`).
    UserDetails,
    /// A list of users (`users::users`).
    Users,
    /// The option catalog of a scope (`describe_options`): answered without a handler.
    Options(u8),
}

/// A 0.11 request, as the 0.8 command to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    pub code: u32,
    pub payload: BytesMut,
    pub reply: ReplyShape,
}

/// Why a request could not be translated; the connection carries on (the framing is intact).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("command {0} is not part of protocol 0.11")]
    Unknown(u32),
    #[error("command {0} is not served on the 0.11 wire yet")]
    Unsupported(u32),
    #[error("malformed request: {0}")]
    Malformed(#[from] WireError),
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A login whose body does not parse: the client is evicted.
    #[error("malformed login: {0}")]
    MalformedLogin(WireError),
    /// A login announcing a protocol this codec does not speak: the client is evicted.
    #[error("client protocol version {0:#x} is not 0.11")]
    IncompatibleProtocol(u32),
}

impl CodecError {
    /// The status a reply carries for this error.
    pub fn status(&self) -> u32 {
        match self {
            Self::Unknown(_) => status::INVALID_COMMAND,
            Self::Unsupported(_) => status::FEATURE_UNAVAILABLE,
            Self::Malformed(_) | Self::MalformedLogin(_) => status::INVALID_FORMAT,
            Self::Options(OptionsError::Malformed(_)) => status::INVALID_FORMAT,
            Self::Options(OptionsError::UnsupportedKey(_)) => status::UNSUPPORTED_OPTION_KEY,
            Self::Options(OptionsError::InvalidValue(_)) => status::INVALID_OPTION_VALUE,
            Self::IncompatibleProtocol(_) => status::INCOMPATIBLE_PROTOCOL_VERSION,
        }
    }
}

fn as_is(code: u32, body: &[u8], reply: ReplyShape) -> Translated {
    Translated { code, payload: BytesMut::from(body), reply }
}

/// Codes of the 0.11 table a single node does not serve.
const UNSERVED: [u32; 7] = [
    c::GET_SNAPSHOT_FILE,
    c11::ATTACH_CONSUMER_SESSION,
    c11::GET_POLL_ROUTING,
    c11::POLL_MESSAGES_ON_PRIMARY,
    c11::GET_CONSUMER_OFFSET_ROUTING,
    c::LOGIN_USER,
    c::LOGIN_WITH_PERSONAL_ACCESS_TOKEN,
];

/// A topic's settings before an UPDATE_TOPIC (which patches them): `(compression,
/// message_expiry, max_topic_size)`.
pub type TopicSettings = (u8, u64, u64);

/// Translates the body of a 0.11 request for `code` (from its header). `topic` gives the
/// current settings of a topic (for UPDATE_TOPIC, whose options patch them; `None`: no such
/// topic).
pub fn decode_request(
    code: u32,
    body: &[u8],
    topic: impl FnOnce(&Identifier, &Identifier) -> Option<TopicSettings>,
) -> Result<Translated, CodecError> {
    use ReplyShape as R;
    Ok(match code {
        c::PING | c::GET_CLUSTER_METADATA | c::GET_ME | c::GET_CLIENT | c::GET_CLIENTS => {
            as_is(code, body, R::AsIs)
        }
        c::GET_STATS => as_is(code, body, R::AsIs),
        c11::DESCRIBE_OPTIONS => {
            let mut cur = Cursor::new(body);
            let scope = cur.u8()?;
            cur.finish()?;
            if !(SCOPE_TOPIC..=SCOPE_USER).contains(&scope) {
                return Err(WireError::Invalid("options scope").into());
            }
            Translated { code, payload: BytesMut::new(), reply: R::Options(scope) }
        }
        c::GET_USER | c::CREATE_USER => {
            let payload = match code {
                c::CREATE_USER => super::users::create_to_v08(body)?,
                _ => BytesMut::from(body),
            };
            Translated { code, payload, reply: R::UserDetails }
        }
        c::GET_USERS => as_is(code, body, R::Users),
        c::UPDATE_USER => {
            Translated { code, payload: super::users::update_to_v08(body)?, reply: R::AsIs }
        }
        c::DELETE_USER | c::UPDATE_PERMISSIONS | c::CHANGE_PASSWORD => as_is(code, body, R::AsIs),
        c::GET_PERSONAL_ACCESS_TOKENS
        | c::CREATE_PERSONAL_ACCESS_TOKEN
        | c::DELETE_PERSONAL_ACCESS_TOKEN => as_is(code, body, R::AsIs),
        c::UPDATE_TOPIC => {
            let mut cur = Cursor::new(body);
            let stream = Identifier::decode(&mut cur)?;
            let topic_id = Identifier::decode(&mut cur)?;
            let name = cur.name("topic name")?;
            let patch = TopicOptions::parse(cur.rest())?;
            // A topic that is not there: the 0.8 handler answers its not-found error.
            let (compression, expiry, size) = topic(&stream, &topic_id).unwrap_or((1, 0, 0));
            let mut payload = BytesMut::new();
            stream.encode(&mut payload);
            topic_id.encode(&mut payload);
            payload.put_u8(patch.compression.unwrap_or(compression));
            payload.put_u64_le(patch.message_expiry.unwrap_or(expiry));
            payload.put_u64_le(patch.max_topic_size.unwrap_or(size));
            payload.put_u8(1);
            payload.put_u8(name.len() as u8);
            payload.put_slice(name.as_bytes());
            Translated { code, payload, reply: R::AsIs }
        }
        c::FLUSH_UNSAVED_BUFFER | c::DELETE_SEGMENTS => as_is(code, body, R::AsIs),
        c::GET_CONSUMER_GROUP
        | c::GET_CONSUMER_GROUPS
        | c::CREATE_CONSUMER_GROUP
        | c::DELETE_CONSUMER_GROUP
        | c::JOIN_CONSUMER_GROUP
        | c::LEAVE_CONSUMER_GROUP
        | c::SYNC_CONSUMER_GROUP => as_is(code, body, R::AsIs),
        c::LOGOUT_USER => as_is(code, body, R::AsIs),
        c11::LOGIN_REGISTER => login(body)?,
        c::GET_STREAM => as_is(code, body, R::StreamDetails),
        c::GET_STREAMS => as_is(code, body, R::Streams),
        c::DELETE_STREAM | c::PURGE_STREAM => as_is(code, body, R::AsIs),
        c::CREATE_STREAM => {
            let mut cur = Cursor::new(body);
            let name = cur.name("stream name")?;
            options::require_none(cur.rest())?;
            let mut payload = BytesMut::with_capacity(1 + name.len());
            payload.put_u8(name.len() as u8);
            payload.put_slice(name.as_bytes());
            Translated { code, payload, reply: R::StreamDetails }
        }
        c::UPDATE_STREAM => {
            let mut cur = Cursor::new(body);
            let stream = Identifier::decode(&mut cur)?;
            let name = cur.name("stream name")?;
            options::require_none(cur.rest())?;
            let mut payload = BytesMut::new();
            stream.encode(&mut payload);
            payload.put_u8(name.len() as u8);
            payload.put_slice(name.as_bytes());
            Translated { code, payload, reply: R::AsIs }
        }
        c::GET_TOPIC => as_is(code, body, R::TopicDetails),
        c::GET_TOPICS => as_is(code, body, R::Topics),
        c::DELETE_TOPIC | c::PURGE_TOPIC => as_is(code, body, R::AsIs),
        c::CREATE_TOPIC => {
            let mut cur = Cursor::new(body);
            let stream = Identifier::decode(&mut cur)?;
            let partitions = cur.u32()?;
            let name = cur.name("topic name")?;
            let opts = TopicOptions::parse(cur.rest())?;
            let mut payload = BytesMut::new();
            stream.encode(&mut payload);
            payload.put_u32_le(partitions);
            payload.put_u8(opts.compression.unwrap_or(1));
            payload.put_u64_le(opts.message_expiry.unwrap_or(0));
            payload.put_u64_le(opts.max_topic_size.unwrap_or(0));
            payload.put_u8(1);
            payload.put_u8(name.len() as u8);
            payload.put_slice(name.as_bytes());
            Translated { code, payload, reply: R::TopicDetails }
        }
        c::CREATE_PARTITIONS | c::DELETE_PARTITIONS => as_is(code, body, R::AsIs),
        c::SEND_MESSAGES => Translated { code, payload: batch::send_to_v08(body)?, reply: R::Sent },
        c::POLL_MESSAGES => as_is(code, body, R::Polled),
        c::GET_CONSUMER_OFFSET => as_is(code, body, R::AsIs),
        c::STORE_CONSUMER_OFFSET | c::DELETE_CONSUMER_OFFSET => {
            // The same body as on the 0.8 wire, then an `ack` byte: 0 no ack, 1 quorum (one
            // node: both mean the offset is stored before the reply).
            let (ack, rest) = body.split_last().ok_or(WireError::Truncated { at: 0, needed: 1 })?;
            if *ack > 1 {
                return Err(WireError::Invalid("ack level").into());
            }
            as_is(code, rest, R::AsIs)
        }
        code if UNSERVED.contains(&code) => return Err(CodecError::Unsupported(code)),
        code => return Err(CodecError::Unknown(code)),
    })
}

fn login(body: &[u8]) -> Result<Translated, CodecError> {
    let reg = Register::decode(body).map_err(CodecError::MalformedLogin)?;
    if !protocol_compatible(reg.version.protocol_version) {
        return Err(CodecError::IncompatibleProtocol(reg.version.protocol_version));
    }
    let mut payload = BytesMut::new();
    let code = match &reg.credential {
        Credential::Password { username, password } => {
            let version = format!("{} {}", reg.version.sdk_name, reg.version.sdk_version);
            crate::commands::users::Login {
                username: username.clone(),
                password: password.clone(),
                version: Some(version),
            }
            .encode(&mut payload);
            c::LOGIN_USER
        }
        Credential::Token(token) => {
            payload.put_u8(token.len() as u8);
            payload.put_slice(token.as_bytes());
            c::LOGIN_WITH_PERSONAL_ACCESS_TOKEN
        }
    };
    Ok(Translated { code, payload, reply: ReplyShape::Registered })
}

/// What a send appended, for its confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub stream: u32,
    pub topic: u32,
    pub partition: u32,
    pub base_offset: u64,
}

/// SEND_MESSAGES' reply: `[count u32]` then per batch `[stream u32][topic u32][partition u32]
/// [base_offset u64]`.
pub fn encode_sent(appended: Option<Appended>, out: &mut BytesMut) {
    match appended {
        None => out.put_u32_le(0),
        Some(a) => {
            out.put_u32_le(1);
            out.put_u32_le(a.stream);
            out.put_u32_le(a.topic);
            out.put_u32_le(a.partition);
            out.put_u64_le(a.base_offset);
        }
    }
}

/// DESCRIBE_OPTIONS scopes.
pub const SCOPE_TOPIC: u8 = 1;
pub const SCOPE_STREAM: u8 = 2;
pub const SCOPE_USER: u8 = 3;

/// Option descriptor value kinds.
const KIND_STRING: u8 = super::options::kind::STRING;
const KIND_UINT64: u8 = super::options::kind::UINT64;

/// DESCRIBE_OPTIONS' reply: `[count u32]` then per key `[key: len u8 + utf-8][kind u8]
/// [default: len u32 + bytes][description: len u32 + utf-8]`. Topics list the keys Eddy
/// applies (see `options`); streams and users have none.
pub fn describe_options(scope: u8, out: &mut BytesMut) {
    let topic: [(&str, u8, &[u8], &str); 3] = [
        (
            "message_expiry",
            KIND_UINT64,
            &0u64.to_le_bytes(),
            "microseconds a message is kept; 0: the server's default, u64::MAX: forever",
        ),
        (
            "max_topic_size",
            KIND_UINT64,
            &0u64.to_le_bytes(),
            "bytes the topic may hold before its oldest segments go; 0: the server's default, u64::MAX: unlimited",
        ),
        (
            "compression_algorithm",
            KIND_STRING,
            b"none",
            "none or gzip (recorded; messages are stored as sent)",
        ),
    ];
    let entries: &[(&str, u8, &[u8], &str)] = if scope == SCOPE_TOPIC { &topic } else { &[] };
    out.put_u32_le(entries.len() as u32);
    for (key, kind, default, description) in entries {
        out.put_u8(key.len() as u8);
        out.put_slice(key.as_bytes());
        out.put_u8(*kind);
        out.put_u32_le(default.len() as u32);
        out.put_slice(default);
        out.put_u32_le(description.len() as u32);
        out.put_slice(description.as_bytes());
    }
}

/// Re-encodes a 0.8 reply body of `shape` (all but `Sent`, `Registered`, `Polled` and
/// `Options`, which need more than the body).
pub fn encode_reply(shape: ReplyShape, v08: &[u8]) -> Result<BytesMut, WireError> {
    // An empty reply means "not found" on both wires (GET_STREAM, GET_TOPIC).
    if v08.is_empty() && shape != ReplyShape::Topics && shape != ReplyShape::Users {
        return Ok(BytesMut::new());
    }
    match shape {
        ReplyShape::StreamDetails => catalog::stream_details(v08),
        ReplyShape::Streams => catalog::streams(v08),
        ReplyShape::TopicDetails => catalog::topic_details(v08),
        ReplyShape::Topics => catalog::topics(v08),
        ReplyShape::UserDetails => super::users::user_details(v08),
        ReplyShape::Users => super::users::users(v08),
        _ => Ok(BytesMut::from(v08)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v011::login::ClientVersion;

    fn none(_: &Identifier, _: &Identifier) -> Option<TopicSettings> {
        None
    }

    #[test]
    fn an_update_patches_only_the_options_it_names() {
        let mut body = BytesMut::new();
        Identifier::Numeric(1).encode(&mut body);
        Identifier::Numeric(2).encode(&mut body);
        body.put_u8(2);
        body.put_slice(b"nn");
        options::encode_entry(
            "max_topic_size",
            options::kind::UINT64,
            &77u64.to_le_bytes(),
            &mut body,
        );
        let t = decode_request(c::UPDATE_TOPIC, &body, |s, t| {
            assert_eq!((s, t), (&Identifier::Numeric(1), &Identifier::Numeric(2)));
            Some((2, 500, 9))
        })
        .unwrap();
        let u = crate::commands::topics::UpdateTopic::decode(&t.payload).unwrap();
        assert_eq!(
            (u.compression, u.message_expiry, u.max_topic_size, u.name.as_str()),
            (2, 500, 77, "nn")
        );
        let mut out = BytesMut::new();
        describe_options(SCOPE_TOPIC, &mut out);
        assert_eq!(&out[..4], &3u32.to_le_bytes());
        let mut none_out = BytesMut::new();
        describe_options(SCOPE_USER, &mut none_out);
        assert_eq!(&none_out[..], &[0, 0, 0, 0]);
        assert!(decode_request(c11::DESCRIBE_OPTIONS, &[9], none).is_err());
    }

    fn register(protocol_version: u32, credential: Credential) -> BytesMut {
        let mut out = BytesMut::new();
        Register {
            version: ClientVersion {
                protocol_version,
                sdk_name: "rust-sdk".into(),
                sdk_version: "0.11.0".into(),
            },
            credential,
        }
        .encode(&mut out);
        out
    }

    #[test]
    fn logins_become_the_0_8_logins_and_other_protocols_are_refused() {
        let v = super::super::header::PROTOCOL_VERSION;
        let pw = Credential::Password { username: "iggy".into(), password: "secret".into() };
        let t = decode_request(c11::LOGIN_REGISTER, &register(v, pw.clone()), none).unwrap();
        assert_eq!((t.code, t.reply), (c::LOGIN_USER, ReplyShape::Registered));
        let login = crate::commands::users::Login::decode(&t.payload).unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("iggy", "secret"));
        let t = decode_request(
            c11::LOGIN_REGISTER,
            &register(v, Credential::Token("tok".into())),
            none,
        )
        .unwrap();
        assert_eq!(
            (t.code, &t.payload[..]),
            (c::LOGIN_WITH_PERSONAL_ACCESS_TOKEN, &b"\x03tok"[..])
        );
        let old = decode_request(c11::LOGIN_REGISTER, &register(10 << 10, pw), none);
        assert_eq!(old, Err(CodecError::IncompatibleProtocol(10 << 10)));
        assert!(matches!(
            decode_request(c11::LOGIN_REGISTER, b"junk", none),
            Err(CodecError::MalformedLogin(_))
        ));
    }

    #[test]
    fn creates_drop_their_options_into_the_0_8_fields() {
        let mut body = BytesMut::new();
        Identifier::Numeric(1).encode(&mut body);
        body.put_u32_le(3);
        body.put_u8(2);
        body.put_slice(b"tp");
        options::encode_entry(
            "message_expiry",
            options::kind::UINT64,
            &9u64.to_le_bytes(),
            &mut body,
        );
        let t = decode_request(c::CREATE_TOPIC, &body, none).unwrap();
        let topic = crate::commands::topics::CreateTopic::decode(&t.payload).unwrap();
        assert_eq!(
            (topic.partitions_count, topic.message_expiry, topic.name.as_str()),
            (3, 9, "tp")
        );
        assert_eq!((topic.max_topic_size, topic.compression), (0, 1));

        let t = decode_request(c::CREATE_STREAM, b"\x03abc", none).unwrap();
        assert_eq!(&t.payload[..], b"\x03abc");
        let mut with = BytesMut::from(&b"\x03abc"[..]);
        options::encode_entry("x", options::kind::STRING, b"y", &mut with);
        assert_eq!(
            decode_request(c::CREATE_STREAM, &with, none).unwrap_err().status(),
            status::UNSUPPORTED_OPTION_KEY
        );
    }

    #[test]
    fn offsets_lose_their_ack_byte_and_unknown_codes_are_told_apart() {
        let t = decode_request(c::STORE_CONSUMER_OFFSET, &[1, 2, 3, 1], none).unwrap();
        assert_eq!(&t.payload[..], &[1, 2, 3]);
        assert!(decode_request(c::STORE_CONSUMER_OFFSET, &[1, 2, 3, 7], none).is_err());
        assert!(decode_request(c::STORE_CONSUMER_OFFSET, &[], none).is_err());
        let routing = c11::GET_POLL_ROUTING;
        assert_eq!(decode_request(routing, &[], none), Err(CodecError::Unsupported(routing)));
        assert_eq!(decode_request(9000, &[], none), Err(CodecError::Unknown(9000)));
        assert_eq!(
            decode_request(c::POLL_MESSAGES_DEFERRED, &[], none),
            Err(CodecError::Unknown(106))
        );
        assert!(encode_reply(ReplyShape::StreamDetails, &[]).unwrap().is_empty(), "not found");
        assert_eq!(&encode_reply(ReplyShape::Topics, &[]).unwrap()[..], &[0, 0, 0, 0]);
    }
}
