//! Buffer policy over a real socket: the read buffer grows for a big message and goes back to its
//! resting size afterwards; an idle connection holds only the small one.

use std::time::Duration;

use eddy_ws::{Config, Message, connect};

use crate::common::{serve_one, url};

#[compio::test]
async fn the_read_buffer_grows_for_a_big_message_and_shrinks_back() {
    let config = Config::default().with_read_buffer_size(4096);
    let (addr, server) = serve_one(config, |ws| async move {
        let mut ws = ws.unwrap();
        let at_rest = ws.read_buffer_capacity();
        let big = ws.read().await.unwrap();
        let after_big = ws.read_buffer_capacity();
        let small = ws.read().await.unwrap();
        let after_small = ws.read_buffer_capacity();
        (at_rest, big.payload().len(), after_big, small, after_small)
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.send(Message::binary(vec![1u8; 4 << 20])).await.unwrap();
    ws.send(Message::text("small")).await.unwrap();
    let (at_rest, big_len, after_big, small, after_small) = server.await.unwrap();
    assert!(at_rest <= 4096, "resting capacity {at_rest}");
    assert_eq!(big_len, 4 << 20);
    // The 4 MiB payload left with the message; what stays is at most the frame's tail room.
    assert!(after_big < 4 << 20, "capacity after the big message: {after_big}");
    assert_eq!(small, Message::text("small"));
    assert!(after_small <= 4 * 4096, "capacity after a small message: {after_small}");
}

/// At rest (a read waiting, nothing buffered) a connection holds no read buffer, unless
/// `rest_without_buffer` is off; either way a read dropped while it waits loses nothing.
#[compio::test]
async fn a_connection_at_rest_holds_no_read_buffer() {
    for rest in [true, false] {
        let config = Config::default().with_rest_without_buffer(rest);
        let (addr, server) = serve_one(config, |ws| async move {
            let mut ws = ws.unwrap();
            let first = ws.read().await.unwrap();
            let waited = compio::time::timeout(Duration::from_millis(100), ws.read()).await;
            assert!(waited.is_err(), "nothing was sent: {waited:?}");
            let at_rest = ws.read_buffer_capacity();
            ws.send(Message::text("rested")).await.unwrap();
            let second = ws.read().await.unwrap();
            (first, at_rest, second, ws.read_buffer_capacity())
        })
        .await;
        let (mut ws, _) = connect(&url(addr)).await.unwrap();
        ws.send(Message::binary(vec![7u8; 100])).await.unwrap();
        assert_eq!(ws.read().await.unwrap(), Message::text("rested"));
        ws.send(Message::text("after")).await.unwrap();
        let (first, at_rest, second, after) = server.await.unwrap();
        assert_eq!(first, Message::binary(vec![7u8; 100]));
        assert_eq!(second, Message::text("after"), "the dropped wait lost nothing");
        match rest {
            true => assert_eq!(at_rest, 0, "no buffer while waiting at rest"),
            false => assert!(at_rest >= 512, "the waiting read holds its room: {at_rest}"),
        }
        assert!(after > 0, "a read that got bytes has a buffer again");
    }
}

#[compio::test]
async fn a_large_payload_becomes_mutable_without_a_copy_and_a_shared_one_is_copied() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        let mut seen = Vec::new();
        // The client sends each message only once the previous one was answered, so each is
        // alone in the read buffer; the second is also held by a clone, so it must be copied.
        for keep in [false, true] {
            let Message::Binary(data) = ws.read().await.unwrap() else { panic!("not binary") };
            let at = data.as_ptr();
            let held = keep.then(|| data.clone());
            let mut owned = ws.payload_mut(data);
            let in_place = owned.as_ptr() == at;
            owned[0] ^= 0xff;
            seen.push((owned.len(), owned[0], owned[owned.len() - 1], in_place));
            drop(held);
            ws.send(Message::text("next")).await.unwrap();
        }
        seen
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    for byte in [1u8, 2] {
        ws.send(Message::binary(vec![byte; 1 << 20])).await.unwrap();
        assert_eq!(ws.read().await.unwrap(), Message::text("next"));
    }
    let seen = server.await.unwrap();
    let len = 1 << 20;
    assert_eq!(seen[0], (len, 1 ^ 0xff, 1, true), "alone in its buffer: no copy");
    assert_eq!(seen[1], (len, 2 ^ 0xff, 2, false), "another handle holds it: copied");
}

#[compio::test]
async fn a_message_written_in_place_arrives_whole_plain_and_compressed() {
    use eddy_ws::UsageError;
    use eddy_ws::deflate::DeflateConfig;
    let compressed = Config::default().with_deflate(DeflateConfig::default());
    for (deflate, config) in [(false, Config::default()), (true, compressed)] {
        let (addr, server) = serve_one(config.clone(), |ws| async move {
            let mut ws = ws.unwrap();
            let mut got = Vec::new();
            while let Ok(msg) = ws.read().await {
                if msg.is_data() {
                    got.push(msg);
                }
            }
            got
        })
        .await;
        let request = eddy_ws::ClientRequest::new(&url(addr)).unwrap();
        let (mut ws, _) = eddy_ws::connect_with(request, &config).await.unwrap();
        assert_eq!(ws.deflate_enabled(), deflate);
        let head = b"head:";
        let body: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        ws.feed_binary_with(head.len() + body.len(), |w| {
            w.put_slice(head);
            std::io::Write::write_all(w, &body[..3]).unwrap();
            w.put_slice(&body[3..]);
        })
        .unwrap();
        // A writer that breaks its word queues nothing; the connection goes on.
        let short = ws.feed_binary_with(10, |w| w.put_slice(b"short"));
        assert!(matches!(
            short,
            Err(eddy_ws::Error::Usage(UsageError::WrittenLength { expected: 10, written: 5 }))
        ));
        ws.feed_binary_with(5, |w| w.put_slice(b"small")).unwrap();
        ws.flush().await.unwrap();
        ws.close(None).await.unwrap();
        while ws.read().await.is_ok() {}
        let got = server.await.unwrap();
        assert_eq!(got.len(), 2, "the short one was never sent");
        assert_eq!(&got[0].payload()[..head.len()], head);
        assert!(got[0].payload()[head.len()..] == body[..], "the large message, unmasked, intact");
        assert_eq!(got[1], Message::binary(&b"small"[..]));
    }
}

/// A caller that waits on its own for a readable socket lets go of the buffers first
/// (`release_buffers`), which happens only when nothing is buffered, queued or in flight; the
/// connection reads and writes on as before.
#[compio::test]
async fn release_buffers_lets_go_only_when_nothing_is_held() {
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let mut ws = ws.unwrap();
        // Both messages came in one write: the second is still buffered after the first read.
        let first = ws.read().await.unwrap();
        let buffered = (ws.release_buffers(), ws.read_buffer_capacity());
        let second = ws.read().await.unwrap();
        let drained = (ws.release_buffers(), ws.read_buffer_capacity());
        // Something queued and unwritten is held too.
        ws.feed(Message::text("queued")).unwrap();
        let queued = ws.release_buffers();
        ws.flush().await.unwrap();
        // A read dropped while it waits stays in flight, holding its room.
        let waited = compio::time::timeout(Duration::from_millis(50), ws.read()).await;
        assert!(waited.is_err(), "nothing was sent: {waited:?}");
        let in_flight = ws.release_buffers();
        ws.send(Message::text("released")).await.unwrap();
        let third = ws.read().await.unwrap();
        (first, buffered, second, drained, queued, in_flight, third)
    })
    .await;
    let (mut ws, _) = connect(&url(addr)).await.unwrap();
    ws.feed(Message::text("one")).unwrap();
    ws.feed(Message::text("two")).unwrap();
    ws.flush().await.unwrap();
    assert_eq!(ws.read().await.unwrap(), Message::text("queued"));
    assert_eq!(ws.read().await.unwrap(), Message::text("released"));
    ws.send(Message::text("three")).await.unwrap();
    let (first, buffered, second, drained, queued, in_flight, third) = server.await.unwrap();
    assert_eq!((first, second), (Message::text("one"), Message::text("two")));
    assert!(!buffered.0 && buffered.1 > 0, "a buffered message keeps the buffer: {buffered:?}");
    assert_eq!(drained, (true, 0), "nothing buffered: the buffer is let go");
    assert!(!queued, "a queued message keeps the outgoing buffer");
    assert!(!in_flight, "a read in flight keeps its room");
    assert_eq!(third, Message::text("three"), "the connection reads on after letting go");
}
