//! The `futures` views (feature `futures`): a server written with `StreamExt`/`SinkExt` echoes
//! 5,000 messages a client sent with `send_all`, whole and in order, and both streams end at the
//! close handshake; a protocol error is yielded once and then the stream ends; `select` of
//! `next()` against a timer loses nothing.

#![cfg(feature = "futures")]

use std::time::Duration;

use compio::net::TcpListener;
use eddy_ws::{Message, connect};
use futures_util::{SinkExt, StreamExt};

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    (listener, url)
}

#[compio::test]
async fn a_stream_and_sink_echo_server_batches_and_ends_at_close() {
    let (listener, url) = listener().await;
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = eddy_ws::accept(tcp).await.unwrap();
        let mut echoed = 0u32;
        // The plain futures loop: feed each message, flush when nothing more is buffered.
        while let Some(msg) = ws.next().await {
            let msg = msg.unwrap();
            if msg.is_data() {
                SinkExt::feed(&mut ws, msg).await.unwrap();
                echoed += 1;
                if !ws.has_buffered_message() {
                    SinkExt::flush(&mut ws).await.unwrap();
                }
            }
        }
        echoed
    });
    let (mut ws, _) = connect(&url).await.unwrap();
    let sent: Vec<Vec<u8>> =
        (0..5000u32).map(|i| i.to_le_bytes().repeat(i as usize % 40 + 1)).collect();
    // send_all: queued as the source yields, flushed when it has nothing ready (at the end).
    let mut source =
        futures_util::stream::iter(sent.iter().map(|p| Ok(Message::binary(p.clone()))));
    ws.send_all(&mut source).await.unwrap();
    let mut got = 0usize;
    while got < sent.len() {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => {
                assert_eq!(&b[..], &sent[got][..], "message {got}");
                got += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    SinkExt::close(&mut ws).await.unwrap();
    // The server's stream yields the close and ends; ours does too after its reply.
    assert!(matches!(ws.next().await, Some(Ok(Message::Close(_)))));
    assert!(ws.next().await.is_none(), "the client's stream ends after the close handshake");
    assert_eq!(server.await.unwrap(), sent.len() as u32);
}

#[compio::test]
async fn a_protocol_error_is_yielded_once_then_the_stream_ends() {
    let (listener, url) = listener().await;
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = eddy_ws::accept(tcp).await.unwrap();
        let mut items = Vec::new();
        while let Some(item) = ws.next().await {
            items.push(item.map_err(|e| e.to_string()));
        }
        items
    });
    let (mut ws, _) = connect(&url).await.unwrap();
    ws.send(Message::text("fine")).await.unwrap();
    // A raw text frame with invalid UTF-8, masked as a client must.
    let frame = vec![0x81, 0x82, 1, 2, 3, 4, 0xff ^ 1, 0xfe ^ 2];
    use compio::io::AsyncWriteExt;
    let mut tcp = ws.get_ref().clone();
    tcp.write_all(frame).await.unwrap();
    // Gone: the server's linger after its close frame ends at our EOF.
    drop(ws);
    drop(tcp);
    let items = compio::time::timeout(Duration::from_secs(20), server).await.unwrap().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(&items[0], Ok(Message::Text(t)) if t.as_str() == "fine"));
    assert!(
        items[1].as_ref().is_err_and(|e| e.contains("UTF-8") || e.contains("utf")),
        "{items:?}"
    );
}

#[compio::test]
async fn next_raced_against_a_timer_loses_nothing() {
    let (listener, url) = listener().await;
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = eddy_ws::accept(tcp).await.unwrap();
        for i in 0..2000u32 {
            SinkExt::feed(&mut ws, Message::binary(i.to_le_bytes().repeat(100))).await.unwrap();
            if i % 13 == 0 {
                SinkExt::flush(&mut ws).await.unwrap();
                compio::time::sleep(Duration::from_micros(u64::from(i % 7) * 100)).await;
            }
        }
        SinkExt::close(&mut ws).await.unwrap();
        while ws.next().await.is_some() {}
    });
    let (mut ws, _) = connect(&url).await.unwrap();
    let (mut next, mut timeouts) = (0u32, 0u32);
    loop {
        // Never zero: a timer that is ready at once would never let the runtime reap the read.
        let timer = compio::time::sleep(Duration::from_micros(u64::from(next % 5) * 60 + 20));
        match futures_util::future::select(ws.next(), std::pin::pin!(timer)).await {
            futures_util::future::Either::Left((Some(Ok(Message::Binary(b))), _)) => {
                assert_eq!(&b[..], &next.to_le_bytes().repeat(100)[..], "message {next}");
                next += 1;
            }
            futures_util::future::Either::Left((Some(Ok(Message::Close(_))), _)) => break,
            futures_util::future::Either::Left((other, _)) => panic!("{other:?}"),
            futures_util::future::Either::Right(_) => timeouts += 1,
        }
    }
    assert_eq!(next, 2000);
    assert!(timeouts > 20, "the timer won too rarely ({timeouts}) to mean anything");
    server.await.unwrap();
}
