//! One topic written and read by clients of both wires: the 0.10 SDK (0.8 wire) and the 0.11
//! SDK (0.11 wire) on the same ports, each sending half the messages and each polling all of
//! them back: both see identical ids, offsets, payloads, user headers and timestamps.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use bytes::Bytes;
use common::{Server, Transport, client, temp_data_dir};

fn payload(i: u32) -> Bytes {
    Bytes::from(format!("message {i} {}", "x".repeat((i % 97) as usize)))
}

/// What a message is, whichever SDK read it.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    offset: u64,
    id: u128,
    timestamp: u64,
    origin_timestamp: u64,
    payload: Bytes,
    header: String,
}

async fn send_v011(c: &iggy::prelude::IggyClient, from: u32, to: u32) {
    use iggy::prelude::*;
    let mut batch: Vec<IggyMessage> = (from..to)
        .map(|i| {
            let mut h = BTreeMap::new();
            h.insert(
                HeaderKey::from_str("n").unwrap(),
                HeaderValue::from_str(&i.to_string()).unwrap(),
            );
            IggyMessage::builder()
                .id(u128::from(i))
                .payload(payload(i))
                .user_headers(h)
                .build()
                .unwrap()
        })
        .collect();
    let (s, t) = (Identifier::named("mixed").unwrap(), Identifier::named("shared").unwrap());
    c.send_messages(&s, &t, &Partitioning::partition_id(0), &mut batch).await.unwrap();
}

async fn send_v010(c: &iggy_010::prelude::IggyClient, from: u32, to: u32) {
    use iggy_010::prelude::*;
    let mut batch: Vec<IggyMessage> = (from..to)
        .map(|i| {
            let mut h = BTreeMap::new();
            h.insert(
                HeaderKey::from_str("n").unwrap(),
                HeaderValue::from_str(&i.to_string()).unwrap(),
            );
            IggyMessage::builder()
                .id(u128::from(i))
                .payload(payload(i))
                .user_headers(h)
                .build()
                .unwrap()
        })
        .collect();
    let (s, t) = (Identifier::named("mixed").unwrap(), Identifier::named("shared").unwrap());
    c.send_messages(&s, &t, &Partitioning::partition_id(0), &mut batch).await.unwrap();
}

async fn read_v011(c: &iggy::prelude::IggyClient, total: u32) -> Vec<Seen> {
    use iggy::prelude::*;
    let (s, t) = (Identifier::named("mixed").unwrap(), Identifier::named("shared").unwrap());
    let polled = c
        .poll_messages(
            &s,
            &t,
            Some(0),
            &Consumer::default(),
            &PollingStrategy::offset(0),
            total,
            false,
        )
        .await
        .unwrap();
    polled
        .messages
        .iter()
        .map(|m| {
            let h = m.user_headers_map().unwrap().unwrap();
            Seen {
                offset: m.header.offset,
                id: m.header.id,
                timestamp: m.header.timestamp,
                origin_timestamp: m.header.origin_timestamp,
                payload: m.payload.clone(),
                header: h
                    .get(&HeaderKey::from_str("n").unwrap())
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            }
        })
        .collect()
}

async fn read_v010(c: &iggy_010::prelude::IggyClient, total: u32) -> Vec<Seen> {
    use iggy_010::prelude::*;
    let (s, t) = (Identifier::named("mixed").unwrap(), Identifier::named("shared").unwrap());
    let polled = c
        .poll_messages(
            &s,
            &t,
            Some(0),
            &Consumer::default(),
            &PollingStrategy::offset(0),
            total,
            false,
        )
        .await
        .unwrap();
    polled
        .messages
        .iter()
        .map(|m| {
            let h = m.user_headers_map().unwrap().unwrap();
            Seen {
                offset: m.header.offset,
                id: m.header.id,
                timestamp: m.header.timestamp,
                origin_timestamp: m.header.origin_timestamp,
                payload: m.payload.clone(),
                header: h
                    .get(&HeaderKey::from_str("n").unwrap())
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
            }
        })
        .collect()
}

async fn v010_client(server: &Server, transport: Transport) -> iggy_010::prelude::IggyClient {
    use iggy_010::prelude::*;
    let client = match transport {
        Transport::Tcp => {
            IggyClient::builder().with_tcp().with_server_address(server.tcp.to_string()).build()
        }
        Transport::WebSocket => IggyClient::builder()
            .with_websocket()
            .with_server_address(server.ws.to_string())
            .build(),
    }
    .unwrap();
    client.connect().await.unwrap();
    client.login_user("iggy", "iggy").await.unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_both_wires_share_a_topic_and_read_identical_messages() {
    let dir = temp_data_dir("v011-mixed");
    let server = Server::start(&dir, 2, true);
    for (new_on, old_on) in
        [(Transport::Tcp, Transport::WebSocket), (Transport::WebSocket, Transport::Tcp)]
    {
        let new = client(&server, new_on).await;
        let old = v010_client(&server, old_on).await;
        {
            use iggy::prelude::*;
            let options = TopicCreateOptions { partitions_count: Some(1), ..Default::default() };
            new.create_stream("mixed").await.unwrap();
            new.create_topic(&Identifier::named("mixed").unwrap(), "shared", &options)
                .await
                .unwrap();
        }
        // Interleaved: 0.10, 0.11, 0.10, 0.11.
        send_v010(&old, 0, 50).await;
        send_v011(&new, 50, 120).await;
        send_v010(&old, 120, 121).await;
        send_v011(&new, 121, 200).await;
        let by_new = read_v011(&new, 1000).await;
        let by_old = read_v010(&old, 1000).await;
        assert_eq!(by_new.len(), 200);
        assert_eq!(by_new, by_old, "both wires read the same messages");
        for (k, m) in by_new.iter().enumerate() {
            assert_eq!((m.offset, m.id), (k as u64, k as u128));
            assert_eq!(m.payload, payload(k as u32));
            assert_eq!(m.header, k.to_string());
            assert!(m.origin_timestamp > 0 && m.timestamp >= m.origin_timestamp);
        }
        use iggy::prelude::*;
        new.delete_stream(&Identifier::named("mixed").unwrap()).await.unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
}
