"""The eager-loading fixes of MDB302 through the real fix engine: results parse, a second run
changes nothing, fixed findings are gone, comments survive, several fixes in one file do not
collide, and the safe/unsafe labels follow the rule's documented conditions."""
from __future__ import annotations

import ast
import io
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.fixes.apply import fix_paths
from mandu_lint.model import FixSafety
from mandu_lint.runner import CheckOptions, check_paths

PROJECTS = Path(__file__).parent / "fixtures" / "projects"
CODES = ["MDB301", "MDB302", "MDB303", "MDB304"]


def opts() -> CheckOptions:
    return CheckOptions(select=CODES, use_cache=False, jobs=1)


def findings(root: Path, code: str = "MDB302"):
    return [f for f in check_paths([str(root)], opts()).findings if f.code == code]


def run_fix(root: Path, unsafe: bool = True) -> str:
    out = io.StringIO()
    fix_paths([str(root)], opts(), unsafe=unsafe, diff=False, out=out)
    return out.getvalue()


def snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.py"))}


def comments(text: str) -> list:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


@pytest.fixture
def project(tmp_path, monkeypatch):
    def make(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(PROJECTS / name, root)
        (root / ".git").mkdir()
        monkeypatch.chdir(root)
        config.clear_caches()
        return root
    yield make
    config.clear_caches()


@pytest.mark.parametrize("name", ["n1_django", "n1_sqla"])
def test_fixture_fixes_keep_every_guarantee(project, name):
    root = project(name)
    before = snapshot(root)
    fixable = [f for f in findings(root) if f.fix is not None]
    assert len(fixable) >= 5
    run_fix(root)
    after = snapshot(root)
    assert after != before
    for rel, text in after.items():
        ast.parse(text)  # parses
        assert comments(text) == comments(before[rel]), rel  # every comment survives, in order
    left = {(f.path, f.message) for f in findings(root) if f.fix is not None}
    assert not left, left  # every fixable finding is gone
    run_fix(root)
    assert snapshot(root) == after  # a second fix changes nothing


def write(root: Path, files: dict) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "mandu.yaml").write_text("select: [MDB302]\n")
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
        (path.parent / "__init__.py").touch()
    return root


MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Tag(models.Model):
    name = models.CharField(max_length=20)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag)
"""


def test_merges_into_existing_calls_and_keeps_comments(tmp_path, monkeypatch):
    root = write(tmp_path / "p", {"shop/models.py": MODELS, "shop/views.py": """
        from shop.models import Book

        def report():
            books = (
                Book.objects.filter(id__gt=0)  # live ones
                .prefetch_related('tags')
            )
            for b in books:
                print(b.author.name, [t.name for t in b.tags.all()])
            for b in Book.objects.all():
                print(b.tags.count(), b.author.name)
        """})
    monkeypatch.chdir(root)
    run_fix(root, unsafe=False)
    text = (root / "shop/views.py").read_text()
    assert "        .prefetch_related('tags').select_related('author')\n    )\n" in text
    assert "# live ones" in text
    assert "for b in Book.objects.select_related(\"author\").prefetch_related(\"tags\"):" in text or \
        "for b in Book.objects.prefetch_related(\"tags\").select_related(\"author\"):" in text
    assert findings(root) == []


def _safety(root: Path):
    return {f.span.line: (f.fix.safety if f.fix else None) for f in findings(root)}


def test_safety_labels(tmp_path, monkeypatch):
    root = write(tmp_path / "p", {"shop/models.py": MODELS, "shop/views.py": """
        from shop.models import Book
        from shop.repo import live_books

        def built_here():
            for b in Book.objects.all():
                print(b.author.name)

        def used_twice():
            books = Book.objects.all()
            print(books.count())
            for b in books:
                print(b.author.name)

        def deferred():
            for b in Book.objects.only("id", "author"):
                print(b.author.name)

        def elsewhere():
            for b in live_books():
                print(b.author.name)
        """, "shop/repo.py": """
        from shop.models import Book

        def live_books():
            return Book.objects.filter(id__gt=0)
        """})
    monkeypatch.chdir(root)
    assert _safety(root) == {6: FixSafety.SAFE, 12: FixSafety.UNSAFE, 16: FixSafety.UNSAFE, 20: None}


def test_sqlalchemy_fix_adds_imports_and_model_names(tmp_path, monkeypatch):
    root = write(tmp_path / "p", {"app/models.py": """
        from typing import List
        from sqlalchemy import ForeignKey
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

        class Base(DeclarativeBase):
            pass

        class Customer(Base):
            __tablename__ = "customers"
            id: Mapped[int] = mapped_column(primary_key=True)
            orders: Mapped[List["Order"]] = relationship(back_populates="customer")

        class Order(Base):
            __tablename__ = "orders"
            id: Mapped[int] = mapped_column(primary_key=True)
            customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
            customer: Mapped["Customer"] = relationship(back_populates="orders")
        """, "app/views.py": """
        from sqlalchemy import select
        from sqlalchemy.orm import Session
        from app import models

        def names(session: Session):
            for o in session.scalars(select(models.Order)):
                print(o.customer.orders)
        """})
    monkeypatch.chdir(root)
    run_fix(root, unsafe=False)
    text = (root / "app/views.py").read_text()
    assert ("    for o in session.scalars(select(models.Order).options(\n"  # re-wrapped: longer than 88
            "        joinedload(models.Order.customer).selectinload(Customer.orders)\n"
            "    )):\n") in text
    assert "from app.models import Customer" in text and "joinedload" in text.splitlines()[1] + text
    assert findings(root) == []


def test_codemod_command_applies_the_same_fix(tmp_path):
    root = write(tmp_path / "p", {"shop/models.py": MODELS, "shop/views.py": """
        from shop.models import Book

        def report():
            return [b.author.name for b in Book.objects.all()]
        """})
    out = subprocess.run([sys.executable, "-m", "libcst.tool", "codemod", "-x", "mandu_lint.fixes.codemod.ApplyFixes",
                          "--no-format", str(root / "shop" / "views.py")], capture_output=True, text=True,
                         cwd=root, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'Book.objects.select_related("author")' in (root / "shop/views.py").read_text()


def test_sarif_carries_the_fix(tmp_path, monkeypatch):
    from mandu_lint.reporters import sarif

    root = write(tmp_path / "p", {"shop/models.py": MODELS, "shop/views.py": """
        from shop.models import Book

        def report():
            return [b.author.name for b in Book.objects.all()]
        """})
    monkeypatch.chdir(root)
    doc = sarif.sarif_log(check_paths([str(root)], opts()), fixes=True)
    fixes = [r.get("fixes") for run in doc["runs"] for r in run["results"] if r["ruleId"] == "MDB302"]
    assert fixes and fixes[0][0]["artifactChanges"][0]["replacements"]
