"""MDB409: a state checked, then changed and saved without a lock — consumed twice."""
from __future__ import annotations

import ast
from typing import Optional, Set

from .base import TxRule
from .flow import FlowView
from .race import read_unlocked, same_attribute, write_back
from ...core.messages import brief
from ...core.tags import TK

# lookups that say "only while the row is still in this state"
_STATE_SUFFIXES = ("__isnull",)


class CheckThenSet(TxRule):
    """
    ## What it does
    Finds a Django model instance whose state is checked — by the query that read it
    (`Invite.objects.get(token=t, used=False)`, `redeemed_at__isnull=True`,
    `status="pending"`) or by an `if` on the field (`if invite.used: raise …`) — and then
    changed (`invite.used = True`, `order.status = "paid"`) and saved (`invite.save()`), with no
    row lock and no conditional update, while the same pass also writes something else or has a
    side effect (a membership created, a payment recorded, an email sent). This covers
    consume-once rows (invitations, coupons, password-reset and magic-link tokens) and state
    transitions.

    Primary location: the assignment that changes the state.

    ## Why is this bad?
    Two concurrent requests both read the row in its old state, both pass the check and both
    save: a coupon is redeemed twice, an invitation creates two memberships, an order is paid or
    shipped twice. A transaction alone does not help — under READ COMMITTED both see the old
    row.

    ## Known problems
    Django only; the object must be read in the same function by a query the analysis can type,
    without `select_for_update()`. Code that re-checks with a conditional update elsewhere, or
    relies on a unique constraint to stop the second request, is reported anyway. Execution
    contexts are not distinguished (a single-process command cannot race with itself). A change
    with no other write or side effect in the pass is not reported: setting a flag twice ends
    where setting it once does. Opt-in and `medium`: a blind triage of 20 findings on tune apps
    (before that last condition existed) found none true — 8 FP (idempotent flag writes, checks
    that guard nothing) and 12 NEG (cosmetic statistics, harmless duplicates).

    ## Example
    ```python
    invite = Invite.objects.get(token=token, used=False)
    invite.used = True
    invite.save()
    ```

    ## Use instead
    ```python
    claimed = Invite.objects.filter(token=token, used=False).update(used=True)
    if claimed != 1:
        raise PermissionDenied("this invitation was already used")
    ```
    or read it with `select_for_update()` inside `transaction.atomic()`.

    ## Fix safety
    No fix: the code after the change usually needs the row, and whether a lost race is an error
    or a no-op is the application's decision.
    """

    code = "MDB409"
    name = "check-then-set"
    summary = "State checked, then changed and saved without a lock or a conditional update"
    default = False
    precision = "medium"  # new; not yet measured blind on real apps
    tags = ("concurrency", "consistency", "security")

    BAD = [
        {
            "shop/models.py": """
from django.db import models

class Team(models.Model):
    name = models.CharField(max_length=40)

class Invite(models.Model):
    token = models.CharField(max_length=40, unique=True)
    used = models.BooleanField(default=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE)

class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user = models.IntegerField()

class Order(models.Model):
    status = models.CharField(max_length=10, default="new")
    total = models.IntegerField(default=0)

class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    amount = models.IntegerField()
""",
            "shop/views.py": """
from django.http import Http404
from shop.models import Invite, Membership, Order, Payment

def accept(request, token):
    invite = Invite.objects.get(token=token, used=False)
    invite.used = True  # error
    invite.save()
    Membership.objects.create(team=invite.team, user=request.user)

def pay(request, pk):
    order = Order.objects.get(pk=pk)
    if order.status != "new":
        raise Http404
    order.status = "paid"  # error
    order.save(update_fields=["status"])
    Payment.objects.create(order=order, amount=order.total)
""",
        },
    ]
    GOOD = [
        {
            "shop/models.py": """
from django.db import models

class Invite(models.Model):
    token = models.CharField(max_length=40, unique=True)
    used = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    uses = models.IntegerField(default=0)
""",
            "shop/views.py": """
from django.db import transaction
from shop.models import Invite

def accept(request, token):
    claimed = Invite.objects.filter(token=token, used=False).update(used=True)
    return claimed == 1

def locked(request, token):
    with transaction.atomic():
        invite = Invite.objects.select_for_update().get(token=token, used=False)
        invite.used = True
        invite.save()

def annotate(request, token):
    invite = Invite.objects.get(token=token)
    invite.note = request.POST["note"]
    invite.save()

def fresh(request):
    invite = Invite(token="x")
    if not invite.used:
        invite.used = True
    invite.save()

def bump(request, token):
    invite = Invite.objects.get(token=token, used=False)
    if invite.uses >= 3:
        raise ValueError("used up")
    invite.uses = invite.uses + 1  # computed from itself: MDB407's lost update, not this rule
    invite.save()
    Invite.objects.create(token=token + "-next")

def deactivate(request, token):
    invite = Invite.objects.get(token=token, used=False)
    invite.used = True  # only the flag: setting it twice ends where setting it once does
    invite.save()
""",
        },
    ]

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Attribute):
            return
        target = node.targets[0]
        if not isinstance(target.value, ast.Name) or target.value.id in ("self", "cls"):
            return
        if any(same_attribute(n, target) for n in ast.walk(node.value)):
            return  # computed from its own value: MDB407's lost update
        view = self.view()
        if view is None:
            return
        t = view.type_of(target.value)
        if not (t and t[0] == TK.INST and t[1] in self.ctx.index.models):
            return
        model = self.ctx.index.models[t[1]]
        if model.orm != "django" or target.attr not in model.fields or target.attr in model.relations:
            return
        read = view.scope.value_of(target.value.id)
        read = read.value if isinstance(read, ast.Await) else read
        if not isinstance(read, ast.Call) or not read_unlocked(view, target.value):
            return
        how = self._checked(view, node, target, read)
        if how is None:
            return
        write = write_back(view, node, target.value, "django")
        if write is None:
            return
        also = self._consequence(view, node, write)
        if also is None:
            return  # only the flag changes: applying it twice leaves the same row (idempotent)
        obj = target.value.id
        self.report(node, f"`{obj}.{target.attr}` is checked ({how}) and then changed and saved by `{brief(write)}` "
                          f"(line {write.lineno}) with no row lock, and `{brief(also.node)}` (line {also.node.lineno}) "
                          f"runs once per pass: two concurrent requests both see the old state and both do it (a "
                          f"token used twice, a transition applied twice); change it with "
                          f"`{model.name}.objects.filter(pk={obj}.pk, <old state>).update({target.attr}=…)` and go "
                          "on only when one row was updated, or read it with `select_for_update()` inside "
                          "`transaction.atomic()`")

    @staticmethod
    def _consequence(view: FlowView, stmt: ast.stmt, write: ast.AST):
        """Another write or side effect after the check (a membership created, a payment, an
        email): what a second pass through the check repeats. Without one, changing the state
        twice ends where changing it once does."""
        for e in view.events:
            if e.node is write or not isinstance(e.node, ast.Call) or e.letter not in ("W", "S"):
                continue
            if view.may_follow(stmt, e.node) or view.may_follow(e.node, write):
                return e
        return None

    @staticmethod
    def _checked(view: FlowView, stmt: ast.stmt, target: ast.Attribute, read: ast.Call) -> Optional[str]:
        """How the state was checked before ``stmt``: by the read's lookup, or by an ``if``."""
        names: Set[str] = {target.attr, f"{target.attr}_id"}
        for n in ast.walk(read):
            if isinstance(n, ast.Call):
                for k in n.keywords:
                    if k.arg and (k.arg in names or any(k.arg == target.attr + s for s in _STATE_SUFFIXES)):
                        return f"the query on line {read.lineno} reads it only with `{k.arg}=…`"
        for n in ast.walk(view.fnode):
            if isinstance(n, (ast.If, ast.IfExp, ast.Assert)) and n.lineno < stmt.lineno and any(
                    same_attribute(m, target) for m in ast.walk(n.test)):
                return f"`if` on line {n.lineno}"
        return None
