#!/usr/bin/env bash
# The test suite: formatting, lints, unit, snapshot, property and integration tests.
# Reuses a target directory outside the clone when present; a cold machine builds from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dekit/target}"
export INSTA_UPDATE=no   # a snapshot that differs or is missing fails the run
export CARGO_TERM_COLOR=never

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked
