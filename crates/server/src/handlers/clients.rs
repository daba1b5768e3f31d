//! GET_CLIENT (21) and GET_CLIENTS (22): the connections of every shard, asked by message
//! (`shard::clients`), with the consumer groups each belongs to (from the snapshot).

use bytes::BytesMut;
use eddy_wire::commands::groups::encode_membership;
use eddy_wire::commands::system::{NO_USER_ID, decode_get_client, encode_me};

use crate::error::ServerError;
use crate::metadata::GroupKey;
use crate::shard::ShardCtx;
use crate::shard::clients::{ClientInfo, gather};
use crate::transport::conn::Reply;

/// One client; with `details` (GET_CLIENT) its groups follow, else (GET_CLIENTS) their count
/// alone.
fn encode(client: &ClientInfo, groups: &[GroupKey], details: bool, out: &mut BytesMut) {
    let user = client.user_id.unwrap_or(NO_USER_ID);
    let count = groups.len() as u32;
    encode_me(client.client_id, user, client.transport, &client.address, count, out);
    if details {
        for g in groups {
            encode_membership(g.stream, g.topic, g.group, out);
        }
    }
}

/// One client by id; an empty reply when no such client is connected (as Iggy answers).
pub async fn get(ctx: &ShardCtx, payload: &[u8]) -> Result<Reply, ServerError> {
    let id = decode_get_client(payload)?;
    let mut out = BytesMut::new();
    if let Some(client) = gather(&ctx.client_queries, Some(id)).await.first() {
        let groups: Vec<GroupKey> = ctx.snapshot().members.groups_of(client.client_id).collect();
        encode(client, &groups, true, &mut out);
    }
    Ok(Reply::ok(out))
}

/// Every connected client, in id order.
pub async fn get_all(ctx: &ShardCtx) -> Reply {
    let mut out = BytesMut::new();
    let clients = gather(&ctx.client_queries, None).await;
    let snapshot = ctx.snapshot();
    for client in clients {
        let groups: Vec<GroupKey> = snapshot.members.groups_of(client.client_id).collect();
        encode(&client, &groups, false, &mut out);
    }
    Reply::ok(out)
}
