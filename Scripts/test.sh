#!/usr/bin/env bash
# The test command: checks the protocol documents, lints, builds the code and its documentation, checks
# the server against openapi.yaml, then runs every Swift test. Usage: Scripts/test.sh [extra swift test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/bootstrap.sh

echo "== protocol: conformance vectors up to date, openapi.yaml valid"
python3 Scripts/make-vectors.py --check
python3 -m openapi_spec_validator Protocol/openapi.yaml

echo "== swift format lint (Scripts/lint.sh: .swift-format, the disabled rules and why)"
Scripts/lint.sh

echo "== swift build"
swift build --build-tests

echo "== DocC: SyncCore, Reporting and SyncClient build with no docc warning"
Scripts/docs.sh

echo "== doc comments: SyncCore, Reporting, SyncClient and SyncServer each at 85% or more (Scripts/doc-coverage.py)"
python3 Scripts/doc-coverage.py --min 85

echo "== the real server answers as openapi.yaml says"
python3 Scripts/check-openapi.py "$(swift build --show-bin-path)/schoolsync-server"

echo "== schemathesis: every check against the real server, once per kind of token (seed 1)"
Scripts/check-schemathesis.sh "$(swift build --show-bin-path)/schoolsync-server"

echo "== the demo runs and reaches its expected end"
demo_dir=$(mktemp -d)
trap 'rm -rf "$demo_dir"' EXIT
Scripts/demo.sh "$demo_dir/demo" >"$demo_dir/demo.log" 2>&1 || { cat "$demo_dir/demo.log"; exit 1; }
tail -n 2 "$demo_dir/demo.log"

echo "== the pages in headless Chromium: the bureau summary, an administrator resolving a conflict, the bureau returning a report, the school's workbench"
Scripts/check-pages.sh "$demo_dir/demo"

echo "== a PostgreSQL 15 cluster of the run's own, for the benchmark's PostgreSQL configurations and the tests"
eval "$(Scripts/postgres.sh start)"
trap 'Scripts/postgres.sh stop; rm -rf "$demo_dir"' EXIT
echo "PostgreSQL at $SCHOOLSYNC_TEST_POSTGRES_URL"

echo "== the benchmark runs (--quick, debug build, on SQLite, PostgreSQL and two servers behind HAProxy: proves each works, asserts no speed)"
swift run --skip-build schoolsync-bench --quick >"$demo_dir/bench.log" 2>&1 || { cat "$demo_dir/bench.log"; exit 1; }
tail -n 3 "$demo_dir/bench.log"

echo "== a bounded libFuzzer run of the wire decoder and the join (fixed seed)"
Scripts/fuzz.sh

echo "== swift test (the PostgreSQL store's tests on the cluster started above)"
swift test "$@"
