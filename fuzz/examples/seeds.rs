//! Writes the seed corpora (`fuzz/corpus/<target>/`) from what the tests exercise: frames and
//! compressed messages both roles send, real handshakes, one request of every command, and a
//! segment log of stamped messages. Run: `cargo run --manifest-path fuzz/Cargo.toml --example
//! seeds`. The corpora are committed; rerun after a wire change.

use std::path::Path;

use bytes::BytesMut;
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, SendMessages};
use eddy_wire::commands::users::Login;
use eddy_wire::message::{encode_message, stamp};
use eddy_ws::deflate::{Compressor, DeflateConfig, Negotiated};
use eddy_ws::protocol::{Outbox, Protocol};
use eddy_ws::{ClientRequest, CloseCode, CloseFrame, Config, Message, Role};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed");
}

fn frames(role: Role, deflate: bool) -> Vec<u8> {
    let mut proto = Protocol::new(role, &Config::default());
    if deflate {
        let n = Negotiated {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        proto.enable_deflate(n, &DeflateConfig { min_size: 0, ..DeflateConfig::default() });
    }
    let mut out = Outbox::new(1024);
    for m in [
        Message::text("hello"),
        Message::binary(vec![7u8; 300]),
        Message::text("{\"k\":\"v\"}".repeat(50)),
        Message::Ping(bytes::Bytes::from_static(b"p")),
    ] {
        proto.send(m, &mut out).expect("send");
    }
    proto.close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")), &mut out).expect("close");
    let mut segments = Vec::new();
    while !out.is_empty() {
        out.drain_into(&mut segments, 64);
    }
    segments.concat()
}

fn main() {
    // ws_frames: control byte picks the role of the *receiver* (even: server) and deflate.
    for (control, sender, deflate) in [
        (0u8, Role::Client, false),
        (1, Role::Server, false),
        (2, Role::Client, true),
        (3, Role::Server, true),
        (0x52, Role::Client, true),
    ] {
        let mut seed = vec![control];
        seed.extend(frames(sender, deflate));
        write("ws_frames", &format!("seed-{control:02x}"), &seed);
    }
    // ws_handshake: a client's request and a server's answer.
    let request = ClientRequest::new("ws://localhost:9001/chat")
        .expect("url")
        .with_header("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
        .with_header("Origin", "http://localhost:9001");
    let mut out = BytesMut::new();
    request.write(&mut out);
    write("ws_handshake", "request", &out);
    write(
        "ws_handshake",
        "response",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
          Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
    );
    // ws_inflate: compressed messages.
    let mut compressor = Compressor::new(15, 3, false);
    for (i, text) in ["hello hello hello", &"abc".repeat(3000)].iter().enumerate() {
        let mut seed = vec![0u8];
        if compressor.compress(text.as_bytes(), &mut seed) {
            write("ws_inflate", &format!("seed-{i}"), &seed);
        }
    }
    // iggy_commands: one payload of each command.
    let mut login = BytesMut::new();
    Login { username: "iggy".into(), password: "secret".into(), version: None }.encode(&mut login);
    write("iggy_commands", "login", &login);
    write("iggy_commands", "create_stream", b"\x06orders");
    let mut messages = BytesMut::new();
    let mut lengths = Vec::new();
    for i in 0..3u128 {
        let before = messages.len();
        encode_message(&mut messages, i + 1, 7, &vec![i as u8; 40], b"");
        lengths.push((messages.len() - before) as u32);
    }
    let mut send = BytesMut::new();
    let (s, t) = (Identifier::Numeric(0), Identifier::Numeric(0));
    SendMessages::encode(&s, &t, &Partitioning::PartitionId(0), &messages, &lengths, &mut send);
    write("iggy_commands", "send", &send);
    let poll = [
        1, 1, 4, 1, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
        0, 0, 0, 10, 0, 0, 0, 1,
    ];
    write("iggy_commands", "poll", &poll);
    // iggy_v011: a request header, a login, a send batch, a topic creation with options.
    let mut head = BytesMut::new();
    eddy_wire::v011::header::RequestHead::encode(
        eddy_wire::codes::command::PING,
        1,
        2,
        3,
        0,
        &mut head,
    );
    write("iggy_v011", "header", &head);
    let mut register = BytesMut::new();
    eddy_wire::v011::login::Register {
        version: eddy_wire::v011::login::ClientVersion {
            protocol_version: eddy_wire::v011::header::PROTOCOL_VERSION,
            sdk_name: "rust-sdk".into(),
            sdk_version: "0.11.0".into(),
        },
        credential: eddy_wire::v011::login::Credential::Password {
            username: "iggy".into(),
            password: "secret".into(),
        },
    }
    .encode(&mut register);
    write("iggy_v011", "login", &register);
    let mut metadata = BytesMut::new();
    s.encode(&mut metadata);
    t.encode(&mut metadata);
    Partitioning::PartitionId(0).encode(&mut metadata);
    metadata.extend_from_slice(&2u32.to_le_bytes());
    let mut batch = BytesMut::new();
    let frames: [(u128, u64, &[u8], &[u8]); 2] = [(1, 5, b"one", b""), (2, 9, b"two", b"")];
    eddy_wire::v011::batch::encode_send(&metadata, &frames, &mut batch);
    write("iggy_v011", "send", &batch);
    let mut topic = BytesMut::new();
    s.encode(&mut topic);
    topic.extend_from_slice(&3u32.to_le_bytes());
    topic.extend_from_slice(b"\x06events");
    eddy_wire::v011::options::encode_entry("message_expiry", 12, &9u64.to_le_bytes(), &mut topic);
    write("iggy_v011", "create_topic", &topic);
    // segment_recovery: a clean segment, stamped as the server stores it.
    let mut log = messages.to_vec();
    let mut pos = 0;
    for (i, &len) in lengths.iter().enumerate() {
        stamp(&mut log[pos..pos + len as usize], i as u64, 1_000);
        pos += len as usize;
    }
    let mut seed = vec![0u8];
    seed.extend_from_slice(&log);
    write("segment_recovery", "clean", &seed);
    println!("seeds written under {}/corpus", env!("CARGO_MANIFEST_DIR"));
}
