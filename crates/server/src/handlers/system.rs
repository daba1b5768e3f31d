//! PING, LOGIN_USER, GET_ME and GET_STATS.

use std::sync::atomic::Ordering;

use bytes::BytesMut;
use eddy_wire::commands::system::{Stats, encode_me};
use eddy_wire::commands::users::{Login, encode_identity};

use crate::config::DEFAULT_ROOT_PASSWORD;
use crate::error::ServerError;
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::partition::now_micros;
use crate::transport::conn::Reply;

/// The root user's id (Iggy's ids start at 0).
const ROOT_USER_ID: u32 = 0;

pub fn login(ctx: &ShardCtx, session: &mut Session, payload: &[u8]) -> Result<Reply, ServerError> {
    let login = Login::decode(payload)?;
    let auth = &ctx.config.auth;
    // Compare without early exit so timing does not reveal a matching prefix.
    let matches = |a: &str, b: &str| {
        a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    };
    if !(matches(&login.username, &auth.root_username)
        & matches(&login.password, &auth.root_password))
    {
        return Err(ServerError::InvalidCredentials);
    }
    if auth.root_password == DEFAULT_ROOT_PASSWORD {
        tracing::debug!("login with the default root password");
    }
    session.user_id = Some(ROOT_USER_ID);
    let mut out = BytesMut::with_capacity(4);
    encode_identity(ROOT_USER_ID, &mut out);
    Ok(Reply::ok(out))
}

pub fn me(session: &Session) -> Reply {
    let mut out = BytesMut::new();
    encode_me(
        session.client_id,
        session.user_id.unwrap_or(ROOT_USER_ID),
        session.transport,
        &session.address,
        &mut out,
    );
    Reply::ok(out)
}

/// Resident memory of this process in bytes, from /proc.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).unwrap_or_default()
}

pub fn stats(ctx: &ShardCtx) -> Reply {
    let snapshot = ctx.snapshot();
    let catalog = &snapshot.catalog;
    let mut stats = Stats {
        process_id: std::process::id(),
        memory_usage: rss_bytes(),
        run_time: now_micros().saturating_sub(ctx.shared.started_at),
        start_time: ctx.shared.started_at,
        streams_count: catalog.streams.len() as u32,
        topics_count: catalog.streams.values().map(|s| s.topics.len() as u32).sum(),
        partitions_count: snapshot.partitions.len() as u32,
        clients_count: ctx.shared.clients.load(Ordering::Relaxed),
        hostname: read_trimmed("/proc/sys/kernel/hostname"),
        os_name: std::env::consts::OS.to_owned(),
        os_version: read_trimmed("/proc/sys/kernel/osrelease"),
        kernel_version: read_trimmed("/proc/sys/kernel/version"),
        server_version: format!("eddy-server {}", env!("CARGO_PKG_VERSION")),
        threads_count: ctx.config.shard_count() as u32,
        ..Stats::default()
    };
    for handle in snapshot.partitions.values() {
        let (_, messages, size, segments) = handle.stats.load();
        stats.messages_count += messages;
        stats.messages_size_bytes += size;
        stats.segments_count += segments as u32;
    }
    let mut out = BytesMut::new();
    stats.encode(&mut out);
    Reply::ok(out)
}
