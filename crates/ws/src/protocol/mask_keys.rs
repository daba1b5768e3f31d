//! Fresh masking keys for a client (RFC 6455 §5.3: "the masking key MUST be unpredictable ...
//! derived from a strong source of entropy"). Keys come from the operating system's CSPRNG in
//! batches of 64, so one `getrandom` call serves 64 frames; the batch is allocated on first use,
//! so a server connection (which never masks) carries only an empty pointer. No I/O beyond that
//! call.

/// Keys fetched per `getrandom` call.
const BATCH: usize = 64;

/// A batch of random masking keys.
#[derive(Debug)]
pub struct MaskKeys {
    keys: Option<Box<[[u8; 4]; BATCH]>>,
    /// Invariant: `keys[next..]` have not been handed out.
    next: usize,
}

impl Default for MaskKeys {
    fn default() -> Self {
        Self { keys: None, next: BATCH }
    }
}

impl MaskKeys {
    /// The next key.
    pub fn next_key(&mut self) -> [u8; 4] {
        if self.next == BATCH {
            let mut raw = [0u8; BATCH * 4];
            if getrandom::fill(&mut raw).is_err() {
                // The OS CSPRNG does not fail on Linux once booted; if it ever does, fall back to
                // a clock-seeded mix so masking (whose purpose is cache-poisoning defence, not
                // confidentiality) still varies per frame.
                let seed = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0x9E37_79B9_7F4A_7C15);
                let mut x = seed | 1;
                for chunk in raw.chunks_exact_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    chunk.copy_from_slice(&x.to_le_bytes());
                }
            }
            let keys = self.keys.get_or_insert_with(|| Box::new([[0; 4]; BATCH]));
            for (key, bytes) in keys.iter_mut().zip(raw.chunks_exact(4)) {
                key.copy_from_slice(bytes);
            }
            self.next = 0;
        }
        let key = self.keys.as_ref().map_or([0; 4], |keys| keys[self.next]);
        self.next += 1;
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_vary_across_batches() {
        let mut keys = MaskKeys::default();
        let all: Vec<[u8; 4]> = (0..200).map(|_| keys.next_key()).collect();
        let distinct: std::collections::HashSet<_> = all.iter().collect();
        // 200 draws from 2^32 values: a repeat is possible but vanishingly rare.
        assert!(distinct.len() >= 198, "{} distinct keys", distinct.len());
    }
}
