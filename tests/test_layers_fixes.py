"""MDB204's fix: `with contextlib.closing(...)` / the object's own `with`, applied through the
fix engine; safe only for straight-line blocks; comments kept; idempotent; and at run time the
fixed code closes the connection that the original leaked."""
from __future__ import annotations

import ast
import importlib.util
import io
import shutil
import sqlite3
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.fixes.apply import fix_paths
from mandu_lint.model import FixSafety
from mandu_lint.runner import CheckOptions, check_paths

PROJECTS = Path(__file__).parent / "fixtures" / "projects"
OPTS = dict(use_cache=False, jobs=1, select=["MDB204"])


@pytest.fixture
def proj(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("exclude: []\n")
    monkeypatch.chdir(root)
    config.clear_caches()
    yield root
    config.clear_caches()


def write(root: Path, text: str, name: str = "app.py") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(text))
    return path


def findings(path: Path):
    return check_paths([str(path)], CheckOptions(**OPTS)).findings


def fix(root: Path, unsafe: bool = False) -> str:
    out = io.StringIO()
    fix_paths([str(root)], CheckOptions(**OPTS), unsafe=unsafe, diff=False, out=out)
    return out.getvalue()


def test_straight_line_fix_is_safe_and_keeps_comments(proj):
    app = write(proj, """\
        import sqlite3


        def count(path):
            conn = sqlite3.connect(path)  # the main db
            # how many rows
            row = conn.execute("SELECT count(*) FROM t").fetchone()

            return row[0]  # plain data: fine after close
        """)
    [found] = findings(app)
    assert found.fix.safety == FixSafety.SAFE
    fix(proj)
    assert app.read_text() == textwrap.dedent("""\
        import contextlib
        import sqlite3


        def count(path):
            # the main db
            with contextlib.closing(sqlite3.connect(path)) as conn:
                # how many rows
                row = conn.execute("SELECT count(*) FROM t").fetchone()

            return row[0]  # plain data: fine after close
        """)
    assert findings(app) == []
    before = app.read_text()
    fix(proj, unsafe=True)
    assert app.read_text() == before  # idempotent


def test_trailing_close_is_dropped_and_early_return_makes_it_unsafe(proj):
    app = write(proj, """\
        import sqlite3


        def first(path):
            conn = sqlite3.connect(path)
            row = conn.execute("SELECT * FROM t").fetchone()
            if row is None:
                return None
            conn.close()
            return row
        """)
    [found] = findings(app)
    assert found.fix.safety == FixSafety.UNSAFE
    assert "returns on line 8" in found.message
    fix(proj)
    assert "with contextlib" not in app.read_text()  # unsafe: not applied by default
    fix(proj, unsafe=True)
    text = app.read_text()
    assert "    with contextlib.closing(sqlite3.connect(path)) as conn:\n" in text
    assert "conn.close()" not in text and "        if row is None:\n            return None\n    return row\n" in text
    assert findings(app) == []


def test_cursor_used_after_the_block_stays_inside_it(proj):
    app = write(proj, """\
        import psycopg2


        def total(dsn):
            conn = psycopg2.connect(dsn)
            cur = conn.cursor()
            cur.execute("SELECT 1")
            return cur.fetchone()[0]
        """)
    fix(proj, unsafe=True)
    text = app.read_text()
    assert "    with contextlib.closing(psycopg2.connect(dsn)) as conn:\n        cur = conn.cursor()\n" in text
    assert "        return cur.fetchone()[0]\n" in text
    ast.parse(text)


def test_session_objects_read_later_make_the_fix_unsafe(proj):
    app = write(proj, """\
        from sqlalchemy.orm import sessionmaker

        SessionLocal = sessionmaker()


        def names(q):
            session = SessionLocal()
            rows = session.execute(q).all()
            print("loaded")
            return [r.name for r in rows]
        """)
    [found] = findings(app)
    assert found.fix.safety == FixSafety.UNSAFE  # `rows` may lazy-load after the session closes


def test_psycopg3_with_commits_so_its_fix_is_unsafe(proj):
    app = write(proj, """\
        import psycopg


        def reset(dsn):
            conn = psycopg.connect(dsn)
            conn.execute("UPDATE t SET n = 0")
        """)
    [found] = findings(app)
    assert found.fix.safety == FixSafety.UNSAFE and found.fix.imports == ()


@pytest.mark.parametrize("body", [
    '''conn = sqlite3.connect(path)
    conn.execute("""
        SELECT 1
    """)''',  # re-indenting would change the string
    '''conn = sqlite3.connect(path); conn.execute("SELECT 1")''',  # statements share a line
])
def test_no_fix_when_the_text_cannot_move_verbatim(proj, body):
    app = write(proj, "import sqlite3\n\n\ndef f(path):\n    " + body + "\n")
    [found] = findings(app)
    assert found.fix is None


def test_fixture_project_fixes(tmp_path):
    root = tmp_path / "layers_fastapi"
    shutil.copytree(PROJECTS / "layers_fastapi", root)
    (root / ".git").mkdir()
    config.clear_caches()
    raw = root / "app" / "raw.py"
    before = {f.span.line for f in findings(raw)}
    fix(root)
    safe_left = findings(raw)
    assert 0 < len(safe_left) < len(before)
    fix(root, unsafe=True)
    left = findings(raw)
    assert [f.message.split("`")[1] for f in left] == ["conn = asyncpg.connect(…)"]  # no fix for asyncpg
    ast.parse(raw.read_text())
    again = raw.read_text()
    fix(root, unsafe=True)
    assert raw.read_text() == again
    config.clear_caches()


def test_fixed_code_closes_the_connection_at_run_time(proj, tmp_path):
    """Load the module before and after the fix and watch the connection it opens."""
    app = write(proj, """\
        import sqlite3


        def count(path):
            conn = sqlite3.connect(path)
            row = conn.execute("SELECT count(*) FROM t").fetchone()
            return row[0]
        """)
    db = tmp_path / "data.db"
    with sqlite3.connect(db) as setup:
        setup.execute("CREATE TABLE t (n INTEGER)")
        setup.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    setup.close()

    def run() -> sqlite3.Connection:
        spec = importlib.util.spec_from_file_location("leaky", app)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        opened = []
        real = sqlite3.connect

        def spy(*args, **kwargs):
            opened.append(real(*args, **kwargs))
            return opened[-1]

        module.sqlite3 = type("S", (), {"connect": staticmethod(spy)})
        assert module.count(str(db)) == 2
        return opened[0]

    leaked = run()
    leaked.execute("SELECT 1")  # still open: the original leaks it
    leaked.close()
    fix(proj)
    closed = run()
    with pytest.raises(sqlite3.ProgrammingError):
        closed.execute("SELECT 1")
