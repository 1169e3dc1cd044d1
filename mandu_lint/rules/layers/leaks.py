"""Is a connection, cursor or session a function opens closed on every way out of it?

A small structural walk over the statements after the one that opens the resource: branches
split, loops may run zero times, a ``finally`` that closes covers everything in its ``try``, a
``with`` over the resource closes it when the resource's ``__exit__`` does. Exceptions raised
by calls are not paths here (a linter cannot know which call raises); an explicit ``return`` or
``raise`` is. Everything is local to one function body.
"""
from __future__ import annotations

import ast
from typing import List, NamedTuple, Optional, Tuple

CLOSERS = ("close", "aclose")
# Methods whose result stays tied to the resource (a cursor, a lazy result, a query, a nested
# transaction): returning one hands the resource over. ``fetchone()``, ``get()`` return data.
HANDLES = frozenset("cursor execute executemany executescript scalars stream stream_scalars connection begin "
                    "begin_nested query exec transaction".split())
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


class Leak(NamedTuple):
    node: ast.AST  # the statement where the resource is lost
    how: str  # "return" | "raise" | "end" | "loop"


def is_close(node: ast.AST, var: str) -> bool:
    """``var.close()`` / ``await var.aclose()``."""
    if isinstance(node, ast.Await):
        node = node.value
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOSERS
            and isinstance(node.func.value, ast.Name) and node.func.value.id == var)


def closes_anywhere(stmts: List[ast.stmt], var: str) -> bool:
    return any(is_close(n, var) for s in stmts for n in ast.walk(s))


def locate(body: List[ast.stmt], target: ast.stmt) -> Optional[List[Tuple[ast.AST, str, list, int]]]:
    """The chain of (container, block name, block, index) from ``body`` down to ``target``."""
    for i, stmt in enumerate(body):
        if stmt is target:
            return [(None, "body", body, i)]
        if isinstance(stmt, _NESTED):
            continue
        for name, block in _child_blocks(stmt):
            found = locate(block, target)
            if found is not None:
                return [(stmt, name, body, i)] + found
    return None


def _child_blocks(stmt: ast.stmt):
    for name in _BLOCKS:
        value = getattr(stmt, name, None)
        if not value:
            continue
        if name == "handlers":
            for h in value:
                yield "handlers", h.body
        elif name == "cases":
            for c in value:
                yield "cases", c.body
        else:
            yield name, value


def _merge(*states):
    live = [s for s in states if s is not None]
    return None if not live else any(live)


class PathCheck:
    """Walks statements with the resource open (True), closed (False) or unreachable (None)."""

    def __init__(self, var: str, with_closes: bool):
        self.var = var
        self.with_closes = with_closes

    def block(self, stmts, state):
        for stmt in stmts:
            if not state:
                return None, state
            if isinstance(stmt, (ast.Break, ast.Continue)):
                return None, state
            leak, state = self.stmt(stmt)
            if leak is not None:
                return leak, None
        return None, state

    def stmt(self, s: ast.stmt):
        if isinstance(s, ast.Expr) and is_close(s.value, self.var):
            return None, False
        if isinstance(s, ast.Return):
            return Leak(s, "return"), None
        if isinstance(s, ast.Raise):
            return (Leak(s, "raise") if s.exc is not None else None), None
        if isinstance(s, ast.If):
            return self._branches([s.body, s.orelse], fallthrough=False)
        if isinstance(s, ast.Match):
            return self._branches([c.body for c in s.cases], fallthrough=True)
        if isinstance(s, _LOOPS):
            return self._loop(s)
        if isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            return self._try(s)
        if isinstance(s, (ast.With, ast.AsyncWith)):
            if self.with_closes and any(isinstance(i.context_expr, ast.Name) and i.context_expr.id == self.var
                                        for i in s.items):
                return None, False
            return self.block(s.body, True)
        return None, True

    def _branches(self, blocks, fallthrough: bool):
        states = [True] if fallthrough else []
        for b in blocks:
            leak, st = self.block(b, True)
            if leak is not None:
                return leak, None
            states.append(st)
        return None, _merge(*states)

    def _loop(self, s):
        leak, _ = self.block(s.body, True)
        if leak is not None:
            return leak, None
        forever = isinstance(s, ast.While) and isinstance(s.test, ast.Constant) and bool(s.test.value) and not any(
            isinstance(n, ast.Break) for n in _same_loop(s.body))
        if forever:
            return None, None
        return self.block(s.orelse, True)

    def _try(self, s):
        if closes_anywhere(s.finalbody, self.var):
            return None, False
        leak, st = self.block(s.body, True)
        if leak is None and st is not None:
            leak, st = self.block(s.orelse, st)
        states = [st]
        for h in s.handlers:
            if leak is None:
                leak, hs = self.block(h.body, True)
                states.append(hs)
        if leak is not None:
            return leak, None
        merged = _merge(*states)
        return self.block(s.finalbody, merged) if merged is not None else (None, None)


def _same_loop(body):
    stack = list(body)
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, _LOOPS + _NESTED):
            stack.extend(ast.iter_child_nodes(n))


def find_leak(func: ast.AST, opened: ast.stmt, var: str, with_closes: bool) -> Optional[Leak]:
    """Where the resource bound to ``var`` by ``opened`` is lost unclosed, or None."""
    chain = locate(func.body, opened)
    if chain is None:
        return None
    for container, name, _block, _i in chain[1:]:
        if isinstance(container, ast.Try) and name != "finalbody" and closes_anywhere(container.finalbody, var):
            return None
    check = PathCheck(var, with_closes)
    state = True
    for depth in range(len(chain) - 1, -1, -1):
        container, name, block, i = chain[depth]
        if container is not None:  # leaving the block of ``container`` that holds the resource
            leak, state = _after_inner(check, container, name, state)
            if leak is not None or not state:
                return leak
        leak, state = check.block(block[i + 1:], state)
        if leak is not None or not state:
            return leak
    return Leak(func, "end")


def _after_inner(check: PathCheck, inner: ast.stmt, name: str, state):
    """Leaving the block of ``inner`` that holds the resource, still open."""
    if isinstance(inner, _LOOPS) and name == "body":
        return Leak(inner, "loop"), None
    if isinstance(inner, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        if name == "body":
            leak, state = check.block(inner.orelse, state)
            if leak is not None or not state:
                return leak, state
        if name != "finalbody":
            return check.block(inner.finalbody, state)
    return None, state


# -- ownership ------------------------------------------------------------------------------
_HARMLESS_PARENTS = (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.withitem)


def escapes(func: ast.AST, var: str) -> bool:
    """Ownership moves on: ``var`` is returned, yielded, stored, passed to a call, put in a
    container or captured by a nested function — anything but ``var.attr`` and tests."""
    parents = {}
    for node in ast.walk(func):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(func):
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)) and _hands_out(node.value, var):
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal)) and var in node.names:
            return True
        if not (isinstance(node, ast.Name) and node.id == var):
            continue
        if _inside_nested(node, func, parents):
            return True
        parent = parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.attr in CLOSERS and not (
                isinstance(parents.get(parent), ast.Call) and parents[parent].func is parent):
            return True  # ``atexit.register(conn.close)``: closing is handed to someone else
        if isinstance(node.ctx, ast.Load) and not (
                (isinstance(parent, ast.Attribute) and parent.value is node) or isinstance(parent, _HARMLESS_PARENTS)
                or (isinstance(parent, (ast.If, ast.While, ast.IfExp)) and parent.test is node)):
            return True
    return False


def _hands_out(value: Optional[ast.AST], var: str) -> bool:
    """``return conn.cursor()`` / ``return session.scalars(q)``: what is returned lives off the
    resource, so the caller owns it (``return cur.fetchone()[0]`` returns plain data)."""
    if isinstance(value, ast.Await):
        value = value.value
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and isinstance(value.func.value, ast.Name) and value.func.value.id == var
            and value.func.attr in HANDLES)


def _inside_nested(node: ast.AST, func: ast.AST, parents) -> bool:
    cur = parents.get(node)
    while cur is not None and cur is not func:
        if isinstance(cur, _NESTED):
            return True
        cur = parents.get(cur)
    return False


def stores(func: ast.AST, var: str) -> int:
    """How many times the function body binds ``var`` (nested functions aside)."""
    n = 0
    stack = list(func.body)
    while stack:
        node = stack.pop()
        if isinstance(node, _NESTED):
            continue
        if isinstance(node, ast.Name) and node.id == var and isinstance(node.ctx, (ast.Store, ast.Del)):
            n += 1
        elif isinstance(node, ast.arg) and node.arg == var:
            n += 1
        stack.extend(ast.iter_child_nodes(node))
    return n
