//! Consumer offset commands, executed by the partition's owner.

use bytes::BytesMut;
use eddy_wire::commands::offsets::{OffsetKey, encode_offset};

use super::partition_handle;
use crate::error::ServerError;
use crate::shard::ShardCtx;
use crate::shard::message::{PartitionOp, ask};
use crate::transport::conn::Reply;

pub async fn get(ctx: &ShardCtx, payload: &[u8]) -> Result<Reply, ServerError> {
    let key = OffsetKey::decode_payload(payload)?;
    let partition = key.partition.unwrap_or(0);
    let handle = partition_handle(ctx, &key.stream, &key.topic, partition)?;
    let consumer = (key.consumer.kind, key.consumer.id);
    match ask(&handle.tx, |reply| PartitionOp::GetOffset { consumer, reply }).await? {
        // Nothing stored: an empty OK reply, which the SDK maps to `None`.
        None => Ok(Reply::default()),
        Some((current, stored)) => {
            let mut out = BytesMut::with_capacity(20);
            encode_offset(partition, current, stored, &mut out);
            Ok(Reply::ok(out))
        }
    }
}

pub async fn store(ctx: &ShardCtx, payload: &[u8]) -> Result<Reply, ServerError> {
    let (key, offset) = OffsetKey::decode_store(payload)?;
    let handle = partition_handle(ctx, &key.stream, &key.topic, key.partition.unwrap_or(0))?;
    let consumer = (key.consumer.kind, key.consumer.id);
    ask(&handle.tx, |reply| PartitionOp::StoreOffset { consumer, offset, reply }).await?;
    Ok(Reply::default())
}

pub async fn delete(ctx: &ShardCtx, payload: &[u8]) -> Result<Reply, ServerError> {
    let key = OffsetKey::decode_payload(payload)?;
    let handle = partition_handle(ctx, &key.stream, &key.topic, key.partition.unwrap_or(0))?;
    let consumer = (key.consumer.kind, key.consumer.id);
    ask(&handle.tx, |reply| PartitionOp::DeleteOffset { consumer, reply }).await?;
    Ok(Reply::default())
}
