//! Content hashes: xxh3-128 of shard payloads and sha256 of input files.

use std::{
    fmt,
    fs::File,
    io::{self, Read},
    path::Path,
    str::FromStr,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The xxh3-128 hash of a shard's uncompressed payload, written as 32 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadHash(pub u128);

impl PayloadHash {
    /// Hash of `bytes` in one call (the streaming hasher gives the same value).
    pub fn of(bytes: &[u8]) -> PayloadHash {
        PayloadHash(xxhash_rust::xxh3::xxh3_128(bytes))
    }

    /// Hash of a whole file, read in pieces (memory stays flat whatever its size).
    pub fn of_file(path: &Path) -> Result<PayloadHash> {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        read_in_pieces(path, |piece| hasher.update(piece))?;
        Ok(PayloadHash(hasher.digest128()))
    }
}

impl fmt::Display for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for PayloadHash {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let valid = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(format!("'{s}' is not 32 lowercase hex digits"));
        }
        u128::from_str_radix(s, 16)
            .map(PayloadHash)
            .map_err(|e| e.to_string())
    }
}

impl Serialize for PayloadHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PayloadHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex sha256 of a file's contents, read in 1 MiB pieces.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    read_in_pieces(path, |piece| hasher.update(piece))?;
    Ok(hex(&hasher.finalize()))
}

/// Calls `use_piece` on the bytes of `path`, a megabyte at a time, in order.
fn read_in_pieces(path: &Path, mut use_piece: impl FnMut(&[u8])) -> Result<()> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => use_piece(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_hash_text_round_trip() {
        let hash = PayloadHash::of(b"earlyberts");
        let text = hash.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<PayloadHash>().unwrap(), hash);
        assert!("ABC".parse::<PayloadHash>().is_err());
        assert!(
            "0123456789ABCDEF0123456789abcdef"
                .parse::<PayloadHash>()
                .is_err()
        );
    }

    #[test]
    fn streaming_hash_equals_one_shot() {
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for piece in bytes.chunks(777) {
            hasher.update(piece);
        }
        assert_eq!(PayloadHash(hasher.digest128()), PayloadHash::of(&bytes));
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
