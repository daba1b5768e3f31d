//! The opening handshake over real sockets: frame bytes sent with the request are kept, the
//! callback can reject, bad requests get HTTP errors, a stalled handshake times out, and a plain
//! HTTP request can be answered on the same port.

use std::time::Duration;

use bytes::Bytes;
use compio::buf::BufResult;
use compio::io::{AsyncReadExt, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use eddy_ws::frame::OpCode;
use eddy_ws::{
    ClientRequest, Config, Error, HandshakeError, HttpResponse, Incoming, Message, Rejection,
    accept_or_serve, accept_with, connect_with,
};

use crate::common::{REQUEST, RawPeer, client_frame, serve_one};

#[compio::test]
async fn frames_sent_with_the_request_are_not_lost() {
    let (addr, server) =
        serve_one(Config::default(), |ws| async move { ws.unwrap().read().await }).await;
    let frame = client_frame(OpCode::Text, true, b"early");
    let _peer = RawPeer::connect(addr, &frame).await;
    assert_eq!(server.await.unwrap().unwrap(), Message::text("early"));
}

async fn raw_response(request: &str, config: Config) -> (String, Result<(), Error>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        accept_with(tcp, &config, |req, _| {
            if req.query() == Some("token=secret") {
                Ok(())
            } else {
                Err(Rejection::new(401, "bad token"))
            }
        })
        .await
        .map(|_| ())
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes().to_vec()).await.unwrap();
    let BufResult(_, response) = tcp.read_to_end(Vec::new()).await;
    (String::from_utf8_lossy(&response).into_owned(), server.await.unwrap())
}

#[compio::test]
async fn the_callback_sees_the_query_and_can_reject() {
    let ok = REQUEST.replace("GET / ", "GET /?token=secret ");
    let listener_ok =
        raw_response(&ok, Config::default().with_handshake_timeout(Duration::from_millis(300)));
    let (response, result) = listener_ok.await;
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    // The client went silent after the handshake; the server's accept itself succeeded.
    assert!(result.is_ok());

    let (response, result) = raw_response(REQUEST, Config::default()).await;
    assert!(response.starts_with("HTTP/1.1 401 Unauthorized"), "{response}");
    assert!(response.ends_with("bad token"));
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::Rejected { status: 401, .. }))));
}

#[compio::test]
async fn bad_requests_get_400_or_426() {
    let (response, _) =
        raw_response(&REQUEST.replace("Version: 13", "Version: 7"), Config::default()).await;
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
    assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
    let (response, result) =
        raw_response(&REQUEST.replace("Upgrade: websocket", "Upgrade: nope"), Config::default())
            .await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(result.is_err());
    let (response, _) = raw_response(&REQUEST.replace("GET", "POST"), Config::default()).await;
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    assert!(response.contains("Allow: GET\r\n"), "{response}");
    let (response, result) =
        raw_response("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", Config::default()).await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::Malformed(_)))), "{result:?}");
}

#[compio::test]
async fn too_many_headers_or_too_large_a_head_get_431() {
    let many: String = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect();
    let (response, result) =
        raw_response(&REQUEST.replace("\r\n\r\n", &format!("\r\n{many}\r\n")), Config::default())
            .await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    assert!(
        matches!(result, Err(Error::Handshake(HandshakeError::TooManyHeaders(_)))),
        "{result:?}"
    );
    let big = REQUEST.replace("\r\n\r\n", &format!("\r\nX-Big: {}\r\n\r\n", "a".repeat(20 << 10)));
    let (response, result) = raw_response(&big, Config::default()).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::TooLarge(_)))), "{result:?}");
}

#[compio::test]
async fn a_handshake_that_never_finishes_times_out() {
    let config = Config::default().with_handshake_timeout(Duration::from_millis(200));
    let (addr, server) = serve_one(config, |ws| async move { ws.map(|_| ()) }).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec()).await.unwrap();
    let result = server.await.unwrap();
    assert!(matches!(result, Err(Error::Timeout)), "{result:?}");

    // A client facing a server that never answers times out too.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        compio::time::sleep(Duration::from_secs(2)).await;
        drop(tcp);
    });
    let request = ClientRequest::new(&format!("ws://{addr}/")).unwrap();
    let config = Config::default().with_handshake_timeout(Duration::from_millis(200));
    assert!(matches!(connect_with(request, &config).await, Err(Error::Timeout)));
    drop(silent);
}

#[compio::test]
async fn an_oversized_request_head_is_refused() {
    let config = Config { max_handshake_size: 512, ..Config::default() };
    let (addr, server) = serve_one(config, |ws| async move { ws.map(|_| ()) }).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n", "a".repeat(4096));
    let BufResult(res, _) = tcp.write_all(big.into_bytes()).await;
    res.unwrap();
    let result = server.await.unwrap();
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::TooLarge(512)))), "{result:?}");
}

/// Serves one connection with `accept_or_serve`: `/` is a page, anything else is left to the
/// WebSocket checks. Returns what the peer read and whether the server saw a WebSocket.
async fn serve_http(request: &str) -> (String, Result<bool, Error>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let page = |req: &eddy_ws::Request| {
            (req.path() == "/").then(|| {
                HttpResponse::new(200, "text/html", Bytes::from_static(b"<p>hello</p>"))
                    .with_header("X-Frame-Options", "DENY")
            })
        };
        let incoming = accept_or_serve(tcp, &Config::default(), |_, _| Ok(()), page).await?;
        Ok(matches!(incoming, Incoming::WebSocket(_)))
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes().to_vec()).await.unwrap();
    let BufResult(_, response) = tcp.read_to_end(Vec::new()).await;
    (String::from_utf8_lossy(&response).into_owned(), server.await.unwrap())
}

#[compio::test]
async fn a_plain_get_is_answered_by_the_application_and_an_upgrade_still_upgrades() {
    let (response, result) = serve_http("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        response,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Frame-Options: DENY\r\n\
         Content-Length: 12\r\nConnection: close\r\n\r\n<p>hello</p>"
    );
    assert!(matches!(result, Ok(false)), "{result:?}");

    // HEAD gets the head alone, with the body's length.
    let (response, _) = serve_http("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(response.ends_with("Content-Length: 12\r\nConnection: close\r\n\r\n"), "{response}");

    // A path the application does not serve falls to the handshake's checks.
    let (response, result) = serve_http("GET /other HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(matches!(result, Err(Error::Handshake(HandshakeError::Rejected { status: 400, .. }))));

    // An upgrade on the served path is a WebSocket, never the page.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = compio::runtime::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let never = |_: &eddy_ws::Request| -> Option<HttpResponse> { panic!("not plain HTTP") };
        match accept_or_serve(tcp, &Config::default(), |_, _| Ok(()), never).await.unwrap() {
            Incoming::WebSocket(mut ws) => ws.read().await.unwrap(),
            Incoming::Served => panic!("served a page to an upgrade"),
        }
    });
    let request = ClientRequest::new(&format!("ws://{addr}/")).unwrap();
    let (mut ws, _) = connect_with(request, &Config::default()).await.unwrap();
    ws.send(Message::text("up")).await.unwrap();
    assert_eq!(server.await.unwrap(), Message::text("up"));
}
