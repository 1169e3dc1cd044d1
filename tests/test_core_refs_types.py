"""Direct tests of the two vocabularies rules lean on: ``core.refs.Scope`` (what a name or an
expression is, without the project) and ``project.types.Typer`` (what a ref is, with it)."""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from mandu_lint import config
from mandu_lint.core.refs import INDEX, ModuleNames, Scope, chain, dotted, loop_element_ref
from mandu_lint.core.tags import EV, RT, TK
from mandu_lint.project.extract import function_scope, module_scope
from mandu_lint.runner import CheckOptions, load_project


def scope_of(source: str, module: str = "app.views") -> tuple:
    tree = ast.parse(textwrap.dedent(source))
    names = ModuleNames(module, False)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.add_import(node)
    return module_scope(names, tree), tree, names


def expr(source: str) -> ast.AST:
    return ast.parse(source, mode="eval").body


# -- Scope ------------------------------------------------------------------------------------
def test_imports_and_module_names_are_globals():
    scope, _, _ = scope_of("from shop.models import Book\nimport sqlite3 as db\n")
    nodes = [expr(x) for x in ("Book", "db.connect", "helper", "len")]
    assert [scope.ref_of(n) for n in nodes] == [
        (RT.GLOBAL, "shop.models.Book"), (RT.ATTR, (RT.GLOBAL, "sqlite3"), "connect"),
        (RT.GLOBAL, "app.views.helper"), (RT.GLOBAL, "builtins.len")]


def test_a_chain_is_attributes_and_calls_and_splits_back():
    scope, _, _ = scope_of("from shop.models import Book\n")
    ref = scope.ref_of(expr("Book.objects.filter(author=1).first()"))
    root, steps = chain(ref)
    assert root == (RT.GLOBAL, "shop.models.Book")
    assert [s[0] for s in steps] == [RT.ATTR, RT.ATTR, RT.CALL, RT.ATTR, RT.CALL]
    assert [s[2] for s in steps if s[0] == RT.ATTR] == ["objects", "filter", "first"]
    assert dotted(steps[0]) == "shop.models.Book.objects"


def test_literals_subscripts_and_unknowns():
    scope, _, _ = scope_of("x = 1\n")
    # the nodes stay alive: a frozen scope memoises refs by node identity, as during a walk
    lit, sub, part, other = expr("{1: 2}"), expr("rows[0]"), expr("rows[:2]"), expr("lambda: 1")
    few, many = expr("[1, 2]"), expr("[f(x) for x in y]")
    assert scope.ref_of(lit) == (RT.LIT,)
    assert scope.ref_of(few) == (RT.LIT, "few", 2)  # a fixed, small collection
    assert scope.ref_of(many) == (RT.LIT,)
    assert scope.ref_of(sub) == (RT.SUB, (RT.GLOBAL, "app.views.rows"), INDEX)  # an element
    assert scope.ref_of(part) == (RT.SUB, (RT.GLOBAL, "app.views.rows"))  # a slice
    assert scope.ref_of(other) is None  # unknown means unknown


def test_a_local_assigned_two_different_things_keeps_both():
    source = """
        from shop.models import Book, Author
        def view(flag):
            if flag:
                qs = Book.objects.all()
            else:
                qs = Author.objects.all()
            same = Book.objects
            same = Book.objects
            return qs, same
    """
    _, tree, names = scope_of(source)
    fn = tree.body[1]
    scope = function_scope(names, fn, "app.views.view", None, Scope(names), [])
    both = scope.lookup("qs")  # a conflict: the typer types it only when both agree (they do not)
    assert both[0] == RT.CONFLICT and len(both) == 3
    assert scope.lookup("same") == (RT.ATTR, (RT.GLOBAL, "shop.models.Book"), "objects")
    assert scope.lookup("flag") == (RT.PARAM, "app.views.view", "flag")


def test_methods_bind_self_and_loops_bind_elements():
    source = """
        from shop.models import Book
        class V:
            def get(self, request):
                for b in Book.objects.all():
                    pass
    """
    _, tree, names = scope_of(source)
    method = tree.body[1].body[0]
    scope = function_scope(names, method, "app.views.V.get", "app.views.V", Scope(names), [])
    assert scope.lookup("self") == (RT.SELF, "app.views.V")
    loop = method.body[0]
    assert loop_element_ref(scope, loop.iter)[0] == RT.ITER


# -- Typer ------------------------------------------------------------------------------------
MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
"""


@pytest.fixture(scope="module")
def typer(tmp_path_factory):
    root = tmp_path_factory.mktemp("typer") / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "mandu.yaml").write_text("")
    for rel, src in {"shop/models.py": MODELS, "shop/settings.py": "DATABASES = {}\n"}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(src))
        (path.parent / "__init__.py").touch()
    config.clear_caches()
    project = load_project(Path(root), None, CheckOptions(use_cache=False, jobs=1))
    return project.index.typer


BOOK = (RT.GLOBAL, "shop.models.Book")


def attr(base, name):
    return (RT.ATTR, base, name)


def call(base):
    return (RT.CALL, base, (), ())


def test_model_manager_queryset_instance(typer):
    assert typer.type_of(BOOK) == (TK.MODEL, "shop.models.Book")
    manager = attr(BOOK, "objects")
    assert typer.type_of(manager)[0] == TK.MANAGER
    assert typer.type_of(call(attr(manager, "filter"))) == (TK.QS, "shop.models.Book")
    assert typer.type_of(call(attr(manager, "get"))) == (TK.INST, "shop.models.Book")


def test_relations_resolve_both_ways(typer):
    book = call(attr(attr(BOOK, "objects"), "get"))
    assert typer.type_of(attr(book, "author")) == (TK.INST, "shop.models.Author")
    author = call(attr(attr((RT.GLOBAL, "shop.models.Author"), "objects"), "get"))
    assert typer.type_of(attr(author, "books"))[0] == TK.RELMGR


def test_events_of_calls(typer):
    manager = attr(BOOK, "objects")
    assert typer.event(call(attr(manager, "count")))[0] == EV.QUERY
    assert typer.event(call(attr(manager, "create")))[0] == EV.WRITE
    assert typer.event(call(attr(manager, "filter"))) is None  # lazy: no round trip yet


def test_foreign_objects_stay_unknown(typer):
    """``requests.Session`` and boto3's ``bucket.objects`` are never database handles."""
    assert typer.type_of(call((RT.GLOBAL, "requests.Session"))) in (None, (TK.EXT, "requests.Session"))
    bucket = attr(call(attr((RT.GLOBAL, "boto3.resource"), "Bucket")), "objects")
    assert typer.event(call(attr(bucket, "filter"))) is None
    assert typer.type_of(None) is None
