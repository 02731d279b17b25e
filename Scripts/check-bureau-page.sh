#!/usr/bin/env bash
# Renders the bureau page of a demo database in headless Chromium: the page must show its numbers
# in a real browser, at phone width. Writes a screenshot and says where.
# Usage: Scripts/check-bureau-page.sh DEMO_DIR   (a directory Scripts/demo.sh filled)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: Scripts/check-bureau-page.sh DEMO_DIR}
Scripts/install-chromium.sh
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

# Sign in as a browser would (form post, session cookie), then save the page.
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
