"""MDB402: a row lock taken where no transaction holds it."""
from __future__ import annotations

import ast
from typing import Optional

from .analysis import OUTSIDE
from .fix import atomic_fix
from .flow import Event, FlowView, before
from .base import TxRule

AUTOCOMMIT_KW = {"isolation_level": None, "autocommit": True}


class LockOutsideTransaction(TxRule):
    """
    ## What it does
    Finds row locks that protect nothing:

    - **Django**: `select_for_update()` evaluated outside `transaction.atomic()` in a function
      known to run outside a transaction (a view without `ATOMIC_REQUESTS`, a task, a command, a
      helper called outside `atomic`);
    - **SQLAlchemy / DB-API**: a row locked (`with_for_update()`, `session.get(...,
      with_for_update=True)`, `SELECT … FOR UPDATE`) and then its transaction committed before
      the write that needed the lock; or `SELECT … FOR UPDATE` on a connection opened in
      autocommit (`isolation_level=None`, `autocommit=True`).

    Primary location: the call that takes the lock.

    ## Why is this bad?
    A lock lasts until its transaction ends. In autocommit the `SELECT … FOR UPDATE` is its own
    transaction, so the lock is released before the code reads the row back; Django raises
    `TransactionManagementError` ("select_for_update cannot be used outside of a transaction") on
    PostgreSQL, MySQL and Oracle — SQLite ignores the lock, so the bug hides in development. A
    commit between the lock and the write lets another transaction change the row in between:
    the lost update the lock was meant to prevent.

    ## Known problems
    Opt-in (select it by code: `--select MDB402`): over the ten blind holdout rounds, 0 of 8
    judged `medium` findings were true, too few to show it even in the `medium` audit output.
    Reported at `medium` (`--confidence medium`): holdout round 6 (14 unseen apps, blind
    triage, 2026-12-04) judged its 5 default findings (3 call sites) false. The lock ran inside a
    transaction the analysis did not see: one caller holds the locking call in `atomic()` while
    another (a dry run) calls it outside without taking the lock, and a project function that
    returns `transaction.atomic(using=…)` opened the transaction. Neither a branch-dependent lock
    nor an app's own wrapper of `atomic()` is modelled.

    A function that builds and returns a locked queryset is not reported (its caller evaluates
    it). Functions whose transaction state is unknown (no project caller and not a view, task or
    command) stay silent.

    ## Example
    ```python
    def reserve(request, pk):
        item = Item.objects.select_for_update().get(pk=pk)
        item.stock -= 1
        item.save()
    ```

    ## Use instead
    ```python
    def reserve(request, pk):
        with transaction.atomic():
            item = Item.objects.select_for_update().get(pk=pk)
            item.stock -= 1
            item.save()
    ```

    ## Fix safety
    Unsafe (Django only): the lock and the writes after it are wrapped in `with
    transaction.atomic():` (or the function is decorated when they span its body). Holding the
    lock until the end of the block changes how concurrent requests wait.
    """

    code = "MDB402"
    name = "lock-outside-transaction"
    summary = "Row lock taken outside a transaction, or released by a commit before the write"
    precision = "medium"  # holdout round 6 (blind triage): 0 of 5 default findings true
    default = False  # opt-in: 0 of 8 judged findings true over holdout rounds 1-10 (`medium`, blind)
    tags = ("transactions", "concurrency")
    fixable = True

    BAD = [
        {
            "shop/settings.py": """
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}
""",
            "shop/models.py": """
from django.db import models

class Item(models.Model):
    stock = models.IntegerField(default=0)
""",
            "shop/views.py": """
from shop.models import Item

def reserve(request, pk):
    item = Item.objects.select_for_update().get(pk=pk)  # error
    item.stock -= 1
    item.save()
""",
        },
        """
import sqlite3

def take(conn: sqlite3.Connection, pk):
    row = conn.execute("SELECT * FROM item WHERE id = ? FOR UPDATE", (pk,)).fetchone()  # error
    conn.commit()
    conn.execute("UPDATE item SET stock = stock - 1 WHERE id = ?", (pk,))
    conn.commit()
""",
    ]
    GOOD = [
        {
            "shop/settings.py": """
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"}}
""",
            "shop/models.py": """
from django.db import models

class Item(models.Model):
    stock = models.IntegerField(default=0)
""",
            "shop/views.py": """
from django.db import transaction
from shop.models import Item

def reserve(request, pk):
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=pk)
        item.stock -= 1
        item.save()

def locked(pk):
    return Item.objects.select_for_update().filter(pk=pk)   # evaluated by the caller
""",
        },
    ]

    def check_function(self, view: FlowView) -> None:
        locks = [e for e in view.events if e.letter == "L"]
        for lock in locks:
            if lock.stack == "django":
                self._django(view, lock)
            else:
                self._released(view, lock)

    def _django(self, view: FlowView, lock: Event) -> None:
        if view.django_block(lock.node) is not None or _returned(view, lock.node):
            return
        entry = view.entry()
        if entry.state != OUTSIDE:
            return
        writes = [e.node for e in view.events if e.letter == "W" and e.stack == "django" and before(view, lock, e)]
        fix = None
        if not any(e.letter == "S" for e in view.events):
            fix = atomic_fix(view, [lock.node] + writes, "the lock and the writes it protects")
        self.report(lock.node, f"{lock.what} outside a transaction ({entry.why}): in autocommit the lock is "
                               "released at once, and Django raises `TransactionManagementError` on databases "
                               "that lock rows; take it inside `transaction.atomic()`", fix=fix)

    def _released(self, view: FlowView, lock: Event) -> None:
        if lock.stack == "dbapi" and _autocommit(view, lock.node):
            self.report(lock.node, f"{lock.what} on an autocommit connection: the lock ends with the statement; "
                                   "open a transaction first")
            return
        rest = [e for e in view.events if e.stack == lock.stack and before(view, lock, e)]
        for k, c in enumerate(rest):
            if c.letter != "C":
                continue
            later = [e for e in rest[k + 1:] if e.letter in ("W", "C") and before(view, c, e)]
            if later:
                self.report(lock.node, f"the lock taken by {lock.what} is released by {c.what} (line "
                                       f"{c.node.lineno}) before the write on line {later[0].node.lineno}: "
                                       "another transaction can change the row in between; commit after "
                                       "the write")
                return


def _returned(view: FlowView, node: ast.AST) -> bool:
    """The locked queryset leaves the function unevaluated (returned, or a name returned)."""
    stmt = view.statement(node)
    if isinstance(stmt, ast.Return):
        top = node
        while view.parent(top) is not None and isinstance(view.parent(top), (ast.Call, ast.Attribute)):
            top = view.parent(top)
        return not _evaluates(top, node)
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        name = stmt.targets[0].id
        return any(isinstance(n, ast.Return) and isinstance(n.value, ast.Name) and n.value.id == name
                   for n in ast.walk(view.fnode))
    return False


def _evaluates(top: ast.AST, lock: ast.AST) -> bool:
    return isinstance(top, ast.Call) and top is not lock and isinstance(top.func, ast.Attribute) and \
        top.func.attr in ("get", "first", "last", "update", "count", "exists", "aget", "afirst")


def _autocommit(view: FlowView, call: ast.Call) -> bool:
    """The receiver is a connection made in this function with ``isolation_level=None`` or
    ``autocommit=True`` (or a cursor of one), or set ``conn.autocommit = True``."""
    recv: Optional[ast.AST] = call.func.value if isinstance(call.func, ast.Attribute) else None
    for _ in range(3):
        if isinstance(recv, ast.Name):
            if _sets_autocommit(view, recv.id):
                return True
            recv = view.scope.value_of(recv.id)
        if isinstance(recv, ast.Await):
            recv = recv.value
        if not isinstance(recv, ast.Call):
            return False
        for k in recv.keywords:
            if k.arg in AUTOCOMMIT_KW and isinstance(k.value, ast.Constant) and k.value.value is AUTOCOMMIT_KW[k.arg]:
                return True
        recv = recv.func.value if isinstance(recv.func, ast.Attribute) and recv.func.attr == "cursor" else None
    return False


def _sets_autocommit(view: FlowView, name: str) -> bool:
    for n in ast.walk(view.fnode):
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and n.value.value is True:
            for t in n.targets:
                if isinstance(t, ast.Attribute) and t.attr == "autocommit" and isinstance(t.value, ast.Name) \
                        and t.value.id == name:
                    return True
    return False
