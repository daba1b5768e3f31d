//! A split connection: the Reader in one task, the Writer in another, at the same time. The
//! way to read and write from two tasks (a `select!` on `read()` works too: see cancel.rs).

use std::time::Duration;

use bytes::Bytes;
use eddy_ws::{Config, Message, connect};

use crate::common::{serve_one, url};

#[compio::test]
async fn reader_and_writer_run_concurrently_and_pongs_still_go_out() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let (mut reader, mut writer) = ws.unwrap().split();
        // The writer streams 200 messages while the reader, in its own task, collects what
        // the client sends (pings included, answered through the shared write half).
        let reading = compio::runtime::spawn(async move {
            let mut got = Vec::new();
            loop {
                match reader.read().await {
                    Ok(Message::Close(_)) | Err(_) => return got,
                    Ok(msg) => got.push(msg),
                }
            }
        });
        for i in 0..200u32 {
            writer.send(Message::binary(i.to_be_bytes().to_vec())).await.unwrap();
            if i % 50 == 0 {
                compio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        writer.send(Message::text("done")).await.unwrap();
        reading.await.unwrap()
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    let mut received = 0u32;
    let mut pongs = 0;
    let mut pinged = 0;
    loop {
        if pinged < 5 {
            ws.send(Message::Ping(Bytes::from(vec![pinged; 3]))).await.unwrap();
            pinged += 1;
        }
        match ws.read().await.unwrap() {
            Message::Binary(b) => {
                assert_eq!(b[..], received.to_be_bytes());
                received += 1;
            }
            Message::Pong(p) => {
                assert_eq!(p[..], [pongs; 3]);
                pongs += 1;
            }
            Message::Text(t) if t == "done" => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    while pongs < 5 {
        match ws.read().await.unwrap() {
            Message::Pong(_) => pongs += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received, 200);
    ws.send(Message::text("client done")).await.unwrap();
    ws.close(None).await.unwrap();
    let got = server.await.unwrap();
    let pings = got.iter().filter(|m| matches!(m, Message::Ping(_))).count();
    assert_eq!(pings, 5);
    assert_eq!(got.last(), Some(&Message::text("client done")));
}
