//! Bad input never crashes the server or disturbs other clients: random bytes, oversized
//! lengths, unknown codes, malformed payloads, commands before login, a login flood — over TCP and
//! WebSocket — while a well-behaved client keeps working.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

mod common;

use common::{login_payload, request};
use eddy_server::{Config, ServerHandle};
use eddy_wire::codes::{command, status};

fn start(name: &str) -> (ServerHandle, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("eddy-hostile-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.clone();
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    config.limits.max_request_size = 1 << 20;
    config.auth.login_backoff_max_ms = 400;
    (eddy_server::start(config).unwrap(), dir)
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until EOF (or a reset); true if the server closed the connection.
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
fn errors_keep_the_connection_when_framing_is_intact() {
    let (server, dir) = start("codes");
    let mut s = connect(server.tcp_addr.unwrap());
    assert_eq!(request(&mut s, command::PING, &[]).0, status::OK, "ping needs no login");
    assert_eq!(request(&mut s, command::GET_STREAMS, &[]).0, status::UNAUTHENTICATED);
    assert_eq!(request(&mut s, 9999, &[]).0, status::INVALID_COMMAND);
    assert_eq!(
        request(&mut s, command::LOGIN_USER, &login_payload("iggy", "nope")).0,
        status::INVALID_CREDENTIALS
    );
    assert_eq!(request(&mut s, command::LOGIN_USER, &[1, 2, 3]).0, status::INVALID_FORMAT);
    assert_eq!(request(&mut s, command::LOGIN_USER, &login_payload("iggy", "iggy")).0, status::OK);
    assert_eq!(
        request(&mut s, command::CREATE_USER, &[]).0,
        status::INVALID_FORMAT,
        "a user command without its body"
    );
    assert_eq!(
        request(&mut s, command::CREATE_CONSUMER_GROUP, &[]).0,
        status::INVALID_FORMAT,
        "a group command without its body"
    );
    assert_eq!(request(&mut s, command::GET_SNAPSHOT_FILE, &[]).0, status::FEATURE_UNAVAILABLE);
    assert_eq!(request(&mut s, command::GET_CLUSTER_METADATA, &[]).0, status::OK);
    assert_eq!(
        request(&mut s, command::CREATE_STREAM, &[0]).0,
        status::INVALID_FORMAT,
        "empty name"
    );
    assert_eq!(request(&mut s, command::SEND_MESSAGES, &[9, 9, 9]).0, status::INVALID_FORMAT);
    assert_eq!(
        request(&mut s, command::GET_STREAM, &[1, 4, 9, 0, 0, 0]).1.len(),
        0,
        "missing stream: empty"
    );
    let poll_missing = [
        1, 1, 4, 1, 0, 0, 0, 1, 4, 77, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0, 0, 0, 0,
    ];
    assert_eq!(
        request(&mut s, command::POLL_MESSAGES, &poll_missing).0,
        status::STREAM_ID_NOT_FOUND
    );
    assert_eq!(request(&mut s, command::PING, &[]).0, status::OK, "still usable");
    server.stop();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn broken_framing_closes_only_that_connection() {
    let (server, dir) = start("framing");
    let addr = server.tcp_addr.unwrap();
    let mut good = connect(addr);
    assert_eq!(
        request(&mut good, command::LOGIN_USER, &login_payload("iggy", "iggy")).0,
        status::OK
    );

    // An oversized length: refused before any allocation, answered, then closed. Before login
    // anything over the pre-login limit (64 KiB) is "unauthenticated"; after it, "invalid format".
    for (logged_in, length, expected) in [
        (false, u32::MAX, status::UNAUTHENTICATED),
        (false, (64 << 10) + 5, status::UNAUTHENTICATED),
        (true, u32::MAX, status::INVALID_FORMAT),
    ] {
        let mut huge = connect(addr);
        if logged_in {
            let (st, _) = request(&mut huge, command::LOGIN_USER, &login_payload("iggy", "iggy"));
            assert_eq!(st, status::OK);
        }
        huge.write_all(&length.to_le_bytes()).unwrap();
        huge.write_all(&command::PING.to_le_bytes()).unwrap();
        let mut head = [0u8; 8];
        huge.read_exact(&mut head).unwrap();
        assert_eq!(u32::from_le_bytes(head[..4].try_into().unwrap()), expected, "{length}");
        assert!(closed_by_server(&mut huge));
    }

    // A length below 4.
    let mut tiny = connect(addr);
    tiny.write_all(&[1, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    assert!(closed_by_server(&mut tiny));

    // Random bytes, many connections, TCP and WebSocket.
    let mut x = 0x1234_5678_9abc_def0u64;
    for round in 0..40 {
        let target = if round % 2 == 0 { addr } else { server.ws_addr.unwrap() };
        let mut s = connect(target);
        let junk: Vec<u8> = (0..(64 + round * 97))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        s.write_all(&junk).ok();
        drop(s);
    }
    // A login flood on one connection: cut after the fifth failure (the default).
    let mut flood = connect(addr);
    let mut pipelined = Vec::new();
    for _ in 0..2000 {
        let payload = login_payload("iggy", "bad");
        pipelined.extend_from_slice(&((payload.len() + 4) as u32).to_le_bytes());
        pipelined.extend_from_slice(&command::LOGIN_USER.to_le_bytes());
        pipelined.extend_from_slice(&payload);
    }
    flood.write_all(&pipelined).ok();
    let mut answers = Vec::new();
    flood.read_to_end(&mut answers).ok();
    assert_eq!(answers.len(), 5 * 8, "five error replies, then the close");
    assert!(answers.chunks(8).all(|r| r[..4] == status::INVALID_CREDENTIALS.to_le_bytes()));
    // Fresh connections from the same address now wait before each attempt (back-off doubling
    // from 100 ms, capped at 400 ms in this server's config), and a right password still works.
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let mut s = connect(addr);
        assert_eq!(
            request(&mut s, command::LOGIN_USER, &login_payload("iggy", "bad")).0,
            status::INVALID_CREDENTIALS
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(100 + 200), "{:?}", started.elapsed());
    let mut late = connect(addr);
    assert_eq!(
        request(&mut late, command::LOGIN_USER, &login_payload("iggy", "iggy")).0,
        status::OK
    );
    // The well-behaved client never noticed.
    assert_eq!(request(&mut good, command::PING, &[]).0, status::OK);
    let (st, _) = request(&mut good, command::CREATE_STREAM, b"\x05still");
    assert_eq!(st, status::OK);
    server.stop();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_partition_that_could_not_be_opened_is_retried_not_lost() {
    use bytes::{BufMut, BytesMut};
    use eddy_wire::Identifier;
    use eddy_wire::commands::messages::{Partitioning, SendMessages};
    use eddy_wire::message::encode_message;

    let (server, dir) = start("reopen");
    let mut s = connect(server.tcp_addr.unwrap());
    assert_eq!(request(&mut s, command::LOGIN_USER, &login_payload("iggy", "iggy")).0, status::OK);
    assert_eq!(request(&mut s, command::CREATE_STREAM, b"\x01s").0, status::OK);
    // The file system refuses the partition's directory (a file squats the topic's path), as
    // when the process is out of descriptors: the topic exists, its partition cannot open yet.
    let squatter = dir.join("streams/0/topics/0");
    std::fs::create_dir_all(squatter.parent().unwrap()).unwrap();
    std::fs::write(&squatter, b"").unwrap();
    let mut topic = BytesMut::new();
    Identifier::Numeric(0).encode(&mut topic);
    topic.put_u32_le(1);
    topic.put_u8(1);
    topic.put_u64_le(0);
    topic.put_u64_le(0);
    topic.put_u8(1);
    topic.put_u8(1);
    topic.put_slice(b"t");
    assert_ne!(request(&mut s, command::CREATE_TOPIC, &topic).0, status::OK);
    let mut messages = BytesMut::new();
    encode_message(&mut messages, 1, 0, b"hello", b"");
    let lengths = [messages.len() as u32];
    let mut send = BytesMut::new();
    let (sid, tid) = (Identifier::Numeric(0), Identifier::Numeric(0));
    SendMessages::encode(&sid, &tid, &Partitioning::PartitionId(0), &messages, &lengths, &mut send);
    assert_ne!(request(&mut s, command::SEND_MESSAGES, &send).0, status::OK, "still refused");
    // Once the file system allows it, the next operation opens the partition and is served.
    std::fs::remove_file(&squatter).unwrap();
    assert_eq!(request(&mut s, command::SEND_MESSAGES, &send).0, status::OK);
    assert_eq!(request(&mut s, command::SEND_MESSAGES, &send).0, status::OK);
    server.stop();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_deleted_partition_left_on_disk_by_a_crash_never_comes_back() {
    use bytes::{BufMut, BytesMut};
    use eddy_wire::Identifier;
    use eddy_wire::commands::messages::{Partitioning, SendMessages};
    use eddy_wire::message::encode_message;

    let ids = || {
        let mut out = BytesMut::new();
        Identifier::Numeric(0).encode(&mut out);
        Identifier::Numeric(0).encode(&mut out);
        out
    };
    let restart = |dir: &std::path::Path| {
        let mut config = Config::default();
        config.system.data_dir = dir.to_path_buf();
        config.system.shards = 2;
        config.tcp.address = "127.0.0.1:0".parse().unwrap();
        config.websocket.enabled = false;
        config.auth.root_password = "iggy".into();
        let server = eddy_server::start(config).unwrap();
        let mut s = connect(server.tcp_addr.unwrap());
        assert_eq!(request(&mut s, command::LOGIN_USER, &login_payload("iggy", "iggy")).0, 0);
        (server, s)
    };
    let poll_count = |s: &mut TcpStream, partition: u8| {
        let mut p =
            vec![1, 1, 4, 1, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 1, partition, 0, 0, 0, 1];
        p.extend_from_slice(&[0; 8]);
        p.extend_from_slice(&100u32.to_le_bytes());
        p.push(0);
        let (st, body) = request(s, command::POLL_MESSAGES, &p);
        assert_eq!(st, status::OK);
        u32::from_le_bytes(body[12..16].try_into().unwrap())
    };
    let (server, dir) = start("leftover");
    server.stop();
    let (server, mut s) = restart(&dir);
    assert_eq!(request(&mut s, command::CREATE_STREAM, b"\x01s").0, status::OK);
    let mut topic = BytesMut::new();
    Identifier::Numeric(0).encode(&mut topic);
    topic.put_u32_le(2);
    topic.put_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, b't']);
    assert_eq!(request(&mut s, command::CREATE_TOPIC, &topic).0, status::OK);
    let mut messages = BytesMut::new();
    encode_message(&mut messages, 7, 0, b"old data", b"");
    let mut send = BytesMut::new();
    let (sid, tid) = (Identifier::Numeric(0), Identifier::Numeric(0));
    let lengths = [messages.len() as u32];
    SendMessages::encode(&sid, &tid, &Partitioning::PartitionId(1), &messages, &lengths, &mut send);
    assert_eq!(request(&mut s, command::SEND_MESSAGES, &send).0, status::OK);
    assert_eq!(poll_count(&mut s, 1), 1);
    server.stop();
    // Keep a copy of partition 1 as the disk held it, delete the partition, then put the copy
    // back: the state a crash leaves after the catalog change and before the files went.
    let p1 = dir.join("streams/0/topics/0/partitions/1");
    // A clean stop checkpoints every partition: the next start reads none of its log.
    let checkpoint = eddy_server::storage::checkpoint::load(&p1).expect("a checkpoint at stop");
    let log_len = std::fs::metadata(p1.join(format!("{:020}.log", 0))).unwrap().len();
    assert_eq!(checkpoint.get(0).map(|m| (m.size, m.count)), Some((log_len, 1)));
    let saved = dir.join("saved-partition");
    std::fs::create_dir_all(&saved).unwrap();
    for entry in std::fs::read_dir(&p1).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), saved.join(entry.file_name())).unwrap();
        }
    }
    let (server, mut s) = restart(&dir);
    let mut count = ids();
    count.put_u32_le(1);
    assert_eq!(request(&mut s, command::DELETE_PARTITIONS, &count).0, status::OK);
    server.stop();
    std::fs::rename(&saved, &p1).unwrap();
    // Reusing the id gives an empty partition, not the old messages.
    let (server, mut s) = restart(&dir);
    assert_eq!(request(&mut s, command::CREATE_PARTITIONS, &count).0, status::OK);
    assert_eq!(poll_count(&mut s, 1), 0, "the deleted partition's messages came back");
    assert_eq!(poll_count(&mut s, 0), 0);
    server.stop();
    std::fs::remove_dir_all(&dir).ok();
}
