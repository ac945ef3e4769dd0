#!/usr/bin/env bash
# The main job on a fresh machine: build dekit, validate the retail stack and plan it offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dekit/target}"
cargo build --locked --bin dekit
dekit="$CARGO_TARGET_DIR/debug/dekit"
"$dekit" validate stacks/retail/stack.yaml
"$dekit" plan stacks/retail/stack.yaml --offline
