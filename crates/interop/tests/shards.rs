//! Cross-shard routing with 2 shards: a topic whose partitions are owned by both shards, written
//! and read through many connections (which the kernel spreads over both shards' listeners), so
//! every connection reaches partitions owned by the other shard by message passing.

mod common;

use bytes::Bytes;
use common::{Server, Transport, client, temp_data_dir};
use eddy_server::metadata::PartitionKey;
use eddy_server::shard::route::owner;
use iggy::prelude::*;

const PARTITIONS: u32 = 8;
const CLIENTS: u32 = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_reaches_every_partition_across_shards() {
    let owners: Vec<usize> = (0..PARTITIONS)
        .map(|p| owner(PartitionKey { stream: 0, topic: 0, partition: p }, 2))
        .collect();
    assert!(owners.contains(&0) && owners.contains(&1), "partitions on both shards: {owners:?}");

    let dir = temp_data_dir("shards");
    let server = Server::start(&dir, 2, false);
    let admin = client(&server, Transport::Tcp).await;
    admin.create_stream("s").await.unwrap();
    let (stream, topic) = (Identifier::numeric(0).unwrap(), Identifier::numeric(0).unwrap());
    common::create_topic(&admin, &stream, "t", PARTITIONS).await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(
            client(&server, if i % 2 == 0 { Transport::Tcp } else { Transport::WebSocket }).await,
        );
    }
    for (i, c) in clients.iter().enumerate() {
        for p in 0..PARTITIONS {
            let id = (i as u128) << 32 | u128::from(p);
            let mut batch = vec![
                IggyMessage::builder()
                    .id(id)
                    .payload(Bytes::from(format!("c{i} p{p}")))
                    .build()
                    .unwrap(),
            ];
            c.send_messages(&stream, &topic, &Partitioning::partition_id(p), &mut batch)
                .await
                .unwrap();
        }
    }
    // Each client reads every partition back: the messages of all clients, in send order.
    let consumer = Consumer::new(Identifier::numeric(1).unwrap());
    for c in &clients {
        for p in 0..PARTITIONS {
            let polled = c
                .poll_messages(
                    &stream,
                    &topic,
                    Some(p),
                    &consumer,
                    &PollingStrategy::first(),
                    100,
                    false,
                )
                .await
                .unwrap();
            let ids: Vec<u128> = polled.messages.iter().map(|m| m.header.id).collect();
            let expected: Vec<u128> =
                (0..CLIENTS as u128).map(|i| i << 32 | u128::from(p)).collect();
            assert_eq!(ids, expected, "partition {p}");
        }
    }
    // Balanced sends spread over all partitions.
    let mut batch: Vec<IggyMessage> = (0..16)
        .map(|_| IggyMessage::builder().payload(Bytes::from_static(b"b")).build().unwrap())
        .collect();
    for m in batch.chunks_mut(1) {
        admin.send_messages(&stream, &topic, &Partitioning::balanced(), m).await.unwrap();
    }
    let details = admin.get_topic(&stream, &topic).await.unwrap().unwrap();
    assert_eq!(details.messages_count, u64::from(PARTITIONS * CLIENTS) + 16);
    assert!(
        details.partitions.iter().all(|p| p.messages_count == u64::from(CLIENTS) + 2),
        "round-robin"
    );
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
