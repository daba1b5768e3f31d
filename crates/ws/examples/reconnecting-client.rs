//! A client that stays connected: sends a numbered message every `--interval-ms`, prints what
//! comes back, and after any lost connection reconnects with full-jitter exponential back-off
//! (base 100 ms, cap 10 s), giving up after `--attempts` failures in a row. Stops after
//! `--messages` messages. Try it against the echo server and restart that meanwhile:
//!
//! `cargo run -p eddy-ws --example echo-server` and
//! `cargo run -p eddy-ws --example reconnecting-client -- ws://127.0.0.1:9001/`

use std::time::Duration;

use clap::Parser;
use eddy_ws::{Message, connect};

#[derive(Parser)]
struct Args {
    /// The server's URL.
    #[arg(default_value = "ws://127.0.0.1:9001/")]
    url: String,
    /// Messages to send in all.
    #[arg(long, default_value_t = 20)]
    messages: u64,
    /// Time between messages.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Failed connection attempts in a row before giving up.
    #[arg(long, default_value_t = 10)]
    attempts: u32,
}

/// A random delay in `[0, min(cap, base · 2^failures))` (full jitter: clients that lost the same
/// server do not come back in step).
fn backoff(failures: u32) -> Duration {
    let ceiling = 100u64.saturating_mul(1 << failures.min(16)).min(10_000);
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok();
    Duration::from_millis(u64::from_le_bytes(bytes) % ceiling.max(1))
}

#[compio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut sent = 0u64;
    let mut failures = 0u32;
    while sent < args.messages {
        let mut ws = match connect(&args.url).await {
            Ok((ws, _)) => {
                println!("connected to {}", args.url);
                failures = 0;
                ws
            }
            Err(e) => {
                failures += 1;
                if failures >= args.attempts {
                    anyhow::bail!("gave up after {failures} failed attempts: {e}");
                }
                let wait = backoff(failures);
                println!("connect failed ({e}); retrying in {wait:?}");
                compio::time::sleep(wait).await;
                continue;
            }
        };
        // One request, one answer: a message is counted once its echo came back, so a drop
        // in between sends it again on the next connection.
        while sent < args.messages {
            let text = format!("message {sent}");
            let answer = async {
                ws.send(Message::text(text)).await?;
                ws.read().await
            };
            match answer.await {
                Ok(reply) => {
                    println!("{reply:?}");
                    sent += 1;
                    compio::time::sleep(Duration::from_millis(args.interval_ms)).await;
                }
                Err(e) => {
                    println!("connection lost ({e})");
                    break;
                }
            }
        }
    }
    Ok(())
}
