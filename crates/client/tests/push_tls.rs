//! Push subscriptions over TLS: TCP with `[tcp.tls]` and wss:// with `[websocket.tls]` against an
//! in-process eddy-server with two shards. A TLS stream cannot be peeked, so a subscribed TLS
//! connection at rest races its read against its pushes (a dropped TLS read keeps its bytes);
//! these tests check that every message is pushed once and in order while the same connection's
//! requests are still answered at once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use compio::net::TcpStream;
use eddy_client::{Batch, Client, Transport};
use eddy_wire::Identifier;
use eddy_wire::codes::{command, status};
use eddy_wire::commands::Consumer;
use eddy_wire::commands::messages::{Partitioning, PollingStrategy};
use eddy_wire::commands::push::{PushFrame, Subscribe};
use eddy_ws::tls::{TlsConnector, client_config};

const S: Identifier = Identifier::Numeric(0);
const T: Identifier = Identifier::Numeric(0);
const TOTAL: u64 = 600;

/// A self-signed certificate for `localhost` (the client trusts it as its root).
fn pki(name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("eddy-push-tls-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (dir, cert_path, key_path)
}

/// A server with TLS on one transport (`websocket` or TCP) and the other plain, for the admin.
fn start(name: &str, websocket: bool) -> (eddy_server::ServerHandle, PathBuf) {
    let (dir, cert, key) = pki(name);
    let mut config = eddy_server::Config::default();
    config.auth.root_password = "iggy".into();
    config.system.data_dir = dir.join("data");
    config.system.shards = 2;
    config.tcp.address = "127.0.0.1:0".parse().unwrap();
    config.websocket.address = "127.0.0.1:0".parse().unwrap();
    let tls = if websocket { &mut config.websocket.tls } else { &mut config.tcp.tls };
    tls.enabled = true;
    tls.cert_file = cert.clone();
    tls.key_file = key;
    (eddy_server::start(config).unwrap(), cert)
}

fn login_payload() -> BytesMut {
    let mut out = BytesMut::new();
    eddy_wire::commands::users::Login {
        username: "iggy".into(),
        password: "iggy".into(),
        version: None,
    }
    .encode(&mut out);
    out
}

fn subscribe_payload() -> BytesMut {
    let mut out = BytesMut::new();
    Subscribe {
        consumer: Consumer { kind: 1, id: Identifier::Numeric(3) },
        stream: S,
        topic: T,
        strategy: PollingStrategy::First,
        batch: 50,
        auto_commit: false,
        credit_messages: 10_000,
        credit_bytes: 16 << 20,
        heartbeat_ms: 60_000,
        partitions: Vec::new(),
    }
    .encode(&mut out);
    out
}

fn request(code: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    eddy_wire::framing::RequestHeader::encode(code, payload.len(), &mut out);
    out.put_slice(payload);
    out.to_vec()
}

/// A frame from the server, `(status, body)`, over either framing.
trait Frames {
    async fn send(&mut self, code: u32, payload: &[u8]);
    async fn frame(&mut self) -> (u32, Vec<u8>);
}

struct Raw<S>(S);

impl<S: AsyncRead + AsyncWrite> Frames for Raw<S> {
    async fn send(&mut self, code: u32, payload: &[u8]) {
        self.0.write_all(request(code, payload)).await.0.unwrap();
        self.0.flush().await.unwrap();
    }

    async fn frame(&mut self) -> (u32, Vec<u8>) {
        let compio::buf::BufResult(res, head) = self.0.read_exact(Vec::with_capacity(8)).await;
        res.unwrap();
        let code = u32::from_le_bytes(head[..4].try_into().unwrap());
        let len = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        if len == 0 {
            return (code, Vec::new());
        }
        let compio::buf::BufResult(res, body) = self.0.read_exact(Vec::with_capacity(len)).await;
        res.unwrap();
        (code, body)
    }
}

struct Ws<S>(eddy_ws::WebSocket<S>);

impl<S: AsyncRead + AsyncWrite + eddy_ws::Detach> Frames for Ws<S> {
    async fn send(&mut self, code: u32, payload: &[u8]) {
        self.0.send(eddy_ws::Message::binary(request(code, payload))).await.unwrap();
    }

    async fn frame(&mut self) -> (u32, Vec<u8>) {
        loop {
            if let eddy_ws::Message::Binary(data) = self.0.read().await.unwrap() {
                let code = u32::from_le_bytes(data[..4].try_into().unwrap());
                return (code, data[8..].to_vec());
            }
        }
    }
}

async fn produce(transport: Transport, addr: SocketAddr) {
    let mut producer = Client::connect(transport, addr).await.unwrap();
    producer.login("iggy", "iggy").await.unwrap();
    for first in (0..TOTAL).step_by(20) {
        let payloads: Vec<Vec<u8>> =
            (first..first + 20).map(|i| vec![i as u8; 100 + i as usize]).collect();
        let batch = Batch::from_payloads(
            payloads.iter().enumerate().map(|(i, p)| (u128::from(first) + i as u128, &p[..])),
        );
        producer.send(&S, &T, &Partitioning::Balanced, &batch).await.unwrap();
        compio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Logs in and subscribes on `conn`, produces through the plain transport meanwhile, and counts
/// what is pushed; a PING sent halfway must be answered while the pushes go on.
async fn every_message_pushed_once<F: Frames>(mut conn: F, admin: (Transport, SocketAddr)) {
    conn.send(command::LOGIN_USER, &login_payload()).await;
    assert_eq!(conn.frame().await.0, status::OK, "logged in");
    conn.send(command::SUBSCRIBE, &subscribe_payload()).await;
    assert_eq!(conn.frame().await.0, status::OK, "subscribed");
    let producer = compio::runtime::spawn(produce(admin.0, admin.1));
    let (mut messages, mut pinged, mut pongs) = (0u64, false, 0);
    while messages < TOTAL || pongs == 0 {
        if messages >= TOTAL / 2 && !pinged {
            conn.send(command::PING, &[]).await;
            pinged = true;
        }
        let next = compio::time::timeout(Duration::from_secs(10), conn.frame()).await;
        let (code, body) = next.expect("a push or the PING's reply within 10 s");
        if code == status::PUSH_FRAME {
            if let PushFrame::Messages { count, .. } = PushFrame::decode(&body).unwrap() {
                messages += u64::from(count);
            }
        } else {
            assert_eq!(code, status::OK, "the PING's reply");
            pongs += 1;
        }
    }
    producer.await.unwrap();
    assert_eq!((messages, pongs), (TOTAL, 1), "every message once, and the PING answered");
    let extra = compio::time::timeout(Duration::from_millis(300), conn.frame()).await;
    assert!(extra.is_err(), "nothing pushed past the end");
}

async fn admin(transport: Transport, addr: SocketAddr) {
    let mut c = Client::connect(transport, addr).await.unwrap();
    c.login("iggy", "iggy").await.unwrap();
    c.create_stream("s").await.unwrap();
    c.create_topic(&S, "t", 3).await.unwrap();
}

#[compio::test]
async fn push_over_tls_on_tcp() {
    let (server, cert) = start("tcp", false);
    let ws = server.ws_addr.unwrap();
    admin(Transport::WebSocket, ws).await;
    let tcp = TcpStream::connect(server.tcp_addr.unwrap()).await.unwrap();
    let connector = TlsConnector::from(client_config(Some(&cert)).unwrap());
    let tls = connector.connect("localhost", tcp).await.unwrap();
    every_message_pushed_once(Raw(tls), (Transport::WebSocket, ws)).await;
    server.stop();
}

#[compio::test]
async fn push_over_wss() {
    let (server, cert) = start("wss", true);
    let tcp = server.tcp_addr.unwrap();
    admin(Transport::Tcp, tcp).await;
    let url = format!("wss://localhost:{}/", server.ws_addr.unwrap().port());
    let request = eddy_ws::ClientRequest::new(&url).unwrap();
    let trust = client_config(Some(&cert)).unwrap();
    let (ws, _) =
        eddy_ws::tls::connect_with(request, &eddy_ws::Config::default(), trust).await.unwrap();
    every_message_pushed_once(Ws(ws), (Transport::Tcp, tcp)).await;
    server.stop();
}
