"""The PostgreSQL harness itself (tests/pg.py): a server that cannot start skips the tests that
need it with the reason - and fails them under CI=true - and the summary says so."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def _run(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    (tmp_path / "test_needs_pg.py").write_text("def test_needs_pg(pg):\n    assert pg.dsn\n")
    full = {k: v for k, v in os.environ.items() if k != "CI"}  # the outer run's CI must not leak in
    full.update(PYTHONPATH=str(HERE), PG_BINDIR=str(tmp_path / "no-postgres-here"), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "pg", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_needs_pg.py")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=full)


def test_unavailable_server_skips_with_the_reason(tmp_path):
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout
    assert "1 skipped" in done.stdout
    assert "PostgreSQL not available: initdb/pg_ctl not found" in done.stdout
    assert "PostgreSQL tests NOT run" in done.stdout


def test_unavailable_server_fails_in_ci(tmp_path):
    done = _run(tmp_path, CI="true")
    assert done.returncode != 0
    assert "PostgreSQL could not be started (CI=true" in done.stdout
