//! A push subscriber in ten lines: every message of stream 0, topic 0, all partitions, as the
//! server appends them. `cargo run -p eddy-client --example subscriber -- <root password>`.

use eddy_client::{Subscriber, Subscription, Transport};
use eddy_wire::Identifier;

#[compio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let password = std::env::args().nth(1).ok_or("usage: subscriber <root password>")?;
    let (stream, topic) = (Identifier::Numeric(0), Identifier::Numeric(0));
    let addr = "127.0.0.1:8090".parse()?;
    let spec = Subscription::new(1); // consumer 1, from the first message, credit 10,000 / 16 MiB
    let mut sub =
        Subscriber::connect(Transport::Tcp, addr, "iggy", &password, &stream, &topic, spec).await?;
    loop {
        let batch = sub.next().await?; // reconnects and resumes on its own
        for m in &batch.messages {
            println!(
                "partition {} offset {}: {} bytes",
                batch.partition,
                m.offset,
                m.payload.len()
            );
        }
    }
}
