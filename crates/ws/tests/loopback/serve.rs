//! `serve::Server`: one runtime and one SO_REUSEPORT listener per thread. Many clients echo
//! through it, the kernel spreads them over both threads, a failed handshake does not disturb
//! the others, and `stop` ends every thread.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compio::io::{AsyncRead, AsyncWriteExt};
use eddy_ws::serve::Server;
use eddy_ws::{Message, connect};

#[compio::test]
async fn a_server_on_two_threads_echoes_spreads_connections_and_stops() {
    let threads: Arc<Mutex<HashSet<String>>> = Arc::default();
    let seen = threads.clone();
    let server = Server::new("127.0.0.1:0".parse().unwrap())
        .threads(2)
        .pin_threads(true)
        .serve(move |mut ws, _peer| {
            let name = std::thread::current().name().unwrap_or("?").to_string();
            seen.lock().unwrap().insert(name);
            async move {
                while let Ok(msg) = ws.read().await {
                    if msg.is_data() && ws.send(msg).await.is_err() {
                        return;
                    }
                }
            }
        })
        .unwrap();
    let url = format!("ws://{}/", server.local_addr());
    // A peer that is not a WebSocket client gets its refusal; the server goes on.
    let mut raw = compio::net::TcpStream::connect(server.local_addr()).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()).await.unwrap();
    let compio::buf::BufResult(_, head) = raw.read(Vec::with_capacity(256)).await;
    assert!(head.starts_with(b"HTTP/1.1 4"), "{}", String::from_utf8_lossy(&head));
    let mut clients = Vec::new();
    for i in 0..64u32 {
        let (ws, _) = connect(&url).await.unwrap();
        clients.push((i, ws));
    }
    for (i, ws) in &mut clients {
        ws.send(Message::binary(i.to_le_bytes().to_vec())).await.unwrap();
    }
    for (i, ws) in &mut clients {
        match ws.read().await.unwrap() {
            Message::Binary(b) => assert_eq!(&b[..], &i.to_le_bytes()[..]),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(threads.lock().unwrap().len(), 2, "both threads served: {threads:?}");
    drop(clients);
    server.stop();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        server.join();
        done_tx.send(()).ok();
    });
    done_rx.recv_timeout(Duration::from_secs(10)).expect("every serving thread ends after stop");
}
