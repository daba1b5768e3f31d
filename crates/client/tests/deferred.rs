//! Deferred polls (POLL_MESSAGES_DEFERRED) against an in-process eddy-server with two shards:
//! answered by an append from other connections, at the granted wait (the server's cap), by
//! `min_count` and by the byte budget; auto-commit only past what was returned; consumer-group
//! members waiting on the partitions they own.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eddy_client::{Batch, Client, ClientError, Deferred, Poll, Polled, Transport};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};

fn start(name: &str, max_wait_ms: u64) -> (eddy_server::ServerHandle, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("eddy-deferred-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = eddy_server::Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.clone();
    config.system.shards = 2;
    config.limits.max_poll_wait_ms = max_wait_ms;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    (eddy_server::start(config).unwrap(), dir)
}

async fn client(transport: Transport, addr: SocketAddr) -> Client {
    let mut c = Client::connect(transport, addr).await.unwrap();
    c.login("iggy", "iggy").await.unwrap();
    c
}

const S: Identifier = Identifier::Numeric(0);
const T: Identifier = Identifier::Numeric(0);

fn poll(strategy: PollingStrategy, count: u32, auto_commit: bool) -> Poll {
    Poll { partition: 0, consumer: 3, strategy, count, auto_commit }
}

fn wait(ms: u64, min_count: u32, max_bytes: u32) -> Deferred {
    Deferred { wait: Duration::from_millis(ms), min_count, max_bytes }
}

async fn send(c: &mut Client, first_id: u128, payloads: &[&[u8]]) {
    let batch =
        Batch::from_payloads(payloads.iter().enumerate().map(|(i, p)| (first_id + i as u128, *p)));
    c.send(&S, &T, &Partitioning::PartitionId(0), &batch).await.unwrap();
}

/// Runs a deferred poll on its own connection; returns the reply and how long it took.
fn spawn_poll(
    transport: Transport,
    addr: SocketAddr,
    spec: Poll,
    deferred: Deferred,
) -> compio::runtime::JoinHandle<(Result<Polled, ClientError>, Duration)> {
    compio::runtime::spawn(async move {
        let mut c = client(transport, addr).await;
        let started = Instant::now();
        let polled = c.poll_deferred(&S, &T, &spec, &deferred).await;
        (polled, started.elapsed())
    })
}

#[compio::test]
async fn a_waiting_poll_is_answered_by_an_append_from_other_connections() {
    let (server, dir) = start("append", 30_000);
    let (tcp, ws) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = client(Transport::Tcp, tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 1).await.unwrap();
    for (round, transport) in [Transport::Tcp, Transport::WebSocket].into_iter().enumerate() {
        let addr = if transport == Transport::Tcp { tcp } else { ws };
        let from = round as u64 * 4;
        let spec = poll(PollingStrategy::Offset(from), 10, false);
        let waiting = spawn_poll(transport, addr, spec, wait(10_000, 4, 0));
        compio::time::sleep(Duration::from_millis(200)).await;
        // Four producers on their own connections (spread over the shards by the kernel): the
        // poll needs all four appends.
        for p in 0..4u128 {
            let mut producer = client(Transport::Tcp, tcp).await;
            send(&mut producer, 100 * round as u128 + p, &[b"hello"]).await;
        }
        let (polled, took) = waiting.await.unwrap();
        let polled = polled.unwrap();
        assert_eq!(polled.messages.len(), 4, "{transport:?}");
        assert_eq!(polled.messages[0].offset, from);
        assert!(took >= Duration::from_millis(200), "it waited ({took:?})");
        assert!(took < Duration::from_secs(5), "answered by the appends, not the wait ({took:?})");
    }
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[compio::test]
async fn the_wait_is_capped_by_the_server_and_ends_empty() {
    let (server, dir) = start("cap", 300);
    let tcp = server.tcp_addr.unwrap();
    let mut c = client(Transport::Tcp, tcp).await;
    c.create_stream("s").await.unwrap();
    c.create_topic(&S, "t", 1).await.unwrap();
    let started = Instant::now();
    let spec = poll(PollingStrategy::Next, 10, true);
    let polled = c.poll_deferred(&S, &T, &spec, &wait(10_000, 1, 0)).await.unwrap();
    let took = started.elapsed();
    assert!(polled.messages.is_empty());
    assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        c.get_offset(&S, &T, 0, 3).await.unwrap(),
        None,
        "nothing returned, nothing committed"
    );
    // Auto-commit moves past what a deferred poll returned, and only that.
    send(&mut c, 1, &[b"a", b"b"]).await;
    let polled = c.poll_deferred(&S, &T, &spec, &wait(10_000, 1, 0)).await.unwrap();
    assert_eq!(polled.messages.len(), 2);
    assert_eq!(c.get_offset(&S, &T, 0, 3).await.unwrap(), Some(1));
    // A wait over the protocol's 600 s is refused, and the connection goes on.
    let mut body = bytes::BytesMut::new();
    let over = Deferred { wait: Duration::from_micros(600_000_001), min_count: 1, max_bytes: 0 };
    eddy_client::encode_poll_deferred(
        &mut body,
        &S,
        &T,
        &poll(PollingStrategy::Offset(0), 1, false),
        &over,
    );
    let refused = c.request(eddy_wire::codes::command::POLL_MESSAGES_DEFERRED, body.freeze()).await;
    assert!(matches!(refused, Err(ClientError::Status(4))), "invalid format: {refused:?}");
    c.ping().await.unwrap();
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[compio::test]
async fn min_count_and_the_byte_budget_decide_when_it_is_answered() {
    let (server, dir) = start("min", 30_000);
    let tcp = server.tcp_addr.unwrap();
    let mut producer = client(Transport::Tcp, tcp).await;
    producer.create_stream("s").await.unwrap();
    producer.create_topic(&S, "t", 1).await.unwrap();
    // Three messages wanted: one is not enough.
    let waiting = spawn_poll(
        Transport::Tcp,
        tcp,
        poll(PollingStrategy::Offset(0), 10, false),
        wait(10_000, 3, 0),
    );
    compio::time::sleep(Duration::from_millis(100)).await;
    send(&mut producer, 1, &[b"one"]).await;
    compio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "one of three messages does not answer it");
    send(&mut producer, 2, &[b"two", b"three"]).await;
    let (polled, took) = waiting.await.unwrap();
    assert_eq!(polled.unwrap().messages.len(), 3);
    assert!(took < Duration::from_secs(5));
    // A byte budget: answered once the readable bytes fill it, with at most that many (or one
    // message), though min_count is far away.
    let payload = [7u8; 200];
    let spec = poll(PollingStrategy::Offset(3), 100, false);
    let waiting = spawn_poll(Transport::Tcp, tcp, spec, wait(10_000, 1000, 300));
    compio::time::sleep(Duration::from_millis(100)).await;
    send(&mut producer, 10, &[&payload]).await;
    compio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "one message (~270 bytes) does not fill 300");
    send(&mut producer, 11, &[&payload]).await;
    let (polled, took) = waiting.await.unwrap();
    let polled = polled.unwrap();
    assert_eq!(polled.messages.len(), 1, "two would exceed the budget");
    assert_eq!(polled.messages[0].offset, 3);
    assert!(took < Duration::from_secs(5));
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

/// One raw request's bytes.
fn raw(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    eddy_wire::framing::RequestHeader::encode(code, payload.len(), &mut out);
    out.extend_from_slice(payload);
    out.to_vec()
}

fn raw_login() -> Vec<u8> {
    let mut p = bytes::BytesMut::new();
    let login = eddy_wire::commands::users::Login {
        username: "iggy".into(),
        password: "iggy".into(),
        version: None,
    };
    login.encode(&mut p);
    raw(eddy_wire::codes::command::LOGIN_USER, &p)
}

/// A deferred poll of partition 0 by consumer 3 (`Next`, auto-commit) waiting up to 10 s.
fn raw_deferred_poll() -> Vec<u8> {
    let mut p = bytes::BytesMut::new();
    let spec = poll(PollingStrategy::Next, 10, true);
    eddy_client::encode_poll_deferred(&mut p, &S, &T, &spec, &wait(10_000, 1, 0));
    raw(eddy_wire::codes::command::POLL_MESSAGES_DEFERRED, &p)
}

/// Reads `n` whole replies: (status, payload length).
async fn raw_replies(stream: &mut compio::net::TcpStream, n: usize) -> Vec<(u32, usize)> {
    use compio::io::AsyncReadExt;
    let mut out = Vec::new();
    for _ in 0..n {
        let compio::buf::BufResult(res, head) = stream.read_exact(Vec::with_capacity(8)).await;
        res.unwrap();
        let status = u32::from_le_bytes(head[..4].try_into().unwrap());
        let len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        if len > 0 {
            let compio::buf::BufResult(res, _) = stream.read_exact(Vec::with_capacity(len)).await;
            res.unwrap();
        }
        out.push((status, len));
    }
    out
}

async fn raw_tcp(addr: SocketAddr) -> compio::net::TcpStream {
    use compio::io::AsyncWriteExt;
    let mut s = compio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw_login()).await.0.unwrap();
    assert_eq!(raw_replies(&mut s, 1).await[0].0, 0, "logged in");
    s
}

async fn raw_ws(addr: SocketAddr) -> eddy_ws::WebSocket<compio::net::TcpStream> {
    let request = eddy_ws::ClientRequest::new(&format!("ws://{addr}/")).unwrap();
    let (mut ws, _) = eddy_ws::connect_with(request, &eddy_ws::Config::default()).await.unwrap();
    ws.send(eddy_ws::Message::Binary(raw_login().into())).await.unwrap();
    assert!(matches!(ws.read().await.unwrap(), eddy_ws::Message::Binary(b) if b[..4] == [0; 4]));
    ws
}

#[compio::test]
async fn a_cancel_answers_the_waiting_poll_at_once_and_then_itself() {
    use compio::io::AsyncWriteExt;
    let (server, dir) = start("cancel", 30_000);
    let (tcp, ws_addr) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = client(Transport::Tcp, tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 1).await.unwrap();
    let cancel = raw(eddy_wire::codes::command::CANCEL_DEFERRED_REQUEST, &[]);
    // TCP, the cancel sent while the poll waits.
    let mut s = raw_tcp(tcp).await;
    let started = Instant::now();
    s.write_all(raw_deferred_poll()).await.0.unwrap();
    compio::time::sleep(Duration::from_millis(200)).await;
    s.write_all(cancel.clone()).await.0.unwrap();
    let replies = raw_replies(&mut s, 2).await;
    assert_eq!(replies, vec![(0, 16), (0, 0)], "the poll (empty), then the cancel");
    assert!(started.elapsed() < Duration::from_secs(5), "not the 10 s wait");
    // TCP, pipelined behind the poll in one write.
    let mut both = raw_deferred_poll();
    both.extend_from_slice(&cancel);
    let started = Instant::now();
    s.write_all(both).await.0.unwrap();
    assert_eq!(raw_replies(&mut s, 2).await, vec![(0, 16), (0, 0)]);
    assert!(started.elapsed() < Duration::from_secs(5));
    // WebSocket.
    let mut ws = raw_ws(ws_addr).await;
    let started = Instant::now();
    ws.send(eddy_ws::Message::Binary(raw_deferred_poll().into())).await.unwrap();
    compio::time::sleep(Duration::from_millis(200)).await;
    ws.send(eddy_ws::Message::Binary(cancel.clone().into())).await.unwrap();
    for expected_len in [16u32, 0] {
        match ws.read().await.unwrap() {
            eddy_ws::Message::Binary(b) => {
                assert_eq!(b[..4], [0; 4]);
                assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), expected_len);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[compio::test]
async fn a_client_that_goes_away_releases_its_waiting_poll_at_once() {
    let (server, dir) = start("vanish", 30_000);
    let (tcp, ws_addr) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = client(Transport::Tcp, tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 1).await.unwrap();
    use compio::io::AsyncWriteExt;
    let mut s = raw_tcp(tcp).await;
    s.write_all(raw_deferred_poll()).await.0.unwrap();
    let mut ws = raw_ws(ws_addr).await;
    ws.send(eddy_ws::Message::Binary(raw_deferred_poll().into())).await.unwrap();
    compio::time::sleep(Duration::from_millis(200)).await;
    drop(s);
    ws.close(None).await.ok();
    drop(ws);
    compio::time::sleep(Duration::from_millis(200)).await;
    // Had either poll still waited, this append would answer it and auto-commit offset 0 for
    // consumer 3, to a client that is gone.
    send(&mut admin, 1, &[b"nobody reads this"]).await;
    compio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(admin.get_offset(&S, &T, 0, 3).await.unwrap(), None);
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[compio::test]
async fn many_waiting_consumers_each_get_the_append_and_their_own_commit() {
    let (server, dir) = start("fanout", 30_000);
    let (tcp, ws) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = client(Transport::Tcp, tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 1).await.unwrap();
    let waiting: Vec<_> = (0..20u32)
        .map(|consumer| {
            let (transport, addr) =
                if consumer % 2 == 0 { (Transport::Tcp, tcp) } else { (Transport::WebSocket, ws) };
            let spec = Poll {
                partition: 0,
                consumer: 100 + consumer,
                strategy: PollingStrategy::Next,
                count: 10,
                auto_commit: consumer % 4 != 3,
            };
            spawn_poll(transport, addr, spec, wait(10_000, 2, 0))
        })
        .collect();
    compio::time::sleep(Duration::from_millis(300)).await;
    send(&mut admin, 7, &[b"shared", b"bytes"]).await;
    for (consumer, w) in waiting.into_iter().enumerate() {
        let (polled, took) = w.await.unwrap();
        let polled = polled.unwrap();
        let got: Vec<_> = polled.messages.iter().map(|m| (m.offset, m.payload.clone())).collect();
        assert_eq!(got, vec![(0, "shared".into()), (1, "bytes".into())], "consumer {consumer}");
        assert!(took < Duration::from_secs(5));
        let stored = admin.get_offset(&S, &T, 0, 100 + consumer as u32).await.unwrap();
        let expected = if consumer % 4 != 3 { Some(1) } else { None };
        assert_eq!(stored, expected, "consumer {consumer}: its own auto-commit only");
    }
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[compio::test]
async fn group_members_wait_on_their_own_partitions_and_are_answered_by_appends_there() {
    let (server, dir) = start("group", 30_000);
    let (tcp, ws) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = client(Transport::Tcp, tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 2).await.unwrap();
    let group = Identifier::Numeric(admin.create_group(&S, &T, "g").await.unwrap());
    // One member per transport, each on its own connection (often on different shards).
    let mut members = Vec::new();
    for (transport, addr) in [(Transport::Tcp, tcp), (Transport::WebSocket, ws)] {
        let mut m = client(transport, addr).await;
        m.join_group(&S, &T, &group).await.unwrap();
        members.push(m);
    }
    // The first member owned both partitions; the second's moves over once the first's
    // in-flight poll is done, which its next poll shows.
    let spec = poll(PollingStrategy::Next, 10, true);
    assert!(members[0].poll_group(&S, &T, &group, &spec).await.unwrap().messages.is_empty());
    compio::time::sleep(Duration::from_millis(100)).await;
    let waits: Vec<_> = members
        .into_iter()
        .map(|mut m| {
            let group = group.clone();
            compio::runtime::spawn(async move {
                let spec = poll(PollingStrategy::Next, 10, true);
                let started = Instant::now();
                let polled =
                    m.poll_group_deferred(&S, &T, &group, &spec, &wait(10_000, 1, 0)).await;
                (polled, started.elapsed(), m)
            })
        })
        .collect();
    compio::time::sleep(Duration::from_millis(200)).await;
    for p in 0..2u32 {
        let batch = Batch::from_payloads([(u128::from(p) + 1, &b"job"[..])]);
        admin.send(&S, &T, &Partitioning::PartitionId(p), &batch).await.unwrap();
    }
    let mut answered = Vec::new();
    for w in waits {
        let (polled, took, mut m) = w.await.unwrap();
        let polled = polled.unwrap();
        assert!(took >= Duration::from_millis(150), "it waited ({took:?})");
        assert!(took < Duration::from_secs(5), "woken by the append, not the wait ({took:?})");
        assert_eq!(polled.messages.len(), 1);
        answered.push((polled.partition, polled.messages[0].id));
        // Auto-committed: the member's next turn on that partition finds nothing new.
        let spec = poll(PollingStrategy::Next, 10, true);
        assert!(m.poll_group(&S, &T, &group, &spec).await.unwrap().messages.is_empty());
    }
    answered.sort();
    assert_eq!(answered, vec![(0, 1), (1, 2)], "each member its own partition");
    // Not a member: refused.
    let outsider = admin.poll_group(&S, &T, &group, &poll(PollingStrategy::Next, 1, false)).await;
    let not_member = eddy_wire::codes::status::CONSUMER_GROUP_MEMBER_NOT_FOUND;
    assert!(matches!(outsider, Err(ClientError::Status(s)) if s == not_member), "{outsider:?}");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
