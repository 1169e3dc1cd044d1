"""Which queries the loop rules can see (``rules/loops/query_reach.py``: ``visible``): a query on
a relation of a row a project helper returns is a fresh query, whatever else the helper may
return (its own argument, a row it looked up). Synthetic code only."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_all, write_project

MODELS = (
    "from django.db import models\n\n"
    "class Author(models.Model):\n    name = models.CharField(max_length=10)\n\n"
    "class Book(models.Model):\n    title = models.CharField(max_length=10)\n"
    "    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name='books')\n"
    "    editor = models.ForeignKey(Author, on_delete=models.CASCADE, related_name='edited')\n"
)


def _run(tmp_path: Path, helper_body: str):
    files = {
        "manage.py": "",
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/views.py": (
            "from shop.models import Author\n\n"
            "def get_author(viewer, name):\n" + helper_body + "\n\n"
            "def books(viewer, name):\n"
            "    author = get_author(viewer, name)\n"
            "    return [b.editor.name for b in author.books.filter(title='x')]\n"),
    }
    return [f for f in check_all(write_project(tmp_path, files)).findings if f.code == "MDB302"]


def test_a_relation_query_on_a_row_a_helper_returns_is_seen(tmp_path):
    (f,) = _run(tmp_path, "    return Author.objects.get(name=name)")
    assert "`Book.editor`" in f.message


def test_also_when_the_helper_may_return_its_own_argument(tmp_path):
    """The helper returns the viewer itself on one path: its result is still a row (an
    ``Author``), and ``.books.filter(...)`` on it is a fresh query whose rows load ``editor``
    lazily."""
    body = ("    if viewer.name == name:\n"
            "        return viewer\n"
            "    return Author.objects.get(name=name)")
    (f,) = _run(tmp_path, body)
    assert "`Book.editor`" in f.message and "select_related(\"editor\")" in f.message
