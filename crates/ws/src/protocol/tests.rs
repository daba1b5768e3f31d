//! Tests of the protocol core: RFC 6455 §5.7 examples, every rule with its close code, and the
//! property that any split of a byte stream into reads yields the same messages.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::prepared::PreparedMessage;
use super::*;
use crate::frame::close::CloseError;
use crate::frame::{CloseCode, HeaderError};

fn frame(op: u8, fin: bool, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let opcode = OpCode::from_bits(op & 0x0F);
    let mut out = Vec::new();
    match opcode {
        Some(opcode) => {
            let h = FrameHeader {
                fin,
                rsv: (op >> 4) & 7,
                opcode,
                mask,
                payload_len: payload.len() as u64,
            };
            h.encode(&mut out);
        }
        None => {
            // A reserved opcode cannot be built with FrameHeader; write it by hand.
            out.push(op | if fin { 0x80 } else { 0 });
            out.push(payload.len() as u8 | if mask.is_some() { 0x80 } else { 0 });
            if let Some(key) = mask {
                out.extend_from_slice(&key);
            }
        }
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A frame as a client sends it to a server.
fn client_frame(op: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    frame(op, fin, payload, Some([0xA1, 0xB2, 0xC3, 0xD4]))
}

fn server() -> Protocol {
    Protocol::new(Role::Server, &Config::default())
}

/// Feeds `bytes` in one piece and collects every message and the final result.
fn run(proto: &mut Protocol, bytes: &[u8]) -> (Vec<Message>, Result<(), ProtocolError>, Vec<u8>) {
    let mut buf = BytesMut::from(bytes);
    let mut out = Outbox::new(1024);
    let mut msgs = Vec::new();
    let result = loop {
        match proto.read_message(&mut buf, &mut out) {
            Ok(Some(m)) => msgs.push(m),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let mut segs = Vec::new();
    while !out.is_empty() {
        out.drain_into(&mut segs, 64);
    }
    (msgs, result, segs.concat())
}

/// The close frame a server sends with `code`.
fn server_close(code: CloseCode) -> Vec<u8> {
    frame(0x8, true, &code.0.to_be_bytes(), None)
}

#[test]
fn rfc_5_7_examples() {
    let mut client = Protocol::new(Role::Client, &Config::default());
    // A single-frame unmasked text message.
    let (msgs, res, _) = run(&mut client, b"\x81\x05\x48\x65\x6c\x6c\x6f");
    assert_eq!((msgs, res), (vec![Message::text("Hello")], Ok(())));
    // A fragmented unmasked text message.
    let (msgs, _, _) = run(&mut client, b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f");
    assert_eq!(msgs, vec![Message::text("Hello")]);
    // Unmasked Pong.
    let (msgs, _, _) = run(&mut client, b"\x8a\x05\x48\x65\x6c\x6c\x6f");
    assert_eq!(msgs, vec![Message::Pong(Bytes::from_static(b"Hello"))]);
    // 256 bytes and 64 KiB binary messages in a single unmasked frame.
    let mut big = b"\x82\x7E\x01\x00".to_vec();
    big.extend(std::iter::repeat_n(7u8, 256));
    let (msgs, _, _) = run(&mut client, &big);
    assert_eq!(msgs, vec![Message::Binary(Bytes::from(vec![7u8; 256]))]);
    let mut huge = b"\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00".to_vec();
    huge.extend(std::iter::repeat_n(9u8, 65536));
    let (msgs, _, _) = run(&mut client, &huge);
    assert_eq!(msgs, vec![Message::Binary(Bytes::from(vec![9u8; 65536]))]);

    // A single-frame masked text message, and a masked Ping answered by an unmasked Pong.
    let mut server = server();
    let (msgs, _, _) = run(&mut server, b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    assert_eq!(msgs, vec![Message::text("Hello")]);
    let (msgs, _, sent) = run(&mut server, b"\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    assert_eq!(msgs, vec![Message::Ping(Bytes::from_static(b"Hello"))]);
    assert_eq!(sent, b"\x8a\x05Hello");
}

#[test]
fn control_frames_interleave_with_fragments() {
    let mut p = server();
    let mut bytes = client_frame(0x1, false, b"Hel");
    bytes.extend(client_frame(0x9, true, b"p"));
    bytes.extend(client_frame(0x0, false, b"l"));
    bytes.extend(client_frame(0x0, true, b"o"));
    let (msgs, res, sent) = run(&mut p, &bytes);
    assert_eq!(res, Ok(()));
    assert_eq!(msgs, vec![Message::Ping(Bytes::from_static(b"p")), Message::text("Hello")]);
    assert_eq!(sent, b"\x8a\x01p");
}

fn expect_failure(bytes: &[u8], err: ProtocolError, code: CloseCode) {
    let mut p = server();
    let (_, res, sent) = run(&mut p, bytes);
    assert_eq!(res, Err(err.clone()));
    assert_eq!(err.close_code(), code);
    assert_eq!(sent, server_close(code), "close frame for {err}");
    // Sticky: the same error again, and no second close frame.
    let (_, again, sent) = run(&mut p, b"");
    assert_eq!(again, Err(err));
    assert!(sent.is_empty());
}

#[test]
fn every_rule_fails_with_its_close_code() {
    use ProtocolError as E;
    let p = CloseCode::PROTOCOL;
    expect_failure(&client_frame(0x41, true, b"x"), E::ReservedBits, p);
    expect_failure(&frame(0x1, true, b"x", None), E::UnmaskedFrame, p);
    expect_failure(&client_frame(0x3, true, b""), E::Header(HeaderError::ReservedOpcode(3)), p);
    expect_failure(&client_frame(0xB, true, b""), E::Header(HeaderError::ReservedOpcode(0xB)), p);
    expect_failure(&client_frame(0x9, false, b""), E::FragmentedControl, p);
    expect_failure(&client_frame(0x9, true, &[0; 126]), E::ControlTooLong, p);
    expect_failure(&client_frame(0x0, true, b"x"), E::UnexpectedContinuation, p);
    let mut two_starts = client_frame(0x1, false, b"a");
    two_starts.extend(client_frame(0x1, true, b"b"));
    expect_failure(&two_starts, E::ExpectedContinuation, p);
    expect_failure(&client_frame(0x8, true, b"\x03"), E::BadClose(CloseError::OneByte), p);
    expect_failure(
        &client_frame(0x8, true, &1005u16.to_be_bytes()),
        E::BadClose(CloseError::InvalidCode(1005)),
        p,
    );
    expect_failure(
        &client_frame(0x8, true, b"\x03\xe8\xff"),
        E::BadClose(CloseError::InvalidReason),
        CloseCode::INVALID_PAYLOAD,
    );
    expect_failure(&client_frame(0x1, true, b"\xff"), E::InvalidUtf8, CloseCode::INVALID_PAYLOAD);
    let mut huge = vec![0x82, 0xFF];
    huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
    huge.extend_from_slice(&[1, 2, 3, 4]);
    expect_failure(&huge, E::Header(HeaderError::LengthTooLarge), p);

    let mut client = Protocol::new(Role::Client, &Config::default());
    let (_, res, _) = run(&mut client, &client_frame(0x2, true, b"x"));
    assert_eq!(res, Err(E::MaskedFrame));
}

#[test]
fn limits_give_1009_as_soon_as_the_header_arrives() {
    let config = Config::default().with_max_frame_size(100).with_max_message_size(150);
    let mut p = Protocol::new(Role::Server, &config);
    // Only the header of a 101-byte frame: no payload needed to refuse it.
    let header = &client_frame(0x2, true, &[0; 101])[..8];
    let mut buf = BytesMut::from(header);
    let mut out = Outbox::new(0);
    assert_eq!(
        p.read_message(&mut buf, &mut out),
        Err(ProtocolError::FrameTooLarge { size: 101, limit: 100 })
    );
    let mut p = Protocol::new(Role::Server, &config);
    let mut bytes = client_frame(0x2, false, &[0; 100]);
    bytes.extend(client_frame(0x0, true, &[0; 51]));
    let (_, res, sent) = run(&mut p, &bytes);
    assert_eq!(res, Err(ProtocolError::MessageTooLarge { size: 151, limit: 150 }));
    assert_eq!(sent, server_close(CloseCode::TOO_BIG));
}

#[test]
fn invalid_utf8_fails_before_the_frame_is_complete() {
    let mut p = server();
    let whole =
        client_frame(0x1, true, b"valid text then \xf4\x90 and more text that never arrives");
    // Only the header and the bytes up to the bad sequence have arrived.
    let cut = whole.len() - 30;
    let (_, res, sent) = run(&mut p, &whole[..cut]);
    assert_eq!(res, Err(ProtocolError::InvalidUtf8));
    assert_eq!(sent, server_close(CloseCode::INVALID_PAYLOAD));

    // Across fragments: the second fragment's first byte completes an invalid sequence.
    let mut p = server();
    let mut bytes = client_frame(0x1, false, b"ok \xed");
    bytes.extend(client_frame(0x0, false, b"\xa0\x80"));
    let (_, res, _) = run(&mut p, &bytes);
    assert_eq!(res, Err(ProtocolError::InvalidUtf8));
}

#[test]
fn close_handshake_initiated_by_the_peer() {
    let mut p = server();
    let (msgs, res, sent) = run(&mut p, &client_frame(0x8, true, b"\x03\xe8bye"));
    assert_eq!(res, Ok(()));
    assert_eq!(msgs, vec![Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")))]);
    assert_eq!(sent, server_close(CloseCode::NORMAL));
    assert_eq!(p.state(), &State::Closed);
    let mut out = Outbox::new(0);
    assert_eq!(p.send(Message::text("late"), &mut out), Err(UsageError::Closed));
    // An empty close is answered with an empty close.
    let mut p = server();
    let (_, _, sent) = run(&mut p, &client_frame(0x8, true, b""));
    assert_eq!(sent, b"\x88\x00");
}

#[test]
fn close_handshake_initiated_locally_discards_data_until_the_reply() {
    let mut p = server();
    let mut out = Outbox::new(0);
    p.close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "bye")), &mut out).unwrap();
    assert_eq!(p.state(), &State::CloseSent);
    assert_eq!(p.close(None, &mut out), Err(UsageError::Closed));
    let mut bytes = client_frame(0x1, true, b"ignored");
    bytes.extend(client_frame(0x9, true, b"no pong now"));
    bytes.extend(client_frame(0x8, true, &1001u16.to_be_bytes()));
    let (msgs, res, sent) = run(&mut p, &bytes);
    assert_eq!(res, Ok(()));
    assert_eq!(msgs, vec![Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "")))]);
    assert!(sent.is_empty(), "no pong and no second close after ours");
    assert_eq!(p.state(), &State::Closed);
}

#[test]
fn send_checks_control_sizes_and_close_codes() {
    let mut p = server();
    let mut out = Outbox::new(0);
    assert_eq!(
        p.send(Message::Ping(Bytes::from(vec![0; 126])), &mut out),
        Err(UsageError::ControlTooLong(126))
    );
    assert_eq!(
        p.close(Some(CloseFrame::new(CloseCode(1005), "")), &mut out),
        Err(UsageError::InvalidCloseCode(1005))
    );
    assert!(out.is_empty());
    assert_eq!(p.state(), &State::Open);
}

#[test]
fn a_client_masks_with_a_fresh_key_per_frame() {
    let mut client = Protocol::new(Role::Client, &Config::default());
    let mut out = Outbox::new(1024);
    client.send(Message::text("Hello"), &mut out).unwrap();
    client.send(Message::text("Hello"), &mut out).unwrap();
    let mut segs = Vec::new();
    out.drain_into(&mut segs, 8);
    let bytes = segs.concat();
    assert_eq!(bytes.len(), 22);
    let (a, b) = bytes.split_at(11);
    assert_ne!(a[2..6], b[2..6], "keys differ");
    // And a server decodes both.
    let (msgs, res, _) = run(&mut server(), &bytes);
    assert_eq!((msgs.len(), res), (2, Ok(())));
}

/// A stream of frames a client could send, and the messages a server must read from it.
fn stream_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<Message>)> {
    let frame = prop_oneof![
        (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..300)).prop_map(|(text, data)| {
            if text {
                let s = String::from_utf8_lossy(&data).into_owned();
                (client_frame(0x1, true, s.as_bytes()), vec![Message::text(s)])
            } else {
                (client_frame(0x2, true, &data), vec![Message::binary(data)])
            }
        }),
        proptest::collection::vec(any::<u8>(), 0..125)
            .prop_map(|d| (client_frame(0x9, true, &d), vec![Message::Ping(Bytes::from(d))])),
        ("\\PC{0,30}", 1usize..4).prop_map(|(s, parts)| {
            let bytes = s.as_bytes();
            let step = bytes.len() / parts + 1;
            let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
            let mut out = Vec::new();
            if chunks.is_empty() {
                out.extend(client_frame(0x1, true, b""));
            }
            for (i, chunk) in chunks.iter().enumerate() {
                let op = if i == 0 { 0x1 } else { 0x0 };
                out.extend(client_frame(op, i + 1 == chunks.len(), chunk));
            }
            (out, vec![Message::text(s)])
        }),
    ];
    proptest::collection::vec(frame, 0..8).prop_map(|frames| {
        let mut bytes = Vec::new();
        let mut msgs = Vec::new();
        for (b, m) in frames {
            bytes.extend(b);
            msgs.extend(m);
        }
        (bytes, msgs)
    })
}

proptest! {
    #[test]
    fn any_split_into_reads_yields_the_same_messages(
        (bytes, expected) in stream_strategy(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(bytes.len());
        let mut p = server();
        let mut buf = BytesMut::new();
        let mut out = Outbox::new(64);
        let mut got = Vec::new();
        let mut start = 0;
        for cut in cuts {
            buf.extend_from_slice(&bytes[start..cut]);
            start = cut;
            while let Some(m) = p.read_message(&mut buf, &mut out).expect("valid stream") {
                got.push(m);
            }
        }
        prop_assert_eq!(got, expected);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn encode_then_decode_round_trips(
        payload in proptest::collection::vec(any::<u8>(), 0..70_000),
        kind in 0u8..4,
    ) {
        let msg = match kind {
            0 => Message::binary(payload.clone()),
            1 => Message::text(String::from_utf8_lossy(&payload).into_owned()),
            2 => Message::Ping(Bytes::copy_from_slice(&payload[..payload.len().min(125)])),
            _ => Message::Pong(Bytes::copy_from_slice(&payload[..payload.len().min(125)])),
        };
        for (sender_role, receiver_role) in [(Role::Client, Role::Server), (Role::Server, Role::Client)] {
            let mut sender = Protocol::new(sender_role, &Config::default());
            let mut out = Outbox::new(1024);
            sender.send(msg.clone(), &mut out).unwrap();
            let mut segs = Vec::new();
            out.drain_into(&mut segs, 64);
            let mut receiver = Protocol::new(receiver_role, &Config::default());
            let (msgs, res, _) = run(&mut receiver, &segs.concat());
            prop_assert_eq!(res, Ok(()));
            prop_assert_eq!(&msgs, &vec![msg.clone()]);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                role in prop_oneof![Just(Role::Server), Just(Role::Client)]) {
        let config = Config::default().with_max_frame_size(1 << 16).with_max_message_size(1 << 17);
        let mut p = Protocol::new(role, &config);
        let mut buf = BytesMut::new();
        let mut out = Outbox::new(64);
        for chunk in bytes.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Ok(Some(_)) = p.read_message(&mut buf, &mut out) {}
        }
    }
}

mod deflate {
    use super::*;
    use crate::deflate::{DeflateConfig, Negotiated};

    fn pair(neg: Negotiated) -> (Protocol, Protocol) {
        let config = Config::default();
        let (mut client, mut server) =
            (Protocol::new(Role::Client, &config), Protocol::new(Role::Server, &config));
        let dc = DeflateConfig { min_size: 0, ..DeflateConfig::default() };
        client.enable_deflate(neg, &dc);
        server.enable_deflate(neg, &dc);
        (client, server)
    }

    const NEG: Negotiated = Negotiated {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    fn send_all(p: &mut Protocol, msgs: &[Message]) -> Vec<u8> {
        let mut out = Outbox::new(64);
        for m in msgs {
            p.send(m.clone(), &mut out).unwrap();
        }
        let mut segs = Vec::new();
        out.drain_into(&mut segs, 1024);
        segs.concat()
    }

    #[test]
    fn compressed_messages_round_trip_both_ways_with_rsv1_set() {
        for reset in [false, true] {
            let neg = Negotiated {
                server_no_context_takeover: reset,
                client_no_context_takeover: reset,
                ..NEG
            };
            let (mut client, mut server) = pair(neg);
            let text = "{\"k\":\"value\"}".repeat(300);
            let msgs = vec![
                Message::text(text.clone()),
                Message::binary(vec![7u8; 5000]),
                Message::text(text),
            ];
            let wire = send_all(&mut client, &msgs);
            assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on the first frame");
            assert!(wire.len() < 2000, "compressed: {} bytes", wire.len());
            let (got, res, _) = run(&mut server, &wire);
            assert_eq!((got, res), (msgs.clone(), Ok(())));
            let wire = send_all(&mut server, &msgs);
            let (got, res, _) = run(&mut client, &wire);
            assert_eq!((got, res), (msgs, Ok(())));
        }
    }

    #[test]
    fn rsv1_is_refused_on_control_frames_continuations_and_without_negotiation() {
        let (_, mut server) = pair(NEG);
        let (_, res, _) = run(&mut server, &client_frame(0x49, true, b"x"));
        assert_eq!(res, Err(ProtocolError::ReservedBits), "RSV1 on a ping");
        let (_, mut server) = pair(NEG);
        let mut bytes = client_frame(0x1, false, b"a");
        bytes.extend(client_frame(0x40, true, b"b"));
        let (_, res, _) = run(&mut server, &bytes);
        assert_eq!(res, Err(ProtocolError::ReservedBits), "RSV1 on a continuation");
        let (_, res, _) = run(&mut super::server(), &client_frame(0x41, true, b"x"));
        assert_eq!(res, Err(ProtocolError::ReservedBits), "not negotiated");
    }

    #[test]
    fn a_fragmented_compressed_message_inflates_across_frames() {
        let (mut client, mut server) = pair(NEG);
        let text = "abcdefgh".repeat(1000);
        let wire = send_all(&mut client, &[Message::text(text.clone())]);
        // Re-frame the single compressed frame's payload as three fragments.
        let (h, n) = FrameHeader::parse(&wire).unwrap().unwrap();
        let mut payload = wire[n..].to_vec();
        apply_mask(&mut payload, h.mask.unwrap(), 0);
        let third = payload.len() / 3;
        let mut bytes = client_frame(0x41, false, &payload[..third]);
        bytes.extend(client_frame(0x0, false, &payload[third..2 * third]));
        bytes.extend(client_frame(0x0, true, &payload[2 * third..]));
        let (got, res, _) = run(&mut server, &bytes);
        assert_eq!((got, res), (vec![Message::text(text)], Ok(())));
    }

    #[test]
    fn a_decompression_bomb_gets_1009_and_garbage_gets_1007() {
        let config = Config::default().with_max_message_size(1 << 20);
        let dc = DeflateConfig { min_size: 0, ..DeflateConfig::default() };
        let mut client = Protocol::new(Role::Client, &Config::default());
        client.enable_deflate(NEG, &dc);
        let wire = send_all(&mut client, &[Message::binary(vec![0u8; 8 << 20])]);
        assert!(wire.len() < 64 << 10);
        let mut server = Protocol::new(Role::Server, &config);
        server.enable_deflate(NEG, &dc);
        let (_, res, sent) = run(&mut server, &wire);
        assert!(matches!(res, Err(ProtocolError::MessageTooLarge { .. })), "{res:?}");
        assert_eq!(sent, server_close(CloseCode::TOO_BIG));
        let (_, mut server) = pair(NEG);
        let (_, res, sent) = run(&mut server, &client_frame(0x42, true, &[0xff, 0xff, 0xff]));
        assert_eq!(res, Err(ProtocolError::BadCompressedData));
        assert_eq!(sent, server_close(CloseCode::INVALID_PAYLOAD));
    }

    #[test]
    fn incompressible_data_at_the_limit_passes_though_its_compressed_frame_is_larger() {
        let limit = 64 << 10;
        let config = Config::default().with_max_frame_size(limit).with_max_message_size(limit);
        let dc = DeflateConfig { min_size: 0, ..DeflateConfig::default() };
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..limit + 1)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for (len, ok) in [(limit, true), (limit + 1, false)] {
            let mut client = Protocol::new(Role::Client, &config);
            client.enable_deflate(NEG, &dc);
            let msg = Message::binary(noise[..len].to_vec());
            let wire = send_all(&mut client, std::slice::from_ref(&msg));
            let (h, _) = FrameHeader::parse(&wire).unwrap().unwrap();
            assert!(h.payload_len > len as u64, "deflate expanded noise: {}", h.payload_len);
            let mut server = Protocol::new(Role::Server, &config);
            server.enable_deflate(NEG, &dc);
            let (got, res, _) = run(&mut server, &wire);
            if ok {
                assert_eq!((got, res), (vec![msg], Ok(())));
            } else {
                assert!(matches!(res, Err(ProtocolError::MessageTooLarge { .. })), "{res:?}");
            }
        }
    }

    /// Segments `p` queues for `msg` prepared, and the bytes they make.
    fn send_prepared(p: &mut Protocol, msg: &PreparedMessage) -> (Vec<Bytes>, Vec<u8>) {
        let mut out = Outbox::new(64);
        p.send_prepared(msg, &mut out).unwrap();
        let mut segs = Vec::new();
        out.drain_into(&mut segs, 1024);
        let wire = segs.concat();
        (segs, wire)
    }

    #[test]
    fn a_prepared_message_is_shared_by_servers_and_compressed_once_where_context_allows() {
        let text = "{\"price\": 101.25, \"symbol\": \"EDDY\"}".repeat(100);
        let msg = PreparedMessage::text(text.clone());
        let want = vec![Message::text(text.clone())];

        // Without deflate: the payload goes out as the very bytes prepared, for every server.
        for _ in 0..2 {
            let mut plain = server();
            let (segs, wire) = send_prepared(&mut plain, &msg);
            assert!(segs.iter().any(|s| s.as_ptr() == msg.payload().as_ptr()), "payload shared");
            let (got, res, _) = run(&mut Protocol::new(Role::Client, &Config::default()), &wire);
            assert_eq!((got, res), (want.clone(), Ok(())));
        }

        // Servers that reset per message share one compressed form, and it inflates right.
        let reset = Negotiated { server_no_context_takeover: true, ..NEG };
        let (mut c1, mut s1) = pair(reset);
        let (mut c2, mut s2) = pair(reset);
        let (segs1, wire1) = send_prepared(&mut s1, &msg);
        let (segs2, wire2) = send_prepared(&mut s2, &msg);
        assert_eq!(wire1[0] & 0x40, 0x40, "RSV1: compressed");
        assert!(wire1.len() < text.len() / 4, "compressed: {} bytes", wire1.len());
        let shared = |a: &[Bytes], b: &[Bytes]| {
            a.iter().any(|x| x.len() > 64 && b.iter().any(|y| y.as_ptr() == x.as_ptr()))
        };
        assert!(shared(&segs1, &segs2), "one compressed form for both connections");
        assert_eq!((run(&mut c1, &wire1).0, run(&mut c2, &wire2).0), (want.clone(), want.clone()));

        // With context takeover each connection compresses for itself, message after message.
        let (mut c3, mut s3) = pair(NEG);
        for _ in 0..3 {
            let (segs3, wire3) = send_prepared(&mut s3, &msg);
            assert!(!shared(&segs3, &segs1), "its own compression, not the shared one");
            let (got, res, _) = run(&mut c3, &wire3);
            assert_eq!((got, res), (want.clone(), Ok(())));
        }

        // A client masks its own copy.
        let (mut c4, mut s4) = pair(reset);
        let (segs4, wire4) = send_prepared(&mut c4, &msg);
        assert!(!shared(&segs4, &segs1));
        assert_eq!(wire4[1] & 0x80, 0x80, "masked");
        assert_eq!(run(&mut s4, &wire4).0, want);
        assert!(PreparedMessage::from_message(Message::Ping(Bytes::new())).is_none());
    }
}
