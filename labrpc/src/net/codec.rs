//! The one place messages are turned into bytes and back.
//!
//! Every RPC request and reply crosses the emulated network as bytes, exactly as
//! it would cross a real one: the caller's value is encoded, counted and decoded
//! into a fresh value on the other side, so no memory is ever shared between a
//! client and a server. Raft uses the same functions for what it persists.
//!
//! The format is bincode 2 (its serde side, standard configuration). Callers
//! depend on two properties of it, and on nothing else, so another format with
//! both can replace it here without touching a caller:
//!
//! * **self-delimiting**: values encoded one after another decode one by one
//!   with [`decode_prefix`], which says where each ends (Raft's saved log is
//!   its entries, encoded one after another, and a save appends only the new
//!   ones);
//! * **deterministic**: a value always encodes to the same bytes (a log saved
//!   piece by piece equals the same log saved at once).
//!
//! The tests below hold the format to both.

use std::any::type_name;
use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest message [`decode`] will allocate for: corrupt bytes that claim a
/// huge length fail with an error instead of exhausting memory.
const LIMIT: usize = 256 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// A value could not be encoded, or bytes could not be decoded as a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    direction: Direction,
    type_name: &'static str,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encode,
    Decode,
}

impl CodecError {
    /// The Rust type that was being encoded or decoded.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.direction {
            Direction::Encode => write!(f, "cannot encode {}: {}", self.type_name, self.detail),
            Direction::Decode => {
                write!(
                    f,
                    "bytes do not decode as {}: {}",
                    self.type_name, self.detail
                )
            }
        }
    }
}

impl std::error::Error for CodecError {}

/// Encodes `value` into bytes.
///
/// # Errors
/// Fails only for values serde cannot represent (a map with non-string keys is
/// fine; a custom `Serialize` that returns an error is not).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError {
        direction: Direction::Encode,
        type_name: type_name::<T>(),
        detail: e.to_string(),
    })
}

/// Decodes bytes produced by [`encode`] into a new `T`.
///
/// # Errors
/// Fails when the bytes are not exactly one encoded `T`: truncated, corrupt,
/// of another type, or followed by bytes that belong to nothing.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let error = |detail: String| CodecError {
        direction: Direction::Decode,
        type_name: type_name::<T>(),
        detail,
    };
    let (value, read) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| error(e.to_string()))?;
    if read != bytes.len() {
        return Err(error(format!(
            "{} trailing bytes after the value (read {read} of {})",
            bytes.len() - read,
            bytes.len()
        )));
    }
    Ok(value)
}

/// Decodes one `T` from the front of `bytes`, for values stored one after
/// another; returns it and how many bytes it took.
///
/// # Errors
/// Fails when `bytes` does not begin with an encoded `T`.
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), CodecError> {
    bincode::serde::decode_from_slice(bytes, config()).map_err(|e| CodecError {
        direction: Direction::Decode,
        type_name: type_name::<T>(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_a_deep_copy() {
        let original = vec![String::from("a"), String::from("bc")];
        let bytes = encode(&original).unwrap();
        let copy: Vec<String> = decode(&bytes).unwrap();
        assert_eq!(copy, original);
    }

    #[test]
    fn truncated_bytes_name_the_type() {
        let bytes = encode(&String::from("hello")).unwrap();
        let err = decode::<String>(&bytes[..3]).unwrap_err();
        assert!(err.to_string().contains("alloc::string::String"), "{err}");
    }

    #[test]
    fn values_stored_one_after_another_decode_one_by_one() {
        let mut bytes = encode(&300_u64).unwrap();
        bytes.extend(encode(&"two").unwrap());
        let (first, used) = decode_prefix::<u64>(&bytes).unwrap();
        assert_eq!(first, 300);
        assert_eq!(decode::<String>(&bytes[used..]).unwrap(), "two");
        assert!(decode_prefix::<u64>(&[]).is_err());
    }

    #[test]
    fn the_same_value_always_encodes_to_the_same_bytes() {
        let value = (7_u64, Some(String::from("x")), vec![1_u8, 2, 3]);
        assert_eq!(encode(&value).unwrap(), encode(&value.clone()).unwrap());
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let mut bytes = encode(&7u32).unwrap();
        bytes.push(0);
        let err = decode::<u32>(&bytes).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }

    #[test]
    fn a_huge_claimed_length_fails_instead_of_allocating() {
        // A varint length prefix of u64::MAX, then nothing.
        let bytes = [253u8, 255, 255, 255, 255, 255, 255, 255, 255];
        assert!(decode::<Vec<u8>>(&bytes).is_err());
    }
}
