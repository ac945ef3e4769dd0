//! Content hashes: script contents in plans, stack text for saved plans, state lineages, lock ids.

use sha2::Digest;

/// Lowercase hex SHA-256 of `s`.
pub fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
