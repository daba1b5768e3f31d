//! Bad peers: each protocol violation gets its close code before TCP ends, and a peer that
//! vanishes mid-frame is an error, never a panic.

use compio::buf::BufResult;
use compio::io::AsyncWriteExt;
use eddy_ws::frame::OpCode;
use eddy_ws::{CloseCode, Config, Error, Message, ProtocolError, connect};

use crate::common::{RawPeer, client_frame, serve_one, server_close, url};

async fn server_result_for(config: Config, bytes: Vec<u8>) -> (Result<Message, Error>, Vec<u8>) {
    let (addr, server) = serve_one(config, |ws| async move { ws.unwrap().read().await }).await;
    let mut peer = RawPeer::connect(addr, &[]).await;
    peer.send(bytes).await;
    let received = peer.read_to_end().await;
    // The server discards input until the peer's EOF (bounded) before it closes.
    drop(peer);
    (server.await.unwrap(), received)
}

#[compio::test]
async fn invalid_utf8_gets_1007() {
    let (result, received) =
        server_result_for(Config::default(), client_frame(OpCode::Text, true, b"ok \xc3\x28"))
            .await;
    assert!(matches!(result, Err(Error::Protocol(ProtocolError::InvalidUtf8))), "{result:?}");
    assert_eq!(received, server_close(1007));
}

#[compio::test]
async fn an_unmasked_frame_gets_1002() {
    let (result, received) = server_result_for(Config::default(), vec![0x82, 0x01, 0xAA]).await;
    assert!(matches!(result, Err(Error::Protocol(ProtocolError::UnmaskedFrame))), "{result:?}");
    assert_eq!(received, server_close(1002));
}

#[compio::test]
async fn a_message_over_the_limit_gets_1009_without_its_payload() {
    let config = Config::default().with_max_message_size(1000).with_max_frame_size(1000);
    // Only the header of a 1 GiB frame is sent: the server refuses it at once.
    let mut bytes = vec![0x82, 0xFF];
    bytes.extend_from_slice(&(1u64 << 30).to_be_bytes());
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    let (result, received) = server_result_for(config, bytes).await;
    assert!(
        matches!(result, Err(Error::Protocol(ProtocolError::FrameTooLarge { .. }))),
        "{result:?}"
    );
    assert_eq!(received, server_close(1009));
}

#[compio::test]
async fn a_peer_still_sending_an_oversized_message_gets_the_1009_not_a_reset() {
    // The whole 32 MiB frame (more than loopback's socket buffers hold) is sent: the server
    // refuses it at its header, then must read the rest away before it closes, or its TCP
    // answers the unread bytes with RST and the peer may lose the close frame (browsers
    // report 1006).
    let config = Config::default().with_max_message_size(1000).with_max_frame_size(1000);
    let (addr, server) = serve_one(config, |ws| async move { ws.unwrap().read().await }).await;
    let mut peer = RawPeer::connect(addr, &[]).await;
    let frame = client_frame(OpCode::Binary, true, &vec![7u8; 32 << 20]);
    let BufResult(sent, _) = peer.tcp.write_all(frame).await;
    assert!(sent.is_ok(), "the server read the frame away: {sent:?}");
    compio::time::sleep(std::time::Duration::from_millis(50)).await;
    let received = peer.read_to_end().await;
    assert_eq!(received, server_close(1009));
    drop(peer);
    assert!(server.await.unwrap().is_err());
}

#[compio::test]
async fn the_client_sees_1009_from_a_strict_server() {
    let config = Config::default().with_max_message_size(64 << 10);
    let (addr, server) = serve_one(config, |ws| async move { ws.unwrap().read().await }).await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.send(Message::binary(vec![0u8; 100 << 10])).await.unwrap();
    match ws.read().await.unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::TOO_BIG),
        other => panic!("expected a close frame, got {other:?}"),
    }
    drop(ws);
    assert!(server.await.unwrap().is_err());
}

#[compio::test]
async fn a_peer_that_vanishes_mid_frame_is_a_reset() {
    let (addr, server) =
        serve_one(Config::default(), |ws| async move { ws.unwrap().read().await }).await;
    let mut peer = RawPeer::connect(addr, &[]).await;
    let frame = client_frame(OpCode::Binary, true, &[7u8; 10_000]);
    peer.send(frame[..5000].to_vec()).await;
    drop(peer);
    let result = server.await.unwrap();
    assert!(matches!(result, Err(Error::Reset)), "{result:?}");
}
