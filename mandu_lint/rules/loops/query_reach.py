"""Can the analysis see a query, and where would a fix edit it?

A per-row context is reported only when its query is built from things the analysis can read
(a model or manager, a ``select(...)``, a project function whose returned queries are such), and
a fix is offered only when the query-building expression is in the same function
(:func:`query_target`), not behind a project function's result.
"""
from __future__ import annotations

import ast
from typing import List, Optional, Tuple

from ...core.refs import chain
from ...core.tags import RT, TK


def visible(ctx, ref, depth: int = 0) -> bool:
    """The query behind ``ref`` is built from things we can read: a model class or manager, a
    ``select(...)`` statement, or a project function whose returned queries are visible."""
    if ref is None or depth > 3:
        return False
    if ref[0] == RT.CONFLICT:  # ``items = obj.items`` … ``items = items.filter(...)``: a later
        # refinement runs a fresh query on what the first binding only named
        return any(visible(ctx, c, depth + 1) for c in ref[1:])
    typer = ctx.typer
    r, steps = chain(ref)
    rt = typer.type_of(r)
    while rt is not None and rt[0] == TK.MOD and steps and steps[0][0] == RT.ATTR:  # ``models.Book``
        r = steps.pop(0)
        rt = typer.type_of(r)
    if rt is None:
        return _evidenced_session(ctx, steps, depth)
    if rt[0] in (TK.MODEL, TK.MANAGER):
        return True
    if rt[0] == TK.EXT and rt[1] in _SELECTS:
        return True
    if rt[0] in (TK.EXT, TK.REQUEST, TK.OBJ):
        # the instance a chain reaches: ``get_object_or_404(Job, …).items.filter(…)`` (a call),
        # ``request.user.items.filter(…)``, ``self.request.user.items…`` (an attribute)
        attrs = rt[0] != TK.EXT
        for i, step in enumerate(steps):
            st = typer.type_of(step) if step[0] == RT.CALL or attrs else None
            if st is not None and st[0] == TK.INST:
                r, rt, steps = step, st, steps[i + 1:]
                break
            if st is not None and not (attrs and st[0] in (TK.REQUEST, TK.OBJ)):
                break
    for i, step in enumerate(steps):
        if step[0] != RT.CALL:
            continue
        callee = typer.type_of(step[1])
        if callee is None:
            continue
        if callee[0] in (TK.FUNC, TK.BOUND):
            arg = typer.through_arg(callee[1], step, callee[0] == TK.BOUND)
            if arg is not None:  # a pass-through helper: the query is the one the call hands it
                return visible(ctx, arg, depth + 1)
            if _returns_visible(ctx, callee[1], depth):
                return True
            # the helper returns a row, however it got it (``get_user_from_username(…)`` that may
            # return its own argument): a relation query on that row is a fresh query all the same
            st = typer.type_of(step)
            return st is not None and st[0] == TK.INST and _relation_query(typer, steps[i + 1:])
        if callee[0] == TK.METHOD and callee[1][0] in (TK.SASESSION, TK.SACONN):
            if callee[2] == "query":
                return True
            if step[2]:
                return visible(ctx, step[2][0], depth + 1)
            return False
        if callee[0] == TK.METHOD and callee[1][0] == TK.INST:
            return False
        if callee[0] == TK.METHOD and callee[1][0] in (TK.MANAGER, TK.QS):
            return True  # a view's ``self.get_queryset()``: the served model's manager
    if rt[0] == TK.INST:  # ``author.books.filter(...)``: a fresh query on a relation
        return _relation_query(typer, steps)
    return False


def _relation_query(typer, steps) -> bool:
    """The steps after a row start a query on one of its relations (``.books.filter(...)``)."""
    return bool(steps) and steps[0][0] == RT.ATTR and any(
        s[0] == RT.ATTR and s[2] != "all" and (typer.type_of(s) or (None,))[0] == TK.METHOD for s in steps[1:])


def _evidenced_session(ctx, steps, depth: int) -> bool:
    """``request.db.query(Post)``: an untyped receiver that the typer reads as an SQLAlchemy
    session by what it is given (a mapped class to ``query``, a ``select()`` to ``execute``)."""
    for step in steps:
        if step[0] != RT.CALL or step[1][0] != RT.ATTR:
            continue
        st = ctx.typer.type_of(step)
        if st is None or st[0] not in (TK.SAQUERY, TK.SARESULT):
            continue
        return step[1][2] == "query" or bool(step[2]) and visible(ctx, step[2][0], depth + 1)
    return False


_SELECTS = {"sqlalchemy.select", "sqlalchemy.sql.select", "sqlmodel.select", "sqlalchemy.future.select",
            "sqlalchemy.sql.expression.select"}


def _returns_visible(ctx, func: str, depth: int) -> bool:
    fn = ctx.index.functions.get(func)
    if fn is None or not fn.returns:
        return False
    return all(visible(ctx, r, depth + 1) for r in fn.returns)


def returned_eager(ctx, ref) -> set:
    """Paths loaded by the queries project functions along ``ref`` return."""
    out = set()
    while ref is not None and ref[0] in (RT.ATTR, RT.CALL, RT.ITER, RT.SUB):
        if ref[0] == RT.CALL:
            callee = ctx.typer.type_of(ref[1])
            if callee is not None and callee[0] in (TK.FUNC, TK.BOUND):
                fn = ctx.index.functions.get(callee[1])
                if fn is not None:
                    out.update(fn.returns_eager)
            else:  # ``Package.objects.normal()``: a custom manager's or queryset's own method
                out.update(_manager_method_eager(ctx, ref[1]))
            for arg in ref[2]:  # ``repo.list(statement)``
                if arg is not None and arg[0] == RT.CALL:
                    out.update(returned_eager(ctx, arg))
        ref = ref[1]
    return out


def _manager_method_eager(ctx, func_ref) -> set:
    """Paths a custom manager or queryset method loads (``def normal(self): return
    self.select_related("arch")``), called on a model's manager or queryset."""
    if func_ref is None or func_ref[0] != RT.ATTR:
        return set()
    base = ctx.typer.type_of(func_ref[1])
    if base is None or base[0] not in (TK.MANAGER, TK.QS, TK.RELMGR):
        return set()
    out = set()
    for meth in ctx.index.manager_methods(base[1], func_ref[2]):
        fn = ctx.index.functions.get(meth)
        if fn is not None:
            out.update(fn.returns_eager)
    return out


EVALUATE = frozenset("all fetchall unique scalars first one one_or_none".split())
SA_RUNS = frozenset("scalars execute exec stream stream_scalars".split())


def query_target(ctx, it: ast.AST) -> Tuple[Optional[ast.AST], Tuple[str, ...]]:
    """The query-building expression under an iterated expression (``select(...)`` inside
    ``session.scalars(...).all()``, ``Book.objects.filter(...)`` under a slice), following local
    names assigned once; (None, ()) when it is not built in this function."""
    names: List[str] = []
    node = it
    for _ in range(20):
        if isinstance(node, ast.Await):
            node = node.value
        elif isinstance(node, ast.Name):
            value = ctx.scope.value_of(node.id)
            if value is None or node.id not in ctx.scope.locals:
                return None, ()
            names.append(node.id)
            node = value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args and \
                ctx.typer.type_of(ctx.ref(node.func)) == (TK.EXT, f"builtins.{node.func.id}"):
            node = node.args[0]  # list(qs), sorted(qs)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SA_RUNS:
            node = node.args[0] if node.args else node.func.value  # ``result.scalars()``: the result's query
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EVALUATE \
                and _is_sa(ctx, node.func.value):
            node = node.func.value
        else:
            break
    if not isinstance(node, ast.Call) or _calls_project(ctx, node):
        return None, ()
    return node, tuple(names)


def _calls_project(ctx, node: ast.AST) -> bool:
    """The chain starts from a project function's result: its query is built elsewhere."""
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Call):
            t = ctx.type_of(node.func)
            if t is not None and t[0] in (TK.FUNC, TK.BOUND):
                return True
            node = node.func
        else:
            node = node.value
    return False


def _is_sa(ctx, node: ast.AST) -> bool:
    t = ctx.type_of(node)
    return t is not None and t[0] in (TK.SAQUERY, TK.SARESULT, TK.SASELECT)
