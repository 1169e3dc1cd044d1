"""A pass-through helper — every return a lazy queryset chain on one of its parameters
(``return queryset.filter(...).exclude(...)``) — is typed per call: the rows of the argument the
call passes. Its callers disagree on the model, so its body alone types nothing. Synthetic."""
from __future__ import annotations

from synthetic import check_all, lines_of, marked, write_project

FILES = {
    "app/__init__.py": "",
    "app/settings.py": "DEBUG = True\n",
    "app/models.py": """\
        from django.db import models


        class Author(models.Model):
            name = models.CharField(max_length=50)


        class Book(models.Model):
            author = models.ForeignKey(Author, on_delete=models.CASCADE)
            hidden = models.BooleanField(default=False)


        class Review(models.Model):
            author = models.ForeignKey(Author, on_delete=models.CASCADE)
            hidden = models.BooleanField(default=False)
        """,
    "app/helpers.py": """\
        def visible(viewer, queryset, strict=False):
            queryset = queryset.filter(hidden=False)
            if strict:
                queryset = queryset.exclude(author__name="")
            return queryset


        def first_or_none(queryset):
            return queryset.first()  # not a lazy chain: not a pass-through
        """,
    "app/views.py": """\
        from app.helpers import first_or_none, visible
        from app.models import Book, Review


        def books(request):
            return [b.author.name for b in visible(request, Book.objects.all())]  # MDB302


        def reviews(request):
            return [r.author.name for r in visible(request, Review.objects.all(), strict=True)]  # MDB302


        def one(request):
            return first_or_none(Book.objects.all())
        """,
}


def test_pass_through_helpers_are_typed_per_call(tmp_path):
    root = write_project(tmp_path, FILES)
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 2 and lines_of(check_all(root), "MDB302", "views.py") == want
