//! `ws://` and `wss://` URLs (RFC 6455 §3): scheme, host (names, IPv4, bracketed IPv6), port
//! (default 80 / 443) and resource name (path and query, default `/`). Fragments are refused
//! ("MUST NOT be used"). No name resolution.

use super::HandshakeError;

/// A parsed WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: TLS.
    pub secure: bool,
    /// The host as written, without brackets for IPv6.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// Path and query; starts with `/`.
    pub resource: String,
}

impl WsUrl {
    /// Parses `ws://host[:port][/path][?query]` or the `wss://` form.
    pub fn parse(url: &str) -> Result<Self, HandshakeError> {
        let bad = |why: &str| HandshakeError::InvalidUrl(format!("{why}: {url}"));
        let (secure, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "ws://") {
            (false, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(url, "wss://") {
            (true, rest)
        } else {
            return Err(bad("scheme must be ws:// or wss://"));
        };
        if rest.contains('#') {
            return Err(bad("fragment identifiers are not allowed"));
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(bad("user info is not supported"));
        }
        let resource = match resource {
            "" => "/".to_owned(),
            r if r.starts_with('?') => format!("/{r}"),
            r => r.to_owned(),
        };
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after {
                "" => (host, default_port),
                p => (
                    host,
                    parse_port(p.strip_prefix(':').ok_or_else(|| bad("bad port"))?)
                        .ok_or_else(|| bad("bad port"))?,
                ),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, p)) => (host, parse_port(p).ok_or_else(|| bad("bad port"))?),
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        Ok(Self { secure, host: host.to_owned(), port, resource })
    }

    /// The `Host` header value: the port only when it is not the scheme's default, IPv6 in brackets.
    pub fn host_header(&self) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default_port = if self.secure { 443 } else { 80 };
        if self.port == default_port { host } else { format!("{host}:{}", self.port) }
    }

    /// `host:port` for connecting, IPv6 in brackets.
    pub fn socket_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_resources() {
        let u = WsUrl::parse("ws://example.com").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.resource.as_str()),
            (false, "example.com", 80, "/")
        );
        assert_eq!(u.host_header(), "example.com");
        let u = WsUrl::parse("WSS://127.0.0.1:9001/runCase?case=3&agent=eddy").unwrap();
        assert_eq!(
            (u.secure, u.port, u.resource.as_str()),
            (true, 9001, "/runCase?case=3&agent=eddy")
        );
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        let u = WsUrl::parse("ws://[::1]:8080?x=1").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.resource.as_str()), ("::1", 8080, "/?x=1"));
        assert_eq!(u.socket_address(), "[::1]:8080");
        assert_eq!(u.host_header(), "[::1]:8080");
    }

    #[test]
    fn refuses_bad_urls() {
        for url in [
            "http://a",
            "ws://",
            "ws://a:99999",
            "ws://a:x",
            "ws://a/#frag",
            "ws://u@a",
            "ws://[::1",
        ] {
            assert!(WsUrl::parse(url).is_err(), "{url}");
        }
    }
}
