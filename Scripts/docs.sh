#!/usr/bin/env bash
# Builds the DocC documentation of SyncCore, Reporting and SyncClient, one archive per module in
# .build/docs/<Module>.doccarchive (static hosting layout), and fails on any docc warning: a symbol
# link to nothing, a ## Topics entry that names no symbol, an article that does not resolve, a doc
# comment that documents some parameters and not others.
# Usage: Scripts/docs.sh           (open .build/docs/Reporting.doccarchive/index.html through a web server,
#                                    or run `docc preview Sources/Reporting/Documentation.docc ...`)
#
# No package plugin and no new dependency: `swift package dump-symbol-graph` builds with the ordinary
# debug flags (after `swift build` it only extracts the symbol graphs, nothing is rebuilt), and the
# toolchain's docc converts each catalog with its module's graphs. Works offline.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(SyncCore Reporting SyncClient)
out=.build/docs
log=$(mktemp)
graphs=$(mktemp -d)
trap 'rm -rf "$log" "$graphs"' EXIT

# dump-symbol-graph also tries the test-discovery modules, which exist only after `swift build
# --build-tests`, and then exits 1 having written every other graph. So the old graphs are removed
# first and the run counts as good when each documented module's graph is there again.
rm -rf "$(swift build --show-bin-path)/../symbolgraph"
swift package dump-symbol-graph --skip-synthesized-members >"$log" 2>&1 || true
written=$(sed -n 's/^Files written to //p' "$log" | tail -n 1)
for module in "${modules[@]}"; do
    [[ -n $written && -f $written/$module.symbols.json ]] || {
        cat "$log"
        echo "docs: swift package dump-symbol-graph wrote no symbol graph for $module" >&2
        exit 1
    }
done

mkdir -p "$out"
for module in "${modules[@]}"; do
    mkdir -p "$graphs/$module"
    # The module's own graph and its extensions of other modules' types (Module@Other.symbols.json).
    cp "$written/$module.symbols.json" "$graphs/$module/"
    find "$written" -maxdepth 1 -name "$module@*.symbols.json" -exec cp {} "$graphs/$module/" \;
    rm -rf "$out/$module.doccarchive"
    docc convert "Sources/$module/Documentation.docc" \
        --additional-symbol-graph-dir "$graphs/$module" \
        --fallback-display-name "$module" \
        --fallback-bundle-identifier "org.schoolsync.$module" \
        --output-path "$out/$module.doccarchive" \
        --diagnostics-file "$graphs/$module.diagnostics.json" >"$log" 2>&1 || { cat "$log"; exit 1; }
    # Every warning fails, as --warnings-as-errors would:
    python3 - "$module" "$graphs/$module.diagnostics.json" "$PWD" <<'PY' || exit 1
import json, sys
module, path, root = sys.argv[1], sys.argv[2], sys.argv[3]
failed = False
for d in json.load(open(path, encoding="utf-8"))["diagnostics"]:
    source = (d.get("source") or "").removeprefix("file://").removeprefix(root + "/")
    where = source + (":%d" % d["range"]["start"]["line"] if d.get("range") else "")
    print("%s: error: %s" % (where or module, d.get("summary", "")), file=sys.stderr)
    failed = True
sys.exit(1 if failed else 0)
PY
    echo "docs: $out/$module.doccarchive"
done
