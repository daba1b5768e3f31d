//! The 0.11 wire's decoders on a client's bytes: the 256-byte request header (with the body
//! limit), the login body, options blocks, and the translation of every command's body into
//! its 0.8 payload; plus the reply translations on arbitrary 0.8 replies and stored bytes.
//! Never panics; a translated request is one the 0.8 decoders accept (a send batch's lengths
//! cover its messages exactly, a topic creation decodes, a login decodes), and a header never
//! announces a body over the limit.

#![no_main]

use eddy_wire::codes::{command as c, command_v011 as c11};
use eddy_wire::commands::messages::SendMessages;
use eddy_wire::commands::topics::{CreateTopic, UpdateTopic};
use eddy_wire::commands::users::Login;
use eddy_wire::v011::codec::{self, ReplyShape};
use eddy_wire::v011::header::RequestHead;
use eddy_wire::v011::{batch, catalog, login, options, users};
use libfuzzer_sys::fuzz_target;

const CODES: [u32; 30] = [
    c::PING,
    c::GET_STATS,
    c11::DESCRIBE_OPTIONS,
    c::GET_ME,
    c::GET_CLIENT,
    c::GET_USER,
    c::GET_USERS,
    c::CREATE_USER,
    c::UPDATE_USER,
    c::CHANGE_PASSWORD,
    c::UPDATE_PERMISSIONS,
    c11::LOGIN_REGISTER,
    c::CREATE_PERSONAL_ACCESS_TOKEN,
    c::POLL_MESSAGES,
    c::SEND_MESSAGES,
    c::FLUSH_UNSAVED_BUFFER,
    c::STORE_CONSUMER_OFFSET,
    c::DELETE_CONSUMER_OFFSET,
    c::GET_STREAM,
    c::CREATE_STREAM,
    c::UPDATE_STREAM,
    c::GET_TOPIC,
    c::CREATE_TOPIC,
    c::UPDATE_TOPIC,
    c::CREATE_PARTITIONS,
    c::DELETE_SEGMENTS,
    c::CREATE_CONSUMER_GROUP,
    c::SYNC_CONSUMER_GROUP,
    c11::GET_POLL_ROUTING,
    9999,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(head)) = RequestHead::parse(data, 1 << 20) {
        assert!(head.body_len <= 1 << 20);
    }
    let _ = login::Register::decode(data);
    let _ = options::TopicOptions::parse(data);
    let _ = options::entries(data);
    for code in CODES {
        let Ok(t) = codec::decode_request(code, data, |_, _| Some((1, 0, 0))) else { continue };
        match code {
            c::SEND_MESSAGES => {
                let req = SendMessages::decode(&t.payload).expect("a translated batch decodes");
                let total: u64 = req.lengths.iter().map(|l| u64::from(*l)).sum();
                assert_eq!(total, (t.payload.len() - req.messages_at) as u64);
            }
            c::CREATE_TOPIC => {
                CreateTopic::decode(&t.payload).expect("a translated creation decodes");
            }
            c::UPDATE_TOPIC => {
                UpdateTopic::decode(&t.payload).expect("a translated update decodes");
            }
            c11::LOGIN_REGISTER if t.code == c::LOGIN_USER => {
                Login::decode(&t.payload).expect("a translated login decodes");
            }
            _ => {}
        }
    }
    for shape in [
        ReplyShape::StreamDetails,
        ReplyShape::Streams,
        ReplyShape::TopicDetails,
        ReplyShape::Topics,
        ReplyShape::UserDetails,
        ReplyShape::Users,
    ] {
        let _ = codec::encode_reply(shape, data);
    }
    let _ = catalog::topics(data);
    let _ = users::user_details(data);
    let mut out = bytes::BytesMut::new();
    let _ = batch::encode_polled(0, data, &mut out);
    let _ = batch::parse_batch(data);
});
