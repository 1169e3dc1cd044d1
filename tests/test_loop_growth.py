"""Row growth (``rules/loops/growth.py``): a loop finding is ``high`` only for rows that grow
with users' data, walked in a request or a task; everything else stays ``medium``."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.runner import CheckOptions, check_paths

MODELS = """
from django.conf import settings
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Workflow(models.Model):
    name = models.CharField(max_length=50)

class WorkflowAction(models.Model):
    workflow = models.ForeignKey(Workflow, related_name="actions", on_delete=models.CASCADE)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)

class Book(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    shelf = models.ForeignKey(Workflow, null=True, on_delete=models.SET_NULL)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)

class Note(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    seen = models.BooleanField(default=False)
"""
FILES = {
    "shop/models.py": MODELS,
    "shop/settings.py": "DATABASES = {}\n",
    "shop/views.py": """
        from shop.models import Book, Note, Workflow

        def my_books(request):
            return [b.author.name for b in Book.objects.filter(owner=request.user)]

        def their_books(request, other):
            return [b.author.name for b in Book.objects.filter(owner=other)]

        def picked(request):
            return [b.author.name for b in Book.objects.filter(pk__in=request.POST.getlist("ids"))]

        def first_ten(request):
            return [b.author.name for b in Book.objects.all()[:10]]

        def on_shelf(request, shelf):
            return [b.author.name for b in Book.objects.filter(shelf=shelf)]

        def actions(request):
            return [a.author.name for wf in Workflow.objects.all() for a in wf.actions.all()]

        def mark_seen(request):
            for note in Note.objects.filter(owner=request.user):
                note.seen = True
                note.save()

        def resave(request):
            for book in Book.objects.filter(owner=request.user):
                book.save()
    """,
    "shop/management/commands/report.py": """
        from django.core.management.base import BaseCommand
        from shop.models import Book

        class Command(BaseCommand):
            def handle(self, *args, **options):
                return [b.author.name for b in Book.objects.all()]
    """,
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    root = tmp_path_factory.mktemp("growth") / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
        (path.parent / "__init__.py").touch()
    config.clear_caches()
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                   select=["MDB301", "MDB302", "MDB303"]))
    lines = {}
    views = (root / "shop/views.py").read_text().splitlines()
    for f in result.findings:
        rel = Path(f.path).relative_to(root).as_posix()
        fn = next((views[i].split("(")[0][4:] for i in range(f.span.line - 1, -1, -1)
                   if views[i].startswith("def ")), "") if rel == "shop/views.py" else rel
        lines.setdefault((fn, f.code), set()).add(f.confidence)
    return lines


def test_the_requesting_users_rows_in_a_request_are_high(findings):
    assert findings[("my_books", "MDB302")] == {"high"}
    assert findings[("mark_seen", "MDB303")] == {"high"}


@pytest.mark.parametrize("fn", ["their_books", "picked", "first_ten", "on_shelf", "actions"])
def test_one_objects_rows_picked_rows_and_pages_are_medium(findings, fn):
    """Another user's rows, rows picked by key, a constant slice, a parent's children."""
    assert findings[(fn, "MDB302")] == {"medium"}


def test_a_command_is_medium(findings):
    assert findings[("shop/management/commands/report.py", "MDB302")] == {"medium"}


def test_an_overridden_save_is_medium_and_said(findings):
    assert findings[("resave", "MDB303")] == {"medium"}
