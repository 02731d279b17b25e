#!/usr/bin/env bash
# A PostgreSQL 15 cluster of the tests' own: initdb into a temporary directory, a free loopback port,
# run as the `postgres` user when this runs as root (CI does; PostgreSQL refuses root).
#
#   Scripts/postgres.sh start   # prints `export SCHOOLSYNC_TEST_POSTGRES_URL=… SCHOOLSYNC_TEST_POSTGRES_DIR=…`
#   Scripts/postgres.sh stop    # stops the cluster named by SCHOOLSYNC_TEST_POSTGRES_DIR and removes it
#
# Scripts/test.sh starts one before the tests and stops it on exit; the tests' databases live in it.
set -euo pipefail

bin=${SCHOOLSYNC_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$bin/initdb" ] || { echo "no PostgreSQL server binaries (initdb): run Scripts/bootstrap.sh, or set SCHOOLSYNC_PG_BIN" >&2; exit 1; }

as_postgres() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- /usr/bin/env -C / "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/schoolsync-ci-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    # A port found free may be taken before the server binds it: try another, up to five times.
    for attempt in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        if as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=500" start >/dev/null; then
            echo "export SCHOOLSYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres SCHOOLSYNC_TEST_POSTGRES_DIR=$dir"
            exit 0
        fi
        grep -q "could not bind\|could not create any TCP/IP sockets" "$dir/server.log" || break
    done
    cat "$dir/server.log" >&2
    exit 1
    ;;
stop)
    dir=${SCHOOLSYNC_TEST_POSTGRES_DIR:?which cluster: SCHOOLSYNC_TEST_POSTGRES_DIR is not set}
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: Scripts/postgres.sh start|stop" >&2
    exit 2
    ;;
esac
