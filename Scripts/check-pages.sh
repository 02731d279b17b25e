#!/usr/bin/env bash
# Checks the server's pages in headless Chromium on a demo database: the bureau page renders its
# numbers at phone width, an administrator resolves a fresh conflict through the forms, the
# bureau returns a submitted report with a comment through the review pages, and a school works
# through its workbench (schoolsync ui; Scripts/check-workbench-flow.py, on a copy of the server).
# Usage: Scripts/check-pages.sh DEMO_DIR   (a directory Scripts/demo.sh filled)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: Scripts/check-pages.sh DEMO_DIR}
Scripts/install-chromium.sh
python3 -c 'import websocket' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore websocket-client
# shellcheck disable=SC1091
source "$DIR/tokens.env"
BIN=$(swift build --show-bin-path)
WORK=$(mktemp -d)
"$BIN/schoolsync-server" serve --db "$DIR/server.sqlite" --port 0 --log-level error >"$WORK/server.out" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/server.out" || true)
    [[ -n "$URL" ]] && break
    sleep 0.1
done
[[ -n "$URL" ]] || { echo "the server did not start" >&2; exit 1; }

# The bureau page: sign in as a browser would (form post, session cookie), save it, render it.
curl -sf -c "$WORK/cookies" -o /dev/null --data-urlencode "token=$BUREAU_TOKEN" --data-urlencode "next=/bureau" "$URL/login" || true
curl -sf -b "$WORK/cookies" -o "$WORK/bureau.html" "$URL/bureau?period=2025-S1"
chromium=(chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars)
"${chromium[@]}" --dump-dom "file://$WORK/bureau.html" >"$WORK/dom.html" 2>/dev/null
for expected in "学前教育毛入园率" "112.6%" "1126 / 1000" "七星街道"; do
    grep -q "$expected" "$WORK/dom.html" || { echo "the rendered page lacks '$expected'" >&2; exit 1; }
done
"${chromium[@]}" --window-size=420,1400 --screenshot="$WORK/bureau.png" "file://$WORK/bureau.html" >/dev/null 2>&1
[[ -s "$WORK/bureau.png" ]] || { echo "no screenshot" >&2; exit 1; }
echo "bureau page rendered in Chromium with its numbers; screenshot: $WORK/bureau.png"

# A fresh conflict between the two PCs of 卓然学校, then the administrator's flow in the browser.
CLI="$BIN/schoolsync"
M=(--measure qixing-2024/m6.1 --period 2025-S1)
"$CLI" init --db "$DIR/office.sqlite" --server "$URL" --token "$OFFICE_TOKEN" >/dev/null
"$CLI" init --db "$DIR/principal.sqlite" --server "$URL" --token "$PRINCIPAL_TOKEN" >/dev/null
"$CLI" sync --db "$DIR/office.sqlite" --quiet >/dev/null || true
"$CLI" sync --db "$DIR/principal.sqlite" --quiet >/dev/null || true
"$CLI" report set --db "$DIR/office.sqlite" "${M[@]}" --status at_risk >/dev/null
"$CLI" report set --db "$DIR/principal.sqlite" "${M[@]}" --status in_progress >/dev/null
for d in office principal; do "$CLI" sync --db "$DIR/$d.sqlite" --quiet >/dev/null || true; done
python3 Scripts/check-admin-flow.py "$URL" "$ADMIN_TOKEN" "$WORK/admin.png"
"$CLI" sync --db "$DIR/office.sqlite" --quiet >/dev/null
"$CLI" conflicts --db "$DIR/office.sqlite" | grep -q "no conflicts" || { echo "the browser's resolution did not reach the office PC" >&2; exit 1; }
echo "the resolution made in the browser reached the school's PC"

# The bureau's review in the browser: 卓然学校 submits its report on 体育活动 with a photo (the demo
# leaves no report submitted), the bureau opens it, sees the photo, returns it with a comment
# through the pages, and the school's CLI shows the comment after a sync.
R=(--measure qixing-2024/m3.2 --period 2025-S1)
"$CLI" report set --db "$DIR/office.sqlite" "${R[@]}" --status done --narrative "每天大课间30分钟，体育课30分钟" --value qixing-2024/i9=1 >/dev/null
python3 Scripts/make-photo.py "$WORK/大课间.png" 800 600 2
"$CLI" report set --db "$DIR/office.sqlite" "${R[@]}" --evidence "$WORK/大课间.png" >/dev/null
"$CLI" report submit --db "$DIR/office.sqlite" "${R[@]}" >/dev/null
"$CLI" sync --db "$DIR/office.sqlite" --quiet >/dev/null
python3 Scripts/check-review-flow.py "$URL" "$BUREAU_TOKEN" "qx-zhuoran/2025-S1/qixing-2024/m3.2" "$WORK/review.png"
"$CLI" sync --db "$DIR/office.sqlite" --quiet >/dev/null
shown=$("$CLI" report show --db "$DIR/office.sqlite" "${R[@]}")
grep -q "review_comment: 请补充照片" <<<"$shown" && grep -q "workflow: returned" <<<"$shown" \
    || { echo "the comment made in the browser did not reach the school's PC: $shown" >&2; exit 1; }
echo "the bureau's comment made in the browser reached the school's PC: 请补充照片"

# The school's workbench (schoolsync ui) in the browser: a report refused, saved offline, submitted,
# synced and returned; a conflict with the school's proposal resolved by the administrator; plain-SQL
# edits under an open form. On a copy of the demo's server with a school of the check's own, so it
# depends neither on the steps above nor on their order.
python3 Scripts/check-workbench-flow.py "$BIN" "$DIR" "$WORK/workbench.png"
