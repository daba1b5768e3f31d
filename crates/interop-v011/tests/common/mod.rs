//! Starts `eddy-server` (the process helpers `crates/interop` uses) and builds 0.11.0 SDK
//! clients for it.

#![allow(dead_code)]

#[path = "../../../interop/tests/common/server.rs"]
mod server;

use iggy::prelude::*;
pub use server::*;

/// A connected 0.11 client that has not logged in.
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

/// A connected 0.11 client logged in as root.
pub async fn client(server: &Server, transport: Transport) -> IggyClient {
    let client = anonymous(server, transport).await;
    client.login_user("iggy", "iggy").await.expect("logs in");
    client
}
