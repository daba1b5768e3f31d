//! GET_STATS, GET_ME, GET_CLUSTER_METADATA and (Eddy's) GET_SHARD_STATS replies.

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};

/// The GET_STATS reply. Layout: 108 bytes of numbers, five `[len u32][utf-8]` strings, the
/// server semver (u32, 0 = none), cache metrics (count u32, none here), threads count u32, free and
/// total disk space u64.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub process_id: u32,
    pub cpu_usage: f32,
    pub total_cpu_usage: f32,
    pub memory_usage: u64,
    pub total_memory: u64,
    pub available_memory: u64,
    pub run_time: u64,
    pub start_time: u64,
    pub read_bytes: u64,
    pub written_bytes: u64,
    pub messages_size_bytes: u64,
    pub streams_count: u32,
    pub topics_count: u32,
    pub partitions_count: u32,
    pub segments_count: u32,
    pub messages_count: u64,
    pub clients_count: u32,
    pub consumer_groups_count: u32,
    pub hostname: String,
    pub os_name: String,
    pub os_version: String,
    pub kernel_version: String,
    pub server_version: String,
    pub server_semver: u32,
    pub threads_count: u32,
    pub free_disk_space: u64,
    pub total_disk_space: u64,
}

impl Stats {
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.process_id);
        out.put_f32_le(self.cpu_usage);
        out.put_f32_le(self.total_cpu_usage);
        for v in [
            self.memory_usage,
            self.total_memory,
            self.available_memory,
            self.run_time,
            self.start_time,
            self.read_bytes,
            self.written_bytes,
            self.messages_size_bytes,
        ] {
            out.put_u64_le(v);
        }
        for v in [self.streams_count, self.topics_count, self.partitions_count, self.segments_count]
        {
            out.put_u32_le(v);
        }
        out.put_u64_le(self.messages_count);
        out.put_u32_le(self.clients_count);
        out.put_u32_le(self.consumer_groups_count);
        for s in [
            &self.hostname,
            &self.os_name,
            &self.os_version,
            &self.kernel_version,
            &self.server_version,
        ] {
            out.put_u32_le(s.len() as u32);
            out.put_slice(s.as_bytes());
        }
        out.put_u32_le(self.server_semver);
        out.put_u32_le(0);
        out.put_u32_le(self.threads_count);
        out.put_u64_le(self.free_disk_space);
        out.put_u64_le(self.total_disk_space);
    }
}

/// One shard's load in the GET_SHARD_STATS reply, which is `[count u32]` then per shard
/// `[shard u32][connections u32][partitions u32][messages u64][requests u64][cpu_us u64]`:
/// connections open on it, partitions it owns and their messages, requests it has served and
/// its thread's CPU time (user + system), all since start. Rates are the reader's deltas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub shard: u32,
    pub connections: u32,
    pub partitions: u32,
    pub messages: u64,
    pub requests: u64,
    pub cpu_micros: u64,
}

impl ShardStats {
    /// Bytes per shard in the reply.
    pub const SIZE: usize = 36;

    /// Encodes the whole reply for `shards`.
    pub fn encode_all(shards: &[ShardStats], out: &mut BytesMut) {
        out.reserve(4 + shards.len() * Self::SIZE);
        out.put_u32_le(shards.len() as u32);
        for s in shards {
            out.put_u32_le(s.shard);
            out.put_u32_le(s.connections);
            out.put_u32_le(s.partitions);
            out.put_u64_le(s.messages);
            out.put_u64_le(s.requests);
            out.put_u64_le(s.cpu_micros);
        }
    }

    /// Decodes a reply; `None` when it is cut short or its count disagrees with its length.
    pub fn decode_all(mut body: &[u8]) -> Option<Vec<ShardStats>> {
        use bytes::Buf;
        if body.len() < 4 {
            return None;
        }
        let count = body.get_u32_le() as usize;
        if body.len() != count.checked_mul(Self::SIZE)? {
            return None;
        }
        let mut shards = Vec::with_capacity(count);
        for _ in 0..count {
            shards.push(ShardStats {
                shard: body.get_u32_le(),
                connections: body.get_u32_le(),
                partitions: body.get_u32_le(),
                messages: body.get_u64_le(),
                requests: body.get_u64_le(),
                cpu_micros: body.get_u64_le(),
            });
        }
        Some(shards)
    }
}

/// Transport codes in client replies.
pub const TRANSPORT_TCP: u8 = 1;
/// WebSocket's transport code.
pub const TRANSPORT_WEBSOCKET: u8 = 4;

/// The GET_ME and GET_CLIENT reply, and each entry of GET_CLIENTS's (which are back to back, no
/// count): `[client_id u32][user_id u32][transport u8][address_len u32][address]
/// [consumer_groups_count u32]`. GET_ME and GET_CLIENT follow it with that many
/// `groups::encode_membership` entries; GET_CLIENTS gives the count alone.
pub fn encode_me(
    client_id: u32,
    user_id: u32,
    transport: u8,
    address: &str,
    groups_count: u32,
    out: &mut BytesMut,
) {
    out.put_u32_le(client_id);
    out.put_u32_le(user_id);
    out.put_u8(transport);
    out.put_u32_le(address.len() as u32);
    out.put_slice(address.as_bytes());
    out.put_u32_le(groups_count);
}

/// The user id a client listing gives a connection that has not logged in.
pub const NO_USER_ID: u32 = u32::MAX;

/// GET_CLIENT's payload: `[client_id u32]`.
pub fn decode_get_client(payload: &[u8]) -> Result<u32, WireError> {
    let mut c = Cursor::new(payload);
    let id = c.u32()?;
    c.finish()?;
    Ok(id)
}

/// A node's role in GET_CLUSTER_METADATA: the leader (a single node is its own).
pub const NODE_ROLE_LEADER: u8 = 0;
/// A follower's role code.
pub const NODE_ROLE_FOLLOWER: u8 = 1;
/// A node's status in GET_CLUSTER_METADATA: healthy (then starting 1, stopping 2, unreachable 3,
/// maintenance 4, unknown 5).
pub const NODE_STATUS_HEALTHY: u8 = 0;

/// One node of the GET_CLUSTER_METADATA reply; a port of 0 is a transport it does not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub name: String,
    pub ip: String,
    pub tcp_port: u16,
    pub quic_port: u16,
    pub http_port: u16,
    pub websocket_port: u16,
    pub role: u8,
    pub status: u8,
}

/// The GET_CLUSTER_METADATA reply: `[name_len u32][name][nodes_count u32]`, then per node
/// `[name_len u32][name][ip_len u32][ip][tcp u16][quic u16][http u16][websocket u16][role u8]
/// [status u8]`.
pub fn encode_cluster_metadata(name: &str, nodes: &[ClusterNode], out: &mut BytesMut) {
    out.put_u32_le(name.len() as u32);
    out.put_slice(name.as_bytes());
    out.put_u32_le(nodes.len() as u32);
    for n in nodes {
        out.put_u32_le(n.name.len() as u32);
        out.put_slice(n.name.as_bytes());
        out.put_u32_le(n.ip.len() as u32);
        out.put_slice(n.ip.as_bytes());
        for port in [n.tcp_port, n.quic_port, n.http_port, n.websocket_port] {
            out.put_u16_le(port);
        }
        out.put_u8(n.role);
        out.put_u8(n.status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_client_takes_exactly_one_id() {
        assert_eq!(decode_get_client(&7u32.to_le_bytes()), Ok(7));
        assert!(decode_get_client(&[1, 0, 0]).is_err());
        assert!(decode_get_client(&[1, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn cluster_metadata_layout() {
        let node = ClusterNode {
            name: "n".into(),
            ip: "10.0.0.1".into(),
            tcp_port: 8090,
            quic_port: 0,
            http_port: 0,
            websocket_port: 8092,
            role: NODE_ROLE_LEADER,
            status: NODE_STATUS_HEALTHY,
        };
        let mut out = BytesMut::new();
        encode_cluster_metadata("eddy", &[node], &mut out);
        let mut want = vec![4, 0, 0, 0];
        want.extend_from_slice(b"eddy");
        want.extend_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0, b'n', 8, 0, 0, 0]);
        want.extend_from_slice(b"10.0.0.1");
        want.extend_from_slice(&[0x9a, 0x1f, 0, 0, 0, 0, 0x9c, 0x1f, 0, 0]);
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn shard_stats_round_trip_and_a_short_or_lying_reply_is_refused() {
        let shards = [
            ShardStats {
                shard: 0,
                connections: 3,
                partitions: 2,
                messages: 9,
                requests: 7,
                cpu_micros: 1,
            },
            ShardStats {
                shard: 1,
                connections: 1,
                partitions: 0,
                messages: 0,
                requests: u64::MAX,
                cpu_micros: 2,
            },
        ];
        let mut out = BytesMut::new();
        ShardStats::encode_all(&shards, &mut out);
        assert_eq!(out.len(), 4 + 2 * ShardStats::SIZE);
        assert_eq!(ShardStats::decode_all(&out).unwrap(), shards);
        assert_eq!(ShardStats::decode_all(&out[..out.len() - 1]), None);
        let mut lying = out.clone();
        lying[0] = 3;
        assert_eq!(ShardStats::decode_all(&lying), None);
        assert_eq!(ShardStats::decode_all(&[]), None);
    }

    #[test]
    fn stats_has_the_numeric_header_then_strings() {
        let stats = Stats { hostname: "h".into(), ..Stats::default() };
        let mut out = BytesMut::new();
        stats.encode(&mut out);
        assert_eq!(&out[108..113], &[1, 0, 0, 0, b'h']);
        assert_eq!(out.len(), 108 + 5 + 4 * 4 + 4 + 4 + 4 + 16);
    }
}
