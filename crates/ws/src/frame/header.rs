//! One frame header (RFC 6455 §5.2): FIN, RSV1–3, opcode, the 7/16/64-bit payload length and the
//! masking key.
//!
//! Parsing consumes nothing until the whole header is present ("need more" is `Ok(None)`), never
//! allocates, and knows nothing of message meaning: limits, RSV policy and masking rules belong to
//! `protocol`.

use bytes::BufMut;

use super::OpCode;

/// The longest header: 2 bytes, an 8-byte extended length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low three bits (RSV1 = `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length. Invariant: below 2^63 (§5.2: "the most significant bit MUST be 0").
    pub payload_len: u64,
}

/// A header that can never be valid, whatever follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Opcodes 3–7 and 0xB–0xF are reserved (§5.2).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// §5.2: "the most significant bit MUST be 0" in a 64-bit length.
    #[error("64-bit payload length with the most significant bit set")]
    LengthTooLarge,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`. Returns the header and its length in bytes, or
    /// `Ok(None)` when `buf` does not yet hold the whole header.
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, HeaderError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(HeaderError::ReservedOpcode(b0 & 0x0F))?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut pos) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                Some(b) => {
                    let len = u64::from_be_bytes(b);
                    if len >> 63 != 0 {
                        return Err(HeaderError::LengthTooLarge);
                    }
                    (len, 10)
                }
                None => return Ok(None),
            },
            short => (u64::from(short), 2),
        };
        let mask = if masked {
            match buf.get(pos..pos + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                Some(key) => {
                    pos += 4;
                    Some(key)
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        let header = Self { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x07, opcode, mask, payload_len };
        Ok(Some((header, pos)))
    }

    /// The encoded length of this header: 2, 4 or 10 bytes plus 4 with a mask.
    pub fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header to `dst`, using the shortest length form (§5.2: "the minimal number of
    /// bytes MUST be used to encode the length").
    pub fn encode(&self, dst: &mut impl BufMut) {
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        dst.put_u8(b0);
        match self.payload_len {
            len @ 0..=125 => dst.put_u8(mask_bit | len as u8),
            len @ 126..=0xFFFF => {
                dst.put_u8(mask_bit | 126);
                dst.put_u16(len as u16);
            }
            len => {
                dst.put_u8(mask_bit | 127);
                dst.put_u64(len);
            }
        }
        if let Some(key) = self.mask {
            dst.put_slice(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u64, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask, payload_len: len }
    }

    #[test]
    fn every_length_form_round_trips_and_needs_its_whole_header() {
        for len in [0, 1, 125, 126, 127, 0xFFFF, 0x1_0000, u32::MAX as u64 + 7, (1 << 63) - 1] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = header(len, mask);
                let mut buf = Vec::new();
                h.encode(&mut buf);
                assert_eq!(buf.len(), h.encoded_len());
                for cut in 0..buf.len() {
                    assert_eq!(FrameHeader::parse(&buf[..cut]), Ok(None), "len {len} cut {cut}");
                }
                assert_eq!(FrameHeader::parse(&buf), Ok(Some((h, buf.len()))));
            }
        }
    }

    #[test]
    fn length_forms_are_minimal() {
        assert_eq!(header(125, None).encoded_len(), 2);
        assert_eq!(header(126, None).encoded_len(), 4);
        assert_eq!(header(0xFFFF, None).encoded_len(), 4);
        assert_eq!(header(0x1_0000, None).encoded_len(), 10);
    }

    #[test]
    fn reserved_opcodes_and_huge_lengths_are_rejected() {
        assert_eq!(FrameHeader::parse(&[0x83, 0x00]), Err(HeaderError::ReservedOpcode(3)));
        assert_eq!(FrameHeader::parse(&[0x8B, 0x00]), Err(HeaderError::ReservedOpcode(0xB)));
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(FrameHeader::parse(&huge), Err(HeaderError::LengthTooLarge));
    }

    #[test]
    fn fin_and_rsv_bits_are_read() {
        let (h, _) = FrameHeader::parse(&[0x71, 0x00]).unwrap().unwrap();
        assert!(!h.fin);
        assert_eq!(h.rsv, 0b111);
        assert_eq!(h.opcode, OpCode::Text);
    }
}
