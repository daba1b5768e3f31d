//! Every decoder of Iggy's binary protocol that the server runs on a client's bytes: the request
//! header (with the size limit) and each command's payload (login, streams, topics, partitions,
//! send with its batch validation, poll and deferred poll, offsets, flush, consumer groups,
//! personal access tokens, client lookups, users and permissions, segment deletion, fetches
//! of several partitions). Never
//! panics; a decoded send batch's lengths cover its messages exactly; a decoded deferred poll's
//! wait is within the protocol's 600 s and the granted wait never exceeds it; decoded
//! permissions re-encode to the bytes they came from and hold at most the entry limit.

#![no_main]

use eddy_wire::commands::messages::{
    FetchMessages, MAX_DEFERRED_WAIT_US, MAX_FETCH_PARTITIONS, PollDeferred, PollMessages,
    SendMessages, decode_flush,
};
use eddy_wire::commands::offsets::OffsetKey;
use eddy_wire::commands::streams;
use eddy_wire::commands::system::decode_get_client;
use eddy_wire::commands::topics::{
    CreateTopic, UpdateTopic, decode_delete_segments, decode_ids, decode_partitions,
};
use eddy_wire::commands::users::{
    self, ChangePassword, CreateUser, Login, MAX_PERMISSION_ENTRIES, Permissions, UpdateUser,
};
use eddy_wire::commands::{groups, tokens};
use eddy_wire::cursor::Cursor;
use eddy_wire::framing::RequestHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(header)) = RequestHeader::parse(data, 1 << 20) {
        assert!(header.payload_len <= 1 << 20);
    }
    let _ = Login::decode(data);
    let _ = streams::decode_create(data);
    let _ = streams::decode_id(data);
    let _ = streams::decode_update(data);
    let _ = CreateTopic::decode(data);
    let _ = UpdateTopic::decode(data);
    let _ = decode_ids(data);
    let _ = decode_partitions(data);
    let _ = PollMessages::decode(data);
    if let Ok(d) = PollDeferred::decode(data) {
        assert!(d.wait_us <= eddy_wire::commands::messages::MAX_DEFERRED_WAIT_US);
        assert!(d.granted_wait_us(u64::MAX) <= d.wait_us);
    }
    let _ = decode_flush(data);
    let _ = groups::decode_group(data);
    let _ = groups::decode_groups(data);
    let _ = groups::decode_create(data);
    let _ = tokens::decode_create(data);
    let _ = tokens::decode_name(data, "token");
    let _ = decode_get_client(data);
    let _ = OffsetKey::decode_payload(data);
    let _ = decode_delete_segments(data);
    if let Ok(f) = FetchMessages::decode(data) {
        assert!(f.partitions.len() <= MAX_FETCH_PARTITIONS);
        assert!(f.wait_us <= MAX_DEFERRED_WAIT_US);
        assert!(f.granted_wait_us(u64::MAX) <= f.wait_us);
    }
    let _ = CreateUser::decode(data);
    let _ = UpdateUser::decode(data);
    let _ = ChangePassword::decode(data);
    let _ = users::decode_user_id(data);
    let _ = users::decode_update_permissions(data);
    let mut c = Cursor::new(data);
    if let Ok(p) = Permissions::decode(&mut c) {
        let entries: usize = p.streams.values().map(|s| 1 + s.topics.len()).sum();
        assert!(entries <= MAX_PERMISSION_ENTRIES);
        let mut again = bytes::BytesMut::new();
        p.encode(&mut again);
        // What was decoded encodes back to itself, never longer than its input (an input that
        // repeats an id encodes shorter: the last one counts).
        let used = &data[..c.position()];
        let mut round = Cursor::new(&again);
        assert_eq!(Permissions::decode(&mut round).as_ref(), Ok(&p));
        assert!(again.len() <= used.len());
    }
    let _ = OffsetKey::decode_store(data);
    if let Ok(send) = SendMessages::decode(data) {
        let total: u64 = send.lengths.iter().map(|&l| u64::from(l)).sum();
        assert_eq!(total, (data.len() - send.messages_at) as u64);
    }
});
