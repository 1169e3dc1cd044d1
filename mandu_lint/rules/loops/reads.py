"""Which relations of a parameter a project function reads, however many calls away.

``book.label()`` whose body reads ``self.author.name`` loads the author, one query per book
when called in a loop. The per-file facts record the attribute chains each function reads from
its parameters (``FuncFacts.param_attrs``); this module interprets them over a model and follows
methods, properties and helpers the parameter is handed to. A function that also runs some
other query is *opaque*: eager loading would not make its call free, so the loop rules leave
it to MDB301.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .per_row import model_steps
from ...core.refs import chain, root
from ...core.tags import EV, RT, TK

MAX_DEPTH = 4
ROW_WRITES = frozenset("save delete asave adelete refresh_from_db arefresh_from_db".split())


@dataclass(frozen=True)
class Read:
    """The row's relations ``names`` read in ``func``, then the calls ``ops`` made on the last."""

    names: Tuple[str, ...]
    ops: Tuple[str, ...]
    func: str
    text: str  # as written: ``self.author.name``


Summary = Tuple[Tuple[Read, ...], bool]  # (reads, opaque)


def param_reads(index, func: str, param: str, model: str, depth: int = 0) -> Summary:
    memo: Dict[tuple, Summary] = index.derived("loops.param_reads", dict)
    key = (func, param, model)
    if key in memo:
        return memo[key]
    memo[key] = ((), False)  # recursion counts as reading nothing
    out = _reads(index, func, param, model, depth) if depth <= MAX_DEPTH else ((), True)
    memo[key] = out
    return out


def _reads(index, func: str, param: str, model: str, depth: int) -> Summary:
    fn = index.functions.get(func)
    if fn is None:
        return (), True
    reads: List[Read] = []
    opaque = False
    for p, attrs in fn.param_attrs:
        if p != param:
            continue
        steps, rest = model_steps(index, model, attrs)
        if steps:
            names = tuple(s.name for s in steps)
            ops = tuple(rest) if steps[-1].rel.to_many else ()
            reads.append(Read(names, ops, func, ".".join((p,) + names + ops)))
        elif len(attrs) == 1:
            meth = index.find_method(model, attrs[0])
            if meth is not None and is_property(index, meth):
                sub, op = param_reads(index, meth, _first_param(index, meth), model, depth + 1)
                reads.extend(sub)
                opaque |= op
    for ref, _line, _col in fn.calls:
        sub, op = _call(index, fn, ref, param, model, depth)
        reads.extend(sub)
        opaque |= op
    for ref, _line, _col in fn.iters:
        if not _rooted(fn, ref, param) and _is_query(index, ref):
            opaque = True
    return _dedupe(reads), opaque


def _call(index, fn, ref, param: str, model: str, depth: int) -> Summary:
    """A call inside ``fn``: the parameter handed on (method of the row, helper), or a query
    that has nothing to do with the parameter (opaque)."""
    typer = index.typer
    if ref is None or ref[0] != RT.CALL:
        return (), False
    callee = ref[1]
    if callee is not None and callee[0] == RT.ATTR and _is_param(fn, callee[1], param):
        meth = index.find_method(model, callee[2])
        if meth is not None:
            return param_reads(index, meth, _first_param(index, meth), model, depth + 1)
        return (), callee[2] in ROW_WRITES  # ``obj.save()``: loading more does not make it free
    if _rooted(fn, ref, param):
        return _rooted_read(index, fn, ref, model), False
    reads: List[Read] = []
    opaque = False
    target = typer.type_of(callee)
    for i, arg in enumerate(ref[2]):
        if _is_param(fn, arg, param) and target is not None and target[0] in (TK.FUNC, TK.BOUND):
            name = _param_at(index, target[1], i + (target[0] == TK.BOUND))
            if name is None:
                return (), True
            sub, op = param_reads(index, target[1], name, model, depth + 1)
            reads.extend(sub)
            opaque |= op
            return tuple(reads), opaque
    ev = typer.event(ref)
    if ev is not None:
        if ev[0] in (EV.QUERY, EV.WRITE):
            opaque = True
        elif ev[0] == EV.CALL and ev[1] != fn.qual and typer.queries(ev[1]) is not None:
            opaque = True
    return tuple(reads), opaque


def _rooted_read(index, fn, ref, model: str) -> Tuple[Read, ...]:
    """``self.books.all().filter(...).count()``: a collection and every call made on it."""
    names = [s[2] for s in chain(ref)[1] if s[0] == RT.ATTR]
    steps, rest = model_steps(index, model, names)
    if not steps or not steps[-1].rel.to_many:
        return ()
    path = tuple(s.name for s in steps)
    return (Read(path, tuple(rest), fn.qual, ".".join(("self",) + path + tuple(rest))),)


def _is_query(index, ref) -> bool:
    t = index.typer.type_of(ref)
    return t is not None and t[0] in (TK.QS, TK.MANAGER, TK.RELMGR, TK.SAQUERY)


def _is_param(fn, ref, param: str) -> bool:
    if ref is None:
        return False
    if ref == (RT.PARAM, fn.qual, param):
        return True
    return ref[0] == RT.SELF and bool(fn.params) and fn.params[0][0] == param


def _rooted(fn, ref, param: str) -> bool:
    return _is_param(fn, root(ref), param)


def _first_param(index, func: str) -> str:
    fn = index.functions.get(func)
    return fn.params[0][0] if fn is not None and fn.params else "self"


def _param_at(index, func: str, i: int) -> Optional[str]:
    fn = index.functions.get(func)
    if fn is None or i >= len(fn.params):
        return None
    return fn.params[i][0]


def is_property(index, func: str) -> bool:
    fn = index.functions.get(func)
    if fn is None:
        return False
    for d in fn.decorators:
        if d in (("g", "builtins.property"), ("g", "functools.cached_property")):
            return True
        if d is not None and d[0] == RT.ATTR and d[2] == "cached_property":
            return True
    return False


def _dedupe(reads: List[Read]) -> Tuple[Read, ...]:
    seen, out = set(), []
    for r in reads:
        if (r.names, r.ops) not in seen:
            seen.add((r.names, r.ops))
            out.append(r)
    return tuple(out)
