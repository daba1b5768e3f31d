//! wss:// end to end with a CA made at test time (rcgen): a TLS server from PEM files, a client
//! trusting that CA (with SNI), messages both ways with and without permessage-deflate, and a
//! client that does not trust the CA refused.

use std::path::PathBuf;

use compio::net::TcpListener;
use eddy_ws::deflate::DeflateConfig;
use eddy_ws::tls::{TlsAcceptor, client_config, server_config};
use eddy_ws::{ClientRequest, Config, Error, Message};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// Writes a CA and a server certificate for `localhost` signed by it; returns their paths.
fn make_pki(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("eddy-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
    let (ca_path, cert_path, key_path) =
        (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&cert_path, server_cert.pem()).unwrap();
    std::fs::write(&key_path, server_key.serialize_pem()).unwrap();
    (ca_path, cert_path, key_path)
}

async fn tls_echo_server(cert: PathBuf, key: PathBuf, config: Config) -> u16 {
    let acceptor = TlsAcceptor::from(server_config(&cert, &key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    compio::runtime::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            let config = config.clone();
            compio::runtime::spawn(async move {
                let Ok(mut ws) = eddy_ws::tls::accept(&acceptor, tcp, &config, |_, _| Ok(())).await
                else {
                    return;
                };
                while let Ok(msg) = ws.read().await {
                    if msg.is_data() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
        }
    })
    .detach();
    port
}

#[compio::test]
async fn wss_round_trips_with_a_generated_ca_with_and_without_compression() {
    let (ca, cert, key) = make_pki("ok");
    for deflate in [false, true] {
        let config = if deflate {
            Config::default().with_deflate(DeflateConfig::default())
        } else {
            Config::default()
        };
        let port = tls_echo_server(cert.clone(), key.clone(), config.clone()).await;
        let tls = client_config(Some(&ca)).unwrap();
        let request = ClientRequest::new(&format!("wss://localhost:{port}/secure")).unwrap();
        let (mut ws, _) = eddy_ws::tls::connect_with(request, &config, tls).await.unwrap();
        assert_eq!(ws.deflate_enabled(), deflate);
        let text = "wss ".repeat(5000);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(ws.read().await.unwrap(), Message::text(text));
        let big = vec![0x42u8; 1 << 20];
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.read().await.unwrap(), Message::binary(big));
        ws.close(None).await.unwrap();
    }
    std::fs::remove_dir_all(ca.parent().unwrap()).ok();
}

#[compio::test]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let (ca, cert, key) = make_pki("untrusted");
    let port = tls_echo_server(cert, key, Config::default()).await;
    let result = eddy_ws::tls::connect(&format!("wss://localhost:{port}/")).await;
    assert!(matches!(result, Err(Error::Io(_))), "{:?}", result.map(|_| ()));
    let plain = eddy_ws::connect(&format!("wss://localhost:{port}/")).await;
    assert!(plain.is_err(), "the plain connect refuses wss://");
    std::fs::remove_dir_all(ca.parent().unwrap()).ok();
}

#[compio::test]
async fn a_dropped_fill_over_tls_loses_no_byte() {
    // The server waits for input under timers that fire at varied points (0–3 ms) while the
    // client sends 3,000 messages in bursts with pauses between: every cancelled `fill` over
    // TLS must leave the bytes it was reading to the next one. A lost byte desynchronises the
    // frames (a protocol error) or loses a message.
    let (ca, cert, key) = make_pki("fill");
    let acceptor = TlsAcceptor::from(server_config(&cert, &key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws =
            eddy_ws::tls::accept(&acceptor, tcp, &Config::default(), |_, _| Ok(())).await.unwrap();
        let (mut got, mut cancelled, mut tick) = (Vec::new(), 0u32, 0u64);
        while got.len() < 3000 {
            while ws.has_buffered_message() {
                match ws.read().await.unwrap() {
                    Message::Binary(b) => got.push(b),
                    other => panic!("unexpected {other:?}"),
                }
            }
            if got.len() == 3000 {
                break;
            }
            tick = tick.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let wait = std::time::Duration::from_micros((tick >> 33) % 3000);
            match compio::time::timeout(wait, ws.fill()).await {
                Ok(n) => assert!(n.unwrap() > 0, "EOF before every message"),
                Err(_) => cancelled += 1,
            }
        }
        (got, cancelled)
    });
    let tls = client_config(Some(&ca)).unwrap();
    let request = ClientRequest::new(&format!("wss://localhost:{port}/")).unwrap();
    let (mut ws, _) = eddy_ws::tls::connect_with(request, &Config::default(), tls).await.unwrap();
    let sent: Vec<Vec<u8>> =
        (0..3000u32).map(|i| (0..(i % 700) + 1).map(|j| (i + j) as u8).collect()).collect();
    for (i, payload) in sent.iter().enumerate() {
        ws.feed(Message::binary(payload.clone())).unwrap();
        if i % 7 == 0 {
            ws.flush().await.unwrap();
            compio::time::sleep(std::time::Duration::from_micros((i as u64 * 37) % 2000)).await;
        }
    }
    ws.flush().await.unwrap();
    let (got, cancelled) = server.await.unwrap();
    assert!(cancelled > 50, "the timers cancelled too few fills ({cancelled}) to mean anything");
    assert_eq!(got.len(), sent.len());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(&g[..], &s[..], "message {i}");
    }
    std::fs::remove_dir_all(ca.parent().unwrap()).ok();
}

#[path = "support/cancel.rs"]
mod support;

#[compio::test]
async fn a_read_raced_against_timers_loses_nothing_over_tls() {
    // `read()` itself (not only `fill`) in a race with random timers over wss://, with writes
    // while a dropped read is in flight (see tests/support/cancel.rs).
    let (ca, cert, key) = make_pki("cancel");
    let acceptor = TlsAcceptor::from(server_config(&cert, &key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws =
            eddy_ws::tls::accept(&acceptor, tcp, &Config::default(), |_, _| Ok(())).await.unwrap();
        support::read_with_timers(ws).await
    });
    let tls = client_config(Some(&ca)).unwrap();
    let request = ClientRequest::new(&format!("wss://localhost:{port}/")).unwrap();
    let (ws, _) = eddy_ws::tls::connect_with(request, &Config::default(), tls).await.unwrap();
    let ticks = compio::time::timeout(std::time::Duration::from_secs(60), support::send_stream(ws))
        .await
        .expect("the stream completes");
    let (cancelled, sent) = server.await.unwrap();
    support::check(cancelled, sent, &ticks);
    std::fs::remove_dir_all(ca.parent().unwrap()).ok();
}
