//! Runs the opening handshake over a compio stream: reads the HTTP head into a growing buffer
//! (bounded by `Config::max_handshake_size`, under `Config::handshake_timeout`), lets the
//! sans-IO `handshake` module decide, writes the answer, and hands the bytes read past the head
//! to the new [`WebSocket`], or writes the application's answer to a plain HTTP request. Never
//! parses HTTP itself.

use bytes::{Buf, Bytes, BytesMut};
use compio::buf::BufResult;
use compio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use compio::net::TcpStream;

use super::stream::WebSocket;
use crate::config::Config;
use crate::deflate::params::{accept_offer, check_response as deflate_response, offer};
use crate::error::Error;
use crate::handshake::client::Accepted;
use crate::handshake::http::{is_upgrade, write_head};
use crate::handshake::server::{parse_rejection, write_accept, write_reject};
use crate::handshake::{
    ClientRequest, HandshakeError, HttpResponse, Rejection, Request, Response, check_request,
    check_response,
};
use crate::protocol::Role;

/// Accepts a WebSocket connection with the default [`Config`] and no request checks beyond
/// RFC 6455's.
pub async fn accept<S: AsyncRead + AsyncWrite>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, &Config::default(), |_: &Request, _: &mut Response| Ok(())).await
}

/// Accepts a WebSocket connection. `callback` sees the request (path, query, headers) once it
/// passed RFC 6455's checks; it may pick a subprotocol, add response headers, or reject with an
/// HTTP status (origin checks and token authentication live there).
pub async fn accept_with<S, F>(
    stream: S,
    config: &Config,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite,
    F: FnOnce(&Request, &mut Response) -> Result<(), Rejection>,
{
    match accept_or_serve(stream, config, callback, |_: &Request| None).await? {
        Incoming::WebSocket(ws) => Ok(ws),
        // Unreachable: without an HTTP answer every plain request is refused by RFC 6455's checks.
        Incoming::Served => Err(HandshakeError::Eof.into()),
    }
}

/// What a connection accepted by [`accept_or_serve`] turned out to be.
#[derive(Debug)]
// Not boxed: the WebSocket is the common case, and a box would cost it an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Incoming<S> {
    /// A WebSocket, handshake done.
    WebSocket(WebSocket<S>),
    /// A plain HTTP request, answered; the connection is closed.
    Served,
}

/// Accepts a WebSocket connection like [`accept_with`], or answers a plain HTTP request on the
/// same port: a request without `Upgrade: websocket` goes to `http`, whose response is written
/// (head only for `HEAD`) before the connection closes. When `http` returns `None` the request is
/// refused as a failed handshake (400, or 405 for a method other than GET). Both run under
/// `Config::handshake_timeout` and `Config::max_handshake_size`.
pub async fn accept_or_serve<S, F, H>(
    mut stream: S,
    config: &Config,
    callback: F,
    http: H,
) -> Result<Incoming<S>, Error>
where
    S: AsyncRead + AsyncWrite,
    F: FnOnce(&Request, &mut Response) -> Result<(), Rejection>,
    H: FnOnce(&Request) -> Option<HttpResponse>,
{
    let handshake = async {
        let mut buf = BytesMut::with_capacity(1024);
        let (request, head_len) = loop {
            match Request::parse(&buf, config.max_handshake_size) {
                Ok(Some(parsed)) => break parsed,
                Ok(None) => {}
                Err(e) => {
                    if let Some(rejection) = parse_rejection(&e) {
                        reject(&mut stream, &rejection).await;
                    }
                    return Err(e.into());
                }
            }
            buf = read_more(&mut stream, buf, config.max_handshake_size).await?;
        };
        if !is_upgrade(&request)
            && let Some(response) = http(&request)
        {
            let mut head = BytesMut::with_capacity(256);
            write_head(&response, &mut head);
            let body = (request.method() != "HEAD").then_some(response.body);
            answer(&mut stream, head, body).await?;
            return Ok(None);
        }
        let mut response = Response::default();
        let decision =
            check_request(&request).and_then(|key| callback(&request, &mut response).map(|()| key));
        let deflate = config.deflate.as_ref().and_then(|cfg| {
            let (neg, value) = accept_offer(request.header_all("Sec-WebSocket-Extensions"), cfg)?;
            response.add_header("Sec-WebSocket-Extensions", value);
            Some(neg)
        });
        let mut out = BytesMut::with_capacity(256);
        match decision {
            Ok(key) => write_accept(&key, &response, &mut out),
            Err(rejection) => {
                reject(&mut stream, &rejection).await;
                return Err(Error::Handshake(HandshakeError::Rejected {
                    status: rejection.status,
                    reason: rejection.reason,
                }));
            }
        }
        write_all(&mut stream, out).await?;
        buf.advance(head_len);
        Ok(Some((buf, deflate)))
    };
    let (leftover, deflate) = match compio::time::timeout(config.handshake_timeout, handshake).await
    {
        Ok(Ok(Some(upgraded))) => upgraded,
        Ok(Ok(None)) => return Ok(Incoming::Served),
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(Error::Timeout),
    };
    let mut ws = WebSocket::from_raw(stream, Role::Server, config, leftover);
    if let (Some(neg), Some(cfg)) = (deflate, &config.deflate) {
        ws.enable_deflate(neg, cfg);
    }
    Ok(Incoming::WebSocket(ws))
}

/// Opens a `ws://` URL over TCP (with `TCP_NODELAY`) with the default [`Config`].
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Accepted), Error> {
    let request = ClientRequest::new(url)?;
    connect_with(request, &Config::default()).await
}

/// Opens the URL of `request` over TCP (with `TCP_NODELAY`).
pub async fn connect_with(
    request: ClientRequest,
    config: &Config,
) -> Result<(WebSocket<TcpStream>, Accepted), Error> {
    if request.url().secure {
        return Err(
            HandshakeError::InvalidUrl("wss:// needs TLS, which this build lacks".into()).into()
        );
    }
    let address = request.url().socket_address();
    let stream =
        match compio::time::timeout(config.handshake_timeout, TcpStream::connect(address)).await {
            Ok(stream) => stream?,
            Err(_) => return Err(Error::Timeout),
        };
    stream.set_nodelay(true)?;
    client(stream, request, config).await
}

/// Runs the client handshake for `request` over an already connected stream.
pub async fn client<S: AsyncRead + AsyncWrite>(
    mut stream: S,
    request: ClientRequest,
    config: &Config,
) -> Result<(WebSocket<S>, Accepted), Error> {
    let request = match &config.deflate {
        Some(cfg) => request.with_header("Sec-WebSocket-Extensions", offer(cfg)),
        None => request,
    };
    let handshake = async {
        let mut out = BytesMut::with_capacity(256);
        request.write(&mut out);
        write_all(&mut stream, out).await?;
        let mut buf = BytesMut::with_capacity(1024);
        loop {
            if let Some((accepted, head_len)) =
                check_response(&request, &buf, config.max_handshake_size)?
            {
                buf.advance(head_len);
                return Ok::<_, Error>((accepted, buf));
            }
            buf = read_more(&mut stream, buf, config.max_handshake_size).await?;
        }
    };
    let (accepted, leftover) =
        match compio::time::timeout(config.handshake_timeout, handshake).await {
            Ok(result) => result?,
            Err(_) => return Err(Error::Timeout),
        };
    let deflate = match (&accepted.extensions, &config.deflate) {
        (None, _) => None,
        (Some(_), None) => {
            let why = "server chose an extension that was not offered";
            return Err(HandshakeError::InvalidResponse(why).into());
        }
        (Some(value), Some(cfg)) => {
            let negotiated =
                deflate_response(value, cfg).map_err(HandshakeError::InvalidResponse)?;
            Some((negotiated, cfg))
        }
    };
    let mut ws = WebSocket::from_raw(stream, Role::Client, config, leftover);
    if let Some((negotiated, cfg)) = deflate {
        ws.enable_deflate(negotiated, cfg);
    }
    Ok((ws, accepted))
}

/// Appends one read to `buf`, growing it up to `max + 1` bytes; EOF is a handshake error.
async fn read_more<S: AsyncRead>(
    stream: &mut S,
    mut buf: BytesMut,
    max: usize,
) -> Result<BytesMut, Error> {
    if buf.capacity() - buf.len() < 256 {
        buf.reserve(buf.capacity().min(max + 1 - buf.len().min(max)).max(256));
    }
    let BufResult(result, buf) = stream.append(buf).await;
    match result? {
        0 => Err(HandshakeError::Eof.into()),
        _ => Ok(buf),
    }
}

/// Answers a refused handshake with its HTTP error and ends the stream; a peer that is gone by
/// then is not an error of ours.
async fn reject<S: AsyncRead + AsyncWrite>(stream: &mut S, rejection: &Rejection) {
    let mut out = BytesMut::with_capacity(256);
    write_reject(rejection, &mut out);
    answer(stream, out, None).await.ok();
}

/// Writes an HTTP answer (`head`, then `body` without copying it) and ends the stream. What the
/// peer still sends is read and dropped for a moment (bounded in bytes and time), so that closing
/// with unread bytes does not reset the connection before the peer has read the answer.
async fn answer<S: AsyncRead + AsyncWrite>(
    stream: &mut S,
    head: BytesMut,
    body: Option<Bytes>,
) -> Result<(), Error> {
    match body {
        Some(body) if !body.is_empty() => {
            let BufResult(result, _) = stream.write_vectored_all(vec![head.freeze(), body]).await;
            result?;
            stream.flush().await?;
        }
        _ => write_all(stream, head).await?,
    }
    stream.shutdown().await.ok();
    let drain = async {
        let mut sink = Vec::with_capacity(4096);
        for _ in 0..16 {
            sink.clear();
            let BufResult(result, back) = stream.read(sink).await;
            sink = back;
            if !matches!(result, Ok(n) if n > 0) {
                break;
            }
        }
    };
    compio::time::timeout(REJECT_LINGER, drain).await.ok();
    Ok(())
}

/// How long a refused handshake's connection is drained before it is dropped.
const REJECT_LINGER: std::time::Duration = std::time::Duration::from_millis(500);

async fn write_all<S: AsyncWrite>(stream: &mut S, out: BytesMut) -> Result<(), Error> {
    let BufResult(result, _) = stream.write_all(out).await;
    result?;
    stream.flush().await?;
    Ok(())
}
