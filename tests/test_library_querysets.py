"""Library queryset methods that stay lazy (django-model-utils' ``select_subclasses()``,
django-polymorphic's ``non_polymorphic()``/``instance_of()``) keep a chain typed as the model's
queryset, so rows iterated from them are per-row code like any other query's. Synthetic project."""
from __future__ import annotations

from synthetic import check_all, lines_of, marked, write_project

MODELS = """\
from django.db import models
from model_utils.managers import InheritanceManager


class Author(models.Model):
    name = models.CharField(max_length=50)


class Status(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    objects = InheritanceManager()
"""

VIEWS = """\
from app.models import Status


def feed():
    return [s.author.name for s in Status.objects.select_subclasses().filter(pk__gt=0)]  # MDB302


def plain():
    return [s.author.name for s in Status.objects.non_polymorphic()]  # MDB302


def unknown():
    return [s.author.name for s in Status.objects.shuffle_somehow()]  # an unknown method: silent
"""


def test_lazy_library_queryset_methods_keep_rows_typed(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/views.py": VIEWS,
                                    "app/settings.py": "DEBUG = True\n"})
    result = check_all(root)
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 2 and sorted(f.span.line for f in result.findings if f.path.endswith("views.py")) == want
    assert lines_of(result, "MDB302", "views.py") == want
