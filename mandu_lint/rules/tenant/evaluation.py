"""Where a query's rows are read or changed — the points the tenant rules judge — and the
per-file state the five rules share (the spec, one resolver per function, memoised verdicts).

A queryset that is only built, or returned from an ordinary function, is not judged: its
caller may still filter it. It is judged where rows come out or change: a read method
(``get``, ``first``, ``count``…), iteration, ``list()``/``len()``, ``get_object_or_404``, a DRF
serializer given the queryset, ``session.execute``/``scalars``/``get``, a legacy ``Query``'s
``all()``/``first()``…, ``update()``/``delete()``/``bulk_update()``, and what a DRF or Django
generic view's ``get_queryset``/``queryset`` hands to the framework.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, Optional

from ...core.refs import dotted
from ...project.types import EVALUATING_BUILTINS, GET_OR_404, QS_READ
from .spec import tenant_spec
from .predicates import django_predicate
from .query import Query, Resolver
from ...core.tags import EV, RT, TK

DJ_WRITES = frozenset("update aupdate delete adelete".split())
DJ_BULK = frozenset(("bulk_update", "abulk_update"))
DJ_CREATES = frozenset("create acreate bulk_create abulk_create".split())
SESSION_RUN = frozenset("execute scalars scalar exec stream stream_scalars".split())
SERIALIZERS = ("rest_framework.serializers.",)
VIEWS = ("rest_framework.generics.", "rest_framework.viewsets.", "rest_framework.mixins.",
         "django.views.generic.")
_MISSING = object()


@dataclass(frozen=True)
class Evaluation:
    node: ast.AST  # where rows are read or changed (the reported node)
    query: Query
    action: str  # read | write
    iterated: bool = False  # ``node`` is the iterable of a loop or comprehension


class TenantFile:
    def __init__(self, ctx, spec):
        self.ctx, self.spec = ctx, spec
        self._resolvers: Dict[int, Resolver] = {}
        self._memo: Dict[object, Optional[Evaluation]] = {}
        self._disabled: Optional[list] = None  # line spans where django-scopes is disabled

    def resolver(self, fn: Optional[ast.AST], cls: Optional[ast.ClassDef] = None) -> Resolver:
        key = id(fn)
        if key not in self._resolvers:
            self._resolvers[key] = Resolver(self.ctx, self.spec, fn, cls)
        return self._resolvers[key]

    def unscoped(self, node: ast.AST, fn: Optional[ast.AST], cls=None, iterated: bool = False) -> Optional[Evaluation]:
        """The evaluation at ``node`` (a call, or an ``iterated`` expression) when its query
        reads or changes a scoped model with no tenant predicate; memoised for the five rules."""
        key = (iterated, id(node))
        if key not in self._memo:
            self._memo[key] = self._judge(node, fn, cls, iterated)
        return self._memo[key]

    def _scopes_disabled(self, node: ast.AST) -> bool:
        """Inside ``with scopes_disabled():`` or a function decorated ``@scopes_disabled()``
        (django-scopes): the code says it works across tenants."""
        if self._disabled is None:
            names = self.ctx.names

            def is_disabler(expr) -> bool:
                f = expr.func if isinstance(expr, ast.Call) else expr
                if isinstance(f, ast.Attribute):  # ``django_scopes.scopes_disabled()``
                    base = f.value.id if isinstance(f.value, ast.Name) else ""
                    return f.attr == "scopes_disabled" and (names.qual(base) or "").startswith("django_scopes")
                target = names.qual(f.id) if isinstance(f, ast.Name) else None
                return bool(target) and target.startswith("django_scopes") and target.endswith(".scopes_disabled")

            spans = []
            for n in ast.walk(self.ctx.tree):
                if isinstance(n, (ast.With, ast.AsyncWith)) and any(is_disabler(i.context_expr) for i in n.items):
                    spans.append((n.lineno, n.end_lineno or n.lineno))
                elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                        is_disabler(d) for d in n.decorator_list):
                    spans.append((n.lineno, n.end_lineno or n.lineno))
            self._disabled = spans
        line = getattr(node, "lineno", 0)
        return any(a <= line <= b for a, b in self._disabled)

    def _judge(self, node, fn, cls, iterated: bool) -> Optional[Evaluation]:
        res = self.resolver(fn, cls)
        found = self._iterated(node, res) if iterated else self._call(node, res) if isinstance(node, ast.Call) \
            else None
        if found is None:
            return None
        q, action = found
        if q is None or q.scoped or q.model is None or q.model not in self.spec.models:
            return None
        if self._scopes_disabled(node):
            return None  # django-scopes ``scopes_disabled()``: cross-tenant on purpose
        if res.checked_after(node) or res.maintenance():
            return None
        return Evaluation(node, q, action, iterated)

    def _iterated(self, node, res):
        t = self.ctx.type_of(node)
        if t is None and isinstance(node, ast.Call):
            q = res.resolve(node)  # a custom queryset method's result
            return (q, "read") if q is not None and q.orm == "django" else None
        if t is None or t[0] not in (TK.QS, TK.MANAGER, TK.SAQUERY):
            return None
        return res.resolve(node), "read"

    def _call(self, node: ast.Call, res):
        ctx = self.ctx
        f = node.func
        _ref, _t, ev = ctx.call_info(node)
        if ev is not None and ev[0] in (EV.QUERY, EV.WRITE) and isinstance(f, ast.Attribute):
            return self._method(node, f, res)
        if ev is None and isinstance(f, ast.Attribute) and f.attr in QS_READ | DJ_WRITES:
            q = res.resolve(node)  # ``Task.objects.open().count()``: a custom method the typer cannot type
            if q is not None and q.orm == "django":
                return q, ("write" if f.attr in DJ_WRITES else "read")
        d = dotted(ctx.ref(f)) if ctx.ref(f) is not None else None
        name = ctx.index.canonical(d) if d else ""
        if ev is not None and name in EVALUATING_BUILTINS and node.args:
            return res.resolve(node.args[0]), "read"
        if ev is not None and name in GET_OR_404 and node.args:
            return self._get_or_404(node, res), "read"
        if node.args and self._serializer(node):
            return res.resolve(node.args[0]), "read"
        if ev is not None and ev[0] == EV.CALL:
            arg = self._executed_argument(node, ev[1])
            if arg is not None:  # ``repository.get_all(statement)`` runs the statement as it is
                q = res.resolve(arg)
                return q, ("write" if q is not None and q.kind in ("update", "delete") else "read")
        return None

    def _executed_argument(self, node: ast.Call, qual: str) -> Optional[ast.AST]:
        """The argument a project function runs as it is (``session.execute(statement)``,
        ``for row in queryset``), one call away; None when it filters or passes it on first."""
        fn = self.ctx.index.functions.get(qual)
        if fn is None:
            return None
        params = [p[0] for p in fn.params]
        if fn.cls and params and params[0] in ("self", "cls") and isinstance(node.func, ast.Attribute):
            params = params[1:]
        pairs = [(params[i], a) for i, a in enumerate(node.args[:len(params)]) if not isinstance(a, ast.Starred)]
        pairs += [(k.arg, k.value) for k in node.keywords if k.arg in params]
        for name, arg in pairs:
            if self._runs(fn, name):
                return arg
        return None

    def _runs(self, fn, name: str) -> bool:
        key = ("runs", fn.qual, name)
        if key not in self._memo:
            param = (RT.PARAM, fn.qual, name)
            hit = param in [r for r, _l, _c in fn.iters]
            for ref, _line, _col in fn.calls:
                if hit or ref is None or ref[0] != RT.CALL or ref[1] is None:
                    continue
                callee, pos = ref[1], ref[2]
                if callee[0] == RT.ATTR and callee[1] == param and callee[2] in QS_READ:
                    hit = True  # ``queryset.count()``
                elif pos and pos[0] == param and callee[0] == RT.ATTR and callee[2] in SESSION_RUN:
                    recv = self.ctx.typer.type_of(callee[1])
                    hit = recv is not None and recv[0] in (TK.SASESSION, TK.SACONN, TK.SAENGINE)
                elif pos and pos[0] == param and callee[0] == RT.GLOBAL and callee[1] in EVALUATING_BUILTINS:
                    hit = True  # ``list(queryset)``
            self._memo[key] = hit
        return bool(self._memo[key])

    def _method(self, node: ast.Call, f: ast.Attribute, res):
        rt = self.ctx.type_of(f.value)
        kind = rt[0] if rt else None
        name = f.attr
        if kind in ("manager", "qs"):
            if name in DJ_CREATES:
                return None
            if name in DJ_BULK:
                return (res.resolve(node.args[0]) if node.args else None), "write"
            return res.resolve(node), ("write" if name in DJ_WRITES else "read")
        if kind == "saquery":
            return res.resolve(node), ("write" if name in ("update", "delete") else "read")
        if kind in ("sasession", "saconn", "saengine"):
            if name in ("get", "get_one"):
                return res.resolve(node), "read"
            if name in SESSION_RUN and node.args:
                q = res.resolve(node.args[0])
                return q, ("write" if q is not None and q.kind in ("update", "delete") else "read")
        return None

    def _get_or_404(self, node: ast.Call, res) -> Optional[Query]:
        first = node.args[0]
        t = self.ctx.type_of(first)
        if t is None or len(t) < 2 or t[1] is None:
            return None
        if t[0] == TK.MODEL:
            q = Query(t[1], "django", "qs", False, (first,))
        else:
            q = res.resolve(first)
        if q is None or q.model is None:
            return q
        lookups = ast.Call(func=node.func, args=node.args[1:], keywords=node.keywords)
        pred = django_predicate(self.ctx, self.spec, q.model, lookups)
        scoped = q.scoped or pred.scoped or (pred.id_only and res.trusted_id(node, q.model))
        return Query(q.model, q.orm, q.kind, scoped, q.origins, q.id_lookup or pred.id_only)

    def _serializer(self, node: ast.Call) -> bool:
        """``TaskSerializer(qs, many=True)``: a DRF serializer evaluates the queryset."""
        t = self.ctx.type_of(node.func)
        if t is None or t[0] != TK.CLASS:
            return False
        arg = self.ctx.type_of(node.args[0])
        return arg is not None and arg[0] in (TK.QS, TK.MANAGER) and _has_base(self.ctx, t[1], SERIALIZERS)

    def view_class(self, cls: Optional[str]) -> bool:
        return cls is not None and _has_base(self.ctx, cls, VIEWS)

    def view_queryset(self, node: ast.AST, fn, cls=None) -> Optional[Evaluation]:
        """What a generic view's ``get_queryset``/``queryset`` gives the framework to list."""
        key = ("view", id(node))
        if key not in self._memo:
            res = self.resolver(fn, cls)
            q = res.resolve(node)
            ok = q is not None and not q.scoped and q.model in self.spec.models
            self._memo[key] = Evaluation(node, q, "read") if ok else None
        return self._memo[key]


def _has_base(ctx, cls: str, prefixes) -> bool:
    return any(a.startswith(prefixes) for a in ctx.index.mro(cls))


def called_only_from_system(ctx) -> bool:
    """Every chain of project callers of the current function starts in a ``tenant.system`` file
    (a back-office endpoint, an admin action, a command): the function runs cross-tenant on
    purpose, as those files do. Callers in ``non-app`` files (tests) do not count. A function with
    no known caller, or one reached from an entry outside the system files (a view, a task), is
    judged as before. Memoised per function."""
    qual = ctx.function_qual()
    if not qual:
        return False
    memo = ctx.index.derived("tenant.system_only", dict)
    hit = memo.get(qual)
    if hit is None:
        hit = memo[qual] = _system_chains(ctx, qual)
    return hit


def _system_chains(ctx, qual: str, max_depth: int = 6) -> bool:
    from ...project.contexts import contexts

    system = ctx.project.settings.globset("system", "tenant")
    flow = contexts(ctx.index)
    callers = flow.callers()
    if not callers.get(qual):
        return False
    seen, frontier, system_seen = {qual}, [qual], False
    for _ in range(max_depth):
        nxt = []
        for q in frontier:
            if q != qual and (flow.entry(q) or not callers.get(q)):
                return False  # an entry, or a chain's start, outside the system files
            for c in callers.get(q, ()):
                if c in seen:
                    continue
                seen.add(c)
                path = ctx.index.func_path.get(c)
                if path is None:
                    return False
                if system.match(path):
                    system_seen = True
                elif not ctx.project.is_non_app(path):
                    nxt.append(c)
        if not nxt:
            return system_seen  # only tests call it: no production caller known, judged as before
        frontier = nxt
    return False  # deeper than we follow: unknown


def tenant_file(ctx) -> Optional[TenantFile]:
    """The shared state of the tenant rules for this file; None when they are off here (no
    ``tenant.models`` configured, no scoped model, or a ``tenant.system`` file)."""
    tf = ctx.memo.get("tenant.file", _MISSING)
    if tf is _MISSING:
        tf = None
        settings = ctx.project.settings
        spec = tenant_spec(ctx.index, settings)
        if spec is not None and spec.schema_per_tenant:
            ctx.memo["tenant.schema_per_tenant"] = spec.schema_per_tenant
        if spec is not None and spec.models and not settings.globset("system", "tenant").match(ctx.relpath):
            tf = TenantFile(ctx, spec)
        ctx.memo["tenant.file"] = tf
    return tf
