"""MDB406: check that a row does not exist, then insert it — a race."""
from __future__ import annotations

import ast
from typing import List, Optional

from .flow import FlowView
from .race import created_model, checked_model, fix_get_or_create, guarded_insert
from ...core.messages import brief
from .base import TxRule
from ...core.tags import TK
from ...project.contexts import NOT_CONCURRENT

COMMANDS = "/management/commands/"
EXITS = (ast.Return, ast.Raise, ast.Continue)


class CheckThenInsert(TxRule):
    """
    ## What it does
    Finds an existence check followed by an insert of the same model on the path where the row
    was missing: `if not X.objects.filter(...).exists(): X.objects.create(...)`, `obj =
    X.objects.filter(...).first()` then `if obj is None: X.objects.create(...)`, `try:
    X.objects.get(...) except X.DoesNotExist: X.objects.create(...)`, and the SQLAlchemy forms
    (`session.scalar(select(X)...)` / `query(X).first()` then `session.add(X(...))`).

    Primary location: the check (the query that looks for the row).

    ## Why is this bad?
    Two requests can both see "no row" before either inserts: you get a duplicate (no unique
    constraint) or an `IntegrityError` that surfaces as a 500 (with one). A transaction does not
    help: under READ COMMITTED neither request sees the other's uncommitted insert.

    ## Known problems
    Not reported when the insert is inside a `try` that catches `IntegrityError` (or a broader
    error), when the check runs after a row lock in the same `atomic()` block, or in management
    commands (single process), start-up code (`AppConfig.ready()`, `post_migrate` receivers),
    seed and demo-data scripts. The model of the check and of the insert must resolve.

    ## Example
    ```python
    if not Membership.objects.filter(user=user, team=team).exists():
        Membership.objects.create(user=user, team=team, role="member")
    ```

    ## Use instead
    ```python
    Membership.objects.get_or_create(user=user, team=team, defaults={"role": "member"})
    ```
    backed by a unique constraint on `(user, team)`; with SQLAlchemy, `INSERT … ON CONFLICT DO
    NOTHING` (`insert(...).on_conflict_do_nothing(...)`) against a unique constraint.

    ## Fix safety
    Unsafe, and offered only when the lookup fields are unique in the model (`unique=True`,
    `primary_key`, `unique_together`) — otherwise `get_or_create` can itself race. It rewrites
    `if not X.objects.filter(**k).exists(): X.objects.create(**k, **rest)` into
    `X.objects.get_or_create(**k, defaults={...rest})`, which may raise
    `MultipleObjectsReturned` where duplicates already exist.
    """

    code = "MDB406"
    name = "check-then-insert"
    summary = "Existence check followed by an insert: a race between concurrent requests"
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    # a race needs two concurrent runs: not start-up (``post_migrate`` receivers), seed or demo data
    quiet_in = NOT_CONCURRENT
    tags = ("concurrency", "consistency")
    fixable = True

    BAD = [
        {
            "team/models.py": """
from django.db import models

class Member(models.Model):
    email = models.CharField(max_length=80, unique=True)
    role = models.CharField(max_length=20)
""",
            "team/services.py": """
from team.models import Member

def join(email):
    if not Member.objects.filter(email=email).exists():  # error
        Member.objects.create(email=email, role="member")

def invite(email):
    try:
        return Member.objects.get(email=email)  # error
    except Member.DoesNotExist:
        return Member.objects.create(email=email, role="guest")
""",
        },
        {
            "accounts/models.py": """
from django.db import models

class AccountManager(models.Manager):
    def create_user(self, username, password=None):
        user = self.model(username=username)
        user.save()
        return user

class Account(models.Model):
    username = models.CharField(max_length=80, unique=True)
    objects = AccountManager()
""",
            "accounts/actor.py": """
from accounts.models import Account

def representative():
    try:
        return Account.objects.get(username="instance")  # error
    except Account.DoesNotExist:
        return Account.objects.create_user(username="instance")
""",
        },
    ]
    GOOD = [
        {
            "team/models.py": """
from django.db import models

class Member(models.Model):
    email = models.CharField(max_length=80, unique=True)
    role = models.CharField(max_length=20)
""",
            "team/services.py": """
from django.db import IntegrityError
from team.models import Member

def join(email):
    Member.objects.get_or_create(email=email, defaults={"role": "member"})

def guarded(email):
    if not Member.objects.filter(email=email).exists():
        try:
            Member.objects.create(email=email, role="member")
        except IntegrityError:
            pass

def update(email):
    if Member.objects.filter(email=email).exists():
        Member.objects.filter(email=email).update(role="admin")
""",
        },
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        self._seen = set()

    def visit_If(self, node: ast.If) -> None:
        view = self.view()
        if view is None or COMMANDS in "/" + self.ctx.relpath:
            return
        found = checked_model(view, node.test)
        if found is not None:
            check, model = found
            insert = self._insert(view, node.body, model)
            if insert is not None and not self._handled(view, insert, node) and not self._locked(view, check):
                self._report(check, insert, model, fix_get_or_create(view, node, check, insert, model))
            return
        # ``if existing is not None: return existing`` then the insert further down the block
        found = checked_model(view, node.test, found=True)
        if found is None or node.orelse or not node.body or not isinstance(node.body[-1], EXITS):
            return
        check, model = found
        insert = self._insert(view, _rest_of_block(view, node), model)
        if insert is not None and not self._handled(view, insert, node) and not self._locked(view, check):
            self._report(check, insert, model, None)

    def visit_Try(self, node: ast.Try) -> None:
        view = self.view()
        if view is None or COMMANDS in "/" + self.ctx.relpath:
            return
        for call in (n for s in node.body for n in ast.walk(s) if isinstance(n, ast.Call)):
            t = view.type_of(call.func)
            if not (t and t[0] == TK.METHOD and t[2] in ("get", "aget") and t[1][0] in (TK.MANAGER, TK.QS)):
                continue
            model = t[1][1]
            for h in node.handlers:
                if h.type is not None and _names(h.type) & {"DoesNotExist", "ObjectDoesNotExist"}:
                    insert = self._insert(view, h.body, model)
                    if insert is not None and not self._handled(view, insert, node) and not self._locked(view, call):
                        self._report(call, insert, model, None)
                        return

    # -- helpers ------------------------------------------------------------------------------
    def _insert(self, view: FlowView, body: List[ast.stmt], model: str) -> Optional[ast.Call]:
        for stmt in body:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Call) and created_model(view, n) == model:
                    return n
        return None

    def _handled(self, view: FlowView, insert: ast.AST, check_stmt: ast.AST) -> bool:
        """The insert sits in a ``try`` that catches the duplicate (IntegrityError or broader)."""
        return guarded_insert(self.ctx, view, insert)

    @staticmethod
    def _locked(view: FlowView, check: ast.AST) -> bool:
        block = view.django_block(check)
        return any(e.letter == "L" and (block is None or view.django_block(e.node) is block)
                   and (e.node is check or view.may_follow(e.node, check) or _inside(e.node, check))
                   for e in view.events)

    def _report(self, check: ast.AST, insert: ast.AST, model: str, fix) -> None:
        if id(insert) in self._seen:
            return  # one report per insert (``get`` … ``except`` … ``get`` … ``except`` … ``create``)
        self._seen.add(id(insert))
        label = self.ctx.index.models[model].name
        self.report(check, f"`{brief(check)}` checks that a `{label}` row is missing, then `{brief(insert)}` "
                           f"(line {insert.lineno}) inserts it: two requests can both pass the check; use "
                           "`get_or_create`/`INSERT … ON CONFLICT` backed by a unique constraint, or lock",
                    fix=fix)


def _names(node: ast.AST) -> set:
    return {n.attr if isinstance(n, ast.Attribute) else n.id for n in ast.walk(node)
            if isinstance(n, (ast.Attribute, ast.Name))}


def _inside(inner: ast.AST, outer: ast.AST) -> bool:
    return any(n is inner for n in ast.walk(outer))


def _rest_of_block(view: FlowView, node: ast.stmt) -> List[ast.stmt]:
    """The statements after ``node`` in its block."""
    parent = view.parent(node)
    for name in ("body", "orelse", "finalbody"):
        block = getattr(parent, name, None)
        if isinstance(block, list) and node in block:
            return block[block.index(node) + 1:]
    return []
