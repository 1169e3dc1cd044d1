"""Runtime proofs for MDB302's per-row contexts outside Python loop bodies: Django renders the
``n1_templates`` fixture's views, and the ``n1_pydantic`` fixture's routes are validated into
their response models, on SQLite; each flagged view runs more queries with more rows, and after
the real ``mandu-lint fix --unsafe-fixes`` on a copy the count no longer depends on the rows.
The ``model = Book`` list view has no fix (there is no query to edit) and keeps growing."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent
NO_FIX = {"book_list"}


def counts(root: Path, rows: int, script: str = "template_counts.py") -> dict:
    out = subprocess.run([sys.executable, str(HERE / "n1_runtime" / script), str(root), str(rows)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def mandu_fix(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "mandu_lint", "fix", str(root), "--unsafe-fixes", "--no-cache"],
                          capture_output=True, text=True, timeout=120, cwd=root, env=env)


def test_template_fix_makes_query_count_constant(tmp_path):
    pytest.importorskip("django")
    root = tmp_path / "n1_templates"
    shutil.copytree(HERE / "fixtures" / "projects" / "n1_templates", root)
    (root / ".git").mkdir()
    small, large = counts(root, 3), counts(root, 6)
    for key in small:
        assert large[key] > small[key], f"{key}: the template should query once per row: {small} {large}"
    fixed = mandu_fix(root)
    assert "Fixed 11 findings" in fixed.stdout and "1 remain" in fixed.stdout, fixed.stdout + fixed.stderr
    small, large = counts(root, 3), counts(root, 6)
    assert {k: v for k, v in small.items() if k not in NO_FIX} == {k: v for k, v in large.items() if k not in NO_FIX}
    assert all(large[k] > small[k] for k in NO_FIX)


def test_response_model_fix_makes_query_count_constant(tmp_path):
    pytest.importorskip("sqlalchemy")
    pytest.importorskip("fastapi")
    root = tmp_path / "n1_pydantic"
    shutil.copytree(HERE / "fixtures" / "projects" / "n1_pydantic", root)
    (root / ".git").mkdir()
    small, large = counts(root, 3, "pydantic_counts.py"), counts(root, 6, "pydantic_counts.py")
    for key in small:
        assert large[key] > small[key], f"{key}: validating should query once per row: {small} {large}"
    fixed = mandu_fix(root)
    assert fixed.returncode == 0 and "Fixed 3 findings" in fixed.stdout, fixed.stdout + fixed.stderr
    assert counts(root, 3, "pydantic_counts.py") == counts(root, 6, "pydantic_counts.py")
