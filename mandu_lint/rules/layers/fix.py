"""Rewrite ``x = open_it(...)`` and the statements that use ``x`` into a ``with`` block.

The edit replaces the opening statement with ``with <expr> as x:`` holding the following
statements of the same block up to the last one that uses ``x`` (their text re-indented one
level, comments kept), and deletes those statements where they were; a trailing ``x.close()``
is dropped, since the ``with`` now closes. Nothing is offered when the text cannot be moved
verbatim: statements sharing a line, a multi-line string (re-indenting would change it), or a
use of ``x`` outside the block.
"""
from __future__ import annotations

import ast
from typing import List, NamedTuple, Optional, Tuple

from .leaks import HANDLES, is_close, locate

_EXITS = (ast.Return, ast.Raise, ast.Yield, ast.YieldFrom)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)


class Wrap(NamedTuple):
    header: str  # ``with … as x:`` (no indentation)
    body: str  # the moved lines, re-indented
    moved: List[ast.stmt]  # statements to delete (the trailing close included)
    straight: bool  # no exit inside, and nothing assigned inside is read after the block


def plan_wrap(source_lines: List[str], func: ast.AST, opened: ast.stmt, call: ast.AST, var: str,
              context: str, is_async: bool, orm: bool) -> Optional[Wrap]:
    """``context`` is the with-item text with ``{}`` for the opening expression; ``orm``: what
    the block loads may be ORM objects that need the open session later."""
    chain = locate(func.body, opened)
    if chain is None:
        return None
    _c, _n, block, i = chain[-1]
    last, deps = _span_end(block, i, var, orm)
    if last is None or _used_elsewhere(func, block[i:last + 1], {var} | (set() if orm else deps)):
        return None  # a handle (a cursor) used outside the block would outlive its connection
    moved = block[i + 1:last + 1]
    kept = moved[:-1] if isinstance(moved[-1], ast.Expr) and is_close(moved[-1].value, var) else moved
    if not kept or not all(_alone(source_lines, s) for s in [opened] + moved) or _multiline_string(kept):
        return None
    expr = _segment(source_lines, call)
    indent = source_lines[opened.lineno - 1][:opened.col_offset]
    unit = _unit(source_lines, func)
    if expr is None or unit is None or indent.strip():
        return None
    first = opened.end_lineno + 1
    stop = kept[-1].end_lineno if kept is moved else max(moved[-1].lineno - 1, kept[-1].end_lineno)
    text = [_reindent(line, indent, unit) for line in source_lines[first - 1:stop]]
    while text and not text[-1]:
        text.pop()
    header = f"{'async ' if is_async else ''}with {context.format(_dedent(expr, indent))} as {var}:"
    later = orm and _used_elsewhere(func, block[i:last + 1], deps)
    return Wrap(header, "\n".join(text) + "\n", moved, _straight(kept) and not later)


def _span_end(block: list, i: int, var: str, orm: bool):
    """(index of the last statement using ``var`` or what was derived from it, derived names).
    Derived: for a session, anything assigned from an expression using it (ORM objects may load
    lazily); for a DB-API connection, handles such as ``cur = conn.cursor()``."""
    deps, last = {var}, None
    for j in range(i + 1, len(block)):
        nodes = list(ast.walk(block[j]))
        if not any(isinstance(n, ast.Name) and n.id in deps for n in nodes):
            continue
        last = j
        for n in nodes:
            if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None and (
                    _uses(n.value, deps) if orm else any(_handle_of(n.value, d) for d in deps)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                deps |= {t.id for tg in targets for t in ast.walk(tg) if isinstance(t, ast.Name)}
            elif orm and isinstance(n, (ast.For, ast.comprehension)) and _uses(n.iter, deps):
                deps |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
    return last, deps - {var}


def _uses(node: ast.AST, names: set) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _used_elsewhere(func: ast.AST, span: list, names: set) -> bool:
    inside = {id(n) for s in span for n in ast.walk(s)}
    return any(isinstance(n, ast.Name) and n.id in names and id(n) not in inside
               for s in func.body for n in ast.walk(s))


def _alone(lines: List[str], stmt: ast.stmt) -> bool:
    """Nothing else on the statement's first and last lines but indentation and a comment."""
    before = lines[stmt.lineno - 1][:stmt.col_offset]
    after = lines[stmt.end_lineno - 1][stmt.end_col_offset:].strip()
    return not before.strip() and (not after or after.startswith("#"))


def _multiline_string(stmts: list) -> bool:
    return any(isinstance(n, (ast.Constant, ast.JoinedStr))
               and (isinstance(n, ast.JoinedStr) or isinstance(n.value, (str, bytes)))
               and n.lineno != n.end_lineno for s in stmts for n in ast.walk(s))


def _segment(lines: List[str], node: ast.AST) -> Optional[str]:
    if node.lineno == node.end_lineno:
        return lines[node.lineno - 1][node.col_offset:node.end_col_offset]
    parts = [lines[node.lineno - 1][node.col_offset:]] + lines[node.lineno:node.end_lineno - 1] + \
        [lines[node.end_lineno - 1][:node.end_col_offset]]
    return "\n".join(parts)


def _dedent(text: str, indent: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[1:]])


def _reindent(line: str, indent: str, unit: str) -> str:
    if not line.strip():
        return ""
    return unit + line[len(indent):] if line.startswith(indent) else line


def _unit(lines: List[str], func: ast.AST) -> Optional[str]:
    """One level of indentation as this function writes it."""
    outer = lines[func.lineno - 1][:func.col_offset]
    inner = lines[func.body[0].lineno - 1][:func.body[0].col_offset]
    if not inner.startswith(outer) or len(inner) == len(outer):
        return None
    return inner[len(outer):]


def _straight(stmts: list) -> bool:
    """No way out of the block but its end (loops nested inside may break and continue)."""
    for s in stmts:
        for n in ast.walk(s):
            if isinstance(n, _EXITS):
                return False
        if isinstance(s, (ast.Break, ast.Continue)) or _loose_jump(s):
            return False
    return True


def _loose_jump(stmt: ast.stmt) -> bool:
    """A ``break``/``continue`` in ``stmt`` that belongs to a loop outside it."""
    stack = [c for c in ast.iter_child_nodes(stmt)] if not isinstance(stmt, _LOOPS) else []
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.Break, ast.Continue)):
            return True
        if not isinstance(n, _LOOPS + (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(n))
    return False


def _handle_of(value: ast.AST, var: str) -> bool:
    if isinstance(value, ast.Name):
        return value.id == var
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == var and value.func.attr in HANDLES)


def edits_of(wrap: Wrap, opened: ast.stmt, span_of) -> Tuple[tuple, ...]:
    """(span, text) pairs: the ``with`` in place of the opening statement, the moved ones deleted."""
    return ((span_of(opened), wrap.header + "\n" + wrap.body),) + tuple((span_of(s), "") for s in wrap.moved)
