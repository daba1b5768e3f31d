//! wss:// with a self-signed certificate, server and client in one process: makes a certificate
//! for `localhost` (rcgen), serves TLS on a free port, connects a client that trusts exactly that
//! certificate, and exchanges a few messages. The PEM files go to a temporary directory.
//!
//! `cargo run -p eddy-ws --features tls --example wss-self-signed`

use compio::net::TcpListener;
use eddy_ws::tls::{TlsAcceptor, client_config, server_config};
use eddy_ws::{ClientRequest, Config, Message};

#[compio::main]
async fn main() -> anyhow::Result<()> {
    // A self-signed certificate: the client trusts it as its own root.
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])?.self_signed(&key)?;
    let dir = std::env::temp_dir().join(format!("eddy-wss-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem())?;
    std::fs::write(&key_path, key.serialize_pem())?;

    let acceptor = TlsAcceptor::from(server_config(&cert_path, &key_path)?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut ws =
            eddy_ws::tls::accept(&acceptor, tcp, &Config::default(), |_, _| Ok(())).await?;
        while let Ok(msg) = ws.read().await {
            if msg.is_data() {
                ws.send(msg).await?;
            }
        }
        Ok::<_, eddy_ws::Error>(())
    });

    let trust = client_config(Some(&cert_path))?;
    let request = ClientRequest::new(&format!("wss://localhost:{port}/"))?;
    let (mut ws, _) = eddy_ws::tls::connect_with(request, &Config::default(), trust).await?;
    for i in 0..3 {
        ws.send(Message::text(format!("hello {i} over TLS"))).await?;
        println!("echoed: {:?}", ws.read().await?);
    }
    ws.close(None).await?;
    server.await.map_err(|_| anyhow::anyhow!("server task panicked"))??;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
