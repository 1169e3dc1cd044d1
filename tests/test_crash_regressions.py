"""Inputs that made the index crash (an internal error, exit 2) on real code: each must be read
without error. Synthetic reproductions; the shapes came from real layouts."""
from __future__ import annotations

from pathlib import Path

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

EMPTY_TUPLE_ANNOTATION = """\
from typing import Tuple


def nothing(values: Tuple[()] = ()) -> Tuple[()]:
    return values
"""

TABLENAME_NOT_A_STRING = """\
from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Mixin(Base):
    __abstract__ = True
    __tablename__ = None


class Host(Mixin):
    id = Column(Integer, primary_key=True)
"""


def _check(tmp_path: Path, files: dict):
    (tmp_path / "mandu.yaml").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = check_paths([str(tmp_path)], CheckOptions(use_cache=False, jobs=1, confidence="medium"))
    config.clear_caches()
    return result


def test_an_empty_tuple_annotation_is_read(tmp_path):
    result = _check(tmp_path, {"types.py": EMPTY_TUPLE_ANNOTATION})
    assert not [f for f in result.findings if f.code.startswith("MDB00")]


def test_a_tablename_that_is_not_a_string_falls_back_to_the_class_name(tmp_path):
    result = _check(tmp_path, {"models.py": TABLENAME_NOT_A_STRING})
    assert not [f for f in result.findings if f.code.startswith("MDB00")]


def test_a_file_the_indexer_fails_on_is_reported_not_checked_and_the_run_goes_on(tmp_path, monkeypatch):
    """Any other indexing bug: that file is an MDB002 finding (the gate fails), the others are
    checked, and nothing escapes as a traceback."""
    from mandu_lint.project import build

    real = build.extract

    def flaky(tree, rel, module, is_pkg):
        if rel == "bad.py":
            raise KeyError("boom")
        return real(tree, rel, module, is_pkg)

    monkeypatch.setattr(build, "extract", flaky)
    result = _check(tmp_path, {"bad.py": "x = 1\n", "good.py": "import sqlite3\n\n\ndef f(ids):\n"
                               "    con = sqlite3.connect('x')\n    for i in ids:\n"
                               "        con.execute('SELECT * FROM t WHERE id = ?', (i,))\n"})
    bad = [f for f in result.findings if f.path.endswith("bad.py")]
    assert [f.code for f in bad] == ["MDB002"] and "KeyError" in bad[0].message
    assert any(f.path.endswith("good.py") and f.code == "MDB301" for f in result.findings)
