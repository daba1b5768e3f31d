//! Loopback tests of the compio driver: a real server and a real client (or a raw TCP peer) on
//! 127.0.0.1, one behaviour per module.

mod buffers;
mod cancel;
mod close;
mod common;
mod errors;
mod handshake;
mod messages;
mod plain_loop;
mod serve;
mod split;
