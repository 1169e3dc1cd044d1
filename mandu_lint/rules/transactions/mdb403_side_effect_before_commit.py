"""MDB403: an email, HTTP call, task or event sent inside a transaction, before it commits."""
from __future__ import annotations

import ast
from typing import List, Optional

from .analysis import INSIDE, SAVE_CALLS, SAVED_IN
from .fix import on_commit_fix
from .flow import Event, FlowView, before
from .base import TxRule
from ...core.tags import TK
from ...model import Location, Span
from ...project.contexts import REQUEST, SIGNAL, TASK


class SideEffectBeforeCommit(TxRule):
    """
    ## What it does
    Finds actions that a rollback cannot undo, run inside a transaction after it wrote: emails
    (`send_mail`, `EmailMessage.send`), HTTP calls that change something (`requests`/`httpx`
    `post/put/patch/delete`), queued tasks (Celery `delay/apply_async/send_task`, Django tasks
    `enqueue`, Dramatiq `send`), Channels `group_send`, Redis `publish`, `django_eventstream`
    events, and the calls listed in `transactions.side-effects` — directly, through a project
    function, or through a model's `save()` override or `post_save` receiver that a save inside
    the transaction runs. "Inside" means a `with transaction.atomic()` block, an `@atomic`
    function, a function every caller runs inside one (or a view under `ATOMIC_REQUESTS`, a
    graphene mutation under `ATOMIC_MUTATIONS`), a `pre_delete`/`post_delete` receiver (Django
    sends delete signals inside the deletion's transaction, even in autocommit), a `save()`
    override or save receiver reached through `get_or_create()`/`update_or_create()` (Django
    saves inside its own `atomic()` there), a `with session.begin()` block, or an
    SQLAlchemy/DB-API write not yet committed.

    Primary location: the side-effect call (or the call that leads to it); when it is reached
    through a project function, a `save()` override or a receiver, a related location marks the
    line that sends it, where `on_commit` belongs.

    ## Why is this bad?
    If the transaction rolls back, the email is already sent, the webhook already fired, the
    event already broadcast — about data that never existed. A queued task may even run before
    the commit and not find the row it was given ("DoesNotExist" in the worker, a notification
    for the previous state).

    ## Known problems
    Only calls whose receiver resolves to a known API count (a `send()` on an unknown object is
    not a side effect). A side effect before any write of its transaction is not reported. A
    savepoint rollback (`atomic()` nested inside the outer block) also drops the `on_commit`
    callbacks registered inside it, which is usually what you want.

    Confidence: reported at `medium` only (`--confidence medium`). On apps it was never tuned on,
    blind judges found none of its default findings true: 0 of 2 in holdout round 1 and 0 of 7
    (9 findings) in round 4 (18 apps, 2.97 M lines) — side effects reached through an app factory
    that a memoised `get_app()` returns without queuing anything, a branch that never runs, and
    startup code. A side effect is only as certain as the call chain that reaches it.

    ## Example
    ```python
    @transaction.atomic
    def place(order):
        order.status = "placed"
        order.save()
        send_mail("Order placed", body(order), None, [order.email])
    ```

    ## Use instead
    ```python
    @transaction.atomic
    def place(order):
        order.status = "placed"
        order.save()
        transaction.on_commit(partial(send_mail, "Order placed", body(order), None, [order.email]))
    ```
    With Celery ≥ 5.4 and `DjangoTask`, `task.delay_on_commit(...)` does the same; an outbox row
    written in the transaction (and sent by a worker) also survives a crash after the commit.

    ## Fix safety
    Unsafe (Django only): the call moves into `transaction.on_commit(partial(f, *args))`; its
    arguments are evaluated now (not in a lambda that would see later values), it runs after the
    outermost commit and never after a rollback, and its result is no longer available.
    """

    code = "MDB403"
    name = "side-effect-before-commit"
    summary = "Email, HTTP call, task or event sent inside a transaction before it commits"
    precision = "medium"  # holdout rounds 1 and 4 (blind triage): 0 of 9 default findings true
    high_in = frozenset({REQUEST, TASK, SIGNAL})
    tags = ("transactions", "consistency")
    fixable = True

    BAD = [
        {
            "shop/models.py": """
from django.db import models

class Order(models.Model):
    email = models.CharField(max_length=50)
""",
            "shop/services.py": """
from django.core.mail import send_mail
from django.db import transaction
from shop.models import Order

@transaction.atomic
def place(order: Order):
    order.save()
    send_mail("Placed", "Thanks", None, [order.email])  # error

def cancel(order: Order):
    with transaction.atomic():
        order.delete()
        notify(order.email)  # error

def notify(email):
    send_mail("Cancelled", "Sorry", None, [email])
""",
        },
    ]
    GOOD = [
        {
            "shop/models.py": """
from django.db import models

class Order(models.Model):
    email = models.CharField(max_length=50)
""",
            "shop/services.py": """
from functools import partial

from django.core.mail import send_mail
from django.db import transaction
from shop.models import Order

@transaction.atomic
def place(order: Order):
    order.save()
    transaction.on_commit(partial(send_mail, "Placed", "Thanks", None, [order.email]))

def confirm(order: Order):
    order.save()
    send_mail("Confirmed", "Thanks", None, [order.email])   # autocommit: already committed

@transaction.atomic
def greet(order: Order):
    send_mail("Hello", "Hi", None, [order.email])          # nothing written yet
""",
        },
    ]

    def check_function(self, view: FlowView) -> None:
        for effect in self._effects(view):
            if effect.helper and view.tx.reports_own(effect.helper):
                continue
            why = self._django(view, effect)
            fix = None
            if why is not None:
                fix = self._fix(view, effect)
            else:
                why = self._uncommitted(view, effect)
            if why is None:
                continue
            self.report(effect.node, f"{_label(effect)} inside a transaction, before it commits ({why}): if it rolls "
                                     "back, this cannot be undone, and a queued task may run before the commit; "
                                     "defer it with `transaction.on_commit(...)` (or `delay_on_commit`) or write "
                                     "an outbox row", fix=fix, related=self._site(view, effect))

    def _site(self, view: FlowView, effect: Event) -> tuple:
        """Where a side effect reached through a helper, a ``save()`` override or a receiver is
        sent: the line the deferral belongs on, as a related location."""
        atom = next((a for a in effect.atoms if a.letter == "S"), None)
        owner = view.tx.ix.owner(atom.qual) if atom is not None and atom.qual != view.qual else None
        if owner is None:
            return ()
        return (Location(str(self.ctx.project.root / owner.path), Span(atom.line, 0, atom.line, 0),
                         f"the side effect is sent here (in `{atom.qual.rsplit('.', 1)[-1]}()`)"),)

    def _effects(self, view: FlowView) -> List[Event]:
        """Side-effect events, plus Django saves whose ``save()`` override or receivers send one."""
        out = [e for e in view.events if e.letter == "S"]
        tx = view.tx
        for e in view.events:
            if e.letter != "W" or e.stack != "django" or e.helper or not isinstance(e.node, ast.Call):
                continue
            t = view.type_of(e.node.func)
            if not (t and t[0] == TK.METHOD and len(t[1]) > 1 and t[1][1] in tx.ix.models):
                continue
            if t[2] not in SAVE_CALLS and t[2] not in ("delete", "adelete"):
                continue
            for hook in tx.save_hooks(t[1][1], deleting=t[2] in ("delete", "adelete")):
                atom = tx.summaries.first(hook, "S")
                if atom is not None:
                    name = ".".join(hook.rsplit(".", 2)[-2:])
                    out.append(Event(e.node, "S", "", f"{e.what} runs `{name}()`, where {atom.what},", hook,
                                     (atom,), e.end, trigger="save"))
                    break
        return out

    def _django(self, view: FlowView, effect: Event) -> Optional[str]:
        writes = [w for w in view.events if w.letter == "W" and w.stack == "django" and w.node is not effect.node]
        implied = effect.trigger == "save" or (effect.helper is not None and
                                               view.tx.summaries.writes_before_effect(effect.helper))
        block = view.django_block(effect.node)
        if block is not None:
            if implied or any(view.django_block(w.node) is block and before(view, w, effect) for w in writes):
                return "in `transaction.atomic()`" if block is not view.fnode else "the function is `@atomic`"
            return None
        entry = view.entry()
        if entry.state != INSIDE:
            return None
        if implied or entry.why.startswith(SAVED_IN) or any(before(view, w, effect) for w in writes):
            return entry.why
        return None

    def _uncommitted(self, view: FlowView, effect: Event) -> Optional[str]:
        for stack in ("sa", "dbapi"):
            block = view.block_of(effect.node, (stack,))
            writes = [w for w in view.events if w.letter == "W" and w.stack == stack and before(view, w, effect)]
            if block is not None and any(view.block_of(w.node, (stack,)) is block for w in writes):
                return "in a `begin()` block"
            commits = [c for c in view.events if c.letter == "C" and c.stack == stack and before(view, effect, c)]
            if writes and commits and any(before(view, w, c) for w in writes for c in commits):
                return f"{writes[-1].what} on line {writes[-1].node.lineno} is committed only on line " \
                       f"{_line(commits[0])}"
        return None

    def _fix(self, view: FlowView, effect: Event):
        node = effect.node
        if effect.helper or isinstance(view.fnode, ast.AsyncFunctionDef):
            return None  # a helper may do more than the side effect; a save must stay where it is
        parent = view.parent(node)
        if not isinstance(parent, ast.Expr) or not isinstance(node, ast.Call):
            return None
        return on_commit_fix(self.ctx, node, _using(view, node))


def _using(view: FlowView, node: ast.AST) -> Optional[str]:
    """The ``using=`` text of the enclosing ``atomic(using=...)``, so on_commit targets that database."""
    block = view.django_block(node)
    if not isinstance(block, (ast.With, ast.AsyncWith)):
        return None
    for item in block.items:
        expr = item.context_expr
        if isinstance(expr, ast.Call):
            for k in expr.keywords:
                if k.arg == "using":
                    return ast.get_source_segment(view.ctx.source, k.value)
    return None


def _label(e: Event) -> str:
    if e.helper and not e.trigger:
        return f"`{e.helper.rsplit('.', 1)[-1]}()`, where {e.what},"
    return e.what


def _line(e: Event) -> int:
    if isinstance(e.node, (ast.With, ast.AsyncWith)):
        return e.node.end_lineno or e.node.lineno
    return e.node.lineno
