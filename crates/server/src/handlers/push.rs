//! SUBSCRIBE, GRANT_CREDIT and UNSUBSCRIBE (Eddy's push extension): resolve the partitions and
//! where each starts, then leave the subscription to the connection's `push::Subscriptions`.

use bytes::BytesMut;
use eddy_wire::WireError;
use eddy_wire::commands::CONSUMER_KIND_GROUP;
use eddy_wire::commands::push::{self, FROM_STRATEGY, GrantCredit, Subscribe};

use crate::auth::access::Need;
use crate::error::ServerError;
use crate::metadata::PartitionKey;
use crate::push::{Part, Spec, Subscriptions};
use crate::session::Session;
use crate::shard::ShardCtx;
use crate::shard::message::{PartitionOp, ask};
use crate::transport::conn::Reply;

/// SUBSCRIBE: the reply names the subscription and where each partition starts; its pushes
/// follow.
pub async fn subscribe(
    ctx: &ShardCtx,
    session: &mut Session,
    payload: &[u8],
) -> Result<Reply, ServerError> {
    let req = Subscribe::decode(payload)?;
    if req.batch == 0 {
        return Err(WireError::Invalid("batch of 0 messages").into());
    }
    // A group's partitions move between members as they come and go; a subscription's are
    // fixed. Group members poll (deferred polls wait as a push would).
    if req.consumer.kind == CONSUMER_KIND_GROUP {
        return Err(ServerError::FeatureUnavailable("push subscriptions for consumer groups"));
    }
    let limit = ctx.config.limits.max_subscriptions;
    if session.subscriptions.as_ref().is_some_and(|s| s.len() >= limit) {
        return Err(ServerError::TooManySubscriptions(limit));
    }
    let snapshot = ctx.snapshot();
    let (s, t) = snapshot.catalog.topic(&req.stream, &req.topic)?;
    snapshot.require(session.user_id, Need::Poll(s.id, t.id))?;
    let wanted: Vec<(u32, u64)> = match req.partitions.is_empty() {
        true => (0..t.partitions.len() as u32).map(|p| (p, FROM_STRATEGY)).collect(),
        false => req.partitions.clone(),
    };
    let mut handles = Vec::with_capacity(wanted.len());
    for (i, &(partition, start)) in wanted.iter().enumerate() {
        if wanted[..i].iter().any(|&(p, _)| p == partition) {
            return Err(WireError::Invalid("a partition listed twice").into());
        }
        let key = PartitionKey { stream: s.id, topic: t.id, partition };
        let handle =
            snapshot.partitions.get(&key).ok_or(ServerError::PartitionNotFound(partition))?;
        handles.push((partition, start, handle.tx.clone()));
    }
    drop(snapshot);
    let consumer = (req.consumer.kind, req.consumer.id.clone());
    let mut parts = Vec::with_capacity(handles.len());
    for (partition, start, tx) in handles {
        let start = match start {
            FROM_STRATEGY => {
                let (consumer, strategy, count) = (consumer.clone(), req.strategy, req.batch);
                ask(&tx, |reply| PartitionOp::StartOf { consumer, strategy, count, reply }).await?
            }
            offset => offset,
        };
        parts.push(Part::new(partition, tx, start));
    }
    let starts: Vec<(u32, u64)> = parts.iter().map(|p| (p.partition, p.next)).collect();
    let spec = Spec {
        consumer,
        auto_commit: req.auto_commit,
        batch: req.batch,
        credit_messages: req.credit_messages,
        credit_bytes: req.credit_bytes,
        heartbeat_ms: req.heartbeat_ms,
        parts,
    };
    let client = session.client_id;
    let subs = session.subscriptions.get_or_insert_with(|| Box::new(Subscriptions::new(client)));
    let id = subs.add(spec).await;
    let mut head = BytesMut::with_capacity(8 + 12 * starts.len());
    push::encode_subscribed(id, &starts, &mut head);
    Ok(Reply::ok(head))
}

/// GRANT_CREDIT: more messages and bytes for one subscription.
pub async fn grant(session: &mut Session, payload: &[u8]) -> Result<Reply, ServerError> {
    let g = GrantCredit::decode(payload)?;
    let subs =
        session.subscriptions.as_mut().ok_or(ServerError::SubscriptionNotFound(g.subscription))?;
    subs.grant(g.subscription, g.messages, g.bytes).await?;
    Ok(Reply::default())
}

/// UNSUBSCRIBE: no frame of the subscription follows the reply.
pub async fn unsubscribe(session: &mut Session, payload: &[u8]) -> Result<Reply, ServerError> {
    let id = push::decode_unsubscribe(payload)?;
    let subs = session.subscriptions.as_mut().ok_or(ServerError::SubscriptionNotFound(id))?;
    subs.remove(id).await?;
    if subs.is_empty() && !subs.has_frames() {
        session.subscriptions = None;
    }
    Ok(Reply::default())
}
