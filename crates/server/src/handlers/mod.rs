//! Command dispatch: check the session, decode the payload, run the command, return a typed
//! reply. One file per resource. Handlers never touch a socket.

mod clients;
mod groups;
pub(crate) mod messages;
mod offsets;
mod push;
mod streams;
mod system;
mod tokens;
mod topics;

use bytes::BytesMut;
use eddy_wire::codes::command as c;

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
    // Codes Iggy defines that Eddy does not serve (users, tokens, segments, snapshots) are known
    // and answered "feature unavailable" below; others are invalid.
    if c::name(code) == "unknown" {
        return Err(ServerError::InvalidCommand(code));
    }
    session.authorize(code)?;
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
        c::GET_CLIENT => clients::get(ctx, &payload).await,
        c::GET_CLIENTS => Ok(clients::get_all(ctx).await),
        c::GET_ME => Ok(system::me(ctx, session)),
        c::GET_STATS => Ok(system::stats(ctx)),
        c::GET_CLUSTER_METADATA => Ok(system::cluster_metadata(ctx)),
        c::GET_SHARD_STATS => Ok(system::shard_stats(ctx)),
        c::GET_STREAM => streams::get(ctx, &payload),
        c::GET_STREAMS => Ok(streams::get_all(ctx)),
        c::CREATE_STREAM => Box::pin(streams::create(ctx, &payload)).await,
        c::UPDATE_STREAM => Box::pin(streams::update(ctx, &payload)).await,
        c::DELETE_STREAM => Box::pin(streams::delete(ctx, &payload)).await,
        c::PURGE_STREAM => Box::pin(streams::purge(ctx, &payload)).await,
        c::GET_TOPIC => topics::get(ctx, &payload),
        c::GET_TOPICS => topics::get_all(ctx, &payload),
        c::CREATE_TOPIC => Box::pin(topics::create(ctx, &payload)).await,
        c::UPDATE_TOPIC => Box::pin(topics::update(ctx, &payload)).await,
        c::DELETE_TOPIC => Box::pin(topics::delete(ctx, &payload)).await,
        c::PURGE_TOPIC => Box::pin(topics::purge(ctx, &payload)).await,
        c::CREATE_PARTITIONS => Box::pin(topics::create_partitions(ctx, &payload)).await,
        c::DELETE_PARTITIONS => Box::pin(topics::delete_partitions(ctx, &payload)).await,
        c::SEND_MESSAGES => messages::send(ctx, payload).await,
        c::POLL_MESSAGES => messages::poll(ctx, session, &payload).await,
        c::POLL_MESSAGES_DEFERRED => messages::poll_deferred(ctx, session, &payload).await,
        // A connection's deferred poll is cancelled by its transport while it waits (the
        // request is seen before it runs); run in turn it finds nothing waiting.
        c::CANCEL_DEFERRED_REQUEST => Ok(Reply::default()),
        c::FLUSH_UNSAVED_BUFFER => Box::pin(messages::flush(ctx, &payload)).await,
        c::GET_CONSUMER_OFFSET => offsets::get(ctx, &payload).await,
        c::STORE_CONSUMER_OFFSET => offsets::store(ctx, session, &payload).await,
        c::DELETE_CONSUMER_OFFSET => Box::pin(offsets::delete(ctx, session, &payload)).await,
        c::GET_CONSUMER_GROUP => groups::get(ctx, &payload),
        c::GET_CONSUMER_GROUPS => groups::get_all(ctx, &payload),
        c::CREATE_CONSUMER_GROUP => Box::pin(groups::create(ctx, &payload)).await,
        c::DELETE_CONSUMER_GROUP => Box::pin(groups::delete(ctx, &payload)).await,
        c::JOIN_CONSUMER_GROUP => Box::pin(groups::join(ctx, session, &payload)).await,
        c::LEAVE_CONSUMER_GROUP => Box::pin(groups::leave(ctx, session, &payload)).await,
        c::SUBSCRIBE => Box::pin(push::subscribe(ctx, session, &payload)).await,
        c::GRANT_CREDIT => push::grant(session, &payload).await,
        c::UNSUBSCRIBE => Box::pin(push::unsubscribe(session, &payload)).await,
        _ => Err(ServerError::FeatureUnavailable(c::name(code))),
    }
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
