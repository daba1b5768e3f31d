//! The client side of the opening handshake (RFC 6455 §4.1): build the upgrade request for a URL
//! with a fresh key, offered subprotocols and extra headers, and check the server's response
//! (status 101, `Upgrade`, `Connection`, the accept key, a subprotocol among those offered, no
//! extension that was not offered). No socket.

use bytes::{BufMut, BytesMut};

use super::server::put_header;
use super::{HandshakeError, WsUrl, accept_key, generate_key, has_token};

/// Most headers a response may carry.
const MAX_HEADERS: usize = 64;

/// A client's upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    url: WsUrl,
    key: String,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
}

/// What the server's accepted response said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol the server chose, if any.
    pub subprotocol: Option<String>,
    /// The server's `Sec-WebSocket-Extensions` answer, if any; the driver checks it against what
    /// was offered.
    pub extensions: Option<Vec<u8>>,
    /// Every response header, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ClientRequest {
    /// A request for `url` (`ws://host[:port]/path?query`) with a fresh random key.
    pub fn new(url: &str) -> Result<Self, HandshakeError> {
        Ok(Self::for_url(WsUrl::parse(url)?))
    }

    /// A request for an already parsed URL.
    pub fn for_url(url: WsUrl) -> Self {
        Self { url, key: generate_key(), protocols: Vec::new(), headers: Vec::new() }
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`), in order of preference.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Adds a request header (e.g. `Authorization`, `Origin`). Names and values with CR or LF are
    /// dropped.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into(), value.into());
        if !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
            self.headers.push((name, value));
        }
        self
    }

    /// The URL.
    pub fn url(&self) -> &WsUrl {
        &self.url
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Appends the request head to `out`.
    pub fn write(&self, out: &mut BytesMut) {
        out.put_slice(b"GET ");
        out.put_slice(self.url.resource.as_bytes());
        out.put_slice(b" HTTP/1.1\r\n");
        put_header(out, "Host", &self.url.host_header());
        put_header(out, "Upgrade", "websocket");
        put_header(out, "Connection", "Upgrade");
        put_header(out, "Sec-WebSocket-Key", &self.key);
        put_header(out, "Sec-WebSocket-Version", "13");
        if !self.protocols.is_empty() {
            put_header(out, "Sec-WebSocket-Protocol", &self.protocols.join(", "));
        }
        for (name, value) in &self.headers {
            put_header(out, name, value);
        }
        out.put_slice(b"\r\n");
    }
}

/// Parses and checks the server's response head at the start of `buf`: the outcome and the bytes
/// the head used, or `Ok(None)` while it is incomplete.
pub fn check_response(
    request: &ClientRequest,
    buf: &[u8],
    max_size: usize,
) -> Result<Option<(Accepted, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= max_size => len,
        Ok(httparse::Status::Partial) if buf.len() < max_size => return Ok(None),
        Ok(_) => return Err(HandshakeError::TooLarge(max_size)),
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    let status = resp.code.unwrap_or_default();
    if status != 101 {
        return Err(HandshakeError::Rejected {
            status,
            reason: resp.reason.unwrap_or_default().to_owned(),
        });
    }
    let headers: &[httparse::Header<'_>] = resp.headers;
    let find = |name: &'static str| {
        headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value)
    };
    if !find("Upgrade").any(|v| has_token(v, "websocket")) {
        return Err(HandshakeError::InvalidResponse("missing 'Upgrade: websocket'"));
    }
    if !find("Connection").any(|v| has_token(v, "upgrade")) {
        return Err(HandshakeError::InvalidResponse("missing 'Connection: upgrade'"));
    }
    let expected = accept_key(request.key.as_bytes());
    if find("Sec-WebSocket-Accept").next().map(<[u8]>::trim_ascii) != Some(expected.as_bytes()) {
        return Err(HandshakeError::InvalidResponse("wrong or missing Sec-WebSocket-Accept"));
    }
    let mut extension_values =
        find("Sec-WebSocket-Extensions").filter(|v| !v.trim_ascii().is_empty());
    let extensions = extension_values.next().map(<[u8]>::to_vec);
    if extension_values.next().is_some() {
        return Err(HandshakeError::InvalidResponse(
            "more than one Sec-WebSocket-Extensions header",
        ));
    }
    let subprotocol = match find("Sec-WebSocket-Protocol").next() {
        None => None,
        Some(v) => {
            let chosen = std::str::from_utf8(v.trim_ascii())
                .map_err(|_| HandshakeError::InvalidResponse("subprotocol is not UTF-8"))?;
            if !request.protocols.iter().any(|p| p == chosen) {
                return Err(HandshakeError::InvalidResponse(
                    "server chose a subprotocol that was not offered",
                ));
            }
            Some(chosen.to_owned())
        }
    };
    let headers = headers.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect();
    Ok(Some((Accepted { subprotocol, extensions, headers }, len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Request;
    use crate::handshake::server::{Response, check_request, write_accept};

    #[test]
    fn a_request_passes_the_server_check_and_its_response_passes_the_client_check() {
        let req = ClientRequest::new("ws://127.0.0.1:9001/runCase?case=1")
            .unwrap()
            .with_protocol("chat")
            .with_header("Origin", "http://localhost");
        let mut raw = BytesMut::new();
        req.write(&mut raw);
        let (parsed, _) = Request::parse(&raw, 4096).unwrap().unwrap();
        assert_eq!(parsed.target(), "/runCase?case=1");
        assert_eq!(parsed.header_str("Host"), Some("127.0.0.1:9001"));
        let key = check_request(&parsed).unwrap();
        let mut response = Response::default();
        response.set_subprotocol("chat");
        let mut out = BytesMut::new();
        write_accept(&key, &response, &mut out);
        out.extend_from_slice(b"\x81\x00");
        let (accepted, len) = check_response(&req, &out, 4096).unwrap().unwrap();
        assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
        assert_eq!(&out[len..], b"\x81\x00", "frame bytes after the head are left");
        assert_eq!(check_response(&req, &out[..len - 1], 4096), Ok(None));
    }

    #[test]
    fn bad_responses_are_refused() {
        let req = ClientRequest::new("ws://a/").unwrap();
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(req.key().as_bytes())
        );
        assert!(check_response(&req, good.as_bytes(), 4096).unwrap().is_some());
        let cases = [
            good.replace("101 Switching Protocols", "403 Forbidden"),
            good.replace("Upgrade: websocket", "Upgrade: h2c"),
            good.replace("Connection: Upgrade", "Connection: close"),
            good.replace("Sec-WebSocket-Accept: ", "Sec-WebSocket-Accept: x"),
            good.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n"),
        ];
        for case in cases {
            assert!(check_response(&req, case.as_bytes(), 4096).is_err(), "{case}");
        }
        assert_eq!(
            check_response(
                &req,
                good.replace("101 Switching Protocols", "403 Forbidden").as_bytes(),
                4096
            ),
            Err(HandshakeError::Rejected { status: 403, reason: "Forbidden".into() })
        );
    }
}
