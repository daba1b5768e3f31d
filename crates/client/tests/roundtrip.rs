//! The client against an in-process eddy-server, over both transports.

use eddy_client::{Batch, Client, ClientError, Poll, Transport};
use eddy_wire::Identifier;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};

#[compio::test]
async fn login_create_send_poll_and_offsets_over_both_transports() {
    let dir = std::env::temp_dir().join(format!("eddy-client-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    let mut config = eddy_server::Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.clone();
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    let server = eddy_server::start(config).unwrap();
    for (i, (transport, addr)) in [
        (Transport::Tcp, server.tcp_addr.unwrap()),
        (Transport::WebSocket, server.ws_addr.unwrap()),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = Client::connect(transport, addr).await.unwrap();
        assert!(matches!(c.create_stream("x").await, Err(ClientError::Status(40))), "login first");
        assert_eq!(c.login("iggy", "iggy").await.unwrap(), 0);
        let s = Identifier::Numeric(c.create_stream(&format!("s{i}")).await.unwrap());
        let t = Identifier::Numeric(c.create_topic(&s, "t", 2).await.unwrap());
        let payloads: Vec<Vec<u8>> = (0..100u8).map(|n| vec![n; 10 + n as usize]).collect();
        let batch = Batch::from_payloads(
            payloads.iter().enumerate().map(|(k, p)| (k as u128 + 1, p.as_slice())),
        );
        c.send(&s, &t, &Partitioning::PartitionId(1), &batch).await.unwrap();
        c.send(&s, &t, &Partitioning::PartitionId(1), &batch).await.unwrap();
        let polled = c
            .poll(
                &s,
                &t,
                &Poll {
                    partition: 1,
                    consumer: 7,
                    strategy: PollingStrategy::Offset(95),
                    count: 10,
                    auto_commit: false,
                },
            )
            .await
            .unwrap();
        assert_eq!(polled.current_offset, 199);
        assert_eq!(polled.messages.len(), 10);
        for (k, m) in polled.messages.iter().enumerate() {
            let n = (95 + k) % 100;
            assert_eq!((m.offset, m.id), (95 + k as u64, n as u128 + 1));
            assert_eq!(m.payload, payloads[n]);
        }
        c.store_offset(&s, &t, 1, 7, 150).await.unwrap();
        assert_eq!(c.get_offset(&s, &t, 1, 7).await.unwrap(), Some(150));
        assert_eq!(c.get_offset(&s, &t, 0, 7).await.unwrap(), None);
        let next = c
            .poll(
                &s,
                &t,
                &Poll {
                    partition: 1,
                    consumer: 7,
                    strategy: PollingStrategy::Next,
                    count: 5,
                    auto_commit: true,
                },
            )
            .await
            .unwrap();
        assert_eq!(next.messages[0].offset, 151);
        c.delete_stream(&s).await.unwrap();
        c.ping().await.unwrap();
    }
    server.stop();
    std::fs::remove_dir_all(&dir).ok();
}
