#!/usr/bin/env bash
# The distribution build: the release wheel for manylinux_2_28 (x86_64), linked with zig against
# glibc 2.28's symbols, so it installs with `pip install`/`uvx`/`pipx` on Amazon Linux 2023,
# RHEL 8/9, Debian 11 and Ubuntu 20.04. The binary inside it is the one `apply` deploys as the
# Lambda step runtime (`provided.al2023`, glibc 2.34): run `apply` from the installed wheel, or set
# DEKIT_LAMBDA_BINARY to the binary this prints.
#
#   ci/dist.sh                 x86_64-unknown-linux-gnu (this machine)
#   ci/dist.sh --target aarch64-unknown-linux-gnu
#                              Graviton; needs that target's Rust standard library
#                              (`rustup target add aarch64-unknown-linux-gnu`), which a machine
#                              without network to static.rust-lang.org cannot fetch.
#
# The `dist` profile (Cargo.toml: fat LTO into one code-generation unit, stripped, abort on panic,
# dependencies built smallest except the ones on a data path) and ci/dist-unwind.ld (the unwind
# tables dropped: 7 MB nothing reads once a panic aborts) are issue 27's size cut: a 75.3 MB
# binary and a 26.7 MB wheel (141 / 51 MB before; budget 80 / 30), 21 minutes on 2 cores.
# `cargo bench -p dekit --bench dist` builds with this script and reports the sizes against the
# budget (docs/benchmarks.md, "Distribution size").
#
# maturin and zig come from the test tools' venv (tests/tools/install.sh, pinned). The build
# directory is $CARGO_TARGET_DIR-dist, outside the clone. tests/wheel.rs builds the same way with
# the dev profile and checks the result.
set -euo pipefail
cd "$(dirname "$0")/.."
target="x86_64-unknown-linux-gnu"
if [ "${1:-}" = "--target" ]; then target="$2"; fi
python="$(./tests/tools/install.sh | tail -1)"
export PATH="$(dirname "$python"):$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dekit/target}-dist"
# With --target, RUSTFLAGS reach the shipped code only, not build scripts or proc macros.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-T,$PWD/ci/dist-unwind.ld"
# Deflate (what pip and uv read) at level 9: 0.8 MB under maturin's default level.
"$python" -m maturin build --profile dist --locked --zig --compatibility manylinux_2_28 \
  --compression-method deflated --compression-level 9 --target "$target" --out dist
echo "wheel: $(ls -t dist/dekit-*manylinux_2_28*.whl | head -1)"
echo "binary: $CARGO_TARGET_DIR/$target/dist/dekit"
