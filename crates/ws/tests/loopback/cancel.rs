//! `read_cancellable`: a read waiting on the socket ends with `Error::Cancelled` when its token
//! is cancelled (from another task, or before it starts), and no byte is lost: a frame that was
//! half received when the read was cancelled is whole on the next read.

use std::time::Duration;

use compio::runtime::CancelToken;
use eddy_ws::frame::OpCode;
use eddy_ws::{Config, Error, Message};

use crate::common::{RawPeer, client_frame, serve_one};

#[compio::test]
async fn a_cancelled_read_loses_nothing_and_the_next_read_goes_on() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let mut results = Vec::new();
        // Cancelled from another task while it waits (half a frame is in by then).
        let token = CancelToken::new();
        let cancel = token.clone();
        compio::runtime::spawn(async move {
            compio::time::sleep(Duration::from_millis(150)).await;
            cancel.cancel();
        })
        .detach();
        results.push(ws.read_cancellable(&token).await);
        // Already cancelled: ends at once, again without reading anything.
        results.push(ws.read_cancellable(&token).await);
        // A fresh token and the rest of the frame: the whole message.
        results.push(ws.read_cancellable(&CancelToken::new()).await);
        results.push(ws.read().await);
        results
    })
    .await;
    let mut peer = RawPeer::connect(addr, &[]).await;
    let frame = client_frame(OpCode::Binary, true, &[9u8; 3000]);
    peer.send(frame[..1000].to_vec()).await;
    compio::time::sleep(Duration::from_millis(400)).await;
    peer.send(frame[1000..].to_vec()).await;
    peer.send(client_frame(OpCode::Text, true, b"after")).await;
    let results = server.await.unwrap();
    assert!(matches!(results[0], Err(Error::Cancelled)), "{:?}", results[0]);
    assert!(matches!(results[1], Err(Error::Cancelled)), "{:?}", results[1]);
    match &results[2] {
        Ok(Message::Binary(data)) => assert_eq!(&data[..], &[9u8; 3000][..]),
        other => panic!("the half-read frame, whole: {other:?}"),
    }
    assert!(matches!(&results[3], Ok(Message::Text(t)) if t.as_str() == "after"));
}
