//! Push subscriptions (SUBSCRIBE, GRANT_CREDIT, UNSUBSCRIBE) against an in-process eddy-server
//! with two shards: every message pushed once and in order across partitions owned by both
//! shards, over TCP and WebSocket; credit never exceeded (message and byte credit, counted by a
//! raw client); heartbeats when idle; unsubscribe and a vanished client free every wait; the
//! subscriber resumes across a server restart with nothing lost or repeated.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use eddy_client::{Batch, Client, Subscriber, Subscription, Transport};
use eddy_wire::Identifier;
use eddy_wire::codes::{command, status};
use eddy_wire::commands::Consumer;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};
use eddy_wire::commands::push::{self, GrantCredit, PushFrame, Subscribe};

fn config(name: &str) -> eddy_server::Config {
    let dir = std::env::temp_dir().join(format!("eddy-push-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = eddy_server::Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir;
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    config
}

async fn client(addr: SocketAddr) -> Client {
    let mut c = Client::connect(Transport::Tcp, addr).await.unwrap();
    c.login("iggy", "iggy").await.unwrap();
    c
}

const S: Identifier = Identifier::Numeric(0);
const T: Identifier = Identifier::Numeric(0);

/// A small deterministic generator (the tests need varied sizes, not randomness).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Sends `total` messages (ids `first..first + total`) in batches of 1–20 with payloads of
/// 1–2,000 bytes, balanced over the topic's partitions.
async fn produce(addr: SocketAddr, first: u128, total: u128, seed: u64) {
    // Retried: right after an in-process restart on the same port, a connection can still land
    // on the stopped server's closing listener and be reset.
    let mut producer = None;
    for _ in 0..50 {
        let Ok(mut c) = Client::connect(Transport::Tcp, addr).await else { continue };
        if c.login("iggy", "iggy").await.is_ok() {
            producer = Some(c);
            break;
        }
        compio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut producer = producer.expect("the server accepts a producer");
    let mut rng = Lcg(seed);
    let mut id = first;
    while id < first + total {
        let n = (rng.below(20) as u128 + 1).min(first + total - id);
        let payloads: Vec<Vec<u8>> =
            (0..n).map(|i| vec![(id + i) as u8; rng.below(2000) as usize + 1]).collect();
        let batch = Batch::from_payloads(
            payloads.iter().enumerate().map(|(i, p)| (id + i as u128, &p[..])),
        );
        producer.send(&S, &T, &Partitioning::Balanced, &batch).await.unwrap();
        id += n;
    }
}

/// Reads batches until `total` messages came; checks each partition's offsets run on from
/// where they started, one by one, and returns every id seen.
async fn consume(sub: &mut Subscriber, total: usize, starts: &mut BTreeMap<u32, u64>) -> Vec<u128> {
    let mut ids = Vec::new();
    while ids.len() < total {
        let polled = compio::time::timeout(Duration::from_secs(20), sub.next())
            .await
            .expect("pushes keep coming")
            .unwrap();
        let next = starts.entry(polled.partition).or_insert(0);
        for m in &polled.messages {
            assert_eq!(m.offset, *next, "partition {} in order, none skipped", polled.partition);
            assert_eq!(m.payload[0], m.id as u8, "payload of message {}", m.id);
            *next += 1;
            ids.push(m.id);
        }
    }
    ids
}

fn small_window(consumer: u32) -> Subscription {
    let mut spec = Subscription::new(consumer);
    spec.batch = 16;
    spec.window_messages = 64;
    spec.window_bytes = 48 << 10;
    spec
}

#[compio::test]
async fn every_message_is_pushed_once_and_in_order_over_tcp_and_websocket() {
    let server = eddy_server::start(config("order")).unwrap();
    let (tcp, ws) = (server.tcp_addr.unwrap(), server.ws_addr.unwrap());
    let mut admin = client(tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 3).await.unwrap();
    let mut sent = 0u128;
    for (round, (transport, addr)) in
        [(Transport::Tcp, tcp), (Transport::WebSocket, ws)].into_iter().enumerate()
    {
        // Each round subscribes from the first message: it gets every earlier round's too.
        let mut sub = Subscriber::connect(
            transport,
            addr,
            "iggy",
            "iggy",
            &S,
            &T,
            small_window(round as u32),
        )
        .await
        .unwrap();
        assert_eq!(sub.positions().len(), 3, "every partition of the topic");
        let producer = compio::runtime::spawn(produce(tcp, sent, 3000, round as u64));
        sent += 3000;
        let ids = consume(&mut sub, sent as usize, &mut BTreeMap::new()).await;
        producer.await.unwrap();
        let unique: HashSet<u128> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "no message twice");
        assert_eq!(unique, (0..sent).collect::<HashSet<_>>(), "every message");
        // Nothing more is pushed: there is nothing more.
        let extra = compio::time::timeout(Duration::from_millis(300), sub.next()).await;
        assert!(extra.is_err(), "no push past the end: {extra:?}");
    }
    server.stop();
}

#[compio::test]
async fn one_busy_partition_among_idle_ones_gets_the_whole_window() {
    // The credit is split between three partitions, but only one gets messages: the idle
    // partitions' waits must give their share back, or a subscriber that grants at half its
    // window (64 messages, shares of ~21, batches of up to 32) would wait forever.
    let server = eddy_server::start(config("busy")).unwrap();
    let tcp = server.tcp_addr.unwrap();
    let mut admin = client(tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 3).await.unwrap();
    let mut spec = small_window(1);
    spec.batch = 32;
    // Idle waits end at the heartbeat: a minute is past `consume`'s 20 s patience.
    spec.heartbeat = Duration::from_secs(60);
    let mut sub =
        Subscriber::connect(Transport::Tcp, tcp, "iggy", "iggy", &S, &T, spec).await.unwrap();
    for first in (0..500u128).step_by(50) {
        let payloads: Vec<Vec<u8>> = (first..first + 50).map(|id| vec![id as u8; 100]).collect();
        let batch = Batch::from_payloads(
            payloads.iter().enumerate().map(|(i, p)| (first + i as u128, &p[..])),
        );
        admin.send(&S, &T, &Partitioning::PartitionId(1), &batch).await.unwrap();
    }
    let ids = consume(&mut sub, 500, &mut BTreeMap::new()).await;
    assert_eq!(ids, (0..500).collect::<Vec<_>>(), "every message of the busy partition, in order");
    assert_eq!(sub.reconnects(), 0, "no stall long enough to look like a dead connection");
    server.stop();
}

/// Frames a raw connection received: (status, body).
type Frames = Rc<RefCell<Vec<(u32, bytes::Bytes)>>>;

/// A raw, logged-in TCP connection whose frames a reader task collects.
async fn raw(addr: SocketAddr) -> (Rc<TcpStream>, Frames, compio::runtime::JoinHandle<()>) {
    let stream = Rc::new(TcpStream::connect(addr).await.unwrap());
    let frames: Frames = Rc::default();
    let (s, f) = (stream.clone(), frames.clone());
    let reader = compio::runtime::spawn(async move {
        loop {
            let compio::buf::BufResult(res, head) = (&*s).read_exact(Vec::with_capacity(8)).await;
            if res.is_err() {
                return;
            }
            let code = u32::from_le_bytes(head[..4].try_into().unwrap());
            let len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
            let compio::buf::BufResult(res, body) = (&*s).read_exact(Vec::with_capacity(len)).await;
            if res.is_err() {
                return;
            }
            f.borrow_mut().push((code, body.into()));
        }
    });
    request(&stream, command::LOGIN_USER, &login()).await;
    wait_for(|| frames.borrow().len() == 1).await;
    assert_eq!(frames.borrow_mut().remove(0).0, status::OK, "logged in");
    (stream, frames, reader)
}

/// LOGIN_USER's payload for the root user.
fn login() -> BytesMut {
    let mut out = BytesMut::new();
    eddy_wire::commands::users::Login {
        username: "iggy".into(),
        password: "iggy".into(),
        version: None,
    }
    .encode(&mut out);
    out
}

async fn request(stream: &TcpStream, code: u32, payload: &[u8]) {
    let mut out = BytesMut::new();
    eddy_wire::framing::RequestHeader::encode(code, payload.len(), &mut out);
    out.extend_from_slice(payload);
    let mut s = stream;
    s.write_all(out.to_vec()).await.0.unwrap();
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < until, "timed out");
        compio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn subscribe(partitions: Vec<(u32, u64)>, credit: (u32, u32), heartbeat_ms: u32) -> Vec<u8> {
    let mut out = BytesMut::new();
    Subscribe {
        consumer: Consumer { kind: 1, id: Identifier::Numeric(9) },
        stream: S,
        topic: T,
        strategy: PollingStrategy::First,
        batch: 100,
        auto_commit: false,
        credit_messages: credit.0,
        credit_bytes: credit.1,
        heartbeat_ms,
        partitions,
    }
    .encode(&mut out);
    out.to_vec()
}

/// Pushed frames of `subscription` so far: messages (count, bytes of messages), and others.
fn pushed(frames: &Frames, subscription: u32) -> (u64, u64, Vec<PushFrame>) {
    let (mut count, mut bytes, mut other) = (0, 0, Vec::new());
    for (code, body) in frames.borrow().iter() {
        if *code != status::PUSH_FRAME {
            continue;
        }
        match PushFrame::decode(body).unwrap() {
            PushFrame::Messages { subscription: s, count: c, messages_at, .. }
                if s == subscription =>
            {
                count += u64::from(c);
                bytes += (body.len() - messages_at) as u64;
            }
            f @ (PushFrame::Heartbeat { subscription: s, .. }
            | PushFrame::Stalled { subscription: s, .. }
            | PushFrame::Ended { subscription: s, .. })
                if s == subscription =>
            {
                other.push(f)
            }
            _ => {}
        }
    }
    (count, bytes, other)
}

/// Replies (not pushes) received so far.
fn replies(frames: &Frames) -> Vec<(u32, bytes::Bytes)> {
    frames.borrow().iter().filter(|(c, _)| *c != status::PUSH_FRAME).cloned().collect()
}

const MESSAGE: usize = 64 + 100; // a stored message with a 100-byte payload

#[compio::test]
async fn the_server_never_pushes_past_the_credit_granted() {
    let server = eddy_server::start(config("credit")).unwrap();
    let tcp = server.tcp_addr.unwrap();
    let mut admin = client(tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 1).await.unwrap();
    let batch = Batch::from_payloads((0..20u128).map(|id| (id, &[7u8; 100][..])));
    admin.send(&S, &T, &Partitioning::PartitionId(0), &batch).await.unwrap();
    let (stream, frames, _reader) = raw(tcp).await;
    // Message credit: 5 messages, plenty of bytes.
    request(&stream, command::SUBSCRIBE, &subscribe(vec![(0, 0)], (5, 1 << 20), 0)).await;
    wait_for(|| pushed(&frames, 1).0 == 5).await;
    let (id, starts) = push::decode_subscribed(&replies(&frames)[0].1).unwrap();
    assert_eq!((id, starts), (1, vec![(0, 0)]));
    compio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pushed(&frames, 1).0, 5, "no more than the 5 granted");
    let mut grant = BytesMut::new();
    GrantCredit { subscription: 1, messages: 7, bytes: 0 }.encode(&mut grant);
    request(&stream, command::GRANT_CREDIT, &grant).await;
    wait_for(|| pushed(&frames, 1).0 == 12).await;
    compio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pushed(&frames, 1).0, 12, "5 + 7");

    // Byte credit on a second subscription of the same connection: two and a half messages.
    let bytes = (2 * MESSAGE + MESSAGE / 2) as u32;
    request(&stream, command::SUBSCRIBE, &subscribe(vec![(0, 0)], (100, bytes), 0)).await;
    wait_for(|| !pushed(&frames, 2).2.is_empty()).await;
    let (count, got, other) = pushed(&frames, 2);
    assert_eq!((count, got), (2, 2 * MESSAGE as u64), "two whole messages fit, the third not");
    assert_eq!(other, vec![PushFrame::Stalled { subscription: 2, partition: 0, offset: 2 }]);
    let mut grant = BytesMut::new();
    GrantCredit { subscription: 2, messages: 0, bytes: MESSAGE as u32 }.encode(&mut grant);
    request(&stream, command::GRANT_CREDIT, &grant).await;
    wait_for(|| pushed(&frames, 2).0 == 3).await;
    compio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pushed(&frames, 2).1, 3 * MESSAGE as u64, "bytes never past the credit");
    assert_eq!(pushed(&frames, 1).0, 12, "the first subscription is untouched");

    // Unknown subscriptions are refused; the connection goes on.
    let before = replies(&frames).len();
    let mut grant = BytesMut::new();
    GrantCredit { subscription: 77, messages: 1, bytes: 1 }.encode(&mut grant);
    request(&stream, command::GRANT_CREDIT, &grant).await;
    request(&stream, command::UNSUBSCRIBE, &77u32.to_le_bytes()).await;
    wait_for(|| replies(&frames).len() == before + 2).await;
    let codes: Vec<u32> = replies(&frames)[before..].iter().map(|r| r.0).collect();
    assert_eq!(codes, vec![status::SUBSCRIPTION_NOT_FOUND; 2]);
    server.stop();
}

#[compio::test]
async fn idle_subscriptions_get_heartbeats_and_leave_nothing_behind() {
    let server = eddy_server::start(config("idle")).unwrap();
    let tcp = server.tcp_addr.unwrap();
    let mut admin = client(tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 3).await.unwrap();
    let (stream, frames, reader) = raw(tcp).await;
    request(&stream, command::SUBSCRIBE, &subscribe(Vec::new(), (100, 1 << 20), 100)).await;
    wait_for(|| server.waiting() == 3).await;
    compio::time::sleep(Duration::from_millis(1000)).await;
    let (count, _, other) = pushed(&frames, 1);
    let beats = other.iter().filter(|f| matches!(f, PushFrame::Heartbeat { .. })).count();
    assert_eq!(count, 0);
    assert!((5..=12).contains(&beats), "about one heartbeat per 100 ms, got {beats}");
    assert!(
        other.contains(&PushFrame::Heartbeat {
            subscription: 1,
            credit_messages: 100,
            credit_bytes: 1 << 20
        }),
        "a heartbeat reports the credit unspent"
    );
    // Unsubscribe: its waits are gone, and nothing of it follows the reply.
    let before = replies(&frames).len();
    request(&stream, command::UNSUBSCRIBE, &1u32.to_le_bytes()).await;
    wait_for(|| server.waiting() == 0 && replies(&frames).len() == before + 1).await;
    let seen = frames.borrow().len();
    let batch = Batch::from_payloads((0..9u128).map(|id| (id, &b"x"[..])));
    admin.send(&S, &T, &Partitioning::Balanced, &batch).await.unwrap();
    compio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<u32> = frames.borrow()[seen - 1..].iter().map(|f| f.0).collect();
    assert_eq!(after, vec![status::OK], "the UNSUBSCRIBE reply, then nothing");
    assert_eq!(replies(&frames)[before].0, status::OK);

    // A client that goes away frees its waits at once (no append, no deadline needed).
    request(&stream, command::SUBSCRIBE, &subscribe(Vec::new(), (100, 1 << 20), 0)).await;
    wait_for(|| server.waiting() == 3).await;
    drop(reader);
    drop(stream);
    wait_for(|| server.waiting() == 0).await;
    server.stop();
}

#[compio::test]
async fn a_subscriber_resumes_across_a_server_restart_with_nothing_lost_or_repeated() {
    let mut config = config("resume");
    let server = eddy_server::start(config.clone()).unwrap();
    let tcp = server.tcp_addr.unwrap();
    config.tcp.address = tcp;
    config.websocket.address = server.ws_addr.unwrap();
    let mut admin = client(tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 2).await.unwrap();
    produce(tcp, 0, 500, 1).await;
    drop(admin);
    let mut spec = small_window(5);
    spec.heartbeat = Duration::from_millis(200);
    let mut sub =
        Subscriber::connect(Transport::Tcp, tcp, "iggy", "iggy", &S, &T, spec).await.unwrap();
    let mut starts = BTreeMap::new();
    let mut ids = consume(&mut sub, 200, &mut starts).await;
    server.stop();
    let server = eddy_server::start(config).unwrap();
    produce(tcp, 500, 500, 2).await;
    ids.extend(consume(&mut sub, 1000 - ids.len(), &mut starts).await);
    assert!(sub.reconnects() >= 1, "it had to reconnect");
    let unique: HashSet<u128> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 1000, "none twice");
    assert_eq!(unique, (0..1000).collect::<HashSet<_>>(), "none lost");
    server.stop();
}

#[compio::test]
async fn auto_commit_stores_the_last_pushed_offset() {
    let server = eddy_server::start(config("commit")).unwrap();
    let tcp = server.tcp_addr.unwrap();
    let mut admin = client(tcp).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 1).await.unwrap();
    let bytes: Vec<[u8; 1]> = (0..35u8).map(|b| [b]).collect();
    let batch = Batch::from_payloads((0..30u128).map(|id| (id, &bytes[id as usize][..])));
    admin.send(&S, &T, &Partitioning::PartitionId(0), &batch).await.unwrap();
    let mut spec = small_window(8);
    spec.auto_commit = true;
    spec.strategy = PollingStrategy::Next;
    let mut sub = Subscriber::connect(Transport::Tcp, tcp, "iggy", "iggy", &S, &T, spec.clone())
        .await
        .unwrap();
    consume(&mut sub, 30, &mut BTreeMap::new()).await;
    wait_for_offset(&mut admin, 29).await;
    sub.unsubscribe().await.unwrap();
    // A new subscriber with `Next` starts after the stored offset.
    let batch = Batch::from_payloads((30..35u128).map(|id| (id, &bytes[id as usize][..])));
    admin.send(&S, &T, &Partitioning::PartitionId(0), &batch).await.unwrap();
    let mut sub =
        Subscriber::connect(Transport::Tcp, tcp, "iggy", "iggy", &S, &T, spec).await.unwrap();
    assert_eq!(sub.positions(), &[(0, 30)]);
    let mut starts = BTreeMap::from([(0, 30)]);
    assert_eq!(consume(&mut sub, 5, &mut starts).await, (30..35).collect::<Vec<u128>>());
    server.stop();
}

async fn wait_for_offset(admin: &mut Client, offset: u64) {
    let until = Instant::now() + Duration::from_secs(10);
    while admin.get_offset(&S, &T, 0, 8).await.unwrap() != Some(offset) {
        assert!(Instant::now() < until, "offset {offset} never stored");
        compio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends one request as one binary message.
async fn ws_request(ws: &mut eddy_ws::WebSocket<TcpStream>, code: u32, payload: &[u8]) {
    let mut out = BytesMut::new();
    eddy_wire::framing::RequestHeader::encode(code, payload.len(), &mut out);
    out.extend_from_slice(payload);
    ws.send(eddy_ws::Message::binary(out.freeze())).await.unwrap();
}

/// The status of the next reply (pushed frames skipped).
async fn ws_reply(ws: &mut eddy_ws::WebSocket<TcpStream>) -> u32 {
    loop {
        let eddy_ws::Message::Binary(data) = ws.read().await.unwrap() else { continue };
        let code = u32::from_le_bytes(data[..4].try_into().unwrap());
        if code != status::PUSH_FRAME {
            return code;
        }
    }
}

#[compio::test]
async fn a_subscribed_websocket_connection_gets_each_reply_at_once() {
    // Replies over WebSocket wait in eddy-ws's outbox for a flush; a subscribed connection at
    // rest must not hold one until its next push (here a heartbeat a minute away).
    let server = eddy_server::start(config("ws-replies")).unwrap();
    let mut admin = client(server.tcp_addr.unwrap()).await;
    admin.create_stream("s").await.unwrap();
    admin.create_topic(&S, "t", 2).await.unwrap();
    let url = format!("ws://{}/", server.ws_addr.unwrap());
    let (mut ws, _) = eddy_ws::connect(&url).await.unwrap();
    ws_request(&mut ws, command::LOGIN_USER, &login()).await;
    assert_eq!(ws_reply(&mut ws).await, status::OK);
    ws_request(&mut ws, command::SUBSCRIBE, &subscribe(Vec::new(), (100, 1 << 20), 60_000)).await;
    assert_eq!(ws_reply(&mut ws).await, status::OK);
    wait_for(|| server.waiting() == 2).await;
    for _ in 0..3 {
        ws_request(&mut ws, command::PING, &[]).await;
        let reply = compio::time::timeout(Duration::from_secs(2), ws_reply(&mut ws)).await;
        assert_eq!(reply, Ok(status::OK), "a PING answered while subscribed");
    }
    server.stop();
}
