#!/usr/bin/env bash
# The main job on a fresh machine: build dekit, start the local cloud (MiniStack, installed on first
# use; `DEKIT_LOCAL_ENGINE=localstack` for LocalStack + moto), validate and apply the retail stack,
# then show that a second plan is empty.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dekit/target}"
cargo build --locked --bin dekit
dekit="$CARGO_TARGET_DIR/debug/dekit"
"$dekit" local start
"$dekit" validate stacks/retail/stack.yaml
"$dekit" apply stacks/retail/stack.yaml --auto-approve
echo
echo "== a second plan must be empty:"
"$dekit" plan stacks/retail/stack.yaml --detailed-exitcode
echo
echo "Done. Inspect with \`$dekit state list stacks/retail/stack.yaml\`;"
echo "clean up with \`$dekit destroy stacks/retail/stack.yaml --force-delete-data\` and \`$dekit local stop\`."
