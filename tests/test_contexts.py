"""Execution contexts (``project/contexts.py``): entries read off code, flowing to callees,
and the confidence they give loop findings."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config, registry
from mandu_lint.project.contexts import contexts
from mandu_lint.rules.base import Rule
from mandu_lint.runner import CheckOptions, check_paths, load_project

MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
"""
FILES = {
    "shop/models.py": MODELS,
    "shop/settings.py": "DATABASES = {}\n",
    "shop/helpers.py": """
        from shop.models import Book

        def titles():
            return [b.author.name for b in Book.objects.all()]
    """,
    "shop/views.py": """
        from django.views.generic import ListView
        from shop.helpers import titles
        from shop.models import Book

        def index(request):
            return titles()

        class BookList(ListView):
            def get(self, request):
                return [b.author.name for b in Book.objects.all()]
    """,
    "shop/tasks.py": """
        from celery import shared_task

        @shared_task
        def nightly():
            return 1
    """,
    "shop/signals.py": """
        from django.dispatch import receiver
        from django.db.models.signals import post_save

        @receiver(post_save)
        def on_save(sender, **kw):
            return 1
    """,
    "shop/management/commands/rebuild.py": """
        from django.core.management.base import BaseCommand
        from shop.helpers import titles
        from shop.models import Book

        class Command(BaseCommand):
            def handle(self, *args, **options):
                titles()
                return [b.author.name for b in Book.objects.all()]
    """,
    "shop/management/commands/make_fake_books.py": """
        from django.core.management.base import BaseCommand
        from faker import Faker

        class Command(BaseCommand):
            def handle(self, *args, **options):
                return Faker()
    """,
    "shop/jobs.py": """
        from celery import shared_task
        from shop.models import Book

        @shared_task
        def digest():
            return [b.author.name for b in Book.objects.all()]
    """,
    "shop/receivers.py": """
        from django.db.models.signals import post_save
        from shop.models import Book

        def refresh(sender, instance, **kw):
            return [b.author.name for b in Book.objects.all()]

        post_save.connect(refresh, sender=Book)
    """,
    "shop/workspace_seed_task.py": """
        from celery import shared_task

        @shared_task
        def create_workspace_data(workspace_id):
            return workspace_id
    """,
    "shop/migrate_hooks.py": """
        from django.db.models.signals import post_migrate
        from django.dispatch import receiver

        @receiver(post_migrate)
        def on_migrate(sender, **kw):
            return 1

        def on_migrate_too(sender, **kw):
            return 1

        post_migrate.connect(on_migrate_too)
    """,
    "shop/orphan.py": """
        def nobody_calls_me():
            (lambda: 1)()  # a call the index has no ref for
            return 1
    """,
    "tests/test_views.py": """
        from shop.helpers import titles

        def test_titles():
            assert titles() == []
    """,
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctx") / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src).lstrip("\n"))
        (path.parent / "__init__.py").touch()
    config.clear_caches()
    return root


def test_entries_and_flow(project):
    ix = load_project(Path(project), None, CheckOptions(use_cache=False, jobs=1)).index
    c = contexts(ix)
    assert c.of("shop.views.index") == {"request"}
    assert c.of("shop.views.BookList.get") == {"request"}
    assert c.of("shop.tasks.nightly") == {"task"}
    assert c.of("shop.signals.on_save") == {"signal"}
    assert c.of("shop.management.commands.rebuild.Command.handle") == {"command"}
    assert "dev-data" in c.of("shop.management.commands.make_fake_books.Command.handle")
    # a helper runs wherever its callers run; a test calling it adds nothing
    assert c.of("shop.helpers.titles") == {"request", "command"}
    assert c.of("shop.orphan.nobody_calls_me") == frozenset()
    assert c.of("shop.receivers.refresh") == {"signal"}  # registered with connect() at module level
    assert c.of("shop.workspace_seed_task.create_workspace_data") == {"seed"}  # a task in a seed module
    # ``migrate`` sends post_migrate once per deploy: start-up code, not a signal of a request
    assert c.of("shop.migrate_hooks.on_migrate") == {"startup"}
    assert c.of("shop.migrate_hooks.on_migrate_too") == {"startup"}


class RequestOnly(Rule):
    """## What it does\nReports every `b.author` read, high only on request paths (test only)."""

    code = "MDB985"
    name = "request-only-test"
    summary = "Request-only test rule"
    default = False
    high_in = frozenset({"request"})

    def visit_Attribute(self, node):
        if node.attr == "author" and isinstance(node.value, ast.Name) and node.value.id == "b":
            self.report(node, "author read")


def test_high_in_names_the_contexts_of_high_findings(project, monkeypatch):
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)
    registry.register(RequestOnly)
    try:
        config.clear_caches()
        result = check_paths([str(project)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                          extend_select=["MDB985"]))
        got = {(Path(f.path).relative_to(project).as_posix(), f.confidence) for f in result.findings
               if f.code == "MDB985"}
        shown = check_paths([str(project)], CheckOptions(use_cache=False, jobs=1, extend_select=["MDB985"]))
    finally:
        registry.unregister(RequestOnly)
    assert ("shop/views.py", "high") in got
    assert ("shop/helpers.py", "high") in got  # reached from a view
    assert ("shop/management/commands/rebuild.py", "medium") in got
    assert not any(f.path.endswith("rebuild.py") for f in shown.findings)  # the default hides medium


def test_loop_rules_are_quiet_in_code_only_one_off_contexts_reach(project, monkeypatch):
    """MDB301-303 and MDB404 (``quiet_in = ONE_OFF``) do not report in a management command, but
    do in a view, a task, and a helper that a view and a command share."""
    monkeypatch.delenv("MANDU_LINT_CONFIDENCE", raising=False)
    config.clear_caches()
    result = check_paths([str(project)], CheckOptions(use_cache=False, jobs=1, confidence="medium",
                                                      select=["MDB302"]))
    got = {Path(f.path).relative_to(project).as_posix() for f in result.findings if f.code == "MDB302"}
    assert got == {"shop/views.py", "shop/helpers.py", "shop/jobs.py", "shop/receivers.py"}


def test_a_rule_page_says_where_a_quiet_rule_does_not_report():
    from mandu_lint.rules.loops.mdb301_query_in_loop import QueryInLoop

    assert "not reported in code reached only from these contexts: command, dev-data, seed, startup" \
        in QueryInLoop.confidence_doc()
