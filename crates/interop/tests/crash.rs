//! A `kill -9` of the server during a stream of fsync'd sends loses no acknowledged message:
//! several rounds of two concurrent senders, a SIGKILL at a varying moment, a restart on the same
//! data, and a full read-back. Bounded: 6 rounds of well under a second of sending each.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Server, Transport, client, temp_data_dir};
use iggy::prelude::*;

const ROUNDS: u64 = 6;
const BATCH: u128 = 20;

async fn sender(c: IggyClient, lane: u128, acked: Arc<Mutex<Vec<u128>>>, stop_after: u128) {
    let stream = Identifier::named("crash").unwrap();
    let topic = Identifier::named("t").unwrap();
    let mut seq = 0u128;
    while seq < stop_after {
        // Ids are unique across lanes and rounds: lane in the top bits.
        let ids: Vec<u128> = (0..BATCH).map(|k| (lane << 64) | (seq + k)).collect();
        let mut batch: Vec<IggyMessage> = ids
            .iter()
            .map(|&id| {
                IggyMessage::builder()
                    .id(id)
                    .payload(Bytes::from(vec![(id % 251) as u8; 100 + (id % 900) as usize]))
                    .build()
                    .unwrap()
            })
            .collect();
        match c.send_messages(&stream, &topic, &Partitioning::partition_id(0), &mut batch).await {
            Ok(()) => acked.lock().unwrap().extend(ids),
            Err(_) => return,
        }
        seq += BATCH;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_fsynced_sends_loses_no_acknowledged_message() {
    let dir = temp_data_dir("crash");
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..ROUNDS {
        let server = Server::start(&dir, 2, true);
        let admin = client(&server, Transport::Tcp).await;
        if round == 0 {
            admin.create_stream("crash").await.unwrap();
            common::create_topic(&admin, &Identifier::named("crash").unwrap(), "t", 1).await;
        }
        let lanes: Vec<_> = (0..2u128)
            .map(|lane| {
                let acked = acked.clone();
                let transport = if lane == 0 { Transport::Tcp } else { Transport::WebSocket };
                let server_ref = (server.tcp, server.ws);
                tokio::spawn(async move {
                    let fake = common::Server::addresses_only(server_ref.0, server_ref.1);
                    let c = client(&fake, transport).await;
                    sender(c, lane + 1 + u128::from(round) * 2, acked, 1_000_000).await;
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(150 + round * 70)).await;
        server.kill();
        // The SDK would keep reconnecting; what was acknowledged is already recorded.
        for lane in lanes {
            lane.abort();
            lane.await.ok();
        }
        drop(admin);

        // Restart and read everything back.
        let server = Server::start(&dir, 2, true);
        let c = client(&server, Transport::Tcp).await;
        let consumer = Consumer::new(Identifier::numeric(1).unwrap());
        let mut stored = Vec::new();
        let mut offset = 0u64;
        loop {
            let polled = c
                .poll_messages(
                    &Identifier::named("crash").unwrap(),
                    &Identifier::named("t").unwrap(),
                    Some(0),
                    &consumer,
                    &PollingStrategy::offset(offset),
                    5000,
                    false,
                )
                .await
                .unwrap();
            if polled.messages.is_empty() {
                break;
            }
            for m in polled.messages {
                assert_eq!(m.header.offset, offset, "offsets are contiguous");
                assert_eq!(m.payload.len(), 100 + (m.header.id % 900) as usize, "payload intact");
                stored.push(m.header.id);
                offset += 1;
            }
        }
        let unique: HashSet<u128> = stored.iter().copied().collect();
        assert_eq!(unique.len(), stored.len(), "no message stored twice");
        let acked_now = acked.lock().unwrap().clone();
        let missing: Vec<&u128> = acked_now.iter().filter(|id| !unique.contains(id)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged messages lost, e.g. {:?}",
            missing.len(),
            missing.first()
        );
        assert!(!acked_now.is_empty(), "round {round}: the senders got acknowledgements");
        eprintln!("round {round}: {} acknowledged, {} stored", acked_now.len(), stored.len());
        drop(c);
        server.kill();
    }
    std::fs::remove_dir_all(&dir).ok();
}
