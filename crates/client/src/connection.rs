//! One request/response exchange over TCP or WebSocket: the request goes out as header + payload
//! in one vectored write (TCP) or one binary message written in place (WebSocket); the reply is read
//! whole into an owned buffer. Sending and reading are separate steps too, for a subscribed
//! connection whose replies come between pushed frames.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::TcpStream;
use eddy_wire::framing::{
    REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN, RequestHeader, parse_response_header,
};
use eddy_ws::{Message, WebSocket};

use crate::ClientError;

/// How to reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    WebSocket,
}

pub(crate) enum Connection {
    Tcp { stream: TcpStream, buf: BytesMut },
    Ws { ws: Box<WebSocket<TcpStream>>, pending: BytesMut },
}

impl Connection {
    pub async fn open(transport: Transport, addr: SocketAddr) -> Result<Self, ClientError> {
        match transport {
            Transport::Tcp => {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                Ok(Self::Tcp { stream, buf: BytesMut::with_capacity(8 << 10) })
            }
            Transport::WebSocket => {
                let config = eddy_ws::Config::default()
                    .with_max_message_size(256 << 20)
                    .with_max_frame_size(256 << 20);
                let request = eddy_ws::ClientRequest::new(&format!("ws://{addr}/"))
                    .map_err(eddy_ws::Error::from)?;
                let (ws, _) = eddy_ws::connect_with(request, &config).await?;
                Ok(Self::Ws { ws: Box::new(ws), pending: BytesMut::new() })
            }
        }
    }

    /// Sends one request and returns `(status, payload)`.
    pub async fn exchange(
        &mut self,
        code: u32,
        payload: Bytes,
    ) -> Result<(u32, Bytes), ClientError> {
        self.exchange_parts(code, vec![payload]).await
    }

    /// [`Self::exchange`] of a request whose payload is `parts` back to back.
    pub async fn exchange_parts(
        &mut self,
        code: u32,
        parts: Vec<Bytes>,
    ) -> Result<(u32, Bytes), ClientError> {
        self.send_parts(code, parts).await?;
        self.read_frame().await
    }

    /// Sends one request (its reply is read by [`Self::read_frame`]).
    pub async fn send(&mut self, code: u32, payload: Bytes) -> Result<(), ClientError> {
        self.send_parts(code, vec![payload]).await
    }

    /// Sends one request whose payload is `parts` back to back. Over TCP the parts go out as
    /// they are, in one vectored write (no copy of a large batch); over WebSocket they are
    /// copied once, straight into the frame that is sent, masked as they are copied.
    pub async fn send_parts(&mut self, code: u32, parts: Vec<Bytes>) -> Result<(), ClientError> {
        let len: usize = parts.iter().map(Bytes::len).sum();
        let mut head = BytesMut::with_capacity(REQUEST_HEADER_LEN);
        RequestHeader::encode(code, len, &mut head);
        match self {
            Self::Tcp { stream, .. } => {
                let mut segments = Vec::with_capacity(parts.len() + 1);
                segments.push(head.freeze());
                segments.extend(parts);
                let BufResult(res, _) = stream.write_vectored_all(segments).await;
                res?;
            }
            Self::Ws { ws, .. } => {
                ws.feed_binary_with(REQUEST_HEADER_LEN + len, |frame| {
                    frame.put_slice(&head);
                    for part in &parts {
                        frame.put_slice(part);
                    }
                })?;
                ws.flush().await?;
            }
        }
        Ok(())
    }

    /// Reads the next whole frame the server sends, `(status, body)`: a reply, or a pushed
    /// frame (status `PUSH_FRAME`).
    pub async fn read_frame(&mut self) -> Result<(u32, Bytes), ClientError> {
        match self {
            Self::Tcp { stream, buf } => read_reply(stream, buf).await,
            Self::Ws { ws, pending } => loop {
                if let Some(reply) = take_reply(pending) {
                    return Ok(reply);
                }
                match ws.read().await? {
                    // The usual case: one whole frame in one message, taken without a copy.
                    Message::Binary(mut data) if pending.is_empty() => {
                        match parse_response_header(&data) {
                            Some((status, len)) if data.len() == RESPONSE_HEADER_LEN + len => {
                                return Ok((status, data.split_off(RESPONSE_HEADER_LEN)));
                            }
                            _ => pending.extend_from_slice(&data),
                        }
                    }
                    Message::Binary(data) => pending.extend_from_slice(&data),
                    Message::Close(_) => return Err(ClientError::Closed),
                    _ => {}
                }
            },
        }
    }
}

/// Splits one whole reply (status, body) off the front of `buf`, if it holds one.
fn take_reply(buf: &mut BytesMut) -> Option<(u32, Bytes)> {
    let (status, len) = parse_response_header(buf)?;
    if buf.len() < RESPONSE_HEADER_LEN + len {
        return None;
    }
    let mut frame = buf.split_to(RESPONSE_HEADER_LEN + len);
    Some((status, frame.split_off(RESPONSE_HEADER_LEN).freeze()))
}

/// Reads one whole reply from a TCP stream.
async fn read_reply(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> Result<(u32, Bytes), ClientError> {
    loop {
        if let Some(reply) = take_reply(buf) {
            return Ok(reply);
        }
        let want = parse_response_header(buf)
            .map_or(8 << 10, |(_, len)| RESPONSE_HEADER_LEN + len - buf.len());
        if buf.capacity() - buf.len() < want.min(1 << 20) {
            buf.reserve(want.clamp(8 << 10, 64 << 20));
        }
        let BufResult(res, b) = stream.append(std::mem::take(buf)).await;
        *buf = b;
        if res? == 0 {
            return Err(ClientError::Closed);
        }
    }
}
