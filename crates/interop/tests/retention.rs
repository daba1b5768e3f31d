//! Segments and retention driven by Apache Iggy's own Rust SDK (iggy 0.10.0) against
//! eddy-server (1 MiB segments, a retention pass every 200 ms): a topic capped at 10 MiB keeps
//! under its cap after 100 MiB were sent; messages past a 2 s expiry go; DELETE_SEGMENTS removes
//! the oldest segments on request; a stored consumer offset holds back what it has not passed
//! (as in Iggy); the active segment always stays; polls from offset 0 start at the new first
//! offset and the counts the server reports stay true.

mod common;

use std::time::{Duration, Instant};

use common::{Server, Transport, client, temp_data_dir};
use iggy::prelude::*;

const MIB: u64 = 1 << 20;

/// Sends `mib` MiB in batches of 16 messages of 64 KiB to partition `partition`.
async fn send_mib(
    c: &IggyClient,
    stream: &Identifier,
    topic: &Identifier,
    partition: u32,
    mib: u64,
) {
    let payload = bytes::Bytes::from(vec![7u8; 64 << 10]);
    for _ in 0..mib {
        let mut batch: Vec<IggyMessage> = (0..16)
            .map(|_| IggyMessage::builder().payload(payload.clone()).build().unwrap())
            .collect();
        c.send_messages(stream, topic, &Partitioning::partition_id(partition), &mut batch)
            .await
            .unwrap();
    }
}

async fn create(
    c: &IggyClient,
    stream: &Identifier,
    name: &str,
    partitions: u32,
    expiry: IggyExpiry,
    max: MaxTopicSize,
) -> Identifier {
    let t = c
        .create_topic(stream, name, partitions, CompressionAlgorithm::None, None, expiry, max)
        .await
        .unwrap();
    Identifier::numeric(t.id).unwrap()
}

/// The first offset a poll from 0 returns, and how many messages are there from it.
async fn first_and_count(
    c: &IggyClient,
    stream: &Identifier,
    topic: &Identifier,
    partition: u32,
) -> (u64, u64) {
    let consumer = Consumer::new(Identifier::numeric(99).unwrap());
    let mut first = None;
    let mut count = 0u64;
    let mut offset = 0;
    loop {
        let polled = c
            .poll_messages(
                stream,
                topic,
                Some(partition),
                &consumer,
                &PollingStrategy::offset(offset),
                1000,
                false,
            )
            .await
            .unwrap();
        let Some(last) = polled.messages.last() else { break };
        first.get_or_insert(polled.messages[0].header.offset);
        count += polled.messages.len() as u64;
        offset = last.header.offset + 1;
    }
    (first.unwrap_or(offset), count)
}

async fn topic(c: &IggyClient, stream: &Identifier, topic: &Identifier) -> TopicDetails {
    c.get_topic(stream, topic).await.unwrap().unwrap()
}

/// Waits (at most 20 s) until `done` holds for the topic.
async fn wait_for(
    c: &IggyClient,
    stream: &Identifier,
    t: &Identifier,
    done: impl Fn(&TopicDetails) -> bool,
) -> TopicDetails {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let details = topic(c, stream, t).await;
        if done(&details) || Instant::now() > deadline {
            return details;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scenario(transport: Transport, sent_mib: u64, cap_mib: u64) {
    let dir = temp_data_dir(&format!("retention-{transport:?}"));
    let mut command = Server::command(&dir, 2, false);
    command
        .args(["--root-password", "iggy"])
        .env("EDDY_STORAGE_SEGMENT_SIZE", MIB.to_string())
        .env("EDDY_STORAGE_RETENTION_INTERVAL_MS", "200");
    let server = Server::spawn(command, &dir);
    let c = client(&server, transport).await;
    let s = Identifier::numeric(c.create_stream("retention").await.unwrap().id).unwrap();

    // Size: two partitions, capped; far more is sent than the cap.
    let cap = MaxTopicSize::Custom(IggyByteSize::from(cap_mib * MIB));
    let capped = create(&c, &s, "capped", 2, IggyExpiry::NeverExpire, cap).await;
    for p in 0..2 {
        send_mib(&c, &s, &capped, p, sent_mib / 2).await;
    }
    // Iggy's rule: deleted down to under 90% of the cap.
    let under = cap_mib * MIB - cap_mib * MIB / 10;
    let details = wait_for(&c, &s, &capped, |t| t.size.as_bytes_u64() < under).await;
    let size = details.size.as_bytes_u64();
    assert!(size < under, "kept under 90% of its cap: {size} bytes");
    assert!(size >= MIB, "the active segments stay: {size} bytes");
    let mut kept = 0;
    for p in 0..2 {
        let (first, count) = first_and_count(&c, &s, &capped, p).await;
        assert!(first > 0, "partition {p}: the oldest messages went");
        let sent = sent_mib / 2 * 16;
        assert_eq!(
            first + count,
            sent,
            "partition {p}: nothing after the first kept one is missing"
        );
        kept += count;
    }
    assert_eq!(details.messages_count, kept, "the topic's count is what a poll finds");

    // Expiry: everything but the active segment goes once older than 2 s.
    let expiry = IggyExpiry::ExpireDuration(IggyDuration::from(Duration::from_secs(2)));
    let expiring = create(&c, &s, "expiring", 1, expiry, MaxTopicSize::Unlimited).await;
    let sent_from = Instant::now();
    send_mib(&c, &s, &expiring, 0, 4).await;
    let before = topic(&c, &s, &expiring).await.messages_count;
    assert_eq!(before, 64);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let still = topic(&c, &s, &expiring).await.messages_count;
    if sent_from.elapsed() < Duration::from_millis(1900) {
        assert_eq!(still, 64, "nothing is 2 s old yet");
    }
    // Each sealed segment goes once its newest message is 2 s old: on a loaded machine the four
    // MiB take a while to send, so they may go in more than one pass of the retention task.
    let after = wait_for(&c, &s, &expiring, |t| t.messages_count <= 16).await;
    let (first, count) = first_and_count(&c, &s, &expiring, 0).await;
    assert_eq!(after.messages_count, count);
    assert!(count > 0 && count <= 16, "only the active segment is left: {count}");
    assert_eq!(first + count, 64);

    // DELETE_SEGMENTS, held back by a stored consumer offset until it has passed.
    let manual =
        create(&c, &s, "manual", 1, IggyExpiry::NeverExpire, MaxTopicSize::Unlimited).await;
    send_mib(&c, &s, &manual, 0, 5).await;
    let reader = Consumer::new(Identifier::numeric(1).unwrap());
    c.store_consumer_offset(&reader, &s, &manual, Some(0), 5).await.unwrap();
    c.delete_segments(&s, &manual, 0, 2).await.unwrap();
    assert_eq!(
        first_and_count(&c, &s, &manual, 0).await,
        (0, 80),
        "offset 5 holds the first segment"
    );
    c.store_consumer_offset(&reader, &s, &manual, Some(0), 40).await.unwrap();
    c.delete_segments(&s, &manual, 0, 2).await.unwrap();
    let (first, count) = first_and_count(&c, &s, &manual, 0).await;
    assert!(first > 0 && first <= 41, "two segments went, none past offset 40: first {first}");
    assert_eq!(first + count, 80);
    c.store_consumer_offset(&reader, &s, &manual, Some(0), 79).await.unwrap();
    c.delete_segments(&s, &manual, 0, 1000).await.unwrap();
    let (first, count) = first_and_count(&c, &s, &manual, 0).await;
    assert!(count > 0, "the active segment stays");
    assert_eq!(first + count, 80);
    let gone = c.delete_segments(&s, &manual, 7, 1).await;
    assert!(gone.is_err(), "no partition 7: {gone:?}");

    // The server's totals agree with the topics, and a restart keeps all of it.
    let totals = |stats: &Stats| (stats.messages_count, stats.segments_count);
    let stats = c.get_stats().await.unwrap();
    let stream = c.get_stream(&s).await.unwrap().unwrap();
    assert_eq!(stats.messages_count, stream.messages_count);
    drop(c);
    server.kill();
    let mut command = Server::command(&dir, 2, false);
    command.args(["--root-password", "iggy"]).env("EDDY_STORAGE_SEGMENT_SIZE", MIB.to_string());
    let server = Server::spawn(command, &dir);
    let c = client(&server, transport).await;
    assert_eq!(first_and_count(&c, &s, &manual, 0).await, (first, count));
    assert_eq!(totals(&c.get_stats().await.unwrap()), totals(&stats));
    drop(c);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_over_tcp() {
    scenario(Transport::Tcp, 100, 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_over_websocket() {
    scenario(Transport::WebSocket, 20, 4).await;
}
