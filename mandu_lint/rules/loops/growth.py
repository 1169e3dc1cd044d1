"""Row growth: do the rows a per-row loop walks grow with the users' data?

Blind triage of real apps (tune apps only; ``docs/realworld.md``) found loop findings true almost
everywhere and worth fixing almost nowhere: most loops walked one object's few children, a
request's few submitted items, a configured set, or ran in a one-off command. Whether a per-row
query matters is the size of what is iterated, which code does not state. This module gathers
the evidence that it grows; a loop finding is ``high`` only when all of it holds:

1. **Where it runs** — every known execution context of the function is a request handler or a
   background task (``project/contexts.py``): not a command, admin action, dev-data generator,
   seed, migration, test or startup hook, and not unknown.
2. **What is iterated** — a query on the model's manager (``Model.objects…``, ``select(Model)``,
   ``Model.query``), or the request user's / a tenant's related rows; not a relation of some
   other object (``workflow.actions.all()``: one object's children), not a query pinned to one
   parent by an equality filter on a to-one relation (``filter(workflow=wf)``), not rows picked
   by key (``filter(pk__in=ids)``: as many as a request submitted), not a constant slice
   (``[:10]``), not rows nested under another loop's row.
3. **Which table** — the model is owned by users or tenants: it has a foreign key to the user
   model (or a field named like ``user``/``owner``/``author``/``created_by`` to one) or to a
   configured tenant model; the user and tenant models themselves (how many there are is the
   operator's: a self-hosted instance has a handful) and models named like configuration
   (``…Setting``, ``…Config``, ``…Type``, ``…Workflow``…) never are.

Anything short of that keeps the rule's ``medium`` finding. The evidence is read from the index
only; nothing is guessed from data.
"""
from __future__ import annotations

import ast
import re
from typing import Optional

from ...core.refs import dotted
from ...core.tags import RT
from ...project.contexts import REQUEST, TASK
from .per_row import RowSource, loop_source

HOT = frozenset({REQUEST, TASK})
OWNER_FIELDS = frozenset({"user", "owner", "author", "creator", "created_by", "account", "member",
                          "customer", "submitter", "reporter", "uploaded_by", "sender"})
USER_MODEL_NAMES = frozenset({"User", "Account", "Member", "Customer", "Profile", "UserProfile"})
USER_REFS = frozenset({"django.conf.settings.AUTH_USER_MODEL", "django.contrib.auth.get_user_model",
                       "django.contrib.auth.models.User", "auth.User", "settings.AUTH_USER_MODEL"})
CONFIG_NAME = re.compile(r"(Setting|Settings|Config|Configuration|Preference|Option|Site|Plan|Role|Permission|"
                         r"Language|Locale|Country|Currency|Timezone|Theme|Template|Workflow|Trigger|Action|Rule|"
                         r"Type|Kind|Category|Status|State|Choice|Provider|Integration|Backend|Feature|Flag|"
                         r"Webhook|Group)$")
PICKED = frozenset({"pk__in", "id__in", "uuid__in"})  # rows picked by key: as many as were submitted
SLICE_LIMIT = 100
CURRENT_USER = re.compile(r"request\.user|current_user|g\.user|info\.context\.user|auth\.user")  # ``qs[:N]`` with a constant N up to this: a bounded page


def hot_context(ctx) -> bool:
    """Every known context of the enclosing function is a request handler or a task."""
    found = ctx.contexts()
    return bool(found) and found <= HOT


def owned_model(ctx, qual: str) -> bool:
    """Rows of ``qual`` are created per user or per tenant (see the module docstring)."""
    memo = ctx.index.derived(("loops.growth.owned",), dict)
    hit = memo.get(qual)
    if hit is None:
        hit = memo[qual] = _owned(ctx, qual)
    return hit


def _owned(ctx, qual: str) -> bool:
    ix = ctx.index
    m = ix.models.get(qual)
    if m is None or CONFIG_NAME.search(m.name):
        return False
    users = {ix.user_model} if ix.user_model else set()
    users |= {q for q, other in ix.models.items() if other.name in USER_MODEL_NAMES and other.origin == "app"}
    tenants = set()
    for name in getattr(ctx.project.settings.section("tenant"), "models", None) or ():
        tenants |= {t.qual for t in ix.model_named(name)}
    if qual in users or qual in tenants:  # the users or tenants themselves: how many is the operator's
        return False
    for rel in m.relations.values():
        if rel.kind not in ("fk", "o2o", "m2m", "many_to_one"):
            continue
        if rel.target in tenants or (rel.target in users and (rel.kind != "m2m" or rel.name in OWNER_FIELDS)):
            return True
    for name, ff in m.fields.items():  # a foreign key to a user model outside the project
        if _user_field(ix, ff):
            return True
        if name in OWNER_FIELDS and isinstance(ff.kw.get("foreign_key") or ff.kw.get("__fk__"), str):
            return True
    return False


def _user_field(ix, ff) -> bool:
    """A field whose target names the user model (``settings.AUTH_USER_MODEL``,
    ``get_user_model()``, ``"auth.User"``), also when that model is not the project's."""
    target = ff.target
    if isinstance(target, str):
        text = target
    elif target is not None and isinstance(target, tuple) and target and target[0] == RT.CALL:
        text = dotted(target[1])
    else:
        text = dotted(target) if target is not None else None
    if text and not isinstance(target, str):
        text = ix.canonical(text)
    return bool(text) and (text in USER_REFS or text.endswith(("AUTH_USER_MODEL", "get_user_model")))


def rows_grow(ctx, src: Optional[RowSource], expr: Optional[ast.AST]) -> bool:
    """The rows of ``src`` (reached through ``expr``, the iterated expression) are a table's or a
    user's/tenant's rows, not one object's children nor a bounded page."""
    if src is None or src.prefix or not owned_model(ctx, src.model):
        return False
    if src.via is not None and not _owner_side(ctx, src.via):
        return False
    nodes = [n for n in (expr, src.query, _loop_iter(ctx, src)) if n is not None]
    return bool(nodes) and not any(_pinned(ctx, n, src.model, 0) for n in nodes)


def _loop_iter(ctx, src: RowSource) -> Optional[ast.AST]:
    """The header of the loop a row source came from (its slice is not part of the query)."""
    if src.kind != "loop":
        return None
    return next((f.iter_node for f in reversed(ctx.loops) if f.node.lineno == src.line), None)


def _owner_side(ctx, step) -> bool:
    """``request.user.notifications``: a relation from a user or tenant row is the owner's rows."""
    ix = ctx.index
    owner = ix.models.get(step.owner)
    if owner is None:
        return False
    if step.owner == ix.user_model or owner.name in USER_MODEL_NAMES:
        return True
    tenants = getattr(ctx.project.settings.section("tenant"), "models", None) or ()
    return any(step.owner == t.qual for name in tenants for t in ix.model_named(name))


def _pinned(ctx, node: ast.AST, model: str, depth: int) -> bool:
    """A constant slice, rows picked by key, or an equality filter on a to-one relation to a
    parent that is neither a user nor a tenant: the rows are bounded by one object. Local names
    in the chain are followed to the query they hold."""
    if depth > 5:
        return True
    m = ctx.index.models.get(model)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in ctx.scope.locals:
            value = ctx.scope.value_of(sub.id)
            if value is None:
                continue  # several assignments: judged by what is visible
            if _pinned(ctx, value, model, depth + 1):
                return True
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Slice):
            upper = sub.slice.upper
            if isinstance(upper, ast.Constant) and isinstance(upper.value, int) and upper.value <= SLICE_LIMIT:
                return True
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and m is not None \
                and sub.func.attr in ("filter", "get", "filter_by", "where"):
            for kw in sub.keywords:
                if kw.arg and (kw.arg in PICKED or _parent_key(ctx, m, kw.arg, kw.value)):
                    return True
    return False


def _parent_key(ctx, m, key: str, value: ast.AST) -> bool:
    name = key.split("__", 1)[0]
    if name.endswith("_id"):
        name = name[:-3]
    rel = m.relations.get(name)
    if rel is None:
        ff = m.fields.get(name)
        if ff is not None and _user_field(ctx.index, ff):  # the user model is not the project's
            return not CURRENT_USER.search(ast.unparse(value))
        return False
    if rel.kind not in ("fk", "o2o", "many_to_one"):
        return False
    target = ctx.index.models.get(rel.target)
    if target is None:
        return False
    if rel.target == ctx.index.user_model or target.name in USER_MODEL_NAMES:
        # the requesting user's rows grow with that user's use; another user's are one object's
        return not CURRENT_USER.search(ast.unparse(value))
    tenants = getattr(ctx.project.settings.section("tenant"), "models", None) or ()
    return not any(rel.target == t.qual for n in tenants for t in ctx.index.model_named(n))


def loop_grows(ctx, frame) -> bool:
    """The loop ``frame`` walks growing rows (``rows_grow`` of its iterated query)."""
    it = frame.iter_node
    if it is None or len(frame.targets) < 1:
        return False
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "enumerate" and it.args:
        it = it.args[0]
    var = frame.targets[-1]
    src = loop_source(ctx, var)
    return src is not None and rows_grow(ctx, src, it)


def confidence(ctx, grows: bool) -> str:
    """``high`` for per-row work over growing rows in a request or task, else ``medium``."""
    return "high" if grows and hot_context(ctx) else "medium"
