"""A project's own Django template tags and filters used on every row of a template loop
(``rules/loops/templates.py``: ``custom_tags``, ``Evaluator._custom``): a tag whose function runs a
query of its own is MDB301's (one query per row, reported at the view's query with the template
line and the tag's query as related locations); a filter that only reads relations of the row it
is given is MDB302's, like a property the template calls; and the related location of a Python
loop's MDB302 finding. Synthetic code only."""
from __future__ import annotations

from pathlib import Path

from mandu_lint.rules.loops.templates import _custom_tags
from mandu_lint.runner import CheckOptions, check_paths

MODELS = (
    "from django.db import models\n\n"
    "class Author(models.Model):\n    name = models.CharField(max_length=10)\n\n"
    "class Shelf(models.Model):\n    name = models.CharField(max_length=10)\n\n"
    "class Book(models.Model):\n    title = models.CharField(max_length=10)\n"
    "    author = models.ForeignKey(Author, on_delete=models.CASCADE)\n\n"
    "class ShelfBook(models.Model):\n    book = models.ForeignKey(Book, on_delete=models.CASCADE)\n"
    "    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE)\n"
)
TAGS = (
    "from django import template\n"
    "from shop import models\n\n"
    "register = template.Library()\n\n\n"
    "@register.simple_tag(takes_context=True)\n"
    "def active_shelf(context, book):\n"
    "    return models.ShelfBook.objects.filter(book=book).first()\n\n\n"  # line 9: a query per call
    "@register.filter(name='byline')\n"
    "def get_byline(book):\n"
    "    return book.author.name\n\n\n"  # a relation of the row only
    "@register.filter\n"
    "def shout(value):\n"
    "    return str(value).upper()\n\n\n"  # no query at all
    "def counted(book):\n"
    "    return models.ShelfBook.objects.filter(book=book).count()\n\n\n"
    "register.filter('counted', counted)\n"
)
VIEWS = (
    "from django.shortcuts import render\n"
    "from shop.models import Book\n\n"
    "def books(request):\n"
    "    rows = Book.objects.filter(title='a')\n"
    "    return render(request, 'shop/books.html', {'books': rows})\n"
)


def _project(tmp_path: Path, template: str, views: str = VIEWS, tags: str = TAGS) -> Path:
    files = {
        "manage.py": "",
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/views.py": views,
        "shop/templatetags/__init__.py": "",
        "shop/templatetags/shop_tags.py": tags,
        "shop/templates/shop/books.html": template,
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def _check(root: Path, *rules: str):
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1, select=list(rules), confidence="medium"))
    assert not result.notices or all(n.code != "MDB000" for n in result.notices)
    return result.findings


def test_registrations_are_read_by_name(tmp_path):
    """``@register.filter``, ``@register.filter(name=…)``, ``@register.simple_tag(takes_context=…)``
    and ``register.filter("name", func)``; a name two libraries register is left out."""
    root = _project(tmp_path, "")
    (root / "shop/templatetags/other.py").write_text(
        "from django import template\nregister = template.Library()\n\n"
        "@register.filter\ndef shout(value):\n    return value\n")

    class Index:
        module_rel = {"shop.templatetags.shop_tags": "shop/templatetags/shop_tags.py",
                      "shop.templatetags.other": "shop/templatetags/other.py",
                      "shop.views": "shop/views.py"}

    tags = _custom_tags(root, Index())
    assert tags["active_shelf"].func == "shop.templatetags.shop_tags.active_shelf"
    assert tags["active_shelf"].kind == "tag" and tags["active_shelf"].takes_context
    assert tags["byline"].func.endswith(".get_byline") and tags["byline"].kind == "filter"
    assert tags["counted"].func.endswith(".counted")
    assert "shout" not in tags and "get_byline" not in tags


def test_a_tag_that_queries_on_every_row_is_mdb301(tmp_path):
    root = _project(tmp_path, "{% load shop_tags %}\n{% for b in books %}\n"
                              "  {% active_shelf b as current %}{{ current }}\n{% endfor %}\n")
    (f,) = _check(root, "MDB301")
    assert (Path(f.path).name, f.span.line) == ("views.py", 6)  # where the template is rendered
    assert "runs `{% active_shelf %}` on every row of `Book.objects" in f.message
    assert "shop/templates/shop/books.html:3" in f.message
    tpl, rows, query = f.related
    assert tpl.path.endswith("books.html") and tpl.span.line == 3
    assert rows.path.endswith("views.py") and rows.span.line == 5
    assert query.path.endswith("shop_tags.py") and query.span.line == 9
    assert f.fix is None


def test_a_filter_that_queries_is_mdb301_and_one_that_reads_the_row_is_mdb302(tmp_path):
    root = _project(tmp_path, "{% for b in books %}{{ b|counted }} {{ b|byline }} {{ b.title|shout }}"
                              "{% endfor %}\n")
    (q,) = _check(root, "MDB301")
    assert "`|counted`" in q.message
    (r,) = _check(root, "MDB302")
    assert "`author`" in r.message and 'select_related("author")' in r.message
    assert any("byline: book.author" in (loc.message or "") for loc in r.related)


def test_silent_outside_a_loop_over_rows_and_when_the_query_loads_the_relation(tmp_path):
    """A tag used once (not per row), a tag over a literal list, and a filter whose relation the
    view's query already selects are not reported."""
    views = VIEWS.replace("filter(title='a')", "filter(title='a').select_related('author')")
    root = _project(tmp_path, "{% active_shelf books.0 as one %}{% for x in 'abc' %}{% active_shelf x as y %}"
                              "{% endfor %}{% for b in books %}{{ b|byline }}{% endfor %}\n", views=views)
    assert _check(root, "MDB301", "MDB302") == []


def test_a_tag_in_an_included_row_template_is_per_row(tmp_path):
    root = _project(tmp_path, "{% for b in books %}{% include 'shop/_row.html' with book=b %}{% endfor %}\n")
    (root / "shop/templates/shop/_row.html").write_text("{% load shop_tags %}\n{% active_shelf book as s %}\n")
    (f,) = _check(root, "MDB301")
    assert any(loc.path.endswith("_row.html") and loc.span.line == 2 for loc in f.related)


def test_a_python_loop_finding_points_at_the_line_that_builds_its_query(tmp_path):
    """MDB302 in a Python loop: the read is the primary location; the query the eager loading
    belongs on is a related location when it is built on another line (not when it is the loop
    header's own expression on the read's line)."""
    views = ("from shop.models import Book\n\n"
             "def titles():\n"
             "    rows = Book.objects.filter(title='a')\n"
             "    out = []\n"
             "    for b in rows:\n"
             "        out.append(b.author.name)\n"
             "    return out + [b.author.name for b in Book.objects.all()]\n")
    root = _project(tmp_path, "", views=views)
    first, second = sorted(_check(root, "MDB302"), key=lambda f: f.span.line)
    assert first.span.line == 7
    (loc,) = first.related
    assert (loc.span.line, loc.span.col) == (4, 11) and "load the relation here" in loc.message
    assert second.span.line == 8 and second.related == ()
