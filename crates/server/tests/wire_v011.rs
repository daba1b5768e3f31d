//! The 0.11 wire (Iggy 0.9, SDK 0.11) at the byte level, on the ports the 0.8 wire uses: told
//! apart per connection from its first bytes, its errors answered in its own framing (status in
//! the reply header, eviction frames for refused logins) without closing a connection whose
//! framing is intact, and broken framing (a size below the header, a size over the limit before
//! login, a frame that is not a request, an operation no client may send) closing only that
//! connection, answered before the server reserves anything for the body.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

mod common;

use bytes::BytesMut;
use common::{login_payload, request};
use eddy_server::{Config, ServerHandle};
use eddy_wire::codes::{command, command_v011, status};
use eddy_wire::v011::header::{
    self, HEADER_LEN, RequestHead, command as frame, eviction, operation,
};
use eddy_wire::v011::login::{ClientVersion, Credential, Register};

fn start(name: &str) -> (ServerHandle, std::path::PathBuf) {
    start_with(name, |_| {})
}

fn start_with(name: &str, tune: impl FnOnce(&mut Config)) -> (ServerHandle, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("eddy-v011-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.clone();
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    config.limits.max_request_size = 1 << 20;
    config.auth.login_backoff_max_ms = 200;
    tune(&mut config);
    (eddy_server::start(config).unwrap(), dir)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// A reply or eviction: `(command byte, status, operation, body)`; for an eviction the status
/// is its reason.
fn read_frame(s: &mut TcpStream) -> (u8, u32, u8, Vec<u8>) {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).unwrap();
    let (cmd, size, st, op) = header::parse_reply_head(&head).unwrap();
    let mut body = vec![0u8; size - HEADER_LEN];
    s.read_exact(&mut body).unwrap();
    match cmd {
        frame::EVICTION => (cmd, u32::from(header::eviction_reason(&head).unwrap()), 0, body),
        _ => (cmd, st, op, body),
    }
}

fn encode(code: u32, body: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    RequestHead::encode(code, 0x00C1_1EA7, 1, 0, body.len(), &mut out);
    out.extend_from_slice(body);
    out.to_vec()
}

fn send(s: &mut TcpStream, code: u32, body: &[u8]) -> (u8, u32, u8, Vec<u8>) {
    s.write_all(&encode(code, body)).unwrap();
    read_frame(s)
}

fn register(version: u32, credential: Credential) -> Vec<u8> {
    let mut out = BytesMut::new();
    let v = ClientVersion {
        protocol_version: version,
        sdk_name: "test".into(),
        sdk_version: "1".into(),
    };
    Register { version: v, credential }.encode(&mut out);
    out.to_vec()
}

fn password(user: &str, pass: &str) -> Credential {
    Credential::Password { username: user.into(), password: pass.into() }
}

fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut sink = [0u8; 4096];
    loop {
        match s.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn both_wires_share_a_port_and_0_11_errors_keep_the_connection() {
    let (server, dir) = start("errors");
    let addr = server.tcp_addr.unwrap();
    let mut new = connect(addr);
    let mut old = connect(addr);
    let (cmd, st, op, body) = send(&mut new, command::PING, &[]);
    assert_eq!((cmd, st, op, body.len()), (frame::REPLY, status::OK, operation::NON_REPLICATED, 0));
    assert_eq!(request(&mut old, command::PING, &[]).0, status::OK, "the 0.8 client beside it");
    assert_eq!(send(&mut new, command::GET_STREAMS, &[]).1, status::UNAUTHENTICATED);

    let v = header::PROTOCOL_VERSION;
    let too_old =
        send(&mut new, command_v011::LOGIN_REGISTER, &register(10 << 10, password("iggy", "iggy")));
    assert_eq!(
        (too_old.0, too_old.1),
        (frame::EVICTION, u32::from(eviction::INCOMPATIBLE_PROTOCOL))
    );
    let junk = send(&mut new, command_v011::LOGIN_REGISTER, b"\x01\x02");
    assert_eq!((junk.0, junk.1), (frame::EVICTION, u32::from(eviction::MALFORMED_LOGIN)));
    let wrong =
        send(&mut new, command_v011::LOGIN_REGISTER, &register(v, password("iggy", "nope")));
    assert_eq!((wrong.0, wrong.1), (frame::EVICTION, u32::from(eviction::INVALID_CREDENTIALS)));
    let token = send(
        &mut new,
        command_v011::LOGIN_REGISTER,
        &register(v, Credential::Token("x".repeat(50))),
    );
    assert_eq!((token.0, token.1), (frame::EVICTION, u32::from(eviction::INVALID_TOKEN)));

    let (cmd, st, op, body) =
        send(&mut new, command_v011::LOGIN_REGISTER, &register(v, password("iggy", "iggy")));
    assert_eq!((cmd, st, op), (frame::REPLY, status::OK, operation::REGISTER));
    assert_eq!(&body[..4], &[0, 0, 0, 0], "an empty result section");
    assert_eq!(&body[4..8], &0u32.to_le_bytes(), "root");
    assert_ne!(&body[8..16], &[0; 8], "a session");
    assert_eq!(&body[16..20], &v.to_le_bytes());

    let (_, st, op, body) = send(&mut new, command::CREATE_STREAM, b"\x05alpha");
    assert_eq!((st, op), (status::OK, operation::CREATE_STREAM));
    assert_eq!(&body[..4], &[0, 0, 0, 0], "metadata replies start with a result section");
    assert_eq!(body[4 + 32], 5, "then the stream: its name after 32 fixed bytes");
    assert_eq!(
        send(&mut new, command::CREATE_STREAM, b"\x05alpha").1,
        status::STREAM_NAME_ALREADY_EXISTS
    );
    assert_eq!(send(&mut new, 9999, &[]).1, status::INVALID_COMMAND);
    assert_eq!(
        send(&mut new, command::POLL_MESSAGES_DEFERRED, &[]).1,
        status::INVALID_COMMAND,
        "0.8-only"
    );
    assert_eq!(send(&mut new, command_v011::GET_POLL_ROUTING, &[]).1, status::FEATURE_UNAVAILABLE);
    assert_eq!(send(&mut new, command::SEND_MESSAGES, &[9, 9, 9]).1, status::INVALID_FORMAT);
    let mut options = BytesMut::from(&b"\x05gamma"[..]);
    eddy_wire::v011::options::encode_entry("colour", 2, b"red", &mut options);
    assert_eq!(send(&mut new, command::CREATE_STREAM, &options).1, status::UNSUPPORTED_OPTION_KEY);
    // A stream named by the 0.11 client is the 0.8 client's too.
    assert_eq!(
        request(&mut old, command::LOGIN_USER, &login_payload("iggy", "iggy")).0,
        status::OK
    );
    let (st, body) = request(&mut old, command::GET_STREAM, b"\x02\x05alpha");
    assert_eq!((st, body[32]), (status::OK, 5));
    assert_eq!(send(&mut new, command::PING, &[]).1, status::OK, "still usable");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn broken_0_11_framing_closes_only_that_connection() {
    let (server, dir) = start("framing");
    let addr = server.tcp_addr.unwrap();
    let mut bystander = connect(addr);
    assert_eq!(send(&mut bystander, command::PING, &[]).1, status::OK);

    // A size below the header itself.
    let mut s = connect(addr);
    let mut short = encode(command::PING, &[]);
    short[48..52].copy_from_slice(&100u32.to_le_bytes());
    s.write_all(&short).unwrap();
    assert_eq!(read_frame(&mut s).1, status::INVALID_FORMAT);
    assert!(closed_by_server(&mut s));

    // A size far over the limit, before login: refused as soon as the size is in (no body
    // sent, nothing reserved for it).
    let mut s = connect(addr);
    let mut huge = encode(command::PING, &[]);
    huge[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
    s.write_all(&huge[..52]).unwrap();
    assert_eq!(read_frame(&mut s).1, status::UNAUTHENTICATED);
    assert!(closed_by_server(&mut s));

    // A frame that is not a request, and an operation only replicas send.
    for (at, value) in [(60usize, frame::REPLY), (176, 64)] {
        let mut s = connect(addr);
        let mut bad = encode(command::PING, &[]);
        bad[at] = value;
        s.write_all(&bad).unwrap();
        assert_eq!(read_frame(&mut s).1, status::INVALID_FORMAT, "byte {at} = {value}");
        assert!(closed_by_server(&mut s));
    }

    // A request written a byte at a time, and two pipelined, are served.
    let mut s = connect(addr);
    for b in encode(command::PING, &[]) {
        s.write_all(&[b]).unwrap();
    }
    assert_eq!(read_frame(&mut s).1, status::OK);
    let mut two = encode(command::PING, &[]);
    two.extend(encode(command::GET_STREAMS, &[]));
    s.write_all(&two).unwrap();
    assert_eq!(read_frame(&mut s).1, status::OK);
    assert_eq!(read_frame(&mut s).1, status::UNAUTHENTICATED);

    assert_eq!(send(&mut bystander, command::PING, &[]).1, status::OK, "others are unaffected");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_0_11_client_over_the_caps_is_refused_in_its_own_framing() {
    let (server, dir) = start_with("caps", |c| c.limits.max_connections_per_ip = 1);
    let addr = server.tcp_addr.unwrap();
    let mut held = connect(addr);
    assert_eq!(send(&mut held, command::PING, &[]).1, status::OK);
    let mut over = connect(addr);
    let (cmd, st, _, _) = send(&mut over, command::PING, &[]);
    assert_eq!((cmd, st), (frame::REPLY, status::CANNOT_ESTABLISH_CONNECTION));
    assert!(closed_by_server(&mut over));
    let mut old = connect(addr);
    assert_eq!(request(&mut old, command::PING, &[]).0, status::CANNOT_ESTABLISH_CONNECTION);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
