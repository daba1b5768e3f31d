//! Messages both ways: text, binary, ping/pong, a 16 MiB message, and batched writes.

use bytes::Bytes;
use eddy_ws::{Config, Message, connect};

use crate::common::{serve_one, url};

#[compio::test]
async fn echo_text_binary_and_a_16_mib_message() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        loop {
            match ws.read().await {
                Ok(msg) if msg.is_data() => ws.send(msg).await.unwrap(),
                Ok(Message::Close(_)) => return,
                Ok(_) => {}
                Err(e) => panic!("server: {e}"),
            }
        }
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.send(Message::text("héllo")).await.unwrap();
    assert_eq!(ws.read().await.unwrap(), Message::text("héllo"));
    let big: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    let big = Bytes::from(big);
    ws.send(Message::Binary(big.clone())).await.unwrap();
    match ws.read().await.unwrap() {
        Message::Binary(got) => assert!(got == big, "16 MiB echo differs"),
        other => panic!("unexpected {other:?}"),
    }
    ws.close(None).await.unwrap();
    server.await.unwrap();
}

#[compio::test]
async fn pings_are_answered_automatically_both_ways() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"from server"))).await.unwrap();
        let mut seen = Vec::new();
        loop {
            match ws.read().await.unwrap() {
                Message::Close(_) => return seen,
                msg => seen.push(msg),
            }
        }
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    // The client answers the server's ping while reading.
    assert_eq!(ws.read().await.unwrap(), Message::Ping(Bytes::from_static(b"from server")));
    ws.send(Message::Ping(Bytes::from_static(b"from client"))).await.unwrap();
    assert_eq!(ws.read().await.unwrap(), Message::Pong(Bytes::from_static(b"from client")));
    ws.close(None).await.unwrap();
    let seen = server.await.unwrap();
    assert_eq!(
        seen,
        vec![
            Message::Pong(Bytes::from_static(b"from server")),
            Message::Ping(Bytes::from_static(b"from client"))
        ]
    );
}

#[compio::test]
async fn fed_messages_leave_in_one_flush_and_arrive_in_order() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let mut got = Vec::new();
        while let Ok(msg) = ws.read().await {
            if let Message::Binary(b) = msg {
                got.push(b);
            }
        }
        got
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    for i in 0..1000u32 {
        let size = (i as usize * 37) % 3000;
        ws.feed(Message::binary(vec![(i % 256) as u8; size])).unwrap();
    }
    assert!(ws.queued_bytes() > 1_000_000);
    ws.flush().await.unwrap();
    assert_eq!(ws.queued_bytes(), 0);
    ws.close(None).await.unwrap();
    let got = server.await.unwrap();
    assert_eq!(got.len(), 1000);
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b.len(), (i * 37) % 3000);
        assert!(b.iter().all(|&x| x == (i % 256) as u8));
    }
}

#[compio::test]
async fn works_over_a_unix_stream_too() {
    use compio::net::{UnixListener, UnixStream};
    let dir = std::env::temp_dir().join(format!("eddy-ws-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sock");
    std::fs::remove_file(&path).ok();
    let listener = UnixListener::bind(&path).await.unwrap();
    let server = compio::runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = eddy_ws::accept(stream).await.unwrap();
        let msg = ws.read().await.unwrap();
        ws.send(msg).await.unwrap();
        ws.read().await
    });
    let stream = UnixStream::connect(&path).await.unwrap();
    let request = eddy_ws::ClientRequest::new("ws://localhost/unix").unwrap();
    let (mut ws, _) = eddy_ws::client(stream, request, &Config::default()).await.unwrap();
    ws.send(Message::text("over unix")).await.unwrap();
    assert_eq!(ws.read().await.unwrap(), Message::text("over unix"));
    ws.close(None).await.unwrap();
    assert!(matches!(server.await.unwrap(), Ok(Message::Close(None))));
    std::fs::remove_dir_all(&dir).ok();
}

#[compio::test]
async fn compressed_echo_with_context_takeover_on_and_off() {
    use eddy_ws::deflate::DeflateConfig;
    for no_takeover in [false, true] {
        let deflate = DeflateConfig {
            server_no_context_takeover: no_takeover,
            client_no_context_takeover: no_takeover,
            ..DeflateConfig::default()
        };
        let config = Config::default().with_deflate(deflate);
        let (addr, server) = serve_one(config.clone(), |ws| async move {
            let mut ws = ws.unwrap();
            assert!(ws.deflate_enabled());
            while let Ok(msg) = ws.read().await {
                if msg.is_data() {
                    ws.send(msg).await.unwrap();
                }
            }
        })
        .await;
        let request = eddy_ws::ClientRequest::new(&url(addr)).unwrap();
        let (mut ws, accepted) = eddy_ws::connect_with(request, &config).await.unwrap();
        let ext = String::from_utf8(accepted.extensions.clone().unwrap()).unwrap();
        assert_eq!(ext.contains("no_context_takeover"), no_takeover, "{ext}");
        for i in 0..20 {
            let json = format!("{{\"seq\":{i},\"payload\":\"{}\"}}", "abc".repeat(100 + i));
            ws.send(Message::text(json.clone())).await.unwrap();
            assert_eq!(ws.read().await.unwrap(), Message::text(json));
        }
        ws.close(None).await.unwrap();
        server.await.unwrap();
    }
}

#[compio::test]
async fn an_echo_loop_can_batch_with_has_buffered_message() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let mut seen = Vec::new();
        // Wait until the client's burst has arrived, then read it: every message but the last
        // reports another one buffered behind it.
        compio::time::sleep(std::time::Duration::from_millis(50)).await;
        for _ in 0..3 {
            let msg = ws.read().await.unwrap();
            seen.push(ws.has_buffered_message());
            ws.feed(msg).unwrap();
        }
        // Nothing was written while reading: the echoes wait for this one flush.
        assert_eq!(ws.queued_bytes(), 3 * 3);
        ws.flush().await.unwrap();
        seen
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    for i in 0..3u8 {
        ws.feed(Message::binary(vec![i])).unwrap();
    }
    ws.flush().await.unwrap();
    for i in 0..3u8 {
        assert_eq!(ws.read().await.unwrap(), Message::binary(vec![i]));
    }
    assert_eq!(server.await.unwrap(), vec![true, true, false]);
}

#[compio::test]
async fn a_fed_reply_goes_out_before_a_read_waits_for_the_answer_to_it() {
    // The server feeds a question and reads the answer without flushing: the read, having
    // nothing buffered, writes the question before it waits. No deadlock.
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let mut answers = Vec::new();
        for i in 0..100u8 {
            ws.feed(Message::binary(vec![i])).unwrap();
            answers.push(ws.read().await.unwrap());
        }
        answers
    })
    .await;
    let client = async {
        let (mut ws, _) = connect(&url(addr)).await.unwrap();
        for i in 0..100u8 {
            assert_eq!(ws.read().await.unwrap(), Message::binary(vec![i]));
            ws.send(Message::binary(vec![i, i])).await.unwrap();
        }
        server.await.unwrap()
    };
    let answers = compio::time::timeout(std::time::Duration::from_secs(10), client)
        .await
        .expect("no deadlock");
    assert_eq!(answers, (0..100u8).map(|i| Message::binary(vec![i, i])).collect::<Vec<_>>());
}

#[compio::test]
async fn buffered_input_counts_what_the_next_read_returns_without_waiting() {
    use crate::common::{RawPeer, client_frame};
    use eddy_ws::frame::OpCode;
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let before = ws.buffered_input();
        let first = ws.read().await.unwrap();
        let between = ws.buffered_input();
        let second = ws.read().await.unwrap();
        (before, first, between, second, ws.buffered_input())
    })
    .await;
    let mut peer = RawPeer::connect(addr, &[]).await;
    let mut both = client_frame(OpCode::Binary, true, b"one");
    let second = client_frame(OpCode::Binary, true, b"two!");
    both.extend_from_slice(&second);
    peer.send(both).await;
    let (before, first, between, second_msg, after) = server.await.unwrap();
    assert_eq!(before, 0);
    assert!(matches!(first, Message::Binary(b) if &b[..] == b"one"));
    assert_eq!(between, second.len(), "the second frame is buffered: no wait needed");
    assert!(matches!(second_msg, Message::Binary(b) if &b[..] == b"two!"));
    assert_eq!(after, 0);
}

#[compio::test]
async fn a_prepared_message_reaches_every_connection_byte_exact() {
    // One server task holds four connections (two negotiated permessage-deflate without context
    // takeover, so they share one compressed form) and broadcasts 200 prepared messages.
    let listener = compio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let deflate = eddy_ws::deflate::DeflateConfig {
        min_size: 0,
        server_no_context_takeover: true,
        ..Default::default()
    };
    let messages: Vec<Bytes> = (0..200u32)
        .map(|i| Bytes::from(format!("{{\"tick\":{i},\"pad\":\"{}\"}}", "x".repeat(i as usize))))
        .collect();
    let sent = messages.clone();
    let server = compio::runtime::spawn(async move {
        let mut conns = Vec::new();
        for i in 0..4 {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = match i % 2 {
                0 => Config::default().with_deflate(deflate.clone()),
                _ => Config::default(),
            };
            conns.push(eddy_ws::accept_with(tcp, &config, |_, _| Ok(())).await.unwrap());
        }
        for payload in &sent {
            let prepared = eddy_ws::PreparedMessage::binary(payload.clone());
            for ws in conns.iter_mut() {
                ws.feed_prepared(&prepared).unwrap();
            }
        }
        for ws in conns.iter_mut() {
            ws.flush().await.unwrap();
        }
        conns
    });
    let mut clients = Vec::new();
    for i in 0..4 {
        let config = match i % 2 {
            0 => Config::default().with_deflate(eddy_ws::deflate::DeflateConfig::default()),
            _ => Config::default(),
        };
        let request = eddy_ws::ClientRequest::new(&url(addr)).unwrap();
        clients.push(eddy_ws::connect_with(request, &config).await.unwrap().0);
    }
    for ws in clients.iter_mut() {
        for want in &messages {
            assert_eq!(ws.read().await.unwrap(), Message::Binary(want.clone()));
        }
    }
    drop(server.await.unwrap());
}
