"""Same-path reasoning inside one function body: can node ``b`` run after node ``a`` in one
execution? ``if``/``else`` arms and separate ``except`` clauses exclude each other, an ``except``
follows its ``try`` body only where something after the node can still fail, and a ``return``,
``raise`` or a jump out of the common block ends the path (so does a `return`/`raise` whose
expression holds the node). Loops do not wrap around: a write
repeated per element counts once.
"""
from __future__ import annotations

import ast
from typing import List

LOOPS = (ast.For, ast.AsyncFor, ast.While)
TERMINAL = (ast.Return, ast.Raise)
JUMPS = (ast.Break, ast.Continue)


def may_follow(view, a: ast.AST, b: ast.AST) -> bool:
    """Can ``b`` run after ``a`` in one execution of the function (no loop-around)?"""
    if a is b:
        return False
    chain_a = [a] + view.ancestors(a)
    ids_a = {id(n): i for i, n in enumerate(chain_a)}
    chain_b = [b] + view.ancestors(b)
    j = next((k for k, n in enumerate(chain_b) if id(n) in ids_a), None)
    if j is None or j == 0:
        return False
    lca = chain_b[j]
    i = ids_a[id(lca)]
    if i == 0:
        return False
    ca, cb = chain_a[i - 1], chain_b[j - 1]
    if not _ordered(lca, ca, cb):
        return False
    return not _leaves_before(chain_a[: i], lca, cb)


def _leaves_before(chain: List[ast.AST], lca: ast.AST, target: ast.AST) -> bool:
    """Does every path from the node (chain[0]) leave before reaching ``target``?"""
    # the node is part of a `return`/`raise` statement below the common ancestor
    # (`return helper(db)` in one arm): the function ends right after it, except for the
    # `finally` of the common ancestor
    if any(isinstance(n, TERMINAL) for n in chain) and target not in getattr(lca, "finalbody", ()):
        return True
    for k in range(len(chain) - 1):
        node, holder = chain[k], chain[k + 1]
        # a break/continue targets a loop below the common ancestor: the path goes on after it
        inner_loop = any(isinstance(c, LOOPS) for c in chain[k + 1:])
        for body in _bodies(holder):
            if node in body:
                rest = body[body.index(node) + 1:]
                if any(isinstance(s, TERMINAL) or (isinstance(s, JUMPS) and not inner_loop) for s in rest):
                    return True
    node = chain[-1]
    for body in _bodies(lca):
        if node in body and target in body:
            between = body[body.index(node) + 1: body.index(target)]
            return any(isinstance(s, TERMINAL + JUMPS) for s in between)
    return False


def _bodies(node: ast.AST):
    for name in ("body", "orelse", "finalbody"):
        v = getattr(node, name, None)
        if isinstance(v, list):
            yield v
    for h in getattr(node, "handlers", ()):
        yield h.body
    for c in getattr(node, "cases", ()):
        yield c.body


def _ordered(lca: ast.AST, ca: ast.AST, cb: ast.AST) -> bool:
    """Under their lowest common ancestor, can the branch holding ``cb`` run after the one
    holding ``ca``?"""
    if isinstance(lca, ast.If):
        if ca is lca.test:
            return True
        if (ca in lca.body) != (cb in lca.body):
            return False
        return _stmt_order(lca, ca, cb)
    if isinstance(lca, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        where = {}
        for name, part in (("body", lca.body), ("orelse", lca.orelse), ("final", lca.finalbody)):
            for s in part:
                where[id(s)] = name
        for k, h in enumerate(lca.handlers):
            where[id(h)] = f"h{k}"
        pa, pb = where.get(id(ca), ""), where.get(id(cb), "")
        if pa == pb or pb == "final":
            return _stmt_order(lca, ca, cb)
        if (pa, pb[:1]) == ("body", "h"):
            # the handler runs after a statement of the body only if something after it can fail
            return ca is not lca.body[-1] or bool(lca.orelse)
        return (pa, pb[:1]) == ("body", "o")
    if isinstance(lca, ast.Match):
        return False
    return _stmt_order(lca, ca, cb)


def _stmt_order(lca, ca, cb) -> bool:
    for body in _bodies(lca):
        if ca in body and cb in body:
            return body.index(ca) < body.index(cb)
    pos = lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))  # noqa: E731
    return pos(ca) < pos(cb)
