"""A type is the same whichever ref the typer is asked about first. Resolution that a cycle cut
short (``a`` returns ``b()``, ``b`` returns ``a()`` or a query) is not memoised, so a flake8 run,
two workers and a single process, which check files in different orders, agree. Synthetic."""
from __future__ import annotations

from synthetic import index_of, write_project

from mandu_lint.project.types import Typer
from mandu_lint.core.tags import TK

FILES = {
    "app/__init__.py": "",
    "app/models.py": """\
        from django.db import models


        class Book(models.Model):
            title = models.CharField(max_length=50)
        """,
    "app/queries.py": """\
        from app.models import Book


        def books(recent=False):
            return more(recent)


        def more(recent):
            if recent:
                return books(False)
            return Book.objects.all()
        """,
}


def test_mutually_recursive_helpers_type_alike_in_either_order(tmp_path):
    ix = index_of(write_project(tmp_path, FILES))
    first, second = Typer(ix), Typer(ix)
    a = (first.returns("app.queries.books"), first.returns("app.queries.more"))
    b = (second.returns("app.queries.more"), second.returns("app.queries.books"))
    want = (TK.QS, "app.models.Book")
    assert a == (want, want)
    assert b == (want, want)
