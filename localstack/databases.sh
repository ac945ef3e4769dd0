#!/usr/bin/env bash
# Local database servers for the sources of `local` environments, on 127.0.0.1 only:
#   PostgreSQL  from the binaries PostgreSQL's packages install (Debian: postgresql-15 or newer)
#   MariaDB     when installed (Debian: mariadb-server), for `mysql` sources
#
#   localstack/databases.sh start | stop | status | install
#
# `install` (as root, with apt-get) installs what is missing: Debian's mariadb-server, and
# postgresql when no PostgreSQL binaries are found.
#
# `local.sh start` starts these beside the local cloud when the binaries are there. Each server gets
# a superuser `dekit` with a random password written beside its data directory, to
# <data>.password (mode 600); dekit reads it from there to seed sample data and load from them. Nothing is shared with the
# system's own servers: own data directory, own port.
#
# Settings (environment):
#   DEKIT_PG_PORT      default 5433 (5432 is left to a system server)
#   DEKIT_PG_BIN       directory of initdb/pg_ctl (default: the newest /usr/lib/postgresql/*/bin)
#   DEKIT_PG_DATA      data directory (default $DEKIT_CACHE/postgres-<port>; as root
#                      /var/lib/dekit/postgres-<port>, owned by `postgres`: the server refuses root)
#   DEKIT_MYSQL_PORT   default 3307 (3306 is left to a system server)
#   DEKIT_MYSQL_DATA   data directory (default as for PostgreSQL, mariadb-<port>)
set -euo pipefail

cache="${DEKIT_CACHE:-$HOME/.cache/dekit}"
run_dir="${DEKIT_LOCAL_DIR:-$cache/run}"
pg_port="${DEKIT_PG_PORT:-5433}"
my_port="${DEKIT_MYSQL_PORT:-3307}"
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

my_data() {
  if [ -n "${DEKIT_MYSQL_DATA:-}" ]; then echo "$DEKIT_MYSQL_DATA"
  elif [ "$(id -u)" = 0 ]; then echo "/var/lib/dekit/mariadb-$my_port"
  else echo "$cache/mariadb-$my_port"; fi
}

my_bin() { command -v mariadbd || command -v mysqld || ls /usr/sbin/mariadbd 2>/dev/null || true; }

my_alive() {
  local data; data="$(my_data)"
  [ -f "$data/mysqld.pid" ] && kill -0 "$(cat "$data/mysqld.pid")" 2>/dev/null
}

my_start() {
  local bin data; bin="$(my_bin)"
  if [ -z "$bin" ] || ! command -v mariadb-install-db >/dev/null; then
    say "mariadb: not installed (Debian: apt-get install mariadb-server): mysql sources of local environments cannot run"
    return 0
  fi
  data="$(my_data)"
  local pw="$data.password" user_opt=()
  [ "$(id -u)" = 0 ] && user_opt=(--user=mysql)
  if my_alive; then say "mariadb: running on 127.0.0.1:$my_port"; return 0; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$my_port") 2>/dev/null; then
    die "port $my_port is taken by another process; set DEKIT_MYSQL_PORT"
  fi
  if [ ! -d "$data/mysql" ] || [ ! -s "$pw" ]; then
    rm -rf "$data"; mkdir -p "$data"
    [ "$(id -u)" = 0 ] && chown mysql: "$data"
    chmod 700 "$data"
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$pw")
    mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$data" --auth-root-authentication-method=socket \
      >"$data.install.log" 2>&1 || die "mariadb-install-db failed: see $data.install.log"
  fi
  # Loopback only; socket and pid beside the data, never in /run.
  setsid "$bin" --no-defaults "${user_opt[@]}" --datadir="$data" --bind-address=127.0.0.1 --port="$my_port" \
    --socket="$data/mysqld.sock" --pid-file="$data/mysqld.pid" --skip-name-resolve \
    --log-error="$data/server.err" >/dev/null 2>&1 &
  local i
  for i in $(seq 1 60); do
    [ -S "$data/mysqld.sock" ] && mariadb --no-defaults -S "$data/mysqld.sock" -u root -e 'select 1' >/dev/null 2>&1 && break
    sleep 0.5
  done
  mariadb --no-defaults -S "$data/mysqld.sock" -u root -e 'select 1' >/dev/null 2>&1 \
    || die "mariadb did not start: see $data/server.err"
  # Root logs in through the socket only; dekit gets its own user with the generated password.
  mariadb --no-defaults -S "$data/mysqld.sock" -u root -e \
    "CREATE USER IF NOT EXISTS 'dekit'@'127.0.0.1' IDENTIFIED BY '$(cat "$pw")'; ALTER USER 'dekit'@'127.0.0.1' IDENTIFIED BY '$(cat "$pw")'; GRANT ALL ON *.* TO 'dekit'@'127.0.0.1' WITH GRANT OPTION;" \
    || die "creating the dekit user failed"
  say "mariadb: running on 127.0.0.1:$my_port"
}

my_stop() {
  local data; data="$(my_data)"
  if my_alive; then
    local pid; pid="$(cat "$data/mysqld.pid")"
    kill "$pid" 2>/dev/null || true
    local i; for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    say "mariadb: stopped"
  fi
}

my_status() {
  if [ -z "$(my_bin)" ]; then say "mariadb: not installed"; return 0; fi
  if my_alive; then say "mariadb: running on 127.0.0.1:$my_port"; else say "mariadb: stopped"; return 1; fi
}

install() {
  local want=()
  [ -z "$(pg_bin || true)" ] && want+=(postgresql)
  [ -z "$(my_bin)" ] && want+=(mariadb-server)
  [ ${#want[@]} -eq 0 ] && { say "databases: installed"; return 0; }
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "databases: missing ${want[*]}; install them with your package manager"
    return 0
  fi
  # One apt at a time: CI runs this beside tests/tools/install.sh, and apt refuses a held lock.
  flock /var/lock/dekit-apt.lock apt-get update -qq
  DEBIAN_FRONTEND=noninteractive flock /var/lock/dekit-apt.lock \
    apt-get install -y -qq --no-install-recommends "${want[@]}"
  say "databases: installed ${want[*]}"
}

case "${1:-}" in
  install) install ;;
  start) pg_start; my_start ;;
  stop) pg_stop; my_stop ;;
  status) rc=0; pg_status || rc=1; my_status || rc=1; exit $rc ;;
  *) die "usage: databases.sh start|stop|status|install" ;;
esac
