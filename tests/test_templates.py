"""The Django template reader of the loop rules (``rules/loops/templates.py``) and MDB302's
template sites: the lexer and parser, template lookup with ``{% extends %}``/``{% include %}``,
what a template reads per row, and the findings on the ``n1_templates`` fixture project."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from mandu_lint.project.models import Model, Relation
from mandu_lint.rules.loops.templates import (Block, Evaluator, For, Include, Library, Obj, Rows, Set, Tag,
                                              Var, With, bits, expr, lex, parse)
from mandu_lint.runner import CheckOptions, check_paths

FIXTURE = Path(__file__).parent / "fixtures" / "projects" / "n1_templates"


# -- lexer --------------------------------------------------------------------------------------------
def test_lex_drops_text_and_comments_and_counts_lines():
    src = "a {# {{ x.y }} #}\n{% comment %}{{ hidden.rel }}\n{% endcomment %}{{ b.c }}\n  {%- if d -%}"
    toks = lex(src)
    assert [(t.kind, t.text, t.line, t.col) for t in toks] == [("var", "b.c", 3, 16), ("tag", "if d", 4, 2)]


def test_lex_skips_verbatim_and_jinja_raw_and_macros():
    src = "{% verbatim %}{{ a.b }}{% endverbatim %}{% raw %}{{ c.d }}{% endraw %}" \
          "{% macro m(x) %}{{ x.rel }}{% endmacro %}{{ e }}"
    assert [t.text for t in lex(src)] == ["e"]


def test_lex_multiline_tag():
    toks = lex("{% include 'x.html'\n   with a=b %}\n{{ c }}")
    assert [(t.text.split()[0], t.line) for t in toks] == [("include", 1), ("c", 3)]


# -- parser ---------------------------------------------------------------------------------------------
def test_parse_for_empty_and_else_of_an_inner_if():
    tpl = parse("{% for b in books %}{% if b.x %}1{% else %}{{ b.y }}{% endif %}{% empty %}{{ none }}"
                "{% endfor %}{{ after }}")
    loop, after = tpl.nodes
    assert isinstance(loop, For) and loop.targets == ("b",) and loop.iter == "books"
    assert [type(n).__name__ for n in loop.body] == ["Tag", "Tag", "Var"]
    assert [n.expr for n in loop.empty] == ["none"]
    assert isinstance(after, Var) and after.expr == "after"


def test_parse_for_variants():
    (a,) = parse("{% for k, v in d.items %}{% endfor %}").nodes
    assert a.targets == ("k", "v") and a.iter == "d.items"
    (b,) = parse("{% for x in xs reversed %}{% endfor %}").nodes
    assert b.iter == "xs"
    (c,) = parse("{% for x in xs if x.ok %}{% else %}{% endfor %}").nodes  # Jinja
    assert c.iter == "xs" and c.cond == "x.ok"


def test_parse_with_both_spellings_and_blocktrans():
    w1, w2, w3, w4 = parse("{% with a=b.c d=e %}{% endwith %}{% with b.c as a %}{% endwith %}"
                           "{% blocktrans with n=b.name count c=xs|length %}{{ n }}{% endblocktrans %}"
                           "{% with a = b, c = d %}{% endwith %}").nodes
    assert w1.binds == [("a", "b.c"), ("d", "e")]
    assert w2.binds == [("a", "b.c")]
    assert isinstance(w3, With) and w3.binds == [("n", "b.name"), ("c", "xs|length")] and w3.body[0].expr == "n"
    assert w4.binds == [("a", "b"), ("c", "d")]


def test_parse_include_extends_block_set():
    tpl = parse('{% extends "base.html" %}{% block content %}{% include "row.html" with item=b only %}'
                '{% include "other.html" %}{% set x = y.z %}{% endblock content %}')
    assert tpl.extends.name == '"base.html"'
    (block,) = tpl.nodes
    assert isinstance(block, Block) and block.name == "content"
    inc, other, s = block.body
    assert isinstance(inc, Include) and inc.binds == [("item", "b")] and inc.only
    assert isinstance(other, Include) and not other.only and not other.binds
    assert isinstance(s, Set) and (s.name, s.expr) == ("x", "y.z")


def test_parse_generic_tags_and_unbalanced_input():
    nodes = parse("{% load static %}{% url 'x' b.author.slug as u %}{% for b in xs %}{{ b }}").nodes
    assert isinstance(nodes[0], Tag) and nodes[0].bits == ["'x'", "b.author.slug", "as", "u"]
    assert isinstance(nodes[1], For) and nodes[1].body[0].expr == "b"  # closed at the end


def test_expr_and_bits():
    e = expr('b.author.name|default:c.d|date:"Y"')
    assert e.main == "b.author.name" and e.filters == ("default", "date") and e.lookups == ("b.author.name", "c.d")
    assert expr("a.tags.all()|length").main == "a.tags.all"
    cond = expr("a.b and not c.d == 'x'")
    assert cond.main is None and cond.lookups == ("a.b", "c.d")
    assert expr('"lit"|lower').main is None and expr("12").lookups == ()
    assert bits('"a b" c=d|f:"x y" only') == ['"a b"', 'c=d|f:"x y"', "only"]


# -- library and evaluation ---------------------------------------------------------------------------------
def _index():
    def model(name, **rels):
        m = Model(f"app.{name}", name, "django", "app/models.py", 1)
        m.relations = {k: Relation(k, f"app.{t}", kind) for k, (t, kind) in rels.items()}
        m.fields = {"title": None, "name": None, **{k: None for k, (_t, kind) in rels.items() if kind == "fk"}}
        return m
    models = {m.qual: m for m in (model("Book", author=("Author", "fk"), tags=("Tag", "m2m")),
                                  model("Author", books=("Book", "reverse_fk")), model("Tag"))}
    return SimpleNamespace(models=models, find_method=lambda cls, name: None, functions={})


@pytest.fixture
def lib(tmp_path):
    def write(files):
        for name, text in files.items():
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        return Library(tmp_path)
    return write


def reads(lib, name, env):
    path = next(p for p in (lib.find(name),) if p)
    return sorted({(r.names, r.ops, Path(r.path).name, r.line) for r in Evaluator(lib, _index()).run(path, env)})


def test_reads_per_row_only(lib):
    library = lib({"app/templates/t.html": "{{ books.0.author }}{{ one.author }}\n"
                                           "{% for b in books %}{{ b.title }} {{ b.author.name }}\n"
                                           "{% for t in b.tags.all %}{{ t.name }}{% endfor %}{{ b.tags.count }}"
                                           "{{ b.tags }}{% endfor %}"})
    env = {"books": Rows(1, "app.Book"), "one": Obj(1, "app.Book")}
    assert reads(library, "t.html", env) == [(("author",), (), "t.html", 2), (("tags",), ("all",), "t.html", 3),
                                             (("tags",), ("count",), "t.html", 3)]


def test_reads_nested_with_and_dict_loops(lib):
    library = lib({"templates/t.html": "{% for a in authors %}{% for b in a.books.all %}"
                                       "{% with w=b.author %}{{ w.name }}{% endwith %}{% endfor %}{% endfor %}"
                                       "{% for k, v in authors %}{{ v.books.all }}{% endfor %}"
                                       "{% for x in unknown %}{{ x.author }}{% endfor %}"})
    assert reads(library, "t.html", {"authors": Rows(1, "app.Author")}) == [
        (("books",), ("all",), "t.html", 1), (("books", "author"), (), "t.html", 1)]


def test_regroup_reads_the_grouping_path_of_every_row(lib):
    library = lib({"templates/t.html": "{% regroup books by author.name as groups %}\n"
                                       "{% for g in groups %}{{ g.grouper }}{% for b in g.list %}{{ b.tags.all }}"
                                       "{% endfor %}{% endfor %}"})
    assert reads(library, "t.html", {"books": Rows(1, "app.Book")}) == [
        (("author",), (), "t.html", 1), (("tags",), ("all",), "t.html", 2)]


def test_extends_overrides_blocks_and_include_passes_context(lib):
    library = lib({"templates/base.html": "{% block main %}{% for b in books %}{{ b.tags.all }}{% endfor %}"
                                          "{% endblock %}{% block side %}{% for b in books %}{{ b.author }}"
                                          "{% endfor %}{% endblock %}",
                   "app/templates/app/child.html": "{% extends 'base.html' %}{% block main %}\n"
                                                   "{% for b in books %}{% include 'app/row.html' %}"
                                                   "{% include 'app/row.html' with b=b only %}"
                                                   "{% include 'app/row.html' only %}{% endfor %}{% endblock %}"
                                                   "outside blocks: {{ books.0.tags.all }}",
                   "app/templates/app/row.html": "\n\n{{ b.author.name }}"})
    assert reads(library, "app/child.html", {"books": Rows(1, "app.Book")}) == [
        (("author",), (), "base.html", 1), (("author",), (), "row.html", 3)]


def test_library_prefers_the_closest_folder(tmp_path):
    for folder in ("a/templates", "b/templates"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x.html").write_text(folder)
    lib = Library(tmp_path)
    assert lib.find("x.html", str(tmp_path / "b" / "views.py")).endswith("b/templates/x.html")
    assert lib.find("missing.html") is None and lib.find("../x.html") is None


# -- the fixture project --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def found():
    result = check_paths([str(FIXTURE)], CheckOptions(use_cache=False, jobs=1, select=["MDB302"]))
    return {(Path(f.path).relative_to(FIXTURE).as_posix(), f.span.line): f for f in result.findings}


def _line(path: str, text: str) -> int:
    lines = (FIXTURE / path).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_fixture_messages_name_the_template_reads(found):
    books = found[("catalog/views.py", _line("catalog/views.py", "rows = Book.objects"))]
    assert "`catalog/books.html`" in books.message and "`author`" in books.message
    assert "tags" not in books.message  # the parent's loop is in a block the child overrides
    (loc,) = books.related
    assert loc.path.endswith("catalog/templates/catalog/_row.html") and loc.span.line == 2
    assert books.fix is not None and books.fix.safety.value == "unsafe"
    assert 'select_related("author")' in books.fix.edits[0].text

    authors = found[("catalog/views.py", _line("catalog/views.py", 'context["authors"]'))]
    text = authors.fix.edits[0].text
    assert 'select_related("publisher")' in text and 'prefetch_related("books__tags")' in text
    assert "books__author" not in text  # the way back from each book is cached


def test_fixture_class_views(found):
    listed = found[("catalog/cbv.py", _line("catalog/cbv.py", "    model = Book"))]
    assert "`catalog/book_list.html`" in listed.message and listed.fix is None
    assert 'queryset = Book.objects.select_related("author").prefetch_related("tags")' in listed.message
    detail = found[("catalog/cbv.py", _line("catalog/cbv.py", "queryset = Author.objects.all()"))]
    assert "books__tags" in detail.message and "publisher" not in detail.message  # the object is one row


def test_a_changed_template_invalidates_cached_findings(tmp_path, monkeypatch):
    """Templates are not Python files, but the loop rules read them: editing one must not leave
    a warm run with stale findings."""
    import shutil

    from mandu_lint import config as _config
    from mandu_lint.runner import CheckOptions as _Options, check_paths as _check

    root = tmp_path / "proj"
    shutil.copytree(Path(__file__).parent / "fixtures" / "projects" / "n1_templates", root)
    (root / ".git").mkdir()
    monkeypatch.setenv("MANDU_CACHE_DIR", str(tmp_path / "cache"))

    def count():
        _config.clear_caches()
        return len([f for f in _check([str(root)], _Options(jobs=1, select=["MDB302"])).findings
                    if f.code == "MDB302"])
    first = count()
    assert first > 0 and count() == first  # warm run, same answer
    for tpl in (root / "templates").rglob("*.html"):
        tpl.write_text("{# emptied #}\n")
    assert count() < first


def test_rows_from_a_project_query_helper_are_reported_where_they_are_built(tmp_path):
    """A page of rows from a project classmethod returning a queryset (chained on) cannot get an
    automatic fix, but the finding goes to the expression that builds the rows, where the
    eager load belongs, not to the `Paginator(...)` call that receives the name."""
    files = {
        "manage.py": "",
        "shop/__init__.py": "",
        "shop/models.py": (
            "from django.db import models\n\n"
            "class Author(models.Model):\n    name = models.CharField(max_length=10)\n\n"
            "class Book(models.Model):\n    title = models.CharField(max_length=10)\n"
            "    authors = models.ManyToManyField(Author)\n\n"
            "    @classmethod\n    def visible(cls, viewer):\n        qs = cls.objects\n"
            "        if not viewer:\n            return qs\n        return qs.filter(title='x')\n"),
        "shop/views.py": (
            "from django.core.paginator import Paginator\n"
            "from django.template.response import TemplateResponse\n"
            "from shop.models import Book\n\n"
            "def books(request):\n"
            "    rows = Book.visible(request.user).filter(title='a')\n"
            "    page = Paginator(rows, 15).get_page(request.GET.get('page'))\n"
            "    return TemplateResponse(request, 'shop/books.html', {'books': page})\n"),
        "shop/templates/shop/books.html": "{% for b in books %}{% for a in b.authors.all %}{{ a.name }}"
                                          "{% endfor %}{% endfor %}\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = check_paths([str(tmp_path)], CheckOptions(use_cache=False, jobs=1, select=["MDB302"],
                                                       confidence="medium"))
    (f,) = result.findings
    assert (Path(f.path).name, f.span.line) == ("views.py", 6)
    assert 'load them with the query: prefetch_related("authors")' in f.message and f.fix is None


def test_template_site_names_where_the_rows_are_built(tmp_path):
    """Rows refined after they are built (``qs = ….all()``, ``qs = qs.filter(…)``) and handed to a
    template as ``qs[:50]``: the finding points at the value handed over, and its related
    locations name the lines that build the query, where the eager loading goes."""
    from synthetic import check_all, marked, write_project

    root = write_project(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": """\
            from django.db import models


            class Author(models.Model):
                name = models.CharField(max_length=50)


            class Book(models.Model):
                author = models.ForeignKey(Author, on_delete=models.CASCADE)
            """,
        "app/views.py": """\
            from django.shortcuts import render

            from app.models import Book


            def books(request, only=None):
                rows = Book.objects.all()  # built
                if only:
                    rows = rows.filter(pk__in=only)  # built
                return render(request, "books.html", {"books": rows[:50]})  # MDB302
            """,
        "app/templates/books.html": "{% for b in books %}{{ b.author.name }}{% endfor %}\n",
    })
    found = [f for f in check_all(root).findings if f.code == "MDB302"]
    assert [f.span.line for f in found] == marked(root, "app/views.py", "# MDB302")
    built = [loc.span.line for loc in found[0].related if loc.path.endswith("views.py")]
    assert built == marked(root, "app/views.py", "# built")


def test_rows_from_an_inherited_project_method_name_where_that_method_builds_them(tmp_path):
    """``context["builds"] = self.get_queryset()`` with ``get_queryset`` inherited from a project
    mixin (readthedocs' build list, recall dev R085): the related location is the query the
    mixin's method builds and returns, in the mixin's file."""
    from synthetic import check_all, marked, write_project

    root = write_project(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": """\
            from django.db import models


            class Project(models.Model):
                name = models.CharField(max_length=50)


            class Build(models.Model):
                project = models.ForeignKey(Project, on_delete=models.CASCADE)
            """,
        "app/mixins.py": """\
            from app.models import Build


            class BuildBase:
                def get_queryset(self):
                    queryset = Build.objects.filter(project__name=self.kwargs["slug"])  # built
                    return queryset
            """,
        "app/views.py": """\
            from django.views.generic import TemplateView

            from app.mixins import BuildBase


            class BuildPage(BuildBase, TemplateView):
                template_name = "builds.html"

                def get_context_data(self, **kwargs):
                    context = super().get_context_data(**kwargs)
                    context["builds"] = self.get_queryset()  # MDB302
                    return context
            """,
        "app/templates/builds.html": "{% for b in builds %}{{ b.project.name }}{% endfor %}\n",
    })
    found = [f for f in check_all(root).findings if f.code == "MDB302"]
    assert [f.span.line for f in found] == marked(root, "app/views.py", "# MDB302")
    built = [loc.span.line for loc in found[0].related if loc.path.endswith("mixins.py")]
    assert built == marked(root, "app/mixins.py", "# built")


def test_rows_refined_from_a_related_manager_are_a_query_of_the_view(tmp_path):
    """``items = shelf.book_set`` … ``items = items.filter(...)`` handed to a template through a
    Paginator (bookwyrm's list page, recall dev R009): the first binding only names the relation,
    the refinement runs a fresh query, so the rows are reported, with every binding named."""
    from synthetic import check_all, marked, write_project

    root = write_project(tmp_path, {
        "app/__init__.py": "",
        "app/models.py": """\
            from django.db import models


            class Author(models.Model):
                name = models.CharField(max_length=50)


            class Shelf(models.Model):
                name = models.CharField(max_length=50)


            class Book(models.Model):
                shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE)
                author = models.ForeignKey(Author, on_delete=models.CASCADE)
                rank = models.IntegerField()
            """,
        "app/views.py": """\
            from django.core.paginator import Paginator
            from django.db.models import F
            from django.shortcuts import get_object_or_404
            from django.template.response import TemplateResponse

            from app.models import Shelf


            def shelf(request, shelf_id, ranked=False):
                shelf = get_object_or_404(Shelf, id=shelf_id)
                items = shelf.book_set  # built
                if ranked:
                    items = items.annotate(r=F("rank"))  # built
                items = items.filter(rank__gt=0).order_by("rank")  # built
                page = Paginator(items, 20).get_page(request.GET.get("page"))  # MDB302
                return TemplateResponse(request, "shelf.html", {"items": page})
            """,
        "app/templates/shelf.html": "{% for b in items %}{{ b.author.name }}{% endfor %}\n",
    })
    found = [f for f in check_all(root).findings if f.code == "MDB302"]
    assert [f.span.line for f in found] == marked(root, "app/views.py", "# MDB302")
    built = [loc.span.line for loc in found[0].related if loc.path.endswith("views.py")]
    assert built == marked(root, "app/views.py", "# built")
