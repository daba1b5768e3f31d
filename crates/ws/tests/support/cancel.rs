//! The cancel-safety check shared by the TCP and TLS tests: one side reads a long, varied
//! message stream through `read()` raced against timers that fire at random points (so reads
//! are dropped at every stage: waiting, mid-frame, mid-large-message, while answering a ping),
//! and sends messages of its own whenever a timer wins (writes while a read is left in flight).
//! Every message must arrive once, in order, byte-exact, both ways.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use compio::io::{AsyncRead, AsyncWrite};
use eddy_ws::{Detach, Message, WebSocket};

/// Messages the peer sends.
pub const COUNT: u32 = 3000;

/// Message `i` of the stream: sizes from 1 byte to 150 KiB (every 97th is large, so reads are
/// dropped in the middle of a message that spans many of them), bytes that depend on both.
pub fn payload(i: u32) -> Vec<u8> {
    let len = if i.is_multiple_of(97) { 150 << 10 } else { (i * 7919) % 3000 + 1 } as usize;
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

/// Which of two futures finishes first (the other is dropped).
pub async fn first<A: Future, B: Future>(a: A, b: B) -> Result<A::Output, B::Output> {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Ok(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Err(y));
        }
        Poll::Pending
    })
    .await
}

/// The peer: sends the stream in bursts with pauses and a ping every 50 messages, then "end";
/// then reads until the reader's "ticks N" and returns the ticks it got, in order.
pub async fn send_stream<S: AsyncRead + AsyncWrite + Detach>(mut ws: WebSocket<S>) -> Vec<u32> {
    for i in 0..COUNT {
        ws.feed(Message::binary(payload(i))).unwrap();
        if i.is_multiple_of(50) {
            ws.feed(Message::Ping(bytes::Bytes::from(i.to_le_bytes().to_vec()))).unwrap();
        }
        if i.is_multiple_of(11) {
            ws.flush().await.unwrap();
            compio::time::sleep(Duration::from_micros(u64::from(i * 37) % 1500)).await;
        }
    }
    ws.feed(Message::text("end")).unwrap();
    ws.flush().await.unwrap();
    let mut ticks = Vec::new();
    loop {
        match ws.read().await.unwrap() {
            Message::Text(t) => match t.strip_prefix("tick ") {
                Some(n) => ticks.push(n.parse().unwrap()),
                None => {
                    let total: usize = t.strip_prefix("ticks ").unwrap().parse().unwrap();
                    assert_eq!(ticks.len(), total, "every tick the reader sent");
                    return ticks;
                }
            },
            Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The side under test: reads the stream with `read()` raced against random timers; returns
/// (timers that won, ticks sent).
pub async fn read_with_timers<S: AsyncRead + AsyncWrite + Detach>(
    mut ws: WebSocket<S>,
) -> (u32, u32) {
    let (mut next, mut cancelled, mut ticks, mut rng) = (0u32, 0u32, 0u32, 7u64);
    loop {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let wait = Duration::from_micros((rng >> 33) % 400);
        match first(ws.read(), compio::time::sleep(wait)).await {
            Ok(Ok(Message::Binary(b))) => {
                assert!(next < COUNT, "more messages than sent");
                assert!(b[..] == payload(next)[..], "message {next} arrives whole and in order");
                next += 1;
            }
            Ok(Ok(Message::Ping(_))) => {}
            Ok(Ok(Message::Text(t))) if t.as_str() == "end" => break,
            Ok(other) => panic!("after {next} messages: {other:?}"),
            Err(()) => {
                cancelled += 1;
                if cancelled.is_multiple_of(3) {
                    // A write while the dropped read is still in flight.
                    ws.send(Message::text(format!("tick {ticks}"))).await.unwrap();
                    ticks += 1;
                }
            }
        }
    }
    assert_eq!(next, COUNT, "every message");
    ws.send(Message::text(format!("ticks {ticks}"))).await.unwrap();
    (cancelled, ticks)
}

/// The verdict of one run: enough reads were dropped to mean something, and the reader's own
/// messages all arrived, in order.
pub fn check(cancelled: u32, sent: u32, ticks: &[u32]) {
    assert!(cancelled > 100, "the timers dropped too few reads ({cancelled}) to mean anything");
    assert_eq!(ticks, (0..sent).collect::<Vec<_>>(), "the reader's own messages, in order");
}
