#!/usr/bin/env bash
# Installs the independent tools tests check dekit with: a venv with PySpark, sqlglot and DuckDB
# (requirements.txt), Java 17 for Spark when no `java` is on PATH, Chromium to open the HTML
# report headless (Debian's packages, as root), and npm's asl-validator (package.json and its lock), linked
# into the venv's bin/ beside the python.
# Prints the venv's python on its last line. Idempotent: a venv named by the pins' hash is reused;
# calls side by side wait for each other.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DEKIT_CACHE:-$HOME/.cache/dekit}"
req="$here/requirements.txt"
say() { echo "tools: $*" >&2; }
# One install at a time (ci/test.sh, ci/dist.sh and test binaries call this side by side); a
# caller that waited finds the venv complete and reuses it.
mkdir -p "$cache"
exec 9>"$cache/.tools-install.lock"
flock 9

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v chromium >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (Spark needs Java; the HTML report is opened in Chromium)"
    # One apt at a time (localstack/databases.sh may be installing beside this), and a failed
    # install fails the script instead of leaving the Spark tests without Java.
    flock /var/lock/dekit-apt.lock apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive flock /var/lock/dekit-apt.lock \
      apt-get install -y -qq "${missing[@]}" >&2
  else
    say "missing ${missing[*]}: install them (tests that run Spark or open the report will fail)"
  fi
fi

# PySpark 3.5 supports Python 3.8-3.12: prefer the newest of those.
find_python() {
  local c root="${PYENV_ROOT:-$HOME/.pyenv}"
  for c in python3.12 python3.11 python3.10; do
    if command -v "$c" >/dev/null && "$c" -c 'import venv' 2>/dev/null; then command -v "$c"; return; fi
  done
  for c in $(ls -d "$root"/versions/3.1[0-2]* 2>/dev/null | sort -rV); do
    [ -x "$c/bin/python3" ] && { echo "$c/bin/python3"; return; }
  done
  command -v python3 || { say "no python3 found"; exit 1; }
}

hash="$(sha256sum "$req" | cut -c1-12)"
dir="$cache/venv-tools-$hash"
if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.complete" ]; then
  py="$(find_python)"
  say "installing $(grep -v '^#' "$req" | tr '\n' ' ')into $dir with $py"
  rm -rf "$dir"
  mkdir -p "$cache"
  "$py" -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  touch "$dir/.complete"
fi
# The ASL validator, from the npm registry, in a directory named by its pins' hash.
pkg="$here/package.json"
lock="$here/package-lock.json"
node_dir="$cache/node-tools-$(cat "$pkg" "$lock" | sha256sum | cut -c1-12)"
if [ ! -x "$node_dir/node_modules/.bin/asl-validator" ]; then
  command -v npm >/dev/null || { say "npm is missing: install Node.js (asl-validator checks the state machine)"; exit 1; }
  say "installing asl-validator into $node_dir"
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp "$pkg" "$lock" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --silent >&2)
fi
ln -sf "$node_dir/node_modules/.bin/asl-validator" "$dir/bin/asl-validator"
echo "$dir/bin/python"
