//! Which browser origins may open the WebSocket port. A request without `Origin` is not from a
//! browser page and is allowed (Iggy's SDKs, tools). A browser's `Origin` must be the server's
//! own (`http`/`https` with the bound address; with `localhost`, `127.0.0.1` and `[::1]` when it
//! listens on a loopback or unspecified address) or listed in `websocket.allowed_origins`
//! (`"*"` allows all); anything else is answered 403. No sockets.

use std::net::SocketAddr;

/// The allow-list, built once from the configuration.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    any: bool,
    /// Lower-cased `scheme://host:port` entries.
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// The server's own origins for `bound`, plus `extra`.
    pub fn new(bound: SocketAddr, extra: &[String]) -> Self {
        let port = bound.port();
        let ip = bound.ip();
        let mut hosts = vec![match ip {
            std::net::IpAddr::V4(v4) => v4.to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        }];
        if ip.is_loopback() || ip.is_unspecified() {
            hosts.extend(["localhost".into(), "127.0.0.1".into(), "[::1]".into()]);
        }
        let mut allowed: Vec<String> = hosts
            .iter()
            .flat_map(|h| [format!("http://{h}:{port}"), format!("https://{h}:{port}")])
            .collect();
        allowed.extend(extra.iter().filter(|o| *o != "*").map(|o| normalize(o)));
        Self { any: extra.iter().any(|o| o == "*"), allowed }
    }

    /// Whether a request with this `Origin` header value (if any) may connect.
    pub fn allows(&self, origin: Option<&[u8]>) -> bool {
        let Some(origin) = origin else { return true };
        if self.any {
            return true;
        }
        let Ok(origin) = std::str::from_utf8(origin) else { return false };
        let origin = normalize(origin);
        self.allowed.contains(&origin)
    }
}

/// Lower-case, no trailing slash, and the scheme's default port made explicit.
fn normalize(origin: &str) -> String {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let has_port = |rest: &str| rest.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
    match o.split_once("://") {
        Some(("http", rest)) if !has_port(rest) => format!("http://{rest}:80"),
        Some(("https", rest)) if !has_port(rest) => format!("https://{rest}:443"),
        _ => o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_origin_and_listed_ones_pass_foreign_ones_do_not() {
        let p =
            OriginPolicy::new("127.0.0.1:8092".parse().unwrap(), &["https://app.example".into()]);
        assert!(p.allows(None), "no Origin: not a browser");
        assert!(p.allows(Some(b"http://127.0.0.1:8092")));
        assert!(p.allows(Some(b"http://LOCALHOST:8092/")));
        assert!(p.allows(Some(b"http://[::1]:8092")));
        assert!(p.allows(Some(b"https://app.example")));
        assert!(p.allows(Some(b"https://app.example:443")));
        assert!(!p.allows(Some(b"https://evil.example")));
        assert!(!p.allows(Some(b"http://localhost:8093")), "another port is another origin");
        assert!(!p.allows(Some(b"null")));
        assert!(!p.allows(Some(b"\xff")));
        let any = OriginPolicy::new("127.0.0.1:8092".parse().unwrap(), &["*".into()]);
        assert!(any.allows(Some(b"https://evil.example")));
        let public = OriginPolicy::new("192.0.2.7:80".parse().unwrap(), &[]);
        assert!(public.allows(Some(b"http://192.0.2.7")));
        assert!(!public.allows(Some(b"http://localhost")));
    }
}
