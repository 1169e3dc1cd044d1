"""MDB304: a prefetched relation re-queried in the loop, bypassing the prefetch cache."""
from __future__ import annotations

import ast

from .served import cache_served
from .per_row import loop_eager, loop_source, rel_use
from ..base import Rule
from ...core.messages import brief
from ...core.tags import EV
from ...project.contexts import REQUEST

_MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    year = models.IntegerField()
"""


class PrefetchBypassed(Rule):
    """
    ## What it does
    Finds a relation that the iterated Django query prefetched (`prefetch_related("books")`,
    `Prefetch("books")`) but that the loop queries again with a method that builds a new query:
    `filter()`, `exclude()`, `order_by()`, `values()`/`values_list()`, `annotate()`,
    `aggregate()`, `get()`, `latest()`/`earliest()`, `first()`/`last()` on a model without
    `Meta.ordering`, and the like.

    Primary location: the call (or the iterated expression) that re-queries the relation.

    ## Why is this bad?
    Django serves only `all()` (and `count()`, `exists()`, iteration, `len()`) from the prefetch
    cache; any method that changes the query ignores it and runs one query per row. The prefetch
    then costs a query and saves nothing: the loop is an N+1 all the same.

    ## Known problems
    Only relations the loop's own query prefetched by name are checked (a dynamic
    `prefetch_related(*lookups)` is not). `first()`/`last()` read the cache when the related model
    is ordered (`Meta.ordering`), so they are reported only for unordered models. A
    `Prefetch(..., to_attr=...)` stores rows on another attribute: reading the manager afterwards
    is reported, since the prefetched list is what the loop should use.

    ## Example
    ```python
    for author in Author.objects.prefetch_related("books"):
        recent = author.books.filter(year__gte=2020)
    ```

    ## Use instead
    ```python
    from django.db.models import Prefetch

    recent = Book.objects.filter(year__gte=2020)
    for author in Author.objects.prefetch_related(Prefetch("books", queryset=recent, to_attr="recent")):
        recent_books = author.recent
    ```
    or filter in Python: `[b for b in author.books.all() if b.year >= 2020]`.

    ## Fix safety
    No automatic fix: whether to filter in Python or to prefetch a filtered queryset depends on
    the data.
    """

    code = "MDB304"
    name = "prefetch-bypassed"
    summary = "Prefetched relation re-queried in a loop"
    precision = "high"
    high_in = frozenset({REQUEST})
    tags = ("performance", "n+1")
    BAD = [
        {
            "shop/models.py": _MODELS,
            "shop/views.py": """
from shop.models import Author

def recent():
    out = {}
    for a in Author.objects.prefetch_related("books"):
        out[a.pk] = list(a.books.filter(year__gte=2020))  # error
        out[a.name] = a.books.order_by("year").last()  # error
    return out
""",
        },
    ]
    GOOD = [
        {
            "shop/models.py": _MODELS,
            "shop/views.py": """
from shop.models import Author

def recent():
    out = {}
    for a in Author.objects.prefetch_related("books"):
        out[a.pk] = [b for b in a.books.all() if b.year >= 2020]
        out[a.name] = a.books.count()
    for a in Author.objects.all():
        out[a.pk] = a.books.filter(year__gte=2020).count()   # not prefetched: MDB301's
    return out
""",
        },
    ]

    def visit_Call(self, node: ast.Call) -> None:
        if not self.ctx.loops:
            return
        _ref, _t, ev = self.ctx.call_info(node)
        if ev is None or ev[0] != EV.QUERY:
            return
        expr = node.args[0] if isinstance(node.func, ast.Name) and node.args else node
        self._check(node, expr)

    def visit_For(self, node) -> None:
        if self.ctx.loops:
            self._check(node.iter, node.iter)

    visit_AsyncFor = visit_For

    def visit_ListComp(self, node) -> None:
        if self.ctx.loops:
            self._check(node.generators[0].iter, node.generators[0].iter)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if self.ctx.loops:
            self._check(node.iter, node.iter)

    def _check(self, report: ast.AST, expr: ast.AST) -> None:
        got = rel_use(self.ctx, expr, self._rows)
        if got is None:
            return
        use, _src = got
        last = use.steps[-1]
        if last.orm != "django" or not last.rel.to_many or not use.ops or use.ops == ["all"]:
            return
        if cache_served(self.ctx.index, last, use.ops):
            return
        paths = loop_eager(self.ctx, use.var) or set()
        path = use.path
        if not any(p == path or p.startswith(path + "__") for p in paths):
            return
        frame = next(f for f in reversed(self.ctx.loops) if use.var in f.targets)
        owner = self.ctx.index.models[last.owner].name
        bypass = next((op for op in use.ops if op not in ("all",)), use.ops[-1])
        self.report(report, f"`{brief(report)}` re-queries `{owner}.{last.name}`, which the loop's query "
                            f"`{brief(frame.iter_node)}` (line {frame.node.lineno}) prefetched: `{bypass}()` ignores "
                            f"the prefetch cache and runs one query per row; {_advice(bypass, use.var, last.name)}")

    def _rows(self, var: str):
        """Any loop variable whose rows are model instances: what was prefetched is checked above."""
        return loop_source(self.ctx, var)


def _advice(op: str, var: str, rel: str) -> str:
    if op in ("first", "last", "afirst", "alast"):
        return f"take it from the cache (`next(iter({var}.{rel}.all()), None)`) or give the model a Meta.ordering"
    return (f"work on `{var}.{rel}.all()` in Python, or prefetch exactly these rows with "
            f"`Prefetch(\"{rel}\", queryset=..., to_attr=...)`")
