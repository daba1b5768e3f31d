//! Plain HTTP on a WebSocket port: a request that asks for no upgrade (no `Upgrade: websocket`)
//! may be answered by the application with an ordinary response (a status page, a dashboard's
//! files, a health check). One response per connection, then `Connection: close`; a `HEAD`
//! request gets the head alone. Sans-IO: builds the response head into a caller's buffer and
//! leaves the body, an owned `Bytes`, to be written after it without a copy.

use bytes::{BufMut, Bytes, BytesMut};

use super::server::{put_header, put_status_line};
use super::{Request, has_token};

/// An HTTP response to a request that was not a WebSocket upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, e.g. 200 or 404.
    pub status: u16,
    /// Headers besides `Content-Length` and `Connection`, which the library writes.
    pub headers: Vec<(String, String)>,
    /// The body (`Bytes::from_static` for files compiled into the binary: never copied).
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with `status`, a `Content-Type` and `body`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self { status, headers: Vec::new(), body: body.into() }
            .with_header("Content-Type", content_type)
    }

    /// Adds a header; a name or value with CR or LF (or a name with `:`) is dropped.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
            self.headers.push((name, value));
        }
        self
    }
}

/// Whether `request` asks to become a WebSocket (an `Upgrade` header naming `websocket`); such a
/// request is checked against RFC 6455 and never handed to the plain HTTP callback.
pub fn is_upgrade(request: &Request) -> bool {
    request.header_all("Upgrade").any(|v| has_token(v, "websocket"))
}

/// Appends the head of `response` to `out`: status line, its headers, `Content-Length` of the
/// body and `Connection: close`. Whether the body follows is the caller's choice (not for HEAD).
pub fn write_head(response: &HttpResponse, out: &mut BytesMut) {
    put_status_line(out, response.status);
    for (name, value) in &response.headers {
        put_header(out, name, value);
    }
    put_header(out, "Content-Length", &response.body.len().to_string());
    put_header(out, "Connection", "close");
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Request {
        Request::parse(raw.as_bytes(), 4096).unwrap().unwrap().0
    }

    #[test]
    fn only_a_request_naming_websocket_is_an_upgrade() {
        assert!(!is_upgrade(&parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
        assert!(!is_upgrade(&parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n")));
        assert!(is_upgrade(&parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n\r\n")));
    }

    #[test]
    fn the_head_carries_status_headers_length_and_close_and_drops_injected_headers() {
        let response = HttpResponse::new(404, "text/plain", Bytes::from_static(b"no such page"))
            .with_header("X-Evil\r\nSet-Cookie", "a")
            .with_header("X-Ok", "b\r\nSet-Cookie: a")
            .with_header("Cache-Control", "no-cache");
        let mut out = BytesMut::new();
        write_head(&response, &mut out);
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\n\
             Content-Length: 12\r\nConnection: close\r\n\r\n"
        );
    }
}
