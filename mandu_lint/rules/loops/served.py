"""Is a relation read on a row already loaded, and what would load it?

Shared by the loop rules: MDB302 reports what is :func:`missing`, MDB304 asks which calls the
prefetch cache answers (:func:`cache_served`), and MDB301 stays quiet about a method call whose
only queries are relation reads the loop's query loaded (:func:`served`).
"""
from __future__ import annotations

import ast
from typing import Optional

from ...core.loading import covers
from .per_row import SA_SILENT_LAZY, RowSource, Step, goes_back, loop_source, walk
from ...core.tags import TK

# Calls on a Django related manager that the prefetch cache answers.
CACHE_OPS = frozenset("all count exists acount aexists".split())
ORDERED_CACHE_OPS = frozenset("first last afirst alast".split())


SA_EAGER_LAZY = frozenset({"joined", "selectin", "subquery", "immediate"})


def cache_served(index, step: Step, ops) -> bool:
    """Do these calls on a prefetched related manager read the prefetch cache?"""
    ordered = _ordered(index, step.rel.target)
    return all(op in CACHE_OPS or (ordered and op in ORDERED_CACHE_OPS) for op in ops)


def _ordered(index, model: str) -> bool:
    for c in index.mro(model) if model in index.classes else ():
        k = index.classes.get(c)
        if k is not None and k.meta.get("ordering"):
            return True
    return False


def missing(index, src: RowSource, names) -> Optional[tuple]:
    """(Want, index of the first step not loaded) for the relation path ``names`` read on a row
    of ``src``, or None when the query (or the relation's own strategy) loads it."""
    from .fix import Want

    full = [n for n in src.prefix.split("__") if n] + list(names)
    steps = walk(index, src.query_model, full)
    if steps is None:
        return None
    if any(s.orm != "django" and s.rel.lazy in SA_SILENT_LAZY - SA_EAGER_LAZY for s in steps):
        return None
    for i, s in enumerate(steps):
        prev = steps[i - 1] if i else src.via
        loaded = covers(set(src.eager), "__".join(full[: i + 1])) or (
            s.orm != "django" and s.rel.lazy in SA_EAGER_LAZY) or (prev is not None and goes_back(prev, s))
        if not loaded:
            return Want(tuple(full), tuple(x.owner for x in steps), tuple(x.rel.to_many for x in steps)), i
    return None


def row_argument(ctx, node: ast.Call, source_of):
    """(function, parameter, row source) when a project method or helper is called with a
    per-row value (``b.label()``, ``describe(b)``)."""
    t = ctx.type_of(node.func)
    if t is None or t[0] not in (TK.FUNC, TK.BOUND):
        return None
    fn = ctx.index.functions.get(t[1])
    if fn is None:
        return None
    f = node.func
    if t[0] == TK.BOUND and isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        src = source_of(f.value.id)
        if src is not None and fn.params:
            return t[1], fn.params[0][0], src
    offset = 1 if t[0] == TK.BOUND else 0
    for i, a in enumerate(node.args):
        if isinstance(a, ast.Name) and i + offset < len(fn.params):
            src = source_of(a.id)
            if src is not None:
                return t[1], fn.params[i + offset][0], src
    return None


def served(ctx, node: ast.Call) -> bool:
    """A call whose only queries are relation reads of a loop's row that the loop's query
    loaded (``b.tag_count()`` reading ``self.tags.count()`` after ``prefetch_related("tags")``)."""
    from .reads import param_reads

    found = row_argument(ctx, node, lambda var: loop_source(ctx, var))
    if found is None:
        return False
    func, param, src = found
    reads, opaque = param_reads(ctx.index, func, param, src.model)
    if opaque or not reads:
        return False
    for r in reads:
        last = walk(ctx.index, src.model, r.names)[-1]
        if last.orm == "django" and last.rel.to_many:
            if not r.ops:
                continue
            if not cache_served(ctx.index, last, r.ops):
                return False
        if missing(ctx.index, src, r.names) is not None:
            return False
    return True
