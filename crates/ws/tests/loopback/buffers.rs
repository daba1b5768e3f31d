//! Buffer policy over a real socket: the read buffer grows for a big message and goes back to its
//! resting size afterwards; an idle connection holds only the small one.

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
