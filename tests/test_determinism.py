"""The same code gives the same findings whatever Python's string hashing: set and dict order
must never decide what is reported (a CI baseline would see findings come and go). Each fixture
project and example is checked in two interpreters with different ``PYTHONHASHSEED``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = sorted(p for p in (ROOT / "tests" / "fixtures" / "projects").iterdir() if p.is_dir()) + \
    sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir())


def _findings(target: Path, seed: str) -> list:
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
    env.pop("MANDU_LINT_CONFIDENCE", None)
    out = subprocess.run([sys.executable, "-m", "mandu_lint", "check", "--format", "json", "--no-cache",
                          "--exit-zero", "--confidence", "medium", "--jobs", "1", str(target)],
                         capture_output=True, text=True, env=env, cwd=str(target))
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    return sorted((f["code"], f["path"], f["line"], f["column"], f["message"]) for f in data["findings"])


@pytest.mark.parametrize("target", PROJECTS, ids=lambda p: p.name)
def test_findings_do_not_depend_on_the_hash_seed(target):
    first = _findings(target, "1")
    assert first == _findings(target, "2")
