//! The web dashboard's files, compiled into the binary (built from `clients/dashboard` into
//! `crates/server/dashboard/`, committed, and checked fresh by CI), answered to plain GETs on the
//! WebSocket port. Every answer forbids framing, sniffing and foreign scripts or connections
//! (the page talks only to the server that served it). No sockets: the WebSocket transport
//! hands requests here through eddy-ws.

use bytes::Bytes;
use eddy_ws::{HttpResponse, Request};

/// `(path, content type, body)` of every file served.
const FILES: &[(&str, &str, &[u8])] = &[
    ("/", "text/html; charset=utf-8", include_bytes!("../../dashboard/index.html")),
    (
        "/dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../dashboard/dashboard.js"),
    ),
    ("/dashboard.css", "text/css; charset=utf-8", include_bytes!("../../dashboard/dashboard.css")),
];

/// The page may load its own files and open WebSockets to its own origin, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The answer to a plain HTTP request: a file, 404, or 405 for methods other than GET and HEAD.
pub fn answer(request: &Request) -> HttpResponse {
    let response = match request.method() {
        "GET" | "HEAD" => {
            let path = match request.path() {
                "/index.html" => "/",
                path => path,
            };
            match FILES.iter().find(|(p, _, _)| *p == path) {
                Some((_, kind, body)) => HttpResponse::new(200, kind, Bytes::from_static(body))
                    .with_header("Cache-Control", "no-cache"),
                None => HttpResponse::new(404, "text/plain; charset=utf-8", "not found"),
            }
        }
        _ => HttpResponse::new(405, "text/plain; charset=utf-8", "method not allowed")
            .with_header("Allow", "GET, HEAD"),
    };
    response
        .with_header("Content-Security-Policy", CSP)
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("X-Frame-Options", "DENY")
        .with_header("Referrer-Policy", "no-referrer")
        .with_header("Cross-Origin-Opener-Policy", "same-origin")
        .with_header("Cross-Origin-Resource-Policy", "same-origin")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(raw: &str) -> HttpResponse {
        answer(&Request::parse(raw.as_bytes(), 4096).unwrap().unwrap().0)
    }

    fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
        response.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_page_and_its_files_are_served_with_their_types_and_everything_else_is_404_or_405() {
        let page = get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(page.status, 200);
        assert!(header(&page, "Content-Type").unwrap().starts_with("text/html"));
        assert!(std::str::from_utf8(&page.body).unwrap().contains("dashboard.js"));
        assert_eq!(get("GET /index.html?x=1 HTTP/1.1\r\nHost: x\r\n\r\n").body, page.body);
        let script = get("GET /dashboard.js HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(header(&script, "Content-Type").unwrap().starts_with("text/javascript"));
        assert!(!script.body.is_empty());
        assert_eq!(get("GET /../Cargo.toml HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
        let post = get("POST / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((post.status, header(&post, "Allow")), (405, Some("GET, HEAD")));
        for response in [page, script, post] {
            assert!(
                header(&response, "Content-Security-Policy")
                    .unwrap()
                    .contains("frame-ancestors 'none'")
            );
            assert_eq!(header(&response, "X-Content-Type-Options"), Some("nosniff"));
        }
    }
}
