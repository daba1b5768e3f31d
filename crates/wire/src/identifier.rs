//! Stream and topic identifiers: `[kind u8: 1 numeric, 2 string][len u8][value]`.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::cursor::{Cursor, WireError};

/// A stream, topic or consumer, by numeric id or by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// A numeric id (a `u32`).
    Numeric(u32),
    /// A name of 1–255 bytes.
    Name(String),
}

impl Identifier {
    /// Decodes one identifier.
    pub fn decode(c: &mut Cursor<'_>) -> Result<Self, WireError> {
        let kind = c.u8()?;
        let len = usize::from(c.u8()?);
        match (kind, len) {
            (1, 4) => Ok(Self::Numeric(c.u32()?)),
            (2, 1..) => Ok(Self::Name(c.str(len, "identifier")?.to_owned())),
            _ => Err(WireError::Invalid("identifier")),
        }
    }

    /// Appends the wire form.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Numeric(id) => {
                out.put_u8(1);
                out.put_u8(4);
                out.put_u32_le(*id);
            }
            Self::Name(name) => {
                out.put_u8(2);
                out.put_u8(name.len().min(255) as u8);
                out.put_slice(&name.as_bytes()[..name.len().min(255)]);
            }
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Numeric(id) => write!(f, "{id}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_bad_kinds() {
        for id in [Identifier::Numeric(7), Identifier::Name("orders".into())] {
            let mut out = BytesMut::new();
            id.encode(&mut out);
            let mut c = Cursor::new(&out);
            assert_eq!(Identifier::decode(&mut c), Ok(id));
            assert!(c.finish().is_ok());
        }
        for bad in [&[1u8, 3, 0, 0, 0][..], &[2, 0], &[9, 4, 0, 0, 0, 0]] {
            assert!(Identifier::decode(&mut Cursor::new(bad)).is_err());
        }
    }
}
