"""MDB408: a database error caught and swallowed inside a transaction, without a savepoint."""
from __future__ import annotations

import ast
from typing import List, Optional

from ...core.refs import iter_local_nodes
from .analysis import INSIDE
from .calls import catches, origin
from .flow import FlowView
from .framework import OWN_ATOMIC_CALL
from .base import TxRule
from ...core.tags import EV

# get_or_create()/update_or_create() insert inside their own savepoint (``framework.OWN_ATOMIC``):
# their IntegrityError leaves the outer transaction usable.
SET_ROLLBACK = frozenset({"django.db.transaction.set_rollback", "django.db.transaction.savepoint_rollback"})


class ErrorSwallowedInTransaction(TxRule):
    """
    ## What it does
    Finds an `except` clause that catches a database error (or anything broader) raised by a
    database call inside a transaction — a `with transaction.atomic()` block, an `@atomic`
    function, a function every caller runs inside one, a `with session.begin()` block — when the
    call has no savepoint of its own (`with transaction.atomic():` / `session.begin_nested()`
    inside the `try`), and the handler neither re-raises nor rolls back.

    Primary location: the `except` clause.

    ## Why is this bad?
    After a failed statement PostgreSQL aborts the whole transaction: every later query fails
    with "current transaction is aborted", and Django raises `TransactionManagementError` on the
    next query in the block. SQLAlchemy's session refuses to continue until `rollback()`
    (`PendingRollbackError`). The handler meant to recover leaves the request broken instead —
    or, on databases that do not abort, commits a half-done transaction.

    ## Known problems
    Opt-in (select it by code: `--select MDB408`): over the ten blind holdout rounds, 1 of 34
    judged `medium` findings were true, too few to show it even in the `medium` audit output.
    A broad `except Exception` is reported only when the `try` holds a write (a read failing
    with a database error is rare; `DoesNotExist` is not one). `transaction.set_rollback(True)`
    or `session.rollback()` in the handler counts as handling it.

    ## Example
    ```python
    @transaction.atomic
    def import_rows(rows):
        for row in rows:
            try:
                Item.objects.create(**row)
            except IntegrityError:
                log.warning("duplicate %s", row)
    ```

    ## Use instead
    ```python
    @transaction.atomic
    def import_rows(rows):
        for row in rows:
            try:
                with transaction.atomic():  # a savepoint: only this row rolls back
                    Item.objects.create(**row)
            except IntegrityError:
                log.warning("duplicate %s", row)
    ```

    ## Fix safety
    No automatic fix: whether to add a savepoint, re-raise or roll back depends on what the
    handler is for.
    """

    code = "MDB408"
    name = "error-swallowed-in-transaction"
    summary = "Database error caught inside a transaction without a savepoint"
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    default = False  # opt-in: 1 of 34 judged findings true over holdout rounds 1-10 (`medium`, blind)
    tags = ("transactions", "consistency")

    BAD = [
        {
            "shop/models.py": """
from django.db import models

class Item(models.Model):
    sku = models.CharField(max_length=20, unique=True)
""",
            "shop/imports.py": """
from django.db import IntegrityError, transaction
from shop.models import Item

@transaction.atomic
def import_rows(rows):
    for row in rows:
        try:
            Item.objects.create(sku=row)
        except IntegrityError:  # error
            pass

def merge(rows):
    with transaction.atomic():
        try:
            Item.objects.filter(sku__in=rows).delete()
        except Exception:  # error
            print("failed")
""",
        },
    ]
    GOOD = [
        {
            "shop/models.py": """
from django.db import models

class Item(models.Model):
    sku = models.CharField(max_length=20, unique=True)
""",
            "shop/imports.py": """
from django.db import IntegrityError, transaction
from shop.models import Item

@transaction.atomic
def import_rows(rows):
    for row in rows:
        try:
            with transaction.atomic():
                Item.objects.create(sku=row)
        except IntegrityError:
            pass

def plain(rows):
    for row in rows:
        try:
            Item.objects.create(sku=row)        # autocommit: nothing to break
        except IntegrityError:
            pass

@transaction.atomic
def strict(row):
    try:
        Item.objects.create(sku=row)
    except IntegrityError:
        raise ValueError(row)

@transaction.atomic
def lookup(sku):
    try:
        return Item.objects.get(sku=sku)
    except Item.DoesNotExist:
        return None
""",
        },
    ]

    def visit_Try(self, node: ast.Try) -> None:
        view = self.view()
        if view is None:
            return
        for h in node.handlers:
            types = h.type.elts if isinstance(h.type, ast.Tuple) else ([h.type] if h.type is not None else [])
            kind = catches(self.ctx.index, [self.ctx.ref(t) for t in types], h.type is None)
            if kind is None or _reraises(h) or self._rolls_back(h):
                continue
            where = self._django(view, node, kind) or self._sqlalchemy(view, node, kind)
            if where:
                label = "a bare `except`" if h.type is None else f"`except {ast.unparse(h.type)}`"
                self.report(h, f"{label} swallows a database error {where} without a savepoint: the "
                               "transaction is left broken (later queries fail, or a half-done transaction "
                               "commits); wrap the statement in its own `with transaction.atomic():` "
                               "(`begin_nested()`), or re-raise")
                return

    def _django(self, view: FlowView, node: ast.Try, kind: str) -> Optional[str]:
        block = view.django_block(node)
        if block is None and not (kind == "db" and view.entry().state == INSIDE):
            return None
        ops = self._ops(view, node, kind, "django")
        if not ops:
            return None
        if block is None:
            return "in a function that always runs inside a transaction"
        return "inside `@transaction.atomic`" if block is view.fnode else \
            f"inside `transaction.atomic()` (line {block.lineno})"

    def _sqlalchemy(self, view: FlowView, node: ast.Try, kind: str) -> Optional[str]:
        if kind != "db":
            return None
        for e in view.events:
            if e.stack == "sa" and e.letter in ("W", "C") and isinstance(e.node, ast.Call) and \
                    _within(view, e.node, node.body) and not _savepoint(view, e.node, node):
                return "raised by the session"
        return None

    def _ops(self, view: FlowView, node: ast.Try, kind: str, stack: str) -> List[ast.AST]:
        """Database calls in the ``try`` body not protected by a savepoint inside it."""
        found = [e.node for e in view.events if e.stack == stack and e.letter in ("W", "L")
                 and _within(view, e.node, node.body) and not OWN_ATOMIC_CALL.search(e.what)]
        if kind == "db":
            for n in iter_local_nodes(node.body):
                if isinstance(n, ast.Call):
                    ev = self.ctx.call_info(n)[2]
                    if ev and ev[0] == EV.QUERY:
                        found.append(n)
        return [n for n in found if not _savepoint(view, n, node)]

    def _rolls_back(self, h: ast.ExceptHandler) -> bool:
        for n in iter_local_nodes(h.body):
            if isinstance(n, ast.Call):
                if isinstance(n.func, ast.Attribute) and n.func.attr == "rollback":
                    return True
                if origin(self.ctx.index, self.ctx.ref(n.func)) in SET_ROLLBACK:
                    return True
        return False


def _reraises(h: ast.ExceptHandler) -> bool:
    return any(isinstance(s, ast.Raise) for s in h.body)


def _within(view: FlowView, node: ast.AST, body: List[ast.stmt]) -> bool:
    ids = {id(s) for s in body}
    return any(id(a) in ids for a in [node] + view.ancestors(node))


def _savepoint(view: FlowView, node: ast.AST, try_node: ast.Try) -> bool:
    """A ``with atomic()``/``begin_nested()``/``begin()`` between the call and the ``try``."""
    for anc in view.ancestors(node):
        if anc is try_node:
            return False
        if isinstance(anc, (ast.With, ast.AsyncWith)) and view.with_kind(anc) in ("django", "sa", "sa-nested", "dbapi"):
            return True  # a savepoint, or a whole transaction that the block rolls back itself
    return False
