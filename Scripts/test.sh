#!/usr/bin/env bash
# The test command: checks the protocol documents, then builds and runs every test.
# Usage: Scripts/test.sh [extra swift test arguments, e.g. --filter PropertyTests]
set -euo pipefail
cd "$(dirname "$0")/.."

Scripts/bootstrap.sh

echo "== protocol: conformance vectors up to date, openapi.yaml valid"
python3 Scripts/make-vectors.py --check
python3 -m openapi_spec_validator Protocol/openapi.yaml

echo "== swift test"
swift test "$@"
