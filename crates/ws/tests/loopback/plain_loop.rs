//! The plain `read` → `send` loop batches its writes: `send` defers while more whole messages
//! wait to be read, and the end of the burst (or a read that must wait) writes them. Ping-pong
//! never waits for a flush; a pipelined echo arrives whole and in order; a sender that stops
//! reading still gets its last message out.

use std::time::Duration;

use eddy_ws::{Config, Message, SEND_DEFER_BYTES, connect};

use crate::common::{serve_one, url};

/// The README's echo loop.
async fn plain_echo(mut ws: eddy_ws::WebSocket<compio::net::TcpStream>) {
    loop {
        match ws.read().await {
            Ok(msg) if msg.is_data() => {
                if ws.send(msg).await.is_err() {
                    return;
                }
            }
            Ok(Message::Close(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[compio::test]
async fn send_defers_within_a_burst_and_writes_at_its_end() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        // Let the client's burst of ten arrive whole, then echo it with the plain loop.
        compio::time::sleep(Duration::from_millis(50)).await;
        let mut queued = Vec::new();
        for _ in 0..10 {
            let msg = ws.read().await.unwrap();
            ws.send(msg).await.unwrap();
            queued.push(ws.queued_bytes());
        }
        // Stops reading and keeps the connection: the last echoes must be out already.
        compio::time::sleep(Duration::from_millis(300)).await;
        queued
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    for i in 0..10u8 {
        ws.feed(Message::binary(vec![i; 3])).unwrap();
    }
    ws.flush().await.unwrap();
    for i in 0..10u8 {
        let got = compio::time::timeout(Duration::from_secs(5), ws.read()).await;
        assert_eq!(got.expect("echo arrives").unwrap(), Message::binary(vec![i; 3]));
    }
    let queued = server.await.unwrap();
    // Each echo is a 2-byte header and 3 bytes: the first nine wait, the tenth writes all.
    assert_eq!(queued, vec![5, 10, 15, 20, 25, 30, 35, 40, 45, 0]);
}

#[compio::test]
async fn a_sender_that_stops_reading_with_input_buffered_flushes_to_send() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        compio::time::sleep(Duration::from_millis(50)).await;
        let msg = ws.read().await.unwrap();
        ws.send(msg).await.unwrap();
        let deferred = ws.queued_bytes();
        ws.flush().await.unwrap();
        compio::time::sleep(Duration::from_millis(300)).await;
        deferred
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    for i in 0..5u8 {
        ws.feed(Message::binary(vec![i])).unwrap();
    }
    ws.flush().await.unwrap();
    let got = compio::time::timeout(Duration::from_secs(5), ws.read()).await;
    assert_eq!(got.expect("flushed").unwrap(), Message::binary(vec![0]));
    assert_eq!(server.await.unwrap(), 3, "the echo waited: four more messages were buffered");
}

#[compio::test]
async fn the_deferred_queue_is_written_once_it_reaches_the_limit() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        compio::time::sleep(Duration::from_millis(50)).await;
        let _ = ws.read().await.unwrap(); // one of two buffered: one whole message stays
        let chunk = Message::binary(vec![7u8; 1000]);
        let mut most = 0;
        for _ in 0..200 {
            ws.send(chunk.clone()).await.unwrap();
            most = most.max(ws.queued_bytes());
        }
        ws.flush().await.unwrap();
        most
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.feed(Message::binary(vec![1])).unwrap();
    ws.feed(Message::binary(vec![2])).unwrap();
    ws.flush().await.unwrap();
    for _ in 0..200 {
        assert_eq!(ws.read().await.unwrap(), Message::binary(vec![7u8; 1000]));
    }
    let most = server.await.unwrap();
    assert!(most < SEND_DEFER_BYTES, "never more than the limit queued: {most}");
}

#[compio::test]
async fn ping_pong_through_the_plain_loop_never_waits_for_a_flush() {
    let (addr, _server) =
        serve_one(Config::default(), |ws| async move { plain_echo(ws.unwrap()).await }).await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    let rounds = async {
        for i in 0..1000u32 {
            ws.send(Message::binary(i.to_le_bytes().to_vec())).await.unwrap();
            assert_eq!(ws.read().await.unwrap(), Message::binary(i.to_le_bytes().to_vec()));
        }
    };
    compio::time::timeout(Duration::from_secs(20), rounds).await.expect("no stall");
}

#[compio::test]
async fn a_pipelined_echo_of_10000_messages_arrives_whole_and_in_order() {
    let (addr, _server) =
        serve_one(Config::default(), |ws| async move { plain_echo(ws.unwrap()).await }).await;
    let (ws, _) = connect(&url(addr)).await.unwrap();
    let (mut reader, mut writer) = ws.split();
    let message = |i: u32| {
        let len = 1 + (i as usize * 7919) % 3000;
        Message::binary((0..len).map(|j| (i as usize + j) as u8).collect::<Vec<u8>>())
    };
    let sending = compio::runtime::spawn(async move {
        for i in 0..10_000u32 {
            writer.feed(message(i)).unwrap();
            if i % 64 == 63 {
                writer.flush().await.unwrap();
            }
        }
        writer.flush().await.unwrap();
        writer
    });
    let receiving = async {
        for i in 0..10_000u32 {
            assert_eq!(reader.read().await.unwrap(), message(i), "message {i}");
        }
    };
    compio::time::timeout(Duration::from_secs(60), receiving).await.expect("all echoed");
    drop(sending.await.unwrap());
}
