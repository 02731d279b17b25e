#!/usr/bin/env python3
"""Doc-comment coverage: per module under Sources/, the share of public/open declarations directly under `///`.

"Directly under" means the nearest line above the declaration, skipping attribute lines (`@inlinable`,
`@discardableResult`, ...), is a `///` line: the measure STYLE.md uses for the anchors (54-79%).
`public extension` and `public import` are not declarations of their own and are not counted.
Conformance witnesses are listed apart and left out of the share; `--all` counts them too.

Usage: Scripts/doc-coverage.py [--all] [--list MODULE] [--min PERCENT [MODULE ...]]
  --list MODULE      also print each undocumented declaration of MODULE (file:line: declaration);
                     --missing MODULE is the same (may be repeated)
  --min PERCENT      exit 1 if any of the library modules (SyncCore, Reporting, SyncClient, SyncServer)
                     is under PERCENT; followed by module names, checks those instead (may be repeated)
"""

import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "Sources"
# The modules a bare `--min PERCENT` checks: the libraries, not the executables.
LIBRARIES = ["SyncCore", "Reporting", "SyncClient", "SyncServer", "SyncServerSQLite"]

# A declaration line: optional attributes, then modifiers that include public or open, then a declaration keyword.
DECL = re.compile(
    r"^\s*(?:@[\w.]+(?:\([^)]*\))?\s+)*"
    r"(?:(?:public|open|static|class|final|override|mutating|nonmutating|nonisolated|consuming|borrowing|"
    r"convenience|required|indirect|lazy|dynamic|private\(set\)|fileprivate\(set\)|internal\(set\)|package\(set\))\s+)*"
    r"(?P<kw>struct|enum|class|actor|protocol|typealias|func|init|var|let|subscript|case|associatedtype|extension|import|macro)\b"
    r"(?P<rest>.*)$"
)
PUBLIC = re.compile(r"^\s*(?:@[\w.]+(?:\([^)]*\))?\s+)*(?:\w+(?:\([^)]*\))?\s+)*?(public|open)\s")
ATTRIBUTE = re.compile(r"^\s*@[\w.]+(?:\(.*\))?\s*$")

# Conformance witnesses: their documentation is the protocol's.
WITNESSES = [
    ("var description", re.compile(r"^\s*(?:\w+\s+)*var\s+description\b")),
    ("var debugDescription", re.compile(r"^\s*(?:\w+\s+)*var\s+debugDescription\b")),
    ("init(from:)", re.compile(r"\binit\(from\s")),
    ("encode(to:)", re.compile(r"\bfunc\s+encode\(to\s")),
    ("hash(into:)", re.compile(r"\bfunc\s+hash\(into\s")),
    ("== / <", re.compile(r"\bfunc\s+(==|<)\s*\(")),
    ("init(stringLiteral:) / init(integerLiteral:) ...", re.compile(r"\binit\((stringLiteral|integerLiteral|floatLiteral|booleanLiteral|arrayLiteral|dictionaryLiteral|nilLiteral)")),
    ("var errorDescription", re.compile(r"^\s*(?:\w+\s+)*var\s+errorDescription\b")),
]


def scan(path: pathlib.Path):
    """Yields (line number, text, documented, witness name or None) for each public/open declaration."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        match = DECL.match(line)
        if not match or not PUBLIC.match(line) or match.group("kw") in ("extension", "import"):
            continue
        above = index - 1
        while above >= 0 and ATTRIBUTE.match(lines[above]):
            above -= 1
        documented = above >= 0 and lines[above].lstrip().startswith("///")
        witness = next((name for name, pattern in WITNESSES if pattern.search(line)), None)
        yield index + 1, line.strip(), documented, witness


def percent(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}")
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a percentage is 0-100, not {text}")
    return value


def main(argv):
    modules = sorted(p.name for p in ROOT.iterdir() if p.is_dir())
    parser = argparse.ArgumentParser(description="Doc-comment coverage of the public declarations, per module under Sources/.")
    parser.add_argument("--all", action="store_true", help="count conformance witnesses too")
    parser.add_argument("--list", "--missing", dest="list", action="append", default=[], metavar="MODULE", choices=modules,
                        help="print the undocumented declarations of MODULE (file:line: declaration)")
    parser.add_argument("--min", action="append", nargs="+", default=[], metavar=("PERCENT", "MODULE"),
                        help="exit 1 if any of " + ", ".join(LIBRARIES) + " (or the modules named) is under PERCENT")
    args = parser.parse_args(argv)
    count_all = args.all
    minimums = {}
    for threshold, *named in args.min:
        try:
            value = percent(threshold)
        except argparse.ArgumentTypeError as error:
            parser.error(f"--min: {error}")
        for module in named or LIBRARIES:
            if module not in modules:
                parser.error(f"--min: no module {module!r} under Sources/")
            minimums[module] = max(value, minimums.get(module, 0.0))

    print("public/open declarations directly under a /// comment, per module under Sources/")
    if not count_all:
        print("(conformance witnesses left out: " + ", ".join(name for name, _ in WITNESSES) + "; --all counts them)")
    failed = False
    for module in (ROOT / name for name in modules):
        documented = total = witnesses = 0
        undocumented = []
        for path in sorted(module.rglob("*.swift")):
            for number, text, is_documented, witness in scan(path):
                if witness and not count_all:
                    witnesses += 1
                    continue
                total += 1
                documented += is_documented
                if not is_documented:
                    undocumented.append(f"{path.relative_to(ROOT.parent)}:{number}: {text}")
        share = 100.0 * documented / total if total else 100.0
        extra = f", {witnesses} witnesses left out" if witnesses else ""
        print(f"{module.name:20} {documented:4} / {total:4}  {share:5.1f}%{extra}")
        if module.name in args.list:
            for entry in undocumented:
                print("    " + entry)
        if module.name in minimums and share < minimums[module.name]:
            print(f"error: {module.name} is at {share:.1f}%, under {minimums[module.name]:g}% (--list {module.name} shows what lacks ///)", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
