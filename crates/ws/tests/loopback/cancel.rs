//! `read()` is cancel-safe over TCP: raced against random timers in a `select!`-style race, it
//! loses no byte and no message, and writes made while a dropped read is in flight go out (the
//! stream and the check are in `tests/support/cancel.rs`, shared with the TLS test).

#[path = "../support/cancel.rs"]
mod support;

use eddy_ws::{Config, connect};

use crate::common::{serve_one, url};

#[compio::test]
async fn a_read_raced_against_timers_loses_nothing_over_tcp() {
    let (addr, server) =
        serve_one(
            Config::default(),
            |ws| async move { support::read_with_timers(ws.unwrap()).await },
        )
        .await;
    let (ws, _) = connect(&url(addr)).await.unwrap();
    let ticks = compio::time::timeout(std::time::Duration::from_secs(60), support::send_stream(ws))
        .await
        .expect("the stream completes");
    let (cancelled, sent) = server.await.unwrap();
    support::check(cancelled, sent, &ticks);
}

#[compio::test]
async fn a_split_reader_raced_against_timers_loses_nothing() {
    // The same race on the read half of a split connection; the ticks go out through the
    // write half while the dropped read is in flight.
    let (addr, server) = serve_one(Config::default(), |ws| async move {
        let (mut reader, mut writer) = ws.unwrap().split();
        let (mut next, mut cancelled, mut rng) = (0u32, 0u32, 3u64);
        loop {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let wait = std::time::Duration::from_micros((rng >> 33) % 400);
            match support::first(reader.read(), compio::time::sleep(wait)).await {
                Ok(Ok(eddy_ws::Message::Binary(b))) => {
                    assert!(b[..] == support::payload(next)[..], "message {next}");
                    next += 1;
                }
                Ok(Ok(eddy_ws::Message::Ping(_))) => {}
                Ok(Ok(eddy_ws::Message::Text(t))) if t.as_str() == "end" => break,
                Ok(other) => panic!("after {next} messages: {other:?}"),
                Err(()) => cancelled += 1,
            }
        }
        assert_eq!(next, support::COUNT);
        writer.send(eddy_ws::Message::text("ticks 0")).await.unwrap();
        cancelled
    })
    .await;
    let (ws, _) = connect(&url(addr)).await.unwrap();
    let ticks = compio::time::timeout(std::time::Duration::from_secs(60), support::send_stream(ws))
        .await
        .expect("the stream completes");
    assert!(ticks.is_empty());
    assert!(server.await.unwrap() > 100);
}
