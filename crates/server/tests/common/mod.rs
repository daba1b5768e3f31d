//! Raw Iggy 0.8 requests over a blocking TCP socket, for the tests that send bytes no SDK would.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends one request and reads its reply: `(status, body)`.
pub fn request(s: &mut TcpStream, code: u32, payload: &[u8]) -> (u32, Vec<u8>) {
    let mut msg = ((payload.len() + 4) as u32).to_le_bytes().to_vec();
    msg.extend_from_slice(&code.to_le_bytes());
    msg.extend_from_slice(payload);
    s.write_all(&msg).unwrap();
    let mut head = [0u8; 8];
    s.read_exact(&mut head).unwrap();
    let st = u32::from_le_bytes(head[..4].try_into().unwrap());
    let len = u32::from_le_bytes(head[4..].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    (st, body)
}

/// LOGIN_USER's payload.
pub fn login_payload(user: &str, pass: &str) -> Vec<u8> {
    let mut p = vec![user.len() as u8];
    p.extend_from_slice(user.as_bytes());
    p.push(pass.len() as u8);
    p.extend_from_slice(pass.as_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    p
}
