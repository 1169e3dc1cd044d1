"""``super().m()`` resolved against the class the method is written in (the next class of its
MRO that defines ``m``), and the rows a framework view serves: ``get_queryset()`` and DRF's
``filter_queryset()`` of a Django generic view, a DRF view or a ``ModelAdmin`` that the project
does not override are the served model's queryset (its ``model``/``queryset`` attribute, or the
``@admin.register(Model)`` that registers it). Synthetic project."""
from __future__ import annotations

from mandu_lint.core.tags import RT, TK
from synthetic import check_all, index_of, lines_of, marked, write_project

MODELS = """\
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)


class Stamped:
    def save(self, *args, **kwargs):
        self.touched = True
        super().save(*args, **kwargs)


class Book(Stamped, models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
"""

VIEWS = """\
from django.contrib import admin
from django.views.generic import ListView
from rest_framework import viewsets

from app.models import Book


class BookViewSet(viewsets.ModelViewSet):
    queryset = Book.objects.all()

    def get_queryset(self):
        return super().get_queryset().filter(author__name="x")

    def names(self):
        return [b.author.name for b in self.filter_queryset(self.get_queryset())]  # MDB302


class BookList(ListView):
    model = Book

    def titles(self):
        return [b.author.name for b in self.get_queryset()]  # MDB302


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class NotAView:
    model = Book

    def rows(self):
        return [b.author.name for b in self.get_queryset()]  # no framework base: unknown
"""


def project(tmp_path):
    return write_project(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/views.py": VIEWS,
                                    "app/settings.py": "DEBUG = True\n"})


def _super_call(ix, func: str, method: str):
    """The ref of ``super().<method>(…)`` among ``func``'s calls."""
    for ref, _line, _col in ix.functions[func].calls:
        if ref[0] == RT.CALL and ref[1][0] == RT.ATTR and ref[1][2] == method and ref[1][1][0] == RT.CALL \
                and ref[1][1][2] and ref[1][1][2][0][0] == RT.SELF:
            return ref
    raise AssertionError(f"no super().{method}() in {func}")


def test_super_and_framework_querysets_are_typed(tmp_path):
    ix = index_of(project(tmp_path))
    t = ix.typer
    book = "app.models.Book"
    assert t.type_of(_super_call(ix, "app.views.BookViewSet.get_queryset", "get_queryset")) == (TK.QS, book)
    assert t.type_of(_super_call(ix, "app.views.BookAdmin.get_queryset", "get_queryset")) == (TK.QS, book)
    # super().save() in Book runs the project mixin's save first: the next class of the MRO
    save = _super_call(ix, "app.models.Book.save", "save")
    assert t.type_of(save[1]) == (TK.BOUND, "app.models.Stamped.save")
    assert t.view_model("app.views.BookList") == book and t.view_model("app.views.NotAView") is None
    assert t.type_of((RT.ATTR, (RT.SELF, "app.views.NotAView"), "get_queryset")) is None


def test_rows_a_view_serves_are_per_row_code(tmp_path):
    root = project(tmp_path)
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 2 and lines_of(check_all(root), "MDB302", "views.py") == want
