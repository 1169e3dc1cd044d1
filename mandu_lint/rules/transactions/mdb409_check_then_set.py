"""MDB409: a state checked, then changed and saved without a lock — consumed twice."""
from __future__ import annotations

import ast
from typing import Optional, Set

from .base import TxRule
from .flow import FlowView
from .race import read_unlocked, write_back
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
    row lock and no conditional update. This covers consume-once rows (invitations, coupons,
    password-reset and magic-link tokens) and state transitions.

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
    contexts are not distinguished (a single-process command cannot race with itself). Opt-in
    and `medium` until measured blind on real apps.

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

class Invite(models.Model):
    token = models.CharField(max_length=40, unique=True)
    used = models.BooleanField(default=False)

class Order(models.Model):
    status = models.CharField(max_length=10, default="new")
""",
            "shop/views.py": """
from django.http import Http404
from shop.models import Invite, Order

def accept(request, token):
    invite = Invite.objects.get(token=token, used=False)
    invite.used = True  # error
    invite.save()

def pay(request, pk):
    order = Order.objects.get(pk=pk)
    if order.status != "new":
        raise Http404
    order.status = "paid"  # error
    order.save(update_fields=["status"])
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
""",
        },
    ]

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Attribute):
            return
        target = node.targets[0]
        if not isinstance(target.value, ast.Name) or target.value.id in ("self", "cls"):
            return
        if any(isinstance(n, ast.Attribute) and ast.dump(n) == ast.dump(target) for n in ast.walk(node.value)):
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
        obj = target.value.id
        self.report(node, f"`{obj}.{target.attr}` is checked ({how}) and then changed and saved by `{brief(write)}` "
                          f"(line {write.lineno}) with no row lock: two concurrent requests both see the old state "
                          f"and both go on (a token used twice, a transition applied twice); change it with "
                          f"`{model.name}.objects.filter(pk={obj}.pk, <old state>).update({target.attr}=…)` and go "
                          "on only when one row was updated, or read it with `select_for_update()` inside "
                          "`transaction.atomic()`")

    @staticmethod
    def _checked(view: FlowView, stmt: ast.stmt, target: ast.Attribute, read: ast.Call) -> Optional[str]:
        """How the state was checked before ``stmt``: by the read's lookup, or by an ``if``."""
        names: Set[str] = {target.attr, f"{target.attr}_id"}
        for n in ast.walk(read):
            if isinstance(n, ast.Call):
                for k in n.keywords:
                    if k.arg and (k.arg in names or any(k.arg == target.attr + s for s in _STATE_SUFFIXES)):
                        return f"the query on line {read.lineno} reads it only with `{k.arg}=…`"
        text = ast.dump(target)
        for n in ast.walk(view.fnode):
            if isinstance(n, (ast.If, ast.IfExp, ast.Assert)) and n.lineno < stmt.lineno and any(
                    isinstance(m, ast.Attribute) and isinstance(m.ctx, ast.Load) and ast.dump(
                        ast.Attribute(value=m.value, attr=m.attr, ctx=ast.Store())) == text
                    for m in ast.walk(n.test)):
                return f"`if` on line {n.lineno}"
        return None
