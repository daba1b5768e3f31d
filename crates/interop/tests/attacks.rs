//! The hostile-client suite against the real `eddy-server` binary with its defaults: each attack
//! of the hardening issue re-run and shown refused or bounded, memory asserted from `/proc`.
//! Raw sockets speak the wire by hand; Apache Iggy's SDK sets up data where a real client would.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, server_binary, temp_data_dir};
use iggy::prelude::*;

const PING: u32 = 1;
const LOGIN_USER: u32 = 38;
const POLL_MESSAGES: u32 = 100;
const OK: u32 = 0;
const CANNOT_ESTABLISH_CONNECTION: u32 = 9;
const UNAUTHENTICATED: u32 = 40;
const INVALID_CREDENTIALS: u32 = 42;

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn frame(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut msg = ((payload.len() + 4) as u32).to_le_bytes().to_vec();
    msg.extend_from_slice(&code.to_le_bytes());
    msg.extend_from_slice(payload);
    msg
}

fn read_reply(s: &mut TcpStream) -> (u32, Vec<u8>) {
    let mut head = [0u8; 8];
    s.read_exact(&mut head).unwrap();
    let status = u32::from_le_bytes(head[..4].try_into().unwrap());
    let len = u32::from_le_bytes(head[4..].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (status, body)
}

fn request(s: &mut TcpStream, code: u32, payload: &[u8]) -> (u32, Vec<u8>) {
    s.write_all(&frame(code, payload)).unwrap();
    read_reply(s)
}

fn login_payload(user: &str, pass: &str) -> Vec<u8> {
    let mut p = vec![user.len() as u8];
    p.extend_from_slice(user.as_bytes());
    p.push(pass.len() as u8);
    p.extend_from_slice(pass.as_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p
}

/// POLL_MESSAGES of up to `count` messages from offset 0 of stream 0, topic 0, partition 0.
fn poll_payload(count: u32) -> Vec<u8> {
    let mut p = vec![1, 1, 4, 1, 0, 0, 0]; // consumer: kind 1, numeric id 1
    p.extend_from_slice(&[1, 4, 0, 0, 0, 0]); // stream 0
    p.extend_from_slice(&[1, 4, 0, 0, 0, 0]); // topic 0
    p.extend_from_slice(&[1, 0, 0, 0, 0]); // partition 0
    p.push(1); // strategy: offset
    p.extend_from_slice(&0u64.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    p.push(0); // no auto-commit
    p
}

/// Reads until EOF or a reset; true if the server closed the connection.
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

/// The server's resident memory in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    kib * 1024
}

/// The password a fresh server printed for its root user.
fn generated_password(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(p) = server.output().iter().find_map(|l| l.trim().strip_prefix("password: ")) {
            return p.to_owned();
        }
        assert!(Instant::now() < deadline, "no generated password printed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh server with every default but the ports and data directory, and its password.
fn fresh(name: &str, env: &[(&str, &str)]) -> (Server, String) {
    let dir = temp_data_dir(&format!("attack-{name}"));
    let mut command = Server::command(&dir, 2, true);
    command.envs(env.iter().copied());
    let server = Server::spawn(command, &dir);
    let password = generated_password(&server);
    (server, password)
}

/// The raw HTTP upgrade request, with an optional Origin.
fn ws_handshake(addr: SocketAddr, origin: Option<&str>) -> (TcpStream, String) {
    let mut s = connect(addr);
    let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{origin}\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

/// A masked binary WebSocket frame (mask key 0: the payload bytes are sent as they are).
fn ws_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x82];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn sdk(server: &Server, password: &str) -> IggyClient {
    let client = IggyClient::builder()
        .with_tcp()
        .with_server_address(server.tcp.to_string())
        .build()
        .unwrap();
    client.connect().await.unwrap();
    client.login_user("iggy", password).await.unwrap();
    client
}

async fn stream_and_topic(c: &IggyClient) {
    c.create_stream("s").await.unwrap();
    common::create_topic(c, &Identifier::numeric(0).unwrap(), "t", 1).await;
}

async fn send(c: &IggyClient, batches: usize, size: usize) -> Result<(), IggyError> {
    for b in 0..batches {
        let mut messages: Vec<IggyMessage> = (0..16)
            .map(|i| {
                IggyMessage::builder()
                    .payload(bytes::Bytes::from(vec![(b + i) as u8; size / 16]))
                    .build()
                    .unwrap()
            })
            .collect();
        c.send_messages(
            &Identifier::numeric(0).unwrap(),
            &Identifier::numeric(0).unwrap(),
            &Partitioning::partition_id(0),
            &mut messages,
        )
        .await?;
    }
    Ok(())
}

#[test]
fn a_fresh_server_generates_its_root_password_and_refuses_iggy_iggy() {
    let (server, password) = fresh("password", &[]);
    assert_eq!(password.len(), 24);
    let mut s = connect(server.tcp);
    assert_eq!(request(&mut s, LOGIN_USER, &login_payload("iggy", "iggy")).0, INVALID_CREDENTIALS);
    assert_eq!(request(&mut s, LOGIN_USER, &login_payload("iggy", &password)).0, OK);
    let stored = std::fs::read_to_string(server.data_dir.join("root_password.phc")).unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(&password));
    // A restart keeps the password and prints nothing.
    let dir = server.data_dir.clone();
    server.kill();
    let again = Server::spawn(Server::command(&dir, 1, true), &dir);
    let mut s = connect(again.tcp);
    assert_eq!(request(&mut s, LOGIN_USER, &login_payload("iggy", &password)).0, OK);
    assert!(!again.output().iter().any(|l| l.contains(&password)), "shown at first start only");
    drop(again);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_second_instance_on_the_same_data_directory_is_refused() {
    let (server, _) = fresh("lock", &[]);
    let out = Command::new(server_binary())
        .args(["--data-dir"])
        .arg(&server.data_dir)
        .args(["--tcp-address", "127.0.0.1:0", "--ws-address", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&server.data_dir.display().to_string()), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", server.pid())), "{stderr}");
    // The first one still serves.
    assert_eq!(request(&mut connect(server.tcp), PING, &[]).0, OK);
    std::fs::remove_dir_all(&server.data_dir).ok();
}

#[test]
fn pipelined_polls_that_are_never_read_keep_memory_bounded() {
    let (server, password) = fresh("polls", &[]);
    runtime().block_on(async {
        let c = sdk(&server, &password).await;
        stream_and_topic(&c).await;
        // 8 MiB stored: every poll below answers with all of it.
        send(&c, 8, 1 << 20).await.unwrap();
    });
    let before = rss(server.pid());
    let poll = frame(POLL_MESSAGES, &poll_payload(1_000_000));
    // Over TCP and over WebSocket: 200 polls each (1.6 GB of replies if they were all held).
    let mut tcp = connect(server.tcp);
    assert_eq!(request(&mut tcp, LOGIN_USER, &login_payload("iggy", &password)).0, OK);
    tcp.write_all(&poll.repeat(200)).unwrap();
    let (mut ws, head) = ws_handshake(server.ws, None);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    ws.write_all(&ws_frame(&frame(LOGIN_USER, &login_payload("iggy", &password)))).unwrap();
    ws.write_all(&ws_frame(&poll).repeat(200)).unwrap();
    let mut peak = 0;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss(server.pid()));
    }
    let growth = peak.saturating_sub(before);
    eprintln!("400 unread polls of 8 MiB: server RSS grew by {} MiB", growth >> 20);
    assert!(growth < 256 << 20, "RSS grew by {} MiB", growth >> 20);
    // The server still answers everyone else.
    assert_eq!(request(&mut connect(server.tcp), PING, &[]).0, OK);
    // And the pipelining client gets every reply once it reads: 200 × 8 MiB.
    let mut replies = 0;
    for _ in 0..200 {
        let (status, body) = read_reply(&mut tcp);
        assert_eq!(status, OK);
        assert!(body.len() > 8 << 20);
        replies += 1;
    }
    assert_eq!(replies, 200);
    std::fs::remove_dir_all(&server.data_dir).ok();
}

#[test]
fn browsers_from_foreign_origins_get_403() {
    let (server, _) = fresh("origin", &[]);
    let port = server.ws.port();
    let (_, head) = ws_handshake(server.ws, Some("https://evil.example"));
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (_, head) = ws_handshake(server.ws, Some("null"));
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    for own in [format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")] {
        let (_, head) = ws_handshake(server.ws, Some(&own));
        assert!(head.starts_with("HTTP/1.1 101"), "{own}: {head}");
    }
    let (_, head) = ws_handshake(server.ws, None);
    assert!(head.starts_with("HTTP/1.1 101"), "no Origin: not a browser: {head}");
    // Bad handshakes get their HTTP answer before the close.
    for (request, status) in [
        ("POST / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), "405"),
        (format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(20 << 10)), "431"),
        (
            (0..70)
                .map(|i| format!("X-{i}: v\r\n"))
                .fold("GET / HTTP/1.1\r\n".to_owned(), |a, h| a + &h)
                + "\r\n",
            "431",
        ),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n".to_owned(), "400"),
        ("\x01\x02 nonsense\r\n\r\n".to_owned(), "400"),
        // Without Upgrade it is the dashboard's: its page, or 404.
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), "200"),
        ("GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), "404"),
    ] {
        let mut s = connect(server.ws);
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).ok();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")), "{status}: {answer}");
    }
    std::fs::remove_dir_all(&server.data_dir).ok();
}

#[test]
fn unauthenticated_and_half_sent_connections_are_bounded_and_timed_out() {
    let (server, password) = fresh(
        "preauth",
        &[("EDDY_LIMITS_LOGIN_TIMEOUT_MS", "1500"), ("EDDY_LIMITS_REQUEST_TIMEOUT_MS", "1500")],
    );
    let before = rss(server.pid());
    // 40 connections each claim a 60 MiB request and send 4 MiB of it, before logging in.
    let chunk = vec![7u8; 1 << 20];
    let mut attackers = Vec::new();
    for _ in 0..40 {
        let mut s = connect(server.tcp);
        s.write_all(&((60u32 << 20) + 4).to_le_bytes()).unwrap();
        s.write_all(&LOGIN_USER.to_le_bytes()).unwrap();
        for _ in 0..4 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        attackers.push(s);
    }
    let growth = rss(server.pid()).saturating_sub(before);
    assert!(growth < 64 << 20, "RSS grew by {} MiB", growth >> 20);
    for mut s in attackers {
        let (status, _) = read_reply(&mut s);
        assert_eq!(status, UNAUTHENTICATED);
        assert!(closed_by_server(&mut s));
    }
    // A silent connection is closed at the login timeout.
    let started = Instant::now();
    let mut silent = connect(server.tcp);
    assert!(closed_by_server(&mut silent));
    assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());
    // Over WebSocket too.
    let (mut silent_ws, head) = ws_handshake(server.ws, None);
    assert!(head.starts_with("HTTP/1.1 101"));
    assert!(closed_by_server(&mut silent_ws));
    // A logged-in client that starts a request and stalls is dropped at the request timeout;
    // an idle logged-in one is not.
    let mut idle = connect(server.tcp);
    assert_eq!(request(&mut idle, LOGIN_USER, &login_payload("iggy", &password)).0, OK);
    let mut stalled = connect(server.tcp);
    assert_eq!(request(&mut stalled, LOGIN_USER, &login_payload("iggy", &password)).0, OK);
    stalled.write_all(&frame(PING, &[0u8; 100])[..20]).unwrap();
    assert!(closed_by_server(&mut stalled));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(request(&mut idle, PING, &[]).0, OK, "idle and logged in: kept");
    std::fs::remove_dir_all(&server.data_dir).ok();
}

#[test]
fn connections_over_the_caps_get_an_error_and_are_closed() {
    let (server, _) = fresh("caps", &[("EDDY_LIMITS_MAX_CONNECTIONS_PER_IP", "4")]);
    let mut held: Vec<TcpStream> = (0..4).map(|_| connect(server.tcp)).collect();
    // Each one answered: all four are admitted before the next connection comes.
    for s in &mut held {
        assert_eq!(request(s, PING, &[]).0, OK);
    }
    let mut over = connect(server.tcp);
    over.write_all(&frame(PING, &[])).unwrap();
    assert_eq!(read_reply(&mut over).0, CANNOT_ESTABLISH_CONNECTION);
    assert!(closed_by_server(&mut over));
    let (_, head) = ws_handshake(server.ws, None);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    // A slot that is given back is usable again.
    drop(held.pop());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(request(&mut connect(server.tcp), PING, &[]).0, OK);
    assert!(server.output().iter().any(|l| l.contains("connection refused")));
    // WebSocket connections hold their slots for as long as they are open, past the handshake.
    drop(held);
    std::thread::sleep(Duration::from_millis(200));
    let ws_held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let (s, head) = ws_handshake(server.ws, None);
            assert!(head.starts_with("HTTP/1.1 101"), "{head}");
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut over = connect(server.tcp);
    over.write_all(&frame(PING, &[])).unwrap();
    assert_eq!(read_reply(&mut over).0, CANNOT_ESTABLISH_CONNECTION, "4 WebSockets hold the cap");
    drop(ws_held);
    std::fs::remove_dir_all(&server.data_dir).ok();
}

#[test]
fn login_floods_are_cut_and_every_failure_is_logged_without_the_password() {
    let (server, password) = fresh("flood", &[]);
    let mut flood = connect(server.tcp);
    let wrong = "not-the-password-7731";
    flood.write_all(&frame(LOGIN_USER, &login_payload("iggy", wrong)).repeat(2000)).unwrap();
    let mut answers = Vec::new();
    flood.read_to_end(&mut answers).ok();
    assert_eq!(answers.len(), 5 * 8, "five error replies, then the close");
    let deadline = Instant::now() + Duration::from_secs(5);
    let failures = loop {
        let lines = server.output();
        let failures: Vec<String> =
            lines.into_iter().filter(|l| l.contains("failed login")).collect();
        if failures.len() >= 5 || Instant::now() > deadline {
            break failures;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(failures.len(), 5, "{failures:?}");
    assert!(failures.iter().all(|l| l.contains("127.0.0.1") && !l.contains(wrong)), "{failures:?}");
    // The right password still works (after the per-address back-off).
    let mut s = connect(server.tcp);
    assert_eq!(request(&mut s, LOGIN_USER, &login_payload("iggy", &password)).0, OK);
    std::fs::remove_dir_all(&server.data_dir).ok();
}

#[test]
fn exhausting_file_descriptors_never_poisons_a_partition() {
    let dir = temp_data_dir("attack-fds");
    // The server under a hard limit of 256 open files, with 4 KiB segments (a roll per batch).
    let mut command = Command::new("sh");
    command.args(["-c", "ulimit -n 256 && exec \"$@\"", "sh"]).arg(server_binary());
    let base = Server::command(&dir, 1, true);
    command.args(base.get_args()).env("RUST_LOG", "info").env("EDDY_STORAGE_SEGMENT_SIZE", "4096");
    let server = Server::spawn(command, Path::new(&dir));
    let password = generated_password(&server);
    let rt = runtime();
    let c = rt.block_on(async {
        let c = sdk(&server, &password).await;
        stream_and_topic(&c).await;
        c
    });
    // Hold every connection the server will take.
    let attackers: Vec<TcpStream> =
        (0..400).filter_map(|_| TcpStream::connect(server.tcp).ok()).collect();
    // Send until the rolls run out of descriptors: those sends fail, none is acknowledged.
    let mut acked = 0;
    let mut failed = 0;
    for _ in 0..200 {
        match rt.block_on(send(&c, 1, 3 << 10)) {
            Ok(()) => acked += 16,
            Err(_) => failed += 1,
        }
        if failed >= 3 {
            break;
        }
    }
    assert!(failed > 0, "the limit was never reached: the test proves nothing");
    drop(attackers);
    std::thread::sleep(Duration::from_millis(500));
    // Once the attacker is gone the same partition takes writes again and holds every ack.
    rt.block_on(send(&c, 2, 3 << 10)).expect("the partition is not poisoned");
    acked += 32;
    let polled = rt.block_on(async {
        c.poll_messages(
            &Identifier::numeric(0).unwrap(),
            &Identifier::numeric(0).unwrap(),
            Some(0),
            &Consumer::new(Identifier::numeric(1).unwrap()),
            &PollingStrategy::offset(0),
            100_000,
            false,
        )
        .await
        .unwrap()
    });
    assert_eq!(polled.messages.len(), acked);
    assert!(server.output().iter().any(|l| l.contains("open files limit")));
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
