#!/usr/bin/env bash
# swift format lint --strict over Sources, Tests and Package.swift with the repository's .swift-format.
# Usage: Scripts/lint.sh
#
# .swift-format keeps Hummingbird's settings (STYLE.md "Format and build") except where the code as it
# is written says otherwise; nothing was reformatted to make this pass. Changed from Hummingbird's:
#   lineLength 190 (not 150)                 the longest lines the pretty-printer could wrap are
#                                            181-190 columns (measured: 190 leaves no LineLength finding,
#                                            180 leaves 2, 150 leaves 50, one more TrailingComma); the
#                                            longer lines (up to 366) are string literals it leaves alone.
#   lineBreakBeforeEachArgument false        calls that wrap keep several arguments per line
#                                            (Bench.swift's Sizes(...), FaultProxyTests' plans); true gave 20 more findings.
#   prioritizeKeepingFunctionOutputTogether false
#                                            a wrapped signature keeps its tuple result on the next line
#                                            (DomainTables.row(for:...)); true gave 2 more findings.
# Rules disabled (each would need edits to files others are rewriting):
#   OmitExplicitReturns                      `return` in two one-expression closures of SyncClient's
#                                            transactions (LocalReplica.read, pendingCount; 4 findings).
#   OnlyOneTrailingClosureArgument           SyncServerTests' `Fixture.with(configure: { ... }) { fixture in }`
#                                            idiom: a configuration closure, then the test body (20 findings).
#   OrderedImports                           4 test files put SchoolSyncTestSupport first or SyncCore
#                                            before SyncClient (4 findings).
# (AllPublicDeclarationsHaveDocumentation, NeverForceUnwrap and the others set to false in .swift-format
# were already off; Scripts/doc-coverage.py measures documentation instead.)
#
# Pretty-printer findings (line breaks, indentation, spacing) cannot be switched off per rule.
# The few left in the tree as it stands are listed in Scripts/lint-known-findings.txt by file,
# category and the text of the line (not its number, which moves as others edit): those are
# reported as known and do not fail; any other finding fails. Remove an entry once its line is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

findings=$(mktemp)
trap 'rm -f "$findings"' EXIT
swift format lint --strict --recursive --parallel Sources Tests Package.swift 2>"$findings" || true

python3 - "$findings" Scripts/lint-known-findings.txt <<'PY'
import re, sys
findings, known_path = sys.argv[1], sys.argv[2]
known = set()
for line in open(known_path, encoding="utf-8"):
    if line.strip() and not line.startswith("#"):
        path, category, text = (part.strip() for part in line.rstrip("\n").split(" | ", 2))
        known.add((path, category, text))
lines_of = {}
def source_line(path, number):
    if path not in lines_of:
        lines_of[path] = open(path, encoding="utf-8").read().splitlines()
    lines = lines_of[path]
    return lines[number - 1].strip() if 0 < number <= len(lines) else ""
failures, seen = [], set()
for finding in open(findings, encoding="utf-8"):
    finding = finding.rstrip("\n")
    match = re.match(r"^(.+?):(\d+):\d+: (?:error|warning): \[(\w+)\]", finding)
    if not match:
        if finding.strip():
            failures.append(finding)  # swift-format itself failed (a parse error, a bad configuration)
        continue
    key = (match.group(1), match.group(3), source_line(match.group(1), int(match.group(2))))
    if key in known:
        seen.add(key)
    else:
        failures.append(finding)
for entry in sorted(known - seen):
    print(f"lint: known finding no longer occurs, remove it from {known_path}: {' | '.join(entry)}")
print(f"lint: {len(seen)} known pretty-printer findings ({known_path}), {len(failures)} other")
for failure in failures:
    print(failure, file=sys.stderr)
sys.exit(1 if failures else 0)
PY
