//! `CompatWebSocket`: tungstenite's protocol over a [`GrowableSyncStream`], the system the
//! article describes (application → tungstenite → GrowableSyncStream → compio). Every call loops:
//! run tungstenite; on `WouldBlock`, flush the write buffer and fill the read buffer
//! asynchronously; run it again. Tungstenite's own types and errors are exposed unchanged.

use std::io;

use compio::io::{AsyncRead, AsyncWrite};
use tungstenite::handshake::HandshakeError;
use tungstenite::handshake::client::Response;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Error, Message, WebSocket};

use super::growable::{GrowableSyncStream, StreamConfig};

fn would_block(e: &Error) -> bool {
    matches!(e, Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

/// A tungstenite WebSocket on a compio stream.
#[derive(Debug)]
pub struct CompatWebSocket<S> {
    ws: WebSocket<GrowableSyncStream<S>>,
}

/// Services the stream after tungstenite said `WouldBlock`: writes what is buffered, then reads
/// once. EOF is left for tungstenite to notice on its next read.
async fn service<S: AsyncRead + AsyncWrite>(
    stream: &mut GrowableSyncStream<S>,
) -> Result<(), Error> {
    if stream.pending_write() > 0 {
        stream.flush_write_buf().await?;
    }
    if !stream.is_eof() && stream.readable() == 0 {
        stream.fill_read_buf().await?;
    }
    Ok(())
}

impl CompatWebSocket<compio::net::TcpStream> {
    /// Connects to a `ws://` URL over TCP (with `TCP_NODELAY`) and runs the client handshake.
    pub async fn connect(
        url: &str,
        config: StreamConfig,
        ws_config: Option<WebSocketConfig>,
    ) -> Result<(Self, Response), Error> {
        let parsed = crate::handshake::WsUrl::parse(url)
            .map_err(|e| Error::Io(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())))?;
        if parsed.secure {
            return Err(Error::Url(tungstenite::error::UrlError::TlsFeatureNotEnabled));
        }
        let tcp = compio::net::TcpStream::connect(parsed.socket_address()).await?;
        tcp.set_nodelay(true)?;
        Self::client(url, tcp, config, ws_config).await
    }
}

impl<S: AsyncRead + AsyncWrite> CompatWebSocket<S> {
    /// Accepts a connection (server handshake) over `stream`.
    pub async fn accept(
        stream: S,
        config: StreamConfig,
        ws_config: Option<WebSocketConfig>,
    ) -> Result<Self, Error> {
        let mut attempt =
            tungstenite::accept_with_config(GrowableSyncStream::new(stream, config), ws_config);
        loop {
            match attempt {
                Ok(ws) => {
                    let mut this = Self { ws };
                    this.flush_buffered().await?;
                    return Ok(this);
                }
                Err(HandshakeError::Interrupted(mut mid)) => {
                    service(mid.get_mut().get_mut()).await?;
                    attempt = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) => return Err(e),
            }
        }
    }

    /// Opens a client connection to `url` (`ws://…`) over an already connected `stream`.
    pub async fn client(
        url: &str,
        stream: S,
        config: StreamConfig,
        ws_config: Option<WebSocketConfig>,
    ) -> Result<(Self, Response), Error> {
        let mut attempt = tungstenite::client::client_with_config(
            url,
            GrowableSyncStream::new(stream, config),
            ws_config,
        );
        loop {
            match attempt {
                Ok((ws, response)) => return Ok((Self { ws }, response)),
                Err(HandshakeError::Interrupted(mut mid)) => {
                    service(mid.get_mut().get_mut()).await?;
                    attempt = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) => return Err(e),
            }
        }
    }

    /// The bridge stream (capacities, counters).
    pub fn stream(&self) -> &GrowableSyncStream<S> {
        self.ws.get_ref()
    }

    async fn flush_buffered(&mut self) -> Result<(), Error> {
        if self.ws.get_ref().pending_write() > 0 {
            self.ws.get_mut().flush_write_buf().await?;
        }
        Ok(())
    }

    /// Reads the next message (tungstenite answers pings and close frames; the answers are
    /// written before this returns).
    pub async fn read(&mut self) -> Result<Message, Error> {
        loop {
            match self.ws.read() {
                Ok(msg) => {
                    self.flush_buffered().await?;
                    return Ok(msg);
                }
                Err(e) if would_block(&e) => service(self.ws.get_mut()).await?,
                Err(e) => {
                    self.flush_buffered().await.ok();
                    return Err(e);
                }
            }
        }
    }

    /// Queues a message and writes it (and anything queued before).
    pub async fn send(&mut self, msg: Message) -> Result<(), Error> {
        let mut pending = Some(msg);
        while let Some(msg) = pending.take() {
            match self.ws.write(msg) {
                Ok(()) => {}
                // The frame is queued inside tungstenite; its spill into the bridge blocked.
                Err(e) if would_block(&e) => self.ws.get_mut().flush_write_buf().await.map(drop)?,
                Err(Error::WriteBufferFull(msg)) => {
                    pending = Some(*msg);
                    self.ws.get_mut().flush_write_buf().await?;
                }
                Err(e) => return Err(e),
            }
        }
        loop {
            match self.ws.flush() {
                Ok(()) => break,
                Err(e) if would_block(&e) => self.ws.get_mut().flush_write_buf().await.map(drop)?,
                Err(e) => return Err(e),
            }
        }
        self.flush_buffered().await
    }

    /// Starts the close handshake and writes the close frame; keep reading until `read` returns
    /// an error (`ConnectionClosed` once the peer answered).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        loop {
            match self.ws.close(frame.clone()) {
                Ok(()) => break,
                Err(e) if would_block(&e) => self.ws.get_mut().flush_write_buf().await.map(drop)?,
                Err(e) => return Err(e),
            }
        }
        self.flush_buffered().await
    }
}
