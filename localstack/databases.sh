#!/usr/bin/env bash
# Local database servers for the sources of `local` environments, on 127.0.0.1 only:
#   PostgreSQL  from the binaries PostgreSQL's packages install (Debian: postgresql-15 or newer)
#
#   localstack/databases.sh start | stop | status
#
# `local.sh start` starts these beside the local cloud when the binaries are there. Each server gets
# a superuser `dekit` with a random password written beside its data directory, to
# <data>.password (mode 600); dekit reads it from there to seed sample data and load from them. Nothing is shared with the
# system's own servers: own data directory, own port.
#
# Settings (environment):
#   DEKIT_PG_PORT      default 5433 (5432 is left to a system server)
#   DEKIT_PG_BIN       directory of initdb/pg_ctl (default: the newest /usr/lib/postgresql/*/bin)
#   DEKIT_PG_DATA      data directory (default $DEKIT_CACHE/postgres; as root /var/lib/dekit/postgres,
#                      owned by the `postgres` user, since the server refuses to run as root)
set -euo pipefail

cache="${DEKIT_CACHE:-$HOME/.cache/dekit}"
run_dir="${DEKIT_LOCAL_DIR:-$cache/run}"
pg_port="${DEKIT_PG_PORT:-5433}"
mkdir -p "$run_dir"; chmod 700 "$run_dir"

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

pg_bin() {
  if [ -n "${DEKIT_PG_BIN:-}" ]; then echo "$DEKIT_PG_BIN"; return; fi
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(command -v pg_ctl)"; return; fi
  local d; d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

pg_data() {
  if [ -n "${DEKIT_PG_DATA:-}" ]; then echo "$DEKIT_PG_DATA"
  elif [ "$(id -u)" = 0 ]; then echo "/var/lib/dekit/postgres-$pg_port"
  else echo "$cache/postgres-$pg_port"; fi
}

# As root, every server command runs as `postgres`.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  local bin data; bin="$(pg_bin || true)"
  if [ -z "$bin" ]; then
    say "postgres: not installed (no initdb/pg_ctl found; set DEKIT_PG_BIN): postgres sources of local environments cannot run"
    return 0
  fi
  data="$(pg_data)"
  local pw="$data.password"
  if [ ! -f "$data/PG_VERSION" ] || [ ! -s "$pw" ]; then
    rm -rf "$data"; mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data" "$(dirname "$data")"
    chmod 700 "$data"
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pw")
    local pwfile="$data/../.pw.$$"
    (umask 077; cp "$pw" "$pwfile")
    [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
    as_pg "$bin/initdb" -D "$data" -U dekit --pwfile="$pwfile" --auth=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >"$run_dir/postgres-initdb.log" 2>&1 \
      || { rm -f "$pwfile"; die "initdb failed: see $run_dir/postgres-initdb.log"; }
    rm -f "$pwfile"
  fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "postgres: running on 127.0.0.1:$pg_port"
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$pg_port") 2>/dev/null; then
    die "port $pg_port is taken by another process; set DEKIT_PG_PORT"
  fi
  # Loopback only, socket in the data directory (not /var/run, which may not be writable).
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$data -c fsync=off" >/dev/null \
    || die "postgres did not start: see $data/server.log"
  say "postgres: running on 127.0.0.1:$pg_port"
}

pg_stop() {
  local bin data; bin="$(pg_bin || true)"; data="$(pg_data)"
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null && say "postgres: stopped"
  fi
}

pg_status() {
  local bin data; bin="$(pg_bin || true)"; data="$(pg_data)"
  if [ -z "$bin" ]; then say "postgres: not installed"; return 0; fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "postgres: running on 127.0.0.1:$pg_port"
  else
    say "postgres: stopped"; return 1
  fi
}

case "${1:-}" in
  start) pg_start ;;
  stop) pg_stop ;;
  status) pg_status ;;
  *) die "usage: databases.sh start|stop|status" ;;
esac
