"""The bundled example apps as a precision/recall check of the whole rule set.

``mandu-lint check examples/`` (the README's first command) must exit 1 and report findings in
the apps' defect modules only — never in the recommended code — and exactly the pinned list in
``tests/data/examples_findings.json``: a rule that starts crying wolf, goes quiet or moves its
primary location shows up here. Each defect line carries ``# defect: MDBnnn``; a marked defect
the tool does not report must be listed, with its reason, under ``not_reported``.

Regenerate the pinned list after a deliberate change (then explain any new miss):

    python tests/test_examples_findings.py --write
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "examples_findings.json"
COMMAND = [sys.executable, "-m", "mandu_lint", "check", "examples/", "--format", "json", "--no-cache"]
DEFECT_MODULE = re.compile(r"^examples/[^/]+/[^/]+/defects/.+\.(py|json)$")
MARKER = re.compile(r"#\s*defect:\s*((?:MDB\d{3}[ ,]*)+)")


def run_check() -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(COMMAND, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


def as_keys(findings) -> set:
    return {(f["code"], f["path"], f["line"]) for f in findings}


def markers() -> set:
    """(code, path, line) of every ``# defect:`` comment under examples/."""
    out = set()
    for path in sorted((REPO / "examples").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for line_no, line in enumerate(path.read_text().splitlines(), start=1):
            match = MARKER.search(line)
            if match:
                out |= {(code, rel, line_no) for code in re.findall(r"MDB\d{3}", match.group(1))}
    return out


@pytest.fixture(scope="module")
def check():
    result = run_check()
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)["findings"]


def test_readme_command_reports_the_defects(check):
    rc, findings = check
    assert rc == 1 and findings, "the README promises `mandu-lint check examples/` exits 1 with findings"


def test_no_finding_outside_the_defect_modules(check):
    stray = sorted(f"{f['path']}:{f['line']}: {f['code']} {f['message']}" for f in check[1]
                   if not DEFECT_MODULE.match(f["path"]))
    assert not stray, "findings in the recommended code of the examples:\n" + "\n".join(stray)


def test_findings_match_the_pinned_list(check):
    pinned = {tuple(f) for f in json.loads(DATA.read_text())["findings"]}
    actual = as_keys(check[1])
    missing, extra = sorted(pinned - actual), sorted(actual - pinned)
    assert not missing and not extra, (
        f"no longer reported: {missing}\nnewly reported: {extra}\n"
        f"if deliberate, regenerate: python tests/test_examples_findings.py --write")


def test_every_marked_defect_is_reported_or_explained(check):
    data = json.loads(DATA.read_text())
    explained = {(n["code"], n["file"], n["line"]): n["reason"] for n in data["not_reported"]}
    reported = as_keys(check[1])
    unexplained = sorted(m for m in markers() if m not in reported and m not in explained)
    assert not unexplained, f"marked defects the tool does not report, with no reason given: {unexplained}"
    stale = sorted(k for k in explained if k in reported or k not in markers())
    assert not stale, f"`not_reported` entries that are reported now, or not marked: {stale}"
    assert all(r and r != "TODO" for r in explained.values()), "explain every entry of `not_reported`"


def write() -> None:
    """Pin today's findings; keep the reasons of misses that remain, add TODO for new ones."""
    result = run_check()
    findings = json.loads(result.stdout)["findings"]
    old = json.loads(DATA.read_text()) if DATA.exists() else {"not_reported": []}
    reasons = {(n["code"], n["file"], n["line"]): n["reason"] for n in old["not_reported"]}
    reported = as_keys(findings)
    data = {
        "about": "Findings of `mandu-lint check examples/` pinned by tests/test_examples_findings.py "
                 "as [code, file, line]; see tests/data/README.md.",
        "regenerate": "python tests/test_examples_findings.py --write",
        "findings": [list(k) for k in sorted(reported, key=lambda k: (k[1], k[2], k[0]))],
        "not_reported": [{"code": c, "file": f, "line": n, "reason": reasons.get((c, f, n), "TODO")}
                         for c, f, n in sorted(markers() - reported, key=lambda k: (k[1], k[2], k[0]))],
    }
    DATA.write_text(dump(data))
    print(f"pinned {len(data['findings'])} findings; {len(data['not_reported'])} marked defects not reported")


def dump(data: dict) -> str:
    """JSON with one finding per line, so a diff of the pinned list reads like a findings list."""
    def rows(items):
        return "[\n" + ",\n".join("  " + json.dumps(i) for i in items) + "\n ]"
    head = {k: v for k, v in data.items() if k not in ("findings", "not_reported")}
    body = json.dumps(head, indent=1)[:-2]
    return f'{body},\n "findings": {rows(data["findings"])},\n "not_reported": {rows(data["not_reported"])}\n}}\n'


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_examples_findings.py --write")
    write()
