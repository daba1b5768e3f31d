//! Options blocks: the key/value pairs protocol 0.11 puts in create and update requests (and
//! after each stream and topic in replies), in the user-headers layout: entries of
//! `[key_kind u8 = 2 (string)][key_len u32][key][value_kind u8][value_len u32][value]`, each
//! length 1–255, at most [`MAX_OPTIONS`] pairs and [`MAX_OPTIONS_BYTES`] bytes. In replies
//! each block is prefixed by its length (`u32`).
//!
//! Topic options Eddy applies: `message_expiry` (µs, `uint64` or a decimal string),
//! `max_topic_size` (bytes, the same), `compression_algorithm` (`none` or `gzip`). The other
//! keys of Iggy's catalog (`segment_size`, `durability`, `consumer_offset_durability`,
//! `messages_required_to_save`, `size_of_messages_required_to_save`, `preallocate_segments`)
//! are accepted and left to Eddy's own configuration (segment size, fsync policy); any other
//! key is refused.

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};

/// Most pairs in a block.
pub const MAX_OPTIONS: usize = 1024;
/// Most bytes in a block.
pub const MAX_OPTIONS_BYTES: usize = 100_000;

/// Value kinds (those of user headers).
pub mod kind {
    pub const STRING: u8 = 2;
    pub const UINT32: u8 = 11;
    pub const UINT64: u8 = 12;
    /// Kinds run 1..=15.
    pub const MAX: u8 = 15;
}

/// Why an options block was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("malformed options block: {0}")]
    Malformed(#[from] WireError),
    #[error("unsupported option key {0:?}")]
    UnsupportedKey(String),
    #[error("invalid value for option {0:?}")]
    InvalidValue(String),
}

/// One pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub key: &'a str,
    pub kind: u8,
    pub value: &'a [u8],
}

fn field<'a>(c: &mut Cursor<'a>) -> Result<(u8, &'a [u8]), WireError> {
    let kind = c.u8()?;
    if kind == 0 || kind > kind::MAX {
        return Err(WireError::Invalid("option kind"));
    }
    let len = c.u32()? as usize;
    if !(1..=255).contains(&len) {
        return Err(WireError::Invalid("option length"));
    }
    Ok((kind, c.bytes(len)?))
}

/// Splits a block into its pairs (validating the layout and the bounds).
pub fn entries(block: &[u8]) -> Result<Vec<Entry<'_>>, WireError> {
    if block.len() > MAX_OPTIONS_BYTES {
        return Err(WireError::Invalid("options block size"));
    }
    let mut c = Cursor::new(block);
    let mut out = Vec::new();
    while c.remaining() > 0 {
        if out.len() == MAX_OPTIONS {
            return Err(WireError::Invalid("options count"));
        }
        let (key_kind, key) = field(&mut c)?;
        if key_kind != kind::STRING {
            return Err(WireError::Invalid("option key kind"));
        }
        let key = std::str::from_utf8(key).map_err(|_| WireError::Invalid("option key"))?;
        let (kind, value) = field(&mut c)?;
        out.push(Entry { key, kind, value });
    }
    Ok(out)
}

/// Appends one pair (for clients and tests).
pub fn encode_entry(key: &str, kind: u8, value: &[u8], out: &mut BytesMut) {
    out.put_u8(kind::STRING);
    out.put_u32_le(key.len() as u32);
    out.put_slice(key.as_bytes());
    out.put_u8(kind);
    out.put_u32_le(value.len() as u32);
    out.put_slice(value);
}

/// Appends an empty block with its length prefix (replies).
pub fn encode_empty_prefixed(out: &mut BytesMut) {
    out.put_u32_le(0);
}

/// Fails unless a block is empty or well formed with no pairs (streams and users have no
/// options Eddy knows).
pub fn require_none(block: &[u8]) -> Result<(), OptionsError> {
    match entries(block)?.first() {
        None => Ok(()),
        Some(e) => Err(OptionsError::UnsupportedKey(e.key.to_owned())),
    }
}

/// The topic options Eddy applies; `None`: the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicOptions {
    pub message_expiry: Option<u64>,
    pub max_topic_size: Option<u64>,
    /// Iggy's codes: 1 none, 2 gzip.
    pub compression: Option<u8>,
}

/// Keys of Iggy's topic catalog Eddy accepts and leaves to its own configuration.
const LEFT_TO_CONFIG: [&str; 6] = [
    "segment_size",
    "durability",
    "consumer_offset_durability",
    "messages_required_to_save",
    "size_of_messages_required_to_save",
    "preallocate_segments",
];

fn u64_value(e: &Entry<'_>) -> Result<u64, OptionsError> {
    let bad = || OptionsError::InvalidValue(e.key.to_owned());
    match e.kind {
        kind::UINT64 => {
            let b: [u8; 8] = e.value.try_into().map_err(|_| bad())?;
            Ok(u64::from_le_bytes(b))
        }
        kind::UINT32 => {
            let b: [u8; 4] = e.value.try_into().map_err(|_| bad())?;
            Ok(u64::from(u32::from_le_bytes(b)))
        }
        kind::STRING => {
            let s = std::str::from_utf8(e.value).map_err(|_| bad())?.trim();
            match s {
                "none" | "unlimited" | "never_expire" => Ok(u64::MAX),
                "server_default" => Ok(0),
                _ => s.parse().map_err(|_| bad()),
            }
        }
        _ => Err(bad()),
    }
}

impl TopicOptions {
    /// Reads a create or update request's block.
    pub fn parse(block: &[u8]) -> Result<Self, OptionsError> {
        let mut out = Self::default();
        for e in entries(block)? {
            match e.key {
                "message_expiry" => out.message_expiry = Some(u64_value(&e)?),
                "max_topic_size" => out.max_topic_size = Some(u64_value(&e)?),
                "compression_algorithm" => {
                    let name = std::str::from_utf8(e.value).unwrap_or("");
                    out.compression = Some(match (e.kind, name) {
                        (kind::STRING, "none") => 1,
                        (kind::STRING, "gzip") => 2,
                        _ => return Err(OptionsError::InvalidValue(e.key.to_owned())),
                    });
                }
                key if LEFT_TO_CONFIG.contains(&key) => {}
                key => return Err(OptionsError::UnsupportedKey(key.to_owned())),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_options_are_read_and_unknown_keys_refused() {
        let mut block = BytesMut::new();
        encode_entry("message_expiry", kind::UINT64, &5_000_000u64.to_le_bytes(), &mut block);
        encode_entry("max_topic_size", kind::STRING, b"2000000000", &mut block);
        encode_entry("compression_algorithm", kind::STRING, b"gzip", &mut block);
        encode_entry("durability", kind::STRING, b"replicated", &mut block);
        assert_eq!(
            TopicOptions::parse(&block),
            Ok(TopicOptions {
                message_expiry: Some(5_000_000),
                max_topic_size: Some(2_000_000_000),
                compression: Some(2)
            })
        );
        let mut unknown = block.clone();
        encode_entry("colour", kind::STRING, b"blue", &mut unknown);
        assert_eq!(
            TopicOptions::parse(&unknown),
            Err(OptionsError::UnsupportedKey("colour".into()))
        );
        let mut bad = BytesMut::new();
        encode_entry("message_expiry", kind::UINT64, &[1, 2, 3], &mut bad);
        assert!(matches!(TopicOptions::parse(&bad), Err(OptionsError::InvalidValue(_))));
        assert_eq!(TopicOptions::parse(&[]), Ok(TopicOptions::default()));
        assert!(require_none(&block).is_err());
        assert!(require_none(&[]).is_ok());
        for cut in 1..block.len() {
            let _ = TopicOptions::parse(&block[..cut]); // never panics
        }
        assert!(entries(&[2, 0, 0, 0, 0]).is_err(), "zero-length key");
        assert!(entries(&[0, 1, 0, 0, 0, b'k']).is_err(), "kind 0");
    }
}
