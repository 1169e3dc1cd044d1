"""Issue 12, item 11: ``init`` ranks tenant candidates by the foreign-key graph (a tenant called
differently - ``Club`` - is proposed, a user model or a mere popular target is not), and
``init --diff`` shows the proposed config and how many findings each proposed section would
produce, writing nothing. Synthetic projects only."""
from __future__ import annotations

import io
import re
import textwrap
from pathlib import Path

from mandu_lint import config
from mandu_lint.cli import main
from mandu_lint.init import run_init

CLUB = """
from django.contrib.auth.models import AbstractUser
from django.db import models


class Member(AbstractUser):
    nickname = models.CharField(max_length=20)


class Club(models.Model):
    name = models.CharField(max_length=50)


class Membership(models.Model):
    club = models.ForeignKey(Club, on_delete=models.CASCADE)
    member = models.ForeignKey(Member, on_delete=models.CASCADE)


class Event(models.Model):
    club = models.ForeignKey(Club, on_delete=models.CASCADE)
    created_by = models.ForeignKey(Member, on_delete=models.CASCADE)


class Booking(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE)
    member = models.ForeignKey(Member, on_delete=models.CASCADE)


class Fee(models.Model):
    club = models.ForeignKey(Club, on_delete=models.CASCADE)
    amount = models.IntegerField()
"""
VIEWS = """
from clubs.models import Booking, Fee


def fees(request):
    return list(Fee.objects.all())


def bookings(request):
    return list(Booking.objects.filter(member=request.user))
"""


def make(tmp_path: Path, tenant: str = "Club") -> Path:
    """The club project; ``tenant`` renames the ``Club`` model (``Team`` is a tenant-like name)."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "clubs").mkdir()
    (root / "clubs/__init__.py").write_text("")
    (root / "clubs/models.py").write_text(re.sub(r"\bClub\b", tenant, textwrap.dedent(CLUB)))
    (root / "clubs/views.py").write_text(re.sub(r"\bClub\b", tenant, textwrap.dedent(VIEWS)))
    config.clear_caches()
    return root


def test_tenant_called_differently_is_proposed_by_the_fk_graph(tmp_path):
    root = make(tmp_path)
    out = io.StringIO()
    assert run_init(root, out=out) == 0
    text = (root / "mandu.yaml").read_text()
    # not Member (a user model, though referenced more often); only the graph says Club is the
    # tenant, and the note says so; the section is written commented out until someone confirms it
    assert "#   models: [Club]\n" in text and "\n  models:" not in text
    assert "# Club: reached by 4 models through non-null foreign keys, referenced directly by 3" in text
    assert "Not named like a tenant" in text


def test_a_tenant_like_name_is_proposed_first_but_still_commented_out(tmp_path):
    root = make(tmp_path, "Team")
    assert run_init(root, out=io.StringIO()) == 0
    text = (root / "mandu.yaml").read_text()
    assert "#   models: [Team]\n" in text and "\n  models:" not in text
    assert "Not named like a tenant" not in text


def test_init_diff_shows_config_and_findings_per_section_and_writes_nothing(tmp_path, monkeypatch, capsys):
    root = make(tmp_path, "Team")
    monkeypatch.chdir(root)
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
    assert main(["init", "--diff", "."]) == 0
    out = capsys.readouterr().out
    assert out.startswith("--- /dev/null\n+++ ")
    assert "+#   models: [Team]\n" in out
    assert "Findings each proposed section would produce" in out
    tenant = next(line for line in out.splitlines() if line.startswith("  tenant, once uncommented: "))
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == before  # nothing written
    # the count is what a check reports once the written section is uncommented (the tenant rules
    # are off until then)
    assert run_init(root, out=io.StringIO()) == 0
    written = (root / "mandu.yaml").read_text()
    block = written[written.index("# tenant:\n"):].split("\n\n")[0]
    (root / "mandu.yaml").write_text(written.replace(block, "\n".join(line[2:] for line in block.splitlines())))
    config.clear_caches()
    from mandu_lint.runner import CheckOptions, check_paths

    found = [f for f in check_paths([str(root)], CheckOptions(use_cache=False, jobs=1)).findings
             if f.code.startswith("MDB1")]
    assert found and tenant == f"  tenant, once uncommented: {len(found)} (MDB101 {len(found)})", (tenant, found)
    (root / "mandu.yaml").unlink()
    (root / "mandu.yaml").write_text("select: [MDB3]\n")
    assert main(["init", "--diff", "."]) == 0
    out = capsys.readouterr().out
    assert "-select: [MDB3]\n" in out and (root / "mandu.yaml").read_text() == "select: [MDB3]\n"


def test_init_accept_writes_the_confirmed_proposal_live_and_the_tenant_rules_run(tmp_path, monkeypatch, capsys):
    root = make(tmp_path, "Team")
    monkeypatch.chdir(root)
    assert main(["init", "--accept", "tenant", "."]) == 0
    text = (root / "mandu.yaml").read_text()
    assert "\ntenant:\n" in text and "\n  models: [Team]\n" in text and "#   models: [Team]" not in text
    assert "# layers:" in text  # a section not accepted stays commented out
    capsys.readouterr()
    config.clear_caches()
    assert main(["check", "--select", "MDB1", "--confidence", "medium", "."]) == 1
    out = capsys.readouterr().out
    assert re.search(r"clubs/views\.py:6:\d+: MDB101", out), out  # ``Fee.objects.all()``, not the bookings
    assert "views.py:10:" not in out


def test_init_accept_rejects_a_section_that_is_not_a_policy(tmp_path, monkeypatch, capsys):
    root = make(tmp_path, "Team")
    monkeypatch.chdir(root)
    assert main(["init", "--accept", "transactions", "."]) == 2
    assert "--accept takes layers, tenant; not transactions" in capsys.readouterr().err
    assert not (root / "mandu.yaml").exists()


SA_BASE = """
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
"""
SA_MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base


class Account(Base):  # the billing account an organization is paid through
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))


class Payout(Base):
    __tablename__ = "payouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
"""
SA_CHILD = """

class {name}(Base):
    __tablename__ = "{table}"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
"""


def make_server_layout(tmp_path: Path) -> Path:
    """Packages under ``server/`` (imports say ``from shop.db import ...``), a declarative base in
    another module than the models, and an ``Account`` every ``Organization`` points at."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    pkg = root / "server" / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "db.py").write_text(textwrap.dedent(SA_BASE))
    children = "".join(SA_CHILD.format(name=n, table=n.lower() + "s") for n in ("Product", "Order", "Customer"))
    (pkg / "models.py").write_text(textwrap.dedent(SA_MODELS) + children)
    config.clear_caches()
    return root


def test_init_counts_models_and_proposes_on_the_roots_it_writes(tmp_path):
    root = make_server_layout(tmp_path)
    out = io.StringIO()
    assert run_init(root, out=out) == 0
    text = (root / "mandu.yaml").read_text()
    assert 'src: [".", "server"]' in text
    # the models' base class is found only through the written root: counted and proposed
    assert "# Detected ORMs: SQLAlchemy (6 models)" in text, text
    assert "#   models: [Organization]\n" in text


def test_the_tenant_is_the_owner_not_the_account_it_points_at(tmp_path):
    from mandu_lint.project.build import Project
    from mandu_lint.rules.tenant.propose import candidates

    root = make_server_layout(tmp_path)
    (root / "mandu.yaml").write_text('src: ["server"]\n')
    project = Project(root, config.load_settings(root / "mandu.yaml", root), use_cache=False, jobs=1)
    ranked = [q.rsplit(".", 1)[1] for q, _, _ in candidates(project)]
    # Account is reached by more models (through Organization), Organization referenced by more
    assert ranked[:2] == ["Organization", "Account"], ranked


MIGRATION_COPY = '''
"""a data migration keeps its own copy of the model"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import declarative_base

revision = "abc"
down_revision = None
Base = declarative_base()


class Account(Base):
    __tablename__ = "account"
    id = sa.Column(sa.Integer, primary_key=True)


def upgrade():
    op.add_column("account", sa.Column("x", sa.Integer))
'''
APP_MODELS = """
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()
""" + "".join(f"""

class {n}(Base):
    __tablename__ = "{n.lower()}"
    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("account.id"), nullable=False)
""" for n in ("Item", "Issue", "Watcher"))


def test_a_class_in_a_migration_is_never_proposed_as_the_tenant(tmp_path):
    """The application's models point at a table whose only class is a migration's copy (the
    real model is one the index cannot read): no proposal, rather than a migration's class."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "app").mkdir()
    (root / "app/__init__.py").write_text("")
    (root / "app/models.py").write_text(textwrap.dedent(APP_MODELS))
    (root / "migrations/versions").mkdir(parents=True)
    (root / "migrations/versions/abc_add.py").write_text(textwrap.dedent(MIGRATION_COPY))
    config.clear_caches()
    assert run_init(root, out=io.StringIO()) == 0
    text = (root / "mandu.yaml").read_text()
    assert "Account" not in text
    assert "#   models: []" in text
