"""Compare the tables of two builds (`results/` folders): every CSV cell and the claims ledger.

Used to check that a refactoring leaves every number of `make tables` as it was:

    python benchmarks/compare_results.py BEFORE/results AFTER/results [--rename FILE:OLD=NEW ...]

Rows are compared as sorted lists of their cells as text, so a change of row order alone is not
a difference; `--rename` maps a value of the old build's FILE to the new one (a renamed
method), every value at once. Provenance files (*.provenance.json) are skipped: they record code hashes. Exits 1
and lists the differences when any number differs.
"""

import argparse
import sys
from pathlib import Path

import pandas as pd


def table(path, renames=None):
    frame = pd.read_csv(path, keep_default_na=False, dtype=str)
    return frame.map(lambda value: renames.get(value, value)) if renames else frame


def differences(before_dir, after_dir, renames):
    found = []
    before_files = {p.name for p in before_dir.glob("*.csv")}
    after_files = {p.name for p in after_dir.glob("*.csv")}
    for name in sorted(before_files ^ after_files):
        found.append(f"{name}: only in {'before' if name in before_files else 'after'}")
    for name in sorted(before_files & after_files):
        old, new = table(before_dir / name, renames.get(name)), table(after_dir / name)
        if list(old.columns) != list(new.columns):
            found.append(f"{name}: columns differ: {list(old.columns)} / {list(new.columns)}")
            continue
        old_rows = sorted(map(tuple, old.to_numpy().tolist()))
        new_rows = sorted(map(tuple, new.to_numpy().tolist()))
        if old_rows != new_rows:
            changed = set(old_rows) ^ set(new_rows)
            found.append(f"{name}: {len(changed)} rows differ, e.g. {sorted(changed)[:2]}")
    old_md = (before_dir / "claims.md").read_text() if (before_dir / "claims.md").exists() else ""
    new_md = (after_dir / "claims.md").read_text() if (after_dir / "claims.md").exists() else ""
    if old_md != new_md:
        found.append("claims.md differs")
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rename", action="append", default=[], metavar="FILE:OLD=NEW")
    args = parser.parse_args()
    renames = {}
    for rename in args.rename:
        name, _, pair = rename.partition(":")
        old, _, new = pair.partition("=")
        renames.setdefault(name, {})[old] = new
    found = differences(args.before, args.after, renames)
    compared = len(list(args.after.glob("*.csv")))
    print("\n".join(found) if found else f"identical: {compared} CSV files and claims.md")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
