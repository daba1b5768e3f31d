//! PING, LOGIN_USER, GET_ME, GET_STATS and GET_SHARD_STATS.

use std::time::Instant;

use bytes::BytesMut;
use eddy_wire::commands::groups::encode_membership;
use eddy_wire::commands::system::{
    ClusterNode, NODE_ROLE_LEADER, NODE_STATUS_HEALTHY, ShardStats, Stats, encode_cluster_metadata,
    encode_me,
};
use eddy_wire::commands::users::{Login, encode_identity};

use crate::auth::users::ROOT_USER_ID;
use crate::auth::{constant_time_eq, password};
use crate::error::ServerError;
use crate::metadata::GroupKey;
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::partition::now_micros;
use crate::shard::route::owner;
use crate::transport::conn::Reply;

/// LOGIN_USER: waits out the peer address's back-off, checks the root credentials or a user's
/// password hash (hashes are checked off the shard's thread; an unknown name is checked against
/// a dummy hash, so its answer takes as long), logs every failure with the peer address, and
/// ends the connection after `auth.max_failed_logins` failures on it. An inactive user with the
/// right password is told so (USER_INACTIVE) and the failure is not counted.
pub async fn login(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let login = Login::decode(payload)?;
    let shared = &ctx.shared;
    login_backoff(ctx, session).await;
    let root_name = ctx.config.auth.root_username.as_bytes();
    if constant_time_eq(login.username.as_bytes(), root_name) {
        let password_ok = if shared.root.is_hashed() {
            let (root, password) = (shared.root.clone(), login.password.clone());
            compio::runtime::spawn_blocking(move || root.verify(&password)).await.unwrap_or(false)
        } else {
            shared.root.verify(&login.password)
        };
        if !password_ok {
            failed_login(ctx, session, &login.username);
            return Err(ServerError::InvalidCredentials);
        }
        return Ok(logged_in(ctx, session, ROOT_USER_ID));
    }
    let found = ctx
        .snapshot()
        .users
        .by_name(&login.username)
        .map(|u| (u.id, u.active, u.password_hash.clone()));
    let phc = found.as_ref().map(|(_, _, phc)| phc.clone());
    let given = login.password.clone();
    let password_ok = compio::runtime::spawn_blocking(move || match phc {
        Some(phc) => password::verify(&phc, &given),
        None => {
            password::verify(dummy_hash(), &given);
            false
        }
    })
    .await
    .unwrap_or(false);
    match found {
        Some((id, true, _)) if password_ok => Ok(logged_in(ctx, session, id)),
        Some((_, false, _)) if password_ok => Err(ServerError::UserInactive),
        _ => {
            failed_login(ctx, session, &login.username);
            Err(ServerError::InvalidCredentials)
        }
    }
}

/// A hash no password matches in practice, checked for names no user has.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let secret = crate::auth::random_alphanumeric(24).unwrap_or_default();
        password::hash(&secret).unwrap_or_default()
    })
}

/// Waits out the peer address's back-off before a login attempt is checked.
pub async fn login_backoff(ctx: &ShardCtx, session: &Session) {
    let delay = ctx.shared.throttle.delay(session.peer.ip(), Instant::now());
    if !delay.is_zero() {
        compio::time::sleep(delay).await;
    }
}

/// Counts a failed login against the peer address and the connection (closed after
/// `auth.max_failed_logins` of them), and logs it with the peer address.
pub fn failed_login(ctx: &ShardCtx, session: &mut Session, who: &str) {
    session.failed_logins = session.failed_logins.saturating_add(1);
    let from_address = ctx.shared.throttle.failed(session.peer.ip(), Instant::now());
    tracing::warn!(
        peer = %session.address,
        user = ?who,
        on_connection = session.failed_logins,
        from_address,
        "failed login"
    );
    if session.failed_logins >= ctx.config.auth.max_failed_logins {
        session.close = Some("too many failed logins");
    }
}

/// A successful login as `user_id`: the identity reply.
pub fn logged_in(ctx: &ShardCtx, session: &mut Session, user_id: u32) -> Reply {
    ctx.shared.throttle.succeeded(session.peer.ip());
    session.user_id = Some(user_id);
    let mut out = BytesMut::with_capacity(4);
    encode_identity(user_id, &mut out);
    Reply::ok(out)
}

pub fn me(ctx: &ShardCtx, session: &Session) -> Reply {
    let snapshot = ctx.snapshot();
    let groups: Vec<GroupKey> = snapshot.members.groups_of(session.client_id).collect();
    let mut out = BytesMut::new();
    encode_me(
        session.client_id,
        session.user_id.unwrap_or(ROOT_USER_ID),
        session.transport,
        &session.address,
        groups.len() as u32,
        &mut out,
    );
    for g in groups {
        encode_membership(g.stream, g.topic, g.group, &mut out);
    }
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

/// GET_CLUSTER_METADATA: Eddy is one node, the healthy leader of its own cluster, at its bound
/// addresses (0 for the transports it does not serve). Iggy's SDK asks after every login and
/// redirects only when there are several nodes.
pub fn cluster_metadata(ctx: &ShardCtx) -> Reply {
    let (tcp, ws) = (ctx.shared.tcp_address, ctx.shared.ws_address);
    let ip = tcp.or(ws).map_or_else(String::new, |a| a.ip().to_string());
    let hostname = read_trimmed("/proc/sys/kernel/hostname");
    let node = ClusterNode {
        name: if hostname.is_empty() { CLUSTER_NAME.to_owned() } else { hostname },
        ip,
        tcp_port: tcp.map_or(0, |a| a.port()),
        quic_port: 0,
        http_port: 0,
        websocket_port: ws.map_or(0, |a| a.port()),
        role: NODE_ROLE_LEADER,
        status: NODE_STATUS_HEALTHY,
    };
    let mut out = BytesMut::new();
    encode_cluster_metadata(CLUSTER_NAME, &[node], &mut out);
    Reply::ok(out)
}

/// The cluster name in GET_CLUSTER_METADATA.
const CLUSTER_NAME: &str = "eddy";

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
        clients_count: ctx.shared.admission.open(),
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

/// Each shard's connections, partitions (and their messages), requests and CPU time.
pub fn shard_stats(ctx: &ShardCtx) -> Reply {
    let snapshot = ctx.snapshot();
    let loads = &ctx.shared.load;
    let mut shards: Vec<ShardStats> = loads
        .iter()
        .enumerate()
        .map(|(i, load)| ShardStats {
            shard: i as u32,
            connections: load.connections(),
            requests: load.requests(),
            cpu_micros: load.cpu_micros(),
            ..ShardStats::default()
        })
        .collect();
    for (key, handle) in &snapshot.partitions {
        if let Some(shard) = shards.get_mut(owner(*key, loads.len())) {
            shard.partitions += 1;
            shard.messages += handle.stats.load().1;
        }
    }
    let mut out = BytesMut::new();
    ShardStats::encode_all(&shards, &mut out);
    Reply::ok(out)
}
