"""Runtime proof for MDB302: in a Django app (a DRF list endpoint and a report loop) and a
SQLAlchemy app on SQLite, the flagged code runs one query per row; after the real
``mandu-lint fix`` on a temporary copy, the number of queries no longer depends on the rows.

Each app runs in its own process (``tests/n1_runtime/*_counts.py``): Django is configured once
per process, so later proofs can add their own apps the same way."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PROJECTS = HERE / "fixtures" / "projects"
REPO = HERE.parent


def counts(script: str, root: Path, rows: int) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "n1_runtime" / script), str(root), str(rows)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def mandu_fix(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "mandu_lint", "fix", str(root), "--unsafe-fixes", "--no-cache"],
                          capture_output=True, text=True, timeout=120, cwd=root, env=env)


def copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    (root / ".git").mkdir()  # the copy is its own project
    return root


@pytest.mark.parametrize("name,script", [("n1_runtime_django", "django_counts.py"),
                                         ("n1_runtime_sqla", "sqla_counts.py")])
def test_fix_makes_query_count_constant(tmp_path, name, script):
    pytest.importorskip("django" if "django" in name else "sqlalchemy")
    if "django" in name:
        pytest.importorskip("rest_framework")
    root = copy(name, tmp_path)
    small, large = counts(script, root, 3), counts(script, root, 6)
    for key in small:
        assert large[key] > small[key], f"{key}: the flagged code should query once per row: {small} {large}"
    fixed = mandu_fix(root)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr  # every finding fixed, nothing left
    small, large = counts(script, root, 3), counts(script, root, 6)
    assert small == large, f"query count still grows with the rows after the fix: {small} {large}"
    again = mandu_fix(root)
    assert again.returncode == 0 and "Fixed 0 findings" in again.stdout, again.stdout
