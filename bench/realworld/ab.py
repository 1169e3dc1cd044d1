"""Before/after comparison of a rule change on the tune apps (issue 11 §1): the "tune A/B" that
every rule commit message cites.

    python bench/realworld/ab.py run --tree SRC --tag TAG --snapshots DIR [--apps a,b]
    python bench/realworld/ab.py diff TAG_A TAG_B [--apps a,b]

``run`` checks each tune app's snapshot (``DIR/<app>``, its ``mandu.yaml`` as it is) with the
mandu-lint source tree ``SRC`` (a worktree of the commit before or after the change) down to
``medium`` confidence, and keeps the findings as data in ``ab/<app>.<TAG>.json`` (git-ignored:
messages can quote the app's expressions; fix edits are dropped). Holdout apps are refused: a
rule is never changed because of what it does on them.

``diff`` lists the findings one run has and the other has not, each with the blind verdicts
stored for it in ``verdicts/`` (first judges; ``-`` when nobody judged it), and totals the judged
ones: a change that removes judged TPs, or adds findings, says so.

Standard library plus PyYAML only (``triage.py``'s registry loader).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from triage import ProtocolError, load_registry, load_verdicts  # noqa: E402

KEY_FIELDS = ("code", "path", "line", "column", "confidence")


def tune_apps(base: Path = HERE) -> list:
    return sorted(name for name, entry in load_registry(base).items() if entry["pool"] == "tune")


def _wanted(apps_arg: str | None, base: Path) -> list:
    tune = tune_apps(base)
    if not apps_arg:
        return tune
    apps = [a.strip() for a in apps_arg.split(",") if a.strip()]
    for a in apps:
        if a not in tune:
            raise ProtocolError(f"{a}: not a tune app (A/B runs only on tune apps; holdout apps are refused)")
    return apps


def run(tree: Path, tag: str, snapshots: Path, apps: list, base: Path = HERE) -> dict:
    out_dir = base / "ab"
    out_dir.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    counts = {}
    for app in apps:
        snap = snapshots / app
        if not snap.is_dir():
            print(f"{app}: no snapshot at {snap}, skipped", file=sys.stderr)
            continue
        proc = subprocess.run([sys.executable, "-m", "mandu_lint", "check", "--format", "json", "--exit-zero",
                               "--no-cache", "--confidence", "medium", "."],
                              cwd=snap, env=env, capture_output=True, text=True)
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            raise ProtocolError(f"{app}: mandu-lint exited {proc.returncode} without a report: "
                                f"{proc.stderr.strip()[-400:]}") from None
        if proc.returncode != 0:  # 2: something was not checked (a notice); the findings still count
            print(f"{app}: exit {proc.returncode}: {proc.stderr.strip()[-200:]}", file=sys.stderr)
        findings = [{k: f.get(k) for k in KEY_FIELDS + ("message",)} for f in report["findings"]]
        (out_dir / f"{app}.{tag}.json").write_text(json.dumps({"app": app, "tag": tag, "findings": findings}))
        counts[app] = len(findings)
        print(f"{app}: {len(findings)} findings")
    return counts


def _key(f: dict) -> tuple:
    return tuple(f.get(k) for k in KEY_FIELDS)


def _verdicts(base: Path) -> dict:
    """(app, path, line, rule) -> the first judges' verdicts of that finding, in file order."""
    out = defaultdict(list)
    for row in load_verdicts(base)[0]:
        out[(row["app"], row["path"], row["line"], row["rule"])].append(row["verdict"])
    return out


def diff(tag_a: str, tag_b: str, apps: list, base: Path = HERE, out=sys.stdout) -> dict:
    """Findings in A only (``-``) and in B only (``+``), with their verdicts; returns the
    totals: ``{"-": Counter, "+": Counter}`` of verdicts (``"-"`` key: unjudged)."""
    totals = {"-": Counter(), "+": Counter()}
    judged = _verdicts(base)
    for app in apps:
        pa, pb = base / "ab" / f"{app}.{tag_a}.json", base / "ab" / f"{app}.{tag_b}.json"
        if not (pa.exists() and pb.exists()):
            continue
        a = {_key(f): f for f in json.loads(pa.read_text())["findings"]}
        b = {_key(f): f for f in json.loads(pb.read_text())["findings"]}
        for sign, only in (("-", [a[k] for k in sorted(set(a) - set(b), key=str)]),
                           ("+", [b[k] for k in sorted(set(b) - set(a), key=str)])):
            for f in only:
                verdicts = judged.get((app, f["path"], int(f["line"]), f["code"]), [])
                for v in verdicts or ["-"]:
                    totals[sign][v] += 1
                print(f"{app} {sign} {f['code']} {f['path']}:{f['line']} [{'/'.join(verdicts) or '-'}] "
                      f"{(f.get('message') or '')[:160]}", file=out)
    for sign, word in (("-", "removed"), ("+", "added")):
        c = totals[sign]
        print(f"{word}: {sum(c.values())} (judged TP {c['TP']}, FP {c['FP']}, NEG {c['NEG']}; unjudged {c['-']})",
              file=out)
    return totals


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="check the tune snapshots with a source tree")
    r.add_argument("--tree", required=True, type=Path)
    r.add_argument("--tag", required=True)
    r.add_argument("--snapshots", required=True, type=Path)
    r.add_argument("--apps")
    d = sub.add_parser("diff", help="findings one run has and the other has not, with verdicts")
    d.add_argument("tag_a")
    d.add_argument("tag_b")
    d.add_argument("--apps")
    args = ap.parse_args(argv)
    try:
        apps = _wanted(args.apps, HERE)
        if args.cmd == "run":
            run(args.tree.resolve(), args.tag, args.snapshots.resolve(), apps)
        else:
            diff(args.tag_a, args.tag_b, apps)
    except ProtocolError as e:
        print(f"ab.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
