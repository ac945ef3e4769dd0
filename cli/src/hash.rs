//! Content hashes: script contents in plans, stack text for saved plans, state lineages, lock ids.

use sha2::Digest;

/// Lowercase hex SHA-256 of `s`.
pub fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Lowercase hex SHA-256 of bytes (lake objects, to tell an unchanged one).
pub fn sha256_bytes(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}
