//! Which wire a connection speaks, and the 0.11 wire's requests run through the same handlers
//! as the 0.8 wire's: detection from the first bytes, the 256-byte request header cut off,
//! the body translated by `eddy_wire::v011::codec` into the 0.8 command, the handler's reply
//! translated back and framed. Handlers never learn which wire a request came on.
//!
//! Detection: a 0.8 request starts with its length, which counts its 4-byte code and is never
//! 0; a 0.11 request starts with its header's checksum, which Iggy's SDK leaves 0. So four
//! zero bytes mean 0.11, anything else 0.8 (whose framing refuses what is neither: a length
//! below 4 or over the limit closes the connection with an error status). No config, no
//! second port.
//!
//! May not touch sockets; the transports call it through `conn::run_buffered`.

use bytes::{Buf, BufMut, BytesMut};
use eddy_wire::codes::{command, status};
use eddy_wire::v011::codec::{self, CodecError, ReplyShape};
use eddy_wire::v011::header::{
    self, HEADER_LEN, HeadError, RequestHead, encode_eviction, encode_reply_head, eviction,
    is_result_framed,
};
use eddy_wire::v011::{batch, login};

use super::conn::{Outcome, Reply};
use crate::error::ServerError;
use crate::handlers;
use crate::session::{Session, Wire};
use crate::shard::ShardCtx;

/// The wire of a connection whose first bytes are `buf`; `None` until four are there.
pub fn detect(buf: &[u8]) -> Option<Wire> {
    let first = buf.get(..4)?;
    Some(match first {
        [0, 0, 0, 0] => Wire::V011 { session: 0 },
        _ => Wire::V08,
    })
}

/// What the 0.11 request at the front of a buffer came to.
pub enum Step {
    /// Not whole yet: the buffer must hold `need` bytes (0 if unknown yet).
    Incomplete { need: usize },
    /// Its reply.
    Done(Reply),
    /// The framing is lost: answer this, then close.
    Lost(Reply, &'static str),
}

/// Cuts the 0.11 request at the front of `buf` (a body of at most `max` bytes) and runs it.
pub async fn next_v011(
    ctx: &ShardCtx,
    session: &mut Session,
    buf: &mut BytesMut,
    max: usize,
) -> Step {
    let head = match RequestHead::parse(buf, max) {
        Ok(Some(head)) => head,
        Ok(None) => {
            let need = header::announced_size(buf).unwrap_or(0);
            return Step::Incomplete { need: need.max(HEADER_LEN) };
        }
        Err(e) => {
            tracing::debug!(peer = %session.address, error = %e, "0.11 request framing lost");
            let code = match (session.user_id, e) {
                (None, HeadError::TooLarge { .. }) => status::UNAUTHENTICATED,
                _ => status::INVALID_FORMAT,
            };
            return Step::Lost(error_without_request(code), "bad request framing");
        }
    };
    let total = HEADER_LEN + head.body_len;
    if buf.len() < total {
        return Step::Incomplete { need: total };
    }
    buf.advance(HEADER_LEN);
    let body = buf.split_to(head.body_len);
    Step::Done(run(ctx, session, &head, &body).await)
}

/// An error reply when no request header could be read (its fields stay zero).
pub fn error_without_request(code: u32) -> Reply {
    let head = RequestHead {
        client: 0,
        request_checksum: 0,
        request: 0,
        operation: header::operation::NON_REPLICATED,
        session: 0,
        code: 0,
        body_len: 0,
    };
    framed(&head, code, BytesMut::new())
}

fn framed(head: &RequestHead, status: u32, body: BytesMut) -> Reply {
    let mut out = BytesMut::with_capacity(HEADER_LEN + body.len());
    encode_reply_head(head, status, body.len(), &mut out);
    out.extend_from_slice(&body);
    Reply { framed: true, head: out, ..Reply::default() }
}

fn evicted(head: &RequestHead, reason: u8) -> Reply {
    let mut out = BytesMut::with_capacity(HEADER_LEN);
    encode_eviction(head.client, reason, &mut out);
    Reply { framed: true, head: out, ..Reply::default() }
}

/// The eviction a refused login gets, by the error it failed with; `None`: an ordinary error
/// reply (the login was not refused on its credentials).
fn login_eviction(e: &ServerError) -> Option<u8> {
    Some(match e.status() {
        status::INVALID_CREDENTIALS | status::INVALID_USERNAME | status::INVALID_PASSWORD => {
            eviction::INVALID_CREDENTIALS
        }
        status::INVALID_PERSONAL_ACCESS_TOKEN | status::PERSONAL_ACCESS_TOKEN_EXPIRED => {
            eviction::INVALID_TOKEN
        }
        status::USER_INACTIVE => eviction::USER_INACTIVE,
        _ => return None,
    })
}

async fn run(ctx: &ShardCtx, session: &mut Session, head: &RequestHead, body: &[u8]) -> Reply {
    let current = |stream: &eddy_wire::Identifier, topic: &eddy_wire::Identifier| {
        let snapshot = ctx.snapshot();
        let (_, t) = snapshot.catalog.topic(stream, topic).ok()?;
        Some((t.compression, t.message_expiry, t.max_topic_size))
    };
    let translated = match codec::decode_request(head.code, body, current) {
        Ok(t) => t,
        Err(e) => {
            tracing::debug!(code = head.code, error = %e, "0.11 request refused");
            return match e {
                CodecError::MalformedLogin(_) => evicted(head, eviction::MALFORMED_LOGIN),
                CodecError::IncompatibleProtocol(_) => {
                    evicted(head, eviction::INCOMPATIBLE_PROTOCOL)
                }
                e => framed(head, e.status(), BytesMut::new()),
            };
        }
    };
    let shape = translated.reply;
    if let ReplyShape::Options(scope) = shape {
        // The option catalog: the codec's own, but only for a logged-in client.
        if session.user_id.is_none() {
            return framed(head, status::UNAUTHENTICATED, BytesMut::new());
        }
        let mut body = BytesMut::new();
        codec::describe_options(scope, &mut body);
        return framed(head, status::OK, body);
    }
    let reply = match handlers::handle(ctx, session, translated.code, translated.payload).await {
        Ok(reply) if reply.outcome == Outcome::PartitionNotOwned => {
            return framed(head, status::CONSUMER_GROUP_PARTITION_NOT_OWNED, BytesMut::new());
        }
        Ok(reply) if reply.status == status::OK => reply,
        Ok(reply) => return framed(head, reply.status, BytesMut::new()),
        Err(e) => {
            if translated.code != command::LOGIN_USER {
                tracing::debug!(code = head.code, error = %e, "0.11 request failed");
            }
            if shape == ReplyShape::Registered
                && let Some(reason) = login_eviction(&e)
            {
                return evicted(head, reason);
            }
            return framed(head, e.status(), BytesMut::new());
        }
    };
    match body_of(session, shape, reply) {
        Ok(payload) => {
            let mut body = BytesMut::with_capacity(4 + payload.len());
            if is_result_framed(head.operation) {
                body.put_u32_le(0); // an empty result section: success
            }
            body.extend_from_slice(&payload);
            framed(head, status::OK, body)
        }
        Err(e) => {
            tracing::warn!(code = head.code, error = %e, "a reply could not be translated to 0.11");
            framed(head, status::ERROR, BytesMut::new())
        }
    }
}

/// The 0.11 body of a successful reply.
fn body_of(
    session: &mut Session,
    shape: ReplyShape,
    reply: Reply,
) -> Result<BytesMut, eddy_wire::WireError> {
    let v08 = || {
        let mut all = reply.head.clone();
        for chunk in &reply.chunks {
            all.extend_from_slice(chunk);
        }
        all
    };
    Ok(match shape {
        ReplyShape::Sent => {
            let mut out = BytesMut::with_capacity(24);
            let appended = match reply.outcome {
                Outcome::Appended(a) => Some(a),
                _ => None,
            };
            codec::encode_sent(appended, &mut out);
            out
        }
        ReplyShape::Registered => {
            let user_id = eddy_wire::Cursor::new(&reply.head).u32()?;
            // One session per connection: its client id, never 0.
            let id = u64::from(session.client_id);
            session.wire = Wire::V011 { session: id };
            let mut out = BytesMut::new();
            login::encode_registered(
                user_id,
                id,
                concat!("eddy ", env!("CARGO_PKG_VERSION")),
                &mut out,
            );
            out
        }
        ReplyShape::Polled => {
            let head = reply.head.get(..16).ok_or(eddy_wire::WireError::Invalid("poll reply"))?;
            let partition = eddy_wire::Cursor::new(head).u32()?;
            let stored: usize = reply.chunks.iter().map(|c| c.len()).sum();
            let mut out = BytesMut::with_capacity(16 + stored + stored / 4 + 256);
            out.extend_from_slice(head);
            match reply.chunks.as_slice() {
                [] => {}
                [one] => batch::encode_polled(partition, one, &mut out)?,
                many => {
                    let mut all = BytesMut::with_capacity(stored);
                    for c in many {
                        all.extend_from_slice(c);
                    }
                    batch::encode_polled(partition, &all, &mut out)?;
                }
            }
            out
        }
        shape => codec::encode_reply(shape, &v08())?,
    })
}
