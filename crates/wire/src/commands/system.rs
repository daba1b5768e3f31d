//! GET_STATS and GET_ME replies.

use bytes::{BufMut, BytesMut};

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

/// Transport codes in client replies.
pub const TRANSPORT_TCP: u8 = 1;
/// WebSocket's transport code.
pub const TRANSPORT_WEBSOCKET: u8 = 4;

/// The GET_ME reply: `[client_id u32][user_id u32][transport u8][address_len u32][address]
/// [consumer_groups_count u32]` (no groups).
pub fn encode_me(client_id: u32, user_id: u32, transport: u8, address: &str, out: &mut BytesMut) {
    out.put_u32_le(client_id);
    out.put_u32_le(user_id);
    out.put_u8(transport);
    out.put_u32_le(address.len() as u32);
    out.put_slice(address.as_bytes());
    out.put_u32_le(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_has_the_numeric_header_then_strings() {
        let stats = Stats { hostname: "h".into(), ..Stats::default() };
        let mut out = BytesMut::new();
        stats.encode(&mut out);
        assert_eq!(&out[108..113], &[1, 0, 0, 0, b'h']);
        assert_eq!(out.len(), 108 + 5 + 4 * 4 + 4 + 4 + 4 + 16);
    }
}
