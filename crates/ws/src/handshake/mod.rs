//! The opening handshake of RFC 6455 §4 over HTTP/1.1, both sides, sans I/O: parse and check a
//! request or response held in a caller's buffer, build the answer into a caller's buffer, and
//! report how many bytes the HTTP head used so that frame bytes read in the same read are kept.
//! No socket, no clock (the driver applies the timeout).

pub mod client;
pub mod http;
pub mod request;
pub mod server;
pub mod url;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

pub use client::{ClientRequest, check_response};
pub use http::HttpResponse;
pub use request::Request;
pub use server::{Rejection, Response, check_request};
pub use url::WsUrl;

/// The GUID every accept key is derived with (§1.3).
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The HTTP head could not be parsed.
    #[error("malformed HTTP: {0}")]
    Malformed(String),
    /// The HTTP head carried more headers than the server parses.
    #[error("more than {0} HTTP headers")]
    TooManyHeaders(usize),
    /// The HTTP head exceeded `Config::max_handshake_size`.
    #[error("HTTP head larger than {0} bytes")]
    TooLarge(usize),
    /// The request broke §4.2.1 and was answered with an HTTP error (server side), or the server
    /// answered with something other than 101 (client side).
    #[error("rejected with HTTP {status}: {reason}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Why.
        reason: String,
    },
    /// The server's 101 response broke §4.1 (missing headers, wrong accept key, a subprotocol or
    /// extension that was not offered).
    #[error("invalid handshake response: {0}")]
    InvalidResponse(&'static str),
    /// The URL is not a usable `ws://` URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// The peer closed the connection before the handshake finished.
    #[error("connection closed during the handshake")]
    Eof,
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (§4.2.2): base64(SHA-1(key + GUID)).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    BASE64.encode(sha.digest().bytes())
}

/// A fresh random `Sec-WebSocket-Key`: 16 random bytes, base64-encoded (§4.1).
pub fn generate_key() -> String {
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        // The key only has to differ between connections; the clock does that if the OS CSPRNG
        // is unavailable.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        nonce = now.to_le_bytes();
    }
    BASE64.encode(nonce)
}

/// Whether a comma-separated header value lists `token`, ignoring case and spaces.
pub(crate) fn has_token(value: &[u8], token: &str) -> bool {
    value.split(|&b| b == b',').any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Whether `key` decodes to exactly 16 bytes of base64 (§4.2.1 item 5).
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24 && BASE64.decode(key).is_ok_and(|raw| raw.len() == 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_example() {
        // §1.3's example.
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn generated_keys_are_valid_and_differ() {
        let (a, b) = (generate_key(), generate_key());
        assert!(is_valid_key(a.as_bytes()) && is_valid_key(b.as_bytes()));
        assert_ne!(a, b);
    }

    #[test]
    fn tokens_are_found_in_comma_lists_ignoring_case() {
        assert!(has_token(b"keep-alive, Upgrade", "upgrade"));
        assert!(has_token(b"WebSocket", "websocket"));
        assert!(!has_token(b"upgrades", "upgrade"));
        assert!(!is_valid_key(b"short"));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ")); // 15 bytes without padding
    }
}
