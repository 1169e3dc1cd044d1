"""Follow a query back to where it starts — through its method chain and through the local
variables it was built in — and decide whether a tenant predicate is on it.

A query is *unscoped* only when every way it can be built in the function starts at a scoped
model (``Task.objects``, ``select(Task)``, ``session.query(Task)``) and no step on any of those
ways pins the tenant. Anything else is silent: a queryset derived from an object
(``org.projects.all()``, ``request.user.projects``), one returned by a project function
(``self.get_queryset()``, a helper), a parameter, or a name also assigned something unknown.
Flow-insensitive on purpose: ``qs = Task.objects.all(); if org: qs = qs.filter(org=org)`` is
scoped, because a filter applied on some path is the author's intent, not a leak.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

from ...core.refs import dotted
from ...project.types import QS_LAZY, QS_READ, QS_WRITE, SELECTS
from ...core.refs import iter_local_nodes
from .access import Access
from .predicates import DJ_FILTERS, SA_FILTERS, django_predicate, from_row, sa_predicate
from ...core.tags import EV, RT, TK

SA_UPDATE = frozenset(("sqlalchemy.update", "sqlalchemy.sql.update", "sqlalchemy.sql.expression.update",
                       "sqlmodel.update", "sqlalchemy.sql.dml.update"))
SA_DELETE = frozenset(("sqlalchemy.delete", "sqlalchemy.sql.delete", "sqlalchemy.sql.expression.delete",
                       "sqlmodel.delete", "sqlalchemy.sql.dml.delete"))
SA_REPLACING = frozenset("from_statement union union_all except_ except_all intersect intersect_all".split())
WRAPPERS = frozenset(("builtins.list", "builtins.tuple", "builtins.sorted", "builtins.set"))
DJ_BUILTIN = QS_LAZY | QS_READ | QS_WRITE | frozenset(("as_manager", "iterator", "aiterator"))
CHECKS = re.compile(r"perm|access|authori|check|can_|verify|ensure|assert|owns|allowed", re.I)

# Managers that add the tenant filter themselves: django-scopes' ``ScopedManager(...)`` (raises
# when no scope is active) and django-multitenant's ``TenantManager``.
SCOPING_MANAGER_PREFIXES = ("django_scopes.ScopedManager", "django_scopes.manager.ScopedManager",
                            "django_multitenant.")


@dataclass(frozen=True)
class Query:
    model: Optional[str]  # None: a reference back to the variable being resolved
    orm: str  # django | sqlalchemy
    kind: str  # qs | select | query | update | delete | get
    scoped: bool
    origins: Tuple[ast.AST, ...] = ()  # where the query starts (the edit point of a fix)
    id_lookup: bool = False
    model_node: Optional[ast.AST] = None  # SQLAlchemy: the model expression of the statement


_SELF = Query(None, "", "", False)


class Resolver:
    """Per function: its assignments, and the queries its expressions build."""

    def __init__(self, ctx, spec, fn: Optional[ast.AST], cls: Optional[ast.ClassDef] = None):
        self.ctx, self.spec, self.fn, self.cls = ctx, spec, fn, cls
        self.assigned: Dict[str, List[Optional[ast.AST]]] = {}
        self.target_of: Dict[int, str] = {}
        self.checked: set = set()
        self.params = set()
        self._busy: Dict[str, Optional[Query]] = {}
        if fn is not None:
            args = fn.args
            self.params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
            self.params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
            self._scan(fn.body)
        self.access = Access(ctx, spec, fn, cls, self.params)

    def _scan(self, body) -> None:
        keys = self.spec.key_names | self.spec.root_names
        for node in iter_local_nodes(body):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    self._bind(t, node.value)
            elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)):
                self._bind(node.target, None)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        self._bind(item.optional_vars, None)
            elif isinstance(node, ast.Compare):
                for side in [node.left] + node.comparators:
                    self._checked_side(side, keys)
            elif isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if CHECKS.search(name or ""):
                    self.checked.update(a.id for a in node.args if isinstance(a, ast.Name))

    def _bind(self, target, value) -> None:
        if isinstance(target, ast.Name):
            self.assigned.setdefault(target.id, []).append(value)
            if value is not None:
                inner = value.value if isinstance(value, ast.Await) else value
                self.target_of[id(inner)] = target.id
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._bind(elt.value if isinstance(elt, ast.Starred) else elt, None)

    def _checked_side(self, side, keys) -> None:
        """``if task.workspace_id != ws.id: raise``: the row is checked after it is read."""
        attrs, cur = [], side
        while isinstance(cur, ast.Attribute):
            attrs.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name) and any(a in keys for a in attrs):
            self.checked.add(cur.id)

    def trusted_id(self, call: ast.Call, model: Optional[str], value: Optional[ast.AST] = None) -> bool:
        return self.access.trusted_id(call, model, value)

    def maintenance(self) -> bool:
        return self.access.maintenance()

    def checked_after(self, node: ast.AST) -> bool:
        name = self.target_of.get(id(node))
        return name is not None and name in self.checked

    # -- resolution ---------------------------------------------------------------------------
    def resolve(self, node: ast.AST) -> Optional[Query]:
        steps = []
        cur = node
        while True:
            if isinstance(cur, (ast.Await, ast.Subscript)):
                cur = cur.value
            elif isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute) and self._sa_base(cur) is None:
                steps.append(cur)
                cur = cur.func.value
            else:
                break
        q = self._base(cur)
        for call in reversed(steps):
            if q is None or (q.scoped and q.model is not None):
                return q
            q = self._step(q, call)
        return q

    def _base(self, node: ast.AST) -> Optional[Query]:
        ctx = self.ctx
        if isinstance(node, ast.Name):
            return self._variable(node.id)
        if isinstance(node, ast.Call):
            sa = self._sa_base(node)
            if sa is not None:
                return sa
            d = dotted(ctx.ref(node.func)) if ctx.ref(node.func) is not None else None
            if d is not None and ctx.index.canonical(d) in WRAPPERS and node.args:
                return self.resolve(node.args[0])
            return None
        if isinstance(node, ast.Attribute):
            t = ctx.type_of(node)
            if t is None or len(t) < 2 or t[1] is None:
                return None
            if t[0] == TK.MANAGER:
                return Query(t[1], "django", "qs", self._manager_scopes(t[1], node.attr), (node,))
            if t[0] == TK.RELMGR:
                return Query(t[1], "django", "qs", True)  # derived from an object: scoped by it
            if t[0] == TK.SAQUERY:  # Flask-SQLAlchemy ``Task.query``
                return Query(t[1], "sqlalchemy", "query", False, (node,), model_node=node.value)
        return None

    def _sa_base(self, node: ast.Call) -> Optional[Query]:
        ctx = self.ctx
        f = node.func
        if isinstance(f, ast.Attribute):
            rt = ctx.type_of(f.value)
            if rt is not None and rt[0] == TK.SASESSION and node.args:
                model, mnode = self._sa_model(node.args[:1])
                if f.attr == "query" and model:
                    return Query(model, "sqlalchemy", "query", False, (node,), model_node=mnode)
                if f.attr in ("get", "get_one") and model:
                    ident = node.args[1] if len(node.args) > 1 else None
                    known = ident is not None and (from_row(ctx, ident) or self.trusted_id(node, model, ident))
                    return Query(model, "sqlalchemy", "get", known, (), id_lookup=True, model_node=mnode)
                return None
        ref = ctx.ref(f)
        d = dotted(ref) if ref is not None else None
        if d is None:
            return None
        name = ctx.index.canonical(d)
        kind = "select" if name in SELECTS else "update" if name in SA_UPDATE else "delete" if name in SA_DELETE \
            else None
        if kind is None:
            return None
        if any(self._nested_select(a) for a in node.args):
            return None  # ``select(select(Task.id).where(...).exists())``: judged by the inner query
        model, mnode = self._sa_model(node.args if kind == "select" else node.args[:1])
        return Query(model, "sqlalchemy", kind, False, (node,), model_node=mnode) if model else None

    def _nested_select(self, arg: ast.AST) -> bool:
        for sub in ast.walk(arg):
            if isinstance(sub, ast.Call) and sub is not arg or isinstance(arg, ast.Call) and sub is arg:
                ref = self.ctx.ref(sub.func)
                d = dotted(ref) if ref is not None else None
                if d is not None and self.ctx.index.canonical(d) in SELECTS:
                    return True
        return False

    def _sa_model(self, args) -> Tuple[Optional[str], Optional[ast.AST]]:
        """The first model a statement names: ``select(Task)``, ``select(Task.id)``,
        ``select(func.count(Task.id))``."""
        for arg in args:
            for sub in ast.walk(arg):
                if isinstance(sub, (ast.Name, ast.Attribute)):
                    t = self.ctx.type_of(sub)
                    if t is not None and t[0] == TK.MODEL:
                        return t[1], sub
        return None, None

    def _variable(self, name: str) -> Optional[Query]:
        """All assignments of a local name. A self-reference (``qs = qs.filter(...)``) stands for
        the other assignments: resolved once to learn the model, then again with it known."""
        if name in self._busy:
            hint = self._busy[name]
            return _SELF if hint is None else replace(hint, scoped=False, origins=(), id_lookup=False)
        values = self.assigned.get(name)
        if not values or name in self.params:
            return None
        self._busy[name] = None
        try:
            found = [self.resolve(v) if v is not None else None for v in values]
            real = [q for q in found if q is not None and q.model is not None]
            if real and any(q is not None and q.model is None for q in found):
                self._busy[name] = real[0]
                found = [self.resolve(v) if v is not None else None for v in values]
        finally:
            del self._busy[name]
        return union(found)

    def _step(self, q: Query, call: ast.Call) -> Optional[Query]:
        name = call.func.attr
        if q.orm == "sqlalchemy" or (q.model is None and name in SA_FILTERS):
            if name in SA_FILTERS:
                pred = sa_predicate(self.ctx, self.spec, call, name)
                trusted = pred.id_only and self.trusted_id(call, q.model, _id_compared(call))
                return replace(q, scoped=q.scoped or pred.scoped or trusted, id_lookup=q.id_lookup or pred.id_only)
            if name in SA_REPLACING:
                return None  # the statement is replaced by one built elsewhere
            if name == "get" and q.kind == "query":
                trusted = self.trusted_id(call, q.model, call.args[0] if call.args else None)
                return replace(q, id_lookup=True, scoped=q.scoped or trusted)
            return q
        if name in DJ_FILTERS:
            pred = django_predicate(self.ctx, self.spec, q.model or "", call)
            trusted = pred.id_only and not pred.scoped and self.trusted_id(call, q.model)
            return replace(q, scoped=q.scoped or pred.scoped or trusted, id_lookup=q.id_lookup or pred.id_only)
        if name == "in_bulk":
            return replace(q, id_lookup=True)
        if name == "none":
            return replace(q, scoped=True)
        if name in ("union", "intersection", "difference", "raw"):
            return None
        if name in DJ_BUILTIN:
            return q
        return self._custom(q, call)

    def _custom(self, q: Query, call: ast.Call) -> Optional[Query]:
        """A custom manager/queryset method: a configured helper or one that filters on a tenant
        key scopes; one without arguments (``active()``) is neutral; anything else is unknown."""
        _ref, _t, ev = self.ctx.call_info(call)
        if ev is None or ev[0] != EV.CALL:
            return None
        if self._function_scopes(ev[1]):
            return replace(q, scoped=True)
        fn = self.ctx.index.functions.get(ev[1])
        if fn is None or len(fn.params) > 1 or call.args or call.keywords:
            return None
        return q

    def _manager_scopes(self, model: str, attr: str) -> bool:
        m = self.ctx.index.models.get(model)
        cls = m.managers.get(attr) if m is not None else None
        if cls is None:
            return False
        if cls in self.spec.helpers or cls.startswith(SCOPING_MANAGER_PREFIXES):
            return True
        meth = self.ctx.index.find_method(cls, "get_queryset")
        return meth is not None and self._function_scopes(meth)

    def _function_scopes(self, qual: str) -> bool:
        """A configured helper, or a function whose own filters name a tenant key."""
        if qual in self.spec.helpers or any(qual.endswith("." + h) for h in self.spec.helpers):
            return True
        fn = self.ctx.index.functions.get(qual)
        if fn is None:
            return False
        keys = self.spec.key_names | self.spec.root_names
        for ref, _line, _col in fn.calls:
            if ref is None or ref[0] != RT.CALL or ref[1] is None or ref[1][0] != RT.ATTR:
                continue
            if ref[1][2] in DJ_FILTERS | SA_FILTERS and any(k.split("__")[0] in keys for k, _v in ref[3]):
                return True
        return False


def _id_compared(call: ast.Call) -> Optional[ast.AST]:
    """The value of ``filter_by(id=x)`` or ``where(Task.id == x)``."""
    for kw in call.keywords:
        if kw.arg == "id":
            return kw.value
    for arg in call.args:
        if isinstance(arg, ast.Compare) and len(arg.ops) == 1:
            return arg.comparators[0] if isinstance(arg.left, ast.Attribute) else arg.left
    return None


def union(found: List[Optional[Query]]) -> Optional[Query]:
    """Every assignment of a variable: unknown if any is, scoped if any is."""
    if any(q is None for q in found):
        return None
    real = [q for q in found if q.model is not None]
    if any(q.scoped for q in found):
        return replace(real[0], scoped=True) if real else replace(_SELF, scoped=True)
    if not real:
        return _SELF
    if len({(q.model, q.orm) for q in real}) > 1:
        return None
    origins = tuple(o for q in real for o in q.origins)
    return replace(real[0], origins=origins, id_lookup=any(q.id_lookup for q in real))
