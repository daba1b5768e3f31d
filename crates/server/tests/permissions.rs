//! Every command is checked against the user's permissions before it runs: a logged-in user
//! without permissions sends each command code the server knows, with a well-formed payload
//! naming an existing stream and topic, and gets Iggy's "unauthorized" for every one that needs a
//! permission; the others are listed here by name (a new command must be added to one list or
//! the other, or this test fails). Nothing the refused commands asked for happens.

mod common;

use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use common::{login_payload, request};
use eddy_server::Config;
use eddy_wire::Identifier;
use eddy_wire::codes::{command as c, status};
use eddy_wire::commands::messages::{Partitioning, SendMessages};
use eddy_wire::commands::users::{
    ChangePassword, CreateUser, USER_STATUS_ACTIVE, UpdateUser, encode_update_permissions,
};
use eddy_wire::message::encode_message;

fn login(addr: std::net::SocketAddr, user: &str, password: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let p = login_payload(user, password);
    assert_eq!(request(&mut s, c::LOGIN_USER, &p).0, status::OK, "{user} logs in");
    s
}

fn ids(n: usize) -> BytesMut {
    let mut out = BytesMut::new();
    for _ in 0..n {
        Identifier::Numeric(0).encode(&mut out);
    }
    out
}

/// A poll by consumer 1 of partition 0 from offset 0.
fn poll() -> BytesMut {
    let mut p = BytesMut::from(&[1u8, 1, 4, 1, 0, 0, 0][..]);
    p.extend_from_slice(&ids(2));
    p.extend_from_slice(&[1, 0, 0, 0, 0, 1]);
    p.put_u64_le(0);
    p.put_u32_le(10);
    p.put_u8(0);
    p
}

/// Consumer 1, stream 0, topic 0, partition 0.
fn offset_key() -> BytesMut {
    let mut p = BytesMut::from(&[1u8, 1, 4, 1, 0, 0, 0][..]);
    p.extend_from_slice(&ids(2));
    p.extend_from_slice(&[1, 0, 0, 0, 0]);
    p
}

/// A well-formed payload for `code` naming stream 0, topic 0, partition 0, root (user 0) or
/// client 1; `None` for a code this test does not know (the test fails on it).
fn payload(code: u32) -> Option<BytesMut> {
    let mut p = BytesMut::new();
    match code {
        c::GET_STATS | c::GET_CLIENTS | c::GET_SHARD_STATS | c::GET_USERS | c::GET_STREAMS => {}
        c::GET_CLIENT => p.put_u32_le(1),
        c::GET_USER | c::DELETE_USER => p = ids(1),
        c::CREATE_USER => CreateUser {
            username: "mallory".into(),
            password: "mallory-pw".into(),
            status: USER_STATUS_ACTIVE,
            permissions: Some(eddy_wire::commands::users::Permissions::all()),
        }
        .encode(&mut p),
        c::UPDATE_USER => UpdateUser {
            user: Identifier::Numeric(0),
            username: Some("x-root".into()),
            status: None,
        }
        .encode(&mut p),
        c::UPDATE_PERMISSIONS => encode_update_permissions(&Identifier::Numeric(0), None, &mut p),
        c::CHANGE_PASSWORD => ChangePassword {
            user: Identifier::Numeric(0),
            current: "iggy".into(),
            new: "taken-over".into(),
        }
        .encode(&mut p),
        c::CREATE_STREAM => p.put_slice(b"\x07mallory"),
        c::GET_STREAM | c::DELETE_STREAM | c::PURGE_STREAM | c::GET_TOPICS => p = ids(1),
        c::UPDATE_STREAM => {
            p = ids(1);
            p.put_slice(b"\x07mallory");
        }
        c::GET_TOPIC | c::DELETE_TOPIC | c::PURGE_TOPIC | c::GET_CONSUMER_GROUPS => p = ids(2),
        c::CREATE_TOPIC => {
            p = ids(1);
            p.put_u32_le(1);
            p.put_slice(&[0; 18]);
            p.put_slice(b"\x07mallory");
        }
        c::UPDATE_TOPIC => {
            p = ids(2);
            p.put_slice(&[0; 18]);
            p.put_slice(b"\x07mallory");
        }
        c::CREATE_PARTITIONS | c::DELETE_PARTITIONS => {
            p = ids(2);
            p.put_u32_le(1);
        }
        c::DELETE_SEGMENTS => {
            p = ids(2);
            p.put_u32_le(0);
            p.put_u32_le(1);
        }
        c::SEND_MESSAGES => {
            let mut m = BytesMut::new();
            encode_message(&mut m, 1, 0, b"mallory", b"");
            let lengths = [m.len() as u32];
            let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
            SendMessages::encode(&s, &t, &Partitioning::PartitionId(0), &m, &lengths, &mut p);
        }
        c::POLL_MESSAGES => p = poll(),
        c::POLL_MESSAGES_DEFERRED => {
            p = poll();
            p.put_u64_le(1000);
            p.put_u32_le(1);
            p.put_u32_le(0);
            p.put_u64_le(0);
        }
        c::FETCH_MESSAGES => {
            p = BytesMut::from(&[1u8, 1, 4, 1, 0, 0, 0][..]);
            p.extend_from_slice(&ids(2));
            p.put_u32_le(0);
            p.put_u8(3);
            p.put_u64_le(0);
            p.put_u32_le(10);
            p.put_u8(1);
            p.put_u64_le(1000);
            p.put_u32_le(1);
            p.put_u32_le(0);
            p.put_u64_le(0);
        }
        c::FLUSH_UNSAVED_BUFFER => {
            p = ids(2);
            p.put_u32_le(0);
            p.put_u8(1);
        }
        c::GET_CONSUMER_OFFSET | c::DELETE_CONSUMER_OFFSET => p = offset_key(),
        c::STORE_CONSUMER_OFFSET => {
            p = offset_key();
            p.put_u64_le(0);
        }
        c::GET_CONSUMER_GROUP
        | c::DELETE_CONSUMER_GROUP
        | c::JOIN_CONSUMER_GROUP
        | c::LEAVE_CONSUMER_GROUP
        | c::SYNC_CONSUMER_GROUP => p = ids(3),
        c::CREATE_CONSUMER_GROUP => {
            p = ids(2);
            p.put_slice(b"\x07mallory");
        }
        c::SUBSCRIBE => {
            p = BytesMut::from(&[1u8, 1, 4, 1, 0, 0, 0][..]);
            p.extend_from_slice(&ids(2));
            p.put_u8(3);
            p.put_u64_le(0);
            p.put_u32_le(10);
            p.put_u8(0);
            p.put_u32_le(100);
            p.put_u32_le(1 << 20);
            p.put_u32_le(0);
            p.put_u32_le(0);
        }
        _ => return None,
    }
    Some(p)
}

/// Commands any logged-in user may send (about their own session, tokens or subscriptions, or
/// served by nobody).
const OPEN: &[u32] = &[
    c::PING,
    c::LOGIN_USER,
    c::LOGOUT_USER,
    c::LOGIN_WITH_PERSONAL_ACCESS_TOKEN,
    c::GET_ME,
    c::GET_CLUSTER_METADATA,
    c::GET_PERSONAL_ACCESS_TOKENS,
    c::CREATE_PERSONAL_ACCESS_TOKEN,
    c::DELETE_PERSONAL_ACCESS_TOKEN,
    c::CANCEL_DEFERRED_REQUEST,
    c::GRANT_CREDIT,
    c::UNSUBSCRIBE,
    // Not served (answered "feature unavailable" to everyone).
    c::GET_SNAPSHOT_FILE,
];

#[test]
fn a_user_without_permissions_is_refused_every_command_that_needs_one() {
    let dir = std::env::temp_dir().join(format!("eddy-permissions-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.clone();
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.enabled = false;
    let server = eddy_server::start(config).unwrap();
    let addr = server.tcp_addr.unwrap();
    let mut root = login(addr, "iggy", "iggy");
    assert_eq!(request(&mut root, c::CREATE_STREAM, b"\x01s").0, status::OK);
    let mut topic = ids(1);
    topic.put_u32_le(1);
    topic.put_slice(&[0; 18]);
    topic.put_slice(b"\x01t");
    assert_eq!(request(&mut root, c::CREATE_TOPIC, &topic).0, status::OK);
    let mut group = ids(2);
    group.put_slice(b"\x01g");
    assert_eq!(request(&mut root, c::CREATE_CONSUMER_GROUP, &group).0, status::OK);
    let mut nobody = BytesMut::new();
    CreateUser {
        username: "nobody".into(),
        password: "nobody-pw".into(),
        status: USER_STATUS_ACTIVE,
        permissions: None,
    }
    .encode(&mut nobody);
    assert_eq!(request(&mut root, c::CREATE_USER, &nobody).0, status::OK);
    let before = [
        request(&mut root, c::GET_STREAMS, &[]).1,
        request(&mut root, c::GET_USERS, &[]).1,
        request(&mut root, c::GET_TOPIC, &ids(2)).1,
        request(&mut root, c::GET_CONSUMER_GROUP, &ids(3)).1,
    ];

    let mut user = login(addr, "nobody", "nobody-pw");
    let mut refused = 0;
    for code in 0..10_000 {
        if c::name(code) == "unknown" || OPEN.contains(&code) {
            continue;
        }
        let body = payload(code).unwrap_or_else(|| {
            panic!("command {code} ({}) is neither open nor given a payload here", c::name(code))
        });
        let (st, _) = request(&mut user, code, &body);
        assert_eq!(st, status::UNAUTHORIZED, "command {code} ({})", c::name(code));
        refused += 1;
    }
    assert!(refused >= 40, "{refused} commands checked");
    let after = [
        request(&mut root, c::GET_STREAMS, &[]).1,
        request(&mut root, c::GET_USERS, &[]).1,
        request(&mut root, c::GET_TOPIC, &ids(2)).1,
        request(&mut root, c::GET_CONSUMER_GROUP, &ids(3)).1,
    ];
    assert_eq!(before, after, "nothing changed");
    // The refused user still works within its rights; root still logs in with its password.
    assert_eq!(request(&mut user, c::GET_ME, &[]).0, status::OK);
    drop(login(addr, "iggy", "iggy"));
    server.stop();
    std::fs::remove_dir_all(&dir).ok();
}
