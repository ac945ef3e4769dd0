#!/usr/bin/env bash
# The test suite: formatting, lints, unit, snapshot, property and integration tests, the
# integration tests against the local cloud (LocalStack + moto), which this script starts.
# Reuses a target directory and venvs outside the clone when present; a cold machine builds all.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dekit/target}"
export INSTA_UPDATE=no   # a snapshot that differs or is missing fails the run
export CARGO_TERM_COLOR=never

# Install the local cloud's venvs while Rust compiles (both take minutes on a cold machine).
install_log="$(mktemp)"
./localstack/local.sh install >"$install_log" 2>&1 &
install_pid=$!

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test --no-run"
cargo test --locked --no-run

echo "== local cloud"
if ! wait "$install_pid"; then cat "$install_log"; exit 1; fi
started=""
if ! ./localstack/local.sh status >/dev/null 2>&1; then
  ./localstack/local.sh start
  started=1
fi
# Stop only what this run started, whatever happens.
trap '[ -n "$started" ] && ./localstack/local.sh stop' EXIT
# One call per service; the first Kinesis call makes LocalStack fetch kinesis-local from npm.
"$CARGO_TARGET_DIR/debug/dekit" local status

echo "== cargo test"
cargo test --locked
