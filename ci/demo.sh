#!/usr/bin/env bash
# The main job on a fresh machine: build dekit, start the local cloud (MiniStack, installed on first
# use; `DEKIT_LOCAL_ENGINE=localstack` for LocalStack + moto) with its PostgreSQL, validate and
# apply the retail stack, show that a second plan is empty, then move data: produce the sample
# clickstream into Kinesis and run the pipeline (the shop database, seeded from its sample, batch-
# loaded to Parquet; the clickstream landed in the raw zone; the star schema built by the local
# engine; the BI view and the ML export), printing the run's summary and the BI view.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dekit/target}"
cargo build --locked --bin dekit
dekit="$CARGO_TARGET_DIR/debug/dekit"
stack=stacks/retail/stack.yaml
./localstack/databases.sh install
"$dekit" local start
"$dekit" validate "$stack"
"$dekit" apply "$stack" --auto-approve
echo
echo "== a second plan must be empty:"
"$dekit" plan "$stack" --detailed-exitcode
echo
echo "== produce the sample clickstream, then run the pipeline:"
"$dekit" produce "$stack" clickstream
"$dekit" run "$stack"
echo
echo "== the BI view, by the local engine:"
"$dekit" query "$stack" "select * from sales_by_month_country order by year, month, country" --limit 10
echo
echo "Done. Run again: only new rows load, and only models whose inputs changed rebuild."
echo "Query anything: \`$dekit query $stack \"select ... from fact_orders\"\`."
echo "Inspect with \`$dekit state list $stack\`; clean up with"
echo "\`$dekit destroy $stack --force-delete-data\` and \`$dekit local stop\`."
