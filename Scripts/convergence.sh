#!/usr/bin/env bash
# The long randomised convergence run of issue 12 (Tests/EndToEndTests/ConvergenceTests.swift):
# real executables through the fault-injecting proxy, SIGKILLs, restored device files.
# Usage: Scripts/convergence.sh [OPERATIONS] [SEED]   (default 10000 operations, seed 1)
# Builds first; prints the run's summary line and the test's verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
operations="${1:-10000}"
seed="${2:-1}"
swift build --build-tests >/dev/null
start=$(date +%s)
SCHOOLSYNC_CONVERGENCE_OPS="$operations" SCHOOLSYNC_CONVERGENCE_SEED="$seed" \
    swift test --skip-build --filter ConvergenceTests 2>&1 | grep -E "convergence:|✘|✔|lost|stuck|differs" | cut -c1-2000
echo "elapsed: $(( $(date +%s) - start )) s"
