//! Apache Iggy's own Rust SDK (iggy 0.10.0) against eddy-server, over TCP and over WebSocket:
//! streams, topics with 3 partitions, 10,000 messages with ids, random-size payloads and user
//! headers, polls by offset/first/last/next/timestamp, consumer offsets, stats, cluster metadata,
//! client listings, and everything again after a restart on the same data.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use bytes::Bytes;
use common::{Server, Transport, client, temp_data_dir};
use iggy::prelude::*;

const MESSAGES: u32 = 10_000;
const PARTITIONS: u32 = 3;
const BATCH: u32 = 250;

/// A deterministic payload for message `i` (sizes 1..=3000).
fn payload(i: u32) -> Bytes {
    let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x >> 29;
    let len = 1 + (x % 3000) as usize;
    Bytes::from((0..len).map(|j| (i as usize * 31 + j) as u8).collect::<Vec<u8>>())
}

fn headers(i: u32) -> BTreeMap<HeaderKey, HeaderValue> {
    let mut h = BTreeMap::new();
    h.insert(HeaderKey::from_str("index").unwrap(), HeaderValue::from_str(&i.to_string()).unwrap());
    h
}

/// Sends message ids 1..=MESSAGES; message i goes to partition i % PARTITIONS.
async fn send_all(c: &IggyClient, stream: &Identifier, topic: &Identifier) {
    for p in 0..PARTITIONS {
        let ids: Vec<u32> = (0..MESSAGES).filter(|i| i % PARTITIONS == p).collect();
        for chunk in ids.chunks(BATCH as usize) {
            let mut batch: Vec<IggyMessage> = chunk
                .iter()
                .map(|&i| {
                    IggyMessage::builder()
                        .id(u128::from(i) + 1)
                        .payload(payload(i))
                        .user_headers(headers(i))
                        .build()
                        .unwrap()
                })
                .collect();
            c.send_messages(stream, topic, &Partitioning::partition_id(p), &mut batch)
                .await
                .unwrap();
        }
    }
}

fn check(msg: &IggyMessage, partition: u32, offset: u64) {
    // Partition p holds i = p, p+3, p+6, ... in order: offset k is i = p + 3k.
    let i = partition + PARTITIONS * offset as u32;
    assert_eq!(msg.header.offset, offset);
    assert_eq!(msg.header.id, u128::from(i) + 1, "id at partition {partition} offset {offset}");
    assert_eq!(msg.payload, payload(i), "payload of message {i}");
    assert_eq!(msg.user_headers_map().unwrap(), Some(headers(i)), "headers of message {i}");
    assert!(msg.header.timestamp > 0);
}

/// Polls every partition by offset and checks every message.
async fn poll_all(c: &IggyClient, stream: &Identifier, topic: &Identifier) -> u32 {
    let consumer = Consumer::new(Identifier::numeric(1).unwrap());
    let mut total = 0;
    for p in 0..PARTITIONS {
        let mut offset = 0;
        loop {
            let polled = c
                .poll_messages(
                    stream,
                    topic,
                    Some(p),
                    &consumer,
                    &PollingStrategy::offset(offset),
                    1000,
                    false,
                )
                .await
                .unwrap();
            if polled.messages.is_empty() {
                break;
            }
            for m in &polled.messages {
                check(m, p, offset);
                offset += 1;
            }
        }
        total += offset as u32;
    }
    total
}

async fn scenario(transport: Transport) {
    let dir = temp_data_dir(&format!("sdk-{transport:?}"));
    let server = Server::start(&dir, 2, true);
    let c = client(&server, transport).await;
    let stream = Identifier::named("interop").unwrap();
    let topic = Identifier::named("events").unwrap();
    let details = c.create_stream("interop").await.unwrap();
    assert_eq!(details.id, 0, "ids start at 0");
    let t = common::create_topic(&c, &stream, "events", PARTITIONS).await;
    assert_eq!(t.partitions_count, PARTITIONS);
    // Wrong password: an error, and the connection stays usable.
    let other = client(&server, transport).await;
    assert!(other.login_user("iggy", "wrong").await.is_err());
    other.ping().await.unwrap();
    // Both connections are listed (with 2 shards, often on different ones): the logged-in one
    // with its user, the other with none; one by id; a missing id is none.
    other.logout_user().await.unwrap();
    assert!(other.get_me().await.is_err(), "logged out");
    let me = c.get_me().await.unwrap();
    let listed = c.get_clients().await.unwrap();
    let name = match transport {
        Transport::Tcp => "TCP",
        Transport::WebSocket => "WebSocket",
    };
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|l| l.transport == name && l.consumer_groups_count == 0));
    let mine = listed.iter().find(|l| l.client_id == me.client_id).expect("this client listed");
    assert_eq!((mine.user_id, &mine.address), (me.user_id, &me.address));
    let theirs = listed.iter().find(|l| l.client_id != me.client_id).unwrap();
    assert_eq!(theirs.user_id, None, "not logged in");
    let one = c.get_client(theirs.client_id).await.unwrap().expect("found by id");
    assert_eq!((one.client_id, &one.address), (theirs.client_id, &theirs.address));
    assert!(c.get_client(u32::MAX - 1).await.unwrap().is_none());

    send_all(&c, &stream, &topic).await;
    assert_eq!(poll_all(&c, &stream, &topic).await, MESSAGES);

    // First, last, next with auto-commit, timestamp.
    let consumer = Consumer::new(Identifier::named("reader").unwrap());
    let first = c
        .poll_messages(&stream, &topic, Some(1), &consumer, &PollingStrategy::first(), 5, false)
        .await
        .unwrap();
    assert_eq!(first.messages.len(), 5);
    check(&first.messages[0], 1, 0);
    let last = c
        .poll_messages(&stream, &topic, Some(1), &consumer, &PollingStrategy::last(), 3, false)
        .await
        .unwrap();
    let per_partition = u64::from(MESSAGES / PARTITIONS);
    assert_eq!(
        last.messages.iter().map(|m| m.header.offset).collect::<Vec<_>>(),
        vec![per_partition - 3, per_partition - 2, per_partition - 1]
    );
    let n1 = c
        .poll_messages(&stream, &topic, Some(2), &consumer, &PollingStrategy::next(), 10, true)
        .await
        .unwrap();
    assert_eq!(n1.messages[0].header.offset, 0);
    let n2 = c
        .poll_messages(&stream, &topic, Some(2), &consumer, &PollingStrategy::next(), 10, true)
        .await
        .unwrap();
    assert_eq!(n2.messages[0].header.offset, 10, "next continues after the auto-committed offset");
    let stored = c.get_consumer_offset(&consumer, &stream, &topic, Some(2)).await.unwrap().unwrap();
    assert_eq!(stored.stored_offset, 19);
    let ts = first.messages[3].header.timestamp;
    let by_ts = c
        .poll_messages(
            &stream,
            &topic,
            Some(1),
            &consumer,
            &PollingStrategy::timestamp(ts.into()),
            1,
            false,
        )
        .await
        .unwrap();
    assert!(by_ts.messages[0].header.timestamp >= ts);
    assert!(by_ts.messages[0].header.offset <= 3, "the first message at or after the timestamp");

    // Consumer offsets by hand.
    let numbered = Consumer::new(Identifier::numeric(7).unwrap());
    assert!(c.get_consumer_offset(&numbered, &stream, &topic, Some(0)).await.unwrap().is_none());
    c.store_consumer_offset(&numbered, &stream, &topic, Some(0), 42).await.unwrap();
    let got = c.get_consumer_offset(&numbered, &stream, &topic, Some(0)).await.unwrap().unwrap();
    assert_eq!(
        (got.partition_id, got.stored_offset, got.current_offset),
        (0, 42, u64::from(MESSAGES / PARTITIONS) - 1 + 1)
    );

    let stats = c.get_stats().await.unwrap();
    assert_eq!(
        (stats.streams_count, stats.topics_count, stats.partitions_count),
        (1, 1, PARTITIONS)
    );
    assert_eq!(stats.messages_count, u64::from(MESSAGES));
    assert!(me.client_id > 0);
    // One node, the healthy leader, at the addresses this client connected to.
    let cluster = c.get_cluster_metadata().await.unwrap();
    let [node] = &cluster.nodes[..] else { panic!("one node: {cluster:?}") };
    assert_eq!((node.role, node.status), (ClusterNodeRole::Leader, ClusterNodeStatus::Healthy));
    assert_eq!(node.ip, server.tcp.ip().to_string());
    assert_eq!(
        (node.endpoints.tcp, node.endpoints.websocket),
        (server.tcp.port(), server.ws.port())
    );
    assert_eq!((node.endpoints.quic, node.endpoints.http), (0, 0));
    let topic_details = c.get_topic(&stream, &topic).await.unwrap().unwrap();
    assert_eq!(topic_details.messages_count, u64::from(MESSAGES));
    assert!(c.get_stream(&Identifier::named("nope").unwrap()).await.unwrap().is_none());
    let missing = c
        .poll_messages(
            &Identifier::numeric(99).unwrap(),
            &topic,
            Some(0),
            &consumer,
            &PollingStrategy::first(),
            1,
            false,
        )
        .await;
    assert!(missing.is_err(), "polling a missing stream is an error");
    c.ping().await.unwrap();
    drop(c);
    drop(other);

    // Restart on the same data: everything is still there, offsets included.
    server.kill();
    let server = Server::start(&dir, 2, true);
    let c = client(&server, transport).await;
    assert_eq!(poll_all(&c, &stream, &topic).await, MESSAGES);
    let got = c.get_consumer_offset(&numbered, &stream, &topic, Some(0)).await.unwrap().unwrap();
    assert_eq!(got.stored_offset, 42);
    let streams = c.get_streams().await.unwrap();
    assert_eq!(streams.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["interop"]);
    c.delete_stream(&stream).await.unwrap();
    assert!(c.get_streams().await.unwrap().is_empty());
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iggy_sdk_over_tcp() {
    scenario(Transport::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iggy_sdk_over_websocket() {
    scenario(Transport::WebSocket).await;
}
