"""Django multi-table inheritance in the index (``ProjectIndex._parent_link``): a concrete child
of a concrete project model has the one-to-one ``<parent>_ptr`` to it, and the parent has the
reverse one-to-one named after the child (``status.comment``), which a loop reads lazily once
per row unless the query loads it. Abstract bases and proxies have no such link. Synthetic
projects only."""
from __future__ import annotations

from synthetic import check_all, index_of, lines_of, marked, write_project

MODELS = """\
from django.db import models


class Status(models.Model):
    content = models.TextField()


class Comment(Status):
    quote = models.TextField()


class Pinned(Status):
    class Meta:
        proxy = True


class Stamped(models.Model):
    at = models.DateTimeField()

    class Meta:
        abstract = True


class Review(Stamped):
    rating = models.IntegerField()
"""
VIEWS = """\
from django.http import JsonResponse

from app.models import Status


def quotes(request):
    return JsonResponse([s.comment.quote for s in Status.objects.filter(pk__gt=0)], safe=False)  # MDB302


def loaded(request):
    rows = Status.objects.select_related("comment").filter(pk__gt=0)
    return JsonResponse([s.comment.quote for s in rows], safe=False)
"""


def _project(tmp_path):
    return write_project(tmp_path, {"manage.py": "", "app/__init__.py": "", "app/models.py": MODELS,
                                    "app/views.py": VIEWS})


def test_parent_and_child_links(tmp_path):
    ix = index_of(_project(tmp_path))
    status, comment = ix.models["app.models.Status"], ix.models["app.models.Comment"]
    assert status.relations["comment"].kind == "reverse_o2o" and status.relations["comment"].target == comment.qual
    assert comment.relations["status_ptr"].kind == "o2o" and comment.relations["status_ptr"].target == status.qual
    assert "pinned" not in status.relations  # a proxy shares the parent's table
    assert "stamped_ptr" not in ix.models["app.models.Review"].relations  # an abstract base has no table


def test_a_child_read_per_row_is_reported_unless_loaded(tmp_path):
    root = _project(tmp_path)
    result = check_all(root)
    assert lines_of(result, "MDB302", "app/views.py") == marked(root, "app/views.py", "MDB302")


SUB_MODELS = """\
from django.db import models
from model_utils.managers import InheritanceManager


class Book(models.Model):
    title = models.CharField(max_length=10)


class Status(models.Model):
    content = models.TextField()
    objects = InheritanceManager()


class BookStatus(Status):  # an abstract step between: the children's parent is still Status
    book = models.ForeignKey(Book, on_delete=models.CASCADE)

    class Meta:
        abstract = True


class Review(BookStatus):
    rating = models.IntegerField()


class Comment(BookStatus):
    pass
"""


def _subclass_project(tmp_path, query: str):
    views = ("from django.shortcuts import render\nfrom app.models import Status\n\n"
             "def feed(request):\n"
             f"    rows = {query}\n"
             "    return render(request, 'app/feed.html', {'statuses': rows})\n")
    return write_project(tmp_path, {
        "manage.py": "", "app/__init__.py": "", "app/models.py": SUB_MODELS, "app/views.py": views,
        "app/templates/app/feed.html": "{% for s in statuses %}{{ s.content }} {{ s.book.title }}{% endfor %}\n"})


def test_rows_of_select_subclasses_read_the_childrens_relations(tmp_path):
    """``select_subclasses()`` rows are the children: ``{{ s.book }}``, which only the children
    declare, is each child's relation, read lazily through its parent link."""
    root = _subclass_project(tmp_path, "Status.objects.select_subclasses().filter(content='x')")
    (f,) = [f for f in check_all(root).findings if f.code == "MDB302"]
    assert "`comment__book`" in f.message and "`review__book`" in f.message
    assert 'select_related("comment__book")' in f.message


def test_loaded_child_relations_and_plain_parent_rows_are_silent(tmp_path):
    """Loaded through the parent links, nothing is read per row; on rows that are not
    ``select_subclasses()`` rows, ``{{ s.book }}`` is no attribute of a ``Status`` (the template
    prints nothing and runs no query)."""
    loaded = "Status.objects.select_subclasses().select_related('comment__book', 'review__book')"
    assert [f for f in check_all(_subclass_project(tmp_path / "a", loaded)).findings if f.code == "MDB302"] == []
    plain = "Status.objects.filter(content='x')"
    assert [f for f in check_all(_subclass_project(tmp_path / "b", plain)).findings if f.code == "MDB302"] == []


def test_a_page_handed_to_the_template_names_where_it_is_handed(tmp_path):
    """The finding is at the query; the context entry that hands the page over and the
    ``Paginator(...)`` behind it, on other lines, are related locations."""
    views = ("from django.core.paginator import Paginator\n"
             "from django.shortcuts import render\nfrom app.models import Status\n\n"
             "def feed(request):\n"
             "    rows = Status.objects.select_subclasses().filter(content='x')\n"
             "    paged = Paginator(rows, 15)\n"
             "    data = {\n"
             "        'statuses': paged.get_page(1),\n"
             "    }\n"
             "    return render(request, 'app/feed.html', data)\n")
    root = write_project(tmp_path, {
        "manage.py": "", "app/__init__.py": "", "app/models.py": SUB_MODELS, "app/views.py": views,
        "app/templates/app/feed.html": "{% for s in statuses %}{{ s.book.title }}{% endfor %}\n"})
    (f,) = [f for f in check_all(root).findings if f.code == "MDB302"]
    assert f.span.line == 6
    handed = sorted(loc.span.line for loc in f.related if loc.message == "the rows are handed to the template here")
    assert handed == [7, 9]
