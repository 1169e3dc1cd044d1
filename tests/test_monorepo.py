"""Issue 12, item 5: services sharing module names in one repository.

``services/a/core/models.py`` and ``services/b/core/models.py``, each beside its ``manage.py``:
module names are resolved per source root, so the services' models do not merge, a tenant model
named in both is not "ambiguous", ``"core.Invoice"`` string FKs resolve within the service, and
nothing crashes (it was ``internal error: KeyError``). Synthetic layouts only."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.cli import main
from mandu_lint.init import run_init
from mandu_lint.runner import CheckOptions, check_paths, load_project

A_MODELS = """\
from django.db import models


class Org(models.Model):
    name = models.CharField(max_length=50)


class Invoice(models.Model):
    org = models.ForeignKey(Org, on_delete=models.CASCADE)
    total = models.IntegerField()


class Line(models.Model):
    invoice = models.ForeignKey("core.Invoice", on_delete=models.CASCADE, related_name="lines")
"""
B_MODELS = """\
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=50)


class Invoice(models.Model):
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE)
    paid = models.BooleanField(default=False)
"""
A_VIEWS = """\
from core.models import Line


def totals():
    for line in Line.objects.all():
        print(line.invoice.total)
"""
B_VIEWS = """\
from core.models import Invoice


def names():
    for inv in Invoice.objects.all():
        print(inv.customer.name)


def unpaid(request):
    return list(Invoice.objects.filter(paid=False))
"""
SHARED = """\
def chunked(items, n):
    return [items[i:i + n] for i in range(0, len(items), n)]
"""


@pytest.fixture(autouse=True)
def _fresh():
    config.clear_caches()
    yield
    config.clear_caches()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    files = {"services/a/manage.py": "import os\n", "services/b/manage.py": "import os\n",
             "services/a/core/__init__.py": "", "services/b/core/__init__.py": "",
             "services/a/core/models.py": A_MODELS, "services/b/core/models.py": B_MODELS,
             "services/a/core/views.py": A_VIEWS, "services/b/core/views.py": B_VIEWS,
             "libs/util.py": SHARED}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.chdir(root)
    return root


def found(root: Path, path=None, **kw):
    opts = CheckOptions(use_cache=kw.pop("use_cache", False), jobs=1, **kw)
    result = check_paths([str(path or root)], opts)
    return sorted((os.path.relpath(f.path, root), f.span.line, f.code) for f in result.findings)


def test_services_keep_their_own_models_and_string_fks(repo: Path):
    assert found(repo) == [("services/a/core/views.py", 6, "MDB302"),  # "core.Invoice" resolved in service a
                           ("services/b/core/views.py", 6, "MDB302")]  # "core.Customer" in service b
    project = load_project(repo, None, CheckOptions(use_cache=False))
    per_unit = {u.unit_root: sorted(m.name for m in u.index.models.values()) for u in project.units}
    assert per_unit == {"services/a": ["Invoice", "Line", "Org"], "services/b": ["Customer", "Invoice"],
                        "": []}


def test_tenant_model_named_in_both_services_is_not_ambiguous(repo: Path, capsys):
    (repo / "mandu.yaml").write_text("tenant:\n  models: [Customer]\n")
    assert ("services/b/core/views.py", 10, "MDB101") in found(repo, select=["MDB101"])
    (repo / "mandu.yaml").write_text("tenant:\n  models: [Invoice]\n")
    assert main(["check", ".", "--no-cache"]) in (0, 1)
    assert "ambiguous" not in capsys.readouterr().err
    (repo / "mandu.yaml").write_text("tenant:\n  models: [Invoce]\n")
    assert main(["check", ".", "--no-cache"]) == 2
    assert "did you mean 'Invoice'" in capsys.readouterr().err


def test_with_the_cache_and_worker_processes(repo: Path):
    for i in range(60):  # enough files for the worker pools
        (repo / f"services/a/core/extra{i}.py").write_text(A_VIEWS)
    cold = found(repo, use_cache=True)
    assert len(cold) == 62
    assert found(repo, use_cache=True) == cold  # warm
    proc = subprocess.run([sys.executable, "-m", "mandu_lint", "check", ".", "--jobs", "2", "--no-cache"],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stdout.count("MDB302") == 62, proc.stderr


def test_one_service_or_one_file(repo: Path):
    assert found(repo, repo / "services/b") == [("services/b/core/views.py", 6, "MDB302")]
    result = check_paths(["services/a/core/views.py"], CheckOptions(use_cache=False, jobs=1))
    assert [f.code for f in result.findings] == ["MDB302"]


def test_fix_and_flake8_use_the_services_index(repo: Path):
    proc = subprocess.run([sys.executable, "-m", "flake8", "--isolated", "--select=MDB", "."], cwd=repo,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and proc.stdout.count("MDB302") == 2, proc.stdout + proc.stderr
    assert main(["fix", ".", "--no-cache"]) == 0
    assert 'select_related("invoice")' in (repo / "services/a/core/views.py").read_text()
    assert 'select_related("customer")' in (repo / "services/b/core/views.py").read_text()


def test_init_sees_every_service(repo: Path):
    out = io.StringIO()
    assert run_init(repo, out=out) == 0
    assert "ORMs: Django (5 models)" in out.getvalue(), out.getvalue()
