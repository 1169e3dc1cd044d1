"""The unsafe fix of MDB101/MDB102/MDB104: the tenant filter is inserted where the query starts,
only when exactly one tenant value is in scope; it applies through the real fix engine, keeps
comments, is idempotent, and leaves no finding behind."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

from mandu_lint.fixes.apply import fix_paths
from mandu_lint.model import FixSafety
from mandu_lint.runner import CheckOptions, check_paths

CONFIG = "tenant:\n  models: [Workspace]\n"
MODELS = """
from django.db import models

class Workspace(models.Model):
    slug = models.SlugField(unique=True)

class Project(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)

class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE)
    title = models.CharField(max_length=50)
"""
SA_MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(primary_key=True)

class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
"""


def project(tmp_path: Path, views: str, models: str = MODELS, config: str = CONFIG) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True, exist_ok=True)
    (root / "app").mkdir(exist_ok=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(textwrap.dedent(models))
    (root / "app" / "views.py").write_text(textwrap.dedent(views).lstrip("\n"))
    (root / "mandu.yaml").write_text(config)
    return root


def opts():
    return CheckOptions(use_cache=False, jobs=1, select=["MDB1"])


def findings(root: Path):
    return check_paths([str(root)], opts()).findings


def fixed(root: Path, unsafe: bool = True) -> str:
    fix_paths([str(root)], opts(), unsafe=unsafe, diff=False, out=io.StringIO())
    return (root / "app" / "views.py").read_text()


def test_one_tenant_parameter_gets_the_filter(tmp_path):
    root = project(tmp_path, """
        from app.models import Task

        def titles(request, workspace):
            qs = Task.objects.order_by("title")  # newest first
            return [t.title for t in qs]
        """)
    [f] = findings(root)
    assert f.code == "MDB101" and f.fix.safety == FixSafety.UNSAFE
    assert fixed(root, unsafe=False) == (root / "app" / "views.py").read_text()  # unsafe: not by default
    text = fixed(root)
    # re-wrapped: the fixed line is longer than 88 characters (issue 12)
    assert ('    qs = Task.objects.filter(project__workspace=workspace).order_by(\n'
            '        "title"\n'
            '    )  # newest first\n') in text
    assert findings(root) == []
    assert fixed(root) == text  # idempotent


def test_two_tenant_values_or_none_mean_no_fix(tmp_path):
    root = project(tmp_path, """
        from app.models import Task, Workspace

        def both(request, workspace, source: Workspace):
            return list(Task.objects.all())

        def none(request):
            return list(Task.objects.all())
        """)
    found = findings(root)
    assert [f.code for f in found] == ["MDB101", "MDB101"]
    assert all(f.fix is None for f in found)


def test_value_borrowed_from_another_tenant_predicate(tmp_path):
    root = project(tmp_path, """
        from django.shortcuts import get_object_or_404
        from app.models import Project, Task

        def detail(request, slug, pk):
            projects = Project.objects.filter(workspace__slug=slug)
            task = get_object_or_404(Task, pk=pk)
            return projects, task
        """)
    [f] = findings(root)
    assert f.code == "MDB104"
    assert "get_object_or_404(Task.objects.filter(project__workspace__slug=slug), pk=pk)" in fixed(root)
    assert findings(root) == []


def test_request_tenant_used_in_the_function(tmp_path):
    root = project(tmp_path, """
        from app.models import Project, Task

        def close(request):
            Project.objects.filter(workspace=request.tenant).count()
            Task.objects.filter(title="").delete()
        """)
    [f] = findings(root)
    assert f.code == "MDB102"
    assert "Task.objects.filter(project__workspace=request.tenant).filter(title=\"\").delete()" in fixed(root)


def test_sqlalchemy_instance_parameter(tmp_path):
    root = project(tmp_path, """
        from sqlalchemy import select
        from sqlalchemy.orm import Session
        from app.models import Invoice, Organization

        def invoices(request, session: Session, org: Organization):
            return session.scalars(
                select(Invoice)  # all of them
            ).all()

        def invoice(request, session: Session, org: Organization, invoice_id: int):
            return session.get(Invoice, invoice_id)
        """, models=SA_MODELS, config="tenant:\n  models: [Organization]\n")
    found = {f.code: f for f in findings(root)}
    assert found["MDB104"].fix is None  # session.get has no place for a predicate
    text = fixed(root)
    assert "select(Invoice).where(Invoice.organization_id == org.id)  # all of them" in text
    assert [f.code for f in findings(root)] == ["MDB104"]
