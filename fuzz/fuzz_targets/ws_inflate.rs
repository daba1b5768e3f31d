//! The permessage-deflate decompressor on arbitrary compressed data, split into frames at
//! arbitrary points: never panics, never produces more than the limit (it stops with TooBig).

#![no_main]

use eddy_ws::deflate::Decompressor;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else { return };
    let mut inflater = Decompressor::new(control & 1 != 0);
    let step = 1 + usize::from(control >> 1) * 13;
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = bytes.chunks(step).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = i + 1 == chunks.len() || (control & 2 != 0 && i % 3 == 2);
        if inflater.inflate(chunk, last, &mut out, LIMIT).is_err() {
            break;
        }
        assert!(out.len() <= LIMIT, "inflated past the limit: {}", out.len());
        if last {
            out.clear();
        }
    }
});
