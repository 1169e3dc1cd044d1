"""The unsafe fix of the tenant rules: add the tenant filter where the query starts, when
exactly one tenant value is in scope.

A tenant value is something the function already has: a parameter that is a tenant root
(``org: Organization``) or named like its key (``organization_id``), ``self.organization``,
``request.tenant``, or the value another query of the same function filters its tenant by
(``Label.objects.filter(workspace__slug=slug)`` offers ``slug`` for the ``workspace__slug``
lookup). Values from local variables are not offered (they may be assigned after the query).
Two different values, or none, mean no fix: choosing between tenants is the author's call.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import List, Optional

from ...model import Edit, Fix, FixSafety
from .spec import django_path
from .predicates import DJ_FILTERS, SA_FILTERS, django_predicate, sa_predicate, text
from ...core.tags import RT, TK

CONTEXT_BASES = ("self", "request", "self.request")


@dataclass(frozen=True)
class TenantValue:
    suffix: str  # what the value is compared with beyond the root hop ("" or "slug")
    text: str
    kind: str  # inst | id | any


def tenant_values(ctx, spec, res) -> List[TenantValue]:
    """Distinct tenant values available everywhere in the function ``res`` resolves."""
    fn = res.fn
    if fn is None:
        return []
    found = {}
    for name in sorted(res.params - {"self", "cls", "request"}):
        t = ctx.typer.type_of((RT.PARAM, ctx.scope.func, name))
        if t is not None and t[0] == TK.INST and t[1] in spec.roots:
            found.setdefault(("", name), TenantValue("", name, "inst"))
        elif name in spec.root_names:
            found.setdefault(("", name), TenantValue("", name, "id" if name.endswith("_id") else "any"))
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and (node.attr in spec.root_names or node.attr == "tenant") \
                and text(node.value) in CONTEXT_BASES and isinstance(node.ctx, ast.Load):
            kind = "inst" if node.attr == "tenant" else "id" if node.attr.endswith("_id") else "any"
            found.setdefault(("", text(node)), TenantValue("", text(node), kind))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            for v in _predicate_values(ctx, spec, node, res):
                found.setdefault((v.suffix, v.text), v)
    return list(found.values())


def _predicate_values(ctx, spec, call: ast.Call, res) -> List[TenantValue]:
    name = call.func.attr
    t = ctx.type_of(call.func.value) if name in DJ_FILTERS | SA_FILTERS else None
    if t is None:
        return []
    if t[0] in (TK.MANAGER, TK.QS) and name in DJ_FILTERS:
        pred = django_predicate(ctx, spec, t[1], call)
        vals = [(suffix, v) for _k, v, suffix in pred.values if suffix is not None]
    elif t[0] in (TK.SASELECT, TK.SAQUERY) and name in SA_FILTERS:
        pred = sa_predicate(ctx, spec, call, name)
        vals = [("", v) for _k, v, _s in pred.values]
    else:
        return []
    out = []
    for suffix, v in vals:
        root = v
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        if isinstance(root, ast.Name) and root.id in res.params | {"self"}:
            kind = "id" if text(v).endswith(("_id", ".id", ".pk")) or suffix else "any"
            out.append(TenantValue(suffix, text(v), kind))
    return out


def build_fix(ctx, spec, q, res) -> Optional[Fix]:
    """An unsafe fix for an unscoped query ``q``, or None."""
    sm = spec.scoped(q.model)
    if sm is None or len(q.origins) != 1:
        return None
    values = tenant_values(ctx, spec, res)
    if len(values) != 1:
        return None
    value, origin = values[0], q.origins[0]
    src = ast.get_source_segment(ctx.source, origin)
    if not src:
        return None
    if q.orm == "django":
        new = _django(ctx, sm, q, value, origin, src)
    else:
        new = _sqlalchemy(ctx, sm, q, value, src)
    if new is None:
        return None
    new_text, shown = new
    return Fix(FixSafety.UNSAFE, f"filter by the tenant: {shown}", (Edit(ctx.span(origin), new_text),))


def _django(ctx, sm, q, value: TenantValue, origin, src: str):
    path = django_path(sm)
    if path is None:
        return None
    lookup = path + (f"__{value.suffix}" if value.suffix else "")
    flt = f".filter({lookup}={value.text})"
    if isinstance(origin, ast.Attribute):  # ``Task.objects``
        return f"{src}{flt}", f"`{flt[1:]}`"
    model = ctx.index.models.get(q.model)
    if model is not None and "objects" in model.managers:  # get_object_or_404(Task, ...)
        return f"{src}.objects{flt}", f"`{src}.objects{flt}`"
    return None


def _sqlalchemy(ctx, sm, q, value: TenantValue, src: str):
    edge = sm.direct
    if edge is None or value.suffix or value.kind == "any" or q.model_node is None:
        return None
    model = ast.get_source_segment(ctx.source, q.model_node)
    if not model:
        return None
    rhs = f"{value.text}.id" if value.kind == "inst" else value.text
    method = "where" if q.kind in ("select", "update", "delete") else "filter"
    clause = f".{method}({model}.{edge.name} == {rhs})"
    return f"{src}{clause}", f"`{clause[1:]}`"
