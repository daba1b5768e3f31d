//! A bounds-checked little-endian reader over a request payload, and the decode error type.
//! Every read checks the remaining length first; nothing panics on short or hostile input.

use bytes::Bytes;

/// Why a payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The payload ended before a field.
    #[error("payload too short: needed {needed} more bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    /// A field holds a value the protocol does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes were left after the last field.
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
}

/// Reads fields in order from a payload.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated { at: self.pos, needed: n - self.remaining() });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_le_bytes)
    }

    pub fn u128(&mut self) -> Result<u128, WireError> {
        self.array().map(u128::from_le_bytes)
    }

    /// A UTF-8 string of `len` bytes.
    pub fn str(&mut self, len: usize, what: &'static str) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes(len)?).map_err(|_| WireError::Invalid(what))
    }

    /// A `[len u8][utf-8]` name of 1–255 bytes.
    pub fn name(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let len = usize::from(self.u8()?);
        if len == 0 {
            return Err(WireError::Invalid(what));
        }
        self.str(len, what)
    }

    /// A `[len u32][utf-8]` string.
    pub fn long_str(&mut self, what: &'static str) -> Result<&'a str, WireError> {
        let len = self.u32()? as usize;
        self.str(len, what)
    }

    /// The rest of the payload.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Fails if anything is left.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// Slices `payload` (a `Bytes`) at the cursor's consumed prefix, without copying.
pub fn rest_of(payload: &Bytes, cursor: &Cursor<'_>) -> Bytes {
    payload.slice(cursor.position()..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let mut c = Cursor::new(&[1, 0, 0, 0, 2]);
        assert_eq!(c.u32(), Ok(1));
        assert_eq!(c.u32(), Err(WireError::Truncated { at: 4, needed: 3 }));
        assert_eq!(c.u8(), Ok(2));
        assert!(c.finish().is_ok());
        let mut c = Cursor::new(&[0]);
        assert_eq!(c.name("name"), Err(WireError::Invalid("name")));
        let mut c = Cursor::new(&[2, 0xff, 0xfe]);
        assert_eq!(c.name("name"), Err(WireError::Invalid("name")));
    }
}
