"""Objects of several project classes held in one place — a dict literal of ``Class()`` values,
or a local bound in both branches of an ``if`` — type as their nearest common project base
(``project/types.py``: ``Typer._agreed``), so a method the base defines is followed. Classes
with no project base in common stay unknown. Synthetic code only."""
from __future__ import annotations

from pathlib import Path

from synthetic import check_all, write_project

MODELS = (
    "from django.db import models\n\n"
    "class Author(models.Model):\n    name = models.CharField(max_length=10)\n\n"
    "class Book(models.Model):\n    title = models.CharField(max_length=10)\n"
    "    author = models.ForeignKey(Author, on_delete=models.CASCADE)\n"
)
STREAMS = (
    "from shop.models import Book\n\n"
    "class Stream:\n"
    "    def rows(self, title):\n"
    "        return Book.objects.filter(title=title)\n\n"
    "class Home(Stream):\n    pass\n\n"
    "class Local(Stream):\n    pass\n\n"
)


def _run(tmp_path: Path, views: str, streams: str = STREAMS):
    files = {"manage.py": "", "shop/__init__.py": "", "shop/models.py": MODELS, "shop/streams.py": streams,
             "shop/views.py": views}
    return [f for f in check_all(write_project(tmp_path, files)).findings if f.code == "MDB302"]


def test_a_dict_of_subclass_objects_types_as_their_base(tmp_path):
    views = ("from shop.streams import Home, Local\n\n"
             "STREAMS = {'home': Home(), 'local': Local()}\n\n"
             "def feed(tab, title):\n"
             "    return [b.author.name for b in STREAMS[tab].rows(title)]\n")
    (f,) = _run(tmp_path, views)
    assert f.span.line == 6 and "`Book.author`" in f.message


def test_a_local_bound_to_either_subclass_types_as_their_base(tmp_path):
    views = ("from shop.streams import Home, Local\n\n"
             "def feed(local, title):\n"
             "    stream = Local() if local else Home()\n"
             "    return [b.author.name for b in stream.rows(title)]\n")
    (f,) = _run(tmp_path, views)
    assert "`Book.author`" in f.message


def test_classes_without_a_project_base_in_common_stay_unknown(tmp_path):
    alone = "class Home:\n    def rows(self, title):\n        return []"
    streams = STREAMS.replace("class Home(Stream):\n    pass", alone)
    views = ("from shop.streams import Home, Local\n\n"
             "STREAMS = {'home': Home(), 'local': Local()}\n\n"
             "def feed(tab, title):\n"
             "    return [b.author.name for b in STREAMS[tab].rows(title)]\n")
    assert _run(tmp_path, views, streams) == []
