"""Score mandu-lint's recall on the historical bug-fix corpus (stdlib only).

    python bench/recall/score.py --snapshots /tmp/recall-trees --split dev [--materialize]

For every row of ``corpus.csv`` in the chosen split, the analyser runs on the *parent* commit
(the buggy code) and the row counts as a hit when a default-output (``high``) finding of the row's family
starts inside the row's buggy lines, or carries a related location there, in the row's file:

    loops        MDB3xx
    tenant       MDB1xx
    multi-write  MDB401, MDB403, MDB404
    locks-races  MDB402, MDB406, MDB407, MDB409, MDB410

Trees live in ``<snapshots>/<repo-name>@<parent[:12]>/`` where ``repo-name`` is the part of
``owner/name`` after the slash (``polarsource/polar`` -> ``polar@0123456789ab``). With
``--materialize`` missing trees are extracted from the local mirror
(``/work/.mirror/<owner>+<name>...``, found by globbing), text files blob by blob.
The analyser runs once per tree, from inside the tree, as
``python -m mandu_lint check --format json --exit-zero [--config configs/<repo-name>.yaml] .``
with this checkout of mandu-lint first on ``PYTHONPATH`` and the checkout's ``.venv`` interpreter
when there is one (``--python`` overrides). Each report is kept next to the tree
as ``<tree>.mandu.json`` (``--reuse`` reads it instead of re-running).

Prints hits / misses and recall per family and overall, and writes one line per row to
``bench/recall/results-<split>.csv``. Rows whose tree or report could not be produced are
listed as errors, left out of the recall figures, and make the exit status 1.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus.csv"
CONFIGS = HERE / "configs"
MIRRORS = "/work/.mirror"
FAMILIES = ("loops", "tenant", "multi-write", "locks-races")


def family_of(code: str) -> str | None:
    if code.startswith("MDB3"):
        return "loops"
    if code.startswith("MDB1"):
        return "tenant"
    if code in ("MDB401", "MDB403", "MDB404"):
        return "multi-write"
    if code in ("MDB402", "MDB406", "MDB407", "MDB409", "MDB410"):
        return "locks-races"
    return None


def parse_lines(spec: str) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def repo_name(repo: str) -> str:
    return repo.split("/", 1)[1]


def tree_name(repo: str, parent: str) -> str:
    return f"{repo_name(repo)}@{parent[:12]}"


def find_git_dir(repo: str) -> str | None:
    """The bare git directory of the local mirror of ``owner/name``."""
    stem = repo.replace("/", "+")
    for cand in sorted(glob.glob(os.path.join(MIRRORS, "*"))):
        base = os.path.basename(cand)
        if base != stem and not base.startswith(stem + "."):
            continue
        for gd in (os.path.join(cand, "repo"), cand):
            if os.path.isfile(os.path.join(gd, "HEAD")) and os.path.isdir(os.path.join(gd, "objects")):
                return gd
    return None


TEXT_SUFFIXES = (".py", ".pyi", ".html", ".txt", ".jinja", ".jinja2", ".j2", ".cfg", ".ini", ".toml", ".yaml",
                 ".yml", ".json", ".sql")


def materialize(repo: str, parent: str, dest: Path) -> str | None:
    """Extract ``parent`` of ``repo`` into ``dest``; returns an error message or None."""
    gd = find_git_dir(repo)
    if gd is None:
        return f"no mirror of {repo} under {MIRRORS}"
    tmp = dest.with_name(dest.name + ".part")
    if tmp.exists():
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    tmp.mkdir(parents=True)
    # Text files blob by blob: a mirror may lack large binary blobs (``git archive`` then fails as
    # a whole); what the analyser reads is Python, templates and configuration.
    listing = subprocess.run(["git", f"--git-dir={gd}", "ls-tree", "-r", parent], capture_output=True, text=True)
    if listing.returncode != 0:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
        return f"git ls-tree {parent[:12]} failed: {listing.stderr.strip()[:200]}"
    for line in listing.stdout.splitlines():
        meta, _, path = line.partition("\t")
        mode, kind, blob = meta.split()
        if kind != "blob" or mode == "120000" or not path.endswith(TEXT_SUFFIXES):
            continue
        out = subprocess.run(["git", f"--git-dir={gd}", "cat-file", "blob", blob], capture_output=True)
        if out.returncode == 0:
            target = tmp / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(out.stdout)
    tmp.rename(dest)
    return None


def default_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.is_file() else sys.executable


def run_analyser(tree: Path, repo: str, report: Path, timeout: int, no_cache: bool, python: str) -> str | None:
    # one run at --confidence medium gives both figures: the default output is its `high` part
    # (ownership between rules is decided before the confidence filter, so it is the same set)
    cmd = [python, "-m", "mandu_lint", "check", "--format", "json", "--exit-zero", "--confidence", "medium"]
    cfg = CONFIGS / f"{repo_name(repo)}.yaml"
    if cfg.is_file():
        # the config goes into the tree as its mandu.yaml: every version of the analyser reads
        # that the same way (an outside --config was not honoured before 0.2)
        (tree / "mandu.yaml").write_bytes(cfg.read_bytes())
    if no_cache:
        cmd.append("--no-cache")
    cmd.append(".")
    env = dict(os.environ)
    if python == default_python():  # this checkout's package; another --python brings its own
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"analyser timed out after {timeout}s"
    if proc.returncode not in (0, 2):  # 2 with a report: some files not checked (MDB001/MDB002)
        return f"analyser exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    try:
        json.loads(proc.stdout)
    except ValueError:
        return "analyser output is not JSON"
    report.write_text(proc.stdout)
    return None


def norm(path: str, tree: Path) -> str:
    """A report path (relative to the tree, where the analyser ran) as a tree-relative posix path."""
    p = Path(path)
    if not p.is_absolute():
        p = tree / p
    try:
        return Path(os.path.relpath(p, tree)).as_posix()
    except ValueError:
        return p.as_posix()


def match(row: dict, findings: list[dict], tree: Path, level: str = "high") -> list[str]:
    """Descriptions of the findings at ``level`` or above that make ``row`` a hit (empty: miss)."""
    lines = parse_lines(row["buggy_lines"])
    hits = []
    for f in findings:
        if level == "high" and f.get("confidence", "high") != "high":
            continue
        if family_of(f.get("code", "")) != row["family"]:
            continue
        if norm(f.get("path", ""), tree) == row["file"] and f.get("line") in lines:
            hits.append(f"{f['code']}@{f['line']}")
            continue
        for rel in f.get("related") or []:
            if norm(rel.get("path", ""), tree) == row["file"] and rel.get("line") in lines:
                hits.append(f"{f['code']}@{f['line']}(related {rel['line']})")
                break
    return hits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snapshots", required=True, type=Path, help="directory of extracted parent trees")
    ap.add_argument("--split", required=True, choices=["dev", "held-out"])
    ap.add_argument("--materialize", action="store_true", help="extract missing trees from the local mirrors")
    ap.add_argument("--reuse", action="store_true", help="reuse an existing <tree>.mandu.json report")
    ap.add_argument("--no-cache", action="store_true", help="pass --no-cache to mandu-lint")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per analyser run (default 3600)")
    ap.add_argument("--python", default=default_python(),
                    help="interpreter that runs mandu-lint (default: the checkout's .venv if present)")
    ap.add_argument("--ids", help="comma-separated row ids to score (default: the whole split)")
    args = ap.parse_args()

    with CORPUS.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == args.split]
    if args.ids:
        wanted = {i.strip() for i in args.ids.split(",") if i.strip()}
        rows = [r for r in rows if r["id"] in wanted]
    if not rows:
        print(f"no rows in split {args.split!r}", file=sys.stderr)
        return 2
    args.snapshots.mkdir(parents=True, exist_ok=True)

    reports: dict[tuple[str, str], tuple[list[dict] | None, str | None]] = {}
    for key in sorted({(r["repo"], r["parent_commit"]) for r in rows}):
        repo, parent = key
        tree = args.snapshots / tree_name(repo, parent)
        report = args.snapshots / (tree.name + ".mandu.json")
        err = None
        if not tree.is_dir():
            err = materialize(repo, parent, tree) if args.materialize else f"missing tree {tree}"
        if err is None and not (args.reuse and report.is_file()):
            print(f"analysing {tree.name} ...", file=sys.stderr, flush=True)
            err = run_analyser(tree, repo, report, args.timeout, args.no_cache, args.python)
        findings = None
        if err is None:
            findings = json.loads(report.read_text()).get("findings", [])
        reports[key] = (findings, err)

    per = defaultdict(lambda: {"hit": 0, "miss": 0, "error": 0})
    per_medium = defaultdict(lambda: {"hit": 0, "miss": 0, "error": 0})
    out_rows = []
    for r in rows:
        findings, err = reports[(r["repo"], r["parent_commit"])]
        tree = args.snapshots / tree_name(r["repo"], r["parent_commit"])
        if err is not None:
            outcome, detail = "error", err
            outcome_m, detail_m = "error", err
        else:
            hits = match(r, findings, tree)
            outcome, detail = ("hit", " ".join(hits)) if hits else ("miss", "")
            hits_m = match(r, findings, tree, "medium")
            outcome_m, detail_m = ("hit", " ".join(hits_m)) if hits_m else ("miss", "")
        per[r["family"]][outcome] += 1
        per_medium[r["family"]][outcome_m] += 1
        out_rows.append({"id": r["id"], "repo": r["repo"], "family": r["family"], "kind": r["kind"],
                         "file": r["file"], "buggy_lines": r["buggy_lines"], "outcome": outcome,
                         "detail": detail, "outcome_medium": outcome_m, "detail_medium": detail_m})

    results = HERE / f"results-{args.split}.csv"
    with results.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(out_rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(out_rows)

    print(f"split {args.split}: {len(rows)} rows")
    total = {"hit": 0, "miss": 0, "error": 0}
    for label, table in (("default output (high)", per), ("--confidence medium", per_medium)):
        print(label)
        print(f"{'family':<12} {'hits':>5} {'misses':>7} {'errors':>7} {'recall':>8}")
        total = {"hit": 0, "miss": 0, "error": 0}
        for fam in FAMILIES:
            c = table.get(fam, {"hit": 0, "miss": 0, "error": 0})
            for k in total:
                total[k] += c[k]
            scored = c["hit"] + c["miss"]
            rec = f"{c['hit'] / scored:.1%}" if scored else "n/a"
            print(f"{fam:<12} {c['hit']:>5} {c['miss']:>7} {c['error']:>7} {rec:>8}")
        scored = total["hit"] + total["miss"]
        rec = f"{total['hit'] / scored:.1%}" if scored else "n/a"
        print(f"{'all':<12} {total['hit']:>5} {total['miss']:>7} {total['error']:>7} {rec:>8}")
    print(f"per-row results: {results}")
    if total["error"]:
        print(f"{total['error']} row(s) not scored (see the error rows in {results.name})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
