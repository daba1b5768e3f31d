//! A chat room: every text message a client sends goes to every connected client, through a
//! [`Hub`] (one shared copy per message, each client's queue bounded at 256; a client that
//! stops reading is cut off with 1013 instead of holding memory). Each connection is split: its
//! reader publishes, its writer forwards what the hub has for it, one flush per burst.
//!
//! `cargo run -p eddy-ws --example chat -- 127.0.0.1:9002`, then connect two clients (a browser
//! console: `ws = new WebSocket('ws://127.0.0.1:9002'); ws.onmessage = e => console.log(e.data)`).

use std::net::SocketAddr;

use clap::Parser;
use compio::net::TcpListener;
use eddy_ws::{CloseCode, CloseFrame, Hub, Lagged, Message, PreparedMessage, SlowPolicy, accept};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(default_value = "127.0.0.1:9002")]
    addr: SocketAddr,
}

#[compio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.addr).await?;
    println!("chat on ws://{}/", listener.local_addr()?);
    let hub = Hub::new(256, SlowPolicy::Disconnect);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let (hub, mut subscription) = (hub.clone(), hub.subscribe());
        compio::runtime::spawn(async move {
            let Ok(ws) = accept(tcp).await else { return };
            let (mut reader, mut writer) = ws.split();
            let forward = compio::runtime::spawn(async move {
                loop {
                    match subscription.recv().await {
                        Ok(first) => {
                            let mut next = Some(first);
                            while let Some(msg) = next {
                                if writer.feed_prepared(&msg).is_err() {
                                    return;
                                }
                                next = subscription.try_recv();
                            }
                            if writer.flush().await.is_err() {
                                return;
                            }
                        }
                        Err(Lagged::Overflow) => {
                            let why = CloseFrame::new(CloseCode::TRY_AGAIN_LATER, "too slow");
                            writer.close(Some(why)).await.ok();
                            return;
                        }
                        Err(Lagged::Closed) => return,
                    }
                }
            });
            hub.publish(PreparedMessage::text(format!("{peer} joined")));
            while let Ok(msg) = reader.read().await {
                if let Message::Text(text) = msg {
                    hub.publish(PreparedMessage::text(format!("{peer}: {}", text.as_str())));
                }
            }
            drop(forward);
            hub.publish(PreparedMessage::text(format!("{peer} left")));
        })
        .detach();
    }
}
