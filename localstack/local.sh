#!/usr/bin/env bash
# The local cloud without Docker, on 127.0.0.1, one per machine, with one of two engines:
#   ministack   (default) MiniStack: every service dekit uses on one port, Glue and Athena included
#   localstack  LocalStack (S3, Kinesis, Firehose, IAM, STS, CloudWatch, Logs) and moto's server
#               (Glue, Athena), each in its own venv and process group
#
#   localstack/local.sh start [--engine E] | stop | restart [--engine E] | status | logs [-f]
#                       | install [--engine E|all] | databases start|stop|status
#
# Settings (environment):
#   DEKIT_LOCAL_ENGINE         the engine when --engine is not given (default ministack)
#   DEKIT_CACHE                venvs and LocalStack's downloads (default ~/.cache/dekit)
#   DEKIT_LOCAL_DIR            pid files and logs (default $DEKIT_CACHE/run: one local cloud per machine)
#   DEKIT_LOCAL_PORT           the engine's port, default 4566 (DEKIT_LOCALSTACK_PORT also works)
#   DEKIT_MOTO_PORT            default 5000
#   DEKIT_LOCALSTACK_VOLUME    LocalStack's volume dir (default $DEKIT_CACHE/localstack-volume)
#   DEKIT_START_TIMEOUT        seconds to wait for health (default 180)
#   DEKIT_STOP_TIMEOUT         seconds between SIGTERM and SIGKILL (default 5)
#   DEKIT_PYTHON               a Python >= 3.13 to use
#   KINESIS_SHARD_LIMIT, KINESIS_ON_DEMAND_STREAM_COUNT_LIMIT   passed to LocalStack (defaults raised)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cache="${DEKIT_CACHE:-$HOME/.cache/dekit}"
run_dir="${DEKIT_LOCAL_DIR:-$cache/run}"
ls_port="${DEKIT_LOCAL_PORT:-${DEKIT_LOCALSTACK_PORT:-4566}}"
moto_port="${DEKIT_MOTO_PORT:-5000}"
start_timeout="${DEKIT_START_TIMEOUT:-180}"
engine="${DEKIT_LOCAL_ENGINE:-ministack}"
stop_timeout="${DEKIT_STOP_TIMEOUT:-5}"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# --- Python ------------------------------------------------------------------------------------

# LocalStack 2026.3 needs 3.13: it imports warnings.deprecated, new in 3.13 (3.12 fails at start-up).
python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' 2>/dev/null; }

find_python() {
  if [ -n "${DEKIT_PYTHON:-}" ]; then
    python_ok "$DEKIT_PYTHON" || die "DEKIT_PYTHON=$DEKIT_PYTHON is not Python 3.13 or newer"
    echo "$DEKIT_PYTHON"; return
  fi
  local c
  for c in python3.13 python3.14 python3; do
    if command -v "$c" >/dev/null && python_ok "$(command -v "$c")"; then command -v "$c"; return; fi
  done
  # pyenv-installed versions that are not selected (their shims refuse to run).
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for c in $(ls -d "$root"/versions/3.1[3-9]* 2>/dev/null | sort -rV); do
    if [ -x "$c/bin/python3" ] && python_ok "$c/bin/python3"; then echo "$c/bin/python3"; return; fi
  done
  die "LocalStack needs Python 3.13 or newer and none was found on PATH or in pyenv.
  Install one, e.g. \`pyenv install 3.13\` or your distribution's python3.13 package,
  or point DEKIT_PYTHON at it."
}

# A venv per requirements file, named by the file's hash, so a pin change makes a fresh one.
venv_for() {
  local req="$1" name="$2" py hash dir
  hash="$(sha256sum "$req" | cut -c1-12)"
  dir="$cache/venv-$name-$hash"
  if [ ! -x "$dir/bin/python" ] || [ ! -f "$dir/.complete" ]; then
    py="$(find_python)"
    say "installing $name into $dir (first start only; about a minute)" >&2
    rm -rf "$dir"
    mkdir -p "$cache"
    "$py" -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$req" >&2 \
      || die "installing $name failed; see the pip output above"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# --- processes ---------------------------------------------------------------------------------

pid_of() { cat "$run_dir/$1.pid" 2>/dev/null || true; }

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() {
  case "$1" in
    ministack) curl -sf -m 2 "http://127.0.0.1:$ls_port/_ministack/health" >/dev/null ;;
    localstack) curl -sf -m 2 "http://127.0.0.1:$ls_port/_localstack/health" >/dev/null ;;
    moto) curl -sf -m 2 "http://127.0.0.1:$moto_port/moto-api/data.json" >/dev/null ;;
  esac
}

start_one() {
  local name="$1" port="$2"; shift 2
  local pid; pid="$(pid_of "$name")"
  if alive "$pid"; then
    say "$name already running (pid $pid, port $port)"; return 0
  fi
  rm -f "$run_dir/$name.pid"
  mkdir -p "$run_dir"
  # setsid: the service and its children (LocalStack's node-based Kinesis) share one process group,
  # so stop can signal all of them at once.
  setsid "$@" >"$run_dir/$name.log" 2>&1 < /dev/null &
  echo $! >"$run_dir/$name.pid"
  say "$name starting (pid $!, port $port, log $run_dir/$name.log)"
}

check_port() {
  local name="$1" port="$2"
  alive "$(pid_of "$name")" && return 0
  if port_busy "$port"; then
    die "port $port is already in use by another process, so $name cannot start.
  Find it with \`ss -ltnp 'sport = :$port'\`, stop it, or choose another port with $( [ "$name" = moto ] && echo DEKIT_MOTO_PORT || echo DEKIT_LOCAL_PORT)."
  fi
}

wait_healthy() {
  local name="$1" waited=0
  while ! healthy "$name"; do
    if ! alive "$(pid_of "$name")"; then
      tail -n 30 "$run_dir/$name.log" >&2 || true
      echo "error: $name exited during start-up; its log is above" >&2
      return 1
    fi
    if [ "$waited" -ge "$start_timeout" ]; then
      tail -n 30 "$run_dir/$name.log" >&2 || true
      echo "error: $name did not become healthy within ${start_timeout}s; its log is above" >&2
      return 1
    fi
    sleep 1; waited=$((waited + 1))
  done
  say "$name healthy after ${waited}s"
}

stop_one() {
  local name="$1" pid waited=0
  pid="$(pid_of "$name")"
  if ! alive "$pid"; then
    rm -f "$run_dir/$name.pid"; say "$name not running"; return 0
  fi
  # Signal the whole process group (the service and its children), never anything else.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  while pgrp_alive "$pid" && [ "$waited" -lt $((stop_timeout * 10)) ]; do sleep 0.1; waited=$((waited + 1)); done
  if pgrp_alive "$pid"; then
    say "$name ignored SIGTERM for ${stop_timeout}s: sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    waited=0
    while pgrp_alive "$pid" && [ "$waited" -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  fi
  pgrp_alive "$pid" && die "$name (process group $pid) is still running after SIGKILL"
  rm -f "$run_dir/$name.pid"
  say "$name stopped"
}

# True while any process of the group led by $1 exists.
pgrp_alive() { [ -n "$(ps -o pid= -g "$1" 2>/dev/null)" ]; }

# --- commands ----------------------------------------------------------------------------------

# The processes of each engine.
services_of() {
  case "$1" in
    ministack) echo ministack ;;
    localstack) echo "localstack moto" ;;
    *) die "unknown engine \`$1\`: use ministack or localstack" ;;
  esac
}

# The engine whose processes are running, if any.
running_engine() {
  local e name
  for e in ministack localstack; do
    for name in $(services_of "$e"); do
      if alive "$(pid_of "$name")"; then echo "$e"; return; fi
    done
  done
}

install() {
  case "$engine" in
    ministack) venv_for "$here/requirements-ministack.txt" ministack >/dev/null ;;
    localstack)
      venv_for "$here/requirements-localstack.txt" localstack >/dev/null
      venv_for "$here/requirements-moto.txt" moto >/dev/null ;;
    all) engine=ministack install; engine=localstack install ;;
    *) die "unknown engine \`$engine\`: use ministack, localstack or all" ;;
  esac
}

start() {
  local running; running="$(running_engine)"
  if [ -n "$running" ] && [ "$running" != "$engine" ]; then
    die "the local cloud already runs $running; stop it first, or \`restart --engine $engine\`"
  fi
  case "$engine" in
    ministack) start_ministack ;;
    localstack) start_localstack ;;
    *) die "unknown engine \`$engine\`: use ministack or localstack" ;;
  esac
  echo "$engine" >"$run_dir/engine"
  # The database servers local sources run on (PostgreSQL when installed); a cloud without them
  # still serves every stack without database sources.
  bash "$here/databases.sh" start || say "warning: local database servers did not start (see above)"
}

start_ministack() {
  command -v curl >/dev/null || die "curl is needed to check the local cloud's health"
  local venv state="$run_dir/ministack-state"
  venv="$(venv_for "$here/requirements-ministack.txt" ministack)"
  check_port ministack "$ls_port"
  # A fresh account on every start (like LocalStack without persistence); its files stay in the
  # cache, never in /tmp, where other users could read them. BIND_HOST: it binds 0.0.0.0 otherwise.
  rm -rf "$state"; mkdir -p "$state/s3"
  start_one ministack "$ls_port" env \
    GATEWAY_PORT="$ls_port" \
    BIND_HOST=127.0.0.1 \
    MINISTACK_HOST=127.0.0.1 \
    STATE_DIR="$state" \
    S3_DATA_DIR="$state/s3" \
    PERSIST_STATE=0 \
    "$venv/bin/ministack"
  if ! wait_healthy ministack; then
    stop >&2
    exit 1
  fi
}

start_localstack() {
  command -v curl >/dev/null || die "curl is needed to check the local cloud's health"
  command -v node >/dev/null || die "LocalStack serves Kinesis with node (kinesis-local); install Node.js 18 or newer"
  local ls_venv moto_venv
  ls_venv="$(venv_for "$here/requirements-localstack.txt" localstack)"
  moto_venv="$(venv_for "$here/requirements-moto.txt" moto)"
  local volume="${DEKIT_LOCALSTACK_VOLUME:-$cache/localstack-volume}"
  mkdir -p "$volume"
  # Refuse before starting anything, so a taken port never leaves half a local cloud behind.
  check_port localstack "$ls_port"
  check_port moto "$moto_port"
  # GATEWAY_SERVER=hypercorn: LocalStack's default (twisted) server ignores GATEWAY_LISTEN's host
  # for IPv4 and listens on 0.0.0.0 (localstack/runtime/server/twisted.py: "TODO: interface =
  # host?"); hypercorn binds exactly 127.0.0.1.
  start_one localstack "$ls_port" env \
    GATEWAY_LISTEN="127.0.0.1:$ls_port" \
    GATEWAY_SERVER=hypercorn \
    LOCALSTACK_VOLUME_DIR="$volume" \
    KINESIS_SHARD_LIMIT="${KINESIS_SHARD_LIMIT:-1000}" \
    KINESIS_ON_DEMAND_STREAM_COUNT_LIMIT="${KINESIS_ON_DEMAND_STREAM_COUNT_LIMIT:-100}" \
    SKIP_SSL_CERT_DOWNLOAD=1 \
    DISABLE_EVENTS=1 \
    "$ls_venv/bin/python" -m localstack.runtime.main
  start_one moto "$moto_port" "$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port"
  # A half-started local cloud is stopped again, so the next start begins clean.
  if ! wait_healthy moto || ! wait_healthy localstack; then
    stop >&2
    exit 1
  fi
}

stop() {
  local e; e="$(running_engine)"
  e="${e:-$(cat "$run_dir/engine" 2>/dev/null || echo "$engine")}"
  local name
  for name in $(services_of "$e" | tr ' ' '\n' | tac); do stop_one "$name"; done
  rm -f "$run_dir/engine"
  bash "$here/databases.sh" stop || true
}

status() {
  local rc=0 name pid e
  e="$(running_engine)"
  e="${e:-$engine}"
  say "engine: $e"
  for name in $(services_of "$e"); do
    pid="$(pid_of "$name")"
    if alive "$pid" && healthy "$name"; then
      say "$name: running (pid $pid)"
    elif alive "$pid"; then
      say "$name: starting or unhealthy (pid $pid)"; rc=1
    else
      say "$name: stopped"; rc=1
    fi
  done
  if [ "$e" = localstack ] && healthy localstack; then
    curl -s "http://127.0.0.1:$ls_port/_localstack/health" | "$(venv_for "$here/requirements-localstack.txt" localstack)/bin/python" -c '
import json, sys
s = json.load(sys.stdin)["services"]
for k in ["s3", "kinesis", "firehose", "iam", "sts", "cloudwatch", "logs"]:
    print("  %s: %s" % (k, s.get(k, "missing")))'
  fi
  bash "$here/databases.sh" status || true
  return $rc
}

logs() {
  local follow="" e files=() name
  [ "${1:-}" = "-f" ] && follow="-f"
  e="$(running_engine)"
  e="${e:-$(cat "$run_dir/engine" 2>/dev/null || echo "$engine")}"
  for name in $(services_of "$e"); do files+=("$run_dir/$name.log"); done
  tail -n 50 $follow "${files[@]}"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --engine) engine="${2:-}"; shift 2 ;;
    --engine=*) engine="${1#--engine=}"; shift ;;
    *) break ;;
  esac
done
case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  logs) logs "$@" ;;
  install) install ;;
  databases) bash "$here/databases.sh" "$@" ;;
  *) echo "usage: $0 start [--engine ministack|localstack]|stop|restart [--engine E]|status|logs [-f]|install [--engine E|all]" >&2; exit 2 ;;
esac
