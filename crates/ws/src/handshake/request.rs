//! An HTTP/1.1 request head as the server received it: method, target, version and headers,
//! parsed with httparse from the caller's buffer. No validation of WebSocket rules (see `server`).

use super::HandshakeError;

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 64;

/// A parsed request head; what an accept callback sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    /// HTTP minor version: 1 for HTTP/1.1.
    version: u8,
    headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    /// Parses a request head from the start of `buf`: the request and the bytes its head used,
    /// or `Ok(None)` while the head is incomplete. `max_size` bounds the head.
    pub fn parse(buf: &[u8], max_size: usize) -> Result<Option<(Self, usize)>, HandshakeError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) if len <= max_size => {
                let request = Self {
                    method: req.method.unwrap_or_default().to_owned(),
                    target: req.path.unwrap_or_default().to_owned(),
                    version: req.version.unwrap_or_default(),
                    headers: req
                        .headers
                        .iter()
                        .map(|h| (h.name.to_owned(), h.value.to_vec()))
                        .collect(),
                };
                Ok(Some((request, len)))
            }
            Ok(httparse::Status::Complete(_)) => Err(HandshakeError::TooLarge(max_size)),
            Ok(httparse::Status::Partial) if buf.len() >= max_size => {
                Err(HandshakeError::TooLarge(max_size))
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                Err(HandshakeError::TooManyHeaders(MAX_HEADERS))
            }
            Err(e) => Err(HandshakeError::Malformed(e.to_string())),
        }
    }

    /// The method, e.g. `GET`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(path, _)| path)
    }

    /// The query string after `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// Whether the request is HTTP/1.1 (or later).
    pub fn is_http11(&self) -> bool {
        self.version >= 1
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// The first value of header `name` as text, if it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of header `name`, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// All headers in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_query_and_headers_and_reports_the_head_length() {
        let raw = b"GET /chat?room=1&x=2 HTTP/1.1\r\nHost: a\r\nX-Two: 1\r\nx-two: 2\r\n\r\nFRAME";
        let (req, len) = Request::parse(raw, 1024).unwrap().unwrap();
        assert_eq!(&raw[len..], b"FRAME");
        assert_eq!((req.method(), req.path(), req.query()), ("GET", "/chat", Some("room=1&x=2")));
        assert_eq!(req.header_str("host"), Some("a"));
        assert_eq!(req.header_all("X-TWO").collect::<Vec<_>>(), vec![&b"1"[..], &b"2"[..]]);
        assert!(req.is_http11());
    }

    #[test]
    fn partial_heads_wait_and_oversized_or_malformed_heads_fail() {
        assert_eq!(Request::parse(b"GET / HTTP/1.1\r\nHost", 1024), Ok(None));
        assert_eq!(
            Request::parse(b"GET / HTTP/1.1\r\nHost: aaaaaaaaaaaaaaaa", 16),
            Err(HandshakeError::TooLarge(16))
        );
        assert!(matches!(
            Request::parse(b"\x00\x01 junk\r\n\r\n", 1024),
            Err(HandshakeError::Malformed(_))
        ));
    }
}
