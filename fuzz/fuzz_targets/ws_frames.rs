//! The WebSocket protocol core (frame decoder, unmasking, UTF-8, fragments, control frames,
//! close handling, permessage-deflate) on arbitrary bytes, as a server or a client, cut into reads
//! at arbitrary points. The first byte picks the role, deflate and the read sizes. It must never
//! panic, never return a message over the limits, and fail sticky.

#![no_main]

use bytes::BytesMut;
use eddy_ws::deflate::{DeflateConfig, Negotiated};
use eddy_ws::protocol::{Outbox, Protocol};
use eddy_ws::{Config, Message, Role};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else { return };
    let role = if control & 1 == 0 { Role::Server } else { Role::Client };
    let config = Config::default().with_max_frame_size(LIMIT).with_max_message_size(LIMIT);
    let mut proto = Protocol::new(role, &config);
    if control & 2 != 0 {
        let negotiated = Negotiated {
            server_no_context_takeover: control & 4 != 0,
            client_no_context_takeover: control & 8 != 0,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        };
        proto.enable_deflate(negotiated, &DeflateConfig::default());
    }
    let step = 1 + usize::from(control >> 4) * 37;
    let mut buf = BytesMut::new();
    let mut out = Outbox::new(1024);
    let mut failed = false;
    for chunk in bytes.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match proto.read_message(&mut buf, &mut out) {
                Ok(Some(message)) => {
                    assert!(!failed, "a message after a failure");
                    let len = match &message {
                        Message::Text(t) => t.len(),
                        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
                        Message::Close(_) => 0,
                    };
                    assert!(len <= LIMIT, "a message over the limit: {len}");
                }
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        let mut segments = Vec::new();
        while !out.is_empty() {
            out.drain_into(&mut segments, 64);
        }
    }
});
