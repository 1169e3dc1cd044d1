"""Flag-guarded effects: what a project function does depends on a flag its caller passes.

Repository and service helpers often take a boolean that decides whether they send anything::

    async def create(self, obj, *, flush: bool = False):
        self.session.add(obj)
        if flush:
            await self.session.flush()

    def update(self, obj, commit: bool = True):
        ...
        if not commit:
            return obj
        self.session.commit()

``repo.create(obj)`` stages a row and sends nothing; ``update(obj, commit=False)`` does not
commit. A summary of the function that ignores the flag reports per-row writes and commits in
loops that never happen. Extraction records, per function, the *flag parameters* (a parameter
whose default is ``True``/``False``/``None``), the regions of its body that run only when one
is truthy or only when it is falsy (``if flag:`` / its ``else``, ``if not flag:``, ``if flag and
…:``, and the rest of a block after ``if not flag: return``), and the literal ``True``/``False``/
``None`` arguments of each call. This module turns a call site into the flag values the callee
runs with (its defaults, what the call passes, a flag the caller forwards from its own
parameters) and says which of the callee's calls those values rule out. Unknown values rule
nothing out. Stdlib only; used by the loop and transaction families.
"""
from __future__ import annotations

import ast
from typing import Dict, Iterable, List, Optional, Tuple

from ..core.source import param_defaults
from ..core.tags import RT

Flags = Dict[str, bool]
# (param, runs when truthy?, start line, start col, end line, end col)
Guard = Tuple[str, bool, int, int, int, int]


# -- extraction -------------------------------------------------------------------------------
def flag_defaults(node) -> Dict[str, bool]:
    """Parameters whose default is ``True``/``False``/``None`` (``None`` counts as false)."""
    return {name: bool(d.value) for name, d in param_defaults(node).items()
            if isinstance(d, ast.Constant) and (d.value is None or isinstance(d.value, bool))}


def rebound(nodes: Iterable[ast.AST]) -> set:
    """Names the body assigns (``flush = flush or big``): their tests no longer read the flag."""
    out = set()
    for n in nodes:
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            out.add(n.id)
    return out


def flag_guards(body: List[ast.stmt], flags: Iterable[str], nodes: Iterable[ast.AST] = ()) -> List[Guard]:
    """Regions of ``body`` that run only when a flag parameter is truthy (or only when falsy);
    ``nodes``: the body's nodes, to leave out flags it reassigns."""
    names = set(flags) - rebound(nodes)
    out: List[Guard] = []
    if names:
        _guards(body, names, out)
    return out


def _test(test: ast.AST, names) -> Optional[Tuple[str, bool, bool]]:
    """(flag, polarity of the body, whether the else branch has the opposite polarity)."""
    if isinstance(test, ast.Name) and test.id in names:
        return test.id, True, True
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name) \
            and test.operand.id in names:
        return test.operand.id, False, True
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        for v in test.values:
            got = _test(v, names)
            if got is not None:
                return got[0], got[1], False
    return None


def _span(stmts: List[ast.stmt]) -> Tuple[int, int, int, int]:
    first, last = stmts[0], stmts[-1]
    return first.lineno, first.col_offset, last.end_lineno or last.lineno, last.end_col_offset or 0


def _guards(stmts: List[ast.stmt], names, out: List[Guard]) -> None:
    for i, s in enumerate(stmts):
        if isinstance(s, ast.If):
            got = _test(s.test, names)
            if got is not None:
                flag, polarity, has_else = got
                out.append((flag, polarity) + _span(s.body))
                if s.orelse and has_else:
                    out.append((flag, not polarity) + _span(s.orelse))
                if has_else and not s.orelse and isinstance(s.body[-1], (ast.Return, ast.Raise)) and stmts[i + 1:]:
                    out.append((flag, not polarity) + _span(stmts[i + 1:]))  # ``if not commit: return``
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt) and \
                    not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                _guards(inner, names, out)
        for h in getattr(s, "handlers", ()) or ():
            _guards(h.body, names, out)


def literal_args(call: ast.Call) -> Tuple[Tuple[object, bool], ...]:
    """``(position or keyword, value)`` of the ``True``/``False``/``None`` arguments of a call."""
    out = []
    for i, a in enumerate(call.args):
        if isinstance(a, ast.Starred):
            break
        if isinstance(a, ast.Constant) and (a.value is None or isinstance(a.value, bool)):
            out.append((i, bool(a.value)))
    for k in call.keywords:
        if k.arg and isinstance(k.value, ast.Constant) and (k.value.value is None or isinstance(k.value.value, bool)):
            out.append((k.arg, bool(k.value.value)))
    return tuple(out)


# -- call sites -------------------------------------------------------------------------------
def at_call(callee, ref, literals: Iterable[Tuple[object, bool]] = (), outer: Optional[Flags] = None,
            starred: bool = False) -> Flags:
    """The flag values ``callee`` (facts of a project function) runs with at the call ``ref``:
    its defaults, overridden by what the call passes (a literal, a flag the caller forwards from
    ``outer``, anything else: unknown, so left out). No flags for a callee the index lacks."""
    defaults = getattr(callee, "flag_defaults", None)
    if not defaults or starred or ref is None or ref[0] != RT.CALL:
        return {}
    flags = dict(defaults)
    lits = dict(literals)
    names = [p[0] for p in callee.params]
    offset = 1 if callee.cls is not None and names and names[0] in ("self", "cls") and ref[1] is not None \
        and ref[1][0] == RT.ATTR else 0

    def put(name: str, key, arg) -> None:
        if name not in flags:
            return
        if key in lits:
            flags[name] = lits[key]
        elif outer and arg is not None and arg[0] == RT.PARAM and arg[2] in outer:
            flags[name] = outer[arg[2]]
        else:
            del flags[name]

    for i, arg in enumerate(ref[2]):
        if i + offset < len(names):
            put(names[i + offset], i, arg)
    for name, arg in ref[3]:
        put(name, name, arg)
    return flags


def from_node(index, func: str, ref, call: ast.Call) -> Flags:
    """:func:`at_call` of project function ``func`` for a call the rule holds as a node."""
    starred = any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)
    return at_call(index.functions.get(func), ref, literal_args(call), None, starred)


def at_site(index, caller, func: str, ref, line: int, col: int, outer: Optional[Flags] = None) -> Flags:
    """:func:`at_call` of project function ``func`` for a call recorded in ``caller``'s facts at
    (line, col); ``outer``: the caller's own flag values, for flags it forwards."""
    starred = (line, col) in getattr(caller, "starred", ())
    literals = (getattr(caller, "call_literals", None) or {}).get((line, col), ())
    return at_call(index.functions.get(func), ref, literals, outer, starred)


def ruled_out(fn, line: int, col: int, flags: Optional[Flags]) -> bool:
    """The call of ``fn`` at (line, col) cannot run with these flag values."""
    if not flags:
        return False
    for name, polarity, l1, c1, l2, c2 in getattr(fn, "flag_guards", ()) or ():
        if name in flags and flags[name] != polarity and (l1, c1) <= (line, col) <= (l2, c2):
            return True
    return False


def key(flags: Optional[Flags]) -> tuple:
    return tuple(sorted(flags.items())) if flags else ()
