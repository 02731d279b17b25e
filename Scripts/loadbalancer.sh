#!/usr/bin/env bash
# HAProxy (Debian's package: Scripts/bootstrap.sh installs it) in front of several schoolsync-server
# processes on 127.0.0.1: round robin, a health check on GET /healthz every 200 ms that takes a dead
# server out after two failures (or at once, on the first connection it refuses to live traffic),
# and a request that could not reach a server sent to another one. Loopback only.
#
#   Scripts/loadbalancer.sh start DIR [--port PORT] [--maxconn N] [--check-timeout MS] BACKEND_PORT...
#       writes DIR/haproxy.cfg, starts HAProxy as a daemon (DIR/haproxy.pid) and prints
#       `export SCHOOLSYNC_LB_URL=http://127.0.0.1:PORT SCHOOLSYNC_LB_DIR=DIR`; without --port it
#       takes a free port, and another if that one is taken before HAProxy binds it. --maxconn is
#       how many client connections HAProxy holds at once (default 512; more wait to be accepted):
#       the benchmark's thousands of simulated schools each keep one open. --check-timeout is how
#       many milliseconds a health check may take before it counts as failed (default 1000).
#   Scripts/loadbalancer.sh status DIR
#       one line per backend server, then the backend's totals:
#       `NAME STATUS sessions=N retries=N redispatches=N response_errors=N http_5xx=N check_downs=N downtime=S`
#       (STATUS: UP, DOWN, …; check_downs: times it went from up to down; downtime: seconds down in all)
#   Scripts/loadbalancer.sh stop DIR
#       stops HAProxy (SIGTERM, SIGKILL after 5 s); leaves DIR, which belongs to the caller.
#
# What is retried where (HAProxy's retries, redispatched to the other server):
#   - any request that could not be sent to a server (connection refused or timed out): nothing
#     reached the server, so sending it to another is always safe;
#   - a GET or HEAD (the pulls, /v1/session) also when the server closed the connection without
#     answering or did not answer in time: reading twice changes nothing.
# A POST that reached a server that then died is not replayed here: the client gets 502 (or, on a
# kept-alive connection, sees it closed) and sends it again itself, through HAProxy to a live server
# (a push carries its batch id, so a server answers a replay with the stored receipt).
set -euo pipefail

usage() {
    echo "usage: Scripts/loadbalancer.sh start DIR [--port PORT] [--maxconn N] [--check-timeout MS] BACKEND_PORT... | status DIR | stop DIR" >&2
    exit 2
}

haproxy_binary() {
    command -v haproxy 2>/dev/null || { [ -x /usr/sbin/haproxy ] && echo /usr/sbin/haproxy; } \
        || { echo "no haproxy: run Scripts/bootstrap.sh (as root) or apt-get install haproxy" >&2; exit 1; }
}

is_port() { [[ $1 =~ ^[0-9]+$ ]] && ((10#$1 >= 1 && 10#$1 <= 65535)); }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

write_config() { # DIR PORT MAXCONN CHECK_TIMEOUT_MS BACKEND_PORT...
    local dir=$1 port=$2 maxconn=$3 check_timeout=$4 index=0 backend
    shift 4
    {
        cat <<EOF
# Written by Scripts/loadbalancer.sh; regenerated on every start.
global
    maxconn $maxconn
    # Without SO_REUSEPORT: a port another listener holds (another test's HAProxy) fails to bind,
    # and another port is tried, instead of the two sharing its connections.
    noreuseport
    stats socket $dir/admin.sock mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 90s
    # A long poll holds a pull up to the server's maxWaitSeconds (60 s) before it answers.
    timeout server 90s
    timeout check ${check_timeout}ms
    retries 3
    # Every retry goes to another server, not the one that just failed.
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend schoolsync
    bind 127.0.0.1:$port
    default_backend servers

backend servers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # Only conn-failure (nothing was sent) for what is not a read: see the top of Scripts/loadbalancer.sh.
    http-request disable-l7-retry unless METH_GET
    default-server check inter 200ms fastinter 100ms downinter 1s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down
EOF
        for backend in "$@"; do
            index=$((index + 1))
            echo "    server s$index 127.0.0.1:$backend"
        done
    } >"$dir/haproxy.cfg"
}

# Starts HAProxy on the configuration with no descriptor of the caller but the standard ones (a
# daemon that kept one would hold the caller's pipes open, or the descriptor through which
# Foundation's Process learns that this script ended).
launch() { # DIR HAPROXY
    local dir=$1 binary=$2 fd
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then { eval "exec $fd>&-"; } 2>/dev/null || true; fi
        done
        exec "$binary" -D -f "$dir/haproxy.cfg" -p "$dir/haproxy.pid" </dev/null >/dev/null 2>"$dir/haproxy.log"
    )
}

start() {
    [ $# -ge 2 ] || usage
    local dir=$1 port="" maxconn=512 check_timeout=1000 attempt binary
    shift
    binary=$(haproxy_binary)
    while [ "${1:-}" = --port ] || [ "${1:-}" = --maxconn ] || [ "${1:-}" = --check-timeout ]; do
        [ $# -ge 2 ] || usage
        case $1 in
        --port)
            is_port "$2" || usage
            port=$2
            ;;
        --maxconn)
            [[ $2 =~ ^[0-9]+$ ]] && ((10#$2 >= 1 && 10#$2 <= 100000)) || usage
            maxconn=$((10#$2))
            ;;
        --check-timeout)
            [[ $2 =~ ^[0-9]+$ ]] && ((10#$2 >= 10 && 10#$2 <= 600000)) || usage
            check_timeout=$((10#$2))
            ;;
        esac
        shift 2
    done
    [ $# -ge 1 ] || usage
    for backend in "$@"; do is_port "$backend" || { echo "not a port: $backend" >&2; exit 2; }; done
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -s "$dir/haproxy.pid" ] && kill -0 "$(cat "$dir/haproxy.pid")" 2>/dev/null; then
        echo "a load balancer already runs for $dir (pid $(cat "$dir/haproxy.pid")); stop it first" >&2
        exit 1
    fi
    rm -f "$dir/haproxy.pid" "$dir/admin.sock"
    # A port found free may be taken before HAProxy binds it: try another, up to five times.
    for attempt in 1 2 3 4 5; do
        local chosen=${port:-$(free_port)}
        write_config "$dir" "$chosen" "$maxconn" "$check_timeout" "$@"
        if launch "$dir" "$binary"; then
            echo "export SCHOOLSYNC_LB_URL=http://127.0.0.1:$chosen SCHOOLSYNC_LB_DIR=$dir"
            exit 0
        fi
        [ -z "$port" ] && grep -q "cannot bind socket" "$dir/haproxy.log" || break
    done
    echo "haproxy did not start:" >&2
    cat "$dir/haproxy.log" >&2
    exit 1
}

status() {
    [ $# -eq 1 ] || usage
    [ -S "$1/admin.sock" ] || { echo "no load balancer runs for $1" >&2; exit 1; }
    python3 - "$1/admin.sock" <<'EOF'
import csv, io, socket, sys

connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
connection.settimeout(5)
connection.connect(sys.argv[1])
connection.sendall(b"show stat\n")
data = b""
while chunk := connection.recv(65536):
    data += chunk
rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
for row in rows:
    if row["pxname"] != "servers":
        continue
    print(
        f'{row["svname"]} {row["status"].split()[0]} sessions={row["stot"] or 0} retries={row["wretr"] or 0}'
        f' redispatches={row["wredis"] or 0}'
        f' response_errors={row["eresp"] or 0} http_5xx={row["hrsp_5xx"] or 0}'
        f' check_downs={row["chkdown"] or 0} downtime={row["downtime"] or 0}'
    )
EOF
}

stop() {
    [ $# -eq 1 ] || usage
    local dir=$1 pid waited
    [ -s "$dir/haproxy.pid" ] || exit 0
    pid=$(cat "$dir/haproxy.pid")
    if kill -TERM "$pid" 2>/dev/null; then
        for waited in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/haproxy.pid" "$dir/admin.sock"
}

command=${1:-}
shift || true
case "$command" in
start) start "$@" ;;
status) status "$@" ;;
stop) stop "$@" ;;
*) usage ;;
esac
