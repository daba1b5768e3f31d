//! The server side of the opening handshake (RFC 6455 §4.2): check a client's request, let the
//! application's callback accept or reject it, and write the 101 or the error response into the
//! caller's buffer. No socket.

use bytes::{BufMut, BytesMut};

use super::{HandshakeError, Request, accept_key, has_token, is_valid_key};

/// What the server adds to its 101 response; filled in by the accept callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
}

impl Response {
    /// Selects a subprotocol. It must be one the client offered
    /// ([`Request::header_all`]`("Sec-WebSocket-Protocol")`); [`offered_protocols`] lists them.
    pub fn set_subprotocol(&mut self, protocol: impl Into<String>) {
        self.subprotocol = Some(protocol.into());
    }

    /// The selected subprotocol.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Adds a response header (e.g. `Set-Cookie`). Names and values with CR or LF are dropped.
    pub fn add_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        if !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
            self.headers.push((name, value));
        }
    }
}

/// An HTTP error answer to a handshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status code, e.g. 400, 401, 403, 426.
    pub status: u16,
    /// A short reason, sent as the body.
    pub reason: String,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl Rejection {
    /// A rejection with `status` and `reason`.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self { status, reason: reason.into(), headers: Vec::new() }
    }

    /// Adds a header to the error response.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The subprotocols the client offered, in its order of preference.
pub fn offered_protocols(req: &Request) -> Vec<String> {
    req.header_all("Sec-WebSocket-Protocol")
        .flat_map(|v| v.split(|&b| b == b','))
        .filter_map(|p| std::str::from_utf8(p.trim_ascii()).ok())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The HTTP answer to a request head that could not be parsed: 431 for a head or header count
/// over the limit, 400 for malformed HTTP; `None` for errors that leave nobody to answer.
pub fn parse_rejection(error: &HandshakeError) -> Option<Rejection> {
    match error {
        HandshakeError::TooLarge(_) => Some(Rejection::new(431, "request head too large")),
        HandshakeError::TooManyHeaders(_) => Some(Rejection::new(431, "too many headers")),
        HandshakeError::Malformed(_) => Some(Rejection::new(400, "malformed HTTP request")),
        _ => None,
    }
}

/// Checks a request against §4.2.1 and returns its `Sec-WebSocket-Key`, or the HTTP error to
/// answer with: 405 (with `Allow: GET`) for another method, 426 and `Sec-WebSocket-Version: 13`
/// for another version, 400 otherwise.
pub fn check_request(req: &Request) -> Result<Vec<u8>, Rejection> {
    let bad = |reason: &str| Err(Rejection::new(400, reason));
    if req.method() != "GET" {
        return Err(Rejection::new(405, "method must be GET").with_header("Allow", "GET"));
    }
    if !req.is_http11() {
        return bad("HTTP/1.1 required");
    }
    if req.header("Host").is_none() {
        return bad("missing Host header");
    }
    if !req.header_all("Upgrade").any(|v| has_token(v, "websocket")) {
        return bad("missing 'Upgrade: websocket'");
    }
    if !req.header_all("Connection").any(|v| has_token(v, "upgrade")) {
        return bad("missing 'Connection: upgrade'");
    }
    if req.header("Sec-WebSocket-Version").map(<[u8]>::trim_ascii) != Some(b"13") {
        return Err(Rejection::new(426, "unsupported WebSocket version")
            .with_header("Sec-WebSocket-Version", "13"));
    }
    match req.header("Sec-WebSocket-Key").map(<[u8]>::trim_ascii) {
        Some(key) if is_valid_key(key) => Ok(key.to_vec()),
        _ => bad("missing or invalid Sec-WebSocket-Key"),
    }
}

/// Appends the 101 Switching Protocols response for `key` to `out`.
pub fn write_accept(key: &[u8], response: &Response, out: &mut BytesMut) {
    out.put_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    );
    put_header(out, "Sec-WebSocket-Accept", &accept_key(key));
    if let Some(protocol) = &response.subprotocol {
        put_header(out, "Sec-WebSocket-Protocol", protocol);
    }
    for (name, value) in &response.headers {
        put_header(out, name, value);
    }
    out.put_slice(b"\r\n");
}

/// Appends the HTTP error response for `rejection` to `out`; the connection closes after it.
pub fn write_reject(rejection: &Rejection, out: &mut BytesMut) {
    let body = rejection.reason.replace(['\r', '\n'], " ");
    put_status_line(out, rejection.status);
    for (name, value) in &rejection.headers {
        if !name.contains(['\r', '\n']) && !value.contains(['\r', '\n']) {
            put_header(out, name, value);
        }
    }
    put_header(out, "Content-Type", "text/plain; charset=utf-8");
    put_header(out, "Content-Length", &body.len().to_string());
    put_header(out, "Connection", "close");
    out.put_slice(b"\r\n");
    out.put_slice(body.as_bytes());
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub(crate) fn put_status_line(out: &mut BytesMut, status: u16) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.to_string().as_bytes());
    out.put_u8(b' ');
    out.put_slice(reason_phrase(status).as_bytes());
    out.put_slice(b"\r\n");
}

/// Appends `name: value\r\n`.
pub(crate) fn put_header(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_slice(b"\r\n");
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ if status < 400 => "Other",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(raw: &str) -> Request {
        Request::parse(raw.as_bytes(), 4096).unwrap().unwrap().0
    }

    #[test]
    fn accepts_the_rfc_request_and_writes_the_rfc_response() {
        let req = parse(GOOD);
        let key = check_request(&req).unwrap();
        assert_eq!(offered_protocols(&req), vec!["chat", "superchat"]);
        let mut resp = Response::default();
        resp.set_subprotocol("chat");
        resp.add_header("X-Bad\r\nInjected", "1");
        let mut out = BytesMut::new();
        write_accept(&key, &resp, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
        assert!(!text.contains("Injected"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn each_broken_rule_gets_its_status() {
        let cases = [
            (GOOD.replace("GET", "POST"), 405),
            (GOOD.replace("HTTP/1.1", "HTTP/1.0"), 400),
            (GOOD.replace("Host: server.example.com\r\n", ""), 400),
            (GOOD.replace("Upgrade: websocket", "Upgrade: h2c"), 400),
            (GOOD.replace("keep-alive, Upgrade", "keep-alive"), 400),
            (GOOD.replace("Version: 13", "Version: 8"), 426),
            (GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="), 400),
        ];
        for (raw, status) in cases {
            let rejection = check_request(&parse(&raw)).unwrap_err();
            assert_eq!(rejection.status, status, "{raw}");
            let mut out = BytesMut::new();
            write_reject(&rejection, &mut out);
            let text = std::str::from_utf8(&out).unwrap();
            assert!(text.starts_with(&format!("HTTP/1.1 {status} ")));
            if status == 426 {
                assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
            }
            if status == 405 {
                assert!(text.contains("Allow: GET\r\n"));
            }
        }
    }
}
