//! Consumer groups driven by Apache Iggy's own Rust SDK (iggy 0.10.0) against eddy-server, over
//! TCP and WebSocket: the group commands by hand (create, list, join from two connections, the
//! partitions each member owns, polls that read only a member's own partitions, leave, a closed
//! connection leaving by itself, delete), then the SDK's high-level consumer: two members of one
//! group share a topic's messages, each delivered once, and the one left takes over every
//! partition when the other goes; a member that dies (its socket closed, nothing said) leaves
//! what it had not committed to the others.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{Server, Transport, client, temp_data_dir};
use futures_util::StreamExt;
use iggy::prelude::*;

const PARTITIONS: u32 = 3;

/// Sends messages `ids` (the id is the payload too), spread over the partitions by id.
async fn send(c: &IggyClient, stream: &Identifier, topic: &Identifier, ids: std::ops::Range<u32>) {
    for p in 0..PARTITIONS {
        let mut batch: Vec<IggyMessage> = ids
            .clone()
            .filter(|i| i % PARTITIONS == p)
            .map(|i| {
                let payload = Bytes::from(i.to_string());
                IggyMessage::builder().id(u128::from(i) + 1).payload(payload).build().unwrap()
            })
            .collect();
        if !batch.is_empty() {
            c.send_messages(stream, topic, &Partitioning::partition_id(p), &mut batch)
                .await
                .unwrap();
        }
    }
}

fn id_of(m: &IggyMessage) -> u32 {
    std::str::from_utf8(&m.payload).unwrap().parse().unwrap()
}

/// Waits until the group reports `members` members.
async fn members_become(
    c: &IggyClient,
    s: &Identifier,
    t: &Identifier,
    g: &Identifier,
    members: u32,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let details = c.get_consumer_group(s, t, g).await.unwrap().expect("the group");
        if details.members_count == members {
            return;
        }
        assert!(Instant::now() < deadline, "members stayed {}", details.members_count);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn by_hand(transport: Transport) {
    let dir = temp_data_dir(&format!("groups-{transport:?}"));
    let server = Server::start(&dir, 2, true);
    let a = client(&server, transport).await;
    let b = client(&server, transport).await;
    let stream = Identifier::named("g").unwrap();
    let topic = Identifier::named("jobs").unwrap();
    a.create_stream("g").await.unwrap();
    common::create_topic(&a, &stream, "jobs", PARTITIONS).await;
    let name = Identifier::named("workers").unwrap();
    assert!(a.get_consumer_group(&stream, &topic, &name).await.unwrap().is_none());
    let created = a.create_consumer_group(&stream, &topic, "workers").await.unwrap();
    assert_eq!((created.id, created.partitions_count, created.members_count), (0, PARTITIONS, 0));
    let again = a.create_consumer_group(&stream, &topic, "workers").await;
    assert!(matches!(again, Err(IggyError::ConsumerGroupNameAlreadyExists(..))), "{again:?}");
    a.create_consumer_group(&stream, &topic, "others").await.unwrap();
    let listed = b.get_consumer_groups(&stream, &topic).await.unwrap();
    assert_eq!(
        listed.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        vec!["workers", "others"]
    );

    // Not a member yet: polling as the group is refused.
    let group = Consumer::group(name.clone());
    let refused =
        a.poll_messages(&stream, &topic, None, &group, &PollingStrategy::next(), 10, true).await;
    assert!(refused.is_err(), "{refused:?}");
    a.join_consumer_group(&stream, &topic, &name).await.unwrap();
    b.join_consumer_group(&stream, &topic, &Identifier::numeric(0).unwrap()).await.unwrap();
    a.join_consumer_group(&stream, &topic, &name).await.unwrap();
    let details = a.get_consumer_group(&stream, &topic, &name).await.unwrap().unwrap();
    assert_eq!(details.members_count, 2, "joining twice is one membership");
    // Cooperative: b's share is still a's until a's in-flight poll is done (a is listed with
    // all three, b with none); a's next command settles it.
    let shares = |d: &ConsumerGroupDetails| -> Vec<usize> {
        d.members.iter().map(|m| m.partitions.len()).collect()
    };
    assert_eq!(shares(&details), vec![3, 0]);
    let next = PollingStrategy::next();
    let none = a.poll_messages(&stream, &topic, None, &group, &next, 1, true).await;
    assert!(none.unwrap().messages.is_empty());
    let deadline = Instant::now() + Duration::from_secs(10);
    let details = loop {
        let d = a.get_consumer_group(&stream, &topic, &name).await.unwrap().unwrap();
        if shares(&d) == vec![2, 1] {
            break d;
        }
        assert!(Instant::now() < deadline, "never settled: {:?}", d.members);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let owned: Vec<BTreeSet<u32>> =
        details.members.iter().map(|m| m.partitions.iter().copied().collect()).collect();
    assert!(owned[0].is_disjoint(&owned[1]));
    assert_eq!(owned[0].len() + owned[1].len(), PARTITIONS as usize, "{owned:?}");
    let me_a = a.get_me().await.unwrap();
    assert_eq!(me_a.consumer_groups_count, 1);
    assert_eq!(
        (
            me_a.consumer_groups[0].stream_id,
            me_a.consumer_groups[0].topic_id,
            me_a.consumer_groups[0].group_id
        ),
        (0, 0, 0)
    );
    let mine_a = details.members.iter().find(|m| m.id == me_a.client_id).expect("a is listed");
    let mine_a: BTreeSet<u32> = mine_a.partitions.iter().copied().collect();

    // Each member reads only its own partitions; together they read everything once.
    send(&a, &stream, &topic, 0..300).await;
    let mut seen = HashSet::new();
    for (who, own) in [(&a, Some(&mine_a)), (&b, None)] {
        let mut empty_in_a_row = 0;
        while empty_in_a_row < PARTITIONS {
            let polled = who
                .poll_messages(&stream, &topic, None, &group, &PollingStrategy::next(), 7, true)
                .await
                .unwrap();
            if polled.messages.is_empty() {
                empty_in_a_row += 1;
                continue;
            }
            empty_in_a_row = 0;
            if let Some(own) = own {
                assert!(
                    own.contains(&polled.partition_id),
                    "a read partition {}",
                    polled.partition_id
                );
            } else {
                assert!(!mine_a.contains(&polled.partition_id), "b read a's partition");
            }
            for m in &polled.messages {
                assert!(seen.insert(id_of(m)), "message {} twice", id_of(m));
            }
        }
    }
    assert_eq!(seen.len(), 300);
    // The group's offset is the group's, whoever reads it.
    let some = *mine_a.iter().next().unwrap();
    let stored = b.get_consumer_offset(&group, &stream, &topic, Some(some)).await.unwrap().unwrap();
    assert_eq!(stored.stored_offset, 99, "every message of partition {some} committed");

    // Leaving hands the partitions over; leaving again is an error.
    b.leave_consumer_group(&stream, &topic, &name).await.unwrap();
    assert!(b.leave_consumer_group(&stream, &topic, &name).await.is_err());
    let details = a.get_consumer_group(&stream, &topic, &name).await.unwrap().unwrap();
    assert_eq!(details.members[0].partitions, (0..PARTITIONS).collect::<Vec<_>>());
    // A connection that closes leaves every group it joined.
    b.join_consumer_group(&stream, &topic, &name).await.unwrap();
    b.join_consumer_group(&stream, &topic, &Identifier::named("others").unwrap()).await.unwrap();
    assert_eq!(b.get_me().await.unwrap().consumer_groups_count, 2);
    members_become(&a, &stream, &topic, &name, 2).await;
    b.shutdown().await.unwrap();
    drop(b);
    members_become(&a, &stream, &topic, &name, 1).await;
    let others = a.get_consumer_group(&stream, &topic, &Identifier::named("others").unwrap()).await;
    assert_eq!(others.unwrap().unwrap().members_count, 0);

    a.delete_consumer_group(&stream, &topic, &name).await.unwrap();
    assert!(a.get_consumer_group(&stream, &topic, &name).await.unwrap().is_none());
    assert!(a.get_me().await.unwrap().consumer_groups.is_empty(), "gone with the group");
    let gone =
        a.poll_messages(&stream, &topic, None, &group, &PollingStrategy::next(), 1, true).await;
    assert!(gone.is_err(), "{gone:?}");
    // Groups are catalog: they survive a restart (members do not).
    drop(a);
    server.kill();
    let server = Server::start(&dir, 2, true);
    let c = client(&server, transport).await;
    let kept = c.get_consumer_groups(&stream, &topic).await.unwrap();
    assert_eq!(
        kept.iter().map(|g| (g.name.as_str(), g.members_count)).collect::<Vec<_>>(),
        vec![("others", 0)]
    );
    let fresh = c.create_consumer_group(&stream, &topic, "workers").await.unwrap();
    assert_eq!(fresh.id, 2, "a deleted group's id is not reused");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// Takes messages from `consumer` until it has `want` or none comes for `idle`.
async fn take(
    consumer: &mut IggyConsumer,
    seen: &mut Vec<(u32, u32)>,
    want: usize,
    idle: Duration,
) {
    while seen.len() < want {
        match tokio::time::timeout(idle, consumer.next()).await {
            Ok(Some(Ok(received))) => seen.push((id_of(&received.message), received.partition_id)),
            Ok(Some(Err(e))) => panic!("consumer error: {e}"),
            Ok(None) | Err(_) => return,
        }
    }
}

async fn high_level(transport: Transport) {
    let dir = temp_data_dir(&format!("groups-hl-{transport:?}"));
    let server = Server::start(&dir, 2, true);
    let producer = client(&server, transport).await;
    let stream = Identifier::named("hl").unwrap();
    let topic = Identifier::named("jobs").unwrap();
    producer.create_stream("hl").await.unwrap();
    common::create_topic(&producer, &stream, "jobs", PARTITIONS).await;
    let (ca, cb) = (client(&server, transport).await, client(&server, transport).await);
    let build = |c: &IggyClient| {
        c.consumer_group("hl-workers", "hl", "jobs")
            .unwrap()
            .auto_commit(AutoCommit::When(AutoCommitWhen::PollingMessages))
            .create_consumer_group_if_not_exists()
            .auto_join_consumer_group()
            .polling_strategy(PollingStrategy::next())
            .poll_interval(IggyDuration::from(Duration::from_millis(5)))
            .batch_length(50)
            .build()
    };
    let (mut a, mut b) = (build(&ca), build(&cb));
    a.init().await.unwrap();
    b.init().await.unwrap();
    let group = Identifier::named("hl-workers").unwrap();
    members_become(&producer, &stream, &topic, &group, 2).await;
    send(&producer, &stream, &topic, 0..600).await;
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    // Both take turns until all 600 are in.
    let deadline = Instant::now() + Duration::from_secs(30);
    let idle = Duration::from_millis(300);
    while seen_a.len() + seen_b.len() < 600 && Instant::now() < deadline {
        take(&mut a, &mut seen_a, 600, idle).await;
        take(&mut b, &mut seen_b, 600, idle).await;
    }
    let all: Vec<u32> = seen_a.iter().chain(&seen_b).map(|(id, _)| *id).collect();
    let unique: HashSet<u32> = all.iter().copied().collect();
    let parts_seen = |seen: &[(u32, u32)]| {
        let mut per: std::collections::BTreeMap<u32, usize> = Default::default();
        for (_, p) in seen {
            *per.entry(*p).or_default() += 1;
        }
        per
    };
    assert_eq!(
        (all.len(), unique.len()),
        (600, 600),
        "every message once; a took {:?}, b took {:?}",
        parts_seen(&seen_a),
        parts_seen(&seen_b)
    );
    let parts = |seen: &[(u32, u32)]| seen.iter().map(|(_, p)| *p).collect::<BTreeSet<u32>>();
    assert!(
        parts(&seen_a).is_disjoint(&parts(&seen_b)),
        "{:?} / {:?}",
        parts(&seen_a),
        parts(&seen_b)
    );
    assert!(!seen_a.is_empty() && !seen_b.is_empty(), "both members took a share");

    // One member goes: the other takes over every partition.
    drop(a);
    ca.shutdown().await.unwrap();
    drop(ca);
    members_become(&producer, &stream, &topic, &group, 1).await;
    send(&producer, &stream, &topic, 600..900).await;
    let mut rest = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while rest.len() < 300 && Instant::now() < deadline {
        take(&mut b, &mut rest, 300, idle).await;
    }
    let ids: HashSet<u32> = rest.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (600..900).collect::<HashSet<u32>>());
    assert_eq!(parts(&rest), (0..PARTITIONS).collect::<BTreeSet<u32>>());
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

/// The wire by hand for a member that dies: a raw TCP connection the test drops (as a killed
/// process's socket is closed), so nothing but the closed socket tells the server.
mod raw {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    pub struct Conn(TcpStream);

    fn numeric(id: u32) -> Vec<u8> {
        let mut v = vec![1, 4];
        v.extend_from_slice(&id.to_le_bytes());
        v
    }

    impl Conn {
        pub fn open(addr: SocketAddr, password: &str) -> Self {
            let mut c = Self(TcpStream::connect(addr).unwrap());
            let mut login = vec![4];
            login.extend_from_slice(b"iggy");
            login.push(password.len() as u8);
            login.extend_from_slice(password.as_bytes());
            login.extend_from_slice(&[0; 8]);
            assert_eq!(c.request(38, &login).0, 0, "login");
            c
        }

        pub fn request(&mut self, code: u32, payload: &[u8]) -> (u32, Vec<u8>) {
            let mut frame = ((payload.len() + 4) as u32).to_le_bytes().to_vec();
            frame.extend_from_slice(&code.to_le_bytes());
            frame.extend_from_slice(payload);
            self.0.write_all(&frame).unwrap();
            let mut head = [0u8; 8];
            self.0.read_exact(&mut head).unwrap();
            let len = u32::from_le_bytes(head[4..].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len];
            self.0.read_exact(&mut body).unwrap();
            (u32::from_le_bytes(head[..4].try_into().unwrap()), body)
        }

        /// JOIN_CONSUMER_GROUP (604) of group `g` in stream 0, topic 0.
        pub fn join(&mut self, g: u32) {
            let ids = [numeric(0), numeric(0), numeric(g)].concat();
            assert_eq!(self.request(604, &ids).0, 0, "join");
        }

        /// A group poll (Next, no auto-commit): `(partition, count)` of the reply.
        pub fn poll(&mut self, g: u32, count: u32) -> (u32, u32) {
            let mut p = [vec![2], numeric(g), numeric(0), numeric(0)].concat();
            p.extend_from_slice(&[0, 0, 0, 0, 0, 5]); // no partition; strategy next
            p.extend_from_slice(&0u64.to_le_bytes());
            p.extend_from_slice(&count.to_le_bytes());
            p.push(0);
            let (status, body) = self.request(100, &p);
            assert_eq!(status, 0, "group poll");
            let partition = u32::from_le_bytes(body[..4].try_into().unwrap());
            (partition, u32::from_le_bytes(body[12..16].try_into().unwrap()))
        }

        /// STORE_CONSUMER_OFFSET (121) for the group on `partition`.
        pub fn commit(&mut self, g: u32, partition: u32, offset: u64) {
            let mut p = [vec![2], numeric(g), numeric(0), numeric(0)].concat();
            p.push(1);
            p.extend_from_slice(&partition.to_le_bytes());
            p.extend_from_slice(&offset.to_le_bytes());
            assert_eq!(self.request(121, &p).0, 0, "commit");
        }
    }
}

/// A member polls without auto-commit, commits part of what it read and dies: the survivor
/// gets every message the dead one had not committed, and everything else, none skipped.
async fn a_member_dies(transport: Transport) {
    let dir = temp_data_dir(&format!("groups-kill-{transport:?}"));
    let server = Server::start(&dir, 2, true);
    let survivor = client(&server, transport).await;
    let stream = Identifier::numeric(0).unwrap();
    let topic = Identifier::numeric(0).unwrap();
    survivor.create_stream("k").await.unwrap();
    common::create_topic(&survivor, &stream, "jobs", PARTITIONS).await;
    let gid = survivor.create_consumer_group(&stream, &topic, "w").await.unwrap().id;
    let group_id = Identifier::numeric(gid).unwrap();
    send(&survivor, &stream, &topic, 0..90).await;
    let tcp = server.tcp;
    let (partition, read) = tokio::task::spawn_blocking(move || {
        let mut doomed = raw::Conn::open(tcp, "iggy");
        doomed.join(gid);
        let (partition, read) = doomed.poll(gid, 10);
        doomed.commit(gid, partition, 4); // processed offsets 0..=4 of the 10 it read
        (partition, read)
        // dropped here: the socket closes with no LEAVE
    })
    .await
    .unwrap();
    assert_eq!(read, 10);
    survivor.join_consumer_group(&stream, &topic, &group_id).await.unwrap();
    members_become(&survivor, &stream, &topic, &group_id, 1).await;
    let group = Consumer::group(group_id.clone());
    let mut got = Vec::new();
    let mut empty_in_a_row = 0;
    while empty_in_a_row < PARTITIONS {
        let polled = survivor
            .poll_messages(&stream, &topic, None, &group, &PollingStrategy::next(), 8, true)
            .await
            .unwrap();
        empty_in_a_row = if polled.messages.is_empty() { empty_in_a_row + 1 } else { 0 };
        got.extend(
            polled.messages.iter().map(|m| (polled.partition_id, m.header.offset, id_of(m))),
        );
    }
    let ids: BTreeSet<u32> = got.iter().map(|g| g.2).collect();
    let committed: BTreeSet<u32> = (0..5).map(|k| partition + PARTITIONS * k).collect();
    let expected: BTreeSet<u32> = (0..90).filter(|i| !committed.contains(i)).collect();
    assert_eq!(ids, expected, "all but what the dead member committed");
    assert_eq!(got.len(), ids.len(), "nothing twice");
    let resumed = got.iter().filter(|g| g.0 == partition).map(|g| g.1).min();
    assert_eq!(resumed, Some(5), "its partition resumes after the committed offset");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_dies_leaves_its_uncommitted_messages_to_the_others_over_tcp() {
    a_member_dies(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_dies_leaves_its_uncommitted_messages_to_the_others_over_websocket() {
    a_member_dies(Transport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_by_hand_over_tcp() {
    by_hand(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_by_hand_over_websocket() {
    by_hand(Transport::WebSocket).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_high_level_consumer_shares_a_topic_over_tcp() {
    high_level(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_high_level_consumer_shares_a_topic_over_websocket() {
    high_level(Transport::WebSocket).await;
}
