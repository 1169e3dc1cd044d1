"""Issue 11, "Typing evidence": receivers typed from evidence in bodies, from every assignment of
a local, from containers and framework handles, from call sites, and (medium only) from names.
Synthetic projects; the must-stay-silent cases stay silent at every evidence level."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.core.tags import EV, RT, TK
from mandu_lint.rules.context import FileContext
from mandu_lint.runner import CheckOptions, check_paths, load_project

MODELS = """\
from django.db import models
from django.utils.functional import cached_property


class Author(models.Model):
    name = models.CharField(max_length=50)


class Tag(models.Model):
    label = models.CharField(max_length=50)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, related_name="tagged_books")

    @cached_property
    def siblings(self):
        return Book.objects.filter(author=self.author)


class Invoice(models.Model):
    total = models.IntegerField()
"""

VIEWS = """\
import boto3
import requests
from django.apps import apps
from django.contrib.contenttypes.models import ContentType

from shop.models import Author, Book, Tag, Invoice

KINDS = {"a": Author, "b": Book}
BOOKS = {"x": Book, "y": Book}


def raw_report(conn, ids):
    rows = conn.execute("SELECT id, title FROM shop_book WHERE id = %s", (1,))
    cur = conn.cursor()
    cur.execute("UPDATE shop_book SET title = 'x' WHERE id = 1")
    return rows, cur.fetchall()


async def pg(pool_conn):
    return await pool_conn.fetch("SELECT * FROM shop_book")


def not_sql(runner):
    runner.execute("make coffee")


TOTALS = "SELECT count(*) FROM shop_book"


def from_constant(handle):
    return handle.execute(TOTALS)


def branches(flag, other):
    qs = Book.objects.all()
    if flag:
        qs = qs.filter(title="x")
    else:
        qs = qs.exclude(title="y")
    qs = qs.order_by("id")
    obj = None
    if flag:
        obj = Book.objects.get(pk=1)
    mixed = Book.objects.all()
    if other:
        mixed = Author.objects.all()
    author = Author.objects.get(pk=1)
    rows = author.books
    if other:
        rows = Book.objects.filter(title="x")
    rows = rows.order_by("id")
    return qs, obj, mixed, rows


def containers(key, ct_id):
    rows = list(Book.objects.all())
    first = rows[0]
    qs_first = Book.objects.filter(title="x")[0]
    sliced = Book.objects.all()[:10]
    for b in rows:
        b.author
    book = Book.objects.get(pk=1)
    sib = book.siblings
    dm = Book._default_manager.filter(title="x")
    bm = Book._base_manager.all()
    m1 = apps.get_model("shop", "Book")
    m2 = apps.get_model("shop.Tag")
    m3 = apps.get_model("shop", "Nope")
    ct = ContentType.objects.get(pk=ct_id).model_class()
    same = BOOKS[key]
    differ = KINDS[key]
    cls = type(book)
    return first, qs_first, sliced, b, sib, dm, bm, m1, m2, m3, ct, same, differ, cls


def describe(book, label):
    return book.author.name, label


def caller_one():
    return describe(Book.objects.get(pk=1), "one")


def caller_two(i):
    b = Book.objects.filter(pk=i).first()
    return describe(b, label="two")


def loose(thing):
    return thing


def loose_a():
    return loose(Book.objects.get(pk=1))


def loose_b():
    return loose(Author.objects.get(pk=1))


def spread(item):
    return item


def spread_a(args):
    return spread(*args)


def spread_b():
    return spread(Book.objects.get(pk=1))


def touch(obj, invoice, bucket, session):
    obj.save(update_fields=["total"])
    invoice.refresh_from_db()
    bucket.objects.filter(Prefix="x")
    session.get("https://example.com")
    img = make_image()
    img.save("x.png")
    return obj, invoice


def make_image():
    return None


def foreign(urls):
    s = requests.Session()
    bucket = boto3.resource("s3").Bucket("b")
    for url in urls:
        s.get(url)
        bucket.objects.filter(Prefix=url).delete()
        bucket.Object(url).delete()


def tagged(thing):
    return thing.tagged_books.filter(title="x")
"""


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    root = tmp_path_factory.mktemp("typing") / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    files = {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/settings.py": "DATABASES = {}\n",
             "shop/views.py": VIEWS}
    for rel, src in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src))
    config.clear_caches()
    return load_project(Path(root), None, CheckOptions(use_cache=False, jobs=1))


def fn_scope(proj, name):
    """The scope of ``shop.views.<name>``, as the engine builds it, and the function's node."""
    from mandu_lint.project.extract import function_scope

    rel = "shop/views.py"
    source = (proj.root / rel).read_text()
    tree = ast.parse(source)
    ctx = FileContext(str(proj.root / rel), rel, source, tree, proj, proj.index.files[rel])
    node = next(n for n in tree.body if getattr(n, "name", None) == name)
    scope = function_scope(ctx.names, node, f"shop.views.{name}", None, ctx.scope, [])
    return scope, node


def local(proj, func, name, level="high"):
    scope, _ = fn_scope(proj, func)
    return proj.index.typer.at(level).type_of(scope.lookup(name))


def calls(proj, func):
    """{source text of the call: ref} for every call in ``func``."""
    scope, node = fn_scope(proj, func)
    return {ast.unparse(n): scope.ref_of(n) for n in ast.walk(node) if isinstance(n, ast.Call)}


BOOK, AUTHOR, TAG = "shop.models.Book", "shop.models.Author", "shop.models.Tag"


# -- evidence in bodies ----------------------------------------------------------------------------
def test_an_sql_literal_makes_a_dbapi_handle(proj):
    typer = proj.index.typer
    conn = (RT.PARAM, "shop.views.raw_report", "conn")
    assert typer.type_of(conn) == (TK.DBCONN, None)
    assert typer.evidence(conn) == "high"
    c = calls(proj, "raw_report")
    assert typer.event(c["conn.execute('SELECT id, title FROM shop_book WHERE id = %s', (1,))"])[0] == EV.QUERY
    assert typer.event(c["cur.execute(\"UPDATE shop_book SET title = 'x' WHERE id = 1\")"])[0] == EV.WRITE
    assert local(proj, "raw_report", "cur") == (TK.CURSOR, None)
    assert typer.type_of((RT.PARAM, "shop.views.pg", "pool_conn")) == (TK.DBCONN, "asyncpg")
    assert typer.type_of((RT.PARAM, "shop.views.from_constant", "handle")) == (TK.DBCONN, None)


def test_a_non_sql_string_is_no_evidence(proj):
    typer = proj.index.typer
    runner = (RT.PARAM, "shop.views.not_sql", "runner")
    for level in ("high", "medium"):
        assert typer.at(level).type_of(runner) is None
    assert typer.evidence(runner) is None
    assert typer.event(calls(proj, "not_sql")["runner.execute('make coffee')"]) is None


def test_save_and_refresh_on_an_unknown_value_are_medium_evidence(proj):
    typer = proj.index.typer
    c = calls(proj, "touch")
    save = c["obj.save(update_fields=['total'])"]
    assert typer.event(save) is None  # high: unknown stays silent
    assert typer.at("medium").event(save)[0] == EV.WRITE
    assert typer.evidence(save) == "medium"
    assert typer.at("medium").event(c["img.save('x.png')"]) is None  # PIL-like: a positional argument


def test_a_to_many_relation_unique_to_one_model_types_its_owner_at_medium(proj):
    thing = (RT.PARAM, "shop.views.tagged", "thing")
    assert proj.index.typer.type_of(thing) is None
    assert proj.index.typer.at("medium").type_of(thing) == (TK.INST, TAG)


# -- every assignment of a local -------------------------------------------------------------------
def test_a_local_keeps_its_type_across_reassignment_and_branches(proj):
    assert local(proj, "branches", "qs") == (TK.QS, BOOK)
    assert local(proj, "branches", "obj") == (TK.INST, BOOK)  # ``None`` first, then a Book
    assert local(proj, "branches", "mixed") is None  # Book or Author: disagree
    # a relation manager in one branch and a queryset in the other: rows of Book either way
    assert local(proj, "branches", "rows") == (TK.QS, BOOK)


# -- containers and framework handles --------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("first", (TK.INST, BOOK)), ("qs_first", (TK.INST, BOOK)), ("sliced", (TK.QS, BOOK)),
    ("sib", (TK.QS, BOOK)), ("dm", (TK.QS, BOOK)), ("bm", (TK.QS, BOOK)),
    ("m1", (TK.MODEL, BOOK)), ("m2", (TK.MODEL, TAG)), ("m3", None), ("ct", None),
    ("same", (TK.MODEL, BOOK)), ("differ", None), ("cls", (TK.MODEL, BOOK)),
])
def test_containers_descriptors_and_dynamic_model_handles(proj, name, expected):
    assert local(proj, "containers", name) == expected


def test_a_loop_over_a_list_of_instances_binds_instances(proj):
    scope, node = fn_scope(proj, "containers")
    loop = next(n for n in ast.walk(node) if isinstance(n, ast.For))
    element = (RT.ITER, scope.ref_of(loop.iter))
    assert proj.index.typer.type_of(element) == (TK.INST, BOOK)


# -- call sites ------------------------------------------------------------------------------------
def test_parameters_are_typed_from_call_sites_that_agree(proj):
    typer = proj.index.typer
    assert typer.type_of((RT.PARAM, "shop.views.describe", "book")) == (TK.INST, BOOK)
    assert typer.evidence((RT.PARAM, "shop.views.describe", "book")) == "high"
    assert typer.type_of((RT.PARAM, "shop.views.describe", "label")) is None  # strings: not kept
    assert typer.type_of((RT.PARAM, "shop.views.loose", "thing")) is None  # Book or Author
    assert typer.type_of((RT.PARAM, "shop.views.spread", "item")) is None  # ``spread(*args)``


# -- names (medium only) ---------------------------------------------------------------------------
def test_a_parameter_named_like_one_model_is_medium_evidence(proj):
    typer = proj.index.typer
    invoice = (RT.PARAM, "shop.views.touch", "invoice")
    assert typer.type_of(invoice) is None
    assert typer.at("medium").type_of(invoice) == (TK.INST, "shop.models.Invoice")
    assert typer.evidence(invoice) == "medium"
    refresh = calls(proj, "touch")["invoice.refresh_from_db()"]
    assert typer.event(refresh) is None and typer.at("medium").event(refresh)[0] == EV.QUERY


@pytest.mark.parametrize("level", ["high", "medium"])
def test_foreign_sessions_and_objects_stay_silent_at_every_level(proj, level):
    typer = proj.index.typer.at(level)
    c = calls(proj, "foreign")
    for text in ("s.get(url)", "bucket.objects.filter(Prefix=url)", "bucket.objects.filter(Prefix=url).delete()",
                 "bucket.Object(url).delete()"):
        assert typer.event(c[text]) is None, text
    t = calls(proj, "touch")
    for text in ("bucket.objects.filter(Prefix='x')", "session.get('https://example.com')"):
        assert typer.event(t[text]) is None, text
    assert typer.type_of((RT.PARAM, "shop.views.touch", "session")) is None
    assert typer.type_of((RT.PARAM, "shop.views.touch", "bucket")) is None


# -- end to end: what the default (high) output gains ----------------------------------------------
LOOPS = {
    "app/__init__.py": "",
    "app/models.py": MODELS,
    "app/settings.py": "DATABASES = {}\n",
    "app/views.py": """\
        from app.models import Book


        def per_id(conn, ids):
            out = []
            for i in ids:
                out.append(conn.execute("SELECT title FROM app_book WHERE id = %s", (i,)))  # new MDB301
            return out


        def filtered(flag):
            qs = Book.objects.all()
            if flag:
                qs = qs.filter(title="x")
            return [b.author.name for b in qs]  # new MDB302


        def loaded(flag):
            qs = Book.objects.all()
            if flag:
                qs = qs.select_related("author")
            return [b.author.name for b in qs]  # one branch loads author: silent


        def tag_count(book):
            return book.tags.count()  # ``book`` typed from its only caller


        def caller():
            return [tag_count(b) for b in Book.objects.filter(title="x")]  # new MDB302
        """,
}


def test_end_to_end_findings(tmp_path):
    root = tmp_path / "e2e"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in LOOPS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(src))
    config.clear_caches()
    result = check_paths([str(root)], CheckOptions(use_cache=False, jobs=1))
    source = (root / "app/views.py").read_text().splitlines()
    found = {(f.code, source[f.span.line - 1].split("#")[-1].strip()) for f in result.findings
             if f.path.endswith("views.py")}
    assert ("MDB301", "new MDB301") in found
    assert ("MDB302", "new MDB302") in found
    assert not any("silent" in why for _code, why in found)
    assert sorted(f.code for f in result.findings if f.path.endswith("views.py")) == ["MDB301", "MDB302", "MDB302"]
