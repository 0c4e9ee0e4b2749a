#!/usr/bin/env bash
# Start a throwaway PostgreSQL on a free loopback port with this machine's
# initdb and pg_ctl, and print the URL to use. PostgreSQL refuses to run as
# root, so as root it runs as the postgres user.
#   eval "$(scripts/postgres.sh start /tmp/dripline-pg)"   -> exports DRIPLINE_TEST_POSTGRES_URL
#   scripts/postgres.sh stop /tmp/dripline-pg
set -euo pipefail
action=${1:?start or stop}
dir=${2:-/tmp/dripline-pg}

find_bin() {
  command -v "$1" 2>/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}
# from / : the postgres user may not be allowed into the caller's directory
as_owner() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

pg_ctl=$(find_bin pg_ctl) || true
initdb=$(find_bin initdb) || true
if [ -z "$pg_ctl" ] || [ -z "$initdb" ]; then
  echo "echo 'postgres.sh: no initdb/pg_ctl on this machine; PostgreSQL tests will skip' >&2"
  exit 0
fi

case "$action" in
  start)
    rm -rf "$dir"; mkdir -p "$dir/data" "$dir/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    as_owner "$initdb" -D "$dir/data" -U postgres --auth=trust >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    echo "export DRIPLINE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null || true
    ;;
esac
