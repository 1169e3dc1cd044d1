"""Is one step of a query a tenant predicate, and where does a predicate's value come from?

Precision comes first, so anything these functions cannot read counts as scoping: a filter
built elsewhere (``filter(**lookups)``, ``where(*clauses)``, ``filter(q)`` of an untraceable
``q``) is assumed to hold the tenant predicate. A predicate on the authenticated caller
(``owner=request.user``, a FastAPI ``Depends`` value) also counts: those rows are the caller's own.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from ...core.refs import dotted
from .spec import walk_lookup
from ...core.tags import RT, TK

DJ_FILTERS = frozenset("""filter get aget get_or_create aget_or_create update_or_create aupdate_or_create
complex_filter""".split())
DJ_NOT_LOOKUPS = frozenset(("defaults", "create_defaults"))
SA_FILTERS = frozenset("where filter join outerjoin join_from outerjoin_from having filter_by".split())
ID_LOOKUPS = frozenset("pk id pk__exact id__exact pk__in id__in".split())
Q_NAMES = frozenset(("django.db.models.Q", "django.db.models.query_utils.Q"))
DEPENDS = frozenset(("fastapi.Depends", "fastapi.params.Depends", "fastapi.Security", "fastapi.params.Security"))
CLIENT_PARAMS = frozenset("fastapi.Query fastapi.Body fastapi.Form fastapi.Path fastapi.Header fastapi.Cookie".split())
REQUEST_DATA = frozenset("data GET POST query_params json args form values body get_json".split())
AUTH_ROOTS = ("request.user", "self.request.user", "info.context.user", "g.user", "current_user")
# A lookup by a secret (a share link's token, an invitation's key) is a capability, not an id.
CAPABILITY = re.compile(r"token|secret|anchor|api_key|hash|signature|nonce", re.I)


@dataclass
class Predicate:
    """What one filtering step says about the tenant."""

    scoped: bool = False  # a tenant key, a dynamic filter, or the caller's own rows
    id_only: bool = False  # a lookup by ``pk=``/``id=`` (with nothing that scopes it)
    values: List[Tuple[str, ast.AST, Optional[str]]] = field(default_factory=list)  # (lookup, value, root suffix)


def text(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover
        return ""


# -- Django -------------------------------------------------------------------------------------
def django_predicate(ctx, spec, model: str, call: ast.Call) -> Predicate:
    out = Predicate()
    lookups = []
    for kw in call.keywords:
        if kw.arg is None:
            out.scoped = True  # ``filter(**lookups)``: built elsewhere
            continue
        if kw.arg in DJ_NOT_LOOKUPS:
            continue
        lookups.append(kw.arg)
        scopes, suffix = walk_lookup(ctx.index, spec, model, kw.arg)
        if scopes:
            out.scoped = True
            out.values.append((kw.arg, kw.value, suffix))
        elif caller_owned(ctx, kw.value) or _capability(kw.arg.split("__")[0], kw.value) or \
                (_row_key(ctx, model, kw.arg) and from_row(ctx, kw.value)):
            out.scoped = True
    for arg in call.args:
        if q_scopes(ctx, spec, model, arg, 0):
            out.scoped = True
    out.id_only = any(k in ID_LOOKUPS for k in lookups) and not out.scoped
    return out


def q_scopes(ctx, spec, model: str, node: ast.AST, depth: int) -> bool:
    """A positional filter argument: ``Q(...)`` trees are read; anything else is assumed to scope."""
    if depth > 8:
        return True
    if isinstance(node, ast.BinOp):
        return q_scopes(ctx, spec, model, node.left, depth + 1) or q_scopes(ctx, spec, model, node.right, depth + 1)
    if isinstance(node, ast.UnaryOp):
        return q_scopes(ctx, spec, model, node.operand, depth + 1)
    if isinstance(node, ast.Name):
        value = ctx.scope.value_of(node.id)
        return True if value is None else q_scopes(ctx, spec, model, value, depth + 1)
    if isinstance(node, ast.Call) and _is_q(ctx, node):
        if any(isinstance(a, ast.Starred) for a in node.args):
            return True
        if any(q_scopes(ctx, spec, model, a, depth + 1) for a in node.args):
            return True
        for kw in node.keywords:
            if kw.arg is None or walk_lookup(ctx.index, spec, model, kw.arg)[0] or caller_owned(ctx, kw.value):
                return True
        return False
    return not isinstance(node, ast.Constant)


def _capability(field: str, value: ast.AST) -> bool:
    """``token=…``, ``code=code_hash``: a secret the client holds, not an enumerable id."""
    return bool(CAPABILITY.search(field)) or (isinstance(value, ast.Name) and bool(CAPABILITY.search(value.id)))


def _row_key(ctx, model: str, lookup: str) -> bool:
    """``pk``, ``id`` or a foreign key (``state``, ``state_id``), optionally with ``__in``/``__id``."""
    parts = lookup.split("__")
    head = parts[0]
    m = ctx.index.models.get(model)
    rel = m.relations.get(head[:-3] if head.endswith("_id") else head) if m is not None else None
    keyish = head in ("pk", "id") or (rel is not None and rel.kind in ("fk", "o2o"))
    return keyish and set(parts[1:]) <= {"id", "pk", "in", "exact"}


def _is_q(ctx, call: ast.Call) -> bool:
    d = dotted(ctx.ref(call.func)) if ctx.ref(call.func) else None
    return d is not None and (ctx.index.canonical(d) in Q_NAMES or d.rsplit(".", 1)[-1] == "Q")


# -- SQLAlchemy ---------------------------------------------------------------------------------
def sa_predicate(ctx, spec, call: ast.Call, name: str) -> Predicate:
    out = Predicate()
    names = spec.key_names | spec.root_names
    if name == "filter_by":
        keys = [kw.arg for kw in call.keywords]
        for kw in call.keywords:
            if kw.arg is None or kw.arg in names or caller_owned(ctx, kw.value) or _capability(kw.arg, kw.value) or \
                    ((kw.arg == "id" or kw.arg.endswith("_id")) and from_row(ctx, kw.value)):
                out.scoped = True
                if kw.arg in spec.root_names:
                    out.values.append((kw.arg, kw.value, ""))
        out.id_only = "id" in keys and not out.scoped
        return out
    compares: list = []
    for arg in call.args:
        if clause_scopes(ctx, spec, names, arg, compares, 0):
            out.scoped = True
    for attr, value, pins in compares:
        if pins and attr in spec.root_names:
            out.values.append((attr, value, ""))
        if caller_owned(ctx, value) or ((attr == "id" or attr.endswith("_id")) and from_row(ctx, value)) or \
                (_capability(attr, value) and not _is_column(ctx, value)):
            out.scoped = True
    out.id_only = name in ("where", "filter") and any(c[0] == "id" for c in compares) and not out.scoped
    return out


def clause_scopes(ctx, spec, names, node: ast.AST, compares: list, depth: int) -> bool:
    """A where/join clause pins a tenant column to a value (``Task.organization_id == org_id``,
    ``Organization.slug == slug``, ``Task.project.has(Project.organization_id == …)``), or
    cannot be read. A join condition between two columns does not pin anything."""
    if depth > 4 or isinstance(node, ast.Starred):
        return True
    if isinstance(node, ast.Name):
        t = ctx.type_of(node)
        if t is not None and t[0] == TK.MODEL:
            return t[1] in spec.roots  # ``join(Organization)``: its columns follow
        value = ctx.scope.value_of(node.id)
        return True if value is None else clause_scopes(ctx, spec, names, value, compares, depth + 1)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return _pair(ctx, spec, names, node.left, node.comparators[0], compares)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        meth, recv = node.func.attr, node.func.value
        if meth in ("in_", "is_", "contains", "any_", "notin_") and node.args:
            return _pair(ctx, spec, names, recv, node.args[0], compares)
        if meth in ("has", "any"):
            return any(clause_scopes(ctx, spec, names, a, compares, depth + 1) for a in node.args) \
                or any(k.arg is None or k.arg in names for k in node.keywords)
    if isinstance(node, ast.Call):  # and_(...), or_(...), exists(...)...
        return any(clause_scopes(ctx, spec, names, a, compares, depth + 1) for a in node.args)
    if isinstance(node, ast.BoolOp):
        return any(clause_scopes(ctx, spec, names, v, compares, depth + 1) for v in node.values)
    if isinstance(node, ast.IfExp):
        return any(clause_scopes(ctx, spec, names, v, compares, depth + 1) for v in (node.body, node.orelse))
    if isinstance(node, ast.BinOp):  # ``(A == x) & (B == y)``
        return any(clause_scopes(ctx, spec, names, v, compares, depth + 1) for v in (node.left, node.right))
    return False


def _pair(ctx, spec, names, left: ast.AST, right: ast.AST, compares: list) -> bool:
    """One comparison, whichever side the column is on; it pins when a tenant column (or a
    root's column) is compared with a value rather than with another column."""
    for col, value in ((left, right), (right, left)):
        if isinstance(col, ast.Attribute) and (col.attr in names or _is_column(ctx, col)):
            pins = (col.attr in names or _root_column(ctx, spec, col)) and not _is_column(ctx, value)
            compares.append((col.attr, value, pins))
            return pins
    # ``Benefit.properties["meter_id"].as_string() == str(meter.id)``: tied to a row we hold
    return any(_row_id(ctx, side) for side in (left, right))


def _row_id(ctx, node: ast.AST) -> bool:
    while isinstance(node, ast.Call) and len(node.args) == 1 and isinstance(node.func, ast.Name):
        node = node.args[0]  # str(x.id), UUID(x.id)
    return isinstance(node, ast.Attribute) and (node.attr in ("id", "pk") or node.attr.endswith("_id")) \
        and not _is_column(ctx, node) and from_row(ctx, node)


def _model_type(ctx, node: ast.AST):
    if not isinstance(node, (ast.Name, ast.Attribute)):
        return None
    t = ctx.type_of(node)
    return t[1] if t is not None and t[0] == TK.MODEL else None


def _root_column(ctx, spec, col: ast.Attribute) -> bool:
    return _model_type(ctx, col.value) in spec.roots


def _is_column(ctx, node: ast.AST) -> bool:
    """``Project.id``: a column of a model class, not a value."""
    return isinstance(node, ast.Attribute) and _model_type(ctx, node.value) is not None


# -- where values come from ---------------------------------------------------------------------
def caller_owned(ctx, value: ast.AST) -> bool:
    """The authenticated caller: ``request.user``, ``self.request.user.id``, a FastAPI
    dependency (``user: User = Depends(current_user)``)."""
    t = text(value)
    if any(t == r or t.startswith(r + ".") for r in AUTH_ROOTS):
        return True
    root = _root_name(value)
    return root is not None and param_kind(ctx, root) == "depends" or _user_identity(ctx, value)


USER_KEYS = frozenset({"id", "pk", "email", "username"})


def _user_identity(ctx, value: ast.AST) -> bool:
    """A user of the project's user model, or its key (``user``, ``user.email``, ``obj.id`` where
    the typer knows ``obj`` is a user): rows addressed to one person (their invitations, their
    memberships) are theirs in every tenant, so the predicate scopes the query to that person."""
    user_model = getattr(ctx.index, "user_model", None)
    if not user_model:
        return False
    if _email_address(value):
        return True
    node = value.value if isinstance(value, ast.Attribute) and value.attr in USER_KEYS else value
    if not isinstance(node, (ast.Name, ast.Attribute)):
        return False
    t = ctx.type_of(node)
    if t is None and isinstance(node, ast.Name) and USER_NAME.fullmatch(node.id):
        return True  # an untyped ``user``/``new_user``: silencing needs less proof than reporting
    return t is not None and t[0] == TK.INST and t[1] == user_model


USER_NAME = re.compile(r"(?:\w+_)?user")


def _email_address(value: ast.AST) -> bool:
    """The e-mail address a loaded object holds (``user.email``, ``obj.email``): rows looked up by
    it are addressed to one person (an invitation, a subscription), whichever tenant issued them.
    A bare ``email`` may come from the client and proves nothing."""
    return isinstance(value, ast.Attribute) and value.attr == "email" and \
        not text(value).startswith(("request.", "self.request."))


def from_row(ctx, value: ast.AST, depth: int = 0) -> bool:
    """A value the code read from the database, not from the client: a loaded object
    (``state``), an attribute of one (``serializer.instance.id``, ``issue.project_id``), a
    subquery. A re-fetch by such an id (``Cycle.objects.get(pk=serializer.instance.id)``) or a
    filter by such an object (``Issue.objects.filter(state=state)``) stays inside its tenant."""
    t = ctx.type_of(value) if isinstance(value, (ast.Name, ast.Attribute, ast.Call)) else None
    if t is not None and t[0] in (TK.INST, TK.QS, TK.MANAGER, TK.RELMGR, TK.SASELECT, TK.SAQUERY):
        return True
    if isinstance(value, ast.Name) and depth < 2:
        assigned = ctx.scope.value_of(value.id)
        return assigned is not None and from_row(ctx, assigned, depth + 1)
    if not isinstance(value, ast.Attribute) or _is_column(ctx, value):
        return False
    root = _root_name(value)
    if root is None or root in ("request", "kwargs") or root == "self" and not text(value).startswith("self.instance."):
        return False
    if root != "self" and not _is_local(ctx.scope, root):
        return False  # a module, class or other global, not a row the function holds
    kind = param_kind(ctx, root)
    if kind == "client" or (kind == "param" and _body_model(ctx, root)):
        return False
    return True


def _is_local(scope, name: str) -> bool:
    """A parameter or local variable of the enclosing functions (even one assigned twice)."""
    while scope is not None:
        if scope.func is not None and name in scope.locals:
            return True
        scope = scope.parent
    return False


def _root_name(node: ast.AST) -> Optional[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def param_kind(ctx, name: str) -> Optional[str]:
    """"depends" for a FastAPI dependency, "client" for an explicit Query/Body/Path/Form
    parameter, "param" for another parameter, None for a non-parameter."""
    fn = ctx.index.functions.get(ctx.scope.func) if ctx.scope.func else None
    if fn is None:
        return None
    for pname, ann, default in fn.params:
        if pname != name:
            continue
        refs = [default] + (list(ann[2]) if ann is not None and ann[0] == RT.ANNOTATED else [])
        if ann is not None and ann[0] == RT.GLOBAL:
            alias = ctx.index.assigns.get(ctx.index.canonical(ann[1]))
            if alias is not None and alias[0] == RT.ANNOTATED:
                refs += list(alias[2])
        callees = {ctx.index.canonical(dotted(r[1]) or "") for r in refs if r is not None and r[0] == RT.CALL}
        if callees & DEPENDS:
            return "depends"
        if callees & CLIENT_PARAMS:
            return "client"
        return "param"
    return None


def from_client(ctx, value: ast.AST, depth: int = 0) -> Optional[str]:
    """Where client input reaches a tenant predicate: ``request.data[...]``,
    ``request.GET.get(...)``, ``request.json``, a FastAPI ``Query``/``Body``/``Path`` parameter
    or a field of a request body model. Returns a description, or None."""
    if depth > 3:
        return None
    if isinstance(value, (ast.BoolOp, ast.IfExp)):  # ``data.get("org") or default``
        parts = value.values if isinstance(value, ast.BoolOp) else [value.body, value.orelse]
        return next((w for w in (from_client(ctx, p, depth + 1) for p in parts) if w), None)
    node = value
    while isinstance(node, (ast.Subscript, ast.Call, ast.Attribute)):
        if isinstance(node, ast.Attribute) and node.attr in REQUEST_DATA:
            base = text(node.value)
            if base in ("request", "self.request", "flask.request"):
                return f"`{base}.{node.attr}`"
        if isinstance(node, ast.Attribute) and node.attr == "initial_data" and text(node.value) == "self":
            return "`self.initial_data` (a serializer's raw input)"
        node = node.func if isinstance(node, ast.Call) else node.value
    if isinstance(node, ast.Name):
        kind = param_kind(ctx, node.id)
        if kind == "client":
            return f"the client parameter `{node.id}`"
        if kind == "param" and node is not value and _body_model(ctx, node.id):
            return f"the request body `{node.id}`"
        if kind is None:
            assigned = ctx.scope.value_of(node.id)
            if assigned is not None:
                return from_client(ctx, assigned, depth + 1)
    return None


def _body_model(ctx, name: str) -> bool:
    """A parameter annotated with a pydantic model: FastAPI reads it from the JSON body."""
    t = ctx.typer.type_of((RT.PARAM, ctx.scope.func, name))
    if t is None or t[0] != TK.OBJ:
        return False
    return any(a in ("pydantic.BaseModel", "pydantic.main.BaseModel") for a in ctx.index.mro(t[1]))
