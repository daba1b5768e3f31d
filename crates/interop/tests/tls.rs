//! Apache Iggy's SDK (0.10.0) over TLS against eddy-server: TCP with `[tcp.tls]` and wss:// with
//! `[websocket.tls]`, certificates from a CA made at test time, the SDK trusting that CA; a
//! client that does not trust it is refused, and a plain client on the TLS port gets nothing.

mod common;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use common::{Server, temp_data_dir};
use iggy::prelude::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// Writes a CA and a server certificate for `localhost` / 127.0.0.1 signed by it.
fn make_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &rcgen::Issuer::new(ca_params, ca_key)).unwrap();
    let paths = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

fn tls_client(server: &Server, websocket: bool, ca: Option<&Path>) -> IggyClient {
    let ca = ca.map(|p| p.display().to_string());
    match websocket {
        false => {
            let b = IggyClient::builder()
                .with_tcp()
                .with_server_address(server.tcp.to_string())
                .with_tls_enabled(true)
                .with_tls_domain("localhost".into())
                // SDK 0.10's WebSocket client skips certificate checks unless told (its TCP
                // client checks by default): ask for them on both.
                .with_tls_validate_certificate(true)
                .with_reconnection_max_retries(Some(0));
            match ca {
                Some(ca) => b.with_tls_ca_file(ca).build(),
                None => b.build(),
            }
        }
        true => {
            let b = IggyClient::builder()
                .with_websocket()
                .with_server_address(server.ws.to_string())
                .with_tls_enabled(true)
                .with_tls_domain("localhost".into())
                // SDK 0.10's WebSocket client skips certificate checks unless told (its TCP
                // client checks by default): ask for them on both.
                .with_tls_validate_certificate(true)
                .with_reconnection_max_retries(Some(0));
            match ca {
                Some(ca) => b.with_tls_ca_file(ca).build(),
                None => b.build(),
            }
        }
    }
    .unwrap()
}

async fn round_trip(c: &IggyClient, stream: &str) {
    c.login_user("iggy", "iggy").await.unwrap();
    c.create_stream(stream).await.unwrap();
    let s = Identifier::named(stream).unwrap();
    common::create_topic(c, &s, "t", 1).await;
    let t = Identifier::named("t").unwrap();
    let payloads: Vec<Bytes> =
        (0..200u32).map(|i| Bytes::from(vec![i as u8; 1 + (i as usize * 997) % 70_000])).collect();
    let mut batch: Vec<IggyMessage> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| IggyMessage::builder().id(i as u128 + 1).payload(p.clone()).build().unwrap())
        .collect();
    c.send_messages(&s, &t, &Partitioning::partition_id(0), &mut batch).await.unwrap();
    let polled = c
        .poll_messages(
            &s,
            &t,
            Some(0),
            &Consumer::new(Identifier::numeric(1).unwrap()),
            &PollingStrategy::offset(0),
            1000,
            false,
        )
        .await
        .unwrap();
    assert_eq!(polled.messages.len(), payloads.len());
    for (i, (m, p)) in polled.messages.iter().zip(&payloads).enumerate() {
        assert_eq!(m.header.id, i as u128 + 1);
        assert_eq!(&m.payload, p);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_works_over_tls_on_tcp_and_websocket() {
    let dir = temp_data_dir("tls");
    let (ca, cert, key) = make_pki(&dir.join("pki"));
    let mut command = Server::command(&dir.join("data"), 2, true);
    command.args(["--root-password", "iggy"]);
    command.arg("--tcp-tls-cert").arg(&cert).arg("--tcp-tls-key").arg(&key);
    command.arg("--ws-tls-cert").arg(&cert).arg("--ws-tls-key").arg(&key);
    let server = Server::spawn(command, &dir.join("data"));

    for (websocket, stream) in [(false, "over-tcp"), (true, "over-wss")] {
        let c = tls_client(&server, websocket, Some(&ca));
        c.connect().await.unwrap();
        round_trip(&c, stream).await;
        // A client that does not trust the CA cannot log in.
        let untrusting = tls_client(&server, websocket, None);
        let refused = match untrusting.connect().await {
            Err(_) => true,
            Ok(()) => untrusting.login_user("iggy", "iggy").await.is_err(),
        };
        assert!(refused, "websocket={websocket}: an untrusted certificate was accepted");
    }
    // A plain client on the TLS port is not served.
    let plain = IggyClient::builder()
        .with_tcp()
        .with_server_address(server.tcp.to_string())
        .with_reconnection_max_retries(Some(0))
        .build()
        .unwrap();
    let served = match plain.connect().await {
        Err(_) => false,
        Ok(()) => tokio::time::timeout(std::time::Duration::from_secs(5), plain.ping())
            .await
            .is_ok_and(|r| r.is_ok()),
    };
    assert!(!served, "a plaintext client was served on the TLS port");
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
