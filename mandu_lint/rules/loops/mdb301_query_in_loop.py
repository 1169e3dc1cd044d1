"""MDB301: a database query executed once per loop iteration."""
from __future__ import annotations

import ast
import os

from ...core.loading import covers, relation_path
from ...core.loading import strip_all as _strip_all
from . import template_views
from .served import served
from .templates import evaluate
from .per_row import loop_eager
from ...core.bounded import is_batched_call
from ...model import Location, Span
from ...core.messages import BUILTIN_EVAL, brief
from ..base import Rule
from ...project.contexts import ONE_OFF
from ...project.flags import from_node as flags_from_node
from .writes import BULK_WHAT, bulk_fallback, is_bulk, table_per_pass
from ...core.tags import EV, TK

# Methods of a prefetched related manager that read Django's prefetch cache (no query).
CACHE_READS = frozenset("all count exists first last acount aexists afirst alast".split())
# Reads of a queryset already evaluated in this pass that Django answers from its result cache
# (``first``/``last`` only when the model is ordered: otherwise they order by pk and query).
EVALUATED_READS = frozenset("all count exists acount aexists".split())
QUERYSETS = ("qs", "manager", "relmgr", "saquery")


class QueryInLoop(Rule):
    """
    ## What it does
    Finds a database query that runs on every pass of a `for`/`async for`/`while` loop or a
    comprehension: Django `Model.objects…` chains that are evaluated (`get`, `first`, `count`,
    `exists`, `create`, iteration, `list()`/`len()` of a fresh queryset, the async `aget`/`acount`…),
    related managers, SQLAlchemy `session.query/execute/scalars/scalar/get`, `Model.query…`,
    SQLModel `session.exec`, DB-API `cursor.execute`/`conn.execute` and asyncpg
    `fetch/fetchrow/fetchval/execute` — and calls to project functions that run such a query,
    however many calls away (reported at the call in the loop, naming the function).

    Django templates are per-row code too: a project template tag or filter (`@register.filter`,
    `@register.simple_tag`, `@register.inclusion_tag` or `register.filter("name", func)` in a
    `templatetags` package) whose function runs a query, used inside a template's `{% for %}`
    over rows a view hands to the template (the view sites MDB302 reads: `render()`,
    `TemplateResponse`, list and detail views, `get_context_data()`), runs that query on every
    row — also when it sits in a template the loop `{% include %}`s.

    Primary location: the call (or the iterated expression) inside the loop. For a template, where
    the template is rendered (the `render()` call, the `return`, or the view class), with the
    template line, the rows' query and the tag's own query as related locations (the rows' query
    itself is where MDB302 reports the relations the template reads).

    ## Why is this bad?
    One round trip per row turns a page of 50 rows into 51 queries; latency grows with the data
    and the database does the same work 50 times. Fetch what the loop needs in one query before it
    (`filter(pk__in=ids)`, `in_bulk()`, a join, `select(...).where(col.in_(ids))`), or use bulk
    operations for writes.

    ## Known problems
    A loop whose every pass also waits on another service (an HTTP, storage, Git-host, mail-box,
    SSH or chat client called in the pass, directly or through project functions a few calls
    away) is not reported: the round trip, not the query, is its cost (on the tune apps this
    removes 10 judged findings, all negligible, and no true one).
    Nor is code in a module-level class nothing in the project uses, or in a method of a model or
    plain project class that no code, test, string, script or configuration file (a YAML
    schedule, `pyproject.toml`, a `Procfile`) names (dead code; a method without arguments also
    needs a project with templates, none of which writes its name).
    Reported at `medium` confidence only (`--confidence medium`): in a blind triage of real apps
    almost every finding was a true per-row query over a handful of rows (a form's fields, one
    object's relations, a config list) or in one-off code, which maintainers would not change.
    Holdout round 3 (11 unseen apps, 2026-12-04) measured a stricter `high`: per-row work in a
    request or task over rows that grow with users' data (a user- or tenant-keyed model, the
    table's or the requesting user's rows, not one object's children, rows picked by key or a
    constant slice). On 0.82 M lines it gave this rule no default finding and the family 6, 1
    true; it was withdrawn and the rule stays `medium`.
    Template tags are found by their registered name across the project's `templatetags`
    modules: `{% load %}` is not followed, a name two libraries register is left out, and tags
    compiled with `@register.tag` (a parser function), Jinja filters and globals, and tags used in
    a loop over anything but a view's rows (a literal, a context processor's value) are not read.
    Receivers are resolved, never guessed: a call on something whose origin the index cannot
    trace (an untyped parameter, a dynamic attribute) is not reported. Loops that run a fixed,
    small number of times (a literal tuple, `range(3)`, a display of up to 200 constants such as
    a list of `(name, sql)` pairs, a parameter every project call passes a literal of a few
    constants or a module constant bound to one, the rows of a query cut to at most 20 —
    `qs[:10]`, `.limit(5)`, a `limit=10` default every caller keeps), loops that always leave on
    their first pass, a query in a block that always leaves the loop (`if match: row =
    q.first(); return row`; a `continue` in the block keeps it), retry loops (`try: …; break`,
    or a `while` that draws a random code until one is free), and `while True:`/polling loops
    (batch workers that sleep or page through a table on purpose) and the row-by-row fallback in
    the `except` of a failed bulk write are not reported.
    `cursor.fetch*()` reads rows of a query already executed and is not counted, nor are schema
    statements (`CREATE`/`DROP`/`ALTER`), `executemany()` batches and one statement per table
    when the loop names the table (`f"SELECT count(*) FROM {table}"`, or a local taken from the
    loop variable such as `table_name = table[0]`, or a SQLAlchemy statement built on the loop's
    model or table: `select(model)`, `table.delete()`); nor is a query over a chunk of ids
    (`.in_(ids[i : i + 1000])` in `for i in range(0, len(ids), 1000)`).
    Functions decorated with a cache (`lru_cache`, `cache`, `cached_property`), and functions
    that fill a class- or module-level store on a miss (`if k not in cls._by_lang:
    cls._by_lang[k] = load(k)`), are assumed not to query per call (a cache on the instance,
    `self._x`, is per row and does not count). A query in a polling loop (a `while` that sleeps)
    waits for a row and is not per row of an outer loop; `chunks = chunked(ids, n)` then `for
    chunk in chunks` is a walk over chunks; a `while` that hands its query the ids it collected
    from the previous pass's rows walks a tree one level per query, and one that asks for a page
    of a fixed size (`page_size=1000`, `.limit(500)`) reads a page per pass. A method or helper
    whose only queries read relations of the loop's row that the loop's query loaded
    (`b.tag_count()` after `prefetch_related("tags")`) is not reported. More specific rules
    (MDB302 lazy relation, MDB303 write per iteration, MDB304 prefetch bypassed, MDB404 commit
    in a loop) take the nodes they own when they are enabled.

    ## Example
    ```python
    def totals(author_ids):
        out = {}
        for author_id in author_ids:
            out[author_id] = Book.objects.filter(author_id=author_id).count()
        return out
    ```

    ## Use instead
    ```python
    from django.db.models import Count

    def totals(author_ids):
        rows = (Book.objects.filter(author_id__in=author_ids)
                .values("author_id").annotate(n=Count("id")))
        return {r["author_id"]: r["n"] for r in rows}
    ```

    ## Fix safety
    No automatic fix: the right rewrite depends on what the loop does with the rows.
    """

    code = "MDB301"
    name = "query-in-loop"
    summary = "Database query executed once per loop iteration"
    precision = "medium"  # blind triage of real apps: almost every finding was true but immaterial
    quiet_in = ONE_OFF  # one-off code pays its per-row cost once (tune verdicts in commands: 1 of 32 true)
    tags = ("performance", "n+1")
    yields_to = ("MDB302", "MDB303", "MDB304", "MDB404")

    BAD = [
        {
            "shop/models.py": """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=50)
""",
            "shop/views.py": """
from shop.models import Author, Book
from shop.helpers import first_book

def counts(ids):
    return [Book.objects.filter(author_id=i).count() for i in ids]  # error

def titles(authors):
    out = []
    for a in Author.objects.all():
        out.append(first_book(a.pk))  # error
        for b in a.books.filter(title__startswith="A"):  # error
            out.append(b.title)
    return out

async def acounts(ids):
    for i in ids:
        await Book.objects.filter(author_id=i).acount()  # error
""",
            "shop/helpers.py": """
from shop.models import Book

def first_book(author_id):
    return Book.objects.filter(author_id=author_id).first()
""",
        },
        {
            "app/db.py": """
from sqlalchemy.orm import Session, DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)

def names(session: Session, ids):
    for i in ids:
        user = session.get(User, i)  # error
        yield user
""",
            "app/raw.py": """
import sqlite3

def load(ids):
    conn = sqlite3.connect("app.db")
    cur = conn.cursor()
    rows = []
    for i in ids:
        cur.execute("SELECT * FROM t WHERE id = ?", (i,))  # error
        rows.append(cur.fetchone())
    return rows
""",
        },
    ]
    GOOD = [
        {
            "shop/models.py": """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
""",
            "shop/views.py": """
import requests
import boto3
from shop.models import Author, Book

def fine(ids, urls):
    books = Book.objects.filter(author_id__in=ids)          # lazy, built once
    for a in Author.objects.prefetch_related("books"):
        print(a.books.count(), list(a.books.all()))       # prefetched: no query
    for status in ("draft", "published"):
        Book.objects.filter(title=status).count()          # fixed, small loop
    for i in ids:
        qs = Book.objects.filter(author_id=i)              # built, not evaluated
    for attempt in range(5):
        try:
            return Book.objects.get(pk=ids[0])
        except Exception:
            continue
    session = requests.Session()
    bucket = boto3.resource("s3").Bucket("b")
    for url in urls:
        session.get(url)                                   # HTTP, not a database
        bucket.objects.filter(Prefix=url)                  # S3, not a database
    for x in ids:
        return Book.objects.get(pk=x)                      # leaves on the first pass
""",
        },
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self._flushes = []  # for each enclosing ``if``: is it a "buffer is full, flush it" branch?
        self._evaluated = {}  # id(loop frame) -> queryset names evaluated so far in this pass
        self._tag_reported = set()  # (view query line, col, tag function) reported for a template

    # -- per-row contexts ---------------------------------------------------------------------------
    def _frame(self):
        frame = self.ctx.reporting_frame()
        if frame is not None and (bulk_fallback(self.ctx, frame) or self.ctx.waits_on_network(frame)):
            return None
        return frame

    def leave_If(self, node: ast.If) -> None:
        self._flushes.pop()

    def visit_Call(self, node: ast.Call) -> None:
        if not self.ctx.loops:
            self._template_site(template_views.render_site(self.ctx, node), node)
        frame = self._frame()
        if frame is not None and isinstance(node.func, ast.Name) and node.func.id in BUILTIN_EVAL and node.args:
            self._mark_evaluated(node.args[0], frame)
        if frame is None or any(self._flushes) or is_batched_call(node, frame) or is_bulk(node):
            return  # ``executemany(sql, rows)`` in a pass: one batch per group, not a query per row
        _ref, _t, ev = self.ctx.call_info(node)
        if ev is None:
            return
        if ev[0] == EV.WRITE and "MDB303" in self.ctx.enabled:
            return  # MDB303 decides about writes, including the ones it deliberately leaves alone
        if ev[0] in (EV.QUERY, EV.WRITE):
            if self._cached(node, frame) or self._statement_per_pass(node, frame):
                return
            verb = "writes to the database" if ev[0] == EV.WRITE else "runs a query"
            text = brief(node)
            self.report(node, f"`{text}` {verb} on every iteration of the loop on line "
                              f"{frame.node.lineno}; {_advice(ev[0], text)}")
        elif ev[0] == EV.CALL:
            self._helper(node, ev[1], frame)

    # -- Django templates: a custom tag or filter that queries, used on every row ------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for site in template_views.class_sites(self.ctx, node):
            self._template_site(site, node)

    def visit_Return(self, node: ast.Return) -> None:
        for site in template_views.return_sites(self.ctx, node):
            self._template_site(site, node)

    def _template_site(self, site, at: ast.AST) -> None:
        """Rows handed to a template whose loop runs a project tag or filter that queries: reported
        where the template is rendered (``at``: the call, the ``return`` or the view class), not
        at the rows' query, which MDB302 reports for the relations the template reads lazily."""
        ctx = self.ctx
        _reads, calls = evaluate(ctx, site)
        for call in calls:
            if call.src not in site.sources:
                continue
            src, node = site.sources[call.src]
            key = (at.lineno, at.col_offset, node.lineno, node.col_offset, call.tag.func)
            found = ctx.typer.queries(call.tag.func)
            if found is None or key in self._tag_reported:
                continue
            self._tag_reported.add(key)
            kind, what, where, line = found
            where_path = ctx.index.func_path.get(where, "")
            related = [Location(call.path, Span(call.line, call.col, call.line, call.col),
                                f"`{call.text}` runs `{call.tag.func.rsplit('.', 1)[-1]}()` once per row"),
                       Location(ctx.path, Span(node.lineno, node.col_offset, node.lineno, node.col_offset),
                                f"the rows: `{src.text}`")]
            if where_path:
                related.append(Location(str(ctx.project.root / where_path), Span(line, 0, line, 0),
                                        f"{what} in {where}"))
            tpl = os.path.relpath(call.path, str(ctx.project.root))
            verb = "writes to the database" if kind == "write" else "runs a query"
            self.report(at, f"template `{site.templates[0]}` runs `{call.text}` on every row of `{src.text}` "
                            f"({tpl}:{call.line}): `{where}` {verb} ({what}), one per row; compute what the tag "
                            "needs for all rows in the view (an annotation, a prefetch, one query keyed by row) "
                            "and read it from each row", related=tuple(related))

    def _helper(self, node: ast.Call, func: str, frame) -> None:
        found = self.ctx.typer.queries(func, flags_from_node(self.ctx.index, func, self.ctx.ref(node), node))
        if found is None or served(self.ctx, node):
            return
        kind, what, where, line = found
        if BULK_WHAT.search(what):
            return  # the helper sends its rows as one batch (``executemany``, ``bulk_create``)
        path = self.ctx.index.func_path.get(where, "")
        site = f"{path}:{line}" if path else f"line {line}"
        related = ()
        if path:
            abspath = str(self.ctx.project.root / path)
            related = (Location(abspath, Span(line, 0, line, 0), f"{what} in {where}"),)
        verb = "writes to the database" if kind == "write" else "runs a query"
        self.report(node, f"`{brief(node)}` {verb} on every iteration of the loop on line {frame.node.lineno} "
                          f"(`{where}` runs {what} at {site}); {_advice(kind)}", related=related)

    # -- querysets evaluated earlier in the same pass read Django's result cache ---------------------
    def _mark_evaluated(self, node: ast.AST, frame) -> None:
        if isinstance(node, ast.NamedExpr):
            self._evaluated.setdefault(id(frame), set()).add(node.target.id)
            node = node.value
        if isinstance(node, ast.Name):
            t = self.ctx.type_of(node)
            if t is not None and t[0] == TK.QS:
                self._evaluated.setdefault(id(frame), set()).add(node.id)

    def _is_evaluated(self, name: str, frame) -> bool:
        return name in self._evaluated.get(id(frame), ())

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            if isinstance(t, ast.Name):
                for names in self._evaluated.values():
                    names.discard(t.id)

    def visit_If(self, node: ast.If) -> None:
        self._flushes.append(_is_batch_flush(node))
        frame = self._frame()
        if frame is not None:
            self._mark_evaluated(node.test, frame)

    def _statement_per_pass(self, node: ast.Call, frame) -> bool:
        """``for sql in statements: cursor.execute(sql)`` (or ``f"SELECT … FROM {table}"`` over
        the loop's tables) runs different statements, not one query per row."""
        if not (isinstance(node.func, ast.Attribute) and node.func.attr in ("execute", "executemany")):
            return False
        return (bool(node.args) and isinstance(node.args[0], ast.Name) and node.args[0].id in frame.targets) \
            or table_per_pass(self.ctx, node, frame.targets)

    def _cached(self, node: ast.Call, frame) -> bool:
        """A read served from a cache instead of the database: a prefetched related manager, a
        queryset evaluated earlier in the same pass, or ``list()``/``len()`` of a queryset that
        was evaluated before the loop."""
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in CACHE_READS and self._prefetched(f.value):
            return True
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and self._is_evaluated(f.value.id, frame):
            return f.attr in EVALUATED_READS or (f.attr in ("first", "last") and self._ordered(f.value))
        if isinstance(f, ast.Name) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Name):
                return arg.id not in frame.assigned
            return self._prefetched(_strip_all(arg))
        return False

    def _prefetched(self, recv: ast.AST) -> bool:
        path, root = relation_path(_strip_all(recv))
        if root is None or not path:
            return False
        paths = loop_eager(self.ctx, root)
        return paths is not None and covers(paths, path)

    # -- iterating a fresh queryset inside a loop ---------------------------------------------------
    def visit_For(self, node) -> None:
        self._iterated(node.iter)
        frame = self._frame()
        if frame is not None:
            self._mark_evaluated(node.iter, frame)

    visit_AsyncFor = visit_For

    def visit_ListComp(self, node) -> None:
        self._iterated(node.generators[0].iter)
        frame = self._frame()
        if frame is not None:
            self._mark_evaluated(node.generators[0].iter, frame)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_comprehension(self, node: ast.comprehension) -> None:
        # the walker hands us only the inner generators, which run once per outer element
        self._iterated(node.iter)

    def _ordered(self, name: ast.Name) -> bool:
        t = self.ctx.type_of(name)
        cf = self.ctx.index.classes.get(t[1]) if t is not None and t[1] else None
        return bool(cf is not None and cf.meta.get("ordering"))

    def _iterated(self, it: ast.AST) -> None:
        frame = self._frame()
        if frame is None or any(self._flushes):
            return
        if isinstance(it, ast.Name) and (it.id not in frame.assigned or self._is_evaluated(it.id, frame)):
            return  # a queryset evaluated once is cached; re-iterating it does not query
        if isinstance(it, ast.Call) and is_batched_call(it, frame):
            return
        if isinstance(it, ast.Call) and self.ctx.call_info(it)[2] is not None:
            return  # the call itself is the query; visit_Call reports it
        t = self.ctx.type_of(it)
        if t is None or t[0] not in QUERYSETS:
            return
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and self._prefetched(it.func.value) \
                and it.func.attr == "all":
            return
        if isinstance(it, ast.Attribute) and self._prefetched(it):
            return
        self.report(it, f"iterating `{brief(it)}` runs a query on every iteration of the loop on line "
                        f"{frame.node.lineno}; {_advice('query')}")


def _is_batch_flush(node: ast.If) -> bool:
    """``if len(buf) >= 500: Model.objects.bulk_create(buf); buf = []``: one write per chunk,
    on purpose."""
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], (ast.GtE, ast.Gt, ast.Eq))):
        return False
    left = test.left
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len"
            and left.args and isinstance(left.args[0], ast.Name)):
        return False
    buf = left.args[0].id
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == buf for t in stmt.targets):
            return True
        if isinstance(stmt, ast.Call) and isinstance(stmt.func, ast.Attribute) and stmt.func.attr == "clear" \
                and isinstance(stmt.func.value, ast.Name) and stmt.func.value.id == buf:
            return True
    return False


def _advice(kind: str, callee: str = "") -> str:
    if kind == "write" and ".bulk_" in callee:
        return "collect the rows in the loop and write them once after it"
    if kind == "write":
        return "batch the writes (bulk_create/bulk_update/executemany or one set-based statement)"
    return "fetch the rows once before the loop"
