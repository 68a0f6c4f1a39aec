//! Compression and content addressing of stored blobs (stderr, lockfiles).

use sha2::{Digest, Sha256};

use crate::DataError;

/// zstd level 3: stderr is repetitive text, this gets most of the gain at little CPU.
const LEVEL: i32 = 3;

pub(crate) fn compress(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    zstd::encode_all(bytes, LEVEL).map_err(DataError::Compression)
}

pub(crate) fn decompress(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    zstd::decode_all(bytes).map_err(DataError::Compression)
}

/// Hex SHA-256, the content address of a lockfile.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
