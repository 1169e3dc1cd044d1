"""Deterministic dev / held-out split of the recall corpus, by app (stdlib only).

    python bench/recall/split.py            # check that corpus.csv's `split` column follows the rule
    python bench/recall/split.py --write    # (re)write the `split` column

Rule: take the distinct `repo` values sorted by name, shuffle them with
``random.Random(SEED)``, then stable-sort them by row count, largest first (so the shuffle
only breaks ties), and walk them in that order putting each whole app on the side that has
fewer rows so far (ties go to ``dev``). Every row of an app is on the same side.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter
from pathlib import Path

SEED = 1729
HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.csv"


def assign(rows: list[dict]) -> dict[str, str]:
    sizes = Counter(r["repo"] for r in rows)
    apps = sorted(sizes)
    random.Random(SEED).shuffle(apps)
    apps.sort(key=lambda a: -sizes[a])
    totals = {"dev": 0, "held-out": 0}
    side_of = {}
    for app in apps:
        side = "dev" if totals["dev"] <= totals["held-out"] else "held-out"
        side_of[app] = side
        totals[side] += sizes[app]
    return side_of


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="rewrite the split column of corpus.csv")
    args = ap.parse_args()
    with CORPUS.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    side_of = assign(rows)
    if args.write:
        if "split" not in fields:
            fields.append("split")
        for r in rows:
            r["split"] = side_of[r["repo"]]
        with CORPUS.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    bad = [r["id"] for r in rows if r.get("split") != side_of[r["repo"]]]
    for side in ("dev", "held-out"):
        apps = sorted(a for a, s in side_of.items() if s == side)
        n = sum(1 for r in rows if side_of[r["repo"]] == side)
        print(f"{side}: {n} rows, apps: {', '.join(apps)}")
    if bad:
        print(f"rows whose split does not follow the rule: {', '.join(bad)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
