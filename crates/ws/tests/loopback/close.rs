//! The close handshake in both directions: codes and reasons arrive, the server ends TCP first,
//! and nothing can be sent afterwards.

use eddy_ws::{CloseCode, CloseFrame, Config, Error, Message, UsageError, connect};

use crate::common::{serve_one, url};

#[compio::test]
async fn client_initiated_close_is_echoed_and_the_server_ends_tcp() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let first = ws.read().await.unwrap();
        let after = ws.read().await;
        let late = ws.send(Message::text("late")).await;
        (first, after, late)
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye"))).await.unwrap();
    assert!(matches!(ws.read().await, Err(Error::Closed)));
    let (first, after, late) = server.await.unwrap();
    assert_eq!(first, Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye"))));
    assert!(matches!(after, Err(Error::Closed)));
    assert!(matches!(late, Err(Error::Usage(UsageError::Closed))));
}

#[compio::test]
async fn server_initiated_close_reaches_the_client_with_its_code() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        ws.close(Some(CloseFrame::new(CloseCode(4001), "done"))).await
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    assert_eq!(
        ws.read().await.unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode(4001), "done")))
    );
    // The client echoed the code; the server's close() saw it and returned Ok.
    server.await.unwrap().unwrap();
    assert!(matches!(ws.read().await, Err(Error::Closed)));
}
