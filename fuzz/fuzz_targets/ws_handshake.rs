//! Both sides of the opening handshake on arbitrary bytes: the server's request parser, the
//! RFC 6455 checks, the permessage-deflate offer parser and its HTTP error answer; the client's
//! response check (status, accept key, extensions) for a fixed request. Never panics.

#![no_main]

use bytes::BytesMut;
use eddy_ws::ClientRequest;
use eddy_ws::deflate::DeflateConfig;
use eddy_ws::deflate::params::{accept_offer, check_response as deflate_response};
use eddy_ws::handshake::server::{parse_rejection, write_accept, write_reject};
use eddy_ws::handshake::{Request, Response, check_request, check_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let deflate = DeflateConfig::default();
    match Request::parse(data, 16 << 10) {
        Ok(Some((request, len))) => {
            assert!(len <= data.len());
            let mut out = BytesMut::new();
            match check_request(&request) {
                Ok(key) => write_accept(&key, &Response::default(), &mut out),
                Err(rejection) => write_reject(&rejection, &mut out),
            }
            let _ = accept_offer(request.header_all("Sec-WebSocket-Extensions"), &deflate);
            let _ = (request.path(), request.query(), request.header_str("Origin"));
        }
        Ok(None) => {}
        Err(e) => {
            if let Some(rejection) = parse_rejection(&e) {
                let mut out = BytesMut::new();
                write_reject(&rejection, &mut out);
            }
        }
    }
    let request = ClientRequest::new("ws://localhost:9001/chat").expect("a valid URL");
    let _ = check_response(&request, data, 16 << 10);
    let _ = deflate_response(data, &deflate);
});
