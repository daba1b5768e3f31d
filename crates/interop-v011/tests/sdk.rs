//! Apache Iggy's Rust SDK 0.11.0 (the 0.11 wire) against eddy-server over TCP and WebSocket, on
//! the ports the 0.10 SDK uses: login, streams, topics with 3 partitions, messages with ids,
//! payloads and user headers sent and polled back (by offset, first, next, timestamp),
//! consumer offsets, and everything again after a kill -9 on the same data.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use bytes::Bytes;
use common::{Server, Transport, anonymous, client, temp_data_dir};
use iggy::prelude::*;

const MESSAGES: u32 = 3_000;
const PARTITIONS: u32 = 3;
const BATCH: u32 = 100;

/// A deterministic payload for message `i` (sizes 1..=2000).
fn payload(i: u32) -> Bytes {
    let mut x = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x >> 29;
    let len = 1 + (x % 2000) as usize;
    Bytes::from((0..len).map(|j| (i as usize * 31 + j) as u8).collect::<Vec<u8>>())
}

fn headers(i: u32) -> BTreeMap<HeaderKey, HeaderValue> {
    let mut h = BTreeMap::new();
    h.insert(HeaderKey::from_str("index").unwrap(), HeaderValue::from_str(&i.to_string()).unwrap());
    h
}

/// Sends ids 1..=MESSAGES; message i goes to partition i % PARTITIONS. Checks every
/// confirmation's base offset.
async fn send_all(c: &IggyClient, stream: &Identifier, topic: &Identifier) {
    for p in 0..PARTITIONS {
        let ids: Vec<u32> = (0..MESSAGES).filter(|i| i % PARTITIONS == p).collect();
        let mut next = 0u64;
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
            let sent = c
                .send_messages(stream, topic, &Partitioning::partition_id(p), &mut batch)
                .await
                .unwrap();
            let offsets: Vec<u64> = sent.confirmations.iter().map(|c| c.base_offset).collect();
            assert_eq!(offsets, vec![next], "partition {p}: confirmation of the batch at {next}");
            next += chunk.len() as u64;
        }
    }
}

fn check(msg: &IggyMessage, partition: u32, offset: u64) {
    let i = partition + PARTITIONS * offset as u32;
    assert_eq!(msg.header.offset, offset);
    assert_eq!(msg.header.id, u128::from(i) + 1, "id at partition {partition} offset {offset}");
    assert_eq!(msg.payload, payload(i), "payload at partition {partition} offset {offset}");
    let h = msg.user_headers_map().unwrap().unwrap();
    assert_eq!(
        h.get(&HeaderKey::from_str("index").unwrap()).unwrap().as_str().unwrap(),
        i.to_string()
    );
    assert!(msg.header.timestamp > 0 && msg.header.origin_timestamp > 0);
}

/// Polls each partition whole by offset and checks every message.
async fn verify_all(c: &IggyClient, stream: &Identifier, topic: &Identifier) {
    let consumer = Consumer::default();
    for p in 0..PARTITIONS {
        let expected = (0..MESSAGES).filter(|i| i % PARTITIONS == p).count() as u64;
        let mut offset = 0u64;
        while offset < expected {
            let polled = c
                .poll_messages(
                    stream,
                    topic,
                    Some(p),
                    &consumer,
                    &PollingStrategy::offset(offset),
                    333,
                    false,
                )
                .await
                .unwrap();
            assert_eq!(polled.partition_id, p);
            assert!(!polled.messages.is_empty(), "partition {p} at {offset} of {expected}");
            assert_eq!(polled.current_offset, expected - 1);
            for m in &polled.messages {
                check(m, p, offset);
                offset += 1;
            }
        }
        assert_eq!(offset, expected);
    }
}

async fn scenario(server: &Server, transport: Transport) {
    let c = client(server, transport).await;
    c.ping().await.unwrap();
    let name = format!("v011-{transport:?}");
    let stream = c.create_stream(&name).await.unwrap();
    assert_eq!(stream.name, name);
    let sid = Identifier::numeric(stream.id).unwrap();
    let options = TopicCreateOptions { partitions_count: Some(PARTITIONS), ..Default::default() };
    let topic = c.create_topic(&sid, "events", &options).await.unwrap();
    assert_eq!((topic.name.as_str(), topic.partitions_count), ("events", PARTITIONS));
    let tid = Identifier::named("events").unwrap();
    assert_eq!(
        c.create_stream(&name).await.unwrap_err().as_code(),
        IggyError::StreamNameAlreadyExists(String::new()).as_code()
    );

    send_all(&c, &sid, &tid).await;
    verify_all(&c, &sid, &tid).await;

    // first / next with auto-commit / timestamp.
    let consumer = Consumer::new(Identifier::named("reader").unwrap());
    let first = c
        .poll_messages(&sid, &tid, Some(1), &consumer, &PollingStrategy::first(), 5, false)
        .await
        .unwrap();
    assert_eq!(first.messages.len(), 5);
    check(&first.messages[0], 1, 0);
    let next = c
        .poll_messages(&sid, &tid, Some(1), &consumer, &PollingStrategy::next(), 10, true)
        .await
        .unwrap();
    assert_eq!(next.messages.first().map(|m| m.header.offset), Some(0));
    let stored = c.get_consumer_offset(&consumer, &sid, &tid, Some(1)).await.unwrap().unwrap();
    assert_eq!(stored.stored_offset, 9);
    let again = c
        .poll_messages(&sid, &tid, Some(1), &consumer, &PollingStrategy::next(), 1, true)
        .await
        .unwrap();
    assert_eq!(again.messages[0].header.offset, 10);
    c.store_consumer_offset(&consumer, &sid, &tid, Some(1), 500).await.unwrap();
    assert_eq!(
        c.get_consumer_offset(&consumer, &sid, &tid, Some(1)).await.unwrap().unwrap().stored_offset,
        500
    );
    c.delete_consumer_offset(&consumer, &sid, &tid, Some(1)).await.unwrap();
    assert!(c.get_consumer_offset(&consumer, &sid, &tid, Some(1)).await.unwrap().is_none());
    let ts = first.messages[2].header.timestamp;
    let by_time = c
        .poll_messages(
            &sid,
            &tid,
            Some(1),
            &consumer,
            &PollingStrategy::timestamp(ts.into()),
            1,
            false,
        )
        .await
        .unwrap();
    assert!(by_time.messages[0].header.timestamp >= ts);

    // Details agree with what was sent.
    let details = c.get_stream(&sid).await.unwrap().unwrap();
    assert_eq!((details.topics_count, details.messages_count), (1, u64::from(MESSAGES)));
    let t = c.get_topic(&sid, &tid).await.unwrap().unwrap();
    assert_eq!(t.partitions.len(), PARTITIONS as usize);
    assert_eq!(t.messages_count, u64::from(MESSAGES));
    assert!(c.get_streams().await.unwrap().iter().any(|s| s.name == name));
    assert_eq!(c.get_topics(&sid).await.unwrap().len(), 1);
    let me = c.get_me().await.unwrap();
    assert!(me.client_id > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_0_11_sdk_works_over_tcp_and_websocket_and_after_a_kill() {
    let dir = temp_data_dir("v011-sdk");
    let server = Server::start(&dir, 2, true);
    scenario(&server, Transport::Tcp).await;
    scenario(&server, Transport::WebSocket).await;
    // A wrong password: refused, and the client can still log in afterwards.
    let c = anonymous(&server, Transport::Tcp).await;
    assert!(c.login_user("iggy", "wrong").await.is_err());
    c.login_user("iggy", "iggy").await.unwrap();
    drop(c);
    server.kill();
    let server = Server::start(&dir, 2, true);
    for transport in [Transport::Tcp, Transport::WebSocket] {
        let c = client(&server, transport).await;
        let sid = Identifier::named(&format!("v011-{transport:?}")).unwrap();
        verify_all(&c, &sid, &Identifier::named("events").unwrap()).await;
        if let Err(e) = c.delete_stream(&sid).await {
            panic!("delete: {e}: {:#?}", server.output());
        }
        assert!(c.get_stream(&sid).await.unwrap().is_none());
    }
    std::fs::remove_dir_all(&dir).ok();
}
