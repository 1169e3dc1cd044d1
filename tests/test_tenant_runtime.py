"""Runtime proof for the tenant rules: two tenants on SQLite, a flagged function returns (or
changes) the other tenant's rows, and after the real ``mandu-lint fix --unsafe-fixes`` on a
temporary copy it no longer does.

The SQLAlchemy app runs in this process; the Django app runs in a subprocess (Django is
configured once per process).
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def write(root: Path, files: dict) -> Path:
    (root / ".git").mkdir(parents=True, exist_ok=True)
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
    return root


def mandu(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mandu_lint", *args, "--no-cache"], cwd=cwd, text=True,
                          capture_output=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def codes(root: Path) -> list:
    out = mandu("check", ".", "--select", "MDB1", "--format", "json", "--confidence", "medium", cwd=root)
    assert out.returncode in (0, 1), out.stderr
    return sorted(f["code"] for f in json.loads(out.stdout)["findings"])


def fix(root: Path, tmp: Path) -> Path:
    """The real CLI on a temporary copy; the original stays as it was."""
    copy = tmp / (root.name + "_fixed")
    shutil.copytree(root, copy)
    out = mandu("fix", ".", "--unsafe-fixes", "--confidence", "medium", cwd=copy)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    return copy


# -- SQLAlchemy ------------------------------------------------------------------------------
SQLA = {
    "mandu.yaml": "tenant:\n  models: [Organization]\n",
    "billing/__init__.py": "",
    "billing/models.py": """
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
            paid: Mapped[bool] = mapped_column(default=False)
        """,
    "billing/views.py": """
        from sqlalchemy import select, update
        from sqlalchemy.orm import Session

        from billing.models import Invoice


        def list_invoices(request, session: Session, organization_id: int):
            # every invoice, newest first
            return session.scalars(select(Invoice).order_by(Invoice.id.desc())).all()


        def get_invoice(request, session: Session, organization_id: int, invoice_id: int):
            return session.scalars(select(Invoice).where(Invoice.id == invoice_id)).one_or_none()


        def mark_all_paid(request, session: Session, organization_id: int):
            session.execute(update(Invoice).values(paid=True))
        """,
}


def _load(root: Path, name: str):
    sys.path.insert(0, str(root))
    try:
        for mod in [m for m in sys.modules if m == "billing" or m.startswith("billing.")]:
            del sys.modules[mod]
        spec = importlib.util.spec_from_file_location(name, root / "billing" / "views.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module, sys.modules["billing.models"]
    finally:
        sys.path.remove(str(root))


def _sqla_world(root: Path, name: str):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from sqlalchemy.orm import Session

    views, models = _load(root, name)
    engine = sqlalchemy.create_engine("sqlite://")
    models.Base.metadata.create_all(engine)
    session = Session(engine)
    session.add_all([models.Organization(id=1), models.Organization(id=2),
                     models.Invoice(id=10, organization_id=1), models.Invoice(id=20, organization_id=2)])
    session.commit()
    return views, models, session


def _sqla_behaviour(root: Path, name: str) -> dict:
    views, models, session = _sqla_world(root, name)
    listed = [i.id for i in views.list_invoices(None, session, 1)]
    other = views.get_invoice(None, session, 1, 20)
    views.mark_all_paid(None, session, 1)
    session.commit()
    paid = {i.id: i.paid for i in session.scalars(sqlalchemy_select(models.Invoice)).all()}
    session.close()
    return {"listed": listed, "other": other.id if other is not None else None, "paid": paid}


def sqlalchemy_select(model):
    from sqlalchemy import select

    return select(model)


def test_sqlalchemy_leak_is_flagged_and_the_fix_closes_it(tmp_path):
    pytest.importorskip("sqlalchemy")
    root = write(tmp_path / "sqla_app", SQLA)
    assert codes(root) == ["MDB101", "MDB102", "MDB104"]
    before = _sqla_behaviour(root, "sqla_before")
    assert before == {"listed": [20, 10], "other": 20, "paid": {10: True, 20: True}}  # organization 2 leaks

    fixed = fix(root, tmp_path)
    assert codes(fixed) == []
    text = (fixed / "billing" / "views.py").read_text()
    assert "# every invoice, newest first" in text  # comments survive the fix
    unwrapped = re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", text))  # fixed lines past 88 are re-wrapped
    assert ".where(Invoice.organization_id == organization_id)" in unwrapped
    after = _sqla_behaviour(fixed, "sqla_after")
    assert after == {"listed": [10], "other": None, "paid": {10: True, 20: False}}


# -- Django ------------------------------------------------------------------------------------
DJANGO = {
    "mandu.yaml": "tenant:\n  models: [Workspace]\n",
    "board/__init__.py": "",
    "board/models.py": """
        from django.db import models


        class Workspace(models.Model):
            slug = models.SlugField(unique=True)


        class Project(models.Model):
            workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE)


        class Task(models.Model):
            project = models.ForeignKey(Project, on_delete=models.CASCADE)
            title = models.CharField(max_length=50)
            done = models.BooleanField(default=False)
        """,
    "board/views.py": """
        from django.shortcuts import get_object_or_404

        from board.models import Task


        def task_titles(request, workspace):
            return [t.title for t in Task.objects.order_by("id")]


        def task_detail(request, workspace, pk):
            return get_object_or_404(Task, pk=pk).title


        def close_all(request, workspace):
            Task.objects.filter(done=False).update(done=True)
        """,
}

DJANGO_RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import django
from django.conf import settings

settings.configure(INSTALLED_APPS=["board"], USE_TZ=True,
                   DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
django.setup()
from django.db import connection
from django.http import Http404
from board import views
from board.models import Project, Task, Workspace

with connection.schema_editor() as editor:
    for model in (Workspace, Project, Task):
        editor.create_model(model)
ours, theirs = Workspace.objects.create(slug="ours"), Workspace.objects.create(slug="theirs")
Task.objects.create(id=1, project=Project.objects.create(workspace=ours), title="our task")
Task.objects.create(id=2, project=Project.objects.create(workspace=theirs), title="their task")
try:
    detail = views.task_detail(None, ours, 2)
except Http404:
    detail = None
listed = views.task_titles(None, ours)
views.close_all(None, ours)
print(json.dumps({"listed": listed, "detail": detail,
                  "done": {t.title: t.done for t in Task.objects.order_by("id")}}))
"""


def _django_behaviour(root: Path, tmp: Path) -> dict:
    runner = tmp / "run_board.py"
    runner.write_text(DJANGO_RUNNER)
    out = subprocess.run([sys.executable, str(runner), str(root)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_django_leak_is_flagged_and_the_fix_closes_it(tmp_path):
    pytest.importorskip("django")
    root = write(tmp_path / "django_app", DJANGO)
    assert codes(root) == ["MDB101", "MDB102", "MDB104"]
    before = _django_behaviour(root, tmp_path)
    assert before == {"listed": ["our task", "their task"], "detail": "their task",
                      "done": {"our task": True, "their task": True}}

    fixed = fix(root, tmp_path)
    assert codes(fixed) == []
    text = (fixed / "board" / "views.py").read_text()
    unwrapped = re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", text))  # fixed lines past 88 are re-wrapped
    assert "get_object_or_404(Task.objects.filter(project__workspace=workspace), pk=pk)" in unwrapped
    after = _django_behaviour(fixed, tmp_path)
    assert after == {"listed": ["our task"], "detail": None, "done": {"our task": True, "their task": False}}
