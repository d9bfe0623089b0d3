#!/usr/bin/env python3
"""Checks the import rules of docs/architecture.md against the sources: every project module a target
imports is in its row of "may import", every third-party library in the second table appears only
in the targets it names, and the targets it says declare nothing public declare nothing public. Run by `make lint`; exits 1 naming each import outside the rules."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table(text, heading_cells):
    """Rows of the Markdown table whose header row is `heading_cells`, as {first cell: [names]}."""
    lines = text.splitlines()
    header = "| " + " | ".join(heading_cells) + " |"
    start = next(i for i, line in enumerate(lines) if line.strip() == header)
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = [name.strip() for name in cells[1].split(",") if name.strip()]
    return rows


def imports(target):
    names = set()
    for path in (ROOT / "Sources" / target).rglob("*.swift"):
        for line in path.read_text().splitlines():
            match = re.match(r"^(?:@testable |@_exported |public |package |internal )?import (\w+)", line)
            if match:
                names.add(match.group(1))
    return names


def main():
    text = (ROOT / "docs" / "architecture.md").read_text()
    allowed = table(text, ["target", "may import"])
    libraries = table(text, ["library", "only in"])
    targets = sorted(path.name for path in (ROOT / "Sources").iterdir() if path.is_dir())
    problems = []
    for target in targets:
        if target not in allowed:
            problems.append(f"{target}: no row in docs/architecture.md's import table")
            continue
        used = imports(target)
        for module in sorted(used & set(targets)):
            if module != target and module not in allowed[target]:
                problems.append(f"{target} imports {module}, which its row does not allow")
        for library, places in libraries.items():
            if library in used and target not in places:
                problems.append(f"{target} imports {library}, allowed only in {', '.join(places)}")
    sealed = re.search(r"^Targets that declare nothing public: (.*)\.$", text, re.M)
    for target in [name.strip() for name in sealed.group(1).split(",")] if sealed else []:
        for path in sorted((ROOT / "Sources" / target).rglob("*.swift")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.match(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*public\b", line):
                    problems.append(f"{path.relative_to(ROOT)}:{number}: public in {target}, which declares nothing public")
    for target in allowed:
        if target not in targets:
            problems.append(f"{target}: a row in docs/architecture.md for a target that does not exist")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"architecture: {len(targets)} targets import only what docs/architecture.md allows")


if __name__ == "__main__":
    main()
