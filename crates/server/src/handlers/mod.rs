//! Command dispatch: check the session, decode the payload, check the user's permission for
//! what the command touches (`auth::access`), run the command, return a typed reply. One file
//! per resource. Handlers never touch a socket.

mod clients;
mod groups;
pub(crate) mod messages;
mod offsets;
mod push;
mod streams;
mod system;
mod tokens;
mod topics;
mod users;

use bytes::BytesMut;
use eddy_wire::codes::command as c;

use crate::auth::access::Need;
use crate::error::ServerError;
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::transport::conn::Reply;

/// Runs one request. Rare commands with large futures (login, metadata changes, subscribe)
/// run boxed, so a connection's task (sized for its largest await) stays small at rest.
pub async fn handle(
    ctx: &ShardCtx,
    session: &mut Session,
    code: u32,
    payload: BytesMut,
) -> Result<Reply, ServerError> {
    // Codes Iggy defines that Eddy does not serve (segments, snapshots) are known and answered
    // "feature unavailable" below; others are invalid.
    if c::name(code) == "unknown" {
        return Err(ServerError::InvalidCommand(code));
    }
    session.authorize(code)?;
    // A user deleted or deactivated since this session logged in has lost its login.
    if let Some(user) = session.user_id
        && !ctx.snapshot().may_act(user)
    {
        session.logout();
        ctx.clients.set_user(session.client_id, session.user_id);
        if !matches!(code, c::PING | c::LOGIN_USER | c::LOGIN_WITH_PERSONAL_ACCESS_TOKEN) {
            return Err(ServerError::Unauthenticated);
        }
    }
    let user = session.user_id;
    ctx.load().request();
    match code {
        c::PING => Ok(Reply::default()),
        c::LOGIN_USER => {
            let reply = Box::pin(system::login(ctx, session, &payload)).await;
            ctx.clients.set_user(session.client_id, session.user_id);
            reply
        }
        c::LOGIN_WITH_PERSONAL_ACCESS_TOKEN => {
            let reply = Box::pin(tokens::login(ctx, session, &payload)).await;
            ctx.clients.set_user(session.client_id, session.user_id);
            reply
        }
        c::GET_PERSONAL_ACCESS_TOKENS => Box::pin(tokens::get_all(ctx, session)).await,
        c::CREATE_PERSONAL_ACCESS_TOKEN => Box::pin(tokens::create(ctx, session, &payload)).await,
        c::DELETE_PERSONAL_ACCESS_TOKEN => Box::pin(tokens::delete(ctx, session, &payload)).await,
        c::LOGOUT_USER => {
            session.logout();
            ctx.clients.set_user(session.client_id, session.user_id);
            Ok(Reply::default())
        }
        c::GET_USER => users::get(ctx, session, &payload),
        c::GET_USERS => users::get_all(ctx, session),
        c::CREATE_USER => Box::pin(users::create(ctx, session, &payload)).await,
        c::DELETE_USER => Box::pin(users::delete(ctx, session, &payload)).await,
        c::UPDATE_USER => Box::pin(users::update(ctx, session, &payload)).await,
        c::UPDATE_PERMISSIONS => Box::pin(users::update_permissions(ctx, session, &payload)).await,
        c::CHANGE_PASSWORD => Box::pin(users::change_password(ctx, session, &payload)).await,
        c::GET_CLIENT => {
            ctx.snapshot().require(user, Need::ReadServers)?;
            clients::get(ctx, &payload).await
        }
        c::GET_CLIENTS => {
            ctx.snapshot().require(user, Need::ReadServers)?;
            Ok(clients::get_all(ctx).await)
        }
        c::GET_ME => Ok(system::me(ctx, session)),
        c::GET_STATS => {
            ctx.snapshot().require(user, Need::ReadServers)?;
            Ok(system::stats(ctx))
        }
        c::GET_CLUSTER_METADATA => Ok(system::cluster_metadata(ctx)),
        c::GET_SHARD_STATS => {
            ctx.snapshot().require(user, Need::ReadServers)?;
            Ok(system::shard_stats(ctx))
        }
        c::GET_STREAM => streams::get(ctx, user, &payload),
        c::GET_STREAMS => streams::get_all(ctx, user),
        c::CREATE_STREAM => Box::pin(streams::create(ctx, user, &payload)).await,
        c::UPDATE_STREAM => Box::pin(streams::update(ctx, user, &payload)).await,
        c::DELETE_STREAM => Box::pin(streams::delete(ctx, user, &payload)).await,
        c::PURGE_STREAM => Box::pin(streams::purge(ctx, user, &payload)).await,
        c::GET_TOPIC => topics::get(ctx, user, &payload),
        c::GET_TOPICS => topics::get_all(ctx, user, &payload),
        c::CREATE_TOPIC => Box::pin(topics::create(ctx, user, &payload)).await,
        c::UPDATE_TOPIC => Box::pin(topics::update(ctx, user, &payload)).await,
        c::DELETE_TOPIC => Box::pin(topics::delete(ctx, user, &payload)).await,
        c::PURGE_TOPIC => Box::pin(topics::purge(ctx, user, &payload)).await,
        c::CREATE_PARTITIONS => Box::pin(topics::create_partitions(ctx, user, &payload)).await,
        c::DELETE_PARTITIONS => Box::pin(topics::delete_partitions(ctx, user, &payload)).await,
        c::DELETE_SEGMENTS => Box::pin(topics::delete_segments(ctx, user, &payload)).await,
        c::SEND_MESSAGES => messages::send(ctx, user, payload).await,
        c::POLL_MESSAGES => messages::poll(ctx, session, &payload).await,
        c::POLL_MESSAGES_DEFERRED => messages::poll_deferred(ctx, session, &payload).await,
        c::FETCH_MESSAGES => Box::pin(messages::fetch(ctx, session, &payload)).await,
        // A connection's deferred poll is cancelled by its transport while it waits (the
        // request is seen before it runs); run in turn it finds nothing waiting.
        c::CANCEL_DEFERRED_REQUEST => Ok(Reply::default()),
        c::FLUSH_UNSAVED_BUFFER => Box::pin(messages::flush(ctx, user, &payload)).await,
        c::GET_CONSUMER_OFFSET => offsets::get(ctx, user, &payload).await,
        c::STORE_CONSUMER_OFFSET => offsets::store(ctx, session, &payload).await,
        c::DELETE_CONSUMER_OFFSET => Box::pin(offsets::delete(ctx, session, &payload)).await,
        c::GET_CONSUMER_GROUP => groups::get(ctx, user, &payload),
        c::GET_CONSUMER_GROUPS => groups::get_all(ctx, user, &payload),
        c::CREATE_CONSUMER_GROUP => Box::pin(groups::create(ctx, user, &payload)).await,
        c::DELETE_CONSUMER_GROUP => Box::pin(groups::delete(ctx, user, &payload)).await,
        c::JOIN_CONSUMER_GROUP => Box::pin(groups::join(ctx, session, &payload)).await,
        c::LEAVE_CONSUMER_GROUP => Box::pin(groups::leave(ctx, session, &payload)).await,
        c::SYNC_CONSUMER_GROUP => groups::sync(ctx, session, &payload),
        c::SUBSCRIBE => Box::pin(push::subscribe(ctx, session, &payload)).await,
        c::GRANT_CREDIT => push::grant(session, &payload).await,
        c::UNSUBSCRIBE => Box::pin(push::unsubscribe(session, &payload)).await,
        _ => Err(ServerError::FeatureUnavailable(c::name(code))),
    }
}

/// Fails unless `user` may do `need` to the stream `stream` names (a missing stream: its
/// not-found error, as the command itself would answer).
pub(crate) fn require_stream(
    ctx: &ShardCtx,
    user: Option<u32>,
    stream: &eddy_wire::Identifier,
    need: fn(u32) -> Need,
) -> Result<(), ServerError> {
    let snapshot = ctx.snapshot();
    let s = snapshot.catalog.stream(stream)?;
    snapshot.require(user, need(s.id))
}

/// Fails unless `user` may do `need` to the topic `stream` and `topic` name (a missing one:
/// its not-found error).
pub(crate) fn require_topic(
    ctx: &ShardCtx,
    user: Option<u32>,
    stream: &eddy_wire::Identifier,
    topic: &eddy_wire::Identifier,
    need: fn(u32, u32) -> Need,
) -> Result<(), ServerError> {
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(stream, topic)?;
    snapshot.require(user, need(s.id, t.id))
}

/// Resolves a topic's partition to its handle.
pub(crate) fn partition_handle(
    ctx: &ShardCtx,
    stream: &eddy_wire::Identifier,
    topic: &eddy_wire::Identifier,
    partition: u32,
) -> Result<crate::shard::message::PartitionHandle, ServerError> {
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(stream, topic)?;
    let key = crate::metadata::PartitionKey { stream: s.id, topic: t.id, partition };
    snapshot.partitions.get(&key).cloned().ok_or(ServerError::PartitionNotFound(partition))
}
