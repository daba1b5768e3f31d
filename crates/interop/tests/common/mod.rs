//! Starts `eddy-server` (see `server.rs`, shared with the other SDK versions' test crates) and
//! builds SDK clients for it.

#![allow(dead_code)]

mod server;

use iggy::prelude::*;
pub use server::*;

/// A connected SDK client that has not logged in.
pub async fn anonymous(server: &Server, transport: Transport) -> IggyClient {
    let client = match transport {
        Transport::Tcp => IggyClient::builder()
            .with_tcp()
            .with_server_address(server.tcp.to_string())
            .build()
            .expect("client builds"),
        Transport::WebSocket => IggyClient::builder()
            .with_websocket()
            .with_server_address(server.ws.to_string())
            .build()
            .expect("client builds"),
    };
    client.connect().await.expect("connects");
    client
}

/// A connected SDK client logged in as root.
pub async fn client(server: &Server, transport: Transport) -> IggyClient {
    let client = anonymous(server, transport).await;
    client.login_user("iggy", "iggy").await.expect("logs in");
    client
}

/// Creates topic `name` with `partitions` partitions and the server's defaults (no compression,
/// no expiry, default size) in `stream`; returns what the server answered.
pub async fn create_topic(
    client: &IggyClient,
    stream: &Identifier,
    name: &str,
    partitions: u32,
) -> TopicDetails {
    client
        .create_topic(
            stream,
            name,
            partitions,
            CompressionAlgorithm::None,
            None,
            IggyExpiry::NeverExpire,
            MaxTopicSize::ServerDefault,
        )
        .await
        .expect("topic created")
}
