"""MDB601 on PostgreSQL enum types: the labels the Alembic migrations give a type against the
Python ``Enum`` a SQLAlchemy model maps to it (autogenerate never compares them)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint.runner import CheckOptions, check_paths

INI = "[alembic]\nscript_location = migrations\nsqlalchemy.url = {url}\n"
ENV = "from alembic import context\n\nfrom app.models import Base\n\ntarget_metadata = Base.metadata\n"
MODELS = '''
import enum

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class OrderStatus(enum.Enum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[OrderStatus]
    color = sa.Column(sa.Enum(Color, name="color", values_callable=lambda e: [m.value for m in e]{native}))
'''
A1 = '''
import sqlalchemy as sa
from alembic import op

revision = "a1"
down_revision = None


def upgrade():
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("status", sa.Enum("PENDING", "PAID", name="orderstatus"), nullable=False),
        sa.Column("color", sa.Enum("red", "green", "blue", "violet", name="color")),
    )
'''


def project(tmp_path: Path, *later: str, url="postgresql://localhost/app", native="") -> Path:
    root = tmp_path / "proj"
    files = {"alembic.ini": INI.format(url=url), "migrations/env.py": ENV, "app/__init__.py": "",
             "app/models.py": MODELS.format(native=native), "migrations/versions/a1.py": A1,
             "mandu.yaml": "exclude: []\nmigrations:\n  judge: all\n"}
    previous = "a1"
    for n, body in enumerate(later, start=2):
        rev = f"a{n}"
        files[f"migrations/versions/{rev}.py"] = (
            f'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "{rev}"\ndown_revision = "{previous}"\n\n\n'
            f"def upgrade():\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n")
        previous = rev
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root


def enum_findings(root: Path):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=["MDB601"], confidence="medium"))
    assert not result.had_error
    return sorted((f.span.line, f.confidence, f.message) for f in result.findings if "enum" in f.message)


def test_a_member_the_migrations_never_add_is_high_and_a_label_left_behind_medium(tmp_path):
    found = enum_findings(project(tmp_path))
    assert [(line, conf) for line, conf, _ in found] == [(27, "high"), (28, "medium")]
    status, color = found[0][2], found[1][2]
    assert "`Order.status` maps PostgreSQL enum `orderstatus`" in status and "'REFUNDED'" in status
    assert "ALTER TYPE orderstatus ADD VALUE 'REFUNDED'" in status
    assert "'violet'" in color and "LookupError" in color  # values_callable: labels are the values


def test_labels_added_renamed_or_synced_by_later_migrations_count(tmp_path):
    root = project(tmp_path, "op.execute(\"ALTER TYPE orderstatus ADD VALUE IF NOT EXISTS 'REFUNDED'\")",
                   "op.execute(sa.text(\"ALTER TYPE color RENAME VALUE 'violet' TO 'purple'\"))",
                   'op.sync_enum_values("public", "color", ["red", "green", "blue"], [])')
    assert enum_findings(root) == []


@pytest.mark.parametrize("why, kwargs, later", [
    ("SQL built at run time that names the type", {}, ("op.execute(build_sql('orderstatus', 'color'))",)),
    ("not a PostgreSQL type", {"native": ", native_enum=False"},
     ("op.execute(\"ALTER TYPE orderstatus ADD VALUE 'REFUNDED'\")",)),
    ("not PostgreSQL", {"url": "sqlite:///app.db"}, ()),
])
def test_silent_when_the_labels_or_the_engine_are_unknown(tmp_path, why, kwargs, later):
    assert enum_findings(project(tmp_path, *later, **kwargs)) == [], why
