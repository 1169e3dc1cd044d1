"""Ids a view's access check has already tied to the tenant.

Views commonly check access before their body runs: a decorator (``@allow_permission``) or
DRF permission classes (``permission_classes = [ProjectMemberPermission]``) run
``ProjectMember.objects.filter(workspace__slug=slug, project_id=project_id, member=user)``.
After such a check, ``Project.objects.get(pk=project_id)`` cannot reach another tenant's
project: ``project_id`` was verified against the tenant. This module reads those checks from
the project index (never by running them): a filter in a decorator or permission class that
pins the tenant *and* names a key (``project_id``) marks the view parameter of that name as
verified for the key's model (``Project``).
"""
from __future__ import annotations

import ast
import re
from typing import Dict, Iterable, Optional, Set, Tuple

from ...project.models import snake
from .predicates import DJ_FILTERS, ID_LOOKUPS, from_client
from ...core.tags import EV, RT, TK

PERMISSION_METHODS = ("has_permission", "has_object_permission")
DB_HANDLES = ("sasession", "saconn", "dbconn", "cursor", "saengine")
ROUTE_DECORATORS = frozenset("get post put patch delete head options route api_route websocket api_view action".split())
VIEW_ENTRIES = frozenset("""get post put patch delete head options list retrieve create update partial_update
destroy get_object get_queryset perform_create perform_update perform_destroy form_valid get_context_data""".split())
HANDLER_CLASS = re.compile(r"(View|ViewSet|APIView|Endpoint|Resource|Handler|Controller)$")


def is_handler(ctx, fn: Optional[ast.AST]) -> bool:
    """A request handler: it takes ``request``, is routed by a decorator (``@router.get``,
    ``@app.route``, ``@api_view``), or is a view class's entry point (``get``, ``retrieve``,
    ``destroy``…). Its id parameters come from the client; a plain function's or a view
    helper's come from a caller that may have checked them."""
    if fn is None:
        return False
    args = fn.args
    if {"request", "req"} & {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}:
        return True
    for deco in fn.decorator_list:
        node = deco.func if isinstance(deco, ast.Call) else deco
        name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        if name in ROUTE_DECORATORS:
            return True
    return fn.name in VIEW_ENTRIES and in_view(ctx)


def in_view(ctx) -> bool:
    """The current function is a method of a view class (``…View``, ``…ViewSet``, ``…Endpoint``)."""
    cls = ctx.scope.self_cls
    return bool(cls) and any(HANDLER_CLASS.search(a.rsplit(".", 1)[-1]) for a in ctx.index.mro(cls))


def from_url(value: Optional[ast.AST]) -> bool:
    """``self.kwargs["pk"]``, ``kwargs.get("project_id")``: a URL parameter read directly."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get":
        return _is_kwargs(value.func.value)
    return isinstance(value, ast.Subscript) and _is_kwargs(value.value)


class Access:
    """What a function's context says about the ids it looks up: is it a request handler, a
    cross-tenant job, and which parameters did the view's access check verify?"""

    def __init__(self, ctx, spec, fn: Optional[ast.AST], cls: Optional[ast.ClassDef], params):
        self.ctx, self.spec, self.fn, self.cls, self.params = ctx, spec, fn, cls, params
        self._verified: Optional[Dict[str, Set[str]]] = None
        self._handler: Optional[bool] = None

    def trusted_id(self, call: ast.Call, model: Optional[str], value: Optional[ast.AST] = None) -> bool:
        """An id lookup the client cannot steer: verified by the view's access check, or a plain
        function's parameter (its caller decides) that is not read from the request."""
        if value is None:
            value = next((k.value for k in call.keywords if k.arg in ID_LOOKUPS), None)
        if value is not None and from_client(self.ctx, value) is not None:
            return False
        if self.handler() or from_url(value):
            return self.verified(call, model)
        return True

    def handler(self) -> bool:
        if self._handler is None:
            self._handler = is_handler(self.ctx, self.fn)
        return self._handler

    def maintenance(self) -> bool:
        """A function that takes nothing a tenant could come from (no parameter but ``self``
        and database handles) and is not a request handler works across tenants on purpose:
        ``delete_expired(self)``, ``expire_open_checkouts(self)``."""
        if self.fn is None or self.handler() or in_view(self.ctx):
            return False
        args = self.fn.args
        if args.vararg is not None or args.kwarg is not None:
            return False
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            if a.arg in ("self", "cls"):
                continue
            t = self.ctx.typer.type_of((RT.PARAM, self.ctx.scope.func, a.arg))
            if t is None or t[0] not in DB_HANDLES:
                return False
        return True

    def verified(self, call: ast.Call, model: Optional[str]) -> bool:
        """``get(pk=project_id)`` after the view's access check verified ``project_id``."""
        if self._verified is None:
            self._verified = verified_params(self.ctx, self.spec, self.fn, self.cls)
        found = id_value(call)
        if found is None or (found[1] and found[0] not in self.params):
            return False
        return model in self._verified.get(found[0], ())


def verified_params(ctx, spec, fn: Optional[ast.AST], cls: Optional[ast.ClassDef]) -> Dict[str, Set[str]]:
    """Parameter name -> models whose id it holds, as verified by the view's access checks."""
    out: Dict[str, Set[str]] = {}
    if fn is None:
        return out
    for qual in _check_functions(ctx, fn, cls):
        facts = ctx.index.functions.get(qual)
        for ref, _line, _col in (facts.calls if facts is not None else ()):
            _collect(ctx, spec, ref, out)
    return out


def _check_functions(ctx, fn, cls) -> Iterable[str]:
    quals = []
    for deco in fn.decorator_list:
        node = deco.func if isinstance(deco, ast.Call) else deco
        t = ctx.type_of(node)
        if t is not None and t[0] == TK.FUNC:
            quals.append(t[1])
    for perm in _permission_classes(cls):
        t = ctx.type_of(perm)
        if t is not None and t[0] == TK.CLASS:
            quals += [q for m in PERMISSION_METHODS if (q := ctx.index.find_method(t[1], m))]
    found = []
    for qual in quals:  # a decorator factory's checks live in its nested functions
        facts = ctx.index.owner(qual)
        found += [q for q in (facts.functions if facts is not None else ()) if q == qual or q.startswith(qual + ".")]
    return _with_callees(ctx, found, 2)


def _with_callees(ctx, quals, depth: int):
    """The checks and the project functions they call (``self._check_project_member_access``)."""
    seen = list(dict.fromkeys(quals))
    frontier = list(seen)
    for _ in range(depth):
        nxt = []
        for qual in frontier:
            facts = ctx.index.functions.get(qual)
            for ref, _line, _col in (facts.calls if facts is not None else ()):
                ev = ctx.typer.event(ref)
                if ev is not None and ev[0] == EV.CALL and ev[1] not in seen:
                    seen.append(ev[1])
                    nxt.append(ev[1])
        frontier = nxt
    return seen


def _permission_classes(cls: Optional[ast.ClassDef]):
    if cls is None:
        return []
    for item in cls.body:
        named = any(isinstance(t, ast.Name) and t.id == "permission_classes" for t in getattr(item, "targets", ()))
        if isinstance(item, ast.Assign) and named:
            if isinstance(item.value, (ast.List, ast.Tuple)):
                return list(item.value.elts)
    return []


def _collect(ctx, spec, ref, out: Dict[str, Set[str]]) -> None:
    """One call of a check function: a filter on a model's manager that pins the tenant."""
    if ref is None or ref[0] != RT.CALL or ref[1] is None or ref[1][0] != RT.ATTR or ref[1][2] not in DJ_FILTERS:
        return
    recv = ctx.typer.type_of(ref[1][1])
    if recv is None or recv[0] not in (TK.MANAGER, TK.QS) or recv[1] not in ctx.index.models:
        return
    names = [k for k, _v in ref[3]]
    if not any(k.split("__")[0] in spec.root_names for k in names):
        return
    model = ctx.index.models[recv[1]]
    for k in names:
        head = k.split("__")[0]
        if head in ("id", "pk") and recv[1] in spec.models:  # ``Project.objects.filter(id=kwargs["project_id"])``
            out.setdefault(f"{snake(model.name)}_id", set()).add(recv[1])
            continue
        rel = model.relations.get(head[:-3] if head.endswith("_id") else head)
        if rel is None or rel.target in spec.roots or rel.kind not in ("fk", "o2o"):
            continue
        for name in {head, f"{rel.name}_id"}:
            out.setdefault(name, set()).add(rel.target)


def id_value(call: ast.Call) -> Optional[Tuple[str, bool]]:
    """The URL parameter an id lookup uses: ``get(pk=project_id)`` -> ("project_id", True);
    ``get(id=self.kwargs.get("project_id"))``, ``kwargs["project_id"]`` -> ("project_id", False)."""
    for kw in call.keywords:
        if kw.arg not in ("pk", "id", "pk__exact", "id__exact"):
            continue
        v = kw.value
        if isinstance(v, ast.Name):
            return v.id, True
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "get" and v.args:
            v = ast.Subscript(value=v.func.value, slice=v.args[0])
        if isinstance(v, ast.Subscript) and isinstance(v.slice, ast.Constant) and isinstance(v.slice.value, str) \
                and _is_kwargs(v.value):
            return v.slice.value, False
    return None


def _is_kwargs(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "kwargs"
    return isinstance(node, ast.Attribute) and node.attr == "kwargs" and isinstance(node.value, ast.Name) \
        and node.value.id == "self"
