"""MDB305 (opt-in): ``qs.count()`` compared with 0 or 1 to test whether rows exist."""
from __future__ import annotations

import ast
from typing import Optional

from ...core.messages import brief
from ...core.tags import TK
from ...model import Edit, Fix, FixSafety
from ..base import Rule

_QUERYSETS = (TK.QS, TK.MANAGER, TK.RELMGR)
_MODELS = """
from django.db import models

class Book(models.Model):
    title = models.CharField(max_length=50)
"""


class CountForExistence(Rule):
    """
    ## What it does
    Finds a Django queryset's `count()` compared with 0 or 1 only to learn whether any row
    exists: `qs.count() > 0`, `qs.count() >= 1`, `qs.count() != 0`, `qs.count() == 0`,
    `qs.count() < 1`, `qs.count() <= 0` (either side of the comparison).

    Primary location: the comparison.

    ## Why is this bad?
    `COUNT(*)` reads every matching row (or index entry) to produce a number the code throws
    away; `EXISTS` (`qs.exists()`) stops at the first row. On large tables the difference is
    the whole scan.

    ## Known problems
    Only receivers the typer resolves to a Django queryset, manager or related manager are
    judged; SQLAlchemy `query.count()` is not. A count that is also used as a number elsewhere
    is still reported: keep the count there and test existence with `exists()`. Judges every
    execution context. Opt-in: the cost is real only on large tables.

    ## Example
    ```python
    if Book.objects.filter(author=a).count() > 0:
        ...
    ```

    ## Use instead
    ```python
    if Book.objects.filter(author=a).exists():
        ...
    ```

    ## Fix safety
    Safe: `exists()` answers the same question on the same queryset (from the result cache when
    the queryset was already evaluated, like `count()`).
    """

    code = "MDB305"
    name = "count-for-existence"
    summary = "Queryset count compared with 0 to test existence"
    default = False
    precision = "high"
    tags = ("performance",)
    fixable = True
    BAD = [{
        "shop/models.py": _MODELS,
        "shop/views.py": """
from shop.models import Book

def has_books(title):
    if Book.objects.filter(title=title).count() > 0:  # error
        return True
    return Book.objects.count() == 0  # error
""",
    }]
    FIXED = [{
        "shop/views.py": """
from shop.models import Book

def has_books(title):
    if Book.objects.filter(title=title).exists():  # error
        return True
    return not Book.objects.exists()  # error
""",
    }]
    GOOD = [{
        "shop/models.py": _MODELS,
        "shop/views.py": """
from shop.models import Book

def stats(title, items):
    total = Book.objects.filter(title=title).count()
    many = Book.objects.count() > 10
    return total, many, len(items) > 0, Book.objects.filter(title=title).exists()
""",
    }]

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) != 1:
            return
        verdict = _existence_test(node.left, node.ops[0], node.comparators[0])
        if verdict is None:
            return
        call, negated = verdict
        recv = call.func.value
        t = self.ctx.type_of(recv)
        if t is None or t[0] not in _QUERYSETS:
            return
        text = ast.get_source_segment(self.ctx.source, recv)
        if text is None or "\n" in text:
            return
        new = f"{'not ' if negated else ''}{text}.exists()"
        fix = Fix(FixSafety.SAFE, f"use `{new}`", (Edit(self.ctx.span(node), new),))
        self.report(node, f"`{brief(call)}` counts every matching row to test whether one exists; "
                          f"use `{brief(recv)}.exists()`, which stops at the first", fix=fix)


_EXISTS = {(ast.Gt, 0), (ast.GtE, 1), (ast.NotEq, 0)}  # count OP n  → rows exist
_MISSING = {(ast.Eq, 0), (ast.Lt, 1), (ast.LtE, 0)}  # count OP n  → no row
_MIRROR = {ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


def _existence_test(left: ast.AST, op: ast.cmpop, right: ast.AST) -> Optional[tuple]:
    """(the ``count()`` call, negated?) when ``left op right`` only tests existence."""
    if _is_count(right) and isinstance(left, ast.Constant):  # 0 < qs.count()
        left, right, op = right, left, _MIRROR[type(op)]()
    if not _is_count(left) or not isinstance(right, ast.Constant) or type(right.value) is not int:
        return None
    key = (type(op), right.value)
    if key in _EXISTS:
        return left, False
    if key in _MISSING:
        return left, True
    return None


def _is_count(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "count" \
        and not node.args and not node.keywords
