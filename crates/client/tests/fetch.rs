//! FETCH_MESSAGES (a deferred poll of several partitions at once) against an in-process
//! eddy-server with two shards, over TCP and WebSocket: answered once `min_count` messages are
//! there across the partitions (appended by other connections, to partitions on either shard),
//! at the end of its wait, or at once on a cancel; auto-commit only for what it returned; the
//! byte budget stops reading further partitions; a client that goes away commits nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eddy_client::{Batch, Client, ClientError, Deferred, Poll, Polled, Transport};
use eddy_wire::Identifier;
use eddy_wire::codes::{command, status};
use eddy_wire::commands::messages::{FetchMessages, Partitioning, PollingStrategy};
use eddy_wire::commands::{CONSUMER_KIND_GROUP, CONSUMER_KIND_SINGLE, Consumer};

const PARTITIONS: u32 = 3;
const S: Identifier = Identifier::Numeric(0);
const T: Identifier = Identifier::Numeric(0);

fn start(name: &str) -> (eddy_server::ServerHandle, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("eddy-fetch-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = eddy_server::Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.clone();
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    (eddy_server::start(config).unwrap(), dir)
}

async fn client(transport: Transport, addr: SocketAddr) -> Client {
    let mut c = Client::connect(transport, addr).await.unwrap();
    c.login("iggy", "iggy").await.unwrap();
    c
}

async fn setup(tcp: SocketAddr) -> Client {
    let mut admin = client(Transport::Tcp, tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", PARTITIONS).await.unwrap();
    admin
}

fn next(consumer: u32) -> Poll {
    Poll { partition: 0, consumer, strategy: PollingStrategy::Next, count: 10, auto_commit: true }
}

fn wait(ms: u64, min_count: u32, max_bytes: u32) -> Deferred {
    Deferred { wait: Duration::from_millis(ms), min_count, max_bytes }
}

/// Sends one message to `partition` on a connection of its own.
async fn send_to(tcp: SocketAddr, partition: u32, id: u128) {
    let mut producer = client(Transport::Tcp, tcp).await;
    let batch = Batch::from_payloads([(id, &b"fetched"[..])]);
    producer.send(&S, &T, &Partitioning::PartitionId(partition), &batch).await.unwrap();
}

type Fetched = (Result<Vec<Polled>, ClientError>, Duration);

fn spawn_fetch(
    transport: Transport,
    addr: SocketAddr,
    partitions: Vec<u32>,
    spec: Poll,
    deferred: Deferred,
) -> compio::runtime::JoinHandle<Fetched> {
    compio::runtime::spawn(async move {
        let mut c = client(transport, addr).await;
        let started = Instant::now();
        let fetched = c.fetch(&S, &T, &partitions, &spec, &deferred).await;
        (fetched, started.elapsed())
    })
}

/// CPU time this process (server and clients) has used, in clock ticks (1/100 s here).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn counts(parts: &[Polled]) -> Vec<(u32, usize)> {
    parts.iter().map(|p| (p.partition, p.messages.len())).collect()
}

#[compio::test]
async fn a_fetch_waits_for_min_count_across_partitions_and_commits_only_what_it_returns() {
    let (server, dir) = start("min-count");
    let (tcp, ws) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = setup(tcp).await;
    for (round, transport) in [Transport::Tcp, Transport::WebSocket].into_iter().enumerate() {
        let addr = if transport == Transport::Tcp { tcp } else { ws };
        // One consumer for both rounds: its commits from the first make the second start after
        // what it read.
        let consumer = 10;
        let waiting = spawn_fetch(transport, addr, vec![], next(consumer), wait(10_000, 3, 0));
        compio::time::sleep(Duration::from_millis(200)).await;
        send_to(tcp, 0, 1).await;
        compio::time::sleep(Duration::from_millis(100)).await;
        // Waiting with too few messages there costs nothing: it is not woken again by them.
        let cpu = cpu_ticks();
        compio::time::sleep(Duration::from_millis(500)).await;
        let spent = cpu_ticks() - cpu;
        assert!(spent < 4, "{transport:?}: {spent} ticks of CPU in 500 ms of waiting");
        assert!(!waiting.is_finished(), "{transport:?}: one message of three is not enough");
        send_to(tcp, 1, 2).await;
        send_to(tcp, 2, 3).await;
        let (fetched, took) = waiting.await.unwrap();
        let fetched = fetched.unwrap();
        assert!(took < Duration::from_secs(5), "{transport:?}: answered by the appends: {took:?}");
        assert_eq!(counts(&fetched), [(0, 1), (1, 1), (2, 1)], "{transport:?}");
        for p in 0..PARTITIONS {
            assert_eq!(fetched[p as usize].messages[0].offset, round as u64);
            let stored = admin.get_offset(&S, &T, p, consumer).await.unwrap();
            assert_eq!(stored, Some(round as u64), "{transport:?}: partition {p}'s commit");
        }
    }
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

#[compio::test]
async fn a_fetch_ends_empty_at_its_wait_and_its_byte_budget_stops_further_partitions() {
    let (server, dir) = start("budget");
    let tcp = server.tcp_addr.unwrap();
    let mut admin = setup(tcp).await;
    let (fetched, took) =
        spawn_fetch(Transport::Tcp, tcp, vec![2, 0], next(20), wait(400, 1, 0)).await.unwrap();
    assert_eq!(counts(&fetched.unwrap()), [(2, 0), (0, 0)], "listed order, all empty");
    assert!(took >= Duration::from_millis(350) && took < Duration::from_secs(5), "{took:?}");
    for p in 0..PARTITIONS {
        send_to(tcp, p, u128::from(p) + 1).await;
    }
    // A budget of one byte: the first partition listed returns its message, no other is read.
    let (fetched, _) =
        spawn_fetch(Transport::Tcp, tcp, vec![1, 0, 2], next(21), wait(5_000, 1, 1)).await.unwrap();
    let fetched = fetched.unwrap();
    assert_eq!(counts(&fetched), [(1, 1), (0, 0), (2, 0)]);
    assert_eq!(fetched[2].current_offset, 0, "an unread partition still tells its offset");
    assert_eq!(admin.get_offset(&S, &T, 1, 21).await.unwrap(), Some(0));
    assert_eq!(admin.get_offset(&S, &T, 0, 21).await.unwrap(), None, "unread: not committed");
    // Without auto-commit nothing is stored at all.
    let spec = Poll { auto_commit: false, ..next(22) };
    let (fetched, _) =
        spawn_fetch(Transport::Tcp, tcp, vec![], spec, wait(5_000, 3, 0)).await.unwrap();
    assert_eq!(counts(&fetched.unwrap()), [(0, 1), (1, 1), (2, 1)]);
    assert_eq!(admin.get_offset(&S, &T, 0, 22).await.unwrap(), None);
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}

fn raw(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    eddy_wire::framing::RequestHeader::encode(code, payload.len(), &mut out);
    out.extend_from_slice(payload);
    out.to_vec()
}

fn raw_fetch(kind: u8) -> Vec<u8> {
    let request = FetchMessages {
        consumer: Consumer { kind, id: Identifier::Numeric(30) },
        stream: S,
        topic: T,
        partitions: vec![],
        strategy: PollingStrategy::Next,
        count: 10,
        auto_commit: true,
        wait_us: 10_000_000,
        min_count: 1,
        max_bytes: 0,
        request_timeout_us: 0,
    };
    let mut p = bytes::BytesMut::new();
    request.encode(&mut p);
    raw(command::FETCH_MESSAGES, &p)
}

async fn raw_replies(s: &mut compio::net::TcpStream, n: usize) -> Vec<(u32, usize)> {
    use compio::io::AsyncReadExt;
    let mut out = Vec::new();
    for _ in 0..n {
        let compio::buf::BufResult(res, head) = s.read_exact(Vec::with_capacity(8)).await;
        res.unwrap();
        let st = u32::from_le_bytes(head[..4].try_into().unwrap());
        let len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        if len > 0 {
            let compio::buf::BufResult(res, _) = s.read_exact(Vec::with_capacity(len)).await;
            res.unwrap();
        }
        out.push((st, len));
    }
    out
}

async fn raw_tcp(addr: SocketAddr) -> compio::net::TcpStream {
    use compio::io::AsyncWriteExt;
    let mut s = compio::net::TcpStream::connect(addr).await.unwrap();
    let mut p = bytes::BytesMut::new();
    let login = eddy_wire::commands::users::Login {
        username: "iggy".into(),
        password: "iggy".into(),
        version: None,
    };
    login.encode(&mut p);
    s.write_all(raw(command::LOGIN_USER, &p)).await.0.unwrap();
    assert_eq!(raw_replies(&mut s, 1).await[0].0, status::OK);
    s
}

#[compio::test]
async fn a_cancel_answers_a_fetch_at_once_and_a_vanished_client_commits_nothing() {
    use compio::io::AsyncWriteExt;
    let (server, dir) = start("cancel");
    let tcp = server.tcp_addr.unwrap();
    let mut admin = setup(tcp).await;
    let mut s = raw_tcp(tcp).await;
    let started = Instant::now();
    s.write_all(raw_fetch(CONSUMER_KIND_SINGLE)).await.0.unwrap();
    compio::time::sleep(Duration::from_millis(200)).await;
    s.write_all(raw(command::CANCEL_DEFERRED_REQUEST, &[])).await.0.unwrap();
    let empty = 4 + PARTITIONS as usize * 20;
    assert_eq!(raw_replies(&mut s, 2).await, [(status::OK, empty), (status::OK, 0)]);
    assert!(started.elapsed() < Duration::from_secs(5), "not the 10 s wait");
    // Consumer groups poll their own partitions one at a time.
    s.write_all(raw_fetch(CONSUMER_KIND_GROUP)).await.0.unwrap();
    assert_eq!(raw_replies(&mut s, 1).await, [(status::FEATURE_UNAVAILABLE, 0)]);
    // Gone while waiting: the appends that would have answered it commit nothing.
    s.write_all(raw_fetch(CONSUMER_KIND_SINGLE)).await.0.unwrap();
    compio::time::sleep(Duration::from_millis(200)).await;
    drop(s);
    compio::time::sleep(Duration::from_millis(200)).await;
    for p in 0..PARTITIONS {
        send_to(tcp, p, 100 + u128::from(p)).await;
    }
    compio::time::sleep(Duration::from_millis(300)).await;
    for p in 0..PARTITIONS {
        assert_eq!(admin.get_offset(&S, &T, p, 30).await.unwrap(), None, "partition {p}");
    }
    server.stop();
    std::fs::remove_dir_all(dir).ok();
}
