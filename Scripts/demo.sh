#!/usr/bin/env bash
# The SchoolSync story so far, on the embedded SQLite store with nothing else to install:
# a server on a free loopback port, a bureau publishing measures, two devices of one school and a
# device of another editing offline, a link that fails mid-sync, merges and a conflict, a photo
# uploaded over a link that cuts every connection, and the bureau asking for another one.
# Usage: Scripts/demo.sh [directory for the demo's databases, default ./demo-data]
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-demo-data}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf 'demo: %s\n' "$*" >&2; exit 1; }

Scripts/bootstrap.sh >/dev/null
say "Building SchoolSync (the first build takes a few minutes)"
swift build --product schoolsync-server >/dev/null
swift build --product schoolsync >/dev/null
BIN=$(swift build --show-bin-path)
SERVER="$BIN/schoolsync-server"
CLI="$BIN/schoolsync"

rm -rf "$DIR" && mkdir -p "$DIR"
DB="$DIR/server.sqlite"
token() { grep -o 'ss_[0-9a-f]*'; }

say "The bureau sets up its server: an administrator, a bureau user, two schools, three devices"
ADMIN=$("$SERVER" user add --db "$DB" --name 区教育局管理员 --role admin | token)
BUREAU=$("$SERVER" user add --db "$DB" --name 区教育局 --role bureau | token)
"$SERVER" school add --db "$DB" --id qx-zhuoran --name 卓然学校
"$SERVER" school add --db "$DB" --id qx-huoju --name 火炬中学
OFFICE=$("$SERVER" device add --db "$DB" --school qx-zhuoran --name "卓然 教务处 PC" | token)
PRINCIPAL=$("$SERVER" device add --db "$DB" --school qx-zhuoran --name "卓然 校长室 PC" | token)
HUOJU=$("$SERVER" device add --db "$DB" --school qx-huoju --name "火炬 教务处 PC" | token)
# A throwaway database's tokens, kept beside it so the pages can be opened afterwards.
printf 'ADMIN_TOKEN=%s\nBUREAU_TOKEN=%s\nOFFICE_TOKEN=%s\nPRINCIPAL_TOKEN=%s\n' "$ADMIN" "$BUREAU" "$OFFICE" "$PRINCIPAL" >"$DIR/tokens.env"

start_server() {
    "$SERVER" serve --db "$DB" --port "${1:-0}" --log-level warning >"$DIR/server.out" 2>"$DIR/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$DIR/server.out" 2>/dev/null || true)
        [[ -n "$URL" ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || fail "the server did not start: $(cat "$DIR/server.log")"
        sleep 0.1
    done
    fail "the server did not say where it listens"
}
# Only the processes this script started (never `kill 0`: that would be the caller's whole process group).
cleanup() { for pid in "${SERVER_PID:-}" "${UI_PID:-}"; do if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi; done; }
trap cleanup EXIT
# The school's workbench (schoolsync ui) on a device's database: it prints the link a person opens
# in a browser; here Scripts/workbench-form.py posts its forms as the browser would.
start_ui() {
    "$CLI" ui --db "$1" --port 0 >"$DIR/ui.out" 2>"$DIR/ui.log" &
    UI_PID=$!
    for _ in $(seq 1 100); do
        UI_LINK=$(grep -o 'http://127.0.0.1:[0-9]*/open?key=[0-9a-f]*' "$DIR/ui.out" 2>/dev/null || true)
        [[ -n "$UI_LINK" ]] && return 0
        kill -0 "$UI_PID" 2>/dev/null || fail "schoolsync ui did not start: $(cat "$DIR/ui.log")"
        sleep 0.1
    done
    fail "schoolsync ui did not print its link"
}
stop_ui() { kill "$UI_PID"; wait "$UI_PID" 2>/dev/null || true; UI_PID=; }
start_server 0
PORT=${URL##*:}
echo "server listening on $URL"

say "The bureau publishes two measures of the 七星区 2024–2026 plan and assigns them to both schools"
"$CLI" init --db "$DIR/bureau.sqlite" --server "$URL" --token "$BUREAU" >/dev/null
"$CLI" status --db "$DIR/bureau.sqlite" >/dev/null   # creates the tables
python3 - "$DIR/bureau.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
INSERT INTO measures (id, plan_id, code, title, lead_unit) VALUES
  ('qixing-2024/m6.1', 'qixing-2024', '（六）1', '扩大普惠性学前教育资源，新建2所公办幼儿园', '区教育局'),
  ('qixing-2024/m3.2', 'qixing-2024', '（三）2', '落实每天校内1小时体育活动', '区教育局');
INSERT INTO indicators (id, plan_id, measure_id, name, target, unit, deadline, value_kind, comparison) VALUES
  ('qixing-2024/i1', 'qixing-2024', 'qixing-2024/m6.1', '学前教育毛入园率', '100', '%', '2026', 'ratio', '>='),
  ('qixing-2024/i9', 'qixing-2024', 'qixing-2024/m3.2', '每天校内体育活动时间', '1', '小时', '2024', 'count', '>=');
INSERT INTO assignments (id, school_id, measure_id) VALUES
  ('qx-zhuoran/qixing-2024/m6.1', 'qx-zhuoran', 'qixing-2024/m6.1'),
  ('qx-zhuoran/qixing-2024/m3.2', 'qx-zhuoran', 'qixing-2024/m3.2'),
  ('qx-huoju/qixing-2024/m3.2', 'qx-huoju', 'qixing-2024/m3.2');
""")
db.commit()
PY
echo "(written with plain SQL into the bureau's own replica; SchoolSync's triggers turn it into versioned writes)"
"$CLI" bureau school add --db "$DIR/bureau.sqlite" --id qx-zhuoran --name 卓然学校 --type 九年一贯制 --township 七星街道 >/dev/null
"$CLI" bureau school add --db "$DIR/bureau.sqlite" --id qx-huoju --name 火炬中学 --type 初中 --township 朝阳乡 --rural >/dev/null
"$CLI" bureau period add --db "$DIR/bureau.sqlite" --id 2025-S1 --due 2025-07-15 >/dev/null
"$CLI" sync --db "$DIR/bureau.sqlite" --quiet

say "Each school device enrols with its token and syncs"
"$CLI" init --db "$DIR/office.sqlite" --server "$URL" --token "$OFFICE" | head -1
"$CLI" init --db "$DIR/principal.sqlite" --server "$URL" --token "$PRINCIPAL" | head -1
"$CLI" init --db "$DIR/huoju.sqlite" --server "$URL" --token "$HUOJU" | head -1
for d in office principal huoju; do "$CLI" sync --db "$DIR/$d.sqlite" --quiet >/dev/null; done
echo "卓然学校's measures, as the office PC sees them:"
"$CLI" measures --db "$DIR/office.sqlite"

M=(--measure qixing-2024/m6.1 --period 2025-S1)
say "The office PC starts the report in the school's workbench (schoolsync ui, pages in the browser) and syncs; the principal's PC receives it"
start_ui "$DIR/office.sqlite"
echo "schoolsync ui --db $DIR/office.sqlite printed a link to open in a browser; the form is filled as a person would:"
python3 Scripts/workbench-form.py "$UI_LINK" "${M[@]}" --set status=in_progress --set narrative=已完成两所幼儿园选址 \
    --set n:qixing-2024/i1=1126 --set d:qixing-2024/i1=1000 --sync
stop_ui
"$CLI" sync --db "$DIR/principal.sqlite" --quiet

say "The link goes down. Both PCs keep working offline on different fields"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
"$CLI" report set --db "$DIR/office.sqlite" "${M[@]}" --narrative "已完成两所幼儿园选址，东园已开工"
"$CLI" report set --db "$DIR/principal.sqlite" "${M[@]}" --status done
set +e
"$CLI" sync --db "$DIR/office.sqlite" --attempts 2 --quiet
code=$?
set -e
[[ $code -eq 69 ]] || fail "an offline sync should exit 69, not $code"
"$CLI" status --db "$DIR/office.sqlite" | grep -E 'reachable|pending'

say "The link is back (same port). Syncing merges the two edits field by field: no conflict"
start_server "$PORT"
for d in office principal office; do "$CLI" sync --db "$DIR/$d.sqlite" --quiet; done
"$CLI" report show --db "$DIR/principal.sqlite" "${M[@]}"
"$CLI" report show --db "$DIR/principal.sqlite" "${M[@]}" --json | grep -q '"status" : "done"' || fail "merge lost the status"
"$CLI" report show --db "$DIR/principal.sqlite" "${M[@]}" --json | grep -q '东园已开工' || fail "merge lost the narrative"

say "Both PCs now change the same narrative offline: SchoolSync keeps both, side by side"
"$CLI" report set --db "$DIR/office.sqlite" "${M[@]}" --narrative "东园主体完工"
"$CLI" report set --db "$DIR/principal.sqlite" "${M[@]}" --narrative "东园主体完工，西园延期"
set +e
for d in office principal office; do "$CLI" sync --db "$DIR/$d.sqlite" --quiet >/dev/null; done
set -e
"$CLI" conflicts --db "$DIR/principal.sqlite"
"$CLI" conflicts --db "$DIR/office.sqlite" --json | grep -q '西园延期' || fail "the conflict should be visible on both PCs"

say "An administrator looks at both values side by side and settles the narrative, with a reason"
"$CLI" init --db "$DIR/admin.sqlite" --server "$URL" --token "$ADMIN" >/dev/null
REPORT=(--collection reports --id qx-zhuoran/2025-S1/qixing-2024/m6.1)
"$CLI" admin conflicts --db "$DIR/admin.sqlite"
"$CLI" admin show --db "$DIR/admin.sqlite" "${REPORT[@]}"
"$CLI" admin resolve --db "$DIR/admin.sqlite" "${REPORT[@]}" --value "narrative=东园主体完工，西园延期" --reason "校长室的说明更完整"
for d in office principal; do "$CLI" sync --db "$DIR/$d.sqlite" --quiet >/dev/null; done
"$CLI" conflicts --db "$DIR/office.sqlite" | grep -q "no conflicts" || fail "the resolution should reach the office PC"
echo "both PCs now show: $("$CLI" report show --db "$DIR/office.sqlite" "${M[@]}" --json | grep '"narrative"' | tr -s ' ')"

say "The office PC attaches a photo of the new playground (CLI) and submits the report in the workbench"
python3 Scripts/make-photo.py "$DIR/操场.png" 480 360 1
"$CLI" report set --db "$DIR/office.sqlite" "${M[@]}" --evidence "$DIR/操场.png"
start_ui "$DIR/office.sqlite"
python3 Scripts/workbench-form.py "$UI_LINK" "${M[@]}" --submit
stop_ui

say "The link is poor today: every connection is cut after 64 KiB. The report goes first, the photo resumes after each cut"
# The server moves to another port and a proxy that cuts every connection takes its place.
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
HOME_URL=$URL
start_server 0
python3 Scripts/cut-proxy.py "$PORT" "${URL##*:}" 65536 >"$DIR/cut-proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 50); do grep -q "cutting after" "$DIR/cut-proxy.log" 2>/dev/null && break; sleep 0.1; done
"$CLI" sync --db "$DIR/office.sqlite" --attempts 30
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true
tail -1 "$DIR/cut-proxy.log"
grep -q " cut after " "$DIR/cut-proxy.log" || fail "the photo's upload should have been cut at least once"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
start_server "$PORT"
[[ "$URL" == "$HOME_URL" ]] || fail "the server should be back at $HOME_URL"
"$CLI" evidence list --db "$DIR/office.sqlite"

say "The principal's PC fetches the photo; the bureau looks at the report and asks for a second photo"
"$CLI" sync --db "$DIR/principal.sqlite" --quiet
PHOTO_SHA=$(python3 -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$DIR/操场.png")
"$CLI" evidence get --db "$DIR/principal.sqlite" --sha256 "$PHOTO_SHA" --output "$DIR/principal-操场.png"
cmp -s "$DIR/操场.png" "$DIR/principal-操场.png" || fail "the principal's copy of the photo differs"
"$CLI" sync --db "$DIR/bureau.sqlite" --quiet
"$CLI" bureau return --db "$DIR/bureau.sqlite" "${M[@]}" --school qx-zhuoran --comment "请再补充一张东园的照片"
"$CLI" sync --db "$DIR/office.sqlite" --quiet
"$CLI" report show --db "$DIR/office.sqlite" "${M[@]}" | grep -E "workflow|review_comment|evidence"
"$CLI" report show --db "$DIR/office.sqlite" "${M[@]}" | grep -q "请再补充一张东园的照片" || fail "the bureau's comment should reach the office PC"

say "火炬中学 reports on its own measure; it never sees 卓然学校's reports"
"$CLI" report set --db "$DIR/huoju.sqlite" --measure qixing-2024/m3.2 --period 2025-S1 --status done --value qixing-2024/i9=1
"$CLI" sync --db "$DIR/huoju.sqlite" --quiet
seen=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from reports').fetchone()[0])" "$DIR/huoju.sqlite")
[[ "$seen" == "1" ]] || fail "火炬中学 should see only its own report, saw $seen"
echo "火炬中学's database holds $seen report: its own."

say "The bureau corrects 火炬中学's status while the school, offline, changes it too"
"$CLI" sync --db "$DIR/bureau.sqlite" --quiet >/dev/null
python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute(\"UPDATE reports SET status='at_risk' WHERE id='qx-huoju/2025-S1/qixing-2024/m3.2'\"); db.commit()" "$DIR/bureau.sqlite"
"$CLI" report set --db "$DIR/huoju.sqlite" --measure qixing-2024/m3.2 --period 2025-S1 --status in_progress
set +e
"$CLI" sync --db "$DIR/bureau.sqlite" --quiet >/dev/null
"$CLI" sync --db "$DIR/huoju.sqlite" --quiet >/dev/null
set -e
"$CLI" admin resolve --db "$DIR/admin.sqlite" --collection reports --id qx-huoju/2025-S1/qixing-2024/m3.2 --value status=at_risk --reason "以区教育局核查为准"
"$CLI" sync --db "$DIR/huoju.sqlite" --quiet >/dev/null
"$CLI" report show --db "$DIR/huoju.sqlite" --measure qixing-2024/m3.2 --period 2025-S1 --json | grep -q '"status" : "at_risk"' || fail "the bureau's correction should win after resolution"
"$CLI" admin history --db "$DIR/admin.sqlite" --collection reports --id qx-huoju/2025-S1/qixing-2024/m3.2
"$CLI" admin conflicts --db "$DIR/admin.sqlite" | grep -q "no open conflicts" || fail "every conflict should be resolved"

say "The bureau's summary for 2025-S1 (also as CSV for Excel, and as a page at $URL/bureau)"
"$CLI" bureau summary --db "$DIR/bureau.sqlite" --period 2025-S1
"$CLI" bureau summary --db "$DIR/bureau.sqlite" --period 2025-S1 --csv --output "$DIR/summary-2025-S1.csv" >/dev/null
"$CLI" bureau summary --db "$DIR/bureau.sqlite" --period 2025-S1 --json | grep -q '"numerator" : 1126' || fail "the summary should hold 卓然学校's 1126/1000"

if [[ -t 0 && -t 1 ]]; then
    say "Done. The server keeps running at $URL — press Ctrl-C to stop it"
    echo "Open $URL/login and sign in with a token from $DIR/tokens.env:"
    echo "  the bureau's summary: $URL/bureau?period=2025-S1    the reports to review, with the photo: $URL/review?period=2025-S1"
    echo "  the administrator's conflicts: $URL/admin/conflicts"
    wait "$SERVER_PID"
else
    say "Done. The databases are in $DIR/ (tokens in $DIR/tokens.env); restart the server with:"
    echo "  $SERVER serve --db $DB --port $PORT"
    echo "then open $URL/login and sign in with a token to see $URL/bureau?period=2025-S1 and $URL/admin/conflicts"
fi
