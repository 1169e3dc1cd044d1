"""Same-path reasoning (``rules/transactions/paths.py``): a call inside a ``return``/``raise``
ends the path, except for the ``finally`` of the block the two calls share."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from mandu_lint.rules.transactions.paths import may_follow
from mandu_lint.runner import CheckOptions, check_paths
from synthetic import marked, write_project


class _View:
    def __init__(self, fnode):
        self.fnode = fnode
        self._parent = {id(c): p for p in ast.walk(fnode) for c in ast.iter_child_nodes(p)}

    def ancestors(self, node):
        out, cur = [], self._parent.get(id(node))
        while cur is not None:
            out.append(cur)
            if cur is self.fnode:
                break
            cur = self._parent.get(id(cur))
        return out


def _calls(src):
    fnode = ast.parse(textwrap.dedent(src)).body[0]
    calls = {n.func.id: n for n in ast.walk(fnode) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return _View(fnode), calls


@pytest.mark.parametrize("src,follows", [
    ("""
     def f(x):
         if x:
             return first()
         return second()
     """, False),
    ("""
     def f(x):
         if x:
             raise Error(first())
         second()
     """, False),
    ("""
     def f(x):
         if x:
             first()
         return second()
     """, True),
    ("""
     def f(x):
         try:
             return first()
         finally:
             second()
     """, True),
    ("""
     def f(x):
         value = first()
         return second(value)
     """, True),
])
def test_a_call_in_a_return_ends_the_path(src, follows):
    view, calls = _calls(src)
    assert may_follow(view, calls["first"], calls["second"]) is follows


MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Doc(Base):
    __tablename__ = "doc"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]


class Page(Base):
    __tablename__ = "page"
    id: Mapped[int] = mapped_column(primary_key=True)
    doc_id: Mapped[int] = mapped_column(ForeignKey("doc.id"))
"""
API = """
from sqlalchemy.orm import Session
from svc.models import Doc, Page


def replace(db: Session, doc: Doc):
    doc.title = "x"
    db.add(doc)
    db.commit()


def mix(db: Session, doc: Doc):
    db.add(Page(doc_id=doc.id))
    db.commit()


def move(db: Session, doc: Doc, strategy: str):
    if strategy == "replace":
        return replace(db, doc)
    return mix(db, doc)


def both(db: Session, doc: Doc):
    replace(db, doc)
    return mix(db, doc)
"""


def test_mdb401_does_not_join_writes_of_two_returning_arms(tmp_path, monkeypatch):
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)
    root = write_project(tmp_path, {"svc/__init__.py": "", "svc/models.py": MODELS, "svc/api.py": API})
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB401"], confidence="medium"))
    lines = (root / "svc/api.py").read_text().splitlines()
    assert [(Path(f.path).name, lines[f.span.line - 1].strip()) for f in result.findings] == [
        ("api.py", "replace(db, doc)")]


JOBS = """
from sqlalchemy import select
from sqlalchemy.orm import Session

from svc.models import Doc


def every_row(db: Session):
    for doc in db.scalars(select(Doc)).all():
        doc.title = doc.title.strip()
        db.commit()  # MDB404


def every_thousandth(db: Session):
    for i, doc in enumerate(db.scalars(select(Doc)).all()):
        doc.title = doc.title.strip()
        if i % 1000 == 0:
            db.commit()
    db.commit()


def counter_reset(db: Session):
    done = 0
    for doc in db.scalars(select(Doc)).all():
        doc.title = doc.title.strip()
        done += 1
        if done >= 500:
            db.commit()
            done = 0
    db.commit()


def counter_not_reset(db: Session):
    done = 0
    for doc in db.scalars(select(Doc)).all():
        doc.title = doc.title.strip()
        done += 1
        if done >= 500:
            db.commit()  # MDB404
"""


def test_a_commit_once_per_batch_is_not_a_commit_per_row(tmp_path, monkeypatch):
    """A modulo, a batch-size name or a counter the branch resets makes the commit once per
    batch; a threshold never reset commits on every pass after it."""
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)
    root = write_project(tmp_path, {"svc/__init__.py": "", "svc/models.py": MODELS, "svc/jobs.py": JOBS})
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB404"], confidence="medium"))
    assert sorted(f.span.line for f in result.findings) == marked(root, "svc/jobs.py", "# MDB404")
