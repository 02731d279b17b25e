#!/usr/bin/env bash
# A bounded, seeded libFuzzer run of the wire decoder and the join (Fuzz/WireFuzzer.swift), built
# with the sync engine's sources by swiftc with -sanitize=fuzzer,address. SyncCore has no
# dependencies, so this needs no package build. A trap or a broken property fails the run and
# leaves the input that caused it in the work directory it prints.
#
# Usage: Scripts/fuzz.sh [runs]   (default 150000; the same seed every time)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-150000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp Fuzz/seeds/*.json "$work/corpus/"

echo "fuzz: building the wire fuzzer"
mapfile -t sources < <(find Sources/SyncCore -name '*.swift' | sort)
swiftc -sanitize=fuzzer,address -parse-as-library -Onone -module-name WireFuzzer \
    "${sources[@]}" Fuzz/WireFuzzer.swift -o "$work/wire-fuzzer" 2> "$work/build.log" || { cat "$work/build.log"; exit 1; }

echo "fuzz: $runs runs, seed 1"
if ! (cd "$work" && ./wire-fuzzer -seed=1 -runs="$runs" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 corpus > fuzz.log 2>&1); then
    tail -n 40 "$work/fuzz.log"
    keep=$(mktemp -d)
    cp "$work"/crash-* "$work"/fuzz.log "$keep/" 2>/dev/null || true
    echo "fuzz: FAILED — the input that broke it is in $keep"
    exit 1
fi
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^Done" "$work/fuzz.log" || tail -n 3 "$work/fuzz.log"
echo "fuzz: passed"
