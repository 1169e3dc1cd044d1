"""MDB601 on Alembic histories that do not build their whole schema: "no migration creates
its table" is only said when the history could have created it."""
from __future__ import annotations

from pathlib import Path

import pytest

from mandu_lint.runner import CheckOptions, check_paths

MODELS = '''
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)


class Report(Base):
    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
'''
HEAD = 'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "a1"\ndown_revision = None\n\n\ndef upgrade():\n'
CREATES_EVENTS = '    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True))\n'


def findings(tmp_path: Path, upgrade: str):
    root = tmp_path / "p"
    files = {"alembic.ini": "[alembic]\nscript_location = migrations\n", "app/__init__.py": "",
             "migrations/env.py": "from app.models import Base\ntarget_metadata = Base.metadata\n",
             "app/models.py": MODELS, "migrations/versions/a1.py": HEAD + upgrade,
             "mandu.yaml": "exclude: []\nmigrations:\n  judge: all\n"}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.lstrip("\n"))
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB601"], confidence="medium"))
    return sorted(f.message for f in result.findings)


def test_a_table_the_history_never_creates_is_reported(tmp_path):
    assert findings(tmp_path, CREATES_EVENTS) == ["model `Report`: no migration creates its table `reports`"]


@pytest.mark.parametrize("upgrade", [
    # the history starts from a schema built by create_all + stamp: it alters a table it never created
    CREATES_EVENTS + '    op.add_column("users", sa.Column("locale", sa.String(10)))\n',
    # a table name the replay cannot read (a configurable prefix)
    CREATES_EVENTS + '    op.create_table(f"{PREFIX}reports", sa.Column("id", sa.Integer, primary_key=True))\n',
])
def test_silent_when_tables_may_come_from_outside_the_modelled_history(tmp_path, upgrade):
    assert findings(tmp_path, upgrade) == []
