#!/usr/bin/env bash
# Fuzzes the real server against Protocol/openapi.yaml with schemathesis and every one of its checks.
#
# Starts the given `schoolsync-server` on a fresh database and a free loopback port, enrols a school,
# a device, a bureau user and an administrator, seeds a little data (a measure and its assignment,
# a report in conflict, the measure in conflict), then runs schemathesis once per kind of token: the
# device, the bureau user and the administrator. Token revocation runs last, alone, with a token of its own, because it may
# revoke the tokens the other passes use. Bounded (a fixed number of examples per operation, long
# polls of at most a second) and deterministic (a fixed seed, one worker, no example database, no
# cache). Scripts/schemathesis.toml and Scripts/schemathesis_hooks.py say what is tuned and why.
# Prints one line per distinct failure at the end and exits non-zero on any failure.
#
# Usage: Scripts/check-schemathesis.sh [path/to/schoolsync-server]
# Environment: ST_MAX_EXAMPLES (default 50), ST_SEED (default 1), ST_REPORT_DIR (keep the reports
#              there instead of a temporary directory).
set -euo pipefail
binary=$(realpath -m "${1:-$(dirname "$0")/../.build/debug/schoolsync-server}")
report_dir=${ST_REPORT_DIR:+$(realpath -m "$ST_REPORT_DIR")}
cd "$(dirname "$0")/.."

[[ -x $binary ]] || { echo "error: no server executable at $binary" >&2; exit 2; }
python3 -c 'import schemathesis' 2>/dev/null \
    || { echo "error: schemathesis is not installed: python3 -m pip install 'schemathesis==4.32.5' (the version this was tuned with)" >&2; exit 2; }
examples=${ST_MAX_EXAMPLES:-50}
seed=${ST_SEED:-1}

work=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
report_dir=${report_dir:-$work/reports}
mkdir -p "$report_dir"
# Hypothesis keeps its files here rather than in .hypothesis/ of the checkout.
export HYPOTHESIS_STORAGE_DIRECTORY=$work/hypothesis
db=$work/server.sqlite

# The enrolment commands print the token once; keep only the `ss_…` part.
token() { "$binary" "$@" --db "$db" | grep -o 'ss_[0-9a-f]*' | head -n 1; }
token user add --name "管理员" --role admin >"$work/admin"
token user add --name "督导室" --role bureau >"$work/bureau"
token user add --name "吊销测试" --role admin >"$work/revoker"
"$binary" school add --id qx-zhuoran --name "卓然学校" --db "$db" >/dev/null
token device add --school qx-zhuoran --name "教务处 PC" >"$work/device"
admin=$(<"$work/admin") bureau=$(<"$work/bureau") revoker=$(<"$work/revoker") device=$(<"$work/device")
for t in "$admin" "$bureau" "$revoker" "$device"; do
    [[ $t == ss_* ]] || { echo "error: the enrolment commands printed no token" >&2; exit 1; }
done

# The failed-authentication limit is off: schemathesis sends invalid tokens on purpose (the
# ignored_auth check), and a limited address makes the answers depend on timing, not on the request.
"$binary" serve --db "$db" --port 0 --failed-auth-per-minute 0 --log-level error >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
base=
for _ in $(seq 1 100); do
    base=$(grep -o -m 1 '127\.0\.0\.1:[0-9]*' "$work/server.out" 2>/dev/null || true)
    [[ -n $base ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; echo "error: the server did not start" >&2; exit 1; }
    sleep 0.1
done
[[ -n $base ]] || { echo "error: the server did not say where it listens" >&2; exit 1; }
base=http://$base

# A measure and its assignment (admin), a report (device) and a second replica's edit of the same
# field: so pull, the bureau summary and the conflict list answer with real content.
push() { # token body
    curl -sS --fail-with-body -o /dev/null -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        --data-binary "$2" "$base/v1/push"
}
a=0000000000000000000000000000000a r1=00000000000000000000000000000001 r2=00000000000000000000000000000002
push "$admin" '{"batch":"seed-catalog","replica":"'$a'","records":[
  {"collection":"measures","id":"m1","scope":"catalog","context":{"'$a'":1},
   "fields":{"title":[{"replica":"'$a'","counter":1,"value":{"string":"工作目标"}}]},"deleted":[]},
  {"collection":"assignments","id":"qx-zhuoran/m1","scope":"school:qx-zhuoran","context":{"'$a'":1},
   "fields":{"school_id":[{"replica":"'$a'","counter":1,"value":{"string":"qx-zhuoran"}}],
             "measure_id":[{"replica":"'$a'","counter":1,"value":{"string":"m1"}}]},"deleted":[]}]}'
report() { # replica narrative
    echo '{"collection":"reports","id":"qx-zhuoran/2025-S1/m1","scope":"school:qx-zhuoran","context":{"'$1'":1},
      "fields":{"status":[{"replica":"'$1'","counter":1,"value":{"string":"in_progress"}}],
                "narrative":[{"replica":"'$1'","counter":1,"value":{"string":"'$2'"}}]},"deleted":[]}'
}
push "$device" '{"batch":"seed-1","replica":"'$r1'","records":['"$(report $r1 进展)"']}'
push "$device" '{"batch":"seed-2","replica":"'$r2'","records":['"$(report $r2 另一种说法)"']}'
# The bureau retitles the measure concurrently: a conflict whose id has no "/", which schemathesis
# can put in a path (Scripts/schemathesis.toml offers measures/m1 to the conflict and history calls).
b=0000000000000000000000000000000b
push "$bureau" '{"batch":"seed-bureau","replica":"'$b'","records":[
  {"collection":"measures","id":"m1","scope":"catalog","context":{"'$b'":1},
   "fields":{"title":[{"replica":"'$b'","counter":1,"value":{"string":"年度目标"}}]},"deleted":[]}]}'

status=0
summary=()
# run NAME TOKEN [schemathesis filter options…]
run() {
    local name=$1 tok=$2
    shift 2
    local started=$SECONDS rc=0
    echo "== schemathesis: $name"
    python3 -m schemathesis.cli --config-file Scripts/schemathesis.toml run Protocol/openapi.yaml \
        --url "$base" \
        --header "Authorization: Bearer $tok" \
        --checks all \
        --max-examples "$examples" \
        --seed "$seed" \
        --workers 1 \
        --continue-on-failure \
        --generation-database none \
        --request-timeout 10 \
        --no-color \
        --report junit,ndjson \
        --report-junit-path "$report_dir/$name.xml" \
        --report-ndjson-path "$report_dir/$name.ndjson" \
        "$@" || rc=$?
    summary+=("$name: exit $rc, $((SECONDS - started)) s")
    ((rc == 0)) || status=1
}
run device "$device" --exclude-operation-id revokePrincipal
run bureau "$bureau" --exclude-operation-id revokePrincipal
run admin "$admin" --exclude-operation-id revokePrincipal
run revoke "$revoker" --include-operation-id revokePrincipal

if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "FAIL: the server died during the run"
    cat "$work/server.err"
    status=1
fi
echo "== schemathesis summary (seed $seed, at most $examples examples per operation and phase)"
printf '  %s\n' "${summary[@]}"
# One line per distinct failure (operation, check, status), with the passes that saw it.
python3 - "$report_dir" <<'PY'
import json, sys
from pathlib import Path
found = {}
for path in sorted(Path(sys.argv[1]).glob("*.ndjson")):
    for line in path.open(encoding="utf-8"):
        finished = json.loads(line).get("ScenarioFinished")
        if not finished or finished["status"] != "failure":
            continue
        recorder = finished["recorder"]
        for case_id, checks in recorder["checks"].items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                failure = check["failure_info"]["failure"]
                exchange = recorder["interactions"].get(case_id) or {}
                request, response = exchange.get("request", {}), exchange.get("response") or {}
                key = (failure["operation"], failure["code"], failure["title"], response.get("status_code"))
                entry = found.setdefault(key, {"passes": set(), "methods": set(), "example": request.get("uri", "")})
                entry["passes"].add(path.stem)
                entry["methods"].add(request.get("method", "?"))
for (operation, code, title, status), entry in sorted(found.items(), key=lambda item: str(item[0])):
    print(f"  {code} {title}: {operation} -> {status} ({'/'.join(sorted(entry['methods']))}; "
          f"{', '.join(sorted(entry['passes']))}) e.g. {entry['example'][:160]}")
print(f"  {len(found)} distinct failures")
PY
if ((status)); then
    echo "FAIL: schemathesis found failures (${ST_REPORT_DIR:+reports in $report_dir}${ST_REPORT_DIR:-set ST_REPORT_DIR to keep the reports})"
else
    echo "schemathesis: no failures"
fi
exit "$status"
