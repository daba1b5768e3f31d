//! GET_CLIENT (21) and GET_CLIENTS (22): the connections of every shard, asked by message
//! (`shard::clients`). Consumer groups are not served, so every client belongs to none.

use bytes::BytesMut;
use eddy_wire::commands::system::{NO_USER_ID, decode_get_client, encode_me};

use crate::error::ServerError;
use crate::shard::ShardCtx;
use crate::shard::clients::{ClientInfo, gather};
use crate::transport::conn::Reply;

fn encode(client: &ClientInfo, out: &mut BytesMut) {
    let user = client.user_id.unwrap_or(NO_USER_ID);
    encode_me(client.client_id, user, client.transport, &client.address, out);
}

/// One client by id; an empty reply when no such client is connected (as Iggy answers).
pub async fn get(ctx: &ShardCtx, payload: &[u8]) -> Result<Reply, ServerError> {
    let id = decode_get_client(payload)?;
    let mut out = BytesMut::new();
    if let Some(client) = gather(&ctx.client_queries, Some(id)).await.first() {
        encode(client, &mut out);
    }
    Ok(Reply::ok(out))
}

/// Every connected client, in id order.
pub async fn get_all(ctx: &ShardCtx) -> Reply {
    let mut out = BytesMut::new();
    for client in gather(&ctx.client_queries, None).await {
        encode(&client, &mut out);
    }
    Reply::ok(out)
}
